package polybot_test

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func validRule() *polybot.NewsRule {
	return &polybot.NewsRule{ID: "r1", Name: "Fed cut", Enabled: true, AnyOf: []string{"cut"}, Mode: polybot.NewsDirect,
		Markets: []polybot.BinaryMarket{{
			Yes: polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED-H0", Outcome: polybot.Yes},
			No:  polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED-H0", Outcome: polybot.No}}},
		Outcome: polybot.No, MaxPrice: polybot.MustDecimal("0.50"), MaxSize: polybot.MustDecimal("10")}
}

// tlt buys 10 TLT at up to $90.00 on Alpaca.
func tlt() *polybot.EquityOrder {
	return &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: "TLT", Side: polybot.EquityBuy, Quantity: polybot.MustDecimal("10"),
		MaxPrice: polybot.MustDecimal("90.00")}
}

// equityRule makes r an equity rule buying TLT.
func equityRule(r *polybot.NewsRule) {
	r.Mode, r.Markets, r.Equity, r.MaxPrice, r.MaxSize = polybot.NewsEquity, nil, tlt(), polybot.Zero, polybot.Zero
}

// TestNewsRuleValidationNamesTheField is the rule validation matrix: every
// bad field is refused under its JSON name, and a good rule gets its
// defaults.
func TestNewsRuleValidationNamesTheField(t *testing.T) {
	d := polybot.MustDecimal
	tests := []struct {
		name  string
		mod   func(*polybot.NewsRule)
		field string // "" = valid
	}{
		{"a valid direct rule", func(*polybot.NewsRule) {}, ""},
		{"a valid lag rule", func(r *polybot.NewsRule) {
			r.Mode, r.Markets, r.Pairs, r.Threshold = polybot.NewsLag, nil, []string{"fed-hold"}, d("0.05")
		}, ""},
		{"no id", func(r *polybot.NewsRule) { r.ID = "" }, "id"},
		{"no name", func(r *polybot.NewsRule) { r.Name = "" }, "name"},
		{"nothing to match", func(r *polybot.NewsRule) { r.AnyOf = nil }, "all_of"},
		{"a term of punctuation only", func(r *polybot.NewsRule) { r.AllOf = []string{"--"} }, "all_of[0]"},
		{"a NUL in a term", func(r *polybot.NewsRule) { r.NoneOf = []string{"hike\x00"} }, "none_of[0]"},
		{"too many terms", func(r *polybot.NewsRule) { r.AnyOf = make([]string, polybot.MaxRuleTerms+1) }, "any_of"},
		{"a regex RE2 refuses", func(r *polybot.NewsRule) { r.Regex = "(?<=cut)" }, "regex"},
		{"an empty source", func(r *polybot.NewsRule) { r.Sources = []string{""} }, "sources[0]"},
		{"an unknown mode", func(r *polybot.NewsRule) { r.Mode = "yolo" }, "mode"},
		{"a direct rule without a market", func(r *polybot.NewsRule) { r.Markets = nil }, "markets"},
		{"a lag rule without a pair", func(r *polybot.NewsRule) { r.Mode, r.Threshold = polybot.NewsLag, d("0.05") }, "pairs"},
		{"a lag rule without a threshold", func(r *polybot.NewsRule) {
			r.Mode, r.Markets, r.Pairs = polybot.NewsLag, nil, []string{"fed-hold"}
		}, "threshold"},
		{"a market whose NO is on another venue", func(r *polybot.NewsRule) {
			r.Markets[0].No = polybot.Instrument{Venue: polybot.Polymarket, Token: "1", Outcome: polybot.No}
		}, "markets[0].no"},
		{"no outcome", func(r *polybot.NewsRule) { r.Outcome = 7 }, "outcome"},
		{"a max price of 1", func(r *polybot.NewsRule) { r.MaxPrice = d("1") }, "max_price"},
		{"a max price of 0", func(r *polybot.NewsRule) { r.MaxPrice = polybot.Zero }, "max_price"},
		{"a negative size", func(r *polybot.NewsRule) { r.MaxSize = d("-1") }, "max_size"},
		{"a window of 2 hours", func(r *polybot.NewsRule) { r.Window = 2 * time.Hour }, "window_seconds"},
		{"a negative cooldown", func(r *polybot.NewsRule) { r.Cooldown = -time.Second }, "cooldown_seconds"},
		{"a time stop of 8 days", func(r *polybot.NewsRule) { r.TimeStop = 8 * 24 * time.Hour }, "time_stop_seconds"},
		{"a negative take profit", func(r *polybot.NewsRule) { r.TakeProfit = d("-0.1") }, "take_profit"},
		{"a stop loss of 1", func(r *polybot.NewsRule) { r.StopLoss = d("1") }, "stop_loss"},
		// Equity rules and hedges.
		{"a valid equity rule", func(r *polybot.NewsRule) { equityRule(r) }, ""},
		{"a valid hedge on a direct rule", func(r *polybot.NewsRule) { r.Hedge = tlt() }, ""},
		{"a sub-dollar equity limit in 4 places", func(r *polybot.NewsRule) { equityRule(r); r.Equity.MaxPrice = d("0.1234") }, ""},
		{"an equity rule without its order", func(r *polybot.NewsRule) { equityRule(r); r.Equity = nil }, "equity"},
		{"an equity rule with markets", func(r *polybot.NewsRule) { equityRule(r); r.Markets = validRule().Markets }, "markets"},
		{"an equity rule with a hedge", func(r *polybot.NewsRule) { equityRule(r); r.Hedge = tlt() }, "hedge"},
		{"an equity rule with a contract max price", func(r *polybot.NewsRule) { equityRule(r); r.MaxPrice = d("0.5") }, "max_price"},
		{"an equity order on a direct rule", func(r *polybot.NewsRule) { r.Equity = tlt() }, "equity"},
		{"an equity venue other than alpaca", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Venue = polybot.Kalshi }, "equity.venue"},
		{"no symbol", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Symbol = "" }, "equity.symbol"},
		{"a lower-case symbol", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Symbol = "tlt" }, "equity.symbol"},
		{"a symbol with a space", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Symbol = "T LT" }, "equity.symbol"},
		{"a side of hold", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Side = "hold" }, "equity.side"},
		{"half a share", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Quantity = d("0.5") }, "equity.quantity"},
		{"no shares", func(r *polybot.NewsRule) { equityRule(r); r.Equity.Quantity = polybot.Zero }, "equity.quantity"},
		{"a limit in tenths of a cent above $1", func(r *polybot.NewsRule) { equityRule(r); r.Equity.MaxPrice = d("90.005") }, "equity.max_price"},
		{"a limit of 0", func(r *polybot.NewsRule) { equityRule(r); r.Equity.MaxPrice = polybot.Zero }, "equity.max_price"},
		{"a hedge of half a share", func(r *polybot.NewsRule) { r.Hedge = tlt(); r.Hedge.Quantity = d("0.5") }, "hedge.quantity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRule()
			tc.mod(r)
			err := r.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if r.Window != polybot.DefaultRuleWindow || r.TimeStop != polybot.DefaultRuleTimeStop {
					t.Fatalf("defaults not filled in: window %s, time stop %s", r.Window, r.TimeStop)
				}
				return
			}
			if polybot.ErrorCode(err) != polybot.EINVALID || polybot.ErrorFields(err)[tc.field] == "" {
				t.Fatalf("error %v (fields %v), want EINVALID naming %s", err, polybot.ErrorFields(err), tc.field)
			}
		})
	}
}

