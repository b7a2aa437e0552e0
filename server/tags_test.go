package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/gen"
)

// TestTags: a tag's life (create, read, update, list, rights, delete);
// names are unique per workspace.
func TestTags(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		var g gen.Tag
		var path string

		step(t, "create", func(t *testing.T) {
			h.do(t, req{method: "POST", path: "/v3/tags", body: map[string]any{"name": "Ground floor", "workspaceId": ws, "description": "GF"}}).want(201).decode(&g)
			path = "/v3/tags/" + g.Id
			wantFields(t, "created", holds("id", strings.HasPrefix(g.Id, "71") && len(g.Id) == 16, g.Id, "16 characters starting with 71"),
				eq("name", g.Name, "Ground floor"), eq("workspaceId", g.WorkspaceId, ws), ptrEq("description", g.Description, "GF"), eq("version", g.Version, 1))
			h.tag(t, ws, "Roof")
			h.tag(t, other, "Ground floor") // names are unique per workspace only
		})

		h.wantRefused(t, "POST", "/v3/tags",
			refusal{"duplicate name", map[string]any{"name": "Ground floor", "workspaceId": ws}, 409, ""},
			refusal{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff"}, 404, ""},
			refusal{"no name", map[string]any{"workspaceId": ws}, 400, ""},
			refusal{"empty name", map[string]any{"name": "", "workspaceId": ws}, 400, ""},
			refusal{"unknown member", map[string]any{"name": "x", "workspaceId": ws, "colour": "red"}, 400, ""},
		)
		t.Run("a conflict names the tag", func(t *testing.T) {
			p := h.do(t, req{method: "POST", path: "/v3/tags", body: map[string]any{"name": "Roof", "workspaceId": ws}}).want(409).problem()
			wantFields(t, "conflict problem", holds("detail", p.Detail != nil && strings.Contains(*p.Detail, "Roof"), p.Detail, `"Roof" in it`))
		})

		step(t, "read", func(t *testing.T) {
			var got gen.Tag
			h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
			wantFields(t, "read", eq("id", got.Id, g.Id), eq("name", got.Name, "Ground floor"))
			h.do(t, req{method: "GET", path: "/v3/tags/71ffffffffffffff"}).want(404)
			h.do(t, req{method: "GET", path: "/v3/tags/02ffffffffffffff"}).want(400)
		})

		step(t, "update: the version is optional, a stale one is a 409; the workspace stays; names stay unique", func(t *testing.T) {
			var got gen.Tag
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "GF", "workspaceId": ws, "version": 1}}).want(200).decode(&got)
			wantFields(t, "updated", eq("version", got.Version, 2), eq("name", got.Name, "GF"), eq("description", got.Description, nil))
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "version": 1}}).want(409)
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Ground floor", "workspaceId": ws, "description": "again"}}).want(200).decode(&got)
			wantFields(t, "unversioned update", eq("version", got.Version, 3), ptrEq("description", got.Description, "again"))
			h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Roof", "workspaceId": ws}}).want(409)
			wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": other}}), "/workspaceId")
			h.do(t, req{method: "PUT", path: "/v3/tags/71ffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws}}).want(404)
		})

		step(t, "list", func(t *testing.T) {
			list := func(query string) gen.TagPage {
				t.Helper()
				var page gen.TagPage
				h.do(t, req{method: "GET", path: "/v3/tags?" + query}).want(200).decode(&page)
				return page
			}
			page := list("workspaceId=" + ws + "&sort=name,desc")
			wantFields(t, "by name, descending", eq("totalElements", page.TotalElements, 2), eq("content[0].name", nth(page.Content, 0).Name, "Roof"),
				eq("content[1].name", nth(page.Content, 1).Name, "Ground floor"), eq("sort.sorted", page.Sort.Sorted, true))
			page = list("workspaceId=" + ws + "&search=" + url.QueryEscape("GROUND"))
			wantFields(t, "search", eq("totalElements", page.TotalElements, 1), eq("content[0].id", nth(page.Content, 0).Id, g.Id))
			page = list("workspaceId=" + ws + "&size=1&page=1&sort=name")
			wantFields(t, "the second page", eq("totalElements", page.TotalElements, 2), eq("numberOfElements", page.NumberOfElements, 1),
				eq("content[0].name", nth(page.Content, 0).Name, "Roof"), eq("last", page.Last, true))
			page = list("workspaceId=29ffffffffffffff")
			wantFields(t, "an unknown workspace", eq("totalElements", page.TotalElements, 0), eq("empty", page.Empty, true))
			for _, bad := range []string{"", "workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&sort=colour"} {
				h.do(t, req{method: "GET", path: "/v3/tags?" + bad}).want(400)
			}
		})

		// A viewer reads but does not change; a workspace-scoped key acts in its workspace only.
		vtok := h.signIn(t, org, "viewer", "VIEWER", nil)
		key := h.apiKey(t, org, "ASSET", []string{"READ", "CREATE", "DELETE"}, other)
		h.wantAccess(t,
			access{"viewer lists", req{method: "GET", path: "/v3/tags?workspaceId=" + ws, bearer: vtok}, 200},
			access{"viewer lists an unknown workspace", req{method: "GET", path: "/v3/tags?workspaceId=29ffffffffffffff", bearer: vtok}, 403},
			access{"viewer reads", req{method: "GET", path: path, bearer: vtok}, 200},
			access{"viewer creates", req{method: "POST", path: "/v3/tags", bearer: vtok, body: map[string]any{"name": "v", "workspaceId": ws}}, 403},
			access{"viewer updates", req{method: "PUT", path: path, bearer: vtok, body: map[string]any{"name": "v", "workspaceId": ws}}, 403},
			access{"viewer deletes", req{method: "DELETE", path: path, bearer: vtok}, 403},
			access{"key reads elsewhere", req{method: "GET", path: path, apiKey: key}, 403},
			access{"key lists elsewhere", req{method: "GET", path: "/v3/tags?workspaceId=" + ws, apiKey: key}, 403},
			access{"key creates elsewhere", req{method: "POST", path: "/v3/tags", apiKey: key, body: map[string]any{"name": "k", "workspaceId": ws}}, 403},
		)
		step(t, "a key creates and deletes in its workspace, and cannot update", func(t *testing.T) {
			var made gen.Tag
			h.do(t, req{method: "POST", path: "/v3/tags", apiKey: key, body: map[string]any{"name": "k", "workspaceId": other}}).want(201).decode(&made)
			h.do(t, req{method: "PUT", path: "/v3/tags/" + made.Id, apiKey: key, body: map[string]any{"name": "k2", "workspaceId": other}}).want(403) // no UPDATE
			h.do(t, req{method: "DELETE", path: "/v3/tags/" + made.Id, apiKey: key}).want(204)
		})

		step(t, "delete", func(t *testing.T) { h.wantDeleted(t, path) })
		wantAudit(t, h, "create:tag", "update:tag", "delete:tag")
	})
}

