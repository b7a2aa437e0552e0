package server_test

import (
	"strings"
	"testing"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// TestWebhookSSRFCreate: a webhook uri whose host is a number in a
// non-canonical form (a disguised address) is refused on create and on
// update with a 400 naming /webhookProperties/uri; canonical literals and
// names are taken (what a name resolves to is checked when it is dialed).
func TestWebhookSSRFCreate(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		body := func(uri string) map[string]any {
			return map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": e.ws, "webhookProperties": map[string]any{"uri": uri}}
		}
		kept := h.newWebhookConnector(t, e.ws, "kept", map[string]any{"uri": "https://hooks.example.com/kept"})
		update := func(uri string) map[string]any {
			b := body(uri)
			b["name"] = "kept"
			return b
		}
		for _, uri := range []string{
			"http://2130706433/",
			"http://0x7f000001/",
			"http://0X7F000001:8080/hook",
			"http://0177.0.0.1/",
			"http://127.1/",
			"http://127.0.1/",
			"http://0x7f.0.0.1/",
			"http://127.0.0.0x1/",
			"http://127.000.000.001/",
			"http://017700000001/",
			"http://0/",
			"http://127.0.0.1./",
			"https://3232235777/",                           // 192.168.1.1
			"https://0xa9.0xfe.0xa9.0xfe/latest/meta-data/", // 169.254.169.254
			"https://025177524776/",                         // 169.254.169.254, octal
			"https://134744072/",                            // 8.8.8.8: disguised even when public
			"https://user:pw@0x08080808/",
			"http://１２７.０.０.１/",
		} {
			t.Run(uri, func(t *testing.T) {
				for _, r := range []*response{
					h.do(t, req{method: "POST", path: "/v3/output-connectors", body: body(uri)}),
					h.do(t, req{method: "PUT", path: "/v3/output-connectors/" + kept.Id, body: update(uri)}),
				} {
					p := r.want(400).problem()
					if p.Errors == nil || len(*p.Errors) == 0 {
						t.Fatalf("problem without errors: %s", r.Body)
					}
					pe := (*p.Errors)[0]
					if pe.MemberName != "/webhookProperties/uri" || pe.Code == nil || *pe.Code != "nonCanonicalHost" ||
						!strings.Contains(pe.Message, "non-canonical") {
						t.Fatalf("problem %s, want /webhookProperties/uri nonCanonicalHost", r.Body)
					}
				}
			})
		}
		// Nothing refused was stored or changed.
		var list gen.OutputConnectorPage
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + e.ws}).want(200).decode(&list)
		if len(list.Content) != 1 || list.Content[0].WebhookProperties.Uri != "https://hooks.example.com/kept" || list.Content[0].Version != kept.Version {
			t.Fatalf("connectors after refusals: %+v", list.Content)
		}

		for _, uri := range []string{
			"https://93.184.216.34/hook",
			"https://8.8.8.8:8443/",
			"https://[2606:4700:4700::1111]/",
			"https://hooks.example.com/k",
			"https://127.0.0.1.nip.io/",
			"https://0x7f.example.com/",
			"https://1e100.net/",
		} {
			t.Run("taken "+uri, func(t *testing.T) {
				h.do(t, req{method: "POST", path: "/v3/output-connectors", body: body(uri)}).want(201)
			})
		}
	})
}

// TestWebhookSSRFDeliver: a connector to a literal loopback address (taken
// at creation while the server allows private receivers, as the harness
// needs for its local receivers) is refused when dialed by a worker without
// AllowPrivate: the attempt is recorded as refused and the receiver sees
// nothing.
func TestWebhookSSRFDeliver(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newDataEnv(t, h)
		rcv := newReceiver(t)
		c := h.routedHook(t, e, "loop", rcv.URL+"/loop")
		h.backfillOne(t, e, 1)
		w, _ := h.worker(t)
		w.AllowPrivate = false
		w.MaxAttempts = 1
		runOnce(t, w, 1)
		if n := len(rcv.requests("")); n != 0 {
			t.Fatalf("the loopback receiver got %d requests", n)
		}
		d := h.deliveries(t, c.Id, "").Content[0]
		if d.Status != gen.DeliveryStatusFAILED || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != nil ||
			d.Attempts[0].Error == nil || !strings.HasPrefix(*d.Attempts[0].Error, "refused") || strings.Contains(*d.Attempts[0].Error, rcv.URL) {
			t.Fatalf("delivery %+v", d)
		}
	})
}

// TestWebhookPrivateLiteralRefused: unless private destinations are allowed,
// a uri naming a special-purpose address literally is refused when written.
func TestWebhookPrivateLiteralRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, func(c *server.Config) { c.WebhookAllowPrivate = false })
		e := newDataEnv(t, h)
		for _, uri := range []string{"http://127.0.0.1:9/", "http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
			"http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://198.18.0.1/", "http://[fd00::1]/", "http://[64:ff9b::7f00:1]/"} {
			r := h.do(t, req{method: "POST", path: "/v3/output-connectors",
				body: map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": e.ws, "webhookProperties": map[string]any{"uri": uri}}})
			if p := r.want(400).problem(); p.Errors == nil || (*p.Errors)[0].MemberName != "/webhookProperties/uri" || *(*p.Errors)[0].Code != "privateAddress" {
				t.Errorf("%s: %s", uri, r.Body)
			}
		}
		h.newWebhookConnector(t, e.ws, "public", map[string]any{"uri": "https://hooks.example.com/x"})
	})
}
