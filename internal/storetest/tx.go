package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func testTransactions(t *testing.T, open Opener) {
	t.Run("Ping answers", func(t *testing.T) {
		e := newEnv(t, open)
		if err := e.store.Ping(e.ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("Tenant rolls back every write when fn returns an error, and returns that error", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("rb@example.com")
		f := &tenantFixture{user: u}
		before := e.state(f)
		headSeq, headHash := e.auditHead()
		e.clock.Advance(time.Hour)
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			steps := []struct {
				name string
				run  func() error
			}{
				{"UpdateProfile", func() error { return tx.UpdateProfile(&polybot.Profile{DisplayName: "rolled back"}) }},
				{"TouchLastActive", tx.TouchLastActive},
				{"UpdateConfig", func() error {
					c := polybot.DefaultConfig(u.ID, time.Time{})
					c.DryRun = false
					return tx.UpdateConfig(c)
				}},
				{"PutSecret", func() error {
					return tx.PutSecret(&polybot.Secret{Platform: polybot.Kalshi, Sealed: map[string]string{polybot.FieldAPIKey: "k"}})
				}},
				{"CreateDataKey", func() error {
					return tx.CreateDataKey(&polybot.DataKey{MasterKeyID: "m", Wrapped: []byte("w"), CreatedAt: tx.Now(), RotatedAt: tx.Now()})
				}},
				{"CreateSession", func() error {
					return tx.CreateSession(&polybot.Session{ID: "rb-session", CSRFToken: "c", CreatedAt: tx.Now(), LastSeenAt: tx.Now(), ExpiresAt: tx.Now().Add(time.Hour)})
				}},
				{"CreateAPIToken", func() error {
					return tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), Name: "rb", Hash: "rb-token", Prefix: "pb", CreatedAt: tx.Now()})
				}},
				{"AppendAudit", func() error { return tx.AppendAudit(&polybot.AuditEntry{Actor: "x", Action: polybot.AuditLogin}) }},
				{"IncrementTrades", func() error { _, err := tx.IncrementTrades(); return err }},
			}
			for _, s := range steps {
				if err := s.run(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("Tenant returned %v, want fn's error", err)
		}
		wantEqual(t, "tenant state after rollback", before, e.state(f))
		if seq, hash := e.auditHead(); seq != headSeq || hash != headHash {
			t.Fatalf("audit head moved to %d after rollback", seq)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			if _, err := tx.SessionByID("rb-session"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
				t.Fatalf("rolled-back session: %v", err)
			}
			if _, err := tx.APITokenByHash("rb-token"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
				t.Fatalf("rolled-back token: %v", err)
			}
			return nil
		})
	})

	t.Run("Admin rolls back every write when fn returns an error, and returns that error", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("existing@example.com")
		profileBefore := e.profile(u.ID)
		newUser := &polybot.User{ID: polybot.NewID(), Email: "new@example.com", Role: polybot.RoleUser}
		err := e.admin(func(tx polybot.AdminTx) error {
			tier, err := tx.Tier(polybot.TierFree)
			if err != nil {
				return err
			}
			if err := tx.CreateUser(newUser, polybot.NewProfile(newUser.ID, newUser.Email, tier, tx.Now()), polybot.DefaultConfig(newUser.ID, tx.Now())); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if err := tx.SetUserRole(u.ID, polybot.RoleAdmin); err != nil {
				t.Fatalf("SetUserRole: %v", err)
			}
			if err := tx.SetUserTier(u.ID, polybot.TierPro); err != nil {
				t.Fatalf("SetUserTier: %v", err)
			}
			if err := tx.PutTier(&polybot.Tier{Name: "rolled-back", DisplayName: "x", MonthlyTradeLimit: 1}); err != nil {
				t.Fatalf("PutTier: %v", err)
			}
			if err := tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminRole}); err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("Admin returned %v, want fn's error", err)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			_, err := tx.UserByID(newUser.ID)
			wantCode(t, err, polybot.ENOTFOUND, "UserByID(rolled-back user)")
			_, err = tx.UserByEmail(newUser.Email)
			wantCode(t, err, polybot.ENOTFOUND, "UserByEmail(rolled-back user)")
			_, err = tx.Tier("rolled-back")
			wantCode(t, err, polybot.ENOTFOUND, "Tier(rolled-back)")
			got, err := tx.UserByID(u.ID)
			if err != nil || got.Role != polybot.RoleUser {
				t.Fatalf("existing user = %+v, %v; want the role unchanged", got, err)
			}
			if seq, _, err := tx.AuditHead(); err != nil || seq != 0 {
				t.Fatalf("AuditHead = %d, %v; want 0", seq, err)
			}
			return nil
		})
		wantEqual(t, "profile after rollback", profileBefore, e.profile(u.ID))
	})

	t.Run("TenantView refuses every write and keeps nothing", func(t *testing.T) {
		e := newEnv(t, open)
		f := e.seedTenant("v", slot{polybot.Polymarket, true})
		keyless := &tenantFixture{user: e.newUser("keyless@example.com")}
		e.clock.Advance(time.Hour)
		before, keylessBefore := e.state(f), e.state(keyless)
		headSeq, _ := e.auditHead()
		writes := []struct {
			name string
			user polybot.ID
			run  func(tx polybot.TenantTx) error
		}{
			{"UpdateProfile", f.user.ID, func(tx polybot.TenantTx) error { return tx.UpdateProfile(&polybot.Profile{DisplayName: "view"}) }},
			{"TouchLastActive", f.user.ID, func(tx polybot.TenantTx) error { return tx.TouchLastActive() }},
			{"UpdateConfig", f.user.ID, func(tx polybot.TenantTx) error { return tx.UpdateConfig(polybot.DefaultConfig(f.user.ID, time.Time{})) }},
			{"PutSecret", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.PutSecret(&polybot.Secret{Platform: polybot.Kalshi, Sealed: map[string]string{polybot.FieldAPIKey: "k"}})
			}},
			{"SetSecretValidation", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.SetSecretValidation(polybot.Polymarket, true, polybot.ValidationValid, tx.Now())
			}},
			{"DeleteSecret", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteSecret(polybot.Polymarket, true) }},
			{"CreateDataKey", keyless.user.ID, func(tx polybot.TenantTx) error {
				return tx.CreateDataKey(&polybot.DataKey{MasterKeyID: "m", Wrapped: []byte("w"), CreatedAt: tx.Now(), RotatedAt: tx.Now()})
			}},
			{"CreateSession", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.CreateSession(&polybot.Session{ID: "view-session", CSRFToken: "c", CreatedAt: tx.Now(), LastSeenAt: tx.Now(), ExpiresAt: tx.Now().Add(time.Hour)})
			}},
			{"DeleteSession", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteSession(f.session.ID) }},
			{"CreateAPIToken", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), Name: "v", Hash: "view-token", Prefix: "pb", CreatedAt: tx.Now()})
			}},
			{"DeleteAPIToken", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteAPIToken(f.token.ID) }},
			{"AppendAudit", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.AppendAudit(&polybot.AuditEntry{Actor: "v", Action: polybot.AuditLogin})
			}},
			{"IncrementTrades", f.user.ID, func(tx polybot.TenantTx) error { _, err := tx.IncrementTrades(); return err }},
			{"ReleaseTrade", f.user.ID, func(tx polybot.TenantTx) error { _, err := tx.ReleaseTrade(); return err }},
			{"CountTrade", f.user.ID, func(tx polybot.TenantTx) error { _, err := tx.CountTrade(); return err }},
			{"LockTenant", f.user.ID, func(tx polybot.TenantTx) error { return tx.LockTenant() }},
			{"SetHaltState", f.user.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) }},
			{"SetBotEnabled", f.user.ID, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(false) }},
			{"InsertIntent", f.user.ID, func(tx polybot.TenantTx) error { return tx.InsertIntent(newIntent("pb-view", kalshiYes("K-V"))) }},
			{"UpdateIntent", f.user.ID, func(tx polybot.TenantTx) error {
				in := *f.intents[0]
				in.State = polybot.IntentCancelled
				return tx.UpdateIntent(&in)
			}},
			{"InsertFill", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.InsertFill(&polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "view", Mode: polybot.DryRun,
					Instrument: kalshiYes("K-V"), Side: polybot.Buy, Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("1")})
			}},
			{"PutHolding", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.PutHolding(&polybot.Holding{Instrument: kalshiYes("K-V"), Mode: polybot.DryRun, Size: polybot.MustDecimal("1")})
			}},
			{"AddDailyPnL", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.AddDailyPnL(polybot.Day(T0), polybot.DryRun, polybot.MustDecimal("1"), polybot.Zero, polybot.Zero)
			}},
			{"OpenDailyPnL", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.OpenDailyPnL(polybot.Day(T0), polybot.DryRun, polybot.MustDecimal("1"))
			}},
			{"PutNewsRule", f.user.ID, func(tx polybot.TenantTx) error { return tx.PutNewsRule(newsRule("view-rule", "v")) }},
			{"DeleteNewsRule", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsRule(f.rules[0].ID) }},
			{"PutNewsFeed", f.user.ID, func(tx polybot.TenantTx) error { return tx.PutNewsFeed(newsFeed("view-feed", "v")) }},
			{"DeleteNewsFeed", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsFeed(f.feed.ID) }},
			{"SetFeedValidators", f.user.ID, func(tx polybot.TenantTx) error { return tx.SetFeedValidators(f.feed.ID, "x", "y") }},
			{"PutNewsHook", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: "view-hook", Name: "v", Sealed: "s"})
			}},
			{"DeleteNewsHook", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsHook(f.hook.ID) }},
			{"PutHeadline", f.user.ID, func(tx polybot.TenantTx) error { return tx.PutHeadline(headline("h-view", "s", "t", T0)) }},
			{"PutNewsFire", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.PutNewsFire(&polybot.NewsFire{RuleID: "r", HeadlineID: "h", Action: "ordered"})
			}},
			{"PutLeader", f.user.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(leader("view-leader", ownWallet("c"), "v")) }},
			{"DeleteLeader", f.user.ID, func(tx polybot.TenantTx) error { return tx.DeleteLeader(sharedLeaderID) }},
			{"SetLeaderCursor", f.user.ID, func(tx polybot.TenantTx) error { return tx.SetLeaderCursor(sharedLeaderID, tx.Now(), "0xv/1") }},
			{"PutCopyRecord", f.user.ID, func(tx polybot.TenantTx) error {
				return tx.PutCopyRecord(copyRecord(sharedLeaderID, "0xview/1", "v", tx.Now()))
			}},
			{"SwapNotifyDelivery", f.user.ID, func(tx polybot.TenantTx) error {
				was := *before.NotifyDeliveries[0]
				d := was
				d.Attempts = 1
				_, err := tx.SwapNotifyDelivery(&was, &d)
				return err
			}},
		}
		for _, w := range writes {
			if err := e.tenantView(w.user, w.run); err == nil {
				t.Errorf("TenantView %s: no error, want the write refused", w.name)
			}
		}
		wantEqual(t, "tenant state after refused writes", before, e.state(f))
		wantEqual(t, "keyless tenant state after refused writes", keylessBefore, e.state(keyless))
		if seq, _ := e.auditHead(); seq != headSeq {
			t.Errorf("audit head moved from %d to %d", headSeq, seq)
		}
	})

	t.Run("AdminView refuses every write and keeps nothing", func(t *testing.T) {
		e := newEnv(t, open)
		f := e.seedTenant("v", slot{polybot.Polymarket, true})
		e.mustTenant(f.user.ID, func(tx polybot.TenantTx) error {
			return tx.CreateSession(&polybot.Session{ID: "expiring", CSRFToken: "c", CreatedAt: tx.Now(), LastSeenAt: tx.Now(), ExpiresAt: tx.Now().Add(time.Minute)})
		})
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.PutOutcomeSet(kalshiSet("view-set", 2)); err != nil {
				return err
			}
			return tx.PutRelation(implication("view-relation"))
		})
		e.clock.Advance(time.Hour)
		before := e.state(f)
		headSeq, _ := e.auditHead()
		var tiersBefore []*polybot.Tier
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { tiersBefore, err = tx.Tiers(); return })
		newUser := &polybot.User{ID: polybot.NewID(), Email: "view@example.com", Role: polybot.RoleUser}
		writes := []struct {
			name string
			run  func(tx polybot.AdminTx) error
		}{
			{"CreateUser", func(tx polybot.AdminTx) error {
				tier := polybot.DefaultTiers()[0]
				return tx.CreateUser(newUser, polybot.NewProfile(newUser.ID, newUser.Email, &tier, tx.Now()), polybot.DefaultConfig(newUser.ID, tx.Now()))
			}},
			{"SetUserRole", func(tx polybot.AdminTx) error { return tx.SetUserRole(f.user.ID, polybot.RoleAdmin) }},
			{"SetUserDisabled", func(tx polybot.AdminTx) error { return tx.SetUserDisabled(f.user.ID, true) }},
			{"SetUserTier", func(tx polybot.AdminTx) error { return tx.SetUserTier(f.user.ID, polybot.TierPro) }},
			{"PutTier", func(tx polybot.AdminTx) error {
				return tx.PutTier(&polybot.Tier{Name: "view", DisplayName: "View", MonthlyTradeLimit: 1})
			}},
			{"TouchSession", func(tx polybot.AdminTx) error {
				return tx.TouchSession(f.session.ID, tx.Now(), tx.Now().Add(48*time.Hour))
			}},
			{"DeleteExpiredSessions", func(tx polybot.AdminTx) error { _, err := tx.DeleteExpiredSessions(); return err }},
			{"TouchAPIToken", func(tx polybot.AdminTx) error { return tx.TouchAPIToken(f.token.ID, tx.Now()) }},
			{"ReplaceDataKey", func(tx polybot.AdminTx) error {
				return tx.ReplaceDataKey(&polybot.DataKey{UserID: f.user.ID, MasterKeyID: "local:2", Wrapped: []byte("new"), CreatedAt: f.key.CreatedAt, RotatedAt: tx.Now()}, f.key.Wrapped)
			}},
			{"AppendAudit", func(tx polybot.AdminTx) error {
				return tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminRole})
			}},
			{"SetGlobalHalt", func(tx polybot.AdminTx) error { return tx.SetGlobalHalt(polybot.HaltHalted) }},
			{"SetUserHalt", func(tx polybot.AdminTx) error { return tx.SetUserHalt(f.user.ID, polybot.HaltHalted) }},
			{"PutMarketPair", func(tx polybot.AdminTx) error {
				return tx.PutMarketPair(&polybot.MarketPair{ID: "view", Name: "v", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", "1", "2"), polybot.KalshiLeg("K")}})
			}},
			{"DeleteMarketPair", func(tx polybot.AdminTx) error { return tx.DeleteMarketPair("fed-dec2025-hold") }},
			{"PutOutcomeSet", func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(kalshiSet("view", 2)) }},
			{"DeleteOutcomeSet", func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("view-set") }},
			{"PutRelation", func(tx polybot.AdminTx) error { return tx.PutRelation(implication("view")) }},
			{"DeleteRelation", func(tx polybot.AdminTx) error { return tx.DeleteRelation("view-relation") }},
			{"PutNewsFeed", func(tx polybot.AdminTx) error { return tx.PutNewsFeed(newsFeed("view-feed", "v")) }},
			{"DeleteNewsFeed", func(tx polybot.AdminTx) error { return tx.DeleteNewsFeed(platformFeedID) }},
			{"SetFeedValidators", func(tx polybot.AdminTx) error { return tx.SetFeedValidators(platformFeedID, "x", "y") }},
			{"PutHeadline", func(tx polybot.AdminTx) error { return tx.PutHeadline(headline("h-view", "s", "t", T0)) }},
		}
		for _, w := range writes {
			if err := e.adminView(w.run); err == nil {
				t.Errorf("AdminView %s: no error, want the write refused", w.name)
			}
		}
		wantEqual(t, "tenant state after refused writes", before, e.state(f))
		if seq, _ := e.auditHead(); seq != headSeq {
			t.Errorf("audit head moved from %d to %d", headSeq, seq)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			tiers, err := tx.Tiers()
			if err != nil {
				return err
			}
			wantEqual(t, "tiers", tiersBefore, tiers)
			_, err = tx.UserByID(newUser.ID)
			wantCode(t, err, polybot.ENOTFOUND, "UserByID(user created in a view)")
			if g, err := tx.GlobalHalt(); err != nil || g != polybot.HaltActive {
				t.Errorf("GlobalHalt = %q, %v; want it still active", g, err)
			}
			pairs, err := tx.MarketPairs()
			if err != nil || len(pairs) != 1 || pairs[0].ID != "fed-dec2025-hold" {
				t.Errorf("MarketPairs = %v, %v; want only the Fed pair", pairs, err)
			}
			sets, err := tx.OutcomeSets()
			if err != nil || len(sets) != 1 || sets[0].ID != "view-set" || !sets[0].UpdatedAt.Equal(T0) {
				t.Errorf("OutcomeSets = %v, %v; want only view-set as it was", sets, err)
			}
			rels, err := tx.Relations()
			if err != nil || len(rels) != 1 || rels[0].ID != "view-relation" {
				t.Errorf("Relations = %v, %v; want only view-relation", rels, err)
			}
			feeds, err := tx.NewsFeeds()
			if err != nil || len(feeds) != 1 || feeds[0].ID != platformFeedID || feeds[0].ETag != "" {
				t.Errorf("NewsFeeds = %v, %v; want only the platform's feed as it was", feeds, err)
			}
			hs, err := tx.Headlines(time.Time{}, 10)
			if err != nil || len(hs) != 1 || hs[0].ID != platformHeadline {
				t.Errorf("Headlines = %v, %v; want only the platform's headline", hs, err)
			}
			return nil
		})
		var n int
		e.mustAdmin(func(tx polybot.AdminTx) (err error) { n, err = tx.DeleteExpiredSessions(); return })
		if n != 1 {
			t.Errorf("DeleteExpiredSessions after the view = %d, want the 1 expired session still there", n)
		}
	})

	t.Run("Now is one clock reading per transaction and round-trips exactly", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("now@example.com")
		e.clock.Set(T0.Add(time.Hour + 789*time.Nanosecond)) // below the microsecond
		var now time.Time
		c := polybot.DefaultConfig(u.ID, time.Time{})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			now = tx.Now()
			e.clock.Advance(time.Hour)
			if !tx.Now().Equal(now) {
				t.Errorf("Now() moved within a transaction: %v then %v", now, tx.Now())
			}
			if d := now.Sub(T0.Add(time.Hour)); d < 0 || d >= time.Microsecond {
				t.Errorf("Now() = %v, want the clock's reading %v", now, T0.Add(time.Hour))
			}
			return tx.UpdateConfig(c)
		})
		if got := e.config(u.ID); !got.UpdatedAt.Equal(now) || !c.UpdatedAt.Equal(now) {
			t.Errorf("updated_at = %v stored, %v returned; want exactly the transaction's Now %v", got.UpdatedAt, c.UpdatedAt, now)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			if n := tx.Now(); !n.Equal(e.clock.Now().Truncate(time.Microsecond)) && !n.Equal(e.clock.Now()) {
				t.Errorf("AdminTx.Now() = %v, want %v", n, e.clock.Now())
			}
			return nil
		})
	})
}
