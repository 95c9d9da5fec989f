package polymarket

import (
	"fmt"
	"math/big"

	"github.com/polybot/polybot"
)

// Rounding is how many decimals the official client keeps, per tick size,
// for the price, the size (shares, or dollars for a market buy) and the
// computed amount.
type Rounding struct {
	Price, Size, Amount int
}

// roundings is ROUNDING_CONFIG of @polymarket/clob-client-v2 1.1.0.
var roundings = map[int64]Rounding{
	100_000: {Price: 1, Size: 2, Amount: 3}, // 0.1
	10_000:  {Price: 2, Size: 2, Amount: 4}, // 0.01
	5_000:   {Price: 3, Size: 2, Amount: 5}, // 0.005
	2_500:   {Price: 4, Size: 2, Amount: 6}, // 0.0025
	1_000:   {Price: 3, Size: 2, Amount: 5}, // 0.001
	100:     {Price: 4, Size: 2, Amount: 6}, // 0.0001
}

// RoundingFor returns the rounding rules of a tick size: 0.1, 0.01, 0.005,
// 0.0025, 0.001 or 0.0001.
func RoundingFor(tick polybot.Decimal) (Rounding, error) {
	r, ok := roundings[tick.Micros()]
	if !ok {
		return Rounding{}, polybot.FieldError("tick_size", fmt.Sprintf("%s is not a Polymarket tick size", tick))
	}
	return r, nil
}

// Amounts are an order's rounded price and its on-chain amounts. Maker and
// Taker are in dollars (USDC) or shares, both with 6 decimals, so their
// Micros() are the uint256 base units the order signs. Shares is the share
// amount of the order (Taker for a buy, Maker for a sell).
type Amounts struct {
	Price  polybot.Decimal
	Shares polybot.Decimal
	Maker  polybot.Decimal
	Taker  polybot.Decimal
}

// LimitAmounts computes a limit order's amounts the way the official client
// does, in exact decimals:
//   - the price must lie in [tick, 1−tick] and is rounded half-up to the
//     tick's price decimals;
//   - the size is rounded down to 2 decimals;
//   - BUY: makerAmount = price×size dollars, takerAmount = size shares;
//     SELL: makerAmount = size shares, takerAmount = price×size dollars.
//
// The client rounds price×size up at amount+4 decimals and then down at
// amount decimals, only to undo binary floating-point noise: the exact
// product of a 2-decimal size and a price with p decimals has at most
// 2+p = amount decimals, so here it is used as is.
func LimitAmounts(side polybot.Side, price, size, tick polybot.Decimal) (Amounts, error) {
	r, err := RoundingFor(tick)
	if err != nil {
		return Amounts{}, err
	}
	if err := checkPrice(price, tick); err != nil {
		return Amounts{}, err
	}
	p := roundHalfUp(price, r.Price)
	shares := roundDown(size, r.Size)
	if shares.Sign() <= 0 {
		return Amounts{}, polybot.FieldError("size", fmt.Sprintf("%s rounds to no shares", size))
	}
	dollars := roundDown(shares.Mul(p), r.Amount)
	a := Amounts{Price: p, Shares: shares, Maker: dollars, Taker: shares}
	if side == polybot.Sell {
		a.Maker, a.Taker = shares, dollars
	}
	return a, nil
}

// MarketAmounts computes a market order's amounts the way the official
// client does. For a BUY, amount is in dollars; for a SELL, in shares. The
// price (the worst price the order may fill at) is rounded down to the
// tick's price decimals, and amount down to 2 decimals.
//   - BUY: makerAmount = amount dollars, takerAmount = amount/price shares,
//     rounded up at amount+4 decimals and then down at amount decimals;
//   - SELL: makerAmount = amount shares, takerAmount = price×amount dollars.
func MarketAmounts(side polybot.Side, amount, price, tick polybot.Decimal) (Amounts, error) {
	r, err := RoundingFor(tick)
	if err != nil {
		return Amounts{}, err
	}
	if err := checkPrice(price, tick); err != nil {
		return Amounts{}, err
	}
	p := roundDown(price, r.Price)
	amt := roundDown(amount, r.Size)
	if amt.Sign() <= 0 {
		return Amounts{}, polybot.FieldError("amount", fmt.Sprintf("%s rounds to nothing", amount))
	}
	if side == polybot.Sell {
		return Amounts{Price: p, Shares: amt, Maker: amt, Taker: roundDown(amt.Mul(p), r.Amount)}, nil
	}
	// shares = amt/p: ceil at Amount+4 decimals, then floor at Amount. With
	// exact operands the ceil never carries into the kept digits (the
	// fractional part of amt/p at Amount decimals is at most 1−1/p_units,
	// and p_units < 10^4), so this is truncation; it is kept as the client
	// states it.
	fine := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(r.Amount+4)), nil)
	q := new(big.Int).Mul(big.NewInt(amt.Micros()), fine)
	den := big.NewInt(p.Micros())
	q, rem := q.QuoRem(q, den, new(big.Int))
	if rem.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	q.Quo(q, big.NewInt(10_000))
	q.Mul(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(polybot.DecimalPlaces-r.Amount)), nil))
	if !q.IsInt64() {
		return Amounts{}, polybot.FieldError("amount", "too large")
	}
	shares := polybot.DecimalFromMicros(q.Int64())
	if shares.Sign() <= 0 {
		return Amounts{}, polybot.FieldError("amount", fmt.Sprintf("%s buys no shares", amount))
	}
	return Amounts{Price: p, Shares: shares, Maker: amt, Taker: shares}, nil
}

func checkPrice(price, tick polybot.Decimal) error {
	if price.LessThan(tick) || price.GreaterThan(polybot.One.Sub(tick)) {
		return polybot.FieldError("price", fmt.Sprintf("%s is outside [%s, %s]", price, tick, polybot.One.Sub(tick)))
	}
	return nil
}

var pow10 = [...]int64{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000}

// roundDown truncates a non-negative d to places decimals.
func roundDown(d polybot.Decimal, places int) polybot.Decimal {
	unit := pow10[polybot.DecimalPlaces-places]
	m := d.Micros()
	return polybot.DecimalFromMicros(m - m%unit)
}

// roundHalfUp rounds a non-negative d to places decimals, halves up.
func roundHalfUp(d polybot.Decimal, places int) polybot.Decimal {
	unit := pow10[polybot.DecimalPlaces-places]
	m := d.Micros()
	q, r := m/unit, m%unit
	if 2*r >= unit {
		q++
	}
	return polybot.DecimalFromMicros(q * unit)
}
