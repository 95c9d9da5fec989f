// Drives the official kalshi-typescript SDK, unchanged, against the
// simulator: read the balance, read the order book, create an order, and
// read a multi-outcome event with its nested markets (KALSHI_EVENT).
// Inputs come from the environment; one JSON line goes to stdout.
'use strict';
const { Configuration, PortfolioApi, MarketApi, OrdersApi, EventsApi } = require('kalshi-typescript');

async function main() {
  const env = (k) => {
    const v = process.env[k];
    if (!v) throw new Error(`missing ${k}`);
    return v;
  };
  const config = new Configuration({
    apiKey: env('KALSHI_KEY_ID'),
    privateKeyPath: env('KALSHI_KEY_PATH'),
    basePath: env('KALSHI_BASE_URL'),
  });
  const ticker = env('KALSHI_TICKER');
  const balance = await new PortfolioApi(config).getBalance();
  const book = await new MarketApi(config).getMarketOrderbook(ticker);
  const order = await new OrdersApi(config).createOrderV2({
    ticker,
    client_order_id: env('KALSHI_CLIENT_ORDER_ID'),
    side: 'bid',
    count: '3',
    price: '0.4500',
    time_in_force: 'good_till_canceled',
    self_trade_prevention_type: 'taker_at_cross',
  });
  const event = await new EventsApi(config).getEvent(env('KALSHI_EVENT'), true);
  process.stdout.write(JSON.stringify({ balance: balance.data, orderbook: book.data, order: order.data, event: event.data }) + '\n');
}

main().catch((err) => {
  const r = err && err.response;
  process.stderr.write(`interop failed: ${err && err.message}${r ? ` (HTTP ${r.status} ${JSON.stringify(r.data)})` : ''}\n`);
  process.exit(1);
});
