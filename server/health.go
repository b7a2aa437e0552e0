package server

import (
	"context"
	"net/http"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// GetHealthz answers while the process serves HTTP.
func (s *Server) GetHealthz(context.Context, gen.GetHealthzRequestObject) (gen.GetHealthzResponseObject, error) {
	return gen.GetHealthz200JSONResponse{Status: gen.HealthStatusOk}, nil
}

// GetReadyz answers 200 when the database does, so a load balancer only sends
// traffic to replicas that can serve it.
func (s *Server) GetReadyz(ctx context.Context, _ gen.GetReadyzRequestObject) (gen.GetReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return nil, &Problem{Status: http.StatusServiceUnavailable, Detail: "database unavailable", cause: err}
	}
	return gen.GetReadyz200JSONResponse{Status: gen.HealthStatusOk}, nil
}
