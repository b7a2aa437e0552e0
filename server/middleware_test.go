package server

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/keyplane/keyplane/auth"
)

// TestObserveRecovers: a handler that panics is answered 500 and logged
// with its stack as an error; the process goes on, and net/http's own
// abort still aborts.
func TestObserveRecovers(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	e := echo.New()
	e.Use(observe(log, newMetrics(nil, nil), auth.Proxies{}))
	e.GET("/boom", func(echo.Context) error { panic(errors.New("handler bug")) })
	e.GET("/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("panicking handler: status %d, want 500", rec.Code)
	}
	if rec.Header().Get(echo.HeaderXRequestID) == "" {
		t.Error("panicking handler: no X-Request-Id")
	}
	if line := logs.String(); !strings.Contains(line, `"status":500`) || !strings.Contains(line, `"level":"ERROR"`) {
		t.Errorf("access log %s, want an ERROR line with status 500", line)
	}

	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("ErrAbortHandler: recovered %v, want it to propagate", r)
		}
	}()
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
}

// TestLimitBody: a declared length over the cap is refused before the body
// is read, an undeclared (chunked) one when it is read past the cap; the bulk
// backfill has its own, larger cap; a body within the cap reads whole.
func TestLimitBody(t *testing.T) {
	limit, err := limitBody("10", "20")
	if err != nil {
		t.Fatal(err)
	}
	read := func(c echo.Context) error {
		b := new(bytes.Buffer)
		if _, err := b.ReadFrom(c.Request().Body); err != nil {
			return err
		}
		return c.String(http.StatusOK, b.String())
	}
	e := echo.New()
	e.Use(limit)
	e.POST("/x", read)
	e.POST(bulkRoute, read)
	for _, tc := range []struct {
		name, path, body string
		chunked          bool
		want             int
	}{
		{"within the cap", "/x", "0123456789", false, 200},
		{"declared over the cap", "/x", "0123456789a", false, 413},
		{"chunked over the cap", "/x", "0123456789a", true, 413},
		{"bulk within its cap", bulkRoute, "0123456789abcdefghij", true, 200},
		{"bulk over its cap", bulkRoute, "0123456789abcdefghijk", true, 413},
	} {
		r := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
		if tc.chunked {
			r.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		if rec.Code != tc.want || tc.want == 200 && rec.Body.String() != tc.body {
			t.Errorf("%s: %d %q, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
}
