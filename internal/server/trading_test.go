package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// recordTrade puts an intent and its fill on the tenant's books, as the
// engine would.
func recordTrade(t *testing.T, env *testEnv, tenant polybot.ID, id, price, size string, side polybot.Side) {
	t.Helper()
	inst := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFEDDECISION-25DEC-H0", Outcome: polybot.Yes}
	err := env.Store.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
		in := &polybot.Intent{ID: id, OpportunityID: "opp-" + id, Strategy: polybot.StrategyCrossPlatform, Mode: polybot.DryRun,
			Instrument: inst, Side: side, Price: polybot.MustDecimal(price), Size: polybot.MustDecimal(size), TIF: polybot.FOK}
		if err := polybot.SubmitIntent(tx, in, nil); err != nil {
			return err
		}
		_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "t-" + id, ClientOrderID: id,
			Strategy: polybot.StrategyCrossPlatform, Mode: polybot.DryRun, Instrument: inst, Side: side,
			Price: polybot.MustDecimal(price), Size: polybot.MustDecimal(size), Fee: polybot.MustDecimal("0.02"), Time: time.Now()}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTradesPositionsAndPnLAreTheTenantsOwn(t *testing.T) {
	env := newEnv(t, nil)
	a := env.client().signup("trader-a@example.com")
	b := env.client().signup("trader-b@example.com")
	recordTrade(t, env, a.user.ID, "pb-a1", "0.40", "10", polybot.Buy)
	recordTrade(t, env, a.user.ID, "pb-a2", "0.50", "4", polybot.Sell)
	runCases(t, a, []apiCase{
		{"trades", "GET", "/api/v1/trades", nil, 200, "", `"trade_id":"t-pb-a2"`},
		{"orders", "GET", "/api/v1/orders", nil, 200, "", `"client_order_id":"pb-a1"`},
		{"filled orders", "GET", "/api/v1/orders?state=filled", nil, 200, "", `"state":"filled"`},
		{"orders say why", "GET", "/api/v1/orders?state=filled", nil, 200, "", `"reason":"Filled 10.00 at up to 0.40"`},
		{"orders by market", "GET", "/api/v1/orders?market=KXFEDDECISION-25DEC-H0&strategy=cross_platform&venue=kalshi&mode=dry_run", nil, 200, "", `"client_order_id":"pb-a2"`},
		{"orders of another market", "GET", "/api/v1/orders?market=KXOTHER", nil, 200, "", `"orders":[]`},
		{"orders in a date range", "GET", "/api/v1/orders?from=2000-01-01&to=2999-01-01&state=filled,partial", nil, 200, "", `"client_order_id":"pb-a1"`},
		{"orders as CSV", "GET", "/api/v1/orders?format=csv", nil, 200, "", "created_at,client_order_id,opportunity_id"},
		{"bad order state", "GET", "/api/v1/orders?state=done", nil, 400, "state", ""},
		{"bad order venue", "GET", "/api/v1/orders?venue=nyse", nil, 400, "venue", ""},
		{"bad order date", "GET", "/api/v1/orders?from=monday", nil, 400, "from", ""},
		{"reversed dates", "GET", "/api/v1/orders?from=2030-01-02&to=2030-01-01", nil, 400, "to", ""},
		{"NUL in market", "GET", "/api/v1/orders?market=a%00b", nil, 400, "market", ""},
		// 10 bought at 0.40 + 0.02 fee → avg 0.402; 4 sold at 0.50 − 0.02 fee → (0.50−0.402)×4 − 0.02 = 0.372.
		{"positions", "GET", "/api/v1/positions", nil, 200, "", `"size":"6.00","avg_price":"0.402"`},
		{"pnl", "GET", "/api/v1/pnl", nil, 200, "", `"realized":"0.372"`},
		{"locked pnl", "GET", "/api/v1/pnl", nil, 200, "", `"locked_total":{"dry_run":"0.00","live":"0.00"}`},
		{"bad limit", "GET", "/api/v1/trades?limit=0", nil, 400, "limit", ""},
		{"bad before", "GET", "/api/v1/trades?before=yesterday", nil, 400, "before", ""},
		{"bot needs the manager", "GET", "/api/v1/bot", nil, 503, "", "not running"},
	})
	for _, p := range []string{"/api/v1/trades", "/api/v1/orders", "/api/v1/positions", "/api/v1/pnl"} {
		r := b.do("GET", p, nil)
		expectStatus(t, r, 200)
		if strings.Contains(string(r.Body), "pb-a") || strings.Contains(string(r.Body), "0.402") {
			t.Errorf("B's %s shows A's trading: %s", p, r.Body)
		}
	}
}

