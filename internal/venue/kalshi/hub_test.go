package kalshi_test

// The market-data hub over the real Kalshi feed, talking to the simulator
// over a real WebSocket: the chain the trading engine reads books from.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

type hubRig struct {
	*env
	feed *kalshi.Feed
	hub  *marketdata.Hub
}

// startHub runs a hub over a Kalshi feed (trades on) pointed at the
// simulator. With tap set, the feed's sink is the hub's Handle followed by
// tap, so a test sees every state the hub publishes, in order; without it
// the hub runs as the engine runs it (Hub.Run).
func (e *env) startHub(t *testing.T, tap func(polybot.BookEvent)) *hubRig {
	t.Helper()
	f, err := kalshi.NewFeed(kalshi.FeedConfig{URL: e.urls.WS, Signer: kalshi.NewSigner(e.keyID, kalshi.NewPrivateKey(e.key), nil),
		Trades: true, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
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
	return &hubRig{env: e, feed: f, hub: h}
}

func (r *hubRig) subscribe(t *testing.T, insts ...polybot.Instrument) *marketdata.Subscription {
	t.Helper()
	s, err := r.hub.Subscribe(context.Background(), insts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// book is the two sides of one instrument's book, best first.
type book struct{ bids, asks []polybot.Level }

func (b book) String() string { return fmt.Sprintf("bids %v asks %v", b.bids, b.asks) }

func (b book) equal(o book) bool { return levelsEqual(b.bids, o.bids) && levelsEqual(b.asks, o.asks) }

// oneMinus maps levels to 1 − price, keeping their order: YES asks, best
// (lowest) first, become NO bids, best (highest) first, and vice versa.
func oneMinus(ls []polybot.Level) []polybot.Level {
	out := make([]polybot.Level, len(ls))
	for i, l := range ls {
		out[i] = polybot.Level{Price: polybot.One.Sub(l.Price), Size: l.Size}
	}
	return out
}

// simBook is the simulator's book read from its matching engine (no
// connector code involved): the YES book, and the NO book derived from it
// (a NO bid at X is a YES ask at 1 − X).
func (e *env) simBook() (yes, no book) {
	d := e.sim.Engine().Depth(ticker, 0)
	return book{d.Bids, d.Asks}, book{oneMinus(d.Asks), oneMinus(d.Bids)}
}

// view returns the hub's live book of inst (ok false when there is none or
// it is stale).
func (r *hubRig) view(inst polybot.Instrument) (book, bool) {
	v, err := r.hub.View(inst)
	if err != nil || v.Stale {
		return book{}, false
	}
	return book{v.Bids, v.Asks}, true
}

// matchesSim reports whether the hub's YES and NO views equal the
// simulator's book.
func (r *hubRig) matchesSim() bool {
	yes, no := kalshi.Instruments(ticker)
	sy, sn := r.simBook()
	y, ok1 := r.view(yes)
	n, ok2 := r.view(no)
	return ok1 && ok2 && y.equal(sy) && n.equal(sn)
}

// waitMatch waits until the hub's views equal the simulator's book, and
// reports both when they never do.
func (r *hubRig) waitMatch(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !r.matchesSim() {
		if time.Now().After(deadline) {
			yes, no := kalshi.Instruments(ticker)
			sy, sn := r.simBook()
			vy, ey := r.hub.View(yes)
			vn, en := r.hub.View(no)
			t.Fatalf("%s: the hub's views never matched the simulator\nYES hub %+v %v\n    sim %v\nNO  hub %+v %v\n    sim %v",
				what, vy, ey, sy, vn, en, sn)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHubOverKalshiFeedSharesOneVenueSubscriptionBetweenSubscribers(t *testing.T) {
	e := startSim(t)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.40", "10")}, []polybot.Level{lv("0.55", "7")}); err != nil {
		t.Fatal(err)
	}
	r := e.startHub(t, nil)
	yes, no := kalshi.Instruments(ticker)
	s1, err := r.hub.Subscribe(context.Background(), yes, no)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.hub.Subscribe(context.Background(), yes, no)
	if err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "first snapshot")
	for _, s := range []*marketdata.Subscription{s1, s2} {
		if got := liveViews(s.Poll(nil)); len(got) != 2 {
			t.Fatalf("a subscriber got %d live views, want YES and NO", len(got))
		}
	}
	// The venue sees one book subscription and one trade subscription for
	// the market: two subscribers, two instruments, one market.
	venueSubs := func() (book, trade int) {
		return e.sim.Subscriptions("orderbook_delta", ticker), e.sim.Subscriptions("trade", ticker)
	}
	if b, tr := venueSubs(); b != 1 || tr != 1 {
		t.Fatalf("the venue sees %d orderbook_delta and %d trade subscriptions, want 1 and 1", b, tr)
	}
	// A third subscriber, after the book is live, gets it at once and
	// costs the venue nothing.
	s3 := r.subscribe(t, yes)
	if got := liveViews(s3.Poll(nil)); len(got) != 1 {
		t.Fatalf("a late subscriber's first poll has %d live views, want 1", len(got))
	}
	if st := r.hub.Stats(); st.Subscriptions != 3 || st.Instruments != 2 {
		t.Fatalf("hub stats %+v, want 3 subscriptions over 2 instruments", st)
	}

	// Closing one subscriber keeps the venue subscription: the book still
	// follows the venue.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.41", "3")}, []polybot.Level{lv("0.55", "7")}); err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "a delta after one subscriber left")
	if b, tr := venueSubs(); b != 1 || tr != 1 {
		t.Fatalf("after one of three subscribers left the venue sees %d/%d subscriptions, want 1/1", b, tr)
	}
	// Closing the last subscriber of NO leaves the market subscribed for
	// YES.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.hub.View(no); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("View(NO) with no subscriber left: %v, want not found", err)
	}
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.42", "4")}, []polybot.Level{lv("0.55", "7")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the YES book follows the venue after NO's last subscriber left", func() bool {
		sy, _ := r.simBook()
		y, ok := r.view(yes)
		return ok && y.equal(sy)
	})
	if b, tr := venueSubs(); b != 1 || tr != 1 {
		t.Fatalf("with YES still wanted the venue sees %d/%d subscriptions, want 1/1", b, tr)
	}
	// The last subscriber leaves: the feed unsubscribes at the venue.
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the venue subscriptions are closed", func() bool { b, tr := venueSubs(); return b == 0 && tr == 0 })
	if _, err := r.hub.View(yes); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("View(YES) with no subscriber left: %v, want not found", err)
	}
	if st := r.hub.Stats(); st.Subscriptions != 0 || st.Instruments != 0 || st.Resyncs != 0 || st.Gaps != 0 || st.Crossed != 0 {
		t.Fatalf("hub stats at the end %+v", st)
	}
	if st := r.feed.Stats(); st.Connects != 1 || st.Resyncs != 0 || st.Gaps != 0 {
		t.Fatalf("feed stats %+v: want one connection, no resync", st)
	}
	// Subscribing again subscribes at the venue again.
	r.subscribe(t, yes, no)
	r.waitMatch(t, "subscribing again")
	if b, tr := venueSubs(); b != 1 || tr != 1 {
		t.Fatalf("after subscribing again the venue sees %d/%d subscriptions, want 1/1", b, tr)
	}
}

func liveViews(vs []*marketdata.View) []*marketdata.View {
	var out []*marketdata.View
	for _, v := range vs {
		if !v.Stale {
			out = append(out, v)
		}
	}
	return out
}

func TestHubOverKalshiFeedViewsEqualTheSimulatorsBookForYesAndNo(t *testing.T) {
	e := startSim(t)
	// YES bids 0.50, 0.49; NO bids 0.48, 0.47 (YES asks 0.52, 0.53).
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.50", "4024"), lv("0.49", "100")},
		[]polybot.Level{lv("0.48", "26176"), lv("0.47", "12.5")}); err != nil {
		t.Fatal(err)
	}
	r := e.startHub(t, nil)
	yes, no := kalshi.Instruments(ticker)
	r.subscribe(t, yes, no)
	r.waitMatch(t, "the snapshot")

	// Exactly: a NO bid at X is a YES ask at 1 − X, a YES bid at Y a NO ask
	// at 1 − Y, level for level.
	want := map[polybot.Instrument]book{
		yes: {bids: []polybot.Level{lv("0.50", "4024"), lv("0.49", "100")}, asks: []polybot.Level{lv("0.52", "26176"), lv("0.53", "12.5")}},
		no:  {bids: []polybot.Level{lv("0.48", "26176"), lv("0.47", "12.5")}, asks: []polybot.Level{lv("0.50", "4024"), lv("0.51", "100")}},
	}
	for inst, w := range want {
		if got, _ := r.view(inst); !got.equal(w) {
			t.Fatalf("%s view %v, want %v", inst.Key(), got, w)
		}
	}
	v, _ := r.hub.View(yes)
	if bid, _ := v.BestBid(); bid != lv("0.50", "4024") {
		t.Fatalf("YES best bid %v", bid)
	}
	if ask, _ := v.BestAsk(); ask != lv("0.52", "26176") {
		t.Fatalf("YES best ask %v, want the NO bid 0.48 as 0.52", ask)
	}

	// Several rounds of deltas: levels change size, go, come, and the
	// market moves through its old prices (every change one delta frame).
	steps := []struct{ yes, no []polybot.Level }{
		{[]polybot.Level{lv("0.50", "10"), lv("0.49", "100")}, []polybot.Level{lv("0.48", "26176"), lv("0.47", "12.5")}},
		{[]polybot.Level{lv("0.50", "10"), lv("0.51", "7")}, []polybot.Level{lv("0.47", "12.5")}},
		{[]polybot.Level{lv("0.51", "7"), lv("0.30", "1"), lv("0.20", "2.25")}, []polybot.Level{lv("0.47", "1"), lv("0.46", "9"), lv("0.01", "500")}},
		{[]polybot.Level{lv("0.60", "5")}, []polybot.Level{lv("0.35", "8")}}, // up through the old asks
		{[]polybot.Level{lv("0.10", "5")}, []polybot.Level{lv("0.85", "8")}}, // and down through the old bids
		{nil, []polybot.Level{lv("0.85", "8")}},                              // one side empty
		{nil, nil},                                                           // both empty
		{[]polybot.Level{lv("0.44", "1.5")}, []polybot.Level{lv("0.55", "0.5")}},
	}
	for i, st := range steps {
		if err := e.sim.SetBook(ticker, st.yes, st.no); err != nil {
			t.Fatal(err)
		}
		r.waitMatch(t, fmt.Sprintf("deltas of step %d", i+1))
	}
	// The last step, exactly: YES bid 0.44 and ask 1 − 0.55; NO the mirror.
	if got, _ := r.view(yes); !got.equal(book{[]polybot.Level{lv("0.44", "1.5")}, []polybot.Level{lv("0.45", "0.5")}}) {
		t.Fatalf("YES view %v", got)
	}
	if got, _ := r.view(no); !got.equal(book{[]polybot.Level{lv("0.55", "0.5")}, []polybot.Level{lv("0.56", "1.5")}}) {
		t.Fatalf("NO view %v", got)
	}
	if st := r.hub.Stats(); st.Resyncs != 0 || st.Gaps != 0 || st.Crossed != 0 {
		t.Fatalf("hub stats %+v: deltas in order need no resync", st)
	}
	if st := r.feed.Stats(); st.Snapshots != 1 || st.Deltas == 0 || st.Gaps != 0 || st.Resyncs != 0 {
		t.Fatalf("feed stats %+v: want one snapshot then deltas only", st)
	}
}

// The NO side of a market whose YES side is already live shares the
// market's venue subscription, and must still get its snapshot promptly
// (not after the hub's resync retry, and not only if deltas flow).
func TestHubOverKalshiFeedSubscribingTheOtherSideOfALiveMarketGetsItsBook(t *testing.T) {
	e := startSim(t)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.40", "10")}, []polybot.Level{lv("0.55", "7")}); err != nil {
		t.Fatal(err)
	}
	r := e.startHub(t, nil)
	yes, no := kalshi.Instruments(ticker)
	r.subscribe(t, yes)
	eventually(t, "the YES book", func() bool { sy, _ := r.simBook(); y, ok := r.view(yes); return ok && y.equal(sy) })
	sNo := r.subscribe(t, no)
	// Well within the hub's 5 s resync retry, with the book standing still.
	deadline := time.Now().Add(2 * time.Second)
	for !r.matchesSim() {
		if time.Now().After(deadline) {
			v, err := r.hub.View(no)
			t.Fatalf("the NO book never came: %+v %v (feed %+v)", v, err, r.feed.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e.sim.Subscriptions("orderbook_delta", ticker) != 1 {
		t.Fatalf("the venue sees %d book subscriptions, want 1", e.sim.Subscriptions("orderbook_delta", ticker))
	}
	// Dropping NO and taking it again works the same way.
	if err := sNo.Close(); err != nil {
		t.Fatal(err)
	}
	r.subscribe(t, no)
	deadline = time.Now().Add(2 * time.Second)
	for !r.matchesSim() {
		if time.Now().After(deadline) {
			t.Fatalf("the NO book never came after subscribing again (feed %+v)", r.feed.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.41", "10")}, []polybot.Level{lv("0.56", "7")}); err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "deltas after the NO side joined")
}

// history records, after every feed event, the hub's view of each
// instrument, and checks each against the books it may show.
type history struct {
	r *hubRig

	mu      sync.Mutex
	allowed map[polybot.Instrument][]book // nil: record nothing
	bad     []string
	stale   map[polybot.Instrument]int
	seen    map[polybot.Instrument][]int // index in allowed of each live state seen
}

func (h *history) tap(ev polybot.BookEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.allowed == nil {
		return
	}
	for inst, ok := range h.allowed {
		v, err := h.r.hub.View(inst)
		if err != nil {
			h.stale[inst]++
			continue
		}
		got := book{v.Bids, v.Asks}
		i := 0
		for i < len(ok) && !ok[i].equal(got) {
			i++
		}
		if i == len(ok) {
			h.bad = append(h.bad, fmt.Sprintf("%s showed %v after a %v event", inst.Key(), got, ev.Kind))
			continue
		}
		if s := h.seen[inst]; len(s) == 0 || s[len(s)-1] != i {
			h.seen[inst] = append(s, i)
		}
	}
}

// watch starts checking every published state against allowed.
func (h *history) watch(allowed map[polybot.Instrument][]book) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allowed, h.bad = allowed, nil
	h.stale, h.seen = map[polybot.Instrument]int{}, map[polybot.Instrument][]int{}
}

// stop ends the check and fails t if a state outside the allowed ones was
// published, or if the allowed states were not seen in order.
func (h *history) stop(t *testing.T) (stale map[polybot.Instrument]int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("the hub published books the venue never had:\n%s", strings.Join(h.bad, "\n"))
	}
	for inst, s := range h.seen {
		for i := 1; i < len(s); i++ {
			if s[i] < s[i-1] {
				t.Fatalf("%s went back to an older book: states %v", inst.Key(), s)
			}
		}
	}
	h.allowed = nil
	return h.stale
}

// subscriberViews collects every view the hub delivers to a subscription
// and checks it is stale or one of the books in allowed.
func subscriberViews(t *testing.T, s *marketdata.Subscription) (check func(allowed map[polybot.Instrument][]book)) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var views []*marketdata.View
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf []*marketdata.View
		for {
			var err error
			buf, err = s.Next(ctx, buf[:0])
			mu.Lock()
			views = append(views, buf...)
			mu.Unlock()
			s.Trades(nil)
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func(allowed map[polybot.Instrument][]book) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, v := range views {
			if v.Stale {
				continue
			}
			got := book{v.Bids, v.Asks}
			found := false
			for _, b := range allowed[v.Instrument] {
				found = found || b.equal(got)
			}
			if !found {
				t.Fatalf("a subscriber was delivered %s %v (version %d), a book the venue never had", v.Instrument.Key(), got, v.Version)
			}
		}
		views = views[:0]
	}
}

func TestHubOverKalshiFeedResyncsAfterASequenceGapNeverShowingAWrongBook(t *testing.T) {
	e := startSim(t)
	yesA, noA := []polybot.Level{lv("0.40", "10"), lv("0.39", "5")}, []polybot.Level{lv("0.50", "10"), lv("0.49", "3")}
	if err := e.sim.SetBook(ticker, yesA, noA); err != nil {
		t.Fatal(err)
	}
	h := &history{}
	r := e.startHub(t, h.tap)
	h.r = r
	yes, no := kalshi.Instruments(ticker)
	check := subscriberViews(t, r.subscribe(t, yes, no))
	r.waitMatch(t, "the first snapshot")
	ay, an := r.simBook()

	// The first delta after the gap is numbered one too far; the ones after
	// it follow on from it. Applying any of them to A gives a book the venue
	// never had (e.g. 0.38 without 0.39 removed), so the hub may show A,
	// nothing (stale), or B, and nothing else.
	gapsBefore := r.hub.Stats().Gaps
	e.sim.SkipSeq(ticker)
	yesB, noB := []polybot.Level{lv("0.40", "10"), lv("0.38", "2")}, []polybot.Level{lv("0.50", "4"), lv("0.48", "6")}
	by, bn := book{yesB, oneMinus(noB)}, book{noB, oneMinus(yesB)}
	allowed := map[polybot.Instrument][]book{yes: {ay, by}, no: {an, bn}}
	h.watch(allowed)
	if err := e.sim.SetBook(ticker, yesB, noB); err != nil {
		t.Fatal(err)
	}
	if sy, sn := r.simBook(); !sy.equal(by) || !sn.equal(bn) {
		t.Fatalf("the simulator's book B is %v / %v", sy, sn)
	}
	eventually(t, "the feed sees the gap and resubscribes", func() bool {
		s := r.feed.Stats()
		return s.Gaps >= 1 && s.Resyncs >= 1 && s.Snapshots >= 2
	})
	r.waitMatch(t, "the book after the resync")
	stale := h.stop(t)
	check(allowed)
	// The hub was told: it counted the gap, and between the gap and the
	// fresh snapshot both books were stale rather than A.
	if got := r.hub.Stats().Gaps; got <= gapsBefore {
		t.Fatalf("hub gaps %d → %d: the hub kept serving the pre-gap book as live during the resync", gapsBefore, got)
	}
	if stale[yes] == 0 || stale[no] == 0 {
		t.Fatalf("no stale state published between the gap and the snapshot: %v", stale)
	}

	// Deltas on the new subscription apply in sequence again.
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.41", "1")}, []polybot.Level{lv("0.50", "4")}); err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "deltas after the resync")
	if e.sim.Subscriptions("orderbook_delta", ticker) != 1 {
		t.Fatalf("the venue sees %d book subscriptions after the resync, want 1", e.sim.Subscriptions("orderbook_delta", ticker))
	}
}

func TestHubOverKalshiFeedReconnectsAfterADroppedWebSocketWithAFreshBook(t *testing.T) {
	e := startSim(t)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.40", "10")}, []polybot.Level{lv("0.55", "7")}); err != nil {
		t.Fatal(err)
	}
	h := &history{}
	r := e.startHub(t, h.tap)
	h.r = r
	yes, no := kalshi.Instruments(ticker)
	check := subscriberViews(t, r.subscribe(t, yes, no))
	r.waitMatch(t, "the first snapshot")
	ay, an := r.simBook()

	yesB, noB := []polybot.Level{lv("0.39", "2"), lv("0.35", "1")}, []polybot.Level{lv("0.56", "3")}
	by, bn := book{yesB, oneMinus(noB)}, book{noB, oneMinus(yesB)}
	allowed := map[polybot.Instrument][]book{yes: {ay, by}, no: {an, bn}}
	h.watch(allowed)
	e.sim.DropWebSockets()
	// The book moves while the feed is away: only a fresh snapshot can
	// tell it.
	if err := e.sim.SetBook(ticker, yesB, noB); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a reconnect with a new snapshot", func() bool { s := r.feed.Stats(); return s.Connects >= 2 && s.Snapshots >= 2 })
	r.waitMatch(t, "the book after reconnecting")
	h.stop(t)
	check(allowed)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.39", "2")}, []polybot.Level{lv("0.57", "3")}); err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "deltas on the new connection")
	if b := e.sim.Subscriptions("orderbook_delta", ticker); b != 1 {
		t.Fatalf("the venue sees %d book subscriptions after the reconnect, want 1", b)
	}
	if st := r.hub.Stats(); st.Crossed != 0 {
		t.Fatalf("hub stats %+v", st)
	}
}

func TestHubOverKalshiFeedTradesCauseNoResync(t *testing.T) {
	e := startSim(t)
	ctx := context.Background()
	x := e.exchange(t, nil)
	// YES bid 0.40 × 10; NO bids 0.45 × 5 and 0.44 × 5 (YES asks 0.55, 0.56).
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.40", "10")}, []polybot.Level{lv("0.45", "5"), lv("0.44", "5")}); err != nil {
		t.Fatal(err)
	}
	r := e.startHub(t, nil)
	yes, no := kalshi.Instruments(ticker)
	s := r.subscribe(t, yes, no)
	r.waitMatch(t, "the first snapshot")
	hubBefore, feedBefore := r.hub.Stats(), r.feed.Stats()

	// Takers cross the book: each trade is on the trade channel (its own
	// sid and seq) and moves the book (orderbook_delta, another seq).
	orders := []polybot.OrderRequest{
		{ClientOrderID: "t1", Instrument: yes, Side: polybot.Buy, Price: polybot.MustDecimal("0.55"), Size: polybot.MustDecimal("2"), TIF: polybot.FAK},
		{ClientOrderID: "t2", Instrument: yes, Side: polybot.Buy, Price: polybot.MustDecimal("0.56"), Size: polybot.MustDecimal("4"), TIF: polybot.FAK},
		{ClientOrderID: "t3", Instrument: no, Side: polybot.Buy, Price: polybot.MustDecimal("0.60"), Size: polybot.MustDecimal("3"), TIF: polybot.FAK},
		// Partly fills at 0.56 and rests the rest there: the ask goes and a
		// bid comes at the same price.
		{ClientOrderID: "t4", Instrument: yes, Side: polybot.Buy, Price: polybot.MustDecimal("0.56"), Size: polybot.MustDecimal("6"), TIF: polybot.GTC},
	}
	for _, o := range orders {
		st, err := x.PlaceOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if st.Filled.IsZero() {
			t.Fatalf("order %s did not trade: %+v", o.ClientOrderID, st)
		}
	}
	// External liquidity arrives and trades with the resting bid.
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.40", "10")}, []polybot.Level{lv("0.44", "2"), lv("0.30", "1")}); err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "the book after the trades")

	// Six trades (t2 takes two levels), each delivered to the subscriber
	// on both instruments.
	var trades []polybot.BookEvent
	eventually(t, "the trades reach the subscriber", func() bool {
		trades, _ = s.Trades(trades)
		return len(trades) >= 12
	})
	var yesTrades, noTrades []polybot.BookEvent
	for _, tr := range trades {
		if tr.Kind != polybot.BookTrade {
			t.Fatalf("a trade event of kind %v", tr.Kind)
		}
		if tr.Instrument == yes {
			yesTrades = append(yesTrades, tr)
		} else {
			noTrades = append(noTrades, tr)
		}
	}
	if len(yesTrades) != 6 || len(noTrades) != 6 {
		t.Fatalf("%d YES and %d NO trades, want 6 each", len(yesTrades), len(noTrades))
	}
	// The first: a YES taker bought 2 at 0.55, which on NO is a sale at 0.45.
	if y, n := yesTrades[0], noTrades[0]; y.TradePrice != polybot.MustDecimal("0.55") || y.TradeSize != polybot.MustDecimal("2") ||
		y.TradeSide != polybot.Buy || n.TradePrice != polybot.MustDecimal("0.45") || n.TradeSide != polybot.Sell {
		t.Fatalf("first trade YES %+v NO %+v", y, n)
	}

	hubAfter, feedAfter := r.hub.Stats(), r.feed.Stats()
	if hubAfter.Resyncs != hubBefore.Resyncs || hubAfter.Gaps != hubBefore.Gaps || hubAfter.Crossed != hubBefore.Crossed {
		t.Fatalf("trades caused a resync: hub stats %+v → %+v", hubBefore, hubAfter)
	}
	if feedAfter.Resyncs != feedBefore.Resyncs || feedAfter.Gaps != feedBefore.Gaps || feedAfter.Snapshots != feedBefore.Snapshots {
		t.Fatalf("trades caused a resync: feed stats %+v → %+v", feedBefore, feedAfter)
	}
	if hubAfter.TradesDropped != 0 {
		t.Fatalf("trades dropped: %+v", hubAfter)
	}
}
