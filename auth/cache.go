package auth

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/keyplane/keyplane/store"
)

// Defaults of a Cache.
const (
	// DefaultCacheSize bounds the principals a Cache holds.
	DefaultCacheSize = 50_000
	// DefaultCacheTTL is how long an entry may be served without news of a
	// change: a safety net under the change notifications, which evict at
	// once.
	DefaultCacheTTL = time.Minute
	// DefaultNegativeTTL is how long an unknown key secret is remembered as
	// unknown (guessers cost no SQL meanwhile).
	DefaultNegativeTTL = 10 * time.Second
)

// Cache remembers verified principals, so that a request whose credential
// was seen recently costs no SQL: keys by secret digest, keys by clientId
// (the HMAC verifier still checks every signature), and login sessions. It
// follows every change to what principals may do through store.Changes, on
// every replica (PostgreSQL LISTEN/NOTIFY), and answers nothing while it
// cannot hear them. Entries also end at their credential's own expiry, at
// a TTL, and when the cache is full.
type Cache struct {
	changes  *store.Changes
	size     int
	ttl, neg time.Duration

	mu sync.Mutex
	// gen counts evictions: an entry read from the database before an
	// eviction is not stored after it (it may predate the change).
	gen     uint64
	entries map[string]cacheEntry
}

type cacheEntry struct {
	p   *Principal    // keys by digest, sessions
	key *store.APIKey // keys by clientId
	exp time.Time     // when it must no longer be served
	ref store.Change  // unused for negative entries
	usr string        // the user the entry depends on, if any
	bad bool          // a negative entry: the digest matches no key
}

// NewCache returns a cache following changes. Start it with Run.
func NewCache(changes *store.Changes) *Cache {
	return &Cache{changes: changes, size: DefaultCacheSize, ttl: DefaultCacheTTL, neg: DefaultNegativeTTL,
		entries: map[string]cacheEntry{}}
}

// Run follows the changes until ctx ends; it returns once it listens (or
// with the error that keeps it from listening), so that no change committed
// after Run returns is missed. The cache serves nothing until then.
func (c *Cache) Run(ctx context.Context) error {
	unsubscribe, err := c.changes.Subscribe(ctx, c.evict)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, unsubscribe)
	return nil
}

// evict drops what a change may have made stale.
func (c *Cache) evict(ch store.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch ch.Kind {
	case store.ChangeKey:
		for k, e := range c.entries {
			if e.ref.Kind == store.ChangeKey && e.ref.ID == ch.ID {
				delete(c.entries, k)
			}
		}
	case store.ChangeUser:
		for k, e := range c.entries {
			if e.usr == ch.ID {
				delete(c.entries, k)
			}
		}
	case store.ChangeSession:
		delete(c.entries, sessionKey(ch.ID))
	default: // roles, organizations, or news missed: anything may have changed
		clear(c.entries)
	}
}

// generation is the eviction count to pass to a later put.
func (c *Cache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns the live entry under k.
func (c *Cache) get(k string, now time.Time) (cacheEntry, bool) {
	if c == nil || !c.changes.Live() {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.exp) {
		delete(c.entries, k)
		return cacheEntry{}, false
	}
	return e, ok
}

// put stores e under k unless an eviction happened since gen was read.
func (c *Cache) put(k string, e cacheEntry, gen uint64) {
	if c == nil || !c.changes.Live() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= c.size {
		clear(c.entries) // full: start over (a burst of distinct credentials is rare)
	}
	c.entries[k] = e
}

// negativeTTL is how long an unknown digest stays unknown.
func (c *Cache) negativeTTL() time.Duration {
	if c == nil {
		return 0
	}
	return c.neg
}

// lifetime is how long an entry read at now may be served: the TTL, or less
// when the credential ends sooner.
func (c *Cache) lifetime(now, until time.Time) time.Time {
	if c == nil {
		return now
	}
	exp := now.Add(c.ttl)
	if !until.IsZero() && until.Before(exp) {
		exp = until
	}
	return exp
}

func digestKey(digest []byte) string   { return "d:" + hex.EncodeToString(digest) }
func clientKey(clientID string) string { return "c:" + clientID }
func sessionKey(id string) string      { return "s:" + id }

// keyEntry is the entry of a key's principal p.
func (c *Cache) keyEntry(p *Principal, now time.Time) cacheEntry {
	if c == nil {
		return cacheEntry{}
	}
	return cacheEntry{p: p, exp: c.lifetime(now, p.Until()), ref: store.Change{Kind: store.ChangeKey, ID: p.KeyID}, usr: p.UserID}
}
