package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func testConfig(t *testing.T, open Opener) {
	t.Run("a new user's config is the default config", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("cfg@example.com")
		wantEqual(t, "config", polybot.DefaultConfig(u.ID, T0), e.config(u.ID))
	})

	// flipped is the default config with every boolean inverted, so each
	// boolean column is seen storing both values across the two round trips.
	flipped := func(id polybot.ID) *polybot.Config {
		c := polybot.DefaultConfig(id, time.Time{})
		v := reflect.ValueOf(c).Elem()
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.Bool {
				f.SetBool(!f.Bool())
			}
		}
		c.MinProfitPct = polybot.MustDecimal("0.0001")
		c.MaxTradeSizeUSD = polybot.MustDecimal("49.99")
		c.MaxDailyLossUSD = polybot.MustDecimal("99999999.99")
		c.NotificationChannels = []string{"telegram", "webhook"}
		c.AdvancedConfig = json.RawMessage(`{"slippage_bps": 12, "markets": ["a", "b"], "nested": {"x": 1.5, "y": null}}`)
		return c
	}
	cases := []struct {
		name string
		make func(id polybot.ID) *polybot.Config
	}{
		{"UpdateConfig round-trips every field exactly (booleans inverted, 0.0001, 49.99)", flipped},
		{"UpdateConfig round-trips every field exactly (defaults, 100 and 0.01)", func(id polybot.ID) *polybot.Config {
			c := polybot.DefaultConfig(id, time.Time{})
			c.MinProfitPct = polybot.MustDecimal("100")
			c.MaxTradeSizeUSD = polybot.MustDecimal("0.01")
			c.MaxDailyLossUSD = polybot.MustDecimal("12.30")
			c.NotificationChannels = []string{}
			c.AdvancedConfig = json.RawMessage(`{}`)
			return c
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, open)
			u := e.newUser("cfg@example.com")
			now := e.clock.Advance(time.Hour)
			c := tc.make(u.ID)
			e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.UpdateConfig(c) })
			if !c.UpdatedAt.Equal(now) {
				t.Fatalf("UpdateConfig set UpdatedAt to %v, want the transaction's time %v", c.UpdatedAt, now)
			}
			want := *c
			want.UserID, want.CreatedAt, want.UpdatedAt = u.ID, T0, now
			got := e.config(u.ID)
			wantEqual(t, "config", &want, got)
			for _, d := range []struct {
				name      string
				got, want polybot.Decimal
			}{{"min_profit_pct", got.MinProfitPct, c.MinProfitPct}, {"max_trade_size_usd", got.MaxTradeSizeUSD, c.MaxTradeSizeUSD},
				{"max_daily_loss_usd", got.MaxDailyLossUSD, c.MaxDailyLossUSD}} {
				if d.got.String() != d.want.String() {
					t.Fatalf("%s = %s, want exactly %s", d.name, d.got, d.want)
				}
			}
		})
	}
}

