package connector_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/connector/connectortest"
	"github.com/keyplane/keyplane/store"
)

// TestWebhookConfigure: defaults, and every rejected property named by its
// member from the connector object.
func TestWebhookConfigure(t *testing.T) {
	k := connector.WebhookKind{}
	cfg, err := k.Configure(props(t, map[string]any{"uri": "https://hooks.example.com/in"}), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.(connector.Webhook)
	if !hex64(w.SigningSecret) || w.SigningKey() != w.SigningSecret || cfg.Kind() != "WEBHOOK" {
		t.Fatalf("signing secret %q", w.SigningSecret)
	}
	w.SigningSecret = ""
	if want := (connector.Webhook{URI: "https://hooks.example.com/in", Method: "POST", ContentType: "application/json",
		AuthType: connector.AuthNone}); !reflect.DeepEqual(w, want) {
		t.Fatalf("defaults %+v, want %+v", w, want)
	}
	again, _ := k.Configure(props(t, map[string]any{"uri": "https://hooks.example.com/in"}), nil, false)
	if again.SigningKey() == cfg.SigningKey() {
		t.Fatal("two creates drew one signing secret")
	}

	checkConfigure(t, k, []configureCase{
		{"all of it", map[string]any{"uri": "https://h.example/x", "method": "PUT", "contentType": "application/json", "authType": "BEARER",
			"bearerToken": "t", "headers": map[string]any{"X-A": "1"}}, false, ""},
		{"private allowed", map[string]any{"uri": "http://127.0.0.1:8080/"}, true, ""},
		{"name resolving anywhere", map[string]any{"uri": "http://localhost:8080/"}, false, ""},
		{"absent", nil, false, "/webhookProperties required"},
		{"not an object", `"https://h.example/"`, false, "/webhookProperties type"},
		{"no uri", map[string]any{}, false, "/webhookProperties/uri required"},
		{"uri not a string", map[string]any{"uri": 5}, false, "/webhookProperties/uri type"},
		{"relative uri", map[string]any{"uri": "/hook"}, false, "/webhookProperties/uri format"},
		{"ftp uri", map[string]any{"uri": "ftp://example.com/hook"}, false, "/webhookProperties/uri format"},
		{"no host", map[string]any{"uri": "http:///hook"}, false, "/webhookProperties/uri format"},
		{"opaque uri", map[string]any{"uri": "mailto:a@example.com"}, false, "/webhookProperties/uri format"},
		{"long uri", map[string]any{"uri": "https://h.example/" + strings.Repeat("a", 2000)}, false, "/webhookProperties/uri maxLength"},
		{"private literal", map[string]any{"uri": "http://10.0.0.1/"}, false, "/webhookProperties/uri privateAddress"},
		{"non-canonical", map[string]any{"uri": "http://2130706433/"}, true, "/webhookProperties/uri nonCanonicalHost"},
		{"method", map[string]any{"uri": "https://h.example/", "method": "GET"}, false, "/webhookProperties/method enum"},
		{"content type", map[string]any{"uri": "https://h.example/", "contentType": "text/plain"}, false, "/webhookProperties/contentType enum"},
		{"auth type", map[string]any{"uri": "https://h.example/", "authType": "OAUTH"}, false, "/webhookProperties/authType enum"},
		{"unknown member", map[string]any{"uri": "https://h.example/", "signingSecret": "x", "a/b": 1}, false,
			"/webhookProperties/a~1b unknown, /webhookProperties/signingSecret unknown"},
		{"bearer without token", map[string]any{"uri": "https://h.example/", "authType": "BEARER"}, false, "/webhookProperties/bearerToken required"},
		{"bearer with empty token", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": ""}, false, "/webhookProperties/bearerToken required"},
		{"bearer token not a string", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": 1}, false, "/webhookProperties/bearerToken type"},
		{"bearer masked on create", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "********"}, false, "/webhookProperties/bearerToken required"},
		{"bearer with newline", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "a\nb"}, false, "/webhookProperties/bearerToken header"},
		{"basic without credentials", map[string]any{"uri": "https://h.example/", "authType": "BASIC"}, false, "/webhookProperties/basicCredentials required"},
		{"basic credentials not an object", map[string]any{"uri": "https://h.example/", "authType": "BASIC", "basicCredentials": "a:b"}, false,
			"/webhookProperties/basicCredentials type"},
		{"basic without password", map[string]any{"uri": "https://h.example/", "authType": "BASIC", "basicCredentials": map[string]any{"username": "a"}}, false,
			"/webhookProperties/basicCredentials/password required"},
		{"basic user with colon", map[string]any{"uri": "https://h.example/", "authType": "BASIC",
			"basicCredentials": map[string]any{"username": "a:b", "password": "p"}}, false, "/webhookProperties/basicCredentials/username format"},
		{"basic masked on create", map[string]any{"uri": "https://h.example/", "authType": "BASIC",
			"basicCredentials": map[string]any{"username": "a", "password": "********"}}, false, "/webhookProperties/basicCredentials/password required"},
		{"header without headers", map[string]any{"uri": "https://h.example/", "authType": "HEADER"}, false, "/webhookProperties/authHeaders required"},
		{"header with no entries", map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{}}, false, "/webhookProperties/authHeaders required"},
		{"header masked on create", map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{"X-Key": "********"}}, false,
			"/webhookProperties/authHeaders/X-Key required"},
		{"bad header name", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"Bad Name": "v"}}, false, "/webhookProperties/headers/Bad Name header"},
		{"header value with newline", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\r\nX-B: w"}}, false, "/webhookProperties/headers/X-A header"},
		{"header value with CR", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\rw"}}, false, "/webhookProperties/headers/X-A header"},
		{"header value with LF", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\nw"}}, false, "/webhookProperties/headers/X-A header"},
		{"header value with NUL", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\x00w"}}, false, "/webhookProperties/headers/X-A header"},
		{"auth header value with NUL", map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{"X-Key": "v\x00w"}}, false,
			"/webhookProperties/authHeaders/X-Key header"},
		{"header value with tab and obs-text", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\tw é"}}, false, ""},
		{"header name of every tchar", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"!#$%&'*+-.^_`|~09azAZ": "v"}}, false, ""},
		{"empty header name", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"": "v"}}, false, "/webhookProperties/headers/ header"},
		{"non-ASCII header name", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-é": "v"}}, false, "/webhookProperties/headers/X-é header"},
		{"header name with colon", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X:Y": "v"}}, false, "/webhookProperties/headers/X:Y header"},
		{"header name with DEL", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X\x7f": "v"}}, false, "/webhookProperties/headers/X\x7f header"},
		{"bearer with CR", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "a\rb"}, false, "/webhookProperties/bearerToken header"},
		{"bearer with NUL", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "a\x00b"}, false, "/webhookProperties/bearerToken header"},
		{"header not a string", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": 1}}, false, "/webhookProperties/headers type"},
		{"reserved header", map[string]any{"uri": "https://h.example/", "headers": map[string]any{"x-keyplane-signature": "v"}}, false,
			"/webhookProperties/headers/x-keyplane-signature header"},
		{"authorization with bearer", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "t",
			"headers": map[string]any{"authorization": "v"}}, false, "/webhookProperties/headers/authorization header"},
		{"header twice", map[string]any{"uri": "https://h.example/", "authType": "HEADER", "headers": map[string]any{"X-Key": "a"},
			"authHeaders": map[string]any{"x-key": "b"}}, false, "/webhookProperties/authHeaders/x-key header"},
		{"every mistake at once", map[string]any{"uri": "ftp://h", "method": "GET", "authType": "BEARER"}, false,
			"/webhookProperties/uri format, /webhookProperties/method enum, /webhookProperties/bearerToken required"},
	})

	// Secrets of other auth types are not kept.
	cfg, err = k.Configure(props(t, map[string]any{"uri": "https://h.example/", "bearerToken": "ignored",
		"basicCredentials": map[string]any{"username": "u", "password": "p"}}), nil, false)
	if w := cfg.(connector.Webhook); err != nil || w.BearerToken != "" || w.BasicPassword != "" || w.BasicUser != "" {
		t.Fatalf("NONE kept secrets: %+v %v", w, err)
	}
}

