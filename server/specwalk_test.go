package server_test

// The spec walk: for every operation of openapi.yaml, requests built from the
// spec itself (valid ones from its examples and schemas, mutated ones, and
// ones without or with wrong credentials), sent against PostgreSQL and SQLite.
// Every response must be below 500 and match the spec (status included, which
// h.do checks); a request the spec rejects, or that is malformed on the wire
// (trailing data, invalid UTF-8, ...), must not succeed; a secured operation
// without valid credentials must answer 401; a method a path does not document
// must answer 405 with Allow.
//
// A new operation is walked without new test code: parameters are filled from
// a small world of real resources (by parameter name or id pattern), bodies
// from the examples and schemas. The default run is one round; set
// KEYPLANE_SPECWALK_ROUNDS=N for N rounds with further seeds (and
// KEYPLANE_SPECWALK_SEED to start elsewhere, to replay a reported round).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/keyplane/keyplane/openapi"
)

// Per round and operation, how many properties or parameters each
// per-member mutation is applied to (chosen by the round's seed; more rounds
// reach the others).
const (
	swPropsPerMutation = 2
	swQueryParams      = 2
)

// swSkip are paths the walk does not send: the data stream is a WebSocket.
var swSkip = map[string]bool{"/v3/data-streams": true}

func TestSpecWalk(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	ops := swOperations(doc)
	if len(ops) == 0 {
		t.Fatal("no operations in the spec")
	}
	rounds := swEnvInt(t, "KEYPLANE_SPECWALK_ROUNDS", 1)
	seed := swEnvInt(t, "KEYPLANE_SPECWALK_SEED", 1)
	each(t, func(t *testing.T, h *harness) {
		w := &swWalker{t: t, h: h, doc: doc, ops: ops, failures: map[string]*swFailure{}, cover: map[string][]int{}, stale: map[string]bool{}}
		if dir := os.Getenv("KEYPLANE_SPECWALK_TRACE"); dir != "" {
			f, err := os.Create(filepath.Join(dir, "specwalk-"+strings.ReplaceAll(t.Name(), "/", "-")+".log"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			w.trace = f
		}
		start := time.Now()
		w.build()
		for r := range rounds {
			w.round(uint64(seed + r))
		}
		w.report(time.Since(start), rounds, seed)
	})
}

func swEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// swOp is one operation of the spec.
type swOp struct {
	method, tmpl string
	op           *openapi3.Operation
	item         *openapi3.PathItem
	params       []*openapi3.Parameter
	body         *openapi3.RequestBody
	media        *openapi3.MediaType // the application/json body, if any
	secured      bool
}

func (o *swOp) key() string { return o.method + " " + o.tmpl }

func (o *swOp) param(in, name string) *openapi3.Parameter {
	for _, p := range o.params {
		if p.In == in && p.Name == name {
			return p
		}
	}
	return nil
}

func (o *swOp) schema() *openapi3.SchemaRef {
	if o.media == nil {
		return nil
	}
	return o.media.Schema
}

// slot is the object schema that body mutations change: the body's, or its
// items' when the body is an array.
func (o *swOp) slot() *openapi3.Schema {
	s := o.schema()
	if s == nil || s.Value == nil {
		return nil
	}
	if s.Value.Type.Is("array") && s.Value.Items != nil {
		return s.Value.Items.Value
	}
	return s.Value
}

var swMethodOrder = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}

func swOperations(doc *openapi3.T) []*swOp {
	var ops []*swOp
	for _, tmpl := range swKeys(doc.Paths.Map()) {
		if swSkip[tmpl] {
			continue
		}
		item := doc.Paths.Value(tmpl)
		byMethod := item.Operations()
		for _, m := range swMethodOrder {
			op := byMethod[m]
			if op == nil {
				continue
			}
			o := &swOp{method: m, tmpl: tmpl, op: op, item: item}
			seen := map[string]bool{}
			for _, list := range []openapi3.Parameters{op.Parameters, item.Parameters} { // the operation's override the path's
				for _, ref := range list {
					if p := ref.Value; p != nil && !seen[p.In+" "+p.Name] {
						seen[p.In+" "+p.Name] = true
						o.params = append(o.params, p)
					}
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				o.body = op.RequestBody.Value
				o.media = o.body.Content.Get("application/json")
			}
			reqs := doc.Security
			if op.Security != nil {
				reqs = *op.Security
			}
			o.secured = len(reqs) > 0 && !slices.ContainsFunc(reqs, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
			ops = append(ops, o)
		}
	}
	return ops
}

// swWorld is the set of real resources parameters are filled with.
type swWorld struct {
	// path maps a path parameter's name to an existing resource.
	path map[string]string
	// ids are the world's identifiers, to replace the example ids of bodies.
	ids []string
	// query maps query parameters no pattern identifies to a real value.
	query              map[string]string
	userID, userName   string
	password           string
	keySecret          string // x-api-key of a narrow key of the organization
	userToken          string // the world user's access token
	refreshToken       string // and its refresh token
	userTokenRefreshed bool
}

// swWalker sends the walk on one backend and collects its failures.
type swWalker struct {
	t        *testing.T
	h        *harness
	doc      *openapi3.T
	ops      []*swOp
	world    swWorld
	builds   int
	seed     uint64
	sent     int
	addr     int
	uniq     int
	failures map[string]*swFailure
	order    []string
	// cover records the statuses of each operation's valid requests.
	cover map[string][]int
	// stale marks operations whose resource changed since its version was read.
	stale    map[string]bool
	versions map[string]swVersion
	// specRejectsValid counts generated "valid" requests the spec rejects
	// (the generator's blind spots, for tuning; not product failures).
	specRejectsValid int
	// trace, when KEYPLANE_SPECWALK_TRACE names a directory, gets a line per request.
	trace io.Writer
}

type swVersion struct {
	fields map[string]any
	etag   string
}

// swReq is one request of the walk.
type swReq struct {
	op               *swOp
	mutation, target string
	path             string            // the concrete path; empty: the operation's, filled from the world when sent
	pathOver         map[string]string // path parameters that differ from the world's
	query            url.Values
	extraQuery       string // appended verbatim (unknown parameters)
	header           map[string]string
	hasBody          bool
	body             any                 // structured; encoded at send time
	rawBody          []byte              // sent verbatim instead of body
	transform        func([]byte) []byte // changes the encoded body
	after            func(*http.Request) // changes the request before it is sent
	cred             string              // "", "none", "wrong-key", "garbage-bearer", "key", "user"
	reject           bool                // malformed: a 2xx is a failure
	oracle           bool                // ask the spec whether the request is valid; a 2xx to an invalid one is a failure
	want             int                 // the status it must get (0: any)
	notStatus        int                 // a status it must not get
	allow            []string            // a 405 must carry Allow with these methods
	versioned        bool                // fill the body's version (and If-Match) from the resource first
	valid            bool                // meant to be valid (coverage)
}

func (r *swReq) url() string {
	u := r.path
	q := r.query.Encode()
	if r.extraQuery != "" {
		if q != "" {
			q += "&"
		}
		q += r.extraQuery
	}
	if q != "" {
		u += "?" + q
	}
	return u
}

// swFailure is one class of failure: an operation, a mutation, a status and
// what was wrong, with its first example.
type swFailure struct {
	kind              string
	mutations         []string
	status            int
	count             int
	ops               map[string]int // operation → failures
	targets           []string
	request, response string
	detail            string
	seed              uint64
}

// swCapture receives what h.do reports, so that each report is tied to the
// mutation that caused it.
type swCapture struct {
	testing.TB
	errs []string
}

type swFatal struct{}

func (c *swCapture) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}
func (c *swCapture) Error(args ...any) { c.errs = append(c.errs, fmt.Sprint(args...)) }
func (c *swCapture) Fatalf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	panic(swFatal{})
}
func (c *swCapture) Fatal(args ...any) {
	c.errs = append(c.errs, fmt.Sprint(args...))
	panic(swFatal{})
}

// ---- the world ----

var (
	swHex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
	swHex24 = regexp.MustCompile(`^[0-9a-f]{24}$`)
)

// root sends a world-building request as root and returns the response and
// its decoded JSON body.
func (w *swWalker) root(method, path string, body any, want int) (*response, map[string]any) {
	r := &swReq{op: w.opFor(method, path), mutation: "world", path: path, query: url.Values{}}
	if body != nil {
		r.hasBody, r.body = true, body
	}
	r.want = want
	res := w.send(r)
	var out map[string]any
	if res != nil {
		_ = json.Unmarshal(res.Body, &out)
	}
	return res, out
}

// opFor finds the operation a concrete path belongs to (for reports).
func (w *swWalker) opFor(method, path string) *swOp {
	hr := httptest.NewRequest(method, path, nil)
	if route, _, err := w.h.router.FindRoute(hr); err == nil {
		for _, o := range w.ops {
			if o.method == route.Method && o.tmpl == route.Path {
				return o
			}
		}
	}
	return &swOp{method: method, tmpl: path}
}

func swStr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// build makes a fresh world: an organization with a workspace, a device
// type, a data flow, a device with a sample, a tag, an output connector, a
// rule, a user (a member), a role and two API keys.
func (w *swWalker) build() {
	w.builds++
	n := strconv.Itoa(w.builds)
	old := w.world
	w.world = swWorld{path: map[string]string{}, query: map[string]string{}}
	wd := &w.world
	set := func(name, id string) {
		if id != "" {
			wd.path[name] = id
			wd.ids = append(wd.ids, id)
		}
	}
	_, org := w.root("POST", "/v3/organizations", map[string]any{"name": "walk org " + n}, 201)
	set("organizationId", swStr(org, "id"))
	_, ws := w.root("POST", "/v3/workspaces", map[string]any{"name": "walk ws " + n, "organizationId": swStr(org, "id")}, 201)
	set("workspaceId", swStr(ws, "id"))
	schemas := map[string]any{"default": map[string]any{
		"type": "object", "required": []any{"temperature"},
		"properties": map[string]any{"temperature": map[string]any{"type": "number"}, "humidity": map[string]any{"type": "number", "minimum": 0, "maximum": 100}},
	}}
	_, dt := w.root("POST", "/v3/device-types", map[string]any{"name": "walk type", "workspaceId": swStr(ws, "id"), "schemas": schemas}, 201)
	set("deviceTypeId", swStr(dt, "id"))
	_, flow := w.root("POST", "/v3/data-flows", map[string]any{"name": "walk flow", "workspaceId": swStr(ws, "id"), "deviceTypeId": swStr(dt, "id")}, 201)
	set("dataFlowId", swStr(flow, "id"))
	_, tag := w.root("POST", "/v3/tags", map[string]any{"name": "walk tag", "workspaceId": swStr(ws, "id")}, 201)
	set("tagId", swStr(tag, "id"))
	physical := "70B3D57ED0001234"
	_, dev := w.root("POST", "/v3/devices", map[string]any{"name": "walk device", "workspaceId": swStr(ws, "id"), "deviceId": physical,
		"dataFlowId": swStr(flow, "id"), "tags": []any{map[string]any{"id": swStr(tag, "id")}}}, 201)
	set("deviceId", swStr(dev, "id"))
	wd.query["deviceId"] = physical
	if dev != nil {
		w.root("POST", "/v3/devices/"+swStr(dev, "id")+"/backfill", map[string]any{"data": map[string]any{"temperature": 21.5, "humidity": 40}, "timestamp": "2026-11-26T10:00:00Z"}, 201)
	}
	_, conn := w.root("POST", "/v3/output-connectors", map[string]any{"name": "walk hook", "type": "WEBHOOK", "scope": "RULE_ACTION", "workspaceId": swStr(ws, "id"),
		"webhookProperties": map[string]any{"uri": "https://hooks.example.com/specwalk"}}, 201)
	set("outputConnectorId", swStr(conn, "id"))
	_, rule := w.root("POST", "/v3/rules", map[string]any{
		"name": "walk rule", "workspaceId": swStr(ws, "id"),
		"inputs": []any{map[string]any{"id": swStr(dev, "id"), "type": "DEVICE"}},
		"logic": map[string]any{
			"type":        "COMPARISON",
			"dataSources": []any{map[string]any{"id": "s1", "inputIds": []any{swStr(dev, "id")}, "dataKey": "temperature"}},
			"logicBlocks": []any{map[string]any{
				"conditions": []any{map[string]any{"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1"}, "operator": "GT",
					"operandSecond": map[string]any{"type": "CONSTANT", "value": 30}}},
				"actionIds": []any{"a1"},
			}},
		},
		"actions": []any{map[string]any{"id": "a1", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": swStr(conn, "id")}}},
	}, 201)
	set("ruleId", swStr(rule, "id"))
	w.worldUser(old)
	set("userId", wd.userID)
	if wd.userID != "" && org != nil {
		w.root("PUT", "/v3/organizations/"+swStr(org, "id")+"/members/"+wd.userID, map[string]any{"role": "EDITOR"}, 200)
		if ws != nil {
			w.root("PUT", "/v3/workspaces/"+swStr(ws, "id")+"/members/"+wd.userID, map[string]any{"role": "VIEWER"}, 200)
		}
	}
	_, role := w.root("POST", "/roles", map[string]any{"name": "walkRole" + n, "label": "walk", "rights": []any{"assetRead"}}, 201)
	if name := swStr(role, "name"); name != "" {
		wd.path["name"] = name
	}
	_, key := w.root("POST", "/apikeys", map[string]any{"name": "walk target", "isActive": true, "organizationId": swStr(org, "id")}, 201)
	set("id", swStr(key, "id"))
	_, cred := w.root("POST", "/apikeys", map[string]any{"name": "walk credential", "isActive": true, "organizationId": swStr(org, "id"),
		"permissions": []any{map[string]any{"scope": "ASSET", "verbs": []any{"READ"}}, map[string]any{"scope": "DATA", "verbs": []any{"READ", "CREATE"}}}}, 201)
	wd.keySecret = swStr(cred, "clientSecret")
}

// worldUser makes (or finds again) the user of createUser's example, so that
// the spec's login example logs in, and logs it in.
func (w *swWalker) worldUser(old swWorld) {
	wd := &w.world
	body := map[string]any{"userName": "walker", "password": "correct horse battery staple"}
	for _, o := range w.ops {
		if o.op.OperationID == "createUser" && o.media != nil {
			if ex, ok := swCopy(o.media.Example).(map[string]any); ok {
				body = ex
			}
		}
	}
	wd.userName, wd.password = swStr(body, "userName"), swStr(body, "password")
	if old.userID != "" { // keep the user of the previous world while it exists
		if res, _ := w.root("GET", "/users/"+old.userID, nil, 0); res != nil && res.Code == 200 {
			wd.userID, wd.userToken, wd.refreshToken = old.userID, old.userToken, old.refreshToken
			return
		}
	}
	res, u := w.root("POST", "/users", body, 0)
	switch {
	case res == nil:
	case res.Code == 201:
		wd.userID = swStr(u, "id")
	default: // it exists from an earlier world: find it (login restores it)
		_, list := w.root("GET", "/users?userName="+url.QueryEscape(wd.userName), nil, 200)
		if items, _ := list["items"].([]any); len(items) > 0 {
			u, _ := items[0].(map[string]any)
			wd.userID = swStr(u, "id")
		}
	}
	w.login()
}

// login logs the world user in, restoring its password and activity first
// when the walk changed them.
func (w *swWalker) login() {
	wd := &w.world
	wd.userToken, wd.refreshToken = "", ""
	if wd.userName == "" || wd.userID == "" {
		return
	}
	body := map[string]any{"userName": wd.userName, "password": wd.password, "deviceName": "specwalk"}
	res, out := w.root("POST", "/api/auth", body, 0)
	if res == nil || res.Code != 200 {
		got, u := w.root("GET", "/users/"+wd.userID, nil, 0)
		if got == nil || got.Code != 200 { // deleted: the next world makes it again
			return
		}
		w.root("PUT", "/users/"+wd.userID, map[string]any{"userName": wd.userName, "password": wd.password, "isActive": true, "roles": []any{}, "_v": u["_v"]}, 200)
		_, out = w.root("POST", "/api/auth", body, 200)
	}
	wd.userToken = swStr(out, "tokenId")
	wd.refreshToken = swStr(out, "refreshToken")
}

// subst replaces the example ids of a value by the world's: a 16-hex id by the
// world's id of the same kind (its two-character prefix), a 24-hex id under a
// user-ish key by the world's user.
func (w *swWalker) subst(v any, path []string) any {
	return swMapStrings(v, path, func(path []string, s string) any {
		switch {
		case len(path) > 0 && path[len(path)-1] == "refreshToken" && w.world.refreshToken != "":
			return w.world.refreshToken
		case swHex16.MatchString(s):
			for _, id := range w.world.ids {
				if len(id) == 16 && id[:2] == s[:2] {
					return id
				}
			}
		case swHex24.MatchString(s) && len(path) > 0:
			k := strings.ToLower(path[len(path)-1])
			if (strings.Contains(k, "user") || strings.Contains(k, "owner")) && w.world.userID != "" {
				return w.world.userID
			}
		}
		return s
	})
}

func swMatches(pattern, v string) bool {
	if pattern == "" {
		return true
	}
	re, err := regexp.Compile(pattern)
	return err == nil && re.MatchString(v)
}

func swSchema(p *openapi3.Parameter) *openapi3.Schema {
	if p.Schema == nil || p.Schema.Value == nil {
		return &openapi3.Schema{}
	}
	return p.Schema.Value
}

// pathValue is an existing resource for a path parameter: by its name, else
// the world id its pattern accepts, else one built from its schema.
func (w *swWalker) pathValue(p *openapi3.Parameter, g *swGen) string {
	pattern := swSchema(p).Pattern
	if v, ok := w.world.path[p.Name]; ok && swMatches(pattern, v) {
		return v
	}
	if pattern != "" {
		for _, id := range w.world.ids {
			if swMatches(pattern, id) {
				return id
			}
		}
	}
	return swParamString(w.subst(g.value(p.Schema, true, 0), []string{p.Name}))
}

// missingValue is a value of the parameter's pattern that names no resource.
func (w *swWalker) missingValue(p *openapi3.Parameter, existing string, rng *rand.Rand) string {
	pattern := swSchema(p).Pattern
	const hexdigits = "0123456789abcdef"
	for range 16 {
		b := []byte(existing)
		if swHex16.MatchString(existing) || swHex24.MatchString(existing) {
			for i := len(b) - 8; i < len(b); i++ {
				b[i] = hexdigits[rng.IntN(16)]
			}
		} else {
			b = append(b, []byte("Missing"+strconv.Itoa(rng.IntN(1000)))...)
		}
		if v := string(b); v != existing && swMatches(pattern, v) {
			return v
		}
	}
	return existing + "0"
}

// ---- building requests ----

// swParams are a request's query and header parameters (its path is
// filled from the world when it is sent).
type swParams struct {
	query  url.Values
	header map[string]string
}

func swFill(tmpl string, path map[string]string) string {
	out := tmpl
	for k, v := range path {
		out = strings.ReplaceAll(out, "{"+k+"}", url.PathEscape(v))
	}
	return out
}

// params builds the parameters of a variant: "example" (required ones, and
// those with an example), "required", "full" (all), or "sparse" (required
// ones and the optional one named sparse).
func (w *swWalker) params(o *swOp, g *swGen, mode, sparse string) swParams {
	ps := swParams{query: url.Values{}, header: map[string]string{}}
	for _, p := range o.params {
		if p.In != "query" && p.In != "header" {
			continue
		}
		hasExample := p.Example != nil || (p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Example != nil)
		if !p.Required && (mode == "required" || (mode == "example" && !hasExample) || (mode == "sparse" && p.Name != sparse)) {
			continue
		}
		var v any
		switch {
		case w.world.query[p.Name] != "" && p.In == "query":
			v = w.world.query[p.Name]
			if swSchema(p).Type.Is("array") {
				v = []any{v}
			}
		case p.Example != nil:
			v = swCopy(p.Example)
		default:
			v = g.value(p.Schema, true, 0)
		}
		v = w.subst(v, []string{p.Name})
		if p.In == "header" {
			if p.Name == "If-Match" { // filled from the resource, when versioned
				continue
			}
			ps.header[p.Name] = swParamString(v)
			continue
		}
		for _, s := range swParamValues(v) {
			ps.query.Add(p.Name, s)
		}
	}
	return ps
}

// bodyFor builds the body of a variant, and whether to send one.
func (w *swWalker) bodyFor(o *swOp, g *swGen, mode string) (any, bool) {
	if o.media == nil {
		return nil, false
	}
	if mode == "required" && !o.body.Required {
		return nil, false
	}
	var v any
	if mode == "example" || mode == "sparse" {
		switch {
		case o.media.Example != nil:
			v = swCopy(o.media.Example)
		case len(o.media.Examples) > 0:
			for _, name := range swKeys(o.media.Examples) {
				if ex := o.media.Examples[name]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
					v = swCopy(ex.Value.Value)
					break
				}
			}
		}
		if v == nil && o.schema() != nil && o.schema().Value != nil && o.schema().Value.Example != nil {
			v = swCopy(o.schema().Value.Example)
		}
		if v == nil {
			v = g.value(o.schema(), true, 0)
		}
	} else {
		v = g.value(o.schema(), false, 0)
		v = w.unique(o, v)
	}
	return w.matchPath(o, w.subst(v, nil)), true
}

// matchPath gives the body members that repeat a path parameter (same schema)
// the path's value: a PUT of /roles/{name} names the same role in its body.
func (w *swWalker) matchPath(o *swOp, body any) any {
	slot := o.slot()
	if slot == nil {
		return body
	}
	props, required := swSlotProps(slot)
	g := &swGen{rng: rand.New(rand.NewPCG(1, 2))}
	return swWithSlot(body, func(m map[string]any) {
		for _, p := range o.params {
			prop := props[p.Name]
			if p.In != "path" || prop == nil || p.Schema == nil || prop.Value == nil || p.Schema.Value == nil {
				continue
			}
			same := (prop.Ref != "" && prop.Ref == p.Schema.Ref) || (prop.Value.Pattern != "" && prop.Value.Pattern == p.Schema.Value.Pattern)
			if _, present := m[p.Name]; same && (present || slices.Contains(required, p.Name)) {
				m[p.Name] = w.pathValue(p, g)
			}
		}
	})
}

// unique makes the identifying names of a created resource new, so that a
// generated create does not only meet the conflict of the previous one.
func (w *swWalker) unique(o *swOp, body any) any {
	if o.method != "POST" {
		return body
	}
	slot := o.slot()
	return swWithSlot(body, func(m map[string]any) {
		for _, k := range []string{"name", "userName", "deviceId"} {
			s, ok := m[k].(string)
			if !ok || slot == nil {
				continue
			}
			w.uniq++
			cand := s + "-" + strconv.Itoa(w.uniq)
			if p := slot.Properties[k]; p != nil && p.Value != nil && p.Value.VisitJSON(cand) == nil {
				m[k] = cand
			}
		}
	})
}

// swWithSlot returns a copy of body with fn applied to its object (or its
// first item's, for an array body).
func swWithSlot(body any, fn func(m map[string]any)) any {
	b := swCopy(body)
	switch x := b.(type) {
	case map[string]any:
		fn(x)
	case []any:
		if len(x) > 0 {
			if m, ok := x[0].(map[string]any); ok {
				fn(m)
			}
		}
	}
	return b
}

func swSlotProps(s *openapi3.Schema) (openapi3.Schemas, []string) {
	if s == nil {
		return nil, nil
	}
	props := openapi3.Schemas{}
	required := slices.Clone(s.Required)
	for k, v := range s.Properties {
		props[k] = v
	}
	for _, sub := range s.AllOf {
		if sub.Value != nil {
			p, r := swSlotProps(sub.Value)
			for k, v := range p {
				props[k] = v
			}
			required = append(required, r...)
		}
	}
	return props, required
}

// requests builds an operation's requests for one round.
func (w *swWalker) requests(o *swOp, rng *rand.Rand) []*swReq {
	g := &swGen{rng: rng}
	gf := &swGen{rng: rng, full: true}
	versioned := o.method == "PUT" && o.item.Get != nil
	var valid, muts []*swReq
	mk := func(mutation, target string, ps swParams, body any, hasBody bool) *swReq {
		return &swReq{op: o, mutation: mutation, target: target, query: ps.query, header: ps.header,
			body: body, hasBody: hasBody, versioned: versioned, oracle: true}
	}

	// Valid requests.
	var optional []string
	for _, p := range o.params {
		if p.In == "query" && !p.Required {
			optional = append(optional, p.Name)
		}
	}
	sparse := ""
	if len(optional) > 0 {
		sparse = optional[rng.IntN(len(optional))]
	}
	for _, mode := range []string{"example", "required", "full", "sparse"} {
		gg := g
		if mode == "full" {
			gg = gf
		}
		if mode == "sparse" && sparse == "" {
			continue
		}
		ps := w.params(o, gg, mode, sparse)
		body, has := w.bodyFor(o, gg, mode)
		r := mk("valid."+mode, "", ps, body, has)
		r.valid = true
		sig := func(r *swReq) string {
			return fmt.Sprint(r.query.Encode(), r.header, r.hasBody, string(swEncode(r.body)))
		}
		if !slices.ContainsFunc(valid, func(v *swReq) bool { return sig(v) == sig(r) }) {
			valid = append(valid, r)
		}
	}
	base := valid[0]
	variant := func(mutation, target string, edit func(r *swReq)) {
		r := *base
		r.mutation, r.target, r.valid = mutation, target, false
		r.query = url.Values{}
		for k, v := range base.query {
			r.query[k] = slices.Clone(v)
		}
		r.header = map[string]string{}
		for k, v := range base.header {
			r.header[k] = v
		}
		edit(&r)
		muts = append(muts, &r)
	}
	if o.media != nil {
		variant("valid.json-charset", "", func(r *swReq) {
			r.header["Content-Type"] = "application/json; charset=utf-8"
			r.notStatus = http.StatusUnsupportedMediaType
		})
	}

	// Credentials.
	if o.secured {
		variant("cred.none", "", func(r *swReq) { r.cred, r.want, r.oracle = "none", http.StatusUnauthorized, false })
		variant("cred.wrong-key", "", func(r *swReq) { r.cred, r.want, r.oracle = "wrong-key", http.StatusUnauthorized, false })
		if rng.IntN(3) == 0 {
			variant("cred.garbage-bearer", "", func(r *swReq) { r.cred, r.want, r.oracle = "garbage-bearer", http.StatusUnauthorized, false })
		}
		variant("cred.key", "", func(r *swReq) { r.cred = "key" })
		if w.world.userToken != "" {
			variant("cred.user", "", func(r *swReq) { r.cred = "user" })
		}
	} else {
		variant("cred.wrong-key-ignored", "", func(r *swReq) { r.cred = "wrong-key" })
	}

	// Path parameters.
	for _, p := range o.params {
		if p.In != "path" {
			continue
		}
		existing := w.pathValue(p, g)
		pathVariant := func(mutation, value string, reject bool) {
			variant(mutation, p.Name, func(r *swReq) {
				r.pathOver = map[string]string{p.Name: value}
				r.reject = reject
				r.versioned = false
			})
		}
		pathVariant("path.missing-resource", w.missingValue(p, existing, rng), o.method != "PUT")
		malformed := "ZZ!"
		for _, c := range []string{"ZZ!", "9-bad", "-", "..x", "_"} {
			if !swMatches(swSchema(p).Pattern, c) {
				malformed = c
				break
			}
		}
		pathVariant("path.malformed", malformed, false)
		pathVariant("path.nul", existing+"\x00x", false)
		swOneOf(rng,
			func() { pathVariant("path.long", strings.Repeat("a", 10000), false) },
			func() { pathVariant("path.number", "12345", false) },
			func() { pathVariant("path.invalid-utf8", existing+"\xff", false) })
	}

	// Query and header parameters.
	var qps []*openapi3.Parameter
	for _, p := range o.params {
		if p.In == "query" {
			qps = append(qps, p)
			if p.Required {
				variant("query.missing-required", p.Name, func(r *swReq) { r.query.Del(p.Name); r.reject = true })
			}
		}
		if p.In == "header" {
			variant("header.long", p.Name, func(r *swReq) { r.header[p.Name] = strings.Repeat("a", 10000); r.versioned = false })
			variant("header.empty", p.Name, func(r *swReq) { r.header[p.Name] = ""; r.versioned = false })
		}
	}
	for _, p := range swPick(rng, qps, swQueryParams) {
		s := swSchema(p)
		isNum := s.Type.Is("integer") || s.Type.Is("number") || (s.Items != nil && s.Items.Value != nil && (s.Items.Value.Type.Is("integer") || s.Items.Value.Type.Is("number")))
		cur := base.query.Get(p.Name)
		if cur == "" {
			cur = swParamString(g.value(p.Schema, true, 0))
			if arr, ok := g.value(p.Schema, true, 0).([]any); ok && len(arr) > 0 {
				cur = swParamString(arr[0])
			}
		}
		set := func(mutation string, values ...string) {
			variant(mutation, p.Name, func(r *swReq) { r.query[p.Name] = values })
		}
		set("query.nul", cur+"\x00x")
		set("query.long", strings.Repeat("a", 10000))
		set("query.invalid-utf8", cur+"\xff\xfe")
		set("query.empty", "")
		if isNum {
			set("query.string-for-number", "abc")
			set("query.huge-number", "123456789012345678901234567890")
			if s.Max != nil {
				set("query.above-maximum", strconv.FormatInt(int64(*s.Max)+1, 10))
			}
			if s.Min != nil {
				set("query.below-minimum", strconv.FormatInt(int64(*s.Min)-1, 10))
			}
		} else {
			set("query.number-for-string", "12345")
		}
		if !s.Type.Is("array") {
			set("query.repeated", cur, cur)
		}
		item := s
		if s.Type.Is("array") && s.Items != nil && s.Items.Value != nil {
			item = s.Items.Value
		}
		switch {
		case item.Type.Is("integer"):
			hi := "9223372036854775807"
			if item.Max != nil {
				hi = strconv.FormatFloat(*item.Max, 'f', -1, 64)
			}
			set("query.int-extreme", hi)
		case item.Type.Is("string") && item.Format == "date-time":
			set("query.date-extreme", "0001-01-01T00:00:00Z")
			set("query.date-extreme", "9999-12-31T23:59:59.999999999+14:00")
		case item.Type.Is("string") && item.MaxLength != nil && item.Pattern == "" && len(item.Enum) == 0:
			set("query.max-length-4-byte-runes", strings.Repeat("\U0001F600", int(*item.MaxLength)))
		}
	}
	// One header the spec describes in prose (titles follow Accept-Language),
	// or that the server reads for every request, with an odd value.
	odd := [][2]string{
		{"Accept-Language", "*;q=abc, sk-SK;q=0.5"},
		{"Accept-Language", strings.Repeat("en-US,", 3000)},
		{"Accept-Language", "\xff\xfe"},
		{"X-Request-Id", strings.Repeat("x", 5000)},
		{"traceparent", "00-" + strings.Repeat("0", 32) + "-" + strings.Repeat("0", 16) + "-01"},
		{"traceparent", "zz-" + strings.Repeat("f", 200)},
	}
	h := odd[rng.IntN(len(odd))]
	variant("header.odd", h[0], func(r *swReq) { r.header[h[0]] = h[1] })
	variant("query.unknown", "specwalkUnknown", func(r *swReq) { r.extraQuery = "specwalkUnknown=1&%24specwalk=2" })

	// Bodies.
	if o.media != nil {
		w.bodyMutations(o, rng, base, variant)
	} else {
		variant("body.unexpected", "", func(r *swReq) { r.hasBody, r.body = true, map[string]any{"specwalk": 1} })
	}

	if o.method == "DELETE" { // the world stays intact until the valid delete; then come those that may delete too
		var first, last []*swReq
		for _, r := range muts {
			if strings.HasPrefix(r.mutation, "cred.key") || strings.HasPrefix(r.mutation, "cred.user") || r.mutation == "body.unexpected" {
				last = append(last, r)
			} else {
				first = append(first, r)
			}
		}
		return append(append(append(first, valid[0]), last...), valid[1:]...)
	}
	return append(valid, muts...)
}

// swBig is a 17 MiB JSON body, above every body limit.
var swBig = sync.OnceValue(func() []byte {
	b := bytes.Repeat([]byte("a"), 17<<20)
	copy(b, `{"pad":"`)
	copy(b[len(b)-2:], `"}`)
	return b
})

func (w *swWalker) bodyMutations(o *swOp, rng *rand.Rand, base *swReq, variant func(string, string, func(*swReq))) {
	slot := o.slot()
	props, required := swSlotProps(slot)
	names := swKeys(props)
	rootSchema := o.schema().Value
	required = slices.DeleteFunc(slices.Clone(required), func(k string) bool { return props[k] == nil })

	raw := func(mutation string, data []byte, reject bool) {
		variant(mutation, "", func(r *swReq) { r.rawBody, r.hasBody, r.reject, r.versioned = data, true, reject, false })
	}
	setProp := func(mutation, prop string, v any, reject bool) {
		variant(mutation, prop, func(r *swReq) {
			r.body = swWithSlot(r.body, func(m map[string]any) { m[prop] = v })
			r.hasBody = true
			r.reject = reject
			if prop == "version" || prop == "_v" {
				r.versioned = false
			}
		})
	}

	// Wrong types, missing members.
	for _, k := range swPick(rng, names, swPropsPerMutation) {
		if vs := swWrongType(props[k].Value); len(vs) > 0 {
			setProp("body.wrong-type", k, vs[rng.IntN(len(vs))], false)
		}
	}
	for _, k := range required {
		variant("body.missing-required", k, func(r *swReq) {
			r.body = swWithSlot(r.body, func(m map[string]any) { delete(m, k) })
			r.hasBody = true
			r.versioned = r.versioned && k != "version" && k != "_v"
		})
	}

	// U+0000 and invalid UTF-8 in strings.
	var strs, nums []string
	for _, k := range names {
		if s := props[k].Value; s != nil && s.Type.Is("string") {
			strs = append(strs, k)
		}
		if s := props[k].Value; s != nil && (s.Type.Is("integer") || s.Type.Is("number")) {
			nums = append(nums, k)
		}
	}
	for _, k := range swPick(rng, strs, swPropsPerMutation) {
		setProp("body.nul", k, "walk\u0000nul", false)
		setProp("body.invalid-utf8", k, swRaw("\"walk\xffutf8\""), true)
	}
	if len(strs) > 0 {
		k := swPick(rng, strs, 1)[0]
		setProp("body.lone-surrogate", k, swRaw(`"walk\ud800"`), false)
	}
	variant("body.nul-everywhere", "", func(r *swReq) {
		r.body = swMapStrings(r.body, nil, func(_ []string, s string) any { return s + "\u0000" })
	})
	if v, ok := swWithNULKeys(base.body, o.schema(), 0); ok {
		variant("body.nul-key", "", func(r *swReq) { r.body = v })
	}
	variant("body.invalid-utf8-everywhere", "", func(r *swReq) {
		r.body = swMapStrings(r.body, nil, func(_ []string, s string) any { return swInvalidUTF8(s) })
		r.reject = true
	})

	// Values at the edges of what the schema allows (valid: they must be
	// stored and served, not meet a narrower database column).
	var limited, ints, times []string
	for _, k := range names {
		s := props[k].Value
		switch {
		case s == nil:
		case s.Type.Is("string") && s.MaxLength != nil && *s.MaxLength > 0 && s.Pattern == "" && s.Format == "" && len(s.Enum) == 0:
			limited = append(limited, k)
		case s.Type.Is("string") && s.Format == "date-time":
			times = append(times, k)
		case s.Type.Is("integer"):
			ints = append(ints, k)
		}
	}
	for _, k := range swPick(rng, limited, swPropsPerMutation) {
		n := int(*props[k].Value.MaxLength)
		swOneOf(rng,
			func() { setProp("body.max-length", k, strings.Repeat("a", n), false) },
			func() { setProp("body.max-length-4-byte-runes", k, strings.Repeat("\U0001F600", n), false) },
			func() { setProp("body.max-length-combining", k, "e"+strings.Repeat("\u0301", n-1), false) })
	}
	for _, k := range swPick(rng, ints, swPropsPerMutation) {
		s := props[k].Value
		hi, lo := "9223372036854775807", "-9223372036854775808"
		if s.Max != nil {
			hi = strconv.FormatFloat(*s.Max, 'f', -1, 64)
		}
		if s.Min != nil {
			lo = strconv.FormatFloat(*s.Min, 'f', -1, 64)
		}
		swOneOf(rng,
			func() { setProp("body.int-extreme", k, swRaw(hi), false) },
			func() { setProp("body.int-extreme", k, swRaw(lo), false) },
			func() { setProp("body.integral-float", k, swRaw(lo+".0"), false) })
	}
	for _, k := range swPick(rng, times, swPropsPerMutation) {
		setProp("body.date-extreme", k, "0001-01-01T00:00:00Z", false)
		setProp("body.date-extreme", k, "9999-12-31T23:59:59.999999999+14:00", false)
		setProp("body.date-leap-second", k, "2016-12-31T23:59:60Z", false)
	}

	// Encodings a JSON decoder must refuse, or may read differently.
	if len(strs) > 0 {
		k := swPick(rng, strs, 1)[0]
		setProp("body.raw-control-char", k, swRaw("\"walk\x00raw\""), true)
		setProp("body.overlong-nul", k, swRaw("\"walk\xc0\x80\""), true)
		variant("body.duplicate-key", k, func(r *swReq) {
			r.transform = func(b []byte) []byte { // the first copy carries U+0000, the second is valid
				if len(b) < 2 || b[0] != '{' {
					return b
				}
				key, _ := json.Marshal(k)
				return append([]byte(`{`+string(key)+`:"walk\u0000dup",`), b[1:]...)
			}
		})
	}
	raw("body.bom", append([]byte("\xef\xbb\xbf"), swEncode(base.body)...), false)

	// Huge numbers.
	for _, k := range swPick(rng, nums, swPropsPerMutation) {
		integer := props[k].Value.Type.Is("integer")
		setProp("body.huge-number", k, swRaw("1e400"), true) // beyond every double: no client reads it back
		setProp("body.huge-number", k, swRaw("123456789012345678901234567890"), integer)
	}
	if v, ok := swMapNumbers(base.body, "1e400"); ok {
		variant("body.huge-number-everywhere", "", func(r *swReq) { r.body, r.reject, r.versioned = v, true, false })
	}
	if len(nums) == 0 && len(names) > 0 {
		setProp("body.huge-number", names[0], swRaw("1e400"), true)
	}

	// Deep nesting.
	raw("body.deep-array-unclosed", swDeepNest("[", "]", 10000, false), true)
	raw("body.deep-array", swDeepNest("[", "]", 10000, true), true)
	raw("body.deep-object", swDeepNest(`{"a":`, "}", 10000, true), rootSchema.Type.Is("array"))
	for _, k := range names {
		if swFreeForm(props[k].Value) {
			variant("body.deep-object-member", k, func(r *swReq) {
				r.body = swWithSlot(r.body, func(m map[string]any) { m[k] = swRaw(swDeepNest(`{"a":`, "}", 10000, true)) })
			})
			break
		}
	}

	// Trailing data, empty and wrong roots.
	tail := func(mutation string, fn func([]byte) []byte) {
		variant(mutation, "", func(r *swReq) { r.transform, r.reject = fn, true })
	}
	tail("body.trailing-brace", func(b []byte) []byte { return append(b, '}') })
	tail("body.two-documents", func(b []byte) []byte { return append(slices.Clone(b), b...) })
	tail("body.trailing-garbage", func(b []byte) []byte { return append(b, []byte(" x")...) })
	raw("body.empty", []byte{}, o.body.Required)
	raw("body.null", []byte("null"), o.body.Required && !rootSchema.Nullable)
	if rootSchema.Type.Is("array") {
		raw("body.wrong-root", []byte(`{}`), true)
	} else {
		raw("body.wrong-root", []byte(`[]`), true)
	}
	raw("body.wrong-root", []byte(`"specwalk"`), true)

	// Size: 17 MiB (with a length, and chunked for a few operations).
	variant("body.17MiB", "", func(r *swReq) {
		r.rawBody, r.hasBody, r.reject, r.oracle, r.want, r.versioned = swBig(), true, true, false, http.StatusRequestEntityTooLarge, false
	})
	if rng.IntN(8) == 0 || strings.HasSuffix(o.tmpl, "/bulk") {
		variant("body.17MiB-chunked", "", func(r *swReq) {
			r.rawBody, r.hasBody, r.reject, r.oracle, r.want, r.versioned = swBig(), true, true, false, http.StatusRequestEntityTooLarge, false
			r.after = func(hr *http.Request) { hr.ContentLength = -1; hr.Body = io.NopCloser(bytes.NewReader(swBig())) }
		})
	}

	// Content types.
	variant("valid.content-type-case", "", func(r *swReq) {
		r.header["Content-Type"] = "Application/JSON"
		r.notStatus = http.StatusUnsupportedMediaType
	})
	for _, ct := range swPick(rng, []string{"text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/json-patch+json"}, 2) {
		variant("body.content-type", ct, func(r *swReq) { r.header["Content-Type"] = ct; r.reject = true })
	}
	variant("body.no-content-type", "", func(r *swReq) {
		r.after = func(hr *http.Request) { hr.Header.Del("Content-Type") }
	})
}

// ---- sending ----

func (w *swWalker) round(seed uint64) {
	w.seed = seed
	var deletes []*swOp
	for _, o := range w.ops {
		if o.method == "DELETE" {
			deletes = append(deletes, o)
			continue
		}
		w.runOp(o)
	}
	for _, o := range deletes {
		w.runOp(o)
	}
	w.probeMethods()
}

// runOp sends an operation's requests.
func (w *swWalker) runOp(o *swOp) {
	hsh := fnv.New64a()
	hsh.Write([]byte(o.key()))
	rng := rand.New(rand.NewPCG(w.seed, hsh.Sum64()))
	w.stale[o.key()] = true
	reqs := w.requests(o, rng)
	dirty := false
	for i, r := range reqs {
		if dirty && slices.ContainsFunc(reqs[i:], func(r *swReq) bool { return r.mutation == "valid.example" }) {
			w.build() // the valid delete is still to come: what it names must exist
			dirty = false
		}
		res := w.send(r)
		if o.method == "DELETE" && res != nil && res.Code < 300 {
			dirty = true
		}
	}
	if dirty {
		w.build()
	}
}

// probeMethods sends each path the methods it does not document.
func (w *swWalker) probeMethods() {
	g := &swGen{rng: rand.New(rand.NewPCG(w.seed, 405))}
	paths := w.doc.Paths.Map()
	for _, tmpl := range swKeys(paths) {
		if swSkip[tmpl] {
			continue
		}
		item := paths[tmpl]
		documented := swKeys(item.Operations())
		ps := map[string]string{}
		for _, o := range w.ops {
			if o.tmpl == tmpl {
				for _, p := range o.params {
					if p.In == "path" {
						ps[p.Name] = w.pathValue(p, g)
					}
				}
			}
		}
		var undocumented []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
			if item.GetOperation(m) == nil {
				undocumented = append(undocumented, m)
			}
		}
		for _, m := range swPick(g.rng, undocumented, 2) {
			r := &swReq{op: &swOp{method: m, tmpl: tmpl}, mutation: "method.undocumented", path: swFill(tmpl, ps), query: url.Values{},
				want: http.StatusMethodNotAllowed, allow: documented}
			if m == "HEAD" || m == "OPTIONS" { // may be served (HEAD as GET without a body); a 405 still says Allow
				r.want = 0
			}
			if m != "GET" && m != "DELETE" {
				r.hasBody, r.body = true, map[string]any{}
			}
			w.send(r)
		}
	}
	w.send(&swReq{op: &swOp{method: "GET", tmpl: "/v3/specwalk-nowhere"}, mutation: "path.unknown", path: "/v3/specwalk-nowhere", query: url.Values{}, want: http.StatusNotFound})
}

