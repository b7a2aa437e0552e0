package server_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

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

// dataEnv is an organization with a workspace, a device type (made over
// HTTP), and a data flow and device made in the store (their handlers are
// another file's).
type dataEnv struct {
	org, ws, other string
	typeID, flowID string
	dev            *store.Device
}

func newDataEnv(t testing.TB, h *harness) *dataEnv {
	t.Helper()
	e := &dataEnv{org: h.org(t, "acme")}
	e.ws = h.workspace(t, e.org, "main")
	e.other = h.workspace(t, e.org, "other")
	var dt gen.DeviceType
	h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "Climate", "workspaceId": e.ws, "schemas": climateSchemas}}).
		want(201).decode(&dt)
	e.typeID = dt.Id
	e.flowID = h.storeDataFlow(t, e.org, e.ws, dt.Id)
	e.dev = h.storeDevice(t, e.org, e.ws, e.flowID, "70B3D57ED0001234")
	return e
}

func (h *harness) storeDataFlow(t testing.TB, org, ws, deviceType string) string {
	t.Helper()
	f := &store.DataFlow{Placement: store.Placement{OrganizationID: org, WorkspaceID: ws}, DeviceTypeID: deviceType, Name: "to db", OutputConnectors: []store.ConnectorRef{}}
	if err := h.st.DataFlows.Create(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	return f.ID
}

func (h *harness) storeDevice(t testing.TB, org, ws, flow, physicalID string) *store.Device {
	t.Helper()
	d := &store.Device{Placement: store.Placement{OrganizationID: org, WorkspaceID: ws}, DataFlowID: flow, DeviceID: physicalID, Name: physicalID,
		Connectivity: "HTTP", OnlineTimeout: 3600, Properties: map[string]any{}}
	if err := h.st.Devices.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *dataEnv) path(suffix string) string { return "/v3/devices/" + e.dev.ID + suffix }

// samples queries the device's samples (POST query, as root).
func (h *harness) samples(t *testing.T, e *dataEnv, q map[string]any) []gen.Sample {
	t.Helper()
	var out []gen.Sample
	h.do(t, req{method: "POST", path: e.path("/query"), body: q}).want(200).decode(&out)
	return out
}

// wantMembers checks a 400 problem names exactly these members, in order.
func wantMembers(t *testing.T, r *response, members ...string) gen.Problem {
	t.Helper()
	p := r.want(400).problem()
	var got []string
	if p.Errors != nil {
		for _, e := range *p.Errors {
			got = append(got, e.MemberName)
		}
	}
	if strings.Join(got, " ") != strings.Join(members, " ") {
		t.Fatalf("problem members %q, want %q: %s", got, members, r.Body)
	}
	return p
}

func TestDeviceTypes(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")

		var dt gen.DeviceType
		h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "Climate", "description": "d", "workspaceId": ws,
			"schemas": climateSchemas}}).want(201).decode(&dt)
		if !strings.HasPrefix(dt.Id, "0d") || dt.Name != "Climate" || *dt.Description != "d" || dt.WorkspaceId != ws || dt.Version != 1 ||
			!bytes.Contains(dt.Schemas["default"], []byte(`"type":"object"`)) || len(dt.Schemas) != 1 {
			t.Fatalf("created %+v", dt)
		}
		var plain gen.DeviceType
		h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "Plain", "workspaceId": ws}}).want(201).decode(&plain)
		if plain.Schemas == nil || len(plain.Schemas) != 0 {
			t.Fatalf("no schemas %+v", plain)
		}

		// Every schema must compile; external references are refused.
		for _, c := range []struct {
			name    string
			schemas map[string]any
			member  string
		}{
			{"bad type", map[string]any{"default": map[string]any{"type": "object"}, "battery": map[string]any{"type": "nonsense"}}, "/schemas/battery"},
			{"bad keyword value", map[string]any{"a/b": map[string]any{"minimum": "zero"}}, "/schemas/a~1b"},
			{"bad pattern", map[string]any{"default": map[string]any{"pattern": "("}}, "/schemas/default"},
			{"local file", map[string]any{"default": map[string]any{"$ref": "file:///etc/passwd"}}, "/schemas/default"},
			{"remote", map[string]any{"default": map[string]any{"$ref": "https://example.com/schema.json"}}, "/schemas/default"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantMembers(t, h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "x", "workspaceId": ws, "schemas": c.schemas}}), c.member)
			})
		}
		h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "x", "workspaceId": "29ffffffffffffff"}}).want(404)
		h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"workspaceId": ws}}).want(400)

		// List: one workspace, searchable, sortable; an unknown workspace is empty for root.
		var page gen.DeviceTypePage
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=" + ws + "&sort=name,desc"}).want(200).decode(&page)
		if page.TotalElements != 2 || page.Content[0].Name != "Plain" || page.Content[1].Schemas["default"] == nil {
			t.Fatalf("page %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=" + ws + "&search=CLIM"}).want(200).decode(&page)
		if page.TotalElements != 1 || page.Content[0].Id != dt.Id {
			t.Fatalf("search %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=" + other}).want(200).decode(&page)
		if page.TotalElements != 0 || !page.Empty {
			t.Fatalf("other workspace %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=29ffffffffffffff"}).want(200).decode(&page)
		h.do(t, req{method: "GET", path: "/v3/device-types"}).want(400)

		path := "/v3/device-types/" + dt.Id
		var got gen.DeviceType
		h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
		if got.Id != dt.Id || !got.Created.Equal(dt.Created) {
			t.Fatalf("get %+v", got)
		}
		h.do(t, req{method: "GET", path: "/v3/device-types/0dffffffffffffff"}).want(404)

		// Update: versioned, fixed workspace, schemas checked.
		newSchemas := map[string]any{"battery": map[string]any{"type": "object", "required": []string{"level"}}}
		got = gen.DeviceType{}
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Climate 2", "workspaceId": ws, "schemas": newSchemas, "version": 1}}).
			want(200).decode(&got)
		if got.Version != 2 || got.Name != "Climate 2" || got.Description != nil || got.Schemas["battery"] == nil || got.Schemas["default"] != nil {
			t.Fatalf("updated %+v", got)
		}
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "stale", "workspaceId": ws, "version": 1}}).want(409)
		wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "moved", "workspaceId": other}}), "/workspaceId")
		wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "bad", "workspaceId": ws,
			"schemas": map[string]any{"x": map[string]any{"type": 7}}}}), "/schemas/x")
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Climate 3", "workspaceId": ws, "schemas": newSchemas}}).want(200).decode(&got)
		if got.Version != 3 {
			t.Fatalf("unversioned update %+v", got)
		}
		h.do(t, req{method: "PUT", path: "/v3/device-types/0dffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws}}).want(404)

		// Rights: a key that reads device types in one workspace.
		key := *h.create(t, map[string]any{"name": "dt", "organizationId": org, "isActive": true, "permissions": []any{
			map[string]any{"scope": "DEVICE_TYPE", "verbs": []string{"READ"}, "workspaceIds": []string{ws}}}}).ClientSecret
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=" + ws, apiKey: key}).want(200)
		h.do(t, req{method: "GET", path: path, apiKey: key}).want(200)
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=" + other, apiKey: key}).want(403)
		h.do(t, req{method: "GET", path: "/v3/device-types?workspaceId=29ffffffffffffff", apiKey: key}).want(403)
		h.do(t, req{method: "POST", path: "/v3/device-types", apiKey: key, body: map[string]any{"name": "x", "workspaceId": ws}}).want(403)
		h.do(t, req{method: "PUT", path: path, apiKey: key, body: map[string]any{"name": "x", "workspaceId": ws}}).want(403)
		h.do(t, req{method: "DELETE", path: path, apiKey: key}).want(403)

		// A device type a data flow uses stays.
		flow := h.storeDataFlow(t, org, ws, dt.Id)
		p := h.do(t, req{method: "DELETE", path: path}).want(409).problem()
		if !strings.Contains(*p.Detail, "data flow") {
			t.Fatalf("in-use problem %+v", p)
		}
		if err := h.st.DataFlows.Delete(t.Context(), flow); err != nil {
			t.Fatal(err)
		}
		h.do(t, req{method: "DELETE", path: path}).want(204)
		h.do(t, req{method: "GET", path: path}).want(404)
		h.do(t, req{method: "DELETE", path: path}).want(404)
	})
}