// TestWebhookUpdate: "********" keeps a stored secret of the same auth type
// (and header name), a new value replaces it, the signing secret stays.
func TestWebhookUpdate(t *testing.T) {
	k := connector.WebhookKind{}
	stored := connector.Webhook{URI: "https://h.example/", Method: "POST", ContentType: "application/json", AuthType: connector.AuthHeader,
		AuthHeaders: map[string]string{"X-Api-Key": "key-1"}, SigningSecret: "sig-1"}
	cfg, err := k.Configure(props(t, map[string]any{"uri": "https://h.example/", "authType": "HEADER",
		"authHeaders": map[string]any{"X-Api-Key": "********", "X-New": "key-2"}}), stored, false)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.(connector.Webhook); w.SigningSecret != "sig-1" || !reflect.DeepEqual(w.AuthHeaders, map[string]string{"X-Api-Key": "key-1", "X-New": "key-2"}) {
		t.Fatalf("updated %+v", w)
	}
	// A pointer works too.
	if _, err := k.Configure(props(t, map[string]any{"uri": "https://h.example/"}), &stored, false); err != nil {
		t.Fatal(err)
	}
	// Another auth type's mask, and an unknown header's, keep nothing.
	for _, c := range []struct {
		props map[string]any
		want  string
	}{
		{map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "********"}, "/webhookProperties/bearerToken required"},
		{map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{"X-Other": "********"}},
			"/webhookProperties/authHeaders/X-Other required"},
	} {
		_, err := k.Configure(props(t, c.props), stored, false)
		if got := members(fieldErrors(t, err)); got != c.want {
			t.Fatalf("errors %s, want %s", got, c.want)
		}
	}
	basic := connector.Webhook{AuthType: connector.AuthBasic, BasicUser: "alice", BasicPassword: "pw-1", SigningSecret: "sig-2"}
	cfg, err = k.Configure(props(t, map[string]any{"uri": "https://h.example/", "authType": "BASIC",
		"basicCredentials": map[string]any{"username": "bob", "password": "********"}}), basic, false)
	if w := cfg.(connector.Webhook); err != nil || w.BasicUser != "bob" || w.BasicPassword != "pw-1" || w.SigningSecret != "sig-2" {
		t.Fatalf("basic %+v %v", w, err)
	}
	// The previous configuration must be a webhook's.
	if _, err := k.Configure(props(t, map[string]any{"uri": "https://h.example/"}), connector.MQTT{}, false); err == nil || errors.As(err, new(connector.FieldErrors)) {
		t.Fatalf("an MQTT previous: %v", err)
	}
}