// prefetch reads the resource a PUT changes, for its version and ETag.
func (w *swWalker) prefetch(r *swReq) swVersion {
	k := r.op.key() + " " + r.path
	if v, ok := w.versions[k]; ok && !w.stale[r.op.key()] {
		return v
	}
	res := w.send(&swReq{op: w.opFor("GET", r.path), mutation: "prefetch", path: r.path, query: url.Values{}})
	v := swVersion{fields: map[string]any{}}
	if res != nil && res.Code == 200 {
		var m map[string]any
		if json.Unmarshal(res.Body, &m) == nil {
			for _, f := range []string{"version", "_v"} {
				if x, ok := m[f]; ok {
					v.fields[f] = x
				}
			}
		}
		v.etag = res.Hdr.Get("ETag")
	}
	if w.versions == nil {
		w.versions = map[string]swVersion{}
	}
	w.versions[k] = v
	w.stale[r.op.key()] = false
	return v
}

// do sends one request through the harness from an address of its own, so
// that failed authentications of the walk do not rate-limit the rest.
func (w *swWalker) do(c *swCapture, r *swReq, method string, data []byte) (res *response) {
	w.sent++
	w.addr++
	addr := fmt.Sprintf("198.18.%d.%d:4242", (w.addr/250)%250, w.addr%250+1)
	q := req{method: method, path: r.url(), header: r.header}
	if data != nil {
		q.body = data
	}
	switch r.cred {
	case "none":
		q.anonymous = true
	case "wrong-key":
		q.apiKey = strings.Repeat("0f", 32)
	case "garbage-bearer":
		q.bearer = "garbage"
	case "key":
		q.apiKey = w.world.keySecret
		if q.apiKey == "" {
			q.anonymous = true
		}
	case "user":
		q.bearer = w.world.userToken
	}
	q.after = func(hr *http.Request) {
		hr.RemoteAddr = addr
		if r.after != nil {
			r.after(hr)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(swFatal); !ok {
				c.errs = append(c.errs, fmt.Sprintf("panic: %v", p))
			}
			res = nil
		}
	}()
	return w.h.do(c, q)
}

