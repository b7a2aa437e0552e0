package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
//
// Remembering is on every signed request, so it is one statement: an
// INSERT … ON CONFLICT DO NOTHING in autocommit. On PostgreSQL it runs on a
// small pool of its own whose sessions do not wait for the WAL flush
// (synchronous_commit off, set per connection): a record lost to a crash only
// reopens a window of milliseconds, and the commit costs no disk wait.
type Replays struct {
	db     *gorm.DB
	direct *sql.DB // the pool that remembers; the store's own on SQLite
	insert string  // the statement, in the dialect's placeholders
}

// Remember records signature until expires and reports whether it was new.
// A false answer means the request is a replay.
func (r *Replays) Remember(ctx context.Context, signature string, expires time.Time) (bool, error) {
	res, err := r.direct.ExecContext(ctx, r.insert, signature, expires.UTC())
	if err != nil {
		return false, fmt.Errorf("remember signature: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("remember signature: %w", err)
	}
	return n == 1, nil
}

// Prune forgets the signatures that expired before t.
func (r *Replays) Prune(ctx context.Context, t time.Time) (int64, error) {
	res := r.db.WithContext(ctx).Where("expires_at < ?", t).Delete(&signatureReplay{})
	return res.RowsAffected, res.Error
}

// openReplays prepares the replay guard: on PostgreSQL a pool of its own
// with synchronous_commit off (pgx sends unknown URL parameters as session
// settings), on SQLite the store's single connection.
func openReplays(ctx context.Context, db *gorm.DB, dialect Dialect, dsn string) (*Replays, error) {
	const insert = "INSERT INTO signature_replays (signature, expires_at) VALUES (%s, %s) ON CONFLICT (signature) DO NOTHING"
	if dialect != Postgres {
		direct, err := db.DB()
		if err != nil {
			return nil, err
		}
		return &Replays{db: db, direct: direct, insert: fmt.Sprintf(insert, "?", "?")}, nil
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	direct, err := sql.Open("pgx", dsn+sep+"synchronous_commit=off")
	if err != nil {
		return nil, fmt.Errorf("open the replay guard's pool: %w", err)
	}
	direct.SetMaxOpenConns(8)
	direct.SetMaxIdleConns(8)
	if err := direct.PingContext(ctx); err != nil {
		direct.Close()
		return nil, fmt.Errorf("connect the replay guard's pool: %w", err)
	}
	return &Replays{db: db, direct: direct, insert: fmt.Sprintf(insert, "$1", "$2")}, nil
}
