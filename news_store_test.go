package polybot

import (
	"strings"
	"testing"
	"time"
)

// at is 21 November 2025 (the day of the Fed's Williams remarks) at
// hh:mm UTC.
func at(hh, mm int) time.Time { return time.Date(2025, 11, 21, hh, mm, 0, 0, time.UTC) }

// A hand-worked replay: what each headline does to a "cut" rule with a
// 10-minute cooldown.
func TestReplayNewsRuleFiresOncePerStoryAndHonoursTheCooldown(t *testing.T) {
	rule := &NewsRule{ID: "cut", Name: "Fed cut", AnyOf: []string{"cut"}, NoneOf: []string{"hike"}, Mode: NewsDirect,
		Markets: []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-H0")}, Outcome: No,
		MaxPrice: MustDecimal("0.62"), MaxSize: MustDecimal("100"), Cooldown: 10 * time.Minute, TakeProfit: MustDecimal("0.05")}
	hs := []*Headline{ // newest first, as the stores list them
		{ID: "h7", Source: "wire", Title: "Markets price a rate cut", Received: at(12, 30)},
		{ID: "h6", Source: "wire", Title: "Bostic: a cut is possible", Link: "https://www.news.example/waller?utm_source=x", Received: at(12, 12)},
		{ID: "h5", Source: "wire", Title: "Waller backs a cut", Link: "https://news.example/waller", Received: at(12, 10)},
		{ID: "h4", Source: "wire", Title: "Powell: no hike, and no cut either", Received: at(12, 7)},
		{ID: "h3", Source: "other", Title: "Fed's Williams — room for a cut in the near term", Received: at(12, 5)},
		{ID: "h2", Source: "wire", Title: "Williams says room for a CUT", Received: at(12, 3)},
		{ID: "h1", Source: "reuters", Title: "Fed's Williams: room for a cut 'in the near term'", Received: at(12, 0)},
	}
	got := ReplayNewsRule(rule, hs)
	want := []struct {
		id     string
		fired  bool
		reason string
	}{
		{"h1", true, ""}, // the first match fires
		{"h2", false, "until 2025-11-21 12:10:00 UTC"}, // inside h1's cooldown
		// h3 is h1's story from another source (same normalised title): never acted on.
		// h4 says "hike": a none_of term.
		{"h5", true, ""}, // the cooldown ends at 12:10 exactly
		// h6 links to h5's story (tracking parameters and www. aside): never acted on.
		{"h7", true, ""},
	}
	if len(got) != len(want) {
		var ids []string
		for _, h := range got {
			ids = append(ids, h.Headline.ID)
		}
		t.Fatalf("hits %v, want %d of them", ids, len(want))
	}
	for i, w := range want {
		h := got[i]
		if h.Headline.ID != w.id || h.Fired != w.fired || !strings.Contains(h.Reason, w.reason) || (w.reason == "") != (h.Reason == "") {
			t.Errorf("hit %d = %s fired %v reason %q, want %s fired %v reason with %q", i, h.Headline.ID, h.Fired, h.Reason, w.id, w.fired, w.reason)
		}
		if h.Mode != NewsDirect || h.Outcome != "NO" || h.MaxPrice.String() != "0.62" || h.MaxSize.String() != "100.00" {
			t.Errorf("hit %d action %s %s %s %s, want direct NO 0.62 100", i, h.Mode, h.Outcome, h.MaxPrice, h.MaxSize)
		}
		if len(h.Targets) != 1 || h.Targets[0].Instrument == nil || *h.Targets[0].Instrument != rule.Markets[0].No {
			t.Errorf("hit %d targets %+v, want the market's NO contract", i, h.Targets)
		}
	}
	if d := got[0].Does; d != "Buy NO on 1 market at up to 0.62, at most 100 contracts each; exit on take profit +0.05" {
		t.Errorf("Does = %q", d)
	}
	if hs[0].ID != "h7" {
		t.Error("ReplayNewsRule reordered its argument")
	}
}

func TestReplayNewsRuleDescribesEachModesTargets(t *testing.T) {
	lag := &NewsRule{Mode: NewsLag, AllOf: []string{"cpi"}, Pairs: []string{"cpi-a", "cpi-b"}, Outcome: Yes,
		MaxPrice: MustDecimal("0.4"), MaxSize: MustDecimal("25"), Threshold: MustDecimal("0.05"),
		StopLoss: MustDecimal("0.03"), TimeStop: 15 * time.Minute}
	hits := ReplayNewsRule(lag, []*Headline{{ID: "h", Title: "CPI hotter than expected", Received: at(13, 30)}})
	if len(hits) != 1 || !hits[0].Fired {
		t.Fatalf("hits = %+v, want one fire", hits)
	}
	h := hits[0]
	if len(h.Targets) != 2 || h.Targets[0].Pair != "cpi-a" || h.Targets[1].Pair != "cpi-b" || h.Targets[0].Instrument != nil {
		t.Errorf("targets %+v, want the two pairs", h.Targets)
	}
	want := "On each of 2 matched pairs, once one venue has moved 0.05 toward YES and the other has not: buy YES on the lagging venue at up to 0.40, at most 25 contracts; exit on stop loss −0.03, time stop after 15 minutes"
	if h.Does != want {
		t.Errorf("Does = %q\nwant   %q", h.Does, want)
	}
	if got := ReplayNewsRule(lag, nil); got == nil || len(got) != 0 {
		t.Errorf("replay of no headlines = %v, want an empty list", got)
	}
}

