package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres/pgtest"
)

// LockTenant holds the tenant's profile row until the transaction ends: a
// second transaction of the same tenant waits at its LockTenant, another
// tenant's does not.
func TestLockTenantSerialisesOneTenantOnly(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	a := seedTenant(t, db, "a@example.com")
	b := seedTenant(t, db, "b@example.com")
	ctx := context.Background()

	locked, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Tenant(ctx, a, func(tx polybot.TenantTx) error {
			if err := tx.LockTenant(); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked

	// Another tenant is not held up.
	done := make(chan error, 1)
	go func() { done <- db.Tenant(ctx, b, func(tx polybot.TenantTx) error { return tx.LockTenant() }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("LockTenant of B: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B's LockTenant waited for A's lock")
	}

	// The same tenant waits until the first transaction ends.
	second := make(chan error, 1)
	go func() { second <- db.Tenant(ctx, a, func(tx polybot.TenantTx) error { return tx.LockTenant() }) }()
	select {
	case err := <-second:
		t.Fatalf("A's second LockTenant returned (%v) while the first transaction held the lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	for _, ch := range []chan error{first, second} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a transaction did not finish after the lock was released")
		}
	}
}

// A tenant, with its own claims and raw SQL, cannot lift an admin's halt,
// write the platform's settings, the market registry or the overlap
// registry, change what an intent or a fill records, or delete either.
func TestTenantCannotWriteAdminStateOrTradingHistory(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	a := seedTenant(t, db, "a@example.com")
	ctx := context.Background()
	app := d.AppConn(t)

	refused := []string{
		`UPDATE polybot_user_profiles SET admin_halt_state = 'active'`,
		`UPDATE polybot_settings SET value = 'active' WHERE key = 'global_halt'`,
		`INSERT INTO polybot_settings (key, value) VALUES ('x', 'y')`,
		`INSERT INTO polybot_market_pairs (id, name, a_yes, a_no, b_market) VALUES ('x', 'x', '1', '2', 'K')`,
		`UPDATE polybot_market_pairs SET approved = false`,
		`DELETE FROM polybot_market_pairs`,
		`INSERT INTO polybot_outcome_sets (id, name, venue, outcomes) VALUES ('x', 'x', 'kalshi', '[]')`,
		`UPDATE polybot_outcome_sets SET approved = true`,
		`DELETE FROM polybot_outcome_sets`,
		`INSERT INTO polybot_relations (id, name, kind, market_a, market_b) VALUES ('x', 'x', 'implies', '{}', '{}')`,
		`UPDATE polybot_relations SET approved = true`,
		`DELETE FROM polybot_relations`,
		`UPDATE polybot_order_intents SET price = 0.01, size = 1000`,
		`DELETE FROM polybot_order_intents`,
		`UPDATE polybot_fills SET realized_pnl = 1000000`,
		`DELETE FROM polybot_fills`,
		`DELETE FROM polybot_holdings`,
		`DELETE FROM polybot_daily_pnl`,
		`UPDATE polybot_holdings SET instrument_key = 'x'`,
		// What the risk gate trusts: only the application writes it.
		`UPDATE polybot_user_profiles SET trades_this_month = 0`,
		`UPDATE polybot_user_profiles SET quota_month = '1999-01'`,
		`UPDATE polybot_daily_pnl SET realized = 1000000`,
		`UPDATE polybot_daily_pnl SET open_value = 0, cash_flow = 1000000`,
		`INSERT INTO polybot_daily_pnl (user_id, day, mode, realized) VALUES (auth.uid(), current_date + 1, 'live', 1000000)`,
		`INSERT INTO polybot_fills (user_id, venue, trade_id, mode, outcome, side, price, size, filled_at) VALUES (auth.uid(), 'kalshi', 'forged', 'live', 'YES', 'SELL', 0.99, 1000, now())`,
		`UPDATE polybot_order_intents SET state = 'cancelled'`,
		`INSERT INTO polybot_holdings (user_id, instrument_key, mode) VALUES (auth.uid(), 'x', 'live')`,
		`UPDATE polybot_holdings SET size = 0`,
		// No table-level UPDATE or DELETE: no lock that stalls every tenant.
		`LOCK TABLE polybot_api_tokens IN ACCESS EXCLUSIVE MODE`,
		`LOCK TABLE polybot_sessions IN ACCESS EXCLUSIVE MODE`,
		`LOCK TABLE polybot_user_secrets IN ACCESS EXCLUSIVE MODE`,
		`LOCK TABLE polybot_user_profiles IN ACCESS EXCLUSIVE MODE`,
		`LOCK TABLE polybot_user_config IN SHARE MODE`,
		`DELETE FROM polybot_api_tokens`,
		`DELETE FROM polybot_sessions`,
		`DELETE FROM polybot_user_secrets`,
		// News: a rule decides trades, so only the application, which
		// validates it, writes one; likewise feeds, hooks, headlines, fires.
		`INSERT INTO polybot_news_rules (user_id, id, name, mode, outcome, max_price, max_size, window_seconds, cooldown_seconds, time_stop_seconds)
			VALUES (auth.uid(), 'forged', 'x', 'direct', 'YES', 0.99, 1000000, 3600, 0, 60)`,
		`UPDATE polybot_news_rules SET max_size = 1000000`,
		`DELETE FROM polybot_news_rules`,
		`INSERT INTO polybot_news_feeds (id, user_id, name, url, every_seconds) VALUES ('forged', auth.uid(), 'x', 'http://169.254.169.254/', 1)`,
		`UPDATE polybot_news_feeds SET every_seconds = 1`,
		`DELETE FROM polybot_news_feeds`,
		`UPDATE polybot_news_hooks SET secret = 'x'`,
		`DELETE FROM polybot_news_hooks`,
		`INSERT INTO polybot_news_headlines (user_id, id, title, received) VALUES (NULL, 'h-forged', 'Forged for everyone', now())`,
		`INSERT INTO polybot_news_headlines (user_id, id, title, received) VALUES (auth.uid(), 'h-forged', 'Forged', now())`,
		`UPDATE polybot_news_headlines SET title = 'x'`,
		`INSERT INTO polybot_news_fires (user_id, rule_id, headline_id, at, action) VALUES (auth.uid(), 'r', 'h', now(), 'x')`,
		`DELETE FROM polybot_news_fires`,
		`LOCK TABLE polybot_news_rules IN ACCESS EXCLUSIVE MODE`,
		`LOCK TABLE polybot_news_headlines IN SHARE MODE`,
	}
	asTenant(t, app, a, func(tx pgx.Tx) {
		for _, q := range refused {
			if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, q); sqlState(err) != "42501" {
				t.Errorf("tenant ran %q: got %v, want insufficient_privilege (42501)", q, err)
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
				t.Fatal(err)
			}
		}
		// What the tenant path does use stays allowed.
		var global string
		var pairs, sets, rels int
		if err := tx.QueryRow(ctx, `SELECT (SELECT value FROM polybot_settings WHERE key = 'global_halt'),
				(SELECT count(*) FROM polybot_market_pairs), (SELECT count(*) FROM polybot_outcome_sets),
				(SELECT count(*) FROM polybot_relations)`).Scan(&global, &pairs, &sets, &rels); err != nil ||
			global != "active" || pairs != 1 || sets != 0 || rels != 0 {
			t.Errorf("tenant reads settings and registries: %q, %d pairs, %d sets, %d relations, %v", global, pairs, sets, rels, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE polybot_user_profiles SET halt_state = 'halted', bot_enabled = false`); err != nil {
			t.Errorf("tenant updates its own halt state and bot switch: %v", err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM polybot_user_profiles FOR UPDATE`); err != nil {
			t.Errorf("tenant locks its own profile row: %v", err)
		}
	})
}

// The service role (the admin path) holds no privilege on the tenants'
// trading history: AdminTx never reads it.
func TestServiceRoleCannotReadTradingHistory(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	seedTenant(t, db, "a@example.com")
	ctx := context.Background()
	app := d.AppConn(t)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('role', 'polybot_service', true)`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT 1 FROM polybot_order_intents`, `SELECT 1 FROM polybot_fills`, `SELECT 1 FROM polybot_holdings`,
		`SELECT 1 FROM polybot_daily_pnl`,
		// News: no rules or fires, and of a hook only its owner, never its secret.
		`SELECT 1 FROM polybot_news_rules`, `SELECT 1 FROM polybot_news_fires`, `SELECT secret FROM polybot_news_hooks`,
		`SELECT * FROM polybot_news_hooks`, `UPDATE polybot_news_hooks SET name = 'x'`,
		// Nor may it write a tenant's own headline or feed.
		`INSERT INTO polybot_news_headlines (user_id, id, title, received) SELECT id, 'h-forged', 'Forged', now() FROM polybot_users`,
		`INSERT INTO polybot_news_feeds (id, user_id, name, url, every_seconds) SELECT 'forged', id, 'x', 'https://x', 60 FROM polybot_users`,
	} {
		if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, q); sqlState(err) != "42501" {
			t.Errorf("polybot_service ran %q: got %v, want 42501", q, err)
		}
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
	}
	// What it may do, it does only on the platform's rows.
	var owners, private int
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM polybot_news_hooks WHERE user_id IS NOT NULL),
		(SELECT count(*) FROM polybot_news_headlines WHERE user_id IS NOT NULL)`).Scan(&owners, &private); err != nil ||
		owners != 1 || private != 0 {
		t.Errorf("polybot_service sees %d hook owners and %d private headlines (%v); want 1 and 0", owners, private, err)
	}
	for _, q := range []string{`UPDATE polybot_news_feeds SET url = 'https://x' WHERE user_id IS NOT NULL`,
		`DELETE FROM polybot_news_feeds WHERE user_id IS NOT NULL`} {
		if tag, err := tx.Exec(ctx, q); err != nil || tag.RowsAffected() != 0 {
			t.Errorf("polybot_service ran %q: %v rows, %v; want none touched", q, tag.RowsAffected(), err)
		}
	}
}

// A tenant's own SQL session (on Supabase: PostgREST's authenticator, a
// login that may become authenticated) cannot become the role the
// application writes the risk gate's state with.
func TestATenantSQLSessionCannotBecomeTheApplicationsWriterRole(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	a := seedTenant(t, db, "a@example.com")
	ctx := context.Background()
	admin := d.Conn(t)
	login := "authenticator_" + strings.ReplaceAll(a.String()[:8], "-", "")
	for _, q := range []string{
		`CREATE ROLE ` + login + ` LOGIN NOINHERIT`,
		`GRANT authenticated TO ` + login,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS `+login) })
	u, err := url.Parse(d.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(login)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	asTenant(t, conn, a, func(tx pgx.Tx) {
		for _, q := range []string{
			`SELECT set_config('role', 'polybot_tenant_app', true)`,
			`SET LOCAL ROLE polybot_tenant_app`,
			`SET LOCAL ROLE polybot_service`,
			`UPDATE polybot_user_profiles SET trades_this_month = 0`,
			`UPDATE polybot_daily_pnl SET realized = 1000000`,
		} {
			if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, q); sqlState(err) != "42501" {
				t.Errorf("tenant session ran %q: got %v, want insufficient_privilege (42501)", q, err)
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
				t.Fatal(err)
			}
		}
		var used int
		if err := tx.QueryRow(ctx, `SELECT trades_this_month FROM polybot_user_profiles`).Scan(&used); err != nil {
			t.Errorf("the tenant still reads its own profile: %v", err)
		}
	})
}
