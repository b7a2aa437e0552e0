package server_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/connector"
	"github.com/keyplane/keyplane/gen"
)

// TestOutputConnectors: webhook connectors' defaults; their secrets are
// masked in every response and sealed in the store, bound to their
// connector; lists; a connector's deliveries go with it.
func TestOutputConnectors(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		hooks := h.newSecretHooks(t, ws)
		plain, bearer, basic, header, secrets := hooks.plain, hooks.bearer, hooks.basic, hooks.header, hooks.secrets

		step(t, "defaults: scope DATA_FLOW, POST, application/json, authType NONE", func(t *testing.T) {
			p := plain.WebhookProperties
			wantFields(t, "created", holds("id", strings.HasPrefix(plain.Id, "09"), plain.Id, "prefix 09"), eq("scope", plain.Scope, gen.OutputConnectorScopeDATAFLOW),
				eq("type", plain.Type, gen.OutputConnectorTypeWEBHOOK), eq("workspaceId", plain.WorkspaceId, ws), eq("version", plain.Version, 1),
				eq("webhookProperties.uri", p.Uri, "https://hooks.example.com/in"), ptrEq("webhookProperties.method", p.Method, "POST"),
				ptrEq("webhookProperties.contentType", p.ContentType, "application/json"), ptrEq("webhookProperties.authType", p.AuthType, "NONE"),
				deepEq("webhookProperties.headers", p.Headers, &map[string]string{}), eq("webhookProperties.bearerToken", p.BearerToken, nil),
				eq("webhookProperties.basicCredentials", p.BasicCredentials, nil), eq("webhookProperties.authHeaders", p.AuthHeaders, nil),
				holds("signingSecret", plain.SigningSecret != nil && hex64.MatchString(*plain.SigningSecret), plain.SigningSecret, "64 hex digits"))
			stored, row := h.openSealedConnector(t, plain.Id)
			wantFields(t, "stored", eq("signingSecret", stored.SigningSecret, *plain.SigningSecret), eq("authType", stored.AuthType, "NONE"),
				eq("method", stored.Method, "POST"), eq("organizationId", row.OrganizationID, org))
		})

		step(t, "each auth type: secrets masked in every response, sealed in the store", func(t *testing.T) {
			wantFields(t, "bearer", ptrEq("bearerToken", bearer.WebhookProperties.BearerToken, "********"), ptrEq("method", bearer.WebhookProperties.Method, "PUT"),
				eq("headers.X-Plain", deref(bearer.WebhookProperties.Headers)["X-Plain"], "visible"))
			bc := deref(basic.WebhookProperties.BasicCredentials)
			wantFields(t, "basic", holds("basicCredentials", basic.WebhookProperties.BasicCredentials != nil, nil, "present"),
				eq("basicCredentials.username", bc.Username, "alice"), eq("basicCredentials.password", bc.Password, "********"))
			wantFields(t, "header", deepEq("authHeaders", header.WebhookProperties.AuthHeaders, &map[string]string{"X-Api-Key": "********", "X-Other": "********"}))
			for _, c := range []gen.OutputConnector{plain, bearer, basic, header} {
				wantNoSecrets(t, h.do(t, req{method: "GET", path: "/v3/output-connectors/" + c.Id}).want(200), secrets...)
			}
			wantNoSecrets(t, h.do(t, req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws}).want(200), secrets...)

			w, row := h.openSealedConnector(t, bearer.Id)
			wantFields(t, "bearer stored", eq("bearerToken", w.BearerToken, "bearer-secret-1"), eq("signingSecret", w.SigningSecret, *bearer.SigningSecret),
				eq("headers.X-Plain", w.Headers["X-Plain"], "visible"), eq("method", w.Method, "PUT"),
				holds("properties", !strings.Contains(row.Properties, "bearer-secret-1"), row.Properties, "without the token"),
				holds("sealed secrets", !bytes.Contains(row.SecretsSealed, []byte("bearer-secret-1")), row.SecretsSealed, "without the token in the clear"))
			w, _ = h.openSealedConnector(t, basic.Id)
			wantFields(t, "basic stored", eq("basicUser", w.BasicUser, "alice"), eq("basicPassword", w.BasicPassword, "basic-secret-1"))
			w, row = h.openSealedConnector(t, header.Id)
			wantFields(t, "header stored", eq("authHeaders.X-Api-Key", w.AuthHeaders["X-Api-Key"], "header-secret-1"),
				eq("authHeaders.X-Other", w.AuthHeaders["X-Other"], "header-secret-2"),
				holds("properties", !strings.Contains(row.Properties, "header-secret"), row.Properties, "without the secrets"))
			// The sealed secrets are bound to their connector: copied onto another, they do not open.
			moved := *row
			moved.ID = bearer.Id
			if _, err := connector.Open(harnessSealer(t), &moved); err == nil {
				t.Fatal("secrets opened under another connector's id")
			}
		})

		step(t, "the secrets of other auth types are not kept", func(t *testing.T) {
			extra := h.newWebhookConnector(t, ws, "extra", map[string]any{"uri": "https://h.example/", "bearerToken": "ignored-secret"})
			w, _ := h.openSealedConnector(t, extra.Id)
			wantFields(t, "a NONE connector given a bearer token", eq("stored bearerToken", w.BearerToken, ""),
				eq("webhookProperties.bearerToken", extra.WebhookProperties.BearerToken, nil))
		})

		step(t, "list: pages, sort, search; an unknown workspace lists nothing for root", func(t *testing.T) {
			list := func(query string) gen.OutputConnectorPage {
				t.Helper()
				var page gen.OutputConnectorPage
				h.do(t, req{method: "GET", path: "/v3/output-connectors?" + query}).want(200).decode(&page)
				return page
			}
			page := list("workspaceId=" + ws + "&sort=name,desc&size=2")
			wantFields(t, "by name, descending", eq("totalElements", page.TotalElements, 5), eq("totalPages", page.TotalPages, 3),
				eq("len(content)", len(page.Content), 2), eq("content[0].name", nth(page.Content, 0).Name, "plain"),
				eq("content[1].name", nth(page.Content, 1).Name, "header"))
			page = list("workspaceId=" + ws + "&search=BAS")
			wantFields(t, "search", eq("totalElements", page.TotalElements, 1), eq("content[0].id", nth(page.Content, 0).Id, basic.Id),
				eq("content[0].signingSecret", nth(page.Content, 0).SigningSecret, nil))
			page = list("workspaceId=" + other)
			wantFields(t, "another workspace", eq("empty", page.Empty, true), eq("totalElements", page.TotalElements, 0))
			list("workspaceId=29ffffffffffffff")
			for _, bad := range []string{"", "workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&sort=uri"} {
				h.do(t, req{method: "GET", path: "/v3/output-connectors?" + bad}).want(400)
			}
			h.do(t, req{method: "GET", path: "/v3/output-connectors/09ffffffffffffff"}).want(404)
			h.do(t, req{method: "GET", path: "/v3/output-connectors/not-an-id"}).want(400)
		})

		step(t, "delete: its deliveries go with it", func(t *testing.T) {
			h.insertDelivery(t, plain.Id)
			h.wantDeleted(t, "/v3/output-connectors/"+plain.Id)
			if n := h.countDeliveries(t, plain.Id); n != 0 {
				t.Fatalf("%d deliveries outlived their connector", n)
			}
		})

		wantAudit(t, h, "create:outputConnector", "delete:outputConnector")
	})
}

