package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

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

// TestDataStreams subscribes over a real WebSocket and receives the samples
// backfilled afterwards, on both databases (PostgreSQL through LISTEN/NOTIFY).
func TestDataStreams(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		srv := httptest.NewServer(h.e)
		defer srv.Close()
		reader := h.create(t, map[string]any{"name": "reader", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}}}})
		outsider := h.create(t, map[string]any{"name": "outsider", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}, "workspaceIds": []string{e.other}}}})

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v3/data-streams"

		// No credentials: refused before the upgrade.
		if _, res, err := websocket.Dial(ctx, wsURL, nil); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous dial: %v %v", err, res)
		}

		conn, _, err := websocket.Dial(ctx, wsURL+"?xApiKey="+*reader.ClientSecret, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		read := func() streamMsg {
			t.Helper()
			var m streamMsg
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				t.Fatalf("read: %v", err)
			}
			return m
		}
		if m := read(); m.Type != "connected" {
			t.Fatalf("first message %+v", m)
		}
		one := int64(1)
		send := func(m map[string]any) {
			t.Helper()
			if err := wsjson.Write(ctx, conn, m); err != nil {
				t.Fatal(err)
			}
		}
		send(map[string]any{"type": "subscribe", "id": one, "subscriptions": []any{map[string]any{"assetId": e.dev.ID, "topic": "default"}}})
		if m := read(); m.Type != "subscribed" || m.ID == nil || *m.ID != 1 {
			t.Fatalf("subscribe answer %+v", m)
		}
		send(map[string]any{"type": "subscribe", "id": 2, "subscriptions": []any{map[string]any{"tagId": "71aaaaaaaaaaaaaa"}}})
		if m := read(); m.Type != "error" || !strings.Contains(m.Message, "no tag 71aaaaaaaaaaaaaa") {
			t.Fatalf("unknown tag subscription answer %+v", m)
		}
		send(map[string]any{"type": "subscribe", "id": 3, "subscriptions": []any{map[string]any{"tagId": "71aaaaaaaaaaaaaa", "assetId": e.dev.ID}}})
		if m := read(); m.Type != "error" || !strings.Contains(m.Message, "one of assetId and tagId") {
			t.Fatalf("asset and tag subscription answer %+v", m)
		}

		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 3}, "topic": "battery"}}).want(201)
		// Explicit timestamps: samples of one bulk request otherwise share one,
		// and PostgreSQL's path reads announced samples back by (ts, id).
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: []any{
			map[string]any{"data": map[string]any{"temperature": 21.5}, "timestamp": "2026-01-01T00:00:00Z"},
			map[string]any{"data": map[string]any{"temperature": 22.5}, "timestamp": "2026-01-01T00:00:01Z"},
		}}).want(201)
		for _, want := range []float64{21.5, 22.5} { // the battery topic is filtered out
			m := read()
			if m.Type != "sample_insert" || m.Sample == nil || m.Sample.AkenzaDeviceID != e.dev.ID || m.Sample.Data["temperature"] != want {
				t.Fatalf("want sample %v, got %+v", want, m)
			}
		}

		// A key without access to the device's workspace cannot subscribe.
		other, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"x-api-key": {*outsider.ClientSecret}}})
		if err != nil {
			t.Fatal(err)
		}
		defer other.CloseNow()
		var m streamMsg
		if err := wsjson.Read(ctx, other, &m); err != nil || m.Type != "connected" {
			t.Fatalf("outsider connect: %v %+v", err, m)
		}
		if err := wsjson.Write(ctx, other, map[string]any{"type": "subscribe", "id": 1, "subscriptions": []any{map[string]any{"assetId": e.dev.ID}}}); err != nil {
			t.Fatal(err)
		}
		if err := wsjson.Read(ctx, other, &m); err != nil || m.Type != "error" || !strings.Contains(m.Message, "Permission denied") {
			t.Fatalf("outsider subscribe: %v %+v", err, m)
		}
	})
}

