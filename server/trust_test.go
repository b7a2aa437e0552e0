package server_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyplane/keyplane/auth/nws4"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store/storetest"
)

// world is two organizations with users in every akenza role and keys of
// every kind: the cast of the authorization tables.
type world struct {
	h                       *harness
	orgA, orgB, wsA1, wsA2  string
	users                   map[string]gen.User
	tokens                  map[string]string     // login access tokens, by user name
	keys                    map[string]gen.ApiKey // created keys with their secrets, by name
	missingUser, missingKey string
}

func newWorld(t *testing.T, h *harness) *world {
	t.Helper()
	w := &world{h: h, users: map[string]gen.User{}, tokens: map[string]string{}, keys: map[string]gen.ApiKey{},
		missingUser: strings.Repeat("ab", 12), missingKey: strings.Repeat("cd", 12)}
	w.orgA, w.orgB = h.org(t, "A"), h.org(t, "B")
	w.wsA1, w.wsA2 = h.workspace(t, w.orgA, "A1"), h.workspace(t, w.orgA, "A2")
	h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "userManager",
		"rights": []string{"userRead", "userCreate", "userUpdate", "userDelete"}}}).want(201)
	h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "roleManager",
		"rights": []string{"roleRead", "roleCreate", "roleUpdate", "roleDelete"}}}).want(201)
	h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "keyReader", "rights": []string{"apiKeyRead"}}}).want(201)
	h.do(t, req{method: "POST", path: "/roles", body: map[string]any{"name": "roleReader", "rights": []string{"roleRead"}}}).want(201)
	for _, u := range []struct {
		name, org, role string
		roles           []string
	}{
		{"owner", w.orgA, "OWNER", nil},
		{"admin", w.orgA, "ADMIN", nil},
		{"editor", w.orgA, "EDITOR", nil},
		{"viewer", w.orgA, "VIEWER", nil},
		{"member", w.orgA, "MEMBER", nil},
		{"selfie", w.orgA, "VIEWER", nil},
		{"ownerB", w.orgB, "OWNER", nil},
		{"userAdmin", "", "", []string{"userManager"}},
		{"roleAdmin", "", "", []string{"roleManager"}},
		{"loner", "", "", nil},
		{"outsider", "", "", nil},
	} {
		w.users[u.name] = h.user(t, u.name, u.roles...)
		if u.org != "" {
			h.member(t, u.org, w.users[u.name].Id, u.role)
		}
		w.tokens[u.name] = h.login(t, u.name).TokenId
	}
	h.do(t, req{method: "PUT", path: "/v3/workspaces/" + w.wsA1 + "/members/" + w.users["member"].Id, body: map[string]any{"role": "VIEWER"}}).want(200)
	perm := func(scope string, verbs ...string) map[string]any {
		return map[string]any{"scope": scope, "verbs": verbs}
	}
	for name, in := range map[string]map[string]any{
		"narrow":     {"organizationId": w.orgA, "permissions": []any{perm("ASSET", "READ")}},
		"keyAdmin":   {"organizationId": w.orgA, "permissions": []any{perm("API_KEY", "READ", "CREATE", "UPDATE", "DELETE")}},
		"ownerGrade": {"organizationId": w.orgA, "permissions": []any{perm("ORGANIZATION", "READ", "UPDATE", "DELETE")}},
		"asOwner":    {"organizationId": w.orgA, "userName": "owner"},
		"asViewer":   {"organizationId": w.orgA, "userName": "viewer"},
		"inB":        {"organizationId": w.orgB, "permissions": []any{perm("ASSET", "READ")}},
		"metrics":    {"permissions": []any{perm("METRICS", "READ")}},
	} {
		in["name"], in["isActive"] = name, true
		w.keys[name] = h.create(t, in)
	}
	return w
}

