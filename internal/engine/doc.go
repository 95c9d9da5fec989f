// Package engine runs tenants' bots: the bot manager (polybot.BotManager),
// one small runner per tenant, the dispatcher that turns shared book updates
// into opportunities once and routes them to the tenants that want them, the
// allocation of visible depth between tenants, execution (dry-run against the
// hub's books, or live on the venue with the tenant's own keys), multi-leg
// leg risk and unwinds, reconciliation, per-venue and per-key rate limits,
// per-tenant events, and a metrics snapshot.
//
// # Data flow
//
//	hubs (one per venue) ─▶ dispatcher: one Subscription per hub for the universe
//	   ─▶ Detector, once per batch of changed views (never per tenant)
//	   ─▶ interest index: (strategy, set of venues) → tenants sorted by min_profit_pct;
//	      a binary search finds the tenants whose threshold the opportunity clears
//	   ─▶ per such tenant, on the dispatcher: Wants(config now), size, lend depth,
//	      until every depth pool (paper, live) the rest could use is dry: their
//	      outcome (nothing) is fixed then, and they are told later (settle)
//	   ─▶ only tenants lent depth are woken: a Grant in their mailbox (bounded,
//	      conflating; the dispatcher never blocks)
//	   ─▶ between batches: settle tells the tenants route did not reach (their
//	      opportunity counter, the digest hook, the live "opportunity" event)
//	   ─▶ runner: Wants again, re-price for its size ─▶ risk gate (polybot.SubmitIntent,
//	      every leg's intent in one tenant transaction) ─▶ send legs ─▶ RecordFill
//	   ─▶ GrantResult back to the dispatcher: what each leg used and released
//
// # Allocation policy
//
// Several tenants may act on the same opportunity, but the book shows only
// so much. The dispatcher (type dispatcher) lends depth first come, first
// served in delivery order, each opportunity starting with the first tenant
// the last one did not reach (round robin), so that no tenant is
// systematically first and depth goes round every tenant: each interested
// tenant gets min(the sets it wants, what every leg's level has free), in
// whole lots (1 contract; 0.01 share on Polymarket alone), taken from every
// leg at once. The sets a tenant wants are its max trade size (config,
// capped by the plan) divided by the cost per set, at most the
// opportunity's size. A re-detection of the same book state (same
// opportunity id) is not routed again. (Pro-rata would split a thin level
// into lots too small to be worth an order, and needs every tenant's
// answer before anyone is served; rotation is fair over many opportunities.)
//
// # Grant lifecycle
//
// A grant is a plain value (Grant: id, tenant, the opportunity, and per leg
// the instrument, price and size lent); its result is a plain value too
// (GrantResult: per leg, used and released). Nothing a runner holds points
// into the dispatcher, so the dispatcher could run in another process and
// reach runners over NATS; in-process the grant goes through the tenant's
// mailbox and the result comes back through dispatcher.Resolve.
//
//	lent ─▶ waiting in the mailbox ─┬─▶ replaced (newer grant, same group) or dropped (box full): released by the dispatcher
//	                                ├─▶ runner not trading, config no longer wants it, offer too old, edge gone
//	                                │   at the granted size, risk gate refused, book moved before the first leg:
//	                                │   released
//	                                ├─▶ legs sent: per leg, what filled is used, the rest released; a leg whose
//	                                │   outcome is unknown counts as used in full (it may have filled)
//	                                ├─▶ the runner panics: the grant whose legs it was sending counts as used (a
//	                                │   leg may have gone), every other grant it held is released
//	                                └─▶ the runner ends (stop): it closes its mailbox, whose grants are released;
//	                                    a closed mailbox hands every new grant straight back
//
// Every grant is resolved exactly once; a second result, or one from a
// tenant the grant was not lent to, is ignored.
//
// The depth book keeps, per ask level (instrument and price) that has lent
// or consumed something, three numbers: shown (what the book shows now),
// granted (lent, not yet resolved) and consumed (used, and not yet seen
// gone from the book). It lends at most shown − granted − consumed. The
// level's shown size follows every view the dispatcher reads and each
// opportunity's legs; grants are never forgotten when the book changes.
// Used depth cannot simply be dropped, at once or at the level's next
// change: the venue's book shows a fill only later (live) or never (paper
// fills do not reach the venue), so a level of 50, fully taken, that the
// venue then shows as 51 has 1 free, not 51. So only the shown size moves
// consumed: a shrink of Δ first uses up Δ of consumed (the venue caught
// up with our fills, or someone else took what we already count as
// taken), growth of Δ lends exactly Δ more. What a level ever lends is
// thus at most the sum of the rises it showed. consumed never exceeds
// shown. The price of never over-granting: a level taken and refilled to
// the same size between two views we read, or one that showed our fill
// before the runner reported it, stays taken until it shrinks, grows or
// goes. Live and dry-run tenants are counted in separate pools per level:
// live orders take the venue's liquidity, paper orders the paper book's.
//
// Dry-run tenants of the process share one paper book: a paper fill takes
// its size from a per-level consumption record layered over the hub's view
// (the same rule: growth restores exactly what it adds, shrinking uses up
// what was taken first), so two tenants never fill the same shares, and a
// level's paper fills never exceed the sum of the rises the venue showed
// there.

