// Package kalshi is PolyBot's connector to Kalshi's Trade API v2: RSA-PSS
// request signing, the REST client (markets, events, series, order books,
// portfolio, orders), a polybot.Exchange per tenant key, a polybot.MarketFeed
// over the WebSocket (orderbook snapshots and deltas with sequence checks,
// trades, tickers and private fills), and the fee schedule.
//
// Kalshi books hold bids only: YES bids and NO bids. A NO bid at X is a YES
// ask at 1−X. The connector converts that view exactly, in fixed point, into
// polybot.BookEvent values for both the YES and the NO instrument of a market.
//
// It owns the Kalshi wire format and nothing else; what every connector
// shares (the JSON scanner, REST failure classification, Retry-After,
// backoff) it takes from internal/venue/wire. It must not import a
// store, the server, the engine, the market-data hub or any simulator
// (internal/venuesim/...): conformance tests reach the simulator over real
// sockets only.
package kalshi
