package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// deviceType creates a device type directly in the store (its HTTP handlers
// are another file's) and returns its id.
func (h *harness) deviceType(t testing.TB, ws, name string) string {
	t.Helper()
	w, err := h.st.Workspaces.Get(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	dt := &store.DeviceType{Placement: store.Placement{OrganizationID: w.OrganizationID, WorkspaceID: ws}, Name: name, Schemas: map[string]json.RawMessage{}}
	if err := h.st.DeviceTypes.Create(t.Context(), dt); err != nil {
		t.Fatal(err)
	}
	return dt.ID
}

// dataFlow creates a data flow (as root) with the default connectors.
func (h *harness) dataFlow(t testing.TB, ws, deviceType, name string) gen.DataFlow {
	t.Helper()
	var f gen.DataFlow
	h.do(t, req{method: "POST", path: "/v3/data-flows",
		body: map[string]any{"name": name, "workspaceId": ws, "deviceTypeId": deviceType}}).want(201).decode(&f)
	return f
}

// device creates a device (as root) with the defaults.
func (h *harness) device(t testing.TB, ws, flow, physicalID, name string) gen.Device {
	t.Helper()
	var d gen.Device
	h.do(t, req{method: "POST", path: "/v3/devices",
		body: map[string]any{"name": name, "workspaceId": ws, "dataFlowId": flow, "deviceId": physicalID}}).want(201).decode(&d)
	return d
}

// lastSample sets a device's last sample time straight in the database (the
// backfill that normally sets it is not what these tests are about).
func (h *harness) lastSample(t testing.TB, id string, at time.Time) {
	t.Helper()
	storetest.Exec(t, h.st, "UPDATE devices SET last_sample_at = ? WHERE id = ?", at.UTC(), id)
}

// wantMember checks a 400's problem names member.
func wantMember(t testing.TB, r *response, member string) {
	t.Helper()
	p := r.want(400).problem()
	if p.Errors == nil || (*p.Errors)[0].MemberName != member {
		t.Fatalf("problem %s, want member %s", r.Body, member)
	}
}

func TestDataFlows(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")
		dt := h.deviceType(t, ws, "Climate sensor")
		foreign := h.deviceType(t, other, "Elsewhere")

		// Defaults: the database connector, and topic "*" for a ref without one.
		f := h.dataFlow(t, ws, dt, "to db")
		if !strings.HasPrefix(f.Id, "08") || f.WorkspaceId != ws || f.DeviceType.Id != dt || f.DeviceType.Name != "Climate sensor" ||
			len(f.OutputConnectors) != 1 || f.OutputConnectors[0].Id != "0900000000000000" || *f.OutputConnectors[0].Topic != "*" || f.Version != 1 {
			t.Fatalf("data flow %+v", f)
		}
		var g gen.DataFlow
		h.do(t, req{method: "POST", path: "/v3/data-flows", body: map[string]any{"name": "hooks", "workspaceId": ws, "deviceTypeId": dt,
			"description": "two", "outputConnectors": []any{map[string]any{"id": "09a1b2c3d4e5f601"}, map[string]any{"id": "09a1b2c3d4e5f602", "topic": "alarm"}}}}).
			want(201).decode(&g)
		if len(g.OutputConnectors) != 2 || *g.OutputConnectors[0].Topic != "*" || *g.OutputConnectors[1].Topic != "alarm" || *g.Description != "two" {
			t.Fatalf("connectors %+v", g.OutputConnectors)
		}
		h.do(t, req{method: "POST", path: "/v3/data-flows", body: map[string]any{"name": "none", "workspaceId": ws, "deviceTypeId": dt,
			"outputConnectors": []any{}}}).want(201).decode(&g)
		if len(g.OutputConnectors) != 0 {
			t.Fatalf("explicit empty connectors became %+v", g.OutputConnectors)
		}

		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
			member string
		}{
			{"device type of another workspace", map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": foreign}, 400, "/deviceTypeId"},
			{"unknown device type", map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": "0dffffffffffffff"}, 400, "/deviceTypeId"},
			{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff", "deviceTypeId": dt}, 404, ""},
			{"no name", map[string]any{"workspaceId": ws, "deviceTypeId": dt}, 400, ""},
			{"bad connector id", map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt, "outputConnectors": []any{map[string]any{"id": "02a1b2c3d4e5f601"}}}, 400, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := h.do(t, req{method: "POST", path: "/v3/data-flows", body: c.body}).want(c.status)
				if c.member != "" {
					wantMember(t, r, c.member)
				}
			})
		}

		h.do(t, req{method: "GET", path: "/v3/data-flows/" + f.Id}).want(200).decode(&g)
		if g.Id != f.Id || g.DeviceType.Name != "Climate sensor" {
			t.Fatalf("get %+v", g)
		}
		h.do(t, req{method: "GET", path: "/v3/data-flows/08ffffffffffffff"}).want(404)

		// Update: the version is optional, a stale one is a 409; the workspace stays.
		dt2 := h.deviceType(t, ws, "Door sensor")
		path := "/v3/data-flows/" + f.Id
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "renamed", "workspaceId": ws, "deviceTypeId": dt2, "version": 1}}).want(200).decode(&g)
		if g.Version != 2 || g.Name != "renamed" || g.DeviceType.Id != dt2 || g.DeviceType.Name != "Door sensor" || len(g.OutputConnectors) != 1 {
			t.Fatalf("updated %+v", g)
		}
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt, "version": 1}}).want(409)
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "again", "workspaceId": ws, "deviceTypeId": dt}}).want(200).decode(&g)
		if g.Version != 3 || g.DeviceType.Id != dt {
			t.Fatalf("unversioned update %+v", g)
		}
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": other, "deviceTypeId": foreign}}), "/workspaceId")
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": foreign}}), "/deviceTypeId")
		h.do(t, req{method: "PUT", path: "/v3/data-flows/08ffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt}}).want(404)

		// Lists.
		var page gen.DataFlowPage
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=" + ws + "&sort=name,desc"}).want(200).decode(&page)
		if page.TotalElements != 3 || page.Content[0].Name != "none" || page.Content[2].Name != "again" || !page.Sort.Sorted {
			t.Fatalf("page %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=" + ws + "&search=HOO"}).want(200).decode(&page)
		if page.TotalElements != 1 || page.Content[0].Name != "hooks" {
			t.Fatalf("search %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=" + other}).want(200).decode(&page)
		if !page.Empty || page.TotalElements != 0 || !page.First || !page.Last {
			t.Fatalf("empty page %+v", page)
		}
		for _, bad := range []string{"", "workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&size=101", "workspaceId=" + ws + "&sort=colour"} {
			h.do(t, req{method: "GET", path: "/v3/data-flows?" + bad}).want(400)
		}
		// An unknown workspace lists nothing for root (a 403 for others, below).
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=29ffffffffffffff"}).want(200).decode(&page)
		if page.TotalElements != 0 {
			t.Fatalf("unknown workspace %+v", page)
		}

		// A viewer reads but does not create; a workspace editor creates in its workspace only.
		viewer := h.user(t, "viewer")
		h.member(t, org, viewer.Id, "VIEWER")
		vtok := h.login(t, "viewer").TokenId
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=" + ws, bearer: vtok}).want(200)
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=29ffffffffffffff", bearer: vtok}).want(403)
		h.do(t, req{method: "GET", path: path, bearer: vtok}).want(200)
		h.do(t, req{method: "POST", path: "/v3/data-flows", bearer: vtok, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt}}).want(403)
		h.do(t, req{method: "DELETE", path: path, bearer: vtok}).want(403)
		editor := h.user(t, "editor")
		h.member(t, org, editor.Id, "MEMBER")
		h.do(t, req{method: "PUT", path: "/v3/workspaces/" + other + "/members/" + editor.Id, body: map[string]any{"role": "EDITOR"}}).want(200)
		etok := h.login(t, "editor").TokenId
		h.do(t, req{method: "POST", path: "/v3/data-flows", bearer: etok, body: map[string]any{"name": "x", "workspaceId": other, "deviceTypeId": foreign}}).want(201)
		h.do(t, req{method: "POST", path: "/v3/data-flows", bearer: etok, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt}}).want(403)
		h.do(t, req{method: "GET", path: "/v3/data-flows?workspaceId=" + ws, bearer: etok}).want(403)

		// A data flow in use stays.
		d := h.device(t, ws, f.Id, "phys-1", "d")
		p := h.do(t, req{method: "DELETE", path: path}).want(409).problem()
		if p.Detail == nil || !strings.Contains(*p.Detail, "used by devices") {
			t.Fatalf("in-use problem %+v", p)
		}
		h.do(t, req{method: "DELETE", path: "/v3/devices/" + d.Id}).want(204)
		h.do(t, req{method: "DELETE", path: path}).want(204)
		h.do(t, req{method: "GET", path: path}).want(404)
		h.do(t, req{method: "DELETE", path: path}).want(404)

		wantAudit(t, h, "create:dataFlow", "update:dataFlow", "delete:dataFlow", "create:device", "delete:device")
	})
}

