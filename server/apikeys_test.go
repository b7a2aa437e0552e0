package server_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
)

var (
	idPattern       = regexp.MustCompile(`^[0-9a-f]{24}$`)
	clientIDPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func TestAPIKeyLifecycle(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.user(t, "john.doe")
		before := time.Now().Add(-time.Second)
		res := h.do(t, req{method: "POST", path: "/apikeys", body: map[string]any{
			"name": "My API key", "description": "This is an API key description",
			"isActive": true, "userName": "john.doe", "deviceName": "BackOffice", "permissions": []any{},
		}}).want(201)
		var created gen.ApiKey
		res.decode(&created)
		if !idPattern.MatchString(created.Id) || !clientIDPattern.MatchString(created.ClientId) {
			t.Fatalf("bad identifiers: %+v", created)
		}
		if created.ClientSecret == nil || !hex64.MatchString(*created.ClientSecret) {
			t.Fatalf("create must return a 64-hex clientSecret, got %v", created.ClientSecret)
		}
		if created.UnderscoreV != 1 || !created.IsActive || created.Name != "My API key" || *created.UserName != "john.doe" {
			t.Fatalf("unexpected created key %+v", created)
		}
		if created.CreatedAt.Before(before) || created.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("createdAt %v is not now", created.CreatedAt)
		}
		if got := res.Hdr.Get("ETag"); got != `"1"` {
			t.Fatalf("ETag %q", got)
		}
		if got := res.Hdr.Get("Location"); got != "/apikeys/"+created.Id {
			t.Fatalf("Location %q", got)
		}
		// The wire format has exactly the Portos field names.
		var raw map[string]any
		res.decode(&raw)
		for _, f := range []string{"id", "clientId", "clientSecret", "isActive", "createdAt", "name", "description", "userName", "deviceName", "permissions", "_v"} {
			if _, ok := raw[f]; !ok {
				t.Errorf("field %s missing from %s", f, res.Body)
			}
		}

		var got gen.ApiKey
		h.do(t, req{method: "GET", path: "/apikeys/" + created.Id}).want(200).decode(&got)
		if got.ClientSecret != nil || strings.Contains(string(h.do(t, req{method: "GET", path: "/apikeys/" + created.Id}).Body), *created.ClientSecret) {
			t.Fatal("GET must not return the secret")
		}
		if !got.CreatedAt.Equal(created.CreatedAt) || got.ClientId != created.ClientId {
			t.Fatalf("GET %+v differs from created %+v", got, created)
		}

		var list gen.ApiKeyQueryResult
		lres := h.do(t, req{method: "GET", path: "/apikeys"}).want(200)
		lres.decode(&list)
		if list.Count != 1 || list.TotalCount != 1 || len(*list.Items) != 1 || (*list.Items)[0].ClientSecret != nil {
			t.Fatalf("list %s", lres.Body)
		}

		var updated gen.ApiKey
		ures := h.do(t, req{method: "PUT", path: "/apikeys/" + created.Id, body: map[string]any{
			"name": "renamed", "isActive": false, "_v": 1,
			"permissions": []any{map[string]any{"scope": "ASSET", "verbs": []string{"READ"}}},
		}}).want(200)
		ures.decode(&updated)
		wantFields(t, "updated key", eq("_v", updated.UnderscoreV, int64(2)), eq("name", updated.Name, "renamed"), eq("isActive", updated.IsActive, false),
			eq("clientSecret", updated.ClientSecret, (*string)(nil)), eq("len(permissions)", len(updated.Permissions), 1),
			eq("permissions[0].scope", nth(updated.Permissions, 0).Scope, gen.ScopeASSET), eq("description", updated.Description, (*string)(nil)))
		if ures.Hdr.Get("ETag") != `"2"` {
			t.Fatalf("ETag after update %q", ures.Hdr.Get("ETag"))
		}

		var deleted gen.ApiKey
		h.do(t, req{method: "DELETE", path: "/apikeys/" + created.Id}).want(200).decode(&deleted)
		if deleted.Id != created.Id || deleted.UnderscoreV != 2 || deleted.ClientSecret != nil {
			t.Fatalf("delete returned %+v", deleted)
		}
		h.do(t, req{method: "GET", path: "/apikeys/" + created.Id}).want(404)
		h.do(t, req{method: "DELETE", path: "/apikeys/" + created.Id}).want(404)
	})
}

