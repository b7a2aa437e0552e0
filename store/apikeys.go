package store

import (
	"context"
	"errors"
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
// HMAC verifier (AES-GCM, sealed by the auth package). After a rotation the
// previous secret keeps both forms until PrevSecretExpiresAt.
type APIKey struct {
	ID                  string `gorm:"primaryKey"`
	ClientID            string
	SecretDigest        []byte
	SecretSealed        []byte
	PrevSecretDigest    []byte
	PrevSecretSealed    []byte
	PrevSecretExpiresAt *time.Time
	OrganizationID      *string
	IsActive            bool
	ExpiresAt           *time.Time
	LastUsedAt          *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	Name                string
	Description         *string
	// UserID is the user the key acts as; UserName is that user's name as
	// shown on the wire, kept in step when the user is renamed. The key is
	// bound to the id: deleting the user deletes the key, and a new user
	// with the same name inherits nothing.
	UserID      *string
	UserName    *string
	DeviceName  *string
	Permissions []Permission `gorm:"serializer:json"`
	// RateLimit and RatePeriod (seconds) are the key's own request
	// allowance, both set or both nil (then its organization's applies).
	RateLimit  *int64
	RatePeriod *int64
	Version    int64
	// OrgRateLimit and OrgRatePeriod are the default allowance of the key's
	// organization: Get, BySecretDigest and ByClientID read them in the
	// key's own statement (see Allowance).
	OrgRateLimit  *int64 `gorm:"->"`
	OrgRatePeriod *int64 `gorm:"->"`
}

// Allowance is the key's request allowance: its own, else its
// organization's default (as read with the key); ok is false when neither
// has one.
func (k *APIKey) Allowance() (limit, periodSeconds int64, ok bool) {
	switch {
	case k.RateLimit != nil && k.RatePeriod != nil:
		return *k.RateLimit, *k.RatePeriod, true
	case k.OrgRateLimit != nil && k.OrgRatePeriod != nil:
		return *k.OrgRateLimit, *k.OrgRatePeriod, true
	}
	return 0, 0, false
}

// APIKeyFields is the NData schema of GET /apikeys: every field of the wire
// format except the secret can filter and sort.
var APIKeyFields = ndata.Schema{
	Fields: map[string]ndata.Field{
		"id":             {Column: "id", Kind: ndata.String, Sortable: true},
		"clientId":       {Column: "client_id", Kind: ndata.String, Sortable: true},
		"organizationId": {Column: "organization_id", Kind: ndata.String, Sortable: true, Nullable: true},
		"isActive":       {Column: "is_active", Kind: ndata.Bool, Sortable: true},
		"createdAt":      {Column: "created_at", Kind: ndata.Time, Sortable: true},
		"expiresAt":      {Column: "expires_at", Kind: ndata.Time, Sortable: true, Nullable: true},
		"lastUsedAt":     {Column: "last_used_at", Kind: ndata.Time, Sortable: true, Nullable: true},
		"name":           {Column: "name", Kind: ndata.String, Sortable: true},
		"description":    {Column: "description", Kind: ndata.String, Sortable: true, Nullable: true},
		"userName":       {Column: "user_name", Kind: ndata.String, Sortable: true, Nullable: true},
		"deviceName":     {Column: "device_name", Kind: ndata.String, Sortable: true, Nullable: true},
		"_v":             {Column: "version", Kind: ndata.Int, Sortable: true},
	},
	TieBreak: "id",
}

// apiKeyWritable are the columns a PUT replaces.
var apiKeyWritable = []string{"name", "description", "user_id", "user_name", "device_name", "is_active", "permissions", "organization_id", "expires_at", "rate_limit", "rate_period"}

// APIKeys is the repository of API keys.
type APIKeys struct {
	db      *gorm.DB
	changes *Changes
}

// ErrPreviousSecretInGrace means a rotation would end an earlier secret's
// grace period, which must never happen silently.
var ErrPreviousSecretInGrace = errors.New("the previous secret is still in its grace period")

// KeyFilter narrows a key listing to what the caller may see: nil means all
// keys; otherwise keys of these organizations, plus platform keys (no
// organization) when Platform is set.
type KeyFilter struct {
	Organizations []string
	Platform      bool
}

// List returns one page of the keys matching q (within f), and how many match
// in all. With q.Count set it only counts.
func (r *APIKeys) List(ctx context.Context, q ndata.Query, f *KeyFilter) ([]APIKey, int64, error) {
	var scope func(*gorm.DB) *gorm.DB
	if f != nil {
		scope = func(db *gorm.DB) *gorm.DB {
			switch {
			case f.Platform && len(f.Organizations) > 0:
				return db.Where("organization_id IN ? OR organization_id IS NULL", f.Organizations)
			case f.Platform:
				return db.Where("organization_id IS NULL")
			case len(f.Organizations) > 0:
				return db.Where("organization_id IN ?", f.Organizations)
			default:
				return db.Where("1 = 0")
			}
		}
	}
	return countedList[APIKey](ctx, r.db, q, scope, f.counted)
}

// counted is the total of a key list from the row counters: all keys, or
// the keys of some organizations (platform keys are not counted apart),
// unfiltered or filtered on isActive alone (inactive: all less active).
func (f *KeyFilter) counted(ctx context.Context, db *gorm.DB, filters []ndata.Filter) (int64, bool, error) {
	var scope string
	var keys []string
	switch {
	case f == nil:
		scope, keys = "all", []string{""}
	case !f.Platform && len(f.Organizations) > 0:
		scope, keys = "organization", f.Organizations
	default:
		return 0, false, nil
	}
	if len(filters) == 0 {
		n, err := rowCounts(ctx, db, "api_keys."+scope, keys)
		return n, err == nil, err
	}
	active, only := activeFilter(filters)
	if !only {
		return 0, false, nil
	}
	n, err := rowCounts(ctx, db, "api_keys.active."+scope, keys)
	if err != nil || active {
		return n, err == nil, err
	}
	total, err := rowCounts(ctx, db, "api_keys."+scope, keys)
	return total - n, err == nil, err
}

// activeFilter reports whether filters are the one filter isActive equal to
// a value, and that value.
func activeFilter(filters []ndata.Filter) (active, only bool) {
	if len(filters) != 1 || filters[0].Column != "is_active" || filters[0].Op != ndata.OpEq || len(filters[0].Values) != 1 {
		return false, false
	}
	active, only = filters[0].Values[0].(bool)
	return active, only
}

// Get returns the key with id, or ErrNotFound.
func (r *APIKeys) Get(ctx context.Context, id string) (*APIKey, error) {
	return r.one(ctx, "api_keys.id = ?", id)
}

// one is the key matching the condition, with its organization's default
// allowance, or ErrNotFound.
func (r *APIKeys) one(ctx context.Context, query string, args ...any) (*APIKey, error) {
	return take[APIKey](r.db.WithContext(ctx).Table("api_keys").
		Select("api_keys.*, organizations.rate_limit AS org_rate_limit, organizations.rate_period AS org_rate_period").
		Joins("LEFT JOIN organizations ON organizations.id = api_keys.organization_id").
		Where(query, args...))
}

// BySecretDigest finds the key whose current secret, or previous secret still
// in its grace period, has this SHA-256 digest: one indexed lookup, no scan.
func (r *APIKeys) BySecretDigest(ctx context.Context, digest []byte, at time.Time) (*APIKey, error) {
	return r.one(ctx, "api_keys.secret_digest = ? OR (api_keys.prev_secret_digest = ? AND api_keys.prev_secret_expires_at > ?)", digest, digest, at)
}

// ByClientID finds a key by its public HMAC credential.
func (r *APIKeys) ByClientID(ctx context.Context, clientID string) (*APIKey, error) {
	return r.one(ctx, "api_keys.client_id = ?", clientID)
}

// Create inserts k at version 1. A key with the same id (or, impossibly, the
// same clientId or secret) makes it fail with ErrConflict.
func (r *APIKeys) Create(ctx context.Context, k *APIKey) error {
	k.CreatedAt, k.UpdatedAt, k.Version = now(), now(), 1
	return insert(ctx, r.db, k)
}

// Update replaces the writable fields of the key k.ID, provided it is still at
// version; of two concurrent updates from the same version exactly one wins,
// the other gets ErrVersionMismatch. It returns the key as stored.
func (r *APIKeys) Update(ctx context.Context, k *APIKey, version int64) (*APIKey, error) {
	k.Version, k.UpdatedAt = version+1, now()
	err := r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		return keyChanged(k.ID), updateVersion(ctx, tx, k, "id", k.ID, &version, apiKeyWritable...)
	})
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, k.ID)
}

