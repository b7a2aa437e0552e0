package connector_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/store"
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

// configureCase is one body given to a kind's Configure on create, and the
// field errors it must yield.
type configureCase struct {
	name         string
	props        any // a map, a literal string of JSON, or nil for no body
	allowPrivate bool
	want         string // "member code, …"; "" means valid
}

// checkConfigure runs each case through k.Configure as a create.
func checkConfigure(t *testing.T, k connector.Kind, cases []configureCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw []byte
			if c.props != nil {
				raw = props(t, c.props)
			}
			_, err := k.Configure(raw, nil, c.allowPrivate)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := members(fieldErrors(t, err)); got != c.want {
				t.Fatalf("errors %s, want %s", got, c.want)
			}
		})
	}
}

// sealRoundTrip seals cfg with k as the connector 09aaaaaaaaaaaaaa and checks
// what every kind promises of it: no secret (a value starting "secret-") is
// readable in the properties or the sealed bytes, the row opens to cfg
// again, its public view is want, and it opens under no other id. It
// returns the row as sealed.
func sealRoundTrip(t *testing.T, sealer *auth.Sealer, k connector.Kind, cfg connector.Config, want string) *store.OutputConnector {
	t.Helper()
	p, sealed, err := k.Seal(sealer, cfg, "09aaaaaaaaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, p+string(sealed), "secret-")
	row := &store.OutputConnector{ID: "09aaaaaaaaaaaaaa", Type: k.Name(), Properties: p, SecretsSealed: sealed}
	opened, err := k.Open(sealer, row)
	if err != nil || !reflect.DeepEqual(opened, cfg) {
		t.Fatalf("opened %+v %v, want %+v", opened, err, cfg)
	}
	pub, err := k.Public(row)
	if err != nil || string(pub) != want {
		t.Fatalf("public %s %v, want %s", pub, err, want)
	}
	other := *row
	other.ID = "09bbbbbbbbbbbbbb"
	if _, err := k.Open(sealer, &other); err == nil {
		t.Fatal("opened under another id")
	}
	return row
}
