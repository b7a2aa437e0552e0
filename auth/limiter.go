package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter slows down guessing. It counts failed authentications in two kinds
// of bucket: per client address, and per credential (a key, a user name) tried
// from one address. Once a bucket is empty, requests it covers get 429 until
// it refills; successful requests cost nothing.
//
// A credential's identity is public (a key's clientId, a user's name), so no
// bucket spans addresses: a stranger failing with someone's key from
// elsewhere never locks its holder out. An address gets a larger allowance
// than one credential (it may be a NAT or a proxy shared by many clients).
// The limiter is per replica; a guesser spreading over replicas gains at most
// their number.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	pair    tier
	address tier
	swept   time.Time
}

// tier is the allowance of one kind of bucket.
type tier struct {
	every rate.Limit
	burst int
}

// AddressFactor is how many more failures an address may have than one
// credential from it, in burst and in refill rate.
const AddressFactor = 5

// NewLimiter allows burst failures per credential and address, then one more
// every interval; an address altogether gets AddressFactor times both.
func NewLimiter(burst int, interval time.Duration) *Limiter {
	return &Limiter{
		buckets: map[string]*rate.Limiter{},
		pair:    tier{every: rate.Every(interval), burst: burst},
		address: tier{every: rate.Every(interval / AddressFactor), burst: burst * AddressFactor},
	}
}

// Blocked reports whether the address, or the credential from that address
// (when credential is not empty), has no failures left, and how long until
// it has one again.
func (l *Limiter) Blocked(now time.Time, address, credential string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for name, t := range l.names(address, credential) {
		b, ok := l.buckets[name]
		if !ok {
			continue
		}
		if tokens := b.TokensAt(now); tokens < 1 {
			w := time.Duration(math.Ceil((1 - tokens) / float64(t.every) * float64(time.Second)))
			wait = max(wait, w)
		}
	}
	return wait, wait > 0
}

// Fail records one failure from the address, and against the credential from
// that address when credential is not empty.
func (l *Limiter) Fail(now time.Time, address, credential string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	for name, t := range l.names(address, credential) {
		b, ok := l.buckets[name]
		if !ok {
			b = rate.NewLimiter(t.every, t.burst)
			l.buckets[name] = b
		}
		b.AllowN(now, 1)
	}
}

// names lists the buckets of a request with their tiers.
func (l *Limiter) names(address, credential string) map[string]tier {
	names := map[string]tier{"ip:" + address: l.address}
	if credential != "" {
		names["ip:"+address+"|"+credential] = l.pair
	}
	return names
}

// sweep forgets buckets that have refilled, at most once a minute, so that
// memory stays bounded by the addresses that failed recently.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
}