// TestWebhookSealPublic: the kind seals as Seal does (so rows stored before
// the kinds open alike), and its public view masks every secret.
func TestWebhookSealPublic(t *testing.T) {
	sealer := testSealer(t)
	k := connector.WebhookKind{}
	for _, c := range []struct {
		w    connector.Webhook
		want string
	}{
		{connector.Webhook{URI: "https://h.example/", Method: "POST", ContentType: "application/json", AuthType: connector.AuthNone, SigningSecret: "secret-s"},
			`{"uri":"https://h.example/","method":"POST","contentType":"application/json","authType":"NONE","headers":{}}`},
		{connector.Webhook{URI: "https://h.example/", Method: "PUT", ContentType: "application/json", AuthType: connector.AuthBearer,
			BearerToken: "secret-b", Headers: map[string]string{"X-Plain": "visible"}, SigningSecret: "secret-s"},
			`{"uri":"https://h.example/","method":"PUT","contentType":"application/json","authType":"BEARER","headers":{"X-Plain":"visible"},"bearerToken":"********"}`},
		{connector.Webhook{URI: "https://h.example/", Method: "POST", ContentType: "application/json", AuthType: connector.AuthBasic,
			BasicUser: "alice", BasicPassword: "secret-p", SigningSecret: "secret-s"},
			`{"uri":"https://h.example/","method":"POST","contentType":"application/json","authType":"BASIC","headers":{},"basicCredentials":{"username":"alice","password":"********"}}`},
		{connector.Webhook{URI: "https://h.example/", Method: "POST", ContentType: "application/json", AuthType: connector.AuthHeader,
			AuthHeaders: map[string]string{"X-Key": "secret-h"}, SigningSecret: "secret-s"},
			`{"uri":"https://h.example/","method":"POST","contentType":"application/json","authType":"HEADER","headers":{},"authHeaders":{"X-Key":"********"}}`},
	} {
		row := sealRoundTrip(t, sealer, k, c.w, c.want)
		if old, err := connector.Open(sealer, row); err != nil || !reflect.DeepEqual(old, c.w) {
			t.Fatalf("connector.Open %+v %v", old, err)
		}
	}
	if _, _, err := k.Seal(sealer, connector.MQTT{}, "09aaaaaaaaaaaaaa"); err == nil {
		t.Fatal("sealed an MQTT configuration as a webhook")
	}
	// A secret written into the properties by hand is not shown.
	pub, err := k.Public(&store.OutputConnector{ID: "09aaaaaaaaaaaaaa",
		Properties: `{"uri":"https://h.example/","authType":"BEARER","bearerToken":"leak","authHeaders":{"X":"leak"}}`})
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, string(pub), "leak")
}

