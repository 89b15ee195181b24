// Package servicenow is a loader.Target over a ServiceNow instance: the
// Table API (/api/now/table/{table}) for records and the Attachment API
// (/api/now/attachment) for files.
//
// # What it sends
//
//   - Finds: GET with an encoded query (sysparm_query), sysparm_fields
//     limited to sys_id and the fields the loader compares, sysparm_limit
//     (2 for a step's match: enough to tell one record from several) and
//     sysparm_exclude_reference_link=true, so reference fields come back as
//     sys_ids. The items of a foreach step are found with one query
//     ("shared^fieldIN a,b,c", or alternatives joined by ^NQ).
//   - Inserts and updates: POST and PATCH with a JSON object whose values
//     are all strings; the answer is limited to the fields sent, so a field
//     the table does not have (ServiceNow ignores it silently) shows up as
//     missing and the loader warns about it.
//   - Files: POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=
//     with the raw bytes and their Content-Type; listed with
//     GET /api/now/attachment?sysparm_query=table_name=...^table_sys_id=...,
//     compared by name and SHA-256 (the hash field).
//   - Reads by id (loader.BatchGetter): GET with sysparm_query=sys_idINa,b,c,
//     up to loader.MaxBatch sys_ids per call; the files of many records
//     (loader.BatchAttachmentLister): GET /api/now/attachment with
//     table_name=...^table_sys_idINa,b,c. Ids that are not sys_ids are
//     never sent (they could split the IN list); they name no record.
//
// # Encoded queries
//
// ServiceNow's encoded queries have no escape character. Values are sent as
// they are, except that a value containing ^ (the condition separator), a
// line break, or starting with "javascript:" (which the instance would run
// as a script) is refused with an error wrapping loader.ErrUnsupportedValue
// rather than sent as an ambiguous query. An empty value is sent as
// fieldISEMPTY. Table and field names must be lowercase letters, digits
// and underscores.
//
// Because ServiceNow may compare strings without regard to case and drops
// conditions on unknown fields (returning more records than asked for),
// every returned record is checked against the match exactly; a match
// field missing from the answer is reported as ErrUnknownField.
//
// # Being polite
//
// One Target is meant to be shared by every worker of a process: all its
// calls, from any goroutine, pass one gate, a token bucket
// (golang.org/x/time/rate) at Config.RateLimit with at most
// Config.MaxConcurrency calls in flight, and every attempt has a timeout.
//
//   - A 429 holds every call of the Target until the time its Retry-After
//     asks for (without one, for the call's next backoff interval): no call
//     is sent before it, and calls already waiting for a token give it
//     back and wait too. A Retry-After longer than Config.MaxRetryAfter
//     fails that call, and every call that would wait for it, at once with
//     an error for ErrRateLimited that carries the wait.
//   - The rate adapts: each 429 halves it (once for all the 429s to calls
//     sent at the same rate), down to 0.5 calls per second, and drops the
//     burst to 1; after 10 answers in a row without a 429 it climbs by a
//     twentieth of RateLimit, back up to RateLimit (and its burst).
//     CurrentRate reads it. With RateLimit negative (no limit) only the
//     Retry-After pause applies.
//   - A call that gets a 429 goes back to the gate; that does not count as
//     one of its Config.MaxRetries tries (Config.MaxElapsed still bounds
//     it), so many workers hitting the instance's limit slow down together
//     instead of each using up its tries.
//   - 502, 503, 504 and network errors are retried with exponential
//     backoff and jitter (cenkalti/backoff/v5), up to MaxRetries tries; a
//     503 with Retry-After also holds every call. Other 4xx are never
//     retried. A POST is retried only when it certainly did not take
//     effect (429, 503, no connection); after a timeout, a connection
//     closed or a gateway error its error wraps loader.ErrOutcomeUnknown,
//     and the loader looks for the record before it sends it again, so
//     nothing is inserted twice.
//
// ServiceNow's error.message and error.detail are part of every error (see
// Error).
//
// # Transient and permanent errors
//
// Errors of the Target's calls, also through loader.Apply's wrapping,
// tell loader.IsTransient whether they may clear by themselves: 429, 502,
// 503, 504, no connection, connection refused or closed, timeouts are
// transient; 401, 403 and other 4xx, 500, a TLS certificate the client
// does not trust, and a value that cannot be queried are not.
// loader.RetryAfter gives the wait ServiceNow asked for, if any.
//
// # Authentication
//
// HTTP Basic auth (Config.Username, Config.Password) or OAuth 2 client
// credentials (Config.OAuth, golang.org/x/oauth2) against the instance's
// /oauth_token.do.
//
// The test double in servicenow/sntest follows the documented behaviour
// of both APIs.
package servicenow
