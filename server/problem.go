package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/ingest"
	"github.com/keyplane/keyplane/limits"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
)

// Portos error codes carried in a problem's errorCode.
const (
	codeUnauthenticated         = 1
	codeUnauthorized            = 2
	codeValidationFailed        = 3
	codeResourceLocked          = 5
	codeResourceVersionMismatch = 6
)

// problemContentType is the media type of every error body (RFC 7807).
const problemContentType = "application/problem+json"

// Problem is an error that knows how it reaches the client: a status, a
// detail, and the Portos errorCode and member errors. Handlers return one (or
// a store error that problemFor maps); handleError writes it.
type Problem struct {
	Status int
	Detail string
	Code   int
	Errors []gen.ProblemError
	Header http.Header
	cause  error
	// denied records the refusal in the audit log even when the status
	// hides it (a 404 to a caller outside the resource's organization).
	denied bool
	// org is the organization a 403 was refused in, whose audit log
	// records it ("" for a platform-level refusal).
	org string
}

func (p *Problem) Error() string {
	if p.cause != nil {
		return fmt.Sprintf("%d %s: %v", p.Status, p.Detail, p.cause)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Detail)
}

func (p *Problem) Unwrap() error { return p.cause }

func problemf(status, code int, format string, args ...any) *Problem {
	return &Problem{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// invalid is a 400 whose errors name the offending members.
func invalid(errs ...gen.ProblemError) *Problem {
	p := &Problem{Status: http.StatusBadRequest, Code: codeValidationFailed, Errors: errs}
	if len(errs) > 0 {
		p.Detail = errs[0].MemberName + ": " + errs[0].Message
	}
	return p
}

// exactlyOne is the 400 of a request that gives both or neither of two
// members that exclude each other (a, b: their names as the errors show
// them, JSON pointers for body members).
func exactlyOne(a, b string) *Problem {
	msg := fmt.Sprintf("give exactly one of %s and %s", strings.TrimPrefix(a, "/"), strings.TrimPrefix(b, "/"))
	return invalid(gen.ProblemError{MemberName: a, Message: msg, Code: new("oneOf")},
		gen.ProblemError{MemberName: b, Message: msg, Code: new("oneOf")})
}

// conflict explains a conflict (a name taken, a resource still in use) with
// a detail made of format and args; other errors pass through.
func conflict(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return &Problem{Status: http.StatusConflict, Detail: fmt.Sprintf(format, args...), cause: err}
	}
	return err
}

// forbidden is the 403 for a principal outside the scope of the operation,
// refused at platform level.
func forbidden(format string, args ...any) *Problem {
	return problemf(http.StatusForbidden, codeUnauthorized, format, args...)
}

// forbiddenIn is forbidden inside organization org ("" for platform level),
// whose audit log records the refusal.
func forbiddenIn(org, format string, args ...any) *Problem {
	p := forbidden(format, args...)
	p.org = org
	return p
}

// problemFor maps any error a handler or middleware returns to a Problem.
func problemFor(err error) *Problem {
	var p *Problem
	var nerr *ndata.Error
	var herr *echo.HTTPError
	var fail *auth.Failure
	var limited *auth.RateLimited
	var exceeded *limits.Exceeded
	var inv *ingest.Invalid
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &fail):
		return &Problem{Status: http.StatusUnauthorized, Code: codeUnauthenticated, Detail: fail.Reason, cause: err,
			Header: http.Header{"Www-Authenticate": auth.Challenges}}
	case errors.As(err, &exceeded):
		return &Problem{Status: http.StatusTooManyRequests, Detail: "rate limit exceeded", cause: err,
			Header: http.Header{"Retry-After": {strconv.FormatInt(max(ceilSeconds(exceeded.Decision.RetryAfter), 1), 10)}}}
	case errors.As(err, &limited):
		secs := int(limited.RetryAfter.Round(time.Second) / time.Second)
		return &Problem{Status: http.StatusTooManyRequests, Detail: "too many failed authentications; retry later", cause: err,
			Header: http.Header{"Retry-After": {strconv.Itoa(max(secs, 1))}}}
	case errors.As(err, &nerr):
		errs := make([]gen.ProblemError, len(nerr.Errors))
		for i, fe := range nerr.Errors {
			errs[i] = gen.ProblemError{MemberName: fe.Member, Message: fe.Message, Code: new(fe.Code)}
		}
		return invalid(errs...)
	case errors.Is(err, store.ErrNotFound):
		return &Problem{Status: http.StatusNotFound, cause: err}
	case errors.Is(err, store.ErrVersionMismatch):
		return &Problem{Status: http.StatusConflict, Code: codeResourceVersionMismatch,
			Detail: "the resource changed since it was read; read it again and retry", cause: err}
	case errors.Is(err, store.ErrReferenceGone):
		return &Problem{Status: http.StatusConflict, Detail: "a resource this request refers to was deleted meanwhile; check it and retry", cause: err}
	case errors.As(err, &inv):
		errs := make([]gen.ProblemError, len(inv.Errors))
		for i, fe := range inv.Errors {
			errs[i] = gen.ProblemError{MemberName: fe.Member, Message: fe.Message, Code: nonEmpty(fe.Code)}
		}
		p := invalid(errs...)
		if inv.Detail != "" {
			p.Detail = inv.Detail
		}
		p.cause = err
		return p
	case errors.Is(err, ingest.ErrKeyReused):
		return &Problem{Status: http.StatusConflict, Detail: err.Error(), cause: err}
	case errors.Is(err, store.ErrLastOwner):
		return &Problem{Status: http.StatusConflict, Detail: "an organization keeps at least one owner: make another member owner first", cause: err}
	case errors.Is(err, store.ErrPreviousSecretInGrace):
		return &Problem{Status: http.StatusConflict, Detail: "the previous secret is still in its grace period; rotate again with endPreviousGrace (or wait until previousSecretExpiresAt)", cause: err}
	case errors.Is(err, store.ErrConflict):
		return &Problem{Status: http.StatusConflict, Detail: "a resource with this identity already exists", cause: err}
	case errors.As(err, &herr):
		p := &Problem{Status: herr.Code, cause: herr.Internal}
		if msg, ok := herr.Message.(string); ok && herr.Code < 500 {
			p.Detail = msg
		}
		if herr.Code == http.StatusBadRequest {
			p.Code = codeValidationFailed
		}
		return p
	case errors.Is(err, context.Canceled):
		return &Problem{Status: statusClientClosedRequest, Detail: "the client closed the request", cause: err}
	case store.Unavailable(err):
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "database unavailable; retry later", cause: err,
			Header: http.Header{"Retry-After": {strconv.Itoa(retryUnavailable)}}}
	default:
		return &Problem{Status: http.StatusInternalServerError, cause: err}
	}
}

