package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/gen"
)

// tag creates a tag (as root).
func (h *harness) tag(t testing.TB, ws, name string) gen.Tag {
	t.Helper()
	var g gen.Tag
	h.do(t, req{method: "POST", path: "/v3/tags", body: map[string]any{"name": name, "workspaceId": ws}}).want(201).decode(&g)
	return g
}

func tagIDs(refs *[]gen.TagRef) []string {
	if refs == nil {
		return nil
	}
	ids := []string{}
	for _, r := range *refs {
		ids = append(ids, r.Id)
	}
	return ids
}

func sameIDs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}

func TestTags(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")

		var g gen.Tag
		h.do(t, req{method: "POST", path: "/v3/tags", body: map[string]any{"name": "Ground floor", "workspaceId": ws, "description": "GF"}}).want(201).decode(&g)
		if !strings.HasPrefix(g.Id, "71") || len(g.Id) != 16 || g.Name != "Ground floor" || g.WorkspaceId != ws || *g.Description != "GF" || g.Version != 1 {
			t.Fatalf("tag %+v", g)
		}
		h.tag(t, ws, "Roof")
		h.tag(t, other, "Ground floor") // names are unique per workspace only

		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"duplicate name", map[string]any{"name": "Ground floor", "workspaceId": ws}, 409},
			{"unknown workspace", map[string]any{"name": "x", "workspaceId": "29ffffffffffffff"}, 404},
			{"no name", map[string]any{"workspaceId": ws}, 400},
			{"empty name", map[string]any{"name": "", "workspaceId": ws}, 400},
			{"unknown member", map[string]any{"name": "x", "workspaceId": ws, "colour": "red"}, 400},
		} {
			t.Run(c.name, func(t *testing.T) {
				h.do(t, req{method: "POST", path: "/v3/tags", body: c.body}).want(c.status)
			})
		}
		p := h.do(t, req{method: "POST", path: "/v3/tags", body: map[string]any{"name": "Roof", "workspaceId": ws}}).want(409).problem()
		if p.Detail == nil || !strings.Contains(*p.Detail, "Roof") {
			t.Fatalf("conflict problem %+v", p)
		}

		path := "/v3/tags/" + g.Id
		var got gen.Tag
		h.do(t, req{method: "GET", path: path}).want(200).decode(&got)
		if got.Id != g.Id || got.Name != "Ground floor" {
			t.Fatalf("get %+v", got)
		}
		h.do(t, req{method: "GET", path: "/v3/tags/71ffffffffffffff"}).want(404)
		h.do(t, req{method: "GET", path: "/v3/tags/02ffffffffffffff"}).want(400)

		// Update: the version is optional, a stale one is a 409; the workspace stays; names stay unique.
		got = gen.Tag{} // decoding keeps members the body omits
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "GF", "workspaceId": ws, "version": 1}}).want(200).decode(&got)
		if got.Version != 2 || got.Name != "GF" || got.Description != nil {
			t.Fatalf("updated %+v", got)
		}
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": ws, "version": 1}}).want(409)
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Ground floor", "workspaceId": ws, "description": "again"}}).want(200).decode(&got)
		if got.Version != 3 || *got.Description != "again" {
			t.Fatalf("unversioned update %+v", got)
		}
		h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "Roof", "workspaceId": ws}}).want(409)
		wantMember(t, h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "x", "workspaceId": other}}), "/workspaceId")
		h.do(t, req{method: "PUT", path: "/v3/tags/71ffffffffffffff", body: map[string]any{"name": "x", "workspaceId": ws}}).want(404)

		// Lists.
		var page gen.TagPage
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=" + ws + "&sort=name,desc"}).want(200).decode(&page)
		if page.TotalElements != 2 || page.Content[0].Name != "Roof" || page.Content[1].Name != "Ground floor" || !page.Sort.Sorted {
			t.Fatalf("page %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=" + ws + "&search=" + url.QueryEscape("GROUND")}).want(200).decode(&page)
		if page.TotalElements != 1 || page.Content[0].Id != g.Id {
			t.Fatalf("search %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=" + ws + "&size=1&page=1&sort=name"}).want(200).decode(&page)
		if page.TotalElements != 2 || page.NumberOfElements != 1 || page.Content[0].Name != "Roof" || !page.Last {
			t.Fatalf("second page %+v", page)
		}
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=29ffffffffffffff"}).want(200).decode(&page)
		if page.TotalElements != 0 || !page.Empty {
			t.Fatalf("unknown workspace %+v", page)
		}
		for _, bad := range []string{"", "workspaceId=" + ws + "&size=0", "workspaceId=" + ws + "&sort=colour"} {
			h.do(t, req{method: "GET", path: "/v3/tags?" + bad}).want(400)
		}

		// A viewer reads but does not change; a workspace-scoped key acts in its workspace only.
		viewer := h.user(t, "viewer")
		h.member(t, org, viewer.Id, "VIEWER")
		vtok := h.login(t, "viewer").TokenId
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=" + ws, bearer: vtok}).want(200)
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=29ffffffffffffff", bearer: vtok}).want(403)
		h.do(t, req{method: "GET", path: path, bearer: vtok}).want(200)
		h.do(t, req{method: "POST", path: "/v3/tags", bearer: vtok, body: map[string]any{"name": "v", "workspaceId": ws}}).want(403)
		h.do(t, req{method: "PUT", path: path, bearer: vtok, body: map[string]any{"name": "v", "workspaceId": ws}}).want(403)
		h.do(t, req{method: "DELETE", path: path, bearer: vtok}).want(403)
		key := *h.create(t, map[string]any{"name": "ws", "organizationId": org, "isActive": true, "permissions": []any{
			map[string]any{"scope": "ASSET", "verbs": []string{"READ", "CREATE", "DELETE"}, "workspaceIds": []string{other}}}}).ClientSecret
		h.do(t, req{method: "GET", path: path, apiKey: key}).want(403)
		h.do(t, req{method: "GET", path: "/v3/tags?workspaceId=" + ws, apiKey: key}).want(403)
		h.do(t, req{method: "POST", path: "/v3/tags", apiKey: key, body: map[string]any{"name": "k", "workspaceId": ws}}).want(403)
		var made gen.Tag
		h.do(t, req{method: "POST", path: "/v3/tags", apiKey: key, body: map[string]any{"name": "k", "workspaceId": other}}).want(201).decode(&made)
		h.do(t, req{method: "PUT", path: "/v3/tags/" + made.Id, apiKey: key, body: map[string]any{"name": "k2", "workspaceId": other}}).want(403) // no UPDATE
		h.do(t, req{method: "DELETE", path: "/v3/tags/" + made.Id, apiKey: key}).want(204)

		h.do(t, req{method: "DELETE", path: path}).want(204)
		h.do(t, req{method: "GET", path: path}).want(404)
		h.do(t, req{method: "DELETE", path: path}).want(404)

		wantAudit(t, h, "create:tag", "update:tag", "delete:tag")
	})
}

