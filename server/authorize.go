package server

import (
	"context"
	"strings"

	"github.com/keyplane/keyplane/auth"
)

// allow fails with 403 unless the caller may act on t.
func allow(ctx context.Context, t auth.Target) error {
	if auth.PrincipalFrom(ctx).Allowed(t) {
		return nil
	}
	where := "platform-wide"
	switch {
	case t.Workspace != "":
		where = "in workspace " + t.Workspace
	case t.Organization != "":
		where = "in organization " + t.Organization
	}
	return forbidden("requires %s:%s %s", t.Scope, t.Verb, where)
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
