package server

import (
	"context"
	"log/slog"
	"regexp"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/keyplane/keyplane/auth"
)

// operationKey is where the gate leaves the operationId of the request in the
// Echo context, for logs and metrics.
const operationKey = "keyplane.operation"

// traceparent is the W3C trace context header: version-traceid-parentid-flags.
var traceparent = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)

// requestIDPattern is what a client-sent X-Request-Id must look like to be
// kept; anything else is replaced, so logs never carry arbitrary client text.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// assignRequestID assigns each request an id (a valid one sent by the client is
// kept), echoed as X-Request-Id and carried by logs and problems.
func assignRequestID() echo.MiddlewareFunc {
	return middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Skipper: func(c echo.Context) bool {
			if id := c.Request().Header.Get(echo.HeaderXRequestID); id != "" && !requestIDPattern.MatchString(id) {
				c.Request().Header.Del(echo.HeaderXRequestID)
			}
			return false
		},
	})
}

type traceIDKey struct{}

// traceContext accepts a W3C traceparent header, so that logs and problem
// bodies carry the caller's trace id; without one, the request id stands in.
func traceContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if m := traceparent.FindStringSubmatch(c.Request().Header.Get("Traceparent")); m != nil && m[1] != "00000000000000000000000000000000" {
			req := c.Request()
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), traceIDKey{}, m[1])))
		}
		return next(c)
	}
}

// traceID is the request's W3C trace id, or its request id.
func traceID(c echo.Context) string {
	if id, ok := c.Request().Context().Value(traceIDKey{}).(string); ok {
		return id
	}
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// observe writes one structured log line and the metrics of each request.
// It logs the path, never the query or headers, which may carry credentials,
// and the client address the rate limits use (the peer, or the client named
// by a trusted proxy), never a header anyone could forge.
func observe(log *slog.Logger, m *metrics, proxies auth.Proxies) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true, LogRequestID: true,
		LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			operation, _ := c.Get(operationKey).(string)
			if operation == "" {
				operation = "unmatched"
				if unguarded[c.Path()] {
					operation = c.Path()
				}
			}
			m.observe(operation, v.Status, v.Latency.Seconds())
			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelError
			case operation == "getHealthz" || operation == "getReadyz":
				// A load balancer probing every second would drown the
				// access log; failures of /readyz still log as errors.
				level = slog.LevelDebug
			}
			if !log.Enabled(c.Request().Context(), level) {
				return nil
			}
			attrs := []slog.Attr{
				slog.String("request_id", v.RequestID),
				slog.String("trace_id", traceID(c)),
				slog.String("operation", operation),
				slog.String("method", v.Method),
				slog.String("path", v.URIPath),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency),
				slog.String("remote_ip", proxies.ClientIP(c.Request())),
			}
			if p := auth.PrincipalFrom(c.Request().Context()); p != nil {
				attrs = append(attrs, slog.String("principal", p.Subject))
			}
			log.LogAttrs(context.Background(), level, "request", attrs...)
			return nil
		},
	})
}