// send completes and sends a request, and records what is wrong with the
// answer.
func (w *swWalker) send(r *swReq) *response {
	method := r.op.method
	if r.path == "" {
		ps := map[string]string{}
		for _, p := range r.op.params {
			if p.In == "path" {
				ps[p.Name] = w.pathValue(p, &swGen{rng: rand.New(rand.NewPCG(1, 2))})
			}
		}
		for k, v := range r.pathOver {
			ps[k] = v
		}
		r.path = swFill(r.op.tmpl, ps)
	}
	if r.versioned && r.hasBody {
		v := w.prefetch(r)
		for f, x := range v.fields {
			if r.target == f {
				continue
			}
			if props, _ := swSlotProps(r.op.slot()); props[f] != nil {
				r.body = swWithSlot(r.body, func(m map[string]any) { m[f] = x })
			}
		}
		if v.etag != "" && r.op.param("header", "If-Match") != nil && r.mutation == "valid.example" {
			r.header = swCloneHeader(r.header)
			r.header["If-Match"] = v.etag
		}
	}
	var data []byte
	if r.hasBody {
		switch {
		case r.rawBody != nil:
			data = r.rawBody
		default:
			data = swEncode(r.body)
		}
		if r.transform != nil {
			data = r.transform(data)
		}
		if data == nil {
			data = []byte{}
		}
	}
	specRejects := false
	if r.oracle {
		specRejects = w.specRejects(r, method, data)
		if r.valid && specRejects {
			w.specRejectsValid++
		}
	}
	c := &swCapture{TB: w.t}
	res := w.do(c, r, method, data)
	if w.trace != nil {
		status := 0
		if res != nil {
			status = res.Code
		}
		fmt.Fprintf(w.trace, "%s %q [%s %s] %d %q\n", method, swTrunc(r.url(), 120), r.mutation, r.target, status, swTrunc(string(func() []byte {
			if res != nil {
				return res.Body
			}
			return nil
		}()), 200))
	}

	if r.cred == "user" && res != nil && res.Code == http.StatusUnauthorized && !w.world.userTokenRefreshed {
		w.world.userTokenRefreshed = true // the session ended (a password change, a logout): log in again once
		w.login()
	}
	record := func(kind string, detail string) {
		status := 0
		if res != nil {
			status = res.Code
		}
		w.fail(kind, r, status, detail, data, res)
	}
	for _, e := range c.errs {
		switch {
		case res != nil && res.Code >= 500 && strings.Contains(e, "violates the spec"):
			// the 5xx below says it
		case strings.Contains(e, "violates the spec"):
			record("spec", swFirstLine(e))
		default:
			record("harness", swFirstLine(e))
		}
	}
	if res == nil {
		if len(c.errs) == 0 {
			record("harness", "no response")
		}
		return nil
	}
	if r.valid {
		w.cover[r.op.key()] = append(w.cover[r.op.key()], res.Code)
	}
	if r.op.method == "PUT" && res.Code < 300 {
		w.stale[r.op.key()] = true
	}
	switch {
	case res.Code >= 500:
		record("5xx", "")
	case r.want != 0 && res.Code != r.want:
		record("status", fmt.Sprintf("want %d", r.want))
	case r.notStatus != 0 && res.Code == r.notStatus:
		record("status", fmt.Sprintf("must not be %d", r.notStatus))
	case (r.reject || specRejects) && res.Code < 400:
		why := "malformed request accepted"
		if specRejects && !r.reject {
			why = "request the spec rejects accepted"
		}
		record("accepted", why)
	}
	if r.allow != nil && res.Code == http.StatusMethodNotAllowed {
		got := strings.Split(strings.ReplaceAll(res.Hdr.Get("Allow"), " ", ""), ",")
		slices.Sort(got)
		if !slices.Equal(slices.DeleteFunc(got, func(m string) bool { return m == "" || m == "HEAD" || m == "OPTIONS" }), r.allow) {
			record("allow", fmt.Sprintf("Allow %q, want %s", res.Hdr.Get("Allow"), strings.Join(r.allow, ", ")))
		}
	}
	return res
}

