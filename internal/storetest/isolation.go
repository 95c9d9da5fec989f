package storetest

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// isoFixture is two tenants, A and B, each with one of everything. A and B
// both hold a live Polymarket key; only A holds a Kalshi paper key and only B
// an Alpaca live key.
type isoFixture struct {
	e    *env
	a, b *tenantFixture
}

func (f *isoFixture) A() polybot.ID { return f.a.user.ID }
func (f *isoFixture) B() polybot.ID { return f.b.user.ID }

// anyOutcome marks a row where refusing and succeeding are both correct; its
// after check says what "succeeding" must mean.
const anyOutcome = "<any>"

// isoCase is one row of the isolation matrix: a TenantTx method called
// inside Tenant(A), aimed at B's data wherever the method lets it aim.
type isoCase struct {
	method string // the TenantTx method under test
	does   string // what the row proves
	// read rows run a second time in TenantView(A).
	read bool
	// run is fn of Tenant(A); its error is the transaction's.
	run func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error
	// want is the error code Tenant(A) must return ("" for success).
	want string
	// after checks A's side once the transaction is over; err is its result.
	after func(t *testing.T, f *isoFixture, err error)
	// setup, if set, prepares the row's own state on the service path
	// before the clock moves on.
	setup func(t *testing.T, f *isoFixture)
}

