package server

import (
	"context"
	"errors"
	"slices"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListOrganizations serves GET /v3/organizations: the organizations the
// caller can read, as a Spring page.
func (s *Server) ListOrganizations(ctx context.Context, req gen.ListOrganizationsRequestObject) (gen.ListOrganizationsResponseObject, error) {
	q, err := springQuery(req.Params.Page, req.Params.Size, req.Params.SkipTotal, req.Params.Sort, store.OrganizationFields)
	if err != nil {
		return nil, err
	}
	all, ids := auth.PrincipalFrom(ctx).Organizations(auth.ScopeOrganization, auth.Read)
	if all {
		ids = nil
	} else if ids == nil {
		ids = []string{}
	}
	orgs, total, err := s.store.Organizations.List(ctx, q, ids, deref(req.Params.Search))
	if err != nil {
		return nil, err
	}
	items, err := s.organizationsOut(ctx, orgs...)
	if err != nil {
		return nil, err
	}
	return gen.ListOrganizations200JSONResponse(newPage(items, q, total)), nil
}

// CreateOrganization serves POST /v3/organizations; the owner (the caller by
// default) becomes its Owner.
func (s *Server) CreateOrganization(ctx context.Context, req gen.CreateOrganizationRequestObject) (gen.CreateOrganizationResponseObject, error) {
	if err := authorize(ctx, auth.RightOf(auth.ScopeOrganization, auth.Create)); err != nil {
		return nil, err
	}
	owner := auth.PrincipalFrom(ctx).UserID
	if req.Body.OwnerId != nil {
		owner = *req.Body.OwnerId
		if _, err := s.store.Users.Get(ctx, owner); errors.Is(err, store.ErrNotFound) {
			return nil, invalid(gen.ProblemError{MemberName: "/ownerId", Message: "no such user", Code: new("notFound")})
		} else if err != nil {
			return nil, err
		}
	}
	o, err := s.organizationIn(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	err = s.store.Organizations.Create(ctx, o, owner)
	if err := s.audited(ctx, err, o.ID, "create", "organization", o.ID); err != nil {
		return nil, err
	}
	out, err := s.organizationOut(ctx, o)
	return gen.CreateOrganization201JSONResponse(out), err
}

// GetOrganization serves GET /v3/organizations/{organizationId}.
func (s *Server) GetOrganization(ctx context.Context, req gen.GetOrganizationRequestObject) (gen.GetOrganizationResponseObject, error) {
	o, err := s.organization(ctx, req.OrganizationId, auth.Read)
	if err != nil {
		return nil, err
	}
	out, err := s.organizationOut(ctx, o)
	return gen.GetOrganization200JSONResponse(out), err
}

// UpdateOrganization serves PUT /v3/organizations/{organizationId}.
func (s *Server) UpdateOrganization(ctx context.Context, req gen.UpdateOrganizationRequestObject) (gen.UpdateOrganizationResponseObject, error) {
	if _, err := s.organization(ctx, req.OrganizationId, auth.Update); err != nil {
		return nil, err
	}
	o, err := s.organizationIn(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	o.ID = req.OrganizationId
	o, err = s.store.Organizations.Update(ctx, o, req.Body.Version)
	if err := s.audited(ctx, err, req.OrganizationId, "update", "organization", req.OrganizationId); err != nil {
		return nil, err
	}
	out, err := s.organizationOut(ctx, o)
	return gen.UpdateOrganization200JSONResponse(out), err
}

// DeleteOrganization serves DELETE /v3/organizations/{organizationId}.
func (s *Server) DeleteOrganization(ctx context.Context, req gen.DeleteOrganizationRequestObject) (gen.DeleteOrganizationResponseObject, error) {
	if _, err := s.organization(ctx, req.OrganizationId, auth.Delete); err != nil {
		return nil, err
	}
	err := s.store.Organizations.Delete(ctx, req.OrganizationId)
	if err := s.audited(ctx, err, req.OrganizationId, "delete", "organization", req.OrganizationId); err != nil {
		return nil, err
	}
	return gen.DeleteOrganization204Response{}, nil
}

// ListOrganizationMembers serves GET /v3/organizations/{organizationId}/members.
func (s *Server) ListOrganizationMembers(ctx context.Context, req gen.ListOrganizationMembersRequestObject) (gen.ListOrganizationMembersResponseObject, error) {
	q, err := springQuery(req.Params.Page, req.Params.Size, req.Params.SkipTotal, req.Params.Sort, store.MemberFields)
	if err != nil {
		return nil, err
	}
	if _, err := s.orgAction(ctx, req.OrganizationId, auth.ScopeUser, auth.Read); err != nil {
		return nil, err
	}
	members, total, err := s.store.Users.OrganizationMembers(ctx, req.OrganizationId, q)
	if err != nil {
		return nil, err
	}
	items := make([]gen.Member, len(members))
	for i, m := range members {
		items[i] = gen.Member{UserId: m.UserID, UserName: m.UserName, Role: m.Role, Created: new(m.CreatedAt.UTC())}
	}
	return gen.ListOrganizationMembers200JSONResponse(newPage(items, q, total)), nil
}

// PutOrganizationMember serves PUT /v3/organizations/{organizationId}/members/{userId}.
// A membership is authority: the caller must hold everything both the old
// and the new role allow in the organization, so only an Owner makes,
// changes or removes an Owner, and the last Owner stays (409). Pulling in
// someone who is not a member yet needs platform-wide USER:READ; without it
// the answer is the one for a missing user, so user ids cannot be probed.
func (s *Server) PutOrganizationMember(ctx context.Context, req gen.PutOrganizationMemberRequestObject) (gen.PutOrganizationMemberResponseObject, error) {
	org, role := req.OrganizationId, string(req.Body.Role)
	if _, err := s.orgAction(ctx, org, auth.ScopeUser, auth.Update); err != nil {
		return nil, err
	}
	old, err := s.store.Users.OrganizationMember(ctx, org, req.UserId)
	if errors.Is(err, store.ErrNotFound) {
		if !auth.PrincipalFrom(ctx).Can(auth.RightOf(auth.ScopeUser, auth.Read)) {
			return nil, store.ErrNotFound
		}
		old = &store.OrganizationMember{}
	} else if err != nil {
		return nil, err
	}
	u, err := s.store.Users.Get(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	change := slices.Concat(auth.OrganizationRoleGrants(old.Role, org), auth.OrganizationRoleGrants(role, org))
	if err := covers(ctx, org, auth.NewPrincipal("", "", change, nil), "changing a membership needs everything both roles allow"); err != nil {
		return nil, err
	}
	m := &store.OrganizationMember{OrganizationID: org, UserID: u.ID, Role: role}
	err = s.store.Users.PutOrganizationMember(ctx, m)
	if err := s.audited(ctx, err, org, "update", "organizationMember", org+"/"+u.ID); err != nil {
		return nil, err
	}
	return gen.PutOrganizationMember200JSONResponse{UserId: u.ID, UserName: u.UserName, Role: role, Created: new(m.CreatedAt)}, nil
}

// DeleteOrganizationMember serves DELETE /v3/organizations/{organizationId}/members/{userId}:
// the member loses its organization role and its workspace roles there, so
// the caller must hold everything they allow.
func (s *Server) DeleteOrganizationMember(ctx context.Context, req gen.DeleteOrganizationMemberRequestObject) (gen.DeleteOrganizationMemberResponseObject, error) {
	org := req.OrganizationId
	if _, err := s.orgAction(ctx, org, auth.ScopeUser, auth.Delete); err != nil {
		return nil, err
	}
	m, err := s.store.Users.OrganizationMember(ctx, org, req.UserId)
	if err != nil {
		return nil, err
	}
	_, wss, err := s.store.Users.Memberships(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	lost := auth.OrganizationRoleGrants(m.Role, org)
	for _, w := range wss {
		if w.OrganizationID == org {
			lost = append(lost, auth.WorkspaceRoleGrants(w.Role, org, w.WorkspaceID)...)
		}
	}
	if err := covers(ctx, org, auth.NewPrincipal("", "", lost, nil), "removing a member needs everything its roles allow"); err != nil {
		return nil, err
	}
	err = s.store.Users.DeleteOrganizationMember(ctx, org, req.UserId)
	if err := s.audited(ctx, err, org, "delete", "organizationMember", org+"/"+req.UserId); err != nil {
		return nil, err
	}
	return gen.DeleteOrganizationMember204Response{}, nil
}

// organizationIn maps a body to the editable fields of an organization; a
// rate limit beyond the caller's own is refused (coversRate).
func (s *Server) organizationIn(ctx context.Context, in *gen.OrganizationInput) (*store.Organization, error) {
	o := &store.Organization{Name: in.Name, Description: in.Description, Properties: properties(in.Properties)}
	o.RateLimit, o.RatePeriod = rateIn(in.RateLimit)
	if err := s.coversRate(ctx, "rateLimit", o.RateLimit, o.RatePeriod); err != nil {
		return nil, err
	}
	return o, nil
}

// organization reads an organization the caller may use verb on.
func (s *Server) organization(ctx context.Context, id string, verb auth.Verb) (*store.Organization, error) {
	return s.orgAction(ctx, id, auth.ScopeOrganization, verb)
}

// orgAction checks that the caller may use verb on scope in the organization,
// then reads it (ErrNotFound when it does not exist). Authorization comes
// first, so to outsiders every organization id is forbidden alike.
func (s *Server) orgAction(ctx context.Context, org string, scope auth.Scope, verb auth.Verb) (*store.Organization, error) {
	if err := allow(ctx, auth.Target{Scope: scope, Verb: verb, Organization: org}); err != nil {
		return nil, err
	}
	return s.store.Organizations.Get(ctx, org)
}

// organizationOut maps one organization to the wire format, with its owner.
func (s *Server) organizationOut(ctx context.Context, o *store.Organization) (gen.Organization, error) {
	return only(s.organizationsOut(ctx, *o))
}

// organizationsOut maps organizations to the wire format, with their owners.
func (s *Server) organizationsOut(ctx context.Context, orgs ...store.Organization) ([]gen.Organization, error) {
	var ownerIDs []string // of the owners the read did not join
	for _, o := range orgs {
		if o.OwnerID != nil && o.OwnerName == nil {
			ownerIDs = append(ownerIDs, *o.OwnerID)
		}
	}
	owners, err := s.store.Users.Named(ctx, ownerIDs)
	if err != nil {
		return nil, err
	}
	out := make([]gen.Organization, len(orgs))
	for i, o := range orgs {
		out[i] = gen.Organization{Id: o.ID, Name: o.Name, Description: o.Description, Properties: object(o.Properties),
			RateLimit: rateOut(o.RateLimit, o.RatePeriod), Version: o.Version, Created: o.CreatedAt.UTC(), Updated: o.UpdatedAt.UTC()}
		switch {
		case o.OwnerID == nil:
		case o.OwnerName != nil:
			out[i].Owner = &gen.Owner{Id: *o.OwnerID, Name: *o.OwnerName, Email: o.OwnerEmail}
		default:
			u, ok := owners[*o.OwnerID]
			if !ok {
				continue
			}
			out[i].Owner = &gen.Owner{Id: u.ID, Name: u.UserName, Email: u.Email}
		}
	}
	return out, nil
}
