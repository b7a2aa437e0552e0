package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// ListTags serves GET /v3/tags?workspaceId=…
func (s *Server) ListTags(ctx context.Context, req gen.ListTagsRequestObject) (gen.ListTagsResponseObject, error) {
	page, err := listInWorkspace(ctx, s, workspaceListParams(req.Params), auth.ScopeAsset, store.TagFields, s.store.Tags.List, each(tagOut))
	return gen.ListTags200JSONResponse(page), err
}

// CreateTag serves POST /v3/tags; a name taken in the workspace is a 409.
func (s *Server) CreateTag(ctx context.Context, req gen.CreateTagRequestObject) (gen.CreateTagResponseObject, error) {
	in := req.Body
	w, err := authorized(ctx, s.store.Workspaces.Get, in.WorkspaceId, auth.ScopeAsset, auth.Create)
	if err != nil {
		return nil, err
	}
	t := &store.Tag{Placement: store.Placement{OrganizationID: w.OrganizationID, WorkspaceID: w.ID}, Name: in.Name, Description: in.Description}
	err = s.store.Tags.Create(ctx, t)
	if err := s.audited(ctx, tagConflict(err, in.Name), t.OrganizationID, "create", "tag", t.ID); err != nil {
		return nil, err
	}
	return gen.CreateTag201JSONResponse(tagOut(t)), nil
}

// GetTag serves GET /v3/tags/{tagId}.
func (s *Server) GetTag(ctx context.Context, req gen.GetTagRequestObject) (gen.GetTagResponseObject, error) {
	t, err := authorized(ctx, s.store.Tags.Get, req.TagId, auth.ScopeAsset, auth.Read)
	if err != nil {
		return nil, err
	}
	return gen.GetTag200JSONResponse(tagOut(t)), nil
}

// UpdateTag serves PUT /v3/tags/{tagId}: name and description (absent: none).
// A tag stays in its workspace.
func (s *Server) UpdateTag(ctx context.Context, req gen.UpdateTagRequestObject) (gen.UpdateTagResponseObject, error) {
	in := req.Body
	cur, err := updatable(ctx, s.store.Tags.Get, req.TagId, auth.ScopeAsset, "a tag", in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	t, err := s.store.Tags.Update(ctx, &store.Tag{ID: cur.ID, Name: in.Name, Description: in.Description}, in.Version)
	if err := s.audited(ctx, tagConflict(err, in.Name), cur.OrganizationID, "update", "tag", cur.ID); err != nil {
		return nil, err
	}
	return gen.UpdateTag200JSONResponse(tagOut(t)), nil
}

// DeleteTag serves DELETE /v3/tags/{tagId}; its devices lose it.
func (s *Server) DeleteTag(ctx context.Context, req gen.DeleteTagRequestObject) (gen.DeleteTagResponseObject, error) {
	if err := remove(ctx, s, s.store.Tags.Get, s.store.Tags.Delete, req.TagId, auth.ScopeAsset, "tag"); err != nil {
		return nil, err
	}
	return gen.DeleteTag204Response{}, nil
}

// tagConflict explains a taken name; other errors pass through.
func tagConflict(err error, name string) error {
	return conflict(err, "a tag named %q already exists in the workspace", name)
}

// tagsIn checks the tags of a device body against the device's workspace ws
// (one query): each must exist there, a 400 naming /tags/<i>/id otherwise.
// It returns their ids, duplicates removed.
func (s *Server) tagsIn(ctx context.Context, in *[]gen.DeviceInput_Tags_Item, ws string) ([]string, error) {
	if in == nil || len(*in) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(*in))
	for _, t := range *in {
		ids = append(ids, t.Id)
	}
	unique := slices.Clone(ids)
	slices.Sort(unique)
	unique = slices.Compact(unique)
	found, err := s.store.Tags.ByID(ctx, unique)
	if err != nil {
		return nil, err
	}
	var errs []gen.ProblemError
	for i, id := range ids {
		if t, ok := found[id]; !ok || t.WorkspaceID != ws {
			errs = append(errs, gen.ProblemError{MemberName: fmt.Sprintf("/tags/%d/id", i), Message: "no such tag in the workspace", Code: new("notFound")})
		}
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return unique, nil
}

func tagOut(t *store.Tag) gen.Tag {
	return gen.Tag{Id: t.ID, Name: t.Name, Description: t.Description, WorkspaceId: t.WorkspaceID,
		Version: t.Version, Created: t.CreatedAt.UTC(), Updated: t.UpdatedAt.UTC()}
}

func tagRefsOut(tags []store.Tag) []gen.TagRef {
	out := make([]gen.TagRef, len(tags))
	for i, t := range tags {
		out[i] = gen.TagRef{Id: t.ID, Name: t.Name, Description: t.Description}
	}
	return out
}
