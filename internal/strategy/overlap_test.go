package strategy

import (
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// The overlap tables are worked by hand like strategy_test.go's (and
// checked with exact fractions): Kalshi's general schedule charges
// ceil(0.07 × C × P × (1−P)) to the cent per order, a leg's fee per set is
// that fee / C rounded up to the micro, and ProfitPct is truncated to six
// places. The Kalshi event below is illustrative (three outcomes of a Fed
// decision), not a recording.

func kalshiMarket(ticker string) polybot.BinaryMarket {
	return polybot.BinaryMarket{
		Yes: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes},
		No:  polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.No},
	}
}

func polymarketMarket(cond, yesToken, noToken string) polybot.BinaryMarket {
	return polybot.BinaryMarket{
		Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: cond, Token: yesToken, Outcome: polybot.Yes},
		No:  polybot.Instrument{Venue: polybot.Polymarket, Market: cond, Token: noToken, Outcome: polybot.No},
	}
}

var (
	fedHold = kalshiMarket("KXFEDDECISION-25DEC-H0")
	fedCut  = kalshiMarket("KXFEDDECISION-25DEC-C25")
	fedBig  = kalshiMarket("KXFEDDECISION-25DEC-C26")
	pmHold  = polymarketMarket("0xhold", "pm-hold-yes", "pm-hold-no")
	pmCut   = polymarketMarket("0xcut", "pm-cut-yes", "pm-cut-no")
	pmBig   = polymarketMarket("0xbig", "pm-big-yes", "pm-big-no")

	// A threshold ladder: the upper bound above 3.875% implies it above 3.625%.
	above3875 = kalshiMarket("KXFED-25DEC-T3.875")
	above3625 = kalshiMarket("KXFED-25DEC-T3.625")
)

// fedSet is a Kalshi event's three exhaustive outcomes.
func fedSet() *polybot.OutcomeSet {
	return &polybot.OutcomeSet{ID: "fed-dec2025", Name: "Fed decision, December 2025", Venue: polybot.Kalshi,
		Event: "KXFEDDECISION-25DEC", Exhaustive: true, Approved: true, Outcomes: []polybot.SetOutcome{
			{Label: "Hold", Markets: []polybot.BinaryMarket{fedHold}},
			{Label: "Cut 25 bp", Markets: []polybot.BinaryMarket{fedCut}},
			{Label: "Cut more than 25 bp", Markets: []polybot.BinaryMarket{fedBig}},
		}}
}

// pmSet is the same event as a Polymarket negRisk event.
func pmSet() *polybot.OutcomeSet {
	return &polybot.OutcomeSet{ID: "pm-fed-dec2025", Name: "Fed decision in December?", Venue: polybot.Polymarket,
		Event: "0xnegrisk", Exhaustive: true, Approved: true, Outcomes: []polybot.SetOutcome{
			{Label: "No change", Markets: []polybot.BinaryMarket{pmHold}},
			{Label: "25 bps decrease", Markets: []polybot.BinaryMarket{pmCut}},
			{Label: "50+ bps decrease", Markets: []polybot.BinaryMarket{pmBig}},
		}}
}

// books serves views by instrument key.
type books map[string]*marketdata.View

func (b books) add(inst polybot.Instrument, k *bk) books {
	b[inst.Key()] = k.view(inst)
	return b
}

func (b books) get(inst polybot.Instrument) *marketdata.View { return b[inst.Key()] }

// sideBooks gives each market's YES (or NO) instrument the book in order.
func sideBooks(side polybot.Outcome, ms []polybot.BinaryMarket, bks ...*bk) books {
	b := books{}
	for i, m := range ms {
		inst := m.Yes
		if side == polybot.No {
			inst = m.No
		}
		b.add(inst, bks[i])
	}
	return b
}

var fedMarkets = []polybot.BinaryMarket{fedHold, fedCut, fedBig}

