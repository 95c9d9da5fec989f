package strategy

import (
	"math/big"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
)

// FeeModel prices a venue's taker fee: polybot.FeeModel, built in
// internal/fee (the one place the venues' formulas live).
type FeeModel = polybot.FeeModel

// DefaultFees is the fee model a Detector uses when given none: Kalshi's
// general schedule and Polymarket fee-free (fee.Venues' zero value).
// Production passes the venues' own schedules.
func DefaultFees() fee.Venues { return fee.Venues{} }

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
	f := m.TakerFee(inst, price, sets)
	if f.Sign() <= 0 {
		return polybot.Zero
	}
	// fee/sets in micros = fee.µ × 10⁶ / sets.µ, rounded up.
	n := new(big.Int).Mul(big.NewInt(f.Micros()), big.NewInt(1_000_000))
	q, r := n.QuoRem(n, big.NewInt(sets.Micros()), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return polybot.DecimalFromMicros(q.Int64())
}
