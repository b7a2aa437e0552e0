package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DayFormat spells a UTC day of key usage ("2026-11-26"): as text it sorts
// and compares in day order on both databases.
const DayFormat = "2006-01-02"

// KeyDay names the requests of one key on one UTC day.
type KeyDay struct {
	KeyID string
	Day   string // DayFormat
}

// UsageBatch is what authentication collected between two writes: when each
// key was last used, and how many requests each made per day.
type UsageBatch struct {
	LastUsed map[string]time.Time
	Requests map[KeyDay]int64
}

// DayCount is the requests of a key on one day.
type DayCount struct {
	Day      string // DayFormat
	Requests int64
}

// keyUsageRow is a row of api_key_usage (migration 11).
type keyUsageRow struct {
	KeyID    string
	Day      string
	Requests int64
}

func (keyUsageRow) TableName() string { return "api_key_usage" }

// RecordUsage writes a batch in one transaction: one update per key of its
// lastUsedAt (never backwards), and one upsert per key and day adding its
// requests, so that replicas flushing the same key add up. A key deleted
// since the batch was collected is skipped; should it be deleted while the
// batch is written, the write fails and the caller keeps the batch, whose
// next try skips it.
func (r *APIKeys) RecordUsage(ctx context.Context, b UsageBatch) error {
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for id, at := range b.LastUsed {
			err := tx.Model(&APIKey{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at).
				UpdateColumn("last_used_at", at).Error
			if err != nil {
				return fmt.Errorf("touch api key %s: %w", id, err)
			}
		}
		for kd, n := range b.Requests {
			err := tx.Exec(`INSERT INTO api_key_usage (key_id, day, requests)
				SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?)
				ON CONFLICT (key_id, day) DO UPDATE SET requests = api_key_usage.requests + excluded.requests`,
				kd.KeyID, kd.Day, n, kd.KeyID).Error
			if err != nil {
				return fmt.Errorf("count requests of api key %s on %s: %w", kd.KeyID, kd.Day, err)
			}
		}
		return nil
	})
}

// UsageRetention is how long a key's requests per day are kept: more than
// a year, so that the widest range GET /apikeys/{id}/usage reads (366 days)
// ending today is always whole, and bounded, so that the table does not
// grow with every day of every key forever.
const UsageRetention = 400 * 24 * time.Hour

// PruneUsage forgets the requests per day of the days before the UTC day
// of t.
func (r *APIKeys) PruneUsage(ctx context.Context, t time.Time) (int64, error) {
	res := r.db.WithContext(ctx).Where("day < ?", t.UTC().Format(DayFormat)).Delete(&keyUsageRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune key usage: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Usage returns the requests of key id per day from the day from to the day
// to (DayFormat, both included), only the days with requests, oldest first.
func (r *APIKeys) Usage(ctx context.Context, id, from, to string) ([]DayCount, error) {
	var rows []keyUsageRow
	err := r.db.WithContext(ctx).Where("key_id = ? AND day >= ? AND day <= ?", id, from, to).
		Order("day").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read usage of api key %s: %w", id, err)
	}
	out := make([]DayCount, len(rows))
	for i, row := range rows {
		out[i] = DayCount{Day: row.Day, Requests: row.Requests}
	}
	return out, nil
}
