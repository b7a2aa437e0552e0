package server_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// auditPage reads GET /v3/audit-events with query as the caller r.
func (h *harness) auditPage(t testing.TB, r req, query url.Values) (gen.AuditEventPage, *response) {
	t.Helper()
	r.method, r.path = "GET", "/v3/audit-events?"+query.Encode()
	res := h.do(t, r).want(200)
	var page gen.AuditEventPage
	res.decode(&page)
	return page, res
}

// matching are the events of page with this action, target type and outcome.
func matching(page gen.AuditEventPage, action, targetType string, outcome gen.AuditOutcome) []gen.AuditEvent {
	var out []gen.AuditEvent
	for _, e := range page.Content {
		if e.Action == action && e.TargetType == targetType && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// wantOne returns the one event of page with action, target type and
// outcome, failing unless there is exactly one.
func wantOne(t testing.TB, page gen.AuditEventPage, action, targetType string, outcome gen.AuditOutcome) gen.AuditEvent {
	t.Helper()
	got := matching(page, action, targetType, outcome)
	if len(got) != 1 {
		t.Fatalf("%d events %s %s %s, want exactly 1: %+v", len(got), action, targetType, outcome, page.Content)
	}
	return got[0]
}

// TestAuditEventsRecordEachOnce: a key change, a login and a denied request
// each appear once, with actor, target, outcome, client address and the
// request's id, and no secret anywhere in the log.
func TestAuditEventsRecordEachOnce(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		alice := h.user(t, "alice")
		h.member(t, org, alice.Id, "ADMIN")
		victor := h.user(t, "victor")
		h.member(t, org, victor.Id, "VIEWER")

		// A login, and a failed one.
		session := h.login(t, "alice")
		h.do(t, req{method: "POST", path: "/api/auth", anonymous: true,
			body: map[string]any{"userName": "alice", "password": "wrong-horse-battery"}}).want(401)
		asAlice := req{bearer: session.TokenId}

		// A key change: alice creates a key and rotates it.
		created := h.do(t, req{method: "POST", path: "/apikeys", bearer: session.TokenId, body: map[string]any{
			"name": "ci", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "WORKSPACE", "verbs": []string{"READ"}}}}}).want(201)
		var key gen.ApiKey
		created.decode(&key)
		rotated := h.do(t, req{method: "POST", path: "/apikeys/" + key.Id + "/rotate", bearer: session.TokenId}).want(200)
		var rotatedKey gen.ApiKey
		rotated.decode(&rotatedKey)

		// A denied request: a Viewer deletes the organization.
		victorToken := h.login(t, "victor").TokenId
		denied := h.do(t, req{method: "DELETE", path: "/v3/organizations/" + org, bearer: victorToken}).want(403)

		secrets := []string{*key.ClientSecret, *rotatedKey.ClientSecret, "password-alice", "wrong-horse-battery",
			session.TokenId, session.RefreshToken, victorToken}

		t.Run("the organization's log", func(t *testing.T) {
			page, res := h.auditPage(t, asAlice, url.Values{"organizationId": {org}, "size": {"100"}})
			wantNoSecrets(t, res, secrets...)
			create := wantOne(t, page, "create", "apiKey", gen.AuditOutcomeSuccess)
			rotate := wantOne(t, page, "rotate", "apiKey", gen.AuditOutcomeSuccess)
			for _, e := range []gen.AuditEvent{create, rotate} {
				if e.TargetId != key.Id {
					t.Errorf("%s: targetId %s, want the key %s", e.Action, e.TargetId, key.Id)
				}
				if e.Actor != "alice" || deref(e.ActorUserId) != alice.Id || e.ActorKeyId != nil {
					t.Errorf("%s: actor %q user %v key %v, want alice by password session", e.Action, e.Actor, deref(e.ActorUserId), deref(e.ActorKeyId))
				}
				if deref(e.OrganizationId) != org {
					t.Errorf("%s: organizationId %v, want %s", e.Action, deref(e.OrganizationId), org)
				}
				if deref(e.ClientAddress) != "192.0.2.1" {
					t.Errorf("%s: clientAddress %v, want the client's 192.0.2.1", e.Action, deref(e.ClientAddress))
				}
			}
			if rotate.RequestId != rotated.Hdr.Get("X-Request-Id") {
				t.Errorf("rotate: requestId %s, want the request's %s", rotate.RequestId, rotated.Hdr.Get("X-Request-Id"))
			}
			refusal := wantOne(t, page, "denied", "request", gen.AuditOutcomeDenied)
			if refusal.Actor != "victor" || refusal.TargetId != "deleteOrganization" || refusal.RequestId != denied.Hdr.Get("X-Request-Id") {
				t.Errorf("denial: actor %q target %q request %q, want victor, deleteOrganization, %s",
					refusal.Actor, refusal.TargetId, refusal.RequestId, denied.Hdr.Get("X-Request-Id"))
			}
			if refusal.Detail == nil || !strings.Contains(*refusal.Detail, "ORGANIZATION:DELETE") {
				t.Errorf("denial: detail %v does not name the right", refusal.Detail)
			}
			if n := len(matching(page, "login", "user", gen.AuditOutcomeSuccess)); n != 0 {
				t.Errorf("%d logins in the organization's log: logins are platform events", n)
			}
		})

		t.Run("every event, platform-wide", func(t *testing.T) {
			page, res := h.auditPage(t, req{}, url.Values{"size": {"100"}})
			wantNoSecrets(t, res, secrets...)
			logins := matching(page, "login", "user", gen.AuditOutcomeSuccess)
			var aliceLogins []gen.AuditEvent
			for _, e := range logins {
				if e.TargetId == alice.Id {
					aliceLogins = append(aliceLogins, e)
				}
			}
			if len(aliceLogins) != 1 {
				t.Fatalf("%d successful logins of alice, want 1: %+v", len(aliceLogins), logins)
			}
			if l := aliceLogins[0]; l.Actor != "alice" || deref(l.ActorUserId) != alice.Id || l.OrganizationId != nil {
				t.Errorf("login: actor %q user %v organization %v", l.Actor, deref(l.ActorUserId), deref(l.OrganizationId))
			}
			failed := wantOne(t, page, "login", "user", gen.AuditOutcomeDenied)
			if failed.Actor != "anonymous" || failed.TargetId != "alice" {
				t.Errorf("failed login: actor %q target %q, want anonymous, alice", failed.Actor, failed.TargetId)
			}
			wantOne(t, page, "denied", "request", gen.AuditOutcomeDenied)
			wantOne(t, page, "rotate", "apiKey", gen.AuditOutcomeSuccess)
		})
	})
}

