package strategy

import (
	"slices"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// News arbitrage (polybot.StrategyNews) acts on a user's rule
// (polybot.NewsRule) once a headline matched it. Unlike the arbitrage
// strategies it is directional: one leg, bought on a view of where the
// price goes next, and sold later (the engine's exits). Its opportunities
// are built per rule and per tenant, never shared:
//
//   - direct (NewsDirect): buy the rule's outcome at the best ask, at most
//     MaxPrice and MaxSize. Such an opportunity has no edge to measure
//     (Direct is set, GrossEdge, NetEdge and ProfitPct are zero), so the
//     tenant's min_profit_pct does not apply: MaxPrice is the user's bound.
//   - lag (NewsLag): Base holds the rule's outcome's best bid on both
//     venues of a matched pair when the headline arrived. When one venue's
//     bid has since risen by at least Threshold (the leader) and the
//     other's by less than half of it (the laggard), buy the outcome on
//     the laggard at its best ask: it is expected to converge to the
//     leader's bid, the Target. Per contract
//
//	GrossEdge = Target − ask      Fees = buy fee at ask + sell fee at Target
//	NetEdge = GrossEdge − Fees    Cost = ask + buy fee
//	ProfitPct = NetEdge × 100 / Cost
//
//     and it is an opportunity only while NetEdge is positive (the engine
//     also holds it to the tenant's min_profit_pct). When both venues have
//     moved there is nothing left to catch: no opportunity.

// LagBase is the rule's outcome's best bid on each venue of a pair when
// the headline arrived (zero: that venue had no bid).
type LagBase struct {
	A, B polybot.Decimal // the pair's first and second leg
	At   time.Time
}

// outcomeViews returns the views of the pair's instruments for outcome.
func outcomeViews(books CrossBooks, outcome polybot.Outcome) (a, b *marketdata.View) {
	if outcome == polybot.No {
		return books.ANo, books.BNo
	}
	return books.AYes, books.BYes
}

func bestBid(v *marketdata.View) polybot.Decimal {
	if v == nil || v.Stale {
		return polybot.Zero
	}
	if b, ok := v.BestBid(); ok {
		return b.Price
	}
	return polybot.Zero
}

// LagBaseOf reads the rule's outcome's bids on both venues of a pair now:
// the base a lag rule measures moves from.
func LagBaseOf(books CrossBooks, outcome polybot.Outcome, at time.Time) LagBase {
	a, b := outcomeViews(books, outcome)
	return LagBase{A: bestBid(a), B: bestBid(b), At: at}
}

// NewsLag looks for the lag rule's trade on pair (see the package comment
// above): nil when neither venue or both have moved, the laggard's ask is
// above MaxPrice or unusable, or nothing is left after fees.
func (d *Detector) NewsLag(rule *polybot.NewsRule, pair *polybot.MarketPair, base LagBase, books CrossBooks) *polybot.Opportunity {
	if rule == nil || pair == nil || rule.Mode != polybot.NewsLag || rule.Threshold.Sign() <= 0 {
		return nil
	}
	pm, k := outcomeViews(books, rule.Outcome) // the pair's first leg, its second
	if pm == nil || k == nil || base.A.Sign() <= 0 || base.B.Sign() <= 0 {
		return nil // a move is measured from a price on both venues
	}
	bidP, bidK := bestBid(pm), bestBid(k)
	if bidP.Sign() <= 0 || bidK.Sign() <= 0 {
		return nil
	}
	moveP, moveK := bidP.Sub(base.A), bidK.Sub(base.B)
	half := rule.Threshold.Div(polybot.NewDecimal(2, 0))
	var lag *marketdata.View
	var target polybot.Decimal
	switch {
	case !moveP.LessThan(rule.Threshold) && moveK.LessThan(half):
		lag, target = k, bidP
	case !moveK.LessThan(rule.Threshold) && moveP.LessThan(half):
		lag, target = pm, bidK
	default:
		return nil // no leader, or both have moved
	}
	q, ok := d.usable(lag, lag.Instrument, d.now())
	if !ok || q.ask.Price.GreaterThan(rule.MaxPrice) || !q.ask.Price.LessThan(target) {
		return nil
	}
	o := d.newsOpp(rule, q, false)
	o.Target = target
	if !d.priceNews(o, q.ask.Size.Min(rule.MaxSize)) {
		return nil
	}
	return o
}

// NewsDirect looks for the direct rule's trade on one instrument (the
// rule's outcome of one of its markets): its best ask, if at most
// MaxPrice, for up to MaxSize.
func (d *Detector) NewsDirect(rule *polybot.NewsRule, v *marketdata.View) *polybot.Opportunity {
	if rule == nil || v == nil || rule.Mode != polybot.NewsDirect || v.Instrument.Outcome != rule.Outcome {
		return nil
	}
	q, ok := d.usable(v, v.Instrument, d.now())
	if !ok || q.ask.Price.GreaterThan(rule.MaxPrice) {
		return nil
	}
	o := d.newsOpp(rule, q, true)
	if !d.priceNews(o, q.ask.Size.Min(rule.MaxSize)) {
		return nil
	}
	return o
}

// NewsEquity looks for an equity order's buy (an equity rule's action, or
// a hedge leg) on its instrument's view: the best ask, if at most the
// order's MaxPrice, for up to its Quantity in whole shares. A share has no
// edge to measure (Direct): the order's limit bounds it. Sells are not
// opportunities (they sell what is held; the engine does them).
func (d *Detector) NewsEquity(rule *polybot.NewsRule, order *polybot.EquityOrder, v *marketdata.View) *polybot.Opportunity {
	if rule == nil || order == nil || v == nil || order.Side != polybot.EquityBuy || v.Instrument != order.Instrument() {
		return nil
	}
	q, ok := d.usable(v, v.Instrument, d.now())
	if !ok || q.ask.Price.GreaterThan(order.MaxPrice) {
		return nil
	}
	o := d.newsOpp(rule, q, true)
	if !d.priceNews(o, q.ask.Size.Min(order.Quantity).Floor(polybot.One)) {
		return nil
	}
	return o
}

func (d *Detector) newsOpp(rule *polybot.NewsRule, q quote, direct bool) *polybot.Opportunity {
	return &polybot.Opportunity{Strategy: polybot.StrategyNews, PairID: rule.ID, Direct: direct, DetectedAt: d.now(),
		ID:   opportunityID(polybot.StrategyNews, rule.ID, []quote{q}),
		Legs: []polybot.Leg{{Instrument: q.inst, Side: polybot.Buy, Price: q.ask.Price, Available: q.ask.Size, QuoteTime: q.at}}}
}

// priceNews sizes a news opportunity (down to its leg's lot, at least its
// minimum) and prices it at that size: the buy fee, and for a lag trade
// the fee of selling at the target; false when it is too small, off its
// tick, or (lag) nothing is left after fees.
func (d *Detector) priceNews(o *polybot.Opportunity, size polybot.Decimal) bool {
	l := &o.Legs[0]
	r := d.facts.Rules(l.Instrument)
	if !r.OnTick(l.Price) {
		d.offTick.Add(1)
		return false
	}
	size = size.Floor(r.Lot)
	if size.Sign() <= 0 || size.LessThan(r.MinSize) {
		d.belowMin.Add(1)
		return false
	}
	l.Fee = perSetFee(d.fees, l.Instrument, l.Price, size)
	o.Size, o.Cost = size, l.Price.Add(l.Fee)
	if o.Direct {
		o.GrossEdge, o.Fees, o.NetEdge, o.ProfitPct = polybot.Zero, l.Fee, polybot.Zero, polybot.Zero
		return true
	}
	exit := perSetFee(d.fees, l.Instrument, o.Target, size)
	o.GrossEdge = o.Target.Sub(l.Price)
	o.Fees = l.Fee.Add(exit)
	o.NetEdge = o.GrossEdge.Sub(o.Fees)
	if o.NetEdge.Sign() <= 0 {
		return false
	}
	o.ProfitPct = o.NetEdge.MulInt(100).Div(o.Cost)
	return true
}

// resizeNews re-prices a news opportunity for sets contracts.
func (d *Detector) resizeNews(o *polybot.Opportunity, sets polybot.Decimal) (*polybot.Opportunity, bool) {
	c := *o
	c.Legs = slices.Clone(o.Legs)
	if !d.priceNews(&c, sets.Min(o.Size)) {
		return nil, false
	}
	return &c, true
}
