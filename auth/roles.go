package auth

// Organization and workspace roles are akenza's. An organization role above
// Member applies to every workspace of the organization; workspace roles
// apply to one workspace.

// workspaceScopes are the features that live inside workspaces.
var workspaceScopes = []Scope{ScopeAsset, ScopeData, ScopeRule, ScopeOutputConnector, ScopeDeviceType, ScopeDataFlow}

// OrganizationRoles are the organization roles, strongest first.
var OrganizationRoles = []string{"OWNER", "ADMIN", "EDITOR", "VIEWER", "MEMBER"}

// WorkspaceRoles are the workspace roles, strongest first.
var WorkspaceRoles = []string{"ADMIN", "EDITOR", "VIEWER"}

// OrganizationRoleGrants returns what an organization role allows in org:
// Owner everything; Admin everything but deleting the organization; Editor
// changes workspaces' content; Viewer reads it; Member only sees the
// organization (its workspace roles give the rest). Only Owners and Admins
// reach API keys, users and roles.
func OrganizationRoleGrants(role, org string) []Grant {
	all := func(s Scope, verbs ...Verb) Grant { return Grant{Scope: s, Verbs: verbs, Organization: org} }
	switch role {
	case "OWNER":
		return []Grant{{Scope: AnyScope, Organization: org}}
	case "ADMIN":
		gs := []Grant{all(ScopeOrganization, Read, Update)}
		for _, s := range Scopes {
			if s != ScopeOrganization {
				gs = append(gs, all(s))
			}
		}
		return gs
	case "EDITOR":
		gs := []Grant{all(ScopeOrganization, Read), all(ScopeWorkspace, Read, Create, Update)}
		for _, s := range workspaceScopes {
			gs = append(gs, all(s))
		}
		return gs
	case "VIEWER":
		gs := []Grant{all(ScopeOrganization, Read), all(ScopeWorkspace, Read)}
		for _, s := range workspaceScopes {
			gs = append(gs, all(s, Read))
		}
		return gs
	case "MEMBER":
		return []Grant{all(ScopeOrganization, Read)}
	}
	return nil
}

// WorkspaceRoleGrants returns what a workspace role allows in workspace ws of org.
func WorkspaceRoleGrants(role, org, ws string) []Grant {
	in := func(s Scope, verbs ...Verb) Grant {
		return Grant{Scope: s, Verbs: verbs, Organization: org, Workspaces: []string{ws}}
	}
	var gs []Grant
	switch role {
	case "ADMIN":
		gs = append(gs, in(ScopeWorkspace, Read, Update, Delete))
		for _, s := range workspaceScopes {
			gs = append(gs, in(s))
		}
	case "EDITOR":
		gs = append(gs, in(ScopeWorkspace, Read))
		for _, s := range workspaceScopes {
			gs = append(gs, in(s))
		}
	case "VIEWER":
		gs = append(gs, in(ScopeWorkspace, Read))
		for _, s := range workspaceScopes {
			gs = append(gs, in(s, Read))
		}
	default:
		return nil
	}
	// Every workspace member can see the organization it belongs to.
	return append(gs, Grant{Scope: ScopeOrganization, Verbs: []Verb{Read}, Organization: org})
}