func TestNewsRuleMatchesWholeWordsSourcesAndRegex(t *testing.T) {
	r := validRule()
	r.AllOf, r.AnyOf, r.NoneOf = []string{"williams"}, []string{"cut", "adjustment"}, []string{"hike"}
	tests := []struct {
		title, source string
		regex         string
		sources       []string
		want          bool
	}{
		{"MNI BRIEF: Fed's Williams: Room For A Further Adjustment", "mni", "", nil, true},
		{"WILLIAMS BACKS A CUT", "x", "", nil, true},
		{"Williams: shortcut to policy", "x", "", nil, false},            // "cut" is a word, not a substring
		{"Williams sees a cut, not a hike", "x", "", nil, false},         // none_of
		{"Powell sees room for a cut", "x", "", nil, false},              // all_of
		{"Williams: room for a cut", "mni", "", []string{"wire"}, false}, // source filter
		{"Williams: room for a cut", "wire", "", []string{"wire"}, true},
		{"Williams: room for a 25bp cut", "x", `\d+\s*bp`, nil, true},
		{"Williams: room for a cut", "x", `\d+\s*bp`, nil, false},
	}
	for _, tc := range tests {
		c := *r
		c.Regex, c.Sources = tc.regex, tc.sources
		h := &polybot.Headline{Title: tc.title, Source: tc.source}
		if got := c.Matches(h); got != tc.want {
			t.Errorf("%q (source %s, regex %q, sources %v): match %v, want %v", tc.title, tc.source, tc.regex, tc.sources, got, tc.want)
		}
	}
}

func TestHeadlineKeysJoinTheSameStoryAcrossSourcesAndRepolls(t *testing.T) {
	a := &polybot.Headline{Title: "Fed's Williams: Room For A Further Adjustment", Link: "https://www.mni.example/a?utm_source=x#top"}
	b := &polybot.Headline{Title: "FED’S WILLIAMS — ROOM FOR A FURTHER ADJUSTMENT", Link: "https://wire.example/b"}
	c := &polybot.Headline{Title: "Williams sees room to adjust (updated)", Link: "http://mni.example/a/"}
	at, al := a.Keys()
	bt, _ := b.Keys()
	ct, cl := c.Keys()
	if at != bt {
		t.Error("the same title from two sources has two title keys")
	}
	if al != cl || at == ct {
		t.Error("the same link re-polled (tracking, scheme, slash, fragment aside) has two link keys, or a new title the same key")
	}
}
