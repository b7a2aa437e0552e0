package store

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/rules"
)

// RuleFields are the sortable fields of rule pages.
var RuleFields = OrganizationFields

// Rules is the repository of rules and of the devices they take input from.
type Rules struct {
	inWorkspace[Rule]
}

// Create inserts the rule with a new id and indexes its input devices.
func (r *Rules) Create(ctx context.Context, rule *Rule, deviceIDs []string) error {
	if err := stampNew("21", func(id string, at time.Time) { rule.ID, rule.Version, rule.CreatedAt, rule.UpdatedAt = id, 1, at, at }); err != nil {
		return err
	}
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insert(ctx, tx, rule); err != nil {
			return err
		}
		return r.indexInputs(ctx, tx, rule.ID, deviceIDs)
	})
}

// Update writes the rule and re-indexes its input devices; with a
// version, only if it is still at it.
func (r *Rules) Update(ctx context.Context, rule *Rule, deviceIDs []string, version *int64) (*Rule, error) {
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

func (r *Rules) indexInputs(ctx context.Context, tx *gorm.DB, ruleID string, deviceIDs []string) error {
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

// Delete removes the rule.
func (r *Rules) Delete(ctx context.Context, id string) error {
	_, err := remove[Rule](ctx, r.db, "id", id, nil)
	return err
}

// ActiveFor returns the active rules that read the device's samples. A rule
// whose stored JSON does not decode is left out and logged: one broken row
// must not keep the device's samples from being stored.
func (r *Rules) ActiveFor(ctx context.Context, deviceID string) ([]Rule, error) {
	rows, err := r.db.WithContext(ctx).Model(&Rule{}).Where("active = ? AND id IN (?)", true,
		r.db.Model(&RuleInput{}).Select("rule_id").Where("device_id = ?", deviceID)).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var rule Rule
		if err := r.db.WithContext(ctx).ScanRows(rows, &rule); err != nil {
			slog.WarnContext(ctx, "rule skipped: its stored JSON does not decode", "rule", rule.ID, "device", deviceID, "err", err)
			continue
		}
		out = append(out, rule)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Rule is a COMPARISON rule over the samples of its input devices. Inputs,
// Logic and Actions are keyplane's model of a rule (package rules), kept as
// their JSON in TEXT columns; RuleInput rows index the input devices, so a
// sample finds its rules with one lookup.
type Rule struct {
	ID          string `gorm:"primaryKey"`
	Placement   `gorm:"embedded"`
	Name        string
	Description *string
	Active      bool
	Inputs      []rules.Input  `gorm:"serializer:json"`
	Logic       rules.Logic    `gorm:"serializer:json"`
	Actions     []rules.Action `gorm:"serializer:json"`
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RuleInput says that a rule reads a device's samples.
type RuleInput struct {
	RuleID   string `gorm:"primaryKey"`
	DeviceID string `gorm:"primaryKey"`
}
