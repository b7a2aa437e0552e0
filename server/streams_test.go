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
		if m := read(); m.Type != "error" || !strings.Contains(m.Message, "assetId") {
			t.Fatalf("tag subscription answer %+v", m)
		}

		h.do(t, req{method: "POST", path: e.path("/backfill"), body: map[string]any{"data": map[string]any{"temperature": 3}, "topic": "battery"}}).want(201)
		h.do(t, req{method: "POST", path: e.path("/backfill/bulk"), body: []any{
			map[string]any{"data": map[string]any{"temperature": 21.5}},
			map[string]any{"data": map[string]any{"temperature": 22.5}},
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
