package server

import (
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/gommon/bytes"
)

// limitBody caps request bodies: a bulk backfill at bulk bytes, any other
// request at limit (Echo's size syntax, "1M"). A declared Content-Length
// over the cap is a 413 at once; a body that turns out longer fails its
// read with the same 413. One middleware for both caps: Echo wraps each
// middleware around every request, and a request without a body costs
// nothing here.
func limitBody(limit, bulk string) (echo.MiddlewareFunc, error) {
	small, err := bytes.Parse(limit)
	if err != nil {
		return nil, fmt.Errorf("body limit %q: %w", limit, err)
	}
	large, err := bytes.Parse(bulk)
	if err != nil {
		return nil, fmt.Errorf("bulk body limit %q: %w", bulk, err)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			max := small
			if isBulk(c) {
				max = large
			}
			if req.ContentLength > max {
				return echo.ErrStatusRequestEntityTooLarge
			}
			req.Body = &limitedBody{ReadCloser: req.Body, left: max}
			return next(c)
		}
	}, nil
}

// limitedBody reads at most left more bytes; reading past them is a 413.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, echo.ErrStatusRequestEntityTooLarge
	}
	n, err := b.ReadCloser.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n, echo.ErrStatusRequestEntityTooLarge
	}
	return n, err
}
