package server_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

func TestLoginRefreshLogout(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "keyReader", "rights": []string{"apiKeyRead"}}}).want(201)
		u := h.user(t, "john.doe", "keyReader")
		res := h.login(t, "john.doe")
		if res.User.Id != u.Id || len(res.User.Rights) != 1 || res.User.Rights[0] != "apiKeyRead" || !strings.HasPrefix(res.RefreshToken, "kp_refresh_") {
			t.Fatalf("login %+v", res)
		}
		h.do(t, req{method: "GET", path: "/apikeys", bearer: res.TokenId}).want(200)
		h.do(t, req{method: "POST", path: "/apikeys", bearer: res.TokenId, body: map[string]any{"name": "x"}}).want(403)
		// Everyone reads themselves; others' records need userRead.
		h.do(t, req{method: "GET", path: "/users/" + u.Id, bearer: res.TokenId}).want(200)

		for _, bad := range []map[string]any{
			{"userName": "john.doe", "password": "wrong"},
			{"userName": "nobody", "password": "password-nobody"},
		} {
			p := h.do(t, req{method: "POST", path: "/api/auth", anonymous: true, body: bad}).want(401).problem()
			if *p.Detail != "bad_password" {
				t.Fatalf("login failure detail %q", *p.Detail)
			}
		}

		var next gen.LoginResult
		h.do(t, req{method: "POST", path: "/api/auth/refresh", anonymous: true, body: map[string]any{"refreshToken": res.RefreshToken}}).want(200).decode(&next)
		if next.RefreshToken == res.RefreshToken {
			t.Fatal("refresh returned the same refresh token")
		}
		// A refresh token works once.
		h.do(t, req{method: "POST", path: "/api/auth/refresh", anonymous: true, body: map[string]any{"refreshToken": res.RefreshToken}}).want(401)

		h.do(t, req{method: "DELETE", path: "/api/auth", bearer: next.TokenId}).want(204)
		h.do(t, req{method: "GET", path: "/apikeys", bearer: next.TokenId}).want(401)
		h.do(t, req{method: "POST", path: "/api/auth/refresh", anonymous: true, body: map[string]any{"refreshToken": next.RefreshToken}}).want(401)
		// The root token has no session to end.
		h.do(t, req{method: "DELETE", path: "/api/auth"}).want(400)
	})
}

func TestUsersAndRoles(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.do(t, req{method: "POST", path: "/users", body: map[string]any{"userName": "nopass"}}).want(400)
		h.do(t, req{method: "POST", path: "/users", body: map[string]any{"userName": "short", "password": "short"}}).want(400)
		h.do(t, req{method: "POST", path: "/users", body: map[string]any{"userName": "x", "password": "long enough pw", "roles": []string{"ghost"}}}).want(400)
		u := h.user(t, "alice")
		h.do(t, req{method: "POST", path: "/users", body: map[string]any{"userName": "alice", "password": "long enough pw"}}).want(409)

		var list gen.UserQueryResult
		h.do(t, req{method: "GET", path: "/users?userName=alice"}).want(200).decode(&list)
		if list.TotalCount != 1 || (*list.Items)[0].Id != u.Id {
			t.Fatalf("users %+v", list)
		}
		if strings.Contains(string(h.do(t, req{method: "GET", path: "/users/" + u.Id}).Body), "password") {
			t.Fatal("a user read shows the password")
		}

		// A role manager cannot hand out rights it lacks.
		h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "roleAdmin", "rights": []string{"roleRead", "roleCreate", "userRead", "userUpdate"}}}).want(201)
		h.do(t, req{method: "PUT", path: "/users/" + u.Id, body: map[string]any{"userName": "alice", "roles": []string{"roleAdmin"}, "_v": 1}}).want(200)
		tok := h.login(t, "alice").TokenId
		p := h.do(t, req{method: "POST", path: "/roles", bearer: tok, body: map[string]any{"name": "god", "rights": []string{"admin"}}}).want(403).problem()
		if !strings.Contains(*p.Detail, "does not hold") {
			t.Fatalf("escalation detail %q", *p.Detail)
		}
		h.do(t, req{method: "POST", path: "/roles", bearer: tok, body: map[string]any{"name": "reader", "rights": []string{"userRead"}}}).want(201)

		var role gen.Role
		h.do(t, req{method: "PUT", path: "/roles/reader", body: map[string]any{"name": "reader", "label": "Reader", "rights": []string{"userRead", "roleRead"}, "_v": 1}}).want(200).decode(&role)
		if *role.UnderscoreV != 2 || *role.Label != "Reader" {
			t.Fatalf("role %+v", role)
		}
		h.do(t, req{method: "PUT", path: "/roles/reader", body: map[string]any{"name": "reader", "rights": []string{}, "_v": 1}}).want(409)
		h.do(t, req{method: "PUT", path: "/roles/reader", body: map[string]any{"name": "other", "rights": []string{}}}).want(400)
		var roles gen.RoleQueryResult
		h.do(t, req{method: "GET", path: "/roles?$sort=-name"}).want(200).decode(&roles)
		if roles.TotalCount != 2 || (*roles.Items)[0].Name != "roleAdmin" {
			t.Fatalf("roles %+v", roles)
		}
		h.do(t, req{method: "DELETE", path: "/roles/reader"}).want(200)
		h.do(t, req{method: "GET", path: "/roles/reader"}).want(404)
		h.do(t, req{method: "DELETE", path: "/users/" + u.Id}).want(200)
		h.do(t, req{method: "GET", path: "/users/" + u.Id}).want(404)
	})
}

