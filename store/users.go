package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// User is a person who logs in with a password, and whom a key may act as.
type User struct {
	ID           string `gorm:"primaryKey"`
	UserName     string
	DisplayName  *string
	Email        *string
	PasswordHash string
	IsActive     bool
	Roles        []string `gorm:"serializer:json"`
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OrganizationMember gives a user an akenza organization role.
type OrganizationMember struct {
	OrganizationID string `gorm:"primaryKey"`
	UserID         string `gorm:"primaryKey"`
	Role           string
	CreatedAt      time.Time
}

// WorkspaceMember gives a user an akenza workspace role.
type WorkspaceMember struct {
	WorkspaceID    string `gorm:"primaryKey"`
	UserID         string `gorm:"primaryKey"`
	OrganizationID string
	Role           string
	CreatedAt      time.Time
}

// UserFields is the NData schema of GET /users.
var UserFields = ndata.Schema{
	Fields: map[string]ndata.Field{
		"id":          {Column: "id", Kind: ndata.String, Sortable: true},
		"userName":    {Column: "user_name", Kind: ndata.String, Sortable: true},
		"displayName": {Column: "display_name", Kind: ndata.String, Sortable: true, Nullable: true},
		"email":       {Column: "email", Kind: ndata.String, Sortable: true, Nullable: true},
		"isActive":    {Column: "is_active", Kind: ndata.Bool, Sortable: true},
		"createdAt":   {Column: "created_at", Kind: ndata.Time, Sortable: true},
		"_v":          {Column: "version", Kind: ndata.Int, Sortable: true},
	},
	TieBreak: "id",
}

// MemberFields are the sortable fields of a member page.
var MemberFields = ndata.Schema{Fields: map[string]ndata.Field{
	"userId":  {Column: "user_id", Kind: ndata.String, Sortable: true},
	"role":    {Column: "role", Kind: ndata.String, Sortable: true},
	"created": {Column: "created_at", Kind: ndata.Time, Sortable: true},
}, TieBreak: "user_id"}

// Users is the repository of users and their memberships.
type Users struct {
	db *gorm.DB
}

// List returns one page of the users matching q.
func (r *Users) List(ctx context.Context, q ndata.Query) ([]User, int64, error) {
	return list[User](ctx, r.db, q, nil)
}

// Get returns the user id, or ErrNotFound.
func (r *Users) Get(ctx context.Context, id string) (*User, error) {
	return first[User](ctx, r.db, "id = ?", id)
}

// ByName returns the user called name, or ErrNotFound.
func (r *Users) ByName(ctx context.Context, name string) (*User, error) {
	return first[User](ctx, r.db, "user_name = ?", name)
}

// Named returns the users with these ids, by id (a batch lookup for owners
// and member names).
func (r *Users) Named(ctx context.Context, ids []string) (map[string]User, error) {
	out := map[string]User{}
	if len(ids) == 0 {
		return out, nil
	}
	var users []User
	if err := r.db.WithContext(ctx).Where("id IN ?", ids).Find(&users).Error; err != nil {
		return nil, fmt.Errorf("users by id: %w", err)
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}

// Create inserts u with a new id; a taken user name is ErrConflict.
func (r *Users) Create(ctx context.Context, u *User) error {
	id, err := randomHex(12)
	if err != nil {
		return fmt.Errorf("new user id: %w", err)
	}
	u.ID, u.Version, u.CreatedAt, u.UpdatedAt = id, 1, now(), now()
	return insert(ctx, r.db, u)
}

// Update writes the user's fields (the password hash only when set) provided
// it is still at version. A new password ends the user's sessions.
func (r *Users) Update(ctx context.Context, u *User, version int64) (*User, error) {
	u.Version, u.UpdatedAt = version+1, now()
	cols := []string{"user_name", "display_name", "email", "is_active", "roles"}
	if u.PasswordHash != "" {
		cols = append(cols, "password_hash")
	}
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := updateVersion(ctx, tx, u, "id", u.ID, &version, cols...); err != nil {
			return err
		}
		if u.PasswordHash == "" {
			return nil
		}
		return tx.Model(&Session{}).Where("user_id = ? AND revoked_at IS NULL", u.ID).Update("revoked_at", now()).Error
	})
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, u.ID)
}

