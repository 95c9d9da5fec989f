package fee

import (
	"math/big"
	"strings"

	"github.com/polybot/polybot"
)

// Fee types a Kalshi series can carry (its fee_type).
const (
	KalshiQuadratic                = "quadratic"
	KalshiQuadraticWithMakerFees   = "quadratic_with_maker_fees"
	KalshiQuadraticWithComboMakers = "quadratic_with_combo_maker_fees"
	KalshiFlat                     = "flat"
)

// Kalshi's general fee rates: the taker pays 0.07 × C × P × (1−P), a maker
// on a series with maker fees pays a quarter of that (0.0175).
var (
	KalshiTakerRate = polybot.MustDecimal("0.07")
	KalshiMakerRate = polybot.MustDecimal("0.0175")
)

// KalshiSchedule is how one Kalshi series (or an event that overrides its
// series) charges. The zero value is the general schedule: quadratic,
// multiplier 1.
type KalshiSchedule struct {
	// Type is one of the Kalshi* fee types; "" means quadratic.
	Type string `json:"fee_type"`
	// Multiplier scales the rate (e.g. 0.5 for a series charged half);
	// zero means 1.
	Multiplier polybot.Decimal `json:"fee_multiplier"`
}

// KalshiScheduleFor is a series' schedule (its fee_type and fee_multiplier)
// with an event's override (fee_type_override, fee_multiplier_override)
// when the event has one.
func KalshiScheduleFor(seriesType string, seriesMult polybot.Decimal, overrideType string, overrideMult *polybot.Decimal) KalshiSchedule {
	if overrideType != "" {
		s := KalshiSchedule{Type: overrideType}
		if overrideMult != nil {
			s.Multiplier = *overrideMult
		}
		return s
	}
	return KalshiSchedule{Type: seriesType, Multiplier: seriesMult}
}

func (s KalshiSchedule) multiplier() polybot.Decimal {
	if s.Multiplier.IsZero() {
		return polybot.One
	}
	return s.Multiplier
}

// TakerFee is the fee for taking count contracts at price P (dollars):
// ceil(0.07 × multiplier × C × P × (1−P)) to the cent, computed exactly. A
// flat series charges the rate on the count alone.
func (s KalshiSchedule) TakerFee(price, count polybot.Decimal) polybot.Decimal {
	if s.Type == KalshiFlat {
		return ceilCents(KalshiTakerRate, s.multiplier(), count)
	}
	return quadratic(KalshiTakerRate, s.multiplier(), price, count)
}

// MakerFee is the fee for a resting order that filled: zero unless the
// series charges makers, else ceil(0.0175 × multiplier × C × P × (1−P)) to
// the cent.
func (s KalshiSchedule) MakerFee(price, count polybot.Decimal) polybot.Decimal {
	switch s.Type {
	case KalshiQuadraticWithMakerFees, KalshiQuadraticWithComboMakers:
		return quadratic(KalshiMakerRate, s.multiplier(), price, count)
	}
	return polybot.Zero
}

// Fee is TakerFee or MakerFee.
func (s KalshiSchedule) Fee(price, count polybot.Decimal, maker bool) polybot.Decimal {
	if maker {
		return s.MakerFee(price, count)
	}
	return s.TakerFee(price, count)
}

func quadratic(rate, mult, price, count polybot.Decimal) polybot.Decimal {
	if price.Sign() <= 0 || !price.LessThan(polybot.One) || count.Sign() <= 0 {
		return polybot.Zero
	}
	return ceilCents(rate, mult, count, price, polybot.One.Sub(price))
}

var centScale = big.NewInt(10_000) // micros per cent

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
	den := new(big.Int).Set(centScale)
	for range len(factors) - 1 {
		den.Mul(den, bigMicro)
	}
	q, r := new(big.Int).QuoRem(n, den, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return polybot.DecimalFromMicros(q.Int64() * 10_000)
}

// Kalshi is Kalshi's fee model: a schedule per market ticker (the series'
// schedule with its event's override), else per series ticker (the market
// ticker up to its first '-', e.g. "KXFEDDECISION"), else Default, whose
// zero value is the general schedule.
type Kalshi struct {
	Default KalshiSchedule
	Series  map[string]KalshiSchedule
	Markets map[string]KalshiSchedule
}

// Schedule is the schedule a market ticker trades under.
func (k Kalshi) Schedule(ticker string) KalshiSchedule {
	if s, ok := k.Markets[ticker]; ok {
		return s
	}
	if len(k.Series) > 0 {
		series, _, _ := strings.Cut(ticker, "-")
		if s, ok := k.Series[series]; ok {
			return s
		}
	}
	return k.Default
}

// TakerFee implements polybot.FeeModel.
func (k Kalshi) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	return k.Schedule(inst.Market).TakerFee(price, count)
}
