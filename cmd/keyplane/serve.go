package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
)

// config is everything `keyplane serve` reads from flags and KEYPLANE_*
// variables. parseServeFlags is the one place that reads them; it checks
// every value before serve has a side effect.
type config struct {
	addr        string
	databaseURL string
	dataDir     string
	rootToken   string
	secretKey   string
	// secretKeyFrom names where secretKey came from (a flag or a variable),
	// for its errors.
	secretKeyFrom string
	logLevel      string
	logFormat     string
	// trustForwardedHost makes the HMAC verifier read the signed host from
	// X-Forwarded-Host, for deployments behind a proxy that rewrites Host.
	trustForwardedHost bool
	// validateResponses checks every response against the spec and logs
	// violations; for staging.
	validateResponses bool
	// trustedProxies may name the client in X-Forwarded-For (rate limits);
	// proxies is its parsed form.
	trustedProxies string
	proxies        auth.Proxies
	// webhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses (refused by default against SSRF).
	webhookAllowPrivate bool
	// metricsAddr, when set, serves /metrics there (and not on addr)
	// without credentials; otherwise /metrics needs METRICS:READ.
	metricsAddr string
	// deliveryLease overrides the delivery worker's lease (hidden
	// KEYPLANE_DELIVERY_LEASE, for tests); zero keeps the worker's default.
	deliveryLease time.Duration
	// keyRateLimit is the allowance of keys without one of their own or of
	// their organization (KEYPLANE_KEY_RATE_LIMIT, "600/1m"); nil: none.
	keyRateLimit *limits.Rate
	// rateLimitSync is how often replicas reconcile rate limits.
	rateLimitSync time.Duration
}

// psWarning ends the help of flags that carry secrets.
const psWarning = "; a flag is visible to other users in ps: prefer "

func parseServeFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var e envReader
	c.databaseURL, _ = e.secret("KEYPLANE_DATABASE_URL")
	c.rootToken, _ = e.secret("KEYPLANE_ROOT_TOKEN")
	var secretKeyVar string
	c.secretKey, secretKeyVar = e.secret("KEYPLANE_SECRET_KEY")
	c.deliveryLease = e.duration("KEYPLANE_DELIVERY_LEASE") // hidden: tests shorten the lease
	if c.rateLimitSync = e.duration("KEYPLANE_RATE_LIMIT_SYNC"); c.rateLimitSync == 0 {
		c.rateLimitSync = limits.DefaultSyncEvery
	}
	c.keyRateLimit = e.rate("KEYPLANE_KEY_RATE_LIMIT")

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", env("KEYPLANE_ADDR", "127.0.0.1:8080"), "listen address (KEYPLANE_ADDR)")
	fs.StringVar(&c.dataDir, "data-dir", env("KEYPLANE_DATA_DIR", "."), "directory for the SQLite database and the generated secret key (KEYPLANE_DATA_DIR)")
	// Secrets go through secretFlag, so that -h never shows them as defaults.
	fs.Var(secretFlag{&c.databaseURL}, "database-url",
		"database `URL`: postgres://… for PostgreSQL, or an SQLite file path / sqlite: URL; default <data-dir>/keyplane.db "+
			"(KEYPLANE_DATABASE_URL or KEYPLANE_DATABASE_URL_FILE)"+psWarning+"KEYPLANE_DATABASE_URL_FILE for a URL with a password")
	fs.Var(secretFlag{&c.rootToken}, "root-token",
		"root bearer `token` with every right; generated and printed once when unset "+
			"(KEYPLANE_ROOT_TOKEN or KEYPLANE_ROOT_TOKEN_FILE)"+psWarning+"KEYPLANE_ROOT_TOKEN_FILE")
	fs.Var(secretFlag{&c.secretKey}, "secret-key",
		"32-byte AES `key` (hex or base64) sealing key secrets; generated into <data-dir>/keyplane.key when unset "+
			"(KEYPLANE_SECRET_KEY or KEYPLANE_SECRET_KEY_FILE)"+psWarning+"KEYPLANE_SECRET_KEY_FILE")
	fs.BoolVar(&c.trustForwardedHost, "trust-forwarded-host", e.bool("KEYPLANE_TRUST_FORWARDED_HOST", false),
		"verify HMAC signatures against X-Forwarded-Host when present; only behind a proxy that sets it (KEYPLANE_TRUST_FORWARDED_HOST)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", env("KEYPLANE_TRUSTED_PROXIES", ""),
		"comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client, for rate limits (KEYPLANE_TRUSTED_PROXIES)")
	fs.BoolVar(&c.validateResponses, "validate-responses", e.bool("KEYPLANE_VALIDATE_RESPONSES", false),
		"check every response against the OpenAPI spec and log violations; for staging (KEYPLANE_VALIDATE_RESPONSES)")
	fs.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", e.bool("KEYPLANE_WEBHOOK_ALLOW_PRIVATE", false),
		"let output connectors (webhooks, MQTT brokers) name and reach loopback, private and other special-purpose addresses (KEYPLANE_WEBHOOK_ALLOW_PRIVATE)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("KEYPLANE_METRICS_ADDR", ""),
		"serve /metrics on this address of its own, without credentials; unset, /metrics on the API needs METRICS:READ (KEYPLANE_METRICS_ADDR)")
	fs.StringVar(&c.logLevel, "log-level", env("KEYPLANE_LOG_LEVEL", "info"), "debug, info, warn or error (KEYPLANE_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", env("KEYPLANE_LOG_FORMAT", "text"), "text or json (KEYPLANE_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError{err}
	}
	if fs.NArg() > 0 {
		return c, usageError{fmt.Errorf("serve takes no arguments, got %q", fs.Args())}
	}
	if len(e.errs) > 0 {
		return c, usageError{errors.Join(e.errs...)}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	from := func(flagName, envName string) string {
		if given[flagName] {
			return "--" + flagName
		}
		return envName
	}
	c.secretKeyFrom = from("secret-key", secretKeyVar)
	var err error
	if c.proxies, err = auth.ParseProxies(c.trustedProxies); err != nil {
		return c, usageError{fmt.Errorf("%s: %w", from("trusted-proxies", "KEYPLANE_TRUSTED_PROXIES"), err)}
	}
	if c.databaseURL == "" {
		c.databaseURL = filepath.Join(c.dataDir, "keyplane.db")
	}
	return c, nil
}

