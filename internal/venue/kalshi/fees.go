package kalshi

import (
	"math/big"

	"github.com/polybot/polybot"
)

// Fee types a series can carry (Series.FeeType).
const (
	FeeQuadratic                = "quadratic"
	FeeQuadraticWithMakerFees   = "quadratic_with_maker_fees"
	FeeQuadraticWithComboMakers = "quadratic_with_combo_maker_fees"
	FeeFlat                     = "flat"
)

// Kalshi's general fee rates: the taker pays 0.07 × C × P × (1−P), a maker
// on a series with maker fees pays a quarter of that (0.0175).
var (
	TakerRate = polybot.MustDecimal("0.07")
	MakerRate = polybot.MustDecimal("0.0175")
)

// FeeSchedule is how one series (or an event that overrides its series)
// charges. The zero value is the general schedule: quadratic, multiplier 1.
type FeeSchedule struct {
	// Type is one of the Fee* constants; "" means quadratic.
	Type string
	// Multiplier scales the rate (e.g. 0.5 for series charged half); zero
	// means 1.
	Multiplier polybot.Decimal
}

// ScheduleFor returns the schedule of a series, with an event's override
// when it has one.
func ScheduleFor(s Series, e *Event) FeeSchedule {
	fs := FeeSchedule{Type: s.FeeType, Multiplier: s.FeeMultiplier}
	if e != nil && e.FeeTypeOverride != "" {
		fs = FeeSchedule{Type: e.FeeTypeOverride}
		if e.FeeMultiplierOverride != nil {
			fs.Multiplier = *e.FeeMultiplierOverride
		}
	}
	return fs
}

func (f FeeSchedule) multiplier() polybot.Decimal {
	if f.Multiplier.IsZero() {
		return polybot.One
	}
	return f.Multiplier
}

// TakerFee is the fee for taking count contracts at price P (dollars):
// ceil(0.07 × multiplier × C × P × (1−P)) to the cent, computed exactly.
func (f FeeSchedule) TakerFee(price, count polybot.Decimal) polybot.Decimal {
	if f.Type == FeeFlat {
		// A flat series charges the rate on the count alone (no P(1−P)).
		return ceilCents(TakerRate, f.multiplier(), count)
	}
	return quadraticFee(TakerRate, f.multiplier(), price, count)
}

// MakerFee is the fee for a resting order that filled: zero unless the series
// charges makers, else ceil(0.0175 × multiplier × C × P × (1−P)) to the cent.
func (f FeeSchedule) MakerFee(price, count polybot.Decimal) polybot.Decimal {
	switch f.Type {
	case FeeQuadraticWithMakerFees, FeeQuadraticWithComboMakers:
		return quadraticFee(MakerRate, f.multiplier(), price, count)
	}
	return polybot.Zero
}

// Fee is TakerFee or MakerFee.
func (f FeeSchedule) Fee(price, count polybot.Decimal, maker bool) polybot.Decimal {
	if maker {
		return f.MakerFee(price, count)
	}
	return f.TakerFee(price, count)
}

var (
	microScale = big.NewInt(1_000_000)
	centScale  = big.NewInt(10_000) // micros per cent
)

func quadraticFee(rate, mult, price, count polybot.Decimal) polybot.Decimal {
	if price.Sign() <= 0 || !price.LessThan(polybot.One) || count.Sign() <= 0 {
		return polybot.Zero
	}
	return ceilCents(rate, mult, count, price, polybot.One.Sub(price))
}

// ceilCents multiplies the factors exactly (each in micro-units) and rounds
// the product up to a whole cent.
func ceilCents(factors ...polybot.Decimal) polybot.Decimal {
	n := big.NewInt(1)
	for _, d := range factors {
		if d.Sign() <= 0 {
			return polybot.Zero
		}
		n.Mul(n, big.NewInt(d.Micros()))
	}
	// n is in units of 10^-6k; bring it to cents (10^-2), rounding up.
	den := big.NewInt(1)
	for range len(factors) - 1 {
		den.Mul(den, microScale)
	}
	den.Mul(den, centScale)
	q, r := new(big.Int).QuoRem(n, den, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return centsToDecimal(q.Int64())
}