// TestOutputConnectorsRefused: the webhook connectors that are not created.
func TestOutputConnectorsRefused(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		_, ws, _ := h.twoWorkspaces(t)
		hookOf := func(props map[string]any) map[string]any {
			return map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": props}
		}
		h.wantRefused(t, "POST", "/v3/output-connectors",
			refusal{"relative uri", hookOf(map[string]any{"uri": "/hook"}), 400, "/webhookProperties/uri"},
			refusal{"ftp uri", hookOf(map[string]any{"uri": "ftp://example.com/hook"}), 400, "/webhookProperties/uri"},
			refusal{"no host", hookOf(map[string]any{"uri": "http:///hook"}), 400, "/webhookProperties/uri"},
			refusal{"opaque uri", hookOf(map[string]any{"uri": "mailto:a@example.com"}), 400, "/webhookProperties/uri"},
			refusal{"bearer without token", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER"}), 400, "/webhookProperties/bearerToken"},
			refusal{"bearer with empty token", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": ""}), 400, "/webhookProperties/bearerToken"},
			refusal{"bearer masked on create", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "********"}), 400, "/webhookProperties/bearerToken"},
			refusal{"basic without credentials", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BASIC"}), 400, "/webhookProperties/basicCredentials"},
			refusal{"basic user with colon", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BASIC",
				"basicCredentials": map[string]any{"username": "a:b", "password": "p"}}), 400, "/webhookProperties/basicCredentials/username"},
			refusal{"header without headers", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER"}), 400, "/webhookProperties/authHeaders"},
			refusal{"header with no entries", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{}}), 400, "/webhookProperties/authHeaders"},
			refusal{"header masked on create", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER", "authHeaders": map[string]any{"X-Key": "********"}}), 400, "/webhookProperties/authHeaders/X-Key"},
			refusal{"bad header name", hookOf(map[string]any{"uri": "https://h.example/", "headers": map[string]any{"Bad Name": "v"}}), 400, "/webhookProperties/headers/Bad Name"},
			refusal{"header value with newline", hookOf(map[string]any{"uri": "https://h.example/", "headers": map[string]any{"X-A": "v\r\nX-B: w"}}), 400, "/webhookProperties/headers/X-A"},
			refusal{"reserved header", hookOf(map[string]any{"uri": "https://h.example/", "headers": map[string]any{"x-keyplane-signature": "v"}}), 400, "/webhookProperties/headers/x-keyplane-signature"},
			refusal{"authorization with bearer", hookOf(map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "t",
				"headers": map[string]any{"authorization": "v"}}), 400, "/webhookProperties/headers/authorization"},
			refusal{"header twice", hookOf(map[string]any{"uri": "https://h.example/", "authType": "HEADER", "headers": map[string]any{"X-Key": "a"},
				"authHeaders": map[string]any{"x-key": "b"}}), 400, "/webhookProperties/authHeaders/x-key"},
			refusal{"unknown type", map[string]any{"name": "x", "type": "MQTT", "workspaceId": ws, "webhookProperties": map[string]any{"uri": "https://h.example/"}}, 400, ""},
			refusal{"unknown auth type", hookOf(map[string]any{"uri": "https://h.example/", "authType": "OAUTH"}), 400, ""},
			refusal{"no name", map[string]any{"type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{"uri": "https://h.example/"}}, 400, ""},
			refusal{"unknown workspace", map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": "29ffffffffffffff", "webhookProperties": map[string]any{"uri": "https://h.example/"}}, 404, ""},
		)
	})
}

