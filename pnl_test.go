package polybot_test

import (
	"math/rand/v2"
	"testing"

	"github.com/polybot/polybot"
)

func TestLockedPnLCountsCompleteSetsOnce(t *testing.T) {
	m := polybot.MustDecimal
	pair := &polybot.MarketPair{ID: "fed", PolymarketYes: "111", PolymarketNo: "222", KalshiTicker: "KXFED", Approved: true}
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

// valuer is a polybot.Valuer with fixed bids and a fee of 1¢ a contract.
type valuer struct {
	bids  map[string]polybot.Mark
	pairs []*polybot.MarketPair
}

type centFee struct{}

func (centFee) TakerFee(_ polybot.Instrument, _, count polybot.Decimal) polybot.Decimal {
	return count.Mul(polybot.MustDecimal("0.01"))
}

func (v valuer) Mark(i polybot.Instrument) (polybot.Mark, bool) {
	m, ok := v.bids[i.Key()]
	return m, ok
}
func (v valuer) Fees() polybot.FeeModel       { return centFee{} }
func (v valuer) Pairs() []*polybot.MarketPair { return v.pairs }

func TestValueNetsCompleteSetsThenMarksTheRestAtTheBidLessTheExitFee(t *testing.T) {
	m := polybot.MustDecimal
	approved := &polybot.MarketPair{ID: "fed", PolymarketYes: "111", PolymarketNo: "222", KalshiTicker: "KXFED", Approved: true}
	pending := *approved
	pending.Approved = false
	pmYes := polybot.Instrument{Venue: polybot.Polymarket, Token: "111", Outcome: polybot.Yes}
	kNo := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.No}
	hs := []*polybot.Holding{
		{Instrument: pmYes, Mode: polybot.DryRun, Size: m("30"), AvgPrice: m("0.50")},
		{Instrument: kNo, Mode: polybot.DryRun, Size: m("20"), AvgPrice: m("0.47")},
		{Instrument: kNo, Mode: polybot.Live, Size: m("99"), AvgPrice: m("0.47")}, // another mode: not counted
	}
	bids := map[string]polybot.Mark{pmYes.Key(): {Price: m("0.10")}, kNo.Key(): {Price: m("0.05"), Stale: true}}
	tests := []struct {
		name                      string
		pairs                     []*polybot.MarketPair
		value, locked, unrealized string
		sets, open, stale         int
	}{
		// 20 sets: $20, cost 20 × 0.97 = 19.40, locked 0.60. 10 PM YES left at 0.10 less 1¢: 0.90; cost 5.00.
		{"approved pair", []*polybot.MarketPair{approved}, "20.90", "0.60", "-4.10", 1, 1, 0},
		// No set: 30 × 0.09 = 2.70 and 20 × 0.04 = 0.80 (the stale Kalshi mark is kept, never zero); cost 15.00 + 9.40.
		{"pair not approved", []*polybot.MarketPair{&pending}, "3.50", "0.00", "-20.90", 0, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := polybot.Value(hs, polybot.DryRun, valuer{bids, tc.pairs})
			if got.Value != m(tc.value) || got.Locked != m(tc.locked) || got.Unrealized != m(tc.unrealized) ||
				len(got.Sets) != tc.sets || len(got.Open) != tc.open || got.StaleMarks != tc.stale {
				t.Fatalf("Value = %+v, want value %s locked %s unrealized %s, %d sets, %d open, %d stale",
					got, tc.value, tc.locked, tc.unrealized, tc.sets, tc.open, tc.stale)
			}
		})
	}
	// With no valuer every holding is at cost: nothing gained or lost.
	if got := polybot.Value(hs, polybot.DryRun, nil); got.Unrealized.Sign() != 0 || got.Unpriced != 2 {
		t.Fatalf("Value(nil) = %+v, want every holding at cost", got)
	}
}

func TestFormatUSD(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "$0.00"}, {"112.4", "$112.40"}, {"1234567.891", "$1,234,567.89"}, {"0.005", "$0.01"},
		{"-0.004", "$0.00"}, {"-3.1", "-$3.10"}, {"-1000", "-$1,000.00"}, {"999.995", "$1,000.00"},
	} {
		if got := polybot.FormatUSD(polybot.MustDecimal(tc.in)); got != tc.want {
			t.Errorf("FormatUSD(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestACompleteSetBookIsWorthTheSameAtAnyBids is the property behind "a
// hedged book is never a loss": a book made only of complete sets (on one
// venue, or across an approved pair, in random sizes) has the same value
// whatever the bids — stale, one cent, ninety-nine cents — so marking it
// can never show a loss since the day opened.
func TestACompleteSetBookIsWorthTheSameAtAnyBids(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 13))
	pair := &polybot.MarketPair{ID: "fed", PolymarketYes: "111", PolymarketNo: "222", KalshiTicker: "KXFED", Approved: true}
	insts := []polybot.Instrument{
		{Venue: polybot.Polymarket, Token: "111", Outcome: polybot.Yes}, {Venue: polybot.Polymarket, Token: "222", Outcome: polybot.No},
		{Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.Yes}, {Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.No},
		{Venue: polybot.Kalshi, Market: "KXCPI", Outcome: polybot.Yes}, {Venue: polybot.Kalshi, Market: "KXCPI", Outcome: polybot.No},
	}
	cents := func(lo, hi int) polybot.Decimal { return polybot.NewDecimal(int64(lo+rng.IntN(hi-lo+1)), 2) }
	// The ways to make a set: PM YES + K NO, K YES + PM NO, PM YES + PM NO, K YES + K NO, CPI YES + NO.
	combos := [][2]int{{0, 3}, {2, 1}, {0, 1}, {2, 3}, {4, 5}}
	for trial := range 500 {
		size := map[int]polybot.Decimal{}
		sets := polybot.Zero
		for _, c := range combos {
			n := polybot.NewDecimal(int64(rng.IntN(500)), 0)
			size[c[0]], size[c[1]] = size[c[0]].Add(n), size[c[1]].Add(n)
			sets = sets.Add(n)
		}
		var hs []*polybot.Holding
		for i, inst := range insts {
			if size[i].Sign() > 0 {
				hs = append(hs, &polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: size[i], AvgPrice: cents(1, 99)})
			}
		}
		for range 5 {
			bids := map[string]polybot.Mark{}
			for _, inst := range insts {
				if rng.IntN(6) > 0 { // now and then a book was never seen
					bids[inst.Key()] = polybot.Mark{Price: cents(0, 99), Stale: rng.IntN(3) == 0}
				}
			}
			v := polybot.Value(hs, polybot.DryRun, valuer{bids, []*polybot.MarketPair{pair}})
			if v.Value != sets || len(v.Open) != 0 {
				t.Fatalf("trial %d: a book of %s complete sets is worth %s (open %+v) at bids %v", trial, sets, v.Value, v.Open, bids)
			}
		}
	}
}