func TestHaltsAndTheMarketRegistry(t *testing.T) {
	env := newEnv(t, nil)
	u := env.client().signup("halt-user@example.com")
	adm := env.client().signup("halt-admin@example.com").makeAdmin()
	uid := u.user.ID.String()
	runCases(t, u, []apiCase{
		{"bad halt state", "PUT", "/api/v1/bot/halt", map[string]string{"state": "paused"}, 400, "state", ""},
		{"halt own bot", "PUT", "/api/v1/bot/halt", map[string]string{"state": "halted"}, 200, "", `"halted"`},
		{"users see approved pairs", "GET", "/api/v1/market-pairs", nil, 200, "", `"fed-dec2025-hold"`},
		{"users cannot edit pairs", "PUT", "/api/v1/admin/market-pairs/x", map[string]any{"name": "x"}, 403, "", ""},
		{"users cannot pull the kill switch", "PUT", "/api/v1/admin/halt", map[string]string{"state": "halted"}, 403, "", ""},
	})
	// A halted tenant's orders are refused by the risk gate.
	err := env.Store.Tenant(context.Background(), u.user.ID, func(tx polybot.TenantTx) error {
		return polybot.SubmitIntent(tx, &polybot.Intent{ID: "pb-h1", Mode: polybot.DryRun, Strategy: polybot.StrategySinglePlatform,
			Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "M", Outcome: polybot.Yes}, Side: polybot.Buy,
			Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("1"), TIF: polybot.FOK}, nil)
	})
	if polybot.RiskReason(err) != polybot.RiskHalted {
		t.Fatalf("halted tenant's intent: %v", err)
	}
	runCases(t, adm, []apiCase{
		{"global kill switch", "PUT", "/api/v1/admin/halt", map[string]string{"state": "reducing_only"}, 200, "", ""},
		{"read it back", "GET", "/api/v1/admin/halt", nil, 200, "", `"reducing_only"`},
		{"halt a tenant", "PUT", "/api/v1/admin/users/" + uid + "/halt", map[string]string{"state": "halted"}, 200, "", ""},
		{"pair needs fields", "PUT", "/api/v1/admin/market-pairs/new-pair", map[string]any{"name": "x"}, 400, "legs", ""},
		{"pair legs on one venue", "PUT", "/api/v1/admin/market-pairs/new-pair", map[string]any{"name": "x", "legs": []any{
			map[string]any{"venue": "kalshi", "market": "KXA"}, map[string]any{"venue": "kalshi", "market": "KXB"}}}, 400, "legs[1].venue", ""},
		{"pair legacy and legs", "PUT", "/api/v1/admin/market-pairs/new-pair", map[string]any{"name": "x", "kalshi_ticker": "K", "legs": []any{
			map[string]any{"venue": "kalshi", "market": "KXA"}, map[string]any{"venue": "ibkr", "yes": "1", "no": "2"}}}, 400, "legs", ""},
		{"legacy pair names its field", "PUT", "/api/v1/admin/market-pairs/new-pair", map[string]any{"name": "x", "polymarket_yes_token": "1",
			"polymarket_no_token": "2"}, 400, "kalshi_ticker", ""},
		{"add a ForecastEx–Kalshi pair", "PUT", "/api/v1/admin/market-pairs/fx-pair", map[string]any{"name": "Fed holds (ForecastEx)", "legs": []any{
			map[string]any{"venue": "ibkr", "market": "FF", "yes": "7001", "no": "7002"}, map[string]any{"venue": "kalshi", "market": "KXFED-H0"}}},
			200, "", `"legs":[{"venue":"ibkr","market":"FF","yes":"7001","no":"7002"},{"venue":"kalshi","market":"KXFED-H0"}]`},
		{"add an unapproved pair", "PUT", "/api/v1/admin/market-pairs/new-pair", map[string]any{"name": "CPI above 3%", "polymarket_yes_token": "1", "polymarket_no_token": "2", "kalshi_ticker": "KXCPI-X", "resolution_notes": "both use BLS CPI-U"}, 200, "", `"approved":false`},
		{"admins see unapproved pairs", "GET", "/api/v1/market-pairs", nil, 200, "", `"new-pair"`},
		{"delete it", "DELETE", "/api/v1/admin/market-pairs/new-pair", nil, 204, "", ""},
		{"delete again", "DELETE", "/api/v1/admin/market-pairs/new-pair", nil, 404, "", ""},
	})
	// The tenant cannot lift the admin's halt.
	expectStatus(t, u.do("PUT", "/api/v1/bot/halt", map[string]string{"state": "active"}), 200)
	err = env.Store.TenantView(context.Background(), u.user.ID, func(tx polybot.TenantTx) error {
		st, err := tx.HaltState()
		if err == nil && st != polybot.HaltHalted {
			t.Errorf("tenant lifted the admin's halt: %s", st)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := u.do("GET", "/api/v1/market-pairs", nil); strings.Contains(string(r.Body), "new-pair") {
		t.Error("a user sees an unapproved pair")
	}
}

func TestPnLCountsACompletedSetAsLockedIn(t *testing.T) {
	env := newEnv(t, nil)
	a := env.client().signup("sets@example.com")
	for i, o := range []polybot.Outcome{polybot.Yes, polybot.No} {
		price := []string{"0.40", "0.55"}[i]
		inst := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXSET-1", Outcome: o}
		id := "pb-set-" + o.String()
		err := env.Store.Tenant(context.Background(), a.user.ID, func(tx polybot.TenantTx) error {
			in := &polybot.Intent{ID: id, OpportunityID: "opp-set", Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun,
				Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal(price), Size: polybot.MustDecimal("10"), TIF: polybot.FOK}
			if err := polybot.SubmitIntent(tx, in, nil); err != nil {
				return err
			}
			_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "t-" + id, ClientOrderID: id,
				Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Instrument: inst, Side: polybot.Buy,
				Price: polybot.MustDecimal(price), Size: polybot.MustDecimal("10"), Fee: polybot.MustDecimal("0.02"), Time: time.Now()}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// YES at 0.402 and NO at 0.552 a contract, fees included: 10 sets at
	// 0.954 pay $10 at resolution whatever happens, so 0.46 is locked in.
	r := a.do("GET", "/api/v1/pnl", nil)
	expectStatus(t, r, 200)
	for _, want := range []string{`"locked_total":{"dry_run":"0.46","live":"0.00"}`, `"strategy":"locked/dry_run","total":"0.46"`, `"sets":"10.00","cost":"0.954"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("pnl lacks %s: %s", want, r.Body)
		}
	}
}

// testTradesFilterAndPage: GET /api/v1/trades filters by strategy, venue,
// market (ticker, condition id or token) and mode, and pages with the
// next_before cursor it returns when a page is full.
func testTradesFilterAndPage(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	a := env.client().signup("trades-filter@example.com")
	b := env.client().signup("trades-other@example.com")
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	kA := polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-A", Outcome: polybot.Yes}
	kB := polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-B", Outcome: polybot.No}
	pm := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcond", Token: "777", Outcome: polybot.No}
	rows := []struct {
		id       string
		strategy string
		inst     polybot.Instrument
		mode     polybot.ExecMode
		min      int
	}{
		{"f1", polybot.StrategySinglePlatform, kA, polybot.DryRun, 0},
		{"f2", polybot.StrategyCrossPlatform, pm, polybot.DryRun, 1},
		{"f3", polybot.StrategyCrossPlatform, kB, polybot.Live, 2},
		{"f4", polybot.StrategySinglePlatform, pm, polybot.Live, 3},
		{"f5", polybot.StrategyCrossPlatform, kA, polybot.DryRun, 4},
	}
	insert := func(tenant polybot.ID, prefix string) {
		err := env.Store.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
			for _, r := range rows {
				if err := tx.InsertFill(&polybot.TradeFill{Venue: r.inst.Venue, TradeID: prefix + r.id, Strategy: r.strategy, Mode: r.mode,
					Instrument: r.inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("2"),
					Time: t0.Add(time.Duration(r.min) * time.Minute)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	insert(a.user.ID, "a-")
	insert(b.user.ID, "b-")
	at := func(min int) string { return t0.Add(time.Duration(min) * time.Minute).Format(time.RFC3339Nano) }
	for _, c := range []struct {
		name, query string
		want        []string
		next        string // the next_before wanted, "" for none
	}{
		{"all", "", []string{"a-f5", "a-f4", "a-f3", "a-f2", "a-f1"}, ""},
		{"strategy", "strategy=single_platform", []string{"a-f4", "a-f1"}, ""},
		{"venue", "venue=polymarket", []string{"a-f4", "a-f2"}, ""},
		{"kalshi ticker", "market=KX-A", []string{"a-f5", "a-f1"}, ""},
		{"polymarket token", "market=777", []string{"a-f4", "a-f2"}, ""},
		{"polymarket condition id", "market=0xcond", []string{"a-f4", "a-f2"}, ""},
		{"mode", "mode=live", []string{"a-f4", "a-f3"}, ""},
		{"filters together", "strategy=cross_platform&venue=kalshi&mode=dry_run", []string{"a-f5"}, ""},
		{"a full page has a cursor", "limit=2", []string{"a-f5", "a-f4"}, at(3)},
		{"the next page", "limit=2&before=" + at(3), []string{"a-f3", "a-f2"}, at(1)},
		{"the last page", "limit=2&before=" + at(1), []string{"a-f1"}, ""},
		{"a filtered page", "mode=dry_run&limit=2", []string{"a-f5", "a-f2"}, at(1)},
		{"its next page", "mode=dry_run&limit=2&before=" + at(1), []string{"a-f1"}, ""},
		{"no match", "market=KX-NONE", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.do("GET", "/api/v1/trades?"+c.query, nil)
			expectStatus(t, r, 200)
			var body struct {
				Trades []struct {
					TradeID string `json:"trade_id"`
				} `json:"trades"`
				NextBefore *string `json:"next_before"`
			}
			r.JSON(t, &body)
			var got []string
			for _, x := range body.Trades {
				got = append(got, x.TradeID)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("trades?%s = %v, want %v", c.query, got, c.want)
			}
			switch {
			case c.next == "" && body.NextBefore != nil:
				t.Errorf("trades?%s: next_before %q on a short page", c.query, *body.NextBefore)
			case c.next != "" && (body.NextBefore == nil || *body.NextBefore != c.next):
				t.Errorf("trades?%s: next_before %v, want %s", c.query, body.NextBefore, c.next)
			}
		})
	}
	runCases(t, a, []apiCase{
		{"bad venue", "GET", "/api/v1/trades?venue=nyse", nil, 400, "venue", ""},
		{"bad mode", "GET", "/api/v1/trades?mode=paper", nil, 400, "mode", ""},
		{"NUL in market", "GET", "/api/v1/trades?market=a%00b", nil, 400, "market", ""},
		{"invalid UTF-8 in strategy", "GET", "/api/v1/trades?strategy=%ff", nil, 400, "strategy", ""},
		{"limit too large", "GET", "/api/v1/trades?limit=1001", nil, 400, "limit", ""},
	})
}

func TestTradesFilterAndPage(t *testing.T) { testTradesFilterAndPage(t, nil) }

// testTradesPagesNeverSplitAnInstant: fills that share a time (a venue may
// stamp several with one) are never split by a page boundary, since the
// cursor is a time; paging lists every fill once.
func testTradesPagesNeverSplitAnInstant(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	a := env.client().signup("trades-ties@example.com")
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	inst := polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-T", Outcome: polybot.Yes}
	// Recorded in this order: t1 at 0 s, t2 t3 t4 at 1 s, t5 t6 at 2 s.
	at := []int{0, 1, 1, 1, 2, 2}
	err := env.Store.Tenant(context.Background(), a.user.ID, func(tx polybot.TenantTx) error {
		for i, sec := range at {
			if err := tx.InsertFill(&polybot.TradeFill{Venue: polybot.Kalshi, TradeID: fmt.Sprint("t", i+1), Strategy: polybot.StrategySinglePlatform,
				Mode: polybot.DryRun, Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("1"),
				Time: t0.Add(time.Duration(sec) * time.Second)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := func(sec int, us int) string {
		return t0.Add(time.Duration(sec)*time.Second + time.Duration(us)*time.Microsecond).Format(time.RFC3339Nano)
	}
	for _, c := range []struct {
		name, query string
		want        []string
		next        string
	}{
		// t6 t5 t4 would split 1 s (t3 and t2 are there too): the page ends
		// at 2 s, and the next one takes in all of 1 s.
		{"a page ends before an instant it would split", "limit=3", []string{"t6", "t5"}, ts(1, 1)},
		{"the next page has the whole instant", "limit=3&before=" + ts(1, 1), []string{"t4", "t3", "t2"}, ts(1, 0)},
		{"and then the rest", "limit=3&before=" + ts(1, 0), []string{"t1"}, ""},
		// A page that ends on a whole instant needs no moving.
		{"an instant that ends with the page", "limit=2", []string{"t6", "t5"}, ts(2, 0)},
		{"a page wholly of one instant", "limit=2&before=" + ts(2, 0), []string{"t4", "t3"}, ts(1, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.do("GET", "/api/v1/trades?"+c.query, nil)
			expectStatus(t, r, 200)
			var body struct {
				Trades []struct {
					TradeID string `json:"trade_id"`
				} `json:"trades"`
				NextBefore string `json:"next_before"`
			}
			r.JSON(t, &body)
			var got []string
			for _, x := range body.Trades {
				got = append(got, x.TradeID)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") || body.NextBefore != c.next {
				t.Errorf("trades?%s = %v next %q, want %v next %q", c.query, got, body.NextBefore, c.want, c.next)
			}
		})
	}
}

func TestTradesPagesNeverSplitAnInstant(t *testing.T) { testTradesPagesNeverSplitAnInstant(t, nil) }
