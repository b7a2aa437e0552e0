// Package server serves keyplane's HTTP API: Echo with the spec-driven gate
// (route, authenticate, validate), the generated strict handlers, and one
// problem+json error path. Handlers read like the spec: parse, authorize, call
// the store, map to the generated response type.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/ingest"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/store"
)

// Config holds what the server needs besides the store.
type Config struct {
	// Logger receives the access log and errors; nil means slog.Default().
	Logger *slog.Logger
	// Auth authenticates requests.
	Auth Authenticator
	// Sealer encrypts key secrets before they reach the store.
	Sealer *auth.Sealer
	// Tokens issues login access tokens.
	Tokens *auth.Tokens
	// Limiter slows down password guessing (the authenticator has its own
	// view of it for keys and tokens; pass the same one).
	Limiter *auth.Limiter
	// BodyLimit caps request bodies (Echo syntax, e.g. "1M"); empty means 1M.
	BodyLimit string
	// BulkBodyLimit caps bulk backfills (up to 10,000 samples); empty means 16M.
	BulkBodyLimit string
	// Proxies are the reverse proxies trusted to name the client in
	// X-Forwarded-For, for login rate limits (use the authenticator's).
	Proxies auth.Proxies
	// ValidateResponses checks every response against the spec and logs
	// violations (for staging; tests do it always).
	ValidateResponses bool
	// Kinds are the kinds of output connector (connector.NewRegistry); the
	// delivery worker must use the same.
	Kinds *connector.Kinds
	// WebhookAllowPrivate lets connectors name loopback, private and other
	// special-purpose addresses (KEYPLANE_WEBHOOK_ALLOW_PRIVATE; the delivery
	// worker's AllowPrivate must agree). Otherwise such a literal address is
	// refused when the connector is written, and names are checked at dial.
	WebhookAllowPrivate bool
	// MetricsSeparate takes /metrics off the API: the caller serves
	// API.Metrics on an address of its own (KEYPLANE_METRICS_ADDR). Otherwise
	// the API serves /metrics only to a credential holding METRICS:READ
	// platform-wide.
	MetricsSeparate bool
	// Wake, when set, is called after a backfill commits deliveries, so the
	// delivery worker claims them at once instead of at its next poll; it
	// must not block (delivery.Worker.Wake).
	Wake func()
	// KeyRateLimits, when set, limits each key's requests as verifications
	// see them (POST /v3/keys/verify answers RATE_LIMITED); nil limits
	// nothing.
	KeyRateLimits KeyRateLimiter
	// RateLimits, when set, applies each key's request allowance to every
	// authenticated request (limits.Keys; pass the same as KeyRateLimits so
	// that verifications and requests spend one budget); nil limits nothing.
	RateLimits RateLimiter
}

// RateLimiter decides one request of a key after authentication, with the
// allowance the key was read with (own; nil: none of its own or of its
// organization): limited is false when the key has no allowance.
// *limits.Keys is the production one.
type RateLimiter interface {
	Take(keyID string, own *limits.Rate) (d limits.Decision, limited bool)
	// RateOf is the key's allowance, spending nothing (for the rule that a
	// limited key gives no key more than its own).
	RateOf(own *limits.Rate) (r limits.Rate, limited bool)
}

// Authenticator turns a request's credentials into a principal; an error
// means 401. Revalidate tells whether a principal's credential still
// authenticates, and what it may do now, for sessions that outlive a request.
// VerifyPresented checks a credential another service received, by the same
// rules (POST /v3/keys/verify). *auth.Authenticator is the production one.
type Authenticator interface {
	Authenticate(r *http.Request) (*auth.Principal, error)
	Revalidate(ctx context.Context, p *auth.Principal) (*auth.Principal, error)
	VerifyPresented(ctx context.Context, c auth.Presented, visible func(org string) bool) (auth.Verification, error)
}

// API is keyplane's HTTP surface: the Echo instance that serves the API, and
// the metrics handler for an address of its own.
type API struct {
	*echo.Echo
	// Metrics serves the Prometheus metrics to anyone who reaches it; serve
	// it only on an operator's address (Config.MetricsSeparate).
	Metrics http.Handler
}

