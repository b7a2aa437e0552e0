package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// receiver is a webhook endpoint: it records every request and answers
// with the next queued status (200 once the queue is empty).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	answers []int
}

type received struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answers ...int) *receiver {
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

// worker is a delivery worker on the harness's store with its own settable
// clock, allowed to reach the local receivers.
func (h *harness) worker(t *testing.T) (*delivery.Worker, *testClock) {
	t.Helper()
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize)) // the harness's key
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	clock.Set(time.Now().Add(time.Second))
	return &delivery.Worker{Deliveries: h.st.Deliveries, Connectors: h.st.Connectors, Kinds: connector.Builtin(), Sealer: sealer, AllowPrivate: true, Now: clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, clock
}

// runOnce runs one worker batch and checks how many it claimed.
func runOnce(t *testing.T, w *delivery.Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(t.Context())
	if err != nil || n != want {
		t.Fatalf("RunOnce: %d claimed (%v), want %d", n, err, want)
	}
}

// hook creates a WEBHOOK connector (over HTTP) and returns it with its signing secret.
func (h *harness) hook(t *testing.T, ws, name, uri, scope string) gen.OutputConnector {
	t.Helper()
	var c gen.OutputConnector
	h.do(t, req{method: "POST", path: "/v3/output-connectors", body: map[string]any{"name": name, "type": "WEBHOOK", "scope": scope,
		"workspaceId": ws, "webhookProperties": map[string]any{"uri": uri, "authType": "BEARER", "bearerToken": "tok-" + name}}}).
		want(201).decode(&c)
	if c.SigningSecret == nil {
		t.Fatal("no signing secret")
	}
	return c
}

