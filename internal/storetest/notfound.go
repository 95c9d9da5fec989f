package storetest

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// testNotFound checks that every look-up or change of something that does
// not exist is an ENOTFOUND *polybot.Error, never (nil, nil) and never an
// internal error.
func testNotFound(t *testing.T, open Opener) {
	e := newEnv(t, open)
	known := e.newUser("known@example.com") // exists, but owns nothing
	ghost := polybot.NewID()                // no such user at all

	admin := []struct {
		name string
		run  func(tx polybot.AdminTx) error
	}{
		{"UserByID of an unknown id", func(tx polybot.AdminTx) error { _, err := tx.UserByID(ghost); return err }},
		{"UserByEmail of an unknown email", func(tx polybot.AdminTx) error { _, err := tx.UserByEmail("nobody@example.com"); return err }},
		{"SetUserRole of an unknown user", func(tx polybot.AdminTx) error { return tx.SetUserRole(ghost, polybot.RoleAdmin) }},
		{"SetUserDisabled of an unknown user", func(tx polybot.AdminTx) error { return tx.SetUserDisabled(ghost, true) }},
		{"SetUserTier of an unknown user", func(tx polybot.AdminTx) error { return tx.SetUserTier(ghost, polybot.TierPro) }},
		{"SetUserTier to an unknown tier", func(tx polybot.AdminTx) error { return tx.SetUserTier(known.ID, "platinum") }},
		{"Tier of an unknown name", func(tx polybot.AdminTx) error { _, err := tx.Tier("platinum"); return err }},
		{"SessionByID of an unknown session", func(tx polybot.AdminTx) error { _, err := tx.SessionByID("no-such-session"); return err }},
		{"SessionUser of an unknown session", func(tx polybot.AdminTx) error { _, _, err := tx.SessionUser("no-such-session"); return err }},
		{"TouchSession of an unknown session", func(tx polybot.AdminTx) error {
			return tx.TouchSession("no-such-session", tx.Now(), tx.Now().Add(time.Hour))
		}},
		{"APITokenByHash of an unknown hash", func(tx polybot.AdminTx) error { _, err := tx.APITokenByHash("no-such-hash"); return err }},
		{"APITokenUser of an unknown hash", func(tx polybot.AdminTx) error { _, _, err := tx.APITokenUser("no-such-hash"); return err }},
		{"TouchAPIToken of an unknown token", func(tx polybot.AdminTx) error { return tx.TouchAPIToken(polybot.NewID(), tx.Now()) }},
		{"SetUserHalt of an unknown user", func(tx polybot.AdminTx) error { return tx.SetUserHalt(ghost, polybot.HaltHalted) }},
		{"MarketPair of an unknown id", func(tx polybot.AdminTx) error { _, err := tx.MarketPair("no-such-pair"); return err }},
		{"DeleteMarketPair of an unknown id", func(tx polybot.AdminTx) error { return tx.DeleteMarketPair("no-such-pair") }},
		{"OutcomeSet of an unknown id", func(tx polybot.AdminTx) error { _, err := tx.OutcomeSet("no-such-set"); return err }},
		{"DeleteOutcomeSet of an unknown id", func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("no-such-set") }},
		{"Relation of an unknown id", func(tx polybot.AdminTx) error { _, err := tx.Relation("no-such-relation"); return err }},
		{"DeleteRelation of an unknown id", func(tx polybot.AdminTx) error { return tx.DeleteRelation("no-such-relation") }},
		{"DeleteNewsFeed of an unknown id", func(tx polybot.AdminTx) error { return tx.DeleteNewsFeed("no-such-feed") }},
		{"SetFeedValidators of an unknown id", func(tx polybot.AdminTx) error { return tx.SetFeedValidators("no-such-feed", "e", "") }},
		{"NewsHookOwner of an unknown id", func(tx polybot.AdminTx) error { _, err := tx.NewsHookOwner("no-such-hook"); return err }},
	}
	for _, c := range admin {
		t.Run("Admin "+c.name, func(t *testing.T) {
			wantCode(t, e.admin(c.run), polybot.ENOTFOUND, c.name)
		})
	}

	tenant := []struct {
		name string
		who  polybot.ID
		run  func(tx polybot.TenantTx) error
	}{
		{"User of an unknown tenant", ghost, func(tx polybot.TenantTx) error { _, err := tx.User(); return err }},
		{"Profile of an unknown tenant", ghost, func(tx polybot.TenantTx) error { _, err := tx.Profile(); return err }},
		{"UpdateProfile of an unknown tenant", ghost, func(tx polybot.TenantTx) error { return tx.UpdateProfile(&polybot.Profile{DisplayName: "x"}) }},
		{"TouchLastActive of an unknown tenant", ghost, func(tx polybot.TenantTx) error { return tx.TouchLastActive() }},
		{"Config of an unknown tenant", ghost, func(tx polybot.TenantTx) error { _, err := tx.Config(); return err }},
		{"UpdateConfig of an unknown tenant", ghost, func(tx polybot.TenantTx) error {
			return tx.UpdateConfig(polybot.DefaultConfig(ghost, time.Time{}))
		}},
		{"IncrementTrades of an unknown tenant", ghost, func(tx polybot.TenantTx) error { _, err := tx.IncrementTrades(); return err }},
		{"Secret that was never stored", known.ID, func(tx polybot.TenantTx) error { _, err := tx.Secret(polybot.Polymarket, false); return err }},
		{"SetSecretValidation of a secret that was never stored", known.ID, func(tx polybot.TenantTx) error {
			return tx.SetSecretValidation(polybot.Polymarket, false, polybot.ValidationValid, tx.Now())
		}},
		{"DeleteSecret of a secret that was never stored", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteSecret(polybot.Kalshi, true) }},
		{"DataKey before one is created", known.ID, func(tx polybot.TenantTx) error { _, err := tx.DataKey(); return err }},
		{"DeleteSession of an unknown session", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteSession("no-such-session") }},
		{"DeleteAPIToken of an unknown token", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteAPIToken(polybot.NewID()) }},
		{"LockTenant of an unknown tenant", ghost, func(tx polybot.TenantTx) error { return tx.LockTenant() }},
		{"HaltState of an unknown tenant", ghost, func(tx polybot.TenantTx) error { _, err := tx.HaltState(); return err }},
		{"SetHaltState of an unknown tenant", ghost, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) }},
		{"BotEnabled of an unknown tenant", ghost, func(tx polybot.TenantTx) error { _, err := tx.BotEnabled(); return err }},
		{"SetBotEnabled of an unknown tenant", ghost, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(false) }},
		{"Intent that was never stored", known.ID, func(tx polybot.TenantTx) error { _, err := tx.Intent("pb-none"); return err }},
		{"UpdateIntent of an intent that was never stored", known.ID, func(tx polybot.TenantTx) error {
			return tx.UpdateIntent(newIntent("pb-none", kalshiYes("K-1")))
		}},
		{"Holding never held", known.ID, func(tx polybot.TenantTx) error { _, err := tx.Holding(kalshiYes("K-1"), polybot.Live); return err }},
		{"NewsRule never stored", known.ID, func(tx polybot.TenantTx) error { _, err := tx.NewsRule("no-such-rule"); return err }},
		{"DeleteNewsRule never stored", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsRule("no-such-rule") }},
		{"DeleteNewsFeed never stored", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsFeed("no-such-feed") }},
		{"SetFeedValidators of a feed never stored", known.ID, func(tx polybot.TenantTx) error { return tx.SetFeedValidators("no-such-feed", "e", "") }},
		{"NewsHook never stored", known.ID, func(tx polybot.TenantTx) error { _, err := tx.NewsHook("no-such-hook"); return err }},
		{"DeleteNewsHook never stored", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsHook("no-such-hook") }},
		{"Leader never stored", known.ID, func(tx polybot.TenantTx) error { _, err := tx.Leader("no-such-leader"); return err }},
		{"DeleteLeader never stored", known.ID, func(tx polybot.TenantTx) error { return tx.DeleteLeader("no-such-leader") }},
		{"LeaderCursor of a leader never stored", known.ID, func(tx polybot.TenantTx) error {
			_, _, err := tx.LeaderCursor("no-such-leader")
			return err
		}},
		{"SetLeaderCursor of a leader never stored", known.ID, func(tx polybot.TenantTx) error {
			return tx.SetLeaderCursor("no-such-leader", tx.Now(), "k")
		}},
		{"PutCopyRecord of a leader never stored", known.ID, func(tx polybot.TenantTx) error {
			return tx.PutCopyRecord(copyRecord("no-such-leader", "0xk/1", "x", tx.Now()))
		}},
		{"CopyPnL of a leader never stored", known.ID, func(tx polybot.TenantTx) error { _, err := tx.CopyPnL("no-such-leader"); return err }},
	}
	for _, c := range tenant {
		t.Run("Tenant "+c.name, func(t *testing.T) {
			wantCode(t, e.tenant(c.who, c.run), polybot.ENOTFOUND, c.name)
		})
	}

	t.Run("lists of nothing are empty, not errors", func(t *testing.T) {
		e.mustTenantView(known.ID, func(tx polybot.TenantTx) error {
			if s, err := tx.Secrets(); err != nil || len(s) != 0 {
				t.Errorf("Secrets() = %v, %v; want empty", s, err)
			}
			if k, err := tx.APITokens(); err != nil || len(k) != 0 {
				t.Errorf("APITokens() = %v, %v; want empty", k, err)
			}
			if a, err := tx.AuditTrail(0, 10); err != nil || len(a) != 0 {
				t.Errorf("AuditTrail() = %v, %v; want empty", a, err)
			}
			if x, err := tx.Intents(nil, time.Time{}, 10); err != nil || len(x) != 0 {
				t.Errorf("Intents() = %v, %v; want empty", x, err)
			}
			if x, err := tx.Fills(time.Time{}, 10); err != nil || len(x) != 0 {
				t.Errorf("Fills() = %v, %v; want empty", x, err)
			}
			if x, err := tx.Holdings(); err != nil || len(x) != 0 {
				t.Errorf("Holdings() = %v, %v; want empty", x, err)
			}
			if x, err := tx.PnLByStrategy(); err != nil || len(x) != 0 {
				t.Errorf("PnLByStrategy() = %v, %v; want empty", x, err)
			}
			return nil
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			if k, err := tx.DataKeys(); err != nil || len(k) != 0 {
				t.Errorf("DataKeys() = %v, %v; want empty", k, err)
			}
			if a, err := tx.AuditEntries(0, 10); err != nil || len(a) != 0 {
				t.Errorf("AuditEntries() = %v, %v; want empty", a, err)
			}
			return nil
		})
	})
}
