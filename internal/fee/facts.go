package fee

import "github.com/polybot/polybot"

// Rules are the order facts of one instrument: an order's count is a
// multiple of Lot and at least MinSize, and its price a multiple of Tick.
type Rules struct {
	Tick    polybot.Decimal `json:"tick"`
	Lot     polybot.Decimal `json:"lot"`
	MinSize polybot.Decimal `json:"min_size"`
}

// The venues' default rules. Polymarket trades hundredths of a share on a
// cent tick with a per-market minimum (orderMinSize / minimum_order_size, 5
// shares on almost every market); Kalshi trades whole contracts on a cent
// tick, one at least; IBKR's ForecastEx contracts trade whole on a cent
// tick; Alpaca's limit orders are for whole shares on a cent tick (market
// orders may be fractional: polybot.VenueFacts.FractionalMarketOrders;
// below $1 Alpaca also takes $0.0001 steps, not modelled here).
var (
	PolymarketDefaultRules = Rules{Tick: polybot.NewDecimal(1, 2), Lot: polybot.NewDecimal(1, 2), MinSize: polybot.NewDecimal(5, 0)}
	KalshiDefaultRules     = Rules{Tick: polybot.NewDecimal(1, 2), Lot: polybot.One, MinSize: polybot.One}
	IBKRDefaultRules       = Rules{Tick: polybot.NewDecimal(1, 2), Lot: polybot.One, MinSize: polybot.One}
	AlpacaDefaultRules     = Rules{Tick: polybot.NewDecimal(1, 2), Lot: polybot.One, MinSize: polybot.One}
)

// DefaultRules is venue p's default rules; a platform without any trades
// in millionths on a cent tick.
func DefaultRules(p polybot.Platform) Rules {
	switch p {
	case polybot.Polymarket:
		return PolymarketDefaultRules
	case polybot.Kalshi:
		return KalshiDefaultRules
	case polybot.IBKR:
		return IBKRDefaultRules
	case polybot.Alpaca:
		return AlpacaDefaultRules
	}
	return Rules{Tick: polybot.NewDecimal(1, 2), Lot: polybot.NewDecimal(1, 6), MinSize: polybot.NewDecimal(1, 6)}
}

// Facts looks up an instrument's Rules: per Polymarket token or Kalshi
// market ticker, else the venue's defaults (Polymarket and Kalshi above,
// overridable per venue). A zero field of a listed entry falls back to the
// default's. The zero value serves the defaults.
type Facts struct {
	Polymarket, Kalshi Rules            // venue defaults; zero fields: the package defaults
	Tokens             map[string]Rules // Polymarket, by token id
	Markets            map[string]Rules // Kalshi, by market ticker
}

// Rules is inst's rules.
func (f *Facts) Rules(inst polybot.Instrument) Rules {
	var base, over Rules
	switch inst.Venue {
	case polybot.Polymarket:
		base = merge(f.polymarket(), PolymarketDefaultRules)
		if f != nil {
			over = f.Tokens[inst.Token]
		}
	case polybot.Kalshi:
		base = merge(f.kalshi(), KalshiDefaultRules)
		if f != nil {
			over = f.Markets[inst.Market]
		}
	default:
		return DefaultRules(inst.Venue)
	}
	return merge(over, base)
}

func (f *Facts) polymarket() Rules {
	if f == nil {
		return Rules{}
	}
	return f.Polymarket
}

func (f *Facts) kalshi() Rules {
	if f == nil {
		return Rules{}
	}
	return f.Kalshi
}

// merge fills r's zero fields from d.
func merge(r, d Rules) Rules {
	if r.Tick.Sign() <= 0 {
		r.Tick = d.Tick
	}
	if r.Lot.Sign() <= 0 {
		r.Lot = d.Lot
	}
	if r.MinSize.Sign() <= 0 {
		r.MinSize = d.MinSize
	}
	return r
}

// OnTick reports whether price is a multiple of the tick.
func (r Rules) OnTick(price polybot.Decimal) bool {
	return r.Tick.Sign() <= 0 || price.Micros()%r.Tick.Micros() == 0
}

// Size rounds count down to the lot and reports whether the result meets
// the minimum.
func (r Rules) Size(count polybot.Decimal) (polybot.Decimal, bool) {
	c := count.Floor(r.Lot)
	return c, c.Sign() > 0 && !c.LessThan(r.MinSize)
}
