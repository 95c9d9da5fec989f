package postgres_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/storetest"
)

func TestIncrementTradesNeverExceedsTheQuotaUnderConcurrency(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil, "pool_max_conns=16")
	ctx := context.Background()
	u := seedTenant(t, db, "busy@example.com")

	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				err := db.Tenant(ctx, u, func(tx polybot.TenantTx) error {
					_, err := tx.IncrementTrades()
					return err
				})
				switch polybot.ErrorCode(err) {
				case "":
					ok.Add(1)
				case polybot.EQUOTA:
					refused.Add(1)
				default:
					t.Errorf("IncrementTrades: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 || refused.Load() != 540 {
		t.Fatalf("%d counted and %d refused, want exactly 100 and 540", ok.Load(), refused.Load())
	}
	err := db.TenantView(ctx, u, func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err == nil && p.TradesThisMonth != 100 {
			t.Errorf("trades_this_month = %d, want 100", p.TradesThisMonth)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIncrementTradesStartsEachMonthAtZero(t *testing.T) {
	d := pgtest.NewDatabase(t)
	now := time.Date(2031, time.March, 31, 23, 59, 59, 0, time.UTC)
	clock := func() time.Time { return now }
	db := d.Open(t, clock)
	ctx := context.Background()
	u := seedTenant(t, db, "monthly@example.com")
	inc := func() (polybot.Quota, error) {
		var q polybot.Quota
		err := db.Tenant(ctx, u, func(tx polybot.TenantTx) (err error) { q, err = tx.IncrementTrades(); return })
		return q, err
	}
	for range 3 {
		if _, err := inc(); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Second) // April
	q, err := inc()
	if err != nil || q != (polybot.Quota{Month: "2031-04", Used: 1, Limit: 100}) {
		t.Fatalf("first trade of April = %+v, %v", q, err)
	}
	var r polybot.Quota
	if err := db.Tenant(ctx, u, func(tx polybot.TenantTx) (err error) { r, err = tx.ReleaseTrade(); return }); err != nil {
		t.Fatal(err)
	}
	if r.Used != 0 || r.Month != "2031-04" {
		t.Fatalf("ReleaseTrade = %+v, want April at 0", r)
	}
}

func TestConcurrentAuditAppendersNeverForkTheChain(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil, "pool_max_conns=12")
	ctx := context.Background()
	tenants := []polybot.ID{seedTenant(t, db, "a@example.com"), seedTenant(t, db, "b@example.com"), seedTenant(t, db, "c@example.com")}

	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for j := range 15 {
				var err error
				if i%4 == 3 {
					err = db.Admin(ctx, func(tx polybot.AdminTx) error {
						return tx.AppendAudit(&polybot.AuditEntry{Actor: "system", Action: "test.admin", Details: `{"j":` + string(rune('0'+j%10)) + `}`})
					})
				} else {
					err = db.Tenant(ctx, tenants[i%3], func(tx polybot.TenantTx) error {
						return tx.AppendAudit(&polybot.AuditEntry{Actor: "tenant", Action: "test.tenant", Target: "t"})
					})
				}
				if err != nil {
					t.Errorf("append: %v", err)
				}
			}
		})
	}
	wg.Wait()

	var entries []polybot.AuditEntry
	var headSeq int64
	var headHash string
	err := db.AdminView(ctx, func(tx polybot.AdminTx) error {
		after := int64(0)
		for {
			page, err := tx.AuditEntries(after, 50)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				entries = append(entries, *e)
			}
			after = page[len(page)-1].Seq
		}
		var err error
		headSeq, headHash, err = tx.AuditHead()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 3 + 12*15 // seedTenant appends one each
	if len(entries) != want || headSeq != int64(want) {
		t.Fatalf("%d entries, head %d; want %d", len(entries), headSeq, want)
	}
	if probs := polybot.VerifyAuditChain(entries, headSeq, headHash, storetest.TestAuditKey); len(probs) != 0 {
		t.Fatalf("the chain is broken: %+v", probs)
	}
}

