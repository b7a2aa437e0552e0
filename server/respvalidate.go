package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
)

// responseValidator checks responses against the spec at run time
// (KEYPLANE_VALIDATE_RESPONSES, for staging): a violation is logged with the
// request id, and the response goes out unchanged.
type responseValidator struct {
	log *slog.Logger
}

var responseOptions = &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}

// check runs serve while recording the response, then validates what was sent.
func (v *responseValidator) check(c echo.Context, route *routers.Route, params map[string]string, serve func() error) error {
	rec := &recorder{ResponseWriter: c.Response().Writer}
	c.Response().Writer = rec
	if err := serve(); err != nil {
		c.Error(err) // render the problem now, so that it is validated too
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: c.Request(), PathParams: params, Route: route},
		Status:                 c.Response().Status,
		Header:                 c.Response().Header(),
		Body:                   readCloser{bytes.NewReader(rec.body.Bytes())},
		Options:                responseOptions,
	}
	if verr := openapi3filter.ValidateResponse(context.WithoutCancel(c.Request().Context()), in); verr != nil {
		v.log.Error("response violates the spec", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"operation", route.Operation.OperationID, "status", c.Response().Status, "err", verr)
	}
	return nil
}

// recorder keeps a copy of the body written through it.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
