// Package egress guards the requests PolyBot makes to addresses its users
// choose — news feeds, notification webhooks, an IBKR tenant's Client
// Portal gateway — so that a user cannot make the server reach its own
// network: loopback, private, link-local, shared (CGNAT), multicast and
// unspecified addresses are refused, checked on the address actually
// dialled (so neither DNS nor a redirect gets around it). A self-hosted
// PolyBot, or the simulators, may allow them.
//
// It imports only the standard library.
package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

var sharedAddrs = netip.MustParsePrefix("100.64.0.0/10")

// IsPublic reports whether ip is an address a user's URL may reach.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() &&
		!ip.IsUnspecified() && !sharedAddrs.Contains(ip) && !(ip.Is4() && ip.As4()[0] == 0)
}

// Control is a net.Dialer Control that refuses a connection to an address
// that is not public.
func Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !IsPublic(ip) {
		return fmt.Errorf("address %s is not public", ip.Unmap())
	}
	return nil
}

// Dialer is a dialer with timeout that, unless allowPrivate, dials public
// addresses only.
func Dialer(timeout time.Duration, allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = Control
	}
	return d
}

// CheckURL resolves rawURL's host and reports, as an error naming the
// first address that is not public, whether a request to it would be
// refused: the early, explainable form of Control's refusal (a user
// entering the URL is told at once).
func CheckURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%q is not a URL with a host", rawURL)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname()); err != nil {
		return fmt.Errorf("%s does not resolve: %w", u.Hostname(), err)
	}
	for _, ip := range addrs {
		if !IsPublic(ip) {
			return fmt.Errorf("%s is %s, not a public address", u.Hostname(), ip.Unmap())
		}
	}
	return nil
}
