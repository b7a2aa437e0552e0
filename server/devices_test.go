package server_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// TestDataFlows: a data flow's life (create, read, update, list, rights,
// delete) and the connectors it defaults to.
func TestDataFlows(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		dt := h.deviceType(t, ws, "Climate sensor")
		foreign := h.deviceType(t, other, "Elsewhere")
		var f gen.DataFlow
		var path string

		step(t, "create: the database connector by default, topic * for a reference without one", func(t *testing.T) {
			f = h.dataFlow(t, ws, dt, "to db")
			path = "/v3/data-flows/" + f.Id
			wantFields(t, "created with defaults", holds("id", strings.HasPrefix(f.Id, "08"), f.Id, "prefix 08"), eq("workspaceId", f.WorkspaceId, ws),
				eq("deviceType.id", f.DeviceType.Id, dt), eq("deviceType.name", f.DeviceType.Name, "Climate sensor"),
				eq("len(outputConnectors)", len(f.OutputConnectors), 1), eq("outputConnectors[0].id", nth(f.OutputConnectors, 0).Id, "0900000000000000"),
				ptrEq("outputConnectors[0].topic", nth(f.OutputConnectors, 0).Topic, "*"), eq("version", f.Version, 1))
			var g gen.DataFlow
			h.do(t, req{method: "POST", path: "/v3/data-flows", body: map[string]any{"name": "hooks", "workspaceId": ws, "deviceTypeId": dt,
				"description": "two", "outputConnectors": []any{map[string]any{"id": "09a1b2c3d4e5f601"}, map[string]any{"id": "09a1b2c3d4e5f602", "topic": "alarm"}}}}).
				want(201).decode(&g)
			wantFields(t, "created with connectors", eq("len(outputConnectors)", len(g.OutputConnectors), 2),
				ptrEq("outputConnectors[0].topic", nth(g.OutputConnectors, 0).Topic, "*"), ptrEq("outputConnectors[1].topic", nth(g.OutputConnectors, 1).Topic, "alarm"),
				ptrEq("description", g.Description, "two"))
			g = gen.DataFlow{}
			h.do(t, req{method: "POST", path: "/v3/data-flows", body: map[string]any{"name": "none", "workspaceId": ws, "deviceTypeId": dt,
				"outputConnectors": []any{}}}).want(201).decode(&g)
			wantFields(t, "created with no connectors", eq("len(outputConnectors)", len(g.OutputConnectors), 0))
		})

		h.wantRefused(t, "POST", "/v3/data-flows",
			refusal{"device type of another workspace", map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": foreign}, 400, "/deviceTypeId"},
			refusal{"unknown device type", map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": "0dffffffffffffff"}, 400, "/deviceTypeId"},
			refusal{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff", "deviceTypeId": dt}, 404, ""},
			refusal{"no name", map[string]any{"workspaceId": ws, "deviceTypeId": dt}, 400, ""},
			refusal{"bad connector id", map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt, "outputConnectors": []any{map[string]any{"id": "02a1b2c3d4e5f601"}}}, 400, ""},
		)

		step(t, "read", func(t *testing.T) {
			var g gen.DataFlow
			h.do(t, req{method: "GET", path: path}).want(200).decode(&g)
			wantFields(t, "read", eq("id", g.Id, f.Id), eq("deviceType.name", g.DeviceType.Name, "Climate sensor"))
			h.do(t, req{method: "GET", path: "/v3/data-flows/08ffffffffffffff"}).want(404)
		})

		step(t, "update: the version is optional, a stale one is a 409; the workspace stays", func(t *testing.T) {
			dt2 := h.deviceType(t, ws, "Door sensor")
			var g gen.DataFlow
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "renamed", "workspaceId": ws, "deviceTypeId": dt2, "version": 1}}).want(200).decode(&g)
			wantFields(t, "updated", eq("version", g.Version, 2), eq("name", g.Name, "renamed"), eq("deviceType.id", g.DeviceType.Id, dt2),
				eq("deviceType.name", g.DeviceType.Name, "Door sensor"), eq("len(outputConnectors)", len(g.OutputConnectors), 1))
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt, "version": 1}}).want(409)
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "again", "workspaceId": ws, "deviceTypeId": dt}}).want(200).decode(&g)
			wantFields(t, "unversioned update", eq("version", g.Version, 3), eq("deviceType.id", g.DeviceType.Id, dt))
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": other, "deviceTypeId": foreign}}), "/workspaceId")
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": foreign}}), "/deviceTypeId")
			h.do(t, req{method: "PUT", path: "/v3/data-flows/08ffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt}}).want(404)
		})

		step(t, "list", func(t *testing.T) {
			list := func(query string) gen.DataFlowPage {
				t.Helper()
				var page gen.DataFlowPage
				h.do(t, req{method: "GET", path: "/v3/data-flows?" + query}).want(200).decode(&page)
				return page
			}
			page := list("workspaceId=" + ws + "&sort=name,desc")
			wantFields(t, "by name, descending", eq("totalElements", page.TotalElements, 3), eq("content[0].name", nth(page.Content, 0).Name, "none"),
				eq("content[2].name", nth(page.Content, 2).Name, "again"), eq("sort.sorted", page.Sort.Sorted, true))
			page = list("workspaceId=" + ws + "&search=HOO")
			wantFields(t, "search", eq("totalElements", page.TotalElements, 1), eq("content[0].name", nth(page.Content, 0).Name, "hooks"))
			page = list("workspaceId=" + other)
			wantFields(t, "an empty workspace", eq("empty", page.Empty, true), eq("totalElements", page.TotalElements, 0), eq("first", page.First, true),
				eq("last", page.Last, true))
			for _, bad := range []string{"", "workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&size=101", "workspaceId=" + ws + "&sort=colour"} {
				h.do(t, req{method: "GET", path: "/v3/data-flows?" + bad}).want(400)
			}
			// An unknown workspace lists nothing for root (a 403 for others).
			wantFields(t, "an unknown workspace", eq("totalElements", list("workspaceId=29ffffffffffffff").TotalElements, 0))
		})

		// A viewer reads but does not create; a workspace editor creates in its workspace only.
		vtok := h.signIn(t, org, "viewer", "VIEWER", nil)
		etok := h.signIn(t, org, "editor", "MEMBER", map[string]string{other: "EDITOR"})
		h.wantAccess(t,
			access{"viewer lists", req{method: "GET", path: "/v3/data-flows?workspaceId=" + ws, bearer: vtok}, 200},
			access{"viewer lists an unknown workspace", req{method: "GET", path: "/v3/data-flows?workspaceId=29ffffffffffffff", bearer: vtok}, 403},
			access{"viewer reads", req{method: "GET", path: path, bearer: vtok}, 200},
			access{"viewer creates", req{method: "POST", path: "/v3/data-flows", bearer: vtok, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt}}, 403},
			access{"viewer deletes", req{method: "DELETE", path: path, bearer: vtok}, 403},
			access{"editor creates in its workspace", req{method: "POST", path: "/v3/data-flows", bearer: etok, body: map[string]any{"name": "x", "workspaceId": other, "deviceTypeId": foreign}}, 201},
			access{"editor creates elsewhere", req{method: "POST", path: "/v3/data-flows", bearer: etok, body: map[string]any{"name": "x", "workspaceId": ws, "deviceTypeId": dt}}, 403},
			access{"editor lists elsewhere", req{method: "GET", path: "/v3/data-flows?workspaceId=" + ws, bearer: etok}, 403},
		)

		step(t, "a data flow in use stays", func(t *testing.T) {
			d := h.device(t, ws, f.Id, "phys-1", "d")
			p := h.do(t, req{method: "DELETE", path: path}).want(409).problem()
			wantFields(t, "in-use problem", holds("detail", p.Detail != nil && strings.Contains(*p.Detail, "used by devices"), p.Detail, `"used by devices" in it`))
			h.do(t, req{method: "DELETE", path: "/v3/devices/" + d.Id}).want(204)
			h.wantDeleted(t, path)
		})

		wantAudit(t, h, "create:dataFlow", "update:dataFlow", "delete:dataFlow", "create:device", "delete:device")
	})
}

