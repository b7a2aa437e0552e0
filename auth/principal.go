package auth

import "context"

// Principal is the authenticated caller of one request, whatever scheme proved it.
type Principal struct {
	// Subject names the caller in logs and audit records (never a secret).
	Subject string
	// Scheme is how the caller authenticated, e.g. "bearer".
	Scheme string
	rights map[Right]bool
}

// NewPrincipal returns a principal holding the given rights.
func NewPrincipal(subject, scheme string, rights ...Right) *Principal {
	p := &Principal{Subject: subject, Scheme: scheme, rights: make(map[Right]bool, len(rights))}
	for _, r := range rights {
		p.rights[r] = true
	}
	return p
}

// Can reports whether the principal holds any of the rights (Admin holds all).
func (p *Principal) Can(rights ...Right) bool {
	if p == nil {
		return false
	}
	if p.rights[Admin] {
		return true
	}
	for _, r := range rights {
		if p.rights[r] {
			return true
		}
	}
	return false
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
