package storetest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyplane/keyplane/store"
)

// Table is rows for one table: the baseline of a bulk-write benchmark.
type Table struct {
	Name    string
	Columns []string
	Rows    [][]any
}

// WriteRows writes the tables' rows by hand in one transaction, the fastest
// way each database offers: pgx CopyFrom on PostgreSQL, one prepared
// single-row INSERT per table executed per row on SQLite. Benchmarks
// compare the store's bulk writes with it in the same run.
func WriteRows(ctx context.Context, st *store.Store, tables ...Table) error {
	db, err := st.SQLDB()
	if err != nil {
		return err
	}
	if st.Dialect() != store.Postgres {
		return insertRows(ctx, st, tables)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		tx, err := dc.(*stdlib.Conn).Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		for _, t := range tables {
			if len(t.Rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Columns, pgx.CopyFromRows(t.Rows)); err != nil {
				return fmt.Errorf("copy into %s: %w", t.Name, err)
			}
		}
		return tx.Commit(ctx)
	})
}

func insertRows(ctx context.Context, st *store.Store, tables []Table) error {
	db, err := st.SQLDB()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, t := range tables {
		if len(t.Rows) == 0 {
			continue
		}
		q := "INSERT INTO " + t.Name + " (" + strings.Join(t.Columns, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(t.Columns)), ", ") + ")"
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range t.Rows {
			if _, err := stmt.ExecContext(ctx, r...); err != nil {
				stmt.Close()
				return fmt.Errorf("insert into %s: %w", t.Name, err)
			}
		}
		stmt.Close()
	}
	return tx.Commit()
}
