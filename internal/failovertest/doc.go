// Package failovertest holds PolyBot's scale-out failover tests (issue 17,
// item 4). The deployment is the real binary, built once per test: one
// `polybot sim` (the Fed recording replayed in a loop at 72000×), a fresh
// PostgreSQL database, NATS, and `polybot serve` as four processes sharing
// one master key: --role gateway, --role api and two workers, w1 (capacity
// half the tenants, started first, so it takes exactly half) and w2
// (capacity all of them, taking the rest). Leases last 4 s.
//
// The tenants are seeded straight into the store as the server would make
// them (polybot.CreateAccount, the pro plan, live cross-venue arbitrage at
// a 0.1% minimum and $20 a trade, onboarded, bot on), each with its own
// Kalshi key id (all sharing one RSA key pair, to save time) and its own
// Polymarket wallet, sealed under the shared master key
// (secrets.Box.NewSecret, TenantTx.PutSecret).
//
// TestFailoverKillsAWorkerMidExecution runs 200 tenants. Once both
// workers' tenants trade, w1 is SIGKILLed 0–20 ms after a simulator saw a
// new order of one of its tenants: inside an execution. Then:
//
//   - every tenant w1 held is leased by w2 at a higher epoch within
//     one lease period (+ 2 s of slack) of the kill (the time from the kill to each claim is
//     logged, median and max);
//   - every one of them trades again under its new lease: after 20 s each
//     has made intents carrying the new lease's epoch. Intents are what is
//     observable robustly: a runner makes one per decision and persists it
//     before anything is sent, whether the gate or the venue then refuse
//     it, while which tenant's order gets filled depends on the books the
//     others left.
//
// TestSIGSTOPpedWorkerPastItsLeaseSendsNothing runs 20 tenants. w1 is
// SIGSTOPped right after one of its tenants' orders reached a simulator:
// it may be inside a transaction (holding the tenant's row lock), or hold
// the next leg's intent, persisted under its lease. w2 must take its
// tenants within the same bound, and w1 is resumed 1.5 × ttl after the
// stop: it must let every tenant go (its log says so, tenant by tenant),
// hold no lease, and no order that reaches a venue from then to the end
// of the test may carry an intent made under one of w1's epochs (each
// submission is mapped to its intent by client order id, or by the
// Polymarket salt derived from it, and so to its epoch).
//
// Both end the same way: the platform's kill switch goes to reducing-only
// (so a graceful stop interrupts no execution), then every process is
// stopped with SIGTERM and must exit 0, and, for every tenant, from the
// simulators' side and the store's (internal/crashtest/simcheck):
//
//   - no client order id reached a venue twice, and every order went with
//     its own tenant's keys;
//   - no fill is lost, and positions equal the venues' (Kalshi's net per
//     market, Polymarket's shares per token), after the survivor
//     reconciled what the failed worker left;
//   - nothing is left pending, unknown or open.
//
// TestSplitRolesQueueTheEnginesAlertsOnceAndTheAPISendsThem runs 4
// tenants, each with a verified webhook destination, on a gateway, an api
// node and one worker. The platform goes reducing-only, which halts every
// bot on its worker and in the gateway's view: both queue the halt alert
// (RunHooks), and the api node must send it, once per tenant (one
// delivery in the outbox, received once).
//
// Without PostgreSQL or NATS the tests skip, unless
// POLYBOT_REQUIRE_POSTGRES=1 or POLYBOT_REQUIRE_NATS=1.
//
// It has only tests.
package failovertest
