package server_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/server"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// verifyEnv is the world of the verification tests: the organization acme
// (workspaces main and other) with a service key holding KEY:VERIFY and
// keys to verify in every state, and the organization globex with a key of
// its own and a service key of its own.
type verifyEnv struct {
	org, ws, other, globex string
	service                gen.ApiKey // KEY:VERIFY in acme
	globexService          gen.ApiKey // KEY:VERIFY in globex
	reader                 gen.ApiKey // acme: ASSET:READ in workspace main
	disabled               gen.ApiKey
	expired                gen.ApiKey
	stranger               gen.ApiKey // globex: ASSET:READ
	platform               gen.ApiKey // no organization
}

func newVerifyEnv(t testing.TB, h *harness) *verifyEnv {
	t.Helper()
	e := &verifyEnv{}
	e.org, e.ws, e.other = h.twoWorkspaces(t)
	e.globex = h.org(t, "globex")
	verify := []any{map[string]any{"scope": "KEY", "verbs": []string{"VERIFY"}}}
	readMain := []any{map[string]any{"scope": "ASSET", "verbs": []string{"READ"}, "workspaceIds": []string{e.ws}}}
	key := func(name, org string, perms []any, extra map[string]any) gen.ApiKey {
		in := map[string]any{"name": name, "isActive": true, "permissions": perms}
		if org != "" {
			in["organizationId"] = org
		}
		for k, v := range extra {
			in[k] = v
		}
		return h.create(t, in)
	}
	e.service = key("orders service", e.org, verify, nil)
	e.globexService = key("globex service", e.globex, verify, nil)
	e.reader = key("reader", e.org, readMain, map[string]any{"expiresAt": "2099-01-01T00:00:00Z"})
	e.disabled = key("disabled", e.org, readMain, map[string]any{"isActive": false})
	e.expired = key("expired", e.org, readMain, map[string]any{"expiresAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	e.stranger = key("stranger", e.globex, []any{map[string]any{"scope": "ASSET", "verbs": []string{"READ"}}}, nil)
	e.platform = key("platform", "", []any{map[string]any{"scope": "ASSET", "verbs": []string{"READ"}}}, nil)
	return e
}

// presented is an NWS4 request to another service, signed with c at at, as
// the body of a verification.
func presented(t testing.TB, c *nws4.Credentials, method, url string, body []byte, at time.Time) map[string]any {
	t.Helper()
	r := httptest.NewRequest(method, url, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if err := nws4.Sign(r, body, *c, at); err != nil {
		t.Fatal(err)
	}
	headers := map[string]any{"host": r.Host}
	for name, values := range r.Header {
		if name != "Authorization" {
			headers[strings.ToLower(name)] = strings.Join(values, ",")
		}
	}
	return map[string]any{"authorization": r.Header.Get("Authorization"), "method": method,
		"url": r.URL.RequestURI(), "headers": headers, "bodySha256": nws4.BodyHash(body)}
}

// verified is a verification's answer.
func (h *harness) verify(t testing.TB, as req, body map[string]any) gen.VerifyKeyResult {
	t.Helper()
	as.method, as.path, as.body = "POST", "/v3/keys/verify", body
	var out gen.VerifyKeyResult
	h.do(t, as).want(200).decode(&out)
	return out
}

// wantVerdict checks a verification's code, validity, and whether it shows
// the key (only a credential that proved its key does), naming the field
// that differs.
func wantVerdict(t testing.TB, got gen.VerifyKeyResult, code gen.VerifyCode, key *gen.ApiKey) {
	t.Helper()
	if got.Code != code {
		t.Errorf("code %s, want %s", got.Code, code)
	}
	if got.Valid != (code == gen.VerifyCodeVALID) {
		t.Errorf("valid %v with code %s", got.Valid, got.Code)
	}
	if key == nil {
		if got.KeyId != nil || got.OrganizationId != nil || got.Permissions != nil || got.ExpiresAt != nil {
			t.Errorf("code %s shows a key: %+v", code, got)
		}
		return
	}
	if got.KeyId == nil || *got.KeyId != key.Id {
		t.Errorf("keyId %v, want %s", deref(got.KeyId), key.Id)
	}
	if deref(got.OrganizationId) != deref(key.OrganizationId) {
		t.Errorf("organizationId %v, want %v", deref(got.OrganizationId), deref(key.OrganizationId))
	}
	if got.Permissions == nil || len(*got.Permissions) != len(key.Permissions) {
		t.Errorf("permissions %v, want %v", got.Permissions, key.Permissions)
	}
	if (got.ExpiresAt == nil) != (key.ExpiresAt == nil) || got.ExpiresAt != nil && !got.ExpiresAt.Equal(*key.ExpiresAt) {
		t.Errorf("expiresAt %v, want %v", got.ExpiresAt, key.ExpiresAt)
	}
}

// TestVerifyKeyCodes: every verdict, for both schemes, as the service that
// holds KEY:VERIFY in acme asks.
func TestVerifyKeyCodes(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		service := req{apiKey: *e.service.ClientSecret}
		perm := func(scope, verb, ws string) map[string]any {
			p := map[string]any{"scope": scope, "verb": verb}
			if ws != "" {
				p["workspaceId"] = ws
			}
			return p
		}
		withPerm := func(body map[string]any, p map[string]any) map[string]any { body["permission"] = p; return body }
		key := func(k gen.ApiKey) map[string]any { return map[string]any{"key": *k.ClientSecret} }
		now := h.clock.Now()
		n := 0 // a signature is accepted once: each presented request is another
		signed := func(k gen.ApiKey) map[string]any {
			n++
			return map[string]any{"nws4": presented(t, creds(k), "GET", fmt.Sprintf("http://orders.internal:8080/orders?page=%d", n), nil, now)}
		}
		unknown := gen.ApiKey{ClientId: strings.Repeat("0", 40), ClientSecret: new(strings.Repeat("ab", 32))}

		for _, tc := range []struct {
			name string
			body map[string]any
			code gen.VerifyCode
			show *gen.ApiKey
		}{
			{"x-api-key: valid", key(e.reader), gen.VerifyCodeVALID, &e.reader},
			{"x-api-key: valid with the permission in its workspace", withPerm(key(e.reader), perm("ASSET", "READ", e.ws)), gen.VerifyCodeVALID, &e.reader},
			{"x-api-key: forbidden in another workspace", withPerm(key(e.reader), perm("ASSET", "READ", e.other)), gen.VerifyCodeFORBIDDEN, &e.reader},
			{"x-api-key: forbidden at organization level", withPerm(key(e.reader), perm("ASSET", "READ", "")), gen.VerifyCodeFORBIDDEN, &e.reader},
			{"x-api-key: forbidden another verb", withPerm(key(e.reader), perm("ASSET", "UPDATE", e.ws)), gen.VerifyCodeFORBIDDEN, &e.reader},
			{"x-api-key: unknown", key(unknown), gen.VerifyCodeNOTFOUND, nil},
			{"x-api-key: another organization's", key(e.stranger), gen.VerifyCodeNOTFOUND, nil},
			{"x-api-key: a platform key", key(e.platform), gen.VerifyCodeNOTFOUND, nil},
			{"x-api-key: disabled", key(e.disabled), gen.VerifyCodeDISABLED, &e.disabled},
			{"x-api-key: expired", key(e.expired), gen.VerifyCodeEXPIRED, &e.expired},
			{"nws4: valid", signed(e.reader), gen.VerifyCodeVALID, &e.reader},
			{"nws4: forbidden", withPerm(signed(e.reader), perm("ASSET", "DELETE", e.ws)), gen.VerifyCodeFORBIDDEN, &e.reader},
			{"nws4: unknown clientId", signed(unknown), gen.VerifyCodeNOTFOUND, nil},
			{"nws4: another organization's", signed(e.stranger), gen.VerifyCodeNOTFOUND, nil},
			{"nws4: disabled", signed(e.disabled), gen.VerifyCodeDISABLED, &e.disabled},
			{"nws4: expired", signed(e.expired), gen.VerifyCodeEXPIRED, &e.expired},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantVerdict(t, h.verify(t, service, tc.body), tc.code, tc.show)
			})
		}

		// What is wrong with a signature is INVALID_SIGNATURE, and shows no key.
		body := []byte(`{"item":"book"}`)
		post := func() map[string]any {
			n++
			return presented(t, creds(e.reader), "POST", fmt.Sprintf("http://orders.internal/orders/%d", n), body, now)
		}
		for _, tc := range []struct {
			name   string
			tamper func(p map[string]any)
			code   gen.VerifyCode
		}{
			{"a body and its hash", func(map[string]any) {}, gen.VerifyCodeVALID},
			{"another body's hash", func(p map[string]any) { p["bodySha256"] = nws4.BodyHash([]byte(`{"item":"car"}`)) }, gen.VerifyCodeINVALIDSIGNATURE},
			{"another path", func(p map[string]any) { p["url"] = "/admin" }, gen.VerifyCodeINVALIDSIGNATURE},
			{"another method", func(p map[string]any) { p["method"] = "DELETE" }, gen.VerifyCodeINVALIDSIGNATURE},
			{"another host", func(p map[string]any) { p["headers"].(map[string]any)["host"] = "evil.example" }, gen.VerifyCodeINVALIDSIGNATURE},
			{"a signed header missing", func(p map[string]any) { delete(p["headers"].(map[string]any), "x-nd-date") }, gen.VerifyCodeINVALIDSIGNATURE},
			{"a malformed authorization", func(p map[string]any) { p["authorization"] = "NWS4-HMAC-SHA256 nonsense" }, gen.VerifyCodeINVALIDSIGNATURE},
			{"another scheme", func(p map[string]any) { p["authorization"] = "Bearer x" }, gen.VerifyCodeINVALIDSIGNATURE},
			{"an absolute URL", func(p map[string]any) {
				p["url"] = "http://orders.internal" + p["url"].(string)
				delete(p["headers"].(map[string]any), "host")
			}, gen.VerifyCodeVALID},
		} {
			t.Run("nws4: "+tc.name, func(t *testing.T) {
				p := post()
				tc.tamper(p)
				var show *gen.ApiKey
				if tc.code == gen.VerifyCodeVALID {
					show = &e.reader
				}
				wantVerdict(t, h.verify(t, service, map[string]any{"nws4": p}), tc.code, show)
			})
		}

		t.Run("nws4: outside the window", func(t *testing.T) {
			stale := presented(t, creds(e.reader), "GET", "http://orders.internal/orders", nil, now.Add(-10*time.Minute))
			wantVerdict(t, h.verify(t, service, map[string]any{"nws4": stale}), gen.VerifyCodeINVALIDSIGNATURE, nil)
		})
		t.Run("nws4: replayed", func(t *testing.T) {
			once := map[string]any{"nws4": presented(t, creds(e.reader), "GET", "http://orders.internal/once", nil, now)}
			wantVerdict(t, h.verify(t, service, once), gen.VerifyCodeVALID, &e.reader)
			wantVerdict(t, h.verify(t, service, once), gen.VerifyCodeREPLAYED, nil)
		})
		t.Run("nws4: a signature keyplane accepted is replayed", func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v3/workspaces/"+e.ws, nil)
			if err := nws4.Sign(r, nil, *creds(e.service), now); err != nil {
				t.Fatal(err)
			}
			h.do(t, req{method: "GET", path: "/v3/workspaces/" + e.ws, anonymous: true,
				header: map[string]string{"Authorization": r.Header.Get("Authorization"), "X-Nd-Date": r.Header.Get("X-Nd-Date"),
					"X-Nd-Content-Sha256": r.Header.Get("X-Nd-Content-Sha256")}}).want(403)
			p := map[string]any{"authorization": r.Header.Get("Authorization"), "method": "GET", "url": "/v3/workspaces/" + e.ws,
				"headers":    map[string]any{"host": r.Host, "x-nd-date": r.Header.Get("X-Nd-Date"), "x-nd-content-sha256": r.Header.Get("X-Nd-Content-Sha256")},
				"bodySha256": nws4.BodyHash(nil)}
			wantVerdict(t, h.verify(t, service, map[string]any{"nws4": p}), gen.VerifyCodeREPLAYED, nil)
		})
		t.Run("nws4: the previous secret in its grace period", func(t *testing.T) {
			old := creds(e.reader)
			h.do(t, req{method: "POST", path: "/apikeys/" + e.reader.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 3600}}).want(200)
			p := presented(t, old, "GET", "http://orders.internal/grace", nil, now)
			wantVerdict(t, h.verify(t, service, map[string]any{"nws4": p}), gen.VerifyCodeVALID, &e.reader)
			wantVerdict(t, h.verify(t, service, map[string]any{"key": old.Secret}), gen.VerifyCodeVALID, &e.reader)
		})
	})
}

