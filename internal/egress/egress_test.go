package egress_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/egress"
)

func TestIsPublic(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"2606:4700::1111", true},
		{"127.0.0.1", false}, {"::1", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"100.64.0.1", false}, {"0.1.2.3", false}, {"0.0.0.0", false}, {"::", false},
		{"224.0.0.1", false}, {"fe80::1", false}, {"fc00::1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:8.8.8.8", true},
	} {
		if got := egress.IsPublic(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("IsPublic(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

// A guarded client cannot reach a loopback server, however the URL names
// it; an allowed one can.
func TestDialerRefusesWhatIsNotPublicOnTheAddressDialled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	for _, allow := range []bool{false, true} {
		tr := &http.Transport{DialContext: egress.Dialer(2*time.Second, allow).DialContext}
		_, err := (&http.Client{Transport: tr}).Get(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
		if allow && err != nil {
			t.Fatalf("allowed: %v", err)
		}
		if !allow && (err == nil || !strings.Contains(err.Error(), "is not public")) {
			t.Fatalf("guarded: %v, want a refusal", err)
		}
	}
	if err := egress.CheckURL(context.Background(), srv.URL); err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("CheckURL(%s) = %v", srv.URL, err)
	}
	if err := egress.CheckURL(context.Background(), "https://8.8.8.8:5000"); err != nil {
		t.Fatalf("CheckURL of a public address: %v", err)
	}
}