func testSecrets(t *testing.T, open Opener) {
	sealed := func(tag string) map[string]string {
		return map[string]string{
			polybot.FieldAPIKey:     "v1:" + tag + ":key",
			polybot.FieldAPISecret:  "v1:" + tag + ":secret",
			polybot.FieldPrivateKey: "v1:" + tag + ":private",
			polybot.FieldPassphrase: "v1:" + tag + ":pass",
		}
	}

	t.Run("PutSecret creates a secret with every field and sets its ID and timestamps", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("keys@example.com")
		now := e.clock.Advance(time.Minute)
		s := &polybot.Secret{Platform: polybot.Polymarket, Paper: false, Active: true, Sealed: sealed("poly"),
			AdditionalConfig: json.RawMessage(`{"wallet_address": "0xabc"}`), Fingerprint: "sha256:1234",
			ValidationStatus: polybot.ValidationPending}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutSecret(s) })
		if s.ID == 0 || s.UserID != u.ID || !s.CreatedAt.Equal(now) || !s.UpdatedAt.Equal(now) {
			t.Fatalf("PutSecret left ID=%d UserID=%s CreatedAt=%v UpdatedAt=%v", s.ID, s.UserID, s.CreatedAt, s.UpdatedAt)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.Secret(polybot.Polymarket, false)
			if err != nil {
				t.Fatalf("Secret: %v", err)
			}
			wantEqual(t, "Secret", s, got)
			_, err = tx.Secret(polybot.Polymarket, true)
			wantCode(t, err, polybot.ENOTFOUND, "Secret(polymarket, paper) when only live exists")
			return nil
		})
	})

	t.Run("PutSecret replaces the secret of the same platform and mode and keeps paper and live apart", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("keys@example.com")
		live := &polybot.Secret{Platform: polybot.Kalshi, Paper: false, Active: true, Sealed: sealed("live1"), ValidationStatus: polybot.ValidationPending}
		paper := &polybot.Secret{Platform: polybot.Kalshi, Paper: true, Active: true, Sealed: sealed("paper1"), ValidationStatus: polybot.ValidationPending}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutSecret(live); err != nil {
				return err
			}
			return tx.PutSecret(paper)
		})
		now := e.clock.Advance(time.Hour)
		replaced := &polybot.Secret{Platform: polybot.Kalshi, Paper: false, Active: false,
			Sealed:      map[string]string{polybot.FieldAPIKey: "v1:live2:key", polybot.FieldPrivateKey: "v1:live2:private"},
			Fingerprint: "sha256:new", ValidationStatus: polybot.ValidationPending}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutSecret(replaced) })
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.Secrets()
			if err != nil {
				t.Fatalf("Secrets: %v", err)
			}
			if len(all) != 2 {
				t.Fatalf("Secrets = %d rows, want 2 (kalshi live and paper)", len(all))
			}
			got, err := tx.Secret(polybot.Kalshi, false)
			if err != nil {
				t.Fatalf("Secret(kalshi, live): %v", err)
			}
			for _, f := range polybot.SecretFields {
				if got.Sealed[f] != replaced.Sealed[f] {
					t.Fatalf("replaced secret field %s = %q, want %q", f, got.Sealed[f], replaced.Sealed[f])
				}
			}
			if got.Active || got.Fingerprint != "sha256:new" || !got.UpdatedAt.Equal(now) || got.UserID != u.ID {
				t.Fatalf("replaced secret = %+v", got)
			}
			gp, err := tx.Secret(polybot.Kalshi, true)
			if err != nil {
				t.Fatalf("Secret(kalshi, paper): %v", err)
			}
			wantEqual(t, "paper secret", paper, gp)
			return nil
		})
	})

	t.Run("SetSecretValidation records the status and time", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("keys@example.com")
		s := &polybot.Secret{Platform: polybot.Alpaca, Paper: true, Active: true, Sealed: sealed("alp"), ValidationStatus: polybot.ValidationPending}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutSecret(s) })
		at := e.clock.Advance(time.Minute).Add(-time.Second)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.SetSecretValidation(polybot.Alpaca, true, polybot.ValidationValid, at)
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.Secret(polybot.Alpaca, true)
			if err != nil {
				t.Fatalf("Secret: %v", err)
			}
			if got.ValidationStatus != polybot.ValidationValid || got.LastValidatedAt == nil || !got.LastValidatedAt.Equal(at) {
				t.Fatalf("validation = %s at %v, want valid at %v", got.ValidationStatus, got.LastValidatedAt, at)
			}
			return nil
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.SetSecretValidation(polybot.Alpaca, false, polybot.ValidationValid, at)
		})
		wantCode(t, err, polybot.ENOTFOUND, "SetSecretValidation(no such secret)")
	})

	t.Run("DeleteSecret removes one secret; deleting it again is not found", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("keys@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for _, s := range []*polybot.Secret{
				{Platform: polybot.IBKR, Paper: true, Active: true, Sealed: sealed("a")},
				{Platform: polybot.IBKR, Paper: false, Active: true, Sealed: sealed("b")},
			} {
				if err := tx.PutSecret(s); err != nil {
					return err
				}
			}
			return nil
		})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteSecret(polybot.IBKR, true) })
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteSecret(polybot.IBKR, true) })
		wantCode(t, err, polybot.ENOTFOUND, "DeleteSecret twice")
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.Secrets()
			if err != nil || len(all) != 1 || all[0].Platform != polybot.IBKR || all[0].Paper {
				t.Fatalf("Secrets after delete = %v, %v; want only ibkr live", all, err)
			}
			return nil
		})
	})
}

