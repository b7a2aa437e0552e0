package connector

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"
	"time"
)

// deniedAddrs holds an address of every special-purpose range the worker
// refuses, and its IPv4-mapped and other embedded forms, by range.
var deniedAddrs = []struct{ rng, addr string }{
	// IPv4 special-purpose registry.
	{"this network 0/8", "0.0.0.0"},
	{"this network 0/8", "0.1.2.3"},
	{"private 10/8", "10.0.0.1"},
	{"private 10/8", "10.255.255.255"},
	{"shared CGNAT 100.64/10", "100.64.0.1"},
	{"shared CGNAT 100.64/10", "100.127.255.254"},
	{"loopback 127/8", "127.0.0.1"},
	{"loopback 127/8", "127.255.255.254"},
	{"link-local 169.254/16", "169.254.169.254"},
	{"private 172.16/12", "172.16.0.1"},
	{"private 172.16/12", "172.31.255.255"},
	{"IETF protocol assignments 192.0.0/24", "192.0.0.1"},
	{"IETF protocol assignments 192.0.0/24", "192.0.0.170"},
	{"TEST-NET-1 192.0.2/24", "192.0.2.1"},
	{"6to4 relay anycast 192.88.99/24", "192.88.99.1"},
	{"private 192.168/16", "192.168.1.1"},
	{"benchmarking 198.18/15", "198.18.0.1"},
	{"benchmarking 198.18/15", "198.19.255.254"},
	{"TEST-NET-2 198.51.100/24", "198.51.100.7"},
	{"TEST-NET-3 203.0.113/24", "203.0.113.7"},
	{"multicast 224/4", "224.0.0.1"},
	{"multicast 224/4", "239.255.255.250"},
	{"reserved 240/4", "240.0.0.1"},
	{"broadcast", "255.255.255.255"},
	// IPv6 special-purpose registry, and what lies outside 2000::/3.
	{"unspecified ::", "::"},
	{"loopback ::1", "::1"},
	{"IPv4-compatible ::/96", "::127.0.0.1"},
	{"IPv4-compatible ::/96", "::8.8.8.8"},
	{"NAT64 64:ff9b::/96", "64:ff9b::7f00:1"},
	{"NAT64 64:ff9b::/96", "64:ff9b::8.8.8.8"},
	{"local NAT64 64:ff9b:1::/48", "64:ff9b:1::a00:1"},
	{"discard-only 100::/64", "100::1"},
	{"Teredo 2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
	{"IETF protocol assignments 2001::/23", "2001:2::1"},
	{"documentation 2001:db8::/32", "2001:db8::1"},
	{"6to4 2002::/16", "2002:7f00:1::1"},
	{"6to4 2002::/16", "2002:808:808::1"},
	{"documentation 3fff::/20", "3fff::1"},
	{"ULA fc00::/7", "fc00::1"},
	{"ULA fc00::/7", "fd12:3456:789a::1"},
	{"link-local fe80::/10", "fe80::1"},
	{"link-local fe80::/10, zoned", "fe80::1%eth0"},
	{"site-local fec0::/10", "fec0::1"},
	{"multicast ff00::/8", "ff02::1"},
	{"multicast ff00::/8", "ff05::1:3"},
	// IPv4-mapped forms are judged as the IPv4 address they carry.
	{"IPv4-mapped loopback", "::ffff:127.0.0.1"},
	{"IPv4-mapped loopback, hex", "::ffff:7f00:1"},
	{"IPv4-mapped private", "::ffff:10.0.0.1"},
	{"IPv4-mapped link-local", "::ffff:169.254.169.254"},
	{"IPv4-mapped CGNAT", "::ffff:100.64.0.1"},
	{"IPv4-mapped this network", "::ffff:0.0.0.0"},
	{"IPv4-mapped broadcast", "::ffff:255.255.255.255"},
}

// publicAddrs are ordinary unicast addresses, several just outside a denied
// range.
var publicAddrs = []string{
	"1.1.1.1", "8.8.8.8", "93.184.216.34", "9.255.255.255", "11.0.0.0",
	"100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0",
	"172.15.255.255", "172.32.0.0", "192.0.1.1", "192.0.3.1", "192.167.255.255", "192.169.0.0",
	"198.17.255.255", "198.20.0.0", "198.51.99.1", "203.0.112.1", "223.255.255.254",
	"2606:4700:4700::1111", "2a00:1450:4001:82b::200e", "2001:4860:4860::8888", "2003::1",
	"::ffff:8.8.8.8", "::ffff:93.184.216.34",
}

// TestCheckAddr: every special-purpose address is refused (ErrPrivateAddress)
// and every public one allowed, IPv4-mapped forms as their IPv4 address.
func TestCheckAddr(t *testing.T) {
	for _, c := range deniedAddrs {
		t.Run(c.rng+" "+c.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(c.addr)
			if err := checkAddr(ip); !errors.Is(err, ErrPrivateAddress) {
				t.Fatalf("checkAddr(%s) = %v, want ErrPrivateAddress", ip, err)
			}
			if PublicAddr(ip) {
				t.Fatalf("PublicAddr(%s) = true", ip)
			}
		})
	}
	for _, a := range publicAddrs {
		t.Run("public "+a, func(t *testing.T) {
			if err := checkAddr(netip.MustParseAddr(a)); err != nil {
				t.Fatalf("checkAddr(%s) = %v, want nil", a, err)
			}
		})
	}
	if PublicAddr(netip.Addr{}) {
		t.Fatal("the zero Addr is public")
	}
}

