package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/openapi"
)

// gate is the spec-driven front door of every request: it finds the operation
// in the OpenAPI document, authenticates the caller when the operation is
// secured, and validates the request against the spec, before any handler runs.
// Authentication comes first so that an anonymous caller learns nothing about
// the request shapes.
type gate struct {
	// routes are the spec's operations by Echo route (GET, /v3/x/:id):
	// Echo has already matched the request, so the gate looks the
	// operation up instead of matching the path again.
	routes map[routeKey]*operation
	// router matches what Echo could not route, to tell 404 from 405.
	router routers.Router
	// literal are the methods of each spec path without parameters: Echo
	// routes a method such a path lacks to a parameter route beside it
	// (PUT /v3/devices/by-device-id to PUT /v3/devices/{deviceId}), which
	// must be a 405 instead.
	literal map[string]map[string]bool
	auth    Authenticator
	opts    *openapi3filter.Options
	// bulkOpts skip the body of the bulk backfill, which decodeBulk checks.
	bulkOpts *openapi3filter.Options
	// responses, when set, validates every response too and logs violations.
	responses *responseValidator
	proxies   auth.Proxies
	// rates applies keys' request allowances (nil: none).
	rates RateLimiter
}

func newGate(a Authenticator, proxies auth.Proxies, rates RateLimiter, validateResponses bool, log *slog.Logger) (*gate, error) {
	spec, err := openapi.Load()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	spec.Servers = nil // match any host: the spec's server list is documentation
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("build spec router: %w", err)
	}
	g := &gate{
		routes:  echoRoutes(spec),
		literal: literalPaths(spec),
		router:  router,
		auth:    a,
		proxies: proxies,
		rates:   rates,
		opts: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true,                                  // handlers apply defaults; the request stays as sent
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc, // done before, by g.auth
		},
	}
	bulkOpts := *g.opts
	bulkOpts.ExcludeRequestBody = true
	g.bulkOpts = &bulkOpts
	if validateResponses {
		g.responses = &responseValidator{log: log}
	}
	return g, nil
}

func (g *gate) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if unguarded[c.Path()] {
			return next(c)
		}
		req := c.Request()
		op, params, err := g.find(c)
		if methods, ok := g.literal[req.URL.Path]; err == nil && ok && !methods[req.Method] {
			err = routers.ErrMethodNotAllowed
		}
		if err != nil {
			if errors.Is(err, routers.ErrMethodNotAllowed) {
				p := problemf(http.StatusMethodNotAllowed, 0, "%s is not allowed on %s", req.Method, req.URL.Path)
				p.Header = http.Header{"Allow": {strings.Join(g.allowed(req), ", ")}}
				return p
			}
			return problemf(http.StatusNotFound, 0, "no operation at %s", req.URL.Path)
		}
		c.SetRequest(req.WithContext(&requestFacts{Context: req.Context(), operation: op.route.Operation.OperationID,
			id: c.Response().Header().Get(echo.HeaderXRequestID), clientAddress: g.proxies.ClientIP(req), rawQuery: req.URL.RawQuery}))
		if g.responses != nil {
			return g.responses.check(c, op.route, params, func() error { return g.serve(c, op, params, next) })
		}
		return g.serve(c, op, params, next)
	}
}

// routeKey is a method and an Echo route path.
type routeKey struct{ method, path string }

// echoRoutes indexes the spec's operations by the Echo route each is
// registered under ({name} written :name, as the generated code does).
func echoRoutes(spec *openapi3.T) map[routeKey]*operation {
	routes := map[routeKey]*operation{}
	for path, item := range spec.Paths.Map() {
		echoPath := pathParam.ReplaceAllString(path, ":$1")
		for method, op := range item.Operations() {
			routes[routeKey{method, echoPath}] = newOperation(&routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op})
		}
	}
	return routes
}

// literalPaths indexes the methods of the spec's paths without parameters.
func literalPaths(spec *openapi3.T) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for path, item := range spec.Paths.Map() {
		if strings.Contains(path, "{") {
			continue
		}
		out[path] = map[string]bool{}
		for method := range item.Operations() {
			out[path][method] = true
		}
	}
	return out
}

// pathParam is a path parameter of the spec ({name}).
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// find is the operation of the request and its path parameters: Echo's
// match when it found one, else the spec router's answer (404 or 405).
func (g *gate) find(c echo.Context) (*operation, map[string]string, error) {
	if op, ok := g.routes[routeKey{c.Request().Method, c.Path()}]; ok {
		names, values := c.ParamNames(), c.ParamValues()
		if len(names) == 0 {
			return op, nil, nil
		}
		params := make(map[string]string, len(names))
		for i, name := range names {
			if v, err := url.PathUnescape(values[i]); err == nil {
				params[name] = v
			} else {
				params[name] = values[i]
			}
		}
		return op, params, nil
	}
	route, params, err := g.router.FindRoute(c.Request())
	if err != nil {
		return nil, nil, err
	}
	return newOperation(route), params, nil
}

