// Package consoleui holds the built web console served at /console: the
// output of `vite build` of console/ (index.html and the hashed files under
// assets/), committed in dist/ and rebuilt by `make generate`.
//
// They are embedded so that the binary serves the console by itself: `make
// run` needs only Go, no CDN (the console works offline and behind a strict
// Content-Security-Policy), no node_modules at run time. It is a package of
// its own because go:embed reaches only files in the embedding package's
// directory and below.
package consoleui

import "embed"

// FS holds dist/: index.html and assets/.
//
//go:embed dist
var FS embed.FS