func TestAuditEntriesRoundTripExactly(t *testing.T) {
	d := pgtest.NewDatabase(t)
	at := time.Date(2030, time.July, 4, 1, 2, 3, 456789999, time.FixedZone("X", 3600))
	db := d.Open(t, func() time.Time { return at })
	ctx := context.Background()
	u := seedTenant(t, db, "a@example.com")
	// Details is kept as text: jsonb would reorder and respace it, and the hash would break.
	in := &polybot.AuditEntry{Actor: "me", Action: "x.y", Target: "t", Details: `{"b":1,  "a":[2, 1]}`, CreatedAt: at}
	if err := db.Tenant(ctx, u, func(tx polybot.TenantTx) error { return tx.AppendAudit(in) }); err != nil {
		t.Fatal(err)
	}
	if in.CreatedAt.Nanosecond()%1000 != 0 {
		t.Fatalf("Seal left created_at at %v", in.CreatedAt)
	}
	err := db.TenantView(ctx, u, func(tx polybot.TenantTx) error {
		trail, err := tx.AuditTrail(0, 1)
		if err != nil {
			return err
		}
		got := trail[0]
		if !got.CreatedAt.Equal(in.CreatedAt) || got.Details != in.Details || got.Hash != in.Hash || got.ComputeMAC(storetest.TestAuditKey) != got.Hash {
			t.Fatalf("read back %+v, wrote %+v", got, in)
		}
		if got.UserID == nil || *got.UserID != u {
			t.Fatalf("user_id = %v, want the tenant", got.UserID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditLogIsAppendOnlyForEveryRole(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	ctx := context.Background()
	seedTenant(t, db, "a@example.com")

	// The service path has no UPDATE or DELETE privilege.
	app := d.AppConn(t)
	for _, stmt := range []string{`UPDATE polybot_audit_log SET actor = 'x'`, `DELETE FROM polybot_audit_log`, `UPDATE polybot_audit_head SET seq = 0`} {
		tx, err := app.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('role', 'polybot_service', true)`); err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, stmt)
		if sqlState(err) != "42501" {
			t.Errorf("service role %q: got %v, want permission denied", stmt, err)
		}
		_ = tx.Rollback(ctx)
	}
	// The owner (even through a superuser) is stopped by the trigger.
	admin := d.Conn(t)
	for _, stmt := range []string{`UPDATE polybot_audit_log SET actor = 'x'`, `DELETE FROM polybot_audit_log`, `TRUNCATE polybot_audit_log`} {
		_, err := admin.Exec(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("superuser %q: got %v, want the append-only trigger", stmt, err)
		}
	}
}

func TestReadOnlyViewsRefuseWrites(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	ctx := context.Background()
	u := seedTenant(t, db, "a@example.com")
	err := db.TenantView(ctx, u, func(tx polybot.TenantTx) error { return tx.TouchLastActive() })
	if err == nil {
		t.Fatal("TouchLastActive in a TenantView succeeded")
	}
	err = db.AdminView(ctx, func(tx polybot.AdminTx) error { return tx.SetUserDisabled(u, true) })
	if err == nil {
		t.Fatal("SetUserDisabled in an AdminView succeeded")
	}
	err = db.TenantView(ctx, u, func(tx polybot.TenantTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: "x", Action: "y"})
	})
	if err == nil {
		t.Fatal("AppendAudit in a TenantView succeeded")
	}
}

func TestOneClockReadingPerTransaction(t *testing.T) {
	d := pgtest.NewDatabase(t)
	var calls atomic.Int64
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	db := d.Open(t, func() time.Time { return base.Add(time.Duration(calls.Add(1)) * time.Second) })
	u := seedTenant(t, db, "a@example.com")
	before := calls.Load()
	err := db.Tenant(context.Background(), u, func(tx polybot.TenantTx) error {
		first := tx.Now()
		if err := tx.TouchLastActive(); err != nil {
			return err
		}
		if err := tx.AppendAudit(&polybot.AuditEntry{Actor: "x", Action: "y"}); err != nil {
			return err
		}
		if !tx.Now().Equal(first) {
			t.Errorf("Now moved within a transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load() - before; n != 1 {
		t.Fatalf("the clock was read %d times in one transaction", n)
	}
}

func TestErrorsAreCodedAndShowNoSQL(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	ctx := context.Background()
	u := seedTenant(t, db, "a@example.com")
	err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		return tx.CreateUser(&polybot.User{Email: "a@example.com"}, nil, nil)
	})
	if polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("duplicate email: %v", err)
	}
	err = db.Tenant(ctx, u, func(tx polybot.TenantTx) error { return tx.DeleteAPIToken(polybot.NewID()) })
	if polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("deleting a missing token: %v", err)
	}
	err = db.Tenant(ctx, u, func(tx polybot.TenantTx) error {
		return tx.CreateDataKey(&polybot.DataKey{MasterKeyID: "k", Wrapped: []byte("secret-wrapped-bytes")})
	})
	if polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("second data key: %v", err)
	}
	for _, msg := range []string{polybot.ErrorMessage(err)} {
		if strings.Contains(msg, "INSERT") || strings.Contains(msg, "secret-wrapped") || strings.Contains(msg, "polybot_") {
			t.Fatalf("user-facing message %q shows SQL or values", msg)
		}
	}
}

func TestMigrateIsIdempotentAndSafeUnderConcurrentRuns(t *testing.T) {
	d := pgtest.NewEmptyDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			v, err := postgres.Migrate(ctx, d.AdminURL)
			if err == nil && v != postgres.SchemaVersion() {
				t.Errorf("Migrate = %d, want %d", v, postgres.SchemaVersion())
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	// An admin's tier edit survives a later Migrate.
	db := d.Open(t, nil)
	err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		tier, err := tx.Tier(polybot.TierFree)
		if err != nil {
			return err
		}
		tier.MonthlyTradeLimit = 7
		return tx.PutTier(tier)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, d.AdminURL); err != nil {
		t.Fatal(err)
	}
	err = db.AdminView(ctx, func(tx polybot.AdminTx) error {
		tier, err := tx.Tier(polybot.TierFree)
		if err == nil && tier.MonthlyTradeLimit != 7 {
			t.Errorf("Migrate reset the free tier's limit to %d", tier.MonthlyTradeLimit)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.Conn(t).QueryRow(ctx, `SELECT count(*) FROM polybot_schema_migrations`).Scan(&n); err != nil || n != postgres.SchemaVersion() {
		t.Fatalf("polybot_schema_migrations has %d rows (%v), want %d", n, err, postgres.SchemaVersion())
	}
}

func TestMigrateRefusesAnUnprivilegedRole(t *testing.T) {
	d := pgtest.NewDatabase(t)
	_, err := postgres.Migrate(context.Background(), d.AppURL)
	if err == nil || !strings.Contains(err.Error(), "CREATEROLE") {
		t.Fatalf("Migrate as polybot_app: %v, want a refusal", err)
	}
}

func TestAppURLSwapsTheUser(t *testing.T) {
	for _, c := range []struct{ in, pw, want string }{
		{"postgres://postgres:pw@db:5432/poly?sslmode=require", "", "postgres://polybot_app@db:5432/poly?sslmode=require"},
		{"postgresql://admin@db/poly", "s3cret", "postgresql://polybot_app:s3cret@db/poly"},
		{"postgres://db/poly?user=admin&password=x&sslmode=disable", "", "postgres://polybot_app@db/poly?sslmode=disable"},
	} {
		got, err := postgres.AppURL(c.in, c.pw)
		if err != nil || got != c.want {
			t.Errorf("AppURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := postgres.AppURL("host=db user=admin", ""); err == nil {
		t.Error("AppURL accepted a keyword/value DSN")
	}
}
