package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

// benchRows is the table size of the list benchmarks.
const benchRows = 100_000

// seedQuery fills api_keys with benchRows keys in one statement.
const seedQuery = `
INSERT INTO api_keys (id, client_id, secret_digest, secret_sealed, is_active, created_at, updated_at,
                      name, description, user_name, device_name, permissions, version)
SELECT substr(md5(i::text), 1, 24), substr(md5('c' || i) || md5('d' || i), 1, 40),
       decode(md5('s' || i) || md5('t' || i), 'hex'), '\x00'::bytea, i % 2 = 0,
       now() - i * interval '1 second', now(), 'key-' || lpad(i::text, 6, '0'),
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'description ' || i END,
       'user' || (i % 100), 'device' || (i % 7), '[]', 1
FROM generate_series(1, $1) AS i`

// handQuery is the list request below written by hand: what the NData path
// should cost no more than.
const (
	handCount = `SELECT count(*) FROM api_keys WHERE is_active = $1 AND user_name IN ($2, $3, $4) AND created_at >= $5`
	handPage  = `SELECT id, client_id, secret_digest, secret_sealed, is_active, created_at, updated_at,
       name, description, user_name, device_name, permissions, version
FROM api_keys WHERE is_active = $1 AND user_name IN ($2, $3, $4) AND created_at >= $5
ORDER BY created_at DESC, id LIMIT 100`
	benchQuery = "isActive=true&userName=in:user2,user4,user6&createdAt=gte:2000-01-01T00:00:00Z&$sort=-createdAt&$take=100"
)

// BenchmarkAPIKeysList compares GET /apikeys' data path (NData parse, GORM
// count and page) with the same two queries written by hand, over 100k rows
// on PostgreSQL. bench/ndata.sh prints the ratio.
func BenchmarkAPIKeysList(b *testing.B) {
	dsn := storetest.DSN(b, store.Postgres)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// The hand-written side plans as the store does (store.Open asks for
	// custom plans), so that only the query path differs.
	raw, err := sql.Open("pgx", dsn+"&plan_cache_mode=force_custom_plan")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, seedQuery, benchRows); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := raw.ExecContext(ctx, "VACUUM ANALYZE api_keys"); err != nil {
		b.Fatal(err)
	}
	values, err := url.ParseQuery(benchQuery)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("ndata", func(b *testing.B) {
		for b.Loop() {
			q, err := ndata.Parse(values, store.APIKeyFields)
			if err != nil {
				b.Fatal(err)
			}
			keys, total, err := st.APIKeys.List(ctx, q, nil)
			if err != nil || len(keys) != 100 || total == 0 {
				b.Fatalf("list: %v, %d keys, total %d", err, len(keys), total)
			}
		}
	})
	b.Run("handsql", func(b *testing.B) {
		since := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		for b.Loop() {
			var total int64
			if err := raw.QueryRowContext(ctx, handCount, true, "user2", "user4", "user6", since).Scan(&total); err != nil {
				b.Fatal(err)
			}
			rows, err := raw.QueryContext(ctx, handPage, true, "user2", "user4", "user6", since)
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]store.APIKey, 0, 100)
			for rows.Next() {
				var k store.APIKey
				var perms string
				if err := rows.Scan(&k.ID, &k.ClientID, &k.SecretDigest, &k.SecretSealed, &k.IsActive, &k.CreatedAt,
					&k.UpdatedAt, &k.Name, &k.Description, &k.UserName, &k.DeviceName, &perms, &k.Version); err != nil {
					b.Fatal(err)
				}
				keys = append(keys, k)
			}
			if err := rows.Err(); err != nil || len(keys) != 100 || total == 0 {
				b.Fatalf("hand list: %v, %d keys, total %d", err, len(keys), total)
			}
			rows.Close()
		}
	})
}
