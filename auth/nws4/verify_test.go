package nws4

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// v1Request returns V1 as a Go server receives it, its parsed Authorization
// and its signing time.
func v1Request(t testing.TB) (*http.Request, *Authorization, time.Time) {
	t.Helper()
	v := vectors[0]
	a, err := ParseAuthorization(v.auth)
	if err != nil {
		t.Fatal(err)
	}
	return v.serverRequest(v.auth), a, mustTime(t, v.ts)
}

// forge signs r as received with an arbitrary list of signed header names
// (spelled and ordered as given) and Timestamp field ts, using the package's
// canonicalization, and returns the parsed Authorization.
func forge(t *testing.T, r *http.Request, body []byte, names []string, ts string, c Credentials) *Authorization {
	t.Helper()
	var fields []headerField
	for _, n := range names {
		if strings.EqualFold(n, "host") {
			fields = append(fields, headerField{n, r.Host})
			continue
		}
		v, ok := headerValue(r.Header, n)
		if !ok {
			t.Fatalf("forge: no header %q", n)
		}
		fields = append(fields, headerField{n, v})
	}
	tm, ok := parseTimestamp(ts, time.Local)
	if !ok {
		t.Fatalf("forge: bad timestamp %q", ts)
	}
	path, query, _ := receivedTarget(r)
	s := signRequest(r.Method, path, query, fields, hashHex(body), formatTimestamp(tm), c.ClientID, c.Secret)
	auth := formatAuthorization(c.ClientID, strings.Join(names, ";"), ts, s.signature)
	r.Header.Set("Authorization", auth)
	a, err := ParseAuthorization(auth)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestVerifyRejections(t *testing.T) {
	body := vectors[0].body
	tests := []struct {
		name   string
		edit   func(r *http.Request, a *Authorization, v *Verifier) (body []byte, secret string)
		want   error // nil: accepted
		wantLn error // result when Lenient; same as want unless set
	}{
		{name: "untouched", edit: func(*http.Request, *Authorization, *Verifier) ([]byte, string) { return nil, "" }},
		{name: "tampered body", want: ErrSignature, edit: func(*http.Request, *Authorization, *Verifier) ([]byte, string) {
			return []byte(`{"name":"Jane"}`), ""
		}},
		{name: "body with CRLF", want: ErrSignature, edit: func(*http.Request, *Authorization, *Verifier) ([]byte, string) {
			return append([]byte(`{"name":"John"}`), '\r', '\n'), ""
		}},
		{name: "added query parameter", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.RequestURI += "&admin=1"
			return nil, ""
		}},
		{name: "changed query parameter", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.RequestURI = strings.Replace(r.RequestURI, "i=1", "i=2", 1)
			return nil, ""
		}},
		{name: "text after a second = is not signed (reference quirk)", edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.RequestURI = strings.Replace(r.RequestURI, "$ref=1", "$ref=999", 1)
			return nil, ""
		}},
		{name: "changed path", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.RequestURI = "/api/users?i=1$ref=1&validate"
			return nil, ""
		}},
		{name: "changed method", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Method = "PUT"
			return nil, ""
		}},
		{name: "lower-case method is upper-cased", edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Method = "post"
			return nil, ""
		}},
		{name: "changed host", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Host = "example.com"
			return nil, ""
		}},
		{name: "tampered header value", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Set("Accept", "text/html")
			return nil, ""
		}},
		{name: "header whitespace is normalized", edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Set("Accept", " application/json\t ")
			return nil, ""
		}},
		{name: "unsigned header may change", edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Set("User-Agent", "curl")
			return nil, ""
		}},
		{name: "header repeated on a second line", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Add("Accept", "text/html")
			return nil, ""
		}},
		{name: "wrong secret", want: ErrSignature, edit: func(*http.Request, *Authorization, *Verifier) ([]byte, string) {
			return nil, keyB.Secret
		}},
		{name: "other credential", want: ErrSignature, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.Credential = keyB.ClientID
			return nil, ""
		}},
		{name: "upper-case hex signature", want: ErrSignature, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.Signature = strings.ToUpper(a.Signature)
			return nil, ""
		}},
		{name: "truncated signature", want: ErrSignature, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.Signature = a.Signature[:63]
			return nil, ""
		}},
		{name: "exactly 150 s late", edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 150*time.Second)
			return nil, ""
		}},
		{name: "exactly 150 s early", edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, -150*time.Second)
			return nil, ""
		}},
		{name: "stale by 150.001 s", want: ErrExpired, edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 150*time.Second+time.Millisecond)
			return nil, ""
		}},
		{name: "150.001 s in the future", want: ErrExpired, edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, -150*time.Second-time.Millisecond)
			return nil, ""
		}},
		{name: "a day stale", want: ErrExpired, edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 24*time.Hour)
			return nil, ""
		}},
		{name: "stale and tampered: signature first", want: ErrSignature, edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 24*time.Hour)
			return []byte("x"), ""
		}},
		{name: "negative window disables the check", edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 1000*time.Hour)
			v.Window = -1
			return nil, ""
		}},
		{name: "custom window 10 s: 5 s edge", edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 5*time.Second)
			v.Window = 10 * time.Second
			return nil, ""
		}},
		{name: "custom window 10 s: 6 s", want: ErrExpired, edit: func(_ *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			v.Now = shift(v.Now, 6*time.Second)
			v.Window = 10 * time.Second
			return nil, ""
		}},
		{name: "missing signed header", want: ErrMissingHeader, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Del("Accept")
			return nil, ""
		}},
		{name: "missing host", want: ErrMissingHeader, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Host = ""
			return nil, ""
		}},
		{name: "signed header list names an absent header", want: ErrMissingHeader, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.SignedHeaders = append(a.SignedHeaders, "x-absent")
			return nil, ""
		}},
		{name: "empty name in the list", want: ErrMissingHeader, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.SignedHeaders = append(a.SignedHeaders, "")
			return nil, ""
		}},
		{name: "names listed in another order and case", edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.SignedHeaders = []string{"X-ND-DATE", "Host", "x-nd-content-sha256", "Content-Type", "ACCEPT"}
			return nil, ""
		}},
		{name: "exact duplicate name is dropped", edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.SignedHeaders = append(a.SignedHeaders, "accept")
			return nil, ""
		}},
		{name: "name twice in different case", want: ErrMalformed, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.SignedHeaders = append(a.SignedHeaders, "Accept")
			return nil, ""
		}},
		{name: "forwarded host ignored by default", edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Set("X-Forwarded-Host", "evil.example")
			return nil, ""
		}},
		{name: "forwarded host honoured when configured", want: ErrSignature, edit: func(r *http.Request, _ *Authorization, v *Verifier) ([]byte, string) {
			r.Header.Set("X-Forwarded-Host", "evil.example")
			v.ForwardedHostHeader = "X-Forwarded-Host"
			return nil, ""
		}},
		{name: "chunked marker", want: ErrChunkedUnsupported, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Set("x-nd-content-sha256", streamingPayload)
			return nil, ""
		}},
		{name: "bad timestamp", want: ErrMalformed, edit: func(_ *http.Request, a *Authorization, _ *Verifier) ([]byte, string) {
			a.Timestamp = "2023-05-30T13:17:01Z"
			return nil, ""
		}, wantLn: ErrMalformed},
		{name: "x-nd-date differs from timestamp", want: ErrDateMismatch, wantLn: ErrSignature, edit: func(r *http.Request, _ *Authorization, _ *Verifier) ([]byte, string) {
			r.Header.Set("x-nd-date", "2023-05-30T13:17:02.992Z")
			return nil, ""
		}},
	}
	for _, tt := range tests {
		for _, lenient := range []bool{false, true} {
			r, a, ts := v1Request(t)
			v := &Verifier{Now: func() time.Time { return ts }, Lenient: lenient}
			b, secret := tt.edit(r, a, v)
			if b == nil {
				b = body
			}
			if secret == "" {
				secret = keyA.Secret
			}
			want := tt.want
			if lenient && tt.wantLn != nil {
				want = tt.wantLn
			}
			err := v.Verify(r, a, b, secret)
			if want == nil && err != nil || !errors.Is(err, want) {
				t.Errorf("%s (Lenient=%v): err = %v, want %v", tt.name, lenient, err, want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error contains the secret", tt.name)
			}
		}
	}
}

