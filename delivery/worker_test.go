package delivery

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/connector/connectortest"
	"github.com/keyplane/keyplane/store"
)

// webhook is the target of a webhook connector h.
func webhook(h *connector.Webhook) *target { return &target{kind: connector.WebhookKind{}, cfg: *h} }

// TestSSRFRefusal: without AllowPrivate the worker's dialer refuses
// 127.0.0.1 (the receiver never sees a request); with it, the request goes.
func TestSSRFRefusal(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer srv.Close()
	d := &store.Delivery{ID: "d1", Payload: `{}`}
	hook := &connector.Webhook{URI: srv.URL, Method: "POST"}

	w := &Worker{}
	w.init()
	code, msg := w.send(t.Context(), d, webhook(hook))
	if code != nil || msg == nil || !strings.Contains(*msg, "refused") || strings.Contains(*msg, srv.URL) {
		t.Fatalf("private address: code %v, error %v", code, deref(msg))
	}
	// A name resolving to loopback is refused too (the check is on the dialed IP).
	code, msg = w.send(t.Context(), d, webhook(&connector.Webhook{URI: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}))
	if code != nil || msg == nil || !strings.Contains(*msg, "refused") {
		t.Fatalf("localhost: code %v, error %v", code, deref(msg))
	}
	if hits != 0 {
		t.Fatalf("the receiver got %d requests", hits)
	}

	allowed := &Worker{AllowPrivate: true}
	allowed.init()
	if code, msg := allowed.send(t.Context(), d, webhook(hook)); code == nil || *code != 200 || msg != nil {
		t.Fatalf("allowed: code %v, error %v", code, deref(msg))
	}
}

// TestRequest: the request carries the payload, the auth of the connector,
// its headers, the delivery id and a verifiable signature; redirects are not
// followed; the error text of a failure has no URL.
func TestRequest(t *testing.T) {
	at := time.Unix(1_790_000_000, 0)
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		got = r
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	w := &Worker{AllowPrivate: true, Now: func() time.Time { return at }}
	w.init()
	d := &store.Delivery{ID: "d-42", Payload: `{"id":"s1"}`}
	for _, c := range connectortest.WebhookAuths() {
		h := c.Hook
		h.URI, h.SigningSecret, h.Headers = srv.URL+"/hook", "sig", map[string]string{"X-Custom": "v", DeliveryHeader: "forged"}
		code, msg := w.send(t.Context(), d, webhook(&h))
		if code == nil || *code != 202 || msg != nil {
			t.Fatalf("%s: code %v error %v", h.AuthType, code, deref(msg))
		}
		if !c.Check(got) || got.Header.Get("X-Custom") != "v" || got.Header.Get(DeliveryHeader) != "d-42" ||
			got.Header.Get("Content-Type") != "application/json" || string(body) != d.Payload {
			t.Fatalf("%s: request %v %s", h.AuthType, got.Header, body)
		}
		if err := VerifySignature("sig", got.Header.Get(SignatureHeader), body, at, time.Minute); err != nil {
			t.Fatalf("%s: signature: %v", h.AuthType, err)
		}
	}
	code, msg := w.send(t.Context(), d, webhook(&connector.Webhook{URI: srv.URL + "/redirect"}))
	if code == nil || *code != 302 || msg == nil || *msg != "302 Found" {
		t.Fatalf("redirect: code %v error %v", code, deref(msg))
	}
	code, msg = w.send(t.Context(), d, webhook(&connector.Webhook{URI: "http://user:secret@127.0.0.1:1/x?token=secret"}))
	if code != nil || msg == nil || strings.Contains(*msg, "secret") {
		t.Fatalf("unreachable: code %v error %v", code, deref(msg))
	}
	code, msg = w.send(t.Context(), d, webhook(&connector.Webhook{URI: "file:///etc/passwd"}))
	if code != nil || msg == nil {
		t.Fatalf("file url: code %v error %v", code, deref(msg))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