// envReader reads the KEYPLANE_* variables that need more than env,
// collecting what is wrong with them so that all are reported at once.
type envReader struct{ errs []error }

// bool parses name with strconv.ParseBool; unset or empty is def.
func (e *envReader) bool(name string, def bool) bool {
	v := env(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: want true or false, got %q", name, v))
		return def
	}
	return b
}

// duration parses name as a positive duration; unset or empty is zero.
// rate reads an allowance written "limit/period" ("600/1m"); unset is nil.
func (e *envReader) rate(name string) *limits.Rate {
	v := env(name, "")
	if v == "" {
		return nil
	}
	n, p, ok := strings.Cut(v, "/")
	limit, err := strconv.ParseInt(n, 10, 64)
	period, perr := time.ParseDuration(p)
	if !ok || err != nil || perr != nil || limit < 1 || period < time.Second || period%time.Second != 0 {
		e.errs = append(e.errs, fmt.Errorf("%s: want limit/period in whole seconds (600/1m), got %q", name, v))
		return nil
	}
	return &limits.Rate{Limit: limit, Period: period}
}

func (e *envReader) duration(name string) time.Duration {
	v := env(name, "")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s: want a positive duration, got %q", name, v))
		return 0
	}
	return d
}

// secret returns the value of name or, when name_FILE is set instead, the
// content of that file without its trailing newline (Docker and Kubernetes
// secrets are files), and which of the two variables it came from. Its errors
// name the variables and the path, never the secret.
func (e *envReader) secret(name string) (value, from string) {
	fileVar := name + "_FILE"
	v, path := env(name, ""), env(fileVar, "")
	switch {
	case v != "" && path != "":
		e.errs = append(e.errs, fmt.Errorf("%s and %s are both set: set one", name, fileVar))
		return "", name
	case path == "":
		return v, name
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// A *PathError names the path and the reason, nothing of the content.
		e.errs = append(e.errs, fmt.Errorf("%s: %w", fileVar, err))
		return "", fileVar
	}
	v = strings.TrimRightFunc(string(data), unicode.IsSpace)
	if v == "" {
		// Falling back to a generated or stored secret would hide the mistake.
		e.errs = append(e.errs, fmt.Errorf("%s: %s is empty", fileVar, path))
		return "", fileVar
	}
	return v, fileVar
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return usageError{err}
	}
	secretKey, err := loadSecretKey(cfg, log)
	if err != nil {
		return err
	}
	sealer, err := auth.NewSealer(secretKey)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.databaseURL, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkSecretKey(ctx, st, sealer, secretKey); err != nil {
		return err
	}
	// Bind before the root token is generated (below): a busy port must not
	// cost the root token printed only once.
	ls, err := listen(cfg)
	if err != nil {
		return err
	}
	defer ls.close()
	in, err := wire(cfg, st, sealer, secretKey, log, ls.metrics != nil)
	if err != nil {
		return err
	}
	defer in.kinds.Close()
	// The last step that can fail before the token is printed: a token
	// generated here is stored only as a digest, so any error after it
	// would lose the root token for good.
	rootDigest, newToken, err := rootTokenDigest(ctx, cfg, st)
	if err != nil {
		return err
	}
	in.authn.RootDigest = rootDigest
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	background := runBackground(bgCtx, st, in.authn, in.worker, log)
	limiting := runRateLimits(bgCtx, in.counter, cfg.rateLimitSync, log)
	defer func() {
		stopBackground()
		<-background // the last usage batch is written before the store closes
		<-limiting   // and the last rate-limit uses reported
	}()
	printBanner(stdout, cfg, ls.api.Addr(), st.Dialect(), newToken)
	return runHTTP(ctx, ls, in.api, stdout, log)
}