func TestNotFoundIsLocalized(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		for _, tc := range []struct{ lang, title string }{
			{"sk", "Zdroj nebol nájdený"},
			{"sk-SK,sk;q=0.9,en;q=0.5", "Zdroj nebol nájdený"},
			{"en-US", "Resource not found"},
			{"de", "Resource not found"},
			{"", "Resource not found"},
			{"!!garbage", "Resource not found"},
		} {
			res := h.do(t, req{method: "GET", path: "/apikeys/64b00bc5ba312b6744126a87", header: map[string]string{"Accept-Language": tc.lang}}).want(404)
			p := res.problem()
			if p.Title != tc.title || p.Status != 404 {
				t.Errorf("Accept-Language %q: got %q/%d, want %q", tc.lang, p.Title, p.Status, tc.title)
			}
			if p.TraceId == nil || *p.TraceId != res.Hdr.Get("X-Request-Id") {
				t.Errorf("traceId %v does not echo X-Request-Id %q", p.TraceId, res.Hdr.Get("X-Request-Id"))
			}
		}
	})
}

func TestAuthentication(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		for _, tc := range []struct {
			name   string
			header map[string]string
		}{
			{"none", nil},
			{"wrong token", map[string]string{"Authorization": "Bearer kp_root_wrong"}},
			{"wrong scheme", map[string]string{"Authorization": "Basic " + rootToken}},
			{"empty bearer", map[string]string{"Authorization": "Bearer "}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := h.do(t, req{method: "GET", path: "/apikeys", header: tc.header, anonymous: true}).want(401)
				if p := res.problem(); p.ErrorCode == nil || *p.ErrorCode != 1 || p.Title != "Unauthenticated" {
					t.Fatalf("problem %s", res.Body)
				}
				if !strings.HasPrefix(res.Hdr.Get("WWW-Authenticate"), "Bearer ") {
					t.Fatalf("WWW-Authenticate %q", res.Hdr.Get("WWW-Authenticate"))
				}
			})
		}
		// Authentication precedes validation: an anonymous bad request is a 401.
		h.do(t, req{method: "POST", path: "/apikeys", body: "{", anonymous: true}).want(401)
		// Probes are open.
		h.do(t, req{method: "GET", path: "/healthz", anonymous: true}).want(200)
		h.do(t, req{method: "GET", path: "/readyz", anonymous: true}).want(200)
	})
}

func TestRightsAreEnforced(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		org := h.org(t, "acme")
		k := h.create(t, map[string]any{"name": "k", "organizationId": org})
		reader := h.create(t, map[string]any{"name": "reader", "organizationId": org, "isActive": true,
			"permissions": []any{map[string]any{"scope": "API_KEY", "verbs": []string{"READ"}}}})
		as := *reader.ClientSecret
		h.do(t, req{method: "GET", path: "/apikeys", apiKey: as}).want(200)
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id, apiKey: as}).want(200)
		for _, tc := range []struct {
			method, path string
			body         any
			want         string
		}{
			{"POST", "/apikeys", map[string]any{"name": "x", "organizationId": org}, "API_KEY:CREATE"},
			// A Portos client names no organization: the key lands in the caller's own.
			{"POST", "/apikeys", map[string]any{"name": "x"}, "API_KEY:CREATE in organization " + org},
			{"PUT", "/apikeys/" + k.Id, map[string]any{"name": "x", "_v": 1}, "API_KEY:UPDATE"},
			{"PUT", "/apikeys/aaaaaaaaaaaaaaaaaaaaaaaa", map[string]any{"name": "x", "organizationId": org}, "API_KEY:CREATE"},
			{"DELETE", "/apikeys/" + k.Id, nil, "API_KEY:DELETE"},
			{"POST", "/apikeys/" + k.Id + "/rotate", nil, "API_KEY:UPDATE"},
		} {
			res := h.do(t, req{method: tc.method, path: tc.path, body: tc.body, apiKey: as}).want(403)
			p := res.problem()
			if p.ErrorCode == nil || *p.ErrorCode != 2 || !strings.Contains(*p.Detail, tc.want) || *p.Message != "Permission denied" {
				t.Errorf("%s %s: %s", tc.method, tc.path, res.Body)
			}
		}
		var still gen.ApiKey
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(200).decode(&still)
		if still.UnderscoreV != 1 || still.Name != "k" {
			t.Fatalf("a denied request changed the key: %+v", still)
		}
	})
}