// TestDevices: a device's life (create, read, update, rights, delete), its
// defaults, and physical ids unique per workspace.
func TestDevices(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		flow := h.dataFlow(t, ws, h.deviceType(t, ws, "Climate sensor"), "to db")
		foreign := h.dataFlow(t, other, h.deviceType(t, other, "Elsewhere"), "elsewhere")
		var d gen.Device
		var path string

		step(t, "create: defaults", func(t *testing.T) {
			d = h.device(t, ws, flow.Id, "70B3D57ED0001234", "sensor")
			path = "/v3/devices/" + d.Id
			wantFields(t, "created", holds("id", strings.HasPrefix(d.Id, "02"), d.Id, "prefix 02"), eq("type", d.Type, gen.AssetTypeDEVICE),
				eq("organizationId", d.OrganizationId, org), eq("workspaceId", d.WorkspaceId, ws), eq("deviceId", d.DeviceId, "70B3D57ED0001234"),
				eq("connectivity", d.Connectivity, "HTTP"), ptrEq("onlineTimeout", d.OnlineTimeout, 3600), eq("online", d.Online, false),
				eq("onlineState", d.OnlineState, gen.DeviceOnlineStateUNKNOWN), eq("lastSampleAt", d.LastSampleAt, nil),
				holds("properties", d.Properties != nil, d.Properties, "an empty object, not null"), eq("len(properties)", len(d.Properties), 0),
				eq("version", d.Version, 1),
				holds("dataFlow", d.DataFlow != nil, d.DataFlow, "its summary"), eq("dataFlow.id", deref(d.DataFlow).Id, flow.Id),
				eq("dataFlow.name", deref(d.DataFlow).Name, "to db"), eq("dataFlow.deviceType.name", deref(d.DataFlow).DeviceType.Name, "Climate sensor"))
			var e gen.Device
			h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "lora", "workspaceId": ws, "dataFlowId": flow.Id,
				"deviceId": "lora-1", "connectivity": "LORA", "onlineTimeout": 60, "properties": map[string]any{"floor": 2}, "description": "d"}}).
				want(201).decode(&e)
			wantFields(t, "created explicitly", eq("connectivity", e.Connectivity, "LORA"), ptrEq("onlineTimeout", e.OnlineTimeout, 60),
				eq("properties.floor", e.Properties["floor"], any(float64(2))), ptrEq("description", e.Description, "d"))
		})

		step(t, "physical ids are unique per workspace", func(t *testing.T) {
			p := h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "dup", "workspaceId": ws, "dataFlowId": flow.Id,
				"deviceId": "70B3D57ED0001234"}}).want(409).problem()
			wantFields(t, "duplicate problem", holds("detail", p.Detail != nil && strings.Contains(*p.Detail, "70B3D57ED0001234"), p.Detail, "the physical id in it"))
			h.device(t, other, foreign.Id, "70B3D57ED0001234", "twin")
		})

		h.wantRefused(t, "POST", "/v3/devices",
			refusal{"data flow of another workspace", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": foreign.Id, "deviceId": "x"}, 400, "/dataFlowId"},
			refusal{"unknown data flow", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": "08ffffffffffffff", "deviceId": "x"}, 400, "/dataFlowId"},
			refusal{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff", "dataFlowId": flow.Id, "deviceId": "x"}, 404, ""},
			refusal{"no physical id", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id}, 400, ""},
			refusal{"timeout too short", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x", "onlineTimeout": 59}, 400, ""},
			refusal{"bad connectivity", map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x", "connectivity": "SMOKE"}, 400, ""},
		)

		step(t, "read", func(t *testing.T) {
			var got gen.Device
			h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
			wantFields(t, "read", eq("id", got.Id, d.Id), eq("dataFlow.deviceType.name", deref(got.DataFlow).DeviceType.Name, "Climate sensor"))
			h.do(t, req{method: "GET", path: "/v3/devices/02ffffffffffffff"}).want(404)
			h.do(t, req{method: "GET", path: "/v3/devices/not-an-id"}).want(400)
		})

		// Update replaces; the version is optional, a stale one is a 409.
		body := map[string]any{"name": "renamed", "workspaceId": ws, "dataFlowId": "", "deviceId": "70B3D57ED0001234", "connectivity": "MQTT", "version": 1}
		step(t, "update", func(t *testing.T) {
			flow2 := h.dataFlow(t, ws, h.deviceType(t, ws, "Door sensor"), "doors")
			body["dataFlowId"] = flow2.Id
			var got gen.Device
			h.do(t, req{method: "PUT", path: path, body: body}).want(200).decode(&got)
			wantFields(t, "updated", eq("version", got.Version, 2), eq("name", got.Name, "renamed"), eq("connectivity", got.Connectivity, "MQTT"),
				eq("dataFlow.name", deref(got.DataFlow).Name, "doors"), eq("dataFlow.deviceType.name", deref(got.DataFlow).DeviceType.Name, "Door sensor"))
			h.do(t, req{method: "PUT", path: path, body: body}).want(409)
			delete(body, "version")
			body["connectivity"] = "COAP"
			got = gen.Device{}
			h.do(t, req{method: "PUT", path: path, body: body}).want(200).decode(&got)
			wantFields(t, "unversioned update", eq("version", got.Version, 3), eq("connectivity", got.Connectivity, "COAP"), ptrEq("onlineTimeout", got.OnlineTimeout, 3600))
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": other, "dataFlowId": foreign.Id, "deviceId": "x"}}), "/workspaceId")
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": foreign.Id, "deviceId": "x"}}), "/dataFlowId")
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "lora-1"}}).want(409)
			h.do(t, req{method: "PUT", path: "/v3/devices/02ffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x"}}).want(404)
		})

		// A viewer reads only; a workspace-scoped key acts in its workspace only.
		vtok := h.signIn(t, org, "viewer", "VIEWER", nil)
		key := h.apiKey(t, org, "ASSET", []string{"READ", "CREATE", "DELETE"}, other)
		h.wantAccess(t,
			access{"viewer reads", req{method: "GET", path: path, bearer: vtok}, 200},
			access{"viewer creates", req{method: "POST", path: "/v3/devices", bearer: vtok, body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "v"}}, 403},
			access{"viewer updates", req{method: "PUT", path: path, bearer: vtok, body: body}, 403},
			access{"viewer deletes", req{method: "DELETE", path: path, bearer: vtok}, 403},
			access{"key reads elsewhere", req{method: "GET", path: path, apiKey: key}, 403},
			access{"key creates elsewhere", req{method: "POST", path: "/v3/devices", apiKey: key, body: map[string]any{"name": "k", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "k"}}, 403},
		)
		step(t, "a key creates and deletes in its workspace", func(t *testing.T) {
			var made gen.Device
			h.do(t, req{method: "POST", path: "/v3/devices", apiKey: key, body: map[string]any{"name": "k", "workspaceId": other, "dataFlowId": foreign.Id, "deviceId": "k"}}).
				want(201).decode(&made)
			h.do(t, req{method: "DELETE", path: "/v3/devices/" + made.Id, apiKey: key}).want(204)
		})

		step(t, "delete", func(t *testing.T) { h.wantDeleted(t, path) })
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
		key := h.apiKey(t, org, "ASSET", []string{"READ"}, two)

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
		wantMembers(t, h.do(t, req{method: "GET", path: lookup("shared", "")}), "workspaceId")
	})
}

