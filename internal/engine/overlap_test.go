package engine

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venuesim/fault"
)

// A three-outcome Polymarket event (a negRisk event's markets).
var fedSet = func() *polybot.OutcomeSet {
	s := &polybot.OutcomeSet{ID: "fed-jan", Name: "Fed decision in January", Venue: polybot.Polymarket, Event: "0xneg",
		Exhaustive: true, Approved: true}
	for i, label := range []string{"No change", "25 bps cut", "50+ bps cut"} {
		mkt := "0xc" + string(rune('1'+i))
		s.Outcomes = append(s.Outcomes, polybot.SetOutcome{Label: label, Markets: []polybot.BinaryMarket{{
			Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: mkt, Token: "2" + string(rune('1'+i)) + "1", Outcome: polybot.Yes},
			No:  polybot.Instrument{Venue: polybot.Polymarket, Market: mkt, Token: "2" + string(rune('1'+i)) + "2", Outcome: polybot.No},
		}}})
	}
	return s
}()

func overlapUser(r *rig) polybot.ID {
	return r.user(polybot.TierEnterprise, func(c *polybot.Config) {
		c.EnableOverlappingArb, c.EnableSinglePlatformArb, c.EnableCrossPlatformArb = true, false, false
		c.MaxTradeSizeUSD = polybot.MustDecimal("100")
	})
}

// setBooks shows each outcome's YES ask (and a NO ask making the market
// itself no single-platform arbitrage).
func setBooks(r *rig, s *polybot.OutcomeSet, asks ...string) {
	for i, o := range s.Outcomes {
		m := o.Markets[0]
		r.book(m.Yes, []polybot.Level{lv("0.01", "1000")}, []polybot.Level{lv(asks[i], "200")})
		r.book(m.No, []polybot.Level{lv("0.01", "1000")}, []polybot.Level{lv("0.99", "200")})
	}
}

func TestDryRunRebalancingSetBuysEveryOutcomeAndTheGateCountsItHedged(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := overlapUser(r)
	m := r.start(Config{Universe: Universe{Sets: []*polybot.OutcomeSet{fedSet}},
		Strategies: []string{polybot.StrategyOverlapping}})
	r.waitRunning(id)

	// 0.30 + 0.40 + 0.25 = 0.95 a set, fee-free: 5.26%. $100 buys
	// floor(100 / 0.95) = 105.26 sets.
	setBooks(r, fedSet, "0.30", "0.40", "0.25")
	eventually(t, "every leg's fill is recorded", func() bool { return len(r.fills(id)) == 3 })
	for _, f := range r.fills(id) {
		if f.Size != d("105.26") || f.Side != polybot.Buy || f.Instrument.Outcome != polybot.Yes || f.Strategy != polybot.StrategyOverlapping {
			t.Fatalf("fill %+v, want 105.26 YES bought by overlapping arbitrage", f)
		}
	}
	// The bids are 0.01: marked one by one the book would be a $96 loss,
	// but it is 105.26 complete sets worth $1 each.
	var today *polybot.DayRisk
	var hs []*polybot.Holding
	r.tenantView(id, func(tx polybot.TenantTx) (err error) {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		if today, err = polybot.TodayRisk(tx, c, p, polybot.DryRun, m.val, false); err != nil {
			return err
		}
		hs, err = tx.Holdings()
		return err
	})
	if !today.Loss.IsZero() || today.Value != d("105.26") {
		t.Fatalf("today %+v: a book of complete sets is no loss", today)
	}
	locked := polybot.LockedPnL(hs, m.val.Hedges())
	if len(locked) != 1 || locked[0].Kind != polybot.SetRebalanceLong || locked[0].Sets != d("105.26") || len(locked[0].Legs) != 3 ||
		locked[0].Edge != d("5.263") {
		t.Fatalf("locked %+v, want 105.26 long sets, 3 legs, 5.263 locked in", locked)
	}
}