func swCloneHeader(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// specRejects asks the spec, through kin-openapi, whether the request is
// invalid (credentials aside).
func (w *swWalker) specRejects(r *swReq, method string, data []byte) bool {
	if len(data) > 1<<20 {
		return false
	}
	var body io.Reader
	if data != nil {
		body = bytes.NewReader(data)
	}
	hr := httptest.NewRequest(method, r.url(), body)
	if data != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.after != nil {
		r.after(hr)
	}
	route, params, err := w.h.router.FindRoute(hr)
	if err != nil {
		return false
	}
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true}}
	return openapi3filter.ValidateRequest(context.Background(), in) != nil
}

func swFirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return swTrunc(s, 400)
}

func swTrunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

func (w *swWalker) fail(kind string, r *swReq, status int, detail string, data []byte, res *response) {
	// A class is a mutation's failure, on whichever operations; a response
	// body that does not match its schema is the operation's, whatever the
	// request.
	class := detailClass(kind, detail)
	by := r.mutation
	if kind == "spec" && class == "body" {
		by = r.op.key()
	}
	code := strconv.Itoa(status)
	if kind == "accepted" {
		code = "2xx"
	}
	key := strings.Join([]string{kind, by, code, class}, "|")
	f := w.failures[key]
	if f == nil {
		f = &swFailure{kind: kind, status: status, detail: detail, seed: w.seed, ops: map[string]int{}}
		f.request = fmt.Sprintf("%s %s", r.op.method, swTrunc(r.url(), 200))
		if r.cred != "" {
			f.request += " [credentials: " + r.cred + "]"
		}
		for _, k := range swKeys(r.header) {
			f.request += fmt.Sprintf(" [%s: %q]", k, swTrunc(r.header[k], 60))
		}
		if data != nil {
			f.request += fmt.Sprintf(" body %q", swTrunc(string(data), 300))
		}
		if res != nil {
			f.response = fmt.Sprintf("%q", swTrunc(string(res.Body), 400))
		}
		w.failures[key] = f
		w.order = append(w.order, key)
	}
	f.count++
	f.ops[r.op.key()]++
	if !slices.Contains(f.mutations, r.mutation) {
		f.mutations = append(f.mutations, r.mutation)
	}
	if r.target != "" && !slices.Contains(f.targets, r.target) && len(f.targets) < 8 {
		f.targets = append(f.targets, r.target)
	}
}

