package browsertest

import (
	"strings"
	"testing"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
)

// The harness's own checks, without a browser: a watch that cannot fail
// would make every browser test pass.

func TestLocalHost(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080/dashboard":                      true,
		"http://localhost:1/static/app.css":                    true,
		"http://[::1]:99/x":                                    true,
		"data:image/svg+xml;base64,AAAA":                       true,
		"blob:http://127.0.0.1:1/uuid":                         true,
		"about:blank":                                          true,
		"https://cdn.jsdelivr.net/npm/htmx.js":                 false,
		"https://fonts.googleapis.com/css":                     false,
		"http://127.0.0.1.nip.io/":                             false,
		"wss://ws-subscriptions-clob.polymarket.com/ws/market": false,
		"chrome-extension://abc/x.js":                          false,
		"//example.com/x":                                      false,
	} {
		if got := localHost(u); got != want {
			t.Errorf("localHost(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestWatchReportsExternalRequestsMissingCSPAndViolations(t *testing.T) {
	tb := &tab{name: "probe", base: "http://127.0.0.1:1"} // onEvent only records
	tb.onEvent(&network.EventRequestWillBeSent{Request: &network.Request{URL: "https://unpkg.com/htmx.org"}})
	tb.onEvent(&network.EventRequestWillBeSent{Request: &network.Request{URL: "http://127.0.0.1:1/static/app.js"}})
	tb.onEvent(&network.EventResponseReceived{Type: network.ResourceTypeDocument,
		Response: &network.Response{URL: "http://127.0.0.1:1/dashboard", Status: 200, MimeType: "text/html", Headers: network.Headers{}}})
	tb.onEvent(&network.EventResponseReceived{Type: network.ResourceTypeDocument,
		Response: &network.Response{URL: "http://127.0.0.1:1/keys", Status: 200, MimeType: "text/html",
			Headers: network.Headers{"content-security-policy": "default-src 'self'"}}})
	tb.onEvent(&cdplog.EventEntryAdded{Entry: &cdplog.Entry{Source: cdplog.EntrySourceSecurity, Level: cdplog.EntryLevelError,
		Text: "Refused to execute inline script because it violates the following Content Security Policy directive"}})
	tb.onEvent(&cdplog.EventEntryAdded{Entry: &cdplog.Entry{Source: cdplog.EntrySourceNetwork, Level: cdplog.EntryLevelError,
		Text: "Failed to load resource: the server responded with a status of 422"}})

	if len(tb.external) != 1 || !strings.Contains(tb.external[0], "unpkg.com") {
		t.Errorf("external requests seen: %q", tb.external)
	}
	if len(tb.missingCSP) != 1 || !strings.Contains(tb.missingCSP[0], "/dashboard") {
		t.Errorf("pages without CSP seen: %q", tb.missingCSP)
	}
	if len(tb.problems) != 1 || !strings.Contains(tb.problems[0], "CSP violation") {
		t.Errorf("problems seen: %q", tb.problems)
	}
	if tb.cspSeen != "default-src 'self'" || tb.documents != 2 {
		t.Errorf("documents %d, CSP %q", tb.documents, tb.cspSeen)
	}
}

func TestParseServeLine(t *testing.T) {
	s := &server{}
	for _, l := range []string{
		"polymarket clob=http://127.0.0.1:36657 market_ws=ws://127.0.0.1:36657/ws/market",
		"kalshi rest=http://127.0.0.1:40101/trade-api/v2 ws=ws://127.0.0.1:40101/trade-api/ws/v2 admin=http://127.0.0.1:40101/sim/v1",
		"PolyBot is listening on http://127.0.0.1:33593",
		"Demo user: demo@polybot.local  password: RrhAEKLgdpINOpKv  (shown once)",
	} {
		parseServeLine(s, l)
	}
	if s.URL != "http://127.0.0.1:33593" || s.KalshiAdmin != "http://127.0.0.1:40101/sim/v1" ||
		s.DemoEmail != "demo@polybot.local" || s.DemoPassword != "RrhAEKLgdpINOpKv" {
		t.Errorf("parsed %+v", s)
	}
}
