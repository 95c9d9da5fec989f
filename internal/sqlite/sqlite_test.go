package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/storetest"
)

func openDB(t testing.TB, clock polybot.Clock) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "polybot.db"), clock)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	db.SetAuditKey(storetest.TestAuditKey)
	return db
}

func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock polybot.Clock) polybot.Store { return openDB(t, clock) })
}

func TestOpenUsesWALWithForeignKeys(t *testing.T) {
	db := openDB(t, nil)
	for _, pool := range []struct {
		name string
		q    querier
	}{{"writer", db.w}, {"reader", db.r}} {
		var mode string
		var fk int
		if err := pool.q.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := pool.q.QueryRowContext(context.Background(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 {
			t.Errorf("%s: journal_mode=%s foreign_keys=%d, want wal and 1", pool.name, mode, fk)
		}
	}
}

func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	db := openDB(t, nil)
	for _, name := range []string{db.Path(), db.Path() + "-wal", db.Path() + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other access", filepath.Base(name), perm)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := openDB(t, nil)
	ctx := context.Background()
	for range 2 {
		v, err := db.Migrate(ctx)
		if err != nil || v != LatestVersion() {
			t.Fatalf("Migrate again = %d, %v; want %d", v, err, LatestVersion())
		}
	}
	var rows, tiers int
	db.w.QueryRow(`SELECT count(*) FROM polybot_schema_migrations`).Scan(&rows)
	db.w.QueryRow(`SELECT count(*) FROM polybot_tiers`).Scan(&tiers)
	if rows != LatestVersion() || tiers != len(polybot.DefaultTiers()) {
		t.Fatalf("%d migration rows and %d tiers, want %d and %d", rows, tiers, LatestVersion(), len(polybot.DefaultTiers()))
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
}

func TestUnmigratedDatabaseAsksForMigrate(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "fresh.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.Version(context.Background())
	if err != nil || v != 0 {
		t.Fatalf("Version = %d, %v; want 0", v, err)
	}
	err = db.CheckSchema(context.Background())
	if err == nil || !strings.Contains(err.Error(), "run `polybot migrate`") {
		t.Fatalf("CheckSchema = %v, want it to ask for `polybot migrate`", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	db := openDB(t, nil)
	ctx := context.Background()
	newer := LatestVersion() + 7
	if _, err := db.w.Exec(`INSERT INTO polybot_schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, newer); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("database schema version %d is newer than this binary supports (%d); upgrade polybot", newer, LatestVersion())
	if _, err := db.Migrate(ctx); err == nil || err.Error() != want {
		t.Fatalf("Migrate = %v, want %q", err, want)
	}
	if err := db.CheckSchema(ctx); err == nil || err.Error() != want {
		t.Fatalf("CheckSchema = %v, want %q", err, want)
	}
}

func TestDataSurvivesReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "polybot.db")
	ctx := context.Background()
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := &polybot.User{Email: "persist@example.com"}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error { return tx.CreateUser(u, nil, nil) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	err = db.TenantView(ctx, u.ID, func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err == nil && (p.SubscriptionTier != polybot.TierFree || p.MonthlyTradeLimit != 100) {
			t.Errorf("profile after reopen = %+v", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditLogRefusesUpdateAndDeleteUntilTriggersAreDropped(t *testing.T) {
	db := openDB(t, nil)
	ctx := context.Background()
	err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		for i := range 3 {
			if err := tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminTier, Target: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE polybot_audit_log SET target = 'forged' WHERE seq = 2`,
		`DELETE FROM polybot_audit_log WHERE seq = 3`,
		`UPDATE polybot_audit_head SET seq = 2 WHERE id = 1`,
	} {
		if _, err := db.w.Exec(q); err == nil {
			t.Errorf("%s: no error, want the trigger to refuse it", q)
		}
	}
	verify := func() []polybot.AuditProblem {
		var probs []polybot.AuditProblem
		err := db.AdminView(ctx, func(tx polybot.AdminTx) error {
			list, err := tx.AuditEntries(0, 100)
			if err != nil {
				return err
			}
			seq, hash, err := tx.AuditHead()
			if err != nil {
				return err
			}
			entries := make([]polybot.AuditEntry, len(list))
			for i, e := range list {
				entries[i] = *e
			}
			probs = polybot.VerifyAuditChain(entries, seq, hash, storetest.TestAuditKey)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return probs
	}
	if probs := verify(); len(probs) != 0 {
		t.Fatalf("untouched chain: %v", probs)
	}
	// An attacker with the file drops the triggers and edits a row.
	if _, err := db.w.Exec(`DROP TRIGGER polybot_audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`UPDATE polybot_audit_log SET target = 'forged' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	probs := verify()
	if len(probs) == 0 || probs[0].Seq != 2 {
		t.Fatalf("tampered chain: %v, want a problem at seq 2", probs)
	}
}

func TestViewsRunBesideAnOpenWriteTransaction(t *testing.T) {
	db := openDB(t, nil)
	ctx := context.Background()
	u := &polybot.User{Email: "busy@example.com"}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error { return tx.CreateUser(u, nil, nil) }); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := db.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
			if err := tx.TouchLastActive(); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-holding
	done := make(chan error, 8)
	for range 8 {
		go func() {
			done <- db.TenantView(ctx, u.ID, func(tx polybot.TenantTx) error {
				p, err := tx.Profile()
				if err == nil && p.LastActiveAt != nil {
					t.Error("a view saw an uncommitted write")
				}
				return err
			})
		}()
	}
	for range 8 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("views blocked behind the write transaction")
		}
	}
	close(release)
	wg.Wait()
}

func TestErrorsDoNotCarrySecretValues(t *testing.T) {
	db := openDB(t, nil)
	ctx := context.Background()
	u := &polybot.User{Email: "s@example.com"}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error { return tx.CreateUser(u, nil, nil) }); err != nil {
		t.Fatal(err)
	}
	const value = "sealed-super-secret-value"
	// additional_config must be JSON; a bad one fails in the database.
	err := db.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
		return tx.PutSecret(&polybot.Secret{Platform: polybot.Kalshi, Sealed: map[string]string{polybot.FieldAPIKey: value},
			AdditionalConfig: []byte(`not json ` + value)})
	})
	if err == nil {
		t.Fatal("PutSecret with invalid additional_config succeeded")
	}
	if strings.Contains(err.Error(), value) || strings.Contains(polybot.ErrorMessage(err), value) {
		t.Fatalf("error carries the secret: %v", err)
	}
}

func TestTenantWithoutATenantIsRefused(t *testing.T) {
	db := openDB(t, nil)
	err := db.Tenant(context.Background(), polybot.NilID, func(polybot.TenantTx) error { return nil })
	if polybot.ErrorCode(err) != polybot.EINTERNAL {
		t.Fatalf("Tenant(nil id) = %v, want an internal error", err)
	}
}

// BenchmarkAuthenticatedGet is the read path of one authenticated GET: a
// session look-up on the admin path, then the tenant's profile and config.
// Run with: go test ./internal/sqlite -run '^$' -bench . -cpu 1,4,8
func BenchmarkAuthenticatedGet(b *testing.B) {
	db := openDB(b, nil)
	ctx := context.Background()
	u := &polybot.User{Email: "bench@example.com"}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error { return tx.CreateUser(u, nil, nil) }); err != nil {
		b.Fatal(err)
	}
	err := db.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
		return tx.CreateSession(&polybot.Session{ID: "bench", CSRFToken: "c", ExpiresAt: tx.Now().Add(time.Hour)})
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var user polybot.ID
			err := db.AdminView(ctx, func(tx polybot.AdminTx) error {
				s, err := tx.SessionByID("bench")
				if err == nil {
					user = s.UserID
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			err = db.TenantView(ctx, user, func(tx polybot.TenantTx) error {
				if _, err := tx.Profile(); err != nil {
					return err
				}
				_, err := tx.Config()
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