// TestVerifyKeyNoOracle: to the verifier, a key of an organization where it
// may not verify is exactly an unknown key: the same body, and its
// signature is neither checked nor remembered.
func TestVerifyKeyNoOracle(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		service := req{method: "POST", path: "/v3/keys/verify", apiKey: *e.service.ClientSecret}
		answer := func(body map[string]any) []byte {
			r := service
			r.body = body
			return h.do(t, r).want(200).Body
		}
		unknown := answer(map[string]any{"key": strings.Repeat("cd", 32)})
		if other := answer(map[string]any{"key": *e.stranger.ClientSecret}); !bytes.Equal(other, unknown) {
			t.Errorf("x-api-key: another organization's key answers %s, an unknown one %s", other, unknown)
		}
		now := h.clock.Now()
		p := presented(t, creds(e.stranger), "GET", "http://orders.internal/x", nil, now)
		fake := presented(t, &nws4.Credentials{ClientID: strings.Repeat("1", 40), Secret: "s"}, "GET", "http://orders.internal/x", nil, now)
		if other, none := answer(map[string]any{"nws4": p}), answer(map[string]any{"nws4": fake}); !bytes.Equal(other, none) {
			t.Errorf("nws4: another organization's key answers %s, an unknown one %s", other, none)
		}
		authz, err := nws4.ParseAuthorization(p["authorization"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if n := storetest.QueryInt(t, h.st, "SELECT COUNT(*) FROM signature_replays WHERE signature = ?", authz.Signature); n != 0 {
			t.Errorf("the signature of a key the verifier cannot see was remembered (%d rows)", n)
		}
		// Its owner's own service still gets the signature accepted once.
		wantVerdict(t, h.verify(t, req{apiKey: *e.globexService.ClientSecret}, map[string]any{"nws4": p}), gen.VerifyCodeVALID, &e.stranger)
	})
}

