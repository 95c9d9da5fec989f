package polymarket_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

// A hand-made three-outcome negRisk event: its books at two times, the
// second the one that stays.
var (
	fedNegRiskID = "0x" + strings.Repeat("e7", 32)
	fedOutcomes  = []struct {
		label, cond, yes, no string
	}{
		{"Cut", "0x" + strings.Repeat("c1", 32), "31001", "31002"},
		{"Hold", "0x" + strings.Repeat("c2", 32), "32001", "32002"},
		{"Hike", "0x" + strings.Repeat("c3", 32), "33001", "33002"},
	}
	// Final YES books (bids, asks) by outcome; NO books are their
	// complements (a NO bid at 1 − each YES ask).
	fedFinal = map[string][2][]polybot.Level{
		"Cut":  {{lv("0.24", "100")}, {lv("0.26", "120")}},
		"Hold": {{lv("0.58", "200")}, {lv("0.60", "100"), lv("0.62", "300")}},
		"Hike": {{lv("0.12", "80")}, {lv("0.14", "90")}},
	}
)

func complement(ls []polybot.Level) []polybot.Level {
	out := make([]polybot.Level, len(ls))
	for i, l := range ls {
		out[i] = polybot.Level{Price: polybot.One.Sub(l.Price), Size: l.Size}
	}
	return out
}

func fedInstruments(i int) (yes, no polybot.Instrument) {
	o := fedOutcomes[i]
	return polybot.Instrument{Venue: polybot.Polymarket, Market: o.cond, Token: o.yes, Outcome: polybot.Yes},
		polybot.Instrument{Venue: polybot.Polymarket, Market: o.cond, Token: o.no, Outcome: polybot.No}
}

func fedRecording() *replay.EventRecording {
	rec := &replay.EventRecording{Set: polybot.OutcomeSet{ID: "fed-jan-2026", Name: "Fed decision in January?",
		Venue: polybot.Polymarket, Event: fedNegRiskID, Exhaustive: true}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, o := range fedOutcomes {
		yes, no := fedInstruments(i)
		rec.Set.Outcomes = append(rec.Set.Outcomes, polybot.SetOutcome{Label: o.label,
			Markets: []polybot.BinaryMarket{{Yes: yes, No: no}}})
	}
	for step, at := range []time.Time{t0, t0.Add(time.Minute)} {
		for i, o := range fedOutcomes {
			yes, no := fedInstruments(i)
			bids, asks := fedFinal[o.label][0], fedFinal[o.label][1]
			if step == 0 { // an earlier book the replay must move past
				bids, asks = []polybot.Level{lv("0.30", "5")}, []polybot.Level{lv("0.65", "50")}
			}
			rec.Events = append(rec.Events,
				polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes, Bids: bids, Asks: asks, TickSize: d("0.01"), Time: at},
				polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: no, Bids: complement(asks), Asks: complement(bids), TickSize: d("0.01"), Time: at})
		}
	}
	return rec
}