// TestOutputConnectorUpdates: "********" keeps a secret, a new value
// replaces it, an absent one goes; the signing secret stays; the workspace
// stays.
func TestOutputConnectorUpdates(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		_, ws, other := h.twoWorkspaces(t)
		hooks := h.newSecretHooks(t, ws)
		bearer, basic, header, secrets := hooks.bearer, hooks.basic, hooks.header, hooks.secrets

		path := "/v3/output-connectors/" + bearer.Id
		update := func(props map[string]any, version any) map[string]any {
			b := map[string]any{"name": "bearer 2", "type": "WEBHOOK", "scope": "RULE_ACTION", "workspaceId": ws, "webhookProperties": props}
			if version != nil {
				b["version"] = version
			}
			return b
		}
		step(t, `update: "********" keeps a secret, a new value replaces it; the signing secret stays`, func(t *testing.T) {
			var got gen.OutputConnector
			r := h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "https://new.example/hook", "authType": "BEARER", "bearerToken": "********"}, 1)}).want(200)
			wantNoSecrets(t, r, secrets...)
			r.decode(&got)
			wp := got.WebhookProperties
			wantFields(t, "updated", eq("version", got.Version, 2), eq("name", got.Name, "bearer 2"), eq("scope", got.Scope, gen.OutputConnectorScopeRULEACTION),
				eq("webhookProperties.uri", wp.Uri, "https://new.example/hook"), ptrEq("webhookProperties.method", wp.Method, "POST"),
				eq("len(webhookProperties.headers)", len(deref(wp.Headers)), 0), ptrEq("webhookProperties.bearerToken", wp.BearerToken, "********"))
			w, _ := h.openSealedConnector(t, bearer.Id)
			wantFields(t, "stored after a masked update", eq("bearerToken", w.BearerToken, "bearer-secret-1"),
				eq("signingSecret", w.SigningSecret, *bearer.SigningSecret), eq("uri", w.URI, "https://new.example/hook"))
			got = gen.OutputConnector{}
			h.do(t, req{method: "PUT", path: path, body: update(map[string]any{"uri": "https://new.example/hook", "authType": "BEARER", "bearerToken": "bearer-secret-2"}, nil)}).
				want(200).decode(&got)
			w, _ = h.openSealedConnector(t, bearer.Id)
			wantFields(t, "after a new token", eq("version", got.Version, 3), eq("stored bearerToken", w.BearerToken, "bearer-secret-2"),
				eq("stored signingSecret", w.SigningSecret, *bearer.SigningSecret))
		})

		moveBody := update(map[string]any{"uri": "https://h.example/"}, nil)
		moveBody["workspaceId"] = other
		h.wantRefused(t, "PUT", path,
			refusal{"stale version", update(map[string]any{"uri": "https://h.example/"}, 1), 409, ""},
			refusal{"another workspace", moveBody, 400, "/workspaceId"},
			refusal{"another auth type's mask", update(map[string]any{"uri": "https://h.example/", "authType": "HEADER",
				"authHeaders": map[string]any{"X-Api-Key": "********"}}, nil), 400, "/webhookProperties/authHeaders/X-Api-Key"},
			refusal{"bad uri", update(map[string]any{"uri": "nope"}, nil), 400, "/webhookProperties/uri"},
		)
		h.wantRefused(t, "PUT", "/v3/output-connectors/09ffffffffffffff",
			refusal{"unknown connector", update(map[string]any{"uri": "https://h.example/"}, nil), 404, ""})

		step(t, "auth headers: a masked one keeps its value, a new one is added, an absent one goes", func(t *testing.T) {
			r := h.do(t, req{method: "PUT", path: "/v3/output-connectors/" + header.Id, body: map[string]any{"name": "header", "type": "WEBHOOK", "workspaceId": ws,
				"webhookProperties": map[string]any{"uri": "https://hooks.example.com/h", "authType": "HEADER",
					"authHeaders": map[string]any{"X-Api-Key": "********", "X-New": "header-secret-3"}}}}).want(200)
			wantNoSecrets(t, r, append(secrets, "header-secret-3")...)
			w, _ := h.openSealedConnector(t, header.Id)
			wantFields(t, "stored", deepEq("authHeaders", w.AuthHeaders, map[string]string{"X-Api-Key": "header-secret-1", "X-New": "header-secret-3"}))
		})

		bp := "/v3/output-connectors/" + basic.Id
		basicBody := func(props map[string]any) map[string]any {
			return map[string]any{"name": "basic", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": props}
		}
		step(t, "basic: the username changes, the masked password stays", func(t *testing.T) {
			h.do(t, req{method: "PUT", path: bp, body: basicBody(map[string]any{"uri": "https://hooks.example.com/b", "authType": "BASIC",
				"basicCredentials": map[string]any{"username": "bob", "password": "********"}})}).want(200)
			w, _ := h.openSealedConnector(t, basic.Id)
			wantFields(t, "stored", eq("basicUser", w.BasicUser, "bob"), eq("basicPassword", w.BasicPassword, "basic-secret-1"))
		})
		step(t, "switching to NONE drops the secrets; switching back needs them again", func(t *testing.T) {
			h.do(t, req{method: "PUT", path: bp, body: basicBody(map[string]any{"uri": "https://hooks.example.com/b",
				"basicCredentials": map[string]any{"username": "bob", "password": "********"}})}).want(200)
			w, _ := h.openSealedConnector(t, basic.Id)
			wantFields(t, "stored", eq("basicPassword", w.BasicPassword, ""), eq("signingSecret", w.SigningSecret, *basic.SigningSecret))
			wantMembers(t, h.do(t, req{method: "PUT", path: bp, body: basicBody(map[string]any{"uri": "https://hooks.example.com/b", "authType": "BASIC",
				"basicCredentials": map[string]any{"username": "bob", "password": "********"}})}), "/webhookProperties/basicCredentials/password")
		})

		wantAudit(t, h, "update:outputConnector")
	})
}

