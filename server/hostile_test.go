package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the administrator's connection

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// TestHostileText: U+0000, invalid UTF-8 and trailing data never reach a
// handler or the database, wherever they come from; each is a 400 naming
// where it was, and nothing is stored.
func TestHostileText(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		key := h.create(t, map[string]any{"name": "k", "organizationId": e.org})
		for _, tc := range []struct {
			name   string
			r      req
			member string
		}{
			{"NUL in a body member", req{method: "POST", path: "/v3/organizations", body: `{"name":"a\u0000b"}`}, "/name"},
			{"NUL in a nested member", req{method: "POST", path: e.path("/backfill"), body: `{"data":{"temperature":1,"note":["x","\u0000"]}}`}, "/data/note/1"},
			{"NUL in a login", req{method: "POST", path: "/api/auth", anonymous: true, body: `{"userName":"root\u0000","password":"x"}`}, "/userName"},
			{"NUL in a query parameter", req{method: "GET", path: "/apikeys?name=a%00b"}, "name"},
			{"NUL in a path parameter", req{method: "GET", path: "/apikeys/" + key.Id[:23] + "%00"}, "id"},
			{"NUL in a header parameter", req{method: "POST", path: e.path("/backfill"), body: `{"data":{"temperature":1}}`,
				header: map[string]string{"Idempotency-Key": "a\x00b"}}, "Idempotency-Key"},
			{"invalid UTF-8 in a body", req{method: "POST", path: "/v3/organizations", body: []byte("{\"name\":\"caf\xe9\"}")}, "body"},
			{"invalid UTF-8 in a query", req{method: "GET", path: "/apikeys?name=caf%E9"}, "name"},
			{"a lone surrogate", req{method: "POST", path: "/v3/organizations", body: `{"name":"\ud800"}`}, "/name"},
			{"a second document", req{method: "POST", path: "/v3/organizations", body: `{"name":"a"}{"name":"b"}`}, "body"},
			{"a trailing brace", req{method: "POST", path: "/v3/organizations", body: `{"name":"a"}}`}, "body"},
			{"an unknown query parameter", req{method: "GET", path: "/v3/workspaces?organizationId=" + e.org + "&colour=red"}, "colour"},
			{"an unknown filter", req{method: "GET", path: "/v3/assets?workspaceId=" + e.ws + "&customFields.ids=x"}, "customFields.ids"},
		} {
			p := h.do(t, tc.r).want(400).problem()
			if p.Errors == nil || (*p.Errors)[0].MemberName != tc.member {
				t.Errorf("%s: errors %+v, want memberName %q", tc.name, p.Errors, tc.member)
			}
		}
		var orgs struct{ TotalElements int64 }
		h.do(t, req{method: "GET", path: "/v3/organizations"}).want(200).decode(&orgs)
		if orgs.TotalElements != 1 {
			t.Errorf("%d organizations after refused creations, want 1", orgs.TotalElements)
		}
		if n := len(h.samples(t, e, map[string]any{"topic": "*"})); n != 0 {
			t.Errorf("%d samples stored by refused backfills", n)
		}
	})
}

