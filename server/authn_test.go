package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
)

// TestAuthenticationMatrix runs every scheme through every way a request can
// be right or wrong, and checks the status and the problem it gets.
func TestAuthenticationMatrix(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		h.workspace(t, org, "hq")
		perms := []any{map[string]any{"scope": "WORKSPACE", "verbs": []string{"READ", "CREATE"}}}
		good := h.create(t, map[string]any{"name": "good", "organizationId": org, "isActive": true, "permissions": perms})
		inactive := h.create(t, map[string]any{"name": "off", "organizationId": org, "isActive": false, "permissions": perms})
		narrow := h.create(t, map[string]any{"name": "narrow", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "ASSET", "verbs": []string{"READ"}}}})
		base := time.Now().UTC().Truncate(time.Second)
		expired := h.create(t, map[string]any{"name": "old", "organizationId": org, "isActive": true, "permissions": perms,
			"expiresAt": base.Add(-time.Hour).Format(time.RFC3339)})
		wrong := strings.Repeat("ab", 32)

		editor := h.user(t, "editor")
		h.member(t, org, editor.Id, "EDITOR")
		viewer := h.user(t, "viewer")
		h.member(t, org, viewer.Id, "VIEWER")
		h.clock.Set(base)
		editorToken := h.login(t, "editor").TokenId
		viewerToken := h.login(t, "viewer").TokenId
		dropped := h.user(t, "dropped")
		h.member(t, org, dropped.Id, "EDITOR")
		droppedToken := h.login(t, "dropped").TokenId
		h.do(t, req{method: "PUT", path: "/users/" + dropped.Id, body: map[string]any{"userName": "dropped", "isActive": false, "_v": 1}}).want(200)

		create := func(r req) req {
			r.method, r.path = "POST", "/v3/workspaces"
			r.body = map[string]any{"name": "made", "organizationId": org}
			return r
		}
		list := func(r req) req {
			r.method, r.path = "GET", "/v3/workspaces?organizationId="+org
			return r
		}
		tamperBody := func(r *http.Request) {
			b := []byte(`{"name":"evil","organizationId":"` + org + `"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
		tamperQuery := func(r *http.Request) { r.URL.RawQuery += "&page=1"; r.RequestURI = "" }

		type scheme struct {
			name string
			as   func(key gen.ApiKey, token string) req
		}
		schemes := []scheme{
			{"x-api-key", func(k gen.ApiKey, _ string) req { return req{apiKey: *k.ClientSecret} }},
			{"nws4", func(k gen.ApiKey, _ string) req { return req{hmac: creds(k)} }},
			{"bearer", func(_ gen.ApiKey, tok string) req { return req{bearer: tok} }},
		}
		badKey := good
		badKey.ClientSecret = &wrong
		rows := []struct {
			name   string
			key    gen.ApiKey
			token  string
			build  func(req) req
			prep   func(r *req, at time.Time) // adjusts the request and the clock
			status [3]int                     // x-api-key, nws4, bearer
			reason [3]string
		}{
			{"valid", good, editorToken, create, nil, [3]int{201, 201, 201}, [3]string{}},
			{"wrong secret", badKey, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bm9wZQ", create, nil,
				[3]int{401, 401, 401}, [3]string{"unknown_key", "bad_signature", "bad_token"}},
			{"inactive", inactive, droppedToken, create, nil,
				[3]int{401, 401, 401}, [3]string{"inactive_key", "inactive_key", "inactive_user"}},
			{"expired", expired, editorToken, create, func(r *req, at time.Time) {
				if r.bearer != "" {
					h.clock.Set(at.Add(16 * time.Minute)) // past the access token's 15 minutes
				}
			}, [3]int{401, 401, 401}, [3]string{"expired_key", "expired_key", "bad_token"}},
			{"out of scope", narrow, viewerToken, create, nil, [3]int{403, 403, 403}, [3]string{}},
			{"clock skew 151 s", good, editorToken, list, func(r *req, at time.Time) {
				r.signAt = at
				h.clock.Set(at.Add(151 * time.Second))
			}, [3]int{200, 401, 200}, [3]string{"", "clock_skew", ""}},
			{"tampered body", good, editorToken, create, func(r *req, _ time.Time) { r.after = tamperBody },
				[3]int{201, 401, 201}, [3]string{"", "bad_signature", ""}},
			{"tampered query", good, editorToken, list, func(r *req, _ time.Time) { r.after = tamperQuery },
				[3]int{200, 401, 200}, [3]string{"", "bad_signature", ""}},
		}
		for i, row := range rows {
			for j, sc := range schemes {
				t.Run(row.name+"/"+sc.name, func(t *testing.T) {
					at := base.Add(time.Duration(i*len(schemes)+j) * time.Second)
					h.clock.Set(at)
					r := row.build(sc.as(row.key, row.token))
					if row.prep != nil {
						row.prep(&r, at)
					}
					res := h.do(t, r).want(row.status[j])
					checkFailure(t, res, row.reason[j])
				})
			}
		}

		// Replay: the same signed request twice. x-api-key and bearer carry
		// no signature, so repeating them is just another request.
		for j, sc := range schemes {
			h.clock.Set(base.Add(3*time.Minute + time.Duration(j)*time.Second))
			r := list(sc.as(good, editorToken))
			r.signAt = h.clock.Now() // both signed at one instant: one signature
			h.do(t, r).want(200)
			want := [3]int{200, 401, 200}[j]
			res := h.do(t, r).want(want)
			if want == 401 {
				checkFailure(t, res, "replay")
			}
		}
	})
}

// checkFailure asserts the problem of a 401 or 403.
func checkFailure(t *testing.T, res *response, reason string) {
	t.Helper()
	switch res.Code {
	case 401:
		p := res.problem()
		if p.ErrorCode == nil || *p.ErrorCode != 1 || p.Detail == nil || *p.Detail != reason {
			t.Fatalf("401 problem %s, want reason %s", res.Body, reason)
		}
		if got := res.Hdr.Values("WWW-Authenticate"); len(got) != 3 || !strings.HasPrefix(got[2], "NWS4-HMAC-SHA256 realm=") {
			t.Fatalf("WWW-Authenticate %q", got)
		}
	case 403:
		p := res.problem()
		for name, got := range map[string]*string{"message": p.Message, "error": p.Error, "path": p.Path, "requestId": p.RequestId, "errorId": p.ErrorId, "traceId": p.TraceId} {
			if got == nil || *got == "" {
				t.Fatalf("403 body lacks akenza field %s: %s", name, res.Body)
			}
		}
		if *p.Message != "Permission denied" || *p.Error != "Forbidden" || p.Timestamp == nil || p.Status != 403 {
			t.Fatalf("403 body %s", res.Body)
		}
	}
}

func TestFailedAuthenticationsAreRateLimited(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.clock.Set(time.Now())
		wrong := strings.Repeat("cd", 32)
		for range auth.FailureBurst * auth.AddressFactor { // an unknown key counts against the address alone
			h.do(t, req{method: "GET", path: "/apikeys", apiKey: wrong}).want(401)
		}
		res := h.do(t, req{method: "GET", path: "/apikeys", apiKey: wrong}).want(429)
		if res.Hdr.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// The address is blocked even with good credentials, until it refills.
		h.do(t, req{method: "GET", path: "/apikeys"}).want(429)
		h.clock.Set(h.clock.Now().Add(10 * time.Second))
		h.do(t, req{method: "GET", path: "/apikeys"}).want(200)
	})
}

// TestGeneratedClientWithSigner is the README's HMAC example: the generated
// Go client, signing through nws4.RequestEditor, against a real listener.
func TestGeneratedClientWithSigner(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "API_KEY", "verbs": []string{"READ"}}}})
		srv := httptest.NewServer(h.e)
		defer srv.Close()
		client, err := gen.NewClientWithResponses(srv.URL, gen.WithRequestEditorFn(nws4.RequestEditor(*creds(k))))
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.ListApiKeysWithResponse(t.Context(), &gen.ListApiKeysParams{})
		if err != nil || res.StatusCode() != 200 || res.JSON200.TotalCount != 1 {
			t.Fatalf("signed list: %v %d %s", err, res.StatusCode(), res.Body)
		}
		// The chunked variant is refused clearly, not with a 500.
		req, _ := http.NewRequest("GET", srv.URL+"/apikeys", nil)
		req.Header.Set("x-nd-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		if err := nws4.Sign(req, nil, *creds(k), time.Now()); err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-nd-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(body), "chunked_unsupported") {
			t.Fatalf("chunked: %d %s", resp.StatusCode, body)
		}
	})
}

// TestRateLimitBehindProxy: behind a trusted proxy the limiter keys on the
// forwarded client, so one client's failures do not block the others.
func TestRateLimitBehindProxy(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		proxies, err := auth.ParseProxies("192.0.2.0/24") // httptest's peer address
		if err != nil {
			t.Fatal(err)
		}
		h.authn.Proxies = proxies
		h.clock.Set(time.Now())
		from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
		wrong := strings.Repeat("ef", 32)
		for range auth.FailureBurst * auth.AddressFactor {
			h.do(t, req{method: "GET", path: "/apikeys", apiKey: wrong, header: from("198.51.100.1")}).want(401)
		}
		h.do(t, req{method: "GET", path: "/apikeys", header: from("198.51.100.1")}).want(429)
		h.do(t, req{method: "GET", path: "/apikeys", header: from("198.51.100.2")}).want(200)
	})
}
