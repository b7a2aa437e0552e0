package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTokensParse: a token parses to its user, session and expiry, the
// second time from what the first remembered; once expired it is refused
// though remembered; a token altered by one character, or signed with
// another key, is refused.
func TestTokensParse(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const user, session = "0a1b2c3d4e5f60718293a4b5", "0c1b2c3d4e5f60718293a4b5"
	issued := func(key []byte) (*Tokens, string, time.Time) {
		t.Helper()
		tk, err := NewTokens(key, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		token, expires, err := tk.Issue(user, session)
		if err != nil {
			t.Fatal(err)
		}
		return tk, token, expires
	}
	tk, token, expires := issued(make([]byte, 32))
	_, foreign, _ := issued(make([]byte, 31))
	for _, pass := range []string{"first", "remembered"} {
		u, s, exp, err := tk.Parse(token)
		if err != nil || u != user || s != session || !exp.Equal(expires) {
			t.Fatalf("%s parse: user %q session %q expires %v, %v", pass, u, s, exp, err)
		}
		if len(tk.verified) != 1 {
			t.Fatalf("%s parse: %d tokens remembered, want 1", pass, len(tk.verified))
		}
	}

	// The signature's first character (all of its bits are the signature's).
	sig := strings.LastIndexByte(token, '.') + 1
	flipped := byte('A')
	if token[sig] == 'A' {
		flipped = 'B'
	}
	altered := token[:sig] + string(flipped) + token[sig+1:]
	for name, bad := range map[string]string{"altered": altered, "another key's": foreign} {
		if _, _, _, err := tk.Parse(bad); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s token: %v, want ErrBadCredentials", name, err)
		}
	}

	now = expires
	if _, _, _, err := tk.Parse(token); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("expired token: %v, want ErrBadCredentials", err)
	}
}