// TestWebhookDeliver: the request carries the payload, the connector's auth
// and headers, the delivery id and a verifiable signature; a 2xx delivers,
// anything else is an error; redirects are not followed; the error text of
// a failure has no URL; the address policy refuses loopback.
func TestWebhookDeliver(t *testing.T) {
	at := time.Unix(1_790_000_000, 0)
	var (
		mu   sync.Mutex
		got  *http.Request
		body []byte
		hits int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		case "/fail":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got = r
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	k := connector.WebhookKind{}
	deps := connector.Deps{HTTP: connector.NewHTTPClient(true), Sign: testSign, Now: func() time.Time { return at }}
	m := connector.Message{ID: "d-42", ConnectorID: "09aaaaaaaaaaaaaa", Payload: []byte(`{"id":"s1"}`)}
	for _, c := range connectortest.WebhookAuths() {
		h := c.Hook
		h.URI, h.SigningSecret, h.Headers = srv.URL+"/hook", "sig", map[string]string{"X-Custom": "v", connector.DeliveryHeader: "forged"}
		code, err := k.Deliver(t.Context(), h, m, deps)
		if code == nil || *code != 202 || err != nil {
			t.Fatalf("%s: code %v error %v", h.AuthType, code, err)
		}
		mu.Lock()
		if !c.Check(got) || got.Header.Get("X-Custom") != "v" || got.Header.Get(connector.DeliveryHeader) != "d-42" ||
			got.Header.Get("Content-Type") != "application/json" || string(body) != string(m.Payload) {
			t.Fatalf("%s: request %v %s", h.AuthType, got.Header, body)
		}
		verify(t, "sig", got.Header.Get(connector.SignatureHeader), body, at)
		mu.Unlock()
	}
	// No signing secret, no signature (and no Sign needed).
	_, err := k.Deliver(t.Context(), connector.Webhook{URI: srv.URL + "/hook"}, m, connector.Deps{HTTP: deps.HTTP})
	mu.Lock()
	sig := got.Header.Get(connector.SignatureHeader)
	mu.Unlock()
	if err != nil || sig != "" {
		t.Fatalf("unsigned: %v %q", err, sig)
	}
	if _, err := k.Deliver(t.Context(), connector.Webhook{URI: srv.URL + "/hook", SigningSecret: "s"}, m, connector.Deps{HTTP: deps.HTTP}); err == nil {
		t.Fatal("a signing connector delivered without a signer")
	}
	code, err := k.Deliver(t.Context(), connector.Webhook{URI: srv.URL + "/redirect"}, m, deps)
	if code == nil || *code != 302 || err == nil || err.Error() != "302 Found" {
		t.Fatalf("redirect: code %v error %v", code, err)
	}
	code, err = k.Deliver(t.Context(), connector.Webhook{URI: srv.URL + "/fail"}, m, deps)
	if code == nil || *code != 503 || err == nil || err.Error() != "503 Service Unavailable" {
		t.Fatalf("503: code %v error %v", code, err)
	}
	code, err = k.Deliver(t.Context(), connector.Webhook{URI: "http://user:secret@127.0.0.1:1/x?token=secret"}, m, deps)
	if code != nil || err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unreachable: code %v error %v", code, err)
	}
	if code, err = k.Deliver(t.Context(), connector.Webhook{URI: "file:///etc/passwd"}, m, deps); code != nil || err == nil {
		t.Fatalf("file url: code %v error %v", code, err)
	}
	if _, err := k.Deliver(t.Context(), connector.Webhook{URI: srv.URL}, m, connector.Deps{}); err == nil {
		t.Fatal("delivered without an HTTP client")
	}
	if _, err := k.Deliver(t.Context(), connector.MQTT{}, m, deps); err == nil {
		t.Fatal("delivered an MQTT configuration as a webhook")
	}

	// The address policy: without allowPrivate, loopback is refused before
	// any request, by address and by name.
	mu.Lock()
	before := hits
	mu.Unlock()
	strict := connector.Deps{HTTP: connector.NewHTTPClient(false), Sign: testSign}
	for _, uri := range []string{srv.URL + "/hook", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/hook"} {
		code, err := k.Deliver(t.Context(), connector.Webhook{URI: uri}, m, strict)
		if code != nil || !errors.Is(err, connector.ErrPrivateAddress) || !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), srv.URL) {
			t.Fatalf("%s: code %v error %v", uri, code, err)
		}
	}
	mu.Lock()
	after := hits
	mu.Unlock()
	if after != before {
		t.Fatalf("the receiver got %d refused requests", after-before)
	}

	// Time runs out: the error says so, within the attempt's deadline.
	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stall }))
	defer slow.Close()
	defer close(stall)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	code, err = k.Deliver(ctx, connector.Webhook{URI: slow.URL}, m, deps)
	if code != nil || !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "no response within") {
		t.Fatalf("slow: code %v error %v", code, err)
	}
}
