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
//
// User and API key names are 1 to 64 characters of letters (a-z, A-Z),
// digits, '.', '_', '-' and '@' (CheckName, ErrBadName), checked when a
// user or key is made. A disabled user cannot log in (the answer is the
// one for a wrong password) and a disabled or removed user's sessions are
// deleted in the same transaction, so their next request has none.
package auth
