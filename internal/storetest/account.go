package storetest

import (
	"slices"
	"testing"

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
