package auth_test

import (
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
)

// TestLimiter: a credential from an address is blocked after its burst, the
// address after AddressFactor times more, each until it refills; a clock
// that goes back neither refills nor drains a bucket.
func TestLimiter(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name       string
		fails      int
		credential string
		at         time.Duration // when Blocked is asked, after the failures at t0
		blocked    bool
		wait       time.Duration
	}{
		{"within the credential's burst", 2, "key:k", 0, false, 0},
		{"the credential's burst spent", 3, "key:k", 0, true, 3 * time.Second},
		{"refilled one", 3, "key:k", 3 * time.Second, false, 0},
		{"clock went back", 3, "key:k", -time.Hour, true, 3 * time.Second},
		{"another credential from the address", 3, "key:other", 0, false, 0},
	} {
		l := auth.NewLimiter(3, 3*time.Second)
		for range tc.fails {
			l.Fail(t0, "192.0.2.1", "key:k")
		}
		wait, blocked := l.Blocked(t0.Add(tc.at), "192.0.2.1", tc.credential)
		if blocked != tc.blocked || wait != tc.wait {
			t.Errorf("%s: blocked %v for %s, want %v for %s", tc.name, blocked, wait, tc.blocked, tc.wait)
		}
	}
	l := auth.NewLimiter(3, 3*time.Second)
	for i := range 3 * auth.AddressFactor {
		l.Fail(t0, "192.0.2.1", "key:"+string(rune('a'+i)))
	}
	if _, blocked := l.Blocked(t0, "192.0.2.1", ""); !blocked {
		t.Error("the address is not blocked after AddressFactor × burst failures")
	}
	if _, blocked := l.Blocked(t0, "192.0.2.2", ""); blocked {
		t.Error("another address is blocked")
	}
}
