package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// OutputConnector is where samples go: a webhook. Its secrets (bearer token,
// basic password, auth headers, and the key that signs deliveries) are kept
// sealed in SecretsSealed; Properties holds the rest as JSON.
type OutputConnector struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	WorkspaceID    string
	Name           string
	Type           string // WEBHOOK
	Scope          string // DATA_FLOW or RULE_ACTION
	Properties     string // JSON, secrets removed
	SecretsSealed  []byte
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Rule is a COMPARISON rule over the samples of its input devices. Inputs,
// Logic and Actions are kept as the JSON of the wire format; RuleInput rows
// index the input devices, so a sample finds its rules with one lookup.
type Rule struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	WorkspaceID    string
	Name           string
	Description    *string
	Active         bool
	Inputs         string // JSON
	Logic          string // JSON
	Actions        string // JSON
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RuleInput says that a rule reads a device's samples.
type RuleInput struct {
	RuleID   string `gorm:"primaryKey"`
	DeviceID string `gorm:"primaryKey"`
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

// ConnectorFields and RuleFields are the sortable fields of their pages.
var (
	ConnectorFields = OrganizationFields
	RuleFields      = OrganizationFields
)

// Connectors is the repository of output connectors, rules and deliveries.
type Connectors struct {
	db      *gorm.DB
	dialect Dialect
}

// List returns a page of the workspace's connectors.
func (r *Connectors) List(ctx context.Context, workspaceID string, q ndata.Query, search string) ([]OutputConnector, int64, error) {
	return list[OutputConnector](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return nameSearch(db.Where("workspace_id = ?", workspaceID), search)
	})
}

// Get returns the connector id, or ErrNotFound.
func (r *Connectors) Get(ctx context.Context, id string) (*OutputConnector, error) {
	return first[OutputConnector](ctx, r.db, "id = ?", id)
}

// ByID returns the connectors among ids, by id.
func (r *Connectors) ByID(ctx context.Context, ids []string) (map[string]OutputConnector, error) {
	return rowsByID[OutputConnector](ctx, r.db, ids, func(c *OutputConnector) string { return c.ID })
}

// Create inserts c with a new id.
func (r *Connectors) Create(ctx context.Context, c *OutputConnector) error {
	id, err := newID("09")
	if err != nil {
		return err
	}
	c.ID, c.Version, c.CreatedAt, c.UpdatedAt = id, 1, now(), now()
	return insert(ctx, r.db, c)
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

// ListRules returns a page of the workspace's rules.
func (r *Connectors) ListRules(ctx context.Context, workspaceID string, q ndata.Query, search string) ([]Rule, int64, error) {
	return list[Rule](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return nameSearch(db.Where("workspace_id = ?", workspaceID), search)
	})
}

// GetRule returns the rule id, or ErrNotFound.
func (r *Connectors) GetRule(ctx context.Context, id string) (*Rule, error) {
	return first[Rule](ctx, r.db, "id = ?", id)
}

// CreateRule inserts the rule with a new id and indexes its input devices.
func (r *Connectors) CreateRule(ctx context.Context, rule *Rule, deviceIDs []string) error {
	id, err := newID("21")
	if err != nil {
		return err
	}
	rule.ID, rule.Version, rule.CreatedAt, rule.UpdatedAt = id, 1, now(), now()
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insert(ctx, tx, rule); err != nil {
			return err
		}
		return r.indexInputs(ctx, tx, rule.ID, deviceIDs)
	})
}

// UpdateRule writes the rule and re-indexes its input devices; with a
// version, only if it is still at it.
func (r *Connectors) UpdateRule(ctx context.Context, rule *Rule, deviceIDs []string, version *int64) (*Rule, error) {
	var out *Rule
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = updateAt(ctx, tx, rule, rule.ID, version, func(next int64) { rule.Version, rule.UpdatedAt = next, now() },
			"name", "description", "active", "inputs", "logic", "actions")
		if err != nil {
			return err
		}
		if err := tx.Where("rule_id = ?", rule.ID).Delete(&RuleInput{}).Error; err != nil {
			return err
		}
		return r.indexInputs(ctx, tx, rule.ID, deviceIDs)
	})
	return out, err
}

func (r *Connectors) indexInputs(ctx context.Context, tx *gorm.DB, ruleID string, deviceIDs []string) error {
	seen := map[string]bool{}
	for _, d := range deviceIDs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := insert(ctx, tx, &RuleInput{RuleID: ruleID, DeviceID: d}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteRule removes the rule.
func (r *Connectors) DeleteRule(ctx context.Context, id string) error {
	_, err := remove[Rule](ctx, r.db, "id", id, nil)
	return err
}

// ActiveRulesFor returns the active rules that read the device's samples.
func (r *Connectors) ActiveRulesFor(ctx context.Context, deviceID string) ([]Rule, error) {
	var rules []Rule
	err := r.db.WithContext(ctx).Where("active = ? AND id IN (?)", true,
		r.db.Model(&RuleInput{}).Select("rule_id").Where("device_id = ?", deviceID)).Find(&rules).Error
	return rules, err
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