// TestVerifyKeyAuthorization: operation × caller × target. Only a caller
// holding KEY:VERIFY somewhere may verify, and it sees the keys of the
// organizations where it holds it: root all of them (platform keys
// included), an organization's service key or Owner that organization's.
func TestVerifyKeyAuthorization(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		owner := h.user(t, "owner")
		h.member(t, e.org, owner.Id, "OWNER")
		admin := h.user(t, "admin")
		h.member(t, e.org, admin.Id, "ADMIN")
		viewer := h.user(t, "viewer")
		h.member(t, e.org, viewer.Id, "VIEWER")
		ownerToken, adminToken, viewerToken := h.login(t, "owner").TokenId, h.login(t, "admin").TokenId, h.login(t, "viewer").TokenId
		assetReader := h.create(t, map[string]any{"name": "asset reader", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "ASSET", "verbs": []string{"READ"}}}})
		apiKeyAdmin := h.create(t, map[string]any{"name": "key admin", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "API_KEY", "verbs": []string{"READ", "CREATE", "UPDATE", "DELETE"}}}})
		callers := []struct {
			name string
			as   req
		}{
			{"root", req{}},
			{"acme's service key", req{apiKey: *e.service.ClientSecret}},
			{"acme's service key, signed", req{hmac: creds(e.service)}},
			{"acme's Owner", req{bearer: ownerToken}},
			{"acme's Admin", req{bearer: adminToken}},
			{"acme's Viewer", req{bearer: viewerToken}},
			{"a key reading assets", req{apiKey: *assetReader.ClientSecret}},
			{"a key managing keys", req{apiKey: *apiKeyAdmin.ClientSecret}},
			{"globex's service key", req{apiKey: *e.globexService.ClientSecret}},
		}
		targets := []struct {
			name string
			key  gen.ApiKey
		}{{"acme's key", e.reader}, {"globex's key", e.stranger}, {"a platform key", e.platform}}
		// want[caller][target]: a code, or 0 for the 403 of a caller who may verify nothing.
		const forbidden = gen.VerifyCode("")
		V, N := gen.VerifyCodeVALID, gen.VerifyCodeNOTFOUND
		want := [][]gen.VerifyCode{
			{V, V, V},
			{V, N, N},
			{V, N, N},
			{V, N, N},
			{V, N, N},
			{forbidden, forbidden, forbidden},
			{forbidden, forbidden, forbidden},
			{forbidden, forbidden, forbidden},
			{N, V, N},
		}
		for i, c := range callers {
			for j, tg := range targets {
				t.Run(c.name+" verifies "+tg.name, func(t *testing.T) {
					r := c.as
					r.method, r.path, r.body = "POST", "/v3/keys/verify", map[string]any{"key": *tg.key.ClientSecret}
					res := h.do(t, r)
					if want[i][j] == forbidden {
						if p := res.want(403).problem(); p.Detail == nil || !strings.Contains(*p.Detail, "KEY:VERIFY") {
							t.Errorf("403 detail %v does not name KEY:VERIFY", p.Detail)
						}
						return
					}
					var got gen.VerifyKeyResult
					res.want(200).decode(&got)
					if got.Code != want[i][j] {
						t.Errorf("code %s, want %s", got.Code, want[i][j])
					}
				})
			}
		}
	})
}

