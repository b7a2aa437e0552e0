package server

import (
	"context"
	"net/http"

	"github.com/keyplane/keyplane/gen"
)

// Temporary stubs: device types, backfill and queries, whose handlers are being written.

func (s *Server) ListDeviceTypes(context.Context, gen.ListDeviceTypesRequestObject) (gen.ListDeviceTypesResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) CreateDeviceType(context.Context, gen.CreateDeviceTypeRequestObject) (gen.CreateDeviceTypeResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) DeleteDeviceType(context.Context, gen.DeleteDeviceTypeRequestObject) (gen.DeleteDeviceTypeResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetDeviceType(context.Context, gen.GetDeviceTypeRequestObject) (gen.GetDeviceTypeResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) UpdateDeviceType(context.Context, gen.UpdateDeviceTypeRequestObject) (gen.UpdateDeviceTypeResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) BackfillSample(context.Context, gen.BackfillSampleRequestObject) (gen.BackfillSampleResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) BackfillSamples(context.Context, gen.BackfillSamplesRequestObject) (gen.BackfillSamplesResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) QuerySamplesGet(context.Context, gen.QuerySamplesGetRequestObject) (gen.QuerySamplesGetResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) QuerySamples(context.Context, gen.QuerySamplesRequestObject) (gen.QuerySamplesResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetLatestSample(context.Context, gen.GetLatestSampleRequestObject) (gen.GetLatestSampleResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) QueryKpi(context.Context, gen.QueryKpiRequestObject) (gen.QueryKpiResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) QueryTimeSeries(context.Context, gen.QueryTimeSeriesRequestObject) (gen.QueryTimeSeriesResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) ListSampleTopics(context.Context, gen.ListSampleTopicsRequestObject) (gen.ListSampleTopicsResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}
