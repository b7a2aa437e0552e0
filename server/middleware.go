package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
)

// traceparent is the W3C trace context header: version-traceid-parentid-flags.
var traceparent = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)

// requestIDPattern is what a client-sent X-Request-Id must look like to be
// kept; anything else is replaced, so logs never carry arbitrary client text.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type traceIDKey struct{}

// traceID is the request's W3C trace id, or its request id.
func traceID(c echo.Context) string {
	if id, ok := c.Request().Context().Value(traceIDKey{}).(string); ok {
		return id
	}
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// observe gives each request its id (a valid one the client sent is kept),
// echoed as X-Request-Id and carried by logs and problems; accepts a W3C
// traceparent, so that logs and problem bodies carry the caller's trace id
// (without one, the request id stands in); and, once the request is
// answered, writes its metrics and one structured log line. A handler that
// panics is answered as a 500 (its stack goes to the error log, never to the
// client) instead of taking the process down. One middleware rather than
// four: Echo wraps each around every request.
//
// The log line names the path, never the query or headers, which may carry
// credentials, and the client address the rate limits use (the peer, or the
// client named by a trusted proxy), never a header anyone could forge.
func observe(log *slog.Logger, m *metrics, proxies auth.Proxies) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			start := time.Now()
			req := c.Request()
			id := req.Header.Get(echo.HeaderXRequestID)
			if id == "" || !requestIDPattern.MatchString(id) {
				id = rand.Text()
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			if t := traceparent.FindStringSubmatch(req.Header.Get("Traceparent")); t != nil && t[1] != "00000000000000000000000000000000" {
				c.SetRequest(req.WithContext(context.WithValue(req.Context(), traceIDKey{}, t[1])))
			}
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler { // net/http's way to abort a response: not ours to catch
						panic(r)
					}
					c.Error(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
					err = nil
				}
				logRequest(c, log, m, proxies, id, time.Since(start))
			}()
			if err = next(c); err != nil {
				c.Error(err)
			}
			return err
		}
	}
}

// logRequest records one answered request: its metrics, and its log line
// when the level is enabled (probes log at debug, failures as errors).
func logRequest(c echo.Context, log *slog.Logger, m *metrics, proxies auth.Proxies, id string, latency time.Duration) {
	facts := factsFrom(c.Request().Context())
	operation := facts.operation
	if operation == "" {
		operation = "unmatched"
		if unguarded[c.Path()] {
			operation = c.Path()
		}
	}
	status := c.Response().Status
	m.observe(operation, status, latency.Seconds())
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case operation == "getHealthz" || operation == "getReadyz":
		// A load balancer probing every second would drown the access
		// log; failures of /readyz still log as errors.
		level = slog.LevelDebug
	}
	req := c.Request()
	if !log.Enabled(req.Context(), level) {
		return
	}
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("trace_id", traceID(c)),
		slog.String("operation", operation),
		slog.String("method", req.Method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Duration("latency", latency),
		slog.String("remote_ip", cmp.Or(facts.clientAddress, proxies.ClientIP(req))), // the gate's, when it saw the request
	}
	if p := auth.PrincipalFrom(req.Context()); p != nil {
		attrs = append(attrs, slog.String("principal", p.Subject))
	}
	log.LogAttrs(context.Background(), level, "request", attrs...)
}
