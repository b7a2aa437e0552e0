package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// The generic helpers below are the one implementation of the reads and
// versioned writes that every repository shares, so that "not found",
// "stale version" and "already exists" mean the same everywhere.

// now is the store's clock: UTC, at the millisecond precision the wire
// formats show, so a value reads back exactly as it was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// first returns the row of T matching the condition, or ErrNotFound.
func first[T any](ctx context.Context, db *gorm.DB, query string, args ...any) (*T, error) {
	return take[T](db.WithContext(ctx).Where(query, args...))
}

// take runs q for one row of T (a query that may join and select more than
// T's table), mapping no row to ErrNotFound.
func take[T any](q *gorm.DB) (*T, error) {
	var v T
	err := q.Take(&v).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %T: %w", v, err)
	}
	return &v, nil
}

// scanRow runs a hand-written single-row read straight on the connection
// pool and scans it into dst; no row is ErrNotFound. The hottest reads use
// it: GORM's statement building and reflective scan were a third of a GET's
// server CPU (BenchmarkRequest). Placeholders are $1, $2…, which PostgreSQL
// and SQLite both take; columns scan into the model's own field types, so a
// value reads back as through GORM. On PostgreSQL the row is read by pgx
// itself, on a connection of the same pool: database/sql's conversion of
// every column to a driver value and back was 26 of the 112 allocations of
// a GET organization.
func scanRow(ctx context.Context, db *gorm.DB, query string, args []any, dst ...any) error {
	var err error
	if pool, ok := pgxPool(db); ok {
		err = withPgx(ctx, pool, func(c *pgx.Conn) error { return c.QueryRow(ctx, query, args...).Scan(dst...) })
	} else {
		err = db.Statement.ConnPool.QueryRowContext(ctx, query, args...).Scan(dst...)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// pgxPool is db's pool when its connections are pgx's (PostgreSQL, and
// not inside a transaction).
func pgxPool(db *gorm.DB) (*sql.DB, bool) {
	pool, ok := db.Statement.ConnPool.(*sql.DB)
	if !ok {
		return nil, false
	}
	_, ok = pool.Driver().(*stdlib.Driver)
	return pool, ok
}

// withPgx runs fn on a pgx connection taken from pool (and given back);
// pgx scans into the same destinations, sql.Scanner ones included.
func withPgx(ctx context.Context, pool *sql.DB, fn func(*pgx.Conn) error) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return fn(dc.(*stdlib.Conn).Conn()) })
}

// inList is the IN list of a hand-written statement for values, numbered
// from parameter $first ("$first, $first+1, …"), and its arguments.
func inList(first int, values []string) (string, []any) {
	var b strings.Builder
	args := make([]any, len(values))
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
		args[i] = v
	}
	return b.String(), args
}

// rowScanner is a row of an answer: *sql.Rows, or pgx.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// rowSet is an answer's rows, as *sql.Rows and pgx.Rows both are.
type rowSet interface {
	rowScanner
	Next() bool
	Err() error
}

// queryRows runs a hand-written statement on the pool and scans each row
// of its answer with scan; on PostgreSQL through pgx itself, as scanRow.
func queryRows(ctx context.Context, db *gorm.DB, query string, args []any, scan func(rowScanner) error) error {
	pool, ok := pgxPool(db)
	if !ok {
		rows, err := db.Statement.ConnPool.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanEach(rows, scan)
	}
	return withPgx(ctx, pool, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanEach(rows, scan)
	})
}

