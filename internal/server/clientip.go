package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIPKey carries the client address the middleware resolved.
type clientIPKey struct{}

// clientIP is the address of the client behind r, as the middleware
// resolved it (see resolveClientIP); the socket's peer for a request that did
// not pass through the middleware.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return peerIP(r)
}

func withClientIP(r *http.Request, trusted []netip.Prefix) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), clientIPKey{}, resolveClientIP(r, trusted)))
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// resolveClientIP returns the socket's peer address unless the peer is a
// trusted proxy. Then X-Forwarded-For is read from the right, skipping
// trusted proxies, and the first address that is not one is the client:
// everything left of it was written by the client and can be anything. A
// malformed entry ends the walk at the last trusted hop; a chain of trusted
// proxies only gives its leftmost.
func resolveClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := peerIP(r)
	if len(trusted) == 0 {
		return peer
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			break
		}
	}
	return client.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads --trusted-proxy values: CIDRs, or single
// addresses (taken as /32 or /128).
func ParseTrustedProxies(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, &net.ParseError{Type: "CIDR address", Text: v}
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
