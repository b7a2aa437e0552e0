package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// Organization is an akenza organization: the tenant that owns workspaces,
// members and API keys.
type Organization struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description *string
	Properties  JSONObject
	OwnerID     *string
	// RateLimit and RatePeriod (seconds) are the default request allowance
	// of the organization's keys, both set or both nil (none).
	RateLimit  *int64
	RatePeriod *int64
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// OwnerName and OwnerEmail describe the owner: Get reads them in the
	// organization's own statement (the other reads leave them nil).
	OwnerName  *string `gorm:"->"`
	OwnerEmail *string `gorm:"->"`
}

// Placement is where a resource lives: the organization and the workspace
// whose permissions govern it. Every workspace resource embeds it, so one
// function reads and authorizes them all.
type Placement struct {
	OrganizationID string
	WorkspaceID    string
}

// Place returns where the resource lives.
func (p Placement) Place() Placement { return p }

// Place of a workspace is the workspace itself.
func (w *Workspace) Place() Placement {
	return Placement{OrganizationID: w.OrganizationID, WorkspaceID: w.ID}
}

// Workspace is an akenza workspace, the unit that permissions can be limited to.
type Workspace struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	Name           string
	Description    *string
	Properties     JSONObject
	Settings       JSONObject
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// OrganizationFields and WorkspaceFields are the sortable fields of the
// Spring pages (akenza sorts by name, created, updated).
var (
	OrganizationFields = ndata.Schema{Fields: map[string]ndata.Field{
		"id":      {Column: "id", Kind: ndata.String, Sortable: true},
		"name":    {Column: "name", Kind: ndata.String, Sortable: true},
		"created": {Column: "created_at", Kind: ndata.Time, Sortable: true},
		"updated": {Column: "updated_at", Kind: ndata.Time, Sortable: true},
	}, TieBreak: "id"}
	WorkspaceFields = OrganizationFields
)

// Organizations is the repository of organizations.
type Organizations struct {
	db      *gorm.DB
	changes *Changes
}

// Workspaces is the repository of workspaces.
type Workspaces struct {
	db      *gorm.DB
	changes *Changes
}

// List returns a page of organizations; ids nil means every organization,
// otherwise only these. search matches a substring of the name, any case.
func (r *Organizations) List(ctx context.Context, q ndata.Query, ids []string, search string) ([]Organization, int64, error) {
	return list[Organization](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return nameSearch(restrictIDs(db, "id", ids), search)
	})
}

// Get returns the organization id with its owner's name and email, in one
// statement, or ErrNotFound. It is the hottest read of the API, so it is
// written out by hand (see scanRow).
func (r *Organizations) Get(ctx context.Context, id string) (*Organization, error) {
	var o Organization
	err := scanRow(ctx, r.db, `SELECT o.id, o.name, o.description, o.properties, o.owner_id, o.rate_limit, o.rate_period,
		o.version, o.created_at, o.updated_at, u.user_name, u.email
		FROM organizations o LEFT JOIN users u ON u.id = o.owner_id WHERE o.id = $1`, []any{id},
		&o.ID, &o.Name, &o.Description, &o.Properties, &o.OwnerID, &o.RateLimit, &o.RatePeriod,
		&o.Version, &o.CreatedAt, &o.UpdatedAt, &o.OwnerName, &o.OwnerEmail)
	if err != nil {
		return nil, fmt.Errorf("read organization: %w", err)
	}
	return &o, nil
}

// Create inserts o with a new id and, when ownerID is set, makes that user its Owner.
func (r *Organizations) Create(ctx context.Context, o *Organization, ownerID string) error {
	id, err := newID("28")
	if err != nil {
		return err
	}
	o.ID, o.Version, o.CreatedAt, o.UpdatedAt = id, 1, now(), now()
	if ownerID != "" {
		o.OwnerID = &ownerID
	}
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insert(ctx, tx, o); err != nil {
			return err
		}
		if ownerID == "" {
			return nil
		}
		return insert(ctx, tx, &OrganizationMember{OrganizationID: o.ID, UserID: ownerID, Role: "OWNER", CreatedAt: now()})
	})
}

