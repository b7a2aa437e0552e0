package server_test

import (
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// usage reads GET /apikeys/{id}/usage with query as root.
func (h *harness) usage(t testing.TB, id, query string) gen.ApiKeyUsage {
	t.Helper()
	var u gen.ApiKeyUsage
	h.do(t, req{method: "GET", path: "/apikeys/" + id + "/usage" + query}).want(200).decode(&u)
	return u
}

// TestApiKeyUsage: a key's requests per day, counted in batches: every
// request it authenticated and every verification that proved it, listed
// for every day of the range.
func TestApiKeyUsage(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		flush := func() {
			t.Helper()
			if err := h.authn.Usage.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		today := time.Now().UTC().Format(store.DayFormat)
		use := func(n int) {
			for range n {
				h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + e.ws, apiKey: *e.reader.ClientSecret}).want(200)
			}
		}
		use(2)
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + e.ws, hmac: creds(e.reader)}).want(200)
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + e.other, apiKey: *e.reader.ClientSecret}).want(403) // authenticated, refused: a request all the same
		h.verify(t, req{apiKey: *e.service.ClientSecret}, map[string]any{"key": *e.reader.ClientSecret})

		if u := h.usage(t, e.reader.Id, ""); u.Total != 0 {
			t.Fatalf("%d requests before a flush: counts are written in batches", u.Total)
		}
		flush()
		u := h.usage(t, e.reader.Id, "")
		last := u.Days[len(u.Days)-1]
		if len(u.Days) != 30 || u.To.String() != today || u.From.String() != u.Days[0].Date.String() {
			t.Errorf("default range %s..%s with %d days, want the 30 days to %s", u.From, u.To, len(u.Days), today)
		}
		if last.Date.String() != today || last.Requests != 5 || u.Total != 5 {
			t.Errorf("today %s: %d requests, total %d, want 5 on %s", last.Date, last.Requests, u.Total, today)
		}
		if u.LastUsedAt == nil {
			t.Error("lastUsedAt not set")
		}

		use(2)
		flush()
		if u := h.usage(t, e.reader.Id, "?from="+today+"&to="+today); len(u.Days) != 1 || u.Total != 7 {
			t.Errorf("after another flush: %d days, total %d, want 1 day of 7 (batches add up)", len(u.Days), u.Total)
		}
		if u := h.usage(t, e.reader.Id, "?from=2020-02-27&to=2020-03-01"); len(u.Days) != 4 || u.Total != 0 || u.Days[2].Date.String() != "2020-02-29" {
			t.Errorf("a past range: %+v, want 4 days of nothing through a leap day", u.Days)
		}

		for _, tc := range []struct {
			name, query, member string
		}{
			{"from after to", "?from=2026-11-27&to=2026-11-26", "from"},
			{"more than 366 days", "?from=2024-01-01&to=2026-01-01", "from"},
			{"not a date", "?from=yesterday", "from"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantMember(t, h.do(t, req{method: "GET", path: "/apikeys/" + e.reader.Id + "/usage" + tc.query}), tc.member)
			})
		}
	})
}

// TestApiKeyUsageAuthorization: reading a key's usage is reading the key.
func TestApiKeyUsageAuthorization(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		e := newVerifyEnv(t, h)
		token := func(name, org, role string) string {
			u := h.user(t, name)
			h.member(t, org, u.Id, role)
			return h.login(t, name).TokenId
		}
		keyReader := h.create(t, map[string]any{"name": "key reader", "organizationId": e.org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "API_KEY", "verbs": []string{"READ"}}}})
		for _, tc := range []struct {
			name   string
			as     req
			key    gen.ApiKey
			status int
		}{
			{"root, any key", req{}, e.stranger, 200},
			{"an Admin, a key of its organization", req{bearer: token("admin", e.org, "ADMIN")}, e.reader, 200},
			{"an API_KEY:READ key, a key of its organization", req{apiKey: *keyReader.ClientSecret}, e.reader, 200},
			{"a Viewer", req{bearer: token("viewer", e.org, "VIEWER")}, e.reader, 403},
			{"the verifier service", req{apiKey: *e.service.ClientSecret}, e.reader, 403},
			{"an Owner of another organization", req{bearer: token("stranger", e.globex, "OWNER")}, e.reader, 404},
			{"an Admin, a platform key", req{bearer: token("admin2", e.org, "ADMIN")}, e.platform, 404},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tc.as
				r.method, r.path = "GET", "/apikeys/"+tc.key.Id+"/usage"
				h.do(t, r).want(tc.status)
			})
		}
	})
}
