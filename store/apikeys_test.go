package store_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

// newKey stores a key named name, after the changes of with.
func newKey(t *testing.T, st *store.Store, name string, with ...func(*store.APIKey)) *store.APIKey {
	t.Helper()
	c, err := auth.NewCredentials("")
	if err != nil {
		t.Fatal(err)
	}
	k := &store.APIKey{ID: c.ID, ClientID: c.ClientID, SecretDigest: auth.Digest(c.Secret),
		SecretSealed: []byte("sealed"), Name: name, Permissions: []store.Permission{}}
	for _, change := range with {
		change(k)
	}
	if err := st.APIKeys.Create(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAPIKeysVersioning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		k := newKey(t, st, "k")
		if k.Version != 1 {
			t.Fatalf("new key at version %d", k.Version)
		}
		dup := *k
		if err := st.APIKeys.Create(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate id: %v, want ErrConflict", err)
		}

		upd := &store.APIKey{ID: k.ID, Name: "renamed", IsActive: true,
			Permissions: []store.Permission{{Scope: "DATA", Verbs: []string{"READ"}, WorkspaceIDs: []string{"29aabbccddeeff00"}}}}
		got, err := st.APIKeys.Update(ctx, upd, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || got.Name != "renamed" || !got.IsActive || got.ClientID != k.ClientID ||
			len(got.Permissions) != 1 || got.Permissions[0].WorkspaceIDs[0] != "29aabbccddeeff00" || !got.CreatedAt.Equal(k.CreatedAt) {
			t.Fatalf("after update: %+v", got)
		}
		if _, err := st.APIKeys.Update(ctx, upd, 1); !errors.Is(err, store.ErrVersionMismatch) {
			t.Fatalf("stale update: %v", err)
		}
		if _, err := st.APIKeys.Update(ctx, &store.APIKey{ID: "000000000000000000000000"}, 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of a missing key: %v", err)
		}
		stale := int64(1)
		if _, err := st.APIKeys.Delete(ctx, k.ID, &stale); !errors.Is(err, store.ErrVersionMismatch) {
			t.Fatalf("stale delete: %v", err)
		}
		del, err := st.APIKeys.Delete(ctx, k.ID, nil)
		if err != nil || del.Name != "renamed" {
			t.Fatalf("delete: %v %+v", err, del)
		}
		if _, err := st.APIKeys.Get(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
	})
}

func TestAPIKeysList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for _, n := range []string{"c", "a", "b", "a"} {
			newKey(t, st, n)
		}
		values, _ := url.ParseQuery("$sort=name&$take=3&name=neq:b")
		q, err := ndata.Parse(values, store.APIKeyFields)
		if err != nil {
			t.Fatal(err)
		}
		keys, total, err := st.APIKeys.List(t.Context(), q, nil)
		if err != nil {
			t.Fatal(err)
		}
		if total != 3 || len(keys) != 3 || keys[0].Name != "a" || keys[1].Name != "a" || keys[2].Name != "c" {
			t.Fatalf("total %d, keys %+v", total, keys)
		}
		if keys[0].ID > keys[1].ID {
			t.Fatal("equal names are not ordered by id")
		}
		q.Count = true
		keys, total, err = st.APIKeys.List(t.Context(), q, nil)
		if err != nil || keys != nil || total != 3 {
			t.Fatalf("count only: %v %v %d", err, keys, total)
		}
	})
}

func TestMigrationsAreRecordedOnce(t *testing.T) {
	for _, d := range storetest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, d)
			for range 2 {
				st, err := store.Open(context.Background(), dsn, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Settings.Put(t.Context(), "probe", "x"); err != nil {
					t.Fatal(err)
				}
				if v, err := st.Settings.Get(t.Context(), "probe"); err != nil || v != "x" {
					t.Fatalf("settings: %q %v", v, err)
				}
				st.Close()
			}
		})
	}
}

func TestSettingsMissing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		if _, err := st.Settings.Get(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing setting: %v", err)
		}
	})
}

// TestNullsSortFirst pins one NULL order on both databases (PostgreSQL's
// default is NULLs last ascending, SQLite's NULLs first).
func TestNullsSortFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		described := newKey(t, st, "described")
		plain := newKey(t, st, "plain")
		upd := &store.APIKey{ID: described.ID, Name: "described", Description: ptr("d"), Permissions: []store.Permission{}}
		if _, err := st.APIKeys.Update(t.Context(), upd, 1); err != nil {
			t.Fatal(err)
		}
		for sort, first := range map[string]string{"description": plain.ID, "-description": described.ID} {
			q, err := ndata.Parse(url.Values{"$sort": {sort}}, store.APIKeyFields)
			if err != nil {
				t.Fatal(err)
			}
			keys, _, err := st.APIKeys.List(t.Context(), q, nil)
			if err != nil || len(keys) != 2 || keys[0].ID != first {
				t.Fatalf("$sort=%s: %v %+v", sort, err, keys)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
