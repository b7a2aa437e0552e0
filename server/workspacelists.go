package server

import (
	"context"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store/ndata"
)

// workspaceListParams is the query of every list of one workspace's
// resources (tags, rules, device types, data flows, output connectors): the
// generated parameters of those operations convert to it, so that the spec
// keeps them the same.
type workspaceListParams struct {
	WorkspaceId gen.WorkspaceIdQuery
	Page        *gen.Page
	Size        *gen.Size
	SkipTotal   *gen.SkipTotal
	Sort        *gen.SpringSort
	Search      *gen.Search
}

// listInWorkspace answers a list of one workspace's resources of a kind:
// the Spring query over fields, the caller's right to read scope in the
// workspace, one page from list (rows whose name contains the search), and
// the rows in the wire format by out.
func listInWorkspace[M, W any](ctx context.Context, s *Server, p workspaceListParams, scope auth.Scope, fields ndata.Schema,
	list func(ctx context.Context, workspaceID string, q ndata.Query, search string) ([]M, int64, error),
	out func(context.Context, []M) ([]W, error)) (springPage[W], error) {
	q, err := springQuery(p.Page, p.Size, p.SkipTotal, p.Sort, fields)
	if err != nil {
		return springPage[W]{}, err
	}
	if err := s.listableWorkspace(ctx, p.WorkspaceId, scope, auth.Read); err != nil {
		return springPage[W]{}, err
	}
	rows, total, err := list(ctx, p.WorkspaceId, q, deref(p.Search))
	if err != nil {
		return springPage[W]{}, err
	}
	items, err := out(ctx, rows)
	if err != nil {
		return springPage[W]{}, err
	}
	return newPage(items, q, total), nil
}

// each maps rows one at a time, for listInWorkspace.
func each[M, W any](out func(*M) W) func(context.Context, []M) ([]W, error) {
	return func(_ context.Context, rows []M) ([]W, error) { return mapRows(rows, out), nil }
}
