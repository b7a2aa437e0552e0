package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// defaultOnlineTimeout is a device's online timeout, in seconds, unless set.
const defaultOnlineTimeout = 3600

// maxPhysicalMatches bounds how many devices, across workspaces, a lookup by
// physical id considers.
const maxPhysicalMatches = 1000

// CreateDevice serves POST /v3/devices.
func (s *Server) CreateDevice(ctx context.Context, req gen.CreateDeviceRequestObject) (gen.CreateDeviceResponseObject, error) {
	in := req.Body
	w, err := authorized(ctx, s.store.Workspaces.Get, in.WorkspaceId, auth.ScopeAsset, auth.Create)
	if err != nil {
		return nil, err
	}
	d, tags, err := s.deviceIn(ctx, in, w.ID)
	if err != nil {
		return nil, err
	}
	d.OrganizationID, d.WorkspaceID = w.OrganizationID, w.ID
	err = s.store.Devices.Create(ctx, d, tags...)
	if err := s.audited(ctx, deviceConflict(err, d.DeviceID), d.OrganizationID, "create", "device", d.ID); err != nil {
		return nil, err
	}
	out, err := s.deviceOut(ctx, d)
	return gen.CreateDevice201JSONResponse(out), err
}

// GetDevice serves GET /v3/devices/{deviceId}.
func (s *Server) GetDevice(ctx context.Context, req gen.GetDeviceRequestObject) (gen.GetDeviceResponseObject, error) {
	d, err := authorized(ctx, s.store.Devices.Get, req.DeviceId, auth.ScopeAsset, auth.Read)
	if err != nil {
		return nil, err
	}
	out, err := s.deviceOut(ctx, d)
	return gen.GetDevice200JSONResponse(out), err
}

// GetDeviceByDeviceId serves GET /v3/devices/by-device-id?deviceId=…: the
// device with this physical id, in the workspace given or among those the
// caller can read. Physical ids are unique per workspace only, so devices
// the caller cannot read never make the answer ambiguous; several readable
// ones without a workspaceId are a 400 asking for it.
func (s *Server) GetDeviceByDeviceId(ctx context.Context, req gen.GetDeviceByDeviceIdRequestObject) (gen.GetDeviceByDeviceIdResponseObject, error) {
	var found []store.Device
	if ws := req.Params.WorkspaceId; ws != nil {
		d, err := s.store.Devices.ByPhysicalID(ctx, req.Params.DeviceId, *ws)
		if err != nil {
			return nil, err
		}
		found = []store.Device{*d}
	} else {
		var err error
		if found, err = s.store.Devices.ListByPhysicalID(ctx, req.Params.DeviceId, maxPhysicalMatches); err != nil {
			return nil, err
		}
	}
	if len(found) == 0 {
		return nil, store.ErrNotFound
	}
	p := auth.PrincipalFrom(ctx)
	var readable []store.Device
	for _, d := range found {
		if p.Allowed(deviceTarget(&d, auth.Read)) {
			readable = append(readable, d)
		}
	}
	switch len(readable) {
	case 0:
		if req.Params.WorkspaceId != nil { // the caller named the workspace: say it is out of reach
			return nil, allow(ctx, deviceTarget(&found[0], auth.Read))
		}
		// Devices in workspaces the caller cannot read are not revealed:
		// physical ids of other tenants stay unknown.
		return nil, store.ErrNotFound
	case 1:
		out, err := s.deviceOut(ctx, &readable[0])
		return gen.GetDeviceByDeviceId200JSONResponse(out), err
	default:
		return nil, invalid(gen.ProblemError{MemberName: "workspaceId", Code: new("ambiguous"),
			Message: fmt.Sprintf("%d devices have this deviceId; name the workspace", len(readable))})
	}
}

// UpdateDevice serves PUT /v3/devices/{deviceId}: the body replaces the
// device (absent connectivity and onlineTimeout take their defaults, as on
// create; absent tags mean none). A device stays in its workspace.
func (s *Server) UpdateDevice(ctx context.Context, req gen.UpdateDeviceRequestObject) (gen.UpdateDeviceResponseObject, error) {
	in := req.Body
	cur, err := updatable(ctx, s.store.Devices.Get, req.DeviceId, auth.ScopeAsset, "a device", in.WorkspaceId)
	if err != nil {
		return nil, err
	}
	d, tags, err := s.deviceIn(ctx, in, cur.WorkspaceID)
	if err != nil {
		return nil, err
	}
	d.ID = cur.ID
	d, err = s.store.Devices.Update(ctx, d, in.Version, tags...)
	if err := s.audited(ctx, deviceConflict(err, in.DeviceId), cur.OrganizationID, "update", "device", cur.ID); err != nil {
		return nil, err
	}
	out, err := s.deviceOut(ctx, d)
	return gen.UpdateDevice200JSONResponse(out), err
}

// DeleteDevice serves DELETE /v3/devices/{deviceId}; its samples go with it.
func (s *Server) DeleteDevice(ctx context.Context, req gen.DeleteDeviceRequestObject) (gen.DeleteDeviceResponseObject, error) {
	if err := remove(ctx, s, s.store.Devices.Get, s.store.Devices.Delete, req.DeviceId, auth.ScopeAsset, "device"); err != nil {
		return nil, err
	}
	return gen.DeleteDevice204Response{}, nil
}

func deviceTarget(d *store.Device, verb auth.Verb) auth.Target {
	return auth.Target{Scope: auth.ScopeAsset, Verb: verb, Organization: d.OrganizationID, Workspace: d.WorkspaceID}
}