// listeners are the sockets serve binds before anything is printed.
type listeners struct {
	api     net.Listener
	metrics net.Listener // nil unless metrics are served separately
}

// listen binds the API address and, when configured, the metrics address.
func listen(cfg config) (*listeners, error) {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ls := &listeners{api: ln}
	if cfg.metricsAddr != "" {
		if ls.metrics, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen for metrics: %w", err)
		}
	}
	return ls, nil
}

func (ls *listeners) close() {
	ls.api.Close()
	if ls.metrics != nil {
		ls.metrics.Close()
	}
}

// instance is one process's wired parts: the API and what runs beside it.
type instance struct {
	api     *server.API
	authn   *auth.Authenticator
	kinds   *connector.Kinds
	worker  *delivery.Worker
	counter *limits.Counter
	rates   *limits.Keys
}

// wire builds the authenticator, the connector kinds, the delivery worker,
// the rate limiters and the API over st, as configured.
func wire(cfg config, st *store.Store, sealer *auth.Sealer, secretKey []byte, log *slog.Logger, metricsSeparate bool) (*instance, error) {
	tokens, err := auth.NewTokens(secretKey, nil)
	if err != nil {
		return nil, err
	}
	in := &instance{authn: auth.ForStore(st, sealer, tokens, nil)} // the root digest comes last, in serve
	in.authn.Proxies = cfg.proxies
	if cfg.trustForwardedHost {
		in.authn.Verifier.ForwardedHostHeader = "X-Forwarded-Host"
	}
	in.kinds = connector.Builtin()
	in.worker = &delivery.Worker{Deliveries: st.Deliveries, Connectors: st.Connectors, Kinds: in.kinds, Sealer: sealer,
		AllowPrivate: cfg.webhookAllowPrivate, Log: log.With("component", "delivery")}
	if cfg.deliveryLease > 0 {
		in.worker.Lease = cfg.deliveryLease
	}
	if in.counter, err = rateCounter(st); err != nil {
		in.kinds.Close()
		return nil, err
	}
	in.rates = limits.NewKeys(in.counter, cfg.keyRateLimit)
	in.authn.Limiter.Share(in.counter)
	in.api, err = server.New(server.Config{Logger: log, Auth: in.authn, Sealer: sealer, Tokens: tokens, Limiter: in.authn.Limiter,
		Proxies: in.authn.Proxies, RateLimits: in.rates, KeyRateLimits: in.rates,
		ValidateResponses: cfg.validateResponses, MetricsSeparate: metricsSeparate, Kinds: in.kinds,
		WebhookAllowPrivate: cfg.webhookAllowPrivate, Wake: in.worker.Wake}, st)
	if err != nil {
		in.kinds.Close()
		return nil, err
	}
	return in, nil
}

