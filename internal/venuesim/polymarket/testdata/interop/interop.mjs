// Drives the official @polymarket/clob-client-v2 against the simulator:
// derive an API key (L1), list the markets, read a book, post a signed V2
// order (L2) and cancel it. Prints one JSON object for interop_test.go to check.
import { ClobClient, OrderType, Side } from "@polymarket/clob-client-v2";
import { Wallet } from "@ethersproject/wallet";

const host = process.env.CLOB_URL;
const chain = Number(process.env.CHAIN_ID);
const tokenID = process.env.TOKEN_ID;
const signer = new Wallet(process.env.PRIVATE_KEY);

const l1 = new ClobClient({ host, chain, signer });
const creds = await l1.createOrDeriveApiKey();
if (!creds.key) throw new Error("no API key: " + JSON.stringify(creds));

const client = new ClobClient({ host, chain, signer, creds, throwOnError: true });
const markets = await client.getMarkets();
const book = await client.getOrderBook(tokenID);
const order = await client.createAndPostOrder(
  { tokenID, price: 0.45, size: 10, side: Side.BUY },
  { tickSize: "0.01", negRisk: false },
  OrderType.GTC,
);
const open = await client.getOpenOrders();
const cancel = await client.cancelOrder({ orderID: order.orderID });
const after = await client.getOpenOrders();

console.log(JSON.stringify({ address: await signer.getAddress(), apiKey: creds.key, markets, book, order, open, cancel, after }));