// TestVerifyKeyRefusesMalformedBodies: a body naming no credential or two,
// or a permission that is no right, is a 400 naming the member.
func TestVerifyKeyRefusesMalformedBodies(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		p := presented(t, creds(e.reader), "GET", "http://orders.internal/x", nil, h.clock.Now())
		secret := *e.reader.ClientSecret
		for _, tc := range []struct {
			name   string
			body   any
			member string
		}{
			{"neither credential", map[string]any{}, "/key"},
			{"both credentials", map[string]any{"key": secret, "nws4": p}, "/key"},
			{"a verb its scope does not take", map[string]any{"key": secret, "permission": map[string]any{"scope": "KEY", "verb": "READ"}}, "/permission/verb"},
			{"workspaces of an organization-wide scope", map[string]any{"key": secret, "permission": map[string]any{"scope": "AUDIT", "verb": "READ", "workspaceId": e.ws}}, "/permission/workspaceId"},
			{"an unknown scope", map[string]any{"key": secret, "permission": map[string]any{"scope": "NOPE", "verb": "READ"}}, "/permission/scope"},
			{"a URL of another scheme", map[string]any{"nws4": with(p, "url", "ftp://orders.internal/x")}, "/nws4/url"},
			{"a hash that is no hash", map[string]any{"nws4": with(p, "bodySha256", "nope")}, "/nws4/bodySha256"},
			{"host named twice", map[string]any{"nws4": with(p, "headers", map[string]any{"host": "a", "Host": "b"})}, "/nws4/headers"},
			{"an unknown member", map[string]any{"key": secret, "secret": "x"}, "/"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantProblemMembers(t, h.do(t, req{method: "POST", path: "/v3/keys/verify", apiKey: *e.service.ClientSecret, body: tc.body}),
					[]string{tc.member}, true)
			})
		}
	})
}

