package store_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

// TestRowCounts checks that the total of an unfiltered page, read from the
// row counters, is the count of its rows after inserts, deletes and the
// cascades of deleting a workspace and an organization.
func TestRowCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		a, b := sampleDevice(t, st), sampleDevice(t, st)
		for i := range 3 {
			d := &store.Device{Placement: a.Placement, DataFlowID: a.DataFlowID, DeviceID: fmt.Sprintf("extra-%d", i),
				Name: "d", Connectivity: "HTTP", OnlineTimeout: 60, Properties: map[string]any{}}
			if err := st.Devices.Create(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		newKey(t, st, "org", func(k *store.APIKey) { k.OrganizationID = &a.OrganizationID })
		toggled := newKey(t, st, "org, toggled", func(k *store.APIKey) { k.OrganizationID = &a.OrganizationID; k.IsActive = true })
		platform := newKey(t, st, "platform", func(k *store.APIKey) { k.IsActive = true })

		// unfiltered is a page's total from the counters; filtered the same
		// page with a filter that keeps every row, so counted row by row.
		unfiltered := ndata.Query{Take: 10}
		filtered, err := ndata.Parse(url.Values{"name": {"neq:no such name"}}, store.DeviceFields)
		if err != nil {
			t.Fatal(err)
		}
		parse := func(v url.Values) ndata.Query {
			t.Helper()
			q, err := ndata.Parse(v, store.APIKeyFields)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
		keysFiltered := parse(url.Values{"name": {"neq:no such name"}})
		type page struct {
			name  string
			count func(ndata.Query) (int64, error)
		}
		assets := func(f store.AssetFilter) func(ndata.Query) (int64, error) {
			return func(q ndata.Query) (int64, error) {
				_, n, err := st.Devices.List(ctx, f, q)
				return n, err
			}
		}
		keys := func(f *store.KeyFilter, q ndata.Query) int64 {
			t.Helper()
			_, n, err := st.APIKeys.List(ctx, q, f)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		pages := []page{
			{"organization a's assets", assets(store.AssetFilter{OrganizationID: a.OrganizationID})},
			{"organization b's assets", assets(store.AssetFilter{OrganizationID: b.OrganizationID})},
			{"workspace a's assets", assets(store.AssetFilter{Workspaces: []string{a.WorkspaceID}})},
			{"both workspaces' assets", assets(store.AssetFilter{Workspaces: []string{a.WorkspaceID, b.WorkspaceID}})},
		}
		check := func(step string, want map[string]int64) {
			t.Helper()
			for _, p := range pages {
				got, err := p.count(unfiltered)
				if err != nil {
					t.Fatalf("%s: %s: %v", step, p.name, err)
				}
				counted, err := p.count(filtered)
				if err != nil {
					t.Fatalf("%s: %s: %v", step, p.name, err)
				}
				if got != counted || got != want[p.name] {
					t.Errorf("%s: %s: total %d from the counters, %d counted, want %d", step, p.name, got, counted, want[p.name])
				}
			}
			for name, f := range map[string]*store.KeyFilter{
				"all keys": nil, "organization a's keys": {Organizations: []string{a.OrganizationID}},
			} {
				got, counted := keys(f, unfiltered), keys(f, keysFiltered)
				if got != counted || got != want[name] {
					t.Errorf("%s: %s: total %d from the counters, %d counted, want %d", step, name, got, counted, want[name])
				}
				for _, active := range []string{"true", "false"} {
					got, counted := keys(f, parse(url.Values{"isActive": {active}})), keys(f, parse(url.Values{"isActive": {active}, "name": {"neq:no such name"}}))
					if w := want[name+", isActive="+active]; got != counted || got != w {
						t.Errorf("%s: %s, isActive=%s: total %d from the counters, %d counted, want %d", step, name, active, got, counted, w)
					}
				}
			}
		}
		check("created", map[string]int64{"organization a's assets": 4, "organization b's assets": 1,
			"workspace a's assets": 4, "both workspaces' assets": 5, "all keys": 3, "organization a's keys": 2,
			"all keys, isActive=true": 2, "all keys, isActive=false": 1,
			"organization a's keys, isActive=true": 1, "organization a's keys, isActive=false": 1})

		for _, active := range []bool{false, true, false} {
			toggled.IsActive = active
			if _, err := st.APIKeys.Update(ctx, toggled, toggled.Version); err != nil {
				t.Fatal(err)
			}
		}
		check("a key deactivated, activated, deactivated", map[string]int64{"organization a's assets": 4, "organization b's assets": 1,
			"workspace a's assets": 4, "both workspaces' assets": 5, "all keys": 3, "organization a's keys": 2,
			"all keys, isActive=true": 1, "all keys, isActive=false": 2,
			"organization a's keys, isActive=true": 0, "organization a's keys, isActive=false": 2})

		if err := st.Devices.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.APIKeys.Delete(ctx, platform.ID, nil); err != nil {
			t.Fatal(err)
		}
		check("one device and the platform key deleted", map[string]int64{"organization a's assets": 3,
			"organization b's assets": 1, "workspace a's assets": 3, "both workspaces' assets": 4, "all keys": 2, "organization a's keys": 2,
			"all keys, isActive=false": 2, "organization a's keys, isActive=false": 2})

		if err := st.Workspaces.Delete(ctx, a.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		check("workspace a deleted", map[string]int64{"organization b's assets": 1, "both workspaces' assets": 1,
			"all keys": 2, "organization a's keys": 2, "all keys, isActive=false": 2, "organization a's keys, isActive=false": 2})

		if err := st.Organizations.Delete(ctx, a.OrganizationID); err != nil {
			t.Fatal(err)
		}
		check("organization a deleted", map[string]int64{"organization b's assets": 1, "both workspaces' assets": 1})
	})
}
