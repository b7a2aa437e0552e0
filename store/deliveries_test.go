package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

// outboxDevice is a sampleDevice and the id of a webhook connector of its
// workspace, for deliveries to go to.
func outboxDevice(tb testing.TB, st *store.Store) (*store.Device, string) {
	tb.Helper()
	d := sampleDevice(tb, st)
	c := &store.OutputConnector{Placement: d.Placement, Name: "hook", Type: "WEBHOOK",
		Scope: "DATA_FLOW", Properties: "{}", SecretsSealed: []byte{1}}
	if err := st.Connectors.Create(context.Background(), c); err != nil {
		tb.Fatal(err)
	}
	return d, c.ID
}

func outbox(samples []store.Sample, connectorID string) []store.Delivery {
	out := make([]store.Delivery, len(samples))
	for i, s := range samples {
		out[i] = store.Delivery{ID: uuid.NewString(), ConnectorID: connectorID, SampleID: s.ID, DeviceID: s.DeviceID, Payload: `{}`}
	}
	return out
}

func pageAll(t *testing.T) ndata.Query {
	q, err := ndata.ParseSpring(0, 1000, []string{"created,desc"}, store.DeliveryFields)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestDeliveryOutbox: deliveries are written with their samples, all or
// nothing, and not again on an idempotent replay.
func TestDeliveryOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d, conn := outboxDevice(t, st)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		samples := []store.Sample{newSample(at, `{"a":1}`), newSample(at.Add(time.Second), `{"a":2}`)}
		rec := &store.IdempotencyRecord{Key: "k", RequestHash: []byte("h"), Status: 201, Response: `{}`}
		if _, err := st.Samples.Insert(ctx, d.ID, samples, rec, outbox(samples, conn)...); err != nil {
			t.Fatal(err)
		}
		rows, total, err := st.Deliveries.List(ctx, conn, "", pageAll(t))
		if err != nil || total != 2 || rows[0].Status != store.DeliveryPending || rows[0].NextAttemptAt == nil || rows[0].Attempts != 0 {
			t.Fatalf("outbox %v %d %+v", err, total, rows)
		}
		// A replay of the key stores nothing: neither samples nor deliveries.
		again := []store.Sample{newSample(at, `{"a":1}`)}
		rec2 := &store.IdempotencyRecord{Key: "k", RequestHash: []byte("h"), Status: 201, Response: `{}`}
		if replay, err := st.Samples.Insert(ctx, d.ID, again, rec2, outbox(again, conn)...); err != nil || replay == nil {
			t.Fatalf("replay %v %+v", err, replay)
		}
		// A delivery to a missing connector rolls the samples back too.
		bad := []store.Sample{newSample(at, `{"a":3}`)}
		if _, err := st.Samples.Insert(ctx, d.ID, bad, nil, outbox(bad, "09ffffffffffffff")...); err == nil {
			t.Fatal("delivery to a missing connector stored")
		}
		if _, total, _ := st.Deliveries.List(ctx, conn, "", pageAll(t)); total != 2 {
			t.Fatalf("deliveries after replay and failure: %d", total)
		}
		if got, _ := st.Samples.Query(ctx, d.ID, store.SampleQuery{}); len(got) != 2 {
			t.Fatalf("samples after replay and failure: %d", len(got))
		}
	})
}

