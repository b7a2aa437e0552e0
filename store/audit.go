package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// AuditEvent records who did what to which resource, and whether it was
// allowed: every change to keys and identities, and every denied request.
type AuditEvent struct {
	ID           int64 `gorm:"primaryKey"`
	At           time.Time
	Actor        string
	Action       string // create, update, delete, rotate, login, denied, …
	ResourceType string
	ResourceID   string
	Outcome      string // success or denied
	RequestID    string
	Detail       *string
}

// AuditFields is the NData schema of the audit log.
var AuditFields = ndata.Schema{
	Fields: map[string]ndata.Field{
		"at":           {Column: "at", Kind: ndata.Time, Sortable: true},
		"actor":        {Column: "actor", Kind: ndata.String, Sortable: true},
		"action":       {Column: "action", Kind: ndata.String, Sortable: true},
		"resourceType": {Column: "resource_type", Kind: ndata.String, Sortable: true},
		"resourceId":   {Column: "resource_id", Kind: ndata.String, Sortable: true},
		"outcome":      {Column: "outcome", Kind: ndata.String, Sortable: true},
	},
	TieBreak: "id",
}

// Audit is the append-only audit log.
type Audit struct {
	db *gorm.DB
}

// Record appends an event.
func (r *Audit) Record(ctx context.Context, e *AuditEvent) error {
	if e.At.IsZero() {
		e.At = now()
	}
	if err := r.db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// List returns one page of events matching q.
func (r *Audit) List(ctx context.Context, q ndata.Query) ([]AuditEvent, int64, error) {
	return list[AuditEvent](ctx, r.db, q, nil)
}
