// Package gateway renders and runs the nginx configuration that puts
// bookbridge behind a company gateway (the files in nginx/), the way the
// integration runs in production: Salesforce -> gateway -> bookbridge.
//
// The gateway checks the client address against an allowlist (403), the
// X-API-Key header against a key file (401), limits the body to 6 MiB
// (413) and the rate per key (429), and forwards POST /api/v1/deals to
// bookbridge with X-Forwarded-For set to the client address it saw, never
// to what the client claimed. Every answer it writes itself is JSON.
//
// [Config] describes one gateway; [Render] writes its nginx.conf from the
// template; [WriteKeys] and [WriteAllowlist] write the key and allowlist
// files; [Start] runs Debian's nginx on it and [Gateway.Stop] ends it. The
// package gatewaytest wraps these for tests, with a free loopback port and
// the skip-or-fail rule for a missing nginx.
package gateway