func TestNoOverlapTradeOnASetThatIsUnapprovedOrNotExhaustive(t *testing.T) {
	unapproved, partial := *fedSet, *fedSet
	unapproved.Approved = false
	partial.Exhaustive = false
	for _, tc := range []struct {
		name string
		set  *polybot.OutcomeSet
	}{{"unapproved", &unapproved}, {"not exhaustive", &partial}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.testHubs(polybot.Polymarket)
			id := overlapUser(r)
			var seen int
			m := r.startWith(Config{Universe: Universe{Sets: []*polybot.OutcomeSet{tc.set}}, Strategies: []string{polybot.StrategyOverlapping}},
				func(m *Manager) {
					m.onDecision = func(polybot.ID, *polybot.Opportunity, polybot.Decimal, time.Time) { seen++ }
				})
			r.waitRunning(id)
			setBooks(r, tc.set, "0.30", "0.40", "0.25")
			// The same books on an approved set trade at once (the test
			// above): give this one a second.
			time.Sleep(time.Second)
			if n := len(r.intents(id)); n != 0 || seen != 0 {
				t.Fatalf("%d intents, %d decisions on a set that must not trade", n, seen)
			}
			if s := m.Snapshot(); s.Opportunities != 0 {
				t.Fatalf("%d opportunities detected", s.Opportunities)
			}
		})
	}
}

// TestLiveRebalancingSetWhoseLegFailsUnwindsTheLegsThatFilled sends a
// three-leg Kalshi set; the venue refuses the second or the third order:
// the legs that filled are sold back, the rest is never sent, and nothing
// naked is left.
func TestLiveRebalancingSetWhoseLegFailsUnwindsTheLegsThatFilled(t *testing.T) {
	for _, failing := range []int{2, 3} {
		t.Run("order "+strconv.Itoa(failing)+" refused", func(t *testing.T) { liveSetLegFails(t, failing) })
	}
}

func liveSetLegFails(t *testing.T, failing int) {
	r := newLiveRig(t)
	lt := r.liveUser(func(c *polybot.Config) {
		c.EnableCrossPlatformArb, c.EnableOverlappingArb = false, true
	})
	km := func(ticker string) polybot.BinaryMarket {
		y, n := kalshi.Instruments(ticker)
		return polybot.BinaryMarket{Yes: y, No: n}
	}
	set := &polybot.OutcomeSet{ID: "fed-dec", Name: "Fed decision December 2025", Venue: polybot.Kalshi, Exhaustive: true, Approved: true,
		Outcomes: []polybot.SetOutcome{{Label: "Hold", Markets: []polybot.BinaryMarket{km(fedTicker)}},
			{Label: "Cut 25", Markets: []polybot.BinaryMarket{km(fedC25)}}, {Label: "Cut 50+", Markets: []polybot.BinaryMarket{km(fedC26)}}}}
	cfg := Config{Universe: Universe{Sets: []*polybot.OutcomeSet{set}}, ExchangeFactory: r.factory,
		Strategies: []string{polybot.StrategyOverlapping}}
	m := r.start(cfg)
	r.waitRunning(lt.id)
	r.mu.Lock()
	r.onOrder = func(n int) {
		if n == failing { // this order is refused
			r.ksim.Faults().Add(fault.Rule{Kind: fault.Status, Method: "POST", Path: "/portfolio/events/orders", Status: 400, Times: 1})
		}
	}
	r.mu.Unlock()
	// YES asks 0.30 × 10, 0.35 × 20, 0.25 × 30 (NO bids at 0.70, 0.65,
	// 0.75), YES bids 0.28, 0.33, 0.23: 0.90 a set before fees; the fees of
	// 10 sets are 0.15 + 0.16 + 0.14, so 10 sets net 0.55 (5.8%).
	for _, b := range []struct{ ticker, bid, noBid, size string }{
		{fedTicker, "0.28", "0.70", "10"}, {fedC25, "0.33", "0.65", "20"}, {fedC26, "0.23", "0.75", "30"},
	} {
		if err := r.ksim.SetBook(b.ticker, []polybot.Level{lv(b.bid, "100")}, []polybot.Level{lv(b.noBid, b.size)}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if t.Failed() {
			for _, in := range r.intents(lt.id) {
				t.Logf("intent leg %d %s %s %s filled %s: %s", in.Leg, in.Instrument.Market, in.Side, in.State, in.Filled, in.Error)
			}
			t.Logf("status %+v", m.Status(context.Background(), lt.id))
		}
	}()
	filled := failing - 1 // legs go thinnest first: 0, 1, 2
	eventually(t, "every filled leg is unwound", func() bool {
		legs := r.intentsByLeg(lt.id)
		for leg := range filled {
			if u := legs[unwindLeg+leg]; u == nil || !finalState(u.State) {
				return false
			}
		}
		return true
	})
	legs := r.intentsByLeg(lt.id)
	for leg := range filled {
		if in := legs[leg]; in.State != polybot.IntentFilled || in.Filled != d("10") {
			t.Fatalf("leg %d %+v, want 10 filled", leg, in)
		}
		if u := legs[unwindLeg+leg]; u.Side != polybot.Sell || u.State != polybot.IntentFilled || u.Filled != d("10") {
			t.Fatalf("unwind of leg %d %+v, want 10 sold", leg, u)
		}
	}
	if in := legs[filled]; in.State != polybot.IntentRejected {
		t.Fatalf("leg %d %+v, want rejected by the venue", filled, in)
	}
	for leg := filled + 1; leg < 3; leg++ {
		if in := legs[leg]; in.State != polybot.IntentCancelled {
			t.Fatalf("leg %d %+v, want never sent", leg, in)
		}
	}
	var hs []*polybot.Holding
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { hs, err = tx.Holdings(); return })
	for _, h := range hs {
		if !h.Size.IsZero() {
			t.Fatalf("holding %+v left after the unwind: a naked leg", h)
		}
	}
	if st := m.Status(context.Background(), lt.id); st.Counters.Unwinds < 1 {
		t.Fatalf("status %+v", st)
	}
}