func TestBackfill(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)

		// One sample, defaults: topic "default", timestamp now (ms precision).
		before := time.Now().UTC().Truncate(time.Millisecond)
		var res gen.BackfillResult
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 21.5}}}).
			want(201).decode(&res)
		after := time.Now().UTC()
		if res.Count != 1 || len(res.Samples) != 1 || res.Samples[0].Topic != "default" ||
			res.Samples[0].Timestamp.Before(before) || res.Samples[0].Timestamp.After(after) || res.Samples[0].Timestamp.Nanosecond()%1e6 != 0 {
			t.Fatalf("single %+v", res)
		}
		if id, err := uuid.Parse(res.Samples[0].Id); err != nil || id.Version() != 4 {
			t.Fatalf("sample id %q: %v", res.Samples[0].Id, err)
		}
		got := h.samples(t, e, map[string]any{})
		if len(got) != 1 || got[0].Data["temperature"] != 21.5 || got[0].DeviceId != "70B3D57ED0001234" || got[0].AkenzaDeviceId != e.dev.ID ||
			!got[0].Timestamp.Equal(res.Samples[0].Timestamp) || got[0].Meta != nil || got[0].DateStored.Before(before) {
			t.Fatalf("stored %+v", got)
		}

		// A topic without a schema takes any object; meta is kept.
		at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"topic": "battery", "timestamp": at.Format(time.RFC3339Nano),
			"data": map[string]any{"anything": []any{1, "two"}}, "meta": map[string]any{"source": "import"}}}).want(201).decode(&res)
		if res.Samples[0].Topic != "battery" || !res.Samples[0].Timestamp.Equal(at) {
			t.Fatalf("battery %+v", res)
		}
		got = h.samples(t, e, map[string]any{"topic": "battery"})
		if len(got) != 1 || got[0].Meta == nil || (*got[0].Meta)["source"] != "import" || !got[0].Timestamp.Equal(at) {
			t.Fatalf("battery stored %+v", got)
		}

		// Schema violations name the JSON pointer within the body.
		p := wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": "hot"}}}),
			"/data/temperature")
		if c := (*p.Errors)[0].Code; c == nil || *c != "type" || !strings.Contains(*p.Detail, "nothing was stored") {
			t.Fatalf("type problem %+v", p)
		}
		wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"humidity": 3}}}),
			"/data/temperature")
		wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 1,
			"inner": map[string]any{"level": 1.5}}}}), "/data/inner/level")
		p = wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 1, "humidity": 101}}}),
			"/data/humidity")
		if c := (*p.Errors)[0].Code; c == nil || *c != "maximum" {
			t.Fatalf("maximum problem %+v", p)
		}
		// Request validation comes first.
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": 5}}).want(400)
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{}, "topic": "a b"}}).want(400)
		h.do(t, req{method: "POST", path: "/v3/devices/02ffffffffffffff/backfill", body: map[string]any{"data": map[string]any{"temperature": 1}}}).want(404)

		// Bulk: all or nothing, errors name the index.
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		bulk := []any{}
		for i := range 3 {
			bulk = append(bulk, map[string]any{"data": map[string]any{"temperature": i}, "timestamp": t0.Add(time.Duration(i) * time.Minute)})
		}
		bad := append(append([]any{}, bulk...), map[string]any{"data": map[string]any{"temperature": 9}},
			map[string]any{"data": map[string]any{"temperature": "x"}}, map[string]any{"data": map[string]any{"temperature": 1, "humidity": -1}})
		bad[1] = map[string]any{"data": map[string]any{"temperature": 1}, "topic": "battery"} // free topic: valid
		bad[2] = map[string]any{"data": map[string]any{"temperature": nil}}
		wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: bad}), "/2/data/temperature", "/4/data/temperature", "/5/data/humidity")
		if n := len(h.samples(t, e, map[string]any{"topic": "*"})); n != 2 {
			t.Fatalf("a rejected bulk stored samples: %d", n)
		}
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: bulk}).want(201).decode(&res)
		if res.Count != 3 || len(res.Samples) != 3 || !res.Samples[2].Timestamp.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("bulk %+v", res)
		}
		ids := map[string]bool{}
		for _, s := range res.Samples {
			ids[s.Id] = true
		}
		if len(ids) != 3 {
			t.Fatalf("bulk ids not distinct %+v", res)
		}
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: []any{}}).want(400)

		// The limit: 10,000 samples pass, 10,001 do not. Full samples make a
		// body over the 1 MiB limit of other operations: bulk has its own.
		samplesOf := func(n int) []byte {
			var b bytes.Buffer
			b.WriteString("[")
			for i := range n {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"data":{"temperature":%d},"topic":"bulk","timestamp":"2020-01-01T00:00:00.000Z","meta":{"source":"gateway-7"}}`, i)
			}
			b.WriteString("]")
			return b.Bytes()
		}
		if full := samplesOf(10_000); len(full) <= 1<<20 {
			t.Fatalf("a full bulk is only %d bytes", len(full))
		}
		wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: samplesOf(10_001)}), "/")
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: samplesOf(10_000)}).want(201).decode(&res)
		if res.Count != 10_000 {
			t.Fatalf("10,000 samples stored %d", res.Count)
		}
		if n := len(h.samples(t, e, map[string]any{"topic": "bulk"})); n != 8000 {
			t.Fatalf("bulk topic page %d", n)
		}

		// The device's last sample time moves forward only.
		dev, err := h.st.Devices.Get(t.Context(), e.dev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dev.LastSampleAt == nil || dev.LastSampleAt.Before(before) {
			t.Fatalf("last sample at %v", dev.LastSampleAt)
		}
		latest := *dev.LastSampleAt
		future := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 1}, "timestamp": future}}).want(201)
		if dev, _ = h.st.Devices.Get(t.Context(), e.dev.ID); !dev.LastSampleAt.Equal(future) {
			t.Fatalf("last sample at %v, want %v (was %v)", dev.LastSampleAt, future, latest)
		}
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 1}, "timestamp": t0}}).want(201)
		if dev, _ = h.st.Devices.Get(t.Context(), e.dev.ID); !dev.LastSampleAt.Equal(future) {
			t.Fatalf("an older sample moved last sample at to %v", dev.LastSampleAt)
		}
	})
}

func TestBackfillIdempotency(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		count := func() int { return len(h.samples(t, e, map[string]any{"topic": "*"})) }
		key := map[string]string{"Idempotency-Key": "8d5e5b0e-retry-1"}
		body := []any{map[string]any{"data": map[string]any{"temperature": 1}}, map[string]any{"data": map[string]any{"temperature": 2}}}

		first := h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: key, body: body}).want(201)
		// The same body, spelled differently (member order, whitespace), replays.
		again := h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: key,
			body: `[ {"data": {"temperature": 1.0}}, {"data": {"temperature": 2}} ]`}).want(201)
		if !bytes.Equal(first.Body, again.Body) || count() != 2 {
			t.Fatalf("replay %s != %s (count %d)", again.Body, first.Body, count())
		}
		p := h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: key, body: body[:1]}).want(409).problem()
		if !strings.Contains(*p.Detail, "Idempotency-Key") {
			t.Fatalf("reuse problem %+v", p)
		}
		// The key belongs to the device and the request: a single backfill
		// with it differs; another key stores anew.
		h.do(t, req{method: "POST", path: e.path("/backfill"), header: key, body: body[0]}).want(409)
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: map[string]string{"Idempotency-Key": "other"}, body: body}).want(201)
		if n := count(); n != 4 {
			t.Fatalf("count %d", n)
		}
		// A failed request records nothing: fixed, it goes through with the same key.
		k2 := map[string]string{"Idempotency-Key": "k2"}
		h.do(t, req{method: "POST", path: e.path("/backfill"), header: k2, body: map[string]any{"data": map[string]any{"temperature": "x"}}}).want(400)
		one := h.do(t, req{method: "POST", path: e.path("/backfill"), header: k2, body: map[string]any{"data": map[string]any{"temperature": 3}}}).want(201)
		if r := h.do(t, req{method: "POST", path: e.path("/backfill"), header: k2, body: map[string]any{"data": map[string]any{"temperature": 3}}}).want(201); !bytes.Equal(r.Body, one.Body) {
			t.Fatalf("single replay %s != %s", r.Body, one.Body)
		}
		// Another device's same key is its own.
		dev2 := h.storeDevice(t, e.org, e.ws, e.flowID, "second")
		h.do(t, req{method: "POST", path: "/v3/devices/" + dev2.ID + "/backfill/bulk", header: key, body: body[:1]}).want(201)

		// A key older than 24 hours is forgotten.
		storetest.Exec(t, h.st, `UPDATE idempotency_keys SET created_at = ? WHERE device_id = ? AND "key" = ?`,
			time.Now().UTC().Add(-25*time.Hour), e.dev.ID, key["Idempotency-Key"])
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: key, body: body[:1]}).want(201)
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: key, body: body[:1]}).want(201)
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: key, body: body}).want(409)
		if n := count(); n != 6 {
			t.Fatalf("count after expiry %d", n)
		}

		// Concurrent duplicates: one stores, all get its answer.
		k3 := map[string]string{"Idempotency-Key": "race"}
		var wg sync.WaitGroup
		answers := make([]*response, 8)
		for i := range answers {
			wg.Go(func() {
				answers[i] = h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: k3, body: body})
			})
		}
		wg.Wait()
		for _, a := range answers {
			if a.Code != http.StatusCreated || !bytes.Equal(a.Body, answers[0].Body) {
				t.Fatalf("concurrent duplicate %d %s, want 201 %s", a.Code, a.Body, answers[0].Body)
			}
		}
		if n := count(); n != 8 {
			t.Fatalf("count after concurrent duplicates %d", n)
		}
	})
}

func TestSampleQueries(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Minute) }
		var bulk []any
		for i := range 12 {
			bulk = append(bulk, map[string]any{"data": map[string]any{"temperature": i}, "timestamp": at(i)})
		}
		bulk = append(bulk, map[string]any{"topic": "battery", "data": map[string]any{"level": 90}, "timestamp": at(3).Add(time.Second)},
			map[string]any{"topic": "battery", "data": map[string]any{"level": 80}, "timestamp": at(20)})
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: bulk}).want(201)

		temps := func(ss []gen.Sample) []int {
			out := []int{}
			for _, s := range ss {
				v, ok := s.Data["temperature"].(float64)
				if !ok {
					v = -1
				}
				out = append(out, int(v))
			}
			return out
		}
		check := func(name string, got []gen.Sample, want ...int) {
			t.Helper()
			if fmt.Sprint(temps(got)) != fmt.Sprint(want) {
				t.Fatalf("%s: %v, want %v", name, temps(got), want)
			}
		}
		ts := func(i int) string { return at(i).Format(time.RFC3339) }

		all := h.samples(t, e, map[string]any{})
		check("default topic, newest first", all, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
		if !all[0].Timestamp.Equal(at(11)) || all[0].Topic != "default" || all[0].AkenzaDeviceId != e.dev.ID || all[0].DeviceId != e.dev.DeviceID {
			t.Fatalf("sample %+v", all[0])
		}
		check("every topic", h.samples(t, e, map[string]any{"topic": "*"}), -1, 11, 10, 9, 8, 7, 6, 5, 4, -1, 3, 2, 1, 0)
		check("other topic", h.samples(t, e, map[string]any{"topic": "battery"}), -1, -1)
		check("no such topic", h.samples(t, e, map[string]any{"topic": "nope"}))
		check("gt", h.samples(t, e, map[string]any{"timestamp": map[string]any{"gt": ts(9)}}), 11, 10)
		check("gte", h.samples(t, e, map[string]any{"timestamp": map[string]any{"gte": ts(9)}}), 11, 10, 9)
		check("lt", h.samples(t, e, map[string]any{"timestamp": map[string]any{"lt": ts(2)}}), 1, 0)
		check("lte", h.samples(t, e, map[string]any{"timestamp": map[string]any{"lte": ts(2)}}), 2, 1, 0)
		check("range", h.samples(t, e, map[string]any{"timestamp": map[string]any{"gt": ts(3), "lte": ts(6)}}), 6, 5, 4)
		check("just after", h.samples(t, e, map[string]any{"timestamp": map[string]any{"gt": at(3).Add(time.Millisecond).Format(time.RFC3339Nano), "lt": ts(5)}}), 4)
		check("offset zone", h.samples(t, e, map[string]any{"timestamp": map[string]any{"gte": "2026-01-01T02:30:00+01:00"}}), 11, 10, 9)
		check("limit and skip", h.samples(t, e, map[string]any{"limit": 3, "skip": 2}), 9, 8, 7)
		check("skip past the end", h.samples(t, e, map[string]any{"skip": 50}))
		h.do(t, req{method: "POST", path: e.path("/query"), body: map[string]any{"limit": 8001}}).want(400)
		h.do(t, req{method: "POST", path: e.path("/query"), body: map[string]any{"limit": 0}}).want(400)
		h.do(t, req{method: "POST", path: e.path("/query"), body: map[string]any{"skip": -1}}).want(400)
		h.do(t, req{method: "POST", path: e.path("/query"), body: map[string]any{"timestamp": map[string]any{"after": ts(1)}}}).want(400)

		get := func(query string) []gen.Sample {
			t.Helper()
			var got []gen.Sample
			h.do(t, req{method: "GET", path: e.path("/query" + query)}).want(200).decode(&got)
			return got
		}
		check("GET", get("?gte="+ts(2)+"&lt="+ts(8)+"&limit=2&skip=1"), 6, 5)
		check("GET every topic", get("?topic=*&limit=1"), -1)
		check("GET defaults", get(""), 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
		h.do(t, req{method: "GET", path: e.path("/query?limit=9000")}).want(400)
		h.do(t, req{method: "GET", path: "/v3/devices/02ffffffffffffff/query"}).want(404)

		var topics []string
		h.do(t, req{method: "GET", path: e.path("/query/topics")}).want(200).decode(&topics)
		if fmt.Sprint(topics) != "[battery default]" {
			t.Fatalf("topics %v", topics)
		}

		var latest, latestDefault gen.Sample
		h.do(t, req{method: "GET", path: e.path("/query/latest-sample")}).want(200).decode(&latest)
		if latest.Topic != "battery" || !latest.Timestamp.Equal(at(20)) {
			t.Fatalf("latest %+v", latest)
		}
		latest = latestDefault
		h.do(t, req{method: "GET", path: e.path("/query/latest-sample?topic=default")}).want(200).decode(&latest)
		if latest.Data["temperature"] != float64(11) {
			t.Fatalf("latest default %+v", latest)
		}
		h.do(t, req{method: "GET", path: e.path("/query/latest-sample?topic=nope")}).want(404).problem()

		empty := h.storeDevice(t, e.org, e.ws, e.flowID, "empty")
		p := h.do(t, req{method: "GET", path: "/v3/devices/" + empty.ID + "/query/latest-sample"}).want(404).problem()
		if p.Detail == nil || !strings.Contains(*p.Detail, "no samples") {
			t.Fatalf("no samples problem %+v", p)
		}
		h.do(t, req{method: "GET", path: "/v3/devices/" + empty.ID + "/query/topics"}).want(200).decode(&topics)
		if topics == nil || len(topics) != 0 {
			t.Fatalf("empty topics %v", topics)
		}
		var none []gen.Sample
		h.do(t, req{method: "POST", path: "/v3/devices/" + empty.ID + "/query", body: map[string]any{}}).want(200).decode(&none)
		if none == nil || len(none) != 0 {
			t.Fatalf("empty query %v", none)
		}
	})
}

// kpiOf is a kpi response with the full precision the server sends.
type kpiOf struct {
	DeviceID string   `json:"deviceId"`
	Topic    string   `json:"topic"`
	DataKey  string   `json:"dataKey"`
	Kpi      *float64 `json:"kpi"`
}

type seriesOf struct {
	DeviceID   string      `json:"deviceId"`
	Topic      string      `json:"topic"`
	DataKey    string      `json:"dataKey"`
	DataPoints []float64   `json:"dataPoints"`
	Timestamps []time.Time `json:"timestamps"`
}

func TestAggregations(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		hm := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
		val := func(at time.Time, v any) any {
			return map[string]any{"topic": "climate", "timestamp": at, "data": map[string]any{"t": map[string]any{"in": v}, "flat": v}}
		}
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: []any{
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

		interval := map[string]any{"from": hm(10, 0), "to": hm(14, 0)}
		kpi := func(acc, key string, iv map[string]any) *float64 {
			t.Helper()
			var k kpiOf
			h.do(t, req{method: "POST", path: e.path("/query/raw/kpi"), body: map[string]any{"topic": "climate", "dataKey": key, "accumulator": acc, "interval": iv}}).
				want(200).decode(&k)
			if k.DeviceID != e.dev.ID || k.Topic != "climate" || k.DataKey != key {
				t.Fatalf("kpi envelope %+v", k)
			}
			return k.Kpi
		}
		sum := 3 + 1 + 2.0 + 10.5 + 19.5 + 5
		for _, c := range []struct {
			acc  string
			want float64
		}{{"MIN", 1}, {"MAX", 19.5}, {"AVG", sum / 6}, {"SUM", sum}, {"COUNT", 6}, {"FIRST", 3}} {
			for _, key := range []string{"t.in", "flat"} {
				if got := kpi(c.acc, key, interval); got == nil || math.Abs(*got-c.want) > 1e-9 {
					t.Fatalf("%s of %s: %v, want %v", c.acc, key, got, c.want)
				}
			}
		}
		empty := map[string]any{"from": hm(15, 0), "to": hm(16, 0)}
		// COUNT of nothing numeric is 0, not null.
		if got := kpi("COUNT", "t.in", empty); got == nil || *got != 0 {
			t.Fatalf("COUNT over an empty interval: %v", got)
		}
		if got := kpi("COUNT", "t.in.deeper", interval); got == nil || *got != 0 {
			t.Fatalf("COUNT of a missing key: %v", got)
		}
		for _, acc := range []string{"MIN", "MAX", "AVG", "SUM", "FIRST"} {
			if got := kpi(acc, "t.in", empty); got != nil {
				t.Fatalf("%s over nothing: %v", acc, *got)
			}
			if got := kpi(acc, "t.in.deeper", interval); got != nil {
				t.Fatalf("%s of a missing key: %v", acc, *got)
			}
		}
		// The default topic is "default".
		var k kpiOf
		h.do(t, req{method: "POST", path: e.path("/query/raw/kpi"), body: map[string]any{"dataKey": "temperature", "accumulator": "MAX",
			"interval": map[string]any{"from": day, "to": day.Add(24 * time.Hour)}}}).want(200).decode(&k)
		if k.Topic != "default" || k.Kpi == nil || *k.Kpi != 1000 {
			t.Fatalf("default topic kpi %+v", k)
		}

		series := func(acc, bucket string, iv map[string]any) seriesOf {
			t.Helper()
			body := map[string]any{"topic": "climate", "dataKey": "t.in", "accumulator": acc, "interval": iv}
			if bucket != "" {
				body["bucketInterval"] = bucket
			}
			var s seriesOf
			h.do(t, req{method: "POST", path: e.path("/query/raw/time-series"), body: body}).want(200).decode(&s)
			if s.DeviceID != e.dev.ID || s.Topic != "climate" || s.DataKey != "t.in" || len(s.DataPoints) != len(s.Timestamps) {
				t.Fatalf("series envelope %+v", s)
			}
			return s
		}
		wantSeries := func(name string, s seriesOf, starts []time.Time, points ...float64) {
			t.Helper()
			if len(s.Timestamps) != len(starts) {
				t.Fatalf("%s: %v at %v, want %v at %v", name, s.DataPoints, s.Timestamps, points, starts)
			}
			for i := range starts {
				if !s.Timestamps[i].Equal(starts[i]) || s.Timestamps[i].Location() != time.UTC || math.Abs(s.DataPoints[i]-points[i]) > 1e-9 {
					t.Fatalf("%s: %v at %v, want %v at %v", name, s.DataPoints, s.Timestamps, points, starts)
				}
			}
		}
		hours := []time.Time{hm(10, 0), hm(11, 0), hm(13, 0)} // 12:00 has no numbers: left out
		wantSeries("AVG", series("AVG", "PT1H", interval), hours, 2, 15, 5)
		wantSeries("default bucket", series("AVG", "", interval), hours, 2, 15, 5)
		wantSeries("MIN", series("MIN", "PT1H", interval), hours, 1, 10.5, 5)
		wantSeries("MAX", series("MAX", "PT1H", interval), hours, 3, 19.5, 5)
		wantSeries("SUM", series("SUM", "PT1H", interval), hours, 6, 30, 5)
		wantSeries("COUNT", series("COUNT", "PT1H", interval), hours, 3, 2, 1)
		wantSeries("FIRST", series("FIRST", "PT1H", interval), hours, 3, 10.5, 5)
		wantSeries("PT30M", series("AVG", "PT30M", interval), []time.Time{hm(10, 0), hm(10, 30), hm(11, 0), hm(11, 30), hm(13, 0)}, 2, 2, 10.5, 19.5, 5)
		wantSeries("PT90M", series("SUM", "PT90M", interval), []time.Time{hm(9, 0), hm(10, 30), hm(12, 0)}, 4, 32, 5)
		wantSeries("P1D", series("AVG", "P1D", interval), []time.Time{day}, sum/6)
		// Buckets stay aligned to the epoch when the interval is not.
		wantSeries("unaligned", series("FIRST", "PT1H", map[string]any{"from": hm(10, 30), "to": hm(11, 30)}), []time.Time{hm(10, 0), hm(11, 0)}, 2, 10.5)
		if s := series("AVG", "PT1H", empty); s.DataPoints == nil || len(s.DataPoints) != 0 || s.Timestamps == nil {
			t.Fatalf("empty series %+v", s)
		}

		// Bad queries.
		agg := func(path string, body map[string]any, member string) {
			t.Helper()
			b := map[string]any{"topic": "climate", "dataKey": "t.in", "accumulator": "AVG", "interval": interval}
			for k, v := range body {
				b[k] = v
			}
			r := h.do(t, req{method: "POST", path: e.path(path), body: b}).want(400)
			if member != "" {
				wantMembers(t, r, member)
			}
		}
		for _, path := range []string{"/query/raw/kpi", "/query/raw/time-series"} {
			agg(path, map[string]any{"interval": map[string]any{"from": hm(10, 0), "to": hm(10, 0)}}, "/interval/to")
			agg(path, map[string]any{"interval": map[string]any{"from": hm(11, 0), "to": hm(10, 0)}}, "/interval/to")
			agg(path, map[string]any{"dataKey": "a..b"}, "")
			agg(path, map[string]any{"dataKey": "a'); DROP TABLE samples; --"}, "")
			agg(path, map[string]any{"accumulator": "MEDIAN"}, "")
			agg(path, map[string]any{"interval": map[string]any{"from": hm(10, 0)}}, "")
		}
		agg("/query/raw/time-series", map[string]any{"bucketInterval": "PT0H"}, "/bucketInterval")
		agg("/query/raw/time-series", map[string]any{"bucketInterval": "PT1S"}, "")
		week := map[string]any{"from": day, "to": day.Add(7 * 24 * time.Hour)}
		agg("/query/raw/time-series", map[string]any{"bucketInterval": "PT1M", "interval": week}, "/bucketInterval") // 10,080 buckets
		series("AVG", "PT2M", week)                                                                                  // 5,040
		h.do(t, req{method: "POST", path: "/v3/devices/02ffffffffffffff/query/raw/kpi", body: map[string]any{"dataKey": "x", "accumulator": "AVG", "interval": interval}}).want(404)
	})
}

func TestDataPermissions(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		key := func(verbs []string, ws string) string {
			return *h.create(t, map[string]any{"name": "k", "organizationId": e.org, "isActive": true, "permissions": []any{
				map[string]any{"scope": "DATA", "verbs": verbs, "workspaceIds": []string{ws}}}}).ClientSecret
		}
		sample := map[string]any{"data": map[string]any{"temperature": 1}}
		reader, elsewhere, writer := key([]string{"READ"}, e.ws), key([]string{"READ", "CREATE"}, e.other), key([]string{"CREATE"}, e.ws)

		h.do(t, req{method: "POST", path: e.path("/backfill"), apiKey: reader, body: sample}).want(403)
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), apiKey: reader, body: []any{sample}}).want(403)
		h.do(t, req{method: "POST", path: e.path("/backfill"), apiKey: elsewhere, body: sample}).want(403)
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), apiKey: elsewhere, body: []any{sample}}).want(403)
		h.do(t, req{method: "POST", path: e.path("/backfill"), apiKey: writer, body: sample}).want(201)
		h.do(t, req{method: "POST", path: e.path("/query"), apiKey: writer, body: map[string]any{}}).want(403)

		aggregation := map[string]any{"dataKey": "temperature", "accumulator": "COUNT",
			"interval": map[string]any{"from": time.Now().Add(-time.Hour), "to": time.Now().Add(time.Hour)}}
		for _, r := range []req{
			{method: "POST", path: e.path("/query"), body: map[string]any{}},
			{method: "GET", path: e.path("/query")},
			{method: "GET", path: e.path("/query/topics")},
			{method: "GET", path: e.path("/query/latest-sample")},
			{method: "POST", path: e.path("/query/raw/kpi"), body: aggregation},
			{method: "POST", path: e.path("/query/raw/time-series"), body: aggregation},
		} {
			r.apiKey = reader
			h.do(t, r).want(200)
			r.apiKey = elsewhere
			h.do(t, r).want(403)
		}
		var k kpiOf
		h.do(t, req{method: "POST", path: e.path("/query/raw/kpi"), apiKey: reader, body: aggregation}).want(200).decode(&k)
		if k.Kpi == nil || *k.Kpi != 1 {
			t.Fatalf("count %+v", k)
		}
	})
}

// BenchmarkBackfillOne is one single-sample backfill through the whole
// server (gate, schema compile and validation, one transaction) on
// PostgreSQL: the budget the per-request schema compile sits in.
func BenchmarkBackfillOne(b *testing.B) {
	h := newHarness(b, storetest.Open(b, store.Postgres))
	e := newDataEnv(b, h)
	body := map[string]any{"data": map[string]any{"temperature": 21.5, "humidity": 40}}
	for b.Loop() {
		h.do(b, req{method: "POST", path: e.path("/backfill"), body: body}).want(201)
	}
}

// TestSchemaChangeApplies: compiled schemas are cached per device type
// version, so an updated device type applies to the very next backfill.
func TestSchemaChangeApplies(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		sample := map[string]any{"data": map[string]any{"temperature": 20}}
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: sample}).want(201)
		stricter := map[string]any{"default": map[string]any{"type": "object", "required": []string{"temperature", "humidity"}}}
		h.do(t, req{method: "PUT", path: "/v3/device-types/" + e.typeID,
			body: map[string]any{"name": "Climate", "workspaceId": e.ws, "schemas": stricter}}).want(200)
		wantMember(t, h.do(t, req{method: "POST", path: e.path("/backfill"), body: sample}), "/data/humidity")
		h.do(t, req{method: "PUT", path: "/v3/device-types/" + e.typeID,
			body: map[string]any{"name": "Climate", "workspaceId": e.ws}}).want(200) // no schemas: anything goes
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"x": "y"}}}).want(201)
	})
}
