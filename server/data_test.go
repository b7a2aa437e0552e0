package server_test

import (
	"bytes"
	"fmt"
	"maps"
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

// TestDeviceTypes: a device type's life (create, list, read, update, rights,
// delete) and the schemas it keeps.
func TestDeviceTypes(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		var dt gen.DeviceType
		var path string

		step(t, "create keeps the schemas", func(t *testing.T) {
			h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "Climate", "description": "d", "workspaceId": ws,
				"schemas": climateSchemas}}).want(201).decode(&dt)
			wantFields(t, "created",
				holds("id", strings.HasPrefix(dt.Id, "0d"), dt.Id, "prefix 0d"), eq("name", dt.Name, "Climate"), ptrEq("description", dt.Description, "d"),
				eq("workspaceId", dt.WorkspaceId, ws), eq("version", dt.Version, 1), eq("len(schemas)", len(dt.Schemas), 1),
				holds("schemas.default", bytes.Contains(dt.Schemas["default"], []byte(`"type":"object"`)), string(dt.Schemas["default"]), `"type":"object" in it`))
			path = "/v3/device-types/" + dt.Id
			var plain gen.DeviceType
			h.do(t, req{method: "POST", path: "/v3/device-types", body: map[string]any{"name": "Plain", "workspaceId": ws}}).want(201).decode(&plain)
			wantFields(t, "created without schemas",
				holds("schemas", plain.Schemas != nil, plain.Schemas, "an empty object, not null"), eq("len(schemas)", len(plain.Schemas), 0))
		})

		// Every schema must compile; external references are refused.
		withSchemas := func(schemas map[string]any) map[string]any {
			return map[string]any{"name": "x", "workspaceId": ws, "schemas": schemas}
		}
		h.wantRefused(t, "POST", "/v3/device-types",
			refusal{"bad type", withSchemas(map[string]any{"default": map[string]any{"type": "object"}, "battery": map[string]any{"type": "nonsense"}}), 400, "/schemas/battery"},
			refusal{"bad keyword value", withSchemas(map[string]any{"a/b": map[string]any{"minimum": "zero"}}), 400, "/schemas/a~1b"},
			refusal{"bad pattern", withSchemas(map[string]any{"default": map[string]any{"pattern": "("}}), 400, "/schemas/default"},
			refusal{"local file", withSchemas(map[string]any{"default": map[string]any{"$ref": "file:///etc/passwd"}}), 400, "/schemas/default"},
			refusal{"remote", withSchemas(map[string]any{"default": map[string]any{"$ref": "https://example.com/schema.json"}}), 400, "/schemas/default"},
			refusal{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff"}, 404, ""},
			refusal{"no name", map[string]any{"workspaceId": ws}, 400, ""},
		)

		step(t, "list: one workspace, searchable, sortable", func(t *testing.T) {
			list := func(query string) gen.DeviceTypePage {
				t.Helper()
				var page gen.DeviceTypePage
				h.do(t, req{method: "GET", path: "/v3/device-types?" + query}).want(200).decode(&page)
				return page
			}
			page := list("workspaceId=" + ws + "&sort=name,desc")
			wantFields(t, "by name, descending", eq("totalElements", page.TotalElements, 2), eq("content[0].name", nth(page.Content, 0).Name, "Plain"),
				holds("content[1].schemas.default", nth(page.Content, 1).Schemas["default"] != nil, nth(page.Content, 1).Schemas, "present"))
			page = list("workspaceId=" + ws + "&search=CLIM")
			wantFields(t, "search", eq("totalElements", page.TotalElements, 1), eq("content[0].id", nth(page.Content, 0).Id, dt.Id))
			page = list("workspaceId=" + other)
			wantFields(t, "other workspace", eq("totalElements", page.TotalElements, 0), eq("empty", page.Empty, true))
			list("workspaceId=29ffffffffffffff") // an unknown workspace is empty for root
			h.do(t, req{method: "GET", path: "/v3/device-types"}).want(400)
		})

		step(t, "read", func(t *testing.T) {
			var got gen.DeviceType
			h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
			wantFields(t, "read", eq("id", got.Id, dt.Id), holds("created", got.Created.Equal(dt.Created), got.Created, "as created"))
			h.do(t, req{method: "GET", path: "/v3/device-types/0dffffffffffffff"}).want(404)
		})

		step(t, "update: versioned, fixed workspace, schemas checked", func(t *testing.T) {
			newSchemas := map[string]any{"battery": map[string]any{"type": "object", "required": []string{"level"}}}
			var got gen.DeviceType
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Climate 2", "workspaceId": ws, "schemas": newSchemas, "version": 1}}).
				want(200).decode(&got)
			wantFields(t, "updated", eq("version", got.Version, 2), eq("name", got.Name, "Climate 2"), eq("description", got.Description, nil),
				holds("schemas.battery", got.Schemas["battery"] != nil, got.Schemas, "present"),
				holds("schemas.default", got.Schemas["default"] == nil, got.Schemas, "gone"))
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "stale", "workspaceId": ws, "version": 1}}).want(409)
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "moved", "workspaceId": other}}), "/workspaceId")
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "bad", "workspaceId": ws,
				"schemas": map[string]any{"x": map[string]any{"type": 7}}}}), "/schemas/x")
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Climate 3", "workspaceId": ws, "schemas": newSchemas}}).want(200).decode(&got)
			wantFields(t, "unversioned update", eq("version", got.Version, 3))
			h.do(t, req{method: "PUT", path: "/v3/device-types/0dffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws}}).want(404)
		})

		// A key that reads device types in one workspace.
		key := h.apiKey(t, org, "DEVICE_TYPE", []string{"READ"}, ws)
		h.wantAccess(t,
			access{"key lists its workspace", req{method: "GET", path: "/v3/device-types?workspaceId=" + ws, apiKey: key}, 200},
			access{"key reads", req{method: "GET", path: path, apiKey: key}, 200},
			access{"key lists another workspace", req{method: "GET", path: "/v3/device-types?workspaceId=" + other, apiKey: key}, 403},
			access{"key lists an unknown workspace", req{method: "GET", path: "/v3/device-types?workspaceId=29ffffffffffffff", apiKey: key}, 403},
			access{"key creates", req{method: "POST", path: "/v3/device-types", apiKey: key, body: map[string]any{"name": "x", "workspaceId": ws}}, 403},
			access{"key updates", req{method: "PUT", path: path, apiKey: key, body: map[string]any{"name": "x", "workspaceId": ws}}, 403},
			access{"key deletes", req{method: "DELETE", path: path, apiKey: key}, 403},
		)

		step(t, "a device type a data flow uses stays", func(t *testing.T) {
			flow := h.storeDataFlow(t, org, ws, dt.Id)
			p := h.do(t, req{method: "DELETE", path: path}).want(409).problem()
			if p.Detail == nil || !strings.Contains(*p.Detail, "data flow") {
				t.Fatalf("in-use problem %+v", p)
			}
			if err := h.st.DataFlows.Delete(t.Context(), flow); err != nil {
				t.Fatal(err)
			}
			h.wantDeleted(t, path)
		})
	})
}

