package fee

import (
	"strconv"

	"github.com/polybot/polybot"
)

// IBKR is Interactive Brokers' commission model for what PolyBot trades
// there.
//
// ForecastEx event contracts: no commission. IBKR's ForecastTrader page,
// https://forecasttrader.interactivebrokers.ca/en/home.php: "Forecast
// Contracts are offered at zero-commission at Interactive Brokers" (and
// "Forecast Contracts are ... quoted in USD 0.01 increments", "a fixed
// payout of USD 1.00"). The same page says a contract's profit is "USD 1.00
// minus the contract cost, fees and commissions" without naming any fee; we
// found no published ForecastEx exchange fee, so the model charges nothing.
//
// US stocks (IBKR Pro Fixed): USD 0.005 per share with a minimum of USD 1.00
// per order, as IBKR's knowledge base states it
// (https://ibkr.info/ja/tag/market-data: "In the case of US stocks, for
// example, we charge $0.005 per share with a minimum per trade of $1.00").
// IBKR's Fixed schedule also caps an order at a percentage of its value; we
// could not read that page, so the cap is not applied (the model
// overcharges very small orders of very cheap stocks, never undercharges).
// The result is rounded up to the cent.
type IBKR struct{}

// IBKR's published rates.
var (
	IBKRStockPerShare = polybot.MustDecimal("0.005")
	IBKRStockMinimum  = polybot.One
)

// IBKREventContract reports whether inst is a ForecastEx event contract
// (its Token or Market a conid, a number) rather than a stock (a symbol).
func IBKREventContract(inst polybot.Instrument) bool {
	if inst.Venue != polybot.IBKR {
		return false
	}
	conid := func(s string) bool {
		v, err := strconv.ParseInt(s, 10, 64)
		return err == nil && v > 0
	}
	return conid(inst.Token) || conid(inst.Market)
}

// TakerFee implements polybot.FeeModel for IBKR instruments.
func (IBKR) TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal {
	if IBKREventContract(inst) || count.Sign() <= 0 {
		return polybot.Zero
	}
	return IBKRStockCommission(count)
}

// IBKRStockCommission is the Fixed commission of one US stock order of
// shares: max(0.005 × shares, 1.00), rounded up to the cent.
func IBKRStockCommission(shares polybot.Decimal) polybot.Decimal {
	if shares.Sign() <= 0 {
		return polybot.Zero
	}
	return ceilCents(IBKRStockPerShare, shares).Max(IBKRStockMinimum)
}
