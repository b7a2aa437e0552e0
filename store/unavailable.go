package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrSchemaBehind means the database's schema is not at the version this
// binary was built for (another replica migrated it, or nothing did yet).
var ErrSchemaBehind = errors.New("database schema is not at this binary's version")

// Unavailable reports whether err means the database cannot serve now
// rather than that the request is wrong: it is unreachable, the connection
// was refused, lost or terminated, it is read-only or shutting down, or the
// schema is missing. Such a request may succeed when retried later (503),
// and nothing was stored.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),  // insufficient resources
			strings.HasPrefix(pgErr.Code, "57P"), // operator intervention: shutdown, cannot connect now
			pgErr.Code == "25006",                // read-only transaction (a standby, or default_transaction_read_only)
			pgErr.Code == "42P01",                // undefined table: the schema is missing
			pgErr.Code == "3D000",                // the database does not exist
			pgErr.Code == "3F000":                // the schema does not exist
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrSchemaBehind),
		errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	msg := err.Error()
	for _, s := range []string{
		"sql: database is closed", "conn closed", "connection reset", "broken pipe", "unexpected EOF",
		// SQLite: the file is locked past the busy timeout, read-only, failing, or without tables.
		"database is locked", "SQLITE_BUSY", "attempt to write a readonly database", "disk I/O error", "no such table",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// SchemaCurrent checks that the database's schema is at this binary's
// version, for readiness: a replica must not take traffic against a schema it
// does not know.
func (s *Store) SchemaCurrent(ctx context.Context) error {
	var version int
	err := s.db.WithContext(ctx).Model(&schemaMigration{}).Select("COALESCE(MAX(version), 0)").Scan(&version).Error
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if want := migrations[len(migrations)-1].version; version != want {
		return fmt.Errorf("%w: database at %d, binary at %d", ErrSchemaBehind, version, want)
	}
	return nil
}