// route points the environment's data flow at connectors.
func (h *harness) route(t *testing.T, e *dataEnv, refs ...store.ConnectorRef) {
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

func (h *harness) deliveries(t *testing.T, connectorID, query string) gen.DeliveryPage {
	t.Helper()
	var p gen.DeliveryPage
	h.do(t, req{method: "GET", path: "/v3/output-connectors/" + connectorID + "/deliveries" + query}).want(200).decode(&p)
	return p
}

// TestDeliveryRetries: a sample reaches a webhook that fails twice, after
// backoff, signed and authenticated; the attempts show in the delivery log.
func TestDeliveryRetries(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t, 503, 503, 200)
		c := h.hook(t, e.ws, "a", rcv.URL+"/a", "DATA_FLOW")
		h.route(t, e, store.ConnectorRef{ID: "0900000000000000", Topic: "*"}, store.ConnectorRef{ID: c.Id, Topic: "*"})
		w, clock := h.worker(t)
		runOnce(t, w, 0)

		var res gen.BackfillResult
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 21.5},
			"meta": map[string]any{"m": 1}}}).want(201).decode(&res)
		clock.Set(time.Now().Add(time.Second))
		start := clock.Now()
		runOnce(t, w, 1) // 503
		runOnce(t, w, 0) // backing off 1 s
		clock.Set(start.Add(1100 * time.Millisecond))
		runOnce(t, w, 1) // 503
		clock.Set(start.Add(2 * time.Second))
		runOnce(t, w, 0) // backing off 2 s
		clock.Set(start.Add(3200 * time.Millisecond))
		runOnce(t, w, 1) // 200
		clock.Set(start.Add(2 * time.Hour))
		runOnce(t, w, 0) // delivered: never again

		got := rcv.requests("/a")
		if len(got) != 3 {
			t.Fatalf("%d requests", len(got))
		}
		id := got[0].header.Get("X-Keyplane-Delivery")
		for i, r := range got {
			if r.header.Get("X-Keyplane-Delivery") != id || r.header.Get("Authorization") != "Bearer tok-a" ||
				r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("request %d headers %v", i, r.header)
			}
			if err := delivery.VerifySignature(*c.SigningSecret, r.header.Get("X-Keyplane-Signature"), r.body, clock.Now(), 3*time.Hour); err != nil {
				t.Fatalf("request %d signature: %v", i, err)
			}
		}
		if err := delivery.VerifySignature(*c.SigningSecret, got[0].header.Get("X-Keyplane-Signature"), append(got[0].body, ' '), clock.Now(), 3*time.Hour); err == nil {
			t.Fatal("tampered body verified")
		}
		var p delivery.Payload
		if err := json.Unmarshal(got[2].body, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != res.Samples[0].Id || p.DeviceID != e.dev.DeviceID || p.AkenzaDeviceID != e.dev.ID || p.Topic != "default" ||
			!p.Timestamp.Equal(res.Samples[0].Timestamp) || p.DateStored.IsZero() || string(p.Data) != `{"temperature":21.5}` ||
			string(p.Meta) != `{"m":1}` || p.RuleID != "" {
			t.Fatalf("payload %s", got[2].body)
		}

		page := h.deliveries(t, c.Id, "")
		if page.TotalElements != 1 || !page.Sort.Sorted {
			t.Fatalf("page %+v", page)
		}
		d := page.Content[0]
		if d.Id != id || d.Status != gen.DeliveryStatusDELIVERED || d.SampleId != p.ID || d.DeviceId != e.dev.ID || d.RuleId != nil ||
			d.OutputConnectorId != c.Id || d.DeliveredAt == nil || d.NextAttemptAt != nil || len(d.Attempts) != 3 {
			t.Fatalf("delivery %+v", d)
		}
		for i, code := range []int{503, 503, 200} {
			a := d.Attempts[i]
			if a.StatusCode == nil || *a.StatusCode != code || (code != 200) != (a.Error != nil) {
				t.Fatalf("attempt %d %+v", i, a)
			}
		}
		if *d.Attempts[0].Error != "503 Service Unavailable" || !d.Attempts[1].At.After(d.Attempts[0].At) {
			t.Fatalf("attempts %+v", d.Attempts)
		}
		if p := h.deliveries(t, c.Id, "?status=PENDING"); p.TotalElements != 0 {
			t.Fatalf("pending %+v", p)
		}
		if p := h.deliveries(t, c.Id, "?status=DELIVERED&page=0&size=1"); p.TotalElements != 1 || len(p.Content) != 1 {
			t.Fatalf("delivered %+v", p)
		}
		h.do(t, req{method: "GET", path: "/v3/output-connectors/" + c.Id + "/deliveries?status=LOST"}).want(400)
		h.do(t, req{method: "GET", path: "/v3/output-connectors/09ffffffffffffff/deliveries"}).want(404)

		// Rights: OUTPUT_CONNECTOR:READ in the connector's workspace.
		key := func(ws, scope string) string {
			return *h.create(t, map[string]any{"name": "k-" + ws + scope, "organizationId": e.org, "isActive": true, "permissions": []any{
				map[string]any{"scope": scope, "verbs": []string{"READ"}, "workspaceIds": []string{ws}}}}).ClientSecret
		}
		path := "/v3/output-connectors/" + c.Id + "/deliveries"
		h.do(t, req{method: "GET", path: path, apiKey: key(e.ws, "OUTPUT_CONNECTOR")}).want(200)
		h.do(t, req{method: "GET", path: path, apiKey: key(e.other, "OUTPUT_CONNECTOR")}).want(403)
		h.do(t, req{method: "GET", path: path, apiKey: key(e.ws, "DATA")}).want(403)
		h.do(t, req{method: "GET", path: path, anonymous: true}).want(401)
	})
}