func TestRebalanceLong(t *testing.T) {
	tests := []struct {
		name  string
		set   func() *polybot.OutcomeSet
		fees  FeeModel
		books books
		want  *wantOpp
	}{
		{
			// 0.30 + 0.35 + 0.30 = 0.95 for a set paying $1. On 100 each:
			// ceil(0.07 × 100 × 0.30 × 0.70 = 1.47) = 1.47 → 0.0147 twice,
			// ceil(0.07 × 100 × 0.35 × 0.65 = 1.5925) = 1.60 → 0.016; fees
			// 0.0454 of the 0.05 leave 0.0046, 0.46/0.9954 = 0.4621257…%.
			name: "YES asks summing to 0.95 clear Kalshi's fees by 0.0046 a set",
			set:  fedSet, fees: DefaultFees(),
			books: sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}),
			want: &wantOpp{legs: []wantLeg{{fedHold.Yes, "0.30", "0.0147"}, {fedCut.Yes, "0.35", "0.016"}, {fedBig.Yes, "0.30", "0.0147"}},
				size: "100", cost: "0.9954", gross: "0.05", fees: "0.0454", net: "0.0046", profitPct: "0.462125"},
		},
		{
			name: "YES asks summing to 1.01 never trade",
			set:  fedSet, fees: noFees,
			books: sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.34", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.32", size: "100"}),
		},
		{
			// The cut leg shows 40: ceil(0.07 × 40 × 0.21 = 0.588) = 0.59 →
			// 0.01475; ceil(0.07 × 40 × 0.2275 = 0.637) = 0.64 → 0.016;
			// 0.0455 of fees, 0.0045 net, 0.45/0.9955 = 0.4520341…%.
			name: "the set is sized to its thinnest leg and fees priced at that size",
			set:  fedSet, fees: DefaultFees(),
			books: sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "40"}, &bk{ask: "0.30", size: "250"}),
			want: &wantOpp{legs: []wantLeg{{fedHold.Yes, "0.30", "0.01475"}, {fedCut.Yes, "0.35", "0.016"}, {fedBig.Yes, "0.30", "0.01475"}},
				size: "40", cost: "0.9955", gross: "0.05", fees: "0.0455", net: "0.0045", profitPct: "0.452034"},
		},
		{
			name: "a set not known to be exhaustive is never traded",
			set: func() *polybot.OutcomeSet {
				s := fedSet()
				s.Exhaustive = false
				return s
			}, fees: DefaultFees(),
			books: sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}),
		},
		{
			name: "a set an admin has not approved is never traded",
			set: func() *polybot.OutcomeSet {
				s := fedSet()
				s.Approved = false
				return s
			}, fees: DefaultFees(),
			books: sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}),
		},
		{
			name: "an outcome without a book leaves the set untraded",
			set:  fedSet, fees: noFees,
			books: sideBooks(polybot.Yes, fedMarkets[:2], &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}),
		},
		{
			name: "a stale outcome book leaves the set untraded",
			set:  fedSet, fees: noFees,
			books: sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100", stale: true}, &bk{ask: "0.30", size: "100"}),
		},
		{
			// Fee-free (no schedule): 0.05 a set on 250 shares, 5/0.95 = 5.263157…%.
			name: "a Polymarket negRisk set without fee schedules keeps the whole 0.05",
			set:  pmSet, fees: DefaultFees(),
			books: sideBooks(polybot.Yes, []polybot.BinaryMarket{pmHold, pmCut, pmBig}, &bk{ask: "0.30", size: "250"}, &bk{ask: "0.35", size: "300"}, &bk{ask: "0.30", size: "900"}),
			want: &wantOpp{legs: []wantLeg{{pmHold.Yes, "0.30", "0"}, {pmCut.Yes, "0.35", "0"}, {pmBig.Yes, "0.30", "0"}},
				size: "250", cost: "0.95", gross: "0.05", fees: "0", net: "0.05", profitPct: "5.263157"},
		},
		{
			// Politics rate 0.04 on 250 shares: 250 × 0.04 × 0.21 = 2.1 →
			// 0.0084; 250 × 0.04 × 0.2275 = 2.275 → 0.0091. 0.0259 of fees,
			// 2.41/0.9759 = 2.4695153…%.
			name: "Polymarket's politics rate (0.04) leaves 0.0241 a set",
			set:  pmSet, fees: pmRate("0.04"),
			books: sideBooks(polybot.Yes, []polybot.BinaryMarket{pmHold, pmCut, pmBig}, &bk{ask: "0.30", size: "250"}, &bk{ask: "0.35", size: "300"}, &bk{ask: "0.30", size: "900"}),
			want: &wantOpp{legs: []wantLeg{{pmHold.Yes, "0.30", "0.0084"}, {pmCut.Yes, "0.35", "0.0091"}, {pmBig.Yes, "0.30", "0.0084"}},
				size: "250", cost: "0.9759", gross: "0.05", fees: "0.0259", net: "0.0241", profitPct: "2.469515"},
		},
		{
			name: "a Polymarket leg below the market's 5-share minimum leaves the set untraded",
			set:  pmSet, fees: DefaultFees(),
			books: sideBooks(polybot.Yes, []polybot.BinaryMarket{pmHold, pmCut, pmBig}, &bk{ask: "0.30", size: "250"}, &bk{ask: "0.35", size: "4.99"}, &bk{ask: "0.30", size: "900"}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := detector(tc.fees)
			set := tc.set()
			o := d.RebalanceLong(set, tc.books.get, nil)
			checkOpp(t, o, polybot.StrategyOverlapping, tc.want)
			if o != nil && (o.PairID != set.ID || OverlapKind(o) != OverlapRebalanceLong || Payout(o) != polybot.One) {
				t.Errorf("pair id %q kind %q payout %s; want %q, long, 1", o.PairID, OverlapKind(o), Payout(o), set.ID)
			}
		})
	}
}