// as sends r with a caller's credentials: "root", a user's login, or "key:" a key's secret.
func (w *world) as(caller string, r req) req {
	switch {
	case caller == "root":
	case strings.HasPrefix(caller, "key:"):
		r.apiKey = *w.keys[strings.TrimPrefix(caller, "key:")].ClientSecret
	default:
		r.bearer = w.tokens[caller]
	}
	return r
}

// version reads a resource's current _v as root, for writes that must name it.
func (w *world) version(t *testing.T, path string) int64 {
	t.Helper()
	var v struct {
		V int64 `json:"_v"`
	}
	w.h.do(t, req{method: "GET", path: path}).want(200).decode(&v)
	return v.V
}

// authzCase is one row of an authorization table: an operation that yields a
// credential or changes what someone may do, by a caller, on a target. A
// refusal must leave the watched resource exactly as it was.
type authzCase struct {
	name   string
	caller string
	op     func(t *testing.T, w *world) req
	want   int
	watch  func(w *world) string // read as root before and after a refusal
}

func runAuthz(t *testing.T, cases []authzCase) {
	each(t, func(t *testing.T, h *harness) {
		w := newWorld(t, h)
		for _, tc := range cases { // in order: a row may rely on the ones before it
			r := w.as(tc.caller, tc.op(t, w))
			var before []byte
			if tc.watch != nil {
				before = h.do(t, req{method: "GET", path: tc.watch(w)}).Body
			}
			res := h.do(t, r)
			if res.Code != tc.want {
				t.Errorf("%s: %s %s by %s: status %d, want %d: %s", tc.name, r.method, r.path, tc.caller, res.Code, tc.want, res.Body)
				continue
			}
			if tc.want >= 400 && tc.watch != nil {
				if after := h.do(t, req{method: "GET", path: tc.watch(w)}).Body; string(after) != string(before) {
					t.Errorf("%s: refused, yet %s changed:\nbefore %s\nafter  %s", tc.name, tc.watch(w), before, after)
				}
			}
		}
	})
}

func keyPath(name string) func(w *world) string {
	return func(w *world) string { return "/apikeys/" + w.keys[name].Id }
}

func userPath(name string) func(w *world) string {
	return func(w *world) string { return "/users/" + w.users[name].Id }
}

func membersOfA(w *world) string {
	return "/v3/organizations/" + w.orgA + "/members?size=100&sort=userId"
}

func membersOfA1(w *world) string { return "/v3/workspaces/" + w.wsA1 }

func rotate(name string) func(t *testing.T, w *world) req {
	return func(t *testing.T, w *world) req {
		return req{method: "POST", path: "/apikeys/" + w.keys[name].Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 60}}
	}
}

func createKey(in map[string]any) func(t *testing.T, w *world) req {
	return func(t *testing.T, w *world) req {
		body := maps.Clone(in)
		body["name"] = "new"
		if _, ok := body["organizationId"]; !ok {
			body["organizationId"] = w.orgA
		}
		return req{method: "POST", path: "/apikeys", body: body}
	}
}