// statusClientClosedRequest is nginx's 499: the client went away before the
// answer, which is neither its error nor ours. Nobody reads the body.
const statusClientClosedRequest = 499

// retryUnavailable is the Retry-After of a 503, in seconds: long enough for
// a database failover or a restart, short enough not to stall clients.
const retryUnavailable = 5

// handleError is Echo's HTTPErrorHandler: every error, from any layer, leaves
// as one problem+json body.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemFor(err)
	req := c.Request()
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	s.countAuthFailure(err)
	switch {
	case p.Status == statusClientClosedRequest && req.Context().Err() != nil:
		s.log.InfoContext(req.Context(), "client closed the request", "request_id", reqID, "method", req.Method, "path", req.URL.Path)
		c.Response().WriteHeader(statusClientClosedRequest)
		return
	case p.Status == statusClientClosedRequest:
		p = &Problem{Status: http.StatusInternalServerError, cause: err} // canceled, but not by the client
		fallthrough
	case p.Status >= 500:
		s.log.ErrorContext(req.Context(), "request failed", "request_id", reqID, "method", req.Method,
			"path", req.URL.Path, "status", p.Status, "err", err)
	}
	body := gen.Problem{
		Type:      new("about:blank"),
		Title:     title(req.Header.Get("Accept-Language"), p.Status),
		Status:    p.Status,
		Instance:  new(req.URL.Path),
		TraceId:   new(traceID(c)),
		ErrorCode: nonZero(p.Code),
		// akenza's error fields, which its clients read.
		Timestamp: new(time.Now().UTC().Truncate(time.Millisecond)),
		Path:      new(req.URL.Path),
		Error:     new(http.StatusText(p.Status)),
		RequestId: new(reqID),
		ErrorId:   new(uuid.NewString()),
	}
	body.Message = new(body.Title) // akenza's clients read message on every error
	if p.Detail != "" {
		body.Detail = new(p.Detail)
		body.Message = new(p.Detail)
	}
	operation := factsFrom(req.Context()).operation
	switch {
	case p.Status == http.StatusForbidden:
		body.Message = new("Permission denied")
		s.auditDenied(req.Context(), p.org, operation, p.Detail)
	case p.denied:
		s.auditDenied(req.Context(), "", operation, "outside the caller's organizations")
	}
	if len(p.Errors) > 0 {
		body.Errors = &p.Errors
	}
	for k, vs := range p.Header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	data, jerr := json.Marshal(body)
	if jerr != nil {
		s.log.ErrorContext(req.Context(), "encode problem", "request_id", reqID, "err", jerr)
		data = []byte(`{"title":"Internal Server Error","status":500}`)
	}
	if req.Method == http.MethodHead {
		err = c.NoContent(p.Status)
	} else {
		err = c.Blob(p.Status, problemContentType, data)
	}
	if err != nil {
		s.log.WarnContext(req.Context(), "write problem", "request_id", reqID, "err", err)
	}
}

// countAuthFailure counts failed and rate-limited authentications by reason.
func (s *Server) countAuthFailure(err error) {
	var fail *auth.Failure
	var limited *auth.RateLimited
	switch {
	case errors.As(err, &fail):
		s.metrics.authFailures.WithLabelValues(fail.Scheme, fail.Reason).Inc()
	case errors.As(err, &limited):
		s.metrics.authFailures.WithLabelValues("any", "rate_limited").Inc()
	}
}