// TestAuditEventsFilter: each filter keeps exactly its events; the default
// order is newest first; pages follow one another.
func TestAuditEventsFilter(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		globex := h.org(t, "globex")
		admin := h.create(t, map[string]any{"name": "admin", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "WORKSPACE", "verbs": []string{"READ", "UPDATE"}}}})
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + ws, apiKey: *admin.ClientSecret, body: map[string]any{"name": "main 2", "organizationId": org}}).want(200)
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + other, hmac: creds(admin), body: map[string]any{"name": "other 2", "organizationId": org}}).want(200)
		h.do(t, req{method: "DELETE", path: "/v3/workspaces/" + other, apiKey: *admin.ClientSecret}).want(403)
		h.workspace(t, globex, "elsewhere")

		all := func(q url.Values) []gen.AuditEvent {
			q.Set("organizationId", org)
			q.Set("size", "100")
			page, _ := h.auditPage(t, req{}, q)
			return page.Content
		}
		// The time bounds: at the second update, and what the log says falls on
		// either side of it (events of one millisecond share a timestamp).
		everything := all(url.Values{})
		between := everything[1].Timestamp
		var since, before []string
		for _, e := range everything {
			if e.Timestamp.Before(between) {
				if e.Action == "update" {
					before = append(before, e.Action+":"+e.TargetId)
				}
			} else {
				since = append(since, e.Action+":"+e.TargetId)
			}
		}
		for _, tc := range []struct {
			name  string
			query url.Values
			want  []string // action:targetId, newest first
		}{
			{"the organization", url.Values{}, []string{"denied:deleteWorkspace", "update:" + other, "update:" + ws, "create:" + admin.Id,
				"create:" + other, "create:" + ws, "create:" + org}},
			{"by key", url.Values{"actorKeyId": {admin.Id}}, []string{"denied:deleteWorkspace", "update:" + other, "update:" + ws}},
			{"by actor", url.Values{"actor": {"root"}}, []string{"create:" + admin.Id, "create:" + other, "create:" + ws, "create:" + org}},
			{"by action", url.Values{"action": {"update"}}, []string{"update:" + other, "update:" + ws}},
			{"by target", url.Values{"targetType": {"workspace"}, "targetId": {other}}, []string{"update:" + other, "create:" + other}},
			{"by outcome", url.Values{"outcome": {"denied"}}, []string{"denied:deleteWorkspace"}},
			{"from", url.Values{"from": {between.Format(time.RFC3339Nano)}}, since},
			{"to", url.Values{"to": {between.Format(time.RFC3339Nano)}, "action": {"update"}}, before},
			{"oldest first", url.Values{"sort": {"timestamp,asc"}, "action": {"update"}}, []string{"update:" + ws, "update:" + other}},
			{"by another user", url.Values{"actorUserId": {strings.Repeat("0", 24)}}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []string
				for _, e := range all(tc.query) {
					got = append(got, e.Action+":"+e.TargetId)
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("events %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("pages", func(t *testing.T) {
			first, _ := h.auditPage(t, req{}, url.Values{"organizationId": {org}, "size": {"3"}})
			second, _ := h.auditPage(t, req{}, url.Values{"organizationId": {org}, "size": {"3"}, "page": {"1"}})
			if first.TotalElements != 7 || first.TotalPages != 3 || len(first.Content) != 3 || first.Last {
				t.Errorf("first page: total %d pages %d items %d last %v, want 7, 3, 3, false", first.TotalElements, first.TotalPages, len(first.Content), first.Last)
			}
			if len(second.Content) != 3 || second.Content[0].Id >= first.Content[2].Id {
				t.Errorf("second page does not follow the first: %+v after %+v", second.Content, first.Content)
			}
		})
		t.Run("signed requests name their key", func(t *testing.T) {
			for _, e := range all(url.Values{"actorKeyId": {admin.Id}}) {
				if e.Actor != "key:"+admin.Id {
					t.Errorf("%s: actor %q, want key:%s", e.Action, e.Actor, admin.Id)
				}
			}
		})
		t.Run("a bad sort", func(t *testing.T) {
			wantMember(t, h.do(t, req{method: "GET", path: "/v3/audit-events?organizationId=" + org + "&sort=detail"}), "sort")
		})
	})
}