// TestKeyAuthorityOnlyGoesDown: whatever hands out a key's secret or
// changes what a key may do needs a caller who covers all of the key.
func TestKeyAuthorityOnlyGoesDown(t *testing.T) {
	orgDelete := []any{map[string]any{"scope": "ORGANIZATION", "verbs": []string{"DELETE"}}}
	runAuthz(t, []authzCase{
		{"a narrow key rotates a broader key", "key:narrow", rotate("ownerGrade"), 403, keyPath("ownerGrade")},
		{"a key manager rotates a key broader than itself", "key:keyAdmin", rotate("ownerGrade"), 403, keyPath("ownerGrade")},
		{"an org admin rotates a key that can delete the organization", "admin", rotate("ownerGrade"), 403, keyPath("ownerGrade")},
		{"an org admin rotates a key acting as the owner", "admin", rotate("asOwner"), 403, keyPath("asOwner")},
		{"a key acting as the viewer rotates a key acting as the owner", "key:asViewer", rotate("asOwner"), 403, keyPath("asOwner")},
		{"an owner of another organization rotates a key", "ownerB", rotate("narrow"), 404, keyPath("narrow")},
		{"an org admin rotates a key acting as a viewer", "admin", rotate("asViewer"), 200, nil},
		{"the owner rotates a key acting as itself", "owner", rotate("asOwner"), 200, nil},
		{"an org admin narrows a key that can delete the organization", "admin", func(t *testing.T, w *world) req {
			return req{method: "PUT", path: keyPath("ownerGrade")(w), body: map[string]any{"name": "narrowed", "isActive": true,
				"organizationId": w.orgA, "permissions": []any{}, "_v": w.version(t, keyPath("ownerGrade")(w))}}
		}, 403, keyPath("ownerGrade")},
		{"an org admin makes a viewer's key act as the owner", "admin", func(t *testing.T, w *world) req {
			return req{method: "PUT", path: keyPath("asViewer")(w), body: map[string]any{"name": "climb", "isActive": true,
				"organizationId": w.orgA, "userName": "owner", "_v": w.version(t, keyPath("asViewer")(w))}}
		}, 403, keyPath("asViewer")},
		{"an org admin deletes a key acting as the owner", "admin", func(t *testing.T, w *world) req {
			return req{method: "DELETE", path: keyPath("asOwner")(w)}
		}, 403, keyPath("asOwner")},
		{"an org admin creates a key that can delete the organization", "admin", createKey(map[string]any{"permissions": orgDelete}), 403, nil},
		{"an org admin creates a key acting as the owner", "admin", createKey(map[string]any{"userName": "owner"}), 403, nil},
		{"a key manager creates a key acting as a viewer", "key:keyAdmin", createKey(map[string]any{"userName": "viewer"}), 403, nil},
		{"root creates a key for a user that does not exist", "root", createKey(map[string]any{"userName": "ghost"}), 400, nil},
		{"an org admin creates a key in another organization", "admin", func(t *testing.T, w *world) req {
			return req{method: "POST", path: "/apikeys", body: map[string]any{"name": "x", "organizationId": w.orgB}}
		}, 400, nil},
		{"an org admin creates a key acting as a viewer", "admin", createKey(map[string]any{"userName": "viewer"}), 201, nil},
		{"the owner creates a key that can delete the organization", "owner", createKey(map[string]any{"permissions": orgDelete}), 201, nil},
		// Rate limits: setting one is a change of the key like any other,
		// and a rate-limited caller gives no key more than its own.
		{"a narrow key raises its own limit", "key:narrow", putKeyRate("narrow", 1000), 403, keyPath("narrow")},
		{"root limits the key manager", "root", putKeyRate("keyAdmin", 10), 200, nil},
		{"a limited key manager lifts its own limit", "key:keyAdmin", putKeyRate("keyAdmin", 1000), 403, keyPath("keyAdmin")},
		{"a limited key manager creates a key with a higher limit", "key:keyAdmin",
			createKey(map[string]any{"rateLimit": map[string]any{"limit": 11, "periodSeconds": 60}}), 403, nil},
		{"a limited key manager creates a key with a higher rate", "key:keyAdmin",
			createKey(map[string]any{"rateLimit": map[string]any{"limit": 5, "periodSeconds": 10}}), 403, nil},
		{"a limited key manager creates a key without a limit", "key:keyAdmin", createKey(map[string]any{}), 403, nil},
		{"a limited key manager creates a key with a lower limit", "key:keyAdmin",
			createKey(map[string]any{"rateLimit": map[string]any{"limit": 5, "periodSeconds": 60}}), 201, nil},
		{"an org admin limits a key acting as a viewer", "admin", putKeyRate("asViewer", 50), 200, nil},
		{"root limits the organization manager key", "root", putKeyRate("ownerGrade", 10), 200, nil},
		{"a limited key raises its organization's default above its own", "key:ownerGrade", putOrgRate(1000), 403, orgAPath},
		{"a limited key removes its organization's default", "key:ownerGrade", putOrgRate(0), 403, orgAPath},
		{"a limited key sets its organization's default below its own", "key:ownerGrade", putOrgRate(5), 200, nil},
	})
}

