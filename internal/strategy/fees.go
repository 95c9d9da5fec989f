package strategy

import (
	"math/big"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

// FeeModel prices a venue's taker fee.
type FeeModel interface {
	// TakerFee is the fee, in dollars, of ONE taker order buying count
	// contracts of inst at price (dollars per contract paying $1).
	TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal
}

// KalshiFees is Kalshi's fee schedule, computed by the kalshi connector's
// FeeSchedule (the one place the formula lives): the taker pays
// ceil(0.07 × multiplier × C × P × (1−P)) to the cent per order. The zero
// value is the general schedule (quadratic, multiplier 1).
type KalshiFees struct {
	// Default applies to every series not in Series.
	Default kalshi.FeeSchedule
	// Series overrides the schedule by series ticker (the market ticker up
	// to its first '-', e.g. "KXFEDDECISION").
	Series map[string]kalshi.FeeSchedule
}

// TakerFee implements FeeModel.
func (k KalshiFees) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	s := k.Default
	if len(k.Series) > 0 {
		series, _, _ := strings.Cut(inst.Market, "-")
		if o, ok := k.Series[series]; ok {
			s = o
		}
	}
	return s.TakerFee(price, count)
}

// PolymarketFees is Polymarket's taker fee: fee_rate_bps / 10⁴ × min(P, 1−P)
// × C, rounded up to the micro-dollar (USDC's precision). Most markets
// charge 0 bps, the zero value.
type PolymarketFees struct {
	// RateBps applies to every token not in Tokens.
	RateBps int64
	// Tokens overrides the rate by token id (the market's fee_rate_bps).
	Tokens map[string]int64
}

// TakerFee implements FeeModel.
func (p PolymarketFees) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	bps := p.RateBps
	if o, ok := p.Tokens[inst.Token]; ok {
		bps = o
	}
	if bps <= 0 || price.Sign() <= 0 || !price.LessThan(polybot.One) || count.Sign() <= 0 {
		return polybot.Zero
	}
	m := price.Min(polybot.One.Sub(price))
	// bps × m × count in units of 10⁻⁴ × 10⁻⁶ × 10⁻⁶ dollars; to micros,
	// rounding up.
	n := new(big.Int).SetInt64(bps)
	n.Mul(n, big.NewInt(m.Micros()))
	n.Mul(n, big.NewInt(count.Micros()))
	return polybot.DecimalFromMicros(ceilDiv(n, big.NewInt(10_000*1_000_000)))
}

// VenueFees dispatches to each venue's model by the instrument's venue.
// Strategies trade only Polymarket and Kalshi; other venues cost nothing
// here.
type VenueFees struct {
	Polymarket FeeModel // nil: PolymarketFees{} (0 bps)
	Kalshi     FeeModel // nil: KalshiFees{} (the general schedule)
}

// DefaultFees is the default fee model: Kalshi's general schedule, and
// Polymarket at 0 bps.
func DefaultFees() VenueFees {
	return VenueFees{Polymarket: PolymarketFees{}, Kalshi: KalshiFees{}}
}

// TakerFee implements FeeModel.
func (v VenueFees) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	switch inst.Venue {
	case polybot.Polymarket:
		if v.Polymarket == nil {
			return PolymarketFees{}.TakerFee(inst, price, count)
		}
		return v.Polymarket.TakerFee(inst, price, count)
	case polybot.Kalshi:
		if v.Kalshi == nil {
			return KalshiFees{}.TakerFee(inst, price, count)
		}
		return v.Kalshi.TakerFee(inst, price, count)
	}
	return polybot.Zero
}

// OrderFees is what buying sets sets of legs costs in fees: one taker order
// per leg, each priced for the whole count (so Kalshi's cent rounding is
// applied once per order, as the venue does).
func OrderFees(m FeeModel, legs []polybot.Leg, sets polybot.Decimal) polybot.Decimal {
	total := polybot.Zero
	for i := range legs {
		total = total.Add(m.TakerFee(legs[i].Instrument, legs[i].Price, sets))
	}
	return total
}

// perSetFee is the fee per set of one leg at size sets: the order's fee
// divided by sets, rounded up to the micro.
func perSetFee(m FeeModel, inst polybot.Instrument, price, sets polybot.Decimal) polybot.Decimal {
	fee := m.TakerFee(inst, price, sets)
	if fee.Sign() <= 0 {
		return polybot.Zero
	}
	// fee/sets in micros = fee.µ × 10⁶ / sets.µ, rounded up.
	n := new(big.Int).Mul(big.NewInt(fee.Micros()), big.NewInt(1_000_000))
	return polybot.DecimalFromMicros(ceilDiv(n, big.NewInt(sets.Micros())))
}

// ceilDiv is ⌈n/d⌉ for n ≥ 0, d > 0.
func ceilDiv(n, d *big.Int) int64 {
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// lot is the smallest count a venue trades: a whole Kalshi contract, a
// hundredth of a Polymarket share.
func lot(v polybot.Platform) polybot.Decimal {
	if v == polybot.Polymarket {
		return polybot.NewDecimal(1, 2)
	}
	return polybot.One
}

// setLot is the coarsest lot among legs: a set must be tradable on every leg.
func setLot(legs []polybot.Leg) polybot.Decimal {
	l := polybot.Zero
	for i := range legs {
		l = l.Max(lot(legs[i].Instrument.Venue))
	}
	return l
}
