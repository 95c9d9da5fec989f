package strategy

import (
	"fmt"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// Copy trading (polybot.StrategyCopy) mirrors a followed wallet's trades
// (polybot.Leader, polybot.LeaderTrade), one decision per leader trade and
// follower, pure and in this order:
//
//  1. staleness: a trade older than the leader's MaxAge when seen is
//     skipped;
//  2. a buy smaller than MinLeaderUSD (price × size) is skipped;
//  3. the dollars to spend: Multiplier × the leader's notional
//     (proportional), FixedUSD (fixed), or BalancePct % of the user's
//     balance (balance_pct);
//  4. the caps cut it: MaxTradeUSD, what MaxMarketUSD leaves in the
//     market (what is held there from this leader, at cost), what
//     MaxDayUSD leaves today; a cap left at zero skips the trade, naming it;
//  5. the price guard: the best ask may be at most PriceGuard above the
//     leader's fill, else the trade is not chased;
//  6. the size: dollars / ask, down to the lot, at least the minimum.
//
// A copy buys at the best ask as a taker: a directional position, with no
// edge to measure (Direct), so min_profit_pct does not apply; the risk
// gate checks it as every order. A leader's sell or redemption is an
// exit: the user sells the same fraction of what they hold from that
// leader as the leader sold of its own position (all of it when the
// leader's position is unknown, and on a redemption).

// CopyState is what a decision needs besides the trade: the user's
// balance, what they hold from this leader in the trade's token (shares)
// and market (dollars at cost), what this leader's copies spent today, and
// the leader's own position in the token before the trade (zero:
// unknown).
type CopyState struct {
	Now         time.Time
	Balance     polybot.Decimal
	HeldShares  polybot.Decimal
	MarketSpent polybot.Decimal
	DaySpent    polybot.Decimal
	LeaderHeld  polybot.Decimal
}

// CopyDecision is a decision on one leader trade: a buy (Buy set), a sell
// of Sell shares, or a skip with its reason.
type CopyDecision struct {
	Buy    *polybot.Opportunity
	Sell   polybot.Decimal
	Reason string
}

// Copy decides what a follower does with one leader trade; v is the book
// of the trade's token now.
func (d *Detector) Copy(l *polybot.Leader, t *polybot.LeaderTrade, v *marketdata.View, st CopyState) CopyDecision {
	if l == nil || t == nil {
		return CopyDecision{Reason: "no leader or no trade"}
	}
	if age := st.Now.Sub(t.Time); l.MaxAge > 0 && age > l.MaxAge {
		return CopyDecision{Reason: fmt.Sprintf("stale: the leader's trade is %s old (limit %s)", age.Round(time.Second), l.MaxAge)}
	}
	if t.Redeem || t.Side == polybot.Sell {
		return d.copyExit(t, st)
	}
	notional := t.Notional()
	if l.MinLeaderUSD.Sign() > 0 && notional.LessThan(l.MinLeaderUSD) {
		return CopyDecision{Reason: fmt.Sprintf("the leader's trade (%s) is below your minimum %s", polybot.FormatUSD(notional), polybot.FormatUSD(l.MinLeaderUSD))}
	}
	var usd polybot.Decimal
	switch l.Mode {
	case polybot.CopyProportional:
		usd = notional.Mul(l.Multiplier)
	case polybot.CopyFixed:
		usd = l.FixedUSD
	case polybot.CopyBalancePct:
		usd = st.Balance.Mul(l.BalancePct).Div(polybot.NewDecimal(100, 0))
	default:
		return CopyDecision{Reason: "unknown sizing mode " + l.Mode}
	}
	caps := []struct {
		name string
		left polybot.Decimal
		on   bool
	}{
		{"the per-trade cap", l.MaxTradeUSD, l.MaxTradeUSD.Sign() > 0},
		{"the per-market cap", l.MaxMarketUSD.Sub(st.MarketSpent), l.MaxMarketUSD.Sign() > 0},
		{"the daily cap", l.MaxDayUSD.Sub(st.DaySpent), l.MaxDayUSD.Sign() > 0},
	}
	for _, c := range caps {
		if !c.on {
			continue
		}
		if c.left.Sign() <= 0 {
			return CopyDecision{Reason: c.name + " is used up"}
		}
		usd = usd.Min(c.left)
	}
	if v == nil {
		return CopyDecision{Reason: "no book for the leader's token"}
	}
	q, ok := d.usable(v, t.Instrument, d.now())
	if !ok {
		return CopyDecision{Reason: "the token's book is not usable (stale, empty or crossed)"}
	}
	if limit := t.Price.Add(l.PriceGuard); q.ask.Price.GreaterThan(limit) {
		return CopyDecision{Reason: fmt.Sprintf("price guard: the ask %s is above the leader's %s plus %s", q.ask.Price, t.Price, l.PriceGuard)}
	}
	r := d.facts.Rules(t.Instrument)
	size := usd.Div(q.ask.Price).Min(q.ask.Size).Floor(r.Lot)
	if size.Sign() <= 0 || size.LessThan(r.MinSize) {
		return CopyDecision{Reason: fmt.Sprintf("%s buys %s shares at %s, below the venue's minimum %s", polybot.FormatUSD(usd), size, q.ask.Price, r.MinSize)}
	}
	if !r.OnTick(q.ask.Price) {
		return CopyDecision{Reason: "the ask is off the market's tick"}
	}
	fee := perSetFee(d.fees, t.Instrument, q.ask.Price, size)
	o := &polybot.Opportunity{Strategy: polybot.StrategyCopy, PairID: l.ID, Direct: true, DetectedAt: d.now(), Size: size,
		Cost: q.ask.Price.Add(fee), Fees: fee,
		ID:   opportunityID(polybot.StrategyCopy, l.ID+"/"+t.Key(), []quote{q}),
		Legs: []polybot.Leg{{Instrument: t.Instrument, Side: polybot.Buy, Price: q.ask.Price, Available: q.ask.Size, Fee: fee, QuoteTime: q.at}}}
	return CopyDecision{Buy: o}
}

// copyExit mirrors a leader's sell or redemption.
func (d *Detector) copyExit(t *polybot.LeaderTrade, st CopyState) CopyDecision {
	if st.HeldShares.Sign() <= 0 {
		return CopyDecision{Reason: "nothing held from this leader to sell"}
	}
	r := d.facts.Rules(t.Instrument)
	sell := st.HeldShares
	if !t.Redeem && st.LeaderHeld.Sign() > 0 && t.Size.LessThan(st.LeaderHeld) {
		// The same fraction of ours as the leader sold of theirs.
		sell = st.HeldShares.Mul(t.Size).Div(st.LeaderHeld).Floor(r.Lot)
	}
	if sell.Sign() <= 0 {
		return CopyDecision{Reason: "the leader's sale is too small a fraction to mirror"}
	}
	return CopyDecision{Sell: sell.Min(st.HeldShares)}
}