func orgAPath(w *world) string { return "/v3/organizations/" + w.orgA }

// putOrgRate sets organization A's default to limit per minute (0: none).
func putOrgRate(limit int) func(t *testing.T, w *world) req {
	return func(t *testing.T, w *world) req {
		var o gen.Organization
		w.h.do(t, req{method: "GET", path: orgAPath(w)}).want(200).decode(&o)
		body := map[string]any{"name": o.Name, "version": o.Version}
		if limit > 0 {
			body["rateLimit"] = map[string]any{"limit": limit, "periodSeconds": 60}
		}
		return req{method: "PUT", path: orgAPath(w), body: body}
	}
}

// putKeyRate sets key name's limit to limit per minute, keeping the rest.
func putKeyRate(name string, limit int) func(t *testing.T, w *world) req {
	return func(t *testing.T, w *world) req {
		k := w.keys[name]
		body := map[string]any{"name": k.Name, "isActive": true, "organizationId": w.orgA, "permissions": k.Permissions,
			"_v": w.version(t, keyPath(name)(w)), "rateLimit": map[string]any{"limit": limit, "periodSeconds": 60}}
		if k.UserName != nil {
			body["userName"] = *k.UserName
		}
		return req{method: "PUT", path: keyPath(name)(w), body: body}
	}
}

// TestUserStandingNeedsCover: changing another person's credentials or
// standing needs all of that person's authority; one's own password needs
// the present one.
func TestUserStandingNeedsCover(t *testing.T) {
	update := func(name string, change map[string]any) func(t *testing.T, w *world) req {
		return func(t *testing.T, w *world) req {
			body := map[string]any{"userName": name, "_v": w.version(t, userPath(name)(w))}
			maps.Copy(body, change)
			return req{method: "PUT", path: userPath(name)(w), body: body}
		}
	}
	const fresh = "a brand new password"
	runAuthz(t, []authzCase{
		{"a userUpdate holder resets the owner's password", "userAdmin", update("owner", map[string]any{"password": fresh}), 403, userPath("owner")},
		{"a userUpdate holder deactivates the owner", "userAdmin", update("owner", map[string]any{"isActive": false}), 403, userPath("owner")},
		{"a userUpdate holder renames the owner", "userAdmin", update("owner", map[string]any{"userName": "owned"}), 403, userPath("owner")},
		{"a userUpdate holder changes the owner's email", "userAdmin", update("owner", map[string]any{"email": "evil@example.com"}), 403, userPath("owner")},
		{"a userUpdate holder resets a viewer's password", "userAdmin", update("viewer", map[string]any{"password": fresh}), 403, userPath("viewer")},
		{"a userUpdate holder deletes the owner", "userAdmin", func(t *testing.T, w *world) req {
			return req{method: "DELETE", path: userPath("owner")(w)}
		}, 403, userPath("owner")},
		{"an org admin resets a member's password", "admin", update("viewer", map[string]any{"password": fresh}), 403, userPath("viewer")},
		{"a user gives itself a role", "viewer", update("viewer", map[string]any{"roles": []string{"keyReader"}}), 403, userPath("viewer")},
		{"a user deactivates itself without userUpdate", "viewer", update("viewer", map[string]any{"isActive": false}), 403, userPath("viewer")},
		{"a key acting as the owner changes its password without the present one", "key:asOwner",
			update("owner", map[string]any{"password": fresh}), 400, userPath("owner")},
		{"a user changes its password without the present one", "selfie", update("selfie", map[string]any{"password": fresh}), 400, userPath("selfie")},
		{"a user changes its password with a wrong present one", "selfie",
			update("selfie", map[string]any{"password": fresh, "currentPassword": "not it"}), 400, userPath("selfie")},
		{"a user changes its display name", "viewer", update("viewer", map[string]any{"displayName": "Vera"}), 200, nil},
		{"a userUpdate holder resets the password of a user with no authority", "userAdmin", update("loner", map[string]any{"password": fresh}), 200, nil},
		{"a user changes its password with the present one", "selfie",
			update("selfie", map[string]any{"password": fresh, "currentPassword": "password-selfie"}), 200, nil},
		{"root resets the owner's password", "root", update("owner", map[string]any{"password": fresh}), 200, nil},
	})
}

