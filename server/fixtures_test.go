package server_test

// Fixtures: what the tests build their world from (organizations and
// workspaces, device types, data flows, devices, tags, keys and users,
// output connectors and their deliveries, data streams) and the checks they
// share. The harness itself (the server, requests, spec validation) is
// harness_test.go's.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// ---- Organizations and workspaces ----

// twoWorkspaces creates the organization "acme" with the workspaces "main"
// (ws) and "other" (as root).
func (h *harness) twoWorkspaces(t testing.TB) (org, ws, other string) {
	t.Helper()
	org = h.org(t, "acme")
	return org, h.workspace(t, org, "main"), h.workspace(t, org, "other")
}

// ---- Device types, data flows, devices ----

// climateSchemas is a device type's schemas: the default topic needs a
// numeric temperature and a humidity within 0..100; other topics are free.
var climateSchemas = map[string]any{
	"default": map[string]any{
		"type":     "object",
		"required": []string{"temperature"},
		"properties": map[string]any{
			"temperature": map[string]any{"type": "number"},
			"humidity":    map[string]any{"type": "number", "minimum": 0, "maximum": 100},
			"inner":       map[string]any{"type": "object", "properties": map[string]any{"level": map[string]any{"type": "integer"}}},
		},
	},
}

// dataEnv is an organization with two workspaces (ws and other), a device
// type with climateSchemas (made over HTTP), and a data flow and device in
// ws made in the store (their handlers are other tests').
type dataEnv struct {
	org, ws, other string
	typeID, flowID string
	dev            *store.Device
}

// newDataEnv builds a dataEnv; its device's physical id is 70B3D57ED0001234.
func newDataEnv(t testing.TB, h *harness) *dataEnv {
	t.Helper()
	e := &dataEnv{}
	e.org, e.ws, e.other = h.twoWorkspaces(t)
	var dt gen.DeviceType
	h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "Climate", "workspaceId": e.ws, "schemas": climateSchemas}}).
		want(201).decode(&dt)
	e.typeID = dt.Id
	e.flowID = h.storeDataFlow(t, e.org, e.ws, dt.Id)
	e.dev = h.storeDevice(t, e.org, e.ws, e.flowID, "70B3D57ED0001234")
	return e
}

// path is the path of the environment's device followed by suffix.
func (e *dataEnv) path(suffix string) string { return "/v3/devices/" + e.dev.ID + suffix }

// post sends body to the environment's device's path followed by suffix
// (POST, as root).
func (h *harness) post(t testing.TB, e *dataEnv, suffix string, body any) *response {
	t.Helper()
	return h.do(t, req{method: "POST", path: e.path(suffix), body: body})
}

// samples queries the environment's device's samples (POST query, as root).
func (h *harness) samples(t testing.TB, e *dataEnv, q map[string]any) []gen.Sample {
	t.Helper()
	var out []gen.Sample
	h.do(t, req{method: "POST", path: e.path("/query"), body: q}).want(200).decode(&out)
	return out
}

