package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// TestRecordUsage: batches add up per key and day (replicas flushing the
// same key add their counts), lastUsedAt never goes back, and a key deleted
// before its batch is written is skipped without failing the batch.
// TestPruneUsage: the days before the cutoff's go, that day and later stay,
// for every key.
func TestPruneUsage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		a, b := newKey(t, st, "a"), newKey(t, st, "b")
		counts := map[store.KeyDay]int64{}
		for _, d := range []string{"2025-10-30", "2025-10-31", "2025-11-01", "2026-11-26"} {
			counts[store.KeyDay{KeyID: a.ID, Day: d}] = 1
			counts[store.KeyDay{KeyID: b.ID, Day: d}] = 2
		}
		if err := st.APIKeys.RecordUsage(ctx, store.UsageBatch{Requests: counts}); err != nil {
			t.Fatal(err)
		}
		// 23:30 in UTC-5 is the 1st of November in UTC: days before the 1st go.
		cutoff := time.Date(2025, 10, 31, 23, 30, 0, 0, time.FixedZone("", -5*3600))
		n, err := st.APIKeys.PruneUsage(ctx, cutoff)
		if err != nil || n != 4 {
			t.Fatalf("pruned %d rows, %v; want 4 (two days of two keys)", n, err)
		}
		for _, k := range []struct {
			id   string
			each int64
		}{{a.ID, 1}, {b.ID, 2}} {
			got, err := st.APIKeys.Usage(ctx, k.id, "2025-01-01", "2026-12-31")
			if err != nil {
				t.Fatal(err)
			}
			want := []store.DayCount{{Day: "2025-11-01", Requests: k.each}, {Day: "2026-11-26", Requests: k.each}}
			if !slices.Equal(got, want) {
				t.Errorf("key %s after pruning: %v, want %v", k.id, got, want)
			}
		}
	})
}

func TestRecordUsage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		a, b := newKey(t, st, "a"), newKey(t, st, "b")
		gone := newKey(t, st, "gone")
		if _, err := st.APIKeys.Delete(ctx, gone.ID, nil); err != nil {
			t.Fatal(err)
		}
		noon := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		batch := func(last time.Time, counts map[store.KeyDay]int64) store.UsageBatch {
			used := map[string]time.Time{}
			for kd := range counts {
				used[kd.KeyID] = last
			}
			return store.UsageBatch{LastUsed: used, Requests: counts}
		}
		day := func(id, d string) store.KeyDay { return store.KeyDay{KeyID: id, Day: d} }
		for i, b := range []store.UsageBatch{
			batch(noon, map[store.KeyDay]int64{day(a.ID, "2026-11-25"): 3, day(a.ID, "2026-11-26"): 5, day(b.ID, "2026-11-26"): 1}),
			batch(noon.Add(-time.Hour), map[store.KeyDay]int64{day(a.ID, "2026-11-26"): 2, day(gone.ID, "2026-11-26"): 9}),
		} {
			if err := st.APIKeys.RecordUsage(ctx, b); err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		}
		for _, tc := range []struct {
			name     string
			id       string
			from, to string
			want     []store.DayCount
		}{
			{"a, both days added up", a.ID, "2026-11-01", "2026-11-30", []store.DayCount{{Day: "2026-11-25", Requests: 3}, {Day: "2026-11-26", Requests: 7}}},
			{"a, one day", a.ID, "2026-11-26", "2026-11-26", []store.DayCount{{Day: "2026-11-26", Requests: 7}}},
			{"a, before", a.ID, "2026-10-01", "2026-11-24", []store.DayCount{}},
			{"b", b.ID, "2026-11-26", "2026-11-26", []store.DayCount{{Day: "2026-11-26", Requests: 1}}},
			{"the deleted key", gone.ID, "2026-11-01", "2026-11-30", []store.DayCount{}},
		} {
			got, err := st.APIKeys.Usage(ctx, tc.id, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: usage %v, want %v", tc.name, got, tc.want)
			}
		}
		k, err := st.APIKeys.Get(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if k.LastUsedAt == nil || !k.LastUsedAt.Equal(noon) {
			t.Errorf("lastUsedAt %v, want %v (an older batch must not move it back)", k.LastUsedAt, noon)
		}
		if n := storetest.QueryInt(t, st, "SELECT COUNT(*) FROM api_key_usage WHERE key_id = ?", gone.ID); n != 0 {
			t.Errorf("%d usage rows of a deleted key", n)
		}
		if _, err := st.APIKeys.Delete(ctx, a.ID, nil); err != nil {
			t.Fatal(err)
		}
		if n := storetest.QueryInt(t, st, "SELECT COUNT(*) FROM api_key_usage WHERE key_id = ?", a.ID); n != 0 {
			t.Errorf("deleting a key left %d usage rows", n)
		}
	})
}
