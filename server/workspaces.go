package server

import (
	"context"
	"errors"
	"slices"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListWorkspaces serves GET /v3/workspaces?organizationId=…: the
// organization's workspaces the caller can read.
func (s *Server) ListWorkspaces(ctx context.Context, req gen.ListWorkspacesRequestObject) (gen.ListWorkspacesResponseObject, error) {
	q, err := springQuery(req.Params.Page, req.Params.Size, req.Params.SkipTotal, req.Params.Sort, store.WorkspaceFields)
	if err != nil {
		return nil, err
	}
	org := req.Params.OrganizationId
	all, ids := auth.PrincipalFrom(ctx).Reach(org, auth.ScopeWorkspace, auth.Read)
	switch {
	case all:
		ids = nil
	case len(ids) == 0:
		return nil, forbiddenIn(refusedIn(ctx, org), "requires WORKSPACE:READ in organization %s", org)
	}
	wss, total, err := s.store.Workspaces.List(ctx, org, q,
		store.WorkspaceFilter{IDs: ids, Search: deref(req.Params.Search), Name: deref(req.Params.Name)})
	if err != nil {
		return nil, err
	}
	return gen.ListWorkspaces200JSONResponse(newPage(mapRows(wss, workspaceOut), q, total)), nil
}

// CreateWorkspace serves POST /v3/workspaces.
func (s *Server) CreateWorkspace(ctx context.Context, req gen.CreateWorkspaceRequestObject) (gen.CreateWorkspaceResponseObject, error) {
	in := req.Body
	if _, err := s.orgAction(ctx, in.OrganizationId, auth.ScopeWorkspace, auth.Create); err != nil {
		return nil, err
	}
	w := &store.Workspace{OrganizationID: in.OrganizationId, Name: in.Name, Description: in.Description,
		Properties: properties(in.Properties), Settings: properties(in.Settings)}
	err := s.store.Workspaces.Create(ctx, w)
	if err := s.audited(ctx, err, w.OrganizationID, "create", "workspace", w.ID); err != nil {
		return nil, err
	}
	return gen.CreateWorkspace201JSONResponse(workspaceOut(w)), nil
}

// GetWorkspace serves GET /v3/workspaces/{workspaceId}.
func (s *Server) GetWorkspace(ctx context.Context, req gen.GetWorkspaceRequestObject) (gen.GetWorkspaceResponseObject, error) {
	w, err := authorized(ctx, s.store.Workspaces.Get, req.WorkspaceId, auth.ScopeWorkspace, auth.Read)
	if err != nil {
		return nil, err
	}
	return gen.GetWorkspace200JSONResponse(workspaceOut(w)), nil
}

// UpdateWorkspace serves PUT /v3/workspaces/{workspaceId}.
func (s *Server) UpdateWorkspace(ctx context.Context, req gen.UpdateWorkspaceRequestObject) (gen.UpdateWorkspaceResponseObject, error) {
	cur, err := authorized(ctx, s.store.Workspaces.Get, req.WorkspaceId, auth.ScopeWorkspace, auth.Update)
	if err != nil {
		return nil, err
	}
	in := req.Body
	if in.OrganizationId != cur.OrganizationID {
		return nil, invalid(gen.ProblemError{MemberName: "/organizationId", Message: "a workspace cannot move to another organization", Code: new("immutable")})
	}
	w := &store.Workspace{ID: cur.ID, Name: in.Name, Description: in.Description,
		Properties: properties(in.Properties), Settings: properties(in.Settings)}
	w, err = s.store.Workspaces.Update(ctx, w, in.Version)
	if err := s.audited(ctx, err, cur.OrganizationID, "update", "workspace", cur.ID); err != nil {
		return nil, err
	}
	return gen.UpdateWorkspace200JSONResponse(workspaceOut(w)), nil
}

// DeleteWorkspace serves DELETE /v3/workspaces/{workspaceId}.
func (s *Server) DeleteWorkspace(ctx context.Context, req gen.DeleteWorkspaceRequestObject) (gen.DeleteWorkspaceResponseObject, error) {
	if err := remove(ctx, s, s.store.Workspaces.Get, s.store.Workspaces.Delete, req.WorkspaceId, auth.ScopeWorkspace, "workspace"); err != nil {
		return nil, err
	}
	return gen.DeleteWorkspace204Response{}, nil
}

// PutWorkspaceMember serves PUT /v3/workspaces/{workspaceId}/members/{userId}.
// The user must already belong to the organization, and the caller must
// hold everything both the old and the new role allow in the workspace (an
// Editor cannot make himself workspace Admin).
func (s *Server) PutWorkspaceMember(ctx context.Context, req gen.PutWorkspaceMemberRequestObject) (gen.PutWorkspaceMemberResponseObject, error) {
	w, err := authorized(ctx, s.store.Workspaces.Get, req.WorkspaceId, auth.ScopeWorkspace, auth.Update)
	if err != nil {
		return nil, err
	}
	role := string(req.Body.Role)
	oldRole := ""
	old, err := s.store.Users.WorkspaceMember(ctx, w.ID, req.UserId)
	switch {
	case err == nil:
		oldRole = old.Role
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	default:
		if _, err := s.store.Users.OrganizationMember(ctx, w.OrganizationID, req.UserId); errors.Is(err, store.ErrNotFound) {
			if !auth.PrincipalFrom(ctx).Can(auth.RightOf(auth.ScopeUser, auth.Read)) {
				return nil, store.ErrNotFound // as for a user that does not exist
			}
			return nil, invalid(gen.ProblemError{MemberName: "userId", Message: "add the user to the organization first", Code: new("notMember")})
		} else if err != nil {
			return nil, err
		}
	}
	u, err := s.store.Users.Get(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	change := slices.Concat(auth.WorkspaceRoleGrants(oldRole, w.OrganizationID, w.ID), auth.WorkspaceRoleGrants(role, w.OrganizationID, w.ID))
	if err := covers(ctx, w.OrganizationID, auth.NewPrincipal("", "", change, nil), "changing a membership needs everything both roles allow"); err != nil {
		return nil, err
	}
	m := &store.WorkspaceMember{WorkspaceID: w.ID, UserID: u.ID, OrganizationID: w.OrganizationID, Role: role}
	err = s.store.Users.PutWorkspaceMember(ctx, m)
	if err := s.audited(ctx, err, w.OrganizationID, "update", "workspaceMember", w.ID+"/"+u.ID); err != nil {
		return nil, err
	}
	return gen.PutWorkspaceMember200JSONResponse{UserId: u.ID, UserName: u.UserName, Role: m.Role, Created: new(m.CreatedAt)}, nil
}

// DeleteWorkspaceMember serves DELETE /v3/workspaces/{workspaceId}/members/{userId};
// the caller must hold everything the role allowed.
func (s *Server) DeleteWorkspaceMember(ctx context.Context, req gen.DeleteWorkspaceMemberRequestObject) (gen.DeleteWorkspaceMemberResponseObject, error) {
	w, err := authorized(ctx, s.store.Workspaces.Get, req.WorkspaceId, auth.ScopeWorkspace, auth.Update)
	if err != nil {
		return nil, err
	}
	m, err := s.store.Users.WorkspaceMember(ctx, w.ID, req.UserId)
	if err != nil {
		return nil, err
	}
	lost := auth.WorkspaceRoleGrants(m.Role, w.OrganizationID, w.ID)
	if err := covers(ctx, w.OrganizationID, auth.NewPrincipal("", "", lost, nil), "removing a member needs everything its role allows"); err != nil {
		return nil, err
	}
	err = s.store.Users.DeleteWorkspaceMember(ctx, w.ID, req.UserId)
	if err := s.audited(ctx, err, w.OrganizationID, "delete", "workspaceMember", w.ID+"/"+req.UserId); err != nil {
		return nil, err
	}
	return gen.DeleteWorkspaceMember204Response{}, nil
}

// GetWorkspaceAccess serves GET /v3/workspace-access: where the caller may
// use a verb on a scope in an organization.
func (s *Server) GetWorkspaceAccess(ctx context.Context, req gen.GetWorkspaceAccessRequestObject) (gen.GetWorkspaceAccessResponseObject, error) {
	all, ids := auth.PrincipalFrom(ctx).Reach(req.Params.OrganizationId, auth.Scope(req.Params.Scope), auth.Verb(req.Params.Verb))
	if ids == nil {
		ids = []string{}
	}
	return gen.GetWorkspaceAccess200JSONResponse{All: all, Ids: ids}, nil
}

func workspaceOut(w *store.Workspace) gen.Workspace {
	return gen.Workspace{Id: w.ID, Name: w.Name, Description: w.Description, OrganizationId: w.OrganizationID,
		Properties: object(w.Properties), Settings: object(w.Settings), Version: w.Version,
		Created: w.CreatedAt.UTC(), Updated: w.UpdatedAt.UTC()}
}
