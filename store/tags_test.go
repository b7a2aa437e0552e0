package store_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

func TestDeviceTags(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		d := sampleDevice(t, st)
		newTag := func(name string) *store.Tag {
			t.Helper()
			tag := &store.Tag{Placement: store.Placement{OrganizationID: d.OrganizationID, WorkspaceID: d.WorkspaceID}, Name: name}
			if err := st.Tags.Create(ctx, tag); err != nil {
				t.Fatal(err)
			}
			return tag
		}
		b, a := newTag("b"), newTag("a")
		if err := st.Tags.Create(ctx, &store.Tag{Placement: store.Placement{OrganizationID: d.OrganizationID, WorkspaceID: d.WorkspaceID}, Name: "a"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := st.Tags.Update(ctx, &store.Tag{ID: b.ID, Name: "a"}, nil); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("rename onto a taken name: %v", err)
		}
		if _, err := st.Tags.Update(ctx, &store.Tag{ID: b.ID, Name: "b2"}, new(int64)); !errors.Is(err, store.ErrVersionMismatch) {
			t.Fatalf("stale update: %v", err)
		}

		// A second device with both tags (duplicates collapse), the first with one.
		e := &store.Device{Placement: store.Placement{OrganizationID: d.OrganizationID, WorkspaceID: d.WorkspaceID}, DataFlowID: d.DataFlowID, DeviceID: "e", Name: "e",
			Connectivity: "HTTP", OnlineTimeout: 60, Properties: map[string]any{}}
		if err := st.Devices.Create(ctx, e, b.ID, a.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Devices.Update(ctx, d, nil, b.ID); err != nil {
			t.Fatal(err)
		}
		tags, err := st.Tags.OfDevices(ctx, []string{d.ID, e.ID, "02ffffffffffffff"})
		if err != nil {
			t.Fatal(err)
		}
		if len(tags) != 2 || len(tags[d.ID]) != 1 || tags[d.ID][0].ID != b.ID || len(tags[e.ID]) != 2 || tags[e.ID][0].Name != "a" || tags[e.ID][1].Name != "b" {
			t.Fatalf("tags of devices %+v", tags)
		}

		// A device whose insert fails leaves no tags behind.
		dup := &store.Device{Placement: store.Placement{OrganizationID: d.OrganizationID, WorkspaceID: d.WorkspaceID}, DataFlowID: d.DataFlowID, DeviceID: "e", Name: "dup",
			Connectivity: "HTTP", OnlineTimeout: 60, Properties: map[string]any{}}
		if err := st.Devices.Create(ctx, dup, a.ID); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate device: %v", err)
		}

		count := func(ids ...string) int64 {
			t.Helper()
			q, err := ndata.Parse(url.Values{"$take": {"100"}}, store.DeviceFields)
			if err != nil {
				t.Fatal(err)
			}
			_, n, err := st.Devices.List(ctx, store.AssetFilter{Workspaces: []string{d.WorkspaceID}, TagIDs: ids}, q)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if count(a.ID) != 1 || count(b.ID) != 2 || count(a.ID, b.ID) != 2 || count("71ffffffffffffff") != 0 || count() != 2 {
			t.Fatalf("filters: a %d, b %d, a|b %d, unknown %d, none %d", count(a.ID), count(b.ID), count(a.ID, b.ID), count("71ffffffffffffff"), count())
		}

		// An update replaces the set; no tags clears it.
		if _, err := st.Devices.Update(ctx, e, nil); err != nil {
			t.Fatal(err)
		}
		if tags, _ = st.Tags.OfDevices(ctx, []string{e.ID}); len(tags[e.ID]) != 0 {
			t.Fatalf("cleared tags %+v", tags)
		}
		// Deleting a tag removes it from its devices.
		if err := st.Tags.Delete(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if tags, _ = st.Tags.OfDevices(ctx, []string{d.ID}); len(tags[d.ID]) != 0 {
			t.Fatalf("tags after deleting the tag %+v", tags)
		}
		if err := st.Tags.Delete(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}
