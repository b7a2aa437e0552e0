package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Names of the settings keyplane keeps.
const (
	// SettingRootTokenDigest is the hex SHA-256 of the root token.
	SettingRootTokenDigest = "root_token_sha256"
	// SettingSecretKeyCheck is a check value of the secret key that sealed
	// the database's secrets (never the key), so that a replica started with
	// another key refuses to start instead of failing every HMAC request.
	SettingSecretKeyCheck = "secret_key_check"
)

// setting is one row of the settings table.
type setting struct {
	Name      string `gorm:"primaryKey"`
	Value     string
	UpdatedAt time.Time
}

func (setting) TableName() string { return "settings" }

// Settings stores named values of the service itself, such as the digest of
// the root token, so that they survive restarts and are shared by replicas.
type Settings struct {
	db *gorm.DB
}

// Get returns the value of name, or ErrNotFound.
func (s *Settings) Get(ctx context.Context, name string) (string, error) {
	var row setting
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get setting %s: %w", name, err)
	}
	return row.Value, nil
}

// Put stores value under name, replacing any previous value.
func (s *Settings) Put(ctx context.Context, name, value string) error {
	row := setting{Name: name, Value: value, UpdatedAt: time.Now().UTC()}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("put setting %s: %w", name, err)
	}
	return nil
}

// Claim stores value under name unless a value is there already, and returns
// the value that is stored: of replicas starting together, the first one's
// value wins and every one of them learns it.
func (s *Settings) Claim(ctx context.Context, name, value string) (string, error) {
	row := setting{Name: name, Value: value, UpdatedAt: time.Now().UTC()}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return "", fmt.Errorf("claim setting %s: %w", name, err)
	}
	return s.Get(ctx, name)
}
