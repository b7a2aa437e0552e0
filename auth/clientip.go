package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For the service trusts.
// Rate limits key on the client's address: behind a proxy the connection's
// peer is the proxy, shared by every client, so the client is taken from the
// forwarded chain instead, but only past proxies that are trusted (anyone can
// send the header).
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of addresses or CIDR prefixes
// (KEYPLANE_TRUSTED_PROXIES); empty means none.
func ParseProxies(s string) (Proxies, error) {
	var ps Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			addr, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			ps = append(ps, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (ps Proxies) trusts(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// ClientIP is the address the request came from: the connection's peer, or,
// when the peer is a trusted proxy, the nearest address in X-Forwarded-For
// that is not a trusted proxy.
func (ps Proxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(ps) == 0 { // no proxy trusted: the peer, without parsing it
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !ps.trusts(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a malformed chain: fall back to what we know
		}
		if !ps.trusts(hop) {
			return hop.Unmap().String()
		}
	}
	return host
}