func TestOrganizationsAndWorkspaces(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		owner := h.user(t, "owner")
		var org gen.Organization
		h.do(t, req{method: "POST", path: "/v3/organizations", body: map[string]any{"name": "Acme", "ownerId": owner.Id}}).want(201).decode(&org)
		wantFields(t, "created organization", holds("id", strings.HasPrefix(org.Id, "28") && len(org.Id) == 16, org.Id, "16 characters from 28"),
			eq("owner.name", deref(org.Owner).Name, "owner"), eq("version", org.Version, int64(1)))
		other := h.org(t, "Other")
		tok := h.login(t, "owner").TokenId

		// The owner sees its organization only.
		var page gen.OrganizationPage
		h.do(t, req{method: "GET", path: "/v3/organizations", bearer: tok}).want(200).decode(&page)
		wantFields(t, "owner's page", eq("totalElements", page.TotalElements, int64(1)), eq("content[0].id", nth(page.Content, 0).Id, org.Id),
			eq("first", page.First, true), eq("last", page.Last, true), eq("size", page.Size, 25))
		h.do(t, req{method: "GET", path: "/v3/organizations/" + other, bearer: tok}).want(404) // not its business: as if missing

		var names []string
		for i := range 7 {
			var w gen.Workspace
			h.do(t, req{method: "POST", path: "/v3/workspaces", bearer: tok,
				body: map[string]any{"name": "ws-" + string(rune('a'+i)), "organizationId": org.Id}}).want(201).decode(&w)
			names = append(names, w.Name)
		}
		var wp gen.WorkspacePage
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id + "&size=3&page=2&sort=name,desc", bearer: tok}).want(200).decode(&wp)
		wantFields(t, "last page", eq("totalElements", wp.TotalElements, int64(7)), eq("totalPages", wp.TotalPages, 3), eq("number", wp.Number, 2),
			eq("last", wp.Last, true), eq("first", wp.First, false), eq("numberOfElements", wp.NumberOfElements, 1),
			eq("content[0].name", nth(wp.Content, 0).Name, "ws-a"), eq("sort.sorted", wp.Sort.Sorted, true), eq("pageable.offset", wp.Pageable.Offset, int64(6)))
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id + "&page=9", bearer: tok}).want(200).decode(&wp)
		if !wp.Empty || len(wp.Content) != 0 || wp.TotalElements != 7 {
			t.Fatalf("page past the end %+v", wp)
		}
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id + "&search=WS-C"}).want(200).decode(&wp)
		if wp.TotalElements != 1 || wp.Content[0].Name != "ws-c" {
			t.Fatalf("search %+v", wp)
		}
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id + "&search=" + url.QueryEscape("%")}).want(200).decode(&wp)
		if wp.TotalElements != 0 {
			t.Fatalf("a %% search matched %d", wp.TotalElements)
		}
		for _, bad := range []string{"size=0", "size=101", "page=-1", "sort=colour,asc"} {
			h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id + "&" + bad}).want(400)
		}

		var w gen.Workspace
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id + "&size=1"}).want(200).decode(&wp)
		wsID := wp.Content[0].Id
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + wsID, bearer: tok, body: map[string]any{"name": "renamed", "organizationId": org.Id, "version": 1}}).want(200).decode(&w)
		if w.Version != 2 || w.Name != "renamed" {
			t.Fatalf("workspace update %+v", w)
		}
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + wsID, bearer: tok, body: map[string]any{"name": "x", "organizationId": org.Id, "version": 1}}).want(409)
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + wsID, bearer: tok, body: map[string]any{"name": "x", "organizationId": other}}).want(400)

		// A workspace viewer reaches one workspace.
		viewer := h.user(t, "viewer")
		h.member(t, org.Id, viewer.Id, "MEMBER")
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + wsID + "/members/" + viewer.Id, bearer: tok, body: map[string]any{"role": "VIEWER"}}).want(200)
		vtok := h.login(t, "viewer").TokenId
		var access gen.WorkspaceAccess
		h.do(t, req{method: "GET", path: "/v3/workspace-access?organizationId=" + org.Id + "&scope=ASSET&verb=READ", bearer: vtok}).want(200).decode(&access)
		if access.All || len(access.Ids) != 1 || access.Ids[0] != wsID {
			t.Fatalf("viewer access %+v", access)
		}
		h.do(t, req{method: "GET", path: "/v3/workspace-access?organizationId=" + org.Id + "&scope=ASSET&verb=UPDATE", bearer: vtok}).want(200).decode(&access)
		if access.All || len(access.Ids) != 0 {
			t.Fatalf("viewer update access %+v", access)
		}
		h.do(t, req{method: "GET", path: "/v3/workspace-access?organizationId=" + org.Id + "&scope=ASSET&verb=DELETE", bearer: tok}).want(200).decode(&access)
		if !access.All {
			t.Fatalf("owner access %+v", access)
		}
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org.Id, bearer: vtok}).want(200).decode(&wp)
		if wp.TotalElements != 1 || wp.Content[0].Id != wsID {
			t.Fatalf("viewer's workspaces %+v", wp)
		}
		h.do(t, req{method: "DELETE", path: "/v3/workspaces/" + wsID, bearer: vtok}).want(403)
		h.do(t, req{method: "GET", path: "/v3/organizations/" + org.Id + "/members", bearer: vtok}).want(403)

		var members gen.MemberPage
		h.do(t, req{method: "GET", path: "/v3/organizations/" + org.Id + "/members?sort=role", bearer: tok}).want(200).decode(&members)
		if members.TotalElements != 2 || members.Content[0].Role != "MEMBER" || members.Content[1].UserName != "owner" {
			t.Fatalf("members %+v", members)
		}
		// An admin cannot make owners; removing a member ends its workspace roles.
		admin := h.user(t, "admin")
		h.member(t, org.Id, admin.Id, "ADMIN")
		atok := h.login(t, "admin").TokenId
		h.do(t, req{method: "PUT", path: "/v3/organizations/" + org.Id + "/members/" + admin.Id, bearer: atok, body: map[string]any{"role": "OWNER"}}).want(403)
		h.do(t, req{method: "DELETE", path: "/v3/organizations/" + org.Id + "/members/" + viewer.Id, bearer: atok}).want(204)
		h.do(t, req{method: "GET", path: "/v3/workspaces/" + wsID, bearer: vtok}).want(404) // no longer its business
		h.do(t, req{method: "DELETE", path: "/v3/organizations/" + org.Id, bearer: atok}).want(403)

		// Deleting the organization takes its workspaces and keys along.
		k := h.create(t, map[string]any{"name": "k", "organizationId": org.Id})
		h.do(t, req{method: "DELETE", path: "/v3/organizations/" + org.Id, bearer: tok}).want(204)
		h.do(t, req{method: "GET", path: "/v3/workspaces/" + wsID}).want(404)
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(404)
	})
}

