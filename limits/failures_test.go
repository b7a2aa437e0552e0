package limits_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/limits"
)

// TestSharedFailures: auth's failure limiter shared through counters. A
// guesser alternating between replicas gets at most 1.1 × the failures it
// gets from one replica in the same minute, from one address and with one
// credential.
func TestSharedFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		credential string
		every      time.Duration
	}{
		{"one address, unknown keys, a guess per ms", "", time.Millisecond},
		{"one address and key, a guess per 5 ms", "key:k", 5 * time.Millisecond},
		{"one address, a guess per 100 ms", "", 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			single := guesses(t, 1, tc.credential, tc.every)
			shared := guesses(t, 2, tc.credential, tc.every)
			if max := single * 11 / 10; shared > max {
				t.Errorf("2 replicas let %d guesses through in a minute, want at most %d (1.1 × %d on one)", shared, max, single)
			}
			t.Logf("one replica %d, two %d", single, shared)
		})
	}
}

// guesses is how many failures replicas sharing one ledger let through in a
// minute of guesses every interval, taking turns, reconciling every 200 ms.
func guesses(t *testing.T, replicas int, credential string, every time.Duration) int {
	ledger := newLedger()
	var counters []*limits.Counter
	var ls []*auth.Limiter
	for i := range replicas {
		c := limits.NewCounter(ledger, fmt.Sprint("r", i))
		l := auth.NewLimiter(auth.FailureBurst, auth.FailureInterval)
		l.Share(c)
		counters, ls = append(counters, c), append(ls, l)
	}
	sync := func(at time.Time) {
		for _, c := range counters {
			if err := c.Sync(t.Context(), at); err != nil {
				t.Fatal(err)
			}
		}
	}
	sync(t0)
	sync(t0)
	through := 0
	next := t0.Add(limits.DefaultSyncEvery)
	for now, i := t0, 0; now.Before(t0.Add(time.Minute)); now, i = now.Add(every), i+1 {
		for !now.Before(next) {
			sync(next)
			next = next.Add(limits.DefaultSyncEvery)
		}
		l := ls[i%len(ls)]
		if _, blocked := l.Blocked(now, "192.0.2.1", ""); blocked {
			continue
		}
		if credential != "" {
			if _, blocked := l.Blocked(now, "192.0.2.1", credential); blocked {
				continue
			}
		}
		l.Fail(now, "192.0.2.1", credential)
		through++
	}
	return through
}
