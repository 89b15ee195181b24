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
// Requests are paced by a client-side rate limit (golang.org/x/time/rate)
// and a maximum number in flight; every attempt has a timeout. Retries
// (cenkalti/backoff/v5: exponential backoff with jitter, bounded in tries
// and time) happen only on 429 (waiting exactly as long as Retry-After
// asks), 502, 503, 504 and network errors — never on other 4xx. A POST is
// retried only when it certainly did not take effect (429, 503, no
// connection); after a timeout or a gateway error its error wraps
// loader.ErrOutcomeUnknown, and the loader looks for the record before it
// sends it again, so nothing is inserted twice. ServiceNow's error.message
// and error.detail are part of every error (see Error).
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
