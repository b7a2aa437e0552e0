package store

import (
	"context"
	"errors"
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
	db      *gorm.DB
	changes *Changes
	dialect Dialect
}

// ErrLastOwner means a change would leave an organization without an Owner.
var ErrLastOwner = errors.New("the organization's last owner cannot be removed or demoted")

// ownerRole is the organization role that can never be left vacant.
const ownerRole = "OWNER"

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
// it is still at version. A new password ends the user's sessions; a new
// name shows on the keys that act as the user.
func (r *Users) Update(ctx context.Context, u *User, version int64) (*User, error) {
	u.Version, u.UpdatedAt = version+1, now()
	cols := []string{"user_name", "display_name", "email", "is_active", "roles"}
	if u.PasswordHash != "" {
		cols = append(cols, "password_hash")
	}
	err := r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		if err := updateVersion(ctx, tx, u, "id", u.ID, &version, cols...); err != nil {
			return nil, err
		}
		if err := tx.Model(&APIKey{}).Where("user_id = ?", u.ID).UpdateColumn("user_name", u.UserName).Error; err != nil {
			return nil, fmt.Errorf("rename the user's keys: %w", err)
		}
		if u.PasswordHash != "" {
			if err := tx.Model(&Session{}).Where("user_id = ? AND revoked_at IS NULL", u.ID).Update("revoked_at", now()).Error; err != nil {
				return nil, fmt.Errorf("end the user's sessions: %w", err)
			}
		}
		return userChanged(u.ID), nil
	})
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, u.ID)
}

// Delete removes the user and returns it; its memberships, sessions and the
// keys that act as it go with it.
func (r *Users) Delete(ctx context.Context, id string) (*User, error) {
	return removeAnnounced[User](ctx, r.changes, "id", id, userChanged(id))
}

func userChanged(id string) []Change { return []Change{{Kind: ChangeUser, ID: id}} }

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

// OrganizationMember returns the user's membership of the organization, or
// ErrNotFound.
func (r *Users) OrganizationMember(ctx context.Context, orgID, userID string) (*OrganizationMember, error) {
	return first[OrganizationMember](ctx, r.db, "organization_id = ? AND user_id = ?", orgID, userID)
}

// WorkspaceMember returns the user's membership of the workspace, or ErrNotFound.
func (r *Users) WorkspaceMember(ctx context.Context, wsID, userID string) (*WorkspaceMember, error) {
	return first[WorkspaceMember](ctx, r.db, "workspace_id = ? AND user_id = ?", wsID, userID)
}

// PutOrganizationMember gives the user a role in the organization, replacing
// any other; demoting the last Owner is ErrLastOwner.
func (r *Users) PutOrganizationMember(ctx context.Context, m *OrganizationMember) error {
	m.CreatedAt = now()
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		if m.Role != ownerRole {
			if err := r.keepAnOwner(ctx, tx, m.OrganizationID, m.UserID); err != nil {
				return nil, err
			}
		}
		if err := tx.Where("organization_id = ? AND user_id = ?", m.OrganizationID, m.UserID).Delete(&OrganizationMember{}).Error; err != nil {
			return nil, fmt.Errorf("replace membership: %w", err)
		}
		return userChanged(m.UserID), insert(ctx, tx, m)
	})
}

// DeleteOrganizationMember removes the user from the organization and its
// workspaces; removing the last Owner is ErrLastOwner.
func (r *Users) DeleteOrganizationMember(ctx context.Context, orgID, userID string) error {
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		if err := r.keepAnOwner(ctx, tx, orgID, userID); err != nil {
			return nil, err
		}
		res := tx.Where("organization_id = ? AND user_id = ?", orgID, userID).Delete(&OrganizationMember{})
		if res.Error != nil {
			return nil, fmt.Errorf("delete membership: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil, ErrNotFound
		}
		return userChanged(userID), tx.Where("organization_id = ? AND user_id = ?", orgID, userID).Delete(&WorkspaceMember{}).Error
	})
}

// keepAnOwner fails with ErrLastOwner when the user is the organization's
// only Owner, so that the user may not stop being one. On PostgreSQL it
// locks the organization first, so that two Owners demoting each other at
// once cannot both succeed.
func (r *Users) keepAnOwner(ctx context.Context, tx *gorm.DB, orgID, userID string) error {
	if r.dialect == Postgres {
		if err := tx.Exec("SELECT id FROM organizations WHERE id = ? FOR UPDATE", orgID).Error; err != nil {
			return fmt.Errorf("lock organization: %w", err)
		}
	}
	var owners []string
	if err := tx.Model(&OrganizationMember{}).Where("organization_id = ? AND role = ?", orgID, ownerRole).Pluck("user_id", &owners).Error; err != nil {
		return fmt.Errorf("read owners: %w", err)
	}
	if len(owners) == 1 && owners[0] == userID {
		return ErrLastOwner
	}
	return nil
}

// PutWorkspaceMember gives the user a role in the workspace, replacing any other.
func (r *Users) PutWorkspaceMember(ctx context.Context, m *WorkspaceMember) error {
	m.CreatedAt = now()
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		if err := tx.Where("workspace_id = ? AND user_id = ?", m.WorkspaceID, m.UserID).Delete(&WorkspaceMember{}).Error; err != nil {
			return nil, fmt.Errorf("replace membership: %w", err)
		}
		return userChanged(m.UserID), insert(ctx, tx, m)
	})
}

// DeleteWorkspaceMember removes the user from the workspace.
func (r *Users) DeleteWorkspaceMember(ctx context.Context, wsID, userID string) error {
	return r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		res := tx.Where("workspace_id = ? AND user_id = ?", wsID, userID).Delete(&WorkspaceMember{})
		if res.Error != nil {
			return nil, fmt.Errorf("delete membership: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil, ErrNotFound
		}
		return userChanged(userID), nil
	})
}
