package connector

// This file is the address policy of every kind that dials out (SSRF): what
// a connector's destination may be when it is configured (CheckURL) and
// what the dialer may connect to when it delivers (RefusePrivate). It lives
// here, below both the server and the delivery worker, so that a kind's
// Configure and its Deliver judge addresses alike; package delivery's
// dial.go holds the same code until it is made to point here.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
	"golang.org/x/net/idna"
)

// ErrPrivateAddress is a connector destination the worker refuses to dial
// without AllowPrivate: any special-purpose address of the IANA IPv4 and
// IPv6 special-purpose registries (loopback, private, link-local, shared
// CGNAT, benchmarking, documentation, reserved, broadcast, multicast,
// NAT64, 6to4, Teredo, ULA, site-local, …), which would let a connector's
// destination reach the service's own network (SSRF).
var ErrPrivateAddress = errors.New("destination address is not public")

// ErrNonCanonicalHost is a destination host that looks like a number but is not
// a canonical dotted quad nor a bracketed IPv6 literal (2130706433,
// 0x7f000001, 0177.0.0.1, 127.1, …): resolvers read such hosts as
// addresses, so they only serve to disguise one.
var ErrNonCanonicalHost = errors.New("host is a non-canonical numeric address")

// guardian holds the denied ranges: code.dny.dev/ssrf keeps them in step with
// the IANA registries (every IPv4 special-purpose prefix; for IPv6,
// everything outside 2000::/3 and the special-purpose prefixes inside it).
// Ports are not its business here: a connector may use any port. A Guardian
// is immutable and safe for concurrent use.
var guardian = ssrf.New(ssrf.WithAnyPort())

// canonicalAddr unmaps an IPv4-mapped IPv6 address (::ffff:a.b.c.d), which
// the kernel dials as the IPv4 address it embeds, so that it is judged as
// that address. The other embeddings of IPv4 (IPv4-compatible ::/96, NAT64
// 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) are
// special-purpose prefixes of their own, denied whatever address they carry.
func canonicalAddr(ip netip.Addr) netip.Addr {
	return ip.Unmap()
}

// checkAddr says why ip may not be dialed by default, or nil when it is
// public.
func checkAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrPrivateAddress)
	}
	if ip.Zone() != "" {
		// A zone scopes the address to one link of this host.
		return fmt.Errorf("%w: %s is scoped to a link", ErrPrivateAddress, ip)
	}
	if err := guardian.SafeAddr(canonicalAddr(ip)); err != nil {
		return fmt.Errorf("%w: %w", ErrPrivateAddress, err)
	}
	return nil
}

// PublicAddr reports whether ip may be dialed without AllowPrivate: it is
// not a special-purpose address, once an IPv4-mapped form is unmapped.
func PublicAddr(ip netip.Addr) bool {
	return checkAddr(ip) == nil
}

// RefusePrivate is a net.Dialer Control: it runs after name resolution, on
// the address actually dialed and before any packet is sent (the socket
// exists, connect has not run), so a public name resolving to a
// special-purpose address (DNS rebinding included) is refused too. Only TCP
// over IPv4 or IPv6 is dialed.
func RefusePrivate(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrPrivateAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	return checkAddr(ap.Addr())
}

// CheckURL judges the host of a destination URL as written (a webhook uri,
// an MQTT brokerUrl), when a connector
// is created or updated: a numeric-looking host must be a canonical dotted
// quad, and an IPv6 literal must be bracketed, else ErrNonCanonicalHost
// (whatever allowPrivate); an address literal must be public unless
// allowPrivate, else ErrPrivateAddress. A name passes: what it resolves to
// is checked when it is dialed (RefusePrivate). A non-ASCII host is judged
// as the HTTP client dials it, mapped by IDNA: full-width digits are
// digits, so "１２７.０.０.１" is a non-canonical 127.0.0.1.
func CheckURL(u *url.URL, allowPrivate bool) error {
	written := u.Hostname()
	host := written
	if strings.HasPrefix(u.Host, "[") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() {
			return fmt.Errorf("%w: [%s] is not an IPv6 address", ErrNonCanonicalHost, host)
		}
		if allowPrivate {
			return nil
		}
		return checkAddr(ip)
	}
	if !isASCII(host) {
		if ascii, err := idna.Lookup.ToASCII(host); err == nil {
			host = ascii
		}
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("%w: an IPv6 address needs brackets", ErrNonCanonicalHost)
	}
	if !numericLooking(host) {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() || ip.String() != written {
		return fmt.Errorf("%w: %s", ErrNonCanonicalHost, written)
	}
	if allowPrivate {
		return nil
	}
	return checkAddr(ip)
}

// numericLooking tells whether a resolver or URL parser may read host as an
// IPv4 address: its last label (a trailing dot aside) is decimal, or hex
// with 0x, as the WHATWG URL standard's "ends in a number" (inet_aton reads
// the same forms, octal included, and fewer than four parts). No top-level
// domain is numeric, so no name is refused.
func numericLooking(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Dialer is the dialer of deliveries: TCP with a 5 s connect timeout and
// keep-alives, whose Control is RefusePrivate unless allowPrivate.
func Dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = RefusePrivate
	}
	return d
}
