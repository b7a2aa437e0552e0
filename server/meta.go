package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/openapi"
)

// GetOpenapiYaml serves the OpenAPI document byte for byte (openapi/openapi.yaml).
func (s *Server) GetOpenapiYaml(context.Context, gen.GetOpenapiYamlRequestObject) (gen.GetOpenapiYamlResponseObject, error) {
	return gen.GetOpenapiYaml200ApplicationyamlResponse{Body: bytes.NewReader(openapi.YAML), ContentLength: int64(len(openapi.YAML))}, nil
}

// GetOpenapiJson serves the OpenAPI document as JSON, for tools and the docs
// page (built once, by specAsJSON).
func (s *Server) GetOpenapiJson(context.Context, gen.GetOpenapiJsonRequestObject) (gen.GetOpenapiJsonResponseObject, error) {
	return specJSON(s.specJSON), nil
}

// specJSON writes the JSON document without decoding it into a map first.
type specJSON []byte

func (b specJSON) VisitGetOpenapiJsonResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// specAsJSON renders openapi.yaml as JSON, operationIds as written (the
// generated code's embedded copy renames them).
func specAsJSON() ([]byte, error) {
	doc, err := openapi.Load()
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("spec as JSON: %w", err)
	}
	return b, nil
}