// TestAuditEventsAuthorization: operation × caller × target. An
// organization's log needs AUDIT:READ there (a 403 whether or not it
// exists); the whole log needs AUDIT:READ platform-wide.
func TestAuditEventsAuthorization(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		globex := h.org(t, "globex")
		missing := "28ffffffffffffff"
		token := func(name, role string) string {
			u := h.user(t, name)
			h.member(t, org, u.Id, role)
			return h.login(t, name).TokenId
		}
		owner, admin, editor, viewer := token("owner", "OWNER"), token("admin", "ADMIN"), token("editor", "EDITOR"), token("viewer", "VIEWER")
		auditor := h.create(t, map[string]any{"name": "auditor", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "AUDIT", "verbs": []string{"READ"}}}})
		keyAdmin := h.create(t, map[string]any{"name": "key admin", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "API_KEY", "verbs": []string{"READ", "CREATE", "UPDATE", "DELETE"}}}})
		h.workspace(t, globex, "secret plans")

		callers := []struct {
			name string
			as   req
		}{
			{"root", req{}}, {"an Owner", req{bearer: owner}}, {"an Admin", req{bearer: admin}},
			{"an Editor", req{bearer: editor}}, {"a Viewer", req{bearer: viewer}},
			{"an AUDIT:READ key", req{apiKey: *auditor.ClientSecret}}, {"an AUDIT:READ key, signed", req{hmac: creds(auditor)}},
			{"an API_KEY key", req{apiKey: *keyAdmin.ClientSecret}},
		}
		targets := []struct {
			name  string
			query string
		}{{"acme", "organizationId=" + org}, {"globex", "organizationId=" + globex}, {"a missing organization", "organizationId=" + missing}, {"all", ""}}
		want := [][]int{
			{200, 200, 200, 200},
			{200, 403, 403, 403},
			{200, 403, 403, 403},
			{403, 403, 403, 403},
			{403, 403, 403, 403},
			{200, 403, 403, 403},
			{200, 403, 403, 403},
			{403, 403, 403, 403},
		}
		for i, c := range callers {
			for j, tg := range targets {
				t.Run(c.name+" reads "+tg.name, func(t *testing.T) {
					r := c.as
					r.method, r.path = "GET", "/v3/audit-events?"+tg.query
					res := h.do(t, r).want(want[i][j])
					if want[i][j] != 200 {
						return
					}
					var page gen.AuditEventPage
					res.decode(&page)
					if tg.name == "acme" {
						for _, e := range page.Content {
							if deref(e.OrganizationId) != org {
								t.Errorf("acme's log shows an event of %v", deref(e.OrganizationId))
							}
						}
						if bytes.Contains(res.Body, []byte(globex)) {
							t.Error("acme's log mentions globex")
						}
					}
				})
			}
		}
	})
}
