package delivery

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	at := time.Unix(1_790_000_000, 0)
	body := []byte(`{"id":"x","data":{"temperature":21.5}}`)
	h := Sign("s3cret", at, body)
	if !strings.HasPrefix(h, "t=1790000000,v1=") || len(h) != len("t=1790000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := VerifySignature("s3cret", h, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// The v1 value is HMAC-SHA256 over "<t>.<body>", as documented.
	if Sign("s3cret", at, body) != h {
		t.Fatal("signing is not deterministic")
	}
	cases := []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		want                 error
	}{
		{"tampered body", "s3cret", h, []byte(`{"id":"x","data":{"temperature":99}}`), at, ErrSignatureMismatch},
		{"wrong secret", "other", h, body, at, ErrSignatureMismatch},
		{"stale", "s3cret", h, body, at.Add(6 * time.Minute), ErrSignatureStale},
		{"from the future", "s3cret", h, body, at.Add(-6 * time.Minute), ErrSignatureStale},
		{"tampered t", "s3cret", strings.Replace(h, "t=1790000000", "t=1790000001", 1), body, at, ErrSignatureMismatch},
		{"no v1", "s3cret", "t=1790000000", body, at, ErrSignatureMalformed},
		{"no t", "s3cret", h[len("t=1790000000,"):], body, at, ErrSignatureMalformed},
		{"two t", "s3cret", "t=1," + h, body, at, ErrSignatureMalformed},
		{"bad hex", "s3cret", "t=1790000000,v1=zz", body, at, ErrSignatureMalformed},
		{"empty", "s3cret", "", body, at, ErrSignatureMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := VerifySignature(c.secret, c.header, c.body, c.now, 5*time.Minute); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Any of several v1 values may match (a rotated secret).
	rotated := Sign("old", at, body) + "," + h[len("t=1790000000,"):]
	if err := VerifySignature("s3cret", rotated, body, at, 0); err != nil {
		t.Fatalf("rotated: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 512 * time.Second,
		1024 * time.Second, 2048 * time.Second, time.Hour, time.Hour}
	for i, w := range want {
		if got := Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if Backoff(1000) != time.Hour || Backoff(0) != time.Second {
		t.Fatal("bounds")
	}
}
