package kalshi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venue/kalshi"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
	"github.com/polybot/polybot/internal/venuetest"
)

// A hand-made three-outcome mutually exclusive event: its books at two
// times, the second the one that stays.
const fedEvent = "KXFEDTEST-26JAN"

var (
	fedLabels = []string{"Cut", "Hold", "Hike"}
	fedKeys   = []string{"C25", "H0", "H25"}
	// Final YES books (bids, asks) by outcome; NO books are their
	// complements (a NO bid at 1 − each YES ask).
	fedFinal = [][2][]polybot.Level{
		{{lv("0.24", "100")}, {lv("0.26", "120")}},
		{{lv("0.58", "200")}, {lv("0.60", "100"), lv("0.62", "300")}},
		{{lv("0.12", "80")}, {lv("0.14", "90")}},
	}
)

func complement(ls []polybot.Level) []polybot.Level {
	out := make([]polybot.Level, len(ls))
	for i, l := range ls {
		out[i] = polybot.Level{Price: polybot.One.Sub(l.Price), Size: l.Size}
	}
	return out
}

func fedRecording() *replay.EventRecording {
	rec := &replay.EventRecording{Set: polybot.OutcomeSet{ID: "fed-jan-2026", Name: "Fed decision in January 2026",
		Venue: polybot.Kalshi, Event: fedEvent, Exhaustive: true}}
	for i, l := range fedLabels {
		yes, no := kalshi.Instruments(fedEvent + "-" + fedKeys[i])
		rec.Set.Outcomes = append(rec.Set.Outcomes, polybot.SetOutcome{Label: l, Markets: []polybot.BinaryMarket{{Yes: yes, No: no}}})
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for step, at := range []time.Time{t0, t0.Add(time.Minute)} {
		for i := range fedLabels {
			yes, no := kalshi.Instruments(fedEvent + "-" + fedKeys[i])
			bids, asks := fedFinal[i][0], fedFinal[i][1]
			if step == 0 { // an earlier book the replay must move past
				bids, asks = []polybot.Level{lv("0.30", "5")}, []polybot.Level{lv("0.65", "50")}
			}
			rec.Events = append(rec.Events,
				polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes, Bids: bids, Asks: asks, Time: at},
				polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: no, Bids: complement(asks), Asks: complement(bids), Time: at})
		}
	}
	return rec
}

