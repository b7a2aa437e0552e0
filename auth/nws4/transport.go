package nws4

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper that signs each request, so that any
// http.Client (and every client built on one) speaks NWS4 without changes at
// the call sites. It buffers the body to hash it, preferring req.GetBody, and
// sends exactly the bytes it signed. Redirected requests are signed afresh.
type Transport struct {
	// Base sends the signed request; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Credentials sign every request.
	Credentials Credentials
	// Now returns the signing time; nil means time.Now.
	Now func() time.Time
}

// RoundTrip signs a clone of r (r itself is not modified, as the RoundTripper
// contract requires) and sends it through Base. The body of r is always
// consumed or handed on and closed, including on errors.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var cfg Transport
	if t != nil {
		cfg = *t
	}
	r2 := r.Clone(r.Context())
	body, err := bufferBody(r2)
	if err != nil {
		closeBody(r)
		return nil, fmt.Errorf("nws4: reading request body: %w", err)
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	if err := Sign(r2, body, cfg.Credentials, now()); err != nil {
		closeBody(r2)
		return nil, err
	}
	base := cfg.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}

// RequestEditor returns a function usable as an oapi-codegen client
// RequestEditorFn (func(ctx context.Context, req *http.Request) error) that
// signs the request in place at the current time. It exists for generated
// clients, which accept editors rather than transports.
func RequestEditor(c Credentials) func(ctx context.Context, req *http.Request) error {
	return func(_ context.Context, req *http.Request) error {
		body, err := bufferBody(req)
		if err != nil {
			closeBody(req)
			return fmt.Errorf("nws4: reading request body: %w", err)
		}
		return Sign(req, body, c, time.Now())
	}
}

// bufferBody returns the bytes r will send. With r.GetBody it reads a fresh
// copy and leaves r.Body untouched; otherwise it reads and closes r.Body and
// replaces it (and GetBody and ContentLength) with the buffered bytes.
func bufferBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.GetBody != nil {
		rc, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	_ = r.Body.Close() // everything was read; a close error changes nothing
	r.ContentLength = int64(len(b))
	if len(b) == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return b, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

func closeBody(r *http.Request) {
	if r != nil && r.Body != nil {
		r.Body.Close()
	}
}
