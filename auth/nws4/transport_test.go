package nws4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// verifyingServer answers 204 to requests that verify with creds, and 401 with
// the challenge and the error otherwise. It records the last request target.
func verifyingServer(t *testing.T, creds Credentials, v *Verifier) (*httptest.Server, *string) {
	t.Helper()
	var last string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = r.RequestURI
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var a *Authorization
			a, err = ParseAuthorization(strings.Join(r.Header.Values("Authorization"), ","))
			if err == nil {
				if a.Credential != creds.ClientID {
					err = errors.New("unknown credential")
				} else {
					err = v.Verify(r, a, body, creds.Secret)
				}
			}
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", Challenge)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func TestTransportRoundTrip(t *testing.T) {
	srv, last := verifyingServer(t, keyA, &Verifier{})
	client := &http.Client{Transport: &Transport{Credentials: keyA}}
	tests := []struct {
		name, method, path string
		body               io.Reader
		header             http.Header
		wantTarget         string // "" = not checked
	}{
		{name: "GET without body", method: "GET", path: "/api/user"},
		{name: "empty path", method: "GET", path: ""},
		{name: "POST with body", method: "POST", path: "/api/user", body: strings.NewReader(`{"name":"John"}`),
			header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}},
		{name: "POST body without GetBody", method: "POST", path: "/upload",
			body: io.MultiReader(strings.NewReader("part one, "), strings.NewReader("part two"))},
		{name: "PUT with empty body", method: "PUT", path: "/x", body: strings.NewReader("")},
		{name: "path with space", method: "GET", path: "/a b/c", wantTarget: "/a%20b/c"},
		{name: "path with escapes", method: "GET", path: "/a%2Fb/%7E/c:d@e/%C3%A9", wantTarget: "/a%2Fb/%7E/c:d@e/%C3%A9"},
		{name: "query with semicolon", method: "GET", path: "/q?a=1;b=2&c=3", wantTarget: "/q?a=1;b=2&c=3"},
		{name: "query with dollar", method: "GET", path: "/api/user?i=1$ref=1&validate", wantTarget: "/api/user?i=1$ref=1&validate"},
		{name: "repeated keys", method: "GET", path: "/q?k=2&k=1&k=3&a=0"},
		{name: "plus and escaped space", method: "GET", path: "/q?r=x+y&q=a%20b&p=%2B"},
		{name: "empty pieces", method: "GET", path: "/q?&&=&a==b"},
		{name: "repeated header lines", method: "GET", path: "/h",
			header: http.Header{"Accept": {"text/plain", "application/json"}, "X-Tenant": {" spaced   out "}}},
		{name: "underscore header", method: "DELETE", path: "/h", header: http.Header{"__tenant": {"39ff67bf"}}},
		{name: "multi-valued and empty User-Agent", method: "GET", path: "/ua", header: http.Header{"User-Agent": {"one", "two"}}},
		{name: "suppressed User-Agent", method: "GET", path: "/ua", header: http.Header{"User-Agent": {""}}},
		{name: "hop-by-hop and stale auth", method: "POST", path: "/hop", body: strings.NewReader("b"),
			header: http.Header{"Connection": {"keep-alive"}, "Authorization": {"Bearer stale"}, "Content-Length": {"999"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			for k, vv := range tt.header {
				req.Header[k] = append([]string(nil), vv...)
			}
			before := req.Header.Clone()
			resp, msg := send(t, client, req)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %s: %s", resp.Status, msg)
			}
			if tt.wantTarget != "" && *last != tt.wantTarget {
				t.Errorf("request-target %q, want %q", *last, tt.wantTarget)
			}
			// RoundTripper contract: the caller's request is not modified.
			if len(req.Header) != len(before) || req.Header.Get("Authorization") != before.Get("Authorization") {
				t.Errorf("request headers modified: %v", req.Header)
			}
		})
	}
}