// TestDeviceTags: a device carries tags of its workspace; PUT replaces
// them, all or nothing; deleting a tag removes it from its devices.
func TestDeviceTags(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		_, ws, other := h.twoWorkspaces(t)
		flow := h.dataFlow(t, ws, h.deviceType(t, ws, "t"), "f")
		gf, roof, cellar := h.tag(t, ws, "Ground floor"), h.tag(t, ws, "Roof"), h.tag(t, ws, "Cellar")
		foreign := h.tag(t, other, "Elsewhere")
		h.do(t, req{method: "PUT", path: "/v3/tags/" + gf.Id, body: map[string]any{"name": "Ground floor", "workspaceId": ws, "description": "GF"}}).want(200)
		var d gen.Device
		var path string
		wantTags := func(t *testing.T, what string, got *[]gen.TagRef, want ...string) {
			t.Helper()
			if !sameIDs(tagIDs(got), want...) {
				t.Fatalf("%s: tags %v, want %v", what, tagIDs(got), want)
			}
		}
		read := func(t *testing.T) gen.Device {
			t.Helper()
			var got gen.Device
			h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
			return got
		}

		step(t, "create with tags: duplicates collapse; references carry name and description", func(t *testing.T) {
			h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "d", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "d",
				"tags": tagRefs(gf.Id, roof.Id, gf.Id)}}).want(201).decode(&d)
			path = "/v3/devices/" + d.Id
			wantTags(t, "created", d.Tags, gf.Id, roof.Id)
			for _, r := range *d.Tags {
				if r.Id == gf.Id {
					wantFields(t, "the reference to "+gf.Name, eq("name", r.Name, "Ground floor"), ptrEq("description", r.Description, "GF"))
				}
			}
		})
		step(t, "without tags: an empty list", func(t *testing.T) {
			plain := h.device(t, ws, flow.Id, "plain", "plain")
			wantFields(t, "untagged device", deepEq("tags", plain.Tags, &[]gen.TagRef{}))
		})

		// Tags must be of the device's workspace.
		for _, c := range []struct {
			name   string
			tags   []any
			member string
		}{
			{"tag of another workspace", tagRefs(roof.Id, foreign.Id), "/tags/1/id"},
			{"unknown tag", tagRefs("71ffffffffffffff"), "/tags/0/id"},
		} {
			t.Run("refused: "+c.name, func(t *testing.T) {
				wantMembers(t, h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "x", "workspaceId": ws,
					"dataFlowId": flow.Id, "deviceId": "x", "tags": c.tags}}), c.member)
				wantMembers(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws,
					"dataFlowId": flow.Id, "deviceId": "d", "tags": c.tags}}), c.member)
			})
		}
		t.Run("refused: a tag id of another kind", func(t *testing.T) {
			h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x",
				"tags": tagRefs("not-a-tag")}}).want(400)
		})
		step(t, "the refused requests changed nothing", func(t *testing.T) {
			got := read(t)
			wantTags(t, "after refused updates", got.Tags, gf.Id, roof.Id)
			wantFields(t, "after refused updates", eq("version", got.Version, 1))
		})

		body := map[string]any{"name": "d", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "d"}
		step(t, "PUT replaces the set; a stale PUT changes nothing; absent tags mean none", func(t *testing.T) {
			var got gen.Device
			body["tags"] = tagRefs(cellar.Id)
			h.do(t, req{method: "PUT", path: path, body: body}).want(200).decode(&got)
			wantTags(t, "replaced", got.Tags, cellar.Id)
			body["tags"] = tagRefs(cellar.Id, gf.Id)
			h.do(t, req{method: "PUT", path: path, body: body}).want(200)
			body["tags"], body["version"] = []any{}, 1
			h.do(t, req{method: "PUT", path: path, body: body}).want(409)
			wantTags(t, "after a stale update", read(t).Tags, cellar.Id, gf.Id)
			delete(body, "tags")
			delete(body, "version")
			got = gen.Device{}
			h.do(t, req{method: "PUT", path: path, body: body}).want(200).decode(&got)
			wantFields(t, "after a PUT without tags", deepEq("tags", got.Tags, &[]gen.TagRef{}))
		})

		step(t, "deleting a tag removes it from its devices", func(t *testing.T) {
			body["tags"] = tagRefs(gf.Id, roof.Id)
			h.do(t, req{method: "PUT", path: path, body: body}).want(200)
			h.do(t, req{method: "DELETE", path: "/v3/tags/" + roof.Id}).want(204)
			wantTags(t, "after deleting a tag", read(t).Tags, gf.Id)
		})

		step(t, "pages carry each device's tags", func(t *testing.T) {
			var page gen.DevicePage
			h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + ws}).want(200).decode(&page)
			for _, dev := range page.Content {
				want := []string{}
				if dev.Id == d.Id {
					want = []string{gf.Id}
				}
				wantTags(t, "device "+dev.Name+" in a page", dev.Tags, want...)
			}
		})

		step(t, "deleting a device keeps its tags", func(t *testing.T) {
			h.do(t, req{method: "DELETE", path: path}).want(204)
			h.do(t, req{method: "GET", path: "/v3/tags/" + gf.Id}).want(200)
		})
	})
}

