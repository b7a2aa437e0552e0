package auth

import "slices"

// Grant allows verbs on a scope inside one organization, or in every
// organization when Organization is empty (platform-wide grants: the root
// token, and users' global roles). Workspaces, when not nil, limits the grant
// to those workspaces: it then allows nothing at organization level, so a
// workspace-scoped key asking for an organization-wide list is denied.
type Grant struct {
	Scope        Scope  // AnyScope covers every scope
	Verbs        []Verb // nil covers every verb
	Organization string
	Workspaces   []string
}

// Target is what a request acts on: a scope and a verb, in an organization
// (empty: platform level, e.g. global users and roles) and optionally one
// workspace.
type Target struct {
	Scope        Scope
	Verb         Verb
	Organization string
	Workspace    string
}

// allows reports whether g covers t.
func (g Grant) allows(t Target) bool {
	if g.Scope != AnyScope && g.Scope != t.Scope {
		return false
	}
	if g.Verbs != nil && !slices.Contains(g.Verbs, t.Verb) {
		return false
	}
	if g.Organization != "" && g.Organization != t.Organization {
		return false
	}
	if g.Workspaces != nil {
		return t.Workspace != "" && slices.Contains(g.Workspaces, t.Workspace)
	}
	return true
}

// GrantsOfRights turns rights (from Portos roles) into grants within org
// ("" = everywhere). Unknown rights grant nothing.
func GrantsOfRights(rights []string, org string) []Grant {
	var gs []Grant
	for _, r := range rights {
		s, v, ok := ParseRight(Right(r))
		if !ok {
			continue
		}
		g := Grant{Scope: s, Organization: org}
		if v != "" {
			g.Verbs = []Verb{v}
		}
		gs = append(gs, g)
	}
	return gs
}

// RightsOfGrants lists, as rights, what grants allow platform-wide (for the
// login response).
func RightsOfGrants(gs []Grant) []Right {
	var out []Right
	for _, g := range gs {
		if g.Organization != "" || g.Workspaces != nil {
			continue
		}
		if g.Scope == AnyScope && g.Verbs == nil {
			return []Right{Admin}
		}
		for _, s := range Scopes {
			for _, v := range VerbsOf(s) {
				if g.allows(Target{Scope: s, Verb: v}) && !slices.Contains(out, RightOf(s, v)) {
					out = append(out, RightOf(s, v))
				}
			}
		}
	}
	return out
}
