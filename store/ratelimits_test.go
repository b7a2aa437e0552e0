package store_test

import (
	"testing"
	"time"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// TestRateLimitWindows: replicas' additions to a window add up and each
// reads back the sum; the replica count is the replicas seen recently;
// pruning forgets expired windows and silent replicas.
func TestRateLimitWindows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		now := time.Unix(1_800_000_000, 0)
		w := func(bucket string, start, add int64) store.RateWindow {
			return store.RateWindow{Bucket: bucket, Start: start, Add: add, Expires: start + 60}
		}
		steps := []struct {
			name     string
			replica  string
			at       time.Time
			windows  []store.RateWindow
			want     []int64
			replicas int
		}{
			{"first report", "a", now, []store.RateWindow{w("k1", 100, 3), w("k2", 100, 1)}, []int64{3, 1}, 1},
			{"another replica adds", "b", now, []store.RateWindow{w("k1", 100, 4), w("k1", 160, 2)}, []int64{7, 2}, 2},
			{"a reads without adding", "a", now.Add(time.Second), []store.RateWindow{w("k1", 100, 0)}, []int64{7}, 2},
			{"b went silent", "a", now.Add(10 * time.Second), []store.RateWindow{w("k2", 100, 1)}, []int64{2}, 1},
		}
		for _, s := range steps {
			got, n, err := st.RateLimits.Add(ctx, s.replica, s.windows, s.at, 2*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			for i := range s.want {
				if got[i] != s.want[i] {
					t.Errorf("%s: window %s@%d count %d, want %d", s.name, s.windows[i].Bucket, s.windows[i].Start, got[i], s.want[i])
				}
			}
			if n != s.replicas {
				t.Errorf("%s: %d replicas, want %d", s.name, n, s.replicas)
			}
		}
		removed, err := st.RateLimits.Prune(ctx, time.Unix(200, 0))
		if err != nil {
			t.Fatal(err)
		}
		if removed != 2 {
			t.Errorf("pruned %d windows, want the 2 that expired at 160", removed)
		}
		got, _, err := st.RateLimits.Add(ctx, "a", []store.RateWindow{w("k1", 160, 0)}, now, time.Second)
		if err != nil || got[0] != 2 {
			t.Errorf("window still live: count %v (%v), want 2", got, err)
		}
		if err := st.RateLimits.Leave(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestKeyRateLimit: a key's own limit wins over its organization's default;
// without either it has none. Every read that authenticates a key carries it.
func TestKeyRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		org := &store.Organization{Name: "Acme", Properties: map[string]any{}, RateLimit: new(int64(100)), RatePeriod: new(int64(60))}
		if err := st.Organizations.Create(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
		own := newKey(t, st, "own", func(k *store.APIKey) {
			k.OrganizationID, k.RateLimit, k.RatePeriod = &org.ID, new(int64(5)), new(int64(1))
		})
		inherits := newKey(t, st, "inherits", func(k *store.APIKey) { k.OrganizationID = &org.ID })
		none := newKey(t, st, "none")
		for _, tc := range []struct {
			name          string
			id            string
			limit, period int64
			ok            bool
		}{
			{"own limit", own.ID, 5, 1, true},
			{"organization default", inherits.ID, 100, 60, true},
			{"no organization, no limit", none.ID, 0, 0, false},
		} {
			byID, err := st.APIKeys.Get(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			bySecret, err := st.APIKeys.BySecretDigest(ctx, byID.SecretDigest, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			byClient, err := st.APIKeys.ByClientID(ctx, byID.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			for read, k := range map[string]*store.APIKey{"Get": byID, "BySecretDigest": bySecret, "ByClientID": byClient} {
				if l, p, ok := k.Allowance(); l != tc.limit || p != tc.period || ok != tc.ok {
					t.Errorf("%s, read with %s: allowance (%d, %d, %v), want (%d, %d, %v)", tc.name, read, l, p, ok, tc.limit, tc.period, tc.ok)
				}
			}
		}
	})
}
