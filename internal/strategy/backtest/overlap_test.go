package backtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata/replay"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
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

// TestCPIJuly2026ImplicationsMatchTheIndependentCount replays the real
// CPI ladder recording (11 rungs "above x%", 347 polls) with its 55
// implications approved: the pairs where ask(YES on the lower rung) +
// ask(NO on the higher rung) < $1 are those
// recordings/polymarketus_cpi_jul2026_count.py counts from the CSV: 16
// (poll, pair) hits over 12 polls, 4 on 3.0% ⇒ 2.9%, 6 on 3.1% ⇒ 2.9% and
// 6 on 3.7% ⇒ 3.6%, all still below $1 at a 0.07 fee rate. The ladder is
// not exhaustive, so no rebalancing set trades.
func TestCPIJuly2026ImplicationsMatchTheIndependentCount(t *testing.T) {
	rec, err := replay.CPIJul2026()
	if err != nil {
		t.Fatal(err)
	}
	rels := replay.CPIJul2026Implications()
	for _, r := range rels {
		r.Approved = true
	}
	for _, rate := range []string{"0", "0.07"} {
		t.Run("rate "+rate, func(t *testing.T) {
			sched, err := fee.NewPolymarketSchedule(polybot.MustDecimal(rate), polybot.One)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), rec.Events, EventUniverse(rec, rels...), Options{
				Fees:       fee.Venues{Polymarket: fee.Polymarket{Default: sched}, Kalshi: fee.Kalshi{}},
				Strategies: []string{polybot.StrategyOverlapping},
			})
			if err != nil {
				t.Fatal(err)
			}
			byPair := map[string]int{}
			polls := map[time.Time]bool{}
			for _, tr := range rep.TradeLog {
				byPair[tr.Opportunity.PairID]++
				polls[tr.Opportunity.DetectedAt] = true
			}
			want := map[string]int{
				"polymarketus-cpi-jul2026-gt3pt0pct-gt2pt9pct": 4,
				"polymarketus-cpi-jul2026-gt3pt1pct-gt2pt9pct": 6,
				"polymarketus-cpi-jul2026-gt3pt7pct-gt3pt6pct": 6,
			}
			if len(byPair) != len(want) || len(polls) != 12 || rep.ByKind[KindImplication].Opportunities != 16 {
				t.Fatalf("implications traded %v over %d polls (%d opportunities), the independent count is %v over 12 polls",
					byPair, len(polls), rep.ByKind[KindImplication].Opportunities, want)
			}
			for id, n := range want {
				if byPair[id] != n {
					t.Errorf("%s: %d, want %d", id, byPair[id], n)
				}
			}
			if n := rep.ByKind[KindRebalanceLong].Opportunities + rep.ByKind[KindRebalanceShort].Opportunities; n != 0 {
				t.Errorf("%d rebalancing sets on a ladder, which is not exhaustive", n)
			}
		})
	}
}