// deviceType creates a device type without schemas directly in the store
// and returns its id.
func (h *harness) deviceType(t testing.TB, ws, name string) string {
	t.Helper()
	w, err := h.st.Workspaces.Get(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	dt := &store.DeviceType{Placement: store.Placement{OrganizationID: w.OrganizationID, WorkspaceID: ws}, Name: name, Schemas: map[string]json.RawMessage{}}
	if err := h.st.DeviceTypes.Create(t.Context(), dt); err != nil {
		t.Fatal(err)
	}
	return dt.ID
}

// storeDataFlow creates a data flow "to db" without output connectors
// directly in the store and returns its id.
func (h *harness) storeDataFlow(t testing.TB, org, ws, deviceType string) string {
	t.Helper()
	f := &store.DataFlow{Placement: store.Placement{OrganizationID: org, WorkspaceID: ws}, DeviceTypeID: deviceType, Name: "to db", OutputConnectors: []store.ConnectorRef{}}
	if err := h.st.DataFlows.Create(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// storeDevice creates an HTTP device named after its physical id directly
// in the store.
func (h *harness) storeDevice(t testing.TB, org, ws, flow, physicalID string) *store.Device {
	t.Helper()
	d := &store.Device{Placement: store.Placement{OrganizationID: org, WorkspaceID: ws}, DataFlowID: flow, DeviceID: physicalID, Name: physicalID,
		Connectivity: "HTTP", OnlineTimeout: 3600, Properties: map[string]any{}}
	if err := h.st.Devices.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

// dataFlow creates a data flow (as root) with the default connectors.
func (h *harness) dataFlow(t testing.TB, ws, deviceType, name string) gen.DataFlow {
	t.Helper()
	var f gen.DataFlow
	h.do(t, req{method: "POST", path: "/v3/data-flows",
		body: map[string]any{"name": name, "workspaceId": ws, "deviceTypeId": deviceType}}).want(201).decode(&f)
	return f
}

// device creates a device (as root) with the defaults.
func (h *harness) device(t testing.TB, ws, flow, physicalID, name string) gen.Device {
	t.Helper()
	var d gen.Device
	h.do(t, req{method: "POST", path: "/v3/devices",
		body: map[string]any{"name": name, "workspaceId": ws, "dataFlowId": flow, "deviceId": physicalID}}).want(201).decode(&d)
	return d
}

// lastSample sets a device's last sample time straight in the database (the
// backfill that normally sets it is not what these tests are about).
func (h *harness) lastSample(t testing.TB, id string, at time.Time) {
	t.Helper()
	storetest.Exec(t, h.st, "UPDATE devices SET last_sample_at = ? WHERE id = ?", at.UTC(), id)
}

// ---- Aggregations ----

// kpiOf is a kpi response with the full precision the server sends.
type kpiOf struct {
	DeviceID string   `json:"deviceId"`
	Topic    string   `json:"topic"`
	DataKey  string   `json:"dataKey"`
	Kpi      *float64 `json:"kpi"`
}

// seriesOf is a time-series response with the full precision the server sends.
type seriesOf struct {
	DeviceID   string      `json:"deviceId"`
	Topic      string      `json:"topic"`
	DataKey    string      `json:"dataKey"`
	DataPoints []float64   `json:"dataPoints"`
	Timestamps []time.Time `json:"timestamps"`
}

// aggEnv is a dataEnv whose device has, in topic "climate" on 2026-01-01,
// the numbers 3, 1, 2, 10.5, 19.5 and 5 between 10:00 and 14:00 (interval),
// each under the key t.in and the key flat, among values that are no
// numbers, and numbers just outside the interval or in another topic.
type aggEnv struct {
	*dataEnv
	day             time.Time
	interval, empty map[string]any // empty: 15:00 to 16:00, no samples
	sum             float64        // of the numbers in the interval
}

// newAggEnv builds an aggEnv.
func newAggEnv(t testing.TB, h *harness) *aggEnv {
	t.Helper()
	a := &aggEnv{dataEnv: newDataEnv(t, h), day: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), sum: 3 + 1 + 2.0 + 10.5 + 19.5 + 5}
	hm := a.hm
	a.interval = map[string]any{"from": hm(10, 0), "to": hm(14, 0)}
	a.empty = map[string]any{"from": hm(15, 0), "to": hm(16, 0)}
	val := func(at time.Time, v any) any {
		return map[string]any{"topic": "climate", "timestamp": at, "data": map[string]any{"t": map[string]any{"in": v}, "flat": v}}
	}
	h.do(t, req{method: "POST", path: a.path("/backfill/bulk"), body: []any{
		val(hm(9, 59), 100),    // before the interval
		val(hm(10, 5), 3),      // first
		val(hm(10, 20), 1),     //
		val(hm(10, 30), "n/a"), // not a number: left out
		val(hm(10, 35), true),  // neither
		val(hm(10, 40), 2.0),
		val(hm(11, 10), 10.5),
		val(hm(11, 50), 19.5),
		val(hm(13, 0), 5),
		val(hm(14, 0), 100), // the end is exclusive
		map[string]any{"topic": "climate", "timestamp": hm(12, 0), "data": map[string]any{"t": 7}}, // t is no object
		map[string]any{"topic": "climate", "timestamp": hm(12, 30), "data": map[string]any{"other": 1}},
		map[string]any{"topic": "default", "timestamp": hm(12, 0), "data": map[string]any{"temperature": 1000, "t": map[string]any{"in": 1000}}},
	}}).want(201)
	return a
}

// hm is the time h:m on the environment's day.
func (a *aggEnv) hm(h, m int) time.Time {
	return a.day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// kpi asks for the acc of key in topic climate over iv and checks the
// response's envelope.
func (h *harness) kpi(t testing.TB, a *aggEnv, acc, key string, iv map[string]any) *float64 {
	t.Helper()
	var k kpiOf
	h.do(t, req{method: "POST", path: a.path("/query/raw/kpi"), body: map[string]any{"topic": "climate", "dataKey": key, "accumulator": acc, "interval": iv}}).
		want(200).decode(&k)
	wantFields(t, "kpi envelope", eq("deviceId", k.DeviceID, a.dev.ID), eq("topic", k.Topic, "climate"), eq("dataKey", k.DataKey, key))
	return k.Kpi
}

// series asks for the time series of the acc of t.in in topic climate over
// iv, in buckets ("" for the default), and checks the response's envelope.
func (h *harness) series(t testing.TB, a *aggEnv, acc, bucket string, iv map[string]any) seriesOf {
	t.Helper()
	body := map[string]any{"topic": "climate", "dataKey": "t.in", "accumulator": acc, "interval": iv}
	if bucket != "" {
		body["bucketInterval"] = bucket
	}
	var s seriesOf
	h.do(t, req{method: "POST", path: a.path("/query/raw/time-series"), body: body}).want(200).decode(&s)
	wantFields(t, "series envelope", eq("deviceId", s.DeviceID, a.dev.ID), eq("topic", s.Topic, "climate"), eq("dataKey", s.DataKey, "t.in"),
		eq("len(timestamps)", len(s.Timestamps), len(s.DataPoints)))
	return s
}

// ---- Tags ----

// tag creates a tag (as root).
func (h *harness) tag(t testing.TB, ws, name string) gen.Tag {
	t.Helper()
	var g gen.Tag
	h.do(t, req{method: "POST", path: "/v3/tags", body: map[string]any{"name": name, "workspaceId": ws}}).want(201).decode(&g)
	return g
}

// tagRefs is the "tags" member of a device body naming these tags.
func tagRefs(ids ...string) []any {
	refs := []any{}
	for _, id := range ids {
		refs = append(refs, map[string]any{"id": id})
	}
	return refs
}

// tagIDs is the ids of a device's tag references (nil when it has none).
func tagIDs(refs *[]gen.TagRef) []string {
	if refs == nil {
		return nil
	}
	ids := []string{}
	for _, r := range *refs {
		ids = append(ids, r.Id)
	}
	return ids
}

// sameIDs reports whether got holds exactly the ids of want, in any order.
func sameIDs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}

// ---- Assets ----

// assetsEnv is an organization with the workspaces ws (the devices dev-a …
// dev-g, physical ids p0 … p6, of the data flow flow but dev-g, of flow2),
// other (other-a) and empty (none), and another organization's workspace
// elsewhere (far-a).
type assetsEnv struct {
	org, ws, other, empty, elsewhere string
	flow, flow2                      gen.DataFlow
	ids                              []string // dev-a … dev-g
}

// newAssetsEnv builds an assetsEnv (as root).
func newAssetsEnv(t testing.TB, h *harness) *assetsEnv {
	t.Helper()
	a := &assetsEnv{}
	a.org, a.ws, a.other = h.twoWorkspaces(t)
	a.empty = h.workspace(t, a.org, "empty")
	a.elsewhere = h.workspace(t, h.org(t, "other org"), "far")
	dt := h.deviceType(t, a.ws, "t")
	a.flow, a.flow2 = h.dataFlow(t, a.ws, dt, "f"), h.dataFlow(t, a.ws, dt, "g")
	for i := range 7 {
		f := a.flow.Id
		if i == 6 {
			f = a.flow2.Id
		}
		a.ids = append(a.ids, h.device(t, a.ws, f, fmt.Sprintf("p%d", i), "dev-"+string(rune('a'+i))).Id)
	}
	h.device(t, a.other, h.dataFlow(t, a.other, h.deviceType(t, a.other, "t"), "f").Id, "p0", "other-a")
	h.device(t, a.elsewhere, h.dataFlow(t, a.elsewhere, h.deviceType(t, a.elsewhere, "t"), "f").Id, "p0", "far-a")
	return a
}

// assets is GET /v3/assets with this query.
func assets(query string) req { return req{method: "GET", path: "/v3/assets?" + query} }

// assetList is POST /v3/assets/list with this query and body.
func assetList(query string, body map[string]any) req {
	return req{method: "POST", path: "/v3/assets/list" + query, body: body}
}

// pageCase is a request for a page of devices and the fields the page must have.
type pageCase struct {
	name string
	r    req
	want func(p gen.DevicePage) []field
}

// total is a pageCase's want of a page with n devices in all.
func total(n int64) func(p gen.DevicePage) []field {
	return func(p gen.DevicePage) []field { return []field{eq("totalElements", p.TotalElements, n)} }
}

// wantPages sends each request (as root unless it says otherwise), as a
// subtest named after it, and checks the page it answers.
func (h *harness) wantPages(t *testing.T, cases ...pageCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var page gen.DevicePage
			h.do(t, c.r).want(200).decode(&page)
			wantFields(t, c.r.method+" "+c.r.path, c.want(page)...)
		})
	}
}