// ServeHTTP serves r with Echo, routing a path that starts with several
// slashes as the path with one: clients that join a base URL ending in "/"
// with "/apikeys" send "//apikeys". Only routing changes: r.RequestURI keeps
// the path as sent, which is what an HMAC signature covers. (Done here, not
// as Echo "pre" middleware, which Echo would wrap around every request.)
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u := r.URL; strings.HasPrefix(u.Path, "//") {
		routed := *u
		routed.Path = "/" + strings.TrimLeft(u.Path, "/")
		if u.RawPath != "" {
			routed.RawPath = "/" + strings.TrimLeft(u.RawPath, "/")
		}
		r.URL = &routed
	}
	a.Echo.ServeHTTP(w, r)
}

// Server implements gen.StrictServerInterface over a store.
type Server struct {
	store   *store.Store
	sealer  *auth.Sealer
	tokens  *auth.Tokens
	limiter *auth.Limiter
	log     *slog.Logger
	metrics *metrics
	// wake nudges the delivery worker (Config.Wake); never nil.
	wake    func()
	streams *hub
	// ingest stores backfilled samples (package ingest).
	ingest *ingest.Service
	kinds  *connector.Kinds
	// webhookAllowPrivate is Config.WebhookAllowPrivate.
	webhookAllowPrivate bool
	// verifier checks credentials presented to other services (Config.Auth).
	verifier Authenticator
	// keyLimits is Config.KeyRateLimits (nil: no limits).
	keyLimits KeyRateLimiter
	// rates is Config.RateLimits (nil: no limits).
	rates RateLimiter
	// specJSON is the OpenAPI document as JSON, served at /openapi.json.
	specJSON []byte
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New returns the Echo instance that serves the whole API, and the metrics.
func New(cfg Config, st *store.Store) (*API, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "1M"
	}
	if cfg.BulkBodyLimit == "" {
		cfg.BulkBodyLimit = "16M"
	}
	if cfg.Auth == nil || cfg.Sealer == nil || cfg.Tokens == nil || cfg.Kinds == nil {
		return nil, fmt.Errorf("server: Auth, Sealer, Tokens and Kinds are required")
	}
	db, err := st.SQLDB()
	if err != nil {
		return nil, err
	}
	s := &Server{store: st, sealer: cfg.Sealer, tokens: cfg.Tokens, limiter: cfg.Limiter, log: cfg.Logger, metrics: newMetrics(db, st.Deliveries),
		streams: newHub(st, cfg.Logger), kinds: cfg.Kinds,
		webhookAllowPrivate: cfg.WebhookAllowPrivate, verifier: cfg.Auth, keyLimits: cfg.KeyRateLimits, rates: cfg.RateLimits}
	if s.wake = cfg.Wake; s.wake == nil {
		s.wake = func() {}
	}
	s.ingest = ingest.New(st, cfg.Logger, func(ctx context.Context, d *store.Device, samples []store.Sample, deliveries int) {
		if deliveries > 0 {
			s.wake()
		}
		s.streams.publish(ctx, d, samples)
	})
	g, err := newGate(cfg.Auth, cfg.Proxies, cfg.RateLimits, cfg.ValidateResponses, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if s.specJSON, err = specAsJSON(); err != nil {
		return nil, err
	}

	bodyLimit, err := limitBody(cfg.BodyLimit, cfg.BulkBodyLimit)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Binder = &decodedBinder{}
	e.JSONSerializer = exactJSON{}
	e.Use(
		observe(cfg.Logger, s.metrics, cfg.Proxies),
		bodyLimit,
		g.middleware,
	)
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	if err := registerDocs(e); err != nil {
		return nil, err
	}
	if err := registerConsole(e); err != nil {
		return nil, err
	}
	metrics := s.metrics.handler()
	if !cfg.MetricsSeparate {
		e.GET("/metrics", guardMetrics(cfg.Auth, metrics))
	}
	e.GET(dataStreamsRoute, s.dataStreams(cfg.Auth))
	return &API{Echo: e, Metrics: metrics}, nil
}

// guardMetrics serves the metrics only to a credential with METRICS:READ
// platform-wide: they tell an outsider the operations, their volume and
// failures.
func guardMetrics(authn Authenticator, metrics http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := authn.Authenticate(c.Request())
		if err != nil {
			return err
		}
		if !p.Allowed(auth.Target{Scope: auth.ScopeMetrics, Verb: auth.Read}) {
			return forbidden("requires METRICS:READ platform-wide")
		}
		metrics.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// bulkRoute is the one operation whose body may exceed BodyLimit.
const bulkRoute = "/v3/devices/:deviceId/backfill/bulk"

func isBulk(c echo.Context) bool { return c.Path() == bulkRoute }
