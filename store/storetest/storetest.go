// Package storetest opens real databases for tests: a fresh PostgreSQL schema
// per test (so tests run in parallel without seeing each other) and a fresh
// SQLite file per test. There is no mocked database.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema setup

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
)

// DefaultPostgresURL is the machine's PostgreSQL; KEYPLANE_TEST_POSTGRES_URL overrides it.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Backends lists the databases every store test runs against.
var Backends = []store.Dialect{store.Postgres, store.SQLite}

// Each runs fn as a parallel subtest once per backend, each with its own empty,
// migrated store.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, b))
		})
	}
}

// Open returns a migrated store on a fresh database of the given dialect,
// dropped when the test ends. Without PostgreSQL the test is skipped locally
// and fails in CI (CI=true), where a missing database is a broken setup.
func Open(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	dsn := DSN(t, d)
	st, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// DSN creates a fresh database for the test and returns its connection string.
func DSN(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "keyplane.db")
	}
	base := os.Getenv("KEYPLANE_TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("PostgreSQL not reachable at %s: %v", base, err)
	}
	suffix, err := auth.RandomHex(6)
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_" + suffix
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return fmt.Sprint(u)
}
