package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Session is one login of a user: its refresh token (as a digest) and whether
// it was revoked. Access tokens name their session, so logging out ends them.
type Session struct {
	ID            string `gorm:"primaryKey"`
	UserID        string
	DeviceName    *string
	RefreshDigest []byte
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     *time.Time
}

// ErrSessionEnded is returned for a revoked or expired session.
var ErrSessionEnded = errors.New("session ended")

// Sessions is the repository of login sessions.
type Sessions struct {
	db      *gorm.DB
	changes *Changes
}

// Create starts a session.
func (r *Sessions) Create(ctx context.Context, s *Session) error {
	id, err := randomHex(12)
	if err != nil {
		return fmt.Errorf("new session id: %w", err)
	}
	s.ID, s.CreatedAt = id, now()
	return insert(ctx, r.db, s)
}

// Active returns the session id if it is neither revoked nor expired at t.
func (r *Sessions) Active(ctx context.Context, id string, t time.Time) (*Session, error) {
	s, err := first[Session](ctx, r.db, "id = ?", id)
	if err != nil {
		return nil, err
	}
	if s.RevokedAt != nil || !t.Before(s.ExpiresAt) {
		return nil, ErrSessionEnded
	}
	return s, nil
}

// Refresh swaps the refresh token of the live session holding oldDigest for
// newDigest, extending it to expires. A token is accepted once: a second use
// finds nothing (ErrNotFound).
func (r *Sessions) Refresh(ctx context.Context, oldDigest, newDigest []byte, t, expires time.Time) (*Session, error) {
	var s *Session
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		s, err = first[Session](ctx, tx, "refresh_digest = ? AND revoked_at IS NULL AND expires_at > ?", oldDigest, t)
		if err != nil {
			return err
		}
		res := tx.Model(&Session{}).Where("id = ? AND refresh_digest = ?", s.ID, oldDigest).
			Updates(map[string]any{"refresh_digest": newDigest, "expires_at": expires})
		if res.Error != nil {
			return fmt.Errorf("refresh session: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		s.RefreshDigest, s.ExpiresAt = newDigest, expires
		return nil
	})
	return s, err
}

// Revoke ends the session id.
func (r *Sessions) Revoke(ctx context.Context, id string) error {
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		err := tx.Model(&Session{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now()).Error
		return []Change{{Kind: ChangeSession, ID: id}}, err
	})
}