// Delete removes the user, its memberships and sessions, and returns it.
func (r *Users) Delete(ctx context.Context, id string) (*User, error) {
	return remove[User](ctx, r.db, "id", id, nil)
}

// Memberships returns the user's organization and workspace roles.
func (r *Users) Memberships(ctx context.Context, userID string) ([]OrganizationMember, []WorkspaceMember, error) {
	var orgs []OrganizationMember
	var wss []WorkspaceMember
	db := r.db.WithContext(ctx)
	if err := db.Where("user_id = ?", userID).Find(&orgs).Error; err != nil {
		return nil, nil, fmt.Errorf("organization memberships: %w", err)
	}
	if err := db.Where("user_id = ?", userID).Find(&wss).Error; err != nil {
		return nil, nil, fmt.Errorf("workspace memberships: %w", err)
	}
	return orgs, wss, nil
}

// Member is a membership with the user's name, as member pages show it.
type Member struct {
	UserID    string
	UserName  string
	Role      string
	CreatedAt time.Time
}

// OrganizationMembers returns a page of the organization's members.
func (r *Users) OrganizationMembers(ctx context.Context, orgID string, q ndata.Query) ([]Member, int64, error) {
	rows, total, err := list[OrganizationMember](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return db.Where("organization_id = ?", orgID)
	})
	if err != nil || len(rows) == 0 {
		return nil, total, err
	}
	ids := make([]string, len(rows))
	for i, m := range rows {
		ids[i] = m.UserID
	}
	users, err := r.Named(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	members := make([]Member, len(rows))
	for i, m := range rows {
		members[i] = Member{UserID: m.UserID, UserName: users[m.UserID].UserName, Role: m.Role, CreatedAt: m.CreatedAt}
	}
	return members, total, nil
}

// PutOrganizationMember gives the user a role in the organization, replacing any other.
func (r *Users) PutOrganizationMember(ctx context.Context, m *OrganizationMember) error {
	m.CreatedAt = now()
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("organization_id = ? AND user_id = ?", m.OrganizationID, m.UserID).Delete(&OrganizationMember{}).Error; err != nil {
			return fmt.Errorf("replace membership: %w", err)
		}
		return insert(ctx, tx, m)
	})
}

// DeleteOrganizationMember removes the user from the organization and its workspaces.
func (r *Users) DeleteOrganizationMember(ctx context.Context, orgID, userID string) error {
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("organization_id = ? AND user_id = ?", orgID, userID).Delete(&OrganizationMember{})
		if res.Error != nil {
			return fmt.Errorf("delete membership: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("organization_id = ? AND user_id = ?", orgID, userID).Delete(&WorkspaceMember{}).Error
	})
}

// PutWorkspaceMember gives the user a role in the workspace, replacing any other.
func (r *Users) PutWorkspaceMember(ctx context.Context, m *WorkspaceMember) error {
	m.CreatedAt = now()
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND user_id = ?", m.WorkspaceID, m.UserID).Delete(&WorkspaceMember{}).Error; err != nil {
			return fmt.Errorf("replace membership: %w", err)
		}
		return insert(ctx, tx, m)
	})
}

// DeleteWorkspaceMember removes the user from the workspace.
func (r *Users) DeleteWorkspaceMember(ctx context.Context, wsID, userID string) error {
	res := r.db.WithContext(ctx).Where("workspace_id = ? AND user_id = ?", wsID, userID).Delete(&WorkspaceMember{})
	if res.Error != nil {
		return fmt.Errorf("delete membership: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
