package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// News fixture. Both tenants hold a rule with the same id and a private
// headline with the same id, so that a query which forgets the tenant
// meets another tenant's row; feeds and hooks have ids unique across
// tenants (a headline's source names one), so each tenant's carry its tag.
const (
	sharedRuleID     = "shared-rule"
	sharedHeadlineID = "h-shared"
	platformFeedID   = "platform-feed"
	platformHeadline = "h-platform"
)

// newsRule is a valid direct rule of tenant tag.
func newsRule(id, tag string) *polybot.NewsRule {
	return &polybot.NewsRule{ID: id, Name: "Rule " + tag, Enabled: true, AnyOf: []string{"fed", "story " + tag},
		Mode: polybot.NewsDirect, Markets: []polybot.BinaryMarket{kalshiMarket("KX-NEWS-" + strings.ToUpper(tag))},
		Outcome: polybot.Yes, MaxPrice: polybot.MustDecimal("0.6"), MaxSize: tagAmount(tag)}
}

// fullNewsRule sets every field of a rule, with the text JSON must carry
// untouched and the widest values the rules allow.
func fullNewsRule(id string) *polybot.NewsRule {
	return &polybot.NewsRule{ID: id, Name: `Fed "cut" \ 利下げ ✓ 🎯`, Enabled: true,
		AllOf:   []string{"Fed", "Jérôme Powell"},
		AnyOf:   []string{"cut", "rate cut", "降息"},
		NoneOf:  []string{"hike", `"no change"`},
		Regex:   `\b(25|50)\s*(bp|basis points)\b`,
		Sources: []string{platformFeedID, "hook-x", "feed-x"},
		Mode:    polybot.NewsDirect,
		Pairs:   []string{"fed-dec2025-hold", "fed-jan2026-hold"},
		Markets: []polybot.BinaryMarket{kalshiMarket("KXFEDDECISION-25DEC-H0"),
			polymarketMarket("0x"+strings.Repeat("ab", 32), fmt.Sprintf("%078d", 1), fmt.Sprintf("%078d", 2))},
		Outcome:    polybot.No,
		MaxPrice:   polybot.MustDecimal("0.999999"),
		MaxSize:    polybot.MustDecimal("999999.999999"),
		Window:     time.Hour,
		Cooldown:   24 * time.Hour,
		Threshold:  polybot.MustDecimal("0.050001"),
		TakeProfit: polybot.MustDecimal("0.000001"),
		StopLoss:   polybot.MustDecimal("0.123456"),
		TimeStop:   7 * 24 * time.Hour,
		Hedge: &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: "BRK.B", Side: polybot.EquitySell,
			Quantity: polybot.MustDecimal("1000000"), MaxPrice: polybot.MustDecimal("0.0001")},
	}
}

// equityRule is a valid equity rule: buy 10 TLT at up to $90.00 on Alpaca.
func equityRule(id string) *polybot.NewsRule {
	return &polybot.NewsRule{ID: id, Name: "Equity " + id, Enabled: true, AnyOf: []string{"cut"}, Mode: polybot.NewsEquity,
		Equity: &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: "TLT", Side: polybot.EquityBuy,
			Quantity: polybot.MustDecimal("10"), MaxPrice: polybot.MustDecimal("90.00")},
		TakeProfit: polybot.MustDecimal("0.025"), StopLoss: polybot.MustDecimal("0.01"), TimeStop: 2 * time.Minute}
}

// lagRule is a valid lag rule on one pair.
func lagRule(id string) *polybot.NewsRule {
	return &polybot.NewsRule{ID: id, Name: "Lag " + id, AllOf: []string{"fed"}, Mode: polybot.NewsLag,
		Pairs: []string{"fed-dec2025-hold"}, Outcome: polybot.No, MaxPrice: polybot.MustDecimal("0.45"),
		MaxSize: polybot.MustDecimal("10"), Threshold: polybot.MustDecimal("0.05"), Cooldown: 90 * time.Second,
		TakeProfit: polybot.MustDecimal("0.04"), StopLoss: polybot.MustDecimal("0.03"), TimeStop: 10 * time.Minute}
}

func newsFeed(id, tag string) *polybot.NewsFeed {
	return &polybot.NewsFeed{ID: id, Name: "Feed of " + tag, URL: "https://" + tag + ".example.com/rss.xml", Enabled: true}
}

func headline(id, source, title string, received time.Time) *polybot.Headline {
	return &polybot.Headline{ID: id, Source: source, SourceName: "Source " + source, Title: title,
		Link: "https://news.example.com/" + id, Received: received}
}