// TestDataStreamsByTag subscribes to a tag: samples of every device carrying
// the tag when they are stored arrive, once each, and those of other devices
// do not.
func TestDataStreamsByTag(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		srv := httptest.NewServer(h.e)
		defer srv.Close()
		floor := h.tag(t, e.ws, "Floor 1")
		tagDevice := func(id, physical string, tags ...string) {
			t.Helper()
			refs := []any{}
			for _, tag := range tags {
				refs = append(refs, map[string]any{"id": tag})
			}
			h.do(t, req{method: "PUT", path: "/v3/devices/" + id, body: map[string]any{"name": physical, "workspaceId": e.ws,
				"dataFlowId": e.flowID, "deviceId": physical, "tags": refs}}).want(200)
		}
		tagDevice(e.dev.ID, e.dev.DeviceID, floor.Id)
		untagged := h.storeDevice(t, e.org, e.ws, e.flowID, "untagged")
		backfill := func(id string, temperature float64) {
			t.Helper()
			h.do(t, req{method: "POST", path: "/v3/devices/" + id + "/backfill",
				body: map[string]any{"data": map[string]any{"temperature": temperature}}}).want(201)
		}
		reader := h.create(t, map[string]any{"name": "reader", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}, "workspaceIds": []string{e.ws}}}})
		outsider := h.create(t, map[string]any{"name": "outsider", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}, "workspaceIds": []string{e.other}}}})

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v3/data-streams"
		dial := func(key string) (func() streamMsg, func(map[string]any)) {
			t.Helper()
			conn, _, err := websocket.Dial(ctx, wsURL+"?xApiKey="+key, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.CloseNow() })
			read := func() streamMsg {
				t.Helper()
				var m streamMsg
				if err := wsjson.Read(ctx, conn, &m); err != nil {
					t.Fatalf("read: %v", err)
				}
				return m
			}
			send := func(m map[string]any) {
				t.Helper()
				if err := wsjson.Write(ctx, conn, m); err != nil {
					t.Fatal(err)
				}
			}
			if m := read(); m.Type != "connected" {
				t.Fatalf("first message %+v", m)
			}
			return read, send
		}
		wantSample := func(m streamMsg, device string, temperature float64) {
			t.Helper()
			if m.Type != "sample_insert" || m.Sample == nil || m.Sample.AkenzaDeviceID != device || m.Sample.Data["temperature"] != temperature {
				t.Fatalf("want sample %v of %s, got %+v", temperature, device, m)
			}
		}

		// A key reading data only elsewhere may not subscribe to the tag.
		oread, osend := dial(*outsider.ClientSecret)
		osend(map[string]any{"type": "subscribe", "id": 1, "subscriptions": []any{map[string]any{"tagId": floor.Id}}})
		if m := oread(); m.Type != "error" || !strings.Contains(m.Message, "Permission denied: "+floor.Id) {
			t.Fatalf("outsider tag subscription %+v", m)
		}

		read, send := dial(*reader.ClientSecret)
		send(map[string]any{"type": "subscribe", "id": 1, "subscriptions": []any{map[string]any{"tagId": floor.Id}}})
		if m := read(); m.Type != "subscribed" || len(m.Subscriptions) != 1 || m.Subscriptions[0]["tagId"] != floor.Id {
			t.Fatalf("tag subscription answer %+v", m)
		}
		backfill(untagged.ID, 1) // not carrying the tag: not sent
		backfill(e.dev.ID, 2)
		wantSample(read(), e.dev.ID, 2)

		// Subscribed to the device as well: each sample still arrives once.
		send(map[string]any{"type": "subscribe", "id": 2, "subscriptions": []any{map[string]any{"assetId": e.dev.ID}}})
		if m := read(); m.Type != "subscribed" {
			t.Fatalf("device subscription answer %+v", m)
		}
		backfill(e.dev.ID, 3)
		backfill(e.dev.ID, 4)
		wantSample(read(), e.dev.ID, 3)
		wantSample(read(), e.dev.ID, 4)

		// A device tagged after the subscription counts from then on.
		tagDevice(untagged.ID, untagged.DeviceID, floor.Id)
		backfill(untagged.ID, 5)
		wantSample(read(), untagged.ID, 5)

		// Unsubscribing from the tag leaves the device subscription.
		send(map[string]any{"type": "unsubscribe", "id": 3, "subscriptions": []any{map[string]any{"tagId": floor.Id}}})
		if m := read(); m.Type != "unsubscribed" {
			t.Fatalf("unsubscribe answer %+v", m)
		}
		backfill(untagged.ID, 6) // only the tag covered it
		backfill(e.dev.ID, 7)
		wantSample(read(), e.dev.ID, 7)
	})
}

// TestSubscribedMeansListening: every sample stored after "subscribed" is
// delivered, also on PostgreSQL, where the replica must be LISTENing before
// it acknowledges (each round starts the listener afresh: it stops with the
// last subscriber).
func TestSubscribedMeansListening(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		srv := httptest.NewServer(h.e)
		defer srv.Close()
		reader := h.create(t, map[string]any{"name": "reader", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "DATA", "verbs": []string{"READ"}}}})
		wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v3/data-streams?xApiKey=" + *reader.ClientSecret
		for round := range 10 {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			conn, _, err := websocket.Dial(ctx, wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			var m streamMsg
			if err := wsjson.Read(ctx, conn, &m); err != nil || m.Type != "connected" {
				t.Fatalf("round %d: %v %+v", round, err, m)
			}
			if err := wsjson.Write(ctx, conn, map[string]any{"type": "subscribe", "id": 1,
				"subscriptions": []any{map[string]any{"assetId": e.dev.ID}}}); err != nil {
				t.Fatal(err)
			}
			if err := wsjson.Read(ctx, conn, &m); err != nil || m.Type != "subscribed" {
				t.Fatalf("round %d: %v %+v", round, err, m)
			}
			h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": round}}}).want(201)
			if err := wsjson.Read(ctx, conn, &m); err != nil || m.Type != "sample_insert" {
				t.Fatalf("round %d: the sample stored right after subscribed did not arrive: %v %+v", round, err, m)
			}
			conn.Close(websocket.StatusNormalClosure, "")
			cancel()
		}
	})
}
