// Package app opens the reference server's parts from its configuration:
// the database, the staging and credential stores, the load target named
// by BOOKBRIDGE_TARGET, the compiled rules of BOOKBRIDGE_RULES, the River
// queue and the Prometheus metrics, and builds the bookbridge.Flow that
// runs the flow on them. The HTTP API, the console and the CLI commands
// call the Flow; this package adds only the server's own wiring: the mail
// channels' handler, the periodic checks, and reloading the rules on
// SIGHUP. No business rule lives here.
package app
