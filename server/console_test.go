package server_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// consoleRefs finds the URLs that the console's page loads.
var consoleRefs = docsRefs

// TestConsolePage checks /console over plain HTTP, anonymously: the page
// under a CSP that allows nothing inline and nothing from elsewhere, its
// content-hashed files cacheable for good, the page again for any path the
// console routes in the browser, and a 404 problem for a missing file.
func TestConsolePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.Open(t, store.SQLite))

	page, csp := checkPage(t, h, "/console", "default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'")
	for _, loose := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, loose) {
			t.Errorf("CSP %q allows %q", csp, loose)
		}
	}
	body := string(page.Body)

	loaded := map[string]bool{}
	for _, m := range consoleRefs.FindAllStringSubmatch(body, -1) {
		u := m[1]
		if strings.HasPrefix(u, "data:") {
			continue
		}
		if !strings.HasPrefix(u, "/console/assets/") {
			t.Errorf("/console loads %q, want /console/assets/NAME-HASH.EXT", u)
			continue
		}
		loaded[checkAsset(t, h, u, csp).Hdr.Get("Content-Type")] = true
	}
	for _, ct := range []string{"text/javascript; charset=utf-8", "text/css; charset=utf-8"} {
		if !loaded[ct] {
			t.Errorf("/console loads no %s", ct)
		}
	}

	// The console routes in the browser: every other path under /console/ is
	// the page, so that a reload or a link opens it.
	for _, p := range []string{"/console/", "/console/orgs/28a1b2c3d4e5f607/keys", "/console/index.html"} {
		res := h.do(t, req{method: "GET", path: p, anonymous: true}).want(200)
		if !bytes.Equal(res.Body, page.Body) || res.Hdr.Get("Content-Security-Policy") != csp {
			t.Errorf("%s is not the console's page", p)
		}
	}
	if head := h.do(t, req{method: "HEAD", path: "/console", anonymous: true}).want(200); head.Hdr.Get("Content-Security-Policy") != csp {
		t.Errorf("HEAD /console has no CSP")
	}
	for _, p := range []string{"/console/assets/nonexistent.js", "/console/assets/"} {
		res := h.do(t, req{method: "GET", path: p, anonymous: true}).want(404)
		if ct := res.Hdr.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: 404 content type %q", p, ct)
		}
	}
	h.do(t, req{method: "POST", path: "/console", anonymous: true}).want(405)
}