// ---- Keys and users ----

// apiKey creates an active key of org (as root) with one permission: scope
// and verbs, in these workspaces (the whole organization when none), and
// returns its secret.
func (h *harness) apiKey(t testing.TB, org, scope string, verbs []string, workspaces ...string) string {
	t.Helper()
	perm := map[string]any{"scope": scope, "verbs": verbs}
	if len(workspaces) > 0 {
		perm["workspaceIds"] = workspaces
	}
	return *h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true, "permissions": []any{perm}}).ClientSecret
}

// countKeys is the number of API keys (as root).
func countKeys(t testing.TB, h *harness) int64 {
	t.Helper()
	var res gen.ApiKeyQueryResult
	h.do(t, req{method: "GET", path: "/apikeys?$count=true"}).want(200).decode(&res)
	return res.TotalCount
}

// signIn creates the user name with role in org and, for each workspace in
// wsRoles, the role given there; then logs it in and returns its access
// token.
func (h *harness) signIn(t testing.TB, org, name, role string, wsRoles map[string]string) string {
	t.Helper()
	u := h.user(t, name)
	h.member(t, org, u.Id, role)
	for ws, r := range wsRoles {
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + ws + "/members/" + u.Id, body: map[string]any{"role": r}}).want(200)
	}
	return h.login(t, name).TokenId
}

