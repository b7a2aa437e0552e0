package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// sampleDevice makes an organization, workspace, device type, data flow and
// device, and returns the device.
func sampleDevice(tb testing.TB, st *store.Store) *store.Device {
	tb.Helper()
	ctx := context.Background()
	at := storetest.Workspace(tb, st)
	dt := &store.DeviceType{Placement: at, Name: "t", Schemas: map[string]json.RawMessage{}}
	if err := st.DeviceTypes.Create(ctx, dt); err != nil {
		tb.Fatal(err)
	}
	f := &store.DataFlow{Placement: at, DeviceTypeID: dt.ID, Name: "f", OutputConnectors: []store.ConnectorRef{}}
	if err := st.DataFlows.Create(ctx, f); err != nil {
		tb.Fatal(err)
	}
	d := &store.Device{Placement: at, DataFlowID: f.ID, DeviceID: "phys", Name: "d",
		Connectivity: "HTTP", OnlineTimeout: 60, Properties: map[string]any{}}
	if err := st.Devices.Create(ctx, d); err != nil {
		tb.Fatal(err)
	}
	return d
}

func newSample(at time.Time, data string) store.Sample {
	return store.Sample{ID: uuid.NewString(), Topic: "default", Timestamp: at, Data: data}
}

func TestInsertSamplesIdempotency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := sampleDevice(t, st)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		rec := func(hash string) *store.IdempotencyRecord {
			return &store.IdempotencyRecord{Key: "k", RequestHash: []byte(hash), Status: 201, Response: `{"first":"` + hash + `"}`}
		}
		if replay, err := st.Samples.Insert(ctx, d.ID, []store.Sample{newSample(at, `{"a":1}`)}, rec("one")); err != nil || replay != nil {
			t.Fatalf("first insert: %v %+v", err, replay)
		}
		// The key is taken: nothing is stored, the first record comes back.
		replay, err := st.Samples.Insert(ctx, d.ID, []store.Sample{newSample(at, `{"a":2}`)}, rec("two"))
		if err != nil || replay == nil || string(replay.RequestHash) != "one" || replay.Response != `{"first":"one"}` || replay.Status != 201 {
			t.Fatalf("second insert: %v %+v", err, replay)
		}
		all, err := st.Samples.Query(ctx, d.ID, store.SampleQuery{Topic: "*"})
		if err != nil || len(all) != 1 || all[0].Data != `{"a": 1}` && all[0].Data != `{"a":1}` {
			t.Fatalf("samples %v %+v", err, all)
		}
		got, err := st.Samples.Idempotency(ctx, d.ID, "k")
		if err != nil || got.Response != `{"first":"one"}` {
			t.Fatalf("lookup %v %+v", err, got)
		}
		// Expired keys are absent and replaced.
		if _, err := st.Samples.PruneIdempotencyKeys(ctx, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Samples.Idempotency(ctx, d.ID, "k"); err != nil {
			t.Fatalf("a fresh key was pruned: %v", err)
		}
		n, err := st.Samples.PruneIdempotencyKeys(ctx, time.Now().Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("prune: %d %v", n, err)
		}
		if _, err := st.Samples.Idempotency(ctx, d.ID, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("pruned key: %v", err)
		}
		// A device that does not exist.
		if _, err := st.Samples.Insert(ctx, "02ffffffffffffff", []store.Sample{newSample(at, `{}`)}, nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing device: %v", err)
		}
		if _, err := st.Samples.Insert(ctx, "02ffffffffffffff", []store.Sample{newSample(at, `{}`)}, rec("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing device with a key: %v", err)
		}
	})
}

// TestInsertSamplesRace sends the same key from several writers at once:
// the primary key lets one store, and every other gets its record back.
func TestInsertSamplesRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := sampleDevice(t, st)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const writers = 6
		replays := make(chan *store.IdempotencyRecord, writers)
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				samples := []store.Sample{newSample(at, `{"a":1}`), newSample(at.Add(time.Second), `{"a":2}`)}
				rec := &store.IdempotencyRecord{Key: "race", RequestHash: []byte("h"), Status: 201, Response: fmt.Sprintf(`{"writer":%d}`, i)}
				replay, err := st.Samples.Insert(ctx, d.ID, samples, rec)
				if err != nil {
					errs <- err
					return
				}
				replays <- replay
			})
		}
		wg.Wait()
		close(replays)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		stored, responses := 0, map[string]bool{}
		for r := range replays {
			if r == nil {
				stored++
			} else {
				responses[r.Response] = true
			}
		}
		all, err := st.Samples.Query(ctx, d.ID, store.SampleQuery{Topic: "*"})
		if err != nil || stored != 1 || len(responses) != 1 || len(all) != 2 {
			t.Fatalf("stored by %d writers, replayed %v, %d samples (%v)", stored, responses, len(all), err)
		}
	})
}