func isolationCases() []isoCase {
	return []isoCase{
		{method: "Tenant", does: "is A", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				if tx.Tenant() != f.A() {
					t.Errorf("Tenant() = %s, want A %s", tx.Tenant(), f.A())
				}
				return nil
			}},
		{method: "Now", does: "is the clock's reading and carries no tenant data", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				if !tx.Now().Equal(f.e.clock.Now()) {
					t.Errorf("Now() = %v, want %v", tx.Now(), f.e.clock.Now())
				}
				return nil
			}},
		{method: "Lease", does: "returns A's lease, never B's", read: true,
			setup: func(t *testing.T, f *isoFixture) {
				f.e.mustAdmin(func(tx polybot.AdminTx) error {
					for _, id := range []polybot.ID{f.B(), f.A()} {
						if err := tx.SetUserBotEnabled(id, true); err != nil {
							return err
						}
					}
					_, err := tx.ClaimLeases("iso-worker", polybot.MaxLeaseClaim, polybot.MaxLeaseTTL)
					return err
				})
			},
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				l, err := tx.Lease()
				if err == nil && (l.Tenant != f.A() || l.Worker != "iso-worker") {
					t.Errorf("Lease() = %+v, want A's", l)
				}
				return err
			}},
		{method: "User", does: "returns A's user", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				u, err := tx.User()
				if err == nil && (u.ID != f.A() || u.Email != f.a.user.Email) {
					t.Errorf("User() = %s %s, want A", u.ID, u.Email)
				}
				return err
			}},
		{method: "Profile", does: "returns A's profile", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				p, err := tx.Profile()
				if err == nil && (p.ID != f.A() || p.Email != f.a.user.Email || p.DisplayName != "Tenant a" || p.TradesThisMonth != 2) {
					t.Errorf("Profile() = %+v, want A's", p)
				}
				return err
			}},
		{method: "UpdateProfile", does: "with ID set to B changes only A's profile",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.UpdateProfile(&polybot.Profile{ID: f.B(), Email: f.b.user.Email, DisplayName: "written by A"})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if p := f.e.profile(f.A()); p.DisplayName != "written by A" {
					t.Errorf("A's display name = %q, want the update", p.DisplayName)
				}
			}},
		{method: "TouchLastActive", does: "touches only A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.TouchLastActive() },
			after: func(t *testing.T, f *isoFixture, _ error) {
				if p := f.e.profile(f.A()); p.LastActiveAt == nil || !p.LastActiveAt.Equal(f.e.clock.Now()) {
					t.Errorf("A's last_active_at = %v, want now", p.LastActiveAt)
				}
			}},
		{method: "Config", does: "returns A's config", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				c, err := tx.Config()
				if err == nil && (c.UserID != f.A() || c.MinProfitPct.String() != "1.11") {
					t.Errorf("Config() = user %s min_profit_pct %s, want A's 1.11", c.UserID, c.MinProfitPct)
				}
				return err
			}},
		{method: "UpdateConfig", does: "with UserID set to B changes only A's config (the transaction's tenant wins)",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				c := polybot.DefaultConfig(f.B(), time.Time{})
				c.MinProfitPct = polybot.MustDecimal("3.33")
				return tx.UpdateConfig(c)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if c := f.e.config(f.A()); c.UserID != f.A() || c.MinProfitPct.String() != "3.33" {
					t.Errorf("A's config = user %s min_profit_pct %s, want A's with 3.33", c.UserID, c.MinProfitPct)
				}
			}},
		{method: "Secrets", does: "lists exactly A's secrets", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.Secrets()
				if err != nil {
					return err
				}
				if len(all) != len(f.a.secrets) {
					t.Errorf("Secrets() = %d rows, want A's %d", len(all), len(f.a.secrets))
				}
				for _, s := range all {
					if s.UserID != f.A() || !strings.HasPrefix(s.Sealed[polybot.FieldAPIKey], "sealed:a:") {
						t.Errorf("Secrets() returned %s/%v of user %s with key %q", s.Platform, s.Paper, s.UserID, s.Sealed[polybot.FieldAPIKey])
					}
				}
				return nil
			}},
		{method: "Secret", does: "for a slot A and B both hold returns A's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				s, err := tx.Secret(polybot.Polymarket, false)
				if err == nil && (s.UserID != f.A() || s.Sealed[polybot.FieldAPIKey] != "sealed:a:polymarket:key") {
					t.Errorf("Secret(polymarket, live) = user %s key %q, want A's", s.UserID, s.Sealed[polybot.FieldAPIKey])
				}
				return err
			}},
		{method: "Secret", does: "for a slot only B holds is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				s, err := tx.Secret(polybot.Alpaca, false)
				if err == nil {
					t.Errorf("Secret(alpaca, live) returned user %s's secret", s.UserID)
				}
				return err
			}},
		{method: "PutSecret", does: "with UserID set to B creates A's row, not B's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutSecret(&polybot.Secret{UserID: f.B(), Platform: polybot.IBKR, Paper: false, Active: true,
					Sealed: map[string]string{polybot.FieldAPIKey: "sealed:a:ibkr:key"}})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					s, err := tx.Secret(polybot.IBKR, false)
					if err != nil || s.UserID != f.A() {
						t.Errorf("A's ibkr secret = %v, %v; want it stored for A", s, err)
					}
					return nil
				})
			}},
		{method: "PutSecret", does: "for a slot B also holds replaces only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutSecret(&polybot.Secret{UserID: f.B(), Platform: polybot.Polymarket, Paper: false, Active: true,
					Sealed: map[string]string{polybot.FieldAPIKey: "sealed:a:polymarket:key2"}})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					s, err := tx.Secret(polybot.Polymarket, false)
					if err != nil || s.Sealed[polybot.FieldAPIKey] != "sealed:a:polymarket:key2" {
						t.Errorf("A's polymarket secret = %v, %v; want the replacement", s, err)
					}
					return nil
				})
			}},
		{method: "SetSecretValidation", does: "for a slot B also holds marks only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetSecretValidation(polybot.Polymarket, false, polybot.ValidationInvalid, tx.Now())
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					s, err := tx.Secret(polybot.Polymarket, false)
					if err != nil || s.ValidationStatus != polybot.ValidationInvalid {
						t.Errorf("A's polymarket secret = %v, %v; want it marked invalid", s, err)
					}
					return nil
				})
			}},
		{method: "SetSecretValidation", does: "for a slot only B holds is not found", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetSecretValidation(polybot.Alpaca, false, polybot.ValidationValid, tx.Now())
			}},
		{method: "DeleteSecret", does: "for a slot only B holds is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.DeleteSecret(polybot.Alpaca, false)
			}},
		{method: "DeleteSecret", does: "for a slot B also holds deletes only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.DeleteSecret(polybot.Polymarket, false)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				err := f.e.tenantView(f.A(), func(tx polybot.TenantTx) error { _, err := tx.Secret(polybot.Polymarket, false); return err })
				wantCode(t, err, polybot.ENOTFOUND, "A's deleted polymarket secret")
			}},
		{method: "DataKey", does: "returns A's key", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				k, err := tx.DataKey()
				if err == nil && (k.UserID != f.A() || !bytes.Equal(k.Wrapped, f.a.key.Wrapped)) {
					t.Errorf("DataKey() = user %s wrapped %q, want A's", k.UserID, k.Wrapped)
				}
				return err
			}},
		{method: "CreateDataKey", does: "with UserID set to B conflicts with A's own key and leaves B's", want: polybot.ECONFLICT,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.CreateDataKey(&polybot.DataKey{UserID: f.B(), MasterKeyID: "local:9", Wrapped: []byte("planted-by-a"),
					CreatedAt: tx.Now(), RotatedAt: tx.Now()})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					k, err := tx.DataKey()
					if err != nil || !bytes.Equal(k.Wrapped, f.a.key.Wrapped) {
						t.Errorf("A's data key = %v, %v; want it unchanged", k, err)
					}
					return nil
				})
			}},
		{method: "CreateSession", does: "with UserID set to B is stored for A or refused, never for B", want: anyOutcome,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.CreateSession(&polybot.Session{ID: "session-planted-by-a", UserID: f.B(), CSRFToken: "x",
					CreatedAt: tx.Now(), LastSeenAt: tx.Now(), ExpiresAt: tx.Now().Add(time.Hour)})
			},
			after: func(t *testing.T, f *isoFixture, txErr error) {
				f.e.mustAdminView(func(tx polybot.AdminTx) error {
					s, err := tx.SessionByID("session-planted-by-a")
					switch {
					case txErr == nil && err != nil:
						t.Errorf("CreateSession succeeded but SessionByID: %v", err)
					case txErr == nil && s.UserID != f.A():
						t.Errorf("session was stored for %s, want A %s", s.UserID, f.A())
					case txErr != nil && err == nil:
						t.Errorf("CreateSession failed (%v) but the session exists for %s", txErr, s.UserID)
					}
					return nil
				})
			}},
		{method: "DeleteSession", does: "of B's session is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteSession(f.b.session.ID) }},
		{method: "DeleteSession", does: "of A's own session deletes it",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteSession(f.a.session.ID) },
			after: func(t *testing.T, f *isoFixture, _ error) {
				err := f.e.adminView(func(tx polybot.AdminTx) error { _, err := tx.SessionByID(f.a.session.ID); return err })
				wantCode(t, err, polybot.ENOTFOUND, "SessionByID(A's deleted session)")
			}},
		{method: "APITokens", does: "lists only A's token", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.APITokens()
				if err == nil && (len(all) != 1 || all[0].ID != f.a.token.ID || all[0].UserID != f.A()) {
					t.Errorf("APITokens() = %v, want only A's token", all)
				}
				return err
			}},
		{method: "CreateAPIToken", does: "with UserID set to B is stored for A or refused, never for B", want: anyOutcome,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), UserID: f.B(), Name: "planted", Hash: "token-planted-by-a",
					Prefix: "pb_x", CreatedAt: tx.Now()})
			},
			after: func(t *testing.T, f *isoFixture, txErr error) {
				f.e.mustAdminView(func(tx polybot.AdminTx) error {
					k, err := tx.APITokenByHash("token-planted-by-a")
					switch {
					case txErr == nil && err != nil:
						t.Errorf("CreateAPIToken succeeded but APITokenByHash: %v", err)
					case txErr == nil && k.UserID != f.A():
						t.Errorf("token was stored for %s, want A %s", k.UserID, f.A())
					case txErr != nil && err == nil:
						t.Errorf("CreateAPIToken failed (%v) but the token exists for %s", txErr, k.UserID)
					}
					return nil
				})
			}},
		{method: "DeleteAPIToken", does: "of B's token is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteAPIToken(f.b.token.ID) }},
		{method: "DeleteAPIToken", does: "of A's own token deletes it",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteAPIToken(f.a.token.ID) },
			after: func(t *testing.T, f *isoFixture, _ error) {
				err := f.e.adminView(func(tx polybot.AdminTx) error { _, err := tx.APITokenByHash(f.a.token.Hash); return err })
				wantCode(t, err, polybot.ENOTFOUND, "APITokenByHash(A's deleted token)")
			}},
		{method: "AppendAudit", does: "with UserID set to B records the entry as A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				b := f.B()
				return tx.AppendAudit(&polybot.AuditEntry{UserID: &b, Actor: f.A().String(), Action: polybot.AuditSecretDelete, Target: "b"})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				all := f.e.auditAll()
				last := all[len(all)-1]
				if last.Action != polybot.AuditSecretDelete || last.UserID == nil || *last.UserID != f.A() {
					t.Errorf("last audit entry = %+v, want A's", last)
				}
			}},
		{method: "AuditTrail", does: "shows only A's entries, also from a cursor past B's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				for _, before := range []int64{0, f.b.audit[len(f.b.audit)-1].Seq + 1} {
					trail, err := tx.AuditTrail(before, 100)
					if err != nil {
						return err
					}
					if len(trail) != len(f.a.audit) {
						t.Errorf("AuditTrail(%d) = %d entries, want A's %d", before, len(trail), len(f.a.audit))
					}
					for _, x := range trail {
						if x.UserID == nil || *x.UserID != f.A() {
							t.Errorf("AuditTrail(%d) returned entry %d of %v", before, x.Seq, x.UserID)
						}
					}
				}
				return nil
			}},
		{method: "IncrementTrades", does: "counts against A's quota only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				q, err := tx.IncrementTrades()
				if err == nil && q.Used != 3 {
					t.Errorf("IncrementTrades() = %+v, want A's third trade", q)
				}
				return err
			}},
		{method: "CountTrade", does: "counts against A's quota only, past any limit",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				q, err := tx.CountTrade()
				if err == nil && q.Used != 3 {
					t.Errorf("CountTrade() = %+v, want A's third trade", q)
				}
				return err
			}},
		{method: "ReleaseTrade", does: "gives back one of A's trades only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				q, err := tx.ReleaseTrade()
				if err == nil && q.Used != 1 {
					t.Errorf("ReleaseTrade() = %+v, want A down to 1", q)
				}
				return err
			}},
	}
}