// Rotate replaces the key's secret, keeping the current one as the previous
// secret until graceUntil (a time not after now revokes it at once). There is
// one previous secret: while an earlier one is still in its grace period the
// rotation fails with ErrPreviousSecretInGrace, unless endGrace says to end
// that grace now. Concurrent rotations serialize on the key's version: one
// wins, the others get ErrVersionMismatch, so every rotation that succeeds
// hands out a secret that works.
func (r *APIKeys) Rotate(ctx context.Context, id string, digest, sealed []byte, graceUntil time.Time, endGrace bool) (*APIKey, error) {
	err := r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		k, err := first[APIKey](ctx, tx, "id = ?", id)
		if err != nil {
			return nil, err
		}
		if k.PrevSecretExpiresAt != nil && k.PrevSecretExpiresAt.After(time.Now()) && !endGrace {
			return nil, ErrPreviousSecretInGrace
		}
		next := &APIKey{ID: id, SecretDigest: digest, SecretSealed: sealed,
			PrevSecretDigest: k.SecretDigest, PrevSecretSealed: k.SecretSealed, PrevSecretExpiresAt: &graceUntil,
			Version: k.Version + 1, UpdatedAt: now()}
		return keyChanged(id), updateVersion(ctx, tx, next, "id", id, &k.Version,
			"secret_digest", "secret_sealed", "prev_secret_digest", "prev_secret_sealed", "prev_secret_expires_at")
	})
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, id)
}

// Delete removes the key id and returns it as it was. When version is not nil
// the key is removed only if it is still at that version.
func (r *APIKeys) Delete(ctx context.Context, id string, version *int64) (*APIKey, error) {
	var deleted *APIKey
	err := r.changes.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		var err error
		deleted, err = remove[APIKey](ctx, tx, "id", id, version)
		return keyChanged(id), err
	})
	return deleted, err
}

func keyChanged(id string) []Change { return []Change{{Kind: ChangeKey, ID: id}} }
