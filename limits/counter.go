package limits

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/keyplane/keyplane/store"
)

// Ledger is where replicas reconcile their counts (store.RateLimits).
type Ledger interface {
	Add(ctx context.Context, replica string, windows []store.RateWindow, now time.Time, alive time.Duration) ([]int64, int, error)
	Prune(ctx context.Context, t time.Time) (int64, error)
	Leave(ctx context.Context, replica string) error
}

// Defaults of a Counter.
const (
	// DefaultSyncEvery is how often a replica reconciles.
	DefaultSyncEvery = 200 * time.Millisecond
	// DefaultMaxEntries bounds the buckets a replica remembers.
	DefaultMaxEntries = 100_000
	// Spread divides what is left of a shared budget among replicas: while n
	// replicas share it, each spends at most 1/(n·Spread) of what was left
	// at its last reconciliation before it reconciles again.
	Spread = 2
	// alive is how long a replica counts as sharing after its last report.
	alive = 2 * time.Second
	// activeFor is how long after its last local use a bucket keeps being
	// reconciled (to learn the others' uses).
	activeFor = 2 * time.Second
	// idleTTL is how long a bucket without windows (Add with period 0) is
	// kept after its last use, here and in the ledger.
	idleTTL = 10 * time.Minute
	// pruneEvery is how often the ledger is pruned.
	pruneEvery = 30 * time.Second
)

// Counter counts uses per bucket and window on one replica and reconciles
// them with the others through a Ledger. Safe for concurrent use.
type Counter struct {
	ledger  Ledger // nil: local only
	replica string
	max     int

	mu       sync.Mutex
	entries  map[slot]*entry
	replicas int // sharing the ledger at the last reconciliation, this one included
	synced   time.Time
	pruned   time.Time
}

// slot names one window of a bucket (start 0: a bucket without windows).
type slot struct {
	bucket string
	start  int64
}

// entry is one window as this replica knows it.
type entry struct {
	period  int64 // seconds; 0: no windows, kept idleTTL after its last use
	pending int64 // used here, not yet reported
	sending int64 // being reported now
	global  int64 // everyone's reported uses at the last reconciliation
	remote  int64 // others' uses learnt and not yet taken (Remote)
	seen    time.Time
	synced  bool // reconciled at least once
}

// NewCounter returns a counter reconciling through ledger (nil: local) as
// replica, an identifier unique among the replicas.
func NewCounter(ledger Ledger, replica string) *Counter {
	return &Counter{ledger: ledger, replica: replica, max: DefaultMaxEntries, entries: map[slot]*entry{}, replicas: 1}
}

// Rate is a request allowance: Limit uses per window of Period.
type Rate struct {
	Limit  int64
	Period time.Duration
}

// Decision is the answer to one Take.
type Decision struct {
	Allowed bool
	// Limit and Remaining describe the window (X-RateLimit-Limit and
	// -Remaining); Reset is the time until it ends (X-RateLimit-Reset).
	Limit, Remaining int64
	Reset            time.Duration
	// RetryAfter, when refused, is how long to wait.
	RetryAfter time.Duration
}

// windowOf is the window of period containing now: its start and its end.
func windowOf(now time.Time, period time.Duration) (start, end int64) {
	p := max(int64(period/time.Second), 1)
	start = now.Unix() / p * p
	return start, start + p
}

