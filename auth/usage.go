package auth

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Toucher stores when keys were last used (store.APIKeys implements it).
type Toucher interface {
	TouchLastUsed(ctx context.Context, used map[string]time.Time) error
}

// Usage batches the lastUsedAt updates of keys: authentication records in
// memory, and Run writes the batch every interval, so a busy key costs one
// write per interval instead of one per request.
type Usage struct {
	mu      sync.Mutex
	pending map[string]time.Time
	store   Toucher
}

// NewUsage returns a Usage writing to store.
func NewUsage(store Toucher) *Usage {
	return &Usage{pending: map[string]time.Time{}, store: store}
}

// Record notes that key id authenticated at t.
func (u *Usage) Record(id string, t time.Time) {
	if u == nil {
		return
	}
	u.mu.Lock()
	if t.After(u.pending[id]) {
		u.pending[id] = t
	}
	u.mu.Unlock()
}

// Flush writes the pending batch. On failure the batch is kept for the next try.
func (u *Usage) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = map[string]time.Time{}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := u.store.TouchLastUsed(ctx, batch); err != nil {
		u.mu.Lock()
		for id, t := range batch {
			if t.After(u.pending[id]) {
				u.pending[id] = t
			}
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

// Pending returns a copy of the unflushed batch (for tests and metrics).
func (u *Usage) Pending() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.pending)
}