func testDataKeys(t *testing.T, open Opener) {
	wrapped := func(tag byte) []byte {
		b := make([]byte, 60)
		for i := range b {
			b[i] = byte(i) ^ tag // includes zero bytes: stored as bytes, not text
		}
		return b
	}

	t.Run("CreateDataKey stores the first key; a second is a conflict", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("dk@example.com")
		err := e.tenantView(u.ID, func(tx polybot.TenantTx) error { _, err := tx.DataKey(); return err })
		wantCode(t, err, polybot.ENOTFOUND, "DataKey before any was created")
		k := &polybot.DataKey{MasterKeyID: "local:1", Wrapped: wrapped(0), CreatedAt: T0, RotatedAt: T0}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateDataKey(k) })
		want := *k
		want.UserID = u.ID
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.DataKey()
			if err != nil {
				t.Fatalf("DataKey: %v", err)
			}
			wantEqual(t, "DataKey", &want, got)
			return nil
		})
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.CreateDataKey(&polybot.DataKey{MasterKeyID: "local:1", Wrapped: wrapped(1), CreatedAt: T0, RotatedAt: T0})
		})
		wantCode(t, err, polybot.ECONFLICT, "second CreateDataKey")
		e.mustAdminView(func(tx polybot.AdminTx) error {
			all, err := tx.DataKeys()
			if err != nil || len(all) != 1 {
				t.Fatalf("DataKeys = %v, %v; want one", all, err)
			}
			wantEqual(t, "DataKeys[0]", &want, all[0])
			return nil
		})
	})

	t.Run("ReplaceDataKey swaps a current key and refuses a stale one", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("dk@example.com")
		orig := &polybot.DataKey{MasterKeyID: "local:1", Wrapped: wrapped(0), CreatedAt: T0, RotatedAt: T0}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateDataKey(orig) })
		now := e.clock.Advance(24 * time.Hour)
		next := &polybot.DataKey{UserID: u.ID, MasterKeyID: "local:2", Wrapped: wrapped(2), CreatedAt: T0, RotatedAt: now}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.ReplaceDataKey(next, orig.Wrapped) })
		stale := &polybot.DataKey{UserID: u.ID, MasterKeyID: "local:3", Wrapped: wrapped(3), CreatedAt: T0, RotatedAt: now}
		err := e.admin(func(tx polybot.AdminTx) error { return tx.ReplaceDataKey(stale, orig.Wrapped) })
		wantCode(t, err, polybot.ECONFLICT, "ReplaceDataKey with a stale old key")
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.DataKey()
			if err != nil {
				t.Fatalf("DataKey: %v", err)
			}
			wantEqual(t, "DataKey after rotation", next, got)
			return nil
		})
	})
}