// TestSampleNumbersAreExact: integers beyond 2^53 and long decimals read
// back as sent, and aggregates over any stored values answer 2xx or the
// documented 400, never 500.
func TestSampleNumbersAreExact(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		const big = `{"temperature":1,"count":9007199254740993,"serial":12345678901234567890123,"ratio":0.1000000000000000055511151231257827}`
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: `{"data":` + big + `,"timestamp":"2026-11-26T10:00:00Z"}`}).want(201)
		res := h.do(t, req{method: "POST", path: e.path("/query"), body: map[string]any{"topic": "*"}}).want(200)
		for _, want := range []string{`"count":9007199254740993`, `"serial":12345678901234567890123`, `"ratio":0.1000000000000000055511151231257827`} {
			if !bytes.Contains(res.Body, []byte(want)) {
				t.Errorf("read back %s, want %s in it", res.Body, want)
			}
		}
		// Beyond a double is refused; the largest doubles are stored, and their sum is the documented 400.
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: `{"data":{"temperature":2,"count":1e400},"timestamp":"2026-11-26T10:00:01Z"}`}).want(400)
		for _, at := range []string{"10:00:01", "10:00:02"} {
			h.do(t, req{method: "POST", path: e.path("/backfill"),
				body: `{"data":{"temperature":2,"count":1.7976931348623157e308,"serial":-1.7976931348623157e308},"timestamp":"2026-11-26T` + at + `Z"}`}).want(201)
		}
		interval := map[string]any{"from": "2026-11-26T00:00:00Z", "to": "2026-11-27T00:00:00Z"}
		for _, key := range []string{"count", "serial", "ratio", "temperature"} {
			for _, acc := range []string{"MIN", "MAX", "AVG", "SUM", "COUNT", "FIRST"} {
				body := map[string]any{"dataKey": key, "accumulator": acc, "interval": interval}
				for _, path := range []string{"/query/raw/kpi", "/query/raw/time-series"} {
					r := h.do(t, req{method: "POST", path: e.path(path), body: body})
					if r.Code != 200 && (r.Code != 400 || !strings.Contains(string(r.Body), "aggregateRange")) {
						t.Errorf("%s %s of %s: %d %s", path, acc, key, r.Code, r.Body)
					}
				}
			}
		}
		if h.st.Dialect() == store.Postgres { // exact in NUMERIC
			var kpi struct{ Kpi json.Number }
			h.do(t, req{method: "POST", path: e.path("/query/raw/kpi"), body: map[string]any{"dataKey": "count", "accumulator": "MIN", "interval": interval}}).
				want(200).decode(&kpi)
			if kpi.Kpi != "9007199254740993" {
				t.Errorf("MIN of count %s, want 9007199254740993", kpi.Kpi)
			}
		}
	})
}

// TestObjectNumbersAreExact: numbers inside the client's own JSON objects
// (properties, settings) read back with the digits that were sent, on create
// and on update, from the single read and from the list.
func TestObjectNumbersAreExact(t *testing.T) {
	const exact = `{"big":12345678901234567890,"wide":9007199254740993,"tenth":0.1000000000000000055511151231257827,"nested":{"n":[1e2,-0.0]}}`
	wants := []string{`"big":12345678901234567890`, `"wide":9007199254740993`, `"tenth":0.1000000000000000055511151231257827`, `"n":[1e2,-0.0]`}
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		cases := []struct {
			name, create, path, list string
			body                     string
			members                  []string
		}{
			{"organization", "/v3/organizations", "/v3/organizations/", "/v3/organizations",
				`{"name":"exact","properties":` + exact + `}`, []string{"properties"}},
			{"workspace", "/v3/workspaces", "/v3/workspaces/", "/v3/workspaces?organizationId=" + e.org,
				`{"name":"exact","organizationId":"` + e.org + `","properties":` + exact + `,"settings":` + exact + `}`, []string{"properties", "settings"}},
			{"device", "/v3/devices", "/v3/devices/", "/v3/assets?workspaceId=" + e.ws,
				`{"name":"exact","workspaceId":"` + e.ws + `","deviceId":"EXACT01","dataFlowId":"` + e.flowID + `","properties":` + exact + `}`, []string{"properties"}},
		}
		for _, c := range cases {
			var created struct {
				ID      string `json:"id"`
				Version int64  `json:"version"`
			}
			h.do(t, req{method: "POST", path: c.create, body: json.RawMessage(c.body)}).want(201).decode(&created)
			check := func(how string, body []byte) {
				for _, want := range wants {
					if got := bytes.Count(body, []byte(want)); got < len(c.members) {
						t.Errorf("%s %s: %s appears %d times in %s, want %d (once in each of %v)", c.name, how, want, got, body, len(c.members), c.members)
					}
				}
			}
			check("GET", h.do(t, req{method: "GET", path: c.path + created.ID}).want(200).Body)
			check("list", h.do(t, req{method: "GET", path: c.list}).want(200).Body)
			update := strings.Replace(c.body, `{"name":"exact"`, `{"name":"exact again","version":`+strconv.FormatInt(created.Version, 10), 1)
			check("PUT", h.do(t, req{method: "PUT", path: c.path + created.ID, body: json.RawMessage(update)}).want(200).Body)
		}
	})
}

