package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/store"
)

// serveEnv lists every variable `keyplane serve` reads.
var serveEnv = []string{
	"KEYPLANE_ADDR", "KEYPLANE_DATA_DIR",
	"KEYPLANE_DATABASE_URL", "KEYPLANE_DATABASE_URL_FILE",
	"KEYPLANE_ROOT_TOKEN", "KEYPLANE_ROOT_TOKEN_FILE",
	"KEYPLANE_SECRET_KEY", "KEYPLANE_SECRET_KEY_FILE",
	"KEYPLANE_TRUST_FORWARDED_HOST", "KEYPLANE_VALIDATE_RESPONSES", "KEYPLANE_WEBHOOK_ALLOW_PRIVATE",
	"KEYPLANE_TRUSTED_PROXIES", "KEYPLANE_METRICS_ADDR", "KEYPLANE_LOG_LEVEL", "KEYPLANE_LOG_FORMAT",
	"KEYPLANE_DELIVERY_LEASE", "KEYPLANE_KEY_RATE_LIMIT", "KEYPLANE_RATE_LIMIT_SYNC",
}

// clearServeEnv empties the variables `keyplane serve` reads (empty is
// unset), so that the caller's environment cannot change a test.
func clearServeEnv(t *testing.T) {
	t.Helper()
	for _, name := range serveEnv {
		t.Setenv(name, "")
	}
}

// wantUsageError fails unless err is a usage error (exit code 2) whose text
// contains every one of want.
func wantUsageError(t *testing.T, err error, want ...string) {
	t.Helper()
	var uerr usageError
	if !errors.As(err, &uerr) {
		t.Fatalf("got %v (%T), want a usage error", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// TestServeRateLimitEnv: KEYPLANE_KEY_RATE_LIMIT is limit/period in whole
// seconds; anything else stops the start naming the variable.
func TestServeRateLimitEnv(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  *limits.Rate // nil with ok: unset
		ok    bool
	}{
		{"", nil, true},
		{"600/1m", &limits.Rate{Limit: 600, Period: time.Minute}, true},
		{"10/1s", &limits.Rate{Limit: 10, Period: time.Second}, true},
		{"600", nil, false}, {"0/1m", nil, false}, {"10/500ms", nil, false}, {"10/1.5s", nil, false},
		{"ten/1m", nil, false}, {"10/", nil, false},
	} {
		clearServeEnv(t)
		t.Setenv("KEYPLANE_KEY_RATE_LIMIT", tc.value)
		c, err := parseServeFlags(nil, io.Discard)
		if !tc.ok {
			wantUsageError(t, err, "KEYPLANE_KEY_RATE_LIMIT")
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if (c.keyRateLimit == nil) != (tc.want == nil) || tc.want != nil && *c.keyRateLimit != *tc.want {
			t.Errorf("%q: %+v, want %+v", tc.value, c.keyRateLimit, tc.want)
		}
		if c.rateLimitSync != limits.DefaultSyncEvery {
			t.Errorf("%q: reconciles every %s, want the default %s", tc.value, c.rateLimitSync, limits.DefaultSyncEvery)
		}
	}
}

func TestServeBoolEnv(t *testing.T) {
	vars := []struct {
		name, flag string
		get        func(config) bool
	}{
		{"KEYPLANE_TRUST_FORWARDED_HOST", "trust-forwarded-host", func(c config) bool { return c.trustForwardedHost }},
		{"KEYPLANE_VALIDATE_RESPONSES", "validate-responses", func(c config) bool { return c.validateResponses }},
		{"KEYPLANE_WEBHOOK_ALLOW_PRIVATE", "webhook-allow-private", func(c config) bool { return c.webhookAllowPrivate }},
	}
	valid := []struct {
		value string
		want  bool
	}{
		{"", false}, // unset: the default
		{"true", true}, {"TRUE", true}, {"True", true}, {"t", true}, {"T", true}, {"1", true},
		{"false", false}, {"FALSE", false}, {"False", false}, {"f", false}, {"F", false}, {"0", false},
	}
	invalid := []string{"yes", "no", "on", "off", "2", "tru", " true", "true ", "y"}
	for _, v := range vars {
		t.Run(v.name, func(t *testing.T) {
			for _, tc := range valid {
				clearServeEnv(t)
				t.Setenv(v.name, tc.value)
				c, err := parseServeFlags(nil, io.Discard)
				if err != nil {
					t.Fatalf("%s=%q: %v", v.name, tc.value, err)
				}
				if got := v.get(c); got != tc.want {
					t.Errorf("%s=%q: %v, want %v", v.name, tc.value, got, tc.want)
				}
			}
			for _, value := range invalid {
				clearServeEnv(t)
				t.Setenv(v.name, value)
				_, err := parseServeFlags(nil, io.Discard)
				wantUsageError(t, err, v.name+`: want true or false, got "`+value+`"`)
			}

			// The flag overrides the variable, both ways.
			clearServeEnv(t)
			t.Setenv(v.name, "true")
			if c, err := parseServeFlags([]string{"-" + v.flag + "=false"}, io.Discard); err != nil || v.get(c) {
				t.Errorf("-%s=false over %s=true: %v, %v", v.flag, v.name, v.get(c), err)
			}
			t.Setenv(v.name, "false")
			if c, err := parseServeFlags([]string{"-" + v.flag}, io.Discard); err != nil || !v.get(c) {
				t.Errorf("-%s over %s=false: %v, %v", v.flag, v.name, v.get(c), err)
			}
			_, err := parseServeFlags([]string{"-" + v.flag + "=yes"}, io.Discard)
			wantUsageError(t, err, v.flag)

			// Through the command: exit code 2, the variable named on stderr.
			clearServeEnv(t)
			t.Setenv(v.name, "yes")
			var stderr bytes.Buffer
			if code := run([]string{"serve", "-data-dir", t.TempDir()}, io.Discard, &stderr); code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), v.name) {
				t.Errorf("stderr %q does not name %s", stderr.String(), v.name)
			}
		})
	}
}

func TestServeEnvErrorsTogether(t *testing.T) {
	clearServeEnv(t)
	t.Setenv("KEYPLANE_VALIDATE_RESPONSES", "yes")
	t.Setenv("KEYPLANE_DELIVERY_LEASE", "soon")
	_, err := parseServeFlags(nil, io.Discard)
	wantUsageError(t, err, "KEYPLANE_VALIDATE_RESPONSES", "KEYPLANE_DELIVERY_LEASE")

	// -h still works with a broken environment.
	if _, err := parseServeFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestServeDeliveryLeaseEnv(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, true}, {"2s", 2 * time.Second, true}, {"1m30s", 90 * time.Second, true},
		{"0s", 0, false}, {"-1s", 0, false}, {"2", 0, false}, {"soon", 0, false},
	} {
		clearServeEnv(t)
		t.Setenv("KEYPLANE_DELIVERY_LEASE", tc.value)
		c, err := parseServeFlags(nil, io.Discard)
		if !tc.ok {
			wantUsageError(t, err, `KEYPLANE_DELIVERY_LEASE: want a positive duration, got "`+tc.value+`"`)
			continue
		}
		if err != nil || c.deliveryLease != tc.want {
			t.Errorf("KEYPLANE_DELIVERY_LEASE=%q: %v, %v; want %v", tc.value, c.deliveryLease, err, tc.want)
		}
	}
}