func testSessions(t *testing.T, open Opener) {
	t.Run("SessionByID returns a live session and not an expired one", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("s@example.com")
		s := &polybot.Session{ID: "hash-of-cookie-1", CSRFToken: "csrf-1", CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour)}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateSession(s) })
		want := *s
		want.UserID = u.ID
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.SessionByID(s.ID)
			if err != nil {
				t.Fatalf("SessionByID: %v", err)
			}
			wantEqual(t, "session", &want, got)
			return nil
		})
		e.clock.Advance(time.Hour + time.Second)
		err := e.adminView(func(tx polybot.AdminTx) error { _, err := tx.SessionByID(s.ID); return err })
		wantCode(t, err, polybot.ENOTFOUND, "SessionByID(expired)")
	})

	t.Run("SessionUser returns a live session with its user, as SessionByID and UserByID do", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("su@example.com")
		other := e.newUser("su-other@example.com")
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserRole(u.ID, polybot.RoleAdmin) })
		s := &polybot.Session{ID: "hash-of-cookie-su", CSRFToken: "csrf-su", CreatedAt: T0, LastSeenAt: T0.Add(time.Minute), ExpiresAt: T0.Add(time.Hour)}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateSession(s) })
		e.mustTenant(other.ID, func(tx polybot.TenantTx) error {
			return tx.CreateSession(&polybot.Session{ID: "hash-of-cookie-su-other", CSRFToken: "c", CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour)})
		})
		wantSess := *s
		wantSess.UserID = u.ID
		wantUser := *u
		wantUser.Role = polybot.RoleAdmin
		e.mustAdminView(func(tx polybot.AdminTx) error {
			sess, user, err := tx.SessionUser(s.ID)
			if err != nil {
				t.Fatalf("SessionUser: %v", err)
			}
			wantEqual(t, "SessionUser session", &wantSess, sess)
			wantEqual(t, "SessionUser user", &wantUser, user)
			bySess, err := tx.SessionByID(s.ID)
			if err != nil {
				t.Fatalf("SessionByID: %v", err)
			}
			byUser, err := tx.UserByID(bySess.UserID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			wantEqual(t, "SessionUser session against SessionByID", bySess, sess)
			wantEqual(t, "SessionUser user against UserByID", byUser, user)
			return nil
		})

		// A disabled user's session is still found: refusing it is the caller's call.
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserDisabled(u.ID, true) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			_, user, err := tx.SessionUser(s.ID)
			if err != nil || !user.Disabled {
				t.Fatalf("SessionUser of a disabled user = %+v, %v; want the user, disabled", user, err)
			}
			return nil
		})

		err := e.adminView(func(tx polybot.AdminTx) error { _, _, err := tx.SessionUser("no-such-session"); return err })
		wantCode(t, err, polybot.ENOTFOUND, "SessionUser(unknown)")
		e.clock.Set(T0.Add(time.Hour)) // expires_at is exclusive
		err = e.adminView(func(tx polybot.AdminTx) error { _, _, err := tx.SessionUser(s.ID); return err })
		wantCode(t, err, polybot.ENOTFOUND, "SessionUser(expired)")
		e.clock.Set(T0)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteSession(s.ID) })
		err = e.adminView(func(tx polybot.AdminTx) error { _, _, err := tx.SessionUser(s.ID); return err })
		wantCode(t, err, polybot.ENOTFOUND, "SessionUser(deleted)")
	})

	t.Run("TouchSession moves last_seen_at and expires_at", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("s@example.com")
		s := &polybot.Session{ID: "hash-of-cookie-2", CSRFToken: "csrf-2", CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour)}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateSession(s) })
		seen := e.clock.Advance(50 * time.Minute)
		expires := seen.Add(time.Hour)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.TouchSession(s.ID, seen, expires) })
		e.clock.Advance(30 * time.Minute) // past the old expiry, before the new one
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.SessionByID(s.ID)
			if err != nil {
				t.Fatalf("SessionByID after touch: %v", err)
			}
			if !got.LastSeenAt.Equal(seen) || !got.ExpiresAt.Equal(expires) || !got.CreatedAt.Equal(T0) {
				t.Fatalf("touched session = %+v", got)
			}
			return nil
		})
	})

	t.Run("DeleteExpiredSessions deletes only expired sessions and counts them", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("s@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i, d := range []time.Duration{time.Minute, 2 * time.Minute, 48 * time.Hour} {
				s := &polybot.Session{ID: "sess-" + string(rune('a'+i)), CSRFToken: "c", CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(d)}
				if err := tx.CreateSession(s); err != nil {
					return err
				}
			}
			return nil
		})
		e.clock.Advance(time.Hour)
		var n int
		e.mustAdmin(func(tx polybot.AdminTx) (err error) { n, err = tx.DeleteExpiredSessions(); return })
		if n != 2 {
			t.Fatalf("DeleteExpiredSessions = %d, want 2", n)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			if _, err := tx.SessionByID("sess-c"); err != nil {
				t.Fatalf("live session: %v", err)
			}
			return nil
		})
		e.clock.Set(T0) // the deleted ones stay deleted even when they would be live again
		err := e.adminView(func(tx polybot.AdminTx) error { _, err := tx.SessionByID("sess-a"); return err })
		wantCode(t, err, polybot.ENOTFOUND, "SessionByID(deleted expired session)")
	})

	t.Run("DeleteSession removes the session; deleting it again is not found", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("s@example.com")
		s := &polybot.Session{ID: "hash-of-cookie-3", CSRFToken: "csrf-3", CreatedAt: T0, LastSeenAt: T0, ExpiresAt: T0.Add(time.Hour)}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateSession(s) })
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteSession(s.ID) })
		err := e.adminView(func(tx polybot.AdminTx) error { _, err := tx.SessionByID(s.ID); return err })
		wantCode(t, err, polybot.ENOTFOUND, "SessionByID(deleted)")
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteSession(s.ID) })
		wantCode(t, err, polybot.ENOTFOUND, "DeleteSession twice")
	})
}

