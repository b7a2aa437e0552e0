package nws4

import "errors"

// Sentinel errors of ParseAuthorization and Verifier.Verify. The functions wrap
// them with context (fmt.Errorf("%w: …")), so test with errors.Is. Every one of
// them means "not authenticated" and should become a 401 carrying Challenge; they
// differ only for logs and metrics. No error ever contains a secret.
var (
	// ErrNotNWS4 means the Authorization value is absent or of another scheme, so
	// another authenticator may handle the request (the reference's NoResult).
	ErrNotNWS4 = errors.New("nws4: not an NWS4-HMAC-SHA256 authorization")

	// ErrMalformed means the value claims this scheme but its parameters, its
	// signed-header list or its timestamp cannot be parsed (the reference's Fail).
	ErrMalformed = errors.New("nws4: malformed authorization")

	// ErrMissingHeader means a header named in SignedHeaders is absent from the
	// request, so the signature cannot be recomputed.
	ErrMissingHeader = errors.New("nws4: signed header missing from request")

	// ErrUnsignedHeader is a hardening rejection (not in the reference): host,
	// x-nd-date or x-nd-content-sha256 is not among the signed headers.
	ErrUnsignedHeader = errors.New("nws4: required header not signed")

	// ErrDateMismatch is a hardening rejection (not in the reference): the
	// x-nd-date header differs from the Authorization Timestamp.
	ErrDateMismatch = errors.New("nws4: x-nd-date does not match the timestamp")

	// ErrSignature means the recomputed signature differs from the one sent:
	// wrong secret, or a tampered method, path, query, header or body.
	ErrSignature = errors.New("nws4: invalid signature")

	// ErrExpired means the signature is valid but its timestamp lies outside the
	// verifier's time window. The reference treats this as NoResult, not Fail.
	ErrExpired = errors.New("nws4: signature expired")

	// ErrChunkedUnsupported means the request uses the chunked (nws-chunked)
	// variant, which this package does not implement.
	ErrChunkedUnsupported = errors.New("nws4: chunked payload signing is not supported")
)

// clip shortens attacker-controlled text before it is quoted into an error, so
// a huge header cannot flood the logs.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
