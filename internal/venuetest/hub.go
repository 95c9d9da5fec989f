package venuetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// The market-data hub over the venue's feed: the chain the trading engine
// reads books from.

var hubScenarios = []scenario{
	{"SubscribersShareOneVenueSubscription", testHubSharesSubscription},
	{"ViewsEqualTheVenuesBookThroughManyDeltas", testHubViewsEqualBook},
	{"ADroppedSocketNeverShowsABookTheVenueNeverHad", testHubReconnect},
	{"TradesCauseNoResync", testHubTrades},
}

// RunHub runs the hub scenarios.
func RunHub(t *testing.T, open Opener) { runAll(t, open, hubScenarios, (*env).needFeed) }

type hubRig struct {
	e   *env
	hub *marketdata.Hub
}

// startHub runs a hub over a new feed (see StartHub).
func (e *env) startHub(t *testing.T, tap func(polybot.BookEvent)) *hubRig {
	t.Helper()
	return &hubRig{e: e, hub: StartHub(t, e.Feed(t), tap)}
}

// StartHub runs a hub over feed until t ends. With tap set, the feed's
// sink is the hub's Handle followed by tap, so a test sees every state the
// hub publishes, in order; without it the hub runs as the engine runs it
// (Hub.Run).
func StartHub(t *testing.T, f polybot.MarketFeed, tap func(polybot.BookEvent)) *marketdata.Hub {
	t.Helper()
	h := marketdata.NewHub(f, marketdata.HubConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if tap == nil {
			_ = h.Run(ctx)
			return
		}
		_ = f.Run(ctx, func(ev polybot.BookEvent) {
			h.Handle(ev)
			tap(ev)
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (r *hubRig) subscribe(t *testing.T) *marketdata.Subscription {
	t.Helper()
	s, err := r.hub.Subscribe(r.e.ctx, r.e.Instrument)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// view returns the hub's live book of the instrument (false when there is
// none or it is stale).
func (r *hubRig) view() (Book, bool) {
	v, err := r.hub.View(r.e.Instrument)
	if err != nil || v.Stale {
		return Book{}, false
	}
	return Book{v.Bids, v.Asks}, true
}

func (r *hubRig) waitView(t *testing.T, what string, want Book) {
	t.Helper()
	want = r.e.shown(want)
	eventually(t, what+" (want "+want.String()+")", func() bool { b, ok := r.view(); return ok && b.Equal(want) })
}

func liveViews(vs []*marketdata.View) int {
	n := 0
	for _, v := range vs {
		if !v.Stale {
			n++
		}
	}
	return n
}

func testHubSharesSubscription(t *testing.T, e *env) {
	a := Book{levels(L("0.30", "5")), levels(L("0.40", "6"))}
	e.SetBook(t, a.Bids, a.Asks)
	r := e.startHub(t, nil)
	s1, s2 := r.subscribe(t), r.subscribe(t)
	r.waitView(t, "the first snapshot", a)
	for _, s := range []*marketdata.Subscription{s1, s2} {
		eventually(t, "each subscriber has the live view", func() bool { return liveViews(s.Poll(nil)) == 1 })
	}
	venueSubs := func() int {
		if e.VenueSubscriptions == nil {
			return 1
		}
		return e.VenueSubscriptions()
	}
	if n := venueSubs(); n != 1 {
		t.Fatalf("the venue sees %d subscriptions for two subscribers, want 1", n)
	}
	// A third subscriber, after the book is live, has it at once and costs
	// the venue nothing.
	s3 := r.subscribe(t)
	if n := liveViews(s3.Poll(nil)); n != 1 {
		t.Fatalf("a late subscriber's first poll has %d live views, want 1", n)
	}
	if st := r.hub.Stats(); st.Subscriptions != 3 || st.Instruments != 1 {
		t.Fatalf("hub stats %+v, want 3 subscriptions over 1 instrument", st)
	}
	// Subscribers leave; the book follows the venue until the last one.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	b := Book{levels(L("0.31", "3")), levels(L("0.40", "6"))}
	e.SetBook(t, b.Bids, b.Asks)
	r.waitView(t, "a change after one subscriber left", b)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if n := venueSubs(); n != 1 {
		t.Fatalf("with one subscriber left the venue sees %d subscriptions, want 1", n)
	}
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the venue subscription is closed", func() bool { return e.VenueSubscriptions == nil || e.VenueSubscriptions() == 0 })
	if _, err := r.hub.View(e.Instrument); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("View with no subscriber left: %v, want ENOTFOUND", err)
	}
	if st := r.hub.Stats(); st.Subscriptions != 0 || st.Instruments != 0 || st.Resyncs != 0 || st.Gaps != 0 || st.Crossed != 0 {
		t.Fatalf("hub stats at the end %+v", st)
	}
	// Subscribing again subscribes at the venue again, with a fresh book.
	c := Book{levels(L("0.29", "9")), levels(L("0.40", "6"))}
	e.SetBook(t, c.Bids, c.Asks)
	r.subscribe(t)
	r.waitView(t, "subscribing again", c)
	if n := venueSubs(); n != 1 {
		t.Fatalf("after subscribing again the venue sees %d subscriptions, want 1", n)
	}
}

func testHubViewsEqualBook(t *testing.T, e *env) {
	steps := []Book{
		{levels(L("0.45", "100"), L("0.44", "250.5")), levels(L("0.47", "80"), L("0.50", "1000"))},
		{levels(L("0.45", "60"), L("0.44", "250.5")), levels(L("0.47", "80"), L("0.50", "1000"))},             // a size changes
		{levels(L("0.45", "60"), L("0.43", "7")), levels(L("0.46", "5"), L("0.47", "80"), L("0.50", "1000"))}, // levels go and come
		{levels(L("0.45", "60"), L("0.43", "7")), nil},                                                        // a side emptied
		{levels(L("0.60", "5")), levels(L("0.65", "8"))},                                                      // up through the old asks
		{levels(L("0.10", "5")), levels(L("0.15", "8"))},                                                      // and down through the old bids
		{nil, nil}, // both empty
		{levels(L("0.44", "1.5"), L("0.30", "1"), L("0.20", "2.25")), levels(L("0.55", "0.5"), L("0.56", "9"))},
	}
	e.SetBook(t, steps[0].Bids, steps[0].Asks)
	r := e.startHub(t, nil)
	r.subscribe(t)
	r.waitView(t, "the snapshot", steps[0])
	v, _ := r.hub.View(e.Instrument)
	if bid, _ := v.BestBid(); bid != L("0.45", "100") {
		t.Fatalf("best bid %v, want 0.45 × 100", bid)
	}
	if ask, _ := v.BestAsk(); ask != L("0.47", "80") {
		t.Fatalf("best ask %v, want 0.47 × 80", ask)
	}
	for i, b := range steps[1:] {
		e.SetBook(t, b.Bids, b.Asks)
		r.waitView(t, fmt.Sprintf("step %d", i+2), b)
	}
	if st := r.hub.Stats(); st.Resyncs != 0 || st.Gaps != 0 || st.Crossed != 0 {
		t.Fatalf("hub stats %+v: changes in order need no resync", st)
	}
}

// history records, after every feed event, the hub's view of the
// instrument, and checks it against the books it may show.
type history struct {
	r *hubRig

	mu      sync.Mutex
	allowed []Book // nil: record nothing
	bad     []string
	seen    []int // index in allowed of each live state seen
}

func (h *history) tap(ev polybot.BookEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.allowed == nil {
		return
	}
	got, ok := h.r.view()
	if !ok {
		return // stale or gone
	}
	i := 0
	for i < len(h.allowed) && !h.allowed[i].Equal(got) {
		i++
	}
	if i == len(h.allowed) {
		h.bad = append(h.bad, fmt.Sprintf("showed %v after a %v event", got, ev.Kind))
		return
	}
	if len(h.seen) == 0 || h.seen[len(h.seen)-1] != i {
		h.seen = append(h.seen, i)
	}
}

func (h *history) watch(allowed ...Book) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range allowed {
		allowed[i] = h.r.e.shown(allowed[i])
	}
	h.allowed, h.bad, h.seen = allowed, nil, nil
}

// stop ends the check and fails t if a state outside the allowed ones was
// published, or if the allowed states were not seen in order.
func (h *history) stop(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("the hub published books the venue never had:\n%s", strings.Join(h.bad, "\n"))
	}
	for i := 1; i < len(h.seen); i++ {
		if h.seen[i] < h.seen[i-1] {
			t.Fatalf("the hub went back to an older book: states %v", h.seen)
		}
	}
	h.allowed = nil
}

func testHubReconnect(t *testing.T, e *env) {
	e.needFaults(t)
	a := Book{levels(L("0.45", "100"), L("0.44", "5")), levels(L("0.47", "80"))}
	e.SetBook(t, a.Bids, a.Asks)
	h := &history{}
	r := e.startHub(t, h.tap)
	h.r = r
	s := r.subscribe(t)
	r.waitView(t, "the first snapshot", a)

	// While the feed is away the book moves: several levels at once, so a
	// partial update would show a book the venue never had.
	b := Book{levels(L("0.46", "3"), L("0.45", "100")), levels(L("0.48", "1"), L("0.49", "2"))}
	h.watch(a, b)
	e.Faults.DropSockets()
	e.SetBook(t, b.Bids, b.Asks)
	r.waitView(t, "the book after reconnecting", b)
	h.stop(t)
	for _, v := range s.Poll(nil) {
		if got := (Book{v.Bids, v.Asks}); !v.Stale && !got.Equal(e.shown(a)) && !got.Equal(e.shown(b)) {
			t.Fatalf("a subscriber was delivered %v, a book the venue never had", got)
		}
	}
	// Changes flow on the new connection.
	c := Book{levels(L("0.46", "3"), L("0.45", "100"), L("0.40", "1")), b.Asks}
	e.SetBook(t, c.Bids, c.Asks)
	r.waitView(t, "changes on the new connection", c)
	if e.VenueSubscriptions != nil && e.VenueSubscriptions() != 1 {
		t.Fatalf("after the reconnect the venue sees %d subscriptions, want 1", e.VenueSubscriptions())
	}
	if st := r.hub.Stats(); st.Crossed != 0 {
		t.Fatalf("hub stats %+v", st)
	}
}

// testHubTrades crosses the book with takers: asks 0.40 × 6 and 0.42 × 10.
// t1 buys 4 at 0.40; t2 buys 6 up to 0.42 (2 at 0.40, 4 at 0.42); t3 buys 9
// at 0.42, takes the 6 left and rests 3 there: the ask goes and a bid comes
// at the same price.
func testHubTrades(t *testing.T, e *env) {
	e.SetBook(t, levels(L("0.30", "5")), levels(L("0.40", "6"), L("0.42", "10")))
	r := e.startHub(t, nil)
	s := r.subscribe(t)
	r.waitView(t, "the first snapshot", Book{levels(L("0.30", "5")), levels(L("0.40", "6"), L("0.42", "10"))})
	before := r.hub.Stats()
	x := e.exchange(t, ExchangeOptions{})
	for _, o := range []polybot.OrderRequest{
		e.order("vt-t1", polybot.Buy, "0.40", "4", polybot.FAK),
		e.order("vt-t2", polybot.Buy, "0.42", "6", polybot.FAK),
		e.order("vt-t3", polybot.Buy, "0.42", "9", polybot.GTC),
	} {
		if st := e.place(t, x, o); st.Filled.IsZero() {
			t.Fatalf("order %s did not trade: %+v", o.ClientOrderID, st)
		}
	}
	r.waitView(t, "the book after the trades", Book{levels(L("0.42", "3"), L("0.30", "5")), nil})
	if e.TopOfBook { // no trade events to wait for; the book's changes caused no resync
		if st := r.hub.Stats(); st.Resyncs != before.Resyncs || st.Gaps != before.Gaps || st.Crossed != before.Crossed {
			t.Fatalf("the trades' book changes caused a resync: hub stats %+v → %+v", before, st)
		}
		return
	}
	// Each taker order trades at least once; the first trade is t1's.
	var trades []polybot.BookEvent
	eventually(t, "the trades reach the subscriber", func() bool {
		trades, _ = s.Trades(trades)
		return len(trades) >= 3
	})
	for _, tr := range trades {
		if tr.Kind != polybot.BookTrade || tr.Instrument != e.Instrument {
			t.Fatalf("a trade event %+v", tr)
		}
	}
	if tr := trades[0]; tr.TradePrice != D("0.40") || tr.TradeSize != D("4") || tr.TradeSide != polybot.Buy {
		t.Fatalf("first trade %+v, want a buy of 4 at 0.40", tr)
	}
	after := r.hub.Stats()
	if after.Resyncs != before.Resyncs || after.Gaps != before.Gaps || after.Crossed != before.Crossed || after.TradesDropped != 0 {
		t.Fatalf("trades caused a resync: hub stats %+v → %+v", before, after)
	}
}