// TestBackfill: a sample is stored with its topic's defaults, checked
// against its topic's schema; the device's last sample time moves forward
// only.
func TestBackfill(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		before := time.Now().UTC().Truncate(time.Millisecond)

		step(t, "one sample: topic default, timestamp now to the millisecond", func(t *testing.T) {
			var res gen.BackfillResult
			h.post(t, e, "/backfill", map[string]any{"data": map[string]any{"temperature": 21.5}}).want(201).decode(&res)
			after := time.Now().UTC()
			s := nth(res.Samples, 0)
			wantFields(t, "result", eq("count", res.Count, 1), eq("len(samples)", len(res.Samples), 1), eq("samples[0].topic", s.Topic, "default"),
				holds("samples[0].timestamp", !s.Timestamp.Before(before) && !s.Timestamp.After(after), s.Timestamp, "between the request's start and end"),
				eq("samples[0].timestamp's sub-millisecond nanoseconds", s.Timestamp.Nanosecond()%1e6, 0))
			id, err := uuid.Parse(s.Id)
			wantFields(t, "result", holds("samples[0].id", err == nil && id.Version() == 4, s.Id, "a version 4 UUID"))
			got := h.samples(t, e, map[string]any{})
			g := nth(got, 0)
			wantFields(t, "stored", eq("len", len(got), 1), eq("[0].data.temperature", g.Data["temperature"], any(21.5)),
				eq("[0].deviceId", g.DeviceId, "70B3D57ED0001234"), eq("[0].akenzaDeviceId", g.AkenzaDeviceId, e.dev.ID),
				holds("[0].timestamp", g.Timestamp.Equal(s.Timestamp), g.Timestamp, "the result's"), eq("[0].meta", g.Meta, nil),
				holds("[0].dateStored", !g.DateStored.Before(before), g.DateStored, "not before the request"))
		})

		step(t, "a topic without a schema takes any object; meta is kept", func(t *testing.T) {
			at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
			var res gen.BackfillResult
			h.post(t, e, "/backfill", map[string]any{"topic": "battery", "timestamp": at.Format(time.RFC3339Nano),
				"data": map[string]any{"anything": []any{1, "two"}}, "meta": map[string]any{"source": "import"}}).want(201).decode(&res)
			wantFields(t, "result", eq("samples[0].topic", nth(res.Samples, 0).Topic, "battery"),
				holds("samples[0].timestamp", nth(res.Samples, 0).Timestamp.Equal(at), nth(res.Samples, 0).Timestamp, at.Format(time.RFC3339Nano)))
			got := h.samples(t, e, map[string]any{"topic": "battery"})
			g := nth(got, 0)
			source := any(nil)
			if g.Meta != nil {
				source = (*g.Meta)["source"]
			}
			wantFields(t, "stored", eq("len", len(got), 1), eq("[0].meta.source", source, any("import")),
				holds("[0].timestamp", g.Timestamp.Equal(at), g.Timestamp, at.Format(time.RFC3339Nano)))
		})

		// Schema violations name the JSON pointer within the body.
		for _, c := range []struct {
			name         string
			data         map[string]any
			member, code string // code: "" when not checked
		}{
			{"wrong type", map[string]any{"temperature": "hot"}, "/data/temperature", "type"},
			{"required member missing", map[string]any{"humidity": 3}, "/data/temperature", ""},
			{"nested member", map[string]any{"temperature": 1, "inner": map[string]any{"level": 1.5}}, "/data/inner/level", ""},
			{"over the maximum", map[string]any{"temperature": 1, "humidity": 101}, "/data/humidity", "maximum"},
		} {
			t.Run("schema violation: "+c.name, func(t *testing.T) {
				p := wantMembers(t, h.post(t, e, "/backfill", map[string]any{"data": c.data}), c.member)
				if c.code != "" {
					wantFields(t, "problem", ptrEq("errors[0].code", (*p.Errors)[0].Code, c.code))
				}
				wantFields(t, "problem", holds("detail", p.Detail != nil && strings.Contains(*p.Detail, "nothing was stored"), p.Detail, `"nothing was stored" in it`))
			})
		}
		// Request validation comes first.
		for _, c := range []struct {
			name   string
			path   string
			body   map[string]any
			status int
		}{
			{"data not an object", e.path("/backfill"), map[string]any{"data": 5}, 400},
			{"bad topic", e.path("/backfill"), map[string]any{"data": map[string]any{}, "topic": "a b"}, 400},
			{"unknown device", "/v3/devices/02ffffffffffffff/backfill", map[string]any{"data": map[string]any{"temperature": 1}}, 404},
		} {
			t.Run("refused: "+c.name, func(t *testing.T) {
				h.do(t, req{method: "POST", path: c.path, body: c.body}).want(c.status)
			})
		}

		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // older than now
		step(t, "the device's last sample time moves forward only", func(t *testing.T) {
			lastSampleAt := func() *time.Time {
				t.Helper()
				dev, err := h.st.Devices.Get(t.Context(), e.dev.ID)
				if err != nil {
					t.Fatal(err)
				}
				return dev.LastSampleAt
			}
			latest := lastSampleAt()
			if latest == nil || latest.Before(before) {
				t.Fatalf("last sample at %v, want after %v", latest, before)
			}
			future := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
			h.post(t, e, "/backfill", map[string]any{"data": map[string]any{"temperature": 1}, "timestamp": future}).want(201)
			if got := lastSampleAt(); got == nil || !got.Equal(future) {
				t.Fatalf("last sample at %v, want %v (was %v)", got, future, latest)
			}
			h.post(t, e, "/backfill", map[string]any{"data": map[string]any{"temperature": 1}, "timestamp": t0}).want(201)
			if got := lastSampleAt(); got == nil || !got.Equal(future) {
				t.Fatalf("an older sample moved last sample at to %v", got)
			}
		})
	})
}