// scanEach calls scan for each row of rows; the first error of either ends
// it. The caller closes rows.
func scanEach(rows rowSet, scan func(rowScanner) error) error {
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// list returns one page of the rows of T matching q and the number of
// matches; with q.Count it only counts; with q.SkipTotal it does not count
// (UnknownTotal). scope narrows the rows before q
// applies (e.g. to one organization); nil means all rows.
func list[T any](ctx context.Context, db *gorm.DB, q ndata.Query, scope func(*gorm.DB) *gorm.DB) ([]T, int64, error) {
	return countedList[T](ctx, db, q, scope, nil)
}

// countedList is list whose total comes from counted when it knows it
// (counted reports whether it knows the total of the scope under the
// query's filters: a row counter kept by triggers), so that a page the
// counters cover does not count its rows.
func countedList[T any](ctx context.Context, db *gorm.DB, q ndata.Query, scope func(*gorm.DB) *gorm.DB,
	counted func(context.Context, *gorm.DB, []ndata.Filter) (int64, bool, error)) ([]T, int64, error) {
	var zero T
	base := db.WithContext(ctx).Model(&zero)
	if scope != nil {
		base = scope(base)
	}
	base = q.Where(base)
	if q.SkipTotal && !q.Count {
		// Uncounted: one row more than the page tells whether another follows.
		var rows []T
		if q.Take > 0 {
			more := q
			more.Take++
			var err error
			if rows, err = find[T](more.Page(base.Session(&gorm.Session{}))); err != nil {
				return nil, 0, fmt.Errorf("list %T: %w", zero, err)
			}
		}
		return rows, UnknownTotal, nil
	}
	total, known := int64(0), false
	if counted != nil {
		var err error
		if total, known, err = counted(ctx, db, q.Filters); err != nil {
			return nil, 0, fmt.Errorf("count %T: %w", zero, err)
		}
	}
	if !known {
		if err := countFiltered(base.Session(&gorm.Session{}), &total); err != nil {
			return nil, 0, fmt.Errorf("count %T: %w", zero, err)
		}
	}
	if q.Count || total == 0 || q.Take <= 0 || int64(q.Skip) >= total {
		return nil, total, nil
	}
	rows, err := find[T](q.Page(base.Session(&gorm.Session{})))
	if err != nil {
		return nil, 0, fmt.Errorf("list %T: %w", zero, err)
	}
	return rows, total, nil
}

// scanned is a model that names its columns and the fields they scan into,
// so that its pages are read without reflection (for a 25-device page,
// GORM's reflective scan was a third of the store's CPU).
type scanned interface {
	selectColumns() string
	columns() []any
}

// find runs q for the rows of T: scanned by hand when *T is scanned,
// through GORM otherwise.
func find[T any](q *gorm.DB) ([]T, error) {
	var zero T
	s, ok := any(&zero).(scanned)
	if !ok {
		var rows []T
		err := q.Find(&rows).Error
		return rows, err
	}
	rows, err := q.Select(s.selectColumns()).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	err = scanEach(rows, func(rows rowScanner) error {
		var v T
		if err := rows.Scan(any(&v).(scanned).columns()...); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// countFiltered counts the rows of q. On PostgreSQL the count is planned for
// its values (plan_cache_mode = force_custom_plan, for this transaction only):
// pgx prepares each statement, and after five executions PostgreSQL may
// switch to a generic plan that cannot see the filter's values; for filtered
// counts over 100k keys that plan was measured 1.4× slower than planning
// each time (BenchmarkAPIKeysList), far more than the three statements the
// transaction adds. Single-row reads keep their cached plans.
func countFiltered(q *gorm.DB, total *int64) error {
	if q.Dialector.Name() != "postgres" {
		return q.Count(total).Error
	}
	return q.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET LOCAL plan_cache_mode = force_custom_plan").Error; err != nil {
			return err
		}
		return tx.Count(total).Error
	})
}

// rowCounts sums the counters name of keys (migration 9 keeps them).
func rowCounts(ctx context.Context, db *gorm.DB, name string, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	in, args := inList(2, keys)
	var n int64
	err := scanRow(ctx, db, `SELECT COALESCE(SUM(n), 0) FROM row_counts WHERE name = $1 AND key IN (`+in+`)`, append([]any{name}, args...), &n)
	return n, err
}

// inWorkspace is the reading half of the repository of a resource that
// lives in a workspace (tags, data flows, device types, connectors, rules):
// each repository embeds it for List and Get, and writes its own rows.
type inWorkspace[T any] struct {
	db *gorm.DB
}

// List returns a page of the workspace's rows whose name contains search
// ("" any).
func (r *inWorkspace[T]) List(ctx context.Context, workspaceID string, q ndata.Query, search string) ([]T, int64, error) {
	return list[T](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return nameSearch(db.Where("workspace_id = ?", workspaceID), search)
	})
}

// Get returns the row id, or ErrNotFound.
func (r *inWorkspace[T]) Get(ctx context.Context, id string) (*T, error) {
	return first[T](ctx, r.db, "id = ?", id)
}

// UnknownTotal is the total of a list read with ndata.Query.SkipTotal; its
// rows then hold one more than the page when another page follows.
const UnknownTotal = -1

