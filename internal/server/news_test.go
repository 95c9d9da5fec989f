package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
)

// ruleJSON is a valid direct rule body, edited by edit.
func ruleJSON(edit func(m map[string]any)) map[string]any {
	r := map[string]any{"name": "Fed cut", "any_of": []string{"cut", "rate cut"}, "none_of": []string{"hike"}, "mode": "direct",
		"markets": []any{kalshiMarketJSON("KXFEDDECISION-25DEC-H0")}, "outcome": "NO", "max_price": "0.62", "max_size": "100",
		"cooldown_seconds": 600}
	if edit != nil {
		edit(r)
	}
	return r
}

// putHeadlines stores the platform's headlines and tenant's own.
func putHeadlines(t *testing.T, st polybot.Store, tenant polybot.ID, platform, own []*polybot.Headline) {
	t.Helper()
	ctx := context.Background()
	if err := st.Admin(ctx, func(tx polybot.AdminTx) error {
		for _, h := range platform {
			if err := tx.PutHeadline(h); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(own) == 0 {
		return
	}
	if err := st.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		for _, h := range own {
			if err := tx.PutHeadline(h); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func newsHeadline(id, source, title string, received time.Time) *polybot.Headline {
	return &polybot.Headline{ID: id, Source: source, SourceName: "Source " + source, Title: title,
		Link: "https://news.example.com/" + id, Received: received}
}

// testNewsAPI drives the news API on whichever store open makes: rules
// (CRUD, every bad input a 4xx naming its field, never a 500), the rule
// test's replay, headlines and fires, a user's feeds and the platform's,
// webhooks (secret shown once); users see only their own.
func testNewsAPI(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	a := env.client().signup("news-a@example.com")
	b := env.client().signup("news-b@example.com")
	admin := env.client().signup("news-admin@example.com").makeAdmin()

	runCases(t, a, []apiCase{
		{"no rules yet", "GET", "/api/v1/news/rules", nil, 200, "", `{"rules":[]}`},
		{"create a rule", "POST", "/api/v1/news/rules", ruleJSON(nil), 201, "", `"window_seconds":300`},
		{"create one with its own id", "POST", "/api/v1/news/rules", ruleJSON(func(m map[string]any) { m["id"] = "fed-cut" }), 201, "", `"id":"fed-cut"`},
		{"that id again is a conflict", "POST", "/api/v1/news/rules", ruleJSON(func(m map[string]any) { m["id"] = "fed-cut" }), 409, "id", ""},
		{"read it", "GET", "/api/v1/news/rules/fed-cut", nil, 200, "", `"cooldown_seconds":600,"time_stop_seconds":1800`},
		{"its outcome reads as a word", "GET", "/api/v1/news/rules/fed-cut", nil, 200, "", `"outcome":"NO"`},
		{"pause it with a PUT", "PUT", "/api/v1/news/rules/fed-cut", ruleJSON(func(m map[string]any) { m["enabled"] = false }), 200, "", `"enabled":false`},
		{"a PUT without enabled keeps it paused", "PUT", "/api/v1/news/rules/fed-cut", ruleJSON(func(m map[string]any) { m["max_size"] = "7.5" }), 200, "", `"enabled":false`},
		{"a PUT of a new id creates it", "PUT", "/api/v1/news/rules/lag-1", ruleJSON(func(m map[string]any) {
			m["mode"], m["pairs"], m["markets"], m["threshold"], m["window_seconds"], m["time_stop_seconds"] = "lag", []string{"fed-dec2025-hold"}, nil, "0.05", 60, 900
		}), 201, "", `"threshold":"0.05"`},
		{"a GET's answer can be PUT back", "PUT", "/api/v1/news/rules/fed-cut", ruleJSON(func(m map[string]any) {
			m["id"], m["created_at"], m["updated_at"] = "fed-cut", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"
		}), 200, "", `"id":"fed-cut"`},
		{"rules are listed by id", "GET", "/api/v1/news/rules", nil, 200, "", `"id":"fed-cut"`},
		{"an unknown rule", "GET", "/api/v1/news/rules/nope", nil, 404, "", `"code":"not_found"`},
		{"delete an unknown rule", "DELETE", "/api/v1/news/rules/nope", nil, 404, "", ""},
		{"delete the lag rule", "DELETE", "/api/v1/news/rules/lag-1", nil, 204, "", ""},
		{"an equity rule: a rate cut buys TLT on Alpaca", "PUT", "/api/v1/news/rules/tlt", ruleJSON(func(m map[string]any) {
			m["mode"] = "equity"
			for _, k := range []string{"markets", "outcome", "max_price", "max_size"} {
				delete(m, k)
			}
			m["equity"] = map[string]any{"venue": "alpaca", "symbol": "TLT", "side": "buy", "quantity": "2", "max_price": "91.00"}
		}), 201, "", `"equity":{"venue":"alpaca","symbol":"TLT","side":"buy","quantity":"2.00","max_price":"91.00"}`},
		{"its action in words", "GET", "/api/v1/news/rules/tlt", nil, 200, "", `Buy 2 TLT on Alpaca at up to 91.00`},
		{"a hedge on a direct rule", "PUT", "/api/v1/news/rules/fed-cut", ruleJSON(func(m map[string]any) {
			m["hedge"] = map[string]any{"venue": "alpaca", "symbol": "TLT", "side": "buy", "quantity": "1", "max_price": "91.00"}
		}), 200, "", `"hedge":{"venue":"alpaca","symbol":"TLT"`},
		{"delete the equity rule", "DELETE", "/api/v1/news/rules/tlt", nil, 204, "", ""},
	})

	// Bad input: 400 naming the field, identically on both stores.
	bad := func(name, field string, edit func(m map[string]any)) apiCase {
		return apiCase{name, "POST", "/api/v1/news/rules", ruleJSON(edit), 400, field, ""}
	}
	runCases(t, a, []apiCase{
		{"malformed JSON", "POST", "/api/v1/news/rules", `{"name":`, 400, "body", ""},
		bad("an unknown field", "colour", func(m map[string]any) { m["colour"] = "red" }),
		bad("a rule without a name", "name", func(m map[string]any) { delete(m, "name") }),
		bad("a name of spaces", "name", func(m map[string]any) { m["name"] = "   " }),
		bad("no terms at all", "all_of", func(m map[string]any) { delete(m, "any_of") }),
		bad("a term of punctuation", "any_of[1]", func(m map[string]any) { m["any_of"] = []string{"cut", "!!"} }),
		bad("a term with a NUL", "none_of[0]", func(m map[string]any) { m["none_of"] = []string{"a\x00b"} }),
		bad("terms of the wrong type", "any_of", func(m map[string]any) { m["any_of"] = "cut" }),
		bad("a regex that does not compile", "regex", func(m map[string]any) { m["regex"] = "(" }),
		bad("an unknown mode", "mode", func(m map[string]any) { m["mode"] = "yolo" }),
		bad("a direct rule without markets", "markets", func(m map[string]any) { delete(m, "markets") }),
		bad("a lag rule without pairs", "pairs", func(m map[string]any) { m["mode"], m["threshold"] = "lag", "0.05" }),
		bad("a lag rule without a threshold", "threshold", func(m map[string]any) {
			m["mode"], m["pairs"], m["markets"] = "lag", []string{"p"}, nil
		}),
		bad("an equity rule without its order", "equity", func(m map[string]any) {
			m["mode"] = "equity"
			delete(m, "markets")
			delete(m, "max_price")
			delete(m, "max_size")
		}),
		bad("an equity symbol in lower case", "equity.symbol", func(m map[string]any) {
			m["mode"] = "equity"
			delete(m, "markets")
			delete(m, "max_price")
			delete(m, "max_size")
			m["equity"] = map[string]any{"venue": "alpaca", "symbol": "tlt", "side": "buy", "quantity": "2", "max_price": "91.00"}
		}),
		bad("an equity venue other than alpaca", "equity.venue", func(m map[string]any) {
			m["mode"] = "equity"
			delete(m, "markets")
			delete(m, "max_price")
			delete(m, "max_size")
			m["equity"] = map[string]any{"venue": "kalshi", "symbol": "TLT", "side": "buy", "quantity": "2", "max_price": "91.00"}
		}),
		bad("a hedge of half a share", "hedge.quantity", func(m map[string]any) {
			m["hedge"] = map[string]any{"venue": "alpaca", "symbol": "TLT", "side": "sell", "quantity": "0.5", "max_price": "91.00"}
		}),
		bad("a hedge with a side of short", "hedge.side", func(m map[string]any) {
			m["hedge"] = map[string]any{"venue": "alpaca", "symbol": "TLT", "side": "short", "quantity": "1", "max_price": "91.00"}
		}),
		bad("a market whose NO is YES", "markets[0].no", func(m map[string]any) {
			m["markets"].([]any)[0].(map[string]any)["no"].(map[string]any)["outcome"] = 0
		}),
		bad("an outcome of MAYBE", "outcome", func(m map[string]any) { m["outcome"] = "MAYBE" }),
		bad("an outcome as a number", "outcome", func(m map[string]any) { m["outcome"] = 1 }),
		bad("a max price of 1", "max_price", func(m map[string]any) { m["max_price"] = "1" }),
		bad("a max price with 7 places", "max_price", func(m map[string]any) { m["max_price"] = "0.1234567" }),
		bad("a max price that is not a number", "max_price", func(m map[string]any) { m["max_price"] = "cheap" }),
		bad("a max size of 0", "max_size", func(m map[string]any) { m["max_size"] = "0" }),
		bad("a window of 2 hours", "window_seconds", func(m map[string]any) { m["window_seconds"] = 7200 }),
		bad("a negative window", "window_seconds", func(m map[string]any) { m["window_seconds"] = -1 }),
		bad("a window past int64", "window_seconds", func(m map[string]any) { m["window_seconds"] = 1e19 }),
		bad("a window of 1.5 s", "window_seconds", func(m map[string]any) { m["window_seconds"] = 1.5 }),
		bad("a window so large its duration would overflow", "window_seconds", func(m map[string]any) { m["window_seconds"] = int64(1) << 62 }),
		bad("a cooldown of 2 days", "cooldown_seconds", func(m map[string]any) { m["cooldown_seconds"] = 172800 }),
		bad("a time stop of 8 days", "time_stop_seconds", func(m map[string]any) { m["time_stop_seconds"] = 8 * 86400 }),
		bad("a take profit of 1", "take_profit", func(m map[string]any) { m["take_profit"] = "1" }),
		bad("a negative stop loss", "stop_loss", func(m map[string]any) { m["stop_loss"] = "-0.01" }),
		bad("an id over 64 characters", "id", func(m map[string]any) { m["id"] = strings.Repeat("r", 65) }),
		bad("a source with a NUL", "sources[0]", func(m map[string]any) { m["sources"] = []string{"a\x00b"} }),
		{"a PUT whose body names another id", "PUT", "/api/v1/news/rules/fed-cut", ruleJSON(func(m map[string]any) { m["id"] = "other" }), 400, "id", ""},
		{"a rule id with a NUL", "GET", "/api/v1/news/rules/r%00", nil, 400, "id", ""},
		{"a rule id of invalid UTF-8", "DELETE", "/api/v1/news/rules/r%FF", nil, 400, "id", ""},
		{"a PUT to an id of invalid UTF-8", "PUT", "/api/v1/news/rules/r%FF", ruleJSON(nil), 400, "id", ""},
		{"nothing bad was stored", "GET", "/api/v1/news/rules", nil, 200, "", `"max_size":"100.00"`},
	})

	// B sees none of A's rules and cannot touch them.
	runCases(t, b, []apiCase{
		{"b has no rules", "GET", "/api/v1/news/rules", nil, 200, "", `{"rules":[]}`},
		{"b cannot read a's rule", "GET", "/api/v1/news/rules/fed-cut", nil, 404, "", ""},
		{"b cannot delete a's rule", "DELETE", "/api/v1/news/rules/fed-cut", nil, 404, "", ""},
		{"b's PUT of a's id makes b's own", "PUT", "/api/v1/news/rules/fed-cut", ruleJSON(func(m map[string]any) { m["name"] = "B's cut" }), 201, "", `"name":"B's cut"`},
		{"a saved-rule test of a's rule is not found", "POST", "/api/v1/news/rules/lag-1/test", nil, 404, "", ""},
	})
	runCases(t, a, []apiCase{
		{"a's rule is still a's", "GET", "/api/v1/news/rules/fed-cut", nil, 200, "", `"name":"Fed cut"`},
	})
	runCases(t, env.client(), []apiCase{
		{"signed out is 401", "GET", "/api/v1/news/rules", nil, 401, "", ""},
		{"signed out cannot test", "POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(nil)}, 401, "", ""},
	})

	// Headlines: the platform's are everyone's, a user's own are the
	// user's; the rule test replays what the user sees.
	t0 := time.Now().UTC().Truncate(time.Second)
	putHeadlines(t, env.Store, a.user.ID, []*polybot.Headline{
		newsHeadline("h-williams", "reuters", "Fed's Williams: room for a cut 'in the near term'", t0.Add(-30*time.Minute)),
		newsHeadline("h-williams-2", "wire", "Williams says room for a CUT", t0.Add(-25*time.Minute)),
		newsHeadline("h-powell", "reuters", "Powell: no hike, and no cut either", t0.Add(-22*time.Minute)),
		newsHeadline("h-waller", "wire", "Waller backs a cut", t0.Add(-20*time.Minute)),
	}, []*polybot.Headline{
		newsHeadline("h-private", "hook-a", "A's private wire: rate cut next week", t0.Add(-5*time.Minute)),
	})
	runCases(t, a, []apiCase{
		{"a sees the platform's and its own", "GET", "/api/v1/news/headlines", nil, 200, "", `"title":"A's private wire: rate cut next week"`},
		{"an undated headline's published is null", "GET", "/api/v1/news/headlines?limit=1", nil, 200, "", `"published":null`},
		{"a page of 2 says where the next begins", "GET", "/api/v1/news/headlines?limit=2", nil, 200, "", `"next":"`},
		{"before bounds the list", "GET", "/api/v1/news/headlines?before=" + t0.Add(-21*time.Minute).Format(time.RFC3339), nil, 200, "", `{"headlines":[{"id":"h-powell"`},
		{"a limit past 500", "GET", "/api/v1/news/headlines?limit=501", nil, 400, "limit", ""},
		{"a before that is no time", "GET", "/api/v1/news/headlines?before=yesterday", nil, 400, "before", ""},
		{"no fires yet", "GET", "/api/v1/news/fires", nil, 200, "", `{"fires":[]}`},
		{"a fires limit of 0", "GET", "/api/v1/news/fires?limit=0", nil, 400, "limit", ""},
	})
	r := b.do("GET", "/api/v1/news/headlines", nil)
	expectStatus(t, r, 200)
	if strings.Contains(string(r.Body), "private") || !strings.Contains(string(r.Body), "h-williams") {
		t.Errorf("b's headlines: %s; want the platform's and not a's private one", r.Body)
	}

	// The rule test: a hand-worked replay of the five headlines a sees.
	var test struct {
		Replayed int `json:"replayed"`
		Fired    int `json:"fired"`
		Hits     []struct {
			Headline struct {
				ID string `json:"id"`
			} `json:"headline"`
			Fired   bool   `json:"fired"`
			Reason  string `json:"reason"`
			Outcome string `json:"outcome"`
			Does    string `json:"does"`
			Targets []struct {
				Instrument *polybot.Instrument `json:"instrument"`
			} `json:"targets"`
		} `json:"hits"`
	}
	r = a.do("POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(func(m map[string]any) { delete(m, "name") })})
	expectStatus(t, r, 200)
	r.JSON(t, &test)
	// h-williams fires; h-williams-2 (5 min later) is in its 10-minute
	// cooldown; h-powell says "hike"; h-waller (10 min after) fires;
	// h-private fires.
	var got []string
	for _, h := range test.Hits {
		got = append(got, fmt.Sprintf("%s:%v", h.Headline.ID, h.Fired))
	}
	if strings.Join(got, " ") != "h-williams:true h-williams-2:false h-waller:true h-private:true" || test.Replayed != 5 || test.Fired != 3 {
		t.Fatalf("rule test: replayed %d, fired %d, hits %v", test.Replayed, test.Fired, got)
	}
	if h := test.Hits[0]; h.Outcome != "NO" || !strings.HasPrefix(h.Does, "Buy NO on 1 market at up to 0.62, at most 100 contracts") ||
		len(h.Targets) != 1 || h.Targets[0].Instrument == nil || h.Targets[0].Instrument.Market != "KXFEDDECISION-25DEC-H0" || h.Targets[0].Instrument.Outcome != polybot.No {
		t.Errorf("first hit %+v: want a buy of the market's NO", h)
	}
	if !strings.Contains(test.Hits[1].Reason, "cooldown") {
		t.Errorf("the swallowed hit's reason %q does not say cooldown", test.Hits[1].Reason)
	}
	runCases(t, a, []apiCase{
		{"test only the latest 2", "POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(nil), "n": 2}, 200, "", `"replayed":2`},
		{"test a saved rule", "POST", "/api/v1/news/rules/fed-cut/test", nil, 200, "", `"fired":3`},
		{"test a saved rule on the latest 1", "POST", "/api/v1/news/rules/fed-cut/test", map[string]any{"n": 1}, 200, "", `"replayed":1`},
		{"a test without a rule", "POST", "/api/v1/news/rules/test", map[string]any{"n": 5}, 400, "rule", ""},
		{"a test of 501 headlines", "POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(nil), "n": 501}, 400, "n", ""},
		{"a saved-rule test of 0 headlines", "POST", "/api/v1/news/rules/fed-cut/test", map[string]any{"n": -1}, 400, "n", ""},
		{"a test of an invalid rule names its field", "POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(func(m map[string]any) { m["regex"] = "[" })}, 400, "regex", ""},
		{"an unknown field in a test", "POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(nil), "dry": true}, 400, "dry", ""},
	})
	r = b.do("POST", "/api/v1/news/rules/test", map[string]any{"rule": ruleJSON(nil)})
	expectStatus(t, r, 200)
	if strings.Contains(string(r.Body), "h-private") || !strings.Contains(string(r.Body), `"replayed":4`) {
		t.Errorf("b's rule test replayed a's private headline: %s", r.Body)
	}

	// Fires: what the engine records, with the names the user knows.
	err := env.Store.Tenant(context.Background(), a.user.ID, func(tx polybot.TenantTx) error {
		return tx.PutNewsFire(&polybot.NewsFire{RuleID: "fed-cut", HeadlineID: "h-waller", Action: "ordered", OpportunityID: "opp-news-1", LatencyMicros: 1834})
	})
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, a, []apiCase{
		{"a's fire with its rule and headline", "GET", "/api/v1/news/fires", nil, 200, "",
			`"rule_name":"Fed cut","headline_title":"Waller backs a cut","headline_link":"https://news.example.com/h-waller"`},
	})
	runCases(t, b, []apiCase{
		{"b sees no fires of a", "GET", "/api/v1/news/fires", nil, 200, "", `{"fires":[]}`},
	})

	// A user's own feeds.
	runCases(t, a, []apiCase{
		{"no feeds yet", "GET", "/api/v1/news/feeds", nil, 200, "", `{"feeds":[]}`},
		{"add a feed", "POST", "/api/v1/news/feeds", map[string]any{"name": "Fed press", "url": "https://www.federalreserve.gov/feeds/press_all.xml", "every_seconds": 120}, 201, "", `"every_seconds":120`},
		{"a feed without an interval polls every minute", "POST", "/api/v1/news/feeds", map[string]any{"name": "Wire", "url": "https://wire.example.com/rss"}, 201, "", `"every_seconds":60`},
		{"a feed on ftp", "POST", "/api/v1/news/feeds", map[string]any{"name": "x", "url": "ftp://example.com/rss"}, 400, "url", ""},
		{"a feed polled every 5 s", "POST", "/api/v1/news/feeds", map[string]any{"name": "x", "url": "https://x.example.com", "every_seconds": 5}, 400, "every_seconds", ""},
		{"a feed without a name", "POST", "/api/v1/news/feeds", map[string]any{"url": "https://x.example.com"}, 400, "name", ""},
		{"a feed with an unknown field", "POST", "/api/v1/news/feeds", map[string]any{"name": "x", "url": "https://x.example.com", "etag": "x"}, 400, "etag", ""},
		{"feeds are listed", "GET", "/api/v1/news/feeds", nil, 200, "", `"name":"Fed press"`},
		{"delete an unknown feed", "DELETE", "/api/v1/news/feeds/feed-nope", nil, 404, "", ""},
		{"users cannot list the platform's feeds", "GET", "/api/v1/admin/news/feeds", nil, 403, "", ""},
		{"users cannot add a platform feed", "PUT", "/api/v1/admin/news/feeds/reuters", map[string]any{"name": "x", "url": "https://x.example.com"}, 403, "", ""},
	})
	var feeds struct {
		Feeds []struct {
			ID string `json:"id"`
		} `json:"feeds"`
	}
	a.do("GET", "/api/v1/news/feeds", nil).JSON(t, &feeds)
	if len(feeds.Feeds) != 2 {
		t.Fatalf("a's feeds: %+v", feeds)
	}
	runCases(t, b, []apiCase{
		{"b cannot delete a's feed", "DELETE", "/api/v1/news/feeds/" + feeds.Feeds[0].ID, nil, 404, "", ""},
		{"b has no feeds", "GET", "/api/v1/news/feeds", nil, 200, "", `{"feeds":[]}`},
	})
	runCases(t, a, []apiCase{
		{"a deletes its feed", "DELETE", "/api/v1/news/feeds/" + feeds.Feeds[0].ID, nil, 204, "", ""},
	})

	// The platform's feeds.
	runCases(t, admin, []apiCase{
		{"no platform feeds yet", "GET", "/api/v1/admin/news/feeds", nil, 200, "", `{"feeds":[]}`},
		{"add one", "PUT", "/api/v1/admin/news/feeds/fed-press", map[string]any{"name": "Federal Reserve press releases", "url": "https://www.federalreserve.gov/feeds/press_all.xml"}, 200, "", `"id":"fed-press"`},
		{"pause it", "PUT", "/api/v1/admin/news/feeds/fed-press", map[string]any{"name": "Federal Reserve press releases", "url": "https://www.federalreserve.gov/feeds/press_all.xml", "enabled": false}, 200, "", `"enabled":false`},
		{"a user's feed id is taken", "PUT", "/api/v1/admin/news/feeds/" + feeds.Feeds[1].ID, map[string]any{"name": "x", "url": "https://x.example.com"}, 409, "", ""},
		{"a bad platform feed", "PUT", "/api/v1/admin/news/feeds/x", map[string]any{"name": "x", "url": "nope"}, 400, "url", ""},
		{"a platform feed id with a NUL", "PUT", "/api/v1/admin/news/feeds/x%00", map[string]any{"name": "x", "url": "https://x.example.com"}, 400, "id", ""},
		{"an admin's own feeds are not the platform's", "GET", "/api/v1/news/feeds", nil, 200, "", `{"feeds":[]}`},
		{"delete an unknown platform feed", "DELETE", "/api/v1/admin/news/feeds/nope", nil, 404, "", ""},
		{"delete it", "DELETE", "/api/v1/admin/news/feeds/fed-press", nil, 204, "", ""},
	})

	// Webhooks: the secret is shown once, at creation.
	r = a.do("POST", "/api/v1/news/hooks", map[string]any{"name": "Paid wire"})
	expectStatus(t, r, 201)
	var created struct {
		Hook struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		} `json:"hook"`
		Secret string `json:"secret"`
	}
	r.JSON(t, &created)
	if !strings.HasPrefix(created.Secret, "pbwh_") || len(created.Secret) < 40 || created.Hook.URL != "/api/v1/news/hooks/"+created.Hook.ID {
		t.Fatalf("created hook %s", r.Body)
	}
	runCases(t, a, []apiCase{
		{"hooks are listed without their secret", "GET", "/api/v1/news/hooks", nil, 200, "", `"name":"Paid wire"`},
		{"a hook without a name", "POST", "/api/v1/news/hooks", map[string]any{"name": " "}, 400, "name", ""},
		{"a hook with an unknown field", "POST", "/api/v1/news/hooks", map[string]any{"name": "x", "secret": "mine"}, 400, "secret", ""},
		{"delete an unknown hook", "DELETE", "/api/v1/news/hooks/hook-nope", nil, 404, "", ""},
	})
	runCases(t, b, []apiCase{
		{"b sees no hooks of a", "GET", "/api/v1/news/hooks", nil, 200, "", `{"hooks":[]}`},
		{"b cannot delete a's hook", "DELETE", "/api/v1/news/hooks/" + created.Hook.ID, nil, 404, "", ""},
	})
	for _, where := range []struct {
		name string
		body []byte
	}{
		{"the hook list", a.do("GET", "/api/v1/news/hooks", nil).Body},
		{"the audit trail", a.do("GET", "/api/v1/audit", nil).Body},
		{"the server's log", []byte(env.Logs.String())},
		{"the database", env.Raw()},
	} {
		if strings.Contains(string(where.body), created.Secret) || strings.Contains(string(where.body), created.Secret[5:]) {
			t.Errorf("the hook's secret is in %s", where.name)
		}
	}
	runCases(t, a, []apiCase{
		{"delete the hook", "DELETE", "/api/v1/news/hooks/" + created.Hook.ID, nil, 204, "", ""},
		{"no hooks left", "GET", "/api/v1/news/hooks", nil, 200, "", `{"hooks":[]}`},
	})

	// Every change is on a's audit trail.
	var trail struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
		} `json:"entries"`
	}
	a.do("GET", "/api/v1/audit?limit=200", nil).JSON(t, &trail)
	seen := map[string]int{}
	for _, e := range trail.Entries {
		if strings.HasPrefix(e.Action, "news.") {
			seen[e.Action]++
		}
	}
	want := map[string]int{"news.rule_create": 2, "news.rule_put": 6, "news.rule_delete": 2, "news.feed_create": 2,
		"news.feed_delete": 1, "news.hook_create": 1, "news.hook_delete": 1}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("audit: %d × %s, want %d (all: %v)", seen[k], k, n, seen)
		}
	}
	var adminActions []string
	err = env.Store.AdminView(context.Background(), func(tx polybot.AdminTx) error {
		es, err := tx.AuditEntries(0, 1000)
		for _, e := range es {
			if strings.HasPrefix(e.Action, "admin.news_feed") {
				adminActions = append(adminActions, e.Action+" "+e.Target)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(adminActions, ", "); got != "admin.news_feed news_feed:fed-press, admin.news_feed news_feed:fed-press, admin.news_feed_delete news_feed:fed-press" {
		t.Errorf("admin audit: %s", got)
	}
}

func TestNewsAPISQLite(t *testing.T)   { testNewsAPI(t, openSQLite) }
func TestNewsAPIPostgres(t *testing.T) { testNewsAPI(t, openPostgres) }

// The per-user caps: the 101st rule, 21st feed and 21st hook are refused,
// naming what is full.
func TestNewsCapsRefuseOneMore(t *testing.T) {
	env := newEnv(t, nil)
	a := env.client().signup("caps@example.com")
	for i := range polybot.MaxNewsRules {
		expectStatus(t, a.do("PUT", "/api/v1/news/rules/r"+strconv.Itoa(i), ruleJSON(nil)), 201)
	}
	for i := range polybot.MaxNewsFeeds {
		expectStatus(t, a.do("POST", "/api/v1/news/feeds", map[string]any{"name": "f", "url": "https://x.example.com/" + strconv.Itoa(i)}), 201)
	}
	for range polybot.MaxNewsHooks {
		expectStatus(t, a.do("POST", "/api/v1/news/hooks", map[string]any{"name": "h"}), 201)
	}
	runCases(t, a, []apiCase{
		{"the 101st rule", "POST", "/api/v1/news/rules", ruleJSON(nil), 403, "rules", ""},
		{"the 101st rule by PUT", "PUT", "/api/v1/news/rules/one-more", ruleJSON(nil), 403, "rules", ""},
		{"a PUT of an existing rule still works", "PUT", "/api/v1/news/rules/r0", ruleJSON(nil), 200, "", ""},
		{"the 21st feed", "POST", "/api/v1/news/feeds", map[string]any{"name": "f", "url": "https://x.example.com/"}, 403, "feeds", ""},
		{"the 21st hook", "POST", "/api/v1/news/hooks", map[string]any{"name": "h"}, 403, "hooks", ""},
	})
}

// hmacIntake is the test double of internal/news's intake: it checks the
// signature with crypto/hmac, parses {"headlines": [{title, link,
// published}]}, and delivers by storing each headline as the tenant's own.
type hmacIntake struct {
	store polybot.Store
	mu    sync.Mutex
	got   []polybot.Headline
	to    []polybot.ID
	fail  error // Deliver's answer while set: nothing is handed on
}

func sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func (h *hmacIntake) VerifyAndParse(secret []byte, ts, sig string, body []byte, now time.Time) ([]polybot.Headline, error) {
	want, err := hex.DecodeString(sig)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	if err != nil || !hmac.Equal(want, m.Sum(nil)) {
		return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "bad signature")
	}
	var in struct {
		Headlines []struct {
			Title     string    `json:"title"`
			Link      string    `json:"link"`
			Published time.Time `json:"published"`
		} `json:"headlines"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, polybot.FieldError("body", "must be a JSON object of headlines")
	}
	out := make([]polybot.Headline, len(in.Headlines))
	for i, x := range in.Headlines {
		out[i] = polybot.Headline{Title: x.Title, Link: x.Link, Published: x.Published}
		tk, _ := out[i].Keys()
		out[i].ID = "h-" + tk
	}
	return out, nil
}

func (h *hmacIntake) Deliver(ctx context.Context, tenant polybot.ID, hs []polybot.Headline) error {
	h.mu.Lock()
	if h.fail != nil {
		h.mu.Unlock()
		return h.fail
	}
	h.got = append(h.got, hs...)
	h.to = append(h.to, tenant)
	h.mu.Unlock()
	return h.store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		for i := range hs {
			if err := tx.PutHeadline(&hs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *hmacIntake) failWith(err error) {
	h.mu.Lock()
	h.fail = err
	h.mu.Unlock()
}

func (h *hmacIntake) delivered() ([]polybot.Headline, []polybot.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]polybot.Headline(nil), h.got...), append([]polybot.ID(nil), h.to...)
}

// newHook creates a webhook for c and returns its id and signing secret.
func newHook(t *testing.T, c *client, name string) (id, secret string) {
	t.Helper()
	var created struct {
		Hook struct {
			ID string `json:"id"`
		} `json:"hook"`
		Secret string `json:"secret"`
	}
	r := c.do("POST", "/api/v1/news/hooks", map[string]any{"name": name})
	expectStatus(t, r, 201)
	r.JSON(t, &created)
	return created.Hook.ID, created.Secret
}

// deliver posts body to a hook, signed with secret at ts (an empty secret
// sends no signature).
func deliver(t *testing.T, env *testEnv, hook, secret string, ts time.Time, body string, edit func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest("POST", env.URL+server.HookPath(hook), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set(server.HookTimestampHeader, stamp)
	if secret != "" {
		req.Header.Set(server.HookSignatureHeader, sign(secret, stamp, []byte(body)))
	}
	if edit != nil {
		edit(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Body: b, Header: res.Header}
}

// A signed delivery to a user's hook: good signatures are taken and the
// headlines are the owner's only; a bad, stale, missing or replayed one is
// 401, an unknown hook 404, a flood 429, an oversized body 413, and a
// server without an intake 503.
func testNewsHookDelivery(t *testing.T, open storeOpener) {
	intake := &hmacIntake{}
	env := newEnvWith(t, open, func(c *server.Config) {
		intake.store = c.Store
		c.NewsIntake = intake
		c.HookRate = server.Rate{Every: time.Hour, Burst: 15}
	})
	a := env.client().signup("hooks-a@example.com")
	b := env.client().signup("hooks-b@example.com")
	hook, secret := newHook(t, a, "Paid wire")
	now := time.Now()
	body := `{"headlines":[{"title":"Fed's Williams: room for a cut in the near term","link":"https://wire.example.com/williams","published":"2025-11-21T12:31:00Z"}]}`

	r := deliver(t, env, hook, secret, now, body, nil)
	expectStatus(t, r, http.StatusAccepted)
	if !strings.Contains(string(r.Body), `"accepted":1`) {
		t.Errorf("delivery answer %s", r.Body)
	}
	got, to := intake.delivered()
	if len(got) != 1 || to[0] != a.user.ID || got[0].Source != hook || got[0].SourceName != "Paid wire" || got[0].Received.IsZero() ||
		got[0].Title != "Fed's Williams: room for a cut in the near term" {
		t.Fatalf("delivered %+v to %v", got, to)
	}
	if d := time.Since(got[0].Received); d < 0 || d > time.Minute {
		t.Errorf("received stamped %v, want about now", got[0].Received)
	}
	runCases(t, a, []apiCase{
		{"a sees the delivered headline", "GET", "/api/v1/news/headlines", nil, 200, "", `"source_name":"Paid wire"`},
	})
	if r := b.do("GET", "/api/v1/news/headlines", nil); strings.Contains(string(r.Body), "Williams") {
		t.Errorf("b sees a's webhook headline: %s", r.Body)
	}

	cases := []struct {
		name   string
		hook   string
		secret string
		at     time.Time
		body   string
		edit   func(*http.Request)
		status int
		field  string
	}{
		{"the same delivery again is a replay", hook, secret, now, body, nil, 401, server.HookSignatureHeader},
		{"a wrong secret", hook, "pbwh_not-the-secret", now.Add(time.Second), body, nil, 401, server.HookSignatureHeader},
		{"no signature", hook, "", now.Add(2 * time.Second), body, nil, 401, server.HookSignatureHeader},
		{"a signature of another body", hook, secret, now.Add(3 * time.Second), body, func(r *http.Request) {
			r.Body = http.NoBody
			r.ContentLength = 0
		}, 401, server.HookSignatureHeader},
		{"a timestamp 6 minutes old", hook, secret, now.Add(-6 * time.Minute), body, nil, 401, server.HookTimestampHeader},
		{"a timestamp 6 minutes ahead", hook, secret, now.Add(6 * time.Minute), body, nil, 401, server.HookTimestampHeader},
		{"a timestamp in milliseconds", hook, secret, now, body, func(r *http.Request) {
			r.Header.Set(server.HookTimestampHeader, strconv.FormatInt(now.UnixMilli(), 10))
		}, 401, server.HookTimestampHeader},
		{"an unknown hook", "hook-nope", secret, now.Add(4 * time.Second), body, nil, 404, ""},
		{"a hook id with a NUL", "hook%00", secret, now.Add(4 * time.Second), body, nil, 404, ""},
		{"b's secret on a's hook", hook, "pbwh_b", now.Add(5 * time.Second), body, nil, 401, server.HookSignatureHeader},
		{"a well-signed body that is not JSON", hook, secret, now.Add(6 * time.Second), `{"headlines":`, nil, 400, "body"},
		{"a well-signed headline without a title", hook, secret, now.Add(7 * time.Second), `{"headlines":[{"link":"https://x.example.com"}]}`, nil, 400, "headlines[0].title"},
		{"a well-signed headline linking to javascript:", hook, secret, now.Add(8 * time.Second), `{"headlines":[{"title":"t","link":"javascript:alert(1)"}]}`, nil, 400, "headlines[0].link"},
		{"a body over 64 KiB", hook, secret, now.Add(9 * time.Second), `{"headlines":[{"title":"` + strings.Repeat("x", 70<<10) + `"}]}`, nil, 413, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := deliver(t, env, c.hook, c.secret, c.at, c.body, c.edit)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.field != "" {
				if _, ok := r.Fields(t)[c.field]; !ok {
					t.Errorf("error %s does not name %s", r.Body, c.field)
				}
			}
		})
	}
	if got, _ := intake.delivered(); len(got) != 1 {
		t.Errorf("refused deliveries were handed on: %d headlines", len(got))
	}
	// The limit: 15 deliveries an hour from one address, all used now.
	if r := deliver(t, env, hook, secret, now.Add(10*time.Second), body, nil); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("the 16th delivery: %d %s, want 429 with Retry-After", r.Status, r.Body)
	}
	if strings.Contains(env.Logs.String(), secret) {
		t.Error("the hook's secret is in the server's log")
	}

	// A deleted hook takes nothing; a server without an intake says so.
	expectStatus(t, a.do("DELETE", "/api/v1/news/hooks/"+hook, nil), 204)
	bare := newEnv(t, open)
	if r := deliver(t, bare, hook, secret, now, body, nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("a server without an intake: %d %s, want 503", r.Status, r.Body)
	}
}

func TestNewsHookDeliverySQLite(t *testing.T)   { testNewsHookDelivery(t, openSQLite) }
func TestNewsHookDeliveryPostgres(t *testing.T) { testNewsHookDelivery(t, openPostgres) }

// An intake that cannot hand the headlines on (an api node whose message
// bus is down) is answered 503 with Retry-After and the reason, nothing is
// taken, and the same signed delivery sent again once the bus is back is
// accepted: a declined delivery is not remembered as a replay.
func TestNewsHookDeliveryDeclinedWhenTheBusIsDownIsTakenOnRetry(t *testing.T) {
	intake := &hmacIntake{}
	env := newEnvWith(t, nil, func(c *server.Config) { intake.store = c.Store; c.NewsIntake = intake })
	a := env.client().signup("hook-bus-down@example.com")
	hook, secret := newHook(t, a, "Wire")
	intake.failWith(&polybot.Error{Code: polybot.EUNAVAILABLE, Message: "The headlines could not be handed to your bot: the message bus is unavailable. Send them again."})
	now := time.Now()
	body := `{"headlines":[{"title":"Williams: room for a cut","link":"https://wire.example.com/w"}]}`
	r := deliver(t, env, hook, secret, now, body, nil)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "message bus is unavailable") {
		t.Fatalf("delivery with the bus down: %d %q %s, want 503 with Retry-After naming the bus", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if got, _ := intake.delivered(); len(got) != 0 {
		t.Fatalf("a declined delivery handed on %d headlines", len(got))
	}
	intake.failWith(nil)
	r = deliver(t, env, hook, secret, now, body, nil)
	expectStatus(t, r, http.StatusAccepted)
	if got, to := intake.delivered(); len(got) != 1 || to[0] != a.user.ID {
		t.Fatalf("the retry delivered %+v to %v", got, to)
	}
	if r := deliver(t, env, hook, secret, now, body, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the accepted delivery sent once more: %d %s, want 401 (a replay)", r.Status, r.Body)
	}
}

// A deleted hook is 404, and its old secret opens nothing.
func TestDeletedHookIsNotFound(t *testing.T) {
	intake := &hmacIntake{}
	env := newEnvWith(t, nil, func(c *server.Config) { intake.store = c.Store; c.NewsIntake = intake })
	a := env.client().signup("deleted-hook@example.com")
	hook, secret := newHook(t, a, "w")
	expectStatus(t, a.do("DELETE", "/api/v1/news/hooks/"+hook, nil), 204)
	if r := deliver(t, env, hook, secret, time.Now(), `{"headlines":[{"title":"x"}]}`, nil); r.Status != 404 {
		t.Errorf("delivery to a deleted hook: %d %s", r.Status, r.Body)
	}
}

// The News page shows what the user may see and nothing of anyone else:
// headlines (the platform's and the user's own, as links), what the
// user's rules did (latency in ms, a link to the orders), the rules with
// their JSON for the editor, the user's webhooks (never a secret) and
// feeds; the navigation links to it.
func TestNewsPageShowsHeadlinesFiresRulesAndHooks(t *testing.T) {
	env := newWebEnv(t, nil)
	a := env.client().signup("news-page-a@example.com")
	b := env.client().signup("news-page-b@example.com")
	t0 := time.Now().UTC().Truncate(time.Second)
	putHeadlines(t, env.Store, a.user.ID, []*polybot.Headline{
		newsHeadline("h-williams", "reuters", "Fed's Williams: room for a cut", t0.Add(-30*time.Minute)),
	}, []*polybot.Headline{
		newsHeadline("h-private", "hook-a", "A's private wire: rate cut next week", t0.Add(-5*time.Minute)),
	})
	expectStatus(t, a.do("PUT", "/api/v1/news/rules/fed-cut", ruleJSON(nil)), 201)
	if err := env.Store.Tenant(context.Background(), a.user.ID, func(tx polybot.TenantTx) error {
		return tx.PutNewsFire(&polybot.NewsFire{RuleID: "fed-cut", HeadlineID: "h-private", Action: "ordered", OpportunityID: "opp-news-1", LatencyMicros: 1834})
	}); err != nil {
		t.Fatal(err)
	}
	var hook struct {
		Secret string `json:"secret"`
	}
	r := a.do("POST", "/api/v1/news/hooks", map[string]any{"name": "Paid wire"})
	expectStatus(t, r, 201)
	r.JSON(t, &hook)
	expectStatus(t, a.do("POST", "/api/v1/news/feeds", map[string]any{"name": "Fed press", "url": "https://www.federalreserve.gov/feeds/press_all.xml"}), 201)

	r = a.page("/news")
	expectStatus(t, r, 200)
	expectSecurePage(t, "/news", r)
	expectContains(t, "A's news page", r,
		`id="nav-news" aria-current="page"`,
		`<a href="https://news.example.com/h-williams" rel="noopener noreferrer nofollow" target="_blank">Fed&#39;s Williams: room for a cut</a>`,
		"A&#39;s private wire: rate cut next week",
		"1.834 ms", `href="/orders?opportunity=opp-news-1"`, `data-action="ordered"`,
		`id="rule-fed-cut"`, `data-rule="{&#34;id&#34;:&#34;fed-cut&#34;`, "any of “cut”, “rate cut”; none of “hike”",
		"Buy NO on 1 market at up to 0.62, at most 100 contracts each",
		"Paid wire", `data-path="/api/v1/news/hooks/hook-`, "Fed press", "federalreserve.gov/feeds/press_all.xml",
		`id="rule-test"`, `id="hook-form-name"`, `id="feed-form-url"`)
	if strings.Contains(string(r.Body), hook.Secret) {
		t.Error("the News page shows the hook's secret")
	}
	body := string(b.page("/news").Body)
	for _, leak := range []string{"private wire", "fed-cut", "Paid wire", "Fed press", "opp-news-1"} {
		if strings.Contains(body, leak) {
			t.Errorf("B's News page shows A's %q", leak)
		}
	}
	if !strings.Contains(body, "room for a cut") {
		t.Error("B's News page lacks the platform's headline")
	}
	expectContains(t, "the dashboard", a.page("/dashboard"), `<a href="/news" id="nav-news">News</a>`)
}
