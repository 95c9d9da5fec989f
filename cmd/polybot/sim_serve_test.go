package main

import (
	"strings"
	"testing"
	"time"
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
		if strings.Contains(trades, `"trade_id"`) && strings.Contains(opps, `"strategy"`) {
			_, pos := c.do("GET", "/api/v1/positions", "")
			_, pnl := c.do("GET", "/api/v1/pnl", "")
			if !strings.Contains(pos, `"instrument"`) || !strings.Contains(pnl, `"by_strategy"`) {
				_, orders := c.do("GET", "/api/v1/orders", "")
				t.Fatalf("positions %s\npnl %s\norders %s\nbot %s", pos, pnl, orders, bot)
			}
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
