package auth_test

import (
	"slices"
	"testing"

	"github.com/keyplane/keyplane/auth"
)

func TestRightSpelling(t *testing.T) {
	for _, tc := range []struct {
		scope auth.Scope
		verb  auth.Verb
		right auth.Right
	}{
		{auth.ScopeAPIKey, auth.Create, "apiKeyCreate"},
		{auth.ScopeOutputConnector, auth.Delete, "outputConnectorDelete"},
		{auth.ScopeAsset, auth.Read, "assetRead"},
		{auth.ScopeKey, auth.Verify, "keyVerify"},
		{auth.ScopeAudit, auth.Read, "auditRead"},
	} {
		if got := auth.RightOf(tc.scope, tc.verb); got != tc.right {
			t.Errorf("RightOf(%s, %s) = %s, want %s", tc.scope, tc.verb, got, tc.right)
		}
		s, v, ok := auth.ParseRight(tc.right)
		if !ok || s != tc.scope || v != tc.verb {
			t.Errorf("ParseRight(%s) = %s %s %v", tc.right, s, v, ok)
		}
	}
	// Verbs that do not apply to a scope are no rights.
	for _, r := range []auth.Right{"apiKeyFly", "keyRead", "keyDelete", "assetVerify", "apiKeyVerify", "auditCreate", "auditDelete"} {
		if _, _, ok := auth.ParseRight(r); ok {
			t.Errorf("ParseRight(%s) accepted a right that does not exist", r)
		}
	}
}

// TestVerbsOf: every scope has its verbs, KEY only VERIFY and AUDIT only
// READ; only those are rights.
func TestVerbsOf(t *testing.T) {
	for _, s := range auth.Scopes {
		verbs := auth.VerbsOf(s)
		if len(verbs) == 0 {
			t.Errorf("scope %s has no verbs", s)
		}
		for _, v := range auth.Verbs {
			if got, want := auth.IsRight(s, v), slices.Contains(verbs, v); got != want {
				t.Errorf("IsRight(%s, %s) = %v, want %v", s, v, got, want)
			}
		}
	}
	if got := auth.VerbsOf(auth.ScopeKey); !slices.Equal(got, []auth.Verb{auth.Verify}) {
		t.Errorf("VerbsOf(KEY) = %v", got)
	}
	if got := auth.VerbsOf(auth.ScopeAudit); !slices.Equal(got, []auth.Verb{auth.Read}) {
		t.Errorf("VerbsOf(AUDIT) = %v", got)
	}
	if auth.IsRight(auth.ScopeAsset, auth.Verify) || auth.VerbsOf("NOPE") != nil {
		t.Error("a verb outside its scope is a right")
	}
}

const (
	org   = "28aaaaaaaaaaaaaa"
	other = "28bbbbbbbbbbbbbb"
	ws1   = "29aaaaaaaaaaaaa1"
	ws2   = "29aaaaaaaaaaaaa2"
)

func target(s auth.Scope, v auth.Verb, o, ws string) auth.Target {
	return auth.Target{Scope: s, Verb: v, Organization: o, Workspace: ws}
}

