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
//	   ─▶ per such tenant, on the dispatcher: Wants(config now), size, claim depth
//	   ─▶ only tenants granted depth are woken: their mailbox (bounded, conflating;
//	      the dispatcher never blocks)
//	   ─▶ runner: Wants again, re-price for its size ─▶ risk gate (polybot.SubmitIntent,
//	      every leg's intent in one tenant transaction) ─▶ send legs ─▶ RecordFill
//
// # Allocation policy
//
// Several tenants may act on the same opportunity, but the book shows only
// so much. Each leg's best level (instrument, price, size) has one
// allocator holding its visible size; it lives until that level's price or
// size changes in the hub (then the book shows new depth). The dispatcher
// grants depth first come, first served in delivery order: each interested
// tenant gets min(the sets it wants, what every leg has left), in whole
// lots (1 contract; 0.01 share on Polymarket alone), and the grant is taken
// from every leg's allocator at once. The sets a tenant wants are its max
// trade size (config, capped by the plan) divided by the cost per set, at
// most the opportunity's size. Depth a tenant does not use (the risk gate
// refused, its config changed, an order did not fill, a newer delivery
// replaced it in the mailbox) goes back to the allocators. So the sizes the
// tenants request together never exceed what any leg's book showed.
// Fairness: the dispatcher rotates the tenant it starts with on every
// opportunity, so no tenant is systematically first. A re-detection of the
// same book state (same opportunity id) is not routed again.
//
// # Execution
//
// Every leg's intent (client order id polybot.IntentID, deterministic) passes
// the risk gate in one tenant transaction before anything is sent; any error
// sends nothing. Then the hub's latest books must still show every leg's size
// at its price, else the intents are closed unsent (the book moved while they
// were persisted). Legs go back to back, their fills recorded after the last
// one is sent, riskiest first: the thinner visible size first, ties
// broken by the venue order in Config.LegOrder (the less liquid venue first).
// Legs are fill-or-kill where the venue allows (Config.NoFOK lists venues
// that do not; they get FAK). A leg that fills less than the full size stops
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
// Dry-run is an Exchange that fills at once against the hub's current view,
// walking the levels, with the venue's fees (Config.Fees); it never changes
// the shared book. Live exchanges come from Config.ExchangeFactory with the
// tenant's decrypted keys, which are wiped once the exchange is built. Each
// live exchange waits on a per-venue and a per-key token bucket; a venue's
// Retry-After blocks the key's bucket for that long.
//
// # Isolation and density
//
// A runner is a goroutine (an 8 KiB stack) and about 3.5 KiB of heap while
// idle; its config is an atomic.Pointer that Reload swaps in place (no
// restart). Tenants that are not granted depth are never woken, so an
// update costs the dispatcher a few hundred nanoseconds per interested
// tenant. A panic in a runner is recovered, logged and counted, and the
// runner restarts with exponential backoff. A slow runner only fills its
// own mailbox, which conflates.
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
// internal/secrets, internal/strategy (detection, fees, Wants) and
// prometheus/client_golang (metrics.go only). It must
// not import the server, the stores' concrete packages (internal/sqlite,
// internal/postgres: tests only), venue connectors or simulators (tests
// only): cmd injects live exchanges through Config.ExchangeFactory.
package engine
