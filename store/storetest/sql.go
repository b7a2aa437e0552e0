package storetest

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/store"
)

// Exec runs a raw statement written with ? placeholders on either database,
// for tests that arrange state no API offers (a time in the past, a row of
// another component).
func Exec(tb testing.TB, st *store.Store, query string, args ...any) sql.Result {
	tb.Helper()
	db, err := st.SQLDB()
	if err != nil {
		tb.Fatal(err)
	}
	res, err := db.ExecContext(tb.Context(), rebind(st, query), args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return res
}

// QueryInt runs a raw query with ? placeholders that returns one integer.
func QueryInt(tb testing.TB, st *store.Store, query string, args ...any) int64 {
	tb.Helper()
	db, err := st.SQLDB()
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	if err := db.QueryRowContext(tb.Context(), rebind(st, query), args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(st *store.Store, query string) string {
	if st.Dialect() != store.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
