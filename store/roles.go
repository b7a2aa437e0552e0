package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// Role is a named set of rights (Portos), given to users globally.
type Role struct {
	Name        string `gorm:"primaryKey"`
	Label       *string
	Description *string
	Rights      []string `gorm:"serializer:json"`
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RoleFields is the NData schema of GET /roles.
var RoleFields = ndata.Schema{
	Fields: map[string]ndata.Field{
		"name":  {Column: "name", Kind: ndata.String, Sortable: true},
		"label": {Column: "label", Kind: ndata.String, Sortable: true, Nullable: true},
		"_v":    {Column: "version", Kind: ndata.Int, Sortable: true},
	},
	TieBreak: "name",
}

// Roles is the repository of roles.
type Roles struct {
	db      *gorm.DB
	changes *Changes
}

// List returns one page of the roles matching q.
func (r *Roles) List(ctx context.Context, q ndata.Query) ([]Role, int64, error) {
	return list[Role](ctx, r.db, q, nil)
}

// Get returns the role name, or ErrNotFound.
func (r *Roles) Get(ctx context.Context, name string) (*Role, error) {
	return first[Role](ctx, r.db, "name = ?", name)
}

// Named returns the roles among names that exist.
func (r *Roles) Named(ctx context.Context, names []string) ([]Role, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var roles []Role
	err := r.db.WithContext(ctx).Where("name IN ?", names).Find(&roles).Error
	return roles, err
}

// Create inserts the role at version 1; a taken name is ErrConflict.
func (r *Roles) Create(ctx context.Context, role *Role) error {
	role.Version, role.CreatedAt, role.UpdatedAt = 1, now(), now()
	return insert(ctx, r.db, role)
}

// Update writes label, description and rights provided the role is still at version.
func (r *Roles) Update(ctx context.Context, role *Role, version int64) (*Role, error) {
	role.Version, role.UpdatedAt = version+1, now()
	err := r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		return roleChanged(role.Name), updateVersion(ctx, tx, role, "name", role.Name, &version, "label", "description", "rights")
	})
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, role.Name)
}

// Delete removes the role and returns it.
func (r *Roles) Delete(ctx context.Context, name string) (*Role, error) {
	return removeAnnounced[Role](ctx, r.changes, "name", name, roleChanged(name))
}

func roleChanged(name string) []Change { return []Change{{Kind: ChangeRole, ID: name}} }
