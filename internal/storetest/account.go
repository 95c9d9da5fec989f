package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// testAccounts checks polybot.CreateAccount on the store: a new account's
// bot is off (so no restart starts it before onboarding) until something
// turns it on, and SetUserBotEnabled does that on the service path.
func testAccounts(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := &polybot.User{Email: "fresh@example.com", PasswordHash: "argon2id$test"}
	e.mustAdmin(func(tx polybot.AdminTx) error { _, err := polybot.CreateAccount(tx, u, "Fresh", "self"); return err })
	var on bool
	e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { on, err = tx.BotEnabled(); return })
	if on {
		t.Fatal("CreateAccount left the bot on")
	}
	listed := func() bool {
		var ids []polybot.ID
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { ids, err = tx.BotUserIDs(); return })
		return slices.Contains(ids, u.ID)
	}
	if listed() {
		t.Fatal("BotUserIDs lists a new account")
	}
	e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserBotEnabled(u.ID, true) })
	if !listed() {
		t.Fatal("BotUserIDs does not list the account after SetUserBotEnabled(true)")
	}
	err := e.admin(func(tx polybot.AdminTx) error { return tx.SetUserBotEnabled(polybot.NewID(), true) })
	wantCode(t, err, polybot.ENOTFOUND, "SetUserBotEnabled(unknown user)")
}

// testUserSessions checks the service path's session list, "sign out
// everywhere else" and password change: each touches one user only.
func testUserSessions(t *testing.T, open Opener) {
	e := newEnv(t, open)
	a, b := e.newUser("a@example.com"), e.newUser("b@example.com")
	mk := func(u *polybot.User, id string, ttl time.Duration) {
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.CreateSession(&polybot.Session{ID: id, CSRFToken: "c-" + id, ExpiresAt: tx.Now().Add(ttl)})
		})
		e.clock.Advance(time.Second)
	}
	mk(a, "a1", time.Hour)
	mk(a, "a2", time.Hour)
	mk(a, "a-expiring", 2*time.Second)
	mk(a, "a3", time.Hour)
	mk(b, "b1", time.Hour)
	e.clock.Advance(5 * time.Second) // a-expiring is past its expiry
	ids := func(u *polybot.User) []string {
		var list []*polybot.Session
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { list, err = tx.UserSessions(u.ID); return })
		var out []string
		for _, s := range list {
			if s.UserID != u.ID {
				t.Fatalf("UserSessions(%s) returned %s's session", u.Email, s.UserID)
			}
			out = append(out, s.ID)
		}
		return out
	}
	if got := ids(a); !slices.Equal(got, []string{"a3", "a2", "a1"}) {
		t.Fatalf("UserSessions(a) = %v, want the live ones newest first: [a3 a2 a1]", got)
	}
	var n int
	e.mustAdmin(func(tx polybot.AdminTx) (err error) { n, err = tx.DeleteUserSessions(a.ID, "a2"); return })
	if n != 3 { // a1, a3 and the expired one
		t.Fatalf("DeleteUserSessions deleted %d, want 3", n)
	}
	if got := ids(a); !slices.Equal(got, []string{"a2"}) {
		t.Fatalf("after DeleteUserSessions(a, a2): %v, want [a2]", got)
	}
	if got := ids(b); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("b's sessions changed: %v", got)
	}
	e.mustAdmin(func(tx polybot.AdminTx) (err error) { n, err = tx.DeleteUserSessions(a.ID, ""); return })
	if got := ids(a); n != 1 || len(got) != 0 {
		t.Fatalf("DeleteUserSessions(a, \"\") deleted %d and left %v", n, got)
	}

	e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserPassword(a.ID, "argon2id$new") })
	e.mustAdminView(func(tx polybot.AdminTx) error {
		ua, err := tx.UserByID(a.ID)
		if err != nil {
			return err
		}
		ub, err := tx.UserByID(b.ID)
		if err != nil {
			return err
		}
		if ua.PasswordHash != "argon2id$new" || ub.PasswordHash != b.PasswordHash {
			t.Fatalf("SetUserPassword: a has %q, b has %q", ua.PasswordHash, ub.PasswordHash)
		}
		return nil
	})
	err := e.admin(func(tx polybot.AdminTx) error { return tx.SetUserPassword(polybot.NewID(), "x") })
	wantCode(t, err, polybot.ENOTFOUND, "SetUserPassword(unknown user)")
}
