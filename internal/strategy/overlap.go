package strategy

import (
	"slices"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// Overlapping arbitrage (polybot.StrategyOverlapping) buys a bundle of
// legs that pays at least a known amount whatever happens, for less than
// that amount after fees:
//
//   - rebalancing, long: YES on every outcome of an exhaustive
//     polybot.OutcomeSet pays exactly $1 (one outcome resolves YES);
//   - rebalancing, short: NO on every outcome of an exhaustive set of n
//     outcomes pays exactly n − 1 (every outcome but one resolves NO);
//   - implication: for an approved relation A ⇒ B, YES on B plus NO on A
//     pays at least $1 (A YES makes B YES; A NO pays the NO).
//
// The rules are the other strategies' (doc.go): the best ask of every leg,
// the size of the thinnest leg rounded down to the coarsest lot and at
// least every leg's minimum, prices on their ticks, fees per order spread
// per set and rounded up. Only the payout differs, so an overlapping
// opportunity's edges are measured against it:
//
//	GrossEdge = payout − Σ P     NetEdge = GrossEdge − Fees
//	Cost = Σ P + Fees            ProfitPct = NetEdge × 100 / Cost
//
// (payout 1 for long sets and implications, n − 1 for short sets), and
// PairID is the outcome set's or the relation's id. A short set's
// opportunity therefore pays more than $1 a set; Detector.Resize reads the
// payout back from the opportunity (Payout), so it re-prices every kind.

// Books finds the hub's current view of an instrument: nil when the caller
// has none (the legs that need it are not traded).
type Books func(polybot.Instrument) *marketdata.View

// Pairs finds a matched-market registry entry by id: nil when unknown.
type Pairs func(id string) *polybot.MarketPair

// Overlap kinds, as OverlapKind reports them.
const (
	OverlapRebalanceLong  = "rebalance_long"
	OverlapRebalanceShort = "rebalance_short"
	OverlapImplication    = "implication"
)

// OverlapKind names the kind of an overlapping opportunity by its legs:
// all YES is a long set, all NO a short set, YES and NO an implication;
// "" for another strategy's opportunity.
func OverlapKind(o *polybot.Opportunity) string {
	if o == nil || o.Strategy != polybot.StrategyOverlapping || len(o.Legs) == 0 {
		return ""
	}
	yes, no := 0, 0
	for i := range o.Legs {
		if o.Legs[i].Instrument.Outcome == polybot.Yes {
			yes++
		} else {
			no++
		}
	}
	switch {
	case no == 0:
		return OverlapRebalanceLong
	case yes == 0:
		return OverlapRebalanceShort
	}
	return OverlapImplication
}

// RebalanceLong looks for YES on every outcome of set for less than $1 a
// set after fees. It returns nil when the set is not exhaustive, when an
// outcome has no usable book, or when nothing is left after fees.
func (d *Detector) RebalanceLong(set *polybot.OutcomeSet, books Books, pairs Pairs) *polybot.Opportunity {
	return d.rebalance(set, books, pairs, polybot.Yes)
}

// RebalanceShort looks for NO on every outcome of set for less than
// n − 1 a set after fees (n outcomes). It returns nil as RebalanceLong
// does.
func (d *Detector) RebalanceShort(set *polybot.OutcomeSet, books Books, pairs Pairs) *polybot.Opportunity {
	return d.rebalance(set, books, pairs, polybot.No)
}

func (d *Detector) rebalance(set *polybot.OutcomeSet, books Books, pairs Pairs, side polybot.Outcome) *polybot.Opportunity {
	if !set.Tradable() || len(set.Outcomes) < 2 || books == nil {
		return nil
	}
	now := d.now()
	payout := polybot.One
	if side == polybot.No {
		payout = polybot.NewDecimal(int64(len(set.Outcomes)-1), 0)
	}
	// A first pass only adds up the best asks, and stops as soon as an
	// outcome has no usable book or the asks reach the payout: most
	// updates of a large event end here without allocating.
	left := payout
	for i := range set.Outcomes {
		q, ok := d.cheapest(&set.Outcomes[i], books, pairs, side, now)
		if !ok {
			return nil
		}
		if left = left.Sub(q.ask.Price); left.Sign() <= 0 {
			return nil
		}
	}
	// The second pass keeps the quotes. Books may answer with newer views
	// than the first pass saw: buildSet judges these.
	qs := make([]quote, len(set.Outcomes))
	for i := range set.Outcomes {
		q, ok := d.cheapest(&set.Outcomes[i], books, pairs, side, now)
		if !ok {
			return nil
		}
		qs[i] = q
	}
	return d.buildSet(set.ID, now, payout, qs)
}

// cheapest is the lowest usable ask for side of one outcome among its
// markets: the set's own market, and the other venue's only through an
// approved pair that joins exactly these two markets. On equal prices the
// larger size, then the set's own market, wins.
func (d *Detector) cheapest(o *polybot.SetOutcome, books Books, pairs Pairs, side polybot.Outcome, now time.Time) (quote, bool) {
	var best quote
	found := false
	for j := range o.Markets {
		if j > 0 && !joins(o, pairs) {
			break
		}
		inst := &o.Markets[j].Yes
		if side == polybot.No {
			inst = &o.Markets[j].No
		}
		v := books(*inst)
		if !is(v, *inst) {
			continue
		}
		q, ok := d.usable(v, *inst, now)
		if !ok {
			continue
		}
		if !found || q.ask.Price.LessThan(best.ask.Price) || (q.ask.Price == best.ask.Price && q.ask.Size.GreaterThan(best.ask.Size)) {
			best, found = q, true
		}
	}
	return best, found
}

// joins reports whether o's two markets are the two venues' sides of an
// approved matched pair.
func joins(o *polybot.SetOutcome, pairs Pairs) bool {
	if pairs == nil || o.PairID == "" || len(o.Markets) != 2 {
		return false
	}
	p := pairs(o.PairID)
	if p == nil || !p.Approved || p.ID != o.PairID {
		return false
	}
	a, b := p.Markets()
	has := func(want polybot.BinaryMarket) bool {
		return slices.ContainsFunc(o.Markets, func(m polybot.BinaryMarket) bool {
			return m.Yes.Key() == want.Yes.Key() && m.No.Key() == want.No.Key()
		})
	}
	return has(a) && has(b)
}

// Implication looks for YES on B plus NO on A for less than $1 a set after
// fees, for an approved relation A ⇒ B. It returns nil when the relation
// is not an approved implication, when a book is missing or unusable, or
// when nothing is left after fees.
func (d *Detector) Implication(rel *polybot.Relation, books Books) *polybot.Opportunity {
	if rel == nil || !rel.Approved || rel.Kind != polybot.RelationImplies || books == nil {
		return nil
	}
	now := d.now()
	yb, na := rel.B.Yes, rel.A.No
	if yb.Outcome != polybot.Yes || na.Outcome != polybot.No || yb.Key() == rel.A.Yes.Key() {
		return nil
	}
	vy, vn := books(yb), books(na)
	if !is(vy, yb) || !is(vn, na) {
		return nil
	}
	qy, ok := d.usable(vy, yb, now)
	if !ok {
		return nil
	}
	qn, ok := d.usable(vn, na, now)
	if !ok {
		return nil
	}
	return d.buildSet(rel.ID, now, polybot.One, []quote{qy, qn})
}

// buildSet is build with a payout: it prices buying one of each quote's
// best ask and returns the opportunity when its net edge is positive.
func (d *Detector) buildSet(id string, now time.Time, payout polybot.Decimal, qs []quote) *polybot.Opportunity {
	gross := payout
	for _, q := range qs {
		gross = gross.Sub(q.ask.Price)
	}
	if gross.Sign() <= 0 {
		return nil
	}
	o := &polybot.Opportunity{Strategy: polybot.StrategyOverlapping, PairID: id, DetectedAt: now, Legs: make([]polybot.Leg, len(qs))}
	size := qs[0].ask.Size
	for i, q := range qs {
		o.Legs[i] = polybot.Leg{Instrument: q.inst, Side: polybot.Buy, Price: q.ask.Price, Available: q.ask.Size, QuoteTime: q.at}
		size = size.Min(q.ask.Size)
	}
	if !d.priceSet(o, size, payout) {
		return nil
	}
	o.ID = opportunityID(polybot.StrategyOverlapping, id, qs)
	return o
}

// priceSet sets o's size (rounded down to every leg's lot) and its per-set
// fees and edges for a set that pays payout; false when a price is off its
// tick, the size is below a leg's minimum, or the edge is gone. Every
// strategy prices through it ($1 a set but for short rebalancing).
func (d *Detector) priceSet(o *polybot.Opportunity, size, payout polybot.Decimal) bool {
	lot, least := polybot.Zero, polybot.Zero
	for i := range o.Legs {
		r := d.facts.Rules(o.Legs[i].Instrument)
		if !r.OnTick(o.Legs[i].Price) {
			d.offTick.Add(1)
			return false
		}
		lot, least = lot.Max(r.Lot), least.Max(r.MinSize)
	}
	size = size.Floor(lot)
	if size.Sign() <= 0 || size.LessThan(least) {
		d.belowMin.Add(1)
		return false
	}
	prices, fees := polybot.Zero, polybot.Zero
	for i := range o.Legs {
		l := &o.Legs[i]
		l.Fee = perSetFee(d.fees, l.Instrument, l.Price, size)
		prices = prices.Add(l.Price)
		fees = fees.Add(l.Fee)
	}
	o.Size = size
	o.GrossEdge = payout.Sub(prices)
	o.Fees = fees
	o.NetEdge = o.GrossEdge.Sub(fees)
	o.Cost = prices.Add(fees)
	if o.NetEdge.Sign() <= 0 {
		return false
	}
	o.ProfitPct = o.NetEdge.MulInt(100).Div(o.Cost)
	return true
}

// Payout is what one set of o pays at worst: GrossEdge + Σ leg prices ($1
// for every strategy but a short rebalancing set).
func Payout(o *polybot.Opportunity) polybot.Decimal {
	p := o.GrossEdge
	for i := range o.Legs {
		p = p.Add(o.Legs[i].Price)
	}
	return p
}