func TestRebalanceLongCountsALegBelowItsMinimum(t *testing.T) {
	d := detector(DefaultFees())
	b := sideBooks(polybot.Yes, []polybot.BinaryMarket{pmHold, pmCut, pmBig}, &bk{ask: "0.30", size: "250"}, &bk{ask: "0.35", size: "4.99"}, &bk{ask: "0.30", size: "900"})
	before := d.Skips().BelowMinSize
	if o := d.RebalanceLong(pmSet(), b.get, nil); o != nil {
		t.Fatalf("4.99 shares against a 5-share minimum: %+v", o)
	}
	if got := d.Skips().BelowMinSize - before; got != 1 {
		t.Errorf("below-minimum skips grew by %d, want 1", got)
	}
}

func TestRebalanceShort(t *testing.T) {
	tests := []struct {
		name  string
		set   func() *polybot.OutcomeSet
		fees  FeeModel
		books books
		want  *wantOpp
	}{
		{
			// Three NOs pay 2 whichever outcome wins; 0.60 + 0.65 + 0.70 =
			// 1.95. ceil(0.07 × 100 × 0.24 = 1.68) → 0.0168, ceil(1.5925) =
			// 1.60 → 0.016, ceil(1.47) → 0.0147: 0.0475 of the 0.05 leave
			// 0.0025, 0.25/1.9975 = 0.1251564…%.
			name: "NO asks summing to 1.95 against a payout of 2 clear Kalshi's fees by 0.0025",
			set:  fedSet, fees: DefaultFees(),
			books: sideBooks(polybot.No, fedMarkets, &bk{ask: "0.60", size: "100"}, &bk{ask: "0.65", size: "100"}, &bk{ask: "0.70", size: "100"}),
			want: &wantOpp{legs: []wantLeg{{fedHold.No, "0.60", "0.0168"}, {fedCut.No, "0.65", "0.016"}, {fedBig.No, "0.70", "0.0147"}},
				size: "100", cost: "1.9975", gross: "0.05", fees: "0.0475", net: "0.0025", profitPct: "0.125156"},
		},
		{
			name: "NO asks summing to 2.01 never trade",
			set:  fedSet, fees: noFees,
			books: sideBooks(polybot.No, fedMarkets, &bk{ask: "0.66", size: "100"}, &bk{ask: "0.65", size: "100"}, &bk{ask: "0.70", size: "100"}),
		},
		{
			name: "a short set not known to be exhaustive is never traded",
			set: func() *polybot.OutcomeSet {
				s := fedSet()
				s.Exhaustive = false
				return s
			}, fees: noFees,
			books: sideBooks(polybot.No, fedMarkets, &bk{ask: "0.60", size: "100"}, &bk{ask: "0.65", size: "100"}, &bk{ask: "0.70", size: "100"}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := detector(tc.fees).RebalanceShort(tc.set(), tc.books.get, nil)
			checkOpp(t, o, polybot.StrategyOverlapping, tc.want)
			if o != nil && (OverlapKind(o) != OverlapRebalanceShort || Payout(o) != dec("2")) {
				t.Errorf("kind %q payout %s; want short, 2", OverlapKind(o), Payout(o))
			}
		})
	}
}

