package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/openapi"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
	"github.com/keyplane/keyplane/store/storetest"
)

const rootToken = "kp_root_test"

// testClock is the harness's settable clock (HMAC windows, key expiry).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// harness drives the server in-process and validates every response against
// the spec: an undocumented status, header or field fails the test.
type harness struct {
	e      *server.API
	st     *store.Store
	router routers.Router
	authn  *auth.Authenticator
	clock  *testClock
	rates  *limits.Keys

	signMu     sync.Mutex
	lastSigned time.Time // the latest NWS4 timestamp do signed with
}

// signTime is the timestamp of the next request do signs: the clock's time,
// but at least a millisecond after the previous one, so that two equal
// requests sent within a millisecond are two signatures, not a replay
// (NWS4 timestamps have millisecond precision).
func (h *harness) signTime() time.Time {
	h.signMu.Lock()
	defer h.signMu.Unlock()
	at := h.clock.Now().Truncate(time.Millisecond)
	if !at.After(h.lastSigned) {
		at = h.lastSigned.Add(time.Millisecond)
	}
	h.lastSigned = at
	return at
}

// newHarness serves st; opts change the server's configuration.
func newHarness(t testing.TB, st *store.Store, opts ...func(*server.Config)) *harness {
	t.Helper()
	secretKey := bytes.Repeat([]byte{7}, auth.KeySize)
	sealer, err := auth.NewSealer(secretKey)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	tokens, err := auth.NewTokens(secretKey, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.ForStore(st, sealer, tokens, auth.Digest(rootToken))
	authn.Now = clock.Now
	if err := authn.Cache.Run(t.Context()); err != nil { // every test runs with the cache on
		t.Fatal(err)
	}
	// Every test runs with the rate limiter on (keys without an allowance
	// are not limited), on the harness clock.
	rates := limits.NewKeys(limits.NewCounter(nil, "test"), nil)
	rates.SetClock(clock.Now)
	cfg := server.Config{
		RateLimits:    rates,
		KeyRateLimits: rates,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth:          authn,
		Sealer:        sealer,
		Tokens:        tokens,
		Limiter:       authn.Limiter,
		Kinds:         connector.Builtin(),
		// The tests' webhook receivers listen on 127.0.0.1.
		WebhookAllowPrivate: true,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	e, err := server.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{e: e, st: st, router: router, authn: authn, clock: clock, rates: rates}
}

// each runs fn once per database backend, in parallel.
func each(t *testing.T, fn func(t *testing.T, h *harness)) {
	storetest.Each(t, func(t *testing.T, st *store.Store) { fn(t, newHarness(t, st)) })
}

// response is a recorded response.
type response struct {
	t    testing.TB
	Code int
	Hdr  http.Header
	Body []byte
}

// decode unmarshals the body into v.
func (r *response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func (r *response) problem() gen.Problem {
	r.t.Helper()
	if ct := r.Hdr.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("content type %q, want application/problem+json (body %s)", ct, r.Body)
	}
	var p gen.Problem
	r.decode(&p)
	return p
}

func (r *response) want(code int) *response {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("status %d, want %d: %s", r.Code, code, r.Body)
	}
	return r
}

// req is a request to send; zero fields take defaults (root token, JSON body).
type req struct {
	method, path string
	body         any // marshalled to JSON unless a string or []byte
	header       map[string]string
	anonymous    bool                // send no credentials
	bearer       string              // Authorization: Bearer (default: the root token)
	apiKey       string              // x-api-key instead of a bearer token
	hmac         *nws4.Credentials   // sign with NWS4 instead of a bearer token
	signAt       time.Time           // HMAC timestamp (default: the harness clock)
	after        func(*http.Request) // changes the request after signing (tampering)
}

func (h *harness) do(t testing.TB, r req) *response {
	t.Helper()
	var data []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	var body io.Reader
	if data != nil {
		body = bytes.NewReader(data)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch {
	case r.anonymous:
	case r.apiKey != "":
		hr.Header.Set("x-api-key", r.apiKey)
	case r.hmac != nil:
	case r.bearer != "":
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	default:
		hr.Header.Set("Authorization", "Bearer "+rootToken)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.hmac != nil {
		at := r.signAt
		if at.IsZero() {
			at = h.signTime()
		}
		if err := nws4.Sign(hr, data, *r.hmac, at); err != nil {
			t.Fatal(err)
		}
	}
	if r.after != nil {
		r.after(hr)
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, hr)
	res := &response{t: t, Code: rec.Code, Hdr: rec.Header(), Body: rec.Body.Bytes()}
	if rid := res.Hdr.Get("X-Request-Id"); rid == "" {
		t.Errorf("%s %s: no X-Request-Id", r.method, r.path)
	}
	h.validate(t, hr, res)
	return res
}

// validate checks the response against the spec, when the request names a
// documented operation.
func (h *harness) validate(t testing.TB, hr *http.Request, res *response) {
	t.Helper()
	route, params, err := h.router.FindRoute(hr)
	if err != nil {
		return // no operation: nothing documented to hold the response to
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
		Status:                 res.Code,
		Header:                 res.Hdr,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %d violates the spec: %v\n%s", hr.Method, hr.URL, res.Code, err, res.Body)
	}
}

// create makes a key and returns it as created (with its secret).
func (h *harness) create(t testing.TB, in map[string]any) gen.ApiKey {
	t.Helper()
	var k gen.ApiKey
	h.do(t, req{method: "POST", path: "/apikeys", body: in}).want(201).decode(&k)
	return k
}

// org creates an organization (as root) and returns its id.
func (h *harness) org(t testing.TB, name string) string {
	t.Helper()
	var o gen.Organization
	h.do(t, req{method: "POST", path: "/v3/organizations", body: map[string]any{"name": name}}).want(201).decode(&o)
	return o.Id
}

// workspace creates a workspace in org (as root) and returns its id.
func (h *harness) workspace(t testing.TB, org, name string) string {
	t.Helper()
	var w gen.Workspace
	h.do(t, req{method: "POST", path: "/v3/workspaces", body: map[string]any{"name": name, "organizationId": org}}).want(201).decode(&w)
	return w.Id
}

// user creates a user (as root) with the password "password-" + name.
func (h *harness) user(t testing.TB, name string, roles ...string) gen.User {
	t.Helper()
	if roles == nil {
		roles = []string{}
	}
	var u gen.User
	h.do(t, req{method: "POST", path: "/users", body: map[string]any{"userName": name, "password": "password-" + name, "roles": roles}}).want(201).decode(&u)
	return u
}

// login returns an access token for the user made by h.user.
func (h *harness) login(t testing.TB, name string) gen.LoginResult {
	t.Helper()
	var res gen.LoginResult
	h.do(t, req{method: "POST", path: "/api/auth", anonymous: true,
		body: map[string]any{"userName": name, "password": "password-" + name, "deviceName": "test"}}).want(200).decode(&res)
	return res
}

// member gives a user a role in an organization (as root).
func (h *harness) member(t testing.TB, org, userID, role string) {
	t.Helper()
	h.do(t, req{method: "PUT", path: "/v3/organizations/" + org + "/members/" + userID, body: map[string]any{"role": role}}).want(200)
}

// scrape reads /metrics, which is outside the spec, with the given headers
// (the root token when nil).
func (h *harness) scrape(t testing.TB, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics", nil)
	if header == nil {
		header = map[string]string{"Authorization": "Bearer " + rootToken}
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, r)
	return rec
}

// creds is the HMAC credential pair of a created key.
func creds(k gen.ApiKey) *nws4.Credentials {
	return &nws4.Credentials{ClientID: k.ClientId, Secret: *k.ClientSecret}
}

// mustQuery parses an NData query for direct store calls.
func mustQuery(t testing.TB, raw string) ndata.Query {
	t.Helper()
	values, err := ndata.ParseRawQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ndata.Parse(values, store.AuditFields)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
