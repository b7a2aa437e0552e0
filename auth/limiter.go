package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter slows down guessing: it counts failed authentications per client
// address and per key, and once a bucket is empty, requests from that address
// or for that key get 429 until it refills. Successful requests cost nothing.
// It is per replica; a guesser spreading over replicas gains at most their number.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	every   rate.Limit
	burst   int
	swept   time.Time
}

// NewLimiter allows burst failures, then one more every interval.
func NewLimiter(burst int, interval time.Duration) *Limiter {
	return &Limiter{buckets: map[string]*rate.Limiter{}, every: rate.Every(interval), burst: burst}
}

// Blocked reports whether any of the keys has no failures left, and how long
// until it has one again.
func (l *Limiter) Blocked(now time.Time, keys ...string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		b, ok := l.buckets[k]
		if !ok {
			continue
		}
		if tokens := b.TokensAt(now); tokens < 1 {
			w := time.Duration(math.Ceil((1 - tokens) / float64(l.every) * float64(time.Second)))
			wait = max(wait, w)
		}
	}
	return wait, wait > 0
}

// Fail records one failure against each key.
func (l *Limiter) Fail(now time.Time, keys ...string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	for _, k := range keys {
		if k == "" {
			continue
		}
		b, ok := l.buckets[k]
		if !ok {
			b = rate.NewLimiter(l.every, l.burst)
			l.buckets[k] = b
		}
		b.AllowN(now, 1)
	}
}

// sweep forgets buckets that have refilled, at most once a minute, so that
// memory stays bounded by the addresses that failed recently.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}
