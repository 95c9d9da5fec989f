package polybot_test

import (
	"math/rand/v2"
	"testing"

	"github.com/polybot/polybot"
)

func TestLockedPnLCountsCompleteSetsOnce(t *testing.T) {
	m := polybot.MustDecimal
	pair := &polybot.MarketPair{ID: "fed", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", "111", "222"), polybot.KalshiLeg("KXFED")}, Approved: true}
	h := func(inst polybot.Instrument, size, avg string) *polybot.Holding {
		return &polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: m(size), AvgPrice: m(avg)}
	}
	pmYes := polybot.Instrument{Venue: polybot.Polymarket, Token: "111", Outcome: polybot.Yes}
	kNo := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.No}
	kYes := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED", Outcome: polybot.Yes}
	// 51 PM YES at 0.49 and 51 Kalshi NO at 0.47745 (0.46 + a $0.89 fee over 51):
	// 51 × (1 − 0.96745) = 1.66005 locked. 10 more Kalshi YES at 0.50 pair with
	// nothing (the Kalshi NO is used up), so they stay unhedged.
	got := polybot.LockedPnL([]*polybot.Holding{h(pmYes, "51", "0.49"), h(kNo, "51", "0.47745"), h(kYes, "10", "0.50")}, polybot.Hedges{Pairs: []*polybot.MarketPair{pair}})
	if len(got) != 1 || got[0].Market != "fed" || got[0].Sets != m("51") || got[0].Cost != m("0.96745") || got[0].Edge != m("1.66005") {
		t.Fatalf("locked %+v", got)
	}
	// YES and NO of one Kalshi market outside the registry lock too.
	other := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXCPI", Outcome: polybot.Yes}
	otherNo := other
	otherNo.Outcome = polybot.No
	got = polybot.LockedPnL([]*polybot.Holding{h(other, "5", "0.40"), h(otherNo, "3", "0.55")}, polybot.Hedges{})
	if len(got) != 1 || got[0].Market != "KXCPI" || got[0].Sets != m("3") || got[0].Edge != m("0.15") {
		t.Fatalf("single-venue locked %+v", got)
	}
}

// valuer is a polybot.Valuer with fixed bids and a fee of 1¢ a contract.
type valuer struct {
	bids   map[string]polybot.Mark
	pairs  []*polybot.MarketPair
	hedges polybot.Hedges
}

type centFee struct{}

func (centFee) TakerFee(_ polybot.Instrument, _, count polybot.Decimal) polybot.Decimal {
	return count.Mul(polybot.MustDecimal("0.01"))
}

func (v valuer) Mark(i polybot.Instrument) (polybot.Mark, bool) {
	m, ok := v.bids[i.Key()]
	return m, ok
}
func (v valuer) Fees() polybot.FeeModel { return centFee{} }
func (v valuer) Hedges() polybot.Hedges {
	if v.pairs != nil {
		return polybot.Hedges{Pairs: v.pairs}
	}
	return v.hedges
}

func TestValueNetsCompleteSetsThenMarksTheRestAtTheBidLessTheExitFee(t *testing.T) {
	m := polybot.MustDecimal
	approved := &polybot.MarketPair{ID: "fed", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", "111", "222"), polybot.KalshiLeg("KXFED")}, Approved: true}
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
			got := polybot.Value(hs, polybot.DryRun, valuer{bids: bids, pairs: tc.pairs})
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
	pair := &polybot.MarketPair{ID: "fed", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", "111", "222"), polybot.KalshiLeg("KXFED")}, Approved: true}
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
			v := polybot.Value(hs, polybot.DryRun, valuer{bids: bids, pairs: []*polybot.MarketPair{pair}})
			if v.Value != sets || len(v.Open) != 0 {
				t.Fatalf("trial %d: a book of %s complete sets is worth %s (open %+v) at bids %v", trial, sets, v.Value, v.Open, bids)
			}
		}
	}
}

