// Package auth decides who a request is and what it may do: it turns credentials
// into a Principal, holds the rights vocabulary, and owns the cryptography of key
// secrets (random generation, SHA-256 lookup digests, AES-GCM sealing).
//
// It knows nothing of HTTP routing; the server package calls Authenticate and
// Principal.Can at the points the request path needs them.
package auth
