package auth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/keyplane/keyplane/auth"
)

func TestClientIP(t *testing.T) {
	proxies, err := auth.ParseProxies("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		forwarded  []string
		want       string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"behind a trusted proxy", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"nearest untrusted hop wins", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "192.168.1.1:80", []string{"1.1.1.1", "198.51.100.2"}, "198.51.100.2"},
		{"only proxies", "10.1.2.3:80", []string{"10.0.0.1"}, "10.1.2.3"},
		{"no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"malformed chain", "10.1.2.3:80", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"IPv4-mapped IPv6 peer", "[::ffff:10.1.2.3]:80", []string{"198.51.100.3"}, "198.51.100.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, f := range tc.forwarded {
			r.Header.Add("X-Forwarded-For", f)
		}
		if got := proxies.ClientIP(r); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := auth.ParseProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix parsed")
	}
	if ps, err := auth.ParseProxies(""); err != nil || len(ps) != 0 {
		t.Errorf("empty: %v %v", ps, err)
	}
}
