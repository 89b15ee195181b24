// Package sntest is a test double of the ServiceNow Table API and
// Attachment API: an HTTP server on a loopback port with an in-memory table
// store, for the tests of the ServiceNow target and the server's end-to-end
// tests. It is a test double, not the product: it does what ServiceNow's
// documentation says for the calls bookbridge makes, and records every call
// so tests can count and inspect them.
//
// What it follows, and where that comes from (ServiceNow product
// documentation "Table API", "Attachment API", "Inbound REST API rate
// limiting", "REST API HTTP response codes", and the support article on
// authentication errors):
//
//   - GET /api/now/table/{table}: sysparm_query (encoded query),
//     sysparm_fields (comma-separated; unknown names are left out),
//     sysparm_limit, sysparm_offset, sysparm_exclude_reference_link.
//     Answers 200 {"result":[...]} with an X-Total-Count header, also when
//     nothing matches. Reference fields are plain sys_id strings with
//     sysparm_exclude_reference_link=true, otherwise {"link":...,"value":...}.
//   - Encoded queries: conditions joined by ^ (AND), ^OR (or with the
//     condition before), ^NQ (a new query OR-ed with the previous ones);
//     operators =, !=, IN and NOT IN (comma-separated values), ISEMPTY,
//     ISNOTEMPTY, LIKE, STARTSWITH, ENDSWITH. As documented for the Table
//     API, a condition on a field the table does not have (or with an
//     operator the double does not know) is dropped and the rest of the
//     query is applied, which may return every row
//     (glide.invalid_query.returns_no_rows=false, the default);
//     Options.InvalidQueryReturnsNoRows models the property set to true.
//     A ^ cannot be escaped inside a value: the double splits on it, as
//     ServiceNow does. A value starting with "javascript:" would be run as
//     a script by ServiceNow; the double records it as a violation.
//   - String comparison: the documentation does not state whether = is
//     case-sensitive; instances commonly compare case-insensitively (the
//     database collation), so the double does by default
//     (Options.CaseSensitive turns that off). A client that needs exact
//     equality must check the returned values itself.
//   - POST /api/now/table/{table}: a JSON object; fields the table does
//     not have are silently ignored; 201 {"result":{...}} with sys_id,
//     sys_created_on, sys_created_by, sys_updated_on, sys_updated_by,
//     sys_mod_count and the table's fields, restricted by sysparm_fields.
//     Every value is stored and returned as a string; a non-string value
//     is stored in its JSON text and recorded as a violation.
//   - PATCH and PUT /api/now/table/{table}/{sys_id}: 200 with the record;
//     404 {"error":{"message":"No Record found","detail":"Record doesn't
//     exist or ACL restricts the record retrieval"},"status":"failure"}.
//   - An unknown table: 400 {"error":{"message":"Invalid table <name>",
//     "detail":null},"status":"failure"}; a path that is no resource: 400
//     "Requested URI does not represent any resource". A body that is not
//     JSON: 400. A POST or PATCH that is not application/json: 415.
//   - Authentication: HTTP Basic, or a Bearer token from
//     POST /oauth_token.do with grant_type=client_credentials. Without
//     valid credentials: 401 {"error":{"message":"User Not Authenticated",
//     "detail":"Required to provide Auth information"},"status":"failure"}.
//   - POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=
//     with the raw file as the body and its Content-Type: 201
//     {"result":{...}} with sys_id, file_name, content_type, size_bytes,
//     table_name, table_sys_id, download_link, hash and the sys_ fields.
//     ServiceNow's attachment metadata documents hash as the SHA-256 digest
//     of the file (lowercase hex here). The documentation does not give the
//     answer for a record that does not exist; the double answers 404 with
//     the Table API's message.
//   - GET /api/now/attachment?sysparm_query=table_name=X^table_sys_id=Y
//     (any encoded query on the attachment fields, table_sys_idINa,b,c
//     included), sysparm_limit, sysparm_offset: 200 {"result":[...]};
//     GET /api/now/attachment/{sys_id}/file: the bytes with their
//     Content-Type.
//   - Rate limiting: 429 with a Retry-After header (seconds) and an error
//     JSON, as the inbound REST rate-limit rules answer.
//
// Faults, usable from any package's tests:
//
//   - Server.Inject queues a fault: a status (429, 5xx, 400, 403, ...) with
//     an optional Retry-After, for the next N matching requests, answered
//     before the request takes effect or after it (a lost answer); with
//     Fault.CloseConnection the connection is closed instead of answered,
//     before or after the write is applied.
//   - Server.Down and Server.Up: an outage. The listener and every
//     connection are closed (connections are refused meanwhile), and Up
//     listens again on the same port, with the data kept.
//   - Server.SetRateLimit: at most N requests per second, the others
//     answered 429 with Retry-After in whole seconds, X-RateLimit-Limit and
//     X-RateLimit-Reset, as ServiceNow's rate limit rules answer (those
//     count per hour; the double per second, so tests stay short).
//   - Server.SetLatency (and Options.Latency): a delay before every answer.
//   - Server.SetForbidden: 403 to every authenticated request.
//
// Server.Edit, Server.Delete and Server.DeleteFile change the data
// directly, as a person working in the instance would; they are not
// calls and not counted as writes.
//
// Server.Stats counts the requests, the 429s, the connections closed
// without an answer, and the writes that took effect per table, so tests
// can report figures.
package sntest
