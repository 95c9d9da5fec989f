package backtest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// The Fed recording at the replay defaults (Kalshi's general schedule,
// ceil(0.07 × C × P × (1−P)) per order; Polymarket fee-free with a 5-share
// minimum order, which no opportunity of the recording is below) holds exactly
// 215 cross-platform opportunities and no single-platform one.
//
// Worked by hand, row by row (asks are 1 − the other outcome's bid, at
// that bid's depth):
//
//   - 1763294473219: 0.5,0.49,72292.35,608.91,0.52,0.47,198,2030.
//     Polymarket YES ask 1 − 0.49 = 0.51 (608.91) + Kalshi NO ask 1 − 0.52 =
//     0.48 (198) = 0.99, gross 0.01 on 198 sets. Kalshi's fee is
//     ceil(0.07 × 198 × 0.48 × 0.52 = 3.459456) = $3.46, 0.017475 a set:
//     more than the edge. The other way, Kalshi YES 1 − 0.47 = 0.53 +
//     Polymarket NO 1 − 0.5 = 0.50 = 1.03. No opportunity.
//   - 1764594058422: 0.09,0.9,1466695.93,33542.1,0.12,0.87,20,24.
//     Polymarket YES 1 − 0.9 = 0.10 (33542.1) + Kalshi NO 1 − 0.12 = 0.88
//     (20) = 0.98, gross 0.02 on 20 sets. Fee ceil(0.07 × 20 × 0.88 × 0.12
//     = 0.14784) = $0.15, 0.0075 a set: net 0.0125 a set, $0.25 in all. An
//     opportunity (1.2658% on a cost of 0.9875).
//   - 1764664200584: 0.09,0.9,493410.21,54769.08,0.11,0.88,10,4759.
//     Polymarket YES 0.10 (54769.08) + Kalshi NO 1 − 0.11 = 0.89 (10) =
//     0.99, gross 0.01 on 10 sets. Fee ceil(0.07 × 10 × 0.89 × 0.11 =
//     0.06853) = $0.07, 0.007 a set: net 0.003 a set, $0.03 in all. An
//     opportunity, but at 0.3009% it is under a 1% min_profit_pct.
//   - Single-platform: on every row YES bid + NO bid ≤ 0.99 on both venues,
//     so the two asks (2 − the bids) sum to at least 1.01.
//
// TestFedRecordingCountsTheHandCheckedOpportunities also derives the counts
// and the P&L independently, straight from the CSV in exact rationals.
const (
	fedCrossOpportunities  = 215
	fedSingleOpportunities = 0
	fedUpdates             = 1005 // 1006 rows, one with an empty field
)

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad number %q", s)
	}
	return r
}

func decRat(d polybot.Decimal) *big.Rat { return big.NewRat(d.Micros(), 1_000_000) }

// floorTo is ⌊x/step⌋ × step.
func floorTo(x, step *big.Rat) *big.Rat {
	q := new(big.Rat).Quo(x, step)
	n := new(big.Int).Quo(q.Num(), q.Denom())
	return new(big.Rat).Mul(new(big.Rat).SetInt(n), step)
}

// kalshiFee is Kalshi's taker fee for n contracts at p: 7 × n × p × (1−p)
// cents, rounded up to a whole cent.
func kalshiFee(n, p *big.Rat) *big.Rat {
	one := big.NewRat(1, 1)
	cents := new(big.Rat).Mul(big.NewRat(7, 1), n)
	cents.Mul(cents, p)
	cents.Mul(cents, new(big.Rat).Sub(one, p))
	c, r := new(big.Int).QuoRem(cents.Num(), cents.Denom(), new(big.Int))
	if r.Sign() > 0 {
		c.Add(c, big.NewInt(1))
	}
	return new(big.Rat).SetFrac(c, big.NewInt(100))
}

// polymarketFee is Polymarket's taker fee for n shares at p under a market
// fee schedule of rate (exponent 1): n × rate × p × (1−p) dollars, rounded
// down to 0.00001 (https://docs.polymarket.com/trading/fees).
func polymarketFee(rate, n, p *big.Rat) *big.Rat {
	f := new(big.Rat).Mul(rate, n)
	f.Mul(f, p)
	f.Mul(f, new(big.Rat).Sub(big.NewRat(1, 1), p))
	f.Mul(f, big.NewRat(100_000, 1))
	q := new(big.Int).Quo(f.Num(), f.Denom())
	return new(big.Rat).SetFrac(q, big.NewInt(100_000))
}

