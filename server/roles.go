package server

import (
	"context"
	"errors"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListRoles serves GET /roles (NData).
func (s *Server) ListRoles(ctx context.Context, _ gen.ListRolesRequestObject) (gen.ListRolesResponseObject, error) {
	items, count, total, err := platformList(ctx, store.RoleFields, auth.ScopeRole, s.store.Roles.List, roleOut)
	if err != nil {
		return nil, err
	}
	return gen.ListRoles200JSONResponse{Items: items, Count: count, TotalCount: total}, nil
}

// GetRole serves GET /roles/{name}.
func (s *Server) GetRole(ctx context.Context, req gen.GetRoleRequestObject) (gen.GetRoleResponseObject, error) {
	r, err := s.role(ctx, req.Name, auth.Read)
	if err != nil {
		return nil, err
	}
	return gen.GetRole200JSONResponse{Body: roleOut(r), Headers: gen.GetRole200ResponseHeaders{ETag: etag(r.Version)}}, nil
}

// CreateRole serves POST /roles.
func (s *Server) CreateRole(ctx context.Context, req gen.CreateRoleRequestObject) (gen.CreateRoleResponseObject, error) {
	r, err := s.createRole(ctx, req.Body)
	if err != nil {
		return nil, conflict(err, "a role named %s exists", req.Body.Name)
	}
	return gen.CreateRole201JSONResponse{Body: roleOut(r), Headers: gen.CreateRole201ResponseHeaders{ETag: etag(r.Version)}}, nil
}

// PutRole serves PUT /roles/{name}: create, or update from a named version.
func (s *Server) PutRole(ctx context.Context, req gen.PutRoleRequestObject) (gen.PutRoleResponseObject, error) {
	if req.Body.Name != req.Name {
		return nil, invalid(gen.ProblemError{MemberName: "/name", Message: "must equal the name in the path", Code: new("mismatch")})
	}
	current, err := s.store.Roles.Get(ctx, req.Name)
	if errors.Is(err, store.ErrNotFound) {
		r, err := s.createRole(ctx, req.Body)
		if err != nil {
			return nil, err
		}
		return gen.PutRole200JSONResponse{Body: roleOut(r), Headers: gen.PutRole200ResponseHeaders{ETag: etag(r.Version)}}, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := roleIn(ctx, req.Body, auth.Update)
	if err != nil {
		return nil, err
	}
	if err := coversRole(ctx, current); err != nil { // what the role's holders lose
		return nil, err
	}
	version, err := requestedVersion(current.Version, req.Params.IfMatch, req.Body.UnderscoreV)
	if err != nil {
		return nil, err
	}
	r, err = s.store.Roles.Update(ctx, r, version)
	if err := s.audited(ctx, err, "", "update", "role", req.Name); err != nil {
		return nil, err
	}
	return gen.PutRole200JSONResponse{Body: roleOut(r), Headers: gen.PutRole200ResponseHeaders{ETag: etag(r.Version)}}, nil
}

// DeleteRole serves DELETE /roles/{name}.
func (s *Server) DeleteRole(ctx context.Context, req gen.DeleteRoleRequestObject) (gen.DeleteRoleResponseObject, error) {
	current, err := s.role(ctx, req.Name, auth.Delete)
	if err != nil {
		return nil, err
	}
	if err := coversRole(ctx, current); err != nil {
		return nil, err
	}
	r, err := s.store.Roles.Delete(ctx, req.Name)
	if err := s.audited(ctx, err, "", "delete", "role", req.Name); err != nil {
		return nil, err
	}
	return gen.DeleteRole200JSONResponse(roleOut(r)), nil
}

// role reads the role name for a caller who may use verb on roles.
func (s *Server) role(ctx context.Context, name string, verb auth.Verb) (*store.Role, error) {
	if err := authorize(ctx, auth.RightOf(auth.ScopeRole, verb)); err != nil {
		return nil, err
	}
	return s.store.Roles.Get(ctx, name)
}

// createRole creates the role of a body (POST, or PUT of a name that is not
// taken) and records it.
func (s *Server) createRole(ctx context.Context, in *gen.Role) (*store.Role, error) {
	r, err := roleIn(ctx, in, auth.Create)
	if err != nil {
		return nil, err
	}
	return r, s.audited(ctx, s.store.Roles.Create(ctx, r), "", "create", "role", r.Name)
}

// roleIn checks the caller may use verb on roles and holds every right the
// role grants, and maps the body to a store role.
func roleIn(ctx context.Context, in *gen.Role, verb auth.Verb) (*store.Role, error) {
	if err := authorize(ctx, auth.RightOf(auth.ScopeRole, verb)); err != nil {
		return nil, err
	}
	r := &store.Role{Name: in.Name, Label: in.Label, Description: in.Description, Rights: make([]string, len(in.Rights))}
	for i, right := range in.Rights {
		r.Rights[i] = string(right)
	}
	if err := coversRole(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// coversRole fails unless the caller holds every right of the role: giving
// a role rights, or taking them from everyone who holds it, is done only by
// someone who holds them.
func coversRole(ctx context.Context, r *store.Role) error {
	return covers(ctx, "", auth.NewPrincipal("", "", auth.GrantsOfRights(r.Rights, ""), nil),
		"a role cannot grant rights the caller does not hold")
}

func roleOut(r *store.Role) gen.Role {
	rights := make([]gen.Right, len(r.Rights))
	for i, right := range r.Rights {
		rights[i] = gen.Right(right)
	}
	return gen.Role{Name: r.Name, Label: r.Label, Description: r.Description, Rights: rights, UnderscoreV: &r.Version}
}
