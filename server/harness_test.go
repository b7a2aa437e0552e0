package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

const rootToken = "kp_root_test"

// limitedToken authenticates as a principal holding only apiKeyRead.
const limitedToken = "kp_limited_test"

// testAuth accepts the root token and a read-only token.
type testAuth struct{ root *auth.Authenticator }

func (a testAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	if r.Header.Get("Authorization") == "Bearer "+limitedToken {
		return auth.NewPrincipal("reader", "bearer", auth.APIKeyRead), nil
	}
	return a.root.Authenticate(r)
}

// harness drives the server in-process and validates every response against
// the spec: an undocumented status, header or field fails the test.
type harness struct {
	e      *echo.Echo
	st     *store.Store
	router routers.Router
}

func newHarness(t testing.TB, st *store.Store) *harness {
	t.Helper()
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e, err := server.New(server.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth:   testAuth{root: auth.NewAuthenticator(auth.Digest(rootToken))},
		Sealer: sealer,
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{e: e, st: st, router: router}
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
	anonymous    bool
}

func (h *harness) do(t testing.TB, r req) *response {
	t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !r.anonymous {
		hr.Header.Set("Authorization", "Bearer "+rootToken)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
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