func TestKeyScopes(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		other := h.org(t, "other")
		ws1 := h.workspace(t, org, "one")
		ws2 := h.workspace(t, org, "two")
		wsKey := h.create(t, map[string]any{"name": "ws", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "WORKSPACE", "verbs": []string{"READ"}, "workspaceIds": []string{ws1}}}})
		as := *wsKey.ClientSecret
		h.do(t, req{method: "GET", path: "/v3/workspaces/" + ws1, apiKey: as}).want(200)
		h.do(t, req{method: "GET", path: "/v3/workspaces/" + ws2, apiKey: as}).want(403)
		var wp gen.WorkspacePage
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + org, apiKey: as}).want(200).decode(&wp)
		if wp.TotalElements != 1 || wp.Content[0].Id != ws1 {
			t.Fatalf("workspace key list %+v", wp)
		}
		h.do(t, req{method: "GET", path: "/v3/workspaces?organizationId=" + other, apiKey: as}).want(403)
		h.do(t, req{method: "GET", path: "/v3/organizations/" + org, apiKey: as}).want(403)
		h.do(t, req{method: "GET", path: "/v3/organizations/" + other, apiKey: as}).want(404)
		h.do(t, req{method: "GET", path: "/apikeys", apiKey: as}).want(403)

		// A key acting as a user has the user's rights, narrowed by its permissions.
		owner := h.user(t, "owner")
		h.member(t, org, owner.Id, "OWNER")
		otok := h.login(t, "owner").TokenId
		var asUser gen.ApiKey
		h.do(t, req{method: "POST", path: "/apikeys", bearer: otok, body: map[string]any{"name": "as owner", "organizationId": org,
			"isActive": true, "userName": "owner", "deviceName": "ci"}}).want(201).decode(&asUser)
		h.do(t, req{method: "GET", path: "/v3/organizations/" + org, apiKey: *asUser.ClientSecret}).want(200)
		h.do(t, req{method: "GET", path: "/v3/organizations/" + other, apiKey: *asUser.ClientSecret}).want(404)
		// An owner cannot mint keys for a user that does not exist, nor beyond
		// its organization (which answers as a missing one).
		h.do(t, req{method: "POST", path: "/apikeys", bearer: otok, body: map[string]any{"name": "x", "organizationId": org, "userName": "root"}}).want(400)
		h.do(t, req{method: "POST", path: "/apikeys", bearer: otok, body: map[string]any{"name": "x", "organizationId": other}}).want(400)
		h.do(t, req{method: "POST", path: "/apikeys", body: map[string]any{"name": "x", "organizationId": "28ffffffffffffff"}}).want(400)
		// Keys listed by the owner are its organization's.
		var keys gen.ApiKeyQueryResult
		h.do(t, req{method: "GET", path: "/apikeys", bearer: otok}).want(200).decode(&keys)
		if keys.TotalCount != 2 {
			t.Fatalf("owner sees %d keys", keys.TotalCount)
		}
		// Deactivating the user stops its keys.
		h.do(t, req{method: "PUT", path: "/users/" + owner.Id, body: map[string]any{"userName": "owner", "isActive": false, "_v": 1}}).want(200)
		h.do(t, req{method: "GET", path: "/v3/organizations/" + org, apiKey: *asUser.ClientSecret}).want(401)
	})
}

