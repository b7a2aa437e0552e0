package auth_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyplane/keyplane/auth"
)

func TestSealerRoundTripAndTamper(t *testing.T) {
	s, err := auth.NewSealer(bytes.Repeat([]byte{1}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("secret"), []byte("client-a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	again, _ := s.Seal([]byte("secret"), []byte("client-a"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one secret are equal: nonce reuse")
	}
	plain, err := s.Open(sealed, []byte("client-a"))
	if err != nil || string(plain) != "secret" {
		t.Fatalf("open: %q %v", plain, err)
	}
	for name, tc := range map[string]struct{ data, ad []byte }{
		"other additional data": {sealed, []byte("client-b")},
		"flipped bit":           {append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), []byte("client-a")},
		"truncated":             {sealed[:5], []byte("client-a")},
	} {
		if _, err := s.Open(tc.data, tc.ad); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := auth.NewSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestParseKey(t *testing.T) {
	for in, ok := range map[string]bool{
		"0101010101010101010101010101010101010101010101010101010101010101": true,
		"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=":                     true,
		"0101": false,
		"zz":   false,
		"":     false,
	} {
		if _, err := auth.ParseKey(in); (err == nil) != ok {
			t.Errorf("ParseKey(%q): err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keyplane.key")
	k1, created, err := auth.LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != auth.KeySize {
		t.Fatalf("create: %v %v %d", err, created, len(k1))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	k2, created, err := auth.LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v %v", err, created)
	}
}

func TestAuthenticateRootBearer(t *testing.T) {
	a := &auth.Authenticator{RootDigest: auth.Digest("root-token")}
	for _, tc := range []struct {
		header string
		reason string // "" = authenticates as root
	}{
		{"Bearer root-token", ""},
		{"bearer root-token", ""},
		{"Bearer root-token2", "bad_token"},
		{"Bearer ", "unsupported_scheme"},
		{"Basic root-token", "unsupported_scheme"},
		{"root-token", "unsupported_scheme"},
		{"", "missing_credentials"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		p, err := a.Authenticate(r)
		var fail *auth.Failure
		switch {
		case tc.reason == "" && (err != nil || !p.Can(auth.Admin)):
			t.Errorf("%q: %v, want root", tc.header, err)
		case tc.reason != "" && (!errors.As(err, &fail) || fail.Reason != tc.reason):
			t.Errorf("%q: %v, want failure %s", tc.header, err, tc.reason)
		}
	}
}

func TestNewCredentials(t *testing.T) {
	a, _ := auth.NewCredentials("")
	b, _ := auth.NewCredentials("64b00bc5ba312b6744126a87")
	if len(a.ID) != 24 || len(a.ClientID) != 40 || len(a.Secret) != 64 || b.ID != "64b00bc5ba312b6744126a87" || a.Secret == b.Secret {
		t.Fatalf("credentials %+v %+v", a, b)
	}
}