// ---- Output connectors and deliveries ----

// newWebhookConnector creates a WEBHOOK output connector (as root) with
// these webhook properties and returns the create response, which must
// carry the signing secret. scope, when given, is the connector's scope
// (the server's default is DATA_FLOW).
func (h *harness) newWebhookConnector(t testing.TB, ws, name string, props map[string]any, scope ...string) gen.OutputConnector {
	t.Helper()
	body := map[string]any{"name": name, "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": props}
	if len(scope) > 0 {
		body["scope"] = scope[0]
	}
	var c gen.OutputConnector
	h.do(t, req{method: "POST", path: "/v3/output-connectors", body: body}).want(201).decode(&c)
	if c.SigningSecret == nil {
		t.Fatalf("connector %s: no signing secret", name)
	}
	return c
}

// hook is newWebhookConnector for a receiver at uri that takes the bearer
// token "tok-" + name, under the name and arguments rules_test.go calls it
// with.
func (h *harness) hook(t testing.TB, ws, name, uri, scope string) gen.OutputConnector {
	t.Helper()
	return h.newWebhookConnector(t, ws, name, bearerProps(uri, "tok-"+name), scope)
}

// secretHooks is four webhook connectors of a workspace, one per auth type,
// and every secret they were made with (those sent and their signing
// secrets).
type secretHooks struct {
	plain, bearer, basic, header gen.OutputConnector // NONE, BEARER, BASIC, HEADER
	secrets                      []string
}

// newSecretHooks creates the connectors of a secretHooks in ws (as root).
func (h *harness) newSecretHooks(t testing.TB, ws string) *secretHooks {
	t.Helper()
	s := &secretHooks{plain: h.newWebhookConnector(t, ws, "plain", map[string]any{"uri": "https://hooks.example.com/in"})}
	s.bearer = h.newWebhookConnector(t, ws, "bearer", map[string]any{"uri": "http://10.0.0.1:8080/hook?x=1", "authType": "BEARER",
		"bearerToken": "bearer-secret-1", "method": "PUT", "headers": map[string]any{"X-Plain": "visible"}})
	s.basic = h.newWebhookConnector(t, ws, "basic", map[string]any{"uri": "https://hooks.example.com/b", "authType": "BASIC",
		"basicCredentials": map[string]any{"username": "alice", "password": "basic-secret-1"}})
	s.header = h.newWebhookConnector(t, ws, "header", map[string]any{"uri": "https://hooks.example.com/h", "authType": "HEADER",
		"authHeaders": map[string]any{"X-Api-Key": "header-secret-1", "X-Other": "header-secret-2"}})
	s.secrets = []string{"bearer-secret-1", "basic-secret-1", "header-secret-1", "header-secret-2", *s.plain.SigningSecret,
		*s.bearer.SigningSecret, *s.basic.SigningSecret, *s.header.SigningSecret}
	return s
}

