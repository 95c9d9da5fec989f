// Prints Polymarket CLOB V2 signing vectors computed by the official
// TypeScript client, @polymarket/clob-client-v2 (pinned in package.json).
// PolyBot's Go signer must reproduce every one: the output is committed as
// v2_vectors.json and checked by sign_interop_test.go, which also re-runs
// this script when node and npm are available.
//
// The client draws the salt from Math.random() and the timestamp from
// Date.now(); both are pinned per case so the output is deterministic.
import { Wallet } from "@ethersproject/wallet";
import {
  OrderBuilder, OrderType, Side, SignatureTypeV2, createL1Headers, createL2Headers,
  getContractConfig, orderToJsonV2,
} from "@polymarket/clob-client-v2";
import { hashTypedData, recoverTypedDataAddress } from "viem";
import { webcrypto } from "node:crypto";

// The client's HMAC needs WebCrypto on globalThis (built in from Node 19).
globalThis.crypto ??= webcrypto;

const CLIENT = "@polymarket/clob-client-v2@1.1.0";
// Well-known development keys (Hardhat accounts 0 and 1); never funded.
const KEYS = {
  dev0: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  dev1: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
};
const OWNER = "f4f247b7-4ac7-ff29-a152-04fda0a8755a";
const BIG_TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const SAFE = "0x6e0C9E5F3B0B1B9d4A6Ea5c0f5e7E1f1d3B2a4c9";
const ZERO32 = "0x0000000000000000000000000000000000000000000000000000000000000000";

const ORDER_STRUCT = [
  { name: "salt", type: "uint256" },
  { name: "maker", type: "address" },
  { name: "signer", type: "address" },
  { name: "tokenId", type: "uint256" },
  { name: "makerAmount", type: "uint256" },
  { name: "takerAmount", type: "uint256" },
  { name: "side", type: "uint8" },
  { name: "signatureType", type: "uint8" },
  { name: "timestamp", type: "uint256" },
  { name: "metadata", type: "bytes32" },
  { name: "builder", type: "bytes32" },
];

const CASES = [
  { name: "polygon-ctf-buy-eoa-tick0.01", key: "dev0", chainId: 137, negRisk: false, signatureType: 0, kind: "limit",
    tokenId: BIG_TOKEN, side: "BUY", price: "0.56", size: "100", tickSize: "0.01", orderType: "GTC" },
  { name: "polygon-negrisk-sell-eoa-tick0.01", key: "dev0", chainId: 137, negRisk: true, signatureType: 0, kind: "limit",
    tokenId: BIG_TOKEN, side: "SELL", price: "0.43", size: "21.37", tickSize: "0.01", orderType: "GTC" },
  { name: "amoy-ctf-buy-safe-tick0.0001-size-rounded-down", key: "dev1", chainId: 80002, negRisk: false, signatureType: 2, funder: SAFE, kind: "limit",
    tokenId: "1234", side: "BUY", price: "0.0567", size: "1234.567", tickSize: "0.0001", orderType: "GTC" },
  { name: "amoy-negrisk-sell-safe-tick0.1", key: "dev1", chainId: 80002, negRisk: true, signatureType: 2, funder: SAFE, kind: "limit",
    tokenId: BIG_TOKEN, side: "SELL", price: "0.7", size: "5", tickSize: "0.1", orderType: "FOK" },
  { name: "polygon-ctf-buy-eoa-tick0.001-price-half-up", key: "dev0", chainId: 137, negRisk: false, signatureType: 0, kind: "limit",
    tokenId: BIG_TOKEN, side: "BUY", price: "0.1235", size: "77.777", tickSize: "0.001", orderType: "GTC", postOnly: true },
  { name: "polygon-ctf-sell-eoa-tick0.001-min-size", key: "dev0", chainId: 137, negRisk: false, signatureType: 0, kind: "limit",
    tokenId: BIG_TOKEN, side: "SELL", price: "0.9", size: "0.01", tickSize: "0.001", orderType: "FAK" },
  { name: "amoy-ctf-buy-eoa-tick0.01-price-half-up", key: "dev0", chainId: 80002, negRisk: false, signatureType: 0, kind: "limit",
    tokenId: "1234", side: "BUY", price: "0.125", size: "10", tickSize: "0.01", orderType: "GTC" },
  { name: "polygon-negrisk-buy-safe-tick0.01-float-noise", key: "dev1", chainId: 137, negRisk: true, signatureType: 2, funder: SAFE, kind: "limit",
    tokenId: BIG_TOKEN, side: "BUY", price: "0.57", size: "100.33", tickSize: "0.01", orderType: "GTC" },
  { name: "amoy-ctf-buy-eoa-gtd-builder-metadata", key: "dev0", chainId: 80002, negRisk: false, signatureType: 0, kind: "limit",
    tokenId: BIG_TOKEN, side: "BUY", price: "0.33", size: "15.5", tickSize: "0.01", orderType: "GTD", expiration: "1900000000",
    metadata: "0x00000000000000000000000000000000000000000000000000000000000000ab",
    builder: "0x0000000000000000000000000000000000000000000000000000000000000001" },
  { name: "polygon-ctf-sell-eoa-tick0.0001", key: "dev0", chainId: 137, negRisk: false, signatureType: 0, kind: "limit",
    tokenId: BIG_TOKEN, side: "SELL", price: "0.9999", size: "3.33", tickSize: "0.0001", orderType: "GTC" },
  { name: "polygon-ctf-market-buy-eoa-tick0.01", key: "dev0", chainId: 137, negRisk: false, signatureType: 0, kind: "market",
    tokenId: BIG_TOKEN, side: "BUY", price: "0.37", amount: "25.5", tickSize: "0.01", orderType: "FOK" },
  { name: "amoy-negrisk-market-sell-safe-tick0.001", key: "dev1", chainId: 80002, negRisk: true, signatureType: 2, funder: SAFE, kind: "market",
    tokenId: "1234", side: "SELL", price: "0.512", amount: "40.129", tickSize: "0.001", orderType: "FAK" },
];

