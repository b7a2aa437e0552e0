package server_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// TestRateLimits: a key's allowance (its own, else its organization's
// default) puts X-RateLimit-* on every response to it and refuses requests
// over it with a 429 problem carrying Retry-After (both checked against the
// spec by the harness); principals that are no key have no allowance; a new
// window is whole again, a new default applies at once, and verifications
// spend the same budget.
func TestRateLimits(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		start := time.Unix(1_800_000_000, 0) // the start of a minute
		h.clock.Set(start.Add(15 * time.Second))
		org := h.org(t, "Limited")
		orgPath := "/v3/organizations/" + org
		var o gen.Organization
		h.do(t, req{method: "PUT", path: orgPath, body: map[string]any{"name": "Limited", "version": 1,
			"rateLimit": map[string]any{"limit": 3, "periodSeconds": 60}}}).want(200).decode(&o)
		if o.RateLimit == nil || o.RateLimit.Limit != 3 || o.RateLimit.PeriodSeconds != 60 {
			t.Fatalf("organization rateLimit %+v, want 3 per 60 s", o.RateLimit)
		}
		read := []any{map[string]any{"scope": "ORGANIZATION", "verbs": []string{"READ"}}}
		inherits := h.create(t, map[string]any{"name": "inherits", "organizationId": org, "isActive": true, "permissions": read})
		own := h.create(t, map[string]any{"name": "own", "organizationId": org, "isActive": true, "permissions": read,
			"rateLimit": map[string]any{"limit": 2, "periodSeconds": 60}})
		if own.RateLimit == nil || own.RateLimit.Limit != 2 {
			t.Fatalf("key rateLimit %+v, want 2 per 60 s", own.RateLimit)
		}
		get := func(secret string) *response { return h.do(t, req{method: "GET", path: orgPath, apiKey: secret}) }
		type step struct {
			name                    string
			res                     func() *response
			status                  int
			limit, remaining, reset string // "" : no header
			retryAfter              string
		}
		steps := []step{
			{"organization default, 1st", func() *response { return get(*inherits.ClientSecret) }, 200, "3", "2", "45", ""},
			{"organization default, 2nd", func() *response { return get(*inherits.ClientSecret) }, 200, "3", "1", "45", ""},
			{"organization default, 3rd", func() *response { return get(*inherits.ClientSecret) }, 200, "3", "0", "45", ""},
			{"organization default, over", func() *response { return get(*inherits.ClientSecret) }, 429, "3", "0", "45", "45"},
			{"the key's own limit, 1st", func() *response { return get(*own.ClientSecret) }, 200, "2", "1", "45", ""},
			{"the key's own limit, 2nd", func() *response { return get(*own.ClientSecret) }, 200, "2", "0", "45", ""},
			{"the key's own limit, over", func() *response { return get(*own.ClientSecret) }, 429, "2", "0", "45", "45"},
			{"root has no allowance", func() *response { return h.do(t, req{method: "GET", path: orgPath}) }, 200, "", "", "", ""},
		}
		for _, s := range steps {
			res := s.res()
			if res.Code != s.status {
				t.Fatalf("%s: status %d, want %d: %s", s.name, res.Code, s.status, res.Body)
			}
			for _, hv := range []struct{ name, want string }{
				{"X-RateLimit-Limit", s.limit}, {"X-RateLimit-Remaining", s.remaining}, {"X-RateLimit-Reset", s.reset}, {"Retry-After", s.retryAfter},
			} {
				if got := res.Hdr.Get(hv.name); got != hv.want {
					t.Errorf("%s: %s %q, want %q", s.name, hv.name, got, hv.want)
				}
			}
			if s.status == http.StatusTooManyRequests {
				if p := res.problem(); p.Detail == nil || *p.Detail != "rate limit exceeded" {
					t.Errorf("%s: problem detail %v, want rate limit exceeded", s.name, p.Detail)
				}
			}
		}

		// A key spent at keyplane is RATE_LIMITED to a verifying service.
		service := h.create(t, map[string]any{"name": "service", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "KEY", "verbs": []string{"VERIFY"}}},
			"rateLimit":   map[string]any{"limit": 100, "periodSeconds": 60}})
		var v gen.VerifyKeyResult
		h.do(t, req{method: "POST", path: "/v3/keys/verify", apiKey: *service.ClientSecret,
			body: map[string]any{"key": *own.ClientSecret}}).want(200).decode(&v)
		if v.Code != gen.VerifyCodeRATELIMITED {
			t.Errorf("verifying a spent key: %s, want RATE_LIMITED", v.Code)
		}

		// The next window is whole; a new default applies at once.
		h.clock.Set(start.Add(60 * time.Second))
		if res := get(*inherits.ClientSecret).want(200); res.Hdr.Get("X-RateLimit-Remaining") != "2" {
			t.Errorf("next window: remaining %q, want 2", res.Hdr.Get("X-RateLimit-Remaining"))
		}
		h.do(t, req{method: "PUT", path: orgPath, body: map[string]any{"name": "Limited", "version": o.Version,
			"rateLimit": map[string]any{"limit": 10, "periodSeconds": 60}}}).want(200)
		res := get(*inherits.ClientSecret).want(200)
		if got := res.Hdr.Get("X-RateLimit-Limit"); got != "10" {
			t.Errorf("after the default changed: limit %q, want 10", got)
		}
		if got, _ := strconv.Atoi(res.Hdr.Get("X-RateLimit-Remaining")); got != 8 {
			t.Errorf("after the default changed: remaining %d, want 8 (2 used in this window)", got)
		}
		// A key's own new limit applies at once too (its cached principal
		// carried the old one), and removing it falls back to the default.
		for i, tc := range []struct {
			name      string
			rateLimit any
			want      string
		}{
			{"own limit raised", map[string]any{"limit": 7, "periodSeconds": 60}, "7"},
			{"own limit removed (absent from the PUT)", nil, "10"},
		} {
			body := map[string]any{"name": "own", "isActive": true, "_v": own.UnderscoreV + int64(i), "organizationId": org, "permissions": read}
			if tc.rateLimit != nil {
				body["rateLimit"] = tc.rateLimit
			}
			h.do(t, req{method: "PUT", path: "/apikeys/" + own.Id, body: body}).want(200)
			if got := get(*own.ClientSecret).want(200).Hdr.Get("X-RateLimit-Limit"); got != tc.want {
				t.Errorf("%s: X-RateLimit-Limit %q, want %s", tc.name, got, tc.want)
			}
		}
	})
}