// TestOutputConnectorPermissions: a viewer reads connectors, masked; keys
// need OUTPUT_CONNECTOR rights in the connector's workspace.
func TestOutputConnectorPermissions(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		c := h.newWebhookConnector(t, ws, "hook", map[string]any{"uri": "https://h.example/", "authType": "BEARER", "bearerToken": "perm-secret"})
		path := "/v3/output-connectors/" + c.Id
		body := map[string]any{"name": "x", "type": "WEBHOOK", "workspaceId": ws, "webhookProperties": map[string]any{"uri": "https://h.example/"}}

		vtok := h.signIn(t, org, "viewer", "VIEWER", nil)
		t.Run("a viewer reads masked", func(t *testing.T) {
			wantNoSecrets(t, h.do(t, req{method: "GET", path: path, bearer: vtok}).want(200), "perm-secret", *c.SigningSecret)
		})
		all := []string{"READ", "CREATE", "UPDATE", "DELETE"}
		dataKey := h.apiKey(t, org, "DATA", all, ws)
		reader := h.apiKey(t, org, "OUTPUT_CONNECTOR", []string{"READ"}, ws)
		elsewhere := h.apiKey(t, org, "OUTPUT_CONNECTOR", all, other)
		h.wantAccess(t,
			access{"viewer lists", req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws, bearer: vtok}, 200},
			access{"viewer lists an unknown workspace", req{method: "GET", path: "/v3/output-connectors?workspaceId=29ffffffffffffff", bearer: vtok}, 403},
			access{"viewer creates", req{method: "POST", path: "/v3/output-connectors", bearer: vtok, body: body}, 403},
			access{"viewer updates", req{method: "PUT", path: path, bearer: vtok, body: body}, 403},
			access{"viewer deletes", req{method: "DELETE", path: path, bearer: vtok}, 403},
			// Other scopes reach nothing.
			access{"DATA key reads", req{method: "GET", path: path, apiKey: dataKey}, 403},
			access{"DATA key lists", req{method: "GET", path: "/v3/output-connectors?workspaceId=" + ws, apiKey: dataKey}, 403},
			access{"DATA key creates", req{method: "POST", path: "/v3/output-connectors", apiKey: dataKey, body: body}, 403},
			access{"reader reads", req{method: "GET", path: path, apiKey: reader}, 200},
			access{"reader creates", req{method: "POST", path: "/v3/output-connectors", apiKey: reader, body: body}, 403},
			access{"key of another workspace reads", req{method: "GET", path: path, apiKey: elsewhere}, 403},
			access{"key of another workspace creates", req{method: "POST", path: "/v3/output-connectors", apiKey: elsewhere, body: body}, 403},
			access{"key of another workspace deletes", req{method: "DELETE", path: path, apiKey: elsewhere}, 403},
			access{"anonymous reads", req{method: "GET", path: path, anonymous: true}, 401},
		)
		step(t, "a writer creates, updates and deletes", func(t *testing.T) {
			writer := h.apiKey(t, org, "OUTPUT_CONNECTOR", all, ws)
			var made gen.OutputConnector
			h.do(t, req{method: "POST", path: "/v3/output-connectors", apiKey: writer, body: body}).want(201).decode(&made)
			h.do(t, req{method: "PUT", path: "/v3/output-connectors/" + made.Id, apiKey: writer, body: body}).want(200)
			h.do(t, req{method: "DELETE", path: "/v3/output-connectors/" + made.Id, apiKey: writer}).want(204)
		})
	})
}