// TestBackfillBulk: a bulk backfill stores all its samples or, when one
// breaks its topic's schema, none; its errors name the index; it takes up
// to 10,000 samples.
func TestBackfillBulk(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		step(t, "bulk: all or nothing, errors name the index", func(t *testing.T) {
			good := []any{}
			for i := range 3 {
				good = append(good, map[string]any{"data": map[string]any{"temperature": i}, "timestamp": t0.Add(time.Duration(i) * time.Minute)})
			}
			bad := append(append([]any{}, good...), map[string]any{"data": map[string]any{"temperature": 9}},
				map[string]any{"data": map[string]any{"temperature": "x"}}, map[string]any{"data": map[string]any{"temperature": 1, "humidity": -1}})
			bad[1] = map[string]any{"data": map[string]any{"temperature": 1}, "topic": "battery"} // free topic: valid
			bad[2] = map[string]any{"data": map[string]any{"temperature": nil}}
			wantMembers(t, h.post(t, e, "/backfill/bulk", bad), "/2/data/temperature", "/4/data/temperature", "/5/data/humidity")
			if n := len(h.samples(t, e, map[string]any{"topic": "*"})); n != 0 {
				t.Fatalf("a rejected bulk stored %d samples", n)
			}
			var res gen.BackfillResult
			h.post(t, e, "/backfill/bulk", good).want(201).decode(&res)
			wantFields(t, "result", eq("count", res.Count, 3), eq("len(samples)", len(res.Samples), 3),
				holds("samples[2].timestamp", nth(res.Samples, 2).Timestamp.Equal(t0.Add(2*time.Minute)), nth(res.Samples, 2).Timestamp, "as sent"))
			ids := map[string]bool{}
			for _, s := range res.Samples {
				ids[s.Id] = true
			}
			wantFields(t, "result", eq("distinct sample ids", len(ids), 3))
			h.post(t, e, "/backfill/bulk", []any{}).want(400)
		})

		// Full samples make a body over the 1 MiB limit of other operations:
		// bulk has its own.
		step(t, "bulk takes 10,000 samples, not 10,001", func(t *testing.T) {
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
			wantMembers(t, h.post(t, e, "/backfill/bulk", samplesOf(10_001)), "/")
			var res gen.BackfillResult
			h.post(t, e, "/backfill/bulk", samplesOf(10_000)).want(201).decode(&res)
			wantFields(t, "result", eq("count", res.Count, 10_000))
			if n := len(h.samples(t, e, map[string]any{"topic": "bulk"})); n != 8000 {
				t.Fatalf("a query of the bulk topic: %d samples, want a page of 8000", n)
			}
		})

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

// TestSampleQueries: a device's samples by topic and time, newest first,
// paged; its topics and latest sample.
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

		// temps is the temperatures of samples, -1 for one without (a battery sample).
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
		ts := func(i int) string { return at(i).Format(time.RFC3339) }
		within := func(r map[string]any) map[string]any { return map[string]any{"timestamp": r} }

		all := h.samples(t, e, map[string]any{})
		wantFields(t, "newest sample", holds("timestamp", nth(all, 0).Timestamp.Equal(at(11)), nth(all, 0).Timestamp, at(11).Format(time.RFC3339)),
			eq("topic", nth(all, 0).Topic, "default"), eq("akenzaDeviceId", nth(all, 0).AkenzaDeviceId, e.dev.ID), eq("deviceId", nth(all, 0).DeviceId, e.dev.DeviceID))
		for _, c := range []struct {
			name  string
			query map[string]any
			want  []int
		}{
			{"default topic, newest first", map[string]any{}, []int{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
			{"every topic", map[string]any{"topic": "*"}, []int{-1, 11, 10, 9, 8, 7, 6, 5, 4, -1, 3, 2, 1, 0}},
			{"other topic", map[string]any{"topic": "battery"}, []int{-1, -1}},
			{"no such topic", map[string]any{"topic": "nope"}, []int{}},
			{"gt", within(map[string]any{"gt": ts(9)}), []int{11, 10}},
			{"gte", within(map[string]any{"gte": ts(9)}), []int{11, 10, 9}},
			{"lt", within(map[string]any{"lt": ts(2)}), []int{1, 0}},
			{"lte", within(map[string]any{"lte": ts(2)}), []int{2, 1, 0}},
			{"range", within(map[string]any{"gt": ts(3), "lte": ts(6)}), []int{6, 5, 4}},
			{"just after", within(map[string]any{"gt": at(3).Add(time.Millisecond).Format(time.RFC3339Nano), "lt": ts(5)}), []int{4}},
			{"offset zone", within(map[string]any{"gte": "2026-01-01T02:30:00+01:00"}), []int{11, 10, 9}},
			{"limit and skip", map[string]any{"limit": 3, "skip": 2}, []int{9, 8, 7}},
			{"skip past the end", map[string]any{"skip": 50}, []int{}},
		} {
			t.Run("POST "+c.name, func(t *testing.T) {
				wantFields(t, "temperatures", deepEq(fmt.Sprint(c.query), temps(h.samples(t, e, c.query)), c.want))
			})
		}
		for _, c := range []struct {
			name  string
			query map[string]any
		}{
			{"limit over 8000", map[string]any{"limit": 8001}},
			{"limit 0", map[string]any{"limit": 0}},
			{"negative skip", map[string]any{"skip": -1}},
			{"unknown operator", within(map[string]any{"after": ts(1)})},
		} {
			t.Run("POST refused: "+c.name, func(t *testing.T) {
				h.do(t, req{method: "POST", path: e.path("/query"), body: c.query}).want(400)
			})
		}
		for _, c := range []struct {
			name, query string
			want        []int
		}{
			{"range, limit and skip", "?gte=" + ts(2) + "&lt=" + ts(8) + "&limit=2&skip=1", []int{6, 5}},
			{"every topic", "?topic=*&limit=1", []int{-1}},
			{"defaults", "", []int{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		} {
			t.Run("GET "+c.name, func(t *testing.T) {
				var got []gen.Sample
				h.do(t, req{method: "GET", path: e.path("/query" + c.query)}).want(200).decode(&got)
				wantFields(t, "temperatures", deepEq(c.query, temps(got), c.want))
			})
		}
		h.do(t, req{method: "GET", path: e.path("/query?limit=9000")}).want(400)
		h.do(t, req{method: "GET", path: "/v3/devices/02ffffffffffffff/query"}).want(404)

		step(t, "topics and the latest sample", func(t *testing.T) {
			var topics []string
			h.do(t, req{method: "GET", path: e.path("/query/topics")}).want(200).decode(&topics)
			wantFields(t, "topics", deepEq("sorted", topics, []string{"battery", "default"}))
			var latest gen.Sample
			h.do(t, req{method: "GET", path: e.path("/query/latest-sample")}).want(200).decode(&latest)
			wantFields(t, "latest sample", eq("topic", latest.Topic, "battery"), holds("timestamp", latest.Timestamp.Equal(at(20)), latest.Timestamp, at(20).Format(time.RFC3339)))
			latest = gen.Sample{}
			h.do(t, req{method: "GET", path: e.path("/query/latest-sample?topic=default")}).want(200).decode(&latest)
			wantFields(t, "latest default sample", eq("data.temperature", latest.Data["temperature"], any(float64(11))))
			h.do(t, req{method: "GET", path: e.path("/query/latest-sample?topic=nope")}).want(404).problem()
		})

		step(t, "a device without samples", func(t *testing.T) {
			empty := h.storeDevice(t, e.org, e.ws, e.flowID, "empty")
			p := h.do(t, req{method: "GET", path: "/v3/devices/" + empty.ID + "/query/latest-sample"}).want(404).problem()
			wantFields(t, "latest-sample problem", holds("detail", p.Detail != nil && strings.Contains(*p.Detail, "no samples"), p.Detail, `"no samples" in it`))
			var topics []string
			h.do(t, req{method: "GET", path: "/v3/devices/" + empty.ID + "/query/topics"}).want(200).decode(&topics)
			wantFields(t, "topics", deepEq("topics", topics, []string{}))
			var none []gen.Sample
			h.do(t, req{method: "POST", path: "/v3/devices/" + empty.ID + "/query", body: map[string]any{}}).want(200).decode(&none)
			wantFields(t, "query", deepEq("samples", none, []gen.Sample{}))
		})
	})
}

// TestKPIs: every accumulator over one numeric data key, nested or flat, in
// a half-open interval; values that are not numbers are left out.
func TestKPIs(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAggEnv(t, h)
		for _, c := range []struct {
			acc  string
			want float64
		}{{"MIN", 1}, {"MAX", 19.5}, {"AVG", a.sum / 6}, {"SUM", a.sum}, {"COUNT", 6}, {"FIRST", 3}} {
			for _, key := range []string{"t.in", "flat"} {
				t.Run(c.acc+" of "+key, func(t *testing.T) {
					if got := h.kpi(t, a, c.acc, key, a.interval); got == nil || math.Abs(*got-c.want) > 1e-9 {
						t.Fatalf("%s of %s: %s, want %v", c.acc, key, show(got), c.want)
					}
				})
			}
		}
		// Of nothing numeric: a COUNT is 0, not null; any other kpi is null.
		type nothing struct {
			name, acc, key string
			iv             map[string]any
		}
		nothings := []nothing{{"COUNT over an empty interval", "COUNT", "t.in", a.empty}, {"COUNT of a missing key", "COUNT", "t.in.deeper", a.interval}}
		for _, acc := range []string{"MIN", "MAX", "AVG", "SUM", "FIRST"} {
			nothings = append(nothings, nothing{acc + " over an empty interval", acc, "t.in", a.empty}, nothing{acc + " of a missing key", acc, "t.in.deeper", a.interval})
		}
		for _, c := range nothings {
			t.Run(c.name, func(t *testing.T) {
				got := h.kpi(t, a, c.acc, c.key, c.iv)
				if c.acc == "COUNT" {
					wantFields(t, "kpi", ptrEq("kpi", got, 0))
				} else {
					wantFields(t, "kpi", eq("kpi", got, nil))
				}
			})
		}
		t.Run("the default topic is default", func(t *testing.T) {
			var k kpiOf
			h.do(t, req{method: "POST", path: a.path("/query/raw/kpi"), body: map[string]any{"dataKey": "temperature", "accumulator": "MAX",
				"interval": map[string]any{"from": a.day, "to": a.day.Add(24 * time.Hour)}}}).want(200).decode(&k)
			wantFields(t, "kpi", eq("topic", k.Topic, "default"), ptrEq("kpi", k.Kpi, 1000))
		})
	})
}

