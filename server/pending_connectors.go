package server

import (
	"context"
	"net/http"

	"github.com/keyplane/keyplane/gen"
)

// Temporary stubs: output connectors and rules, whose handlers are being written.

func (s *Server) ListOutputConnectors(context.Context, gen.ListOutputConnectorsRequestObject) (gen.ListOutputConnectorsResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) CreateOutputConnector(context.Context, gen.CreateOutputConnectorRequestObject) (gen.CreateOutputConnectorResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) DeleteOutputConnector(context.Context, gen.DeleteOutputConnectorRequestObject) (gen.DeleteOutputConnectorResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetOutputConnector(context.Context, gen.GetOutputConnectorRequestObject) (gen.GetOutputConnectorResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) UpdateOutputConnector(context.Context, gen.UpdateOutputConnectorRequestObject) (gen.UpdateOutputConnectorResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) ListRules(context.Context, gen.ListRulesRequestObject) (gen.ListRulesResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) CreateRule(context.Context, gen.CreateRuleRequestObject) (gen.CreateRuleResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) DeleteRule(context.Context, gen.DeleteRuleRequestObject) (gen.DeleteRuleResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetRule(context.Context, gen.GetRuleRequestObject) (gen.GetRuleResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) UpdateRule(context.Context, gen.UpdateRuleRequestObject) (gen.UpdateRuleResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}
