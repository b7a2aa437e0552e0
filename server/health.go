package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// GetHealthz answers while the process serves HTTP.
func (s *Server) GetHealthz(context.Context, gen.GetHealthzRequestObject) (gen.GetHealthzResponseObject, error) {
	return gen.GetHealthz200JSONResponse{Status: gen.HealthStatusOk}, nil
}

// GetReadyz answers 200 when the database does and its schema is at this
// binary's version, so a load balancer only sends traffic to replicas that
// can serve it.
func (s *Server) GetReadyz(ctx context.Context, _ gen.GetReadyzRequestObject) (gen.GetReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	unready := func(detail string, err error) error {
		return &Problem{Status: http.StatusServiceUnavailable, Detail: detail, cause: err,
			Header: http.Header{"Retry-After": {strconv.Itoa(retryUnavailable)}}}
	}
	if err := s.store.Ping(ctx); err != nil {
		return nil, unready("database unavailable", err)
	}
	if err := s.store.SchemaCurrent(ctx); err != nil {
		return nil, unready("database schema is not at this version", err)
	}
	return gen.GetReadyz200JSONResponse{Status: gen.HealthStatusOk}, nil
}
