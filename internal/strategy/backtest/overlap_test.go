package backtest

import (
	"context"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// TestFedJuly2026RebalancingMatchesTheIndependentCount replays the real
// recording of every outcome of the Fed's July 2026 decision (five
// markets, best bid and ask, 715 polls) through overlapping arbitrage and
// compares what it finds with the count made straight from the CSV by
// recordings/polymarketus_fed_jul2026_count.py (no Go code; its output and
// the nine snapshots are listed in recordings/README.md): Σ YES asks < $1
// at 2 polls, Σ NO asks < $4 at 7 polls, fee-free; at a 0.07 fee rate the
// two long sets are gone and the seven short sets stay.
func TestFedJuly2026RebalancingMatchesTheIndependentCount(t *testing.T) {
	rec, err := replay.FedJul2026()
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	// The snapshots the script lists (recordings/README.md), in UTC.
	shortAt := []time.Time{utc("2026-07-12T06:50:15Z"), utc("2026-07-12T07:17:19Z"), utc("2026-07-12T13:08:08Z"),
		utc("2026-07-12T15:23:10Z"), utc("2026-07-12T16:10:17Z"), utc("2026-07-12T18:47:40Z"), utc("2026-07-12T18:59:57Z")}
	longAt := []time.Time{utc("2026-07-23T13:01:40Z"), utc("2026-07-23T13:05:46Z")}
	tests := []struct {
		name        string
		rate        string
		long, short []time.Time
	}{
		{"fee-free", "0", longAt, shortAt},
		{"at a 0.07 fee rate", "0.07", nil, shortAt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := fee.NewPolymarketSchedule(polybot.MustDecimal(tc.rate), polybot.One)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), rec.Events, EventUniverse(rec), Options{
				Fees:       fee.Venues{Polymarket: fee.Polymarket{Default: sched}, Kalshi: fee.Kalshi{}},
				Strategies: []string{polybot.StrategyOverlapping},
			})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]time.Time{}
			for _, tr := range rep.TradeLog {
				got[Kind(&tr.Opportunity)] = append(got[Kind(&tr.Opportunity)], tr.Opportunity.DetectedAt)
			}
			for kind, want := range map[string][]time.Time{KindRebalanceLong: tc.long, KindRebalanceShort: tc.short} {
				if n := rep.ByKind[kind].Opportunities; n != len(want) {
					t.Errorf("%s: %d opportunities, the independent count is %d", kind, n, len(want))
				}
				if len(got[kind]) != len(want) {
					t.Errorf("%s traded at %v, want %v", kind, got[kind], want)
					continue
				}
				for i := range want {
					if !got[kind][i].Equal(want[i]) {
						t.Errorf("%s #%d at %s, want %s", kind, i, got[kind][i], want[i])
					}
				}
			}
			if n := rep.ByKind[KindImplication].Opportunities + rep.ByKind[KindCrossVenueSet].Opportunities; n != 0 {
				t.Errorf("%d implication or cross-venue opportunities in a one-venue event without relations", n)
			}
			// Every trade is a whole set of the five outcomes, at the recording's
			// assumed 5 shares, and pays what the count says it costs less.
			for _, tr := range rep.TradeLog {
				if len(tr.Opportunity.Legs) != 5 || tr.Sets != polybot.MustDecimal("5") || tr.NetPnL.Sign() <= 0 {
					t.Errorf("trade %+v", tr)
				}
			}
		})
	}
}