// venueFacts are what expectFromCSV assumes of the venues: Polymarket's
// fee rate (exponent 1; zero is fee-free) and minimum order in shares.
// Kalshi is its general schedule, one contract at least.
type venueFacts struct {
	pmRate, pmMin *big.Rat
}

// fedFacts are the replay's defaults: the Fed market fee-free on
// Polymarket, 5 shares at least.
var fedFacts = venueFacts{pmRate: new(big.Rat), pmMin: big.NewRat(5, 1)}

type expected struct {
	cross, single int
	netPnL        *big.Rat // every opportunity traded at full size
	rows          int
}

// expectFromCSV recomputes what the replay must find, row by row, without
// the strategy package: for each way to buy a YES and a NO, the sets are
// the thinner depth (whole contracts when Kalshi is a leg), and the set is
// worth buying iff sets × (1 − Σ asks) > the orders' fees.
func expectFromCSV(t *testing.T, data []byte, vf venueFacts) expected {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	one, cent := big.NewRat(1, 1), big.NewRat(1, 100)
	ask := func(bid *big.Rat) *big.Rat { return new(big.Rat).Sub(one, bid) }
	minRat := func(a, b *big.Rat) *big.Rat {
		if a.Cmp(b) < 0 {
			return a
		}
		return b
	}
	// profit returns sets × gross − fees for buying a (depth da) and b
	// (depth db); kalshiA/B say which legs are on Kalshi.
	profit := func(a, da *big.Rat, kalshiA bool, b, db *big.Rat, kalshiB bool) *big.Rat {
		step := cent
		if kalshiA || kalshiB {
			step = one
		}
		n := floorTo(minRat(da, db), step)
		if n.Sign() == 0 || (!(kalshiA && kalshiB) && n.Cmp(vf.pmMin) < 0) {
			return nil
		}
		gross := new(big.Rat).Sub(one, a)
		gross.Sub(gross, b)
		p := new(big.Rat).Mul(n, gross)
		if kalshiA {
			p.Sub(p, kalshiFee(n, a))
		} else {
			p.Sub(p, polymarketFee(vf.pmRate, n, a))
		}
		if kalshiB {
			p.Sub(p, kalshiFee(n, b))
		} else {
			p.Sub(p, polymarketFee(vf.pmRate, n, b))
		}
		if p.Sign() <= 0 {
			return nil
		}
		return p
	}
	e := expected{netPnL: new(big.Rat)}
	for _, rec := range recs[1:] {
		if slices.Contains(rec, "") {
			continue
		}
		e.rows++
		v := make([]*big.Rat, 9)
		for i := 1; i < 9; i++ {
			v[i] = rat(t, rec[i])
		}
		pmYesBid, pmNoBid, pmYesDepth, pmNoDepth := v[1], v[2], v[3], v[4]
		kYesBid, kNoBid, kYesDepth, kNoDepth := v[5], v[6], v[7], v[8]
		// Kalshi YES + Polymarket NO, and Polymarket YES + Kalshi NO.
		a := profit(ask(kNoBid), kNoDepth, true, ask(pmYesBid), pmYesDepth, false)
		b := profit(ask(pmNoBid), pmNoDepth, false, ask(kYesBid), kYesDepth, true)
		if a != nil && b != nil {
			t.Fatalf("row %s: both directions pay; this check does not pick one", rec[0])
		}
		if a != nil || b != nil {
			e.cross++
			if a == nil {
				a = b
			}
			e.netPnL.Add(e.netPnL, a)
		}
		if p := profit(ask(pmNoBid), pmNoDepth, false, ask(pmYesBid), pmYesDepth, false); p != nil {
			e.single++
			e.netPnL.Add(e.netPnL, p)
		}
		if p := profit(ask(kNoBid), kNoDepth, true, ask(kYesBid), kYesDepth, true); p != nil {
			e.single++
			e.netPnL.Add(e.netPnL, p)
		}
	}
	return e
}