func TestDevices(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")
		flow := h.dataFlow(t, ws, h.deviceType(t, ws, "Climate sensor"), "to db")
		foreign := h.dataFlow(t, other, h.deviceType(t, other, "Elsewhere"), "elsewhere")

		// Defaults.
		d := h.device(t, ws, flow.Id, "70B3D57ED0001234", "sensor")
		if !strings.HasPrefix(d.Id, "02") || d.Type != gen.AssetTypeDEVICE || d.OrganizationId != org || d.WorkspaceId != ws ||
			d.DeviceId != "70B3D57ED0001234" || d.Connectivity != "HTTP" || d.OnlineTimeout == nil || *d.OnlineTimeout != 3600 ||
			d.Online || d.OnlineState != gen.DeviceOnlineStateUNKNOWN || d.LastSampleAt != nil || d.Properties == nil || len(d.Properties) != 0 || d.Version != 1 {
			t.Fatalf("device %+v", d)
		}
		if d.DataFlow == nil || d.DataFlow.Id != flow.Id || d.DataFlow.Name != "to db" || d.DataFlow.DeviceType.Name != "Climate sensor" {
			t.Fatalf("device's data flow %+v", d.DataFlow)
		}
		var e gen.Device
		h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "lora", "workspaceId": ws, "dataFlowId": flow.Id,
			"deviceId": "lora-1", "connectivity": "LORA", "onlineTimeout": 60, "properties": map[string]any{"floor": 2}, "description": "d"}}).
			want(201).decode(&e)
		if e.Connectivity != "LORA" || *e.OnlineTimeout != 60 || e.Properties["floor"] != float64(2) || *e.Description != "d" {
			t.Fatalf("explicit device %+v", e)
		}
		// Physical ids are unique per workspace.
		p := h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "dup", "workspaceId": ws, "dataFlowId": flow.Id,
			"deviceId": "70B3D57ED0001234"}}).want(409).problem()
		if !strings.Contains(*p.Detail, "70B3D57ED0001234") {
			t.Fatalf("duplicate problem %+v", p)
		}
		h.device(t, other, foreign.Id, "70B3D57ED0001234", "twin")

		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
			member string
		}{
			{"data flow of another workspace", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": foreign.Id, "deviceId": "x"}, 400, "/dataFlowId"},
			{"unknown data flow", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": "08ffffffffffffff", "deviceId": "x"}, 400, "/dataFlowId"},
			{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff", "dataFlowId": flow.Id, "deviceId": "x"}, 404, ""},
			{"no physical id", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id}, 400, ""},
			{"timeout too short", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x", "onlineTimeout": 59}, 400, ""},
			{"bad connectivity", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x", "connectivity": "SMOKE"}, 400, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := h.do(t, req{method: "POST", path: "/v3/devices", body: c.body}).want(c.status)
				if c.member != "" {
					wantMember(t, r, c.member)
				}
			})
		}

		path := "/v3/devices/" + d.Id
		var got gen.Device
		h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
		if got.Id != d.Id || got.DataFlow == nil || got.DataFlow.DeviceType.Name != "Climate sensor" {
			t.Fatalf("get %+v", got)
		}
		h.do(t, req{method: "GET", path: "/v3/devices/02ffffffffffffff"}).want(404)
		h.do(t, req{method: "GET", path: "/v3/devices/not-an-id"}).want(400)

		// Update replaces; the version is optional, a stale one is a 409.
		flow2 := h.dataFlow(t, ws, h.deviceType(t, ws, "Door sensor"), "doors")
		body := map[string]any{"name": "renamed", "workspaceId": ws, "dataFlowId": flow2.Id, "deviceId": "70B3D57ED0001234", "connectivity": "MQTT", "version": 1}
		h.do(t, req{method: "PUT", path: path, body: body}).want(200).decode(&got)
		if got.Version != 2 || got.Name != "renamed" || got.Connectivity != "MQTT" || got.DataFlow.Name != "doors" || got.DataFlow.DeviceType.Name != "Door sensor" {
			t.Fatalf("updated %+v", got)
		}
		h.do(t, req{method: "PUT", path: path, body: body}).want(409)
		delete(body, "version")
		body["connectivity"] = "COAP"
		h.do(t, req{method: "PUT", path: path, body: body}).want(200).decode(&got)
		if got.Version != 3 || got.Connectivity != "COAP" || *got.OnlineTimeout != 3600 {
			t.Fatalf("unversioned update %+v", got)
		}
		moved := map[string]any{"name": "x", "workspaceId": other, "dataFlowId": foreign.Id, "deviceId": "x"}
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: moved}), "/workspaceId")
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": foreign.Id, "deviceId": "x"}}), "/dataFlowId")
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "lora-1"}}).want(409)
		h.do(t, req{method: "PUT", path: "/v3/devices/02ffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x"}}).want(404)

		// Rights: a viewer reads only; a workspace-scoped key acts in its workspace only.
		viewer := h.user(t, "viewer")
		h.member(t, org, viewer.Id, "VIEWER")
		vtok := h.login(t, "viewer").TokenId
		h.do(t, req{method: "GET", path: path, bearer: vtok}).want(200)
		h.do(t, req{method: "POST", path: "/v3/devices", bearer: vtok, body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "v"}}).want(403)
		h.do(t, req{method: "PUT", path: path, bearer: vtok, body: body}).want(403)
		h.do(t, req{method: "DELETE", path: path, bearer: vtok}).want(403)
		key := *h.create(t, map[string]any{"name": "ws", "organizationId": org, "isActive": true, "permissions": []any{
			map[string]any{"scope": "ASSET", "verbs": []string{"READ", "CREATE", "DELETE"}, "workspaceIds": []string{other}}}}).ClientSecret
		h.do(t, req{method: "GET", path: path, apiKey: key}).want(403)
		var made gen.Device
		h.do(t, req{method: "POST", path: "/v3/devices", apiKey: key, body: map[string]any{"name": "k", "workspaceId": other, "dataFlowId": foreign.Id, "deviceId": "k"}}).
			want(201).decode(&made)
		h.do(t, req{method: "POST", path: "/v3/devices", apiKey: key, body: map[string]any{"name": "k", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "k"}}).want(403)
		h.do(t, req{method: "DELETE", path: "/v3/devices/" + made.Id, apiKey: key}).want(204)

		h.do(t, req{method: "DELETE", path: path}).want(204)
		h.do(t, req{method: "GET", path: path}).want(404)
		h.do(t, req{method: "DELETE", path: path}).want(404)

		wantAudit(t, h, "create:device", "update:device", "delete:device")
	})
}

