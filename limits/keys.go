package limits

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyplane/keyplane/store"
)

// RateSource reads a key's allowance: its own, else its organization's
// default (store.APIKeys).
type RateSource interface {
	RateLimit(ctx context.Context, id string) (limit, periodSeconds int64, ok bool, err error)
}

// Defaults of Keys.
const (
	// DefaultRateTTL bounds how long a key's allowance is served from memory
	// (changes evict it at once; this is the safety net).
	DefaultRateTTL = 10 * time.Second
	// DefaultRateEntries bounds the allowances remembered.
	DefaultRateEntries = 100_000
)

// Keys applies each key's request allowance. Allowances are read once and
// kept in memory (evicted by store.Changes: a key's change, an
// organization's, or news missed), and requests are counted by the Counter,
// so a request costs no SQL on a hit. Keys implements server.KeyRateLimiter.
type Keys struct {
	counter *Counter
	rates   RateSource
	changes *store.Changes
	// fallback applies to keys with no allowance of their own or of their
	// organization (nil: none).
	fallback *Rate
	now      func() time.Time

	mu    sync.Mutex
	gen   uint64
	cache map[string]cachedRate
}

type cachedRate struct {
	rate Rate
	ok   bool
	exp  time.Time
}

// NewKeys limits keys with counter, reading allowances from rates and
// following changes (nil: the TTL alone). fallback, when not nil, is the
// allowance of keys without one.
func NewKeys(counter *Counter, rates RateSource, changes *store.Changes, fallback *Rate) *Keys {
	return &Keys{counter: counter, rates: rates, changes: changes, fallback: fallback, now: time.Now, cache: map[string]cachedRate{}}
}

// SetClock replaces the clock (tests).
func (k *Keys) SetClock(now func() time.Time) { k.now = now }

// Run follows the store's changes until ctx ends; it returns once it
// listens, so no change committed afterwards is missed.
func (k *Keys) Run(ctx context.Context) error {
	if k.changes == nil {
		return nil
	}
	unsubscribe, err := k.changes.Subscribe(ctx, k.evict)
	if err != nil {
		return fmt.Errorf("follow changes for rate limits: %w", err)
	}
	context.AfterFunc(ctx, unsubscribe)
	return nil
}

func (k *Keys) evict(ch store.Change) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	switch ch.Kind {
	case store.ChangeKey:
		delete(k.cache, ch.ID)
	case store.ChangeUser, store.ChangeSession, store.ChangeRole:
	default: // an organization's default, or news missed
		clear(k.cache)
	}
}

// Take decides one request of key id: limited is false when the key has no
// allowance (then d means nothing). A key that no longer exists has none.
func (k *Keys) Take(ctx context.Context, id string) (d Decision, limited bool, err error) {
	rate, ok, err := k.rate(ctx, id)
	if err != nil || !ok {
		return Decision{}, false, err
	}
	return k.counter.Take(k.now(), "key:"+id, rate), true, nil
}

// RateOf is key id's allowance (ok false: none), without spending any.
func (k *Keys) RateOf(ctx context.Context, id string) (Rate, bool, error) {
	return k.rate(ctx, id)
}

// Allow reports whether key id may make one more request, and counts it
// when it may (server.KeyRateLimiter: POST /v3/keys/verify).
func (k *Keys) Allow(ctx context.Context, id string) (bool, error) {
	d, limited, err := k.Take(ctx, id)
	return !limited || d.Allowed, err
}

// rate is key id's allowance, from memory when it can be.
func (k *Keys) rate(ctx context.Context, id string) (Rate, bool, error) {
	now := k.now()
	live := k.changes == nil || k.changes.Live()
	k.mu.Lock()
	c, hit := k.cache[id]
	gen := k.gen
	k.mu.Unlock()
	if hit && live && now.Before(c.exp) {
		return c.rate, c.ok, nil
	}
	limit, period, ok, err := k.rates.RateLimit(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		ok, err = false, nil
	}
	if err != nil {
		return Rate{}, false, err
	}
	c = cachedRate{ok: ok, exp: now.Add(DefaultRateTTL)}
	if ok {
		c.rate = Rate{Limit: limit, Period: time.Duration(period) * time.Second}
	} else if k.fallback != nil {
		c.rate, c.ok = *k.fallback, true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if live && k.gen == gen {
		if len(k.cache) >= DefaultRateEntries {
			clear(k.cache)
		}
		k.cache[id] = c
	}
	return c.rate, c.ok, nil
}

// Exceeded is the error of a request over its key's allowance: a 429 with
// Retry-After (the X-RateLimit-* headers are on the response already).
type Exceeded struct{ Decision Decision }

func (e *Exceeded) Error() string {
	return fmt.Sprintf("rate limit exceeded (%d per window); retry in %s", e.Decision.Limit, e.Decision.RetryAfter)
}
