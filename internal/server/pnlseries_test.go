package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// The locked-in series steps only when a set completes or breaks. Worked
// by hand, fee-free, one Kalshi market:
//
//	buy YES 10 @ 0.40           no set
//	buy NO  10 @ 0.55           10 sets at 0.95: locked $0.50
//	buy YES 10 @ 0.60           YES averages 0.50; still 10 sets (at 1.05 they would read −$0.50: the old dip)
//	buy NO  10 @ 0.35           NO averages 0.45; 20 sets at 0.95: $1.00
//	sell YES 5 @ 0.70           realised (0.70 − 0.50) × 5 = $1.00; 15 sets: $0.75
func TestPnLSeriesHoldsLockedInBetweenAnArbitragesLegs(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	yes := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXSET", Outcome: polybot.Yes}
	no := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXSET", Outcome: polybot.No}
	d := polybot.MustDecimal
	steps := []struct {
		inst     polybot.Instrument
		side     polybot.Side
		price    string
		size     string
		realized string
	}{
		{yes, polybot.Buy, "0.40", "10", "0"},
		{no, polybot.Buy, "0.55", "10", "0"},
		{yes, polybot.Buy, "0.60", "10", "0"},
		{no, polybot.Buy, "0.35", "10", "0"},
		{yes, polybot.Sell, "0.70", "5", "1.00"},
	}
	var fills []*polybot.TradeFill // newest first, as the store lists them
	for i, s := range steps {
		f := &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: fmt.Sprint("t", i), Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun,
			Instrument: s.inst, Side: s.side, Price: d(s.price), Size: d(s.size), RealizedPnL: d(s.realized), Time: t0.Add(time.Duration(i) * time.Minute)}
		fills = append([]*polybot.TradeFill{f}, fills...)
	}
	var got []string
	for _, p := range pnlSeries(fills, polybot.Hedges{}) {
		got = append(got, fmt.Sprintf("%s %s %s", p.Time.Format("15:04"), p.Strategy, polybot.FormatUSD(p.Total)))
	}
	want := []string{
		"09:00 single_platform/dry_run $0.00",
		"09:01 locked/dry_run $0.50",
		"09:03 locked/dry_run $1.00",
		"09:04 single_platform/dry_run $1.00",
		"09:04 locked/dry_run $0.75",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