// TestSampleTimes checks time handling where the databases differ: SQLite
// keeps times as text (glebarez writes "2006-01-02 15:04:05.999999999-07:00"),
// which comparisons, ordering and unixepoch must read right.
func TestSampleTimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := sampleDevice(t, st)
		base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		times := []time.Time{
			base,                             // 10:00:00
			base.Add(100 * time.Millisecond), // 10:00:00.1
			base.Add(150 * time.Millisecond), // 10:00:00.15
			base.Add(time.Second),            // 10:00:01
			time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC), // before the epoch
		}
		var samples []store.Sample
		for i, at := range times {
			// A zone other than UTC is stored as UTC.
			samples = append(samples, newSample(at.In(time.FixedZone("x", 5*3600)), fmt.Sprintf(`{"v":%d}`, i)))
		}
		if _, err := st.Samples.Insert(ctx, d.ID, samples, nil); err != nil {
			t.Fatal(err)
		}
		got, err := st.Samples.Query(ctx, d.ID, store.SampleQuery{Topic: "default"})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{3, 2, 1, 0, 4} {
			if !got[i].Timestamp.Equal(times[want]) {
				t.Fatalf("order: %d is %v, want %v", i, got[i].Timestamp, times[want])
			}
		}
		if st.Dialect() == store.SQLite {
			// The text glebarez writes, and what SQLite's unixepoch reads from it.
			db, err := st.SQLDB()
			if err != nil {
				t.Fatal(err)
			}
			var text string
			var epoch int64
			if err := db.QueryRowContext(ctx, `SELECT ts || '', unixepoch(ts) FROM samples WHERE json_extract(data, '$.v') = 2`).Scan(&text, &epoch); err != nil {
				t.Fatal(err)
			}
			if text != "2026-01-01 10:00:00.15+00:00" || epoch != base.Unix() {
				t.Fatalf("stored %q, unixepoch %d", text, epoch)
			}
		}
		gt := base.Add(100 * time.Millisecond)
		got, err = st.Samples.Query(ctx, d.ID, store.SampleQuery{Gt: &gt})
		if err != nil || len(got) != 2 {
			t.Fatalf("gt 10:00:00.1: %v %d", err, len(got))
		}
		dev, err := st.Devices.Get(ctx, d.ID)
		if err != nil || !dev.LastSampleAt.Equal(times[3]) {
			t.Fatalf("last sample at %v %v", dev.LastSampleAt, err)
		}
		// Buckets before the epoch floor too.
		pts, err := st.Samples.Series(ctx, d.ID, store.Aggregation{Topic: "default", DataKey: "v", Accumulator: store.AccSum,
			From: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), To: base.Add(time.Hour)}, time.Hour)
		if err != nil || len(pts) != 2 || !pts[0].Start.Equal(time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)) || pts[0].Value != "4" ||
			!pts[1].Start.Equal(base) || pts[1].Value != "6" {
			t.Fatalf("series %v %+v", err, pts)
		}
		// Second buckets split the sub-second samples from the next second.
		pts, err = st.Samples.Series(ctx, d.ID, store.Aggregation{Topic: "default", DataKey: "v", Accumulator: store.AccCount,
			From: base, To: base.Add(time.Minute)}, time.Second)
		if err != nil || len(pts) != 2 || pts[0].Value != "3" || pts[1].Value != "1" || !pts[1].Start.Equal(base.Add(time.Second)) {
			t.Fatalf("second buckets %v %+v", err, pts)
		}
	})
}

func TestBucketCount(t *testing.T) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to time.Time
		bucket   time.Duration
		want     int64
	}{
		{day, day.Add(time.Hour), time.Hour, 1},
		{day, day.Add(time.Hour + time.Nanosecond), time.Hour, 2},
		{day.Add(30 * time.Minute), day.Add(90 * time.Minute), time.Hour, 2},
		{day, day.Add(24 * time.Hour), time.Hour, 24},
		{day, day.Add(7 * 24 * time.Hour), time.Minute, 10080},
		{day.Add(-90 * time.Minute), day, time.Hour, 2},
	} {
		if got := store.BucketCount(c.from, c.to, c.bucket); got != c.want {
			t.Errorf("BucketCount(%v, %v, %v) = %d, want %d", c.from, c.to, c.bucket, got, c.want)
		}
	}
}

// TestIdempotencyResponseStorage: on PostgreSQL the recorded responses are
// compressed with lz4 (migration 12), not pglz, which cost more than the
// rest of a bulk backfill's write after its COPY.
func TestIdempotencyResponseStorage(t *testing.T) {
	st := storetest.Open(t, store.Postgres)
	got := storetest.QueryInt(t, st, `SELECT COUNT(*) FROM pg_attribute
		WHERE attrelid = 'idempotency_keys'::regclass AND attname = 'response' AND (attcompression = 'l' OR attstorage = 'e')`)
	if got != 1 {
		t.Fatalf("idempotency_keys.response is neither lz4-compressed nor stored uncompressed")
	}
	if n := storetest.QueryInt(t, st, `SELECT COUNT(*) FROM pg_attribute WHERE attrelid = 'idempotency_keys'::regclass AND attname = 'response' AND attcompression = 'l'`); n != 1 {
		t.Logf("this PostgreSQL has no lz4: responses are stored uncompressed")
	}
}
