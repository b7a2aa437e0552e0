package storetest

import (
	"testing"

	"github.com/keyplane/keyplane/store"
)

// Workspace creates an organization "acme" with one workspace "main" in st
// and returns that placement: where the resources of a test that needs no
// more than one tenant live.
func Workspace(tb testing.TB, st *store.Store) store.Placement {
	tb.Helper()
	o := &store.Organization{Name: "acme", Properties: map[string]any{}}
	if err := st.Organizations.Create(tb.Context(), o, ""); err != nil {
		tb.Fatal(err)
	}
	w := &store.Workspace{OrganizationID: o.ID, Name: "main", Properties: map[string]any{}, Settings: map[string]any{}}
	if err := st.Workspaces.Create(tb.Context(), w); err != nil {
		tb.Fatal(err)
	}
	return store.Placement{OrganizationID: o.ID, WorkspaceID: w.ID}
}
