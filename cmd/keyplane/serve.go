package main

import (
	"context"
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
	"strings"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
)

// config is everything `keyplane serve` reads from flags and KEYPLANE_* variables.
type config struct {
	addr        string
	databaseURL string
	dataDir     string
	rootToken   string
	secretKey   string
	logLevel    string
	logFormat   string
	// trustForwardedHost makes the HMAC verifier read the signed host from
	// X-Forwarded-Host, for deployments behind a proxy that rewrites Host.
	trustForwardedHost bool
	// validateResponses checks every response against the spec and logs
	// violations; for staging.
	validateResponses bool
	// trustedProxies may name the client in X-Forwarded-For (rate limits).
	trustedProxies string
	// webhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses (refused by default against SSRF).
	webhookAllowPrivate bool
	// metricsAddr, when set, serves /metrics there (and not on addr)
	// without credentials; otherwise /metrics needs METRICS:READ.
	metricsAddr string
}

func parseServeFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", env("KEYPLANE_ADDR", "127.0.0.1:8080"), "listen address (KEYPLANE_ADDR)")
	fs.StringVar(&c.dataDir, "data-dir", env("KEYPLANE_DATA_DIR", "."), "directory for the SQLite database and the generated secret key (KEYPLANE_DATA_DIR)")
	fs.StringVar(&c.databaseURL, "database-url", os.Getenv("KEYPLANE_DATABASE_URL"),
		"postgres://… for PostgreSQL, or an SQLite file path / sqlite: URL; default <data-dir>/keyplane.db (KEYPLANE_DATABASE_URL)")
	fs.StringVar(&c.rootToken, "root-token", os.Getenv("KEYPLANE_ROOT_TOKEN"),
		"root bearer token with every right; generated and printed once when unset (KEYPLANE_ROOT_TOKEN)")
	fs.StringVar(&c.secretKey, "secret-key", os.Getenv("KEYPLANE_SECRET_KEY"),
		"32-byte AES key (hex or base64) sealing key secrets; generated into <data-dir>/keyplane.key when unset (KEYPLANE_SECRET_KEY)")
	fs.BoolVar(&c.trustForwardedHost, "trust-forwarded-host", env("KEYPLANE_TRUST_FORWARDED_HOST", "false") == "true",
		"verify HMAC signatures against X-Forwarded-Host when present; only behind a proxy that sets it (KEYPLANE_TRUST_FORWARDED_HOST)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", os.Getenv("KEYPLANE_TRUSTED_PROXIES"),
		"comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client, for rate limits (KEYPLANE_TRUSTED_PROXIES)")
	fs.BoolVar(&c.validateResponses, "validate-responses", env("KEYPLANE_VALIDATE_RESPONSES", "false") == "true",
		"check every response against the OpenAPI spec and log violations; for staging (KEYPLANE_VALIDATE_RESPONSES)")
	fs.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", env("KEYPLANE_WEBHOOK_ALLOW_PRIVATE", "false") == "true",
		"let webhooks name and reach loopback, private and other special-purpose addresses (KEYPLANE_WEBHOOK_ALLOW_PRIVATE)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", os.Getenv("KEYPLANE_METRICS_ADDR"),
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
	if c.databaseURL == "" {
		c.databaseURL = filepath.Join(c.dataDir, "keyplane.db")
	}
	return c, nil
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
	tokens, err := auth.NewTokens(secretKey, nil)
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
	// Bind before anything is generated: a busy port must not cost the
	// root token printed only once.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	var metricsLn net.Listener
	if cfg.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		defer metricsLn.Close()
	}
	rootDigest, newToken, err := rootTokenDigest(ctx, cfg, st)
	if err != nil {
		return err
	}
	authn := auth.ForStore(st, sealer, tokens, rootDigest)
	if authn.Proxies, err = auth.ParseProxies(cfg.trustedProxies); err != nil {
		return usageError{err}
	}
	if cfg.trustForwardedHost {
		authn.Verifier.ForwardedHostHeader = "X-Forwarded-Host"
	}
	worker := &delivery.Worker{Store: st.Connectors, Sealer: sealer, AllowPrivate: cfg.webhookAllowPrivate,
		Log: log.With("component", "delivery")}
	if v := os.Getenv("KEYPLANE_DELIVERY_LEASE"); v != "" { // hidden: tests shorten the lease
		if worker.Lease, err = time.ParseDuration(v); err != nil || worker.Lease <= 0 {
			return usageError{fmt.Errorf("KEYPLANE_DELIVERY_LEASE: want a positive duration, got %q", v)}
		}
	}
	api, err := server.New(server.Config{Logger: log, Auth: authn, Sealer: sealer, Tokens: tokens, Limiter: authn.Limiter, Proxies: authn.Proxies,
		ValidateResponses: cfg.validateResponses, MetricsSeparate: metricsLn != nil, WebhookAllowPrivate: cfg.webhookAllowPrivate,
		Wake: worker.Wake}, st)
	if err != nil {
		return err
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	background := runBackground(bgCtx, st, authn, worker, log)
	defer func() {
		stopBackground()
		<-background // the last usage batch is written before the store closes
	}()

	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "keyplane listening on http://%s (database: %s)\n", ln.Addr(), st.Dialect())
	if newToken != "" {
		fmt.Fprintf(stdout, "root token (shown once, stored only as a hash): %s\n", newToken)
		fmt.Fprintf(stdout, "try: curl -H 'Authorization: Bearer %s' http://%s/apikeys\n", newToken, ln.Addr())
	} else if cfg.rootToken == "" {
		fmt.Fprintln(stdout, "root token: the one printed at first start (set KEYPLANE_ROOT_TOKEN to replace it)")
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if metricsLn != nil {
		metricsSrv := &http.Server{Handler: api.Metrics, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		defer metricsSrv.Close()
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", metricsLn.Addr())
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
			return nil, usageError{fmt.Errorf("KEYPLANE_SECRET_KEY: %w", err)}
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
// idempotency keys past their 24 hours, and finished deliveries past their
// retention.
func prunePast(ctx context.Context, st *store.Store, now time.Time, log *slog.Logger) {
	if _, err := st.Replays.Prune(ctx, now); err != nil {
		log.Warn("prune signature replays", "err", err)
	}
	if _, err := st.Devices.PruneIdempotencyKeys(ctx, now.Add(-store.IdempotencyTTL)); err != nil {
		log.Warn("prune idempotency keys", "err", err)
	}
	if _, err := st.Connectors.PruneDeliveries(ctx, now.Add(-store.DeliveryRetention)); err != nil {
		log.Warn("prune deliveries", "err", err)
	}
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
// stored, and the token returned once for printing.
func rootTokenDigest(ctx context.Context, cfg config, st *store.Store) (digest []byte, generated string, err error) {
	if cfg.rootToken != "" {
		return auth.Digest(cfg.rootToken), "", nil
	}
	stored, err := st.Settings.Get(ctx, store.SettingRootTokenDigest)
	if err == nil {
		d, err := hex.DecodeString(stored)
		if err != nil {
			return nil, "", fmt.Errorf("stored root token digest: %w", err)
		}
		return d, "", nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	random, err := auth.RandomHex(auth.SecretBytes)
	if err != nil {
		return nil, "", err
	}
	token := "kp_root_" + random
	digest = auth.Digest(token)
	if err := st.Settings.Put(ctx, store.SettingRootTokenDigest, hex.EncodeToString(digest)); err != nil {
		return nil, "", err
	}
	return digest, token, nil
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