func testAPITokens(t *testing.T, open Opener) {
	t.Run("CreateAPIToken stores a token that APITokens lists and APITokenByHash finds", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("tok@example.com")
		k1 := &polybot.APIToken{ID: polybot.NewID(), Name: "ci", Hash: "sha256-token-1", Prefix: "pb_abc", CreatedAt: T0}
		exp := T0.Add(30 * 24 * time.Hour)
		k2 := &polybot.APIToken{ID: polybot.NewID(), Name: "laptop", Hash: "sha256-token-2", Prefix: "pb_def", CreatedAt: T0.Add(time.Second), ExpiresAt: &exp}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.CreateAPIToken(k1); err != nil {
				return err
			}
			return tx.CreateAPIToken(k2)
		})
		w1, w2 := *k1, *k2
		w1.UserID, w2.UserID = u.ID, u.ID
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.APITokens()
			if err != nil {
				t.Fatalf("APITokens: %v", err)
			}
			wantEqual(t, "APITokens", []*polybot.APIToken{&w1, &w2}, all)
			return nil
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.APITokenByHash("sha256-token-2")
			if err != nil {
				t.Fatalf("APITokenByHash: %v", err)
			}
			wantEqual(t, "APITokenByHash", &w2, got)
			return nil
		})
	})

	t.Run("APITokenByHash does not return an expired token; a token without expiry stays valid", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("tok@example.com")
		exp := T0.Add(time.Hour)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), Name: "short", Hash: "h-short", Prefix: "pb_1", CreatedAt: T0, ExpiresAt: &exp}); err != nil {
				return err
			}
			return tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), Name: "forever", Hash: "h-forever", Prefix: "pb_2", CreatedAt: T0})
		})
		e.clock.Advance(365 * 24 * time.Hour)
		e.mustAdminView(func(tx polybot.AdminTx) error {
			_, err := tx.APITokenByHash("h-short")
			wantCode(t, err, polybot.ENOTFOUND, "APITokenByHash(expired)")
			if _, err := tx.APITokenByHash("h-forever"); err != nil {
				t.Fatalf("APITokenByHash(no expiry): %v", err)
			}
			return nil
		})
	})

	t.Run("APITokenUser returns an unexpired token with its user, as APITokenByHash and UserByID do", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("tu@example.com")
		other := e.newUser("tu-other@example.com")
		exp := T0.Add(time.Hour)
		short := &polybot.APIToken{ID: polybot.NewID(), Name: "short", Hash: "h-tu-short", Prefix: "pb_1", CreatedAt: T0, ExpiresAt: &exp}
		forever := &polybot.APIToken{ID: polybot.NewID(), Name: "forever", Hash: "h-tu-forever", Prefix: "pb_2", CreatedAt: T0.Add(time.Second)}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.CreateAPIToken(short); err != nil {
				return err
			}
			return tx.CreateAPIToken(forever)
		})
		e.mustTenant(other.ID, func(tx polybot.TenantTx) error {
			return tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), Name: "other", Hash: "h-tu-other", Prefix: "pb_3", CreatedAt: T0})
		})
		used := e.clock.Advance(time.Minute)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.TouchAPIToken(short.ID, used) })
		wantShort, wantForever := *short, *forever
		wantShort.UserID, wantForever.UserID = u.ID, u.ID
		wantShort.LastUsedAt = &used
		check := func(hash string, want *polybot.APIToken) {
			t.Helper()
			e.mustAdminView(func(tx polybot.AdminTx) error {
				tok, user, err := tx.APITokenUser(hash)
				if err != nil {
					t.Fatalf("APITokenUser(%s): %v", hash, err)
				}
				wantEqual(t, "APITokenUser token", want, tok)
				wantEqual(t, "APITokenUser user", u, user)
				byHash, err := tx.APITokenByHash(hash)
				if err != nil {
					t.Fatalf("APITokenByHash(%s): %v", hash, err)
				}
				byUser, err := tx.UserByID(byHash.UserID)
				if err != nil {
					t.Fatalf("UserByID: %v", err)
				}
				wantEqual(t, "APITokenUser token against APITokenByHash", byHash, tok)
				wantEqual(t, "APITokenUser user against UserByID", byUser, user)
				return nil
			})
		}
		check(short.Hash, &wantShort)
		check(forever.Hash, &wantForever)

		err := e.adminView(func(tx polybot.AdminTx) error { _, _, err := tx.APITokenUser("no-such-hash"); return err })
		wantCode(t, err, polybot.ENOTFOUND, "APITokenUser(unknown)")
		e.clock.Set(exp) // expires_at is exclusive
		err = e.adminView(func(tx polybot.AdminTx) error { _, _, err := tx.APITokenUser(short.Hash); return err })
		wantCode(t, err, polybot.ENOTFOUND, "APITokenUser(expired)")
		e.clock.Advance(365 * 24 * time.Hour)
		check(forever.Hash, &wantForever) // no expiry: still valid
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteAPIToken(forever.ID) })
		err = e.adminView(func(tx polybot.AdminTx) error { _, _, err := tx.APITokenUser(forever.Hash); return err })
		wantCode(t, err, polybot.ENOTFOUND, "APITokenUser(deleted)")
	})

	t.Run("TouchAPIToken records the last use", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("tok@example.com")
		k := &polybot.APIToken{ID: polybot.NewID(), Name: "ci", Hash: "h", Prefix: "pb_1", CreatedAt: T0}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateAPIToken(k) })
		at := e.clock.Advance(time.Hour)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.TouchAPIToken(k.ID, at) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.APITokenByHash("h")
			if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) {
				t.Fatalf("token = %+v, %v; want last used at %v", got, err, at)
			}
			return nil
		})
	})

	t.Run("DeleteAPIToken removes the token; deleting it again is not found", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("tok@example.com")
		k := &polybot.APIToken{ID: polybot.NewID(), Name: "ci", Hash: "h", Prefix: "pb_1", CreatedAt: T0}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.CreateAPIToken(k) })
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteAPIToken(k.ID) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			_, err := tx.APITokenByHash("h")
			wantCode(t, err, polybot.ENOTFOUND, "APITokenByHash(deleted)")
			return nil
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.APITokens()
			if err != nil || len(all) != 0 {
				t.Fatalf("APITokens after delete = %v, %v", all, err)
			}
			return nil
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteAPIToken(k.ID) })
		wantCode(t, err, polybot.ENOTFOUND, "DeleteAPIToken twice")
	})
}