const realNow = Date.now;
const realRandom = Math.random;

async function orderVector(c, i) {
  const wallet = new Wallet(KEYS[c.key]);
  const timestamp = 1767225600000 + i * 1000; // 2026-01-01T00:00:00Z + i s
  const random = 0.1 + i * 0.07;
  Date.now = () => timestamp;
  Math.random = () => random;
  let order;
  try {
    const builder = new OrderBuilder(wallet, c.chainId, c.signatureType, c.funder);
    const side = c.side === "BUY" ? Side.BUY : Side.SELL;
    const opts = { tickSize: c.tickSize, negRisk: c.negRisk };
    if (c.kind === "limit") {
      const u = { tokenID: c.tokenId, price: parseFloat(c.price), size: parseFloat(c.size), side };
      if (c.expiration) u.expiration = Number(c.expiration);
      if (c.metadata) u.metadata = c.metadata;
      if (c.builder) u.builderCode = c.builder;
      order = await builder.buildOrder(u, opts, 2);
    } else {
      const u = { tokenID: c.tokenId, price: parseFloat(c.price), amount: parseFloat(c.amount), side, orderType: c.orderType };
      order = await builder.buildMarketOrder(u, opts, 2);
    }
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
  }
  const cfg = getContractConfig(c.chainId);
  const exchange = c.negRisk ? cfg.negRiskExchangeV2 : cfg.exchangeV2;
  const typed = {
    domain: { name: "Polymarket CTF Exchange", version: "2", chainId: c.chainId, verifyingContract: exchange },
    types: { Order: ORDER_STRUCT },
    primaryType: "Order",
    message: {
      salt: BigInt(order.salt), maker: order.maker, signer: order.signer, tokenId: BigInt(order.tokenId),
      makerAmount: BigInt(order.makerAmount), takerAmount: BigInt(order.takerAmount),
      side: order.side === "BUY" ? 0 : 1, signatureType: order.signatureType,
      timestamp: BigInt(order.timestamp), metadata: order.metadata, builder: order.builder,
    },
  };
  const orderHash = hashTypedData(typed);
  const recovered = await recoverTypedDataAddress({ ...typed, signature: order.signature });
  if (recovered !== wallet.address) throw new Error(`${c.name}: signature recovers to ${recovered}`);
  const payload = JSON.stringify(orderToJsonV2(order, OWNER, c.orderType, c.postOnly ?? false, false));
  return {
    ...c, metadata: c.metadata ?? ZERO32, builder: c.builder ?? ZERO32, expiration: c.expiration ?? "0",
    funder: c.funder ?? "", postOnly: c.postOnly ?? false, owner: OWNER, exchange,
    timestamp: String(timestamp), salt: String(order.salt),
    signedOrder: order, orderHash, payload,
  };
}

const L1 = [
  { key: "dev0", chainId: 137, timestamp: 1767225600, nonce: 0 },
  { key: "dev0", chainId: 80002, timestamp: 1767225601, nonce: 23 },
  { key: "dev1", chainId: 137, timestamp: 1767225602, nonce: 1 },
];

const L2 = [
  { key: "dev0", secret: "c2VjcmV0LWtleS1mb3ItdGVzdHM_Pz8-Pj4-c2VjcmV0", method: "GET", requestPath: "/data/orders" },
  { key: "dev0", secret: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", method: "POST", requestPath: "/order",
    body: '{"order":{"salt":1},"owner":"k","orderType":"GTC"}' },
  { key: "dev1", secret: "q83vEjRWeJA-_-_-q83vEjRWeJA=", method: "DELETE", requestPath: "/order",
    body: '{"orderID":"0x01"}' },
];

const out = { client: CLIENT, keys: KEYS, orders: [], l1: [], l2: [] };
for (const [i, c] of CASES.entries()) out.orders.push(await orderVector(c, i));
for (const c of L1) {
  const h = await createL1Headers(new Wallet(KEYS[c.key]), c.chainId, c.nonce, c.timestamp);
  out.l1.push({ ...c, headers: h });
}
for (const [i, c] of L2.entries()) {
  const ts = 1767225700 + i;
  const creds = { key: "api-key-" + i, secret: c.secret, passphrase: "passphrase-" + i };
  const h = await createL2Headers(new Wallet(KEYS[c.key]), creds,
    { method: c.method, requestPath: c.requestPath, body: c.body }, ts);
  out.l2.push({ ...c, body: c.body ?? "", timestamp: ts, apiKey: creds.key, passphrase: creds.passphrase, headers: h });
}
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
