package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

func TestMetrics(t *testing.T) {
	h := newHarness(t, storetest.Open(t, store.SQLite))
	h.do(t, req{method: "GET", path: "/apikeys"}).want(200)
	h.do(t, req{method: "GET", path: "/apikeys", apiKey: strings.Repeat("0", 64)}).want(401)
	h.do(t, req{method: "GET", path: "/nowhere/" + strings.Repeat("x", 10)}).want(404)
	body := h.scrape(t, nil).Body.String()
	for _, want := range []string{
		`keyplane_http_requests_total{operation="listApiKeys",status="200"} 1`,
		`keyplane_http_requests_total{operation="listApiKeys",status="401"} 1`,
		`keyplane_http_requests_total{operation="unmatched",status="404"} 1`,
		`keyplane_http_request_duration_seconds_bucket{operation="listApiKeys",le=`,
		`keyplane_auth_failures_total{reason="unknown_key",scheme="x-api-key"} 1`,
		`go_sql_max_open_connections{db_name="keyplane"}`,
		`keyplane_outbox_deliveries{status="PENDING"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "nowhere") {
		t.Error("a raw path became a label")
	}
}

func TestTraceparent(t *testing.T) {
	h := newHarness(t, storetest.Open(t, store.SQLite))
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	p := h.do(t, req{method: "GET", path: "/apikeys/64b00bc5ba312b6744126a87",
		header: map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01"}}).want(404).problem()
	if *p.TraceId != trace {
		t.Fatalf("traceId %q, want the traceparent's %q", *p.TraceId, trace)
	}
	res := h.do(t, req{method: "GET", path: "/apikeys/64b00bc5ba312b6744126a87", header: map[string]string{"traceparent": "garbage"}}).want(404)
	if p := res.problem(); *p.TraceId != res.Hdr.Get("X-Request-Id") {
		t.Fatalf("invalid traceparent: traceId %q", *p.TraceId)
	}
}

// TestRuntimeResponseValidation runs the server with KEYPLANE_VALIDATE_RESPONSES
// on: valid responses pass silently, an undocumented one (a 500 from a broken
// schema) is logged, and responses go out unchanged either way.
func TestRuntimeResponseValidation(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	var logs bytes.Buffer
	e := newHarness(t, st, func(c *server.Config) {
		c.Logger, c.ValidateResponses = slog.New(slog.NewJSONHandler(&logs, nil)), true
	}).e
	get := func(path string) int {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer "+rootToken)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		return rec.Code
	}
	if c := get("/apikeys"); c != 200 {
		t.Fatalf("list: %d", c)
	}
	if c := get("/apikeys/64b00bc5ba312b6744126a87"); c != 404 {
		t.Fatalf("missing key: %d", c)
	}
	if strings.Contains(logs.String(), "violates") {
		t.Fatalf("valid responses flagged: %s", logs.String())
	}
	// A column the code reads is gone: a bug, answered with an undocumented 500.
	storetest.Exec(t, st, "ALTER TABLE api_keys DROP COLUMN device_name")
	if c := get("/apikeys?deviceName=x"); c != 500 {
		t.Fatalf("broken schema: %d", c)
	}
	if !strings.Contains(logs.String(), `"msg":"response violates the spec"`) || !strings.Contains(logs.String(), `"operation":"listApiKeys"`) {
		t.Fatalf("violation not logged: %s", logs.String())
	}
}

func TestRequestIDs(t *testing.T) {
	h := newHarness(t, storetest.Open(t, store.SQLite))
	for _, tc := range []struct {
		sent string
		kept bool
	}{
		{"abc-123_x.y", true},
		{"", false},
		{"has space", false},
		{strings.Repeat("a", 65), false},
		{"<script>", false},
	} {
		res := h.do(t, req{method: "GET", path: "/healthz", anonymous: true, header: map[string]string{"X-Request-Id": tc.sent}})
		got := res.Hdr.Get("X-Request-Id")
		if (got == tc.sent) != tc.kept || got == "" {
			t.Errorf("sent %q: got %q, kept=%v", tc.sent, got, tc.kept)
		}
	}
	// The ids the server makes: 26 characters of the base32 alphabet, each
	// new.
	made := map[string]bool{}
	for range 200 {
		id := h.do(t, req{method: "GET", path: "/healthz", anonymous: true}).Hdr.Get("X-Request-Id")
		if !madeID.MatchString(id) || made[id] {
			t.Fatalf("made id %q: want 26 base32 characters, never repeated", id)
		}
		made[id] = true
	}
}

var madeID = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// TestAccessLogAddress: the access log names the client the rate limits
// see (the peer, or the client a trusted proxy forwards), never whatever a
// client writes into X-Forwarded-For.
func TestAccessLogAddress(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies string
		want    string
	}{
		{"no trusted proxy: the peer, not the forged header", "", "192.0.2.1"},
		{"behind a trusted proxy: the forwarded client", "192.0.2.0/24", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxies, err := auth.ParseProxies(tc.proxies)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			h := newHarness(t, storetest.Open(t, store.SQLite), func(c *server.Config) {
				c.Logger, c.Proxies = slog.New(slog.NewJSONHandler(&logs, nil)), proxies
			})
			r := httptest.NewRequest("GET", "/apikeys", nil) // from 192.0.2.1, answered 401
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			r.Header.Set("X-Real-Ip", "203.0.113.10")
			h.e.ServeHTTP(httptest.NewRecorder(), r)
			var line struct {
				RemoteIP string `json:"remote_ip"`
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %s: %v", logs.String(), err)
			}
			if line.RemoteIP != tc.want {
				t.Fatalf("remote_ip %q, want %q", line.RemoteIP, tc.want)
			}
		})
	}
}

// TestProbesLogAtDebug: at the default level the access log leaves out the
// load balancer's probes and keeps every other request.
func TestProbesLogAtDebug(t *testing.T) {
	for _, tc := range []struct {
		path  string
		level slog.Level
		lines int
	}{
		{"/healthz", slog.LevelInfo, 0},
		{"/readyz", slog.LevelInfo, 0},
		{"/apikeys", slog.LevelInfo, 1},
		{"/healthz", slog.LevelDebug, 1},
	} {
		var logs bytes.Buffer
		h := newHarness(t, storetest.Open(t, store.SQLite), func(c *server.Config) {
			c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tc.level}))
		})
		h.e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
		if got := bytes.Count(logs.Bytes(), []byte(`"msg":"request"`)); got != tc.lines {
			t.Errorf("GET %s at level %s: %d access log lines, want %d: %s", tc.path, tc.level, got, tc.lines, logs.String())
		}
	}
}