// TestDeliveryClaims: claims are disjoint under concurrency, respect
// next_attempt_at and live leases, and a completion applies only under its
// own lease.
func TestDeliveryClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d, conn := outboxDevice(t, st)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var samples []store.Sample
		for i := range 40 {
			samples = append(samples, newSample(at.Add(time.Duration(i)*time.Second), `{}`))
		}
		if _, err := st.Samples.Insert(ctx, d.ID, samples, nil, outbox(samples, conn)...); err != nil {
			t.Fatal(err)
		}
		now := time.Now().Add(time.Second)
		if got, err := st.Deliveries.Claim(ctx, now.Add(-time.Hour), time.Minute, 100); err != nil || len(got) != 0 {
			t.Fatalf("claimed before due: %v %d", err, len(got))
		}

		// Eight claimers at once take 40 rows, each exactly once.
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					got, err := st.Deliveries.Claim(ctx, now, time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, g := range got {
						seen[g.ID]++
						if g.LeaseUntil == nil || !g.LeaseUntil.Equal(now.UTC().Truncate(time.Millisecond).Add(time.Minute)) {
							t.Errorf("lease %v", g.LeaseUntil)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 40 {
			t.Fatalf("claimed %d distinct deliveries, want 40", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("delivery %s claimed %d times", id, n)
			}
		}
		// Leased: nothing more to claim until the lease expires.
		if got, _ := st.Deliveries.Claim(ctx, now.Add(59*time.Second), time.Minute, 100); len(got) != 0 {
			t.Fatalf("claimed %d leased deliveries", len(got))
		}
		later := now.Add(61 * time.Second)
		first, err := st.Deliveries.Claim(ctx, later, time.Minute, 1)
		if err != nil || len(first) != 1 {
			t.Fatalf("re-claim after expiry: %v %d", err, len(first))
		}
		dl := first[0]
		oldLease := now.UTC().Truncate(time.Millisecond).Add(time.Minute)
		code := 200
		done := later.UTC().Truncate(time.Millisecond)
		ok := store.DeliveryOutcome{Status: store.DeliveryDelivered, DeliveredAt: &done,
			Attempt: store.DeliveryAttempt{At: done, StatusCode: &code, DurationMs: 3}}
		// The first claim's late completion is refused; the current one applies, once.
		if applied, err := st.Deliveries.Complete(ctx, dl.ID, oldLease, ok); err != nil || applied {
			t.Fatalf("stale lease applied: %v %v", err, applied)
		}
		if applied, err := st.Deliveries.Complete(ctx, dl.ID, *dl.LeaseUntil, ok); err != nil || !applied {
			t.Fatalf("complete: %v %v", err, applied)
		}
		if applied, _ := st.Deliveries.Complete(ctx, dl.ID, *dl.LeaseUntil, ok); applied {
			t.Fatal("completed twice")
		}
		got, err := st.Deliveries.Get(ctx, dl.ID)
		if err != nil || got.Status != store.DeliveryDelivered || got.Attempts != 1 || got.LeaseUntil != nil || got.DeliveredAt == nil {
			t.Fatalf("delivered row %v %+v", err, got)
		}
		attempts, err := st.Deliveries.Attempts(ctx, []string{dl.ID, "none"})
		if err != nil || len(attempts[dl.ID]) != 1 || *attempts[dl.ID][0].StatusCode != 200 || len(attempts["none"]) != 0 {
			t.Fatalf("attempts %v %+v", err, attempts)
		}
		if _, total, _ := st.Deliveries.List(ctx, conn, store.DeliveryDelivered, pageAll(t)); total != 1 {
			t.Fatalf("delivered filter %d", total)
		}
	})
}

// TestPruneDeliveries: finished deliveries older than the cutoff go; pending
// ones stay whatever their age.
func TestPruneDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d, conn := outboxDevice(t, st)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		samples := []store.Sample{newSample(at, `{"a":1}`), newSample(at, `{"a":2}`), newSample(at, `{"a":3}`)}
		rows := outbox(samples, conn)
		if _, err := st.Samples.Insert(ctx, d.ID, samples, nil, rows...); err != nil {
			t.Fatal(err)
		}
		for i, status := range []string{store.DeliveryDelivered, store.DeliveryFailed} {
			storetest.Exec(t, st, "UPDATE deliveries SET status = ? WHERE id = ?", status, rows[i].ID)
		}
		if n, err := st.Deliveries.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("pruned %d recent deliveries: %v", n, err)
		}
		if n, err := st.Deliveries.Prune(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
			t.Fatalf("pruned %d finished deliveries, want 2: %v", n, err)
		}
		left, total, err := st.Deliveries.List(ctx, conn, "", pageAll(t))
		if err != nil || total != 1 || left[0].ID != rows[2].ID || left[0].Status != store.DeliveryPending {
			t.Fatalf("left %v %d %+v", err, total, left)
		}
	})
}