// TestTimeSeries: every accumulator per bucket, buckets aligned to the
// epoch; a bucket without numbers is left out.
func TestTimeSeries(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAggEnv(t, h)
		hm := a.hm
		hours := []time.Time{hm(10, 0), hm(11, 0), hm(13, 0)} // 12:00 has no numbers: left out
		for _, c := range []struct {
			name, acc, bucket string
			iv                map[string]any
			starts            []time.Time
			points            []float64
		}{
			{"AVG", "AVG", "PT1H", a.interval, hours, []float64{2, 15, 5}},
			{"default bucket", "AVG", "", a.interval, hours, []float64{2, 15, 5}},
			{"MIN", "MIN", "PT1H", a.interval, hours, []float64{1, 10.5, 5}},
			{"MAX", "MAX", "PT1H", a.interval, hours, []float64{3, 19.5, 5}},
			{"SUM", "SUM", "PT1H", a.interval, hours, []float64{6, 30, 5}},
			{"COUNT", "COUNT", "PT1H", a.interval, hours, []float64{3, 2, 1}},
			{"FIRST", "FIRST", "PT1H", a.interval, hours, []float64{3, 10.5, 5}},
			{"PT30M", "AVG", "PT30M", a.interval, []time.Time{hm(10, 0), hm(10, 30), hm(11, 0), hm(11, 30), hm(13, 0)}, []float64{2, 2, 10.5, 19.5, 5}},
			{"PT90M", "SUM", "PT90M", a.interval, []time.Time{hm(9, 0), hm(10, 30), hm(12, 0)}, []float64{4, 32, 5}},
			{"P1D", "AVG", "P1D", a.interval, []time.Time{a.day}, []float64{a.sum / 6}},
			// Buckets stay aligned to the epoch when the interval is not.
			{"unaligned", "FIRST", "PT1H", map[string]any{"from": hm(10, 30), "to": hm(11, 30)}, []time.Time{hm(10, 0), hm(11, 0)}, []float64{2, 10.5}},
		} {
			t.Run(c.name, func(t *testing.T) {
				s := h.series(t, a, c.acc, c.bucket, c.iv)
				if len(s.Timestamps) != len(c.starts) {
					t.Fatalf("%v at %v, want %v at %v", s.DataPoints, s.Timestamps, c.points, c.starts)
				}
				for i := range c.starts {
					if !s.Timestamps[i].Equal(c.starts[i]) || s.Timestamps[i].Location() != time.UTC || math.Abs(s.DataPoints[i]-c.points[i]) > 1e-9 {
						t.Fatalf("bucket %d: %v at %v, want %v at %v (UTC)", i, s.DataPoints, s.Timestamps, c.points, c.starts)
					}
				}
			})
		}
		t.Run("an empty interval", func(t *testing.T) {
			s := h.series(t, a, "AVG", "PT1H", a.empty)
			wantFields(t, "series", deepEq("dataPoints", s.DataPoints, []float64{}), holds("timestamps", s.Timestamps != nil, s.Timestamps, "an empty list, not null"))
		})
		t.Run("5,040 buckets are taken", func(t *testing.T) {
			h.series(t, a, "AVG", "PT2M", map[string]any{"from": a.day, "to": a.day.Add(7 * 24 * time.Hour)})
		})
	})
}

