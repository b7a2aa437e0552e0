// Package openapi holds the API's source of truth, openapi.yaml, and embeds it
// so the server can publish it byte for byte (GET /openapi.yaml).
//
// openapi.yaml is one document because every tool reads one (oapi-codegen,
// kin-openapi, ogen, the TypeScript generator); people write it in src/, one
// file per path and per component, and `make generate` bundles src/ into it
// with Redocly. The code generated from it lives in package gen.
package openapi

import (
	_ "embed"

	"github.com/getkin/kin-openapi/openapi3"
)

// YAML is openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var YAML []byte

// Load parses the embedded document, with its operationIds as written (the
// generated code's copy renames them), for routing and validation.
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(YAML)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(openapi3.NewLoader().Context)
}
