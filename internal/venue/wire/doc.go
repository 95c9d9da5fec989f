// Package wire is what every venue connector needs on the wire and would
// otherwise write again:
//
//   - a zero-allocation JSON scanner (Object, Array) for the hot-path
//     WebSocket decoders, which read a frame in place;
//   - Send, which makes one REST call and classifies how it failed: never
//     sent (a failed dial, DNS or TLS handshake: safe to retry), sent and
//     refused (a 4xx), or outcome unknown (the request may have reached the
//     venue and changed something: polybot.ErrOutcomeUnknown);
//   - RetryAfter (delay seconds or an HTTP date) and Backoff (exponential,
//     with jitter) for reconnects and retries.
//   - OrderRules, the checks of an order request every venue makes (client
//     order id, instrument, size) and its time in force on the wire, to
//     which a connector adds its own price and size rules.
//
// Decimals are parsed by polybot.ParseDecimalBytes, the one parser with one
// limit policy; Object.Decimal wraps it for the scanner.
//
// A connector keeps only what is its venue's own: its URLs, its auth
// headers, the shape of its error bodies and its messages. This package
// imports only the root package and the standard library, never a
// connector, a store or tenant state.
package wire
