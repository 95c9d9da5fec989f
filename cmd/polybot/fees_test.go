package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/venue/polymarket"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
	pmsim "github.com/polybot/polybot/internal/venuesim/polymarket"
)

// serve builds its fee model from what the venues publish: here two
// simulators over loopback sockets, one Polymarket market on the economics
// schedule and one fee-free, one Kalshi series at half rate.
func TestFeeModelIsBuiltFromTheVenuesPublishedSchedules(t *testing.T) {
	d := polybot.MustDecimal
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	econ := fee.PolymarketSchedule{Rate: d("0.05"), Exponent: 1}
	ps, err := pmsim.New(pmsim.Config{Markets: []pmsim.Market{
		{ConditionID: "0xaa", Tokens: [2]string{"101", "102"}, TickSize: d("0.01"), MinOrderSize: d("15"), FeeSchedule: econ, RebateRate: d("0.25")},
		{ConditionID: "0xbb", Tokens: [2]string{"201", "202"}, TickSize: d("0.001"), MinOrderSize: d("5")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	pmURLs, err := ps.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := kalshisim.New(kalshisim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.AddSeries(kalshisim.SeriesConfig{Ticker: "KXHALF", FeeMultiplier: d("0.5")}); err != nil {
		t.Fatal(err)
	}
	if err := ks.AddMarket(kalshisim.MarketConfig{Ticker: "KXHALF-26-T1", EventTicker: "KXHALF-26", SeriesTicker: "KXHALF"}); err != nil {
		t.Fatal(err)
	}
	kURLs, err := ks.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	ep := venueEndpoints{polymarket: pmURLs.ClientConfig(polymarket.ChainPolygon), kalshiREST: kURLs.REST}
	pairs := []*polybot.MarketPair{
		{ID: "a", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xaa", "101", "102"), polybot.KalshiLeg("KXHALF-26-T1")}},
		{ID: "b", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xbb", "201", "202"), polybot.KalshiLeg(kalshisim.FedTicker)}},
	}
	fees, facts := venueFees(ctx, ep, polybot.Hedges{Pairs: pairs}, slog.New(slog.DiscardHandler))

	pmi := func(tok string) polybot.Instrument { return polybot.Instrument{Venue: polybot.Polymarket, Token: tok} }
	ki := func(tk string) polybot.Instrument { return polybot.Instrument{Venue: polybot.Kalshi, Market: tk} }
	for _, c := range []struct {
		name string
		inst polybot.Instrument
		want string // 100 at 0.50
	}{
		{"economics: 100 × 0.05 × 0.25", pmi("102"), "1.25"},
		{"fee-free", pmi("201"), "0"},
		{"a token no market lists: the highest published rate, 100 × 0.07 × 0.25", pmi("999"), "1.75"},
		{"Kalshi half rate: ceil(0.875)", ki("KXHALF-26-T1"), "0.88"},
		{"Kalshi general: 1.75", ki(kalshisim.FedTicker), "1.75"},
	} {
		if got := fees.TakerFee(c.inst, d("0.5"), d("100")); got != d(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if r := facts.Rules(pmi("101")); r.MinSize != d("15") || r.Tick != d("0.01") {
		t.Errorf("rules of 101: %+v", r)
	}
	if r := facts.Rules(pmi("201")); r.MinSize != d("5") || r.Tick != d("0.001") {
		t.Errorf("rules of 201: %+v", r)
	}
}
