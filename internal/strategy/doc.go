// Package strategy finds arbitrage opportunities in the shared order books:
// pure code over marketdata.View values, with no I/O and no tenant state.
// Opportunities are found once per book update, whatever the number of
// tenants; each tenant then keeps the ones its config wants (Wants) and
// sizes them itself (Detector.Resize).
//
// # Strategies
//
//   - single-platform (polybot.StrategySinglePlatform): on one venue, buy
//     one YES and one NO of the same market for less than $1 after fees.
//     On Polymarket the YES and NO tokens are separate books; on Kalshi the
//     hub's NO view is already normalised (NO ask = 1 − YES bid), so both
//     venues are read the same way.
//   - cross-platform (polybot.StrategyCrossPlatform): for an approved
//     polybot.MarketPair, buy YES on one venue and NO on the other for less
//     than $1 after fees, in the cheaper of the two directions (Kalshi YES +
//     Polymarket NO, or Polymarket YES + Kalshi NO).
//
// # Rules every strategy follows
//
//   - Only the best ask of each leg is taken, and the size is the thinner
//     leg's visible size at that level, rounded down to the coarser venue's
//     lot (Kalshi: 1 contract; Polymarket: 0.01 share), since a set needs the
//     same count of every leg. A size below any leg's minimum order
//     (Polymarket: the market's orderMinSize, 5 shares by default; Kalshi:
//     1), or a price off a leg's tick, is skipped and counted
//     (Detector.Skips). Lot, tick and minimum are venue facts from
//     internal/fee (Config.Facts).
//   - A book that is stale (resynchronising), empty on the ask side, crossed
//     or locked (best bid ≥ best ask), priced outside (0, 1), or whose quote
//     is older than Config.MaxQuoteAge yields nothing. A quote's time is the
//     view's Received time (our clock), or its venue Time when Received is
//     unset (recordings).
//   - An opportunity is reported only when its net edge per set is
//     positive. Tenants filter further by min_profit_pct and their toggles
//     (Wants).
//   - All arithmetic is exact fixed point (polybot.Decimal); nothing is a
//     float.
//
// # Fees per set
//
// Fees are venue facts from internal/fee (Config.Fees, a polybot.FeeModel):
// Polymarket's C × rate × (P(1−P))^exponent from each market's fee schedule,
// Kalshi's ceil(0.07 × multiplier × C × P × (1−P)) per series. They are
// charged per order, not per contract: Kalshi rounds each order's fee up to
// the cent, Polymarket's down to 0.00001. So the fee per set depends on the
// size. For an opportunity of size N, each leg's fee per set
// (polybot.Leg.Fee) is the fee of ONE taker order for all N contracts of
// that leg, divided by N and rounded UP to the micro-dollar:
//
//	leg.Fee = ceil_µ( model.TakerFee(leg, P, N) / N )
//	Fees    = Σ leg.Fee          Cost = Σ P + Fees
//	GrossEdge = 1 − Σ P          NetEdge = GrossEdge − Fees
//	ProfitPct = NetEdge × 100 / Cost   (truncated to six places)
//
// Rounding up never overstates an edge. A tenant that trades fewer sets
// pays more per set (the cent rounding weighs more on a small order), so it
// must re-price with Detector.Resize; what an order actually costs in fees
// is OrderFees.
//
// # Identity
//
// An opportunity's ID is a hash of the strategy, the pair, and each leg's
// instrument, price, visible size, book version, sequence and quote time.
// The same book state always gives the same ID, so tenants, retries and
// replays agree on it, and intents derive their client order ids from it.
package strategy
