// Package delivery sends stored samples to output connectors: Plan turns a
// backfill into outbox rows (store.Delivery, written in the samples'
// transaction), and Worker claims due rows with a lease, POSTs them to their
// webhooks (signed, see Sign), records every attempt and retries failures
// with jittered exponential backoff (JitteredBackoff). Delivery is at least
// once: a worker killed mid-send leaves a lease that expires, and another
// claim sends again.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/store"
)

// Defaults of a Worker's zero fields.
const (
	DefaultLease          = 30 * time.Second
	DefaultBatch          = 32
	DefaultConcurrency    = 16
	DefaultMaxAttempts    = 12
	DefaultAttemptTimeout = 10 * time.Second
	// MinBackoff is the shortest wait between attempts (the first one).
	MinBackoff = time.Second
	// MaxBackoff caps the wait between attempts, jitter included.
	MaxBackoff = time.Hour
)

// maxErrorText bounds the error recorded with an attempt.
const maxErrorText = 200

// Backoff is the longest wait after the n-th failed attempt (n >= 1):
// 1 s, 2 s, 4 s, … doubling, capped at MaxBackoff. The worker waits
// between half of it and all of it (JitteredBackoff).
func Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 13 { // 2^12 s > 1 h already
		return MaxBackoff
	}
	return min(MinBackoff<<(n-1), MaxBackoff)
}

// JitteredBackoff is the wait after the n-th failed attempt with jitter u
// in [0, 1]: Backoff(n) less u times its spread, the spread being down to
// half of Backoff(n) but never below MinBackoff. So u = 0 is Backoff(n)
// itself, and every wait lies in [MinBackoff, MaxBackoff]: jitter spreads
// retries of deliveries that failed together without ever waiting longer
// than the schedule (or the cap) says. u outside [0, 1] (NaN included) is
// taken as the nearer bound (NaN as 0).
func JitteredBackoff(n int, u float64) time.Duration {
	hi := Backoff(n)
	lo := max(hi/2, MinBackoff)
	switch {
	case !(u > 0): // NaN too
		return hi
	case u >= 1:
		return lo
	}
	return max(hi-time.Duration(u*float64(hi-lo)), lo)
}

// Worker delivers the outbox. Several workers (replicas) may run on one
// database: claims are disjoint, and a completion is guarded by its lease.
type Worker struct {
	// Deliveries is the outbox; Connectors says where each delivery goes.
	Deliveries *store.Deliveries
	Connectors *store.Connectors
	Sealer     *auth.Sealer
	// Kinds delivers to each kind of connector (connector.NewRegistry).
	Kinds *connector.Kinds
	// Client sends webhook requests; nil builds one whose dialer refuses
	// special-purpose addresses unless AllowPrivate (connector.NewHTTPClient).
	// Redirects are never followed.
	Client *http.Client
	// AllowPrivate lets connectors reach loopback, private, link-local and
	// other special-purpose addresses (tests, on-premises receivers).
	AllowPrivate bool
	Log          *slog.Logger
	// Now is the clock (tests set it); nil means time.Now.
	Now func() time.Time
	// Lease is how long a claim holds a delivery; default 30 s.
	Lease time.Duration
	// Batch is the most deliveries one claim takes; default 32.
	Batch int
	// Concurrency is the most sends in flight; default 16.
	Concurrency int
	// MaxAttempts is the attempts before a delivery is FAILED; default 12.
	MaxAttempts int
	// AttemptTimeout bounds one attempt; default 10 s, and never more than
	// half the lease, so that an attempt ends inside its claim.
	AttemptTimeout time.Duration
	// Jitter returns the jitter of a retry's wait, in [0, 1] (see
	// JitteredBackoff; 0 waits Backoff exactly). It is called from
	// concurrent sends, so it must be safe for concurrent use. nil means
	// math/rand/v2's Float64.
	Jitter func() float64

	once sync.Once
	wake chan struct{}
	deps connector.Deps
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.wake = make(chan struct{}, 1)
		if w.Log == nil {
			w.Log = slog.Default()
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Lease <= 0 {
			w.Lease = DefaultLease
		}
		if w.Batch <= 0 {
			w.Batch = DefaultBatch
		}
		if w.Concurrency <= 0 {
			w.Concurrency = DefaultConcurrency
		}
		if w.MaxAttempts <= 0 {
			w.MaxAttempts = DefaultMaxAttempts
		}
		if w.AttemptTimeout <= 0 {
			w.AttemptTimeout = DefaultAttemptTimeout
		}
		if w.Jitter == nil {
			w.Jitter = rand.Float64
		}
		w.AttemptTimeout = min(w.AttemptTimeout, w.Lease/2)
		client := connector.NewHTTPClient(w.AllowPrivate)
		if w.Client != nil {
			c := *w.Client
			client = &c
		}
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		w.deps = connector.Deps{HTTP: client, AllowPrivate: w.AllowPrivate, Sign: Sign, Now: w.Now}
	})
}