// TestAssetPages: GET /v3/assets pages, sorts, searches and filters a
// workspace's or an organization's devices.
func TestAssetPages(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAssetsEnv(t, h)
		ws := a.ws
		h.wantPages(t,
			pageCase{"the last page", assets("workspaceId=" + ws + "&size=3&page=2&sort=name,desc"), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 7), eq("totalPages", p.TotalPages, 3), eq("number", p.Number, 2), eq("last", p.Last, true),
					eq("first", p.First, false), eq("numberOfElements", p.NumberOfElements, 1), eq("content[0].name", nth(p.Content, 0).Name, "dev-a"),
					eq("sort.sorted", p.Sort.Sorted, true), eq("pageable.offset", p.Pageable.Offset, 6),
					holds("content[0].dataFlow", nth(p.Content, 0).DataFlow != nil, nth(p.Content, 0).DataFlow, "its summary")}
			}},
			pageCase{"the first page", assets("workspaceId=" + ws + "&size=3&sort=name,desc"), func(p gen.DevicePage) []field {
				return []field{eq("numberOfElements", p.NumberOfElements, 3), eq("content[0].name", nth(p.Content, 0).Name, "dev-g"), eq("first", p.First, true),
					eq("last", p.Last, false)}
			}},
			pageCase{"an empty workspace", assets("workspaceId=" + a.empty), func(p gen.DevicePage) []field {
				return []field{eq("empty", p.Empty, true), eq("len(content)", len(p.Content), 0), eq("totalElements", p.TotalElements, 0),
					eq("totalPages", p.TotalPages, 0), eq("first", p.First, true), eq("last", p.Last, true), eq("size", p.Size, 25)}
			}},
			pageCase{"a page past the end", assets("workspaceId=" + ws + "&page=9"), func(p gen.DevicePage) []field {
				return []field{eq("empty", p.Empty, true), eq("totalElements", p.TotalElements, 7)}
			}},
			pageCase{"an unknown workspace", assets("workspaceId=29ffffffffffffff"), total(0)},
			pageCase{"search and type", assets("workspaceId=" + ws + "&search=DEV-C&type=DEVICE"), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 1), eq("content[0].name", nth(p.Content, 0).Name, "dev-c")}
			}},
			pageCase{"by data flow", assets("workspaceId=" + ws + "&dataFlowId=" + a.flow2.Id), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 1), eq("content[0].id", nth(p.Content, 0).Id, a.ids[6])}
			}},
			pageCase{"an organization", assets("organizationId=" + a.org + "&sort=name"), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 8), eq("content[7].name", nth(p.Content, 7).Name, "other-a")}
			}},
		)
		for _, bad := range []string{"workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&size=101", "workspaceId=" + ws + "&sort=colour,asc",
			"workspaceId=" + ws + "&type=SIM_CARD", "", "workspaceId=" + ws + "&organizationId=" + a.org} {
			t.Run("refused: "+bad, func(t *testing.T) { h.do(t, assets(bad)).want(400) })
		}
	})
}