func TestAssetsByTag(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org, ws, other := h.twoWorkspaces(t)
		flow := h.dataFlow(t, ws, h.deviceType(t, ws, "t"), "f")
		oflow := h.dataFlow(t, other, h.deviceType(t, other, "t"), "f")
		a, b := h.tag(t, ws, "a"), h.tag(t, ws, "b")
		foreign := h.tag(t, other, "a")
		mk := func(w, f, name string, tags ...string) string {
			var d gen.Device
			h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": name, "workspaceId": w, "dataFlowId": f, "deviceId": name,
				"tags": tagRefs(tags...)}}).want(201).decode(&d)
			return d.Id
		}
		onlyA := mk(ws, flow.Id, "only-a", a.Id)
		both := mk(ws, flow.Id, "both", a.Id, b.Id)
		onlyB := mk(ws, flow.Id, "only-b", b.Id)
		mk(ws, flow.Id, "none")
		elsewhere := mk(other, oflow.Id, "elsewhere", foreign.Id)

		ids := func(query string) []string {
			t.Helper()
			var page gen.DevicePage
			h.do(t, req{method: "GET", path: "/v3/assets?" + query}).want(200).decode(&page)
			out := []string{}
			for _, d := range page.Content {
				out = append(out, d.Id)
			}
			if int64(len(out)) != page.TotalElements {
				t.Fatalf("%s: %d of %d", query, len(out), page.TotalElements)
			}
			return out
		}
		for _, c := range []struct {
			name, query string
			want        []string
		}{
			{"one tag", "workspaceId=" + ws + "&tags.ids=" + a.Id, []string{onlyA, both}},
			{"two tags", "workspaceId=" + ws + "&tags.ids=" + a.Id + "&tags.ids=" + b.Id, []string{onlyA, both, onlyB}},
			{"with a search", "workspaceId=" + ws + "&tags.ids=" + b.Id + "&search=only", []string{onlyB}},
			{"unknown tag", "workspaceId=" + ws + "&tags.ids=71ffffffffffffff", nil},
			{"tag of another workspace", "workspaceId=" + ws + "&tags.ids=" + foreign.Id, nil},
			{"organization", "organizationId=" + org + "&tags.ids=" + foreign.Id + "&tags.ids=" + b.Id, []string{both, onlyB, elsewhere}},
		} {
			t.Run(c.name, func(t *testing.T) {
				if got := ids(c.query); !sameIDs(got, c.want...) {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			})
		}
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + ws + "&tags.ids=nope"}).want(400)
	})
}
