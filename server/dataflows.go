package server

import (
	"context"
	"errors"
	"iter"
	"slices"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// databaseConnector is akenza's built-in database output connector, where a
// data flow sends its samples unless told otherwise.
const databaseConnector = "0900000000000000"

// ListDataFlows serves GET /v3/data-flows?workspaceId=…
func (s *Server) ListDataFlows(ctx context.Context, req gen.ListDataFlowsRequestObject) (gen.ListDataFlowsResponseObject, error) {
	page, err := listInWorkspace(ctx, s, workspaceListParams(req.Params), auth.ScopeDataFlow, store.DataFlowFields,
		s.store.DataFlows.List, s.dataFlowsOut)
	return gen.ListDataFlows200JSONResponse(page), err
}

// CreateDataFlow serves POST /v3/data-flows.
func (s *Server) CreateDataFlow(ctx context.Context, req gen.CreateDataFlowRequestObject) (gen.CreateDataFlowResponseObject, error) {
	in := req.Body
	w, err := authorized(ctx, s.store.Workspaces.Get, in.WorkspaceId, auth.ScopeDataFlow, auth.Create)
	if err != nil {
		return nil, err
	}
	if _, err := s.deviceTypeIn(ctx, in.DeviceTypeId, w.ID); err != nil {
		return nil, err
	}
	f := &store.DataFlow{Placement: store.Placement{OrganizationID: w.OrganizationID, WorkspaceID: w.ID}, DeviceTypeID: in.DeviceTypeId,
		Name: in.Name, Description: in.Description, OutputConnectors: connectorsIn(in.OutputConnectors)}
	err = s.store.DataFlows.Create(ctx, f)
	if err := s.audited(ctx, err, f.OrganizationID, "create", "dataFlow", f.ID); err != nil {
		return nil, err
	}
	out, err := s.dataFlowOut(ctx, f)
	return gen.CreateDataFlow201JSONResponse(out), err
}

// GetDataFlow serves GET /v3/data-flows/{dataFlowId}.
func (s *Server) GetDataFlow(ctx context.Context, req gen.GetDataFlowRequestObject) (gen.GetDataFlowResponseObject, error) {
	f, err := authorized(ctx, s.store.DataFlows.Get, req.DataFlowId, auth.ScopeDataFlow, auth.Read)
	if err != nil {
		return nil, err
	}
	out, err := s.dataFlowOut(ctx, f)
	return gen.GetDataFlow200JSONResponse(out), err
}

// UpdateDataFlow serves PUT /v3/data-flows/{dataFlowId}: the body replaces
// the data flow (absent connectors mean the database connector, as on
// create). A data flow stays in its workspace.
func (s *Server) UpdateDataFlow(ctx context.Context, req gen.UpdateDataFlowRequestObject) (gen.UpdateDataFlowResponseObject, error) {
	in := req.Body
	cur, err := updatable(ctx, s.store.DataFlows.Get, req.DataFlowId, auth.ScopeDataFlow, "a data flow", in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	if _, err := s.deviceTypeIn(ctx, in.DeviceTypeId, cur.WorkspaceID); err != nil {
		return nil, err
	}
	f := &store.DataFlow{ID: cur.ID, DeviceTypeID: in.DeviceTypeId, Name: in.Name, Description: in.Description,
		OutputConnectors: connectorsIn(in.OutputConnectors)}
	f, err = s.store.DataFlows.Update(ctx, f, in.Version)
	if err := s.audited(ctx, err, cur.OrganizationID, "update", "dataFlow", cur.ID); err != nil {
		return nil, err
	}
	out, err := s.dataFlowOut(ctx, f)
	return gen.UpdateDataFlow200JSONResponse(out), err
}

// DeleteDataFlow serves DELETE /v3/data-flows/{dataFlowId}; a data flow that
// devices still use stays (409).
func (s *Server) DeleteDataFlow(ctx context.Context, req gen.DeleteDataFlowRequestObject) (gen.DeleteDataFlowResponseObject, error) {
	del := func(ctx context.Context, id string) error {
		return conflict(s.store.DataFlows.Delete(ctx, id), "the data flow is used by devices; delete them or give them another data flow first")
	}
	if err := remove(ctx, s, s.store.DataFlows.Get, del, req.DataFlowId, auth.ScopeDataFlow, "dataFlow"); err != nil {
		return nil, err
	}
	return gen.DeleteDataFlow204Response{}, nil
}

// deviceTypeIn reads the device type id that a data flow of workspace ws
// names; one that does not exist there is a 400 naming /deviceTypeId.
func (s *Server) deviceTypeIn(ctx context.Context, id, ws string) (*store.DeviceType, error) {
	t, err := s.store.DeviceTypes.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.WorkspaceID != ws) {
		return nil, invalid(gen.ProblemError{MemberName: "/deviceTypeId", Message: "no such device type in the workspace", Code: new("notFound")})
	}
	return t, err
}

// connectorsIn applies the defaults of output connector references: none
// given means the database connector, and a reference without a topic takes
// every topic ("*").
func connectorsIn(in *[]gen.OutputConnectorRef) []store.ConnectorRef {
	if in == nil {
		return []store.ConnectorRef{{ID: databaseConnector, Topic: "*"}}
	}
	out := make([]store.ConnectorRef, len(*in))
	for i, c := range *in {
		out[i] = store.ConnectorRef{ID: c.Id, Topic: "*"}
		if c.Topic != nil {
			out[i].Topic = *c.Topic
		}
	}
	return out
}

// dataFlowOut maps one data flow to the wire format, with its device type.
func (s *Server) dataFlowOut(ctx context.Context, f *store.DataFlow) (gen.DataFlow, error) {
	return only(s.dataFlowsOut(ctx, []store.DataFlow{*f}))
}

// deviceTypesOf reads the device types of data flows, each once, in one
// query.
func (s *Server) deviceTypesOf(ctx context.Context, flows iter.Seq[store.DataFlow]) (map[string]store.DeviceType, error) {
	var ids []string
	for f := range flows {
		ids = append(ids, f.DeviceTypeID)
	}
	slices.Sort(ids)
	return s.store.DeviceTypes.ByID(ctx, slices.Compact(ids))
}

// dataFlowsOut maps data flows to the wire format, reading their device
// types in one query.
func (s *Server) dataFlowsOut(ctx context.Context, flows []store.DataFlow) ([]gen.DataFlow, error) {
	types, err := s.deviceTypesOf(ctx, slices.Values(flows))
	if err != nil {
		return nil, err
	}
	out := make([]gen.DataFlow, len(flows))
	for i, f := range flows {
		connectors := make([]gen.OutputConnectorRef, len(f.OutputConnectors))
		for j, c := range f.OutputConnectors {
			connectors[j] = gen.OutputConnectorRef{Id: c.ID, Topic: new(c.Topic)}
		}
		out[i] = gen.DataFlow{Id: f.ID, Name: f.Name, Description: f.Description, WorkspaceId: f.WorkspaceID,
			DeviceType: gen.NamedRef{Id: f.DeviceTypeID, Name: types[f.DeviceTypeID].Name}, OutputConnectors: connectors,
			Version: f.Version, Created: f.CreatedAt.UTC(), Updated: f.UpdatedAt.UTC()}
	}
	return out, nil
}
