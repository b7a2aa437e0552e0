package keyverify_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/keyverify"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// world is a live keyplane with acme's service and client keys, and a
// service behind the middleware that records what reaches it.
type world struct {
	kp                   *keyplane
	service, client      gen.ApiKey
	disabled, stranger   gen.ApiKey
	serviceWithoutVerify gen.ApiKey // a key without KEY:VERIFY
	verifier             *keyverify.Verifier
	limits               *limitAfter
	svc                  *httptest.Server
	reached              atomic.Int32 // requests that reached the handler

	mu       sync.Mutex
	lastKey  *keyverify.Key // what the handler last saw
	lastBody []byte
}

// limitAfter allows n requests, then none (the rate-limit seam).
type limitAfter struct{ n atomic.Int32 }

func (l *limitAfter) Allow(string, *limits.Rate) bool { return l.n.Add(-1) >= 0 }

func newWorld(t *testing.T, st *store.Store) *world {
	t.Helper()
	w := &world{limits: &limitAfter{}}
	w.limits.n.Store(1 << 30)
	kp, err := startKeyplane(st, func(c *server.Config) { c.KeyRateLimits = w.limits })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kp.Close)
	w.kp = kp
	must := func(k gen.ApiKey, err error) gen.ApiKey {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	w.service = must(kp.serviceKey())
	w.client = must(kp.clientKey())
	w.disabled = must(kp.key(kp.org, "disabled", "ASSET", []gen.Verb{gen.VerbREAD}, func(in *gen.ApiKeyInput) { in.IsActive = new(false) }))
	w.serviceWithoutVerify = must(kp.key(kp.org, "not a verifier", "ASSET", []gen.Verb{gen.VerbREAD}))
	globex, err := kp.organization("globex")
	if err != nil {
		t.Fatal(err)
	}
	w.stranger = must(kp.key(globex, "stranger", "ASSET", []gen.Verb{gen.VerbREAD}))

	w.verifier, err = keyverify.New(keyverify.Config{Server: kp.URL, Credential: keyverify.APIKey(*w.service.ClientSecret),
		Permission: &keyverify.Permission{Scope: "ASSET", Verb: "READ"}, MaxBody: 64})
	if err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		key, ok := keyverify.KeyFrom(r.Context())
		if !ok {
			t.Error("the handler was reached without a key")
		}
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.lastKey, w.lastBody = key, body
		w.mu.Unlock()
		w.reached.Add(1)
		rw.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.Handle("/orders", w.verifier.Handler(handler))
	mux.Handle("/orders/update", w.verifier.Require(keyverify.Permission{Scope: "ASSET", Verb: "UPDATE"}).Handler(handler))
	signing, err := keyverify.New(keyverify.Config{Server: kp.URL, Credential: keyverify.Signed(w.service.ClientId, *w.service.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/signed-service", signing.Handler(handler))
	notVerifier, err := keyverify.New(keyverify.Config{Server: kp.URL, Credential: keyverify.APIKey(*w.serviceWithoutVerify.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/misconfigured", notVerifier.Handler(handler))
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	unreachable, err := keyverify.New(keyverify.Config{Server: gone.URL, Credential: keyverify.APIKey(*w.service.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/unreachable", unreachable.Handler(handler))
	w.svc = httptest.NewServer(mux)
	t.Cleanup(w.svc.Close)
	return w
}

// call is one request to the service.
type call struct {
	method, path string
	body         []byte
	apiKey       string
	sign         *gen.ApiKey                  // NWS4 with this key
	edit         func(r *http.Request) []byte // after signing: the body actually sent
}

func (w *world) do(t *testing.T, c call) *http.Response {
	t.Helper()
	if c.method == "" {
		c.method = "GET"
	}
	r, err := http.NewRequest(c.method, w.svc.URL+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.apiKey != "" {
		r.Header.Set("X-Api-Key", c.apiKey)
	}
	if c.sign != nil {
		if err := nws4.Sign(r, c.body, nws4.Credentials{ClientID: c.sign.ClientId, Secret: *c.sign.ClientSecret}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if c.edit != nil {
		body := c.edit(r)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// wantProblem checks a refusal: its status, its problem+json body and code,
// and that the handler was not reached.
func (w *world) wantProblem(t *testing.T, res *http.Response, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("status %d, want %d", res.StatusCode, status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q, want application/problem+json", ct)
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
		Title  string `json:"title"`
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Code != code || p.Status != status || p.Title == "" {
		t.Errorf("problem code %q status %d title %q, want %s %d", p.Code, p.Status, p.Title, code, status)
	}
	if status == http.StatusUnauthorized && len(res.Header.Values("WWW-Authenticate")) != 2 {
		t.Errorf("401 challenges %v, want x-api-key and NWS4", res.Header.Values("WWW-Authenticate"))
	}
}

// TestHandlerAgainstKeyplane: the middleware against a live keyplane, on
// PostgreSQL and SQLite: valid keys of both schemes reach the handler with
// the key in the context and the body intact; everything else is refused
// with the problem keyplane's verdict calls for, and never reaches it.
func TestHandlerAgainstKeyplane(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		passes := func(t *testing.T, res *http.Response, scheme string, body []byte) {
			t.Helper()
			if res.StatusCode != http.StatusNoContent {
				msg, _ := io.ReadAll(res.Body)
				t.Fatalf("status %d, want the handler's 204: %s", res.StatusCode, msg)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			k := w.lastKey
			if k.ID != w.client.Id || k.OrganizationID != w.kp.org || k.Scheme != scheme || len(k.Permissions) != 1 || k.Permissions[0].Scope != gen.ScopeASSET {
				t.Errorf("key in the context %+v, want %s of %s by %s with ASSET:READ", k, w.client.Id, w.kp.org, scheme)
			}
			if !bytes.Equal(w.lastBody, body) {
				t.Errorf("the handler read the body %q, want %q", w.lastBody, body)
			}
		}
		t.Run("x-api-key", func(t *testing.T) {
			passes(t, w.do(t, call{path: "/orders", apiKey: *w.client.ClientSecret}), "x-api-key", []byte{})
		})
		t.Run("nws4 GET", func(t *testing.T) {
			passes(t, w.do(t, call{path: "/orders?page=2&sort=-created", sign: &w.client}), "nws4", []byte{})
		})
		t.Run("nws4 POST with a body", func(t *testing.T) {
			body := []byte(`{"item":"book","n":2}`)
			passes(t, w.do(t, call{method: "POST", path: "/orders", body: body, sign: &w.client}), "nws4", body)
		})
		t.Run("the service signs its own requests", func(t *testing.T) {
			passes(t, w.do(t, call{path: "/signed-service", apiKey: *w.client.ClientSecret}), "x-api-key", []byte{})
		})

		before := w.reached.Load()
		for _, tc := range []struct {
			name   string
			c      call
			status int
			code   string
		}{
			{"no credential", call{path: "/orders"}, 401, "MISSING_CREDENTIALS"},
			{"a bearer token", call{path: "/orders", edit: func(r *http.Request) []byte { r.Header.Set("Authorization", "Bearer x"); return nil }}, 401, "MISSING_CREDENTIALS"},
			{"two credentials", call{path: "/orders", apiKey: *w.client.ClientSecret, sign: &w.client}, 401, "AMBIGUOUS_CREDENTIALS"},
			{"an unknown key", call{path: "/orders", apiKey: strings.Repeat("ef", 32)}, 401, "NOT_FOUND"},
			{"another organization's key", call{path: "/orders", apiKey: *w.stranger.ClientSecret}, 401, "NOT_FOUND"},
			{"a disabled key", call{path: "/orders", apiKey: *w.disabled.ClientSecret}, 401, "DISABLED"},
			{"a tampered body", call{method: "POST", path: "/orders", body: []byte(`{"n":1}`), sign: &w.client,
				edit: func(*http.Request) []byte { return []byte(`{"n":9}`) }}, 401, "INVALID_SIGNATURE"},
			{"a tampered query", call{path: "/orders?page=1", sign: &w.client,
				edit: func(r *http.Request) []byte { r.URL.RawQuery = "page=2"; return nil }}, 401, "INVALID_SIGNATURE"},
			{"a key without the permission", call{path: "/orders/update", apiKey: *w.client.ClientSecret}, 403, "FORBIDDEN"},
			{"a signed body over the limit", call{method: "POST", path: "/orders", body: bytes.Repeat([]byte("x"), 65), sign: &w.client}, 413, "BODY_TOO_LARGE"},
			{"a service that may not verify", call{path: "/misconfigured", apiKey: *w.client.ClientSecret}, 503, "VERIFICATION_UNAVAILABLE"},
			{"keyplane unreachable", call{path: "/unreachable", apiKey: *w.client.ClientSecret}, 503, "VERIFICATION_UNAVAILABLE"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w.wantProblem(t, w.do(t, tc.c), tc.status, tc.code)
			})
		}
		t.Run("a replayed signature", func(t *testing.T) {
			r, err := http.NewRequest("GET", w.svc.URL+"/orders?once", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := nws4.Sign(r, nil, nws4.Credentials{ClientID: w.client.ClientId, Secret: *w.client.ClientSecret}, time.Now()); err != nil {
				t.Fatal(err)
			}
			first, err := http.DefaultClient.Do(r.Clone(t.Context()))
			if err != nil {
				t.Fatal(err)
			}
			first.Body.Close()
			if first.StatusCode != http.StatusNoContent {
				t.Fatalf("first use: status %d", first.StatusCode)
			}
			again, err := http.DefaultClient.Do(r.Clone(t.Context()))
			if err != nil {
				t.Fatal(err)
			}
			defer again.Body.Close()
			w.wantProblem(t, again, 401, "REPLAYED")
		})
		if n := w.reached.Load() - before; n != 1 { // only the first use of the replayed signature
			t.Errorf("refused requests reached the handler %d times", n-1)
		}
		t.Run("rate limited", func(t *testing.T) {
			w.limits.n.Store(0)
			defer w.limits.n.Store(1 << 30)
			res := w.do(t, call{path: "/orders", apiKey: *w.client.ClientSecret})
			if res.Header.Get("Retry-After") == "" {
				t.Error("a 429 without Retry-After")
			}
			w.wantProblem(t, res, 429, "RATE_LIMITED")
		})
	})
}

// TestNewNeedsServerAndCredential: a Verifier without either is a
// configuration error, not a middleware that lets everything through.
func TestNewNeedsServerAndCredential(t *testing.T) {
	for _, cfg := range []keyverify.Config{{Server: "http://127.0.0.1:1"}, {Credential: keyverify.APIKey("x")}} {
		if _, err := keyverify.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an incomplete configuration", cfg)
		}
	}
}
