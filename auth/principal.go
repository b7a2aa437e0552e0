package auth

import (
	"context"
	"slices"
	"time"
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
	// home is the organization of the key that authenticated, which the
	// caller belongs to even when its permissions there allow nothing.
	home string
	// cred is what proved the principal, so that a long-lived session can
	// ask later whether it still would (Authenticator.Revalidate).
	cred credential
	// key is the key that authenticated, as it was read (nil for users and
	// the root token).
	key *KeyFacts
}

// Key returns the key that authenticated the principal as it was read, or
// nil when no key did. Treat it as read-only: principals are cached.
func (p *Principal) Key() *KeyFacts {
	if p == nil {
		return nil
	}
	return p.key
}

// credential records how a principal authenticated.
type credential struct {
	// secretDigest is the digest of the key secret that was presented
	// (x-api-key) or that verified the signature (NWS4): after a rotation it
	// tells whether the session rests on the current or the previous secret.
	secretDigest []byte
	// until is when the credential stops authenticating on its own (a key's
	// expiry, the end of a previous secret's grace, an access token's
	// expiry); zero means never.
	until time.Time
}

// Until is when the principal's credential stops authenticating by itself,
// whatever else happens; the zero time means never. A long-lived session
// must end by then.
func (p *Principal) Until() time.Time { return p.cred.until }

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

// Holds reports whether the principal holds any grant in org, or, for org
// "", any platform-wide grant: whether org is any of its business. To a
// principal that does not hold an organization, the organization's
// resources do not exist (404, as for a missing id), so that ids cannot be
// probed across tenants; a principal that holds it but lacks a verb is
// refused (403).
func (p *Principal) Holds(org string) bool {
	if p == nil {
		return false
	}
	if org != "" && p.home == org {
		return true
	}
	return holds(p.grants, org) && (p.limit == nil || holds(p.limit, org))
}

func holds(gs []Grant, org string) bool {
	return slices.ContainsFunc(gs, func(g Grant) bool { return g.Organization == "" || g.Organization == org })
}

// Organization returns the one organization the principal belongs to, when
// it belongs to exactly one and holds nothing platform-wide: a key's own
// organization, or a user's single membership. Portos clients name no
// organization; their keys land there.
func (p *Principal) Organization() (string, bool) {
	if p == nil || p.Holds("") {
		return "", false
	}
	if p.home != "" {
		return p.home, true
	}
	org := ""
	for _, g := range p.grants {
		if org != "" && g.Organization != org {
			return "", false
		}
		org = g.Organization
	}
	return org, org != ""
}

// Covers reports whether the principal may do everything q may, so that an
// operation handing q's authority to someone (a key's secret, a role, a
// membership) or taking it away never lets the caller climb: authority only
// goes down.
//
// It checks every target q's grants name: each scope and verb at each grant's
// place (a workspace, an organization, or platform-wide). That is enough,
// because a principal allowed at a place is allowed everywhere inside it. A
// grant of every scope and verb (an organization Owner, a platform admin)
// must also be held as such, so only an Owner covers an Owner.
func (p *Principal) Covers(q *Principal) bool {
	if q == nil {
		return true
	}
	for _, g := range append(slices.Clip(q.grants), q.limit...) {
		if g.Scope == AnyScope && g.Verbs == nil && g.Workspaces == nil {
			t := Target{Scope: AnyScope, Organization: g.Organization}
			if q.Allowed(t) && !p.Allowed(t) {
				return false
			}
		}
		scopes := []Scope{g.Scope}
		if g.Scope == AnyScope {
			scopes = Scopes
		}
		places := g.Workspaces
		if places == nil {
			places = []string{""}
		}
		for _, s := range scopes {
			verbs := g.Verbs
			if verbs == nil {
				verbs = VerbsOf(s)
			}
			for _, v := range verbs {
				for _, ws := range places {
					t := Target{Scope: s, Verb: v, Organization: g.Organization, Workspace: ws}
					if q.Allowed(t) && !p.Allowed(t) {
						return false
					}
				}
			}
		}
	}
	return true
}

// CoversGrants reports whether the principal covers a principal holding gs
// (a key's permissions, a role's rights).
func (p *Principal) CoversGrants(gs []Grant) bool {
	return p.Covers(NewPrincipal("", "", gs, nil))
}
