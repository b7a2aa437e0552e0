package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/delivery"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// TestDeliveryRetries: a sample reaches a webhook that fails twice, after
// backoff, signed and authenticated; the attempts show in the delivery log.
func TestDeliveryRetries(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t, 503, 503, 200)
		c := h.newWebhookConnector(t, e.ws, "a", bearerProps(rcv.URL+"/a", "tok-a"))
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
		sample := res.Samples[0]
		wantFields(t, "payload", eq("id", p.ID, sample.Id), eq("deviceId", p.DeviceID, e.dev.DeviceID), eq("akenzaDeviceId", p.AkenzaDeviceID, e.dev.ID),
			eq("topic", p.Topic, "default"), holds("timestamp", p.Timestamp.Equal(sample.Timestamp), p.Timestamp, "the sample's"),
			holds("dateStored", !p.DateStored.IsZero(), p.DateStored, "set"), eq("data", string(p.Data), `{"temperature":21.5}`),
			eq("meta", string(p.Meta), `{"m":1}`), eq("ruleId", p.RuleID, ""))

		page := h.deliveries(t, c.Id, "")
		wantFields(t, "delivery log", eq("totalElements", page.TotalElements, 1), eq("sort.sorted", page.Sort.Sorted, true))
		d := page.Content[0]
		wantFields(t, "delivery", eq("id", d.Id, id), eq("status", d.Status, gen.DeliveryStatusDELIVERED), eq("sampleId", d.SampleId, p.ID),
			eq("deviceId", d.DeviceId, e.dev.ID), eq("ruleId", d.RuleId, nil), eq("outputConnectorId", d.OutputConnectorId, c.Id),
			holds("deliveredAt", d.DeliveredAt != nil, d.DeliveredAt, "set"), eq("nextAttemptAt", d.NextAttemptAt, nil), eq("len(attempts)", len(d.Attempts), 3))
		var attempts []field
		for i, code := range []int{503, 503, 200} {
			a := d.Attempts[i]
			attempts = append(attempts, ptrEq(fmt.Sprintf("[%d].statusCode", i), a.StatusCode, code),
				eq(fmt.Sprintf("[%d] has an error", i), a.Error != nil, code != 200))
		}
		wantFields(t, "attempts", append(attempts, ptrEq("[0].error", d.Attempts[0].Error, "503 Service Unavailable"),
			holds("[1].at", d.Attempts[1].At.After(d.Attempts[0].At), d.Attempts[1].At, "after [0].at"))...)
		wantFields(t, "pending deliveries", eq("totalElements", h.deliveries(t, c.Id, "?status=PENDING").TotalElements, 0))
		delivered := h.deliveries(t, c.Id, "?status=DELIVERED&page=0&size=1")
		wantFields(t, "delivered deliveries", eq("totalElements", delivered.TotalElements, 1), eq("len(content)", len(delivered.Content), 1))
		h.do(t, req{method: "GET", path: "/v3/output-connectors/" + c.Id + "/deliveries?status=LOST"}).want(400)
		h.do(t, req{method: "GET", path: "/v3/output-connectors/09ffffffffffffff/deliveries"}).want(404)

		// Rights: OUTPUT_CONNECTOR:READ in the connector's workspace.
		path := "/v3/output-connectors/" + c.Id + "/deliveries"
		read := []string{"READ"}
		h.wantAccess(t,
			access{"OUTPUT_CONNECTOR:READ here", req{method: "GET", path: path, apiKey: h.apiKey(t, e.org, "OUTPUT_CONNECTOR", read, e.ws)}, 200},
			access{"OUTPUT_CONNECTOR:READ elsewhere", req{method: "GET", path: path, apiKey: h.apiKey(t, e.org, "OUTPUT_CONNECTOR", read, e.other)}, 403},
			access{"DATA:READ here", req{method: "GET", path: path, apiKey: h.apiKey(t, e.org, "DATA", read, e.ws)}, 403},
			access{"anonymous", req{method: "GET", path: path, anonymous: true}, 401},
		)
	})
}

// TestDeliveryRouting: data-flow references by topic (the database
// connector and dangling references skipped), rule actions for the samples
// that trigger them, nothing for a rejected bulk backfill or a replay.
func TestDeliveryRouting(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t)
		all := h.newWebhookConnector(t, e.ws, "all", bearerProps(rcv.URL+"/all", "tok-all"))
		battery := h.newWebhookConnector(t, e.ws, "battery", bearerProps(rcv.URL+"/battery", "tok-battery"))
		alert := h.newWebhookConnector(t, e.ws, "alert", bearerProps(rcv.URL+"/alert", "tok-alert"), "RULE_ACTION")
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
		c := h.newWebhookConnector(t, e.ws, "a", bearerProps(rcv.URL+"/a", "tok-a"))
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		down := h.newWebhookConnector(t, e.ws, "down", bearerProps(gone.URL+"/x?token=secret", "tok-down"))
		h.route(t, e, store.ConnectorRef{ID: c.Id, Topic: "*"}, store.ConnectorRef{ID: down.Id, Topic: "*"})
		h.backfillOne(t, e, 1)
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
		c := h.routedHook(t, e, "a", rcv.URL+"/a")
		h.backfillOne(t, e, 1)
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
		c := h.routedHook(t, e, "a", "http://127.0.0.1:1/a")
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