// bearerProps is the webhook properties of a receiver at uri that takes a
// bearer token.
func bearerProps(uri, token string) map[string]any {
	return map[string]any{"uri": uri, "authType": "BEARER", "bearerToken": token}
}

// harnessSealer is a sealer with the harness's secret key, which opens what
// the server sealed.
func harnessSealer(t testing.TB) *auth.Sealer {
	t.Helper()
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

// openSealedConnector reads a connector from the store and opens its secrets
// with the harness's key, as the delivery worker does.
func (h *harness) openSealedConnector(t testing.TB, id string) (connector.Webhook, *store.OutputConnector) {
	t.Helper()
	c, err := h.st.Connectors.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	w, err := connector.Open(harnessSealer(t), c)
	if err != nil {
		t.Fatal(err)
	}
	return w, c
}

// insertDelivery writes a pending delivery to the connector straight in the
// database (the outbox is another file's).
func (h *harness) insertDelivery(t testing.TB, connectorID string) {
	t.Helper()
	storetest.Exec(t, h.st, "INSERT INTO deliveries (id, connector_id, sample_id, device_id, payload, status, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		"d-"+connectorID, connectorID, "s", "02aaaaaaaaaaaaaa", "{}", "PENDING", 0, time.Now().UTC())
	if n := h.countDeliveries(t, connectorID); n != 1 {
		t.Fatalf("%d deliveries inserted", n)
	}
}

// countDeliveries counts the connector's deliveries in the database.
func (h *harness) countDeliveries(t testing.TB, connectorID string) int {
	t.Helper()
	return int(storetest.QueryInt(t, h.st, "SELECT COUNT(*) FROM deliveries WHERE connector_id = ?", connectorID))
}

// route points the environment's data flow at connectors.
func (h *harness) route(t testing.TB, e *dataEnv, refs ...store.ConnectorRef) {
	t.Helper()
	f, err := h.st.DataFlows.Get(t.Context(), e.flowID)
	if err != nil {
		t.Fatal(err)
	}
	f.OutputConnectors = refs
	if _, err := h.st.DataFlows.Update(t.Context(), f, nil); err != nil {
		t.Fatal(err)
	}
}

// routedHook creates a webhook connector to uri taking the bearer token
// "tok-" + name, and points the environment's data flow at it alone.
func (h *harness) routedHook(t testing.TB, e *dataEnv, name, uri string) gen.OutputConnector {
	t.Helper()
	c := h.newWebhookConnector(t, e.ws, name, bearerProps(uri, "tok-"+name))
	h.route(t, e, store.ConnectorRef{ID: c.Id, Topic: "*"})
	return c
}

// backfillOne stores a sample with this temperature for the environment's
// device (as root).
func (h *harness) backfillOne(t testing.TB, e *dataEnv, temperature float64) {
	t.Helper()
	h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": temperature}}}).want(201)
}

// deliveries lists a connector's deliveries (as root); query starts with "?".
func (h *harness) deliveries(t testing.TB, connectorID, query string) gen.DeliveryPage {
	t.Helper()
	var p gen.DeliveryPage
	h.do(t, req{method: "GET", path: "/v3/output-connectors/" + connectorID + "/deliveries" + query}).want(200).decode(&p)
	return p
}

// worker is a delivery worker on the harness's store with its own settable
// clock (a second ahead), allowed to reach the local receivers.
func (h *harness) worker(t testing.TB) (*delivery.Worker, *testClock) {
	t.Helper()
	clock := &testClock{}
	clock.Set(time.Now().Add(time.Second))
	return &delivery.Worker{Deliveries: h.st.Deliveries, Connectors: h.st.Connectors, Kinds: connector.Builtin(), Sealer: harnessSealer(t),
		AllowPrivate: true, Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, clock
}

// runOnce runs one worker batch and checks how many it claimed.
func runOnce(t testing.TB, w *delivery.Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(t.Context())
	if err != nil || n != want {
		t.Fatalf("RunOnce: %d claimed (%v), want %d", n, err, want)
	}
}

// receiver is a webhook endpoint: it records every request and answers
// with the next queued status (200 once the queue is empty).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	answers []int
}

// received is one request a receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
}

// newReceiver starts a receiver that answers with these statuses first; it
// stops with the test.
func newReceiver(t testing.TB, answers ...int) *receiver {
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: body})
		code := http.StatusOK
		if len(r.answers) > 0 {
			code, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

// requests is what the receiver got at path ("" for every path), in order.
func (r *receiver) requests(path string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if path == "" || g.path == path {
			out = append(out, g)
		}
	}
	return out
}

