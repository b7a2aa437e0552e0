package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"
)

// changesChannel is the PostgreSQL notification channel on which every
// replica learns that what someone may do has changed, so that long-lived
// sessions (and caches of principals) on any replica follow a change made
// through any other.
const changesChannel = "keyplane_changes"

// ChangeKind says what changed.
type ChangeKind string

// The kinds of change. ID names the key, user or session; a role or an
// organization change may concern anyone.
const (
	// ChangeKey: an API key was updated, rotated or deleted.
	ChangeKey ChangeKind = "key"
	// ChangeUser: a user, its roles or memberships changed, or it was deleted.
	ChangeUser ChangeKind = "user"
	// ChangeSession: a login session ended.
	ChangeSession ChangeKind = "session"
	// ChangeRole: a role's rights changed or it was deleted.
	ChangeRole ChangeKind = "role"
	// ChangeOrganization: an organization or a workspace was deleted, with
	// the keys and memberships in it.
	ChangeOrganization ChangeKind = "organization"
	// ChangeUnknown: notices may have been missed (the listener reconnected);
	// assume anything changed.
	ChangeUnknown ChangeKind = "unknown"
)

// Change is one committed change to the inputs of principals.
type Change struct {
	Kind ChangeKind `json:"kind"`
	ID   string     `json:"id,omitempty"`
}

// Changes announces committed changes to every replica: on PostgreSQL through
// NOTIFY, sent inside the changing transaction so that it is delivered exactly
// when the change commits; to this process (and on SQLite, the only one)
// directly after commit.
type Changes struct {
	db      *gorm.DB
	dialect Dialect
	dsn     string
	log     *slog.Logger

	mu     sync.Mutex
	subs   map[*func(Change)]struct{}
	stop   context.CancelFunc // ends the LISTEN loop; nil when nobody listens
	ready  chan struct{}      // closed once the loop first LISTENs
	failed error              // why the loop could not LISTEN yet, if it could not
	live   bool               // the loop is LISTENing now
}

func newChanges(db *gorm.DB, dialect Dialect, dsn string, log *slog.Logger) *Changes {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Changes{db: db, dialect: dialect, dsn: dsn, log: log, subs: map[*func(Change)]struct{}{}}
}

// within runs fn in a transaction and announces the changes it reports once
// the transaction commits (and only then).
func (c *Changes) within(ctx context.Context, fn func(tx *gorm.DB) ([]Change, error)) error {
	var changes []Change
	err := c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cs, err := fn(tx)
		if err != nil {
			return err
		}
		changes = cs
		if c.dialect != Postgres {
			return nil
		}
		for _, ch := range cs {
			payload, err := json.Marshal(ch)
			if err != nil {
				return err
			}
			if err := tx.Exec("SELECT pg_notify(?, ?)", changesChannel, string(payload)).Error; err != nil {
				return fmt.Errorf("notify change: %w", err)
			}
		}
		return nil
	})
	if err == nil {
		// This process hears its own changes at once, before the request
		// that made them answers (on PostgreSQL, again when the NOTIFY
		// arrives: evicting twice is harmless).
		c.dispatch(changes...)
	}
	return err
}

// Subscribe calls fn (which must not block) for every change committed from
// now on by any replica, until the returned function is called. On
// PostgreSQL it returns once this process is listening, so that no change
// committed after Subscribe returns can be missed; if the listener later
// loses its connection, fn receives ChangeUnknown after it reconnects.
func (c *Changes) Subscribe(ctx context.Context, fn func(Change)) (unsubscribe func(), err error) {
	c.mu.Lock()
	key := &fn
	c.subs[key] = struct{}{}
	if c.dialect == Postgres && c.stop == nil {
		lctx, cancel := context.WithCancel(context.Background())
		c.stop, c.ready, c.failed = cancel, make(chan struct{}), nil
		go c.listen(lctx, c.ready)
	}
	ready := c.ready
	c.mu.Unlock()
	unsubscribe = func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, key)
		if len(c.subs) == 0 && c.stop != nil {
			c.stop()
			c.stop, c.ready, c.live = nil, nil, false
		}
	}
	if ready == nil {
		return unsubscribe, nil
	}
	select {
	case <-ready:
		return unsubscribe, nil
	case <-ctx.Done():
		unsubscribe()
		c.mu.Lock()
		failed := c.failed
		c.mu.Unlock()
		if failed != nil {
			return nil, fmt.Errorf("listen for changes: %w", failed)
		}
		return nil, ctx.Err()
	}
}

// Live reports whether every change committed from now on will be heard:
// always on SQLite, and on PostgreSQL while the listener is connected. A
// cache must not answer from memory while it is not.
func (c *Changes) Live() bool {
	if c.dialect != Postgres {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

func (c *Changes) dispatch(changes ...Change) {
	c.mu.Lock()
	fns := make([]func(Change), 0, len(c.subs))
	for fn := range c.subs {
		fns = append(fns, *fn)
	}
	c.mu.Unlock()
	for _, ch := range changes {
		for _, fn := range fns {
			fn(ch)
		}
	}
}

// listen holds a LISTEN connection until ctx ends, reconnecting after
// failures; after a reconnection every subscriber hears ChangeUnknown.
func (c *Changes) listen(ctx context.Context, ready chan struct{}) {
	first := true
	for ctx.Err() == nil {
		err := listen(ctx, c.dsn, changesChannel, func() {
			c.mu.Lock()
			c.live = true
			c.mu.Unlock()
			if first {
				close(ready)
				first = false
				return
			}
			c.dispatch(Change{Kind: ChangeUnknown})
		}, func(ch Change) { c.dispatch(ch) })
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.failed, c.live = err, false
		c.mu.Unlock()
		c.dispatch(Change{Kind: ChangeUnknown})
		c.log.Warn("change notifications interrupted; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
