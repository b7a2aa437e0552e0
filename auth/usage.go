package auth

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/keyplane/keyplane/store"
)

// UsageStore stores what keys were used for (store.APIKeys implements it).
type UsageStore interface {
	RecordUsage(ctx context.Context, b store.UsageBatch) error
}

// Usage batches key usage: when each key was last used (lastUsedAt) and how
// many requests it made per UTC day. Authentication records in memory, and
// Run writes the batch every interval, so a busy key costs one update and
// one upsert per day per interval instead of a write per request.
type Usage struct {
	mu       sync.Mutex
	pending  map[string]time.Time
	requests map[store.KeyDay]int64
	store    UsageStore
}

// NewUsage returns a Usage writing to store.
func NewUsage(store UsageStore) *Usage {
	u := &Usage{store: store}
	u.reset()
	return u
}

func (u *Usage) reset() {
	u.pending, u.requests = map[string]time.Time{}, map[store.KeyDay]int64{}
}

// Record notes that key id authenticated a request at t.
func (u *Usage) Record(id string, t time.Time) {
	if u == nil {
		return
	}
	day := store.KeyDay{KeyID: id, Day: t.UTC().Format(store.DayFormat)}
	u.mu.Lock()
	if t.After(u.pending[id]) {
		u.pending[id] = t
	}
	u.requests[day]++
	u.mu.Unlock()
}

// Flush writes the pending batch. On failure the batch is kept for the next
// try (merged with what was recorded meanwhile).
func (u *Usage) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := store.UsageBatch{LastUsed: u.pending, Requests: u.requests}
	u.reset()
	u.mu.Unlock()
	if len(batch.LastUsed) == 0 {
		return nil
	}
	if err := u.store.RecordUsage(ctx, batch); err != nil {
		u.mu.Lock()
		for id, t := range batch.LastUsed {
			if t.After(u.pending[id]) {
				u.pending[id] = t
			}
		}
		for kd, n := range batch.Requests {
			u.requests[kd] += n
		}
		u.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then flushes once more.
func (u *Usage) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := u.Flush(ctx); err != nil {
				log.WarnContext(ctx, "record key usage", "err", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := u.Flush(final); err != nil {
				log.Warn("record key usage at shutdown", "err", err)
			}
			cancel()
			return
		}
	}
}

// Pending returns a copy of the unflushed lastUsedAt batch (for tests and
// metrics).
func (u *Usage) Pending() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.pending)
}

// PendingRequests returns a copy of the unflushed request counts.
func (u *Usage) PendingRequests() map[store.KeyDay]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.requests)
}