// TestUniverseJoinsSetsAcrossVenuesThroughApprovedPairsAndEquivalences:
// a Kalshi set's outcome reaches its Polymarket market through an approved
// matched pair, or through an approved equivalence between the two
// venues' sets (outcome i is outcome i); the watched instruments and the
// gate's hedges follow the approvals.
func TestUniverseJoinsSetsAcrossVenuesThroughApprovedPairsAndEquivalences(t *testing.T) {
	km := func(ticker string) polybot.BinaryMarket {
		y, n := kalshi.Instruments(ticker)
		return polybot.BinaryMarket{Yes: y, No: n}
	}
	pmm := func(c string) polybot.BinaryMarket {
		return polybot.BinaryMarket{Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: c, Token: c + "-y", Outcome: polybot.Yes},
			No: polybot.Instrument{Venue: polybot.Polymarket, Market: c, Token: c + "-n", Outcome: polybot.No}}
	}
	kset := &polybot.OutcomeSet{ID: "k", Name: "K", Venue: polybot.Kalshi, Exhaustive: true, Approved: true, Outcomes: []polybot.SetOutcome{
		{Label: "a", Markets: []polybot.BinaryMarket{km("KA")}}, {Label: "b", Markets: []polybot.BinaryMarket{km("KB")}}}}
	pset := &polybot.OutcomeSet{ID: "p", Name: "P", Venue: polybot.Polymarket, Outcomes: []polybot.SetOutcome{
		{Label: "a", Markets: []polybot.BinaryMarket{pmm("pa")}}, {Label: "b", Markets: []polybot.BinaryMarket{pmm("pb")}}}}
	pair := &polybot.MarketPair{ID: "pair-a", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("pa", "pa-y", "pa-n"), polybot.KalshiLeg("KA")}}
	equiv := &polybot.Relation{ID: "eq", Name: "same", Kind: polybot.RelationEquivalent, SetA: "k", SetB: "p"}
	watched := func(u Universe) int { return len(u.Instruments()) }
	tests := []struct {
		name          string
		pairApproved  bool
		equivApproved bool
		instruments   int // Kalshi's 4, plus 2 per Polymarket market joined
		crossOutcomes int
		hedgePairs    int
	}{
		{"nothing approved", false, false, 4, 0, 0},
		{"the pair approved", true, false, 6, 1, 1},
		{"the equivalence approved", false, true, 8, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, e := *pair, *equiv
			p.Approved, e.Approved = tc.pairApproved, tc.equivApproved
			u := Universe{Pairs: []*polybot.MarketPair{&p}, Sets: []*polybot.OutcomeSet{kset, pset}, Relations: []*polybot.Relation{&e}}
			if n := watched(u); n != tc.instruments {
				t.Errorf("%d instruments watched, want %d", n, tc.instruments)
			}
			sets := u.sets()
			if len(sets) != 1 {
				t.Fatalf("%d tradable sets, want the Kalshi one (the Polymarket one is not approved)", len(sets))
			}
			cross := 0
			ok := approvedIDs(u.allPairs())
			for _, o := range sets[0].Outcomes {
				if len(o.Markets) == 2 && ok[o.PairID] {
					cross++
				}
			}
			if cross != tc.crossOutcomes {
				t.Errorf("%d outcomes joined across venues, want %d", cross, tc.crossOutcomes)
			}
			if h := u.hedges(); len(h.Pairs) != tc.hedgePairs || len(h.Sets) != 1 {
				t.Errorf("hedges %d pairs %d sets, want %d and 1", len(h.Pairs), len(h.Sets), tc.hedgePairs)
			}
		})
	}
}
