package fee

import (
	"math/big"
	"strconv"

	"github.com/polybot/polybot"
)

// MaxExponent is the largest Polymarket fee exponent computed exactly.
const MaxExponent = 4

// PolymarketSchedule is one Polymarket market's fee schedule. The zero
// value is fee-free.
type PolymarketSchedule struct {
	// Rate is feeSchedule.rate (e.g. 0.05); zero: fee-free.
	Rate polybot.Decimal `json:"rate"`
	// Exponent is feeSchedule.exponent, a whole number; zero means 1 (the
	// published curve).
	Exponent int `json:"exponent"`
}

// NewPolymarketSchedule checks a schedule read from the venue: a
// non-negative rate below 1 and, when the rate is positive, a whole
// exponent from 1 to MaxExponent (every exponent the venue has published
// is whole). A zero rate is the fee-free schedule whatever the exponent.
func NewPolymarketSchedule(rate, exponent polybot.Decimal) (PolymarketSchedule, error) {
	if rate.Sign() < 0 || !rate.LessThan(polybot.One) {
		return PolymarketSchedule{}, polybot.FieldError("fee_schedule.rate", "must be at least 0 and below 1, not "+rate.String())
	}
	if rate.IsZero() {
		return PolymarketSchedule{}, nil
	}
	if exponent.Micros()%1_000_000 != 0 || exponent.Micros() < 1_000_000 || exponent.Micros()/1_000_000 > MaxExponent {
		return PolymarketSchedule{}, polybot.FieldError("fee_schedule.exponent", "must be a whole number from 1 to "+strconv.Itoa(MaxExponent)+", not "+exponent.String())
	}
	return PolymarketSchedule{Rate: rate, Exponent: int(exponent.Micros() / 1_000_000)}, nil
}

// ExponentValue is the exponent the formula uses (1 when unset).
func (s PolymarketSchedule) ExponentValue() int {
	if s.Exponent <= 0 {
		return 1
	}
	return s.Exponent
}

// FeeFree reports whether the market charges nothing.
func (s PolymarketSchedule) FeeFree() bool { return s.Rate.Sign() <= 0 }

var (
	bigMicro = big.NewInt(1_000_000)
	big1e5   = big.NewInt(100_000)
)

// TakerFee is the fee of one taker order of count shares at price: C ×
// rate × (p(1−p))^exponent, computed exactly and rounded down to 0.00001.
func (s PolymarketSchedule) TakerFee(price, count polybot.Decimal) polybot.Decimal {
	if s.Rate.Sign() <= 0 || price.Sign() <= 0 || !price.LessThan(polybot.One) || count.Sign() <= 0 {
		return polybot.Zero
	}
	e := s.ExponentValue()
	// num/den dollars: C.µ × rate.µ × (p.µ × (1−p).µ)^e / 10^(12 + 12e).
	num := new(big.Int).Mul(big.NewInt(count.Micros()), big.NewInt(s.Rate.Micros()))
	den := new(big.Int).Mul(bigMicro, bigMicro)
	pq := new(big.Int).Mul(big.NewInt(price.Micros()), big.NewInt(polybot.One.Sub(price).Micros()))
	scale := new(big.Int).Mul(bigMicro, bigMicro)
	for range e {
		num.Mul(num, pq)
		den.Mul(den, scale)
	}
	// In units of 0.00001 dollars, rounded down; then to micros.
	num.Mul(num, big1e5)
	num.Quo(num, den)
	return polybot.DecimalFromMicros(num.Int64() * 10)
}

// Polymarket is Polymarket's fee model: a schedule per token (both tokens
// of a market carry the market's schedule). Tokens not listed use Default,
// whose zero value is fee-free. Makers pay nothing.
type Polymarket struct {
	Default PolymarketSchedule
	Tokens  map[string]PolymarketSchedule
}

// Schedule is the schedule token trades under.
func (p Polymarket) Schedule(token string) PolymarketSchedule {
	if s, ok := p.Tokens[token]; ok {
		return s
	}
	return p.Default
}

// TakerFee implements polybot.FeeModel.
func (p Polymarket) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	return p.Schedule(inst.Token).TakerFee(price, count)
}

// MakerFee is what a Polymarket maker pays: nothing (makers earn a rebate,
// paid daily, which we do not count).
func (PolymarketSchedule) MakerFee(price, count polybot.Decimal) polybot.Decimal { return polybot.Zero }