func TestBadRequests(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		k := h.create(t, map[string]any{"name": "k"})
		for _, tc := range []struct {
			name         string
			method, path string
			body         any
			contentType  string
			status       int
			member       string
		}{
			{"take too large", "GET", "/apikeys?$take=1001", nil, "", 400, "$take"},
			{"take not int", "GET", "/apikeys?$take=abc", nil, "", 400, "$take"},
			{"skip negative", "GET", "/apikeys?$skip=-1", nil, "", 400, "$skip"},
			{"count not bool", "GET", "/apikeys?$count=maybe", nil, "", 400, "$count"},
			{"unknown filter", "GET", "/apikeys?colour=red", nil, "", 400, "colour"},
			{"unknown op", "GET", "/apikeys?name=like:x", nil, "", 400, "name"},
			{"bad escape", "GET", "/apikeys?name=%zz", nil, "", 400, "name"},
			{"unterminated quote", "GET", "/apikeys?name=%22abc", nil, "", 400, "name"},
			{"bad bool", "GET", "/apikeys?isActive=yes", nil, "", 400, "isActive"},
			{"bad time", "GET", "/apikeys?createdAt=gte:yesterday", nil, "", 400, "createdAt"},
			{"bad int", "GET", "/apikeys?_v=gt:one", nil, "", 400, "_v"},
			{"unknown sort", "GET", "/apikeys?$sort=colour", nil, "", 400, "$sort"},
			{"bad id", "GET", "/apikeys/not-an-id", nil, "", 400, "id"},
			{"missing name", "POST", "/apikeys", map[string]any{"isActive": true}, "", 400, "/name"},
			{"empty name", "POST", "/apikeys", map[string]any{"name": ""}, "", 400, "/name"},
			{"unknown member", "POST", "/apikeys", map[string]any{"name": "x", "colour": "red"}, "", 400, "/"},
			{"bad scope", "POST", "/apikeys", map[string]any{"name": "x", "permissions": []any{map[string]any{"scope": "NOPE", "verbs": []string{"READ"}}}}, "", 400, "/permissions/0/scope"},
			{"name too long", "POST", "/apikeys", map[string]any{"name": strings.Repeat("n", 201)}, "", 400, "/name"},
			{"malformed json", "POST", "/apikeys", `{"name":`, "", 400, "body"},
			{"wrong type", "POST", "/apikeys", map[string]any{"name": 7}, "", 400, "/name"},
			{"path id mismatch", "PUT", "/apikeys/" + k.Id, map[string]any{"name": "x", "_v": 1, "id": "bbbbbbbbbbbbbbbbbbbbbbbb"}, "", 400, "/id"},
			{"not json", "POST", "/apikeys", "name=x", "application/x-www-form-urlencoded", 415, ""},
			{"too large", "POST", "/apikeys", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, "", 413, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := req{method: tc.method, path: tc.path, body: tc.body}
				if tc.contentType != "" {
					r.header = map[string]string{"Content-Type": tc.contentType}
				}
				res := h.do(t, r).want(tc.status)
				p := res.problem()
				if tc.member == "" {
					return
				}
				if p.ErrorCode == nil || *p.ErrorCode != 3 || p.Errors == nil {
					t.Fatalf("want errorCode 3 with errors: %s", res.Body)
				}
				found := false
				for _, e := range *p.Errors {
					found = found || e.MemberName == tc.member
				}
				if !found {
					t.Fatalf("no error names %q: %s", tc.member, res.Body)
				}
			})
		}
		var still gen.ApiKey
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(200).decode(&still)
		if still.UnderscoreV != 1 {
			t.Fatalf("a rejected request changed the key: %+v", still)
		}
		if n := countKeys(t, h); n != 1 {
			t.Fatalf("rejected creates stored keys: %d", n)
		}
	})
}

func TestRouting(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		h.do(t, req{method: "PATCH", path: "/apikeys"}).want(http.StatusMethodNotAllowed).problem()
		h.do(t, req{method: "GET", path: "/nothing-here"}).want(404).problem()
	})
}

