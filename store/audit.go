package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// AuditEvent records who did what to which resource, and whether it was
// allowed: every change, login and logout, and every denied request.
type AuditEvent struct {
	ID int64 `gorm:"primaryKey"`
	At time.Time
	// OrganizationID is the organization whose resource the event concerns,
	// or in which the request was refused; nil for a platform event (a
	// login, a user or role, a platform key, a refusal outside the caller's
	// organizations).
	OrganizationID *string
	Actor          string
	// ActorUserID and ActorKeyID are the user and the key that acted, when
	// any (a key acting as a user sets both).
	ActorUserID   *string
	ActorKeyID    *string
	Action        string // create, update, delete, rotate, login, logout, denied
	ResourceType  string
	ResourceID    string
	Outcome       string // success or denied
	ClientAddress *string
	RequestID     string
	Detail        *string
}

// AuditFields is the schema of the audit log's sort keys (the wire names of
// GET /v3/audit-events).
var AuditFields = ndata.Schema{
	Fields: map[string]ndata.Field{
		"id":         {Column: "id", Kind: ndata.Int, Sortable: true},
		"timestamp":  {Column: "at", Kind: ndata.Time, Sortable: true},
		"actor":      {Column: "actor", Kind: ndata.String, Sortable: true},
		"action":     {Column: "action", Kind: ndata.String, Sortable: true},
		"targetType": {Column: "resource_type", Kind: ndata.String, Sortable: true},
		"targetId":   {Column: "resource_id", Kind: ndata.String, Sortable: true},
		"outcome":    {Column: "outcome", Kind: ndata.String, Sortable: true},
	},
	TieBreak: "id",
}

// AuditFilter narrows a listing of the audit log; zero fields do not filter.
type AuditFilter struct {
	// Organization, when not nil, keeps the events of that organization.
	Organization *string
	Actor        string
	ActorUserID  string
	ActorKeyID   string
	Action       string
	TargetType   string
	TargetID     string
	Outcome      string
	// From (inclusive) and To (exclusive) bound the events' times.
	From, To time.Time
}

// scope applies f to db.
func (f AuditFilter) scope(db *gorm.DB) *gorm.DB {
	if f.Organization != nil {
		db = db.Where("organization_id = ?", *f.Organization)
	}
	for _, c := range [...]struct{ column, value string }{{"actor", f.Actor}, {"actor_user_id", f.ActorUserID},
		{"actor_key_id", f.ActorKeyID}, {"action", f.Action}, {"resource_type", f.TargetType},
		{"resource_id", f.TargetID}, {"outcome", f.Outcome}} {
		if c.value != "" {
			db = db.Where(c.column+" = ?", c.value)
		}
	}
	if !f.From.IsZero() {
		db = db.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		db = db.Where("at < ?", f.To.UTC())
	}
	return db
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

// List returns one page of the events matching f, in q's order, and how
// many match.
func (r *Audit) List(ctx context.Context, q ndata.Query, f AuditFilter) ([]AuditEvent, int64, error) {
	return list[AuditEvent](ctx, r.db, q, f.scope)
}