// TestDeliveryRouting: data-flow references by topic (the database
// connector and dangling references skipped), rule actions for the samples
// that trigger them, nothing for a rejected bulk backfill or a replay.
func TestDeliveryRouting(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t)
		all := h.hook(t, e.ws, "all", rcv.URL+"/all", "DATA_FLOW")
		battery := h.hook(t, e.ws, "battery", rcv.URL+"/battery", "DATA_FLOW")
		alert := h.hook(t, e.ws, "alert", rcv.URL+"/alert", "RULE_ACTION")
		h.route(t, e, store.ConnectorRef{ID: "0900000000000000", Topic: "*"}, store.ConnectorRef{ID: all.Id, Topic: "*"},
			store.ConnectorRef{ID: battery.Id, Topic: "battery"}, store.ConnectorRef{ID: "09ffffffffffffff", Topic: "*"},
			store.ConnectorRef{ID: all.Id, Topic: "default"})
		rule := func(name string, active bool, threshold float64) gen.Rule {
			var r gen.Rule
			h.do(t, req{method: "POST", path: "/v3/rules", body: map[string]any{"name": name, "workspaceId": e.ws, "active": active,
				"inputs": []any{map[string]any{"id": e.dev.ID, "type": "DEVICE"}},
				"logic": map[string]any{"type": "COMPARISON",
					"dataSources": []any{map[string]any{"id": "s1", "inputIds": []string{e.dev.ID}, "dataTopic": "default", "dataKey": "temperature"}},
					"logicBlocks": []any{map[string]any{"actionIds": []string{"a1"}, "conditions": []any{map[string]any{
						"operandFirst": map[string]any{"type": "DATA_SOURCE", "dataSourceId": "s1"}, "operator": "GT",
						"operandSecond": map[string]any{"type": "CONSTANT", "value": threshold}}}}}},
				"actions": []any{map[string]any{"id": "a1", "type": "OUTPUT_CONNECTOR", "configuration": map[string]any{"outputConnectorId": alert.Id}}},
			}}).want(201).decode(&r)
			return r
		}
		hot := rule("too hot", true, 30)
		rule("inactive", false, 0)

		var res gen.BackfillResult
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: []any{
			map[string]any{"data": map[string]any{"temperature": 25}},
			map[string]any{"data": map[string]any{"temperature": 35}},
			map[string]any{"data": map[string]any{"temperature": 31.5, "humidity": 10}},
			map[string]any{"topic": "battery", "data": map[string]any{"level": 3, "temperature": 99}},
		}}).want(201).decode(&res)
		count := func(c gen.OutputConnector) int64 { return h.deliveries(t, c.Id, "").TotalElements }
		if count(all) != 4 || count(battery) != 1 || count(alert) != 2 {
			t.Fatalf("deliveries: all %d, battery %d, alert %d", count(all), count(battery), count(alert))
		}

		w, _ := h.worker(t)
		w.Batch = 3
		runOnce(t, w, 3)
		runOnce(t, w, 3)
		runOnce(t, w, 1)
		runOnce(t, w, 0)
		if got := rcv.requests("/all"); len(got) != 4 {
			t.Fatalf("all got %d", len(got))
		}
		if got := rcv.requests("/battery"); len(got) != 1 || !strings.Contains(string(got[0].body), `"topic":"battery"`) {
			t.Fatalf("battery got %+v", got)
		}
		alerts := rcv.requests("/alert")
		hotSamples := map[string]bool{res.Samples[1].Id: true, res.Samples[2].Id: true}
		for _, a := range alerts {
			var p delivery.Payload
			if err := json.Unmarshal(a.body, &p); err != nil {
				t.Fatal(err)
			}
			if !hotSamples[p.ID] || p.RuleID != hot.Id {
				t.Fatalf("alert payload %s", a.body)
			}
			delete(hotSamples, p.ID)
		}
		if len(alerts) != 2 || len(hotSamples) != 0 {
			t.Fatalf("alerts %d, missed %v", len(alerts), hotSamples)
		}
		for _, d := range h.deliveries(t, alert.Id, "").Content {
			if d.RuleId == nil || *d.RuleId != hot.Id || d.Status != gen.DeliveryStatusDELIVERED {
				t.Fatalf("alert delivery %+v", d)
			}
		}

		// A bulk backfill that fails validation stores and enqueues nothing.
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: []any{
			map[string]any{"data": map[string]any{"temperature": 40}},
			map[string]any{"data": map[string]any{"temperature": "hot"}},
		}}).want(400)
		// An idempotent retry enqueues nothing new.
		for range 2 {
			h.do(t, req{method: "POST", path: e.path("/backfill"), header: map[string]string{"Idempotency-Key": "k1"},
				body: map[string]any{"data": map[string]any{"temperature": 50}}}).want(201)
		}
		if count(all) != 5 || count(battery) != 1 || count(alert) != 3 {
			t.Fatalf("after rejected and replayed: all %d, battery %d, alert %d", count(all), count(battery), count(alert))
		}
	})
}