func TestPrincipalAllowed(t *testing.T) {
	owner := auth.NewPrincipal("o", "bearer", auth.OrganizationRoleGrants("OWNER", org), nil)
	admin := auth.NewPrincipal("a", "bearer", auth.OrganizationRoleGrants("ADMIN", org), nil)
	viewer := auth.NewPrincipal("v", "bearer", auth.OrganizationRoleGrants("VIEWER", org), nil)
	wsEditor := auth.NewPrincipal("w", "bearer", auth.WorkspaceRoleGrants("EDITOR", org, ws1), nil)
	wsKey := auth.NewPrincipal("k", "x-api-key", []auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}, Organization: org, Workspaces: []string{ws1}}}, nil)
	// A key acting as the owner, narrowed to reading assets.
	narrowed := auth.NewPrincipal("n", "x-api-key", auth.OrganizationRoleGrants("OWNER", org),
		[]auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}, Organization: org}})
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		t    auth.Target
		want bool
	}{
		{"owner deletes the org", owner, target(auth.ScopeOrganization, auth.Delete, org, ""), true},
		{"owner elsewhere", owner, target(auth.ScopeOrganization, auth.Read, other, ""), false},
		{"admin cannot delete the org", admin, target(auth.ScopeOrganization, auth.Delete, org, ""), false},
		{"admin creates keys", admin, target(auth.ScopeAPIKey, auth.Create, org, ""), true},
		{"viewer reads assets", viewer, target(auth.ScopeAsset, auth.Read, org, ws2), true},
		{"viewer cannot write assets", viewer, target(auth.ScopeAsset, auth.Update, org, ws2), false},
		{"viewer cannot see keys", viewer, target(auth.ScopeAPIKey, auth.Read, org, ""), false},
		{"owner verifies keys", owner, target(auth.ScopeKey, auth.Verify, org, ""), true},
		{"admin verifies keys", admin, target(auth.ScopeKey, auth.Verify, org, ""), true},
		{"admin reads the audit log", admin, target(auth.ScopeAudit, auth.Read, org, ""), true},
		{"viewer cannot verify keys", viewer, target(auth.ScopeKey, auth.Verify, org, ""), false},
		{"viewer cannot read the audit log", viewer, target(auth.ScopeAudit, auth.Read, org, ""), false},
		{"workspace editor cannot read the audit log", wsEditor, target(auth.ScopeAudit, auth.Read, org, ""), false},
		{"workspace editor in its workspace", wsEditor, target(auth.ScopeData, auth.Create, org, ws1), true},
		{"workspace editor elsewhere", wsEditor, target(auth.ScopeData, auth.Create, org, ws2), false},
		{"workspace editor at org level", wsEditor, target(auth.ScopeAsset, auth.Read, org, ""), false},
		{"workspace key in its workspace", wsKey, target(auth.ScopeAsset, auth.Read, org, ws1), true},
		{"workspace key at org level", wsKey, target(auth.ScopeAsset, auth.Read, org, ""), false},
		{"narrowed key reads assets", narrowed, target(auth.ScopeAsset, auth.Read, org, ws2), true},
		{"narrowed key cannot delete the org", narrowed, target(auth.ScopeOrganization, auth.Delete, org, ""), false},
		{"root everywhere", auth.Root(), target(auth.ScopeUser, auth.Delete, "", ""), true},
		{"nil principal", nil, target(auth.ScopeAsset, auth.Read, org, ws1), false},
	} {
		if got := tc.p.Allowed(tc.t); got != tc.want {
			t.Errorf("%s: Allowed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPrincipalReach(t *testing.T) {
	both := []auth.Grant{
		{Scope: auth.ScopeAsset, Organization: org, Workspaces: []string{ws1, ws2}},
	}
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		all  bool
		ids  []string
	}{
		{"org role", auth.NewPrincipal("v", "", auth.OrganizationRoleGrants("VIEWER", org), nil), true, nil},
		{"workspace grants", auth.NewPrincipal("k", "", both, nil), false, []string{ws1, ws2}},
		{"narrowed by a workspace limit", auth.NewPrincipal("k", "", auth.OrganizationRoleGrants("OWNER", org),
			[]auth.Grant{{Scope: auth.ScopeAsset, Organization: org, Workspaces: []string{ws2}}}), false, []string{ws2}},
		{"intersection", auth.NewPrincipal("k", "", both,
			[]auth.Grant{{Scope: auth.AnyScope, Organization: org, Workspaces: []string{ws2, "29ffffffffffffff"}}}), false, []string{ws2}},
		{"nothing in another org", auth.NewPrincipal("k", "", auth.OrganizationRoleGrants("OWNER", other), nil), false, nil},
	} {
		all, ids := tc.p.Reach(org, auth.ScopeAsset, auth.Read)
		if all != tc.all || !slices.Equal(ids, tc.ids) {
			t.Errorf("%s: Reach = %v %v, want %v %v", tc.name, all, ids, tc.all, tc.ids)
		}
	}
}

func TestPrincipalCovers(t *testing.T) {
	admin := auth.NewPrincipal("a", "", auth.OrganizationRoleGrants("ADMIN", org), nil)
	for _, tc := range []struct {
		name  string
		perms []auth.Grant
		want  bool
	}{
		{"nothing", nil, true},
		{"assets in the org", []auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}, Organization: org}}, true},
		{"a workspace", []auth.Grant{{Scope: auth.ScopeData, Verbs: []auth.Verb{auth.Create}, Organization: org, Workspaces: []string{ws1}}}, true},
		{"deleting the org", []auth.Grant{{Scope: auth.ScopeOrganization, Verbs: []auth.Verb{auth.Delete}, Organization: org}}, false},
		{"another org", []auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}, Organization: other}}, false},
		{"platform-wide", []auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}}}, false},
		{"verifying keys", []auth.Grant{{Scope: auth.ScopeKey, Verbs: []auth.Verb{auth.Verify}, Organization: org}}, true},
		{"reading the audit log", []auth.Grant{{Scope: auth.ScopeAudit, Verbs: []auth.Verb{auth.Read}, Organization: org}}, true},
		{"all of KEY and AUDIT", []auth.Grant{{Scope: auth.ScopeKey, Organization: org}, {Scope: auth.ScopeAudit, Organization: org}}, true},
	} {
		if got := admin.CoversGrants(tc.perms); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRightsOfGrants(t *testing.T) {
	got := auth.RightsOfGrants(auth.GrantsOfRights([]string{"apiKeyRead", "assetCreate", "nonsense"}, ""))
	if !slices.Equal(got, []auth.Right{"assetCreate", "apiKeyRead"}) && !slices.Equal(got, []auth.Right{"apiKeyRead", "assetCreate"}) {
		t.Fatalf("rights %v", got)
	}
	if got := auth.RightsOfGrants(auth.GrantsOfRights([]string{"keyVerify", "auditRead"}, "")); !slices.Equal(got, []auth.Right{"keyVerify", "auditRead"}) {
		t.Fatalf("rights %v, want keyVerify auditRead", got)
	}
	if got := auth.RightsOfGrants([]auth.Grant{{Scope: auth.ScopeKey}}); !slices.Equal(got, []auth.Right{auth.KeyVerify}) {
		t.Fatalf("a KEY grant of every verb lists %v, want only keyVerify", got)
	}
	if got := auth.RightsOfGrants(auth.GrantsOfRights([]string{"admin"}, "")); !slices.Equal(got, []auth.Right{auth.Admin}) {
		t.Fatalf("admin rights %v", got)
	}
}

func TestPrincipalCoversPrincipal(t *testing.T) {
	role := func(r string) *auth.Principal {
		return auth.NewPrincipal(r, "", auth.OrganizationRoleGrants(r, org), nil)
	}
	wsRole := func(r string) *auth.Principal {
		return auth.NewPrincipal("ws "+r, "", auth.WorkspaceRoleGrants(r, org, ws1), nil)
	}
	platform := auth.NewPrincipal("platform asset reader", "", []auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}}}, nil)
	// The owner acting through a key narrowed to reading assets of one workspace.
	narrowedOwner := auth.NewPrincipal("key as owner", "", auth.OrganizationRoleGrants("OWNER", org),
		[]auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}, Organization: org, Workspaces: []string{ws1}}})
	for _, tc := range []struct {
		name   string
		caller *auth.Principal
		target *auth.Principal
		want   bool
	}{
		{"an owner covers an owner", role("OWNER"), role("OWNER"), true},
		{"an admin does not cover an owner", role("ADMIN"), role("OWNER"), false},
		{"an admin covers an editor", role("ADMIN"), role("EDITOR"), true},
		{"an editor does not cover an admin", role("EDITOR"), role("ADMIN"), false},
		{"an org editor does not cover a workspace admin", role("EDITOR"), wsRole("ADMIN"), false},
		{"an org editor covers a workspace editor", role("EDITOR"), wsRole("EDITOR"), true},
		{"an editor does not cover a key verifier", role("EDITOR"), auth.NewPrincipal("", "", []auth.Grant{{Scope: auth.ScopeKey, Verbs: []auth.Verb{auth.Verify}, Organization: org}}, nil), false},
		{"an editor does not cover an auditor", role("EDITOR"), auth.NewPrincipal("", "", []auth.Grant{{Scope: auth.ScopeAudit, Verbs: []auth.Verb{auth.Read}, Organization: org}}, nil), false},
		{"a workspace admin does not cover an org viewer", wsRole("ADMIN"), role("VIEWER"), false},
		{"an owner of another organization covers nothing here", auth.NewPrincipal("", "", auth.OrganizationRoleGrants("OWNER", other), nil), role("MEMBER"), false},
		{"an org-wide grant does not cover a platform-wide one", role("OWNER"), platform, false},
		{"a platform-wide grant covers the same in an organization", platform, auth.NewPrincipal("", "", []auth.Grant{{Scope: auth.ScopeAsset, Verbs: []auth.Verb{auth.Read}, Organization: org}}, nil), true},
		{"root covers everyone", auth.Root(), role("OWNER"), true},
		{"a narrowed key is covered as what it may do", wsRole("VIEWER"), narrowedOwner, true},
		{"a narrowed key does not cover the user it acts as", narrowedOwner, role("OWNER"), false},
		{"nobody covers nothing", auth.NewPrincipal("", "", nil, nil), auth.NewPrincipal("", "", nil, nil), true},
	} {
		if got := tc.caller.Covers(tc.target); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPrincipalHolds(t *testing.T) {
	viewer := auth.NewPrincipal("", "", auth.WorkspaceRoleGrants("VIEWER", org, ws1), nil)
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		org  string
		want bool
	}{
		{"a workspace viewer holds its organization", viewer, org, true},
		{"… and not another", viewer, other, false},
		{"… nor the platform", viewer, "", false},
		{"root holds every organization", auth.Root(), other, true},
		{"a grant outside the narrowing holds nothing", auth.NewPrincipal("", "", auth.OrganizationRoleGrants("OWNER", other),
			[]auth.Grant{{Scope: auth.AnyScope, Organization: org}}), other, false},
		{"nil holds nothing", nil, org, false},
	} {
		if got := tc.p.Holds(tc.org); got != tc.want {
			t.Errorf("%s: Holds(%q) = %v, want %v", tc.name, tc.org, got, tc.want)
		}
	}
}
