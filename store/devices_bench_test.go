package store_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

// seedDevices adds benchRows devices to d's workspace, in one statement.
var seedDevices = map[store.Dialect]string{
	store.Postgres: `
INSERT INTO devices (id, organization_id, workspace_id, device_id, data_flow_id, name, connectivity, online_timeout,
                     properties, version, created_at, updated_at)
SELECT '02' || substr(md5('dev' || i), 1, 14), $1, $2, 'phys' || i, $3, 'device ' || i, 'HTTP', 3600, '{}', 1, now(), now()
FROM generate_series(1, $4) AS i`,
	store.SQLite: `
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $4)
INSERT INTO devices (id, organization_id, workspace_id, device_id, data_flow_id, name, connectivity, online_timeout,
                     properties, version, created_at, updated_at)
SELECT printf('02%014x', i), $1, $2, 'phys' || i, $3, 'device ' || i, 'HTTP', 3600, '{}', 1,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM n`,
}

// The unfiltered assets page by hand: its rows, and the count a page
// without row counters needs.
const (
	handAssetsCount = `SELECT count(*) FROM devices WHERE workspace_id = $1`
	handAssetsPage  = `SELECT * FROM devices WHERE workspace_id = $1 ORDER BY name, id LIMIT 25`
)

// BenchmarkAssetsPage compares the unfiltered assets page (GET
// /v3/assets?workspaceId=…&size=25&sort=name,asc: 25 rows and the exact
// total) over 100k devices with the same page written by hand, with and
// without its count(*), on both databases. bench/ndata.sh prints the
// ratios.
func BenchmarkAssetsPage(b *testing.B) {
	for _, dialect := range storetest.Backends {
		b.Run(string(dialect), func(b *testing.B) {
			st := storetest.Open(b, dialect)
			d := sampleDevice(b, st)
			ctx := context.Background()
			db, err := st.SQLDB()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, seedDevices[dialect], d.OrganizationID, d.WorkspaceID, d.DataFlowID, benchRows); err != nil {
				b.Fatalf("seed: %v", err)
			}
			if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			q := ndata.Query{Take: 25, Sort: []ndata.Sort{{Column: "name"}}}
			b.Run("keyplane", func(b *testing.B) {
				for b.Loop() {
					rows, total, err := st.Devices.List(ctx, store.AssetFilter{Workspaces: []string{d.WorkspaceID}}, q)
					if err != nil || len(rows) != 25 || total != benchRows+1 {
						b.Fatalf("list: %v, %d rows, total %d", err, len(rows), total)
					}
				}
			})
			b.Run("handsql-count", func(b *testing.B) {
				for b.Loop() {
					var total int64
					if err := db.QueryRowContext(ctx, handAssetsCount, d.WorkspaceID).Scan(&total); err != nil || total != benchRows+1 {
						b.Fatalf("count: %v %d", err, total)
					}
					handPageOfAssets(b, ctx, db, d.WorkspaceID)
				}
			})
			b.Run("handsql-page", func(b *testing.B) {
				for b.Loop() {
					handPageOfAssets(b, ctx, db, d.WorkspaceID)
				}
			})
		})
	}
}

// handPageOfAssets reads the page of handAssetsPage, every column.
func handPageOfAssets(b *testing.B, ctx context.Context, db *sql.DB, workspaceID string) {
	rows, err := db.QueryContext(ctx, handAssetsPage, workspaceID)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		b.Fatal(err)
	}
	values := make([]any, len(columns))
	dest := make([]any, len(columns))
	for i := range values {
		dest[i] = &values[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 25 {
		b.Fatalf("page: %v, %d rows", err, n)
	}
}
