package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/storetest"
)

// tenantTable is a table holding tenant rows and the column naming the tenant.
type tenantTable struct{ table, column string }

// tenantTables lists, from the catalog, every table in public that holds
// tenant rows: polybot_users itself, every table with a user_id column, and
// every table whose foreign key points at polybot_users. A new table is
// picked up without editing this test.
func tenantTables(t *testing.T, conn *pgx.Conn) []tenantTable {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT 'polybot_users', 'id'
		UNION
		SELECT c.relname::text, a.attname::text
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
		UNION
		SELECT c.relname::text, a.attname::text
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]
		WHERE k.contype = 'f' AND k.confrelid = 'public.polybot_users'::regclass
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenantTable, error) {
		var x tenantTable
		err := r.Scan(&x.table, &x.column)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 8 {
		t.Fatalf("found only %d tenant tables: %v", len(out), out)
	}
	return out
}

// seedTenant gives u a row in every tenant table, through the store.
func seedTenant(t testing.TB, db *postgres.DB, email string) polybot.ID {
	t.Helper()
	ctx := context.Background()
	u := &polybot.User{Email: email, PasswordHash: "hash-" + email}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error { return tx.CreateUser(u, nil, nil) }); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	// A lease on the tenant (a worker runs its bot).
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		if err := tx.SetUserBotEnabled(u.ID, true); err != nil {
			return err
		}
		_, err := tx.ClaimLeases("seed-worker", polybot.MaxLeaseClaim, time.Minute)
		return err
	}); err != nil {
		t.Fatalf("ClaimLeases: %v", err)
	}
	err := db.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
		if err := tx.PutSecret(&polybot.Secret{Platform: polybot.Kalshi, Paper: true, Active: true,
			Sealed: map[string]string{polybot.FieldAPIKey: "sealed-key-" + email}, Fingerprint: "fp"}); err != nil {
			return err
		}
		if err := tx.CreateDataKey(&polybot.DataKey{MasterKeyID: "local:1", Wrapped: []byte("wrapped-" + email)}); err != nil {
			return err
		}
		if err := tx.CreateSession(&polybot.Session{ID: "session-" + email, CSRFToken: "csrf", ExpiresAt: tx.Now().Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.CreateAPIToken(&polybot.APIToken{Name: "t", Hash: "token-" + email, Prefix: "pb_"}); err != nil {
			return err
		}
		// Trading state: an intent, its fill, the position and the day.
		inst := polybot.Instrument{Venue: polybot.Kalshi, Market: "K-SEED", Outcome: polybot.Yes}
		in := &polybot.Intent{ID: "pb-seed", Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Instrument: inst,
			Side: polybot.Buy, Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("2"), TIF: polybot.FOK}
		if err := polybot.SubmitIntent(tx, in, nil); err != nil {
			return err
		}
		if _, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "seed-trade", ClientOrderID: in.ID,
			Strategy: in.Strategy, Mode: in.Mode, Instrument: inst, Side: polybot.Buy, Price: in.Price, Size: in.Size}, nil); err != nil {
			return err
		}
		// News: a rule, a feed, a webhook, a private headline, a fire.
		tag := strings.SplitN(email, "@", 2)[0]
		if err := tx.PutNewsRule(&polybot.NewsRule{ID: "rule", Name: "r", AnyOf: []string{"fed"}, Mode: polybot.NewsDirect,
			Markets: []polybot.BinaryMarket{{Yes: inst, No: polybot.Instrument{Venue: polybot.Kalshi, Market: "K-SEED", Outcome: polybot.No}}},
			Outcome: polybot.Yes, MaxPrice: polybot.MustDecimal("0.5"), MaxSize: polybot.MustDecimal("1")}); err != nil {
			return err
		}
		if err := tx.PutNewsFeed(&polybot.NewsFeed{ID: "feed-" + tag, Name: "f", URL: "https://example.com/" + tag, Enabled: true}); err != nil {
			return err
		}
		if err := tx.PutNewsHook(&polybot.NewsHook{ID: "hook-" + tag, Name: "h", Sealed: "sealed-" + tag}); err != nil {
			return err
		}
		if err := tx.PutHeadline(&polybot.Headline{ID: "h-private", Source: "hook-" + tag, Title: "Private to " + tag}); err != nil {
			return err
		}
		if err := tx.PutNewsFire(&polybot.NewsFire{RuleID: "rule", HeadlineID: "h-private", Action: "ordered"}); err != nil {
			return err
		}
		if err := tx.PutLeader(&polybot.Leader{ID: "leader", Address: "0x" + strings.Repeat("ab", 20), Mode: polybot.CopyFixed,
			FixedUSD: polybot.MustDecimal("5")}); err != nil {
			return err
		}
		if err := tx.PutCopyRecord(&polybot.CopyRecord{LeaderID: "leader", TradeKey: "0xtx/1", LeaderSide: polybot.Buy,
			LeaderPrice: polybot.MustDecimal("0.5"), LeaderSize: polybot.MustDecimal("10"), LeaderTime: tx.Now(),
			Action: polybot.CopySkipped, Reason: "stale"}); err != nil {
			return err
		}
		// Notifications: a verified destination and one delivery.
		now := tx.Now()
		if err := tx.PutNotifyDestination(&polybot.NotifyDestination{ID: "dest", Channel: polybot.ChannelWebhook, Name: "d",
			Target: "https://" + tag + ".example.com", Enabled: true, VerifiedAt: &now, Sealed: map[string]string{"url": "sealed-" + tag}}); err != nil {
			return err
		}
		c, err := tx.Config()
		if err != nil {
			return err
		}
		if _, err := polybot.Notify(tx, c, polybot.AlertEvent(polybot.NotifyBotHalted, "seed", "t", "x", now)); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: u.ID.String(), Action: polybot.AuditLogin, Target: "session"})
	})
	if err != nil {
		t.Fatalf("seed tenant rows: %v", err)
	}
	// Billing: the customer, its subscription and an invoice (service path).
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		tag := strings.SplitN(email, "@", 2)[0]
		if err := tx.PutBillingAccount(&polybot.BillingAccount{UserID: u.ID, CustomerID: "cus_" + tag, SubscriptionID: "sub_" + tag,
			Status: polybot.SubActive}); err != nil {
			return err
		}
		return tx.PutInvoice(&polybot.Invoice{ID: "in_" + tag, UserID: u.ID, Status: "paid", Created: tx.Now()})
	}); err != nil {
		t.Fatalf("seed billing: %v", err)
	}
	// A platform headline every tenant sees.
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		return tx.PutHeadline(&polybot.Headline{ID: "h-platform", Source: "platform", Title: "For everyone"})
	}); err != nil {
		t.Fatalf("seed a platform headline: %v", err)
	}
	return u.ID
}