func TestTransportFailure(t *testing.T) {
	srv, _ := verifyingServer(t, keyA, &Verifier{})
	client := &http.Client{Transport: &Transport{Credentials: Credentials{ClientID: keyA.ClientID, Secret: "wrong"}}}
	resp, _ := send(t, client, get(t, srv.URL+"/x"))
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != Challenge {
		t.Fatalf("status %s, challenge %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}

	// A clock off by more than 150 s is refused by the server.
	client = &http.Client{Transport: &Transport{Credentials: keyA, Now: func() time.Time { return time.Now().Add(-3 * time.Minute) }}}
	resp, msg := send(t, client, get(t, srv.URL+"/x"))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(msg, "expired") {
		t.Fatalf("status %s: %s", resp.Status, msg)
	}
}

// send sends req with client: its response, the body read and closed.
func send(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(msg)
}

// get is a GET of target.
func get(t *testing.T, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

type errReader struct{ closed bool }

func (r *errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }
func (r *errReader) Close() error             { r.closed = true; return nil }

func TestTransportBodyError(t *testing.T) {
	body := &errReader{}
	req, _ := http.NewRequest("POST", "http://example.com/", body)
	called := false
	tr := &Transport{Credentials: keyA, Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return nil, nil
	})}
	if _, err := tr.RoundTrip(req); err == nil || called {
		t.Fatalf("err = %v, base called = %v", err, called)
	}
	if !body.closed {
		t.Error("body not closed on error")
	}
}

func TestTransportSignsExactly(t *testing.T) {
	v := vectors[0]
	var got *http.Request
	var sent []byte
	tr := &Transport{
		Credentials: v.creds,
		Now:         func() time.Time { return mustTime(t, v.ts) },
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			sent, _ = io.ReadAll(r.Body)
			return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
		}),
	}
	req := v.clientRequest(t)
	req.GetBody = nil // force the buffering path
	if _, err := tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if got.Header.Get("Authorization") != v.auth {
		t.Errorf("Authorization = %s", got.Header.Get("Authorization"))
	}
	if !bytes.Equal(sent, v.body) || got.ContentLength != int64(len(v.body)) {
		t.Errorf("sent %q (ContentLength %d)", sent, got.ContentLength)
	}
	if req.Header.Get("Authorization") != "" || req.Header.Get("x-nd-date") != "" {
		t.Error("original request modified")
	}
}

func TestRequestEditor(t *testing.T) {
	srv, _ := verifyingServer(t, keyB, &Verifier{})
	edit := RequestEditor(keyB)
	for _, body := range []io.Reader{nil, strings.NewReader("hello"), io.MultiReader(strings.NewReader("no GetBody"))} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/x?y=1", body)
		if err := edit(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(req.Header.Get("Authorization"), Scheme+" Credential%3D"+keyB.ClientID) {
			t.Fatalf("Authorization = %q", req.Header.Get("Authorization"))
		}
		resp, msg := send(t, http.DefaultClient, req)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %s: %s", resp.Status, msg)
		}
	}
}

func TestSignHeaders(t *testing.T) {
	now := mustTime(t, "2024-01-02T03:04:05.678Z")
	req, _ := http.NewRequest("GET", "http://Example.COM:80/p", nil)
	req.Host = ""
	req.Header = http.Header{
		"Authorization":     {"Bearer old"},
		"authorization":     {"Bearer older"},
		"x-nd-date":         {"stale"},
		"Connection":        {"close"},
		"Content-Length":    {"0"},
		"Transfer-Encoding": {"chunked"},
		"User-Agent":        {"ua/1", "ua/2"},
		"X-A":               {"1"},
		"x-a":               {"2"},
	}
	s, err := sign(req, nil, keyA, now)
	if err != nil {
		t.Fatal(err)
	}
	if req.Host != "example.com" {
		t.Errorf("Host = %q", req.Host)
	}
	if s.signedHeaders != "host;user-agent;x-a;x-nd-content-sha256;x-nd-date" {
		t.Errorf("signed headers = %q", s.signedHeaders)
	}
	if !strings.Contains(s.canonicalRequest, "\nuser-agent:ua/1\nx-a:1,2\n") {
		t.Errorf("canonical request %q", s.canonicalRequest)
	}
	if len(req.Header.Values("Authorization")) != 1 || req.Header["authorization"] != nil || req.Header["x-nd-date"] != nil {
		t.Errorf("old headers kept: %v", req.Header)
	}
	if req.Header.Get("X-Nd-Date") != "2024-01-02T03:04:05.678Z" {
		t.Errorf("x-nd-date = %q", req.Header.Get("X-Nd-Date"))
	}

	// A user-set Host is kept as is.
	req, _ = http.NewRequest("GET", "http://h/", nil)
	req.Host = "Other.Example:8443"
	if _, err := sign(req, nil, keyA, now); err != nil || req.Host != "Other.Example:8443" {
		t.Errorf("Host = %q, %v", req.Host, err)
	}

	// Errors, leaving the request unmodified.
	bad := []*http.Request{
		nil,
		{Header: http.Header{}},
		{URL: mustURL(t, "/relative"), Header: http.Header{}},
		{URL: mustURL(t, "http://bücher.example/"), Header: http.Header{}},
	}
	for i, r := range bad {
		if err := Sign(r, nil, keyA, now); err == nil {
			t.Errorf("bad request %d: no error", i)
		} else if r != nil && len(r.Header) != 0 {
			t.Errorf("bad request %d modified: %v", i, r.Header)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