// TestAssetsOnline: a device without samples is UNKNOWN, one whose last
// sample is within its timeout ONLINE, else OFFLINE; lists filter by it.
func TestAssetsOnline(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAssetsEnv(t, h)
		h.lastSample(t, a.ids[0], time.Now().Add(-time.Minute))
		h.lastSample(t, a.ids[1], time.Now().Add(-2*time.Hour))
		var page gen.DevicePage
		h.do(t, assets("workspaceId="+a.ws)).want(200).decode(&page)
		states := map[string]gen.DeviceOnlineState{}
		var consistent []field // online and lastSampleAt agree with the state
		for _, d := range page.Content {
			states[d.Id] = d.OnlineState
			consistent = append(consistent, eq(d.Name+".online", d.Online, d.OnlineState == gen.DeviceOnlineStateONLINE),
				eq(d.Name+".lastSampleAt is null", d.LastSampleAt == nil, d.OnlineState == gen.DeviceOnlineStateUNKNOWN))
		}
		wantFields(t, "online states", append(consistent, eq("dev-a", states[a.ids[0]], gen.DeviceOnlineStateONLINE),
			eq("dev-b", states[a.ids[1]], gen.DeviceOnlineStateOFFLINE), eq("dev-c", states[a.ids[2]], gen.DeviceOnlineStateUNKNOWN))...)
		h.wantPages(t,
			pageCase{"online", assets("workspaceId=" + a.ws + "&online=true"), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 1), eq("content[0].id", nth(p.Content, 0).Id, a.ids[0])}
			}},
			pageCase{"offline", assets("workspaceId=" + a.ws + "&online=false"), total(6)},
		)
	})
}

