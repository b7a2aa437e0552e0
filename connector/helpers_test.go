package connector_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
)

// testSign is delivery.Sign, written out: package delivery is not imported,
// so that these tests depend on this package alone.
func testSign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// verify checks a signature header as a receiver would.
func verify(t *testing.T, secret, header string, body []byte, at time.Time) {
	t.Helper()
	if header == "" || header != testSign(secret, at, body) {
		t.Fatalf("signature %q does not verify", header)
	}
}

func testSealer(t *testing.T) *auth.Sealer {
	t.Helper()
	s, err := auth.NewSealer(bytes.Repeat([]byte{3}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// props is the JSON of v (a map or a literal string of JSON).
func props(t *testing.T, v any) json.RawMessage {
	t.Helper()
	if s, ok := v.(string); ok {
		return json.RawMessage(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fieldErrors returns the field errors of err, failing on any other error.
func fieldErrors(t *testing.T, err error) connector.FieldErrors {
	t.Helper()
	var fe connector.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want FieldErrors", err, err)
	}
	return fe
}

// members is "member code" of each field error, for comparisons.
func members(fe connector.FieldErrors) string {
	parts := make([]string, len(fe))
	for i, f := range fe {
		parts[i] = fmt.Sprintf("%s %s", f.Member, f.Code)
		if f.Message == "" {
			parts[i] += " (no message)"
		}
	}
	return strings.Join(parts, ", ")
}

var hex64 = func(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// noSecret fails if any secret is in s.
func noSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("secret %q readable in %s", sec, s)
		}
	}
}
