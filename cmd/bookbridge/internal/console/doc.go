// Package console is the reference server's web console: the staged
// records, the "SFDC Data" button with its dry-run preview and load, the
// exceptions to resolve, and the administration of users and API keys.
//
// Pages are rendered on the server with html/template, which escapes every
// value; the console ships its own small stylesheet and script (embedded,
// nothing to build) and works without JavaScript: forms post and redirect,
// the job page refreshes itself. The script only adds conveniences (live
// job progress, confirmation of destructive actions).
//
// # Sessions and roles
//
// Users log in with a name and password (auth.Store, argon2id hashes). The
// session token travels in the cookie __Host-bookbridge_session (Path=/,
// HttpOnly, SameSite=Lax, Secure). Browsers accept a Secure cookie over
// plain HTTP only from a loopback host; a console served over plain HTTP to
// any other host name falls back to the cookie bookbridge_session without
// Secure. Set BOOKBRIDGE_PUBLIC_URL to an https:// address (or serve TLS, or
// let a trusted proxy send X-Forwarded-Proto: https) to keep the Secure
// cookie behind a gateway.
//
// Roles are ordered: viewer reads everything; operator also previews,
// loads and resolves exceptions; admin also manages users and API keys.
// A request of too low a role is answered 403 and the page leaves out the
// buttons the user may not press.
//
// Failed logins are throttled (LoginLimit): about 10 per user name and
// client address together in 15 minutes, so that behind a shared gateway
// one user's wrong passwords lock out only that user, and 100 per address
// whatever the names. A throttled login is answered 429 with Retry-After,
// and the login page says when to try again. A success forgets the user's
// failures from that address. The client address is read through
// BOOKBRIDGE_TRUSTED_PROXIES.
//
// # Forgery and injection
//
// Every POST must carry the session's CSRF token (a hidden form field,
// compared in constant time) and must not come from another origin
// (Sec-Fetch-Site, else Origin, checked by net/http's
// CrossOriginProtection). The login form, which has no session yet, uses a
// double-submit token in its own __Host- cookie. Every page is sent with a
// Content-Security-Policy that allows scripts and styles from the console
// only, no inline script, no framing.
package console
