package limits_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/store"
)

// memLedger is the shared table of the replicas of a unit test (the store's
// own Add is tested on both databases in package store).
type memLedger struct {
	mu     sync.Mutex
	counts map[string]int64
	seen   map[string]time.Time
	fail   error
}

func newLedger() *memLedger {
	return &memLedger{counts: map[string]int64{}, seen: map[string]time.Time{}}
}

func (l *memLedger) Add(_ context.Context, replica string, windows []store.RateWindow, now time.Time, alive time.Duration) ([]int64, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return nil, 0, l.fail
	}
	out := make([]int64, len(windows))
	for i, w := range windows {
		k := fmt.Sprintf("%s@%d", w.Bucket, w.Start)
		l.counts[k] += w.Add
		out[i] = l.counts[k]
	}
	l.seen[replica] = now
	n := 0
	for _, t := range l.seen {
		if now.Sub(t) < alive {
			n++
		}
	}
	return out, n, nil
}

func (l *memLedger) Prune(context.Context, time.Time) (int64, error) { return 0, nil }
func (l *memLedger) Leave(context.Context, string) error             { return nil }

var t0 = time.Unix(1_800_000_000, 0) // the start of a window of every period used here

// TestTakeLocal: one replica counts a window exactly; headers' numbers
// follow; a refusal waits for the window's end; the next window is whole.
func TestTakeLocal(t *testing.T) {
	c := limits.NewCounter(nil, "a")
	r := limits.Rate{Limit: 3, Period: 10 * time.Second}
	for i, want := range []struct {
		at        time.Duration
		allowed   bool
		remaining int64
		reset     time.Duration
		retry     time.Duration
	}{
		{0, true, 2, 10 * time.Second, 0},
		{time.Second, true, 1, 9 * time.Second, 0},
		{2 * time.Second, true, 0, 8 * time.Second, 0},
		{2500 * time.Millisecond, false, 0, 7500 * time.Millisecond, 7500 * time.Millisecond},
		{10 * time.Second, true, 2, 10 * time.Second, 0},
	} {
		d := c.Take(t0.Add(want.at), "key:k", r)
		if d.Allowed != want.allowed || d.Remaining != want.remaining || d.Reset != want.reset || d.RetryAfter != want.retry || d.Limit != 3 {
			t.Errorf("request %d at +%s: %+v, want allowed %v remaining %d reset %s retry %s", i, want.at, d, want.allowed, want.remaining, want.reset, want.retry)
		}
	}
}

// TestTakeShared: replicas taking turns on one budget, reconciling every
// 200 ms, accept at most 1.1 × the limit in the window and close to it.
func TestTakeShared(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		limit    int64
		every    time.Duration // between requests, across replicas
	}{
		{"2 replicas, 100 per minute, a request per ms", 2, 100, time.Millisecond},
		{"2 replicas, 1000 per minute, a request per 0.1 ms", 2, 1000, 100 * time.Microsecond},
		{"3 replicas, 50 per minute, a request per 10 ms", 3, 50, 10 * time.Millisecond},
		{"2 replicas, 10 per minute, a request per 50 ms", 2, 10, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ledger := newLedger()
			var cs []*limits.Counter
			for i := range tc.replicas {
				cs = append(cs, limits.NewCounter(ledger, fmt.Sprint("r", i)))
			}
			for range 2 { // replicas running for a while know each other
				for _, c := range cs {
					if err := c.Sync(t.Context(), t0); err != nil {
						t.Fatal(err)
					}
				}
			}
			r := limits.Rate{Limit: tc.limit, Period: time.Minute}
			accepted := int64(0)
			nextSync := t0.Add(limits.DefaultSyncEvery)
			for now, i := t0, 0; now.Before(t0.Add(50 * time.Second)); now, i = now.Add(tc.every), i+1 {
				for !now.Before(nextSync) {
					for _, c := range cs {
						if err := c.Sync(t.Context(), nextSync); err != nil {
							t.Fatal(err)
						}
					}
					nextSync = nextSync.Add(limits.DefaultSyncEvery)
				}
				if cs[i%len(cs)].Take(now, "key:k", r).Allowed {
					accepted++
				}
			}
			if max := tc.limit * 11 / 10; accepted > max {
				t.Errorf("accepted %d across %d replicas, want at most %d (1.1 × %d)", accepted, tc.replicas, max, tc.limit)
			}
			t.Logf("accepted %d of a limit of %d", accepted, tc.limit)
			if accepted < tc.limit*9/10 {
				t.Errorf("accepted %d, want close to the limit %d", accepted, tc.limit)
			}
		})
	}
}