func TestFedRecordingCountsTheHandCheckedOpportunities(t *testing.T) {
	want := expectFromCSV(t, replay.FedDec2025HoldCSV, fedFacts)
	if want.cross != fedCrossOpportunities || want.single != fedSingleOpportunities || want.rows != fedUpdates {
		t.Fatalf("the CSV recomputation found %d cross, %d single over %d rows; pinned %d, %d, %d",
			want.cross, want.single, want.rows, fedCrossOpportunities, fedSingleOpportunities, fedUpdates)
	}

	var calls, lastDone, lastTotal int
	rep, err := RunCrossVenue(context.Background(), bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold, Options{
		Progress: func(done, total int) {
			if done != lastDone+1 {
				t.Errorf("progress went from %d to %d", lastDone, done)
			}
			calls, lastDone, lastTotal = calls+1, done, total
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cross, single := rep.ByStrategy[polybot.StrategyCrossPlatform], rep.ByStrategy[polybot.StrategySinglePlatform]
	if cross.Opportunities != fedCrossOpportunities || single.Opportunities != fedSingleOpportunities || rep.Opportunities != fedCrossOpportunities {
		t.Errorf("replay found %d cross and %d single (%d in all); want %d and %d",
			cross.Opportunities, single.Opportunities, rep.Opportunities, fedCrossOpportunities, fedSingleOpportunities)
	}
	if rep.Updates != fedUpdates || rep.Events != 4*fedUpdates || calls != fedUpdates || lastDone != fedUpdates || lastTotal != fedUpdates {
		t.Errorf("updates %d, events %d, progress calls %d, last %d/%d; want %d updates", rep.Updates, rep.Events, calls, lastDone, lastTotal, fedUpdates)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Line != 919 {
		t.Errorf("skipped %+v, want line 919 (the row with an empty field)", rep.Skipped)
	}
	// With no minimum profit and no cap, every opportunity is traded at its
	// full size, and the P&L is exactly the recomputed one.
	if rep.Tally.Trades != fedCrossOpportunities || len(rep.TradeLog) != fedCrossOpportunities || rep.Untraded != 0 {
		t.Errorf("%d trades (%d listed), %d untraded; want every opportunity traded", rep.Tally.Trades, len(rep.TradeLog), rep.Untraded)
	}
	if decRat(rep.NetPnL).Cmp(want.netPnL) != 0 {
		t.Errorf("net P&L %s, want %s", rep.NetPnL, want.netPnL.FloatString(6))
	}
	if rep.NetPnL != rep.GrossPnL.Sub(rep.Fees) || rep.GrossPnL != rep.Sets.Sub(rep.Cost) || rep.Fees.Sign() <= 0 {
		t.Errorf("tally does not add up: %+v", rep.Tally)
	}
	if rep.Tally != *cross {
		t.Errorf("the total %+v must equal the cross-platform tally %+v", rep.Tally, *cross)
	}

	// The rows worked by hand above.
	byTime := map[int64]Trade{}
	for _, tr := range rep.TradeLog {
		byTime[tr.Opportunity.DetectedAt.UnixMilli()] = tr
	}
	if _, ok := byTime[1763294473219]; ok {
		t.Error("1763294473219: the fee is larger than the edge; no trade")
	}
	for _, c := range []struct {
		ms                           int64
		sets, legFee, net, fees, pnl string
		pct                          string
	}{
		{1764594058422, "20", "0.0075", "0.0125", "0.15", "0.25", "1.265822"},
		{1764664200584, "10", "0.007", "0.003", "0.07", "0.03", "0.300902"},
	} {
		tr, ok := byTime[c.ms]
		if !ok {
			t.Errorf("%d: no trade", c.ms)
			continue
		}
		o := tr.Opportunity
		if len(o.Legs) != 2 || o.Legs[0].Instrument.Venue != polybot.Polymarket || o.Legs[0].Instrument.Outcome != polybot.Yes ||
			o.Legs[1].Instrument.Venue != polybot.Kalshi || o.Legs[1].Instrument.Outcome != polybot.No {
			t.Errorf("%d: legs %+v, want Polymarket YES + Kalshi NO", c.ms, o.Legs)
			continue
		}
		d := polybot.MustDecimal
		if tr.Sets != d(c.sets) || o.Legs[1].Fee != d(c.legFee) || o.NetEdge != d(c.net) || tr.Fees != d(c.fees) || tr.NetPnL != d(c.pnl) || o.ProfitPct != d(c.pct) {
			t.Errorf("%d: sets %s, Kalshi fee a set %s, net %s, fees %s, P&L %s, pct %s; want %s %s %s %s %s %s",
				c.ms, tr.Sets, o.Legs[1].Fee, o.NetEdge, tr.Fees, tr.NetPnL, o.ProfitPct, c.sets, c.legFee, c.net, c.fees, c.pnl, c.pct)
		}
	}
}

func TestReplayRespectsMinProfitAndTradeCap(t *testing.T) {
	run := func(opt Options) *Report {
		t.Helper()
		rep, err := RunCrossVenue(context.Background(), bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold, opt)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	all := run(Options{})
	onePct := run(Options{MinProfitPct: polybot.MustDecimal("1")})
	if onePct.Opportunities != fedCrossOpportunities {
		t.Errorf("min profit must not change what is found: %d", onePct.Opportunities)
	}
	if onePct.Tally.Trades == 0 || onePct.Tally.Trades >= all.Tally.Trades || onePct.Tally.Trades+onePct.Untraded != onePct.Opportunities {
		t.Errorf("at 1%%: %d trades, %d untraded of %d", onePct.Tally.Trades, onePct.Untraded, onePct.Opportunities)
	}
	wantTrades := 0
	for _, tr := range all.TradeLog {
		if !tr.Opportunity.ProfitPct.LessThan(polybot.MustDecimal("1")) {
			wantTrades++
		}
	}
	if onePct.Tally.Trades != wantTrades {
		t.Errorf("at 1%%: %d trades, want the %d full-size trades at ≥ 1%%", onePct.Tally.Trades, wantTrades)
	}
	for _, tr := range onePct.TradeLog {
		if tr.Opportunity.ProfitPct.LessThan(polybot.MustDecimal("1")) {
			t.Errorf("traded %s%% under a 1%% minimum", tr.Opportunity.ProfitPct)
		}
	}

	capped := run(Options{MaxTradeUSD: polybot.MustDecimal("50")})
	if capped.Tally.Trades == 0 {
		t.Fatal("no trade under a $50 cap")
	}
	for _, tr := range capped.TradeLog {
		if spent := tr.Cost.Add(tr.Fees); spent.GreaterThan(polybot.MustDecimal("50")) {
			t.Errorf("a trade spent %s under a $50 cap", spent)
		}
		if tr.NetPnL.Sign() <= 0 {
			t.Errorf("a capped trade lost money: %+v", tr)
		}
	}
	if !capped.Sets.LessThan(all.Sets) {
		t.Errorf("the cap did not shrink the trades: %s sets against %s", capped.Sets, all.Sets)
	}

	none := run(Options{Strategies: []string{polybot.StrategySinglePlatform}})
	if none.Opportunities != 0 || none.ByStrategy[polybot.StrategyCrossPlatform] != nil {
		t.Errorf("single-platform only: %+v", none.Tally)
	}
	if _, err := RunCrossVenue(context.Background(), bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold,
		Options{Strategies: []string{polybot.StrategyCopy}}); polybot.ErrorCode(err) != polybot.EINVALID {
		t.Errorf("an unknown strategy: %v", err)
	}
}

// A two-row recording worked by hand: Kalshi YES ask 1 − 0.55 = 0.45 (100
// contracts) and Polymarket NO ask 1 − 0.48 = 0.52 (250 shares). 100 sets
// cost $97.00, Kalshi charges ceil(0.07 × 100 × 0.45 × 0.55 = 1.7325) =
// $1.74, the sets pay $100: P&L $1.26 a row. The second row repeats the
// prices half an hour later: a new book state, a new opportunity.
const handCSV = "timestamp_ms,poly_best_bid_yes,poly_best_bid_no,poly_depth_best_yes,poly_depth_best_no,kalshi_best_bid_yes,kalshi_best_bid_no,kalshi_depth_best_yes,kalshi_depth_best_no\n" +
	"1764000000000,0.48,0.40,250,100,0.40,0.55,100,100\n" +
	"1764001800000,0.48,0.40,250,100,0.40,0.55,100,100\n"

func TestReplayOfAHandWorkedRecording(t *testing.T) {
	tests := []struct {
		name                            string
		opt                             Options
		opps, trades                    int
		sets, cost, fees, gross, netPnL string
	}{
		{"every opportunity is taken at the default fees", Options{}, 2, 2, "200", "194", "3.48", "6", "2.52"},
		// 1.26 / 98.74 = 1.276% < 1.3%.
		{"a min profit above 1.276% takes none", Options{MinProfitPct: polybot.MustDecimal("1.3")}, 2, 0, "0", "0", "0", "0", "0"},
		// $50 buys 50 sets at 0.9874: $48.50 and ceil(0.866250) = $0.87,
		// P&L 1.50 − 0.87 = 0.63 a row.
		{"a $50 cap buys 50 sets", Options{MaxTradeUSD: polybot.MustDecimal("50")}, 2, 2, "100", "97", "1.74", "3", "1.26"},
		{"zero fees keep the whole gross edge", Options{Fees: zeroFees{}}, 2, 2, "200", "194", "0", "6", "6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := RunCrossVenue(context.Background(), strings.NewReader(handCSV), replay.FedDec2025Hold, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			d := polybot.MustDecimal
			if rep.Opportunities != tc.opps || rep.Tally.Trades != tc.trades || rep.Sets != d(tc.sets) || rep.Cost != d(tc.cost) ||
				rep.Fees != d(tc.fees) || rep.GrossPnL != d(tc.gross) || rep.NetPnL != d(tc.netPnL) {
				t.Errorf("got %+v; want %d opportunities, %d trades, %s sets, cost %s, fees %s, gross %s, net %s",
					rep.Tally, tc.opps, tc.trades, tc.sets, tc.cost, tc.fees, tc.gross, tc.netPnL)
			}
			if !rep.From.Equal(time.UnixMilli(1764000000000)) || !rep.To.Equal(time.UnixMilli(1764001800000)) {
				t.Errorf("from %v to %v", rep.From, rep.To)
			}
		})
	}
}

type zeroFees struct{}

func (zeroFees) TakerFee(polybot.Instrument, polybot.Decimal, polybot.Decimal) polybot.Decimal {
	return polybot.Zero
}

var _ polybot.FeeModel = zeroFees{}

func TestReplayStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := RunCrossVenue(ctx, bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold, Options{})
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Updates != 0 {
		t.Errorf("err %v, report %+v", err, rep)
	}
}

func BenchmarkFedReplay(b *testing.B) {
	evs, _, err := replay.ReadCrossVenue(bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold)
	if err != nil {
		b.Fatal(err)
	}
	u := CrossVenueUniverse(replay.FedDec2025Hold)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), evs, u, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(evs)/4), "updates/op")
}