// printBanner tells the operator where keyplane listens and, at first
// start, the root token (the only time it is shown).
func printBanner(stdout io.Writer, cfg config, addr net.Addr, dialect store.Dialect, newToken string) {
	fmt.Fprintf(stdout, "keyplane listening on http://%s (database: %s)\n", addr, dialect)
	if newToken != "" {
		fmt.Fprintf(stdout, "root token (shown once, stored only as a hash): %s\n", newToken)
		fmt.Fprintf(stdout, "try: curl -H 'Authorization: Bearer %s' http://%s/apikeys\n", newToken, addr)
	} else if cfg.rootToken == "" {
		fmt.Fprintln(stdout, "root token: the one printed at first start (set KEYPLANE_ROOT_TOKEN to replace it)")
	}
}

// runHTTP serves the API (and metrics) until ctx ends or a server fails,
// then shuts down gracefully, letting requests in flight finish.
func runHTTP(ctx context.Context, ls *listeners, api *server.API, stdout io.Writer, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ls.api) }()
	if ls.metrics != nil {
		metricsSrv := &http.Server{Handler: api.Metrics, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		defer metricsSrv.Close()
		go func() { errc <- metricsSrv.Serve(ls.metrics) }()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", ls.metrics.Addr())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// loadSecretKey returns the configured secret key (it seals key secrets and
// signs access tokens), or the key file in the data dir, created on first start.
func loadSecretKey(cfg config, log *slog.Logger) ([]byte, error) {
	if cfg.secretKey != "" {
		key, err := auth.ParseKey(cfg.secretKey)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", cfg.secretKeyFrom, err)}
		}
		return key, nil
	}
	path := filepath.Join(cfg.dataDir, "keyplane.key")
	key, created, err := auth.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("generated secret key; replicas sharing the database must share it", "path", path)
	}
	return key, nil
}

// checkSecretKey refuses to run with a secret key other than the one that
// sealed the database's secrets: a replica with the wrong key would fail
// every HMAC request and sign access tokens the others reject. The database
// keeps a check value of the key (never the key); a database from before
// check values proves the key on one of its sealed secrets.
func checkSecretKey(ctx context.Context, st *store.Store, sealer *auth.Sealer, key []byte) error {
	want := auth.CheckValue(key)
	stored, err := st.Settings.Get(ctx, store.SettingSecretKeyCheck)
	if errors.Is(err, store.ErrNotFound) {
		keys, _, lerr := st.APIKeys.List(ctx, ndata.Query{Take: 1}, nil)
		if lerr != nil {
			return lerr
		}
		if len(keys) == 1 {
			if _, err := sealer.Open(keys[0].SecretSealed, []byte(keys[0].ClientID)); err != nil {
				return errSecretKeyMismatch
			}
		}
		stored, err = st.Settings.Claim(ctx, store.SettingSecretKeyCheck, want)
	}
	if err != nil {
		return err
	}
	if stored != want {
		return errSecretKeyMismatch
	}
	return nil
}

var errSecretKeyMismatch = errors.New("KEYPLANE_SECRET_KEY is not the key this database's secrets were sealed with: " +
	"every replica sharing a database must use the same secret key")

// prunePast forgets what has outlived its use: expired HMAC signatures,
// idempotency keys past their 24 hours, finished deliveries and keys'
// requests per day past their retention.
func prunePast(ctx context.Context, st *store.Store, now time.Time, log *slog.Logger) {
	if _, err := st.Replays.Prune(ctx, now); err != nil {
		log.Warn("prune signature replays", "err", err)
	}
	if _, err := st.Samples.PruneIdempotencyKeys(ctx, now.Add(-store.IdempotencyTTL)); err != nil {
		log.Warn("prune idempotency keys", "err", err)
	}
	if _, err := st.Deliveries.Prune(ctx, now.Add(-store.DeliveryRetention)); err != nil {
		log.Warn("prune deliveries", "err", err)
	}
	if _, err := st.APIKeys.PruneUsage(ctx, now.Add(-store.UsageRetention)); err != nil {
		log.Warn("prune key usage", "err", err)
	}
}

// rateCounter is the replica's rate-limit counter: reconciled through
// PostgreSQL with the other replicas under a fresh replica id, or local on
// SQLite (one process).
func rateCounter(st *store.Store) (*limits.Counter, error) {
	if st.Dialect() != store.Postgres {
		return limits.NewCounter(nil, "local"), nil
	}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("replica id: %w", err)
	}
	return limits.NewCounter(st.RateLimits, hex.EncodeToString(id)), nil
}