// sharedRows are the tenant tables whose rows with a NULL owner are the
// platform's, shown to every tenant by design.
var sharedRows = map[string]bool{"polybot_news_headlines": true}

// asTenant runs fn on conn in a transaction that carries tenant's claims and
// the authenticated role, exactly as the store's tenant transactions do.
func asTenant(t *testing.T, conn *pgx.Conn, tenant polybot.ID, fn func(tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	claims := fmt.Sprintf(`{"sub":"%s","role":"authenticated"}`, tenant)
	if _, err := tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)`, claims); err != nil {
		t.Fatal(err)
	}
	fn(tx)
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestTenantSeesAndWritesNoOtherTenantsRowsInAnyTable(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	a := seedTenant(t, db, "a@example.com")
	b := seedTenant(t, db, "b@example.com")
	admin := d.Conn(t)
	tables := tenantTables(t, admin)
	ctx := context.Background()

	// Each table holds rows of both tenants, or the checks below prove nothing.
	for _, tt := range tables {
		for _, who := range []polybot.ID{a, b} {
			var n int
			if err := admin.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = $1`,
				pgx.Identifier{tt.table}.Sanitize(), pgx.Identifier{tt.column}.Sanitize()), who).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("seedTenant put no row in %s for %s: extend it for the new table", tt.table, who)
			}
		}
	}

	app := d.AppConn(t)
	asTenant(t, app, a, func(tx pgx.Tx) {
		for _, tt := range tables {
			tbl, col := pgx.Identifier{tt.table}.Sanitize(), pgx.Identifier{tt.column}.Sanitize()
			t.Run(tt.table, func(t *testing.T) {
				// Reads, with no WHERE clause: row-level security alone must hide B.
				if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
					t.Fatal(err)
				}
				var mine, others, shared int
				err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FILTER (WHERE %[2]s = $1), count(*) FILTER (WHERE %[2]s IS DISTINCT FROM $1),
					count(*) FILTER (WHERE %[2]s IS NULL) FROM %[1]s`, tbl, col), a).
					Scan(&mine, &others, &shared)
				if sharedRows[tt.table] {
					if shared == 0 && err == nil {
						t.Fatalf("tenant A does not see the platform's rows in %s", tt.table)
					}
					others -= shared
				}
				switch {
				case sqlState(err) == "42501":
					// No SELECT privilege at all: sees nothing.
				case err != nil:
					t.Fatalf("select: %v", err)
				case others != 0:
					t.Fatalf("tenant A sees %d rows of other tenants in %s", others, tt.table)
				case mine == 0:
					t.Fatalf("tenant A does not see its own rows in %s (the policy is too strict or the check is broken)", tt.table)
				}
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
					t.Fatal(err)
				}

				// Inserting a row that names B. The privilege and RLS checks come
				// before any constraint, so the refusal must be 42501.
				_, err = tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES ($1)`, tbl, col), b)
				if sqlState(err) != "42501" {
					t.Fatalf("INSERT of a row for tenant B into %s: got %v, want insufficient_privilege (42501)", tt.table, err)
				}
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
					t.Fatal(err)
				}

				// Handing one of A's rows over to B.
				_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %[1]s SET %[2]s = $1 WHERE %[2]s = $2`, tbl, col), b, a)
				if sqlState(err) != "42501" {
					t.Fatalf("UPDATE of A's row in %s to tenant B: got %v, want insufficient_privilege (42501)", tt.table, err)
				}
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
					t.Fatal(err)
				}

				// Deleting B's rows silently deletes nothing (or is not allowed).
				tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = $1`, tbl, col), b)
				if err == nil && tag.RowsAffected() != 0 {
					t.Fatalf("tenant A deleted %d of B's rows in %s", tag.RowsAffected(), tt.table)
				}
				if err != nil && sqlState(err) != "42501" {
					t.Fatalf("DELETE of B's rows in %s: %v", tt.table, err)
				}
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
					t.Fatal(err)
				}
			})
		}

		t.Run("audit functions", func(t *testing.T) {
			if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
				t.Fatal(err)
			}
			// Only the application appends: the tenant can neither lock the
			// head nor append, not even an entry about itself (a forged
			// admin.set_tier, say).
			_, err := tx.Exec(ctx, `SELECT * FROM polybot_audit_lock_head()`)
			if sqlState(err) != "42501" {
				t.Fatalf("tenant A locking the audit head: got %v, want 42501", err)
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
				t.Fatal(err)
			}
			for _, about := range []polybot.ID{a, b} {
				e := &polybot.AuditEntry{UserID: &about, Actor: "admin:forged", Action: polybot.AuditAdminTier, CreatedAt: time.Now()}
				_ = e.Seal(1, polybot.GenesisHash, storetest.OtherAuditKey())
				_, err = tx.Exec(ctx, `SELECT polybot_audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
					e.Seq, about.String(), e.Actor, e.Action, e.Target, e.Details, e.CreatedAt, e.PrevHash, e.Hash)
				if sqlState(err) != "42501" {
					t.Fatalf("tenant A appending an audit entry about %s: got %v, want 42501", about, err)
				}
				if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
					t.Fatal(err)
				}
			}
			_, err = tx.Exec(ctx, `SELECT * FROM polybot_audit_head`)
			if sqlState(err) != "42501" {
				t.Fatalf("tenant reading the audit head table directly: got %v, want 42501", err)
			}
		})
	})

	// The store's tenant path agrees.
	err := db.TenantView(ctx, a, func(tx polybot.TenantTx) error {
		trail, err := tx.AuditTrail(0, 100)
		if err != nil {
			return err
		}
		for _, e := range trail {
			if e.UserID == nil || *e.UserID != a {
				t.Errorf("AuditTrail of A holds %+v", e)
			}
		}
		if len(trail) == 0 {
			t.Error("AuditTrail of A is empty")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEveryTenantTableForcesRowLevelSecurity(t *testing.T) {
	d := pgtest.NewDatabase(t)
	conn := d.Conn(t)
	for _, tt := range tenantTables(t, conn) {
		var rls, force bool
		if err := conn.QueryRow(context.Background(), `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass`,
			"public."+tt.table).Scan(&rls, &force); err != nil {
			t.Fatal(err)
		}
		if !rls || !force {
			t.Errorf("%s: relrowsecurity=%v relforcerowsecurity=%v, want both", tt.table, rls, force)
		}
	}
}

func TestAppRoleIsUnprivilegedAndReadsNothingOnItsOwn(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	seedTenant(t, db, "a@example.com")
	conn := d.Conn(t)
	ctx := context.Background()
	var super, bypass, inherit bool
	var owned int
	if err := conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolinherit,
			(SELECT count(*) FROM pg_class WHERE relowner = r.oid)
		FROM pg_roles r WHERE rolname = 'polybot_app'`).Scan(&super, &bypass, &inherit, &owned); err != nil {
		t.Fatal(err)
	}
	if super || bypass || inherit || owned != 0 {
		t.Fatalf("polybot_app: superuser=%v bypassrls=%v inherit=%v owns=%d; want none", super, bypass, inherit, owned)
	}
	var notOwner int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname LIKE 'polybot\_%' AND c.relkind = 'r'
		AND c.relowner <> 'polybot_owner'::regrole`).Scan(&notOwner); err != nil {
		t.Fatal(err)
	}
	if notOwner != 0 {
		t.Fatalf("%d PolyBot tables are not owned by polybot_owner", notOwner)
	}
	// PUBLIC holds no privilege on any PolyBot table.
	var public int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.role_table_grants
		WHERE grantee = 'PUBLIC' AND table_name LIKE 'polybot\_%'`).Scan(&public); err != nil {
		t.Fatal(err)
	}
	if public != 0 {
		t.Fatalf("PUBLIC holds %d privileges on PolyBot tables", public)
	}

	app := d.AppConn(t)
	for _, tt := range tenantTables(t, conn) {
		_, err := app.Exec(ctx, `SELECT 1 FROM `+pgx.Identifier{tt.table}.Sanitize()+` LIMIT 1`)
		if sqlState(err) != "42501" {
			t.Errorf("polybot_app without a role switch reading %s: got %v, want permission denied", tt.table, err)
		}
	}
	// It cannot turn itself into the owner.
	if _, err := app.Exec(ctx, `SET ROLE polybot_owner`); sqlState(err) != "42501" {
		t.Errorf("polybot_app SET ROLE polybot_owner: got %v, want permission denied", err)
	}
}

