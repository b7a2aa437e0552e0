package delivery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrPrivateAddress is a webhook destination the worker refuses to dial
// without AllowPrivate: loopback, private, link-local, unspecified,
// multicast or shared (CGNAT) addresses, which would let a connector's URI
// reach the service's own network (SSRF).
var ErrPrivateAddress = errors.New("destination address is not public")

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether ip may be dialed by default.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() &&
		!ip.IsUnspecified() && !sharedSpace.Contains(ip) && !(ip.Is4() && ip.As4()[0] == 0)
}

// refusePrivate is a net.Dialer Control: it runs after name resolution, on
// the address actually dialed, so a public name resolving to a private
// address (DNS rebinding included) is refused too.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !publicAddr(ip) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, host)
	}
	return nil
}