// runRateLimits joins the replicas sharing rate limits (before this one
// serves), then reconciles every interval until ctx ends; the channel
// closes after the last reconciliation.
func runRateLimits(ctx context.Context, counter *limits.Counter, interval time.Duration, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if err := counter.Join(ctx, interval); err != nil && ctx.Err() == nil {
		log.Warn("rate limits: cannot join the other replicas yet", "err", err)
	}
	go func() {
		defer close(done)
		counter.Run(ctx, interval, func(err error) { log.Warn("rate limits", "err", err) })
	}()
	return done
}

// runBackground writes batched key usage, forgets expired HMAC signatures
// and delivers the outbox (polling every second, woken by backfills) until
// ctx ends; the returned channel closes when all have stopped, the
// deliveries in flight finished (each bounded by the worker's attempt
// timeout).
func runBackground(ctx context.Context, st *store.Store, authn *auth.Authenticator, worker *delivery.Worker, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		prune := time.NewTicker(time.Minute)
		defer prune.Stop()
		usage := make(chan struct{})
		go func() { authn.Usage.Run(ctx, 5*time.Second, log); close(usage) }()
		go func() { // the principal cache serves once it hears every change
			if err := authn.Cache.Run(ctx); err != nil && ctx.Err() == nil {
				log.Warn("principal cache off: cannot follow changes", "err", err)
			}
		}()
		deliveries := make(chan struct{})
		go func() { worker.Run(ctx, time.Second); close(deliveries) }()
		for {
			select {
			case <-ctx.Done():
				<-usage
				<-deliveries
				return
			case now := <-prune.C:
				prunePast(ctx, st, now, log)
			}
		}
	}()
	return done
}

// rootTokenDigest returns the digest of the root token. A configured token
// wins; otherwise the stored digest; otherwise a token is generated, its digest
// stored, and the token returned once for printing. Of replicas starting
// together on a fresh database, the first to store its digest wins: the others
// print nothing, rather than a token that no longer works.
func rootTokenDigest(ctx context.Context, cfg config, st *store.Store) (digest []byte, generated string, err error) {
	if cfg.rootToken != "" {
		return auth.Digest(cfg.rootToken), "", nil
	}
	decode := func(stored string) ([]byte, error) {
		d, err := hex.DecodeString(stored)
		if err != nil {
			return nil, fmt.Errorf("stored root token digest: %w", err)
		}
		return d, nil
	}
	stored, err := st.Settings.Get(ctx, store.SettingRootTokenDigest)
	if err == nil {
		d, err := decode(stored)
		return d, "", err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	random, err := auth.RandomHex(auth.SecretBytes)
	if err != nil {
		return nil, "", err
	}
	token := "kp_root_" + random
	want := hex.EncodeToString(auth.Digest(token))
	if stored, err = st.Settings.Claim(ctx, store.SettingRootTokenDigest, want); err != nil {
		return nil, "", err
	}
	if stored != want {
		d, err := decode(stored)
		return d, "", err
	}
	return auth.Digest(token), token, nil
}

func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.logFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format must be text or json, got %q", cfg.logFormat)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// probe is `keyplane probe`, the container health check (distroless images
// have neither curl nor wget): it GETs the readiness endpoint and succeeds on
// a 200 only. The URL defaults to /readyz on the loopback side of
// KEYPLANE_ADDR, the address `keyplane serve` listens on.
func probe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", probeURL(env("KEYPLANE_ADDR", "127.0.0.1:8080")), "`URL` to GET; exit 0 on 200, 1 otherwise")
	timeout := fs.Duration("timeout", 2*time.Second, "time limit for the request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("probe takes no arguments, got %q", fs.Args())}
	}
	if *timeout <= 0 {
		return usageError{fmt.Errorf("--timeout must be positive, got %v", *timeout)}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return usageError{fmt.Errorf("--url: %w", err)}
	}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect is not ready.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("probe: GET %s: %s", *target, res.Status)
	}
	return nil
}

// probeURL is the /readyz URL of a server listening on addr: an unspecified
// host (all interfaces) is reached on the IPv4 loopback.
func probeURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "127.0.0.1", "8080"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
