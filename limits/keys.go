package limits

import (
	"fmt"
	"time"
)

// Keys applies each key's request allowance, counted by the Counter. The
// allowance itself comes with the authenticated key (auth.KeyFacts, read
// with the key and cached with its principal, evicted by the same changes),
// so deciding a request costs no SQL and no second cache. Keys implements
// server.RateLimiter and server.KeyRateLimiter.
type Keys struct {
	counter *Counter
	// fallback applies to keys with no allowance of their own or of their
	// organization (nil: none).
	fallback *Rate
	now      func() time.Time
}

// NewKeys limits keys with counter; fallback, when not nil, is the
// allowance of keys without one (KEYPLANE_KEY_RATE_LIMIT).
func NewKeys(counter *Counter, fallback *Rate) *Keys {
	return &Keys{counter: counter, fallback: fallback, now: time.Now}
}

// SetClock replaces the clock (tests).
func (k *Keys) SetClock(now func() time.Time) { k.now = now }

// RateOf is the allowance of a key whose own (or its organization's) is
// own, nil for none: own, else the fallback; limited is false when there is
// neither.
func (k *Keys) RateOf(own *Rate) (r Rate, limited bool) {
	switch {
	case own != nil:
		return *own, true
	case k.fallback != nil:
		return *k.fallback, true
	}
	return Rate{}, false
}

// Take decides one request of key id with allowance own (see RateOf):
// limited is false when the key has no allowance (then d means nothing).
func (k *Keys) Take(id string, own *Rate) (d Decision, limited bool) {
	rate, limited := k.RateOf(own)
	if !limited {
		return Decision{}, false
	}
	return k.counter.Take(k.now(), "key:"+id, rate), true
}

// Allow reports whether key id may make one more request, and counts it
// when it may (POST /v3/keys/verify).
func (k *Keys) Allow(id string, own *Rate) bool {
	d, limited := k.Take(id, own)
	return !limited || d.Allowed
}

// Exceeded is the error of a request over its key's allowance: a 429 with
// Retry-After (the X-RateLimit-* headers are on the response already).
type Exceeded struct{ Decision Decision }

func (e *Exceeded) Error() string {
	return fmt.Sprintf("rate limit exceeded (%d per window); retry in %s", e.Decision.Limit, e.Decision.RetryAfter)
}