// with is a copy of m with key set to v.
func with(m map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = x
	}
	out[key] = v
	return out
}

// TestVerifyKeyCountsAsUse: a verification that proves a key counts as its
// use (lastUsedAt and the day's requests), as its request to keyplane
// would; one that does not prove it, or of a key the verifier cannot see,
// does not. The verifier's own key is used by its own request.
func TestVerifyKeyCountsAsUse(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		if err := h.authn.Usage.Flush(t.Context()); err != nil { // the keys' creation used root only
			t.Fatal(err)
		}
		service := req{apiKey: *e.service.ClientSecret}
		h.verify(t, service, map[string]any{"key": *e.reader.ClientSecret})
		h.verify(t, service, map[string]any{"key": *e.reader.ClientSecret, "permission": map[string]any{"scope": "ASSET", "verb": "DELETE"}})
		h.verify(t, service, map[string]any{"key": *e.stranger.ClientSecret})
		h.verify(t, service, map[string]any{"key": *e.disabled.ClientSecret})
		day := h.clock.Now().UTC().Format(store.DayFormat)
		got := h.authn.Usage.PendingRequests()
		for _, tc := range []struct {
			name string
			key  gen.ApiKey
			want int64
		}{
			{"the verified key, VALID and FORBIDDEN", e.reader, 2},
			{"the verifier's own key, four requests", e.service, 4},
			{"another organization's key", e.stranger, 0},
			{"a disabled key", e.disabled, 0},
		} {
			if n := got[store.KeyDay{KeyID: tc.key.Id, Day: day}]; n != tc.want {
				t.Errorf("%s: %d requests pending, want %d", tc.name, n, tc.want)
			}
		}
		if _, ok := h.authn.Usage.Pending()[e.stranger.Id]; ok {
			t.Error("another organization's key is recorded as used")
		}
	})
}

