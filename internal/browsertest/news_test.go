package browsertest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/sqlite"
)

// TestNewsWebUI runs the News page's flow on its own server and browser
// (go test ./internal/browsertest/ -run News).
func TestNewsWebUI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	trackSources(t)
	browser := startBrowser(t)
	srv := startServer(t)
	testNews(t, browser, srv)
}

// serverStore opens the running server's database from the test, as a
// second process would: the test puts there what the feeds and the engine
// would (headlines, a rule's fire).
func serverStore(t *testing.T, srv *server) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(srv.DataDir, "polybot.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testNews: a user opens News from the navigation and sees the platform's
// latest headlines as links; writes a rule, gets a field error next to the
// field, tests the rule on the latest headlines (two fire, one falls in
// the cooldown, as worked out by hand), saves it, turns it off (it stays
// off after a reload); a fire the engine records appears within the
// refresh with its latency and a link to its orders; a webhook's secret is
// shown once with a copy button and a signed curl example, never again;
// deleting asks first. The page never scrolls sideways on a phone.
func testNews(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "news", 150*time.Second)
	uid := tb.signUpAPI(newEmail("news"), "news-password-123", "Nina News")
	tenant, err := polybot.ParseID(uid)
	if err != nil {
		t.Fatal(err)
	}
	db := serverStore(t, srv)
	now := time.Now().UTC().Truncate(time.Second)
	ctx := context.Background()
	err = db.Admin(ctx, func(tx polybot.AdminTx) error {
		for _, h := range []*polybot.Headline{
			{ID: "h-bt-williams", Source: "bt-wire", SourceName: "Test wire", Title: "Fed's Williams sees room for a rate cut in the near term",
				Link: "https://news.example.com/williams", Published: now.Add(-31 * time.Minute), Received: now.Add(-30 * time.Minute)},
			{ID: "h-bt-williams-2", Source: "bt-wire", SourceName: "Test wire", Title: "Williams: policy 'modestly restrictive', a cut possible",
				Link: "https://news.example.com/williams-2", Received: now.Add(-26 * time.Minute)},
			{ID: "h-bt-powell", Source: "bt-wire", SourceName: "Test wire", Title: "Powell: no hike, and no cut decided", Received: now.Add(-22 * time.Minute)},
			{ID: "h-bt-waller", Source: "bt-wire", SourceName: "Test wire", Title: "Waller backs a December cut", Link: "https://news.example.com/waller",
				Received: now.Add(-15 * time.Minute)},
		} {
			if err := tx.PutHeadline(h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	tb.open("/dashboard")
	tb.click("nav-news")
	tb.waitPage("/news")
	tb.waitFor("the headlines", `document.querySelectorAll('#headlines-table tr.headline-row').length === 4`)
	link := eval[string](tb, `(function(){var a=document.querySelector('#headlines-table a[href="https://news.example.com/williams"]'); return a ? a.rel + '|' + a.target + '|' + a.textContent : ''})()`)
	if link != "noopener noreferrer nofollow|_blank|Fed's Williams sees room for a rate cut in the near term" {
		t.Errorf("the Williams headline's link: %q", link)
	}

	// A rule with a bad max price: the error is next to its field.
	tb.fill("rule-form-name", "Fed cut")
	tb.fill("rule-form-any_of", "cut, rate cut")
	tb.fill("rule-form-none_of", "hike")
	tb.fill("rule-form-outcome", "NO")
	tb.fill("rule-form-markets", "kalshi KXFEDDECISION-25DEC-H0")
	tb.fill("rule-form-max_price", "1.5")
	tb.fill("rule-form-max_size", "100")
	tb.fill("rule-form-cooldown_seconds", "600")
	tb.click("rule-test")
	tb.fieldErrorNextToField("rule-form", "max_price", "below 1")
	tb.fill("rule-form-markets", "kalshi")
	tb.fill("rule-form-max_price", "0.62")
	tb.click("rule-test")
	tb.fieldErrorNextToField("rule-form", "markets", "line 1")
	tb.fill("rule-form-markets", "kalshi KXFEDDECISION-25DEC-H0")

	// Test it: Williams fires; Williams-2 (4 minutes later) is in its
	// 10-minute cooldown; Powell says "hike"; Waller (15 minutes after
	// Williams) fires.
	tb.click("rule-test")
	tb.waitFor("the test's results", `!document.getElementById('rule-test-results').hidden && document.querySelectorAll('#rule-test-table tr.test-row').length > 0`)
	got := eval[string](tb, `Array.prototype.map.call(document.querySelectorAll('#rule-test-table tr.test-row'), function(r){return r.dataset.headlineId + ':' + r.dataset.fired}).join(' ')`)
	if got != "h-bt-waller:true h-bt-williams-2:false h-bt-williams:true" {
		t.Errorf("the test's rows (newest first): %s", got)
	}
	if s := tb.text("#rule-test-summary"); !strings.Contains(s, "Replayed the latest 4 headlines: 2 would have fired, and 1 more matched inside the cooldown.") ||
		!strings.Contains(s, "Buy NO on 1 market at up to 0.62") {
		t.Errorf("the test's summary: %q", s)
	}
	tb.screenshot("news-rule-test")

	// Save it; it is listed; turn it off; it stays off.
	tb.click("rule-save")
	tb.waitFor("the rule listed", `document.querySelectorAll('#rules-table tr.rule-row').length === 1 && document.getElementById('rules-empty').hidden`)
	id := eval[string](tb, `document.querySelector('#rules-table tr.rule-row').dataset.ruleId`)
	if row := tb.text("#rule-" + id); !strings.Contains(row, "Fed cut") || !strings.Contains(row, "none of “hike”") {
		t.Errorf("the rule's row: %q", row)
	}
	if title := tb.text("#rule-editor-title"); title != "Edit rule" {
		t.Errorf("after saving, the editor says %q, want Edit rule", title)
	}
	tb.click("rule-" + id + "-enabled")
	tb.waitFor("the rule off", `JSON.parse(document.getElementById('rule-`+id+`').dataset.rule).enabled === false`)
	tb.open("/news")
	tb.waitFor("the page again", `document.getElementById('rule-`+id+`-enabled')`)
	if eval[bool](tb, `document.getElementById('rule-`+id+`-enabled').checked`) {
		t.Error("the rule is on again after a reload")
	}

	// An equity rule (Alpaca): a bad symbol is refused next to the equity
	// order; corrected, it saves, its row says what it does, and editing it
	// shows its order again.
	tb.click("rule-new")
	tb.fill("rule-form-name", "Rate cut: TLT")
	tb.fill("rule-form-any_of", "rate cut")
	tb.fill("rule-form-mode", "equity")
	tb.fill("rule-form-equity", "alpaca tlt buy 2 91.00")
	tb.click("rule-save")
	tb.fieldErrorNextToField("rule-form", "equity", "symbol")
	tb.fill("rule-form-equity", "alpaca TLT buy 2 91.00")
	tb.fill("rule-form-take_profit", "0.02")
	tb.click("rule-save")
	tb.waitFor("the equity rule listed", `document.querySelectorAll('#rules-table tr.rule-row').length === 2`)
	eq := eval[string](tb, `(function(){var r=Array.prototype.filter.call(document.querySelectorAll('#rules-table tr.rule-row'),function(x){return JSON.parse(x.dataset.rule).mode==='equity'});return r.length?r[0].dataset.ruleId:''})()`)
	if row := tb.text("#rule-" + eq); !strings.Contains(row, "equity") || !strings.Contains(row, "Buy 2 TLT on Alpaca at up to 91.00") || !strings.Contains(row, "take profit +2%") {
		t.Errorf("the equity rule's row: %q", row)
	}
	tb.click("rule-" + eq + "-edit")
	tb.waitFor("its order in the editor", `document.getElementById('rule-form-equity').value === 'alpaca TLT buy 2 91.00' && document.getElementById('rule-form-mode').value === 'equity'`)

	// What the engine records shows up within the refresh.
	err = db.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		return tx.PutNewsFire(&polybot.NewsFire{RuleID: id, HeadlineID: "h-bt-waller", Action: "ordered", OpportunityID: "opp-bt-news", LatencyMicros: 1834})
	})
	if err != nil {
		t.Fatal(err)
	}
	tb.waitFor("the fire, refreshed", `document.querySelectorAll('#fires-table tr.fire-row').length === 1`)
	if row := tb.text("#fires-table tr.fire-row"); !strings.Contains(row, "Fed cut") || !strings.Contains(row, "Waller backs a December cut") || !strings.Contains(row, "1.834 ms") {
		t.Errorf("the fire's row: %q", row)
	}
	if href := eval[string](tb, `document.querySelector('#fires-table tr.fire-row a[href^="/orders"]').getAttribute('href')`); href != "/orders?opportunity=opp-bt-news" {
		t.Errorf("the fire's orders link: %q", href)
	}

	// A webhook: the secret once, with a copy button and a signed example.
	tb.fill("hook-form-name", "Paid wire")
	tb.click("hook-create")
	tb.waitFor("the secret shown once", `!document.getElementById('hook-once').hidden && document.getElementById('hook-once-secret').value.indexOf('pbwh_') === 0`)
	secret := eval[string](tb, `document.getElementById('hook-once-secret').value`)
	curl := tb.text("#hook-once-curl")
	if !strings.Contains(curl, secret) || !strings.Contains(curl, srv.URL+"/api/v1/news/hooks/hook-") || !strings.Contains(curl, "openssl dgst -sha256 -hmac") ||
		!strings.Contains(curl, "X-PolyBot-Signature") {
		t.Errorf("the curl example: %q", curl)
	}
	if !eval[bool](tb, `!!document.getElementById('hook-once-copy')`) {
		t.Error("no copy button beside the secret")
	}
	tb.waitFor("the hook listed", `document.querySelectorAll('#hooks-table tr.hook-row').length === 1`)
	tb.screenshot("news")
	tb.click("hook-once-done")
	tb.waitFor("the secret hidden", `document.getElementById('hook-once').hidden && document.getElementById('hook-once-secret').value === ''`)
	tb.open("/news")
	tb.waitFor("the page again", `document.querySelector('#hooks-table tr.hook-row')`)
	if strings.Contains(tb.dom(), secret) || strings.Contains(tb.dom(), secret[5:]) {
		tb.fatalf("the hook's secret is in the page after a reload")
	}
	hook := eval[string](tb, `document.querySelector('#hooks-table tr.hook-row').dataset.hookId`)
	tb.click("hook-" + hook + "-delete")
	tb.waitFor("the confirmation dialog", `document.getElementById('confirm-dialog').open`)
	if msg := tb.text("#confirm-message"); !strings.Contains(msg, "Paid wire") {
		t.Errorf("confirmation %q does not name the webhook", msg)
	}
	tb.click("confirm-ok")
	tb.waitFor("the hook gone", `!document.querySelector('#hooks-table tr.hook-row') && !document.getElementById('hooks-empty').hidden`)

	// Delete the rules, each after a confirmation.
	for _, r := range []string{eq, id} {
		tb.click("rule-" + r + "-delete")
		tb.waitFor("the confirmation dialog", `document.getElementById('confirm-dialog').open`)
		tb.click("confirm-ok")
		tb.waitFor("the rule gone", `!document.getElementById('rule-`+r+`')`)
	}
	tb.waitFor("no rules left", `!document.querySelector('#rules-table tr.rule-row') && !document.getElementById('rules-empty').hidden`)
}