// dataFlowIn checks that a device of workspace ws may name the data flow id:
// one that does not exist there is a 400 naming /dataFlowId.
func (s *Server) dataFlowIn(ctx context.Context, id, ws string) error {
	f, err := s.store.DataFlows.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.WorkspaceID != ws) {
		return invalid(gen.ProblemError{MemberName: "/dataFlowId", Message: "no such data flow in the workspace", Code: new("notFound")})
	}
	return err
}

// deviceIn validates a device body for workspace ws (its data flow and its
// tags must be there) and maps it to the editable fields of a device, with
// the defaults of absent members, and the ids of its tags.
func (s *Server) deviceIn(ctx context.Context, in *gen.DeviceInput, ws string) (*store.Device, []string, error) {
	if err := s.dataFlowIn(ctx, in.DataFlowId, ws); err != nil {
		return nil, nil, err
	}
	tags, err := s.tagsIn(ctx, in.Tags, ws)
	if err != nil {
		return nil, nil, err
	}
	d := &store.Device{DeviceID: in.DeviceId, DataFlowID: in.DataFlowId, Name: in.Name, Description: in.Description,
		Connectivity: string(gen.DeviceConnectivityHTTP), OnlineTimeout: defaultOnlineTimeout, Properties: properties(in.Properties)}
	if in.Connectivity != nil {
		d.Connectivity = string(*in.Connectivity)
	}
	if in.OnlineTimeout != nil {
		d.OnlineTimeout = *in.OnlineTimeout
	}
	return d, tags, nil
}

// deviceConflict explains a taken physical id; other errors pass through.
func deviceConflict(err error, deviceID string) error {
	return conflict(err, "a device with deviceId %q already exists in the workspace", deviceID)
}

// deviceOut maps one device to the wire format, with its data flow and
// device type.
func (s *Server) deviceOut(ctx context.Context, d *store.Device) (gen.Device, error) {
	return only(s.devicesOut(ctx, *d))
}

// devicesOut maps devices to the wire format, reading their data flows,
// device types and tags in one query each. online and onlineState are as of
// now.
func (s *Server) devicesOut(ctx context.Context, ds ...store.Device) ([]gen.Device, error) {
	deviceIDs := make([]string, 0, len(ds))
	for _, d := range ds {
		deviceIDs = append(deviceIDs, d.ID)
	}
	tags, err := s.store.Tags.OfDevices(ctx, deviceIDs)
	if err != nil {
		return nil, err
	}
	flows, err := s.flowSummaries(ctx, ds)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]gen.Device, len(ds))
	for i, d := range ds {
		online, state := onlineState(&d, now)
		out[i] = gen.Device{Id: d.ID, Name: d.Name, Description: d.Description, Type: gen.AssetTypeDEVICE,
			WorkspaceId: d.WorkspaceID, OrganizationId: d.OrganizationID, DeviceId: d.DeviceID,
			Properties: object(d.Properties), DataFlowId: d.DataFlowID,
			Connectivity: gen.DeviceConnectivity(d.Connectivity), OnlineTimeout: new(d.OnlineTimeout),
			Online: online, OnlineState: state, Version: d.Version, Created: d.CreatedAt.UTC(), Updated: d.UpdatedAt.UTC(),
			Tags: new(tagRefsOut(tags[d.ID])), DataFlow: flows[d.DataFlowID]}
		if d.LastSampleAt != nil {
			out[i].LastSampleAt = new(d.LastSampleAt.UTC())
		}
	}
	return out, nil
}

// flowSummaries names the data flows (and their device types) of devices,
// by data flow id: from the devices themselves when their read joined them
// (Devices.Get), otherwise with one batch lookup of each.
func (s *Server) flowSummaries(ctx context.Context, ds []store.Device) (map[string]*gen.DataFlowSummary, error) {
	out := map[string]*gen.DataFlowSummary{}
	var missing []string
	for _, d := range ds {
		switch {
		case d.FlowName != "":
			out[d.DataFlowID] = &gen.DataFlowSummary{Id: d.DataFlowID, Name: d.FlowName,
				DeviceType: gen.NamedRef{Id: d.DeviceTypeID, Name: d.DeviceTypeName}}
		case !slices.Contains(missing, d.DataFlowID):
			missing = append(missing, d.DataFlowID)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	flows, err := s.store.DataFlows.ByID(ctx, missing)
	if err != nil {
		return nil, err
	}
	types, err := s.deviceTypesOf(ctx, maps.Values(flows))
	if err != nil {
		return nil, err
	}
	for id, f := range flows {
		out[id] = &gen.DataFlowSummary{Id: f.ID, Name: f.Name, DeviceType: gen.NamedRef{Id: f.DeviceTypeID, Name: types[f.DeviceTypeID].Name}}
	}
	return out, nil
}

// onlineState tells whether a device is online at now: UNKNOWN before its
// first sample, then ONLINE while its last sample is younger than its online
// timeout (as store.AssetFilter.Online counts it), OFFLINE after.
func onlineState(d *store.Device, now time.Time) (bool, gen.DeviceOnlineState) {
	switch {
	case d.LastSampleAt == nil:
		return false, gen.DeviceOnlineStateUNKNOWN
	case d.LastSampleAt.Add(time.Duration(d.OnlineTimeout) * time.Second).After(now):
		return true, gen.DeviceOnlineStateONLINE
	default:
		return false, gen.DeviceOnlineStateOFFLINE
	}
}
