package kalshi_test

// The market-data hub over the real Kalshi feed, talking to the simulator
// over a real WebSocket: the chain the trading engine reads books from.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venuetest"
)

type hubRig struct {
	*env
	feed *kalshi.Feed
	hub  *marketdata.Hub
}

// startHub runs a hub over a Kalshi feed (trades on) pointed at the
// simulator (see venuetest.StartHub for tap).
func (e *env) startHub(t *testing.T, tap func(polybot.BookEvent)) *hubRig {
	t.Helper()
	f := e.feed(t, nil)
	return &hubRig{env: e, feed: f, hub: venuetest.StartHub(t, f, tap)}
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

func (b book) equal(o book) bool { return slices.Equal(b.bids, o.bids) && slices.Equal(b.asks, o.asks) }

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