// TestFedNov2025WilliamsHeadlineMakesOneNewsTrade replays the Fed
// recording with its real headlines and a direct rule: buy up to 100
// Polymarket NO ("the Fed does not hold") at 0.45 or less when a headline
// names Williams and an adjustment, a cut, easing or lower rates; take
// profit at +0.10, time stop 30 minutes. Worked by hand from the CSV: of
// the four Williams headlines only MNI's brief at 12:37:39Z finds NO
// cheap (the 12:30:32 row: YES bid 0.61, so NO asks 0.39, 24,802 shown);
// the others find it at 0.65 or more. It buys 100 at 0.39; the 13:00:32
// row bids 0.60 for NO (≥ 0.49): sold, 100 × 0.21 = $21.00, fee-free.
func TestFedNov2025WilliamsHeadlineMakesOneNewsTrade(t *testing.T) {
	hs, err := replay.FedNov2025Headlines()
	if err != nil {
		t.Fatal(err)
	}
	m := replay.FedDec2025Hold
	pmNo := polybot.Instrument{Venue: polybot.Polymarket, Token: m.PolymarketNoToken, Outcome: polybot.No}
	pmYes := polybot.Instrument{Venue: polybot.Polymarket, Token: m.PolymarketYesToken, Outcome: polybot.Yes}
	rule := &polybot.NewsRule{ID: "williams", Name: "Williams signals a cut", Enabled: true, AllOf: []string{"williams"},
		AnyOf: []string{"adjustment", "cut", "easing", "lower"}, Mode: polybot.NewsDirect,
		Markets: []polybot.BinaryMarket{{Yes: pmYes, No: pmNo}}, Outcome: polybot.No, MaxPrice: polybot.MustDecimal("0.45"),
		MaxSize: polybot.MustDecimal("100"), TakeProfit: polybot.MustDecimal("0.10")}
	if err := rule.Validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := RunCrossVenue(context.Background(), bytes.NewReader(replay.FedDec2025HoldCSV), m, Options{
		Strategies: []string{polybot.StrategyNews}, Headlines: hs, NewsRules: []*polybot.NewsRule{rule}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.NewsTrades) != 1 {
		t.Fatalf("%d news trades %+v, want 1", len(rep.NewsTrades), rep.NewsTrades)
	}
	tr := rep.NewsTrades[0]
	at := func(s string) time.Time { x, _ := time.Parse(time.RFC3339Nano, s); return x }
	if tr.Instrument.Token != m.PolymarketNoToken || tr.Size != polybot.MustDecimal("100") || tr.Entry != polybot.MustDecimal("0.39") ||
		!tr.EntryAt.Equal(at("2025-11-21T12:37:39Z")) || tr.Exit != polybot.MustDecimal("0.60") ||
		!tr.ExitAt.Equal(at("2025-11-21T13:00:32.753Z")) || tr.Why != "take profit" || tr.NetPnL != polybot.MustDecimal("21") {
		t.Fatalf("news trade %+v", tr)
	}
	if n := rep.ByStrategy[polybot.StrategyNews]; n.Trades != 1 || n.NetPnL != polybot.MustDecimal("21") || rep.NetPnL != n.NetPnL {
		t.Fatalf("news tally %+v, report net %s", n, rep.NetPnL)
	}
}

// TestCopyReplayOfARealWallet replays the real recorded /activity of one
// wallet (ten buys in one NHL market; testdata/polymarket) for the demo's
// leader settings: a twentieth of the leader's notional, $20 a copy, $150
// a day, Polymarket's 5-share minimum, fee-free. Worked by hand from the
// file: 0.22 × 763.69 = $168.01 → $8.40 → 38.18 shares; the 0.80 buys of
// $1,308 and $735 → $20 → 25 each; the 0.79 buys of $22, $14 and $9 → less
// than 5 shares: skipped; 0.794650 × 2,538.27 → $20 at 0.80 (the tick
// above the fill) → 25; 0.767161 × 2,536.16 → $20 at 0.77 → 25.97; 0.86 ×
// 20.91 → skipped; 0.86 × 714.29 → $20 → 23.25. Six copies for $108.39;
// the 124.22 NO shares held are marked at the leader's last 0.86
// ($106.8292 for $99.9919), the 38.18 YES at its last 0.22 (their cost):
// +$6.8373.
func TestCopyReplayOfARealWallet(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/polymarket/data_api_activity.json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []pm.WalletActivity
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	var trades []polybot.LeaderTrade
	for _, r := range rows {
		tr, err := r.ToLeaderTrade()
		if err != nil {
			t.Fatal(err)
		}
		trades = append(trades, tr)
	}
	l := &polybot.Leader{ID: "kch123", Address: trades[0].Wallet, Enabled: true, Mode: polybot.CopyProportional,
		Multiplier: polybot.MustDecimal("0.05"), MaxTradeUSD: polybot.MustDecimal("20"), MaxDayUSD: polybot.MustDecimal("150"),
		PriceGuard: polybot.MustDecimal("0.02"), MaxAge: time.Minute}
	rep := RunCopy(trades, l, polybot.Zero, Options{})
	var sizes []string
	for _, c := range rep.Trades {
		if c.Action == polybot.CopyCopied {
			sizes = append(sizes, c.Size.String()+"@"+c.Price.String())
		}
	}
	if got := strings.Join(sizes, " "); got != "38.18@0.22 25.00@0.80 25.00@0.80 25.00@0.80 25.97@0.77 23.25@0.86" {
		t.Fatalf("copies %s", got)
	}
	if rep.Copied != 6 || rep.Skipped != 4 || rep.Cost != polybot.MustDecimal("108.3915") || rep.Unrealized != polybot.MustDecimal("6.8373") ||
		rep.NetPnL != polybot.MustDecimal("6.8373") {
		t.Fatalf("report %+v", rep)
	}
}