// TestMembershipsAreMonotone: a role is granted, changed or removed only by
// a caller who holds everything both the old and the new role allow.
func TestMembershipsAreMonotone(t *testing.T) {
	putMember := func(user, role string) func(t *testing.T, w *world) req {
		return func(t *testing.T, w *world) req {
			id := w.missingUser
			if u, ok := w.users[user]; ok {
				id = u.Id
			}
			return req{method: "PUT", path: "/v3/organizations/" + w.orgA + "/members/" + id, body: map[string]any{"role": role}}
		}
	}
	removeMember := func(user string) func(t *testing.T, w *world) req {
		return func(t *testing.T, w *world) req {
			return req{method: "DELETE", path: "/v3/organizations/" + w.orgA + "/members/" + w.users[user].Id}
		}
	}
	putWorkspaceMember := func(user, role string) func(t *testing.T, w *world) req {
		return func(t *testing.T, w *world) req {
			return req{method: "PUT", path: "/v3/workspaces/" + w.wsA1 + "/members/" + w.users[user].Id, body: map[string]any{"role": role}}
		}
	}
	runAuthz(t, []authzCase{
		{"an admin makes itself owner", "admin", putMember("admin", "OWNER"), 403, membersOfA},
		{"an admin demotes the owner", "admin", putMember("owner", "ADMIN"), 403, membersOfA},
		{"an admin removes the owner", "admin", removeMember("owner"), 403, membersOfA},
		{"the last owner demotes itself", "owner", putMember("owner", "ADMIN"), 409, membersOfA},
		{"the last owner leaves", "owner", removeMember("owner"), 409, membersOfA},
		{"an admin pulls in a platform user", "admin", putMember("outsider", "MEMBER"), 404, membersOfA},
		{"an admin probes a user id that does not exist", "admin", putMember("nobody", "MEMBER"), 404, membersOfA},
		{"a platform user manager with no role here adds a member", "userAdmin", putMember("loner", "MEMBER"), 403, membersOfA},
		{"an editor makes itself workspace admin", "editor", putWorkspaceMember("editor", "ADMIN"), 403, membersOfA1},
		{"an editor makes a member workspace admin", "editor", putWorkspaceMember("member", "ADMIN"), 403, membersOfA1},
		{"a workspace viewer makes itself workspace editor", "member", putWorkspaceMember("member", "EDITOR"), 403, membersOfA1},
		{"an owner of another organization changes a member", "ownerB", putMember("viewer", "ADMIN"), 404, membersOfA},
		{"an admin makes a viewer editor", "admin", putMember("viewer", "EDITOR"), 200, nil},
		{"an admin makes a member workspace editor", "admin", putWorkspaceMember("member", "EDITOR"), 200, nil},
		{"root pulls in a platform user", "root", putMember("outsider", "MEMBER"), 200, nil},
		{"the owner makes the admin an owner", "owner", putMember("admin", "OWNER"), 200, nil},
		{"an owner leaves another owner behind", "owner", removeMember("owner"), 204, nil},
	})
}