// # Execution
//
// Every leg's intent (client order id polybot.IntentID, deterministic) passes
// the risk gate in one tenant transaction before anything is sent; any error
// sends nothing. Then the hub's latest books must still show every leg's size
// at its price, else the intents are closed unsent (the book moved while they
// were persisted). Legs go back to back, their fills recorded after the last
// one is sent, riskiest first: the thinner visible size first, ties
// broken by the venue order in Config.LegOrder (the less liquid venue first).
// Legs are fill-or-kill where the venue allows (polybot.VenueFacts.FillOrKill;
// Config.NoFOK can name more venues); the others are sent FAK. A leg that fills less than the full size stops
// the sequence: legs not yet sent are cancelled (their quota given back), and
// everything already filled is unwound (a FAK sell at the best bid), counted,
// recorded on the intents and reported as an event and the bot's last error.
// A send whose outcome is unknown (polybot.ErrOutcomeUnknown) is resolved by
// Exchange.Order on the same client order id, never resent; while it stays
// unknown no further leg is sent and nothing is unwound (the leg may have
// filled), and the runner keeps querying until it is resolved. On start, a
// runner reconciles its pending, open, partial and unknown intents and its
// recent fills with the venue (a fill is recorded in its intent's terms:
// a NO buy the venue reports as a YES sale at 1 − p is a NO buy at p), and
// unwinds the legs of an opportunity that ended unbalanced with no unwind
// ever persisted (the process died between a failed leg and its partner's
// unwind).
//
// Dry-run is an Exchange that fills at once against the hub's current view
// less what other paper fills took (the shared paper book), walking the
// levels, with the venue's fees (Config.Fees); the hub's book itself never
// changes. Live exchanges come from Config.ExchangeFactory with the
// tenant's decrypted keys, which are wiped once the exchange is built. Each
// live exchange waits on a per-venue and a per-key token bucket; a venue's
// Retry-After blocks the key's bucket for that long.
//
// # Isolation and density
//
// A runner is a goroutine (an 8 KiB stack) and about 3.5 KiB of heap while
// idle; its config is an atomic.Pointer that Reload swaps in place (no
// restart). Tenants that are not granted depth are never woken, so an
// update costs the dispatcher about 300 ns per interested tenant it lends
// nothing (no allocation), and a grant's whole round trip (lend, mailbox,
// result) about 1 µs (BenchmarkGrantRoundTrip, BenchmarkRoute). A panic in a runner is recovered, logged and counted, and the
// runner restarts with exponential backoff. A slow runner only fills its
// own mailbox, which conflates.
//
// Tier 2: on a worker with Config.Runner, a tenant whose plan has
// Features.OwnProcess runs in a process of its own (`polybot runner`, a
// Manager with Config.Only) under memory and CPU limits, supervised with
// internal/process; the worker keeps its lease and forwards its grants
// (ownprocess.go). A runner that blows its limit is restarted with
// backoff and touches no other tenant.
//
// # Metrics cardinality
//
// Snapshot reports system gauges and counters and every active tenant's
// counters. Metrics (a prometheus.Collector) exposes them with a tenant
// label of at most TopTenants+1 values whatever the number of users: the
// first TopTenants tenants seen active keep their own label, all others are
// summed under tenant="other", and no tenant ever moves between the two, so
// per-tenant counters stay monotonic.
//
// # Imports
//
// The engine imports the root package, internal/marketdata,
// internal/secrets, internal/strategy (detection, fees, Wants),
// internal/process (tenants' own processes) and
// prometheus/client_golang (metrics.go only). It must
// not import the server, the stores' concrete packages (internal/sqlite,
// internal/postgres: tests only), venue connectors or simulators (tests
// only): cmd injects live exchanges through Config.ExchangeFactory.
package engine
