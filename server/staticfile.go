package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/labstack/echo/v4"
)

// staticAssetCache is the Cache-Control of a file requested by a URL that
// names its content's hash: that URL never changes content.
const staticAssetCache = "public, max-age=31536000, immutable"

// staticFile is one file of a page the binary serves from its own bytes (the
// docs, the console): its content, content type and a strong ETag, the
// content's hash.
type staticFile struct {
	body  []byte
	ctype string
	etag  string
	hash  string // the hex hash the ETag quotes
}

// newStaticFile hashes body once, when the page is loaded.
func newStaticFile(body []byte, ctype string) *staticFile {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:8])
	return &staticFile{body: body, ctype: ctype, etag: `"` + h + `"`, hash: h}
}

// staticTypes are the content types of the files of the docs and the
// console, by extension (not mime.TypeByExtension, which reads the machine's
// MIME tables); the licence files of the docs have none.
var staticTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".txt":  "text/plain; charset=utf-8",
	"":      "text/plain; charset=utf-8",
}

// readStatic reads the file p of fsys, its content type from staticTypes by
// its extension. A file of a type not in it is an error: a build that adds one
// fails the start rather than serve it as something else.
func readStatic(fsys fs.FS, p string) (*staticFile, error) {
	ctype, ok := staticTypes[path.Ext(p)]
	if !ok {
		return nil, fmt.Errorf("%s: no content type for %q", p, path.Ext(p))
	}
	body, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, err
	}
	return newStaticFile(body, ctype), nil
}

// pageHeaders are the security headers of every page the binary serves,
// each with its own Content-Security-Policy.
func pageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// serve writes f under the page's csp with cacheControl; http.ServeContent
// answers conditional requests (ETag) and HEAD.
func (f *staticFile) serve(c echo.Context, csp, cacheControl string) {
	h := c.Response().Header()
	pageHeaders(h, csp)
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", cacheControl)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(f.body))
}
