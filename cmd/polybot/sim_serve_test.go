package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/venue/kalshi"
)

// TestServeSimTradesForTheDemoUser runs `serve --sim` as a newcomer would:
// simulators replaying the Fed recording, the hub, the manager and a demo
// user whose dry-run bot trades. Its trades, positions and P&L show up
// through the API.
func TestServeSimTradesForTheDemoUser(t *testing.T) {
	url, lines := startServeLines(t, t.TempDir(), nil, "--sim")
	var email, password string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "Demo user: "); ok {
			f := strings.Fields(rest)
			if len(f) >= 3 && f[1] == "password:" {
				email, password = f[0], f[2]
			}
		}
	}
	if email == "" || password == "" {
		t.Fatalf("no demo credentials printed: %q", lines)
	}
	c := newE2EClient(t, url)
	st, body := c.do("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	if st != 200 {
		t.Fatalf("demo login: %d %s", st, body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, bot := c.do("GET", "/api/v1/bot", "")
		_, trades := c.do("GET", "/api/v1/trades", "")
		_, opps := c.do("GET", "/api/v1/opportunities", "")
		_, pos := c.do("GET", "/api/v1/positions", "")
		_, pnl := c.do("GET", "/api/v1/pnl", "")
		// A trade whose partner leg came up short is unwound and leaves no
		// position, so wait for a position too.
		if strings.Contains(trades, `"trade_id"`) && strings.Contains(opps, `"strategy"`) &&
			strings.Contains(pos, `"instrument"`) && strings.Contains(pnl, `"by_strategy"`) {
			if !strings.Contains(bot, `"state":"running"`) || !strings.Contains(bot, `"mode":"dry_run"`) {
				t.Errorf("bot status %s", bot)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dry-run trade within 60s\nbot %s\nopportunities %.2000s\ntrades %s", bot, opps, trades)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestServeSimLiveUserTradesOnTheSimulatorWithItsOwnKeys: beside the demo
// user, a second user goes live. Its bot signs orders with the user's own
// Kalshi key and Polymarket wallet, and the simulators see them.
func TestServeSimLiveUserTradesOnTheSimulatorWithItsOwnKeys(t *testing.T) {
	dir := t.TempDir()
	url, lines := startServeLines(t, dir, nil, "--sim")
	urls := map[string]map[string]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 1 && (f[0] == "kalshi" || f[0] == "polymarket") {
			kv := map[string]string{}
			for _, p := range f[1:] {
				if k, v, ok := strings.Cut(p, "="); ok {
					kv[k] = v
				}
			}
			urls[f[0]] = kv
		}
	}
	if urls["kalshi"]["admin"] == "" || urls["polymarket"]["clob"] == "" {
		t.Fatalf("simulator URLs not printed: %q", lines)
	}
	c := newE2EClient(t, url)
	c.signup("live@example.com")
	// Cross-platform arbitrage needs a plan that has it.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"user", "set-tier", "--email", "live@example.com", "--tier", "pro", "--data-dir", dir},
		func(string) string { return "" }, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("set-tier: %v", err)
	}
	// The user's own Kalshi key, registered with the venue (the simulator).
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	// Before the venue knows the key, validation says the venue refused it.
	kBody0, _ := json.Marshal(map[string]any{"platform": "kalshi", "is_paper": false, "api_key": "11111111-2222-4333-8444-555555555555", "private_key": privPEM})
	if st, body := c.do("POST", "/api/v1/secrets", string(kBody0)); st != 201 {
		t.Fatalf("store key: %d %s", st, body)
	}
	if st, body := c.do("POST", "/api/v1/secrets/kalshi/validate?paper=false", ""); st != 200 || !strings.Contains(body, `"valid":false`) || !strings.Contains(body, "Kalshi does not know this API key ID") {
		t.Fatalf("validate an unregistered key: %d %s", st, body)
	}
	reg, _ := json.Marshal(map[string]string{"key_id": "11111111-2222-4333-8444-555555555555", "public_key_pem": pubPEM, "balance_dollars": "5000"})
	res, err := http.Post(urls["kalshi"]["admin"]+"/accounts", "application/json", bytes.NewReader(reg))
	if err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("register the Kalshi key: %v %v", res, err)
	}
	res.Body.Close()
	wallet := make([]byte, 32)
	rand.Read(wallet)
	kBody, _ := json.Marshal(map[string]any{"platform": "kalshi", "is_paper": false, "api_key": "11111111-2222-4333-8444-555555555555", "private_key": privPEM})
	pBody, _ := json.Marshal(map[string]any{"platform": "polymarket", "is_paper": false, "private_key": "0x" + hex.EncodeToString(wallet)})
	for _, b := range [][]byte{kBody, pBody} {
		if st, body := c.do("POST", "/api/v1/secrets", string(b)); st != 201 && st != 200 {
			t.Fatalf("store key: %d %s", st, body)
		}
	}
	for _, p := range []string{"kalshi", "polymarket"} {
		if st, body := c.do("POST", "/api/v1/secrets/"+p+"/validate?paper=false", ""); st != 200 || !strings.Contains(body, `"valid":true`) {
			t.Fatalf("validate %s with the venue: %d %s", p, st, body)
		}
	}
	if st, body := c.do("PUT", "/api/v1/config", `{"dry_run":false,"enable_cross_platform_arb":true,"min_profit_pct":"0.5"}`); st != 200 {
		t.Fatalf("go live: %d %s", st, body)
	}
	// Wait for a live order, then check it at the venue with the user's own key.
	ex, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: urls["kalshi"]["rest"], KeyID: "11111111-2222-4333-8444-555555555555", PrivateKeyPEM: []byte(privPEM)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, orders := c.do("GET", "/api/v1/orders", "")
		var list struct {
			Orders []struct {
				ID         string `json:"client_order_id"`
				Mode       string `json:"mode"`
				Instrument struct {
					Venue string `json:"venue"`
				} `json:"instrument"`
			} `json:"orders"`
		}
		_ = json.Unmarshal([]byte(orders), &list)
		for _, o := range list.Orders {
			if o.Mode != "live" || o.Instrument.Venue != "kalshi" {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			st, err := ex.Order(ctx, o.ID)
			cancel()
			if err == nil && st.ClientOrderID == o.ID {
				_, bot := c.do("GET", "/api/v1/bot", "")
				if !strings.Contains(bot, `"mode":"live"`) {
					t.Errorf("bot status %s", bot)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			_, bot := c.do("GET", "/api/v1/bot", "")
			t.Fatalf("no live order reached the Kalshi simulator within 60s\nbot %s\norders %.3000s", bot, orders)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestServeSimStreamsLiveEvents: the SSE stream carries the bot's status
// first, then live updates as it trades.
func TestServeSimStreamsLiveEvents(t *testing.T) {
	url, c := serveSimAsDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/events", nil)
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var types []string
	for sc.Scan() {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			types = append(types, ev)
			if len(types) > 1 && (ev == "fill" || ev == "opportunity" || ev == "intent") {
				break
			}
		}
	}
	if len(types) < 2 || types[0] != "status" {
		t.Fatalf("events %v (%v)", types, sc.Err())
	}
}

// serveSimAsDemo starts serve --sim and signs in as the demo user it
// prints, keeping the session's CSRF token for writes.
func serveSimAsDemo(t *testing.T) (string, *e2eClient) {
	t.Helper()
	return serveSimAsDemoWith(t, nil)
}

// serveSimAsDemoWith is serveSimAsDemo with environment variables.
func serveSimAsDemoWith(t *testing.T, env map[string]string, args ...string) (string, *e2eClient) {
	t.Helper()
	url, lines := startServeLines(t, t.TempDir(), env, append([]string{"--sim"}, args...)...)
	var email, password string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "Demo user: "); ok {
			if f := strings.Fields(rest); len(f) >= 3 {
				email, password = f[0], f[2]
			}
		}
	}
	if email == "" || password == "" {
		t.Fatalf("no demo credentials printed: %q", lines)
	}
	c := newE2EClient(t, url)
	st, body := c.do("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	if st != 200 {
		t.Fatalf("demo login: %d %s", st, body)
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal([]byte(body), &login)
	c.csrf = login.CSRF
	return url, c
}

// TestServeSimCrossVenueArbitrageRunsOverThreeVenues: serve --sim pairs the
// simulated ForecastEx Fed question with Kalshi's and Polymarket's Fed
// markets, so the demo user's cross-platform arbitrage finds opportunities
// with an IBKR leg, and the dry-run bot trades them, while the replay moves
// the other venues' prices against the gateway simulator's books.
func TestServeSimCrossVenueArbitrageRunsOverThreeVenues(t *testing.T) {
	_, c := serveSimAsDemo(t)
	if st, body := c.do("GET", "/api/v1/market-pairs", ""); st != 200 || !strings.Contains(body, `"fed-dec2025-hold-ibkr-kalshi"`) ||
		!strings.Contains(body, `"venue":"ibkr"`) {
		t.Fatalf("pairs: %d %.2000s", st, body)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, opps := c.do("GET", "/api/v1/opportunities", "")
		_, trades := c.do("GET", "/api/v1/trades", "")
		if strings.Contains(opps, `"pair_id":"fed-dec2025-hold-ibkr-`) && strings.Contains(trades, `"venue":"ibkr"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ForecastEx cross-venue trade within 90s\nopportunities %.3000s\ntrades %.2000s", opps, trades)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
