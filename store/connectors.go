package store

import (
	"context"
	"time"
)

// OutputConnector is where samples go: a webhook. Its secrets (bearer token,
// basic password, auth headers, and the key that signs deliveries) are kept
// sealed in SecretsSealed; Properties holds the rest as JSON.
type OutputConnector struct {
	ID            string `gorm:"primaryKey"`
	Placement     `gorm:"embedded"`
	Name          string
	Type          string // WEBHOOK
	Scope         string // DATA_FLOW or RULE_ACTION
	Properties    string // JSON, secrets removed
	SecretsSealed []byte
	Version       int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ConnectorFields are the sortable fields of connector pages.
var ConnectorFields = OrganizationFields

// Connectors is the repository of output connectors.
type Connectors struct {
	inWorkspace[OutputConnector]
}

// ByID returns the connectors among ids, by id.
func (r *Connectors) ByID(ctx context.Context, ids []string) (map[string]OutputConnector, error) {
	return rowsByID[OutputConnector](ctx, r.db, ids, func(c *OutputConnector) string { return c.ID })
}

// Create inserts c with a new id.
func (r *Connectors) Create(ctx context.Context, c *OutputConnector) error {
	return insertNew(ctx, r.db, c, "09", func(id string, at time.Time) { c.ID, c.Version, c.CreatedAt, c.UpdatedAt = id, 1, at, at })
}

// Update writes the connector's name, scope, properties and secrets; with a
// version, only if it is still at it.
func (r *Connectors) Update(ctx context.Context, c *OutputConnector, version *int64) (*OutputConnector, error) {
	return updateAt(ctx, r.db, c, c.ID, version, func(next int64) { c.Version, c.UpdatedAt = next, now() },
		"name", "scope", "properties", "secrets_sealed")
}

// Delete removes the connector and its pending deliveries.
func (r *Connectors) Delete(ctx context.Context, id string) error {
	_, err := remove[OutputConnector](ctx, r.db, "id", id, nil)
	return err
}

// NewConnectorID returns a fresh output connector id. A connector's secrets
// are sealed with its id as additional data, so the id exists before the
// row: seal, then CreateWithID.
func NewConnectorID() (string, error) { return newID("09") }

// CreateWithID inserts c under the id it already holds (from
// NewConnectorID); an id taken meanwhile is ErrConflict.
func (r *Connectors) CreateWithID(ctx context.Context, c *OutputConnector) error {
	c.Version, c.CreatedAt, c.UpdatedAt = 1, now(), now()
	return insert(ctx, r.db, c)
}
