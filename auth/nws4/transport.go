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
//
// Timestamps have millisecond resolution, so two identical requests signed in
// the same millisecond would share a signature and the server would reject the
// second as a replay. A Transport therefore never issues the same timestamp
// twice: each request is signed at Now truncated to the millisecond or, if that
// is not after the previous request's timestamp (concurrent requests, or a
// clock that went backwards), one millisecond after it. This holds only within
// one Transport: share one Transport per credential (it is safe for concurrent
// use), or give each process its own key. A Transport must not be copied after
// first use; the zero Transport is ready to use. A nil *Transport signs with the
// zero configuration at time.Now, without that guarantee.
type Transport struct {
	// Base sends the signed request; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Credentials sign every request.
	Credentials Credentials
	// Now returns the base signing time, made strictly increasing as above;
	// nil means time.Now.
	Now func() time.Time

	clock monoClock // the last timestamp issued; reached through the pointer
}

// RoundTrip signs a clone of r (r itself is not modified, as the RoundTripper
// contract requires) and sends it through Base. The body of r is always
// consumed or handed on and closed, including on errors.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	// The fields are read through t rather than copied from *t, which would copy
	// the clock's mutex and fork its state.
	var (
		base  http.RoundTripper
		creds Credentials
		now   = time.Now
		clock *monoClock // nil for a nil *Transport: no state to keep
	)
	if t != nil {
		base, creds, clock = t.Base, t.Credentials, &t.clock
		if t.Now != nil {
			now = t.Now
		}
	}
	r2 := r.Clone(r.Context())
	body, err := bufferBody(r2)
	if err != nil {
		closeBody(r)
		return nil, fmt.Errorf("nws4: reading request body: %w", err)
	}
	if err := Sign(r2, body, creds, clock.next(now())); err != nil {
		closeBody(r2)
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}

// RequestEditor returns a function usable as an oapi-codegen client
// RequestEditorFn (func(ctx context.Context, req *http.Request) error) that
// signs the request in place at the current time. It exists for generated
// clients, which accept editors rather than transports.
//
// Like a Transport, each returned function never issues the same timestamp
// twice, so no two requests it signs share a signature: within a millisecond,
// or when the clock goes backwards, it signs one millisecond after the previous
// request. The guarantee holds only per function: call RequestEditor once per
// credential and share the result (it is safe for concurrent use), rather than
// once per client.
func RequestEditor(c Credentials) func(ctx context.Context, req *http.Request) error {
	return requestEditor(c, time.Now)
}

// requestEditor is RequestEditor with the base time taken from now, so that the
// tests can freeze it.
func requestEditor(c Credentials, now func() time.Time) func(ctx context.Context, req *http.Request) error {
	clock := new(monoClock) // one per editor, shared by every request it signs
	return func(_ context.Context, req *http.Request) error {
		body, err := bufferBody(req)
		if err != nil {
			closeBody(req)
			return fmt.Errorf("nws4: reading request body: %w", err)
		}
		return Sign(req, body, c, clock.next(now()))
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