// TestRefusePrivate: the Control func refuses every special-purpose address
// as the dialer hands it over (host:port after resolution), on any port,
// and lets public ones through. It is called directly: nothing is dialed.
func TestRefusePrivate(t *testing.T) {
	network := func(ip netip.Addr) string {
		if ip.Unmap().Is4() {
			return "tcp4"
		}
		return "tcp6"
	}
	for _, c := range deniedAddrs {
		ip := netip.MustParseAddr(c.addr)
		for _, port := range []uint16{80, 443, 8080, 9} {
			address := netip.AddrPortFrom(ip, port).String()
			if err := RefusePrivate(network(ip), address, nil); !errors.Is(err, ErrPrivateAddress) {
				t.Errorf("%s: RefusePrivate(%s) = %v, want ErrPrivateAddress", c.rng, address, err)
			}
		}
	}
	for _, a := range publicAddrs {
		ip := netip.MustParseAddr(a)
		address := netip.AddrPortFrom(ip, 8443).String()
		if err := RefusePrivate(network(ip), address, nil); err != nil {
			t.Errorf("RefusePrivate(%s) = %v, want nil", address, err)
		}
	}
	for _, c := range []struct{ network, address string }{
		{"udp4", "8.8.8.8:53"}, {"tcp", "8.8.8.8:80"}, {"tcp4", "example.com:80"}, {"tcp4", "8.8.8.8"}, {"tcp4", ""},
	} {
		if err := RefusePrivate(c.network, c.address, nil); !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("RefusePrivate(%s, %q) = %v, want ErrPrivateAddress", c.network, c.address, err)
		}
	}
}

// TestDialerRefusesLoopback: the Control func refuses in the dialer itself,
// before connect: a listener on 127.0.0.1 gets no connection from the
// refused dials (the first one it accepts is a later, unchecked dial).
func TestDialerRefusesLoopback(t *testing.T) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	d := &net.Dialer{Timeout: time.Second, Control: RefusePrivate}
	for _, a := range []string{
		netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String(),
		netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), uint16(port)).String(),
	} {
		if c, err := d.DialContext(t.Context(), "tcp", a); !errors.Is(err, ErrPrivateAddress) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("dial %s: %v, want ErrPrivateAddress", a, err)
		}
	}
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ln.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("the listener first accepted %s, not the unchecked dial from %s: a refused dial connected",
			first.RemoteAddr(), c.LocalAddr())
	}
}

// TestCheckURL: hosts as written in a connector's uri. Numeric-looking hosts
// that are not canonical dotted quads are refused whatever allowPrivate;
// literal special-purpose addresses only without it; names pass.
func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		uri string
		// want without and with allowPrivate
		strict, lax error
	}{
		// Non-canonical numbers.
		{"http://2130706433/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://0x7f000001/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://0X7F000001/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://0177.0.0.1/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://127.1/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://127.0.1/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://0x7f.0.0.1/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://127.0.0.0x1/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://127.000.000.001/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://017700000001/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://0/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://0x/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://127.0.0.1./", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://1.2.3.4.5/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://8.8.2056/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://134744072/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://256.0.0.1/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://hooks.example.com.0x10/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://１２７.０.０.１/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		{"http://０ｘ７ｆ０００００１/", ErrNonCanonicalHost, ErrNonCanonicalHost},
		// Literal special-purpose addresses, canonical.
		{"http://127.0.0.1:8080/hook", ErrPrivateAddress, nil},
		{"http://10.0.0.1/", ErrPrivateAddress, nil},
		{"http://169.254.169.254/latest/meta-data/", ErrPrivateAddress, nil},
		{"http://100.64.0.1/", ErrPrivateAddress, nil},
		{"http://198.18.0.1/", ErrPrivateAddress, nil},
		{"http://0.0.0.0/", ErrPrivateAddress, nil},
		{"http://255.255.255.255/", ErrPrivateAddress, nil},
		{"http://[::1]:8080/", ErrPrivateAddress, nil},
		{"http://[::]/", ErrPrivateAddress, nil},
		{"http://[::ffff:127.0.0.1]/", ErrPrivateAddress, nil},
		{"http://[::ffff:7f00:1]/", ErrPrivateAddress, nil},
		{"http://[0:0:0:0:0:ffff:169.254.169.254]/", ErrPrivateAddress, nil},
		{"http://[64:ff9b::127.0.0.1]/", ErrPrivateAddress, nil},
		{"http://[2002:7f00:1::1]/", ErrPrivateAddress, nil},
		{"http://[fd00::1]/", ErrPrivateAddress, nil},
		{"http://[fec0::1]/", ErrPrivateAddress, nil},
		{"http://[fe80::1%25eth0]/", ErrPrivateAddress, nil},
		// Public literals and names.
		{"https://93.184.216.34/hook", nil, nil},
		{"https://8.8.8.8:8443/", nil, nil},
		{"https://[2606:4700:4700::1111]/", nil, nil},
		{"https://[::ffff:8.8.8.8]/", nil, nil},
		{"https://hooks.example.com/k", nil, nil},
		{"https://HOOKS.Example.COM./k", nil, nil},
		{"https://localhost:8080/", nil, nil}, // a name: refused when dialed, if it resolves to loopback
		{"https://127.0.0.1.nip.io/", nil, nil},
		{"https://0x7f.example.com/", nil, nil},
		{"https://1e100.net/", nil, nil},
		{"https://123.example/", nil, nil},
		{"https://exämple.com/", nil, nil},
	} {
		u, err := url.Parse(c.uri)
		if err != nil {
			t.Fatalf("%s: %v", c.uri, err)
		}
		for _, allow := range []bool{false, true} {
			want := c.strict
			if allow {
				want = c.lax
			}
			got := CheckURL(u, allow)
			if (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
				t.Errorf("CheckURL(%s, allowPrivate %v) = %v, want %v", c.uri, allow, got, want)
			}
		}
	}
}