func testIsolation(t *testing.T, open Opener) {
	cases := append(append(append(isolationCases(), tradingIsolationCases()...), newsIsolationCases()...), copyIsolationCases()...)
	cases = append(cases, billingIsolationCases()...)
	cases = append(cases, notifyIsolationCases()...)

	t.Run("the matrix has a row for every TenantTx method", func(t *testing.T) {
		typ := reflect.TypeFor[polybot.TenantTx]()
		covered := map[string]bool{}
		for _, c := range cases {
			if _, ok := typ.MethodByName(c.method); !ok {
				t.Errorf("row %q names no TenantTx method", c.method)
			}
			covered[c.method] = true
		}
		for i := range typ.NumMethod() {
			if m := typ.Method(i).Name; !covered[m] {
				t.Errorf("TenantTx.%s has no isolation row", m)
			}
		}
	})

	for _, c := range cases {
		t.Run(c.method+" "+c.does, func(t *testing.T) {
			e := newEnv(t, open)
			f := &isoFixture{e: e,
				a: e.seedTenant("a", slot{polybot.Polymarket, false}, slot{polybot.Kalshi, true}),
				b: e.seedTenant("b", slot{polybot.Polymarket, false}, slot{polybot.Alpaca, false}),
			}
			if c.setup != nil {
				c.setup(t, f)
			}
			e.clock.Advance(time.Hour) // so a stray write to B would change its timestamps
			bBefore := e.state(f.b)

			modes := []struct {
				name string
				run  func(polybot.ID, func(polybot.TenantTx) error) error
			}{{"Tenant", e.tenant}}
			if c.read {
				modes = append(modes, struct {
					name string
					run  func(polybot.ID, func(polybot.TenantTx) error) error
				}{"TenantView", e.tenantView})
			}
			for _, m := range modes {
				err := m.run(f.A(), func(tx polybot.TenantTx) error { return c.run(t, f, tx) })
				if c.want != anyOutcome {
					wantCode(t, err, c.want, m.name+"(A) "+c.method)
				}
				wantEqual(t, "B's state after "+m.name+"(A) "+c.method, bBefore, e.state(f.b))
				if c.after != nil {
					c.after(t, f, err)
				}
			}
		})
	}
}
