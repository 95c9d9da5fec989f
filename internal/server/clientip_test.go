package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolveClientIPBelievesXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		peer    string
		xff     []string // X-Forwarded-For header values, in order
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies configured: the socket address, whatever the header says", "203.0.113.7:5000", []string{"1.2.3.4"}, nil, "203.0.113.7"},
		{"an untrusted peer cannot claim an address", "203.0.113.7:5000", []string{"198.51.100.9"}, trusted, "203.0.113.7"},
		{"a loopback peer is not trusted unless configured", "127.0.0.1:5000", []string{"198.51.100.9"}, trusted, "127.0.0.1"},
		{"a trusted proxy's client is the rightmost address", "10.1.2.3:5000", []string{"198.51.100.9"}, trusted, "198.51.100.9"},
		{"entries the client wrote left of it are ignored", "10.1.2.3:5000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.9"}, trusted, "198.51.100.9"},
		{"a chain of trusted proxies is skipped", "10.1.2.3:5000", []string{"198.51.100.9, 192.0.2.1, 10.9.9.9"}, trusted, "198.51.100.9"},
		{"several headers are read as one list", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.9"}, trusted, "198.51.100.9"},
		{"a malformed entry stops at the last trusted hop", "10.1.2.3:5000", []string{"6.6.6.6, not-an-ip"}, trusted, "10.1.2.3"},
		{"a trusted proxy without the header is the client", "10.1.2.3:5000", nil, trusted, "10.1.2.3"},
		{"all hops trusted: the leftmost", "10.1.2.3:5000", []string{"10.2.2.2, 10.3.3.3"}, trusted, "10.2.2.2"},
		{"IPv6 proxies and clients", "[2001:db8::1]:443", []string{"2001:db8:ffff::2, 2a00:1450::1"}, trusted, "2a00:1450::1"},
		{"an IPv4-mapped proxy address is the IPv4 proxy", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.9"}, trusted, "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := resolveClientIP(r, tt.trusted); got != tt.want {
				t.Fatalf("client %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxiesRefusesWhatIsNotAnAddress(t *testing.T) {
	for _, v := range []string{"", "example.com", "10.0.0.0/33", "10.0.0"} {
		if _, err := ParseTrustedProxies([]string{v}); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
	got, err := ParseTrustedProxies([]string{"10.1.2.3/8", "::1"})
	if err != nil || got[0].String() != "10.0.0.0/8" || got[1].String() != "::1/128" {
		t.Fatalf("%v %v", got, err)
	}
}
