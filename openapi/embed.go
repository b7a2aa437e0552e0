// Package openapi holds the API's source of truth, openapi.yaml, and embeds it
// so the server can publish it exactly as written (GET /openapi.yaml).
// The code generated from it lives in package gen.
package openapi

import _ "embed"

// YAML is openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var YAML []byte
