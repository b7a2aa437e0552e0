package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyplane/keyplane/server/docsui"
)

// docsCSP is the Content-Security-Policy of the docs: everything from this
// origin, nothing inline but styles (Swagger UI sets style attributes), data:
// images (Swagger UI's CSS icons), no framing.
const docsCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type docsSite struct {
	page   []byte                 // the HTML of /docs
	assets map[string]*staticFile // by name under /docs/
}

// loadDocs indexes the files of docsui by base name (init.js, and dist/'s
// Swagger UI files) and renders the page, whose asset URLs carry a hash of the
// content so that browsers can cache them for good.
func loadDocs(fsys fs.FS) (*docsSite, error) {
	site := &docsSite{assets: map[string]*staticFile{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "index.html" {
			return err
		}
		name := path.Base(p)
		if site.assets[name] != nil {
			return fmt.Errorf("%s: two files named %s", p, name)
		}
		site.assets[name], err = readStatic(fsys, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			a := site.assets[name]
			if a == nil {
				return "", fmt.Errorf("no asset %s", name)
			}
			return "/docs/" + name + "?v=" + a.hash, nil
		},
	}).ParseFS(fsys, "index.html")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return nil, err
	}
	site.page = buf.Bytes()
	return site, nil
}

// registerDocs serves the interactive API reference at /docs: Swagger UI on
// /openapi.json, every file from the binary. Both routes are in the gate's
// unguarded list: no spec operation, no credentials.
func registerDocs(e *echo.Echo) error {
	site, err := loadDocs(docsui.FS)
	if err != nil {
		return fmt.Errorf("docs page: %w", err) // a broken build: a file missing from docsui
	}
	methods := []string{http.MethodGet, http.MethodHead}
	e.Match(methods, "/docs", site.servePage)
	e.Match(methods, "/docs/*", site.serveAsset, middleware.Gzip()) // the bundle shrinks 1.7 MB → 0.5 MB
	return nil
}

// servePage serves the HTML; never cached, so that a new release's asset
// URLs reach the browser.
func (s *docsSite) servePage(c echo.Context) error {
	h := c.Response().Header()
	pageHeaders(h, docsCSP)
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", s.page)
}

// serveAsset serves a file of docsui (and the page again at /docs/). Asked
// for with the page's ?v= the response is cacheable for a year; otherwise it
// is revalidated by ETag.
func (s *docsSite) serveAsset(c echo.Context) error {
	name := c.Param("*")
	if name == "" {
		return s.servePage(c)
	}
	a := s.assets[name]
	if a == nil {
		return problemf(http.StatusNotFound, 0, "no page at %s", c.Request().URL.Path)
	}
	cache := "no-cache"
	if c.QueryParam("v") == a.hash {
		cache = staticAssetCache
	}
	a.serve(c, docsCSP, cache)
	return nil
}