// insert creates v; a unique-key violation is ErrConflict.
func insert(ctx context.Context, db *gorm.DB, v any) error {
	err := db.WithContext(ctx).Create(v).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrConflict
	}
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return ErrReferenceGone
	}
	if err != nil {
		return fmt.Errorf("create %T: %w", v, err)
	}
	return nil
}

// stampNew gives a new row of a resource its identity: stamp writes to it a
// new id with prefix (newID) and the time it is created, which is also its
// first update (the caller sets version 1 with them).
func stampNew(prefix string, stamp func(id string, at time.Time)) error {
	id, err := newID(prefix)
	if err != nil {
		return err
	}
	stamp(id, now())
	return nil
}

// insertNew inserts v, a new row, after stampNew (prefix, stamp) gave it its
// identity.
func insertNew(ctx context.Context, db *gorm.DB, v any, prefix string, stamp func(id string, at time.Time)) error {
	if err := stampNew(prefix, stamp); err != nil {
		return err
	}
	return insert(ctx, db, v)
}

// updateVersion writes the columns of v to the row key = id, provided it is
// still at version (nil: any version), and bumps its version. The compare and
// the write are one statement, so of two writers from one version exactly one
// wins. Zero rows affected is ErrNotFound or ErrVersionMismatch.
func updateVersion[T any](ctx context.Context, db *gorm.DB, v *T, key, id string, version *int64, columns ...string) error {
	q := db.WithContext(ctx).Model(v).Where(key+" = ?", id)
	if version != nil {
		q = q.Where("version = ?", *version)
	}
	res := q.Select(append(columns, "version", "updated_at")).Updates(v)
	if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
		return ErrConflict
	}
	if res.Error != nil {
		return fmt.Errorf("update %T %s: %w", v, id, res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := first[T](ctx, db, key+" = ?", id); err != nil {
			return err
		}
		return ErrVersionMismatch
	}
	return nil
}

// updateAt is updateVersion for akenza resources, whose version is optional:
// without one the update applies to whatever version is current. stamp sets
// the new version (and update time) on v before the write. It returns the row
// as stored.
func updateAt[T any](ctx context.Context, db *gorm.DB, v *T, id string, version *int64, stamp func(next int64), columns ...string) (*T, error) {
	if version == nil {
		var current []int64
		if err := db.WithContext(ctx).Model(new(T)).Where("id = ?", id).Pluck("version", &current).Error; err != nil {
			return nil, fmt.Errorf("read version of %T %s: %w", v, id, err)
		}
		if len(current) == 0 {
			return nil, ErrNotFound
		}
		version = &current[0]
	}
	stamp(*version + 1)
	if err := updateVersion(ctx, db, v, "id", id, version, columns...); err != nil {
		return nil, err
	}
	return first[T](ctx, db, "id = ?", id)
}

// remove deletes the row key = id of T and returns it as it was; with a
// version, only if the row is still at it. Of concurrent removals one wins;
// the others find the row gone (ErrNotFound), not a version mismatch.
func remove[T any](ctx context.Context, db *gorm.DB, key, id string, version *int64) (*T, error) {
	var deleted *T
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row, err := first[T](ctx, tx, key+" = ?", id)
		if err != nil {
			return err
		}
		q := tx.Where(key+" = ?", id)
		if version != nil {
			q = q.Where("version = ?", *version)
		}
		res := q.Delete(new(T))
		if res.Error != nil {
			return fmt.Errorf("delete %T %s: %w", row, id, res.Error)
		}
		if res.RowsAffected == 0 { // deleted or changed since it was read
			if version == nil {
				return ErrNotFound
			}
			if _, err := first[T](ctx, tx, key+" = ?", id); err != nil {
				return err
			}
			return ErrVersionMismatch
		}
		deleted = row
		return nil
	})
	return deleted, err
}

// removeAnnounced is remove (without a version) in a transaction of c that
// announces changed: the deletion of a row that principals are made of (a
// user, a role), which every replica must hear of.
func removeAnnounced[T any](ctx context.Context, c *Changes, key, id string, changed []Change) (*T, error) {
	var deleted *T
	err := c.within(ctx, func(tx *gorm.DB) ([]Change, error) {
		var err error
		deleted, err = remove[T](ctx, tx, key, id, nil)
		return changed, err
	})
	return deleted, err
}