// TestRolesAreMonotone: changing or deleting a role changes what everyone
// holding it may do, so the caller must hold its rights, old and new.
func TestRolesAreMonotone(t *testing.T) {
	putRole := func(name string, rights ...string) func(t *testing.T, w *world) req {
		return func(t *testing.T, w *world) req {
			return req{method: "PUT", path: "/roles/" + name, body: map[string]any{"name": name, "rights": append([]string{}, rights...), "_v": w.version(t, "/roles/"+name)}}
		}
	}
	rolePath := func(name string) func(w *world) string { return func(w *world) string { return "/roles/" + name } }
	runAuthz(t, []authzCase{
		{"a role manager widens a role beyond itself", "roleAdmin", putRole("keyReader", "apiKeyRead", "admin"), 403, rolePath("keyReader")},
		{"a role manager strips a role it does not hold", "roleAdmin", putRole("keyReader"), 403, rolePath("keyReader")},
		{"a role manager deletes a role it does not hold", "roleAdmin", func(t *testing.T, w *world) req {
			return req{method: "DELETE", path: "/roles/keyReader"}
		}, 403, rolePath("keyReader")},
		{"a role manager gives itself admin", "roleAdmin", putRole("roleManager", "roleRead", "roleCreate", "roleUpdate", "roleDelete", "admin"), 403, rolePath("roleManager")},
		{"a role manager edits a role within its rights", "roleAdmin", putRole("roleReader", "roleRead", "roleUpdate"), 200, nil},
	})
}

// TestNoExistenceOracle: to a caller with no grant in an organization, its
// resources answer exactly as missing ones; inside its own organization a
// missing verb is still akenza's 403.
func TestNoExistenceOracle(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		w := newWorld(t, h)
		wsB := h.workspace(t, w.orgB, "B1")
		dtB := h.deviceType(t, wsB, "climate")
		flowB := h.dataFlow(t, wsB, dtB, "flow")
		devB := h.device(t, wsB, flowB.Id, "70B3D57ED0000001", "dev")
		tagB := h.tag(t, wsB, "tag")
		hookB := h.newWebhookConnector(t, wsB, "hook", map[string]any{"uri": "https://hooks.example.com/x"})
		const missing16 = "ffffffffffffff"
		for _, tc := range []struct{ resource, present, absent string }{
			{"organization", "/v3/organizations/" + w.orgB, "/v3/organizations/28" + missing16},
			{"organization members", "/v3/organizations/" + w.orgB + "/members", "/v3/organizations/28" + missing16 + "/members"},
			{"workspace", "/v3/workspaces/" + wsB, "/v3/workspaces/29" + missing16},
			{"device", "/v3/devices/" + devB.Id, "/v3/devices/" + devB.Id[:2] + missing16},
			{"device data", "/v3/devices/" + devB.Id + "/query/latest-sample", "/v3/devices/" + devB.Id[:2] + missing16 + "/query/latest-sample"},
			{"device type", "/v3/device-types/" + dtB, "/v3/device-types/" + dtB[:2] + missing16},
			{"data flow", "/v3/data-flows/" + flowB.Id, "/v3/data-flows/" + flowB.Id[:2] + missing16},
			{"tag", "/v3/tags/" + tagB.Id, "/v3/tags/71" + missing16},
			{"output connector", "/v3/output-connectors/" + hookB.Id, "/v3/output-connectors/" + hookB.Id[:2] + missing16},
			{"api key", "/apikeys/" + w.keys["inB"].Id, "/apikeys/" + w.missingKey},
		} {
			for _, caller := range []string{"owner", "key:narrow", "key:asOwner"} {
				present := h.do(t, w.as(caller, req{method: "GET", path: tc.present}))
				absent := h.do(t, w.as(caller, req{method: "GET", path: tc.absent}))
				if present.Code != 404 || absent.Code != 404 || stableProblem(t, present) != stableProblem(t, absent) {
					t.Errorf("%s by %s: present %d %s, absent %d %s", tc.resource, caller, present.Code, present.Body, absent.Code, absent.Body)
				}
			}
		}
		// Inside the caller's own organization a missing verb is a 403.
		p := h.do(t, w.as("viewer", req{method: "DELETE", path: "/v3/workspaces/" + w.wsA1})).want(403).problem()
		if *p.Message != "Permission denied" {
			t.Errorf("in-organization refusal %+v", p)
		}
		h.do(t, w.as("key:narrow", req{method: "GET", path: "/apikeys/" + w.keys["keyAdmin"].Id})).want(403)
	})
}