func TestLockedPnLNetsOutcomeSetsAndImplications(t *testing.T) {
	m := polybot.MustDecimal
	km := func(ticker string) polybot.BinaryMarket {
		return polybot.BinaryMarket{Yes: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes},
			No: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.No}}
	}
	set := &polybot.OutcomeSet{ID: "fed", Name: "Fed", Venue: polybot.Kalshi, Exhaustive: true, Approved: true,
		Outcomes: []polybot.SetOutcome{{Label: "hold", Markets: []polybot.BinaryMarket{km("H0")}},
			{Label: "cut 25", Markets: []polybot.BinaryMarket{km("C25")}}, {Label: "cut 50+", Markets: []polybot.BinaryMarket{km("C26")}}}}
	unapproved := *set
	unapproved.Approved = false
	notExhaustive := *set
	notExhaustive.Exhaustive = false
	rel := &polybot.Relation{ID: "ladder", Kind: polybot.RelationImplies, A: km("T4.00"), B: km("T3.75"), Approved: true}
	h := func(inst polybot.Instrument, size, avg string) *polybot.Holding {
		return &polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: m(size), AvgPrice: m(avg)}
	}
	tests := []struct {
		name     string
		holdings []*polybot.Holding
		hedges   polybot.Hedges
		kind     string
		sets     string
		payout   string
		cost     string
		edge     string
	}{
		// 10 YES of each outcome at 0.30 + 0.40 + 0.25 = 0.95 a set: 10 × (1 − 0.95) = 0.50.
		// The 5 YES of H0 beyond 10 stay open.
		{"long set", []*polybot.Holding{h(km("H0").Yes, "15", "0.30"), h(km("C25").Yes, "10", "0.40"), h(km("C26").Yes, "10", "0.25")},
			polybot.Hedges{Sets: []*polybot.OutcomeSet{set}}, polybot.SetRebalanceLong, "10", "1", "0.95", "0.50"},
		// 4 NO of each at 0.65 + 0.55 + 0.72 = 1.92, paying n − 1 = 2: 4 × 0.08 = 0.32.
		{"short set", []*polybot.Holding{h(km("H0").No, "4", "0.65"), h(km("C25").No, "4", "0.55"), h(km("C26").No, "4", "0.72")},
			polybot.Hedges{Sets: []*polybot.OutcomeSet{set}}, polybot.SetRebalanceShort, "4", "2", "1.92", "0.32"},
		{"set not approved", []*polybot.Holding{h(km("H0").Yes, "1", "0.30"), h(km("C25").Yes, "1", "0.40"), h(km("C26").Yes, "1", "0.25")},
			polybot.Hedges{Sets: []*polybot.OutcomeSet{&unapproved}}, "", "", "", "", ""},
		{"set not exhaustive", []*polybot.Holding{h(km("H0").Yes, "1", "0.30"), h(km("C25").Yes, "1", "0.40"), h(km("C26").Yes, "1", "0.25")},
			polybot.Hedges{Sets: []*polybot.OutcomeSet{&notExhaustive}}, "", "", "", "", ""},
		{"an outcome missing", []*polybot.Holding{h(km("H0").Yes, "1", "0.30"), h(km("C25").Yes, "1", "0.40")},
			polybot.Hedges{Sets: []*polybot.OutcomeSet{set}}, "", "", "", "", ""},
		// YES on B (rate above 3.75) at 0.60 and NO on A (above 4.00) at 0.37: 7 × 0.03 = 0.21.
		{"implication", []*polybot.Holding{h(km("T3.75").Yes, "7", "0.60"), h(km("T4.00").No, "9", "0.37")},
			polybot.Hedges{Relations: []*polybot.Relation{rel}}, polybot.SetImplication, "7", "1", "0.97", "0.21"},
		// The wrong way round (YES on A, NO on B) is no hedge.
		{"implication reversed", []*polybot.Holding{h(km("T4.00").Yes, "7", "0.30"), h(km("T3.75").No, "7", "0.30")},
			polybot.Hedges{Relations: []*polybot.Relation{rel}}, "", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := polybot.LockedPnL(tc.holdings, tc.hedges)
			if tc.kind == "" {
				if len(got) != 0 {
					t.Fatalf("locked %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("locked %+v, want one set", got)
			}
			g := got[0]
			if g.Kind != tc.kind || g.Sets != m(tc.sets) || g.Payout != m(tc.payout) || g.Cost != m(tc.cost) || g.Edge != m(tc.edge) ||
				len(g.Legs) != len(tc.holdings) && tc.kind != polybot.SetImplication {
				t.Fatalf("locked %+v, want %s %s sets paying %s at %s: %s", g, tc.kind, tc.sets, tc.payout, tc.cost, tc.edge)
			}
			// The valuation counts each set at its payout, never as a loss.
			val := polybot.Value(tc.holdings, polybot.DryRun, valuer{hedges: tc.hedges})
			if want := m(tc.sets).Mul(m(tc.payout)); val.SetValue != want {
				t.Fatalf("set value %s, want %s", val.SetValue, want)
			}
		})
	}
}