// Update writes name, description, properties and the keys' default rate
// limit; with a version, only if the organization is still at it. A change
// of the default is announced (ChangeOrganization), so that every replica
// applies it to the keys at once.
func (r *Organizations) Update(ctx context.Context, o *Organization, version *int64) (*Organization, error) {
	var out *Organization
	err := r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		before, err := first[Organization](ctx, tx, "id = ?", o.ID)
		if err != nil {
			return nil, err
		}
		out, err = updateAt(ctx, tx, o, o.ID, version, func(next int64) { o.Version, o.UpdatedAt = next, now() },
			"name", "description", "properties", "rate_limit", "rate_period")
		if err != nil || sameRate(before.RateLimit, before.RatePeriod, o.RateLimit, o.RatePeriod) {
			return nil, err
		}
		return []Change{{Kind: ChangeOrganization, ID: o.ID}}, nil
	})
	return out, err
}

// sameRate tells whether two (limit, period) pairs are the same allowance.
func sameRate(l1, p1, l2, p2 *int64) bool {
	eq := func(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return eq(l1, l2) && eq(p1, p2)
}

// Delete removes the organization; its workspaces, members and keys go with it.
func (r *Organizations) Delete(ctx context.Context, id string) error {
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		_, err := remove[Organization](ctx, tx, "id", id, nil)
		return []Change{{Kind: ChangeOrganization, ID: id}}, err
	})
}

// WorkspaceFilter selects an organization's workspaces: IDs nil means all of
// them, otherwise only these; Search matches a substring of the name, any
// case; Name, when set, the whole name.
type WorkspaceFilter struct {
	IDs    []string
	Search string
	Name   string
}

// List returns a page of the organization's workspaces matching f.
func (r *Workspaces) List(ctx context.Context, orgID string, q ndata.Query, f WorkspaceFilter) ([]Workspace, int64, error) {
	return list[Workspace](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		db = nameSearch(restrictIDs(db.Where("organization_id = ?", orgID), "id", f.IDs), f.Search)
		if f.Name != "" {
			db = db.Where("name = ?", f.Name)
		}
		return db
	})
}

// Get returns the workspace id, or ErrNotFound.
func (r *Workspaces) Get(ctx context.Context, id string) (*Workspace, error) {
	var w Workspace
	err := scanRow(ctx, r.db, `SELECT id, organization_id, name, description, properties, settings, version, created_at, updated_at
		FROM workspaces WHERE id = $1`, []any{id},
		&w.ID, &w.OrganizationID, &w.Name, &w.Description, &w.Properties, &w.Settings, &w.Version, &w.CreatedAt, &w.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("read workspace: %w", err)
	}
	return &w, nil
}

// Create inserts w with a new id.
func (r *Workspaces) Create(ctx context.Context, w *Workspace) error {
	id, err := newID("29")
	if err != nil {
		return err
	}
	w.ID, w.Version, w.CreatedAt, w.UpdatedAt = id, 1, now(), now()
	return insert(ctx, r.db, w)
}

// Update writes name, description, properties and settings; with a
// version, only if the workspace is still at it.
func (r *Workspaces) Update(ctx context.Context, w *Workspace, version *int64) (*Workspace, error) {
	return updateAt(ctx, r.db, w, w.ID, version, func(next int64) { w.Version, w.UpdatedAt = next, now() },
		"name", "description", "properties", "settings")
}

// Delete removes the workspace and its memberships.
func (r *Workspaces) Delete(ctx context.Context, id string) error {
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		w, err := remove[Workspace](ctx, tx, "id", id, nil)
		if err != nil {
			return nil, err
		}
		return []Change{{Kind: ChangeOrganization, ID: w.OrganizationID}}, nil
	})
}

// restrictIDs limits db to rows whose column is in ids; nil ids means no limit.
func restrictIDs(db *gorm.DB, column string, ids []string) *gorm.DB {
	if ids == nil {
		return db
	}
	if len(ids) == 0 {
		return db.Where("1 = 0")
	}
	return db.Where(column+" IN ?", ids)
}

// nameSearch keeps rows whose name contains search, ignoring case; the
// pattern's wildcards are escaped so that the search is literal.
func nameSearch(db *gorm.DB, search string) *gorm.DB {
	if search == "" {
		return db
	}
	pattern := "%" + likeEscaper.Replace(search) + "%"
	return db.Where("LOWER(name) LIKE LOWER(?) ESCAPE '\\'", pattern)
}

// newID returns a 16-hex-character akenza id whose first two digits name the type.
func newID(prefix string) (string, error) {
	id, err := randomHex(7)
	if err != nil {
		return "", fmt.Errorf("new %s id: %w", prefix, err)
	}
	return prefix + id, nil
}
