package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"serve", "-no-such-flag"}, 2},
		{[]string{"serve", "extra"}, 2},
		{[]string{"serve", "-log-level", "loud"}, 2},
		{[]string{"help"}, 0},
		{[]string{"serve", "-h"}, 0},
	} {
		if got := run(tc.args, io.Discard, io.Discard); got != tc.code {
			t.Errorf("keyplane %v: exit %d, want %d", tc.args, got, tc.code)
		}
	}
}

// startServe runs `serve` on a free port in dir and returns the printed lines
// (until the server is up), the base URL and a stop function that waits for a
// clean shutdown.
func startServe(t *testing.T, dir string) (lines []string, base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"-addr", "127.0.0.1:0", "-data-dir", dir, "-log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if rest, ok := strings.CutPrefix(line, "keyplane listening on "); ok {
			base = strings.Fields(rest)[0]
		}
		if strings.HasPrefix(line, "root token") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if base == "" {
		cancel()
		t.Fatalf("no address printed: %v (%v)", lines, <-done)
	}
	return lines, base, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}
}

// printedRootToken is the root token that a first start printed among its
// lines of output, or "".
func printedRootToken(lines []string) string {
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "root token (shown once, stored only as a hash): "); ok {
			return rest
		}
	}
	return ""
}

// getStatus is the status of GET base+path, with token as bearer unless "".
func getStatus(t *testing.T, base, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestServeBootstrapsOnce(t *testing.T) {
	dir := t.TempDir()
	lines, base, stop := startServe(t, dir)
	token := printedRootToken(lines)
	if !strings.HasPrefix(token, "kp_root_") {
		t.Fatalf("no root token printed: %v", lines)
	}
	if c := getStatus(t, base, "/readyz", ""); c != 200 {
		t.Fatalf("readyz %d", c)
	}
	if c := getStatus(t, base, "/apikeys", token); c != 200 {
		t.Fatalf("apikeys with the printed token: %d", c)
	}
	stop()

	// Second start on the same data: the token is not shown again, still works.
	lines, base, stop = startServe(t, dir)
	defer stop()
	if strings.Contains(strings.Join(lines, "\n"), "kp_root_") {
		t.Fatalf("token printed again: %v", lines)
	}
	if c := getStatus(t, base, "/apikeys", token); c != 200 {
		t.Fatalf("apikeys after restart: %d", c)
	}
	if c := getStatus(t, base, "/apikeys", token+"x"); c != 401 {
		t.Fatalf("wrong token: %d", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "keyplane.key")); err != nil {
		t.Fatalf("generated secret key: %v", err)
	}
}
