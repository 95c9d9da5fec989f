// Package fee owns the venues' fee formulas and their other trading facts
// (lot, tick, minimum order size): the one place detection, pre-flight,
// paper fills, P&L, replay and the simulators read them from. It imports
// only the root package polybot, never a venue connector, so connectors,
// simulators and strategies can all import it.
//
// # Polymarket
//
// https://docs.polymarket.com/trading/fees: a taker pays
//
//	fee = C × rate × (p × (1 − p))^exponent
//
// where C is the shares traded, p the trade price, and rate and exponent
// come from the market's fee schedule (Gamma's feeSchedule {rate, exponent},
// CLOB /clob-markets' fd {r, e}). Makers pay nothing. A market without a
// schedule (feesEnabled false, e.g. geopolitics, and every market before
// fees were introduced in 2026) is fee-free. Fees are rounded to 5 decimal
// places, "the smallest fee charged is 0.00001 … anything smaller rounds to
// zero": we round DOWN to 0.00001 (a fee below it is zero, as the docs say).
// The docs do not name the direction beyond that sentence.
//
// # Kalshi
//
// https://kalshi.com/docs/kalshi-fee-schedule.pdf: a taker pays
// ceil(0.07 × multiplier × C × P × (1 − P)) to the cent per order; a maker
// pays a quarter of the rate (0.0175) only on series whose fee_type charges
// makers. The multiplier and fee_type come from the series (GET
// /series/{ticker}), which an event can override.
//
// # IBKR
//
// https://forecasttrader.interactivebrokers.ca/en/home.php: "Forecast
// Contracts are offered at zero-commission at Interactive Brokers", quoted
// in USD 0.01 increments and paying USD 1.00, so a ForecastEx contract
// costs nothing to trade. US stocks: USD 0.005 a share, USD 1.00 at least
// per order (https://ibkr.info/ja/tag/market-data), rounded up to the cent;
// see IBKR for what is not modelled.
package fee
