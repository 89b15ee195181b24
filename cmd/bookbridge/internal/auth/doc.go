// Package auth keeps the reference server's credentials: named API keys for
// machines (Salesforce, gateways, scripts) and local users with sessions for
// the web console. Only hashes are stored: API keys as SHA-256 (they are
// long random secrets), passwords as argon2id, session tokens as SHA-256.
//
// Roles are ordered: a key or user with a higher role may do what a lower
// one may.
//
//	API keys: intake < operator < admin
//	users:    viewer < operator < admin
//
// intake may post deals and emails; viewer may read records; operator may
// also load; admin may also manage users and keys.
package auth
