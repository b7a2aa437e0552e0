package server

import (
	"context"
	"net/http"

	"github.com/keyplane/keyplane/gen"
)

// Temporary stubs: data flows, devices and assets, whose handlers are being written.

func (s *Server) ListAssets(context.Context, gen.ListAssetsRequestObject) (gen.ListAssetsResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) ListAssetsByFilter(context.Context, gen.ListAssetsByFilterRequestObject) (gen.ListAssetsByFilterResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) ListDataFlows(context.Context, gen.ListDataFlowsRequestObject) (gen.ListDataFlowsResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) CreateDataFlow(context.Context, gen.CreateDataFlowRequestObject) (gen.CreateDataFlowResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) DeleteDataFlow(context.Context, gen.DeleteDataFlowRequestObject) (gen.DeleteDataFlowResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetDataFlow(context.Context, gen.GetDataFlowRequestObject) (gen.GetDataFlowResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) UpdateDataFlow(context.Context, gen.UpdateDataFlowRequestObject) (gen.UpdateDataFlowResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) CreateDevice(context.Context, gen.CreateDeviceRequestObject) (gen.CreateDeviceResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetDeviceByDeviceId(context.Context, gen.GetDeviceByDeviceIdRequestObject) (gen.GetDeviceByDeviceIdResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) DeleteDevice(context.Context, gen.DeleteDeviceRequestObject) (gen.DeleteDeviceResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetDevice(context.Context, gen.GetDeviceRequestObject) (gen.GetDeviceResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) UpdateDevice(context.Context, gen.UpdateDeviceRequestObject) (gen.UpdateDeviceResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}