func shift(now func() time.Time, d time.Duration) func() time.Time {
	return func() time.Time { return now().Add(d) }
}

// TestVerifyHardening covers requests that are validly signed but that only
// the hardened verifier refuses.
func TestVerifyHardening(t *testing.T) {
	v := vectors[0]
	all := []string{"accept", "content-type", "host", "x-nd-content-sha256", "x-nd-date"}
	without := func(name string) []string {
		var out []string
		for _, n := range all {
			if n != name {
				out = append(out, n)
			}
		}
		return out
	}
	tests := []struct {
		name     string
		names    []string
		ts       string
		edit     func(r *http.Request)
		hardened error
	}{
		{name: "all signed", names: all, ts: v.ts},
		{name: "host not signed", names: without("host"), ts: v.ts, hardened: ErrUnsignedHeader},
		{name: "x-nd-date not signed", names: without("x-nd-date"), ts: v.ts, hardened: ErrUnsignedHeader},
		{name: "x-nd-content-sha256 not signed", names: without("x-nd-content-sha256"), ts: v.ts, hardened: ErrUnsignedHeader},
		{name: "nothing signed", names: nil, ts: v.ts, hardened: ErrUnsignedHeader},
		{name: "upper-case required names count", names: []string{"HOST", "X-Nd-Date", "X-ND-CONTENT-SHA256"}, ts: v.ts},
		{name: "x-nd-date not signed and different", names: without("x-nd-date"), ts: v.ts, hardened: ErrUnsignedHeader,
			edit: func(r *http.Request) { r.Header.Set("x-nd-date", "yesterday") }},
		{name: "signed x-nd-date differs from Timestamp", names: all, ts: v.ts, hardened: ErrDateMismatch,
			edit: func(r *http.Request) { r.Header.Set("x-nd-date", "2023-05-30T13:17:00.000Z") }},
		{name: "Timestamp with offset, same instant", names: all, ts: "2023-05-30T15:17:01.992+02:00", hardened: ErrDateMismatch},
		{name: "Timestamp with offset, x-nd-date equal", names: all, ts: "2023-05-30T15:17:01.992+02:00",
			edit: func(r *http.Request) { r.Header.Set("x-nd-date", "2023-05-30T15:17:01.992+02:00") }},
	}
	now := func() time.Time { return mustTime(t, v.ts) }
	for _, tt := range tests {
		for _, lenient := range []bool{false, true} {
			r := v.serverRequest("")
			if tt.edit != nil {
				tt.edit(r)
			}
			a := forge(t, r, v.body, tt.names, tt.ts, keyA)
			want := tt.hardened
			if lenient {
				want = nil
			}
			err := (&Verifier{Now: now, Lenient: lenient}).Verify(r, a, v.body, keyA.Secret)
			if want == nil && err != nil || !errors.Is(err, want) {
				t.Errorf("%s (Lenient=%v): err = %v, want %v", tt.name, lenient, err, want)
			}
		}
	}
}

