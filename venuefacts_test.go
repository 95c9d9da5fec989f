package polybot_test

import (
	"encoding/json"
	"testing"

	"github.com/polybot/polybot"
)

// Every platform has its facts, and its config switch is a real field of
// Config that PlatformEnabled reads (a new platform without them fails).
func TestEveryPlatformHasFactsAndItsConfigSwitch(t *testing.T) {
	for _, p := range polybot.Platforms {
		f := polybot.VenueOf(p)
		if f.Platform != p || f.Label == "" || f.Label == string(p) || f.Kind == 0 || f.Sell == 0 || f.ConfigField == "" {
			t.Errorf("%s: incomplete facts %+v", p, f)
			continue
		}
		var c polybot.Config
		if err := json.Unmarshal([]byte(`{"`+f.ConfigField+`":true}`), &c); err != nil {
			t.Fatal(err)
		}
		for _, q := range polybot.Platforms {
			if c.PlatformEnabled(q) != (q == p) {
				t.Errorf("%s=true: PlatformEnabled(%s) = %v", f.ConfigField, q, c.PlatformEnabled(q))
			}
		}
	}
	if f := polybot.VenueOf("nowhere"); f.Label != "nowhere" || f.Kind != 0 || f.FillOrKill {
		t.Errorf("an unknown platform has capabilities: %+v", f)
	}
}

// The facts the venues publish (issue 14): ForecastEx has no sells and
// trades per contract (Call = YES, Put = NO); Alpaca trades equities and
// sells; Polymarket's outcomes are tokens, Kalshi's the sides of a ticker.
func TestVenueFactsAreTheVenuesOwn(t *testing.T) {
	tests := []struct {
		p          polybot.Platform
		label      string
		kind       polybot.VenueKind
		sell       polybot.SellRule
		fok, token bool
		fractional bool
	}{
		{polybot.Polymarket, "Polymarket", polybot.Prediction, polybot.SellHeld, true, true, false},
		{polybot.Kalshi, "Kalshi", polybot.Prediction, polybot.SellHeld, true, false, false},
		{polybot.Alpaca, "Alpaca", polybot.Equity, polybot.SellHeld, true, false, true},
		{polybot.IBKR, "Interactive Brokers", polybot.Prediction, polybot.BuyOpposite, false, true, false},
	}
	for _, tt := range tests {
		f := polybot.VenueOf(tt.p)
		if f.Label != tt.label || polybot.PlatformName(tt.p) != tt.label || f.Kind != tt.kind || f.Sell != tt.sell ||
			f.FillOrKill != tt.fok || f.TokenPerOutcome != tt.token || f.FractionalMarketOrders != tt.fractional {
			t.Errorf("%s: %+v", tt.p, f)
		}
	}
}

func TestSameInstrumentFollowsTheVenuesIdentity(t *testing.T) {
	pm := func(market, token string) polybot.Instrument {
		return polybot.Instrument{Venue: polybot.Polymarket, Market: market, Token: token, Outcome: polybot.Yes}
	}
	k := func(market string, o polybot.Outcome) polybot.Instrument {
		return polybot.Instrument{Venue: polybot.Kalshi, Market: market, Outcome: o}
	}
	tests := []struct {
		name string
		a, b polybot.Instrument
		want bool
	}{
		{"one token", pm("0xm", "1"), pm("0xm", "1"), true},
		{"one token, market not yet known", pm("", "1"), pm("0xm", "1"), true},
		{"two tokens", pm("0xm", "1"), pm("0xm", "2"), false},
		{"one token in two markets", pm("0xa", "1"), pm("0xb", "1"), false},
		{"one Kalshi side", k("KX", polybot.Yes), k("KX", polybot.Yes), true},
		{"the two Kalshi sides", k("KX", polybot.Yes), k("KX", polybot.No), false},
		{"two venues", polybot.Instrument{Venue: polybot.IBKR, Token: "1"}, pm("", "1"), false},
	}
	for _, tt := range tests {
		if got := polybot.SameInstrument(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
}
