package nws4

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// referenceParams is the reference's own matcher: its .NET regular expression,
// whose "$" also matches before a final LF (emulated by dropping one).
var referenceParams = regexp.MustCompile(`^Credential=(.*?),SignedHeaders=(.*?),Timestamp=(.*?),Signature=(.*?)$`)

func referenceMatch(p string) (groups []string, ok bool) {
	m := referenceParams.FindStringSubmatch(strings.TrimSuffix(p, "\n"))
	if m == nil {
		return nil, false
	}
	return m[1:], true
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name, in string
		want     *Authorization
	}{
		{"V1", vectors[0].auth, &Authorization{
			Credential:    keyA.ClientID,
			SignedHeaders: []string{"accept", "content-type", "host", "x-nd-content-sha256", "x-nd-date"},
			Timestamp:     "2023-05-30T13:17:01.992Z",
			Signature:     vectors[0].signature,
		}},
		{"V3 legacy lower-case hex", vectors[1].legacy, &Authorization{
			Credential:    keyB.ClientID,
			SignedHeaders: []string{"host", "x-nd-content-sha256", "x-nd-date", "__tenant"},
			Timestamp:     "2022-02-07T10:47:53.026Z",
			Signature:     vectors[1].signature,
		}},
		{"decoded once only", Scheme + " Credential%3Da%252C%2CSignedHeaders%3D%2CTimestamp%3Dt%2CSignature%3D%2541",
			&Authorization{Credential: "a%2C", Timestamp: "t", Signature: "%41"}},
		{"plain, unencoded params", Scheme + " Credential=c,SignedHeaders=a;b,Timestamp=t,Signature=s",
			&Authorization{Credential: "c", SignedHeaders: []string{"a", "b"}, Timestamp: "t", Signature: "s"}},
		{"lazy groups", Scheme + " Credential=c,SignedHeaders=h,Timestamp=t,Signature=s,Timestamp=u,Signature=v",
			&Authorization{Credential: "c", SignedHeaders: []string{"h"}, Timestamp: "t", Signature: "s,Timestamp=u,Signature=v"}},
		{"empty names and blanks", Scheme + " Credential=,SignedHeaders=;;,Timestamp=,Signature=",
			&Authorization{SignedHeaders: []string{"", "", ""}}},
		{".NET $ before a final LF", Scheme + " Credential=c,SignedHeaders=h,Timestamp=t,Signature=s%0A",
			&Authorization{Credential: "c", SignedHeaders: []string{"h"}, Timestamp: "t", Signature: "s"}},
		{"plus is a space", Scheme + " Credential=a+b,SignedHeaders=x,Timestamp=t,Signature=s",
			&Authorization{Credential: "a b", SignedHeaders: []string{"x"}, Timestamp: "t", Signature: "s"}},
	}
	for _, tt := range tests {
		got, err := ParseAuthorization(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseAuthorizationRejects(t *testing.T) {
	notNWS4 := []string{
		"",
		"Bearer abc",
		"Basic dXNlcjpwdw==",
		"nws4-hmac-sha256 " + vectors[0].auth[len(Scheme)+1:],
		"NWS4-HMAC-SHA256x Credential=c",
		"AWS4-HMAC-SHA256 Credential=c",
		" " + vectors[0].auth,
		"NWS4-HMAC-SHA256\tCredential=c,SignedHeaders=,Timestamp=,Signature=",
	}
	for _, in := range notNWS4 {
		if _, err := ParseAuthorization(in); err != ErrNotNWS4 {
			t.Errorf("ParseAuthorization(%q) err = %v, want ErrNotNWS4", in, err)
		}
	}
	malformed := []string{
		"NWS4-HMAC-SHA256",
		"NWS4-HMAC-SHA256 ",
		"NWS4-HMAC-SHA256 garbage",
		"NWS4-HMAC-SHA256 Credential%3Dx",
		"NWS4-HMAC-SHA256  " + vectors[0].auth[len(Scheme)+1:],
		"NWS4-HMAC-SHA256 credential=c,SignedHeaders=h,Timestamp=t,Signature=s",
		"NWS4-HMAC-SHA256 Credential=c,SignedHeaders=h,Timestamp=t",
		"NWS4-HMAC-SHA256 Credential=c,Timestamp=t,SignedHeaders=h,Signature=s",
		"NWS4-HMAC-SHA256 Credential=c,SignedHeaders=h,Timestamp=t,Signature=s%0A%0A",
		"NWS4-HMAC-SHA256 Credential=c%0A,SignedHeaders=h,Timestamp=t,Signature=s",
		"NWS4-HMAC-SHA256 Credential%3Dc%2CSignedHeaders%3Dh%2CTimestamp%3Dt",
		"NWS4-HMAC-SHA256 %",
	}
	for _, in := range malformed {
		if _, err := ParseAuthorization(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAuthorization(%q) err = %v, want ErrMalformed", in, err)
		}
	}
}

// TestMatchParamsAgreesWithRegexp checks the hand-written matcher against the
// reference's regular expression; FuzzVerify does the same on random input.
func TestMatchParamsAgreesWithRegexp(t *testing.T) {
	inputs := []string{
		"",
		"Credential=,SignedHeaders=,Timestamp=,Signature=",
		"Credential=a,SignedHeaders=b,Timestamp=c,Signature=d",
		"Credential=a,SignedHeaders=b,SignedHeaders=x,Timestamp=c,Signature=d",
		"Credential=,SignedHeaders=,SignedHeaders=,Timestamp=,Timestamp=,Signature=,Signature=",
		"Credential=a,SignedHeaders=b,Timestamp=c,Signature=d\n",
		"Credential=a,SignedHeaders=b,Timestamp=c,Signature=d\r",
		"Credential=a\n,SignedHeaders=b,Timestamp=c,Signature=d",
		"Credential=a,SignedHeaders=,Timestamp=,Signature=,Signature=\n",
		"xCredential=a,SignedHeaders=b,Timestamp=c,Signature=d",
		"Credential=\xff,SignedHeaders=b,Timestamp=c,Signature=d",
	}
	for _, in := range inputs {
		checkMatchParams(t, in)
	}
}

func checkMatchParams(t *testing.T, in string) {
	t.Helper()
	cred, names, ts, sig, ok := matchParams(in)
	want, wantOK := referenceMatch(in)
	if ok != wantOK || ok && !reflect.DeepEqual([]string{cred, names, ts, sig}, want) {
		t.Errorf("matchParams(%q) = %q, %v; regexp %q, %v", in, []string{cred, names, ts, sig}, ok, want, wantOK)
	}
}

func TestFormatAuthorizationRoundTrip(t *testing.T) {
	v := vectors[0]
	got := formatAuthorization(v.creds.ClientID, "accept;content-type;host;x-nd-content-sha256;x-nd-date", v.ts, v.signature)
	if got != v.auth {
		t.Fatalf("formatAuthorization = %s", got)
	}
	a, err := ParseAuthorization(got)
	if err != nil || a.Timestamp != v.ts || strings.Join(a.SignedHeaders, ";") != "accept;content-type;host;x-nd-content-sha256;x-nd-date" {
		t.Fatalf("round trip: %+v, %v", a, err)
	}
}
