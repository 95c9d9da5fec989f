// Drives @alpacahq/alpaca-trade-api against the Alpaca simulator: account,
// place a limit order with a client order id, read it back by client id and
// by id, cancel it, and a bad key refused. Prints one JSON object.
const { trading } = require("@alpacahq/alpaca-trade-api");

const base = process.env.ALPACA_BASE_URL;
const conf = (keyId, secret) => new trading.Configuration({ keyId, secret, basePath: base });

async function main() {
  const good = conf(process.env.ALPACA_KEY_ID, process.env.ALPACA_SECRET);
  const account = await new trading.AccountsApi(good).getAccount();
  const orders = new trading.OrdersApi(good);
  const placed = await orders.postOrder({
    postOrderRequest: {
      symbol: process.env.ALPACA_SYMBOL,
      side: "buy",
      type: "limit",
      qty: "3",
      limitPrice: "490.25",
      timeInForce: "gtc",
      clientOrderId: process.env.ALPACA_CLIENT_ORDER_ID,
    },
  });
  const byClient = await orders.getOrderByClientOrderId({ clientOrderId: process.env.ALPACA_CLIENT_ORDER_ID });
  await orders.deleteOrderByOrderID({ orderId: placed.id });
  const cancelled = await orders.getOrderByOrderID({ orderId: placed.id });
  let badKey = null;
  try {
    await new trading.AccountsApi(conf(process.env.ALPACA_KEY_ID, "wrong-secret")).getAccount();
  } catch (e) {
    badKey = { status: e.status ?? (e.response && e.response.status), code: e.code ?? null, name: e.name };
  }
  // Exit once written: the SDK's idle keep-alive sockets and timers would
  // otherwise hold node open for its 30 s request timeout.
  process.stdout.write(JSON.stringify({ account, placed, byClient, cancelled, badKey }), () => process.exit(0));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.response) console.error("status", e.response.status);
  process.exit(1);
});