func TestServeTrustedProxies(t *testing.T) {
	clearServeEnv(t)
	t.Setenv("KEYPLANE_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
	c, err := parseServeFlags(nil, io.Discard)
	if err != nil || len(c.proxies) != 2 {
		t.Fatalf("proxies %v, %v", c.proxies, err)
	}
	t.Setenv("KEYPLANE_TRUSTED_PROXIES", "10.0.0.300")
	_, err = parseServeFlags(nil, io.Discard)
	wantUsageError(t, err, "KEYPLANE_TRUSTED_PROXIES", "10.0.0.300")
	_, err = parseServeFlags([]string{"-trusted-proxies", "nowhere/8"}, io.Discard)
	wantUsageError(t, err, "--trusted-proxies", "nowhere/8")
}

func TestServeSecretFiles(t *testing.T) {
	const secret = "kp_s3cret_value_never_printed"
	vars := []struct {
		name string
		get  func(config) string
	}{
		{"KEYPLANE_ROOT_TOKEN", func(c config) string { return c.rootToken }},
		{"KEYPLANE_SECRET_KEY", func(c config) string { return c.secretKey }},
		{"KEYPLANE_DATABASE_URL", func(c config) string { return c.databaseURL }},
	}
	for _, v := range vars {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
			fileVar := v.name + "_FILE"

			// Read and trimmed of the trailing newline (and whitespace).
			for _, content := range []string{secret, secret + "\n", secret + "\r\n", secret + " \t\n\n"} {
				clearServeEnv(t)
				t.Setenv(fileVar, write("ok", content))
				c, err := parseServeFlags(nil, io.Discard)
				if err != nil {
					t.Fatalf("%s with %q: %v", fileVar, content, err)
				}
				if got := v.get(c); got != secret {
					t.Errorf("%s with %q: got %q, want %q", fileVar, content, got, secret)
				}
			}

			// The variable itself still works.
			clearServeEnv(t)
			t.Setenv(v.name, secret)
			if c, err := parseServeFlags(nil, io.Discard); err != nil || v.get(c) != secret {
				t.Errorf("%s: %q, %v", v.name, v.get(c), err)
			}

			for _, tc := range []struct {
				what  string
				value string // of the variable itself
				path  string // of the _FILE variable
				want  []string
			}{
				{"both set", secret, write("both", secret+"\n"), []string{v.name, fileVar, "both set"}},
				{"missing file", "", filepath.Join(dir, "missing"), []string{fileVar, filepath.Join(dir, "missing")}},
				{"a directory", "", dir, []string{fileVar, dir}},
				{"empty file", "", write("empty", "\n"), []string{fileVar, filepath.Join(dir, "empty"), "empty"}},
			} {
				clearServeEnv(t)
				t.Setenv(v.name, tc.value)
				t.Setenv(fileVar, tc.path)
				_, err := parseServeFlags(nil, io.Discard)
				if err == nil {
					t.Errorf("%s: no error", tc.what)
					continue
				}
				wantUsageError(t, err, tc.want...)
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: the error shows the secret: %q", tc.what, err)
				}
			}

			// An unreadable file (permissions do not bind root).
			if os.Geteuid() != 0 {
				clearServeEnv(t)
				path := write("unreadable", secret)
				if err := os.Chmod(path, 0); err != nil {
					t.Fatal(err)
				}
				t.Setenv(fileVar, path)
				_, err := parseServeFlags(nil, io.Discard)
				wantUsageError(t, err, fileVar, path, "permission denied")
			}
		})
	}
}

