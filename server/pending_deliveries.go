package server

import (
	"context"
	"net/http"

	"github.com/keyplane/keyplane/gen"
)

// Temporary stubs: the delivery log, whose handler is being written.

func (s *Server) ListDeliveries(context.Context, gen.ListDeliveriesRequestObject) (gen.ListDeliveriesResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}