func TestResizePricesAShortSetAgainstItsOwnPayout(t *testing.T) {
	d := detector(DefaultFees())
	o := d.RebalanceShort(fedSet(), sideBooks(polybot.No, fedMarkets,
		&bk{ask: "0.60", size: "100"}, &bk{ask: "0.65", size: "100"}, &bk{ask: "0.70", size: "100"}).get, nil)
	if o == nil {
		t.Fatal("no opportunity")
	}
	// 10 sets: ceil(0.168) = 0.17 → 0.017, ceil(0.15925) = 0.16 → 0.016,
	// ceil(0.147) = 0.15 → 0.015; 0.048 of fees, 0.002 net of 2 − 1.95,
	// 0.2/1.998 = 0.1001001…%.
	r, ok := d.Resize(o, dec("10"))
	if !ok || r.Size != dec("10") || r.Fees != dec("0.048") || r.NetEdge != dec("0.002") || r.Cost != dec("1.998") || r.ProfitPct != dec("0.1001") || r.ID != o.ID {
		t.Fatalf("10 sets: %+v, %v", r, ok)
	}
	// 3 sets: ceil(0.0504) = 0.06 → 0.02, ceil(0.047775) = 0.05 →
	// 0.016667, ceil(0.0441) = 0.05 → 0.016667: 0.053334 > 0.05.
	if r, ok := d.Resize(o, dec("3")); ok {
		t.Errorf("3 sets pay more in fees than the edge: %+v", r)
	}
	if o.Size != dec("100") || o.Fees != dec("0.0475") {
		t.Errorf("Resize changed the original: %+v", o)
	}
}

func TestCrossVenueSetTakesTheOtherVenueOnlyThroughAnApprovedPair(t *testing.T) {
	// The cut outcome is also listed on Polymarket through a matched pair.
	set := func() *polybot.OutcomeSet {
		s := fedSet()
		s.Outcomes[1].Markets = append(s.Outcomes[1].Markets, pmCut)
		s.Outcomes[1].PairID = "fed-dec2025-cut25"
		return s
	}
	pair := &polybot.MarketPair{ID: "fed-dec2025-cut25", Name: "Fed cuts 25 bp", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xcut", "pm-cut-yes", "pm-cut-no"), polybot.KalshiLeg("KXFEDDECISION-25DEC-C25")}, Approved: true}
	b := sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}).
		add(pmCut.Yes, &bk{ask: "0.33", size: "500"})
	d := detector(DefaultFees())

	// Polymarket's 0.33 (fee-free) beats Kalshi's 0.35: 0.93 a set, fees
	// 0.0147 twice, 0.0406 net, 4.06/0.9594 = 4.2318115…%.
	o := d.RebalanceLong(set(), b.get, func(id string) *polybot.MarketPair { return pair })
	checkOpp(t, o, polybot.StrategyOverlapping, &wantOpp{
		legs: []wantLeg{{fedHold.Yes, "0.30", "0.0147"}, {pmCut.Yes, "0.33", "0"}, {fedBig.Yes, "0.30", "0.0147"}},
		size: "100", cost: "0.9594", gross: "0.07", fees: "0.0294", net: "0.0406", profitPct: "4.231811"})

	// Unapproved, unknown, or a pair of other markets: Kalshi's own 0.35
	// (the first table's opportunity).
	unapproved := *pair
	unapproved.Approved = false
	other := *pair
	other.Legs[1].Market = "KXFEDDECISION-25DEC-H0"
	for name, pairs := range map[string]Pairs{
		"unapproved":     func(string) *polybot.MarketPair { return &unapproved },
		"unknown":        func(string) *polybot.MarketPair { return nil },
		"no registry":    nil,
		"another market": func(string) *polybot.MarketPair { return &other },
	} {
		o := d.RebalanceLong(set(), b.get, pairs)
		if o == nil || o.Legs[1].Instrument != fedCut.Yes || o.NetEdge != dec("0.0046") {
			t.Errorf("%s pair: %+v; want Kalshi's own cut market, net 0.0046", name, o)
		}
	}
}

// ladder is the relation "above 3.875%" ⇒ "above 3.625%".
func ladder() *polybot.Relation {
	return &polybot.Relation{ID: "fed-dec2025-ladder-3.875-3.625", Name: "Above 3.875% implies above 3.625%",
		Kind: polybot.RelationImplies, A: above3875, B: above3625, Approved: true,
		ResolutionNotes: "Both resolve on the same FOMC upper bound; a bound above 3.875% is above 3.625%."}
}