// TestAggregationsRefused: the intervals, keys, accumulators and buckets
// an aggregation refuses.
func TestAggregationsRefused(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAggEnv(t, h)
		hm := a.hm
		week := map[string]any{"from": a.day, "to": a.day.Add(7 * 24 * time.Hour)}
		// with is the valid query changed by these members.
		with := func(members map[string]any) map[string]any {
			b := map[string]any{"topic": "climate", "dataKey": "t.in", "accumulator": "AVG", "interval": a.interval}
			maps.Copy(b, members)
			return b
		}
		for _, path := range []string{"/query/raw/kpi", "/query/raw/time-series"} {
			t.Run(strings.TrimPrefix(path, "/query/raw/"), func(t *testing.T) {
				h.wantRefused(t, "POST", a.path(path),
					refusal{"an empty interval", with(map[string]any{"interval": map[string]any{"from": hm(10, 0), "to": hm(10, 0)}}), 400, "/interval/to"},
					refusal{"an interval ending before it starts", with(map[string]any{"interval": map[string]any{"from": hm(11, 0), "to": hm(10, 0)}}), 400, "/interval/to"},
					refusal{"an empty key segment", with(map[string]any{"dataKey": "a..b"}), 400, ""},
					refusal{"SQL in the key", with(map[string]any{"dataKey": "a'); DROP TABLE samples; --"}), 400, ""},
					refusal{"an unknown accumulator", with(map[string]any{"accumulator": "MEDIAN"}), 400, ""},
					refusal{"an interval without its end", with(map[string]any{"interval": map[string]any{"from": hm(10, 0)}}), 400, ""},
				)
			})
		}
		t.Run("time-series", func(t *testing.T) {
			h.wantRefused(t, "POST", a.path("/query/raw/time-series"),
				refusal{"a zero bucket", with(map[string]any{"bucketInterval": "PT0H"}), 400, "/bucketInterval"},
				refusal{"a bucket in seconds", with(map[string]any{"bucketInterval": "PT1S"}), 400, ""},
				refusal{"10,080 buckets", with(map[string]any{"bucketInterval": "PT1M", "interval": week}), 400, "/bucketInterval"},
			)
		})
		h.wantRefused(t, "POST", "/v3/devices/02ffffffffffffff/query/raw/kpi",
			refusal{"an unknown device", map[string]any{"dataKey": "x", "accumulator": "AVG", "interval": a.interval}, 404, ""})
	})
}

