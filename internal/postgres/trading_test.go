package postgres_test

import (
	"context"
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
// write the platform's settings or the market registry, change what an
// intent or a fill records, or delete either.
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
		`INSERT INTO polybot_market_pairs (id, name, polymarket_yes_token, polymarket_no_token, kalshi_ticker) VALUES ('x', 'x', '1', '2', 'K')`,
		`UPDATE polybot_market_pairs SET approved = false`,
		`DELETE FROM polybot_market_pairs`,
		`UPDATE polybot_order_intents SET price = 0.01, size = 1000`,
		`DELETE FROM polybot_order_intents`,
		`UPDATE polybot_fills SET realized_pnl = 1000000`,
		`DELETE FROM polybot_fills`,
		`DELETE FROM polybot_holdings`,
		`DELETE FROM polybot_daily_pnl`,
		`UPDATE polybot_holdings SET instrument_key = 'x'`,
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
		var pairs int
		if err := tx.QueryRow(ctx, `SELECT (SELECT value FROM polybot_settings WHERE key = 'global_halt'),
				(SELECT count(*) FROM polybot_market_pairs)`).Scan(&global, &pairs); err != nil || global != "active" || pairs != 1 {
			t.Errorf("tenant reads settings and registry: %q, %d, %v", global, pairs, err)
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
	for _, table := range []string{"polybot_order_intents", "polybot_fills", "polybot_holdings", "polybot_daily_pnl"} {
		if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM `+pgx.Identifier{table}.Sanitize()); sqlState(err) != "42501" {
			t.Errorf("polybot_service reading %s: got %v, want 42501", table, err)
		}
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
	}
}