// ---- Data streams ----

// streamMsg is a message of a data stream.
type streamMsg struct {
	Type          string           `json:"type"`
	ID            *int64           `json:"id,omitempty"`
	Subscriptions []map[string]any `json:"subscriptions,omitempty"`
	Sample        *struct {
		AkenzaDeviceID string         `json:"akenzaDeviceId"`
		Topic          string         `json:"topic"`
		Data           map[string]any `json:"data"`
	} `json:"sample,omitempty"`
	Message string `json:"message,omitempty"`
}

// streamURL serves the harness over a real listener until the test ends and
// returns the WebSocket URL of its data streams.
func (h *harness) streamURL(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(h.e)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v3/data-streams"
}

// stream is an open data stream.
type stream struct {
	conn *websocket.Conn
	ctx  context.Context
}

// dialStream opens the data stream at url (with header, when not nil) and
// reads its first message, which must be "connected". It closes with the
// test.
func dialStream(t testing.TB, ctx context.Context, url string, header http.Header) *stream {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	s := &stream{conn: conn, ctx: ctx}
	if m := s.read(t); m.Type != "connected" {
		t.Fatalf("first message %+v", m)
	}
	return s
}

// read reads the stream's next message.
func (s *stream) read(t testing.TB) streamMsg {
	t.Helper()
	var m streamMsg
	if err := wsjson.Read(s.ctx, s.conn, &m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// send writes a message to the stream.
func (s *stream) send(t testing.TB, m map[string]any) {
	t.Helper()
	if err := wsjson.Write(s.ctx, s.conn, m); err != nil {
		t.Fatal(err)
	}
}

// wantSampleMsg checks that m announces a sample of device with this
// temperature.
func wantSampleMsg(t testing.TB, m streamMsg, device string, temperature float64) {
	t.Helper()
	if m.Type != "sample_insert" || m.Sample == nil || m.Sample.AkenzaDeviceID != device || m.Sample.Data["temperature"] != temperature {
		t.Fatalf("want sample %v of %s, got %+v", temperature, device, m)
	}
}

// ---- Shared checks ----

// hex64 is 64 lowercase hex digits: a key's secret, a webhook's signing secret.
var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// wantMembers checks that r is a 400 whose problem names exactly these
// members, in order, and returns the problem.
func wantMembers(t testing.TB, r *response, members ...string) gen.Problem {
	t.Helper()
	return wantProblemMembers(t, r, members, false)
}

// wantMember checks that r is a 400 whose problem names member first; more
// may follow (one mistake can break several constraints). rules_test.go
// relies on the "more may follow".
func wantMember(t testing.TB, r *response, member string) gen.Problem {
	t.Helper()
	return wantProblemMembers(t, r, []string{member}, true)
}

// wantProblemMembers checks that r is a 400 whose problem names these
// members, in order: exactly, or first (then others may follow).
func wantProblemMembers(t testing.TB, r *response, members []string, first bool) gen.Problem {
	t.Helper()
	p := r.want(400).problem()
	var got []string
	if p.Errors != nil {
		for _, e := range *p.Errors {
			got = append(got, e.MemberName)
		}
	}
	named := got
	if first && len(named) > len(members) {
		named = named[:len(members)]
	}
	if !slices.Equal(named, members) {
		what := "exactly"
		if first {
			what = "first"
		}
		t.Fatalf("problem members %q, want %s %q: %s", got, what, members, r.Body)
	}
	return p
}

// wantAudit checks that the audit log holds a successful action:type for each want.
func wantAudit(t testing.TB, h *harness, want ...string) {
	t.Helper()
	events, _, err := h.st.Audit.List(t.Context(), mustQuery(t, "$sort=timestamp&$take=1000"), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Outcome == "success" {
			seen[e.Action+":"+e.ResourceType] = true
		}
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("audit log lacks %s", w)
		}
	}
}

// wantNoSecrets fails when the body holds any of the secrets or a signing secret.
func wantNoSecrets(t testing.TB, r *response, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(r.Body, []byte(s)) {
			t.Fatalf("response reveals secret %q: %s", s, r.Body)
		}
	}
	if bytes.Contains(r.Body, []byte("signingSecret")) {
		t.Fatalf("response carries a signingSecret: %s", r.Body)
	}
}