// detailClass keeps the part of a detail that tells failures apart (not the
// values in it).
func detailClass(kind, detail string) string {
	switch kind {
	case "spec":
		switch {
		case strings.Contains(detail, "status is not"), strings.Contains(detail, "status code"):
			return "undocumented status"
		case strings.Contains(detail, "Content-Type"), strings.Contains(detail, "content type"):
			return "content type"
		case strings.Contains(detail, "header"):
			return "header"
		}
		return "body"
	case "allow":
		if strings.Contains(detail, `Allow ""`) {
			return "no Allow"
		}
		return "wrong Allow"
	}
	return detail
}

func (w *swWalker) report(elapsed time.Duration, rounds, seed int) {
	kinds := map[string]int{}
	for _, f := range w.failures {
		kinds[f.kind] += f.count
	}
	var uncovered []string
	for _, o := range w.ops {
		if !slices.ContainsFunc(w.cover[o.key()], func(c int) bool { return c < 300 }) {
			uncovered = append(uncovered, fmt.Sprintf("%s %v", o.key(), w.cover[o.key()]))
		}
	}
	w.t.Logf("specwalk: %d operations, %d round(s) from seed %d, %d requests in %v; %d failure classes %v; %d generated valid requests the spec rejects",
		len(w.ops), rounds, seed, w.sent, elapsed.Round(time.Millisecond), len(w.failures), kinds, w.specRejectsValid)
	if len(uncovered) > 0 {
		w.t.Logf("specwalk: operations whose valid requests never succeeded (statuses): %s", strings.Join(uncovered, "; "))
	}
	keys := slices.Clone(w.order)
	slices.SortStableFunc(keys, func(a, b string) int {
		fa, fb := w.failures[a], w.failures[b]
		return strings.Compare(fa.kind+" "+fa.mutations[0], fb.kind+" "+fb.mutations[0])
	})
	for _, k := range keys {
		f := w.failures[k]
		targets := ""
		if len(f.targets) > 0 {
			targets = " (" + strings.Join(f.targets, ", ") + ")"
		}
		detail := ""
		if f.detail != "" {
			detail = ": " + f.detail
		}
		var ops []string
		for _, op := range swKeys(f.ops) {
			ops = append(ops, fmt.Sprintf("%s (%d×)", op, f.ops[op]))
		}
		w.t.Errorf("specwalk %s [%s%s] → %d%s\n    %d× in %d operation(s), first in round seed %d: %s\n    e.g. request:  %s\n         response: %s",
			f.kind, strings.Join(f.mutations, ", "), targets, f.status, detail, f.count, len(f.ops), f.seed, strings.Join(ops, ", "), f.request, f.response)
	}
}