func TestDeviceTags(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")
		flow := h.dataFlow(t, ws, h.deviceType(t, ws, "t"), "f")
		gf, roof, cellar := h.tag(t, ws, "Ground floor"), h.tag(t, ws, "Roof"), h.tag(t, ws, "Cellar")
		foreign := h.tag(t, other, "Elsewhere")
		gf2 := gen.Tag{}
		h.do(t, req{method: "PUT", path: "/v3/tags/" + gf.Id, body: map[string]any{"name": "Ground floor", "workspaceId": ws, "description": "GF"}}).want(200).decode(&gf2)

		// Create with tags; duplicates collapse; refs carry name and description.
		var d gen.Device
		h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "d", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "d",
			"tags": []any{map[string]any{"id": gf.Id}, map[string]any{"id": roof.Id}, map[string]any{"id": gf.Id}}}}).want(201).decode(&d)
		if !sameIDs(tagIDs(d.Tags), gf.Id, roof.Id) {
			t.Fatalf("created tags %+v", d.Tags)
		}
		for _, r := range *d.Tags {
			if r.Id == gf.Id && (r.Name != "Ground floor" || r.Description == nil || *r.Description != "GF") {
				t.Fatalf("tag ref %+v", r)
			}
		}
		// Without tags: an empty list.
		plain := h.device(t, ws, flow.Id, "plain", "plain")
		if plain.Tags == nil || len(*plain.Tags) != 0 {
			t.Fatalf("untagged device's tags %+v", plain.Tags)
		}

		// Tags must be of the device's workspace.
		for _, c := range []struct {
			name   string
			tags   []any
			member string
		}{
			{"tag of another workspace", []any{map[string]any{"id": roof.Id}, map[string]any{"id": foreign.Id}}, "/tags/1/id"},
			{"unknown tag", []any{map[string]any{"id": "71ffffffffffffff"}}, "/tags/0/id"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantMember(t, h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "x", "workspaceId": ws,
					"dataFlowId": flow.Id, "deviceId": "x", "tags": c.tags}}), c.member)
				wantMember(t, h.do(t, req{method: "PUT", path: "/v3/devices/" + d.Id, body: map[string]any{"name": "x", "workspaceId": ws,
					"dataFlowId": flow.Id, "deviceId": "d", "tags": c.tags}}), c.member)
			})
		}
		h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": "x", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "x",
			"tags": []any{map[string]any{"id": "not-a-tag"}}}}).want(400)
		// The failed requests changed nothing.
		var got gen.Device
		h.do(t, req{method: "GET", path: "/v3/devices/" + d.Id}).want(200).decode(&got)
		if !sameIDs(tagIDs(got.Tags), gf.Id, roof.Id) || got.Version != 1 {
			t.Fatalf("after failed updates %+v %+v", got.Version, got.Tags)
		}

		// PUT replaces the set; absent tags mean none.
		body := map[string]any{"name": "d", "workspaceId": ws, "dataFlowId": flow.Id, "deviceId": "d", "tags": []any{map[string]any{"id": cellar.Id}}}
		h.do(t, req{method: "PUT", path: "/v3/devices/" + d.Id, body: body}).want(200).decode(&got)
		if !sameIDs(tagIDs(got.Tags), cellar.Id) {
			t.Fatalf("replaced tags %+v", got.Tags)
		}
		body["tags"] = []any{map[string]any{"id": cellar.Id}, map[string]any{"id": gf.Id}}
		h.do(t, req{method: "PUT", path: "/v3/devices/" + d.Id, body: body}).want(200)
		// A stale update changes neither the device nor its tags.
		body["tags"], body["version"] = []any{}, 1
		h.do(t, req{method: "PUT", path: "/v3/devices/" + d.Id, body: body}).want(409)
		h.do(t, req{method: "GET", path: "/v3/devices/" + d.Id}).want(200).decode(&got)
		if !sameIDs(tagIDs(got.Tags), cellar.Id, gf.Id) {
			t.Fatalf("after stale update %+v", got.Tags)
		}
		delete(body, "tags")
		delete(body, "version")
		h.do(t, req{method: "PUT", path: "/v3/devices/" + d.Id, body: body}).want(200).decode(&got)
		if got.Tags == nil || len(*got.Tags) != 0 {
			t.Fatalf("tags after PUT without tags %+v", got.Tags)
		}

		// Deleting a tag removes it from its devices.
		body["tags"] = []any{map[string]any{"id": gf.Id}, map[string]any{"id": roof.Id}}
		h.do(t, req{method: "PUT", path: "/v3/devices/" + d.Id, body: body}).want(200)
		h.do(t, req{method: "DELETE", path: "/v3/tags/" + roof.Id}).want(204)
		h.do(t, req{method: "GET", path: "/v3/devices/" + d.Id}).want(200).decode(&got)
		if !sameIDs(tagIDs(got.Tags), gf.Id) {
			t.Fatalf("after deleting a tag %+v", got.Tags)
		}

		// Pages carry the tags of each device.
		var page gen.DevicePage
		h.do(t, req{method: "GET", path: "/v3/assets?workspaceId=" + ws}).want(200).decode(&page)
		for _, dev := range page.Content {
			want := []string{}
			if dev.Id == d.Id {
				want = []string{gf.Id}
			}
			if !sameIDs(tagIDs(dev.Tags), want...) {
				t.Fatalf("device %s in a page: tags %+v", dev.Name, dev.Tags)
			}
		}
		// Deleting a device keeps its tags.
		h.do(t, req{method: "DELETE", path: "/v3/devices/" + d.Id}).want(204)
		h.do(t, req{method: "GET", path: "/v3/tags/" + gf.Id}).want(200)
	})
}

func TestAssetsByTag(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		ws := h.workspace(t, org, "main")
		other := h.workspace(t, org, "other")
		flow := h.dataFlow(t, ws, h.deviceType(t, ws, "t"), "f")
		oflow := h.dataFlow(t, other, h.deviceType(t, other, "t"), "f")
		a, b := h.tag(t, ws, "a"), h.tag(t, ws, "b")
		foreign := h.tag(t, other, "a")
		mk := func(w, f, name string, tags ...string) string {
			refs := []any{}
			for _, id := range tags {
				refs = append(refs, map[string]any{"id": id})
			}
			var d gen.Device
			h.do(t, req{method: "POST", path: "/v3/devices", body: map[string]any{"name": name, "workspaceId": w, "dataFlowId": f, "deviceId": name,
				"tags": refs}}).want(201).decode(&d)
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
