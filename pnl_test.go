package polybot_test

import (
	"testing"

	"github.com/polybot/polybot"
)

func TestLockedPnLCountsCompleteSetsOnce(t *testing.T) {
	m := polybot.MustDecimal
	pair := &polybot.MarketPair{ID: "fed", PolymarketYes: "111", PolymarketNo: "222", KalshiTicker: "KXFED"}
	h := func(inst polybot.Instrument, size, avg string) *polybot.Holding {
		return &polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: m(size), AvgPrice: m(avg)}
	}
	pmYes := polybot.Instrument{Venue: polybot.Polymarket, Token: "111", Outcome: polybot.Yes}
	kNo := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.No}
	kYes := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.Yes}
	// 51 PM YES at 0.49 and 51 Kalshi NO at 0.47745 (0.46 + a $0.89 fee over 51):
	// 51 × (1 − 0.96745) = 1.66005 locked. 10 more Kalshi YES at 0.50 pair with
	// nothing (the Kalshi NO is used up), so they stay unhedged.
	got := polybot.LockedPnL([]*polybot.Holding{h(pmYes, "51", "0.49"), h(kNo, "51", "0.47745"), h(kYes, "10", "0.50")}, []*polybot.MarketPair{pair})
	if len(got) != 1 || got[0].Market != "fed" || got[0].Sets != m("51") || got[0].Cost != m("0.96745") || got[0].Edge != m("1.66005") {
		t.Fatalf("locked %+v", got)
	}
	// YES and NO of one Kalshi market outside the registry lock too.
	other := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXCPI", Outcome: polybot.Yes}
	otherNo := other
	otherNo.Outcome = polybot.No
	got = polybot.LockedPnL([]*polybot.Holding{h(other, "5", "0.40"), h(otherNo, "3", "0.55")}, nil)
	if len(got) != 1 || got[0].Market != "KXCPI" || got[0].Sets != m("3") || got[0].Edge != m("0.15") {
		t.Fatalf("single-venue locked %+v", got)
	}
}
