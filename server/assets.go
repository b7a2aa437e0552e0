package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
)

// ListAssets serves GET /v3/assets: the devices of one workspace
// (workspaceId) or of a whole organization (organizationId), as a Spring
// page. Listing a whole organization needs ASSET:READ in all of it, so a
// workspace-scoped key asking at organization level gets a 403, as on akenza.
func (s *Server) ListAssets(ctx context.Context, req gen.ListAssetsRequestObject) (gen.ListAssetsResponseObject, error) {
	p := req.Params
	q, err := springQuery(p.Page, p.Size, p.SkipTotal, p.Sort, store.DeviceFields)
	if err != nil {
		return nil, err
	}
	f := store.AssetFilter{Search: deref(p.Search), DataFlowID: deref(p.DataFlowId), Online: p.Online, Now: time.Now()}
	if p.TagsIds != nil {
		f.TagIDs = *p.TagsIds
	}
	if p.AssetIds != nil {
		f.IDs = *p.AssetIds
	}
	if p.Type != nil && *p.Type != gen.ListAssetsParamsTypeDEVICE {
		f.IDs = []string{} // every asset keyplane holds is a DEVICE
	}
	switch {
	case (p.WorkspaceId == nil) == (p.OrganizationId == nil):
		return nil, exactlyOne("workspaceId", "organizationId")
	case p.OrganizationId != nil:
		if err := allowWholeOrganization(ctx, *p.OrganizationId); err != nil {
			return nil, err
		}
		f.OrganizationID = *p.OrganizationId
	default:
		if err := s.listableWorkspace(ctx, *p.WorkspaceId, auth.ScopeAsset, auth.Read); err != nil {
			return nil, err
		}
		f.Workspaces = []string{*p.WorkspaceId}
	}
	page, err := s.assetPage(ctx, f, q)
	return gen.ListAssets200JSONResponse(page), err
}

// ListAssetsByFilter serves POST /v3/assets/list: like ListAssets, with
// {organizationId} or {workspaceIds} in the body. Every workspace named must
// be readable.
func (s *Server) ListAssetsByFilter(ctx context.Context, req gen.ListAssetsByFilterRequestObject) (gen.ListAssetsByFilterResponseObject, error) {
	q, err := springQuery(req.Params.Page, req.Params.Size, req.Params.SkipTotal, req.Params.Sort, store.DeviceFields)
	if err != nil {
		return nil, err
	}
	in := req.Body
	f := store.AssetFilter{Search: deref(in.Search), Now: time.Now()}
	switch {
	case (in.WorkspaceIds == nil) == (in.OrganizationId == nil):
		return nil, exactlyOne("/workspaceIds", "/organizationId")
	case in.OrganizationId != nil:
		if err := allowWholeOrganization(ctx, *in.OrganizationId); err != nil {
			return nil, err
		}
		f.OrganizationID = *in.OrganizationId
	default:
		f.Workspaces = []string{}
		for _, id := range *in.WorkspaceIds {
			if slices.Contains(f.Workspaces, id) {
				continue
			}
			if err := s.listableWorkspace(ctx, id, auth.ScopeAsset, auth.Read); err != nil {
				return nil, err
			}
			f.Workspaces = append(f.Workspaces, id)
		}
	}
	page, err := s.assetPage(ctx, f, q)
	return gen.ListAssetsByFilter200JSONResponse(page), err
}

// assetPage reads one page of the devices f selects.
func (s *Server) assetPage(ctx context.Context, f store.AssetFilter, q ndata.Query) (gen.DevicePage, error) {
	devices, total, err := s.store.Devices.List(ctx, f, q)
	if err != nil {
		return gen.DevicePage{}, err
	}
	items, err := s.devicesOut(ctx, devices...)
	if err != nil {
		return gen.DevicePage{}, err
	}
	return gen.DevicePage(newPage(items, q, total)), nil
}

// allowWholeOrganization fails with 403 unless the caller may read the
// assets of every workspace of org: grants limited to some workspaces allow
// nothing at organization level.
func allowWholeOrganization(ctx context.Context, org string) error {
	return allowFilter(ctx, auth.Target{Scope: auth.ScopeAsset, Verb: auth.Read, Organization: org})
}

// listableWorkspace checks that the caller may use verb on scope in the
// workspace id, the filter of a list. An unknown workspace is not revealed
// (as in ListDeviceTypes): it lists nothing for a platform-wide caller and is
// a 403 for everyone else, like a workspace out of reach.
func (s *Server) listableWorkspace(ctx context.Context, id string, scope auth.Scope, verb auth.Verb) error {
	t := auth.Target{Scope: scope, Verb: verb, Workspace: id}
	if auth.PrincipalFrom(ctx).Allowed(t) {
		// Allowed without naming the organization: platform-wide, so
		// wherever the workspace is; no need to read it.
		return nil
	}
	w, err := s.store.Workspaces.Get(ctx, id)
	switch {
	case err == nil:
		t.Organization = w.OrganizationID
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return allowFilter(ctx, t)
}