func TestReplayNewsRuleDescribesEquityRulesAndHedges(t *testing.T) {
	tlt := &EquityOrder{Venue: Alpaca, Symbol: "TLT", Side: EquityBuy, Quantity: MustDecimal("10"), MaxPrice: MustDecimal("90.00")}
	eq := &NewsRule{Mode: NewsEquity, AllOf: []string{"cut"}, Equity: tlt, TakeProfit: MustDecimal("0.025"), TimeStop: 2 * time.Minute}
	hits := ReplayNewsRule(eq, []*Headline{{ID: "h", Title: "Fed cut", Received: at(13, 30)}})
	if len(hits) != 1 || len(hits[0].Targets) != 1 || *hits[0].Targets[0].Instrument != (Instrument{Venue: Alpaca, Market: "TLT"}) {
		t.Fatalf("hits = %+v, want one fire on Alpaca TLT", hits)
	}
	if want := "Buy 10 TLT on Alpaca at up to 90.00; exit on take profit +2.5%, time stop after 2 minutes"; hits[0].Does != want {
		t.Errorf("Does = %q\nwant   %q", hits[0].Does, want)
	}
	direct := &NewsRule{Mode: NewsDirect, Outcome: No, MaxPrice: MustDecimal("0.5"), MaxSize: MustDecimal("10"),
		Markets: []BinaryMarket{{Yes: Instrument{Venue: Kalshi, Market: "K", Outcome: Yes}, No: Instrument{Venue: Kalshi, Market: "K", Outcome: No}}},
		Hedge:   &EquityOrder{Venue: Alpaca, Symbol: "TLT", Side: EquitySell, Quantity: MustDecimal("5"), MaxPrice: MustDecimal("88.50")}}
	if want := "Buy NO on 1 market at up to 0.50, at most 10 contracts each; once that fills, hedge: Sell up to 5 TLT held on Alpaca at 88.50 or more"; direct.Describe() != want {
		t.Errorf("Describe = %q\nwant       %q", direct.Describe(), want)
	}
}

func TestValidateStoredWantsWholeSeconds(t *testing.T) {
	base := func() *NewsRule {
		return &NewsRule{ID: "r", Name: "r", AnyOf: []string{"fed"}, Mode: NewsDirect, Markets: []BinaryMarket{kalshiBinary("K")},
			Outcome: Yes, MaxPrice: MustDecimal("0.5"), MaxSize: One}
	}
	for _, c := range []struct {
		field string
		set   func(*NewsRule)
	}{
		{"window_seconds", func(r *NewsRule) { r.Window = 1500 * time.Millisecond }},
		{"cooldown_seconds", func(r *NewsRule) { r.Cooldown = time.Nanosecond }},
		{"time_stop_seconds", func(r *NewsRule) { r.TimeStop = time.Minute + time.Microsecond }},
	} {
		r := base()
		c.set(r)
		if err := r.ValidateStored(); ErrorFields(err)[c.field] == "" {
			t.Errorf("%s: ValidateStored = %v, want it named", c.field, err)
		}
	}
	r := base()
	r.MaxSize = Zero
	r.Window = time.Millisecond
	err := r.ValidateStored()
	if f := ErrorFields(err); f["max_size"] == "" || f["window_seconds"] == "" {
		t.Errorf("ValidateStored = %v, want both Validate's and its own complaints", err)
	}
	if err := base().ValidateStored(); err != nil {
		t.Errorf("a valid rule: %v", err)
	}
	f := &NewsFeed{ID: "f", Name: "f", URL: "https://example.com/rss", ETag: "a\x00b"}
	if err := f.ValidateStored(); ErrorFields(err)["etag"] == "" || f.Every != DefaultFeedInterval {
		t.Errorf("feed with a NUL in its ETag: %v (every %v), want etag named and the default interval", err, f.Every)
	}
	if err := (&Headline{Title: "t"}).ValidateStored(); ErrorFields(err)["id"] == "" {
		t.Errorf("headline without an id: %v, want id named", err)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0 seconds", time.Second: "1 second", 45 * time.Second: "45 seconds",
		10 * time.Minute: "10 minutes", 90 * time.Minute: "1 hour 30 minutes", 7 * 24 * time.Hour: "7 days",
		25*time.Hour + time.Second: "1 day 1 hour 1 second"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestNewsPageLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 100, 0: 100, 1: 1, 500: 500, 1000: 1000, 1001: 1000} {
		if got := NewsPageLimit(in); got != want {
			t.Errorf("NewsPageLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestNewsHookAndFireValidateNameTheField(t *testing.T) {
	if err := (&NewsHook{ID: "h", Name: "n"}).Validate(); ErrorFields(err)["secret"] == "" {
		t.Errorf("hook without a secret: %v", err)
	}
	if err := (&NewsFire{RuleID: "r", HeadlineID: "h", Action: "ordered", LatencyMicros: -5}).Validate(); ErrorFields(err)["latency_micros"] == "" {
		t.Errorf("fire with a negative latency: %v", err)
	}
	if err := (&NewsFire{RuleID: "r", HeadlineID: "h", Action: "ordered", OpportunityID: "opp", LatencyMicros: 1500}).Validate(); err != nil {
		t.Errorf("a valid fire: %v", err)
	}
}
