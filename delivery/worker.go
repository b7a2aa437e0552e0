// Package delivery sends stored samples to output connectors: Plan turns a
// backfill into outbox rows (store.Delivery, written in the samples'
// transaction), and Worker claims due rows with a lease, POSTs them to their
// webhooks (signed, see Sign), records every attempt and retries failures
// with jittered exponential backoff (JitteredBackoff). Delivery is at least
// once: a worker killed mid-send leaves a lease that expires, and another
// claim sends again.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

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
	// Client sends the requests; nil builds one whose dialer refuses
	// special-purpose addresses (refusePrivate) unless AllowPrivate.
	// Redirects are never followed.
	Client *http.Client
	// AllowPrivate lets webhooks reach loopback, private, link-local and
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

	once   sync.Once
	wake   chan struct{}
	client *http.Client
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
		if w.Client != nil {
			c := *w.Client
			w.client = &c
		} else {
			w.client = w.newClient()
		}
		w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	})
}

func (w *Worker) newClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !w.AllowPrivate {
		dialer.Control = refusePrivate
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil, // a proxy would dial on our behalf, past the address check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: DefaultAttemptTimeout,
	}}
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
	hooks := make(map[string]*target, len(ids))
	for _, id := range ids {
		c, ok := conns[id]
		if !ok {
			hooks[id] = &target{err: "connector no longer exists"}
			continue
		}
		h, err := connector.Open(w.Sealer, &c)
		if err != nil {
			w.Log.Error("open output connector", "connector", id, "err", err)
			hooks[id] = &target{err: "connector configuration unreadable"}
			continue
		}
		hooks[id] = &target{hook: &h}
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		slots    = make(chan struct{}, w.Concurrency)
	)
	for i := range claimed {
		slots <- struct{}{}
		wg.Add(1)
		go func(d *store.Delivery) {
			defer func() { <-slots; wg.Done() }()
			if err := w.deliver(work, d, hooks[d.ConnectorID]); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(&claimed[i])
	}
	wg.Wait()
	return len(claimed), firstErr
}

// target is a claimed delivery's webhook, or why it has none.
type target struct {
	hook *connector.Webhook
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
	if t.hook == nil {
		a.Error = &t.err
	} else {
		a.StatusCode, a.Error = w.send(ctx, d, t.hook)
	}
	a.DurationMs = time.Since(began).Milliseconds()

	end := w.Now().UTC().Truncate(time.Millisecond)
	o := store.DeliveryOutcome{Attempt: a}
	switch n := d.Attempts + 1; {
	case a.StatusCode != nil && *a.StatusCode/100 == 2:
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

// send POSTs (or PUTs) the payload; it returns the response status, and an
// error text (short, without secrets or the URL) when the attempt failed.
func (w *Worker) send(ctx context.Context, d *store.Delivery, h *connector.Webhook) (*int, *string) {
	ctx, cancel := context.WithTimeout(ctx, w.AttemptTimeout)
	defer cancel()
	body := []byte(d.Payload)
	method := h.Method
	if method == "" {
		method = http.MethodPost
	}
	u, err := url.Parse(h.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errText("the uri is not an http or https URL")
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, errText("cannot build the request")
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	switch h.AuthType {
	case connector.AuthBearer:
		req.Header.Set("Authorization", "Bearer "+h.BearerToken)
	case connector.AuthBasic:
		req.SetBasicAuth(h.BasicUser, h.BasicPassword)
	case connector.AuthHeader:
		for k, v := range h.AuthHeaders {
			req.Header.Set(k, v)
		}
	}
	ct := h.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "keyplane-webhook/1")
	req.Header.Set(DeliveryHeader, d.ID)
	if h.SigningSecret != "" {
		req.Header.Set(SignatureHeader, Sign(h.SigningSecret, w.Now(), body))
	}
	res, err := w.client.Do(req)
	if err != nil {
		return nil, errText(describe(err, w.AttemptTimeout))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	code := res.StatusCode
	if code/100 == 2 {
		return &code, nil
	}
	return &code, errText(res.Status)
}

// describe turns a transport error into a short text: no URL (it may hold
// credentials), no response body.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrPrivateAddress):
		return "refused: the destination is a loopback, private or other special-purpose address"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("no response within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func errText(s string) *string {
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	return &s
}
