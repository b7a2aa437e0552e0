// Package docsui holds the files of the interactive API reference served at
// /docs: keyplane's page template (index.html) and Swagger UI setup (init.js),
// and in dist/ the Swagger UI files copied from the pinned swagger-ui-dist npm
// package by update.sh.
//
// They are embedded so that the binary serves the page by itself: no CDN (the
// docs work offline and behind a strict Content-Security-Policy), no
// node_modules at run time, and the Swagger UI version is the one committed
// here. It is a package of its own because go:embed can only reach files in
// the embedding package's directory and below, and this keeps the 2 MB of
// assets out of package server's directory.
package docsui

import "embed"

// FS holds index.html, init.js and dist/.
//
//go:embed index.html init.js dist
var FS embed.FS
