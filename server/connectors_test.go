package server_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// newWebhookConnector creates an output connector (as root) with these
// webhook properties and returns the create response.
func (h *harness) newWebhookConnector(t testing.TB, ws, name string, props map[string]any) gen.OutputConnector {
	t.Helper()
	var c gen.OutputConnector
	h.do(t, req{method: "POST", path: "/v3/output-connectors",
		body: map[string]any{"name": name, "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": props}}).want(201).decode(&c)
	return c
}

// openSealedConnector reads a connector from the store and opens its secrets
// with the harness's key, as the delivery worker does.
func (h *harness) openSealedConnector(t testing.TB, id string) (connector.Webhook, *store.OutputConnector) {
	t.Helper()
	c, err := h.st.Connectors.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	w, err := connector.Open(sealer, c)
	if err != nil {
		t.Fatal(err)
	}
	return w, c
}

// wantNoSecrets fails when the body holds any of the secrets or a signing secret.
func wantNoSecrets(t testing.TB, r *response, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(r.Body, []byte(s)) {
			t.Fatalf("response reveals secret %q: %s", s, r.Body)
		}
	}
	if bytes.Contains(r.Body, []byte("signingSecret")) {
		t.Fatalf("response carries a signingSecret: %s", r.Body)
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestOutputConnectors(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")

		// Defaults: scope DATA_FLOW, POST, application/json, authType NONE.
		plain := h.newWebhookConnector(t, ws, "plain", map[string]any{"uri": "https://hooks.example.com/in"})
		p := plain.WebhookProperties
		if !strings.HasPrefix(plain.Id, "09") || plain.Scope != gen.OutputConnectorScopeDATAFLOW || plain.Type != gen.OutputConnectorTypeWEBHOOK ||
			plain.WorkspaceId != ws || plain.Version != 1 || p.Uri != "https://hooks.example.com/in" || *p.Method != "POST" ||
			*p.ContentType != "application/json" || *p.AuthType != "NONE" || p.Headers == nil || len(*p.Headers) != 0 ||
			p.BearerToken != nil || p.BasicCredentials != nil || p.AuthHeaders != nil {
			t.Fatalf("defaults %+v", plain)
		}
		if plain.SigningSecret == nil || !hex64.MatchString(*plain.SigningSecret) {
			t.Fatalf("signing secret %v", plain.SigningSecret)
		}
		stored, row := h.openSealedConnector(t, plain.Id)
		if stored.SigningSecret != *plain.SigningSecret || stored.AuthType != "NONE" || stored.Method != "POST" || row.OrganizationID != org {
			t.Fatalf("stored %+v", stored)
		}

		// Each auth type: secrets masked in every response, sealed in the store.
		bearer := h.newWebhookConnector(t, ws, "bearer", map[string]any{"uri": "http://10.0.0.1:8080/hook?x=1", "authType": "BEARER",
			"bearerToken": "bearer-secret-1", "method": "PUT", "headers": map[string]any{"X-Plain": "visible"}})
		basic := h.newWebhookConnector(t, ws, "basic", map[string]any{"uri": "https://hooks.example.com/b", "authType": "BASIC",
			"basicCredentials": map[string]any{"username": "alice", "password": "basic-secret-1"}})
		header := h.newWebhookConnector(t, ws, "header", map[string]any{"uri": "https://hooks.example.com/h", "authType": "HEADER",
			"authHeaders": map[string]any{"X-Api-Key": "header-secret-1", "X-Other": "header-secret-2"}})
		secrets := []string{"bearer-secret-1", "basic-secret-1", "header-secret-1", "header-secret-2", *plain.SigningSecret,
			*bearer.SigningSecret, *basic.SigningSecret, *header.SigningSecret}
		if *bearer.WebhookProperties.BearerToken != "********" || *bearer.WebhookProperties.Method != "PUT" ||
			(*bearer.WebhookProperties.Headers)["X-Plain"] != "visible" {
			t.Fatalf("bearer %+v", bearer.WebhookProperties)
		}
		if bc := basic.WebhookProperties.BasicCredentials; bc == nil || bc.Username != "alice" || bc.Password != "********" {
			t.Fatalf("basic %+v", basic.WebhookProperties)
		}
		if ah := header.WebhookProperties.AuthHeaders; ah == nil || len(*ah) != 2 || (*ah)["X-Api-Key"] != "********" || (*ah)["X-Other"] != "********" {
			t.Fatalf("header %+v", header.WebhookProperties)
		}
		for _, c := range []gen.OutputConnector{plain, bearer, basic, header} {
			wantNoSecrets(t, h.do(t, req{method: "GET", path: "/v3/output-connectors/" + c.Id}).want(200), secrets...)
		}
		wantNoSecrets(t, h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws}).want(200), secrets...)
		w, row := h.openSealedConnector(t, bearer.Id)
		if w.BearerToken != "bearer-secret-1" || w.SigningSecret != *bearer.SigningSecret || w.Headers["X-Plain"] != "visible" || w.Method != "PUT" {
			t.Fatalf("bearer stored %+v", w)
		}
		if strings.Contains(row.Properties, "bearer-secret-1") || bytes.Contains(row.SecretsSealed, []byte("bearer-secret-1")) {
			t.Fatalf("bearer token stored in the clear: %s", row.Properties)
		}
		if w, _ = h.openSealedConnector(t, basic.Id); w.BasicUser != "alice" || w.BasicPassword != "basic-secret-1" {
			t.Fatalf("basic stored %+v", w)
		}
		w, row = h.openSealedConnector(t, header.Id)
		if w.AuthHeaders["X-Api-Key"] != "header-secret-1" || w.AuthHeaders["X-Other"] != "header-secret-2" || strings.Contains(row.Properties, "header-secret") {
			t.Fatalf("header stored %+v (properties %s)", w, row.Properties)
		}
		// The sealed secrets are bound to their connector: copied onto another, they do not open.
		sealer, _ := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize))
		moved := *row
		moved.ID = bearer.Id
		if _, err := connector.Open(sealer, &moved); err == nil {
			t.Fatal("secrets opened under another connector's id")
		}

		// Rejected bodies.
		hookOf := func(props map[string]any) map[string]any {
			return map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": props}
		}
		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
			member string
		}{
			{"relative uri", hookOf(map[string]any{"uri": "/hook"}), 400, "/webhookProperties/uri"},
			{"ftp uri", hookOf(map[string]any{"uri": "ftp://example.com/hook"}), 400, "/webhookProperties/uri"},
			{"no host", hookOf(map[string]any{"uri": "http:///hook"}), 400, "/webhookProperties/uri"},
			{"opaque uri", hookOf(map[string]any{"uri": "mailto:a@example.com"}), 400, "/webhookProperties/uri"},
			{"bearer without token", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER"}), 400, "/webhookProperties/bearerToken"},
			{"bearer with empty token", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": ""}), 400, "/webhookProperties/bearerToken"},
			{"bearer masked on create", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "********"}), 400, "/webhookProperties/bearerToken"},
			{"basic without credentials", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BASIC"}), 400, "/webhookProperties/basicCredentials"},
			{"basic user with colon", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BASIC",
				"basicCredentials": map[string]any{"username": "a:b", "password": "p"}}), 400, "/webhookProperties/basicCredentials/username"},
			{"header without headers", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER"}), 400, "/webhookProperties/authHeaders"},
			{"header with no entries", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{}}), 400, "/webhookProperties/authHeaders"},
			{"header masked on create", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{"X-Key": "********"}}), 400, "/webhookProperties/authHeaders/X-Key"},
			{"bad header name", hookOf(map[string]any{"uri": "https://h.example/", "headers": map[string]any{"Bad Name": "v"}}), 400, "/webhookProperties/headers/Bad Name"},
			{"header value with newline", hookOf(map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\r\nX-B: w"}}), 400, "/webhookProperties/headers/X-A"},
			{"reserved header", hookOf(map[string]any{"uri": "https://h.example/", "headers": map[string]any{"x-keyplane-signature": "v"}}), 400, "/webhookProperties/headers/x-keyplane-signature"},
			{"authorization with bearer", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "t",
				"headers": map[string]any{"authorization": "v"}}), 400, "/webhookProperties/headers/authorization"},
			{"header twice", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER", "headers": map[string]any{"X-Key": "a"},
				"authHeaders": map[string]any{"x-key": "b"}}), 400, "/webhookProperties/authHeaders/x-key"},
			{"unknown type", map[string]any{"name": "x", "type": "MQTT", "workspaceId": ws, "webhookProperties": map[string]any{"uri": "https://h.example/"}}, 400, ""},
			{"unknown auth type", hookOf(map[string]any{"uri": "https://h.example/", "authType": "OAUTH"}), 400, ""},
			{"no name", map[string]any{"type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{"uri": "https://h.example/"}}, 400, ""},
			{"unknown workspace", map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": "29ffffffffffffff", "webhookProperties": map[string]any{"uri": "https://h.example/"}}, 404, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := h.do(t, req{method: "POST", path: "/v3/output-connectors", body: c.body}).want(c.status)
				if c.member != "" {
					wantMember(t, r, c.member)
				}
			})
		}
		// Secrets of other auth types are not kept.
		extra := h.newWebhookConnector(t, ws, "extra", map[string]any{"uri": "https://h.example/", "bearerToken": "ignored-secret"})
		if w, _ := h.openSealedConnector(t, extra.Id); w.BearerToken != "" || extra.WebhookProperties.BearerToken != nil {
			t.Fatalf("NONE connector kept a bearer token: %+v", w)
		}

		// Update: "********" keeps a secret, a new value replaces it; the signing secret stays.
		path := "/v3/output-connectors/" + bearer.Id
		update := func(props map[string]any, version any) map[string]any {
			b := map[string]any{"name": "bearer 2", "type": "WEBHOOK", "scope": "RULE_ACTION", "workspaceId": ws, "webhookProperties": props}
			if version != nil {
				b["version"] = version
			}
			return b
		}
		var got gen.OutputConnector
		r := h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "https://new.example/hook", "authType": "BEARER", "bearerToken": "********"}, 1)}).want(200)
		wantNoSecrets(t, r, secrets...)
		r.decode(&got)
		if got.Version != 2 || got.Name != "bearer 2" || got.Scope != gen.OutputConnectorScopeRULEACTION || got.WebhookProperties.Uri != "https://new.example/hook" ||
			*got.WebhookProperties.Method != "POST" || len(*got.WebhookProperties.Headers) != 0 || *got.WebhookProperties.BearerToken != "********" {
			t.Fatalf("updated %+v", got)
		}
		if w, _ := h.openSealedConnector(t, bearer.Id); w.BearerToken != "bearer-secret-1" || w.SigningSecret != *bearer.SigningSecret || w.URI != "https://new.example/hook" {
			t.Fatalf("masked update lost the token: %+v", w)
		}
		h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "https://new.example/hook", "authType": "BEARER", "bearerToken": "bearer-secret-2"}, nil)}).want(200).decode(zeroFirst(&got))
		if w, _ := h.openSealedConnector(t, bearer.Id); w.BearerToken != "bearer-secret-2" || w.SigningSecret != *bearer.SigningSecret || got.Version != 3 {
			t.Fatalf("new token not stored: %+v", w)
		}
		// Stale version, another workspace, another auth type's mask, unknown connector.
		h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "https://h.example/"}, 1)}).want(409)
		moveBody := update(map[string]any{"uri": "https://h.example/"}, nil)
		moveBody["workspaceId"] = other
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: moveBody}), "/workspaceId")
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "https://h.example/", "authType": "HEADER",
			"authHeaders": map[string]any{"X-Api-Key": "********"}}, nil)}), "/webhookProperties/authHeaders/X-Api-Key")
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "nope"}, nil)}), "/webhookProperties/uri")
		h.do(t, req{method: "PUT", path: "/v3/output-connectors/09ffffffffffffff", body: update(map[string]any{"uri": "https://h.example/"}, nil)}).want(404)

		// Auth headers: a masked one keeps its value, a new one is added, an absent one goes.
		hp := "/v3/output-connectors/" + header.Id
		r = h.do(t, req{method: "PUT", path: hp, body: map[string]any{"name": "header", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{
			"uri": "https://hooks.example.com/h", "authType": "HEADER", "authHeaders": map[string]any{"X-Api-Key": "********", "X-New": "header-secret-3"}}}}).want(200)
		wantNoSecrets(t, r, append(secrets, "header-secret-3")...)
		if w, _ := h.openSealedConnector(t, header.Id); len(w.AuthHeaders) != 2 || w.AuthHeaders["X-Api-Key"] != "header-secret-1" || w.AuthHeaders["X-New"] != "header-secret-3" {
			t.Fatalf("auth headers %+v", w.AuthHeaders)
		}
		// Basic: the username changes, the masked password stays.
		bp := "/v3/output-connectors/" + basic.Id
		h.do(t, req{method: "PUT", path: bp, body: map[string]any{"name": "basic", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{
			"uri": "https://hooks.example.com/b", "authType": "BASIC", "basicCredentials": map[string]any{"username": "bob", "password": "********"}}}}).want(200)
		if w, _ := h.openSealedConnector(t, basic.Id); w.BasicUser != "bob" || w.BasicPassword != "basic-secret-1" {
			t.Fatalf("basic after update %+v", w)
		}
		// Switching to NONE drops the secrets; switching back needs them again.
		h.do(t, req{method: "PUT", path: bp, body: map[string]any{"name": "basic", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{
			"uri": "https://hooks.example.com/b", "basicCredentials": map[string]any{"username": "bob", "password": "********"}}}}).want(200)
		if w, _ := h.openSealedConnector(t, basic.Id); w.BasicPassword != "" || w.SigningSecret != *basic.SigningSecret {
			t.Fatalf("NONE kept the password: %+v", w)
		}
		wantMember(t, h.do(t, req{method: "PUT", path: bp, body: map[string]any{"name": "basic", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{
			"uri": "https://hooks.example.com/b", "authType": "BASIC", "basicCredentials": map[string]any{"username": "bob", "password": "********"}}}}),
			"/webhookProperties/basicCredentials/password")

		// Lists: Spring pages, sort, search; an unknown workspace lists nothing for root.
		var page gen.OutputConnectorPage
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws + "&sort=name,desc&size=2"}).want(200).decode(zeroFirst(&page))
		if page.TotalElements != 5 || page.TotalPages != 3 || len(page.Content) != 2 || page.Content[0].Name != "plain" || page.Content[1].Name != "header" {
			t.Fatalf("page %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws + "&search=BAS"}).want(200).decode(zeroFirst(&page))
		if page.TotalElements != 1 || page.Content[0].Id != basic.Id || page.Content[0].SigningSecret != nil {
			t.Fatalf("search %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + other}).want(200).decode(zeroFirst(&page))
		if !page.Empty || page.TotalElements != 0 {
			t.Fatalf("other workspace %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=29ffffffffffffff"}).want(200)
		for _, bad := range []string{"", "workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&sort=uri"} {
			h.do(t, req{method: "GET", path: "/v3/output-connectors?" + bad}).want(400)
		}
		h.do(t, req{method: "GET", path: "/v3/output-connectors/09ffffffffffffff"}).want(404)
		h.do(t, req{method: "GET", path: "/v3/output-connectors/not-an-id"}).want(400)

		// Delete: its deliveries go with it.
		h.insertDelivery(t, plain.Id)
		h.do(t, req{method: "DELETE", path: "/v3/output-connectors/" + plain.Id}).want(204)
		h.do(t, req{method: "GET", path: "/v3/output-connectors/" + plain.Id}).want(404)
		h.do(t, req{method: "DELETE", path: "/v3/output-connectors/" + plain.Id}).want(404)
		if n := h.countDeliveries(t, plain.Id); n != 0 {
			t.Fatalf("%d deliveries outlived their connector", n)
		}

		wantAudit(t, h, "create:outputConnector", "update:outputConnector", "delete:outputConnector")
	})
}

// insertDelivery writes a pending delivery to the connector straight in the
// database (the outbox is another file's).
func (h *harness) insertDelivery(t testing.TB, connectorID string) {
	t.Helper()
	storetest.Exec(t, h.st, "INSERT INTO deliveries (id, connector_id, sample_id, device_id, payload, status, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		"d-"+connectorID, connectorID, "s", "02aaaaaaaaaaaaaa", "{}", "PENDING", 0, time.Now().UTC())
	if n := h.countDeliveries(t, connectorID); n != 1 {
		t.Fatalf("%d deliveries inserted", n)
	}
}

func (h *harness) countDeliveries(t testing.TB, connectorID string) int {
	t.Helper()
	return int(storetest.QueryInt(t, h.st, "SELECT COUNT(*) FROM deliveries WHERE connector_id = ?", connectorID))
}

func TestOutputConnectorPermissions(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")
		c := h.newWebhookConnector(t, ws, "hook", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "perm-secret"})
		path := "/v3/output-connectors/" + c.Id
		body := map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{"uri": "https://h.example/"}}

		// A viewer reads (masked) but changes nothing.
		viewer := h.user(t, "viewer")
		h.member(t, org, viewer.Id, "VIEWER")
		vtok := h.login(t, "viewer").TokenId
		wantNoSecrets(t, h.do(t, req{method: "GET", path: path, bearer: vtok}).want(200), "perm-secret", *c.SigningSecret)
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws, bearer: vtok}).want(200)
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=29ffffffffffffff", bearer: vtok}).want(403)
		h.do(t, req{method: "POST", path: "/v3/output-connectors", bearer: vtok, body: body}).want(403)
		h.do(t, req{method: "PUT", path: path, bearer: vtok, body: body}).want(403)
		h.do(t, req{method: "DELETE", path: path, bearer: vtok}).want(403)

		// Keys: OUTPUT_CONNECTOR rights in one workspace; other scopes reach nothing.
		key := func(scope string, verbs []string, ws string) string {
			return *h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true, "permissions": []any{
				map[string]any{"scope": scope, "verbs": verbs, "workspaceIds": []string{ws}}}}).ClientSecret
		}
		dataKey := key("DATA", []string{"READ", "CREATE", "UPDATE", "DELETE"}, ws)
		h.do(t, req{method: "GET", path: path, apiKey: dataKey}).want(403)
		h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws, apiKey: dataKey}).want(403)
		h.do(t, req{method: "POST", path: "/v3/output-connectors", apiKey: dataKey, body: body}).want(403)
		reader := key("OUTPUT_CONNECTOR", []string{"READ"}, ws)
		h.do(t, req{method: "GET", path: path, apiKey: reader}).want(200)
		h.do(t, req{method: "POST", path: "/v3/output-connectors", apiKey: reader, body: body}).want(403)
		elsewhere := key("OUTPUT_CONNECTOR", []string{"READ", "CREATE", "UPDATE", "DELETE"}, other)
		h.do(t, req{method: "GET", path: path, apiKey: elsewhere}).want(403)
		h.do(t, req{method: "POST", path: "/v3/output-connectors", apiKey: elsewhere, body: body}).want(403)
		h.do(t, req{method: "DELETE", path: path, apiKey: elsewhere}).want(403)
		writer := key("OUTPUT_CONNECTOR", []string{"READ", "CREATE", "UPDATE", "DELETE"}, ws)
		var made gen.OutputConnector
		h.do(t, req{method: "POST", path: "/v3/output-connectors", apiKey: writer, body: body}).want(201).decode(&made)
		h.do(t, req{method: "PUT", path: "/v3/output-connectors/" + made.Id, apiKey: writer, body: body}).want(200)
		h.do(t, req{method: "DELETE", path: "/v3/output-connectors/" + made.Id, apiKey: writer}).want(204)
		h.do(t, req{method: "GET", path: path, anonymous: true}).want(401)
	})
}