func TestRotation(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "ORGANIZATION", "verbs": []string{"READ"}}}})
		old := *k.ClientSecret
		var rotated gen.ApiKey
		h.do(t, req{method: "POST", path: "/apikeys/" + k.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 60}}).want(200).decode(&rotated)
		wantFields(t, "rotated key", holds("clientSecret", rotated.ClientSecret != nil && *rotated.ClientSecret != old, rotated.ClientSecret, "a new secret"),
			eq("clientId", rotated.ClientId, k.ClientId), holds("previousSecretExpiresAt", rotated.PreviousSecretExpiresAt != nil, rotated.PreviousSecretExpiresAt, "set"),
			eq("_v", rotated.UnderscoreV, int64(2)))
		path := "/v3/organizations/" + org
		h.do(t, req{method: "GET", path: path, apiKey: old}).want(200)
		h.do(t, req{method: "GET", path: path, apiKey: *rotated.ClientSecret}).want(200)
		h.do(t, req{method: "GET", path: path, hmac: creds(k)}).want(200)
		h.do(t, req{method: "GET", path: path, hmac: creds(rotated)}).want(200)
		// While the first secret is in its grace period a rotation that would
		// end it silently is refused, and changes nothing.
		h.do(t, req{method: "POST", path: "/apikeys/" + k.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 0}}).want(409)
		h.do(t, req{method: "GET", path: path, apiKey: old}).want(200)
		// Once the grace period is over (by the authenticator's clock), the
		// first secret authenticates no more.
		h.clock.Set(time.Now().Add(61 * time.Second))
		h.do(t, req{method: "GET", path: path, apiKey: old}).want(401)
		h.do(t, req{method: "GET", path: path, hmac: creds(k)}).want(401)
		h.do(t, req{method: "GET", path: path, apiKey: *rotated.ClientSecret}).want(200)
		// Rotating with no grace, ending the earlier grace deliberately,
		// revokes both earlier secrets at once.
		var again gen.ApiKey
		h.do(t, req{method: "POST", path: "/apikeys/" + k.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 0, "endPreviousGrace": true}}).want(200).decode(&again)
		h.do(t, req{method: "GET", path: path, apiKey: old}).want(401)
		h.do(t, req{method: "GET", path: path, apiKey: *rotated.ClientSecret}).want(401)
		h.do(t, req{method: "GET", path: path, apiKey: *again.ClientSecret}).want(200)
	})
}