// TestHTTPContract: the answers around operations are the documented ones.
func TestHTTPContract(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		res := h.do(t, req{method: "PATCH", path: "/apikeys"})
		if res.Code != 405 || res.Hdr.Get("Allow") != "GET, POST" {
			t.Errorf("405: %d Allow %q", res.Code, res.Hdr.Get("Allow"))
		}
		// A base URL ending in "/" joined with a path: routed, and signed as sent.
		org := h.org(t, "acme")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "API_KEY", "verbs": []string{"READ"}}}})
		h.do(t, req{method: "GET", path: "//apikeys"}).want(200)
		h.do(t, req{method: "GET", path: "//apikeys", hmac: creds(k)}).want(200)
		// Every problem carries akenza's message.
		p := h.do(t, req{method: "GET", path: "/apikeys/" + strings.Repeat("a", 24)}).want(404).problem()
		if p.Message == nil || *p.Message == "" {
			t.Errorf("404 without message: %+v", p)
		}
		// Optional fields akenza shows as null are present as null.
		dev := newDataEnv(t, h).dev
		var raw map[string]any
		h.do(t, req{method: "GET", path: "/v3/devices/" + dev.ID}).want(200).decode(&raw)
		if v, ok := raw["description"]; !ok || v != nil {
			t.Errorf("device description %v (present %v), want null", v, ok)
		}
	})
}

// TestDatabaseUnavailable: a database that cannot answer is a 503 with
// Retry-After and /readyz says unready, also when the schema is not at this
// binary's version; the server recovers by itself.
func TestDatabaseUnavailable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st)
		h.do(t, req{method: "GET", path: "/readyz", anonymous: true}).want(200)
		last := storetest.QueryInt(t, st, "SELECT MAX(version) FROM schema_migrations")
		storetest.Exec(t, st, "UPDATE schema_migrations SET version = ? WHERE version = ?", last+100, last)
		if r := h.do(t, req{method: "GET", path: "/readyz", anonymous: true}).want(503); r.Hdr.Get("Retry-After") == "" {
			t.Error("unready without Retry-After")
		}
		storetest.Exec(t, st, "UPDATE schema_migrations SET version = ? WHERE version = ?", last, last+100)
		h.do(t, req{method: "GET", path: "/readyz", anonymous: true}).want(200)

		storetest.Exec(t, st, "ALTER TABLE organizations RENAME TO organizations_away")
		r := h.do(t, req{method: "GET", path: "/v3/organizations"}).want(503)
		if r.Hdr.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		storetest.Exec(t, st, "ALTER TABLE organizations_away RENAME TO organizations")
		h.do(t, req{method: "GET", path: "/v3/organizations"}).want(200)
	})
}

// TestClientGoneIsNotAServerError: a request whose client went away is
// logged as such (499, info level), not as a 500.
func TestClientGoneIsNotAServerError(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	var logs bytes.Buffer
	h := newHarness(t, st, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := httptest.NewRequestWithContext(ctx, "GET", "/v3/organizations", nil)
	r.Header.Set("Authorization", "Bearer "+rootToken)
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, r)
	if rec.Code != 499 {
		t.Fatalf("status %d, want 499", rec.Code)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l struct{ Level string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" {
			t.Errorf("logged as an error: %s", line)
		}
	}
	if !strings.Contains(logs.String(), "client closed the request") {
		t.Errorf("not logged: %s", logs.String())
	}
}

// TestSchemaBounds: a device type's schema past a bound is refused before it
// is compiled, with a 400 that names the topic and the bound.
func TestSchemaBounds(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		ws := h.workspace(t, h.org(t, "acme"), "main")
		deep := `{"type":"array"}`
		for range 40 {
			deep = `{"type":"array","items":` + deep + `}`
		}
		var props []string
		for i := range 1100 {
			props = append(props, fmt.Sprintf(`"p%d":{"type":"number"}`, i))
		}
		for _, tc := range []struct{ name, schema, bound string }{
			{"too large", `{"type":"object","description":"` + strings.Repeat("x", 40<<10) + `"}`, "bytes"},
			{"too deep", deep, "deeper"},
			{"too many keywords", `{"type":"object","properties":{` + strings.Join(props, ",") + `}}`, "keywords"},
			{"a long pattern", `{"type":"string","pattern":"` + strings.Repeat("a", 600) + `"}`, "longer"},
			{"a pattern that compiles huge", `{"type":"string","pattern":"(?:abcdefghij){1000}"}`, "instructions"},
			{"a huge pattern property", `{"type":"object","patternProperties":{"(?:abcdefghij){1000}":{}}}`, "instructions"},
		} {
			r := h.do(t, req{method: "POST", path: "/v3/device-types",
				body: `{"name":"x","workspaceId":"` + ws + `","schemas":{"default":` + tc.schema + `}}`})
			p := r.want(400).problem()
			if p.Errors == nil || (*p.Errors)[0].MemberName != "/schemas/default" || *(*p.Errors)[0].Code != "schemaBound" ||
				!strings.Contains((*p.Errors)[0].Message, tc.bound) {
				t.Errorf("%s: %+v", tc.name, p.Errors)
			}
		}
		// A schema's numbers are kept as sent.
		var dt struct{ Schemas map[string]json.RawMessage }
		h.do(t, req{method: "POST", path: "/v3/device-types",
			body: `{"name":"exact","workspaceId":"` + ws + `","schemas":{"default":{"type":"object","properties":{"n":{"type":"integer","maximum":9007199254740993}}}}}`}).
			want(201).decode(&dt)
		if !strings.Contains(string(dt.Schemas["default"]), "9007199254740993") {
			t.Errorf("schema read back %s", dt.Schemas["default"])
		}
	})
}

