package server_test

import (
	"fmt"
	"testing"

	"github.com/keyplane/keyplane/gen"
)

// TestSkipTotal: a client that needs no totals opts out of counting; the
// envelope keeps its fields (totals -1) and still tells the last page.
func TestSkipTotal(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		for i := range 5 {
			h.workspace(t, org, fmt.Sprintf("ws-%d", i))
			h.create(t, map[string]any{"name": fmt.Sprintf("key-%d", i), "organizationId": org})
		}
		for _, tc := range []struct {
			page, size          int
			wantItems           int
			wantFirst, wantLast bool
		}{
			{0, 2, 2, true, false},
			{2, 2, 1, false, true},
			{0, 5, 5, true, true},
			{3, 2, 0, false, true},
		} {
			var p gen.WorkspacePage
			h.do(t, req{method: "GET", path: fmt.Sprintf("/v3/workspaces?organizationId=%s&sort=name&skipTotal=true&page=%d&size=%d", org, tc.page, tc.size)}).
				want(200).decode(&p)
			got := struct {
				items, pages int
				elements     int64
				first, last  bool
			}{len(p.Content), p.TotalPages, p.TotalElements, p.First, p.Last}
			want := got
			want.items, want.pages, want.elements, want.first, want.last = tc.wantItems, -1, -1, tc.wantFirst, tc.wantLast
			if got != want {
				t.Errorf("page %d size %d: got %+v, want %+v", tc.page, tc.size, got, want)
			}
		}
		var keys gen.ApiKeyQueryResult
		h.do(t, req{method: "GET", path: "/apikeys?$sort=name&$take=3&$skipTotal=true"}).want(200).decode(&keys)
		if keys.TotalCount != -1 || keys.Count != 3 || len(*keys.Items) != 3 || (*keys.Items)[0].Name != "key-0" {
			t.Errorf("uncounted keys: totalCount %d count %d items %d", keys.TotalCount, keys.Count, len(*keys.Items))
		}
		h.do(t, req{method: "GET", path: "/apikeys?$skipTotal=maybe"}).want(400)
	})
}
