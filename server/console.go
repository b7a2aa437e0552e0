package server

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyplane/keyplane/server/consoleui"
)

// consoleCSP is the Content-Security-Policy of the console: scripts, styles
// and API calls from this origin only, nothing inline (the build emits no
// inline script or style), no framing. The console calls the API on the same
// origin, so connect-src 'self' is all it needs.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleSite is the built console: index.html and the content-hashed files
// under assets/, by their path below /console/.
type consoleSite struct {
	index *staticFile
	files map[string]*staticFile
}

// loadConsole indexes the files of consoleui's dist/.
func loadConsole(fsys fs.FS) (*consoleSite, error) {
	dist, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, err
	}
	site := &consoleSite{files: map[string]*staticFile{}}
	err = fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		site.files[p], err = readStatic(dist, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	site.index = site.files["index.html"]
	if site.index == nil {
		return nil, fmt.Errorf("no index.html")
	}
	return site, nil
}

// registerConsole serves the web console at /console: its page for /console
// and every path below that is not one of its files (the console routes in
// the browser, so a reload of /console/orgs/… must get the page), its files
// from the binary. Both routes are in the gate's unguarded list: the files
// are public, and the console authenticates each API call it makes.
func registerConsole(e *echo.Echo) error {
	site, err := loadConsole(consoleui.FS)
	if err != nil {
		return fmt.Errorf("console: %w", err) // a broken build: run make generate
	}
	methods := []string{http.MethodGet, http.MethodHead}
	e.Match(methods, "/console", site.servePage)
	e.Match(methods, "/console/*", site.serveFile, middleware.Gzip())
	return nil
}

// servePage serves index.html; never cached, so that a new release's asset
// names reach the browser.
func (s *consoleSite) servePage(c echo.Context) error {
	h := c.Response().Header()
	pageHeaders(h, consoleCSP)
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, s.index.ctype, s.index.body)
}

// serveFile serves a file of the build (named by its content hash, so
// cacheable for good), a 404 for a missing one under assets/, and the page for
// any other path.
func (s *consoleSite) serveFile(c echo.Context) error {
	name := c.Param("*")
	f := s.files[name]
	if f == nil || name == "index.html" {
		if strings.HasPrefix(name, "assets/") {
			return problemf(http.StatusNotFound, 0, "no file at %s", c.Request().URL.Path)
		}
		return s.servePage(c)
	}
	f.serve(c, consoleCSP, staticAssetCache)
	return nil
}