// TestServeSecretKeyFileErrors: a secret key read from a file that is not a
// key is refused, naming the file's variable and not the content.
func TestServeSecretKeyFileErrors(t *testing.T) {
	clearServeEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	const notAKey = "not-a-32-byte-key-but-secret"
	if err := os.WriteFile(path, []byte(notAKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYPLANE_SECRET_KEY_FILE", path)
	var stderr bytes.Buffer
	if code := run([]string{"serve", "-data-dir", dir, "-addr", "127.0.0.1:0"}, io.Discard, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2 (%q)", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "KEYPLANE_SECRET_KEY_FILE") || strings.Contains(stderr.String(), notAKey) {
		t.Errorf("stderr %q", stderr.String())
	}
	stderr.Reset()
	run([]string{"serve", "-data-dir", dir, "-addr", "127.0.0.1:0", "-secret-key", notAKey}, io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "--secret-key") || strings.Contains(stderr.String(), notAKey) {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "keyplane.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a database was created: %v", err)
	}
}

// TestServeHelpHidesSecrets: -h never shows a secret as a flag's default.
func TestServeHelpHidesSecrets(t *testing.T) {
	clearServeEnv(t)
	t.Setenv("KEYPLANE_ROOT_TOKEN", "kp_root_hidden")
	t.Setenv("KEYPLANE_SECRET_KEY", "hidden-secret-key")
	t.Setenv("KEYPLANE_DATABASE_URL", "postgres://u:hidden-password@db/keyplane")
	var stderr bytes.Buffer
	if _, err := parseServeFlags([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if strings.Contains(stderr.String(), "hidden") {
		t.Errorf("-h shows a secret:\n%s", stderr.String())
	}
	for _, name := range []string{"KEYPLANE_ROOT_TOKEN_FILE", "KEYPLANE_SECRET_KEY_FILE", "KEYPLANE_DATABASE_URL_FILE", " ps"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("-h does not mention %q", name)
		}
	}
}

// TestServeBusyPortKeepsRootToken: a first start that cannot listen fails
// before it generates the root token (printed only once, stored only as a
// digest); the next start generates and prints one.
func TestServeBusyPortKeepsRootToken(t *testing.T) {
	clearServeEnv(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		what string
		args []string
	}{
		{"busy API port", []string{"-addr", busy.Addr().String()}},
		{"busy metrics port", []string{"-addr", "127.0.0.1:0", "-metrics-addr", busy.Addr().String()}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := t.TempDir()
			var stdout bytes.Buffer
			err := serve(t.Context(), append(tc.args, "-data-dir", dir, "-log-level", "error"), &stdout, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "listen") {
				t.Fatalf("serve on a busy port: %v, want a listen error", err)
			}
			var uerr usageError
			if errors.As(err, &uerr) {
				t.Errorf("a busy port is a usage error: %v", err)
			}
			if strings.Contains(stdout.String(), "kp_root_") {
				t.Errorf("a token was printed: %q", stdout.String())
			}

			st, err := store.Open(t.Context(), filepath.Join(dir, "keyplane.db"), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			d, err := st.Settings.Get(t.Context(), store.SettingRootTokenDigest)
			st.Close()
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("root token digest after the failed start: %q, %v; want none", d, err)
			}

			// The next start, on a free port, prints the token that would have been lost.
			lines, base, stop := startServe(t, dir)
			defer stop()
			token := printedRootToken(lines)
			if !strings.HasPrefix(token, "kp_root_") {
				t.Fatalf("no root token printed on the second start: %v", lines)
			}
			if c := getStatus(t, base, "/apikeys", token); c != 200 {
				t.Errorf("apikeys with the printed token: %d", c)
			}
		})
	}
}

// TestServeBadConfigKeepsRootToken: a setting found wrong fails the start
// before anything is stored.
func TestServeBadConfigKeepsRootToken(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"KEYPLANE_TRUSTED_PROXIES", "not-an-address"},
		{"KEYPLANE_DELIVERY_LEASE", "soon"},
		{"KEYPLANE_WEBHOOK_ALLOW_PRIVATE", "yes"},
	} {
		clearServeEnv(t)
		t.Setenv(tc.name, tc.value)
		dir := t.TempDir()
		err := serve(t.Context(), []string{"-addr", "127.0.0.1:0", "-data-dir", dir}, io.Discard, io.Discard)
		wantUsageError(t, err, tc.name)
		if _, err := os.Stat(filepath.Join(dir, "keyplane.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s=%q: a database was created: %v", tc.name, tc.value, err)
		}
	}
}

