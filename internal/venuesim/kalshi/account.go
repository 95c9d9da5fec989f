package kalshi

import (
	"github.com/polybot/polybot/internal/fee"
	"math/big"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// account is one simulated member: cash, positions, fills and the orders it
// placed. Guarded by Server.mu.
type account struct {
	keyID    string
	userID   string
	cash     polybot.Decimal
	updated  time.Time
	pos      map[string]*position // by ticker
	fills    []fillRecord
	orderIDs []string // engine order ids, oldest first
}

// position is a net holding: Size > 0 is YES contracts, < 0 NO contracts.
// Cost is what the open contracts cost (market exposure).
type position struct {
	Size, Cost, Fees, Traded, Realized polybot.Decimal
	Updated                            time.Time
}

type fillRecord struct {
	TradeID, OrderID, ClientOrderID, Ticker string
	BookSide                                polybot.Side // on the YES book
	YesPrice, Count, Fee                    polybot.Decimal
	Taker                                   bool
	PostPosition                            polybot.Decimal
	Time                                    time.Time
	Legacy                                  *legacyTerms
}

// orderMeta is what the simulator keeps per order beyond the engine's state.
type orderMeta struct {
	keyID     string
	clientID  string
	ticker    string
	legacy    *legacyTerms // set for orders placed on the legacy route
	takerFees polybot.Decimal
	makerFees polybot.Decimal
	takerCost polybot.Decimal
	makerCost polybot.Decimal
}

// legacyTerms are the side and action of a legacy order (side yes|no,
// action buy|sell), kept so answers speak the caller's terms.
type legacyTerms struct{ Side, Action string }

func newAccount(keyID string, cash polybot.Decimal) *account {
	return &account{keyID: keyID, userID: "sim-" + keyID, cash: cash, pos: map[string]*position{}}
}

// collateral is what a resting order of remaining contracts ties up: a YES
// bid at p costs p each, a YES ask (a NO buy) 1−p each.
func collateral(side polybot.Side, price, remaining polybot.Decimal) polybot.Decimal {
	if side == polybot.Sell {
		price = polybot.One.Sub(price)
	}
	return price.Mul(remaining)
}

// available is cash less what resting orders tie up.
func (s *Server) available(a *account, open []matching.Order) polybot.Decimal {
	v := a.cash
	for _, o := range open {
		v = v.Sub(collateral(o.Side, o.Price, o.Remaining()))
	}
	return v
}

// settle books one side of a trade for a: buying YES at p pays p a contract,
// selling YES (buying NO) pays 1−p; a YES and a NO held together are worth
// $1, so netting them pays the dollar back.
func (a *account) settle(ticker string, side polybot.Side, price, count, fee polybot.Decimal, now time.Time) polybot.Decimal {
	p := a.pos[ticker]
	if p == nil {
		p = &position{}
		a.pos[ticker] = p
	}
	unit := price
	signed := count
	if side == polybot.Sell {
		unit = polybot.One.Sub(price)
		signed = count.Neg()
	}
	a.cash = a.cash.Sub(unit.Mul(count)).Sub(fee)
	// Contracts that close part of the opposite holding.
	closing := polybot.Zero
	if p.Size.Sign() != 0 && p.Size.Sign() != signed.Sign() {
		closing = minDec(absDec(p.Size), count)
	}
	if closing.Sign() > 0 {
		released := scale(p.Cost, closing, absDec(p.Size))
		a.cash = a.cash.Add(closing) // each YES+NO pair pays $1
		p.Realized = p.Realized.Add(closing.Sub(released).Sub(unit.Mul(closing)))
		p.Cost = p.Cost.Sub(released)
	}
	opening := count.Sub(closing)
	p.Cost = p.Cost.Add(unit.Mul(opening))
	p.Size = p.Size.Add(signed)
	p.Fees = p.Fees.Add(fee)
	p.Traded = p.Traded.Add(price.Mul(count))
	p.Updated = now
	a.updated = now
	return p.Size
}

// scale returns v × num / den, truncated to six places.
func scale(v, num, den polybot.Decimal) polybot.Decimal {
	if den.IsZero() {
		return polybot.Zero
	}
	n := new(big.Int).Mul(big.NewInt(v.Micros()), big.NewInt(num.Micros()))
	n.Quo(n, big.NewInt(den.Micros()))
	return polybot.DecimalFromMicros(n.Int64())
}

func absDec(d polybot.Decimal) polybot.Decimal {
	if d.Sign() < 0 {
		return d.Neg()
	}
	return d
}

func minDec(a, b polybot.Decimal) polybot.Decimal {
	if a.LessThan(b) {
		return a
	}
	return b
}

// seriesFee is what a fill costs on series sc (nil: the general
// schedule), by the same model the strategies price with (internal/fee).
func seriesFee(sc *SeriesConfig, price, count polybot.Decimal, taker bool) polybot.Decimal {
	var s fee.KalshiSchedule
	if sc != nil {
		s = fee.KalshiSchedule{Type: sc.FeeType, Multiplier: sc.FeeMultiplier}
	}
	return s.Fee(price, count, !taker)
}
