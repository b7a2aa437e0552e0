package auth

import (
	"context"
	"slices"
)

// Principal is the authenticated caller of one request, whatever scheme
// proved it, with what it may do.
//
// What it may do is its grants, narrowed by a limit when the caller is an API
// key acting as a user: the user's grants intersected with the key's
// permissions. A key without a user has only its permissions.
type Principal struct {
	// Subject names the caller in logs and audit records (never a secret).
	Subject string
	// Scheme is how the caller authenticated: "bearer", "x-api-key" or "nws4".
	Scheme string
	// UserID is the user the caller acts as, if any.
	UserID string
	// KeyID is the API key that authenticated the request, if any.
	KeyID string
	// SessionID is the login session of a bearer access token, if any.
	SessionID string

	grants []Grant
	limit  []Grant // nil: no narrowing
}

// NewPrincipal returns a principal holding grants, narrowed by limit when
// limit is not nil.
func NewPrincipal(subject, scheme string, grants, limit []Grant) *Principal {
	return &Principal{Subject: subject, Scheme: scheme, grants: grants, limit: limit}
}

// Root returns the principal of the root token: every right everywhere.
func Root() *Principal {
	return NewPrincipal("root", "bearer", []Grant{{Scope: AnyScope}}, nil)
}

// Allowed reports whether the principal may act on t.
func (p *Principal) Allowed(t Target) bool {
	if p == nil {
		return false
	}
	return anyAllows(p.grants, t) && (p.limit == nil || anyAllows(p.limit, t))
}

// Can reports whether the principal holds any of the rights platform-wide
// (outside any organization), as Portos resources such as /users need.
func (p *Principal) Can(rights ...Right) bool {
	for _, r := range rights {
		s, v, ok := ParseRight(r)
		if !ok {
			continue
		}
		if s == AnyScope {
			if p.Allowed(Target{Scope: AnyScope}) {
				return true
			}
			continue
		}
		if p.Allowed(Target{Scope: s, Verb: v}) {
			return true
		}
	}
	return false
}

// Reach tells in which workspaces of org the principal may use verb on
// scope: all of them (present and future), or only ids.
func (p *Principal) Reach(org string, scope Scope, verb Verb) (all bool, ids []string) {
	if p == nil {
		return false, nil
	}
	gAll, gIDs := reach(p.grants, org, scope, verb)
	if p.limit == nil {
		return gAll, gIDs
	}
	lAll, lIDs := reach(p.limit, org, scope, verb)
	switch {
	case gAll && lAll:
		return true, nil
	case gAll:
		return false, lIDs
	case lAll:
		return false, gIDs
	}
	var both []string
	for _, id := range gIDs {
		if slices.Contains(lIDs, id) {
			both = append(both, id)
		}
	}
	return false, both
}

// Organizations tells which organizations the principal may use verb on
// scope in: every organization (platform-wide grants), or only ids.
func (p *Principal) Organizations(scope Scope, verb Verb) (all bool, ids []string) {
	if p == nil {
		return false, nil
	}
	if p.Allowed(Target{Scope: scope, Verb: verb}) {
		return true, nil
	}
	for _, g := range append(slices.Clip(p.grants), p.limit...) {
		if g.Organization == "" || slices.Contains(ids, g.Organization) {
			continue
		}
		if all, wss := p.Reach(g.Organization, scope, verb); all || len(wss) > 0 {
			ids = append(ids, g.Organization)
		}
	}
	return false, ids
}

// anyAllows reports whether one of gs covers t. AnyScope targets (asking for
// admin) need a grant of every scope and verb.
func anyAllows(gs []Grant, t Target) bool {
	for _, g := range gs {
		if t.Scope == AnyScope {
			if g.Scope == AnyScope && g.Verbs == nil && g.Workspaces == nil && (g.Organization == "" || g.Organization == t.Organization) {
				return true
			}
			continue
		}
		if g.allows(t) {
			return true
		}
	}
	return false
}

// reach is Reach over one grant list.
func reach(gs []Grant, org string, scope Scope, verb Verb) (all bool, ids []string) {
	if anyAllows(gs, Target{Scope: scope, Verb: verb, Organization: org}) {
		return true, nil
	}
	for _, g := range gs {
		if g.Workspaces == nil {
			continue
		}
		for _, ws := range g.Workspaces {
			if !slices.Contains(ids, ws) && g.allows(Target{Scope: scope, Verb: verb, Organization: org, Workspace: ws}) {
				ids = append(ids, ws)
			}
		}
	}
	return false, ids
}

type principalKey struct{}

// WithPrincipal returns a context carrying p, for handlers further down the path.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of the request, or nil when unauthenticated.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Covers reports whether the principal itself holds every grant of perms in
// org, so that a key it creates or changes can never do more than it can.
func (p *Principal) Covers(perms []Grant) bool {
	for _, g := range perms {
		scopes := []Scope{g.Scope}
		if g.Scope == AnyScope {
			scopes = Scopes
		}
		verbs := g.Verbs
		if verbs == nil {
			verbs = Verbs
		}
		for _, s := range scopes {
			for _, v := range verbs {
				t := Target{Scope: s, Verb: v, Organization: g.Organization}
				if g.Workspaces == nil && !p.Allowed(t) {
					return false
				}
				for _, ws := range g.Workspaces {
					if t.Workspace = ws; !p.Allowed(t) {
						return false
					}
				}
			}
		}
	}
	return true
}