func TestAnEventTheSimulatorServesIsReadAsAValidOutcomeSetWhoseBooksArriveAndTrade(t *testing.T) {
	rec := fedRecording()
	s, err := sim.New(sim.Config{Events: []*replay.EventRecording{rec}})
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, s.Start, nil)
	cfg := urls.ClientConfig(pm.ChainPolygon)
	f := &fixture{sim: s, urls: urls, cfg: cfg}
	c := pm.NewClient(cfg)
	ctx := ctxT(t)

	// Gamma /events by slug, and by id.
	evs, err := c.Events(ctx, pm.EventsQuery{Slugs: []string{"fed-jan-2026"}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("events by slug: %+v %v", evs, err)
	}
	ev := evs[0]
	if !ev.NegRisk || ev.NegRiskAugmented || ev.NegRiskMarketID != fedNegRiskID || ev.Title != "Fed decision in January?" || len(ev.Markets) != 3 {
		t.Fatalf("event %+v: want a negRisk, not augmented event of 3 markets under %s", ev, fedNegRiskID)
	}
	byID, err := c.Event(ctx, ev.ID)
	if err != nil || byID.Slug != ev.Slug || len(byID.Markets) != 3 {
		t.Fatalf("event by id %s: %+v %v", ev.ID, byID, err)
	}
	if _, err := c.Event(ctx, "999"); venuetest.VenueError(t, err).Status != http.StatusNotFound {
		t.Fatalf("an unknown event: %v, want not found", err)
	}
	for i, m := range ev.Markets {
		if !m.NegRisk || m.NegRiskMarketID != fedNegRiskID || m.GroupItemTitle != fedOutcomes[i].label ||
			m.QuestionID != fedNegRiskID[:64]+[]string{"00", "01", "02"}[i] || !m.Active || m.Closed {
			t.Errorf("market %d: %+v", i, m)
		}
	}
	// The markets are listed like any other: Gamma /markets, the CLOB's neg-risk flag.
	ms, err := c.Markets(ctx, pm.MarketsQuery{ConditionIDs: []string{fedOutcomes[1].cond}})
	if err != nil || len(ms) != 1 || !ms[0].NegRisk || ms[0].GroupItemTitle != "Hold" || ms[0].TokenIDs[0] != "32001" {
		t.Fatalf("gamma /markets: %+v %v", ms, err)
	}
	if nr, err := c.NegRisk(ctx, "32002"); err != nil || !nr {
		t.Fatalf("neg-risk of a NO token: %v %v", nr, err)
	}
	if info, err := c.ClobMarketInfo(ctx, fedOutcomes[2].cond); err != nil || info.TickSize != d("0.01") {
		t.Fatalf("clob market: %+v %v", info, err)
	}

	// The outcome set, instrument by instrument.
	set, skipped, err := pm.OutcomeSetOf(ev)
	venuetest.ValidOutcomeSet(t, set, skipped, err)
	if !set.Exhaustive || set.Approved || set.Venue != polybot.Polymarket || set.Event != fedNegRiskID || set.ID != "polymarket-"+ev.ID {
		t.Fatalf("set %+v: want exhaustive, not approved, event %s", set, fedNegRiskID)
	}
	for i, o := range set.Outcomes {
		want := rec.Set.Outcomes[i]
		if o.Label != want.Label || len(o.Markets) != 1 || o.Markets[0] != want.Markets[0] {
			t.Errorf("outcome %d: %+v, want %+v", i, o, want)
		}
	}

	// Every outcome's YES and NO book arrives on the market channel, as recorded last.
	var insts []polybot.Instrument
	for i := range fedOutcomes {
		yes, no := fedInstruments(i)
		insts = append(insts, yes, no)
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	eventually("the replay's last books", func() bool {
		a := s.Engine().Depth("32001", 0).Asks
		return len(a) == 2 && a[0] == lv("0.60", "100")
	})
	fb := runFeed(t, f, insts...)
	for i, o := range fedOutcomes {
		fb.matches(t, f, o.yes)
		fb.matches(t, f, o.no)
		yes, no := fedInstruments(i)
		wantBids, wantAsks := fedFinal[o.label][0], fedFinal[o.label][1]
		fb.mu.Lock()
		y, n := fb.books[yes.Token], fb.books[no.Token]
		ok := slices.Equal(y.Bids, wantBids) && slices.Equal(y.Asks, wantAsks) &&
			slices.Equal(n.Bids, complement(wantAsks)) && slices.Equal(n.Asks, complement(wantBids))
		fb.mu.Unlock()
		if !ok {
			t.Errorf("%s: feed books YES %v/%v NO %v/%v, want YES %v/%v", o.label, y.Bids, y.Asks, n.Bids, n.Asks, wantBids, wantAsks)
		}
	}

	// A FOK buy of Hold YES fills against the replayed depth: 100 at 0.60 and 50 at 0.62.
	x, _ := f.tenant(t, cfg)
	hold, _ := fedInstruments(1)
	st, err := x.PlaceOrder(ctx, order("fok-hold", hold, polybot.Buy, "0.62", "150", polybot.FOK))
	if err != nil || st.State != polybot.OrderFilled || st.Filled != d("150") {
		t.Fatalf("FOK buy: %+v %v", st, err)
	}
	if bal, err := x.Balance(ctx); err != nil || bal.Total != d("909") {
		t.Fatalf("balance %+v %v, want 1000 − (100 × 0.60 + 50 × 0.62) = 909", bal, err)
	}
	fb.matches(t, f, hold.Token)
	if a := s.Engine().Depth(hold.Token, 0).Asks; len(a) != 1 || a[0] != lv("0.62", "250") {
		t.Fatalf("Hold YES asks after the fill: %v, want 0.62 × 250", a)
	}
	// More than the book holds is killed whole.
	if _, err := x.PlaceOrder(ctx, order("fok-too-big", hold, polybot.Buy, "0.62", "251", polybot.FOK)); err == nil {
		t.Fatal("a FOK larger than the book filled")
	}
	if a := s.Engine().Depth(hold.Token, 0).Asks; len(a) != 1 || a[0] != lv("0.62", "250") {
		t.Fatalf("a killed FOK moved the book: %v", a)
	}
}

func TestOutcomeSetOfAGammaEvent(t *testing.T) {
	market := func(id, title, cond, tokens, outcomes string, active, closed bool) string {
		return `{"id":"` + id + `","question":"Will the Fed ` + strings.ToLower(title) + `?","conditionId":"` + cond +
			`","groupItemTitle":"` + title + `","clobTokenIds":` + tokens + `,"outcomes":` + outcomes +
			`,"active":` + map[bool]string{true: "true", false: "false"}[active] +
			`,"closed":` + map[bool]string{true: "true", false: "false"}[closed] +
			`,"negRisk":true,"negRiskMarketID":"0xnr","questionID":"0xq` + id + `","orderPriceMinTickSize":0.01,"orderMinSize":5}`
	}
	yesNo := `"[\"Yes\", \"No\"]"`
	cut := market("1", "Cut", "0xc1", `"[\"101\", \"102\"]"`, yesNo, true, false)
	hold := market("2", "Hold", "0xc2", `"[\"201\", \"202\"]"`, yesNo, true, false)
	hike := market("3", "Hike", "0xc3", `"[\"301\", \"302\"]"`, yesNo, true, false)
	event := func(flags string, markets ...string) string {
		return `{"id":"77","slug":"fed-decision","title":"Fed decision?","active":true,"closed":false,` + flags +
			`,"negRiskMarketID":"0xnr","markets":[` + strings.Join(markets, ",") + `]}`
	}
	negRisk := `"negRisk":true,"enableNegRisk":true,"negRiskAugmented":false`
	tests := []struct {
		name           string
		json           string
		wantLabels     []string
		wantYes        []string // YES token ids
		wantExhaustive bool
		wantSkipped    []string
		wantErr        string // in the decode or conversion error
	}{
		{"a negRisk event of open markets is exhaustive", event(negRisk, cut, hold, hike),
			[]string{"Cut", "Hold", "Hike"}, []string{"101", "201", "301"}, true, nil, ""},
		{"an augmented negRisk event is not: its placeholders and Other change meaning",
			event(`"negRisk":true,"enableNegRisk":true,"negRiskAugmented":true`, cut, hold, hike),
			[]string{"Cut", "Hold", "Hike"}, []string{"101", "201", "301"}, false, nil, ""},
		{"an event that is not negRisk is not exhaustive", event(`"negRisk":false`, cut, hold, hike),
			[]string{"Cut", "Hold", "Hike"}, []string{"101", "201", "301"}, false, nil, ""},
		{"a closed market is skipped and the set is not exhaustive",
			event(negRisk, cut, market("2", "Hold", "0xc2", `"[\"201\", \"202\"]"`, yesNo, true, true), hike),
			[]string{"Cut", "Hike"}, []string{"101", "301"}, false, []string{"Hold: closed"}, ""},
		{"an inactive market is skipped",
			event(negRisk, cut, hold, market("3", "Hike", "0xc3", `"[\"301\", \"302\"]"`, yesNo, false, false)),
			[]string{"Cut", "Hold"}, []string{"101", "201"}, false, []string{"Hike: inactive"}, ""},
		{"the YES token follows the outcomes' order",
			event(negRisk, cut, hold, market("3", "Hike", "0xc3", `"[\"302\", \"301\"]"`, `"[\"No\", \"Yes\"]"`, true, false)),
			[]string{"Cut", "Hold", "Hike"}, []string{"101", "201", "301"}, true, nil, ""},
		{"a market without a group title is labelled by its question",
			event(negRisk, cut, hold, strings.Replace(hike, `"groupItemTitle":"Hike",`, "", 1)),
			[]string{"Cut", "Hold", "Will the Fed hike?"}, []string{"101", "201", "301"}, true, nil, ""},
		{"malformed clobTokenIds are an error naming them",
			event(negRisk, cut, market("2", "Hold", "0xc2", `"[\"201\", "`, yesNo, true, false), hike),
			nil, nil, false, nil, "gamma market 2: clobTokenIds"},
		{"one token is not a YES/NO pair",
			event(negRisk, cut, market("2", "Hold", "0xc2", `"[\"201\"]"`, yesNo, true, false), hike),
			nil, nil, false, nil, "market 2: clobTokenIds has 1 token ids, want 2"},
		{"outcomes that are not Yes and No are an error",
			event(negRisk, cut, market("2", "Hold", "0xc2", `"[\"201\", \"202\"]"`, `"[\"Up\", \"Down\"]"`, true, false), hike),
			nil, nil, false, nil, `market 2: outcomes ["Up" "Down"] are not Yes and No`},
		{"one open market is no set",
			event(negRisk, cut, market("2", "Hold", "0xc2", `"[\"201\", \"202\"]"`, yesNo, true, true)),
			nil, nil, false, []string{"Hold: closed"}, "has 1 market that trades"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := pm.DecodeGammaEvent([]byte(tc.json))
			var set *polybot.OutcomeSet
			var skipped []polybot.SkippedMarket
			if err == nil {
				set, skipped, err = pm.OutcomeSetOf(ev)
			}
			if !venuetest.OutcomeSetCase(t, set, skipped, err, tc.wantSkipped, tc.wantErr) {
				return
			}
			var labels, yes []string
			for _, o := range set.Outcomes {
				labels, yes = append(labels, o.Label), append(yes, o.Markets[0].Yes.Token)
				if o.Markets[0].No.Outcome != polybot.No || o.Markets[0].No.Token == o.Markets[0].Yes.Token {
					t.Errorf("%s: NO instrument %+v", o.Label, o.Markets[0].No)
				}
			}
			if strings.Join(labels, "|") != strings.Join(tc.wantLabels, "|") || strings.Join(yes, "|") != strings.Join(tc.wantYes, "|") {
				t.Errorf("outcomes %v YES %v, want %v %v", labels, yes, tc.wantLabels, tc.wantYes)
			}
			if set.Exhaustive != tc.wantExhaustive || set.Approved || set.Event != "0xnr" || set.ID != "polymarket-77" {
				t.Errorf("set %s (%s) exhaustive %v approved %v, want exhaustive %v, never approved", set.ID, set.Event, set.Exhaustive, set.Approved, tc.wantExhaustive)
			}
		})
	}
}
