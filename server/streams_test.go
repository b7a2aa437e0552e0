package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// TestDataStreams subscribes over a real WebSocket and receives the samples
// backfilled afterwards, on both databases (PostgreSQL through LISTEN/NOTIFY).
func TestDataStreams(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		wsURL := h.streamURL(t)
		reader := h.apiKey(t, e.org, "DATA", []string{"READ"})
		outsider := h.apiKey(t, e.org, "DATA", []string{"READ"}, e.other)

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()

		// No credentials: refused before the upgrade.
		if _, res, err := websocket.Dial(ctx, wsURL, nil); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous dial: %v %v", err, res)
		}

		s := dialStream(t, ctx, wsURL+"?xApiKey="+reader, nil)
		s.send(t, map[string]any{"type": "subscribe", "id": int64(1), "subscriptions": []any{map[string]any{"assetId": e.dev.ID, "topic": "default"}}})
		if m := s.read(t); m.Type != "subscribed" || m.ID == nil || *m.ID != 1 {
			t.Fatalf("subscribe answer %+v", m)
		}
		s.send(t, map[string]any{"type": "subscribe", "id": 2, "subscriptions": []any{map[string]any{"tagId": "71aaaaaaaaaaaaaa"}}})
		if m := s.read(t); m.Type != "error" || !strings.Contains(m.Message, "no tag 71aaaaaaaaaaaaaa") {
			t.Fatalf("unknown tag subscription answer %+v", m)
		}
		s.send(t, map[string]any{"type": "subscribe", "id": 3, "subscriptions": []any{map[string]any{"tagId": "71aaaaaaaaaaaaaa", "assetId": e.dev.ID}}})
		if m := s.read(t); m.Type != "error" || !strings.Contains(m.Message, "one of assetId and tagId") {
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
			wantSampleMsg(t, s.read(t), e.dev.ID, want)
		}

		// A key without access to the device's workspace cannot subscribe
		// (its key sent as a header this time).
		o := dialStream(t, ctx, wsURL, http.Header{"x-api-key": {outsider}})
		o.send(t, map[string]any{"type": "subscribe", "id": 1, "subscriptions": []any{map[string]any{"assetId": e.dev.ID}}})
		if m := o.read(t); m.Type != "error" || !strings.Contains(m.Message, "Permission denied") {
			t.Fatalf("outsider subscribe: %+v", m)
		}
	})
}

// TestDataStreamsByTag subscribes to a tag: samples of every device carrying
// the tag when they are stored arrive, once each, and those of other devices
// do not.
func TestDataStreamsByTag(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		wsURL := h.streamURL(t)
		floor := h.tag(t, e.ws, "Floor 1")
		tagDevice := func(id, physical string, tags ...string) {
			t.Helper()
			h.do(t, req{method: "PUT", path: "/v3/devices/" + id, body: map[string]any{"name": physical, "workspaceId": e.ws,
				"dataFlowId": e.flowID, "deviceId": physical, "tags": tagRefs(tags...)}}).want(200)
		}
		tagDevice(e.dev.ID, e.dev.DeviceID, floor.Id)
		untagged := h.storeDevice(t, e.org, e.ws, e.flowID, "untagged")
		backfill := func(id string, temperature float64) {
			t.Helper()
			h.do(t, req{method: "POST", path: "/v3/devices/" + id + "/backfill",
				body: map[string]any{"data": map[string]any{"temperature": temperature}}}).want(201)
		}
		reader := h.apiKey(t, e.org, "DATA", []string{"READ"}, e.ws)
		outsider := h.apiKey(t, e.org, "DATA", []string{"READ"}, e.other)

		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		subscribeTag := map[string]any{"type": "subscribe", "id": 1, "subscriptions": []any{map[string]any{"tagId": floor.Id}}}

		step(t, "a key reading data only elsewhere may not subscribe to the tag", func(t *testing.T) {
			o := dialStream(t, ctx, wsURL+"?xApiKey="+outsider, nil)
			o.send(t, subscribeTag)
			if m := o.read(t); m.Type != "error" || !strings.Contains(m.Message, "Permission denied: "+floor.Id) {
				t.Fatalf("outsider tag subscription %+v", m)
			}
		})

		s := dialStream(t, ctx, wsURL+"?xApiKey="+reader, nil)
		step(t, "subscribed to the tag: its devices' samples arrive", func(t *testing.T) {
			s.send(t, subscribeTag)
			if m := s.read(t); m.Type != "subscribed" || len(m.Subscriptions) != 1 || m.Subscriptions[0]["tagId"] != floor.Id {
				t.Fatalf("tag subscription answer %+v", m)
			}
			backfill(untagged.ID, 1) // not carrying the tag: not sent
			backfill(e.dev.ID, 2)
			wantSampleMsg(t, s.read(t), e.dev.ID, 2)
		})

		step(t, "subscribed to the device as well: each sample still arrives once", func(t *testing.T) {
			s.send(t, map[string]any{"type": "subscribe", "id": 2, "subscriptions": []any{map[string]any{"assetId": e.dev.ID}}})
			if m := s.read(t); m.Type != "subscribed" {
				t.Fatalf("device subscription answer %+v", m)
			}
			backfill(e.dev.ID, 3)
			backfill(e.dev.ID, 4)
			wantSampleMsg(t, s.read(t), e.dev.ID, 3)
			wantSampleMsg(t, s.read(t), e.dev.ID, 4)
		})

		step(t, "a device tagged after the subscription counts from then on", func(t *testing.T) {
			tagDevice(untagged.ID, untagged.DeviceID, floor.Id)
			backfill(untagged.ID, 5)
			wantSampleMsg(t, s.read(t), untagged.ID, 5)
		})

		step(t, "unsubscribing from the tag leaves the device subscription", func(t *testing.T) {
			s.send(t, map[string]any{"type": "unsubscribe", "id": 3, "subscriptions": []any{map[string]any{"tagId": floor.Id}}})
			if m := s.read(t); m.Type != "unsubscribed" {
				t.Fatalf("unsubscribe answer %+v", m)
			}
			backfill(untagged.ID, 6) // only the tag covered it
			backfill(e.dev.ID, 7)
			wantSampleMsg(t, s.read(t), e.dev.ID, 7)
		})
	})
}

// TestSubscribedMeansListening: every sample stored after "subscribed" is
// delivered, also on PostgreSQL, where the replica must be LISTENing before
// it acknowledges (each round starts the listener afresh: it stops with the
// last subscriber).
func TestSubscribedMeansListening(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		wsURL := h.streamURL(t) + "?xApiKey=" + h.apiKey(t, e.org, "DATA", []string{"READ"})
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
			h.backfillOne(t, e, float64(round))
			if err := wsjson.Read(ctx, conn, &m); err != nil || m.Type != "sample_insert" {
				t.Fatalf("round %d: the sample stored right after subscribed did not arrive: %v %+v", round, err, m)
			}
			conn.Close(websocket.StatusNormalClosure, "")
			cancel()
		}
	})
}