func TestImplication(t *testing.T) {
	tests := []struct {
		name      string
		rel       func() *polybot.Relation
		fees      FeeModel
		yesB, noA *bk
		want      *wantOpp
	}{
		{
			// YES "above 3.625%" 0.70 + NO "above 3.875%" 0.26 = 0.96; at
			// least one pays $1. ceil(0.07 × 100 × 0.21 = 1.47) → 0.0147,
			// ceil(0.07 × 100 × 0.26 × 0.74 = 1.3468) = 1.35 → 0.0135: 0.0282
			// of fees, 0.0118 net, 1.18/0.9882 = 1.1940902…%.
			name: "YES B 0.70 plus NO A 0.26 clear Kalshi's fees by 0.0118",
			rel:  ladder, fees: DefaultFees(),
			yesB: &bk{ask: "0.70", size: "100"}, noA: &bk{ask: "0.26", size: "300"},
			want: &wantOpp{legs: []wantLeg{{above3625.Yes, "0.70", "0.0147"}, {above3875.No, "0.26", "0.0135"}},
				size: "100", cost: "0.9882", gross: "0.04", fees: "0.0282", net: "0.0118", profitPct: "1.19409"},
		},
		{
			name: "an implication an admin has not approved is never traded",
			rel: func() *polybot.Relation {
				r := ladder()
				r.Approved = false
				return r
			}, fees: DefaultFees(),
			yesB: &bk{ask: "0.70", size: "100"}, noA: &bk{ask: "0.26", size: "300"},
		},
		{
			name: "an equivalence is not an implication",
			rel: func() *polybot.Relation {
				r := ladder()
				r.Kind = polybot.RelationEquivalent
				return r
			}, fees: noFees,
			yesB: &bk{ask: "0.70", size: "100"}, noA: &bk{ask: "0.26", size: "300"},
		},
		{
			name: "0.72 + 0.29 = 1.01 never trades",
			rel:  ladder, fees: noFees,
			yesB: &bk{ask: "0.72", size: "100"}, noA: &bk{ask: "0.29", size: "300"},
		},
		{
			name: "a missing book never trades",
			rel:  ladder, fees: noFees,
			yesB: &bk{ask: "0.70", size: "100"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := books{}.add(above3625.Yes, tc.yesB)
			if tc.noA != nil {
				b.add(above3875.No, tc.noA)
			}
			rel := tc.rel()
			o := detector(tc.fees).Implication(rel, b.get)
			checkOpp(t, o, polybot.StrategyOverlapping, tc.want)
			if o != nil && (o.PairID != rel.ID || OverlapKind(o) != OverlapImplication) {
				t.Errorf("pair id %q kind %q; want %q, implication", o.PairID, OverlapKind(o), rel.ID)
			}
		})
	}
}

func TestImplicationTakesAViewOnlyOfItsOwnInstrument(t *testing.T) {
	// A lookup that answers with another market's book must not be traded.
	b := books{}.add(above3625.Yes, &bk{ask: "0.70", size: "100"}).add(above3875.No, &bk{ask: "0.26", size: "100"})
	wrong := func(inst polybot.Instrument) *marketdata.View {
		if inst == above3875.No {
			return b.get(above3875.Yes)
		}
		return b.get(inst)
	}
	if o := detector(noFees).Implication(ladder(), wrong); o != nil {
		t.Fatalf("traded a YES book as the NO leg: %+v", o)
	}
}

func TestOverlapOpportunityIDsDifferByKindAndBookState(t *testing.T) {
	d := detector(noFees)
	long := d.RebalanceLong(fedSet(), sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}).get, nil)
	again := d.RebalanceLong(fedSet(), sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}).get, nil)
	moved := d.RebalanceLong(fedSet(), sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100", version: 2}, &bk{ask: "0.30", size: "100"}).get, nil)
	short := d.RebalanceShort(fedSet(), sideBooks(polybot.No, fedMarkets, &bk{ask: "0.60", size: "100"}, &bk{ask: "0.65", size: "100"}, &bk{ask: "0.70", size: "100"}).get, nil)
	if long == nil || again == nil || moved == nil || short == nil {
		t.Fatal("want four opportunities")
	}
	if long.ID != again.ID || long.ID == moved.ID || long.ID == short.ID {
		t.Errorf("ids long %s again %s moved %s short %s", long.ID, again.ID, moved.ID, short.ID)
	}
}

func TestOverlapKindIsEmptyForOtherStrategies(t *testing.T) {
	o := detector(noFees).SinglePlatform((&bk{ask: "0.48", size: "500"}).view(pmYes), (&bk{ask: "0.50", size: "300"}).view(pmNo))
	if o == nil || OverlapKind(o) != "" || Payout(o) != polybot.One {
		t.Fatalf("single-platform: %+v kind %q", o, OverlapKind(o))
	}
}