// seedNews gives tenant f two rules (one with the id every tenant uses),
// a feed with validators, a webhook, two private headlines (one with the
// id every tenant uses) and a fire.
func (e *env) seedNews(tx polybot.TenantTx, f *tenantFixture) error {
	tag, now := f.tag, tx.Now()
	f.rules = []*polybot.NewsRule{newsRule(sharedRuleID, tag), newsRule("rule-"+tag, tag)}
	for _, r := range f.rules {
		if err := tx.PutNewsRule(r); err != nil {
			return fmt.Errorf("PutNewsRule: %w", err)
		}
	}
	f.feed = newsFeed("feed-"+tag, tag)
	if err := tx.PutNewsFeed(f.feed); err != nil {
		return fmt.Errorf("PutNewsFeed: %w", err)
	}
	f.feed.ETag, f.feed.LastModified = `"etag-`+tag+`"`, "Tue, 15 Jan 2030 12:00:00 GMT"
	if err := tx.SetFeedValidators(f.feed.ID, f.feed.ETag, f.feed.LastModified); err != nil {
		return fmt.Errorf("SetFeedValidators: %w", err)
	}
	f.hook = &polybot.NewsHook{ID: "hook-" + tag, Name: "Hook of " + tag, Sealed: "sealed:" + tag + ":hook"}
	if err := tx.PutNewsHook(f.hook); err != nil {
		return fmt.Errorf("PutNewsHook: %w", err)
	}
	f.headlines = []*polybot.Headline{
		headline(sharedHeadlineID, f.hook.ID, "Shared story seen by "+tag, now.Add(-2*time.Minute)),
		headline("h-own-"+tag, f.feed.ID, "Own story of "+tag, now.Add(-time.Minute)),
	}
	f.headlines[1].Published = now.Add(-90 * time.Second)
	for _, h := range f.headlines {
		if err := tx.PutHeadline(h); err != nil {
			return fmt.Errorf("PutHeadline: %w", err)
		}
	}
	f.fires = []*polybot.NewsFire{{RuleID: "rule-" + tag, HeadlineID: "h-own-" + tag, At: now, Action: "ordered",
		OpportunityID: "opp-news-" + tag, LatencyMicros: 1234}}
	for _, x := range f.fires {
		if err := tx.PutNewsFire(x); err != nil {
			return fmt.Errorf("PutNewsFire: %w", err)
		}
	}
	return nil
}

// seedPlatformNews stores the platform's feed and one platform headline
// (idempotent: every seeded tenant calls it).
func (e *env) seedPlatformNews() {
	e.t.Helper()
	e.mustAdmin(func(tx polybot.AdminTx) error {
		if err := tx.PutNewsFeed(newsFeed(platformFeedID, "platform")); err != nil {
			return err
		}
		return tx.PutHeadline(headline(platformHeadline, platformFeedID, "Platform story for everyone", T0.Add(-time.Hour)))
	})
}

