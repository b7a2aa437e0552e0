package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// signatureReplay remembers a request signature until it could no longer
// verify anyway (its timestamp left the window).
type signatureReplay struct {
	Signature string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

// Replays remembers the HMAC signatures already accepted. It lives in the
// database so that every replica rejects a signature any of them has seen.
type Replays struct {
	db      *gorm.DB
	dialect Dialect
}

// Remember records signature until expires and reports whether it was new.
// A false answer means the request is a replay.
func (r *Replays) Remember(ctx context.Context, signature string, expires time.Time) (bool, error) {
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if r.dialect == Postgres {
			// A replay record lost to a crash only reopens a window of
			// milliseconds; not waiting for the WAL flush halves the cost
			// of every signed request.
			if err := tx.Exec("SET LOCAL synchronous_commit TO OFF").Error; err != nil {
				return err
			}
		}
		return insert(ctx, tx, &signatureReplay{Signature: signature, ExpiresAt: expires})
	})
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remember signature: %w", err)
	}
	return true, nil
}

// Prune forgets the signatures that expired before t.
func (r *Replays) Prune(ctx context.Context, t time.Time) (int64, error) {
	res := r.db.WithContext(ctx).Where("expires_at < ?", t).Delete(&signatureReplay{})
	return res.RowsAffected, res.Error
}