// TestDataPermissions: DATA rights in the device's workspace: READ for
// every query, CREATE for backfills.
func TestDataPermissions(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		sample := map[string]any{"data": map[string]any{"temperature": 1}}
		reader := h.apiKey(t, e.org, "DATA", []string{"READ"}, e.ws)
		elsewhere := h.apiKey(t, e.org, "DATA", []string{"READ", "CREATE"}, e.other)
		writer := h.apiKey(t, e.org, "DATA", []string{"CREATE"}, e.ws)

		h.wantAccess(t,
			access{"a reader backfills", req{method: "POST", path: e.path("/backfill"), apiKey: reader, body: sample}, 403},
			access{"a reader backfills in bulk", req{method: "POST", path: e.path("/backfill/bulk"), apiKey: reader, body: []any{sample}}, 403},
			access{"a writer elsewhere backfills", req{method: "POST", path: e.path("/backfill"), apiKey: elsewhere, body: sample}, 403},
			access{"a writer elsewhere backfills in bulk", req{method: "POST", path: e.path("/backfill/bulk"), apiKey: elsewhere, body: []any{sample}}, 403},
			access{"a writer backfills", req{method: "POST", path: e.path("/backfill"), apiKey: writer, body: sample}, 201},
			access{"a writer queries", req{method: "POST", path: e.path("/query"), apiKey: writer, body: map[string]any{}}, 403},
		)

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
			byReader, byElsewhere := r, r
			byReader.apiKey, byElsewhere.apiKey = reader, elsewhere
			h.wantAccess(t, access{"a reader: " + r.method + " " + strings.TrimPrefix(r.path, e.path("")), byReader, 200},
				access{"a reader elsewhere: " + r.method + " " + strings.TrimPrefix(r.path, e.path("")), byElsewhere, 403})
		}
		var k kpiOf
		h.do(t, req{method: "POST", path: e.path("/query/raw/kpi"), apiKey: reader, body: aggregation}).want(200).decode(&k)
		wantFields(t, "the reader's count", ptrEq("kpi", k.Kpi, 1))
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
		wantMembers(t, h.do(t, req{method: "POST", path: e.path("/backfill"), body: sample}), "/data/humidity")
		h.do(t, req{method: "PUT", path: "/v3/device-types/" + e.typeID,
			body: map[string]any{"name": "Climate", "workspaceId": e.ws}}).want(200) // no schemas: anything goes
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"x": "y"}}}).want(201)
	})
}

