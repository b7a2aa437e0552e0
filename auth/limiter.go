package auth

import (
	"math"
	"sync"
	"time"
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
//
// Shared (Share), every replica's failures are spent from every replica's
// buckets: each reports its failures and learns the others' through the
// rate-limit reconciliation (package limits), and spends only a share of
// what is left between reconciliations, so a guesser spreading over
// replicas gains next to nothing. Unshared, the limiter is per replica.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	pair    tier
	address tier
	swept   time.Time
	shared  Sharer
}

// Sharer carries failures between replicas (*limits.Counter).
type Sharer interface {
	// Add reports n local failures of bucket.
	Add(now time.Time, bucket string, period time.Duration, n int64)
	// Remote returns the other replicas' failures of bucket learnt since
	// the last call.
	Remote(now time.Time, bucket string, period time.Duration) int64
	// Within tells whether this replica may spend one more of available.
	Within(now time.Time, bucket string, period time.Duration, available float64) bool
}

// shareWindow is the window in which replicas count a bucket's failures for
// each other: others' failures are learnt for at most this long back.
const shareWindow = time.Minute

// tier is the allowance of one kind of bucket: burst at once, refilling
// perSecond.
type tier struct {
	perSecond float64
	burst     float64
}

// bucket is a token bucket; tokens may go below zero (down to -burst) when
// other replicas' failures arrive after this one's.
type bucket struct {
	tier   tier
	tokens float64
	at     time.Time
}

// tokensAt is what the bucket holds at now; a clock that went back refills
// nothing (nor takes anything).
func (b *bucket) tokensAt(now time.Time) float64 {
	return min(b.tier.burst, b.tokens+max(now.Sub(b.at).Seconds(), 0)*b.tier.perSecond)
}

func (b *bucket) spend(now time.Time, n float64) {
	b.tokens, b.at = max(b.tokensAt(now)-n, -b.tier.burst), now
}

// AddressFactor is how many more failures an address may have than one
// credential from it, in burst and in refill rate.
const AddressFactor = 5

// NewLimiter allows burst failures per credential and address, then one more
// every interval; an address altogether gets AddressFactor times both.
func NewLimiter(burst int, interval time.Duration) *Limiter {
	every := 1 / interval.Seconds()
	return &Limiter{
		buckets: map[string]*bucket{},
		pair:    tier{perSecond: every, burst: float64(burst)},
		address: tier{perSecond: every * AddressFactor, burst: float64(burst * AddressFactor)},
	}
}

// Share makes the limiter count the failures of every replica sharing s.
// Call it before the limiter is used.
func (l *Limiter) Share(s Sharer) {
	if l != nil {
		l.shared = s
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
		b := l.learn(now, name, t)
		if b == nil {
			continue
		}
		tokens := b.tokensAt(now)
		switch {
		case tokens < 1:
			wait = max(wait, time.Duration(math.Ceil((1-tokens)/t.perSecond*float64(time.Second))))
		case l.shared != nil && !l.shared.Within(now, name, shareWindow, tokens):
			wait = max(wait, time.Second) // until the next reconciliations tell more
		}
	}
	return wait, wait > 0
}

// learn returns bucket name after spending the other replicas' failures
// from it (nil when there is none); l.mu is held.
func (l *Limiter) learn(now time.Time, name string, t tier) *bucket {
	b := l.buckets[name]
	if l.shared == nil {
		return b
	}
	if remote := l.shared.Remote(now, name, shareWindow); remote > 0 {
		if b == nil {
			b = &bucket{tier: t, tokens: t.burst, at: now}
			l.buckets[name] = b
		}
		b.spend(now, float64(remote))
	}
	return b
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
		b := l.learn(now, name, t)
		if b == nil {
			b = &bucket{tier: t, tokens: t.burst, at: now}
			l.buckets[name] = b
		}
		b.spend(now, 1)
		if l.shared != nil {
			l.shared.Add(now, name, shareWindow, 1)
		}
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
		if b.tokensAt(now) >= b.tier.burst {
			delete(l.buckets, k)
		}
	}
}