func TestASetAssembledFromTheRegistryTradesOnlyItsApprovedPairs(t *testing.T) {
	pairs := []polybot.MarketPair{
		{ID: "hold", Name: "Hold", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xhold", "pm-hold-yes", "pm-hold-no"), polybot.KalshiLeg("KXFEDDECISION-25DEC-H0")}},
		{ID: "cut", Name: "Cut", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xcut", "pm-cut-yes", "pm-cut-no"), polybot.KalshiLeg("KXFEDDECISION-25DEC-C25")}, Approved: true},
	}
	set := fedSet().WithPairs(pairs)
	byID := func(id string) *polybot.MarketPair {
		for i := range pairs {
			if pairs[i].ID == id {
				return &pairs[i]
			}
		}
		return nil
	}
	// Polymarket is cheaper on both matched outcomes, 0.25 and 0.33, but
	// only the cut's pair is approved: Kalshi's hold 0.30 + Polymarket's
	// cut 0.33 + Kalshi's 0.30 = 0.93, fees 0.0147 twice as before.
	b := sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}).
		add(pmHold.Yes, &bk{ask: "0.25", size: "500"}).add(pmCut.Yes, &bk{ask: "0.33", size: "500"})
	o := detector(DefaultFees()).RebalanceLong(set, b.get, byID)
	checkOpp(t, o, polybot.StrategyOverlapping, &wantOpp{
		legs: []wantLeg{{fedHold.Yes, "0.30", "0.0147"}, {pmCut.Yes, "0.33", "0"}, {fedBig.Yes, "0.30", "0.0147"}},
		size: "100", cost: "0.9594", gross: "0.07", fees: "0.0294", net: "0.0406", profitPct: "4.231811"})
}

func TestABookThatGoesAwayBetweenThePassesYieldsNothing(t *testing.T) {
	b := sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"})
	calls := 0
	flaky := func(inst polybot.Instrument) *marketdata.View {
		calls++
		if calls > len(fedMarkets) { // the first pass saw every book
			return nil
		}
		return b.get(inst)
	}
	if o := detector(noFees).RebalanceLong(fedSet(), flaky, nil); o != nil {
		t.Fatalf("traded a set whose book went away: %+v", o)
	}
}

func TestWantsFiltersOverlappingOpportunitiesByToggleAndMinimumProfit(t *testing.T) {
	d := detector(DefaultFees())
	// 1.19409 % (TestImplication's first row) and 0.462125 % (TestRebalanceLong's).
	impl := d.Implication(ladder(), books{}.add(above3625.Yes, &bk{ask: "0.70", size: "100"}).add(above3875.No, &bk{ask: "0.26", size: "300"}).get)
	long := d.RebalanceLong(fedSet(), sideBooks(polybot.Yes, fedMarkets, &bk{ask: "0.30", size: "100"}, &bk{ask: "0.35", size: "100"}, &bk{ask: "0.30", size: "100"}).get, nil)
	if impl == nil || long == nil {
		t.Fatalf("fixtures: %+v %+v", impl, long)
	}
	all := polybot.Features{SinglePlatform: true, CrossPlatform: true, OverlappingArb: true}
	cfg := func(on bool, min string) *polybot.Config {
		c := polybot.DefaultConfig(polybot.ID{}, t0)
		c.EnableOverlappingArb = on
		c.MinProfitPct = dec(min)
		return c
	}
	tests := []struct {
		name     string
		cfg      *polybot.Config
		features polybot.Features
		o        *polybot.Opportunity
		want     bool
	}{
		{"an implication at 1.19409% passes the default 1% minimum", cfg(true, "1"), all, impl, true},
		{"a minimum one micro above it rejects it", cfg(true, "1.194091"), all, impl, false},
		{"a long set at 0.462125% is below the default 1%", cfg(true, "1"), all, long, false},
		{"a 0.4% minimum takes the long set", cfg(true, "0.4"), all, long, true},
		{"the toggle off rejects both", cfg(false, "0"), all, impl, false},
		{"a plan without overlapping arbitrage rejects it", cfg(true, "0"), polybot.Features{SinglePlatform: true, CrossPlatform: true}, impl, false},
	}
	for _, tc := range tests {
		if got := Wants(tc.cfg, tc.features, tc.o); got != tc.want {
			t.Errorf("%s: Wants = %v, want %v", tc.name, got, tc.want)
		}
	}
}