// TestVerifyLocalTimestamp: a Timestamp without zone is read in the server's
// local zone and re-formatted in UTC before it is signed (spec §3 step 7).
func TestVerifyLocalTimestamp(t *testing.T) {
	v := vectors[0]
	r, a, ts := v1Request(t)
	a.Timestamp = ts.In(time.Local).Format("2006-01-02T15:04:05.000")
	ver := &Verifier{Now: func() time.Time { return ts }, Lenient: true}
	if err := ver.Verify(r, a, v.body, keyA.Secret); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRepeatedHeaderLines(t *testing.T) {
	v := vectors[0]
	r := v.serverRequest("")
	r.Header["Accept"] = []string{"application/json", "text/plain"}
	a := forge(t, r, v.body, []string{"accept", "host", "x-nd-content-sha256", "x-nd-date"}, v.ts, keyA)
	ver := &Verifier{Now: func() time.Time { return mustTime(t, v.ts) }}
	if err := ver.Verify(r, a, v.body, keyA.Secret); err != nil {
		t.Fatal(err)
	}
	// The server joins lines with "," and no space; a signer that joined them
	// with ", " (as .NET's HttpClient does) signed another value.
	r.Header["Accept"] = []string{"application/json, text/plain"}
	if err := ver.Verify(r, a, v.body, keyA.Secret); !errors.Is(err, ErrSignature) {
		t.Fatalf("err = %v, want ErrSignature", err)
	}
}

func TestVerifyTargetSources(t *testing.T) {
	v := vectors[0]
	ver := &Verifier{Now: func() time.Time { return mustTime(t, v.ts) }}
	a, _ := ParseAuthorization(v.auth)
	check := func(name string, r *http.Request) {
		t.Helper()
		if err := ver.Verify(r, a, v.body, keyA.Secret); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Absolute-form request-target, as sent through a proxy.
	r := v.serverRequest(v.auth)
	r.RequestURI = "http://example.com:8080" + v.target
	check("absolute-form", r)
	// No RequestURI: r.URL is used.
	r = v.serverRequest(v.auth)
	r.RequestURI = ""
	check("from r.URL", r)
	// RequestURI wins over r.URL.
	r = v.serverRequest(v.auth)
	r.URL.Path, r.URL.RawQuery = "/elsewhere", ""
	check("RequestURI preferred", r)

	r = v.serverRequest(v.auth)
	r.RequestURI, r.URL = "", nil
	if err := ver.Verify(r, a, v.body, keyA.Secret); !errors.Is(err, ErrMalformed) {
		t.Errorf("no target: err = %v", err)
	}
	if err := ver.Verify(nil, a, nil, ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil request: err = %v", err)
	}
	if err := ver.Verify(r, nil, nil, ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil authorization: err = %v", err)
	}
	// A nil *Verifier behaves as the zero Verifier.
	var nilV *Verifier
	if err := nilV.Verify(v.serverRequest(v.auth), a, v.body, keyA.Secret); !errors.Is(err, ErrExpired) {
		t.Errorf("nil verifier on a 2023 request: err = %v, want ErrExpired", err)
	}
}

// TestVerifyBodyHash: a verifier holding only the body's hash (a service
// asking keyplane to check a request it received) accepts exactly what
// Verify accepts with the body, and a hash of other bytes fails as a
// tampered body does.
func TestVerifyBodyHash(t *testing.T) {
	v0 := vectors[0]
	if got := BodyHash(v0.body); got != v0.bodyHash {
		t.Fatalf("BodyHash(V1 body) = %s, want %s", got, v0.bodyHash)
	}
	r, a, at := v1Request(t)
	v := &Verifier{Now: func() time.Time { return at }}
	for _, tc := range []struct {
		name string
		hash string
		want error
	}{
		{"the body's hash", BodyHash(v0.body), nil},
		{"another body's hash", BodyHash([]byte(`{"name":"Jane"}`)), ErrSignature},
		{"the empty body's hash", BodyHash(nil), ErrSignature},
		{"upper-case hex", strings.ToUpper(BodyHash(v0.body)), ErrSignature},
		{"not a hash", "nope", ErrSignature},
	} {
		err := v.VerifyBodyHash(r, a, tc.hash, keyA.Secret)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: VerifyBodyHash = %v, want %v", tc.name, err, tc.want)
		}
	}
}