func TestPooledConnectionNeverCarriesAnIdentityIntoTheNextUse(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil, "pool_max_conns=1")
	ctx := context.Background()
	a := seedTenant(t, db, "a@example.com")
	pool := db.Pool()

	var firstPID uint32
	check := func(after string) {
		t.Helper()
		var claims *string
		var user string
		var pid uint32
		if err := pool.QueryRow(ctx, `SELECT current_setting('request.jwt.claims', true), current_user, pg_backend_pid()`).
			Scan(&claims, &user, &pid); err != nil {
			t.Fatalf("%s: %v", after, err)
		}
		if claims != nil && *claims != "" {
			t.Fatalf("%s: the connection still carries claims %q", after, *claims)
		}
		if user != postgres.AppRole {
			t.Fatalf("%s: current_user = %q, want %s", after, user, postgres.AppRole)
		}
		// The one pooled connection was cleaned, not replaced: a rollback
		// resets the transaction-local identity.
		if firstPID == 0 {
			firstPID = pid
		} else if pid != firstPID {
			t.Fatalf("%s: the pool replaced its connection (pid %d, was %d), so this proves nothing about reuse", after, pid, firstPID)
		}
	}

	if err := db.Tenant(ctx, a, func(tx polybot.TenantTx) error { _, err := tx.Config(); return err }); err != nil {
		t.Fatal(err)
	}
	check("after a committed tenant transaction")

	errBoom := errors.New("boom")
	err := db.Tenant(ctx, a, func(tx polybot.TenantTx) error {
		if _, err := tx.Config(); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tenant returned %v, want fn's error", err)
	}
	check("after a tenant transaction rolled back by fn's error")

	err = db.Tenant(ctx, a, func(tx polybot.TenantTx) error {
		return tx.CreateSession(&polybot.Session{ID: "session-a@example.com", CSRFToken: "x", ExpiresAt: tx.Now().Add(time.Hour)})
	})
	if polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("duplicate session: %v, want a conflict", err)
	}
	check("after a tenant transaction whose statement failed")

	func() {
		defer func() { _ = recover() }()
		_ = db.Tenant(ctx, a, func(tx polybot.TenantTx) error {
			_, _ = tx.Config()
			panic("in fn")
		})
	}()
	check("after a tenant transaction whose fn panicked")

	if err := db.AdminView(ctx, func(tx polybot.AdminTx) error { _, err := tx.UserByID(a); return err }); err != nil {
		t.Fatal(err)
	}
	check("after an admin view")

	// A transaction kept past its function cannot reach the pooled
	// connection, which now belongs to someone else.
	var leaked polybot.TenantTx
	if err := db.TenantView(ctx, a, func(tx polybot.TenantTx) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := leaked.Config(); err == nil {
		t.Fatal("a transaction used after its function returned still queried")
	}
	check("after a leaked transaction was used")
}