// stableProblem is a problem body without what differs per request or path.
func stableProblem(t *testing.T, r *response) string {
	t.Helper()
	var m map[string]any
	r.decode(&m)
	for _, k := range []string{"timestamp", "errorId", "requestId", "traceId", "instance", "path"} {
		delete(m, k)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestStrangersCannotLockOut: a key's clientId and a user's name are
// public; failures from one address never lock the holder out elsewhere.
func TestStrangersCannotLockOut(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		w := newWorld(t, h)
		from := func(addr string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = addr + ":4321" } }
		k := w.keys["narrow"]
		wrong := &nws4.Credentials{ClientID: k.ClientId, Secret: strings.Repeat("0", 64)}
		path := "/v3/assets?organizationId=" + w.orgA
		for range 25 { // past the per-(address, key) allowance
			h.do(t, req{method: "GET", path: path, hmac: wrong, after: from("198.51.100.66")})
		}
		h.do(t, req{method: "GET", path: path, hmac: creds(k), after: from("198.51.100.66")}).want(429)
		h.do(t, req{method: "GET", path: path, hmac: creds(k), after: from("203.0.113.5")}).want(200)
		h.do(t, req{method: "GET", path: path, apiKey: *k.ClientSecret, after: from("203.0.113.5")}).want(200)
		// The stranger's address may still use other keys until the address itself is exhausted.
		h.do(t, w.as("key:keyAdmin", req{method: "GET", path: "/apikeys", after: from("198.51.100.66")})).want(200)

		login := func(password, addr string) *response {
			return h.do(t, req{method: "POST", path: "/api/auth", anonymous: true, after: from(addr),
				body: map[string]any{"userName": "viewer", "password": password}})
		}
		for range 25 {
			login("guess", "198.51.100.77")
		}
		login("password-viewer", "198.51.100.77").want(429)
		login("password-viewer", "203.0.113.6").want(200)
	})
}

// TestOneCredentialPerRequest: a request naming several credentials is
// ambiguous, never "the first one wins".
func TestOneCredentialPerRequest(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		w := newWorld(t, h)
		secret := *w.keys["keyAdmin"].ClientSecret
		for _, tc := range []struct {
			name   string
			header func(r *http.Request)
		}{
			{"x-api-key twice", func(r *http.Request) { r.Header["X-Api-Key"] = []string{secret, secret} }},
			{"Authorization twice", func(r *http.Request) {
				r.Header["Authorization"] = []string{"Bearer " + rootToken, "Bearer " + rootToken}
			}},
			{"x-api-key and Authorization", func(r *http.Request) {
				r.Header.Set("X-Api-Key", secret)
				r.Header.Set("Authorization", "Bearer "+rootToken)
			}},
		} {
			p := h.do(t, req{method: "GET", path: "/apikeys", anonymous: true, after: tc.header}).want(401).problem()
			if p.Detail == nil || *p.Detail != "ambiguous_credentials" {
				t.Errorf("%s: %+v", tc.name, p)
			}
		}
	})
}

// TestMetricsNeedACredential: /metrics tells an outsider the operations and
// their failures; on the API address it needs METRICS:READ.
func TestMetricsNeedACredential(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		w := newWorld(t, h)
		for _, tc := range []struct {
			name   string
			header map[string]string
			want   int
		}{
			{"anonymous", map[string]string{}, 401},
			{"a key without METRICS:READ", map[string]string{"x-api-key": *w.keys["keyAdmin"].ClientSecret}, 403},
			{"the organization owner", map[string]string{"Authorization": "Bearer " + w.tokens["owner"]}, 403},
			{"a key with METRICS:READ", map[string]string{"x-api-key": *w.keys["metrics"].ClientSecret}, 200},
			{"root", nil, 200},
		} {
			rec := h.scrape(t, tc.header)
			if rec.Code != tc.want || (tc.want == 200) != strings.Contains(rec.Body.String(), "keyplane_http_requests_total") {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body.String()[:min(200, rec.Body.Len())])
			}
		}
	})
}

