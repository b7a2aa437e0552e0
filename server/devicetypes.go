package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/ingest"
	"github.com/keyplane/keyplane/store"
)

// ListDeviceTypes serves GET /v3/device-types?workspaceId=…. An unknown
// workspace is not revealed: it is an empty page for a platform-wide
// caller and a 403 for everyone else, like a workspace out of reach.
func (s *Server) ListDeviceTypes(ctx context.Context, req gen.ListDeviceTypesRequestObject) (gen.ListDeviceTypesResponseObject, error) {
	page, err := listInWorkspace(ctx, s, workspaceListParams(req.Params), auth.ScopeDeviceType, store.DeviceTypeFields,
		s.store.DeviceTypes.List, each(deviceTypeOut))
	return gen.ListDeviceTypes200JSONResponse(page), err
}

// CreateDeviceType serves POST /v3/device-types: every schema must compile.
func (s *Server) CreateDeviceType(ctx context.Context, req gen.CreateDeviceTypeRequestObject) (gen.CreateDeviceTypeResponseObject, error) {
	in := req.Body
	w, err := authorized(ctx, s.store.Workspaces.Get, in.WorkspaceId, auth.ScopeDeviceType, auth.Create)
	if err != nil {
		return nil, err
	}
	schemas, err := schemasIn(in.Schemas)
	if err != nil {
		return nil, err
	}
	t := &store.DeviceType{Placement: store.Placement{OrganizationID: w.OrganizationID, WorkspaceID: w.ID}, Name: in.Name, Description: in.Description, Schemas: schemas}
	err = s.store.DeviceTypes.Create(ctx, t)
	if err := s.audited(ctx, err, t.OrganizationID, "create", "deviceType", t.ID); err != nil {
		return nil, err
	}
	return gen.CreateDeviceType201JSONResponse(deviceTypeOut(t)), nil
}

// GetDeviceType serves GET /v3/device-types/{deviceTypeId}.
func (s *Server) GetDeviceType(ctx context.Context, req gen.GetDeviceTypeRequestObject) (gen.GetDeviceTypeResponseObject, error) {
	t, err := authorized(ctx, s.store.DeviceTypes.Get, req.DeviceTypeId, auth.ScopeDeviceType, auth.Read)
	if err != nil {
		return nil, err
	}
	return gen.GetDeviceType200JSONResponse(deviceTypeOut(t)), nil
}

// UpdateDeviceType serves PUT /v3/device-types/{deviceTypeId}: name,
// description and schemas (omitted schemas: none); the workspace is fixed.
func (s *Server) UpdateDeviceType(ctx context.Context, req gen.UpdateDeviceTypeRequestObject) (gen.UpdateDeviceTypeResponseObject, error) {
	in := req.Body
	cur, err := updatable(ctx, s.store.DeviceTypes.Get, req.DeviceTypeId, auth.ScopeDeviceType, "a device type", in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	schemas, err := schemasIn(in.Schemas)
	if err != nil {
		return nil, err
	}
	t, err := s.store.DeviceTypes.Update(ctx, &store.DeviceType{ID: cur.ID, Name: in.Name, Description: in.Description, Schemas: schemas}, in.Version)
	if err := s.audited(ctx, err, cur.OrganizationID, "update", "deviceType", cur.ID); err != nil {
		return nil, err
	}
	return gen.UpdateDeviceType200JSONResponse(deviceTypeOut(t)), nil
}

// DeleteDeviceType serves DELETE /v3/device-types/{deviceTypeId}; one a
// data flow uses is a 409.
func (s *Server) DeleteDeviceType(ctx context.Context, req gen.DeleteDeviceTypeRequestObject) (gen.DeleteDeviceTypeResponseObject, error) {
	del := func(ctx context.Context, id string) error {
		return conflict(s.store.DeviceTypes.Delete(ctx, id), "the device type is used by a data flow; change or delete the data flow first")
	}
	if err := remove(ctx, s, s.store.DeviceTypes.Get, del, req.DeviceTypeId, auth.ScopeDeviceType, "deviceType"); err != nil {
		return nil, err
	}
	return gen.DeleteDeviceType204Response{}, nil
}

// schemasIn takes the per-topic schemas of a request as sent (compacted),
// each of which must be within bounds and compile (400 naming
// /schemas/<topic> otherwise).
func schemasIn(in *map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if in == nil {
		return out, nil
	}
	for topic, raw := range *in {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, fmt.Errorf("compact schema of topic %q: %w", topic, err)
		}
		out[topic] = compact.Bytes()
	}
	if err := ingest.CheckSchemas(out); err != nil {
		return nil, err
	}
	return out, nil
}

func deviceTypeOut(t *store.DeviceType) gen.DeviceType {
	if t.Schemas == nil {
		t.Schemas = map[string]json.RawMessage{}
	}
	return gen.DeviceType{Id: t.ID, Name: t.Name, Description: t.Description, WorkspaceId: t.WorkspaceID,
		Schemas: t.Schemas, Version: t.Version, Created: t.CreatedAt.UTC(), Updated: t.UpdatedAt.UTC()}
}