func TestOptimisticConcurrency(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		k := h.create(t, map[string]any{"name": "k"})
		path := "/apikeys/" + k.Id
		for _, tc := range []struct {
			name   string
			body   map[string]any
			header map[string]string
			status int
		}{
			{"stale body version", map[string]any{"name": "x", "_v": 2}, nil, 409},
			{"no version", map[string]any{"name": "x"}, nil, 428},
			{"stale If-Match", map[string]any{"name": "x"}, map[string]string{"If-Match": `"7"`}, 412},
			{"weak If-Match never matches", map[string]any{"name": "x"}, map[string]string{"If-Match": `W/"1"`}, 412},
			{"If-Match ok but body stale", map[string]any{"name": "x", "_v": 3}, map[string]string{"If-Match": `"1"`}, 409},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := h.do(t, req{method: "PUT", path: path, body: tc.body, header: tc.header}).want(tc.status).problem()
				if p.ErrorCode == nil || *p.ErrorCode != 6 {
					t.Fatalf("errorCode %v, want 6", p.ErrorCode)
				}
			})
		}
		var cur gen.ApiKey
		h.do(t, req{method: "GET", path: path}).want(200).decode(&cur)
		if cur.UnderscoreV != 1 || cur.Name != "k" {
			t.Fatalf("rejected updates changed the key: %+v", cur)
		}
		// If-Match alone names the version.
		res := h.do(t, req{method: "PUT", path: path, body: map[string]any{"name": "via etag"}, header: map[string]string{"If-Match": `"0", "1"`}}).want(200)
		if res.Hdr.Get("ETag") != `"2"` {
			t.Fatalf("ETag %q", res.Hdr.Get("ETag"))
		}
		// Deleting with a stale If-Match keeps the key.
		h.do(t, req{method: "DELETE", path: path, header: map[string]string{"If-Match": `"1"`}}).want(412)
		h.do(t, req{method: "DELETE", path: path, header: map[string]string{"If-Match": `"2"`}}).want(200)
	})
}

func TestConcurrentPutsOneWins(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		k := h.create(t, map[string]any{"name": "k"})
		const writers = 8
		codes := make([]int, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				codes[i] = h.do(t, req{method: "PUT", path: "/apikeys/" + k.Id, body: map[string]any{"name": fmt.Sprintf("writer %d", i), "_v": 1}}).Code
			}()
		}
		close(start)
		wg.Wait()
		won, lost := 0, 0
		for _, c := range codes {
			switch c {
			case 200:
				won++
			case 409:
				lost++
			}
		}
		if won != 1 || lost != writers-1 {
			t.Fatalf("codes %v: want exactly one 200 and %d 409", codes, writers-1)
		}
		var cur gen.ApiKey
		h.do(t, req{method: "GET", path: "/apikeys/" + k.Id}).want(200).decode(&cur)
		if cur.UnderscoreV != 2 {
			t.Fatalf("version %d after one winning update, want 2", cur.UnderscoreV)
		}
	})
}

func TestPutCreates(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		const id = "64b00bc5ba312b6744126a87"
		var k gen.ApiKey
		h.do(t, req{method: "PUT", path: "/apikeys/" + id, body: map[string]any{"name": "made by put", "isActive": true}}).want(200).decode(&k)
		if k.Id != id || k.UnderscoreV != 1 || k.ClientSecret == nil || !hex64.MatchString(*k.ClientSecret) {
			t.Fatalf("PUT create: %+v", k)
		}
		// Repeating the blind create does not overwrite: the key exists now.
		h.do(t, req{method: "PUT", path: "/apikeys/" + id, body: map[string]any{"name": "again"}}).want(428)
		// An update of a key that does not exist is not a create.
		h.do(t, req{method: "PUT", path: "/apikeys/bbbbbbbbbbbbbbbbbbbbbbbb", body: map[string]any{"name": "x", "_v": 1}}).want(409)
		h.do(t, req{method: "PUT", path: "/apikeys/bbbbbbbbbbbbbbbbbbbbbbbb", body: map[string]any{"name": "x"}, header: map[string]string{"If-Match": "*"}}).want(412)
		// Round-tripping a read key (with its read-only fields) is accepted.
		var got map[string]any
		h.do(t, req{method: "GET", path: "/apikeys/" + id}).want(200).decode(&got)
		got["name"] = "round trip"
		var upd gen.ApiKey
		h.do(t, req{method: "PUT", path: "/apikeys/" + id, body: got}).want(200).decode(&upd)
		if upd.Name != "round trip" || upd.UnderscoreV != 2 || upd.ClientId != k.ClientId {
			t.Fatalf("round trip: %+v", upd)
		}
	})
}

