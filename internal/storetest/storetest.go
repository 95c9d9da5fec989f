// Package storetest is the conformance suite that every polybot.Store must
// pass: internal/sqlite and internal/postgres run the same Run. It owns the
// written-down contract of the store interfaces (what not-found, conflict,
// quota and isolation look like) and a settable Clock for tests.
//
// It talks to a store only through the root package's interfaces, so it holds
// no SQL and works unchanged on any backend. It must not import any other
// package of this module.
//
// The suite never goes on using a transaction after a store method returned a
// database-level failure (a conflict, a refused write): on PostgreSQL such a
// failure aborts the transaction. Not-found answers (zero rows) and EQUOTA are
// not failures of that kind, and the suite may go on after them.
package storetest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// Opener returns a fresh, migrated, empty store (default tiers seeded) that
// reads the time from clock. It arranges for the store to be closed when t
// ends (t.Cleanup).
type Opener func(t *testing.T, clock polybot.Clock) polybot.Store

// T0 is the suite's starting time: mid-month, with microseconds, in UTC.
var T0 = time.Date(2030, time.January, 15, 12, 30, 45, 123456000, time.UTC)

// Run runs the whole conformance suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T, clock polybot.Clock) polybot.Store) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Tiers", func(t *testing.T) { testTiers(t, open) })
	t.Run("Profile", func(t *testing.T) { testProfile(t, open) })
	t.Run("Config", func(t *testing.T) { testConfig(t, open) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, open) })
	t.Run("DataKeys", func(t *testing.T) { testDataKeys(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("APITokens", func(t *testing.T) { testAPITokens(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Quota", func(t *testing.T) { testQuota(t, open) })
	t.Run("Transactions", func(t *testing.T) { testTransactions(t, open) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open) })
	t.Run("Trading", func(t *testing.T) { testTrading(t, open) })
	t.Run("RiskGate", func(t *testing.T) { testRiskGate(t, open) })
	t.Run("Overlap", func(t *testing.T) { testOverlap(t, open) })
	t.Run("News", func(t *testing.T) { testNews(t, open) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, open) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open) })
	t.Run("Billing", func(t *testing.T) { testBilling(t, open) })
	t.Run("Notify", func(t *testing.T) { testNotify(t, open) })
	t.Run("Input", func(t *testing.T) { testInput(t, open) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
	t.Run("UserSessions", func(t *testing.T) { testUserSessions(t, open) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
}

// TestAuditKey is the audit key the suite gives its stores: HMAC-SHA256
// under a fixed test key. Production keys come from secrets.LoadAuditKey.
var TestAuditKey polybot.AuditKey = hmacKey("storetest audit key, not secret")

// hmacKey is an AuditKey over a fixed key, for tests.
type hmacKey string

func (k hmacKey) MAC(msg []byte) []byte {
	m := hmac.New(sha256.New, []byte(k))
	m.Write(msg)
	return m.Sum(nil)
}

// OtherAuditKey returns a test key that is not TestAuditKey, to forge with.
func OtherAuditKey() polybot.AuditKey { return hmacKey("another key") }

// env is one fresh store and its clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	store polybot.Store
	clock *Clock
}

func newEnv(t *testing.T, open Opener) *env {
	t.Helper()
	c := NewClock(T0)
	s := open(t, c.Now)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	s.SetAuditKey(TestAuditKey)
	return &env{t: t, ctx: context.Background(), store: s, clock: c}
}

func (e *env) admin(fn func(polybot.AdminTx) error) error { return e.store.Admin(e.ctx, fn) }

func (e *env) adminView(fn func(polybot.AdminTx) error) error { return e.store.AdminView(e.ctx, fn) }

func (e *env) tenant(id polybot.ID, fn func(polybot.TenantTx) error) error {
	return e.store.Tenant(e.ctx, id, fn)
}

func (e *env) tenantView(id polybot.ID, fn func(polybot.TenantTx) error) error {
	return e.store.TenantView(e.ctx, id, fn)
}

func (e *env) mustAdmin(fn func(polybot.AdminTx) error) {
	e.t.Helper()
	if err := e.admin(fn); err != nil {
		e.t.Fatalf("Admin: %v", err)
	}
}

func (e *env) mustAdminView(fn func(polybot.AdminTx) error) {
	e.t.Helper()
	if err := e.adminView(fn); err != nil {
		e.t.Fatalf("AdminView: %v", err)
	}
}

func (e *env) mustTenant(id polybot.ID, fn func(polybot.TenantTx) error) {
	e.t.Helper()
	if err := e.tenant(id, fn); err != nil {
		e.t.Fatalf("Tenant: %v", err)
	}
}

func (e *env) mustTenantView(id polybot.ID, fn func(polybot.TenantTx) error) {
	e.t.Helper()
	if err := e.tenantView(id, fn); err != nil {
		e.t.Fatalf("TenantView: %v", err)
	}
}

// newUser creates a user on the free tier with the default config.
func (e *env) newUser(email string) *polybot.User {
	e.t.Helper()
	u := &polybot.User{ID: polybot.NewID(), Email: email, PasswordHash: "argon2id$test$" + email, Role: polybot.RoleUser}
	e.mustAdmin(func(tx polybot.AdminTx) error {
		tier, err := tx.Tier(polybot.TierFree)
		if err != nil {
			return fmt.Errorf("Tier(free): %w", err)
		}
		u.CreatedAt = tx.Now()
		return tx.CreateUser(u, polybot.NewProfile(u.ID, email, tier, tx.Now()), polybot.DefaultConfig(u.ID, tx.Now()))
	})
	return u
}

func (e *env) profile(id polybot.ID) *polybot.Profile {
	e.t.Helper()
	var p *polybot.Profile
	e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { p, err = tx.Profile(); return })
	return p
}

func (e *env) config(id polybot.ID) *polybot.Config {
	e.t.Helper()
	var c *polybot.Config
	e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { c, err = tx.Config(); return })
	return c
}

func (e *env) auditAll() []polybot.AuditEntry {
	e.t.Helper()
	var out []polybot.AuditEntry
	e.mustAdminView(func(tx polybot.AdminTx) error {
		out = out[:0]
		after := int64(0)
		for {
			page, err := tx.AuditEntries(after, 100)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				return nil
			}
			for _, a := range page {
				out = append(out, *a)
			}
			after = page[len(page)-1].Seq
		}
	})
	return out
}

func (e *env) auditHead() (int64, string) {
	e.t.Helper()
	var seq int64
	var hash string
	e.mustAdminView(func(tx polybot.AdminTx) (err error) { seq, hash, err = tx.AuditHead(); return })
	return seq, hash
}

// wantCode fails t unless err carries code ("" for no error). A code other
// than EINTERNAL also proves err is a *polybot.Error.
func wantCode(t *testing.T, err error, code string, what string) {
	t.Helper()
	if got := polybot.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
	if code != "" && code != polybot.EINTERNAL {
		var pe *polybot.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%s: %T is not a *polybot.Error", what, err)
		}
	}
}

// wantEqual fails t when got differs from want (see diff).
func wantEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := diff(want, got); d != "" {
		t.Fatalf("%s differs (want, got):\n%s", what, d)
	}
}

var errRollback = errors.New("storetest: roll back, please")
