// Package e2e tests the real binary from the outside: it builds keyplane,
// starts it on a free port against PostgreSQL, drives it only through the
// generated Go client, and stops it with SIGTERM.
package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

const rootToken = "kp_root_e2e_0123456789abcdef"

// binary is the keyplane executable built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyplane-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "keyplane")
	build := exec.Command("go", "build", "-o", binary, "../cmd/keyplane")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keyplane:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestKeyLifecycleThroughTheBinary(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.DSN(t, store.Postgres)
	dataDir := t.TempDir()
	p := startEnv(t, dsn, dataDir)
	root := client(t, p.url, bearer(rootToken))

	ready, err := root.GetReadyzWithResponse(ctx)
	if err != nil || ready.StatusCode() != 200 {
		t.Fatalf("readyz: %v %v", err, ready)
	}
	org, err := root.CreateOrganizationWithResponse(ctx, gen.OrganizationInput{Name: "Acme"})
	if err != nil || org.JSON201 == nil {
		t.Fatalf("create organization: %v %s", err, org.Body)
	}
	perms := []gen.Permission{{Scope: gen.ScopeAPIKEY, Verbs: []gen.Verb{gen.VerbREAD}}}
	active := true
	created, err := root.CreateApiKeyWithResponse(ctx, gen.ApiKeyInput{Name: "ci", IsActive: &active,
		OrganizationId: &org.JSON201.Id, Permissions: &perms})
	if err != nil || created.JSON201 == nil || created.JSON201.ClientSecret == nil {
		t.Fatalf("create key: %v %s", err, created.Body)
	}
	key := created.JSON201

	// The key signs its own requests (HMAC) and sends its secret (x-api-key).
	signed := client(t, p.url, gen.RequestEditorFn(nws4.RequestEditor(nws4.Credentials{ClientID: key.ClientId, Secret: *key.ClientSecret})))
	list, err := signed.ListApiKeysWithResponse(ctx, &gen.ListApiKeysParams{Name: &[]string{"ci"}})
	if err != nil || list.JSON200 == nil || list.JSON200.TotalCount != 1 {
		t.Fatalf("signed list: %v %s", err, list.Body)
	}
	withKey := client(t, p.url, func(_ context.Context, r *http.Request) error {
		r.Header.Set("x-api-key", *key.ClientSecret)
		return nil
	})
	got, err := withKey.GetApiKeyWithResponse(ctx, key.Id)
	if err != nil || got.JSON200 == nil || got.JSON200.ClientSecret != nil {
		t.Fatalf("get with x-api-key: %v %s", err, got.Body)
	}
	denied, err := withKey.DeleteApiKeyWithResponse(ctx, key.Id, &gen.DeleteApiKeyParams{})
	if err != nil || denied.StatusCode() != 403 || denied.ApplicationproblemJSON403 == nil ||
		*denied.ApplicationproblemJSON403.Message != "Permission denied" {
		t.Fatalf("delete with a read-only key: %v %d %s", err, denied.StatusCode(), denied.Body)
	}

	// Update with the version, then a stale one.
	v := int64(1)
	upd, err := root.PutApiKeyWithResponse(ctx, key.Id, &gen.PutApiKeyParams{}, gen.ApiKeyInput{Name: "ci-renamed",
		IsActive: &active, OrganizationId: &org.JSON201.Id, Permissions: &perms, UnderscoreV: &v})
	if err != nil || upd.JSON200 == nil || upd.JSON200.UnderscoreV != 2 {
		t.Fatalf("update: %v %s", err, upd.Body)
	}
	stale, err := root.PutApiKeyWithResponse(ctx, key.Id, &gen.PutApiKeyParams{}, gen.ApiKeyInput{Name: "x", UnderscoreV: &v})
	if err != nil || stale.StatusCode() != 409 || *stale.ApplicationproblemJSON409.ErrorCode != 6 {
		t.Fatalf("stale update: %v %d %s", err, stale.StatusCode(), stale.Body)
	}

	// SIGTERM drains and flushes the batched lastUsedAt; a restart on the same
	// data shows it.
	p.stop(t)
	p = startEnv(t, dsn, dataDir)
	root = client(t, p.url, bearer(rootToken))
	after, err := root.GetApiKeyWithResponse(ctx, key.Id)
	if err != nil || after.JSON200 == nil || after.JSON200.LastUsedAt == nil {
		t.Fatalf("lastUsedAt after a clean shutdown: %v %s", err, after.Body)
	}
	del, err := root.DeleteApiKeyWithResponse(ctx, key.Id, &gen.DeleteApiKeyParams{})
	if err != nil || del.JSON200 == nil {
		t.Fatalf("delete: %v %s", err, del.Body)
	}
	gone, err := root.GetApiKeyWithResponse(ctx, key.Id)
	if err != nil || gone.StatusCode() != 404 {
		t.Fatalf("get after delete: %v %d", err, gone.StatusCode())
	}
	p.stop(t)
}