func TestListNData(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		names := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
		h.user(t, "user0")
		h.user(t, "user1")
		for i, n := range names {
			h.create(t, map[string]any{"name": n, "isActive": i%2 == 0, "userName": fmt.Sprintf("user%d", i%2)})
		}
		for _, tc := range []struct {
			query string
			want  []string
			total int64
		}{
			{"$sort=name", []string{"alpha", "beta", "delta", "epsilon", "gamma"}, 5},
			{"$sort=-name&$take=2", []string{"gamma", "epsilon"}, 5},
			{"$sort=NAME:desc&$skip=4", []string{"alpha"}, 5},
			{"isActive=true&$sort=name", []string{"alpha", "epsilon", "gamma"}, 3},
			{"isActive=eq:false&$sort=name", []string{"beta", "delta"}, 2},
			{"name=in:alpha,delta,zeta&$sort=name", []string{"alpha", "delta"}, 2},
			{"name=nin:alpha,delta&$sort=name", []string{"beta", "epsilon", "gamma"}, 3},
			{"name=gte:delta;lt:gamma&$sort=name", []string{"delta", "epsilon"}, 2},
			{"name=gte:delta&name=lt:gamma&$sort=name", []string{"delta", "epsilon"}, 2},
			{"userName=user1&$sort=-name", []string{"delta", "beta"}, 2},
			{"description=null&name=beta", []string{"beta"}, 1},
			{"description=neq:null", nil, 0},
			{"name=gte", nil, 0},
			{"_v=1&name=alpha", []string{"alpha"}, 1},
			{"$take=0", nil, 5},
		} {
			t.Run(tc.query, func(t *testing.T) {
				var res gen.ApiKeyQueryResult
				h.do(t, req{method: "GET", path: "/apikeys?" + tc.query}).want(200).decode(&res)
				var got []string
				if res.Items != nil {
					for _, k := range *res.Items {
						got = append(got, k.Name)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) || res.TotalCount != tc.total || res.Count != int64(len(tc.want)) {
					t.Fatalf("got %v (count %d, total %d), want %v (total %d)", got, res.Count, res.TotalCount, tc.want, tc.total)
				}
			})
		}
		var counted gen.ApiKeyQueryResult
		cres := h.do(t, req{method: "GET", path: "/apikeys?$count=true&isActive=true"}).want(200)
		cres.decode(&counted)
		if counted.Items != nil || counted.TotalCount != 3 || counted.Count != 3 || strings.Contains(string(cres.Body), "items") {
			t.Fatalf("$count=true: %s", cres.Body)
		}
		// createdAt filters with RFC 3339 times (colons inside the argument).
		var all gen.ApiKeyQueryResult
		h.do(t, req{method: "GET", path: "/apikeys?createdAt=gte:2000-01-01T00:00:00Z&createdAt=lt:" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}).want(200).decode(&all)
		if all.TotalCount != 5 {
			t.Fatalf("createdAt range: %d", all.TotalCount)
		}
	})
}

// TestSecretNeverStoredPlain reads the stored row: the secret appears neither
// in the digest nor the sealed bytes, and the sealed bytes open to it.
func TestSecretNeverStoredPlain(t *testing.T) {
	each(t, func(t *testing.T, h *harness) {
		k := h.create(t, map[string]any{"name": "k"})
		row, err := h.st.APIKeys.Get(t.Context(), k.Id)
		if err != nil {
			t.Fatal(err)
		}
		secret := *k.ClientSecret
		if strings.Contains(string(row.SecretSealed), secret) || strings.Contains(fmt.Sprintf("%x", row.SecretSealed), secret) {
			t.Fatal("sealed secret contains the plain secret")
		}
		if !auth.DigestEqual(row.SecretDigest, auth.Digest(secret)) {
			t.Fatal("digest does not match the secret")
		}
	})
}
