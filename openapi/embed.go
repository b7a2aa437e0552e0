// Package openapi holds the API's source of truth, openapi.yaml, and embeds it
// so the server can publish it exactly as written (GET /openapi.yaml).
// The code generated from it lives in package gen.
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
