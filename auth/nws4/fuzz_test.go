package nws4

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary Authorization values, request-targets, header
// values and bodies through parsing, verification and a sign-then-verify round
// trip. Nothing may panic, parsing must agree with the reference's regular
// expression, failures must be the package's sentinels, and whatever Sign
// produces must verify.
func FuzzVerify(f *testing.F) {
	f.Add(vectors[0].auth, vectors[0].target, "application/json", vectors[0].body)
	f.Add(vectors[1].legacy, vectors[1].target, " a \t b ", vectors[1].body)
	f.Add("NWS4-HMAC-SHA256 Credential=c,SignedHeaders=host;x-a;;X-A,Timestamp=2023-05-30T13:17:01.992+02:00,Signature=s%0A", "/a%20b?x=1=2&&y", "\u00a0\u2028", []byte{})
	f.Add("NWS4-HMAC-SHA256 %zz%3d", "http://h:1/p?q", "\xff", []byte("\r\n"))
	f.Add("Bearer x", "*", "", []byte(nil))

	creds := Credentials{ClientID: "id", Secret: "secret"}
	now := time.Date(2023, 5, 30, 13, 17, 1, 992e6, time.UTC)
	sentinels := []error{ErrMalformed, ErrMissingHeader, ErrUnsignedHeader, ErrDateMismatch, ErrSignature, ErrExpired, ErrChunkedUnsupported}

	f.Fuzz(func(t *testing.T, auth, target, value string, body []byte) {
		// Parsing.
		a, err := ParseAuthorization(auth)
		if err != nil && err != ErrNotNWS4 && !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseAuthorization: unexpected error %v", err)
		}
		if param, ok := strings.CutPrefix(auth, Scheme+" "); ok {
			checkMatchParams(t, formDecode(param))
		}

		// Verification of arbitrary input.
		if a != nil {
			r := &http.Request{
				Method:     "POST",
				RequestURI: target,
				Host:       "h",
				Header:     http.Header{"X-A": {value}, "X-Nd-Date": {value}, "Authorization": {auth}},
			}
			for _, v := range []*Verifier{
				{Now: func() time.Time { return now }},
				{Now: func() time.Time { return now }, Lenient: true, ForwardedHostHeader: "X-A"},
				{Window: -1, Lenient: true},
			} {
				if err := v.Verify(r, a, body, creds.Secret); err != nil && !isSentinel(err, sentinels) {
					t.Fatalf("Verify: unexpected error %v", err)
				}
			}
		}

		// Whatever Sign produces verifies.
		u := &url.URL{Scheme: "http", Host: "example.com", Path: target, RawQuery: value}
		client := &http.Request{Method: "PUT", URL: u, Header: http.Header{"X-A": {value}}}
		if err := Sign(client, body, creds, now); err != nil {
			t.Fatalf("Sign: %v", err)
		}
		server := &http.Request{
			Method:     "PUT",
			RequestURI: u.RequestURI(),
			Host:       client.Host,
			Header:     client.Header.Clone(),
		}
		sa, err := ParseAuthorization(server.Header.Get("Authorization"))
		if err != nil {
			t.Fatalf("ParseAuthorization(own): %v", err)
		}
		v := &Verifier{Now: func() time.Time { return now }}
		if err := v.Verify(server, sa, body, creds.Secret); err != nil {
			t.Fatalf("round trip of target %q, value %q: %v", target, value, err)
		}
	})
}

func isSentinel(err error, sentinels []error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
