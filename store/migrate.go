package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migration is one versioned schema change. Its DDL is written once for both
// databases; the {{…}} placeholders expand to each dialect's column types.
type migration struct {
	version int
	name    string
	ddl     []string
}

// migrations is the schema's history. Append only: a released migration never changes.
var migrations = []migration{
	{1, "api keys and settings", []string{
		`CREATE TABLE api_keys (
			id            VARCHAR(24) PRIMARY KEY,
			client_id     VARCHAR(40) NOT NULL,
			secret_digest {{bytes}} NOT NULL,
			secret_sealed {{bytes}} NOT NULL,
			is_active     {{bool}} NOT NULL,
			created_at    {{time}} NOT NULL,
			updated_at    {{time}} NOT NULL,
			name          VARCHAR(200) NOT NULL,
			description   TEXT,
			user_name     VARCHAR(200),
			device_name   VARCHAR(200),
			permissions   TEXT NOT NULL,
			version       BIGINT NOT NULL
		)`,
		`CREATE UNIQUE INDEX api_keys_client_id ON api_keys (client_id)`,
		`CREATE UNIQUE INDEX api_keys_secret_digest ON api_keys (secret_digest)`,
		`CREATE INDEX api_keys_created_at ON api_keys (created_at, id)`,
		`CREATE INDEX api_keys_name ON api_keys (name, id)`,
		`CREATE TABLE settings (
			name       VARCHAR(100) PRIMARY KEY,
			value      TEXT NOT NULL,
			updated_at {{time}} NOT NULL
		)`,
	}},
}

var columnTypes = map[Dialect]*strings.Replacer{
	Postgres: strings.NewReplacer("{{bytes}}", "BYTEA", "{{bool}}", "BOOLEAN", "{{time}}", "TIMESTAMPTZ"),
	SQLite:   strings.NewReplacer("{{bytes}}", "BLOB", "{{bool}}", "BOOLEAN", "{{time}}", "DATETIME"),
}

// schemaMigration records an applied migration in the database itself, so that
// every replica agrees on the schema version.
type schemaMigration struct {
	Version   int `gorm:"primaryKey;autoIncrement:false"`
	Name      string
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// migrate applies pending migrations, each in its own transaction. On
// PostgreSQL an advisory lock keeps replicas starting together from racing.
func (s *Store) migrate(ctx context.Context, log *slog.Logger) error {
	db := s.db.WithContext(ctx)
	if err := db.Migrator().AutoMigrate(&schemaMigration{}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		applied := false
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == Postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(0x6b6579706c616e)).Error; err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range m.ddl {
				if err := tx.Exec(columnTypes[s.dialect].Replace(stmt)).Error; err != nil {
					return err
				}
			}
			applied = true
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if applied && log != nil {
			log.Info("applied migration", "version", m.version, "name", m.name, "dialect", s.dialect)
		}
	}
	return nil
}