func TestOpenRefusesASuperuser(t *testing.T) {
	d := pgtest.NewDatabase(t)
	_, err := postgres.Open(context.Background(), d.AdminURL, nil)
	if err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Fatalf("Open as a superuser: %v, want a refusal naming superuser", err)
	}
}

func TestOpenRefusesABypassRLSRole(t *testing.T) {
	d := pgtest.NewDatabase(t)
	conn := d.Conn(t)
	ctx := context.Background()
	role := "polybot_test_bypass_" + strings.ToLower(strings.ReplaceAll(polybot.NewID().String()[:8], "-", ""))
	if _, err := conn.Exec(ctx, `CREATE ROLE `+role+` LOGIN NOINHERIT BYPASSRLS IN ROLE authenticated, polybot_service`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), `DROP ROLE `+role) })
	u := strings.Replace(d.AppURL, postgres.AppRole, role, 1)
	_, err := postgres.Open(ctx, u, nil)
	if err == nil || !strings.Contains(err.Error(), "BYPASSRLS") {
		t.Fatalf("Open as a BYPASSRLS role: %v, want a refusal naming BYPASSRLS", err)
	}
}

func TestNewerSchemaIsRefusedByMigrateAndOpen(t *testing.T) {
	d := pgtest.NewDatabase(t)
	ctx := context.Background()
	if _, err := d.Conn(t).Exec(ctx, `INSERT INTO polybot_schema_migrations (version, name) VALUES (999, 'future')`); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("database schema version 999 is newer than this binary supports (%d); upgrade polybot", postgres.SchemaVersion())
	if _, err := postgres.Migrate(ctx, d.AdminURL); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Migrate: %v, want %q", err, want)
	}
	if _, err := postgres.Open(ctx, d.AppURL, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open: %v, want %q", err, want)
	}
}

func TestOpenRefusesAnOlderSchemaUntilMigrated(t *testing.T) {
	d := pgtest.NewDatabase(t)
	ctx := context.Background()
	if _, err := d.Conn(t).Exec(ctx, `DELETE FROM polybot_schema_migrations WHERE version = $1`, postgres.SchemaVersion()); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, d.AppURL, nil); err == nil || !strings.Contains(err.Error(), "run `polybot migrate`") {
		t.Fatalf("Open: %v, want it to ask for `polybot migrate`", err)
	}

	e := pgtest.NewEmptyDatabase(t)
	if _, err := postgres.Open(ctx, e.AppURL, nil); err == nil || !strings.Contains(err.Error(), "run `polybot migrate`") {
		t.Fatalf("Open on an empty database: %v, want it to ask for `polybot migrate`", err)
	}
	if v, err := postgres.Migrate(ctx, e.AdminURL); err != nil || v != postgres.SchemaVersion() {
		t.Fatalf("Migrate = %d, %v", v, err)
	}
	db, err := postgres.Open(ctx, e.AppURL, nil)
	if err != nil {
		t.Fatalf("Open after Migrate: %v", err)
	}
	db.Close()
}