// TestRotationUnderConcurrency: concurrent rotations serialize and every 200
// hands out a working secret; racing deletes answer 404 to the losers.
func TestRotationUnderConcurrency(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "ORGANIZATION", "verbs": []string{"READ"}}}})
		const n = 8
		codes := make([]int, n)
		secrets := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res := h.do(t, req{method: "POST", path: "/apikeys/" + k.Id + "/rotate", body: map[string]any{"gracePeriodSeconds": 3600}})
				codes[i] = res.Code
				if res.Code == 200 {
					var got gen.ApiKey
					res.decode(&got)
					secrets[i] = *got.ClientSecret
				}
			})
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[n-1] != 409 || codes[n-2] != 409 || codes[0] != 200 || codes[1] != 409 {
			t.Fatalf("concurrent rotations answered %v, want one 200 and the rest 409", codes)
		}
		for _, s := range append(slices.DeleteFunc(secrets, func(s string) bool { return s == "" }), *k.ClientSecret) {
			h.do(t, req{method: "GET", path: "/v3/organizations/" + org, apiKey: s}).want(200)
		}

		for i := range n {
			wg.Go(func() { codes[i] = h.do(t, req{method: "DELETE", path: "/apikeys/" + k.Id}).Code })
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != 200 || codes[1] != 404 || codes[n-1] != 404 {
			t.Fatalf("racing deletes answered %v, want one 200 and the rest 404", codes)
		}
	})
}

// TestKeysBindToUserIDs: a key acting as a user is bound to the user's id.
// Deleting the user ends the key for good, a new user with the same name
// inherits nothing, and a renamed user's keys show the new name.
func TestKeysBindToUserIDs(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		u := h.user(t, "dana")
		h.member(t, org, u.Id, "VIEWER")
		k := h.create(t, map[string]any{"name": "as dana", "organizationId": org, "isActive": true, "userName": "dana"})
		path := "/v3/organizations/" + org
		h.do(t, req{method: "GET", path: path, apiKey: *k.ClientSecret}).want(200)

		h.do(t, req{method: "PUT", path: "/users/" + u.Id, body: map[string]any{"userName": "dana.r", "_v": 1}}).want(200)
		var renamed gen.ApiKey
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(200).decode(&renamed)
		if renamed.UserName == nil || *renamed.UserName != "dana.r" {
			t.Fatalf("after the rename the key shows userName %v", renamed.UserName)
		}
		h.do(t, req{method: "GET", path: path, apiKey: *k.ClientSecret}).want(200)

		h.do(t, req{method: "DELETE", path: "/users/" + u.Id}).want(200)
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(404)
		h.do(t, req{method: "GET", path: path, apiKey: *k.ClientSecret}).want(401)
		again := h.user(t, "dana.r")
		h.member(t, org, again.Id, "OWNER")
		h.do(t, req{method: "GET", path: path, apiKey: *k.ClientSecret}).want(401)

		// A key that acted as a user by name before keys were bound to ids,
		// and whose name matches no user, authenticates no one.
		legacy := h.create(t, map[string]any{"name": "legacy", "organizationId": org, "isActive": true, "userName": "dana.r"})
		storetest.Exec(t, h.st, "UPDATE api_keys SET user_id = NULL, user_name = ? WHERE id = ?", "gone", legacy.Id)
		h.do(t, req{method: "GET", path: path, apiKey: *legacy.ClientSecret}).want(401)
	})
}