func TestAnEventTheSimulatorServesIsReadAsAValidOutcomeSetWhoseBooksArriveAndTrade(t *testing.T) {
	good, _ := testKeys(t)
	rec := fedRecording()
	sim, err := kalshisim.New(kalshisim.Config{Events: []*replay.EventRecording{rec},
		Series:   []kalshisim.SeriesConfig{{Ticker: "KXFEDTEST", Title: "Fed decision (test)", FeeType: "quadratic", FeeMultiplier: polybot.MustDecimal("0.5")}},
		Accounts: []kalshisim.AccountConfig{{KeyID: "tenant-key", PublicKeyPEM: publicPEM(t, good), Balance: polybot.MustDecimal("1000")}}})
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, sim.Start, sim.Close)
	e := &env{sim: sim, urls: urls, keyID: "tenant-key", key: good}
	ctx, cancelT := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelT()
	c, err := kalshi.NewClient(urls.REST, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	// GET /events/{event_ticker}, and the list with nested markets.
	ev, err := c.Event(ctx, fedEvent)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.MutuallyExclusive || ev.SeriesTicker != "KXFEDTEST" || ev.Title != rec.Set.Name || len(ev.Markets) != 3 {
		t.Fatalf("event %+v: want a mutually exclusive event of 3 markets in series KXFEDTEST", ev)
	}
	list, _, err := c.Events(ctx, kalshi.EventsQuery{WithNestedMarkets: true})
	if err != nil {
		t.Fatal(err)
	}
	var listed *kalshi.Event
	for i := range list {
		if list[i].EventTicker == fedEvent {
			listed = &list[i]
		}
	}
	if listed == nil || len(listed.Markets) != 3 || !listed.MutuallyExclusive {
		t.Fatalf("GET /events?with_nested_markets=true: %+v", list)
	}
	bare, _, err := c.Events(ctx, kalshi.EventsQuery{SeriesTicker: "KXFEDTEST"})
	if err != nil || len(bare) != 1 || len(bare[0].Markets) != 0 {
		t.Fatalf("GET /events?series_ticker=KXFEDTEST without nested markets: %+v %v", bare, err)
	}
	// The markets are listed like any other, and their series carries the fee schedule.
	m, err := c.Market(ctx, fedEvent+"-H0")
	if err != nil || m.YesSubTitle != "Hold" || m.EventTicker != fedEvent || m.Status != kalshi.MarketActive {
		t.Fatalf("GET /markets/{ticker}: %+v %v", m, err)
	}
	ms, _, err := c.Markets(ctx, kalshi.MarketsQuery{EventTicker: fedEvent})
	if err != nil || len(ms) != 3 {
		t.Fatalf("GET /markets?event_ticker: %+v %v", ms, err)
	}
	if fs, err := c.MarketFeeSchedule(ctx, fedEvent+"-C25"); err != nil || fs.Multiplier != polybot.MustDecimal("0.5") {
		t.Fatalf("fee schedule %+v %v, want the series' multiplier 0.5", fs, err)
	}

	// The outcome set, instrument by instrument.
	set, skipped, err := kalshi.OutcomeSetOf(ev)
	venuetest.ValidOutcomeSet(t, set, skipped, err)
	if !set.Exhaustive || set.Approved || set.Venue != polybot.Kalshi || set.Event != fedEvent || set.ID != "kalshi-"+fedEvent {
		t.Fatalf("set %+v: want exhaustive (mutually exclusive, nothing skipped), not approved", set)
	}
	for i, o := range set.Outcomes {
		if want := rec.Set.Outcomes[i]; o.Label != want.Label || len(o.Markets) != 1 || o.Markets[0] != want.Markets[0] {
			t.Errorf("outcome %d: %+v, want %+v", i, o, want)
		}
	}

	// Every outcome's YES and NO book arrives on the WebSocket, as recorded last.
	b := &books{}
	f, err := kalshi.NewFeed(kalshi.FeedConfig{URL: urls.WS, Signer: kalshi.NewSigner(e.keyID, kalshi.NewPrivateKey(good), nil),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Subscribe(ctx, rec.Instruments()...); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(fctx, b.sink) }()
	t.Cleanup(func() { fcancel(); <-done })
	for i, l := range fedLabels {
		yes, no := kalshi.Instruments(fedEvent + "-" + fedKeys[i])
		wantBids, wantAsks := fedFinal[i][0], fedFinal[i][1]
		eventually(t, l+"'s YES and NO books as recorded last", func() bool {
			y, n := b.book(yes), b.book(no)
			return slices.Equal(y.Bids, wantBids) && slices.Equal(y.Asks, wantAsks) &&
				slices.Equal(n.Bids, complement(wantAsks)) && slices.Equal(n.Asks, complement(wantBids))
		})
	}

	// A FOK buy of Hold YES fills against the replayed depth: 100 at 0.60 and 50 at 0.62.
	x := e.exchange(t, nil)
	hold, _ := kalshi.Instruments(fedEvent + "-H0")
	st, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "fok-hold", Instrument: hold, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.62"), Size: polybot.MustDecimal("150"), TIF: polybot.FOK})
	if err != nil || st.State != polybot.OrderFilled || st.Filled != polybot.MustDecimal("150") {
		t.Fatalf("FOK buy: %+v %v", st, err)
	}
	eventually(t, "the feed's Hold YES book to lose what was bought", func() bool {
		return slices.Equal(b.book(hold).Asks, []polybot.Level{lv("0.62", "250")})
	})
	// More than the book holds is killed whole.
	st, err = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "fok-too-big", Instrument: hold, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.62"), Size: polybot.MustDecimal("251"), TIF: polybot.FOK})
	if err == nil && st.Filled.Sign() != 0 {
		t.Fatalf("a FOK larger than the book filled: %+v", st)
	}
	if a := sim.Engine().Depth(hold.Market, 0).Asks; !slices.Equal(a, []polybot.Level{lv("0.62", "250")}) {
		t.Fatalf("a killed FOK moved the book: %v", a)
	}
}

func TestOutcomeSetOfAKalshiEvent(t *testing.T) {
	market := func(ticker, status, fields string) kalshi.Market {
		var m kalshi.Market
		if err := json.Unmarshal([]byte(`{"ticker":"`+ticker+`","event_ticker":"KXFED-26JAN","status":"`+status+`"`+fields+`}`), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cut := market("KXFED-26JAN-C25", "active", `,"yes_sub_title":"Cut 25bps","title":"Will the Fed cut?"`)
	hold := market("KXFED-26JAN-H0", "active", `,"yes_sub_title":"Hold","title":"Will the Fed hold?"`)
	hike := market("KXFED-26JAN-H25", "active", `,"yes_sub_title":"Hike 25bps","title":"Will the Fed hike?"`)
	tests := []struct {
		name           string
		exclusive      bool
		markets        []kalshi.Market
		wantLabels     []string
		wantExhaustive bool
		wantSkipped    []string
		wantErr        string
	}{
		{"a mutually exclusive event of active markets is exhaustive", true, []kalshi.Market{cut, hold, hike},
			[]string{"Cut 25bps", "Hold", "Hike 25bps"}, true, nil, ""},
		{"an event that is not mutually exclusive is not", false, []kalshi.Market{cut, hold, hike},
			[]string{"Cut 25bps", "Hold", "Hike 25bps"}, false, nil, ""},
		{"a finalized market is skipped and the set is not exhaustive", true,
			[]kalshi.Market{cut, market("KXFED-26JAN-H0", "finalized", `,"yes_sub_title":"Hold"`), hike},
			[]string{"Cut 25bps", "Hike 25bps"}, false, []string{"Hold: status finalized"}, ""},
		{"a market not open yet is skipped", true,
			[]kalshi.Market{cut, hold, market("KXFED-26JAN-H25", "initialized", `,"yes_sub_title":"Hike 25bps"`)},
			[]string{"Cut 25bps", "Hold"}, false, []string{"Hike 25bps: status initialized"}, ""},
		{"the label falls back to the subtitle, then the title", true,
			[]kalshi.Market{market("KXFED-26JAN-C25", "active", `,"subtitle":"Cut","title":"Will the Fed cut?"`),
				market("KXFED-26JAN-H0", "active", `,"title":"Will the Fed hold?"`)},
			[]string{"Cut", "Will the Fed hold?"}, true, nil, ""},
		{"one active market is no set", true, []kalshi.Market{cut, market("KXFED-26JAN-H0", "closed", `,"yes_sub_title":"Hold"`)},
			nil, false, []string{"Hold: status closed"}, "has 1 market that trades"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &kalshi.Event{EventTicker: "KXFED-26JAN", SeriesTicker: "KXFED", Title: "Fed decision in January",
				MutuallyExclusive: tc.exclusive, Markets: tc.markets}
			set, skipped, err := kalshi.OutcomeSetOf(ev)
			if !venuetest.OutcomeSetCase(t, set, skipped, err, tc.wantSkipped, tc.wantErr) {
				return
			}
			var labels []string
			for i, o := range set.Outcomes {
				labels = append(labels, o.Label)
				yes, no := kalshi.Instruments(tc.markets[indexOf(tc.markets, o.Markets[0].Yes.Market)].Ticker)
				if o.Markets[0].Yes != yes || o.Markets[0].No != no {
					t.Errorf("outcome %d: %+v, want %v %v", i, o.Markets[0], yes, no)
				}
			}
			if strings.Join(labels, "|") != strings.Join(tc.wantLabels, "|") {
				t.Errorf("labels %v, want %v", labels, tc.wantLabels)
			}
			if set.Exhaustive != tc.wantExhaustive || set.Approved || set.ID != "kalshi-KXFED-26JAN" || set.Event != "KXFED-26JAN" {
				t.Errorf("set %s (%s) exhaustive %v approved %v, want exhaustive %v, never approved", set.ID, set.Event, set.Exhaustive, set.Approved, tc.wantExhaustive)
			}
		})
	}
}

func indexOf(ms []kalshi.Market, ticker string) int {
	for i, m := range ms {
		if m.Ticker == ticker {
			return i
		}
	}
	return -1
}
