package nws4

import (
	"testing"
	"time"
)

// BenchmarkSign signs the V1 request (five headers, 15-byte body).
func BenchmarkSign(b *testing.B) {
	v := vectors[0]
	r := v.clientRequest(b)
	now := mustTime(b, v.ts)
	b.ReportAllocs()
	for b.Loop() {
		if err := Sign(r, v.body, v.creds, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify parses and verifies the V1 request.
func BenchmarkVerify(b *testing.B) {
	v := vectors[0]
	r := v.serverRequest(v.auth)
	ts := mustTime(b, v.ts)
	ver := &Verifier{Now: func() time.Time { return ts }}
	b.ReportAllocs()
	for b.Loop() {
		a, err := ParseAuthorization(v.auth)
		if err != nil {
			b.Fatal(err)
		}
		if err := ver.Verify(r, a, v.body, v.creds.Secret); err != nil {
			b.Fatal(err)
		}
	}
}
