package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
)

const whale = "0x56687bf447db6ffa42ffe2204a05edaa20f55839"

// leaderJSON is a valid proportional leader body, edited by edit.
func leaderJSON(edit func(m map[string]any)) map[string]any {
	m := map[string]any{"address": whale, "label": "Whale", "mode": "proportional", "multiplier": "0.5",
		"max_trade_usd": "25", "max_day_usd": "100", "min_leader_usd": "10", "price_guard": "0.02", "max_age_seconds": 90}
	if edit != nil {
		edit(m)
	}
	return m
}

func userID(t *testing.T, st polybot.Store, email string) polybot.ID {
	t.Helper()
	var id polybot.ID
	if err := st.AdminView(context.Background(), func(tx polybot.AdminTx) error {
		u, err := tx.UserByEmail(email)
		if err == nil {
			id = u.ID
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// testCopyAPI drives the copy-trading API on whichever store open makes:
// leaders (CRUD, every bad input a 4xx naming its field, a wallet followed
// once), their copies and P&L; users see only their own; every change is
// audited and reloads the bot.
func testCopyAPI(t *testing.T, open storeOpener) {
	env := newEnvWith(t, open, func(c *server.Config) {
		c.MetricsToken = "copy-metrics"
		c.Bots = &fakeBots{running: map[polybot.ID]bool{}}
	})
	a := env.client().signup("copy-a@example.com")
	b := env.client().signup("copy-b@example.com")

	runCases(t, a, []apiCase{
		{"no leaders yet", "GET", "/api/v1/copy/leaders", nil, 200, "", `{"leaders":[]}`},
		{"follow a wallet", "POST", "/api/v1/copy/leaders", leaderJSON(nil), 201, "", `"max_age_seconds":90`},
		{"follow one under its own id, address in capitals", "POST", "/api/v1/copy/leaders", leaderJSON(func(m map[string]any) {
			m["id"], m["address"], m["mode"], m["fixed_usd"] = "fixed", "0x"+strings.Repeat("AB", 20), "fixed", "12.5"
		}), 201, "", `"address":"0x` + strings.Repeat("ab", 20) + `"`},
		{"that id again is a conflict", "POST", "/api/v1/copy/leaders", leaderJSON(func(m map[string]any) {
			m["id"], m["address"] = "fixed", "0x"+strings.Repeat("cd", 20)
		}), 409, "id", ""},
		{"the same wallet again is a conflict naming address", "POST", "/api/v1/copy/leaders", leaderJSON(func(m map[string]any) {
			m["address"] = "0x" + strings.ToUpper(whale[2:])
		}), 409, "address", ""},
		{"read it, with its sizing in words", "GET", "/api/v1/copy/leaders/fixed", nil, 200, "", `"sizing":"$12.50 a trade; at most $25.00 a trade; at most $100.00 a day`},
		{"pause it with a PUT", "PUT", "/api/v1/copy/leaders/fixed", leaderJSON(func(m map[string]any) {
			m["address"], m["mode"], m["fixed_usd"], m["enabled"] = "0x"+strings.Repeat("ab", 20), "fixed", "12.5", false
		}), 200, "", `"enabled":false`},
		{"a PUT without enabled keeps it paused", "PUT", "/api/v1/copy/leaders/fixed", leaderJSON(func(m map[string]any) {
			m["address"], m["mode"], m["fixed_usd"] = "0x"+strings.Repeat("ab", 20), "fixed", "20"
		}), 200, "", `"enabled":false`},
		{"a PUT of a new id creates it", "PUT", "/api/v1/copy/leaders/pct", leaderJSON(func(m map[string]any) {
			m["address"], m["mode"], m["balance_pct"], m["max_age_seconds"] = "0x"+strings.Repeat("01", 20), "balance_pct", "2.5", 0
		}), 201, "", `"max_age_seconds":60`},
		{"a GET's answer can be PUT back", "PUT", "/api/v1/copy/leaders/pct", leaderJSON(func(m map[string]any) {
			m["id"], m["address"], m["mode"], m["balance_pct"] = "pct", "0x"+strings.Repeat("01", 20), "balance_pct", "2.5"
			m["created_at"], m["updated_at"], m["sizing"] = "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "ignored"
		}), 200, "", `"sizing":"2.5% of your balance a trade`},
		{"a PUT whose body names another id", "PUT", "/api/v1/copy/leaders/pct", leaderJSON(func(m map[string]any) { m["id"] = "other" }), 400, "id", ""},
		{"an unknown leader", "GET", "/api/v1/copy/leaders/nope", nil, 404, "", `"code":"not_found"`},
		{"copies of an unknown leader", "GET", "/api/v1/copy/leaders/nope/copies", nil, 404, "", ""},
		{"P&L of an unknown leader", "GET", "/api/v1/copy/leaders/nope/pnl", nil, 404, "", ""},
		{"delete an unknown leader", "DELETE", "/api/v1/copy/leaders/nope", nil, 404, "", ""},
		{"delete pct", "DELETE", "/api/v1/copy/leaders/pct", nil, 204, "", ""},
	})

	bad := func(name, field string, edit func(m map[string]any)) apiCase {
		return apiCase{name, "POST", "/api/v1/copy/leaders", leaderJSON(func(m map[string]any) {
			m["address"] = "0x" + strings.Repeat("99", 20)
			edit(m)
		}), 400, field, ""}
	}
	runCases(t, a, []apiCase{
		{"malformed JSON", "POST", "/api/v1/copy/leaders", `{"address":`, 400, "body", ""},
		bad("an unknown field", "colour", func(m map[string]any) { m["colour"] = "red" }),
		bad("no address", "address", func(m map[string]any) { delete(m, "address") }),
		bad("an address too short", "address", func(m map[string]any) { m["address"] = "0xabc" }),
		bad("an address that is not hex", "address", func(m map[string]any) { m["address"] = "0x" + strings.Repeat("zz", 20) }),
		bad("an address of the wrong type", "address", func(m map[string]any) { m["address"] = 42 }),
		bad("an id too long", "id", func(m map[string]any) { m["id"] = strings.Repeat("x", 65) }),
		bad("a label with a NUL", "label", func(m map[string]any) { m["label"] = "a\x00b" }),
		bad("an unknown mode", "mode", func(m map[string]any) { m["mode"] = "yolo" }),
		bad("a zero multiplier", "multiplier", func(m map[string]any) { m["multiplier"] = "0" }),
		bad("a multiplier over 100", "multiplier", func(m map[string]any) { m["multiplier"] = "101" }),
		bad("a multiplier that is not a number", "multiplier", func(m map[string]any) { m["multiplier"] = "lots" }),
		bad("fixed without dollars", "fixed_usd", func(m map[string]any) { m["mode"] = "fixed" }),
		bad("a balance share over 100", "balance_pct", func(m map[string]any) { m["mode"], m["balance_pct"] = "balance_pct", "150" }),
		bad("a negative trade cap", "max_trade_usd", func(m map[string]any) { m["max_trade_usd"] = "-1" }),
		bad("a negative market cap", "max_market_usd", func(m map[string]any) { m["max_market_usd"] = "-1" }),
		bad("a negative day cap", "max_day_usd", func(m map[string]any) { m["max_day_usd"] = "-0.01" }),
		bad("a negative minimum", "min_leader_usd", func(m map[string]any) { m["min_leader_usd"] = "-5" }),
		bad("a price guard of a dollar", "price_guard", func(m map[string]any) { m["price_guard"] = "1" }),
		bad("a staleness over an hour", "max_age_seconds", func(m map[string]any) { m["max_age_seconds"] = 3601 }),
		bad("a negative staleness", "max_age_seconds", func(m map[string]any) { m["max_age_seconds"] = -1 }),
		bad("a staleness past any integer", "max_age_seconds", func(m map[string]any) { m["max_age_seconds"] = 1e30 }),
		bad("enabled as a word", "enabled", func(m map[string]any) { m["enabled"] = "yes" }),
		{"a PUT with a bad path id", "PUT", "/api/v1/copy/leaders/" + strings.Repeat("x", 65), leaderJSON(nil), 400, "id", ""},
	})

	// Copies and P&L: the engine's records and fills, as the store holds them.
	aID := userID(t, env.Store, "copy-a@example.com")
	var leaderID string
	var list struct {
		Leaders []struct {
			ID      string `json:"id"`
			Address string `json:"address"`
		} `json:"leaders"`
	}
	a.do("GET", "/api/v1/copy/leaders", nil).JSON(t, &list)
	for _, l := range list.Leaders {
		if l.Address == whale {
			leaderID = l.ID
		}
	}
	if !strings.HasPrefix(leaderID, "leader-") {
		t.Fatalf("the whale's leader id %q, want a made-up leader-…", leaderID)
	}
	inst := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcond", Token: "4242", Outcome: polybot.Yes}
	key := "0xfeed/4242"
	opp := polybot.CopyOpportunityID(leaderID, key)
	err := env.Store.Tenant(context.Background(), aID, func(tx polybot.TenantTx) error {
		at := tx.Now()
		for _, c := range []*polybot.CopyRecord{
			{LeaderID: leaderID, TradeKey: key, LeaderSide: polybot.Buy, LeaderPrice: polybot.MustDecimal("0.40"),
				LeaderSize: polybot.MustDecimal("500"), LeaderTime: at.Add(-3 * time.Second), Instrument: inst, Title: "Will it rain?",
				Action: polybot.CopyCopied, OpportunityID: opp, Size: polybot.MustDecimal("10"), Price: polybot.MustDecimal("0.41"), At: at},
			{LeaderID: leaderID, TradeKey: "0xstale/4242", LeaderSide: polybot.Buy, LeaderPrice: polybot.MustDecimal("0.45"),
				LeaderSize: polybot.MustDecimal("20"), LeaderTime: at.Add(-5 * time.Minute), Instrument: inst,
				Action: polybot.CopySkipped, Reason: "stale: 300 s old, limit 90 s", At: at.Add(time.Second)},
		} {
			if err := tx.PutCopyRecord(c); err != nil {
				return err
			}
		}
		for i, f := range []struct {
			side              polybot.Side
			price, size, fee  string
			realized, tradeID string
		}{{polybot.Buy, "0.41", "10", "0.01", "0", "t-buy"}, {polybot.Sell, "0.60", "10", "0.02", "1.90", "t-sell"}} {
			in := &polybot.Intent{ID: "pb-copy-" + f.tradeID, OpportunityID: opp, Strategy: polybot.StrategyCopy, Leg: i,
				Mode: polybot.DryRun, Instrument: inst, Side: f.side, Price: polybot.MustDecimal(f.price), Size: polybot.MustDecimal(f.size),
				TIF: polybot.FOK, State: polybot.IntentFilled}
			if err := tx.InsertIntent(in); err != nil {
				return err
			}
			if err := tx.InsertFill(&polybot.TradeFill{Venue: polybot.Polymarket, TradeID: f.tradeID, ClientOrderID: in.ID,
				Strategy: polybot.StrategyCopy, Mode: polybot.DryRun, Instrument: inst, Side: f.side, Price: in.Price, Size: in.Size,
				Fee: polybot.MustDecimal(f.fee), RealizedPnL: polybot.MustDecimal(f.realized), Time: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/copy/leaders/" + leaderID
	runCases(t, a, []apiCase{
		{"copies, newest first: the skip with its reason", "GET", base + "/copies", nil, 200, "", `"action":"skipped","reason":"stale: 300 s old, limit 90 s"`},
		{"copies carry the leader's own trade", "GET", base + "/copies", nil, 200, "", `"leader_side":"BUY"`},
		{"copies with a limit", "GET", base + "/copies?limit=1", nil, 200, "", `"trade_key":"0xstale/4242"`},
		{"a bad limit", "GET", base + "/copies?limit=x", nil, 400, "limit", ""},
		// Bought 10 at 0.41 (fee 0.01), sold 10 at 0.60 (fee 0.02): realised 1.90, fees 0.03, net 1.87, flat.
		{"P&L of the leader's copies", "GET", base + "/pnl", nil, 200, "", `"modes":[{"mode":"dry_run","realized":"1.90","fees":"0.03","net":"1.87","fills":2}],"open":[]`},
		{"P&L of a leader without copies", "GET", "/api/v1/copy/leaders/fixed/pnl", nil, 200, "", `"modes":[],"open":[]`},
	})
	r := a.do("GET", base+"/copies?limit=1", nil)
	if strings.Contains(string(r.Body), "0xfeed") {
		t.Errorf("limit=1 returned more than the newest: %s", r.Body)
	}

	runCases(t, b, []apiCase{
		{"b sees no leaders of a", "GET", "/api/v1/copy/leaders", nil, 200, "", `{"leaders":[]}`},
		{"b cannot read a's leader", "GET", base, nil, 404, "", ""},
		{"b cannot read a's copies", "GET", base + "/copies", nil, 404, "", ""},
		{"b cannot read a's P&L", "GET", base + "/pnl", nil, 404, "", ""},
		{"b cannot delete a's leader", "DELETE", base, nil, 404, "", ""},
		{"b may follow the same wallet", "POST", "/api/v1/copy/leaders", leaderJSON(nil), 201, "", ""},
	})

	// Every change is on a's audit trail, and reloaded the bot.
	var trail struct {
		Entries []struct {
			Action string `json:"action"`
		} `json:"entries"`
	}
	a.do("GET", "/api/v1/audit?limit=200", nil).JSON(t, &trail)
	seen := map[string]int{}
	for _, e := range trail.Entries {
		if strings.HasPrefix(e.Action, "copy.") {
			seen[e.Action]++
		}
	}
	want := map[string]int{"copy.leader_create": 2, "copy.leader_put": 4, "copy.leader_delete": 1}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("audit: %d × %s, want %d (all: %v)", seen[k], k, n, seen)
		}
	}
	_, metrics := getMetrics(t, env.URL+"/metrics", "copy-metrics")
	if want := `polybot_config_reload_duration_seconds_count{trigger="api"} 8`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q: 7 changes of a's and 1 of b's reload the bot", want)
	}
}

func TestCopyAPISQLite(t *testing.T)   { testCopyAPI(t, openSQLite) }
func TestCopyAPIPostgres(t *testing.T) { testCopyAPI(t, openPostgres) }

// The 21st leader is refused, naming what is full; editing one at the cap
// is not.
func TestCopyLeaderCapRefusesOneMore(t *testing.T) {
	env := newEnv(t, nil)
	a := env.client().signup("copy-cap@example.com")
	addr := func(i int) string {
		return "0x" + strings.Repeat("0", 38) + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16])
	}
	for i := range polybot.MaxLeaders {
		expectStatus(t, a.do("PUT", "/api/v1/copy/leaders/l"+addr(i)[40:], leaderJSON(func(m map[string]any) { m["address"] = addr(i) })), 201)
	}
	runCases(t, a, []apiCase{
		{"the 21st leader", "POST", "/api/v1/copy/leaders", leaderJSON(func(m map[string]any) { m["address"] = addr(200) }), 403, "leaders", ""},
		{"the 21st leader by PUT", "PUT", "/api/v1/copy/leaders/one-more", leaderJSON(func(m map[string]any) { m["address"] = addr(201) }), 403, "leaders", ""},
		{"editing one at the cap", "PUT", "/api/v1/copy/leaders/l00", leaderJSON(func(m map[string]any) { m["address"], m["label"] = addr(0), "edited" }), 200, "", `"label":"edited"`},
	})
}

// The Copy trading page shows the user's leaders (label, shortened
// address with a copy button, switch, sizing in words, P&L), the editor
// with every field, and each leader's recent trades with what we did and
// why; nothing of another user's; the navigation links to it.
func TestCopyPageShowsLeadersPnLAndCopies(t *testing.T) {
	env := newWebEnv(t, nil)
	a := env.client().signup("copy-page-a@example.com")
	b := env.client().signup("copy-page-b@example.com")
	expectStatus(t, a.do("PUT", "/api/v1/copy/leaders/whale", leaderJSON(nil)), 201)
	expectStatus(t, b.do("PUT", "/api/v1/copy/leaders/b-secret", leaderJSON(func(m map[string]any) { m["label"] = "B's private whale" })), 201)
	inst := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcond", Token: "4242", Outcome: polybot.Yes}
	opp := polybot.CopyOpportunityID("whale", "0xfeed/4242")
	if err := env.Store.Tenant(context.Background(), a.user.ID, func(tx polybot.TenantTx) error {
		now := tx.Now()
		for _, c := range []*polybot.CopyRecord{
			{LeaderID: "whale", TradeKey: "0xfeed/4242", LeaderSide: polybot.Buy, LeaderPrice: polybot.MustDecimal("0.4"),
				LeaderSize: polybot.MustDecimal("500"), LeaderTime: now.Add(-2 * time.Second), Instrument: inst, Title: "Will it rain in Paris?",
				Action: polybot.CopyCopied, OpportunityID: opp, Size: polybot.MustDecimal("25"), Price: polybot.MustDecimal("0.41"), At: now},
			{LeaderID: "whale", TradeKey: "0xchase/4242", LeaderSide: polybot.Buy, LeaderPrice: polybot.MustDecimal("0.3"),
				LeaderSize: polybot.MustDecimal("100"), LeaderTime: now.Add(-time.Second), Instrument: inst,
				Action: polybot.CopySkipped, Reason: "price guard: best ask 0.35 is 5¢ above the leader's 0.30", At: now},
		} {
			if err := tx.PutCopyRecord(c); err != nil {
				return err
			}
		}
		in := &polybot.Intent{ID: "pb-copy-1", OpportunityID: opp, Strategy: polybot.StrategyCopy, Mode: polybot.DryRun, Instrument: inst,
			Side: polybot.Sell, Price: polybot.MustDecimal("0.6"), Size: polybot.MustDecimal("10"), TIF: polybot.FOK, State: polybot.IntentFilled}
		if err := tx.InsertIntent(in); err != nil {
			return err
		}
		return tx.InsertFill(&polybot.TradeFill{Venue: polybot.Polymarket, TradeID: "t1", ClientOrderID: in.ID, Strategy: polybot.StrategyCopy,
			Mode: polybot.DryRun, Instrument: inst, Side: polybot.Sell, Price: in.Price, Size: in.Size, Fee: polybot.MustDecimal("0.05"),
			RealizedPnL: polybot.MustDecimal("1.25"), Time: now})
	}); err != nil {
		t.Fatal(err)
	}
	r := a.page("/copy")
	expectStatus(t, r, 200)
	expectSecurePage(t, "/copy", r)
	expectContains(t, "/copy", r,
		`id="nav-copy" aria-current="page"`, `id="copy-off"`,
		`id="leader-whale"`, `>Whale</span>`, `0x5668…5839`, `data-action="copy-address" data-address="`+whale+`"`,
		`id="leader-whale-enabled"`, `0.5× the leader&#39;s notional; at most $25.00 a trade`,
		`$1.20`, // 1.25 realised − 0.05 fees
		`id="leader-form-multiplier"`, `id="leader-form-fixed_usd"`, `id="leader-form-balance_pct"`, `id="leader-form-max_trade_usd"`,
		`id="leader-form-max_market_usd"`, `id="leader-form-max_day_usd"`, `id="leader-form-min_leader_usd"`,
		`id="leader-form-price_guard"`, `cents above the leader`, `id="leader-form-max_age_seconds"`,
		`id="copies-whale-table"`, `Will it rain in Paris?`, `BUY 500 at 0.40`, `$200.00`, `bought 25 at 0.41`,
		`/orders?opportunity=`+opp, `price guard: best ask 0.35 is 5¢ above the leader&#39;s 0.30`)
	if strings.Contains(string(r.Body), "B&#39;s private whale") || strings.Contains(string(r.Body), "b-secret") {
		t.Error("A's Copy trading page shows B's leader")
	}
	expectContains(t, "/dashboard", a.page("/dashboard"), `href="/copy" id="nav-copy"`)
}
