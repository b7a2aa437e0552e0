package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// DeliveryFields are the fields of a connector's delivery page: newest first
// (created desc), ties by id.
var DeliveryFields = ndata.Schema{Fields: map[string]ndata.Field{
	"id":      {Column: "id", Kind: ndata.String, Sortable: true},
	"created": {Column: "created_at", Kind: ndata.Time, Sortable: true},
}, TieBreak: "id"}

// Deliveries is the repository of the outbox: deliveries and their attempts.
type Deliveries struct {
	db      *gorm.DB
	dialect Dialect
}

// Claim leases up to n due deliveries (PENDING, next_attempt_at <= now, no
// lease or an expired one) until now+lease and returns them, oldest due
// first. On PostgreSQL the selection is FOR UPDATE SKIP LOCKED, so replicas
// claiming at once get disjoint rows; SQLite serializes writers, so the plain
// UPDATE … RETURNING is atomic there. The returned rows carry LeaseUntil
// exactly as stored: Complete compares it.
func (r *Deliveries) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	now = now.UTC().Truncate(time.Millisecond)
	until := now.Add(lease)
	lock := ""
	if r.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	query := `UPDATE deliveries SET lease_until = ? WHERE id IN (
		SELECT id FROM deliveries
		WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
		ORDER BY next_attempt_at LIMIT ?` + lock + `) RETURNING *`
	var out []Delivery
	if err := r.db.WithContext(ctx).Raw(query, until, DeliveryPending, now, now, n).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	for i := range out {
		out[i].LeaseUntil = &until
	}
	return out, nil
}

// DeliveryOutcome is the result of one attempt: the row's next state and
// the attempt's record.
type DeliveryOutcome struct {
	Status        string     // DeliveryDelivered, DeliveryPending (retry) or DeliveryFailed
	NextAttemptAt *time.Time // when PENDING
	DeliveredAt   *time.Time // when DELIVERED
	Attempt       DeliveryAttempt
}

// Complete records an attempt of the delivery id claimed with the
// lease leaseUntil: one UPDATE guarded by that lease (status, attempts+1,
// next attempt, delivered at; lease cleared) and, when it applied, the
// attempt row, in one transaction. It reports false, writing nothing, when
// the lease is no longer this claim's (it expired and another worker took
// the delivery over, or the delivery is gone): the newer state stands.
func (r *Deliveries) Complete(ctx context.Context, id string, leaseUntil time.Time, o DeliveryOutcome) (bool, error) {
	applied := false
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Delivery{}).Where("id = ? AND lease_until = ? AND status = ?", id, leaseUntil.UTC(), DeliveryPending).
			Updates(map[string]any{
				"status":          o.Status,
				"attempts":        gorm.Expr("attempts + 1"),
				"next_attempt_at": utcPtr(o.NextAttemptAt),
				"delivered_at":    utcPtr(o.DeliveredAt),
				"lease_until":     nil,
			})
		if res.Error != nil {
			return fmt.Errorf("complete delivery %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		a := o.Attempt
		a.ID, a.DeliveryID, a.At = 0, id, a.At.UTC()
		if err := tx.Create(&a).Error; err != nil {
			return fmt.Errorf("record delivery attempt %s: %w", id, err)
		}
		applied = true
		return nil
	})
	return applied, err
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// List returns a page of the connector's deliveries (optionally
// of one status) and their number.
func (r *Deliveries) List(ctx context.Context, connectorID, status string, q ndata.Query) ([]Delivery, int64, error) {
	return list[Delivery](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		db = db.Where("connector_id = ?", connectorID)
		if status != "" {
			db = db.Where("status = ?", status)
		}
		return db
	})
}

// Attempts returns the attempts of the deliveries ids, oldest first,
// by delivery id: one query for a whole page.
func (r *Deliveries) Attempts(ctx context.Context, ids []string) (map[string][]DeliveryAttempt, error) {
	out := make(map[string][]DeliveryAttempt, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []DeliveryAttempt
	if err := r.db.WithContext(ctx).Where("delivery_id IN ?", ids).Order("delivery_id, at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read delivery attempts: %w", err)
	}
	for _, a := range rows {
		out[a.DeliveryID] = append(out[a.DeliveryID], a)
	}
	return out, nil
}

// Get returns the delivery id, or ErrNotFound.
func (r *Deliveries) Get(ctx context.Context, id string) (*Delivery, error) {
	return first[Delivery](ctx, r.db, "id = ?", id)
}

// DeliveryRetention is how long finished (DELIVERED or FAILED) deliveries
// and their attempts stay visible in the delivery log.
const DeliveryRetention = 7 * 24 * time.Hour

// Prune forgets finished deliveries created before cutoff; pending
// ones are never pruned.
func (r *Deliveries) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res := r.db.WithContext(ctx).Where("status IN ? AND created_at < ?",
		[]string{DeliveryDelivered, DeliveryFailed}, cutoff.UTC()).Delete(&Delivery{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune deliveries: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Counts counts the outbox by status, for monitoring (a growing
// PENDING count means receivers are down or workers too few).
func (r *Deliveries) Counts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	if err := r.db.WithContext(ctx).Model(&Delivery{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	out := map[string]int64{DeliveryPending: 0, DeliveryDelivered: 0, DeliveryFailed: 0}
	for _, row := range rows {
		out[row.Status] = row.N
	}
	return out, nil
}

// Delivery statuses.
const (
	DeliveryPending   = "PENDING"
	DeliveryDelivered = "DELIVERED"
	DeliveryFailed    = "FAILED"
)

// Delivery is one sample on its way to one connector: the transactional
// outbox. It is written in the transaction that stores the sample, and
// workers claim it (FOR UPDATE SKIP LOCKED plus a lease), so a crash between
// claim and completion only delays it.
type Delivery struct {
	ID            string `gorm:"primaryKey"`
	ConnectorID   string
	SampleID      string
	DeviceID      string
	RuleID        *string
	Payload       string // the JSON body sent
	Status        string
	Attempts      int
	NextAttemptAt *time.Time
	LeaseUntil    *time.Time
	CreatedAt     time.Time
	DeliveredAt   *time.Time
}

// DeliveryAttempt records one try of a delivery.
type DeliveryAttempt struct {
	ID         int64 `gorm:"primaryKey"`
	DeliveryID string
	At         time.Time
	StatusCode *int
	Error      *string
	DurationMs int64
}
