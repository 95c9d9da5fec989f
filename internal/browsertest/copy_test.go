package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// TestCopyWebUI runs the Copy trading page's flow on its own server and
// browser (go test ./internal/browsertest/ -run Copy).
func TestCopyWebUI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	trackSources(t)
	browser := startBrowser(t)
	srv := startServer(t)
	testCopy(t, browser, srv)
}

// testCopy: a user opens Copy trading from the navigation, follows a
// wallet with the form (a bad address is named next to its field; the
// price guard is typed in cents and stored in dollars), pauses it with its
// switch (it stays paused after a reload), sees the leader's trades the
// engine recorded with our copy and the reason for a skip, edits it, and
// deletes it after a confirmation. The page never scrolls sideways on a
// phone.
func testCopy(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "copy", 150*time.Second)
	uid := tb.signUpAPI(newEmail("copy"), "copy-password-123", "Cora Copy")
	tenant, err := polybot.ParseID(uid)
	if err != nil {
		t.Fatal(err)
	}
	const wallet = "0x56687bf447db6ffa42ffe2204a05edaa20f55839"

	tb.open("/dashboard")
	tb.click("nav-copy")
	tb.waitPage("/copy")
	tb.waitFor("the empty list", `!document.getElementById('leaders-empty').hidden`)

	tb.fill("leader-form-address", "0x1234")
	tb.fill("leader-form-label", "Paris whale")
	tb.fill("leader-form-multiplier", "0.1")
	tb.fill("leader-form-max_trade_usd", "25")
	tb.fill("leader-form-price_guard", "2")
	tb.fill("leader-form-max_age_seconds", "90")
	tb.click("leader-save")
	tb.waitFor("the address's error", `document.getElementById('leader-form-address-error').textContent !== ''`)
	if inv := eval[string](tb, `document.getElementById('leader-form-address').getAttribute('aria-invalid') || ''`); inv != "true" {
		t.Errorf("the address is not marked invalid: %q", inv)
	}
	tb.fill("leader-form-address", strings.ToUpper(wallet[2:]))
	tb.click("leader-save")
	tb.waitFor("the address's error", `document.getElementById('leader-form-address-error').textContent !== ''`)
	tb.fill("leader-form-address", wallet)
	tb.click("leader-save")
	tb.waitFor("the leader listed", `document.querySelectorAll('#leaders-table tr.leader-row').length === 1`)
	leader := eval[string](tb, `JSON.stringify(JSON.parse(document.querySelector('#leaders-table tr.leader-row').dataset.leader))`)
	for _, want := range []string{`"price_guard":"0.02"`, `"max_age_seconds":90`, `"multiplier":"0.10"`, `"label":"Paris whale"`} {
		if !strings.Contains(leader, want) {
			t.Errorf("stored leader %s lacks %s", leader, want)
		}
	}
	id := eval[string](tb, `document.querySelector('#leaders-table tr.leader-row').dataset.leaderId`)
	if sizing := tb.text("#leader-" + id + " td:nth-child(3)"); !strings.Contains(sizing, "0.1× the leader's notional") || !strings.Contains(sizing, "2¢") {
		t.Errorf("sizing in words %q", sizing)
	}
	if short := tb.text("#leader-" + id + " td:nth-child(2) a"); short != "0x5668…5839" {
		t.Errorf("shortened address %q", short)
	}

	// Pause it; it stays paused after a reload.
	tb.click("leader-" + id + "-enabled")
	tb.waitFor("the leader paused", `JSON.parse(document.getElementById('leader-`+id+`').dataset.leader).enabled === false`)
	tb.open("/copy")
	tb.waitFor("the page again", `document.getElementById('leader-`+id+`-enabled')`)
	if on := eval[bool](tb, `document.getElementById('leader-`+id+`-enabled').checked`); on {
		t.Error("the leader is on again after a reload")
	}

	// The engine's records appear under the leader.
	db := serverStore(t, srv)
	inst := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcond", Token: "4242", Outcome: polybot.Yes}
	if err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
		now := tx.Now()
		for _, c := range []*polybot.CopyRecord{
			{LeaderID: id, TradeKey: "0xfeed/4242", LeaderSide: polybot.Buy, LeaderPrice: polybot.MustDecimal("0.4"), LeaderSize: polybot.MustDecimal("500"),
				LeaderTime: now.Add(-2 * time.Second), Instrument: inst, Title: "Will it rain in Paris?", Action: polybot.CopyCopied,
				OpportunityID: polybot.CopyOpportunityID(id, "0xfeed/4242"), Size: polybot.MustDecimal("50"), Price: polybot.MustDecimal("0.41"), At: now},
			{LeaderID: id, TradeKey: "0xstale/4242", LeaderSide: polybot.Buy, LeaderPrice: polybot.MustDecimal("0.45"), LeaderSize: polybot.MustDecimal("20"),
				LeaderTime: now.Add(-5 * time.Minute), Instrument: inst, Title: "Will it rain in Paris?", Action: polybot.CopySkipped,
				Reason: "stale: 300 s old, limit 90 s", At: now.Add(time.Second)},
		} {
			if err := tx.PutCopyRecord(c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tb.open("/copy")
	tb.waitFor("the copies", `document.querySelectorAll('#copies-`+id+`-table tr.copy-row').length === 2`)
	if why := tb.text("#copies-" + id + "-table tr.copy-row[data-action-taken=skipped] td:last-child"); why != "stale: 300 s old, limit 90 s" {
		t.Errorf("the skip's reason %q", why)
	}
	if did := tb.text("#copies-" + id + "-table tr.copy-row[data-action-taken=copied] td:nth-child(5)"); !strings.Contains(did, "bought 50 at 0.41") {
		t.Errorf("the copy reads %q", did)
	}
	tb.screenshot("copy")

	// Edit: the form holds the stored values, the guard in cents.
	tb.click("leader-" + id + "-edit")
	tb.waitFor("the editor filled", `document.getElementById('leader-form-address').value === '`+wallet+`'`)
	if g := eval[string](tb, `document.getElementById('leader-form-price_guard').value`); g != "2" {
		t.Errorf("the guard in the editor %q, want 2 (cents)", g)
	}
	tb.fill("leader-form-max_day_usd", "100")
	tb.click("leader-save")
	tb.waitFor("the edit saved", `(function(){var r=document.getElementById('leader-`+id+`'); return r && JSON.parse(r.dataset.leader).max_day_usd === '100.00'})()`)

	// Delete, after a confirmation.
	tb.click("leader-" + id + "-delete")
	tb.waitFor("the confirmation dialog", `document.getElementById('confirm-dialog').open`)
	if msg := tb.text("#confirm-message"); !strings.Contains(msg, "Paris whale") {
		t.Errorf("confirmation %q does not name the leader", msg)
	}
	tb.click("confirm-ok")
	tb.waitFor("the leader gone", `!document.querySelector('#leaders-table tr.leader-row') && !document.getElementById('leaders-empty').hidden`)
}