// TestBackfillBulkEnvelope: the gate checks a bulk backfill's envelope
// itself (kin-openapi does not walk its 10,000 samples); each refusal names
// the member that broke the spec's SampleInput, as the spec walk of other
// bodies does, and stores nothing.
func TestBackfillBulkEnvelope(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		ok := map[string]any{"data": map[string]any{"temperature": 1}}
		for _, tc := range []struct {
			name   string
			body   any
			member string
		}{
			{"root not a list", map[string]any{"data": map[string]any{}}, "/"},
			{"null root", []byte("null"), "/"},
			{"element not an object", []any{ok, 3}, "/1"},
			{"null element", []any{ok, nil}, "/1"},
			{"unknown member", []any{ok, map[string]any{"data": map[string]any{}, "Data": 1}}, "/1"},
			{"data missing", []any{map[string]any{"topic": "x"}}, "/0/data"},
			{"data a list", []any{map[string]any{"data": []any{1}}}, "/0/data"},
			{"data null", []any{map[string]any{"data": nil}}, "/0/data"},
			{"meta a string", []any{map[string]any{"data": map[string]any{}, "meta": "m"}}, "/0/meta"},
			{"topic a number", []any{ok, map[string]any{"data": map[string]any{}, "topic": 7}}, "/1/topic"},
			{"topic empty", []any{map[string]any{"data": map[string]any{}, "topic": ""}}, "/0/topic"},
			{"topic too long", []any{map[string]any{"data": map[string]any{}, "topic": strings.Repeat("a", 201)}}, "/0/topic"},
			{"topic off pattern", []any{map[string]any{"data": map[string]any{}, "topic": "a b"}}, "/0/topic"},
			{"timestamp not a date-time", []any{map[string]any{"data": map[string]any{}, "timestamp": "2026-01-01"}}, "/0/timestamp"},
			{"timestamp without offset", []any{map[string]any{"data": map[string]any{}, "timestamp": "2026-01-01T00:00:00"}}, "/0/timestamp"},
			{"timestamp a number", []any{map[string]any{"data": map[string]any{}, "timestamp": 1}}, "/0/timestamp"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantMember(t, h.post(t, e, "/backfill/bulk", tc.body), tc.member)
			})
		}
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), header: map[string]string{"Content-Type": "text/plain"},
			body: []byte(`[{"data":{}}]`)}).want(415)
		if n := len(h.samples(t, e, map[string]any{"topic": "*"})); n != 0 {
			t.Fatalf("refused envelopes stored %d samples", n)
		}
		// Whitespace anywhere and escaped member names are JSON like any other.
		spaced := []byte("\n [ {\"d\\u0061ta\" :\t{ \"temperature\" : 3 } , \"topic\" : \"sp\\u0061ced\" } ,\r\n{\"data\":{\"temperature\":4},\"topic\":\"spaced\"} ] ")
		h.post(t, e, "/backfill/bulk", spaced).want(201)
		if got := h.samples(t, e, map[string]any{"topic": "spaced"}); len(got) != 2 {
			t.Fatalf("the spaced bulk stored %d samples on its topic, want 2", len(got))
		}
		// The accepted envelope reaches the handler as decoded by the gate.
		var res gen.BackfillResult
		h.post(t, e, "/backfill/bulk", []any{map[string]any{"data": map[string]any{"temperature": 2}, "topic": "t.1",
			"timestamp": "2026-01-01T00:00:00.5+01:00", "meta": map[string]any{"m": true}}}).want(201).decode(&res)
		got := h.samples(t, e, map[string]any{"topic": "t.1"})
		wantFields(t, "sample", eq("count", res.Count, 1), eq("stored", len(got), 1),
			holds("timestamp", len(got) == 1 && got[0].Timestamp.Equal(time.Date(2025, 12, 31, 23, 0, 0, 5e8, time.UTC)), got, "as sent"))
	})
}