// TestDeliveryGivesUp: after MaxAttempts failures a delivery is FAILED;
// an unreachable receiver is an attempt without status code.
func TestDeliveryGivesUp(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t, 500, 500, 500, 500)
		c := h.hook(t, e.ws, "a", rcv.URL+"/a", "DATA_FLOW")
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		down := h.hook(t, e.ws, "down", gone.URL+"/x?token=secret", "DATA_FLOW")
		h.route(t, e, store.ConnectorRef{ID: c.Id, Topic: "*"}, store.ConnectorRef{ID: down.Id, Topic: "*"})
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 1}}}).want(201)
		w, clock := h.worker(t)
		w.MaxAttempts = 3
		for i := range 3 {
			runOnce(t, w, 2)
			clock.Set(clock.Now().Add(delivery.Backoff(i+1) + time.Millisecond))
		}
		clock.Set(clock.Now().Add(2 * time.Hour))
		runOnce(t, w, 0)
		d := h.deliveries(t, c.Id, "").Content[0]
		if d.Status != gen.DeliveryStatusFAILED || len(d.Attempts) != 3 || d.NextAttemptAt != nil || d.DeliveredAt != nil {
			t.Fatalf("failed delivery %+v", d)
		}
		if n := len(rcv.requests("/a")); n != 3 {
			t.Fatalf("%d requests", n)
		}
		d = h.deliveries(t, down.Id, "?status=FAILED").Content[0]
		for _, a := range d.Attempts {
			if a.StatusCode != nil || a.Error == nil || strings.Contains(*a.Error, "secret") || strings.Contains(*a.Error, gone.URL) {
				t.Fatalf("unreachable attempt %+v", a)
			}
		}
	})
}

// TestDeliveryLeaseTakeover: a claim whose worker never completes (killed)
// expires; another worker delivers; the first claim's late completion is
// ignored.
func TestDeliveryLeaseTakeover(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t)
		c := h.hook(t, e.ws, "a", rcv.URL+"/a", "DATA_FLOW")
		h.route(t, e, store.ConnectorRef{ID: c.Id, Topic: "*"})
		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 1}}}).want(201)
		b, clock := h.worker(t)
		b.Lease = 30 * time.Second

		// Worker A claims and dies.
		claimed, err := h.st.Deliveries.Claim(t.Context(), clock.Now(), 30*time.Second, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim %v %d", err, len(claimed))
		}
		a := claimed[0]
		clock.Set(clock.Now().Add(29 * time.Second))
		runOnce(t, b, 0) // A's lease holds
		clock.Set(clock.Now().Add(2 * time.Second))
		runOnce(t, b, 1) // expired: B takes over and delivers
		if n := len(rcv.requests("/a")); n != 1 {
			t.Fatalf("%d requests", n)
		}
		code := 500
		at := clock.Now()
		next := at.Add(time.Second)
		applied, err := h.st.Deliveries.Complete(t.Context(), a.ID, *a.LeaseUntil, store.DeliveryOutcome{
			Status: store.DeliveryPending, NextAttemptAt: &next, Attempt: store.DeliveryAttempt{At: at, StatusCode: &code}})
		if err != nil || applied {
			t.Fatalf("late completion: %v %v", err, applied)
		}
		d := h.deliveries(t, c.Id, "").Content[0]
		if d.Status != gen.DeliveryStatusDELIVERED || len(d.Attempts) != 1 || *d.Attempts[0].StatusCode != 200 {
			t.Fatalf("delivery %+v", d)
		}
	})
}

// TestDeliveryBulk: a bulk backfill enqueues one delivery per sample in its
// transaction (batched inserts; the speed is measured by BenchmarkBackfillBulk).
func TestDeliveryBulk(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		c := h.hook(t, e.ws, "a", "http://127.0.0.1:1/a", "DATA_FLOW")
		h.route(t, e, store.ConnectorRef{ID: c.Id, Topic: "*"})
		body := make([]any, 2_000)
		for i := range body {
			body[i] = map[string]any{"data": map[string]any{"temperature": i}}
		}
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: body}).want(201)
		if p := h.deliveries(t, c.Id, "?size=1"); p.TotalElements != int64(len(body)) {
			t.Fatalf("%d deliveries", p.TotalElements)
		}
		// /metrics shows the backlog.
		if want := `keyplane_outbox_deliveries{status="PENDING"} 2000`; !strings.Contains(h.scrape(t, nil).Body.String(), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	})
}
