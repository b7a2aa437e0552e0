package server_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keyplane/keyplane/openapi"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// docsRefs finds the URLs that the docs page loads.
var docsRefs = regexp.MustCompile(`(?:src|href)="([^"]+)"`)

// checkPage reads the page p (the docs, the console) anonymously and checks
// what both promise: HTML, never cached, no inline script or style, the
// security headers, and a CSP with each of want. It returns the page and its
// CSP.
func checkPage(t *testing.T, h *harness, p string, want ...string) (*response, string) {
	t.Helper()
	page := h.do(t, req{method: "GET", path: p, anonymous: true}).want(200)
	if ct := page.Hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s content type %q", p, ct)
	}
	csp := page.Hdr.Get("Content-Security-Policy")
	for _, w := range want {
		if !strings.Contains(csp, w) {
			t.Errorf("CSP %q lacks %q", csp, w)
		}
	}
	if got := page.Hdr.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s X-Content-Type-Options %q", p, got)
	}
	if got := page.Hdr.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s Cache-Control %q, want no-store", p, got)
	}
	if body := string(page.Body); strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Errorf("%s has inline script or style:\n%s", p, body)
	}
	return page, csp
}

// checkAsset reads the asset u of a page whose CSP is csp and checks that it
// is cacheable for good (its URL names its content's hash), under the page's
// security headers, and answers a conditional request by its ETag.
func checkAsset(t *testing.T, h *harness, u, csp string) *response {
	t.Helper()
	res := h.do(t, req{method: "GET", path: u, anonymous: true}).want(200)
	if got := res.Hdr.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("%s: Cache-Control %q", u, got)
	}
	if got := res.Hdr.Get("Content-Security-Policy"); got != csp {
		t.Errorf("%s: CSP %q", u, got)
	}
	if got := res.Hdr.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", u, got)
	}
	if etag := res.Hdr.Get("ETag"); etag == "" {
		t.Errorf("%s: no ETag", u)
	} else {
		h.do(t, req{method: "GET", path: u, anonymous: true, header: map[string]string{"If-None-Match": etag}}).want(304)
	}
	return res
}

// TestDocsPage checks the page and its assets over plain HTTP, anonymously.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.Open(t, store.SQLite))

	page, csp := checkPage(t, h, "/docs", "default-src 'self'", "img-src 'self' data:", "style-src 'self' 'unsafe-inline'")
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q loosens scripts", csp)
	}
	body := string(page.Body)
	if !strings.Contains(body, "<title>keyplane API</title>") {
		t.Errorf("/docs has no title:\n%s", body)
	}

	// Every URL of the page is a local asset, served with its type and
	// cacheable for good (the URL names the content's hash).
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
	refs := map[string]bool{}
	for _, m := range docsRefs.FindAllStringSubmatch(body, -1) {
		u := html.UnescapeString(m[1])
		refs[path.Base(strings.SplitN(u, "?", 2)[0])] = true
		if !strings.HasPrefix(u, "/docs/") || !strings.Contains(u, "?v=") {
			t.Errorf("/docs loads %q, want /docs/NAME?v=HASH", u)
			continue
		}
		res := checkAsset(t, h, u, csp)
		if want := types[path.Ext(strings.SplitN(u, "?", 2)[0])]; res.Hdr.Get("Content-Type") != want {
			t.Errorf("%s: content type %q, want %q", u, res.Hdr.Get("Content-Type"), want)
		}
	}
	for _, want := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "init.js"} {
		if !refs[want] {
			t.Errorf("/docs does not load /docs/%s", want)
		}
	}

	// Without the page's ?v= an asset is revalidated, not kept.
	res := h.do(t, req{method: "GET", path: "/docs/init.js", anonymous: true}).want(200)
	if got := res.Hdr.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("/docs/init.js without v: Cache-Control %q", got)
	}
	// init.js points Swagger UI at the spec, which anonymous callers may read.
	if !bytes.Contains(res.Body, []byte(`url: "/openapi.json"`)) {
		t.Errorf("init.js does not load /openapi.json:\n%s", res.Body)
	}
	h.do(t, req{method: "GET", path: "/openapi.json", anonymous: true}).want(200)

	// /docs/ is the page too; HEAD works.
	slash := h.do(t, req{method: "GET", path: "/docs/", anonymous: true}).want(200)
	if !bytes.Equal(slash.Body, page.Body) || slash.Hdr.Get("Content-Security-Policy") != csp {
		t.Errorf("/docs/ differs from /docs")
	}
	if head := h.do(t, req{method: "HEAD", path: "/docs", anonymous: true}).want(200); head.Hdr.Get("Content-Security-Policy") != csp {
		t.Errorf("HEAD /docs has no CSP")
	}

	// The licences that come with Swagger UI are served; nothing else is.
	for _, name := range []string{"LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"} {
		res := h.do(t, req{method: "GET", path: "/docs/" + name, anonymous: true}).want(200)
		if ct := res.Hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("/docs/%s: content type %q", name, ct)
		}
	}
	for _, p := range []string{
		"/docs/nonexistent",
		"/docs/index.html", // the page's template
		"/docs/swagger-ui-bundle.js.map",
		"/docs/dist/swagger-ui.css",
		"/docs/docsui.go",
	} {
		res := h.do(t, req{method: "GET", path: p, anonymous: true}).want(404)
		if ct := res.Hdr.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: 404 content type %q", p, ct)
		}
	}
}