// TestAssetList: POST /v3/assets/list takes an organization or a set of
// workspaces.
func TestAssetList(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAssetsEnv(t, h)
		h.wantPages(t,
			pageCase{"an organization", assetList("?size=2", map[string]any{"organizationId": a.org}), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 8), eq("numberOfElements", p.NumberOfElements, 2), eq("totalPages", p.TotalPages, 4)}
			}},
			pageCase{"workspaces", assetList("", map[string]any{"workspaceIds": []string{a.other, a.empty, a.other}, "search": "OTHER"}), func(p gen.DevicePage) []field {
				return []field{eq("totalElements", p.TotalElements, 1), eq("content[0].name", nth(p.Content, 0).Name, "other-a")}
			}},
			pageCase{"with an unknown workspace", assetList("", map[string]any{"workspaceIds": []string{a.other, "29ffffffffffffff"}}), total(1)},
		)
		t.Run("refused: neither", func(t *testing.T) {
			wantMembers(t, h.do(t, assetList("", map[string]any{})), "/workspaceIds", "/organizationId")
		})
		h.wantRefused(t, "POST", "/v3/assets/list",
			refusal{"an organization and workspaces", map[string]any{"organizationId": a.org, "workspaceIds": []string{a.ws}}, 400, ""},
			refusal{"no workspace in the list", map[string]any{"workspaceIds": []string{}}, 400, ""},
		)
		h.wantRefused(t, "POST", "/v3/assets/list?size=101", refusal{"size over 100", map[string]any{"organizationId": a.org}, 400, ""})
	})
}

