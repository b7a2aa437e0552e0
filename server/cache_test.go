package server_test

import (
	"testing"

	"github.com/keyplane/keyplane/auth/nws4"
)

// cacheCase is one input of a principal: the credential is used (and so
// cached), the input changes, and the very next request must see it.
type cacheCase struct {
	name   string
	use    func(f *cacheFixture) req // the request that needs the credential
	change func(t *testing.T, f *cacheFixture)
	want   int // the next use's status
}

// cacheFixture is one organization with a viewer, its login, a key of the
// organization and a key acting as the viewer; and a reader of every
// organization through a global role.
type cacheFixture struct {
	h        *harness
	org      string
	other    string // an organization that a reader reads through its global role only
	reader   string // the login of that reader
	userID   string
	token    string
	key, as  string // secrets
	keyID    string
	asID     string
	clientID string
	secret   string
}

func newCacheFixture(t *testing.T, h *harness) *cacheFixture {
	f := &cacheFixture{h: h, org: h.org(t, "acme"), other: h.org(t, "other")}
	h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "orgReader", "rights": []string{"organizationRead"}}}).want(201)
	h.user(t, "rita", "orgReader")
	f.reader = h.login(t, "rita").TokenId
	u := h.user(t, "vera")
	f.userID = u.Id
	h.member(t, f.org, u.Id, "VIEWER")
	f.token = h.login(t, "vera").TokenId
	k := h.create(t, map[string]any{"name": "k", "organizationId": f.org, "isActive": true,
		"permissions": []any{map[string]any{"scope": "ORGANIZATION", "verbs": []string{"READ"}}}})
	f.key, f.keyID, f.clientID, f.secret = *k.ClientSecret, k.Id, k.ClientId, *k.ClientSecret
	as := h.create(t, map[string]any{"name": "as vera", "organizationId": f.org, "isActive": true, "userName": "vera"})
	f.as, f.asID = *as.ClientSecret, as.Id
	return f
}

func (f *cacheFixture) orgRead() req { return req{method: "GET", path: "/v3/organizations/" + f.org} }

func hmacOf(clientID, secret string) *nws4.Credentials {
	return &nws4.Credentials{ClientID: clientID, Secret: secret}
}

// TestCacheCoherence: with the principal cache on, each kind of change to a
// principal's inputs reaches the next request.
func TestCacheCoherence(t *testing.T) {
	byKey := func(f *cacheFixture) req { r := f.orgRead(); r.apiKey = f.key; return r }
	byHMAC := func(f *cacheFixture) req { r := f.orgRead(); r.hmac = hmacOf(f.clientID, f.secret); return r }
	asUser := func(f *cacheFixture) req { r := f.orgRead(); r.apiKey = f.as; return r }
	byLogin := func(f *cacheFixture) req { r := f.orgRead(); r.bearer = f.token; return r }
	putKey := func(t *testing.T, f *cacheFixture, body map[string]any) {
		body["name"], body["organizationId"], body["_v"] = "k", f.org, int64(1)
		f.h.do(t, req{method: "PUT", path: "/apikeys/" + f.keyID, body: body}).want(200)
	}
	for _, tc := range []cacheCase{
		{"key deactivated", byKey, func(t *testing.T, f *cacheFixture) { putKey(t, f, map[string]any{"isActive": false}) }, 401},
		{"key deactivated (HMAC)", byHMAC, func(t *testing.T, f *cacheFixture) { putKey(t, f, map[string]any{"isActive": false}) }, 401},
		{"key permissions narrowed", byKey, func(t *testing.T, f *cacheFixture) {
			putKey(t, f, map[string]any{"isActive": true, "permissions": []any{}})
		}, 403},
		{"key deleted", byKey, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "DELETE", path: "/apikeys/" + f.keyID}).want(200)
		}, 401},
		{"key rotated without grace", byKey, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "POST", path: "/apikeys/" + f.keyID + "/rotate", body: map[string]any{"gracePeriodSeconds": 0}}).want(200)
		}, 401},
		{"user deactivated (key acting as the user)", asUser, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "PUT", path: "/users/" + f.userID, body: map[string]any{"userName": "vera", "isActive": false, "_v": 1}}).want(200)
		}, 401},
		{"user deactivated (login)", byLogin, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "PUT", path: "/users/" + f.userID, body: map[string]any{"userName": "vera", "isActive": false, "_v": 1}}).want(200)
		}, 401},
		{"membership removed (login)", byLogin, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "DELETE", path: "/v3/organizations/" + f.org + "/members/" + f.userID}).want(204)
		}, 404},
		{"membership removed (key acting as the user)", asUser, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "DELETE", path: "/v3/organizations/" + f.org + "/members/" + f.userID}).want(204)
		}, 403},
		{"global role narrowed", func(f *cacheFixture) req {
			return req{method: "GET", path: "/v3/organizations/" + f.other, bearer: f.reader}
		}, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "PUT", path: "/roles/orgReader", body: map[string]any{"name": "orgReader", "rights": []string{}, "_v": 1}}).want(200)
		}, 404},
		{"logged out", byLogin, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "DELETE", path: "/api/auth", bearer: f.token}).want(204)
		}, 401},
		{"organization deleted", byKey, func(t *testing.T, f *cacheFixture) {
			f.h.do(t, req{method: "DELETE", path: "/v3/organizations/" + f.org}).want(204)
		}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, h *harness) {
				f := newCacheFixture(t, h)
				for range 2 { // the second answer comes from the cache
					h.do(t, tc.use(f)).want(200)
				}
				tc.change(t, f)
				if res := h.do(t, tc.use(f)); res.Code != tc.want {
					t.Fatalf("after the change: status %d, want %d: %s", res.Code, tc.want, res.Body)
				}
			})
		})
	}
}
