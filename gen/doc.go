// Package gen holds the code that oapi-codegen generates from openapi/openapi.yaml:
// models, the strict Echo server interface, a client and the embedded spec.
// Never edit it by hand; run `make generate` (which first bundles openapi/src/
// into openapi/openapi.yaml).
package gen

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config ../openapi/codegen.yaml ../openapi/openapi.yaml