// TestAuditNeverLost: every audit record fits its columns, whatever the
// names involved; an audit write that fails fails the request.
func TestAuditNeverLost(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		long := strings.Repeat("u", 200)
		h.do(t, req{method: "POST", path: "/api/auth", anonymous: true, body: map[string]any{"userName": long, "password": "x"}}).want(401)
		org := h.org(t, "acme")
		u := h.user(t, long)
		h.member(t, org, u.Id, "OWNER")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true, "userName": long, "deviceName": strings.Repeat("d", 200)})
		h.do(t, req{method: "PUT", path: "/v3/organizations/" + org, apiKey: *k.ClientSecret, body: map[string]any{"name": "renamed"}}).want(200)
		events, _, err := h.st.Audit.List(t.Context(), mustQuery(t, "$sort=timestamp"), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var login, update bool
		for _, e := range events {
			login = login || e.Action == "login" && e.ResourceID == long && e.Outcome == "denied"
			update = update || e.Action == "update" && e.ResourceType == "organization" && strings.HasSuffix(e.Actor, "@"+strings.Repeat("d", 200))
		}
		if !login || !update {
			t.Fatalf("audit records lost: login %v, update by a long actor %v", login, update)
		}
		storetest.Exec(t, h.st, "DROP TABLE audit_events")
		if r := h.do(t, req{method: "POST", path: "/v3/organizations", body: map[string]any{"name": "unaudited"}}); r.Code < 500 {
			t.Fatalf("a change whose audit record failed answered %d", r.Code)
		}
	})
}

// TestRecoversFromLostConnections: when PostgreSQL terminates every
// connection (a restart, a failover), requests answer 503 at worst, never
// 500, and the server recovers by itself.
func TestRecoversFromLostConnections(t *testing.T) {
	name := fmt.Sprintf("keyplane_recovery_%d", time.Now().UnixNano())
	dsn := storetest.DSN(t, store.Postgres) + "&application_name=" + name
	st, err := store.Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHarness(t, st)
	h.org(t, "acme")
	base := os.Getenv("KEYPLANE_TEST_POSTGRES_URL")
	if base == "" {
		base = storetest.DefaultPostgresURL
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", name); err != nil {
		t.Fatal(err)
	}
	recovered := false
	for range 20 {
		r := h.do(t, req{method: "GET", path: "/v3/organizations"})
		if r.Code != 200 && r.Code != 503 {
			t.Fatalf("after losing its connections: %d %s", r.Code, r.Body)
		}
		if recovered = r.Code == 200; recovered {
			break
		}
	}
	if !recovered {
		t.Fatal("did not recover within 20 requests")
	}
}

// TestPortosClientsKnowNoOrganizations: a caller bound to one organization
// that creates a key without organizationId creates it in its own.
func TestPortosClientsKnowNoOrganizations(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		w := newWorld(t, h)
		for _, caller := range []string{"key:keyAdmin", "admin"} {
			var k gen.ApiKey
			h.do(t, w.as(caller, req{method: "POST", path: "/apikeys", body: map[string]any{"name": "portos", "permissions": []any{}}})).
				want(201).decode(&k)
			if k.OrganizationId == nil || *k.OrganizationId != w.orgA {
				t.Errorf("%s: created in %v, want its organization %s", caller, k.OrganizationId, w.orgA)
			}
		}
		// A caller of several organizations (or of none) must name one.
		h.do(t, w.as("userAdmin", req{method: "POST", path: "/apikeys", body: map[string]any{"name": "x"}})).want(403)
	})
}