func TestProbe(t *testing.T) {
	clearServeEnv(t)
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/readyz"
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String() + "/readyz"
	closed.Close()
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hanging.Close()
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer redirect.Close()

	for _, tc := range []struct {
		what string
		args []string
		code int
	}{
		{"200", []string{"-url", status(200)}, 0},
		{"503", []string{"-url", status(503)}, 1},
		{"500", []string{"-url", status(500)}, 1},
		{"204", []string{"-url", status(204)}, 1},
		{"redirect", []string{"-url", redirect.URL + "/readyz"}, 1},
		{"unreachable", []string{"-url", unreachable}, 1},
		{"timeout", []string{"-url", hanging.URL + "/readyz", "-timeout", "100ms"}, 1},
		{"argument", []string{"extra"}, 2},
		{"bad timeout", []string{"-timeout", "0s"}, 2},
		{"bad URL", []string{"-url", "://nowhere"}, 2},
		{"help", []string{"-h"}, 0},
	} {
		var stderr bytes.Buffer
		if code := run(append([]string{"probe"}, tc.args...), io.Discard, &stderr); code != tc.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", tc.what, code, tc.code, stderr.String())
		}
	}

	// The default URL follows KEYPLANE_ADDR.
	u, err := url.Parse(status(200))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYPLANE_ADDR", "0.0.0.0:"+u.Port())
	if code := run([]string{"probe"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("probe of KEYPLANE_ADDR=0.0.0.0:%s: exit %d", u.Port(), code)
	}
}

func TestProbeURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/readyz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		":9000":          "http://127.0.0.1:9000/readyz",
		"[::]:8080":      "http://127.0.0.1:8080/readyz",
		"[::1]:8080":     "http://[::1]:8080/readyz",
		"localhost:8081": "http://localhost:8081/readyz",
		"10.1.2.3:80":    "http://10.1.2.3:80/readyz",
		"no port":        "http://127.0.0.1:8080/readyz",
	} {
		if got := probeURL(addr); got != want {
			t.Errorf("probeURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestProbeServe: the probe passes against a running server.
func TestProbeServe(t *testing.T) {
	clearServeEnv(t)
	_, base, stop := startServe(t, t.TempDir())
	defer stop()
	var stderr bytes.Buffer
	if code := run([]string{"probe", "-url", base + "/readyz"}, io.Discard, &stderr); code != 0 {
		t.Errorf("probe of a running server: exit %d (%q)", code, stderr.String())
	}
}