// Take decides whether bucket may make one more request at now under r, and
// counts it when it may.
func (c *Counter) Take(now time.Time, bucket string, r Rate) Decision {
	start, end := windowOf(now, r.Period)
	reset := time.Unix(end, 0).Sub(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(now, slot{bucket, start}, end-start)
	used := e.global + e.pending + e.sending
	d := Decision{Limit: r.Limit, Reset: reset}
	switch {
	case used >= r.Limit:
		d.RetryAfter = reset
	case !c.mayShare(e, float64(r.Limit-e.global)):
		d.RetryAfter = time.Second // the next reconciliation tells more
	default:
		e.pending++
		d.Allowed = true
		d.Remaining = r.Limit - used - 1
	}
	return d
}

// mayShare tells whether this replica may spend one more of what was left
// of a shared budget (left) at the last reconciliation.
func (c *Counter) mayShare(e *entry, left float64) bool {
	if c.replicas <= 1 {
		return true
	}
	share := max(math.Ceil(left/float64(c.replicas*Spread)), 1)
	return float64(e.pending+e.sending) < share
}

// Add counts n uses of bucket at now, in its window of period (0: one
// window for ever, kept while used), without deciding anything.
func (c *Counter) Add(now time.Time, bucket string, period time.Duration, n int64) {
	s, p := c.slotOf(now, bucket, period)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(now, s, p).pending += n
}

// Remote returns, and forgets, the uses of bucket by other replicas learnt
// since the last call, in the current window of period and the one before
// (for a local token bucket to spend them too).
func (c *Counter) Remote(now time.Time, bucket string, period time.Duration) int64 {
	s, _ := c.slotOf(now, bucket, period)
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, at := range []slot{s, {bucket, s.start - int64(period/time.Second)}} {
		if e, ok := c.entries[at]; ok {
			n += e.remote
			e.remote = 0
		}
	}
	return n
}

// Within tells whether this replica may spend one more use of bucket when
// available uses are left in a budget it shares with the other replicas
// (its own uses since the last reconciliation already spent). A bucket
// used here but not yet reconciled gets one use: the others may have spent
// it already (a guesser moving to this replica learns so at once).
func (c *Counter) Within(now time.Time, bucket string, period time.Duration, available float64) bool {
	s, _ := c.slotOf(now, bucket, period)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[s]
	switch {
	case c.replicas <= 1:
		return available >= 1
	case !ok:
		return available >= 1
	case !e.synced:
		return e.pending+e.sending < 1
	}
	return c.mayShare(e, available+float64(e.pending+e.sending))
}

func (c *Counter) slotOf(now time.Time, bucket string, period time.Duration) (slot, int64) {
	if period <= 0 {
		return slot{bucket, 0}, 0
	}
	start, end := windowOf(now, period)
	return slot{bucket, start}, end - start
}

// entry returns the window s, creating it; c.mu is held.
func (c *Counter) entry(now time.Time, s slot, period int64) *entry {
	e, ok := c.entries[s]
	if !ok {
		if len(c.entries) >= c.max {
			c.forget(now)
		}
		e = &entry{period: period}
		c.entries[s] = e
	}
	e.seen = now
	return e
}

// forget drops the windows that ended and idle buckets, and, when that is
// not enough, windows with nothing left to report (any, without a ledger)
// until a tenth of the room is free; c.mu is held.
func (c *Counter) forget(now time.Time) {
	c.forgetOld(now)
	for s, e := range c.entries {
		if len(c.entries) < c.max*9/10 {
			return
		}
		if !c.unreported(e) {
			delete(c.entries, s)
		}
	}
}

// unreported tells whether e holds uses the ledger has not heard of.
func (c *Counter) unreported(e *entry) bool {
	return c.ledger != nil && (e.pending != 0 || e.sending != 0)
}

// over tells whether window s no longer matters.
func (c *Counter) over(now time.Time, s slot, e *entry) bool {
	if e.period == 0 {
		return now.Sub(e.seen) > idleTTL
	}
	return now.Unix() >= s.start+e.period
}

// expires is when the ledger may forget s.
func (s slot) expires(e *entry, now time.Time) int64 {
	if e.period == 0 {
		return now.Add(idleTTL).Unix()
	}
	return s.start + e.period
}

// Sync reconciles once: it reports this replica's uses of every bucket used
// recently and learns everyone's totals and how many replicas share them.
// Without a ledger it only forgets old windows.
func (c *Counter) Sync(ctx context.Context, now time.Time) error {
	c.mu.Lock()
	c.forgetOld(now)
	if c.ledger == nil {
		c.mu.Unlock()
		return nil
	}
	var rows []store.RateWindow
	var refs []*entry
	for s, e := range c.entries {
		if e.pending == 0 && now.Sub(e.seen) > activeFor {
			continue
		}
		rows = append(rows, store.RateWindow{Bucket: s.bucket, Start: s.start, Add: e.pending, Expires: s.expires(e, now)})
		refs = append(refs, e)
		e.sending, e.pending = e.pending, 0
	}
	c.mu.Unlock()
	totals, replicas, err := c.ledger.Add(ctx, c.replica, rows, now, alive)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		for _, e := range refs {
			e.pending, e.sending = e.pending+e.sending, 0
		}
		return fmt.Errorf("reconcile rate limits: %w", err)
	}
	for i, e := range refs {
		if others := totals[i] - e.global - e.sending; others > 0 {
			e.remote += others
		}
		e.global, e.sending, e.synced = totals[i], 0, true
	}
	c.replicas, c.synced = replicas, now
	return nil
}

// forgetOld drops what no longer matters; c.mu is held.
func (c *Counter) forgetOld(now time.Time) {
	for s, e := range c.entries {
		if !c.unreported(e) && c.over(now, s, e) {
			delete(c.entries, s)
		}
	}
}

// Join announces this replica to the others before it serves: it
// reconciles, waits until every replica reconciling every interval has
// heard of it, and reconciles again, so that no replica spends a shared
// budget as if alone while this one spends it too. Without a ledger it
// does nothing.
func (c *Counter) Join(ctx context.Context, interval time.Duration) error {
	if c.ledger == nil {
		return nil
	}
	if interval <= 0 {
		interval = DefaultSyncEvery
	}
	if err := c.Sync(ctx, time.Now()); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(interval + interval/4):
	}
	return c.Sync(ctx, time.Now())
}

// Run reconciles every interval (DefaultSyncEvery when 0) until ctx ends,
// prunes the ledger every pruneEvery, and at the end reports its last uses
// and leaves the ledger (the others stop sharing with it). Errors go to
// onError; reconciliation goes on.
func (c *Counter) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 {
		interval = DefaultSyncEvery
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if c.ledger != nil {
				final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
				if err := c.Sync(final, time.Now()); err != nil {
					onError(err)
				}
				if err := c.ledger.Leave(final, c.replica); err != nil {
					onError(err)
				}
			}
			return
		case now := <-t.C:
			if err := c.Sync(ctx, now); err != nil {
				onError(err)
			}
			c.prune(ctx, now, onError)
		}
	}
}

// prune forgets the ledger's expired windows every pruneEvery.
func (c *Counter) prune(ctx context.Context, now time.Time, onError func(error)) {
	if c.ledger == nil || now.Sub(c.pruned) < pruneEvery {
		return
	}
	c.pruned = now
	if _, err := c.ledger.Prune(ctx, now.Add(-alive)); err != nil {
		onError(err)
	}
}

// Len is the number of windows remembered (for tests and metrics).
func (c *Counter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
