// Package crashtest holds PolyBot's crash test (issue 4, "Must be shown"):
// `polybot serve`, trading live with a tenant's own keys against
// `polybot sim`, is killed with SIGKILL at random points while it sends
// orders, and restarted on the same data directory, until the simulators
// have received at least 200 of the tenant's orders. After a last clean run
// (reconciliation, then reducing-only and a graceful stop) the test proves,
// from the simulators' side and the store's:
//
//   - no client order id reached a venue twice (Kalshi: the client_order_id
//     of every order request, refused duplicates included; Polymarket: the
//     salt, which PolyBot derives from the client order id);
//   - no fill is lost: every fill the venues made for the tenant is in the
//     store, once, with its size;
//   - positions equal the venues': Kalshi's net position per market, and
//     Polymarket's shares per token.
//
// It also checks that nothing is left pending or unknown, and that every
// opportunity whose legs ended unbalanced had its unwind tried.
//
// The tenant trades as a user would set it up: created with `polybot user
// create` and `set-tier pro`, then configured through the API of the first
// serve run (live, cross-venue arbitrage at a 0.1% minimum, $50 a trade,
// its own Kalshi key and Polymarket wallet). The simulators replay the Fed
// recording at 72000× in a loop, which gives ~7 live orders a second
// without synthetic books.
//
// Both processes are the real binary, built once by the test: a kill is a
// kill of the whole process, as in production. The package has only this
// test so that `go test ./...` runs it beside the other packages.
package crashtest
