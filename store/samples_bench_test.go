package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// BenchmarkBackfillBulk stores 10,000 samples per op through Samples.Insert,
// with an idempotency key, as one bulk backfill does, on PostgreSQL.
func BenchmarkBackfillBulk(b *testing.B) {
	const n = 10_000
	st := storetest.Open(b, store.Postgres)
	d := sampleDevice(b, st)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hash := sha256.Sum256([]byte("body"))
	b.ReportAllocs()
	b.ResetTimer()
	for op := range b.N {
		samples := make([]store.Sample, n)
		for i := range samples {
			samples[i] = store.Sample{ID: uuid.NewString(), Topic: "default", Timestamp: base.Add(time.Duration(op*n+i) * time.Second),
				Data: fmt.Sprintf(`{"temperature":%d.5,"humidity":%d}`, 20+i%10, i%100)}
		}
		idem := &store.IdempotencyRecord{Key: fmt.Sprintf("op-%d", op), RequestHash: hash[:], Status: 201, Response: `{"count":10000}`}
		if replay, err := st.Samples.Insert(ctx, d.ID, samples, idem); err != nil || replay != nil {
			b.Fatalf("insert: %v %+v", err, replay)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
}

// seedSamples fills one device with a sample per second from base: n rows
// in one statement.
const seedSamples = `
INSERT INTO samples (id, device_id, topic, ts, date_stored, data)
SELECT gen_random_uuid()::text, $1, 'default', $2::timestamptz + i * interval '1 second', now(),
       jsonb_build_object('temperature', 20 + (i % 100) / 10.0, 'humidity', i % 100)
FROM generate_series(0, $3 - 1) AS i`

// BenchmarkQueryRange reads 1,000,000 samples of one device (11.6 days at
// one per second) on PostgreSQL: a one-hour page (3,600 samples) and a
// one-day AVG time series in hourly buckets (86,400 samples into 24).
func BenchmarkQueryRange(b *testing.B) {
	const rows = 1_000_000
	st := storetest.Open(b, store.Postgres)
	d := sampleDevice(b, st)
	ctx := context.Background()
	db, err := st.SQLDB()
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	if _, err := db.ExecContext(ctx, seedSamples, d.ID, base, rows); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE samples"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d samples in %s", rows, time.Since(start).Round(time.Millisecond))
	day := base.Add(3 * 24 * time.Hour)

	b.Run("range-1h", func(b *testing.B) {
		from, to := day.Add(5*time.Hour), day.Add(6*time.Hour)
		for b.Loop() {
			got, err := st.Samples.Query(ctx, d.ID, store.SampleQuery{Topic: "default", Gte: &from, Lt: &to, Limit: 8000})
			if err != nil || len(got) != 3600 {
				b.Fatalf("range: %v %d", err, len(got))
			}
		}
	})
	b.Run("series-1d-avg-PT1H", func(b *testing.B) {
		a := store.Aggregation{Topic: "default", DataKey: "temperature", Accumulator: store.AccAvg, From: day, To: day.Add(24 * time.Hour)}
		for b.Loop() {
			pts, err := st.Samples.Series(ctx, d.ID, a, time.Hour)
			if err != nil || len(pts) != 24 {
				b.Fatalf("series: %v %d", err, len(pts))
			}
		}
	})
	b.Run("kpi-1d-avg", func(b *testing.B) {
		a := store.Aggregation{Topic: "default", DataKey: "temperature", Accumulator: store.AccAvg, From: day, To: day.Add(24 * time.Hour)}
		for b.Loop() {
			v, err := st.Samples.Aggregate(ctx, d.ID, a)
			if err != nil || v == nil {
				b.Fatalf("kpi: %v", err)
			}
		}
	})
	b.Run("series-1d-first-PT1H", func(b *testing.B) {
		a := store.Aggregation{Topic: "default", DataKey: "temperature", Accumulator: store.AccFirst, From: day, To: day.Add(24 * time.Hour)}
		for b.Loop() {
			pts, err := st.Samples.Series(ctx, d.ID, a, time.Hour)
			if err != nil || len(pts) != 24 {
				b.Fatalf("series: %v %d", err, len(pts))
			}
		}
	})
}