// Wake makes a running worker claim now instead of at its next poll; it
// never blocks (a pending wake-up is enough).
func (w *Worker) Wake() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: it claims a batch at every poll and every
// wake-up, and again at once while batches come back full. When ctx ends it
// stops claiming; sends in flight finish (each bounded by AttemptTimeout)
// before Run returns.
func (w *Worker) Run(ctx context.Context, poll time.Duration) {
	w.init()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.Log.Warn("delivery batch", "err", err)
			}
			if err != nil || n < w.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims one batch of due deliveries, sends them concurrently and
// records the outcomes; it returns the number claimed. Sends and their
// completions outlive ctx (bounded by AttemptTimeout), so a shutdown does
// not waste attempts already on the wire.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	claimed, err := w.Deliveries.Claim(ctx, w.Now(), w.Lease, w.Batch)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	work := context.WithoutCancel(ctx)
	ids := make([]string, 0, len(claimed))
	seen := map[string]bool{}
	for _, d := range claimed {
		if !seen[d.ConnectorID] {
			seen[d.ConnectorID] = true
			ids = append(ids, d.ConnectorID)
		}
	}
	conns, err := w.Connectors.ByID(work, ids)
	if err != nil {
		// The leases expire and the deliveries are claimed again.
		return len(claimed), fmt.Errorf("read connectors: %w", err)
	}
	targets := make(map[string]*target, len(ids))
	for _, id := range ids {
		c, ok := conns[id]
		if !ok {
			targets[id] = &target{err: "connector no longer exists"}
			continue
		}
		kind, cfg, err := w.Kinds.Open(w.Sealer, &c)
		if err != nil {
			w.Log.Error("open output connector", "connector", id, "err", err)
			targets[id] = &target{err: "connector configuration unreadable"}
			continue
		}
		targets[id] = &target{kind: kind, cfg: cfg}
	}
	var g errgroup.Group
	g.SetLimit(w.Concurrency)
	for i := range claimed {
		d := &claimed[i]
		g.Go(func() error { return w.deliver(work, d, targets[d.ConnectorID]) })
	}
	return len(claimed), g.Wait()
}

// target is where a claimed delivery goes, or why it cannot go anywhere.
type target struct {
	kind connector.Kind
	cfg  connector.Config
	err  string
}

// deliver makes one attempt of d and records it.
func (w *Worker) deliver(ctx context.Context, d *store.Delivery, t *target) error {
	start := w.Now()
	if d.LeaseUntil == nil || start.Add(w.AttemptTimeout).After(*d.LeaseUntil) {
		// Too little of the claim is left for a whole attempt (a slow batch):
		// leave it to expire and be claimed again, rather than race the next claim.
		return nil
	}
	a := store.DeliveryAttempt{At: start.UTC().Truncate(time.Millisecond)}
	began := time.Now()
	if t.kind == nil {
		a.Error = &t.err
	} else {
		a.StatusCode, a.Error = w.send(ctx, d, t)
	}
	a.DurationMs = time.Since(began).Milliseconds()

	end := w.Now().UTC().Truncate(time.Millisecond)
	o := store.DeliveryOutcome{Attempt: a}
	switch n := d.Attempts + 1; {
	case a.Error == nil:
		o.Status, o.DeliveredAt = store.DeliveryDelivered, &end
	case n >= w.MaxAttempts:
		o.Status = store.DeliveryFailed
	default:
		next := end.Add(JitteredBackoff(n, w.Jitter()))
		o.Status, o.NextAttemptAt = store.DeliveryPending, &next
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	applied, err := w.Deliveries.Complete(cctx, d.ID, *d.LeaseUntil, o)
	if err != nil {
		return err
	}
	if !applied {
		w.Log.Info("delivery outcome dropped: its lease expired and it was claimed again", "delivery", d.ID)
	} else if o.Status == store.DeliveryFailed {
		w.Log.Warn("delivery failed for good", "delivery", d.ID, "connector", d.ConnectorID, "attempts", d.Attempts+1)
	}
	return nil
}

// send makes one attempt through the connector's kind, bounded by
// AttemptTimeout; it returns the status (HTTP kinds) and an error text
// (short, without secrets or the destination) when the attempt failed.
func (w *Worker) send(ctx context.Context, d *store.Delivery, t *target) (*int, *string) {
	ctx, cancel := context.WithTimeout(ctx, w.AttemptTimeout)
	defer cancel()
	code, err := t.kind.Deliver(ctx, t.cfg, connector.Message{ID: d.ID, ConnectorID: d.ConnectorID, Payload: []byte(d.Payload)}, w.deps)
	if err != nil {
		return code, errText(err.Error())
	}
	return code, nil
}

func errText(s string) *string {
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	return &s
}