// testNews checks news arbitrage's storage: rules, feeds, webhooks,
// headlines and fires are created, read, listed, updated and deleted alike
// on every store; a rule with every field round-trips exactly (durations
// in seconds, decimals exact); bad input is the same EINVALID naming the
// field; platform headlines are everyone's and a tenant's own are its
// only.
func testNews(t *testing.T, open Opener) {
	t.Run("a new store holds no news", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("empty@example.com")
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			rules, err := tx.NewsRules()
			if err != nil || rules == nil || len(rules) != 0 {
				t.Errorf("NewsRules = %v, %v; want an empty list", rules, err)
			}
			feeds, err := tx.NewsFeeds()
			if err != nil || feeds == nil || len(feeds) != 0 {
				t.Errorf("NewsFeeds = %v, %v; want an empty list", feeds, err)
			}
			hooks, err := tx.NewsHooks()
			if err != nil || hooks == nil || len(hooks) != 0 {
				t.Errorf("NewsHooks = %v, %v; want an empty list", hooks, err)
			}
			hs, err := tx.Headlines(time.Time{}, 10)
			if err != nil || hs == nil || len(hs) != 0 {
				t.Errorf("Headlines = %v, %v; want an empty list", hs, err)
			}
			fires, err := tx.NewsFires(10)
			if err != nil || fires == nil || len(fires) != 0 {
				t.Errorf("NewsFires = %v, %v; want an empty list", fires, err)
			}
			return nil
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			feeds, err := tx.NewsFeeds()
			if err != nil || len(feeds) != 0 {
				t.Errorf("AdminTx.NewsFeeds = %v, %v; want an empty list", feeds, err)
			}
			feeds, err = tx.EnabledNewsFeeds()
			if err != nil || len(feeds) != 0 {
				t.Errorf("EnabledNewsFeeds = %v, %v; want an empty list", feeds, err)
			}
			hs, err := tx.Headlines(time.Time{}, 10)
			if err != nil || len(hs) != 0 {
				t.Errorf("AdminTx.Headlines = %v, %v; want an empty list", hs, err)
			}
			return nil
		})
	})

	t.Run("a rule with every field round-trips exactly, and its JSON with it", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("rules@example.com")
		for _, want := range []*polybot.NewsRule{fullNewsRule("full"), lagRule("lag"), equityRule("equity")} {
			stored := *want
			e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNewsRule(&stored) })
			want.UserID, want.CreatedAt, want.UpdatedAt = u.ID, T0, T0
			if want.Window == 0 {
				want.Window = polybot.DefaultRuleWindow
			}
			wantEqual(t, "rule as PutNewsRule left it", want, &stored)
			var got *polybot.NewsRule
			e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.NewsRule(want.ID); return })
			wantEqual(t, "rule read back", want, got)
			if got.Window != want.Window || got.Cooldown != want.Cooldown || got.TimeStop != want.TimeStop {
				t.Errorf("durations read back %v %v %v, want %v %v %v", got.Window, got.Cooldown, got.TimeStop, want.Window, want.Cooldown, want.TimeStop)
			}
			for _, d := range []struct{ got, want polybot.Decimal }{{got.MaxPrice, want.MaxPrice}, {got.MaxSize, want.MaxSize},
				{got.Threshold, want.Threshold}, {got.TakeProfit, want.TakeProfit}, {got.StopLoss, want.StopLoss}} {
				if d.got.String() != d.want.String() {
					t.Errorf("decimal read back %s, want exactly %s", d.got, d.want)
				}
			}
			// Lists read back empty, never null: JSON [] for "no terms".
			norm := *want
			for _, l := range []*[]string{&norm.AllOf, &norm.AnyOf, &norm.NoneOf} {
				if *l == nil {
					*l = []string{}
				}
			}
			wj, _ := json.Marshal(&norm)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Errorf("rule JSON read back\n%s\nwant\n%s", gj, wj)
			}
		}
	})

	t.Run("PutNewsRule creates, fills defaults, updates keeping CreatedAt; NewsRules lists by id; DeleteNewsRule removes", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("rules@example.com")
		b, a := newsRule("b-rule", "x"), newsRule("a-rule", "x")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutNewsRule(b); err != nil {
				return err
			}
			return tx.PutNewsRule(a)
		})
		if b.Window != polybot.DefaultRuleWindow || b.TimeStop != polybot.DefaultRuleTimeStop || !b.CreatedAt.Equal(T0) {
			t.Fatalf("new rule: window %v time stop %v created %v; want the defaults and %v", b.Window, b.TimeStop, b.CreatedAt, T0)
		}
		now := e.clock.Advance(time.Hour)
		upd := *b
		upd.Name, upd.Enabled, upd.CreatedAt, upd.MaxSize = "B, paused", false, time.Time{}, polybot.MustDecimal("7.5")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNewsRule(&upd) })
		if !upd.CreatedAt.Equal(T0) || !upd.UpdatedAt.Equal(now) {
			t.Fatalf("updated rule created %v updated %v, want %v and %v", upd.CreatedAt, upd.UpdatedAt, T0, now)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.NewsRules()
			if err != nil {
				return err
			}
			if len(all) != 2 || all[0].ID != "a-rule" || all[1].ID != "b-rule" {
				t.Fatalf("NewsRules = %v, want a-rule then b-rule", all)
			}
			wantEqual(t, "updated rule", &upd, all[1])
			return nil
		})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsRule("a-rule") })
		err := e.tenantView(u.ID, func(tx polybot.TenantTx) error { _, err := tx.NewsRule("a-rule"); return err })
		wantCode(t, err, polybot.ENOTFOUND, "NewsRule(deleted)")
		wantCode(t, e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsRule("a-rule") }), polybot.ENOTFOUND, "DeleteNewsRule(deleted)")
	})

	t.Run("invalid rules, feeds, hooks, headlines and fires are EINVALID naming the field, and nothing is stored", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("invalid@example.com")
		rule := func(mut func(*polybot.NewsRule)) func(tx polybot.TenantTx) error {
			return func(tx polybot.TenantTx) error { r := newsRule("bad", "x"); mut(r); return tx.PutNewsRule(r) }
		}
		feed := func(mut func(*polybot.NewsFeed)) func(tx polybot.TenantTx) error {
			return func(tx polybot.TenantTx) error { f := newsFeed("feed-bad", "x"); mut(f); return tx.PutNewsFeed(f) }
		}
		cases := []struct {
			name, field string
			run         func(tx polybot.TenantTx) error
		}{
			{"rule without an id", "id", rule(func(r *polybot.NewsRule) { r.ID = "" })},
			{"rule id too long", "id", rule(func(r *polybot.NewsRule) { r.ID = strings.Repeat("x", 65) })},
			{"rule without a name", "name", rule(func(r *polybot.NewsRule) { r.Name = "" })},
			{"rule without terms", "all_of", rule(func(r *polybot.NewsRule) { r.AnyOf = nil })},
			{"rule term of punctuation", "any_of[1]", rule(func(r *polybot.NewsRule) { r.AnyOf = []string{"fed", "?!"} })},
			{"rule regex that does not compile", "regex", rule(func(r *polybot.NewsRule) { r.Regex = "(" })},
			{"rule mode", "mode", rule(func(r *polybot.NewsRule) { r.Mode = "yolo" })},
			{"direct rule without markets", "markets", rule(func(r *polybot.NewsRule) { r.Markets = nil })},
			{"lag rule without pairs", "pairs", rule(func(r *polybot.NewsRule) { r.Mode = polybot.NewsLag; r.Threshold = polybot.MustDecimal("0.05") })},
			{"market with a NO instrument first", "markets[0].yes", rule(func(r *polybot.NewsRule) { r.Markets[0].Yes.Outcome = polybot.No })},
			{"outcome", "outcome", rule(func(r *polybot.NewsRule) { r.Outcome = 7 })},
			{"max price of 1", "max_price", rule(func(r *polybot.NewsRule) { r.MaxPrice = polybot.One })},
			{"max size of 0", "max_size", rule(func(r *polybot.NewsRule) { r.MaxSize = polybot.Zero })},
			{"window of two hours", "window_seconds", rule(func(r *polybot.NewsRule) { r.Window = 2 * time.Hour })},
			{"window of a second and a half", "window_seconds", rule(func(r *polybot.NewsRule) { r.Window = 1500 * time.Millisecond })},
			{"negative cooldown", "cooldown_seconds", rule(func(r *polybot.NewsRule) { r.Cooldown = -time.Second })},
			{"time stop of a fraction", "time_stop_seconds", rule(func(r *polybot.NewsRule) { r.TimeStop = time.Minute + time.Millisecond })},
			{"take profit of 1", "take_profit", rule(func(r *polybot.NewsRule) { r.TakeProfit = polybot.One })},
			{"negative stop loss", "stop_loss", rule(func(r *polybot.NewsRule) { r.StopLoss = polybot.MustDecimal("-0.1") })},
			{"equity rule without its order", "equity", rule(func(r *polybot.NewsRule) { *r = *equityRule("bad"); r.Equity = nil })},
			{"equity symbol in lower case", "equity.symbol", rule(func(r *polybot.NewsRule) { *r = *equityRule("bad"); r.Equity.Symbol = "tlt" })},
			{"equity side", "equity.side", rule(func(r *polybot.NewsRule) { *r = *equityRule("bad"); r.Equity.Side = "short" })},
			{"hedge of a fraction of a share", "hedge.quantity", rule(func(r *polybot.NewsRule) {
				r.Hedge = &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: "TLT", Side: polybot.EquityBuy, Quantity: polybot.MustDecimal("1.5"), MaxPrice: polybot.One}
			})},
			{"feed without a name", "name", feed(func(f *polybot.NewsFeed) { f.Name = "" })},
			{"feed on ftp", "url", feed(func(f *polybot.NewsFeed) { f.URL = "ftp://example.com/rss" })},
			{"feed polled every 10 s", "every_seconds", feed(func(f *polybot.NewsFeed) { f.Every = 10 * time.Second })},
			{"feed polled every 90.5 s", "every_seconds", feed(func(f *polybot.NewsFeed) { f.Every = 90*time.Second + 500*time.Millisecond })},
			{"hook without a secret", "secret", func(tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: "hook-bad", Name: "n"})
			}},
			{"hook without a name", "name", func(tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: "hook-bad", Sealed: "s"})
			}},
			{"headline without an id", "id", func(tx polybot.TenantTx) error {
				return tx.PutHeadline(&polybot.Headline{Title: "t"})
			}},
			{"headline without a title", "title", func(tx polybot.TenantTx) error {
				return tx.PutHeadline(&polybot.Headline{ID: "h-x", Title: "  "})
			}},
			{"headline with a javascript: link", "link", func(tx polybot.TenantTx) error {
				return tx.PutHeadline(&polybot.Headline{ID: "h-x", Title: "t", Link: "javascript:alert(1)"})
			}},
			{"fire without a rule", "rule_id", func(tx polybot.TenantTx) error {
				return tx.PutNewsFire(&polybot.NewsFire{HeadlineID: "h-x", Action: "ordered"})
			}},
			{"fire with a negative latency", "latency_micros", func(tx polybot.TenantTx) error {
				return tx.PutNewsFire(&polybot.NewsFire{RuleID: "r", HeadlineID: "h-x", Action: "ordered", LatencyMicros: -1})
			}},
		}
		for _, c := range cases {
			err := e.tenant(u.ID, c.run)
			wantCode(t, err, polybot.EINVALID, c.name)
			if polybot.ErrorFields(err)[c.field] == "" {
				t.Errorf("%s: %v does not name %q", c.name, err, c.field)
			}
		}
		err := e.admin(func(tx polybot.AdminTx) error {
			return tx.PutNewsFeed(&polybot.NewsFeed{ID: "p", Name: "p", URL: "https://example.com", Every: time.Minute + time.Millisecond})
		})
		if polybot.ErrorFields(err)["every_seconds"] == "" {
			t.Errorf("AdminTx.PutNewsFeed of a fractional interval: %v, want every_seconds named", err)
		}
		u2 := e.newUser("other@example.com")
		e.mustTenant(u2.ID, func(tx polybot.TenantTx) error { return tx.PutNewsFeed(newsFeed("feed-ok", "x")) })
		err = e.tenant(u2.ID, func(tx polybot.TenantTx) error { return tx.SetFeedValidators("feed-ok", strings.Repeat("e", 1001), "") })
		if polybot.ErrorFields(err)["etag"] == "" {
			t.Errorf("SetFeedValidators of a 1001-character ETag: %v, want etag named", err)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			rules, _ := tx.NewsRules()
			feeds, _ := tx.NewsFeeds()
			hooks, _ := tx.NewsHooks()
			hs, _ := tx.Headlines(time.Time{}, 10)
			fires, _ := tx.NewsFires(10)
			if len(rules)+len(feeds)+len(hooks)+len(hs)+len(fires) != 0 {
				t.Errorf("invalid writes stored %d rules, %d feeds, %d hooks, %d headlines, %d fires", len(rules), len(feeds), len(hooks), len(hs), len(fires))
			}
			return nil
		})
	})

	t.Run("feeds: a user's own and the platform's, validators kept on update, every enabled feed listed with its owner", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("feeds@example.com")
		mine, off := newsFeed("feed-mine", "mine"), newsFeed("feed-off", "off")
		off.Enabled, mine.Every = false, 90*time.Second
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutNewsFeed(mine); err != nil {
				return err
			}
			if err := tx.PutNewsFeed(off); err != nil {
				return err
			}
			return tx.SetFeedValidators("feed-mine", `W/"v1"`, "Tue, 15 Jan 2030 12:30:45 GMT")
		})
		if off.Every != polybot.DefaultFeedInterval || off.UserID != u.ID || !off.CreatedAt.Equal(T0) {
			t.Fatalf("new feed %+v: want the default interval, the tenant and created now", off)
		}
		platform := newsFeed("reuters", "platform")
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutNewsFeed(platform) })
		if !platform.UserID.IsZero() {
			t.Fatalf("platform feed owned by %s", platform.UserID)
		}

		now := e.clock.Advance(time.Hour)
		upd := *mine
		upd.Name, upd.URL, upd.ETag, upd.LastModified = "Mine, renamed", "https://mine.example.com/atom.xml", "", ""
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNewsFeed(&upd) })
		want := &polybot.NewsFeed{ID: "feed-mine", UserID: u.ID, Name: "Mine, renamed", URL: "https://mine.example.com/atom.xml",
			Every: 90 * time.Second, Enabled: true, ETag: `W/"v1"`, LastModified: "Tue, 15 Jan 2030 12:30:45 GMT", CreatedAt: T0, UpdatedAt: now}
		wantEqual(t, "feed as the update left it", want, &upd)
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.NewsFeeds()
			if err != nil {
				return err
			}
			if len(all) != 2 || all[0].ID != "feed-mine" || all[1].ID != "feed-off" {
				t.Fatalf("NewsFeeds = %v, want feed-mine then feed-off and not the platform's", all)
			}
			wantEqual(t, "feed read back", want, all[0])
			return nil
		})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetFeedValidators("reuters", `"p1"`, "") })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			all, err := tx.NewsFeeds()
			if err != nil || len(all) != 1 || all[0].ID != "reuters" || all[0].ETag != `"p1"` || !all[0].UserID.IsZero() {
				t.Errorf("AdminTx.NewsFeeds = %v, %v; want only the platform's reuters with its ETag", all, err)
			}
			enabled, err := tx.EnabledNewsFeeds()
			if err != nil || len(enabled) != 2 || enabled[0].ID != "feed-mine" || enabled[1].ID != "reuters" {
				t.Fatalf("EnabledNewsFeeds = %v, %v; want feed-mine and reuters", enabled, err)
			}
			if enabled[0].UserID != u.ID || !enabled[1].UserID.IsZero() {
				t.Errorf("EnabledNewsFeeds owners %s and %s, want the user and the platform", enabled[0].UserID, enabled[1].UserID)
			}
			return nil
		})

		// Ids are unique across owners: neither side takes the other's.
		wantCode(t, e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNewsFeed(newsFeed("reuters", "stolen")) }),
			polybot.ECONFLICT, "tenant PutNewsFeed(the platform's id)")
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.PutNewsFeed(newsFeed("feed-mine", "stolen")) }),
			polybot.ECONFLICT, "admin PutNewsFeed(a user's id)")
		for _, c := range []struct {
			name string
			err  error
		}{
			{"tenant SetFeedValidators(platform feed)", e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetFeedValidators("reuters", "x", "") })},
			{"tenant DeleteNewsFeed(platform feed)", e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsFeed("reuters") })},
			{"admin SetFeedValidators(user feed)", e.admin(func(tx polybot.AdminTx) error { return tx.SetFeedValidators("feed-mine", "x", "") })},
			{"admin DeleteNewsFeed(user feed)", e.admin(func(tx polybot.AdminTx) error { return tx.DeleteNewsFeed("feed-mine") })},
		} {
			wantCode(t, c.err, polybot.ENOTFOUND, c.name)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsFeed("feed-off") })
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.DeleteNewsFeed("reuters") })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			all, err := tx.EnabledNewsFeeds()
			if err != nil || len(all) != 1 || all[0].ID != "feed-mine" || all[0].ETag != `W/"v1"` {
				t.Errorf("EnabledNewsFeeds after deletes = %v, %v; want feed-mine unchanged", all, err)
			}
			return nil
		})
	})

	t.Run("hooks: create, rename keeping CreatedAt, owner look-up on the service path, delete", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("hooks@example.com")
		h := &polybot.NewsHook{ID: "hook-1", Name: "Paid wire", Sealed: "v1.sealed-secret"}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNewsHook(h) })
		if h.UserID != u.ID || !h.CreatedAt.Equal(T0) {
			t.Fatalf("new hook %+v: want the tenant and created now", h)
		}
		e.clock.Advance(time.Hour)
		upd := &polybot.NewsHook{ID: "hook-1", Name: "Paid wire (renamed)", Sealed: "v1.rotated"}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNewsHook(upd) })
		want := &polybot.NewsHook{ID: "hook-1", UserID: u.ID, Name: "Paid wire (renamed)", Sealed: "v1.rotated", CreatedAt: T0}
		wantEqual(t, "hook after the rename", want, upd)
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.NewsHook("hook-1")
			if err != nil {
				return err
			}
			wantEqual(t, "hook read back", want, got)
			all, err := tx.NewsHooks()
			if err != nil || len(all) != 1 {
				t.Fatalf("NewsHooks = %v, %v; want the one hook", all, err)
			}
			wantEqual(t, "hook listed", want, all[0])
			return nil
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			owner, err := tx.NewsHookOwner("hook-1")
			if err != nil || owner != u.ID {
				t.Errorf("NewsHookOwner = %s, %v; want %s", owner, err, u.ID)
			}
			_, err = tx.NewsHookOwner("hook-none")
			wantCode(t, err, polybot.ENOTFOUND, "NewsHookOwner(unknown)")
			return nil
		})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteNewsHook("hook-1") })
		err := e.adminView(func(tx polybot.AdminTx) error { _, err := tx.NewsHookOwner("hook-1"); return err })
		wantCode(t, err, polybot.ENOTFOUND, "NewsHookOwner(deleted)")
	})

	t.Run("headlines: idempotent on id per owner, platform headlines everyone's, newest first with a bound and a limit", func(t *testing.T) {
		e := newEnv(t, open)
		a, b := e.newUser("ha@example.com"), e.newUser("hb@example.com")
		p1 := headline("h-p1", "reuters", "Fed's Williams: room for a cut", T0.Add(-3*time.Minute))
		p1.Published = T0.Add(-4*time.Minute + 123*time.Microsecond)
		p2 := headline("h-p2", "reuters", "CPI comes in hot", T0.Add(-time.Minute))
		e.mustAdmin(func(tx polybot.AdminTx) error {
			for _, h := range []*polybot.Headline{p1, p2} {
				if err := tx.PutHeadline(h); err != nil {
					return err
				}
			}
			// Idempotent: the same id again changes nothing.
			again := *p1
			again.Title = "Rewritten"
			return tx.PutHeadline(&again)
		})
		own := headline("h-p1", "hook-a", "A's copy of the story, from A's wire", T0.Add(-2*time.Minute))
		noTime := &polybot.Headline{ID: "h-now", Source: "hook-a", Title: "Received now"}
		e.mustTenant(a.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutHeadline(own); err != nil {
				return err
			}
			return tx.PutHeadline(noTime)
		})
		if !noTime.Received.Equal(T0) {
			t.Fatalf("a headline without a receipt time got %v, want Now %v", noTime.Received, T0)
		}
		e.mustTenant(a.ID, func(tx polybot.TenantTx) error {
			again := *own
			again.Title = "Rewritten"
			return tx.PutHeadline(&again)
		})
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) error {
			all, err := tx.Headlines(time.Time{}, 0)
			if err != nil {
				return err
			}
			wantEqual(t, "A's headlines, newest first", []*polybot.Headline{noTime, p2, own, p1}, all)
			page, err := tx.Headlines(T0.Add(-time.Minute), 1)
			if err != nil {
				return err
			}
			wantEqual(t, "A's headlines before T0-1m, at most 1", []*polybot.Headline{own}, page)
			return nil
		})
		e.mustTenantView(b.ID, func(tx polybot.TenantTx) error {
			all, err := tx.Headlines(time.Time{}, 100)
			if err != nil {
				return err
			}
			wantEqual(t, "B's headlines: the platform's only", []*polybot.Headline{p2, p1}, all)
			return nil
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			all, err := tx.Headlines(time.Time{}, 100)
			if err != nil {
				return err
			}
			wantEqual(t, "the platform's headlines", []*polybot.Headline{p2, p1}, all)
			return nil
		})
	})

	t.Run("fires are listed newest first, at most the limit; a fire without a time is Now's", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("fires@example.com")
		var want []*polybot.NewsFire
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i := range 3 {
				f := &polybot.NewsFire{RuleID: "r", HeadlineID: fmt.Sprintf("h-%d", i), At: T0.Add(time.Duration(i-3) * time.Second),
					Action: "ordered", OpportunityID: fmt.Sprintf("opp-%d", i), LatencyMicros: int64(1000 + i)}
				if i == 1 {
					f.Action, f.OpportunityID, f.LatencyMicros, f.Error = "refused", "", 0, "daily loss limit reached"
				}
				if err := tx.PutNewsFire(f); err != nil {
					return err
				}
				want = append([]*polybot.NewsFire{f}, want...)
			}
			now := &polybot.NewsFire{RuleID: "r", HeadlineID: "h-now", Action: "cooldown"}
			want = append([]*polybot.NewsFire{now}, want...)
			return tx.PutNewsFire(now)
		})
		if !want[0].At.Equal(T0) {
			t.Fatalf("a fire without a time got %v, want Now %v", want[0].At, T0)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.NewsFires(0)
			if err != nil {
				return err
			}
			wantEqual(t, "every fire, newest first", want, all)
			top, err := tx.NewsFires(3)
			if err != nil {
				return err
			}
			wantEqual(t, "the 3 newest fires", want[:3], top)
			return nil
		})
	})
}

