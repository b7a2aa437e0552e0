package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// RateWindow is one replica's news about a bucket's window: Add uses since
// its last report. Start and Expires are Unix seconds; the row may be
// forgotten after Expires.
type RateWindow struct {
	Bucket  string
	Start   int64
	Add     int64
	Expires int64
}

// RateLimits holds what every replica has consumed of each rate-limit
// bucket per window (rate_limit_windows) and which replicas are sharing
// them (rate_limit_replicas). Replicas decide in memory and reconcile here
// every few hundred milliseconds (package limits).
type RateLimits struct {
	db *gorm.DB
}

// rateBatch bounds the rows of one statement (4 parameters each, well under
// PostgreSQL's 65,535).
const rateBatch = 1000

// Add adds each window's uses to the shared count and returns the counts
// after the additions, in the order of windows, with the number of replicas
// (this one included) that reported within alive. The replica is recorded
// as seen at now.
func (r *RateLimits) Add(ctx context.Context, replica string, windows []RateWindow, now time.Time, alive time.Duration) ([]int64, int, error) {
	totals := make([]int64, 0, len(windows))
	for start := 0; start < len(windows); start += rateBatch {
		batch := windows[start:min(start+rateBatch, len(windows))]
		got, err := r.add(ctx, batch)
		if err != nil {
			return nil, 0, err
		}
		totals = append(totals, got...)
	}
	db := r.db.WithContext(ctx)
	err := db.Exec(`INSERT INTO rate_limit_replicas (id, seen_at) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, replica, now.UnixMilli()).Error
	if err != nil {
		return nil, 0, fmt.Errorf("record rate-limit replica: %w", err)
	}
	var n int64
	if err := db.Raw(`SELECT count(*) FROM rate_limit_replicas WHERE seen_at > ?`, now.Add(-alive).UnixMilli()).Scan(&n).Error; err != nil {
		return nil, 0, fmt.Errorf("count rate-limit replicas: %w", err)
	}
	return totals, max(int(n), 1), nil
}

// add upserts one batch and reads the counts back.
func (r *RateLimits) add(ctx context.Context, batch []RateWindow) ([]int64, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	var sql strings.Builder
	sql.WriteString(`INSERT INTO rate_limit_windows (bucket, window_start, count, expires_at) VALUES `)
	args := make([]any, 0, 4*len(batch))
	for i, w := range batch {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString("(?, ?, ?, ?)")
		args = append(args, w.Bucket, w.Start, w.Add, w.Expires)
	}
	sql.WriteString(` ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limit_windows.count + excluded.count,
		expires_at = CASE WHEN excluded.expires_at > rate_limit_windows.expires_at THEN excluded.expires_at ELSE rate_limit_windows.expires_at END
		RETURNING bucket, window_start, count`)
	rows, err := r.db.WithContext(ctx).Raw(sql.String(), args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("add to rate-limit windows: %w", err)
	}
	defer rows.Close()
	type slot struct {
		bucket string
		start  int64
	}
	counts := make(map[slot]int64, len(batch))
	for rows.Next() {
		var s slot
		var n int64
		if err := rows.Scan(&s.bucket, &s.start, &n); err != nil {
			return nil, fmt.Errorf("read rate-limit windows: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rate-limit windows: %w", err)
	}
	out := make([]int64, len(batch))
	for i, w := range batch {
		out[i] = counts[slot{w.Bucket, w.Start}]
	}
	return out, nil
}

// Prune forgets windows that expired before t and replicas not seen since
// then, and returns how many windows it removed.
func (r *RateLimits) Prune(ctx context.Context, t time.Time) (int64, error) {
	db := r.db.WithContext(ctx)
	res := db.Exec(`DELETE FROM rate_limit_windows WHERE expires_at < ?`, t.Unix())
	if res.Error != nil {
		return 0, fmt.Errorf("prune rate-limit windows: %w", res.Error)
	}
	if err := db.Exec(`DELETE FROM rate_limit_replicas WHERE seen_at < ?`, t.UnixMilli()).Error; err != nil {
		return 0, fmt.Errorf("prune rate-limit replicas: %w", err)
	}
	return res.RowsAffected, nil
}

// Leave forgets the replica (at shutdown), so the others stop sharing with it.
func (r *RateLimits) Leave(ctx context.Context, replica string) error {
	if err := r.db.WithContext(ctx).Exec(`DELETE FROM rate_limit_replicas WHERE id = ?`, replica).Error; err != nil {
		return fmt.Errorf("leave rate-limit replicas: %w", err)
	}
	return nil
}
