// Package notify delivers a tenant's notifications: email (SMTP, STARTTLS
// when the server offers it), Telegram (Bot API sendMessage), Discord
// (incoming webhooks) and signed webhooks (HMAC-SHA256 over timestamp "."
// body in the Polybot-Signature header). It owns the channels, the
// dispatcher that drains the store's outbox, the verification of
// destinations, the opportunity digest, the bot-state alerts and the daily
// summary. It imports the root package, internal/secrets and
// golang.org/x/time/rate; never a store, the engine or the server.
//
// # The outbox, and why not River
//
// polybot.Notify writes one outbox row per destination in the caller's
// transaction (RecordFill's, for a trade), so a trade and its notification
// commit or roll back together. The Dispatcher polls the due rows on the
// service path (AdminTx.DueNotifyDeliveries: tenant and id only), then per
// tenant and in batches reads the rows and opens the destinations' sealed
// secrets in a read-only transaction, claims the batch in one write
// transaction (attempts+1, next attempt pushed past a lease), sends outside
// any transaction, and records the outcomes in one more: delivered, retried
// with exponential backoff and jitter, or dead after MaxAttempts. A claim
// and a record each store a row only if it is still as read
// (TenantTx.SwapNotifyDelivery), so of several dispatchers on one store
// (api replicas) one claims each due row. A crash after
// the claim re-sends once the lease runs out, with the same idempotency
// key: delivery is at least once, and an idempotent receiver sees it once.
//
// # Split roles
//
// Dispatcher.Run does everything: the hooks (the opportunity digest and
// the bot alerts, which the engine reports through polybot.NotifyHook),
// the outbox and the daily summaries. Dispatcher.RunHooks does only the
// hooks, writing to the outbox: a gateway and the workers run it, and the
// api nodes' Run sends what they queue. Event ids name the happening (a
// digest its tenant's window slot, an alert its day, state and reason), so
// two processes that hear the same one queue it once.
//
// River (riverqueue/river v0.51.2, riverpgxv5 and riversqlite) was
// considered and not used:
//   - its jobs must be inserted in our transactions, but both stores hide
//     their *sql.Tx / pgx.Tx behind polybot.TenantTx (the store runs the
//     tenant's set_config claims and role switches on it); exposing them
//     would leak the driver through the root package;
//   - on PostgreSQL every tenant transaction runs as authenticated /
//     polybot_tenant_app under FORCE ROW LEVEL SECURITY; river_job has no
//     user_id, so a tenant could read or forge another tenant's jobs unless
//     River's tables were given policies River does not expect;
//   - the SQLite store has one writer connection; River's producer,
//     leader election and completer write continuously on their own
//     connections, contending with trading for that writer;
//   - the delivery log the user sees must be tenant-scoped rows anyway.
//
// The dispatcher is small (one query to find due rows, two short tenant
// transactions per attempt) and uses the stores' own conformance suite.
package notify