// If the Fed market had carried Polymarket's economics schedule (rate 0.05,
// exponent 1), only 42 of the 215 cross-venue opportunities would have
// stayed positive: counted by expectFromCSV in exact rationals, Polymarket's
// fee n × 0.05 × p × (1−p) rounded down to 0.00001 on the Polymarket leg
// and Kalshi's on the other. (The market had no fee schedule: see
// cmd/polybot's replay.)
const fedCrossAtEconomicsRate = 42

func TestFedRecordingAtPolymarketsEconomicsRate(t *testing.T) {
	vf := venueFacts{pmRate: big.NewRat(5, 100), pmMin: big.NewRat(5, 1)}
	want := expectFromCSV(t, replay.FedDec2025HoldCSV, vf)
	if want.cross != fedCrossAtEconomicsRate || want.single != 0 {
		t.Fatalf("the CSV recomputation found %d cross, %d single; pinned %d", want.cross, want.single, fedCrossAtEconomicsRate)
	}
	fees := fee.Venues{Polymarket: fee.Polymarket{Default: fee.PolymarketSchedule{Rate: polybot.MustDecimal("0.05"), Exponent: 1}}}
	rep, err := RunCrossVenue(context.Background(), bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold, Options{Fees: fees})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Opportunities != fedCrossAtEconomicsRate || rep.Trades != fedCrossAtEconomicsRate {
		t.Errorf("replay found %d opportunities, %d trades; want %d", rep.Opportunities, rep.Trades, fedCrossAtEconomicsRate)
	}
	if decRat(rep.NetPnL).Cmp(want.netPnL) != 0 {
		t.Errorf("net P&L %s, want %s", rep.NetPnL, want.netPnL.FloatString(6))
	}
	if rep.FeesPolymarket.Sign() <= 0 || rep.FeesKalshi.Sign() <= 0 || rep.FeesPolymarket.Add(rep.FeesKalshi) != rep.Fees {
		t.Errorf("fees per venue %s + %s, want positive and summing to %s", rep.FeesPolymarket, rep.FeesKalshi, rep.Fees)
	}
}