func TestDeviceByDeviceID(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		one := h.workspace(t, org, "one")
		two := h.workspace(t, org, "two")
		f1 := h.dataFlow(t, one, h.deviceType(t, one, "t1"), "f1")
		f2 := h.dataFlow(t, two, h.deviceType(t, two, "t2"), "f2")
		a := h.device(t, one, f1.Id, "shared", "a")
		b := h.device(t, two, f2.Id, "shared", "b")
		u := h.device(t, one, f1.Id, "only/here?", "u")
		key := *h.create(t, map[string]any{"name": "ws", "organizationId": org, "isActive": true, "permissions": []any{
			map[string]any{"scope": "ASSET", "verbs": []string{"READ"}, "workspaceIds": []string{two}}}}).ClientSecret

		lookup := func(physical, ws string) string {
			q := url.Values{"deviceId": {physical}}
			if ws != "" {
				q.Set("workspaceId", ws)
			}
			return "/v3/devices/by-device-id?" + q.Encode()
		}
		for _, c := range []struct {
			name, physical, ws, apiKey string
			status                     int
			want                       string
		}{
			{"unique", "only/here?", "", "", 200, u.Id},
			{"in its workspace", "shared", one, "", 200, a.Id},
			{"in the other workspace", "shared", two, "", 200, b.Id},
			{"ambiguous", "shared", "", "", 400, ""},
			{"not found", "nothing", "", "", 404, ""},
			{"not in that workspace", "only/here?", two, "", 404, ""},
			{"unknown workspace", "shared", "29ffffffffffffff", "", 404, ""},
			{"only the readable one counts", "shared", "", key, 200, b.Id},
			{"out of the key's scope", "shared", one, key, 403, ""},
			{"exists, none readable: not revealed", "only/here?", "", key, 404, ""},
			{"no deviceId", "", "", "", 400, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := h.do(t, req{method: "GET", path: lookup(c.physical, c.ws), apiKey: c.apiKey}).want(c.status)
				if c.want != "" {
					var d gen.Device
					r.decode(&d)
					if d.Id != c.want {
						t.Fatalf("found %s, want %s", d.Id, c.want)
					}
				}
			})
		}
		wantMember(t, h.do(t, req{method: "GET", path: lookup("shared", "")}), "workspaceId")
	})
}

