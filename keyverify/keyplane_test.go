package keyverify_test

// A real keyplane for the tests and the example: server.New over a store,
// served by httptest, with a root token to create what they need.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
)

const rootToken = "kp_root_keyverify"

// keyplane is a live keyplane and the organization "acme" in it.
type keyplane struct {
	*httptest.Server
	root  *gen.ClientWithResponses
	authn *auth.Authenticator
	org   string
	close []func()
}

// Close stops the server and releases what it holds.
func (k *keyplane) Close() {
	k.Server.Close()
	for i := len(k.close) - 1; i >= 0; i-- {
		k.close[i]()
	}
}

// startKeyplane serves st (opts change the server's configuration) and
// creates the organization acme.
func startKeyplane(st *store.Store, opts ...func(*server.Config)) (*keyplane, error) {
	secretKey := bytes.Repeat([]byte{9}, auth.KeySize)
	sealer, err := auth.NewSealer(secretKey)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(secretKey, nil)
	if err != nil {
		return nil, err
	}
	authn := auth.ForStore(st, sealer, tokens, auth.Digest(rootToken))
	ctx, cancel := context.WithCancel(context.Background())
	if err := authn.Cache.Run(ctx); err != nil {
		cancel()
		return nil, err
	}
	cfg := server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: authn, Sealer: sealer,
		Tokens: tokens, Limiter: authn.Limiter, Kinds: connector.Builtin()}
	for _, opt := range opts {
		opt(&cfg)
	}
	api, err := server.New(cfg, st)
	if err != nil {
		cancel()
		return nil, err
	}
	k := &keyplane{Server: httptest.NewServer(api), authn: authn, close: []func(){cancel}}
	k.root, err = gen.NewClientWithResponses(k.URL, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+rootToken)
		return nil
	}))
	if err == nil {
		k.org, err = k.organization("acme")
	}
	if err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// startExampleKeyplane is startKeyplane on a fresh SQLite file, for the
// example (which has no testing.T).
func startExampleKeyplane() (*keyplane, error) {
	dir, err := os.MkdirTemp("", "keyverify-example")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "keyplane.db"), nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	k, err := startKeyplane(st)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	k.close = append(k.close, func() { os.RemoveAll(dir) }, func() { st.Close() })
	return k, nil
}

// organization creates an organization and returns its id.
func (k *keyplane) organization(name string) (string, error) {
	res, err := k.root.CreateOrganizationWithResponse(context.Background(), gen.OrganizationInput{Name: name})
	if err != nil {
		return "", err
	}
	if res.JSON201 == nil {
		return "", fmt.Errorf("create organization: %s %s", res.Status(), res.Body)
	}
	return res.JSON201.Id, nil
}

// key creates an active key in org with one permission (scope and verbs),
// after the changes of with, and returns it with its secret.
func (k *keyplane) key(org, name, scope string, verbs []gen.Verb, with ...func(*gen.ApiKeyInput)) (gen.ApiKey, error) {
	perms := []gen.Permission{{Scope: gen.Scope(scope), Verbs: verbs}}
	in := gen.ApiKeyInput{Name: name, IsActive: new(true), OrganizationId: &org, Permissions: &perms}
	for _, f := range with {
		f(&in)
	}
	res, err := k.root.CreateApiKeyWithResponse(context.Background(), in)
	if err != nil {
		return gen.ApiKey{}, err
	}
	if res.JSON201 == nil {
		return gen.ApiKey{}, fmt.Errorf("create key %s: %s %s", name, res.Status(), res.Body)
	}
	return *res.JSON201, nil
}

// serviceKey is a key that may verify acme's keys.
func (k *keyplane) serviceKey() (gen.ApiKey, error) {
	return k.key(k.org, "orders service", "KEY", []gen.Verb{gen.VerbVERIFY})
}

// clientKey is a key of acme that reads assets.
func (k *keyplane) clientKey() (gen.ApiKey, error) {
	return k.key(k.org, "client", "ASSET", []gen.Verb{gen.VerbREAD})
}
