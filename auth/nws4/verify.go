package nws4

import (
	"crypto/hmac"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultWindow is the reference's default RequestTimeWindow: a signature is
// accepted up to half of it (150 s) before or after the server's clock.
const DefaultWindow = 300 * time.Second

// Verifier checks signed requests: spec §3 plus, unless Lenient, the hardening
// of §3.1. It exists so a server can hold its policy (window, proxy handling,
// clock) in one value; the zero Verifier is ready to use and safe for
// concurrent use as long as its fields are not changed.
type Verifier struct {
	// Window is the total time window: a timestamp is accepted from
	// now−Window/2 to now+Window/2, both edges included. Zero means
	// DefaultWindow (±150 s); a negative value turns the check off, like the
	// reference's Timeout.InfiniteTimeSpan.
	Window time.Duration

	// ForwardedHostHeader, when not empty, names a header (for example
	// "X-Forwarded-Host") whose value replaces the request's Host before the
	// signed headers are collected. Empty, the default, turns this off. Set it
	// only behind a proxy that overwrites that header.
	ForwardedHostHeader string

	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// Lenient, when true, keeps only the reference behaviour: any set of
	// headers may be signed and x-nd-date is not compared with the Timestamp.
	// The default, false, is hardened.
	Lenient bool
}

// Verify checks that a, parsed from r's Authorization header, is a valid
// signature of r with body (the whole body as received, after transfer
// decoding) and secret, the private key looked up by a.Credential.
//
// In this order it rejects: the chunked variant (x-nd-content-sha256 equal to
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD) with ErrChunkedUnsupported; a signed
// header listed twice in different case, or a Timestamp that does not parse,
// with ErrMalformed; unless Lenient, an unsigned host, x-nd-date or
// x-nd-content-sha256 with ErrUnsignedHeader; a signed header absent from r
// with ErrMissingHeader; unless Lenient, an x-nd-date header different from
// a.Timestamp with ErrDateMismatch; a wrong signature with ErrSignature; and,
// as the reference does only after the signature, a timestamp outside the
// window with ErrExpired.
//
// The path and query are taken as sent on the wire: from r.RequestURI when it
// is set (split at the first "?"), otherwise from r.URL.EscapedPath and
// r.URL.RawQuery. The signed "host" header is r.Host (or the forwarded host,
// see ForwardedHostHeader). Repeated header lines are joined with ",". The
// signatures are always compared in constant time, case-sensitively.
//
// Verify does not prevent replays: a valid request can be sent again while its
// timestamp is in the window. Callers should record a.Signature in a store
// shared by all servers for Window and reject a signature seen before.
func (v *Verifier) Verify(r *http.Request, a *Authorization, body []byte, secret string) error {
	return v.VerifyBodyHash(r, a, hashHex(body), secret)
}

// VerifyBodyHash is Verify for a caller that holds the body's hash instead of
// the body: bodyHash is BodyHash of the body as received. It serves a service
// that asks keyplane to check a request it received (POST /v3/keys/verify),
// which sends the hash, not the body. A hash that is not 64 lower-case hex
// digits cannot match any signature (ErrSignature).
func (v *Verifier) VerifyBodyHash(r *http.Request, a *Authorization, bodyHash, secret string) error {
	if r == nil || a == nil {
		return fmt.Errorf("%w: no request or authorization", ErrMalformed)
	}
	var cfg Verifier
	if v != nil {
		cfg = *v
	}
	if marker, _ := headerValue(r.Header, headerContentSHA256); marker == streamingPayload {
		return ErrChunkedUnsupported
	}

	names, err := uniqueNames(a.SignedHeaders)
	if err != nil {
		return err
	}
	t, ok := parseTimestamp(a.Timestamp, time.Local)
	if !ok {
		return fmt.Errorf("%w: timestamp %q", ErrMalformed, clip(a.Timestamp))
	}
	if !cfg.Lenient {
		for _, required := range []string{"host", "x-nd-date", "x-nd-content-sha256"} {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.ToLower(n) == required }) {
				return fmt.Errorf("%w: %s", ErrUnsignedHeader, required)
			}
		}
	}

	fields := make([]headerField, len(names))
	for i, name := range names {
		value, ok := cfg.signedValue(r, name)
		if !ok {
			return fmt.Errorf("%w: %q", ErrMissingHeader, clip(name))
		}
		fields[i] = headerField{name, value}
	}

	if !cfg.Lenient {
		if date, _ := headerValue(r.Header, headerDate); date != a.Timestamp {
			return ErrDateMismatch
		}
	}

	path, query, ok := receivedTarget(r)
	if !ok {
		return fmt.Errorf("%w: request has no URL", ErrMalformed)
	}
	s := signRequest(requestMethod(r), path, query, fields, bodyHash, formatTimestamp(t), a.Credential, secret)
	if !hmac.Equal([]byte(s.signature), []byte(a.Signature)) {
		return ErrSignature
	}

	if w := cfg.Window; w >= 0 {
		if w == 0 {
			w = DefaultWindow
		}
		now := time.Now
		if cfg.Now != nil {
			now = cfg.Now
		}
		n := now()
		if t.Before(n.Add(-w/2)) || t.After(n.Add(w/2)) {
			return fmt.Errorf("%w: timestamp %s is more than %v from the server time", ErrExpired, formatTimestamp(t), w/2)
		}
	}
	return nil
}

// uniqueNames returns the signed header names without exact duplicates, in
// their first order. Two names that differ only in case make the reference's
// canonical-header build throw; here they are ErrMalformed.
func uniqueNames(signed []string) ([]string, error) {
	names := make([]string, 0, len(signed))
	first := make(map[string]string, len(signed))
	for _, name := range signed {
		lower := strings.ToLower(name)
		if prev, ok := first[lower]; ok {
			if prev != name {
				return nil, fmt.Errorf("%w: signed header %q listed twice", ErrMalformed, clip(name))
			}
			continue
		}
		first[lower] = name
		names = append(names, name)
	}
	return names, nil
}

// signedValue returns the value of the signed header name on the received
// request r: r.Host (or the forwarded host) for "host", else the joined lines.
func (v *Verifier) signedValue(r *http.Request, name string) (string, bool) {
	if !asciiEqualFold(name, headerHost) {
		return headerValue(r.Header, name)
	}
	if r.Host == "" {
		return "", false
	}
	if v.ForwardedHostHeader != "" {
		if fwd, ok := headerValue(r.Header, v.ForwardedHostHeader); ok {
			return fwd, true
		}
	}
	return r.Host, true
}

// receivedTarget returns the escaped path and raw query of a received request
// as they came on the wire.
func receivedTarget(r *http.Request) (path, query string, ok bool) {
	if r.RequestURI != "" {
		path, query = splitRequestTarget(r.RequestURI)
		return path, query, true
	}
	if r.URL == nil {
		return "", "", false
	}
	return r.URL.EscapedPath(), r.URL.RawQuery, true
}