func TestAssets(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")
		empty := h.workspace(t, org, "empty")
		elsewhere := h.workspace(t, h.org(t, "other org"), "far")
		dt := h.deviceType(t, ws, "t")
		flow := h.dataFlow(t, ws, dt, "f")
		flow2 := h.dataFlow(t, ws, dt, "g")
		var ids []string
		for i := range 7 {
			f := flow.Id
			if i == 6 {
				f = flow2.Id
			}
			ids = append(ids, h.device(t, ws, f, fmt.Sprintf("p%d", i), "dev-"+string(rune('a'+i))).Id)
		}
		h.device(t, other, h.dataFlow(t, other, h.deviceType(t, other, "t"), "f").Id, "p0", "other-a")
		h.device(t, elsewhere, h.dataFlow(t, elsewhere, h.deviceType(t, elsewhere, "t"), "f").Id, "p0", "far-a")

		list := func(query string) gen.DevicePage {
			t.Helper()
			var page gen.DevicePage
			h.do(t, req{method: "GET", path: "/v3/assets?" + query}).want(200).decode(&page)
			return page
		}
		// Pages.
		page := list("workspaceId=" + ws + "&size=3&page=2&sort=name,desc")
		if page.TotalElements != 7 || page.TotalPages != 3 || page.Number != 2 || !page.Last || page.First || page.NumberOfElements != 1 ||
			page.Content[0].Name != "dev-a" || !page.Sort.Sorted || page.Pageable.Offset != 6 || page.Content[0].DataFlow == nil {
			t.Fatalf("last page %+v", page)
		}
		page = list("workspaceId=" + ws + "&size=3&sort=name,desc")
		if page.NumberOfElements != 3 || page.Content[0].Name != "dev-g" || !page.First || page.Last {
			t.Fatalf("first page %+v", page)
		}
		page = list("workspaceId=" + empty)
		if !page.Empty || len(page.Content) != 0 || page.TotalElements != 0 || page.TotalPages != 0 || !page.First || !page.Last || page.Size != 25 {
			t.Fatalf("empty page %+v", page)
		}
		page = list("workspaceId=" + ws + "&page=9")
		if !page.Empty || page.TotalElements != 7 {
			t.Fatalf("page past the end %+v", page)
		}
		for _, bad := range []string{"workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&size=101", "workspaceId=" + ws + "&sort=colour,asc",
			"workspaceId=" + ws + "&type=SIM_CARD", "", "workspaceId=" + ws + "&organizationId=" + org} {
			h.do(t, req{method: "GET", path: "/v3/assets?" + bad}).want(400)
		}
		if page = list("workspaceId=29ffffffffffffff"); page.TotalElements != 0 {
			t.Fatalf("unknown workspace %+v", page)
		}

		// Filters.
		if page = list("workspaceId=" + ws + "&search=DEV-C&type=DEVICE"); page.TotalElements != 1 || page.Content[0].Name != "dev-c" {
			t.Fatalf("search %+v", page)
		}
		if page = list("workspaceId=" + ws + "&dataFlowId=" + flow2.Id); page.TotalElements != 1 || page.Content[0].Id != ids[6] {
			t.Fatalf("data flow filter %+v", page)
		}
		if page = list("organizationId=" + org + "&sort=name"); page.TotalElements != 8 || page.Content[7].Name != "other-a" {
			t.Fatalf("organization %+v", page)
		}

		// Online state: none yet, then one online, one offline.
		h.lastSample(t, ids[0], time.Now().Add(-time.Minute))
		h.lastSample(t, ids[1], time.Now().Add(-2*time.Hour))
		states := map[string]gen.DeviceOnlineState{}
		for _, d := range list("workspaceId=" + ws).Content {
			states[d.Id] = d.OnlineState
			if (d.OnlineState == gen.DeviceOnlineStateONLINE) != d.Online || (d.LastSampleAt == nil) != (d.OnlineState == gen.DeviceOnlineStateUNKNOWN) {
				t.Errorf("device %s: online %v, state %s, last sample %v", d.Name, d.Online, d.OnlineState, d.LastSampleAt)
			}
		}
		if states[ids[0]] != gen.DeviceOnlineStateONLINE || states[ids[1]] != gen.DeviceOnlineStateOFFLINE || states[ids[2]] != gen.DeviceOnlineStateUNKNOWN {
			t.Fatalf("states %v", states)
		}
		if page = list("workspaceId=" + ws + "&online=true"); page.TotalElements != 1 || page.Content[0].Id != ids[0] {
			t.Fatalf("online %+v", page)
		}
		if page = list("workspaceId=" + ws + "&online=false"); page.TotalElements != 6 {
			t.Fatalf("offline %+v", page)
		}

		// POST /v3/assets/list.
		filter := func(body map[string]any, query string, apiKey string) *response {
			return h.do(t, req{method: "POST", path: "/v3/assets/list" + query, body: body, apiKey: apiKey})
		}
		filter(map[string]any{"organizationId": org}, "?size=2", "").want(200).decode(&page)
		if page.TotalElements != 8 || page.NumberOfElements != 2 || page.TotalPages != 4 {
			t.Fatalf("by organization %+v", page)
		}
		filter(map[string]any{"workspaceIds": []string{other, empty, other}, "search": "OTHER"}, "", "").want(200).decode(&page)
		if page.TotalElements != 1 || page.Content[0].Name != "other-a" {
			t.Fatalf("by workspaces %+v", page)
		}
		wantMember(t, filter(map[string]any{}, "", ""), "/workspaceIds")
		filter(map[string]any{"organizationId": org, "workspaceIds": []string{ws}}, "", "").want(400)
		filter(map[string]any{"workspaceIds": []string{}}, "", "").want(400)
		filter(map[string]any{"organizationId": org}, "?size=101", "").want(400)
		filter(map[string]any{"workspaceIds": []string{other, "29ffffffffffffff"}}, "", "").want(200).decode(&page)
		if page.TotalElements != 1 {
			t.Fatalf("with an unknown workspace %+v", page)
		}

		// A workspace-scoped key lists its workspace, and is denied at organization level.
		key := *h.create(t, map[string]any{"name": "ws", "organizationId": org, "isActive": true, "permissions": []any{
			map[string]any{"scope": "ASSET", "verbs": []string{"READ"}, "workspaceIds": []string{other}}}}).ClientSecret
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + other, apiKey: key}).want(200).decode(&page)
		if page.TotalElements != 1 {
			t.Fatalf("key's workspace %+v", page)
		}
		for _, r := range []*response{
			h.do(t, req{method: "GET", path: "/v3/assets?organizationId=" + org, apiKey: key}),
			h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + ws, apiKey: key}),
			filter(map[string]any{"organizationId": org}, "", key),
			filter(map[string]any{"workspaceIds": []string{other, ws}}, "", key),
		} {
			if p := r.want(403).problem(); p.Message == nil || *p.Message != "Permission denied" {
				t.Fatalf("403 message %+v", p)
			}
		}
		filter(map[string]any{"workspaceIds": []string{other}}, "", key).want(200)
		filter(map[string]any{"workspaceIds": []string{other, "29ffffffffffffff"}}, "", key).want(403)
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=29ffffffffffffff", apiKey: key}).want(403)
		// An organization-wide key lists the organization.
		orgKey := *h.create(t, map[string]any{"name": "org", "organizationId": org, "isActive": true, "permissions": []any{
			map[string]any{"scope": "ASSET", "verbs": []string{"READ"}}}}).ClientSecret
		h.do(t, req{method: "GET", path: "/v3/assets?organizationId=" + org, apiKey: orgKey}).want(200).decode(&page)
		if page.TotalElements != 8 {
			t.Fatalf("org key %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + elsewhere, apiKey: orgKey}).want(403)
	})
}

// wantAudit checks that the audit log holds a successful action:type for each want.
func wantAudit(t *testing.T, h *harness, want ...string) {
	t.Helper()
	events, _, err := h.st.Audit.List(t.Context(), mustQuery(t, "$sort=at&$take=1000"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Outcome == "success" {
			seen[e.Action+":"+e.ResourceType] = true
		}
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("audit log lacks %s", w)
		}
	}
}