// newsIsolationCases are the isolation rows of the news methods: A and B
// share a rule id and a private headline id (see seedNews).
func newsIsolationCases() []isoCase {
	aRules := func(t *testing.T, f *isoFixture) map[string]*polybot.NewsRule {
		t.Helper()
		out := map[string]*polybot.NewsRule{}
		for _, r := range f.e.state(f.a).NewsRules {
			out[r.ID] = r
		}
		return out
	}
	titles := func(hs []*polybot.Headline) string {
		var s []string
		for _, h := range hs {
			s = append(s, h.Title)
		}
		return strings.Join(s, " | ")
	}
	return []isoCase{
		{method: "NewsRules", does: "lists only A's rules", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.NewsRules()
				if err == nil && (len(all) != 2 || all[0].Name != "Rule a" || all[1].Name != "Rule a" || all[0].UserID != f.A()) {
					t.Errorf("NewsRules() = %v, want A's two", all)
				}
				return err
			}},
		{method: "NewsRule", does: "of the id A and B share returns A's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				r, err := tx.NewsRule(sharedRuleID)
				if err == nil && (r.Name != "Rule a" || r.MaxSize.String() != "1.11" || r.UserID != f.A()) {
					t.Errorf("NewsRule(shared) = %+v, want A's", r)
				}
				return err
			}},
		{method: "NewsRule", does: "of B's own id is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, err := tx.NewsRule("rule-b")
				return err
			}},
		{method: "PutNewsRule", does: "with UserID B and B's own id stores it for A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				r := newsRule("rule-b", "planted")
				r.UserID = f.B()
				return tx.PutNewsRule(r)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if r := aRules(t, f)["rule-b"]; r == nil || r.Name != "Rule planted" || r.UserID != f.A() {
					t.Errorf("A's rule-b = %+v, want it stored for A", r)
				}
			}},
		{method: "PutNewsRule", does: "of the id A and B share updates only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutNewsRule(newsRule(sharedRuleID, "updated"))
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if r := aRules(t, f)[sharedRuleID]; r == nil || r.Name != "Rule updated" {
					t.Errorf("A's shared rule = %+v, want the update", r)
				}
			}},
		{method: "DeleteNewsRule", does: "of B's own id is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteNewsRule("rule-b") }},
		{method: "DeleteNewsRule", does: "of the id A and B share deletes only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteNewsRule(sharedRuleID) },
			after: func(t *testing.T, f *isoFixture, _ error) {
				if r := aRules(t, f)[sharedRuleID]; r != nil {
					t.Errorf("A's shared rule survived its delete: %+v", r)
				}
			}},
		{method: "NewsFeeds", does: "lists only A's feed, not B's nor the platform's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.NewsFeeds()
				if err == nil && (len(all) != 1 || all[0].ID != "feed-a" || all[0].UserID != f.A() || all[0].ETag != `"etag-a"`) {
					t.Errorf("NewsFeeds() = %v, want A's feed-a with its ETag", all)
				}
				return err
			}},
		{method: "PutNewsFeed", does: "with B's feed id conflicts and B's stays", want: polybot.ECONFLICT,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutNewsFeed(newsFeed("feed-b", "planted"))
			}},
		{method: "PutNewsFeed", does: "with UserID B stores a new feed for A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				fd := newsFeed("feed-planted", "planted")
				fd.UserID = f.B()
				return tx.PutNewsFeed(fd)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := f.e.state(f.a); len(s.NewsFeeds) != 2 || s.NewsFeeds[1].ID != "feed-planted" || s.NewsFeeds[1].UserID != f.A() {
					t.Errorf("A's feeds = %v, want feed-planted stored for A", s.NewsFeeds)
				}
			}},
		{method: "DeleteNewsFeed", does: "of B's feed is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteNewsFeed("feed-b") }},
		{method: "DeleteNewsFeed", does: "of the platform's feed is not found and it stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteNewsFeed(platformFeedID) },
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustAdminView(func(tx polybot.AdminTx) error {
					all, err := tx.NewsFeeds()
					if err != nil || len(all) != 1 || all[0].ID != platformFeedID {
						t.Errorf("platform feeds = %v, %v; want the platform's feed still there", all, err)
					}
					return nil
				})
			}},
		{method: "SetFeedValidators", does: "of B's feed is not found and B's validators stay", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetFeedValidators("feed-b", "x", "y")
			}},
		{method: "SetFeedValidators", does: "of A's feed sets only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetFeedValidators("feed-a", `"v2"`, "")
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := f.e.state(f.a); len(s.NewsFeeds) != 1 || s.NewsFeeds[0].ETag != `"v2"` || s.NewsFeeds[0].LastModified != "" {
					t.Errorf("A's feeds = %v, want the new validators", s.NewsFeeds)
				}
			}},
		{method: "NewsHooks", does: "lists only A's hook with A's sealed secret", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.NewsHooks()
				if err == nil && (len(all) != 1 || all[0].ID != "hook-a" || all[0].Sealed != "sealed:a:hook" || all[0].UserID != f.A()) {
					t.Errorf("NewsHooks() = %v, want A's hook-a", all)
				}
				return err
			}},
		{method: "NewsHook", does: "of B's hook is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				h, err := tx.NewsHook("hook-b")
				if err == nil {
					t.Errorf("NewsHook(hook-b) returned %+v", h)
				}
				return err
			}},
		{method: "PutNewsHook", does: "with B's hook id conflicts and B's secret stays", want: polybot.ECONFLICT,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: "hook-b", UserID: f.B(), Name: "planted", Sealed: "sealed:a:planted"})
			}},
		{method: "DeleteNewsHook", does: "of B's hook is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteNewsHook("hook-b") }},
		{method: "PutHeadline", does: "with B's own headline id stores A's copy, seen by A only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutHeadline(headline("h-own-b", "hook-a", "Planted by a", tx.Now()))
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := f.e.state(f.a); !strings.Contains(titles(s.Headlines), "Planted by a") {
					t.Errorf("A's headlines = %s, want A's copy", titles(s.Headlines))
				}
			}},
		{method: "PutHeadline", does: "of the id A and B share leaves both as they were",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutHeadline(headline(sharedHeadlineID, "hook-a", "Rewritten by a", tx.Now()))
			}},
		{method: "Headlines", does: "shows A's own and the platform's, none of B's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.Headlines(time.Time{}, 100)
				if err != nil {
					return err
				}
				got := titles(all)
				if want := "Own story of a | Shared story seen by a | Platform story for everyone"; got != want {
					t.Errorf("Headlines() = %s, want %s", got, want)
				}
				return nil
			}},
		{method: "PutNewsFire", does: "records the fire as A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutNewsFire(&polybot.NewsFire{RuleID: "rule-b", HeadlineID: "h-own-b", Action: "planted by a"})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := f.e.state(f.a); len(s.NewsFires) != 2 || s.NewsFires[0].Action != "planted by a" {
					t.Errorf("A's fires = %v, want the new one first", s.NewsFires)
				}
			}},
		{method: "NewsFires", does: "lists only A's fires", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.NewsFires(100)
				if err == nil && (len(all) != 1 || all[0].OpportunityID != "opp-news-a") {
					t.Errorf("NewsFires() = %v, want A's one", all)
				}
				return err
			}},
	}
}