// allowed lists the methods the spec defines on the request's path, for the
// Allow header of a 405 (RFC 9110 §15.5.6).
func (g *gate) allowed(req *http.Request) []string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := req.Clone(req.Context())
		probe.Method = m
		if _, _, err := g.router.FindRoute(probe); err == nil {
			methods = append(methods, m)
		}
	}
	return methods
}

// serve authenticates and validates the request of a found route, then
// calls the handler.
func (g *gate) serve(c echo.Context, op *operation, params map[string]string, next echo.HandlerFunc) error {
	req := c.Request()
	ctx := req.Context() // with the request's facts (middleware)
	if op.secured {
		p, err := g.auth.Authenticate(req)
		if err != nil {
			return err
		}
		if err := g.limit(c, p); err != nil {
			return err
		}
		ctx = auth.WithPrincipal(ctx, p)
		c.SetRequest(req.WithContext(ctx))
		req = c.Request()
	}
	body, err := checkInput(req, op, params)
	if err != nil {
		return err
	}
	opts, bulk := g.opts, op.route.Operation.OperationID == bulkOperation
	if bulk {
		opts = g.bulkOpts
	}
	if op.validated {
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op.validation, Options: opts}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return requestProblem(err)
		}
	}
	if bulk {
		samples, err := decodeBulk(req, body)
		if err != nil {
			return err
		}
		c.Set(decodedBodyKey, samples)
	}
	return next(c)
}

// limit applies the allowance of the key p authenticated with (its own, else
// its organization's): the response carries X-RateLimit-Limit, -Remaining
// and -Reset, and a request over it is a 429 with Retry-After. Principals
// that are no key (root, login sessions) have no allowance.
func (g *gate) limit(c echo.Context, p *auth.Principal) error {
	if g.rates == nil || p.KeyID == "" {
		return nil
	}
	d, limited := g.rates.Take(p.KeyID, allowanceOf(p.Key()))
	if !limited {
		return nil
	}
	h := c.Response().Header()
	h.Set("X-RateLimit-Limit", strconv.FormatInt(d.Limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(d.Remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if !d.Allowed {
		return &limits.Exceeded{Decision: d}
	}
	return nil
}

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// unguarded are the routes the server serves outside the gate: the docs page,
// the console's files and metrics (no credentials), and the data-stream WebSocket, which
// authenticates itself (a browser's WebSocket carries its key in the query).
var unguarded = map[string]bool{
	"/docs": true, "/docs/*": true, "/console": true, "/console/*": true, "/metrics": true, dataStreamsRoute: true,
}

// dataStreamsRoute is akenza's live data WebSocket.
const dataStreamsRoute = "/v3/data-streams"

// requestProblem turns kin-openapi's validation errors into a 400 (or 415)
// problem whose errors name each failing parameter or body member. Messages
// are kin-openapi's short reasons: never the schema, never the rejected value.
func requestProblem(err error) *Problem {
	var errs []gen.ProblemError
	unsupported := false
	for _, e := range flatten(err) {
		var rerr *openapi3filter.RequestError
		if !errors.As(e, &rerr) {
			errs = append(errs, gen.ProblemError{MemberName: "request", Message: "invalid request"})
			continue
		}
		switch {
		case rerr.Parameter != nil:
			for _, m := range memberErrors(rerr.Err) {
				errs = append(errs, gen.ProblemError{MemberName: rerr.Parameter.Name, Message: m.Message, Code: m.Code})
			}
		case rerr.RequestBody != nil && rerr.Reason != "" && strings.Contains(rerr.Reason, "Content-Type"):
			unsupported = true
			errs = append(errs, gen.ProblemError{MemberName: "Content-Type", Message: rerr.Reason, Code: new("unsupported")})
		case rerr.RequestBody != nil:
			errs = append(errs, memberErrors(rerr.Err)...)
		default:
			errs = append(errs, gen.ProblemError{MemberName: "request", Message: rerr.Reason})
		}
	}
	p := invalid(errs...)
	if unsupported {
		p.Status = http.StatusUnsupportedMediaType
	}
	p.cause = err
	return p
}

// flatten lists the errors inside (nested) openapi3.MultiErrors.
func flatten(err error) []error {
	multi, ok := err.(openapi3.MultiError)
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range multi {
		out = append(out, flatten(e)...)
	}
	return out
}

// memberErrors describes schema violations, each named by the JSON pointer of
// the failing member; an error that is not a schema violation is a body that
// could not be decoded.
func memberErrors(err error) []gen.ProblemError {
	var out []gen.ProblemError
	for _, e := range flatten(err) {
		var serr *openapi3.SchemaError
		if errors.As(e, &serr) {
			out = append(out, gen.ProblemError{
				MemberName: "/" + strings.Join(serr.JSONPointer(), "/"),
				Message:    serr.Reason,
				Code:       new(serr.SchemaField),
			})
			continue
		}
		out = append(out, gen.ProblemError{MemberName: "body", Message: "not valid JSON", Code: new("syntax")})
	}
	return out
}