func TestUsageAndAudit(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "ORGANIZATION", "verbs": []string{"READ"}}}})
		for range 3 {
			h.do(t, req{method: "GET", path: "/v3/organizations/" + org, apiKey: *k.ClientSecret}).want(200)
		}
		var got gen.ApiKey
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(200).decode(&got)
		if got.LastUsedAt != nil {
			t.Fatal("lastUsedAt written per request, not batched")
		}
		if n := len(h.authn.Usage.Pending()); n != 1 {
			t.Fatalf("%d pending usage records, want 1", n)
		}
		if err := h.authn.Usage.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(200).decode(&got)
		if got.LastUsedAt == nil || time.Since(*got.LastUsedAt) > time.Minute {
			t.Fatalf("lastUsedAt %v after flush", got.LastUsedAt)
		}

		h.do(t, req{method: "DELETE", path: "/v3/organizations/" + org, apiKey: *k.ClientSecret}).want(403)
		events, _, err := h.st.Audit.List(t.Context(), mustQuery(t, "$sort=timestamp"), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, e := range events {
			seen = append(seen, e.Action+":"+e.ResourceType+":"+e.Outcome)
		}
		joined := strings.Join(seen, " ")
		for _, want := range []string{"create:organization:success", "create:apiKey:success", "denied:request:denied"} {
			if !strings.Contains(joined, want) {
				t.Errorf("audit log lacks %s: %s", want, joined)
			}
		}
		for _, e := range events {
			if e.Action == "denied" && !strings.HasPrefix(e.Actor, "key:"+k.Id) {
				t.Errorf("denial recorded for %q", e.Actor)
			}
		}
	})
}
