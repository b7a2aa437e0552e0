package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
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
