package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// Permission is one grant of a key: verbs on a scope, optionally limited to
// some workspaces. It is stored as JSON inside the key's row.
type Permission struct {
	Scope        string   `json:"scope"`
	Verbs        []string `json:"verbs"`
	WorkspaceIDs []string `json:"workspaceIds,omitempty"`
}

// APIKey is a stored key. The secret itself is never stored: SecretDigest finds
// the key from a presented secret, SecretSealed gives the secret back to the
// HMAC verifier (AES-GCM, sealed by the auth package).
type APIKey struct {
	ID           string `gorm:"primaryKey"`
	ClientID     string
	SecretDigest []byte
	SecretSealed []byte
	IsActive     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Name         string
	Description  *string
	UserName     *string
	DeviceName   *string
	Permissions  []Permission `gorm:"serializer:json"`
	Version      int64
}

// APIKeyFields is the NData schema of GET /apikeys: every field of the wire
// format except the secret can filter and sort.
var APIKeyFields = ndata.Schema{
	Fields: map[string]ndata.Field{
		"id":          {Column: "id", Kind: ndata.String, Sortable: true},
		"clientId":    {Column: "client_id", Kind: ndata.String, Sortable: true},
		"isActive":    {Column: "is_active", Kind: ndata.Bool, Sortable: true},
		"createdAt":   {Column: "created_at", Kind: ndata.Time, Sortable: true},
		"name":        {Column: "name", Kind: ndata.String, Sortable: true},
		"description": {Column: "description", Kind: ndata.String, Sortable: true, Nullable: true},
		"userName":    {Column: "user_name", Kind: ndata.String, Sortable: true, Nullable: true},
		"deviceName":  {Column: "device_name", Kind: ndata.String, Sortable: true, Nullable: true},
		"_v":          {Column: "version", Kind: ndata.Int, Sortable: true},
	},
	TieBreak: "id",
}

// APIKeys is the repository of API keys.
type APIKeys struct {
	db *gorm.DB
}

// List returns one page of the keys matching q, and how many match in all.
// With q.Count set it only counts.
func (r *APIKeys) List(ctx context.Context, q ndata.Query) (keys []APIKey, total int64, err error) {
	base := q.Where(r.db.WithContext(ctx).Model(&APIKey{}))
	if err := base.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count api keys: %w", err)
	}
	if q.Count || total == 0 || q.Take == 0 {
		return nil, total, nil
	}
	if err := q.Page(q.Where(r.db.WithContext(ctx))).Find(&keys).Error; err != nil {
		return nil, 0, fmt.Errorf("list api keys: %w", err)
	}
	return keys, total, nil
}

// Get returns the key with id, or ErrNotFound.
func (r *APIKeys) Get(ctx context.Context, id string) (*APIKey, error) {
	var k APIKey
	err := r.db.WithContext(ctx).Where("id = ?", id).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get api key %s: %w", id, err)
	}
	return &k, nil
}

// Create inserts k at version 1. A key with the same id (or, impossibly, the
// same clientId or secret) makes it fail with ErrConflict.
func (r *APIKeys) Create(ctx context.Context, k *APIKey) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	k.CreatedAt, k.UpdatedAt, k.Version = now, now, 1
	err := r.db.WithContext(ctx).Create(k).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// Update replaces the writable fields of the key k.ID, provided it is still at
// version. The compare and the write are one UPDATE statement, so of two
// concurrent updates from the same version exactly one wins; the other gets
// ErrVersionMismatch. It returns the key as stored after the update.
func (r *APIKeys) Update(ctx context.Context, k *APIKey, version int64) (*APIKey, error) {
	k.Version = version + 1
	k.UpdatedAt = time.Now().UTC()
	res := r.db.WithContext(ctx).Model(&APIKey{ID: k.ID}).Where("version = ?", version).
		Select("name", "description", "user_name", "device_name", "is_active", "permissions", "version", "updated_at").
		Updates(k)
	if res.Error != nil {
		return nil, fmt.Errorf("update api key %s: %w", k.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, r.missOrStale(ctx, k.ID)
	}
	return r.Get(ctx, k.ID)
}

// Delete removes the key id and returns it as it was. When version is not nil
// the key is removed only if it is still at that version.
func (r *APIKeys) Delete(ctx context.Context, id string, version *int64) (*APIKey, error) {
	var deleted *APIKey
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		repo := &APIKeys{db: tx}
		k, err := repo.Get(ctx, id)
		if err != nil {
			return err
		}
		del := tx.Where("id = ? AND version = ?", id, k.Version)
		if version != nil && *version != k.Version {
			return ErrVersionMismatch
		}
		res := del.Delete(&APIKey{})
		if res.Error != nil {
			return fmt.Errorf("delete api key %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return repo.missOrStale(ctx, id)
		}
		deleted = k
		return nil
	})
	return deleted, err
}

// missOrStale explains why a guarded write touched no row.
func (r *APIKeys) missOrStale(ctx context.Context, id string) error {
	if _, err := r.Get(ctx, id); err != nil {
		return err
	}
	return ErrVersionMismatch
}
