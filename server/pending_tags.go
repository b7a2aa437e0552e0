package server

import (
	"context"
	"net/http"

	"github.com/keyplane/keyplane/gen"
)

// Temporary stubs: tags, whose handlers are being written.

func (s *Server) ListTags(context.Context, gen.ListTagsRequestObject) (gen.ListTagsResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) CreateTag(context.Context, gen.CreateTagRequestObject) (gen.CreateTagResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) DeleteTag(context.Context, gen.DeleteTagRequestObject) (gen.DeleteTagResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) GetTag(context.Context, gen.GetTagRequestObject) (gen.GetTagResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}

func (s *Server) UpdateTag(context.Context, gen.UpdateTagRequestObject) (gen.UpdateTagResponseObject, error) {
	return nil, problemf(http.StatusNotImplemented, 0, "not implemented yet")
}