// wantDeleted deletes path (as root), a 204, after which it is gone: GET
// and DELETE answer 404.
func (h *harness) wantDeleted(t testing.TB, path string) {
	t.Helper()
	h.do(t, req{method: "DELETE", path: path}).want(204)
	h.do(t, req{method: "GET", path: path}).want(404)
	h.do(t, req{method: "DELETE", path: path}).want(404)
}

// access is a request a caller makes and the status it must get.
type access struct {
	name   string
	r      req
	status int
}

// wantAccess sends each request, as a subtest named after it, and checks
// its status.
func (h *harness) wantAccess(t *testing.T, cases ...access) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.do(t, c.r).want(c.status) })
	}
}

// refusal is a body the server must refuse: the status, and for a 400 the
// members its problem names ("" when not checked).
type refusal struct {
	name   string
	body   any
	status int
	member string
}

// wantRefused sends each body to method path (as root), as a subtest
// "refused: name", and checks the status and the problem's members.
func (h *harness) wantRefused(t *testing.T, method, path string, cases ...refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run("refused: "+c.name, func(t *testing.T) {
			r := h.do(t, req{method: method, path: path, body: c.body}).want(c.status)
			if c.member != "" {
				wantMembers(t, r, c.member)
			}
		})
	}
}

// step runs one step of a scenario as a named subtest. The steps after it
// build on what it did, so a failed step ends the scenario.
func step(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, fn) {
		t.FailNow()
	}
}

// field is one checked field of a value: its name, whether it is as
// wanted, and what it is and should be.
type field struct {
	name      string
	ok        bool
	got, want any
}

// eq checks a field that == compares.
func eq[T comparable](name string, got, want T) field { return field{name, got == want, got, want} }

// ptrEq checks the value a pointer field points to; nil is never as wanted.
func ptrEq[T comparable](name string, got *T, want T) field {
	if got == nil {
		return field{name, false, nil, want}
	}
	return field{name, *got == want, *got, want}
}

// deepEq checks a field that == cannot compare (slices, maps, and pointers
// by what they point to).
func deepEq(name string, got, want any) field {
	return field{name, reflect.DeepEqual(got, want), got, want}
}

// holds checks a property that is not an equality (a prefix, an order, a
// time within bounds): ok says whether it holds, got is what the value is
// and want says in words what it should be.
func holds(name string, ok bool, got any, want string) field {
	return field{name, ok, got, described(want)}
}

// described is a want given in words: it shows unquoted.
type described string

// nth is s[i], or the zero value when s has no element i (so that a short
// slice fails a check on its length, not with a panic).
func nth[T any](s []T, i int) T {
	var zero T
	if i < 0 || i >= len(s) {
		return zero
	}
	return s[i]
}

// deref is *p, or the zero value when p is nil (so that a nil pointer fails
// the checks of what it points to, not with a panic).
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// wantFields checks the fields of what: each one that is not as wanted is
// reported as "what: field name: got …, want …", and then the test stops.
func wantFields(t testing.TB, what string, fields ...field) {
	t.Helper()
	failed := false
	for _, f := range fields {
		if !f.ok {
			t.Errorf("%s: field %s: got %s, want %s", what, f.name, show(f.got), show(f.want))
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}
}

// show formats a field's value for a failure: strings quoted, pointers by
// what they point to.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case described:
		return string(v)
	case string:
		return strconv.Quote(v)
	case []byte:
		return strconv.Quote(string(v))
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "nil"
		}
		return "&" + show(rv.Elem().Interface())
	}
	return fmt.Sprintf("%+v", v)
}
