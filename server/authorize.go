package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// allow fails unless the caller may act on t: with a 403 when t's
// organization is the caller's business, and otherwise exactly as if the
// resource did not exist (404), so that ids cannot be probed across tenants.
func allow(ctx context.Context, t auth.Target) error {
	p := auth.PrincipalFrom(ctx)
	if p.Allowed(t) {
		return nil
	}
	if !p.Holds(t.Organization) {
		return hidden()
	}
	return forbiddenIn(t.Organization, "requires %s:%s %s", t.Scope, t.Verb, where(t))
}

// placed is a resource that lives in a workspace (store.Placement).
type placed interface{ Place() store.Placement }

// authorized reads the resource id with get and checks that the caller may
// use verb on scope where the resource lives: the one way handlers read,
// then authorize (a missing resource and one outside the caller's
// organizations answer alike).
func authorized[T placed](ctx context.Context, get func(context.Context, string) (T, error), id string, scope auth.Scope, verb auth.Verb) (T, error) {
	v, err := get(ctx, id)
	if err != nil {
		var zero T
		return zero, err
	}
	p := v.Place()
	if err := allow(ctx, auth.Target{Scope: scope, Verb: verb, Organization: p.OrganizationID, Workspace: p.WorkspaceID}); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// allowFilter is allow for the organization or workspace a list is filtered
// by: a 403 whether or not it exists, which tells a caller outside it nothing
// either.
func allowFilter(ctx context.Context, t auth.Target) error {
	if auth.PrincipalFrom(ctx).Allowed(t) {
		return nil
	}
	return forbiddenIn(refusedIn(ctx, t.Organization), "requires %s:%s %s", t.Scope, t.Verb, where(t))
}

// refusedIn is the organization whose audit log records a refusal in org:
// org itself when the caller belongs to it, and otherwise none (a platform
// event), so that no organization learns of callers from outside.
func refusedIn(ctx context.Context, org string) string {
	if auth.PrincipalFrom(ctx).Holds(org) {
		return org
	}
	return ""
}

// where names the place of a target in a refusal.
func where(t auth.Target) string {
	switch {
	case t.Workspace != "":
		return "in workspace " + t.Workspace
	case t.Organization != "":
		return "in organization " + t.Organization
	}
	return "platform-wide"
}

// hidden is the answer to a caller that may not know a resource exists: the
// very problem of a missing one, recorded as a denial.
func hidden() *Problem {
	return &Problem{Status: http.StatusNotFound, cause: store.ErrNotFound, denied: true}
}

// covers fails with 403 unless the caller covers q: whatever hands out or
// takes away q's authority (a key's secret, a membership, a user's
// credentials) may be done only by a caller who holds all of it. org is
// where the refusal is recorded ("" platform level).
func covers(ctx context.Context, org string, q *auth.Principal, format string, args ...any) error {
	if auth.PrincipalFrom(ctx).Covers(q) {
		return nil
	}
	return forbiddenIn(org, format, args...)
}

// authorize fails with 403 unless the caller holds one of the rights
// platform-wide (Portos resources: users, roles, platform keys).
func authorize(ctx context.Context, rights ...auth.Right) error {
	if auth.PrincipalFrom(ctx).Can(rights...) {
		return nil
	}
	names := make([]string, len(rights))
	for i, r := range rights {
		names[i] = string(r)
	}
	return forbidden("requires right %s", strings.Join(names, " or "))
}

// updatable reads the resource id for an update whose body names
// workspace: authorized for scope's Update where the resource lives, and a
// 400 naming /workspaceId when the body would move it (what, "a tag") to
// another workspace, which no resource does.
func updatable[T placed](ctx context.Context, get func(context.Context, string) (T, error), id string, scope auth.Scope, what, workspace string) (T, error) {
	cur, err := authorized(ctx, get, id, scope, auth.Update)
	if err != nil {
		return cur, err // the zero T
	}
	if cur.Place().WorkspaceID != workspace {
		var zero T
		return zero, invalid(gen.ProblemError{MemberName: "/workspaceId", Message: what + " cannot move to another workspace", Code: new("immutable")})
	}
	return cur, nil
}