// TestAssetRights: a workspace-scoped key lists its workspace, and is denied
// at organization level; an organization-wide key lists the organization.
func TestAssetRights(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		a := newAssetsEnv(t, h)
		key := h.apiKey(t, a.org, "ASSET", []string{"READ"}, a.other)
		orgKey := h.apiKey(t, a.org, "ASSET", []string{"READ"})
		as := func(key string, r req) req { r.apiKey = key; return r }
		h.wantPages(t,
			pageCase{"a workspace key: its workspace", as(key, assets("workspaceId="+a.other)), total(1)},
			pageCase{"an organization key: the organization", as(orgKey, assets("organizationId="+a.org)), total(8)},
		)
		for _, c := range []struct {
			name string
			r    req
		}{
			{"the organization", assets("organizationId=" + a.org)},
			{"another workspace", assets("workspaceId=" + a.ws)},
			{"POST list: the organization", assetList("", map[string]any{"organizationId": a.org})},
			{"POST list: its and another workspace", assetList("", map[string]any{"workspaceIds": []string{a.other, a.ws}})},
		} {
			t.Run("a workspace key denied: "+c.name, func(t *testing.T) {
				p := h.do(t, as(key, c.r)).want(403).problem()
				wantFields(t, "problem", ptrEq("message", p.Message, "Permission denied"))
			})
		}
		h.wantAccess(t,
			access{"a workspace key: POST list of its workspace", as(key, assetList("", map[string]any{"workspaceIds": []string{a.other}})), 200},
			access{"a workspace key: POST list with an unknown workspace", as(key, assetList("", map[string]any{"workspaceIds": []string{a.other, "29ffffffffffffff"}})), 403},
			access{"a workspace key: an unknown workspace", as(key, assets("workspaceId=29ffffffffffffff")), 403},
			access{"an organization key: another organization's workspace", as(orgKey, assets("workspaceId="+a.elsewhere)), 403},
		)
	})
}
