package fee

import "github.com/polybot/polybot"

// Venues is the fee model of every venue, dispatched by the instrument's
// venue: what detection, the engine's paper fills, replay and the
// simulators charge. The zero value is Polymarket fee-free and Kalshi's
// general schedule; production builds it from the venues' own schedules.
// IBKR charges its published commissions (zero on ForecastEx contracts);
// other venues cost nothing here.
type Venues struct {
	Polymarket Polymarket
	Kalshi     Kalshi
	IBKR       IBKR
}

var _ polybot.FeeModel = Venues{}

// TakerFee implements polybot.FeeModel.
func (v Venues) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	switch inst.Venue {
	case polybot.Polymarket:
		return v.Polymarket.TakerFee(inst, price, count)
	case polybot.Kalshi:
		return v.Kalshi.TakerFee(inst, price, count)
	case polybot.IBKR:
		return v.IBKR.TakerFee(inst, price, count)
	}
	return polybot.Zero
}