// domText escapes text as Chromium's --dump-dom writes it (quotes stay).
var domText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;")

// chromium is the browser the docs test drives.
const chromium = "/usr/bin/chromium"

// TestDocsBrowser loads /docs in headless Chromium and checks that Swagger UI
// rendered every operation of the spec, under the page's CSP.
func TestDocsBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium is required in CI: %v", err)
		}
		t.Skipf("Chromium not installed at %s: %v", chromium, err)
	}
	h := newHarness(t, storetest.Open(t, store.SQLite))
	srv := httptest.NewServer(h.e)
	t.Cleanup(srv.Close)
	spec, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Deep-link to one operation so that Swagger UI also renders an expanded
	// one (parameters, responses, highlighted examples) under the CSP.
	var list *openapi3.Operation
	if item := spec.Paths.Find("/apikeys"); item != nil {
		list = item.Get
	}
	if list == nil || len(list.Tags) == 0 {
		t.Fatal("the spec has no tagged GET /apikeys")
	}
	url := srv.URL + "/docs#/" + list.Tags[0] + "/" + list.OperationID

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", // console messages, among them CSP violations
		"--virtual-time-budget=10000", "--dump-dom", url)
	cmd.WaitDelay = 5 * time.Second // Chromium's helpers may hold the pipes after a kill
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("chromium took %s", time.Since(start).Round(time.Millisecond))
	var console []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, line)
			t.Logf("console: %s", line)
		}
	}
	if err != nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium: %v (context: %v)\nstderr:\n%s", err, ctx.Err(), stderr.String())
	}
	for _, line := range console {
		if strings.Contains(line, "Content Security Policy") {
			t.Errorf("CSP violation: %s", line)
		}
	}
	dom := stdout.String()
	if !strings.Contains(dom, "<title>keyplane API</title>") {
		t.Fatalf("no docs page in the DOM:\n%s", dom)
	}
	for _, bad := range []string{"Failed to load API definition", "Fetch error", `class="errors-wrapper"`} {
		if strings.Contains(dom, bad) {
			t.Errorf("the DOM shows %q", bad)
		}
	}

	// Every operation of the spec is rendered: its block, its path and its
	// summary.
	ops := 0
	for p, item := range spec.Paths.Map() {
		if !strings.Contains(dom, `class="opblock-summary-path" data-path="`+domText.Replace(p)+`"`) {
			t.Errorf("no operation block for %s", p)
		}
		for method, op := range item.Operations() {
			ops++
			if op.Summary != "" && !strings.Contains(dom, domText.Replace(op.Summary)) {
				t.Errorf("%s %s: summary %q not rendered", method, p, op.Summary)
			}
		}
	}
	blocks := regexp.MustCompile(`class="opblock opblock-(?:get|put|post|delete|options|head|patch|trace)[ "]`).FindAllString(dom, -1)
	if len(blocks) != ops || ops == 0 {
		t.Errorf("%d operation blocks rendered, the spec has %d operations", len(blocks), ops)
	}
	for _, want := range []string{
		`data-path="/apikeys"`, "List API keys",
		`id="operations-` + list.Tags[0] + `-` + list.OperationID + `"`,
		`class="opblock opblock-get is-open"`, `class="opblock-body"`, // the deep-linked operation
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}