// TestVerifyKeyRateLimited: the rate-limit seam. A key its limiter refuses
// is RATE_LIMITED (and shown); a key that fails otherwise never reaches it.
func TestVerifyKeyRateLimited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		counted := &countedLimits{allow: 1}
		h := newHarness(t, st, func(c *server.Config) { c.KeyRateLimits = counted })
		e := newVerifyEnv(t, h)
		service := req{apiKey: *e.service.ClientSecret}
		key := map[string]any{"key": *e.reader.ClientSecret}
		wantVerdict(t, h.verify(t, service, key), gen.VerifyCodeVALID, &e.reader)
		wantVerdict(t, h.verify(t, service, key), gen.VerifyCodeRATELIMITED, &e.reader)
		p := presented(t, creds(e.reader), "GET", "http://orders.internal/x", nil, h.clock.Now())
		wantVerdict(t, h.verify(t, service, map[string]any{"nws4": p}), gen.VerifyCodeRATELIMITED, &e.reader)
		wantVerdict(t, h.verify(t, service, map[string]any{"key": *e.disabled.ClientSecret}), gen.VerifyCodeDISABLED, &e.disabled)
		wantVerdict(t, h.verify(t, service, map[string]any{"key": *e.reader.ClientSecret, "permission": map[string]any{"scope": "ASSET", "verb": "DELETE"}}),
			gen.VerifyCodeFORBIDDEN, &e.reader)
		if got := counted.asked(); len(got) != 3 || got[0] != e.reader.Id {
			t.Errorf("the limiter was asked about %v, want the valid key 3 times", got)
		}
	})
}

// countedLimits allows the first allow requests, then none.
type countedLimits struct {
	mu    sync.Mutex
	allow int
	keys  []string
}

func (l *countedLimits) Allow(keyID string, _ *limits.Rate) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, keyID)
	return len(l.keys) <= l.allow
}

func (l *countedLimits) asked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.keys...)
}

// TestKeyVerifyPermissions: KEY and AUDIT take only their verbs, and no
// workspaces, on a key as anywhere.
func TestKeyVerifyPermissions(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, _ := h.twoWorkspaces(t)
		for _, tc := range []struct {
			name   string
			perm   map[string]any
			status int
			member string
		}{
			{"KEY:VERIFY", map[string]any{"scope": "KEY", "verbs": []string{"VERIFY"}}, 201, ""},
			{"AUDIT:READ", map[string]any{"scope": "AUDIT", "verbs": []string{"READ"}}, 201, ""},
			{"KEY:READ", map[string]any{"scope": "KEY", "verbs": []string{"VERIFY", "READ"}}, 400, "/permissions/0/verbs/1"},
			{"ASSET:VERIFY", map[string]any{"scope": "ASSET", "verbs": []string{"VERIFY"}}, 400, "/permissions/0/verbs/0"},
			{"AUDIT:DELETE", map[string]any{"scope": "AUDIT", "verbs": []string{"DELETE"}}, 400, "/permissions/0/verbs/0"},
			{"KEY:VERIFY in a workspace", map[string]any{"scope": "KEY", "verbs": []string{"VERIFY"}, "workspaceIds": []string{ws}}, 400, "/permissions/0/workspaceIds"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.do(t, req{method: "POST", path: "/apikeys", body: map[string]any{"name": tc.name, "organizationId": org,
					"permissions": []any{tc.perm}}})
				if tc.status == 400 {
					wantProblemMembers(t, r, []string{tc.member}, false)
					return
				}
				r.want(tc.status)
			})
		}
		for _, tc := range []struct {
			rights []string
			status int
		}{{[]string{"keyVerify", "auditRead"}, 201}, {[]string{"keyRead"}, 400}, {[]string{"auditCreate"}, 400}, {[]string{"assetVerify"}, 400}} {
			t.Run("role "+strings.Join(tc.rights, ","), func(t *testing.T) {
				h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "r" + strings.Join(tc.rights, ""), "rights": tc.rights}}).want(tc.status)
			})
		}
	})
}