// TestRemote: what one replica adds, another learns once through Remote;
// Within shares what is left while several replicas count.
func TestRemote(t *testing.T) {
	ledger := newLedger()
	a, b := limits.NewCounter(ledger, "a"), limits.NewCounter(ledger, "b")
	ctx := t.Context()
	a.Add(t0, "fail:ip:1", time.Minute, 7)
	b.Add(t0, "fail:ip:1", time.Minute, 1)
	for _, c := range []*limits.Counter{a, b, a} {
		if err := c.Sync(ctx, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		c       *limits.Counter
		want    int64
		replica string
	}{
		{"b learns a's 7", b, 7, "b"}, {"a learns b's 1", a, 1, "a"}, {"learnt once", b, 0, "b"},
	} {
		if got := tc.c.Remote(t0.Add(time.Second), "fail:ip:1", time.Minute); got != tc.want {
			t.Errorf("%s: Remote %d, want %d", tc.name, got, tc.want)
		}
	}
	// Two replicas share 8 left: each may spend ceil(8/4) = 2 before it reconciles again.
	b.Add(t0, "fail:ip:1", time.Minute, 1)
	if !b.Within(t0, "fail:ip:1", time.Minute, 7) {
		t.Error("Within: a second use of a share of 2 refused")
	}
	b.Add(t0, "fail:ip:1", time.Minute, 1)
	if b.Within(t0, "fail:ip:1", time.Minute, 6) {
		t.Error("Within: a third use of a share of 2 allowed")
	}
}

// TestSyncFailure: uses not reported because the ledger failed are
// reported by the next reconciliation.
func TestSyncFailure(t *testing.T) {
	ledger := newLedger()
	a, b := limits.NewCounter(ledger, "a"), limits.NewCounter(ledger, "b")
	r := limits.Rate{Limit: 10, Period: time.Minute}
	a.Take(t0, "key:k", r)
	b.Take(t0, "key:k", r)
	ledger.fail = errors.New("database down")
	if err := a.Sync(t.Context(), t0); err == nil {
		t.Fatal("Sync with a failing ledger: no error")
	}
	ledger.fail = nil
	for _, c := range []*limits.Counter{a, b} {
		if err := c.Sync(t.Context(), t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if d := b.Take(t0.Add(time.Second), "key:k", r); d.Remaining != 7 {
		t.Errorf("b after a's retried report: remaining %d, want 7 (10 - a's 1 - its own 2)", d.Remaining)
	}
}

// TestBounded: windows that ended are forgotten, and memory stays bounded
// under many buckets.
func TestBounded(t *testing.T) {
	c := limits.NewCounter(nil, "a")
	r := limits.Rate{Limit: 1, Period: time.Second}
	for i := range limits.DefaultMaxEntries + 500 {
		c.Take(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprint("key:", i), r)
	}
	if n := c.Len(); n > limits.DefaultMaxEntries {
		t.Errorf("%d windows remembered, want at most %d", n, limits.DefaultMaxEntries)
	}
	if err := c.Sync(t.Context(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := c.Len(); n != 0 {
		t.Errorf("%d windows remembered an hour later, want 0", n)
	}
}

// BenchmarkTake is one decision in memory (a key's request), the limiter's
// whole cost on the request path.
func BenchmarkTake(b *testing.B) {
	c := limits.NewCounter(newLedger(), "a")
	r := limits.Rate{Limit: 1 << 62, Period: time.Hour}
	now := t0
	for b.Loop() {
		c.Take(now, "key:k", r)
	}
}
