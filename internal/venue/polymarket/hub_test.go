package polymarket_test

// The market-data hub over the real Polymarket feed, talking to the
// simulator over a real WebSocket: the chain the trading engine reads books
// from.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
)

type hubRig struct {
	f    *fixture
	feed *pm.Feed
	hub  *marketdata.Hub
}

// startHub runs a hub over a Polymarket feed pointed at the simulator. With
// tap set, the feed's sink is the hub's Handle followed by tap, so a test
// sees every state the hub publishes, in order; without it the hub runs as
// the engine runs it (Hub.Run).
func startHub(t *testing.T, f *fixture, tap func(polybot.BookEvent)) *hubRig {
	t.Helper()
	feed := pm.NewFeed(f.cfg, nil)
	h := marketdata.NewHub(feed, marketdata.HubConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if tap == nil {
			_ = h.Run(ctx)
			return
		}
		_ = feed.Run(ctx, func(ev polybot.BookEvent) {
			h.Handle(ev)
			tap(ev)
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &hubRig{f: f, feed: feed, hub: h}
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

func (b book) equal(o book) bool { return levelsEq(b.bids, o.bids) && levelsEq(b.asks, o.asks) }

// simBook is the simulator's book of inst, from its matching engine once
// every update has gone out on the market channel.
func (r *hubRig) simBook(inst polybot.Instrument) book {
	r.f.sim.Sync()
	d := r.f.sim.Engine().Depth(inst.Token, 0)
	return book{d.Bids, d.Asks}
}

func (r *hubRig) view(inst polybot.Instrument) (book, bool) {
	v, err := r.hub.View(inst)
	if err != nil || v.Stale {
		return book{}, false
	}
	return book{v.Bids, v.Asks}, true
}

// waitMatch waits until the hub's views of insts equal the simulator's
// books.
func (r *hubRig) waitMatch(t *testing.T, what string, insts ...polybot.Instrument) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		for _, in := range insts {
			got, live := r.view(in)
			ok = ok && live && got.equal(r.simBook(in))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, in := range insts {
				v, err := r.hub.View(in)
				fmt.Fprintf(&b, "\n%s… hub %+v %v\n          sim %v", in.Token[:8], v, err, r.simBook(in))
			}
			t.Fatalf("%s: the hub's views never matched the simulator:%s", what, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func snapshot(inst polybot.Instrument, bids, asks []polybot.Level) polybot.BookEvent {
	return polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst, Bids: bids, Asks: asks}
}

func deltaEv(inst polybot.Instrument, bids, asks []polybot.Level) polybot.BookEvent {
	return polybot.BookEvent{Kind: polybot.BookDelta, Instrument: inst, Bids: bids, Asks: asks}
}

func (r *hubRig) apply(t *testing.T, evs ...polybot.BookEvent) {
	t.Helper()
	for _, ev := range evs {
		if err := r.f.sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHubOverPolymarketFeedSharesOneVenueSubscriptionBetweenSubscribers(t *testing.T) {
	f := start(t)
	r := startHub(t, f, nil)
	r.apply(t, snapshot(yes, []polybot.Level{lv("0.45", "100")}, []polybot.Level{lv("0.47", "80")}),
		snapshot(no, []polybot.Level{lv("0.52", "10")}, []polybot.Level{lv("0.55", "20")}))
	s1, err := r.hub.Subscribe(context.Background(), yes, no)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.hub.Subscribe(context.Background(), yes, no)
	if err != nil {
		t.Fatal(err)
	}
	r.waitMatch(t, "first snapshot", yes, no)
	for _, s := range []*marketdata.Subscription{s1, s2} {
		n := 0
		for _, v := range s.Poll(nil) {
			if !v.Stale {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("a subscriber got %d live views, want YES and NO", n)
		}
	}
	venueSubs := func() (int, int) { return f.sim.MarketSubscriptions(yesToken), f.sim.MarketSubscriptions(noToken) }
	if y, n := venueSubs(); y != 1 || n != 1 {
		t.Fatalf("the venue sees %d YES and %d NO subscriptions, want 1 and 1", y, n)
	}
	// A third subscriber gets the live book at once, at no cost to the
	// venue.
	s3 := r.subscribe(t, yes)
	if vs := s3.Poll(nil); len(vs) != 1 || vs[0].Stale {
		t.Fatalf("a late subscriber's first poll: %+v", vs)
	}
	if st := r.hub.Stats(); st.Subscriptions != 3 || st.Instruments != 2 {
		t.Fatalf("hub stats %+v, want 3 subscriptions over 2 instruments", st)
	}

	// One subscriber leaves: the venue subscriptions stay, and the books
	// still follow the venue.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	r.apply(t, deltaEv(yes, []polybot.Level{lv("0.46", "5")}, nil), deltaEv(no, nil, []polybot.Level{lv("0.54", "1")}))
	r.waitMatch(t, "a delta after one subscriber left", yes, no)
	if y, n := venueSubs(); y != 1 || n != 1 {
		t.Fatalf("after one of three subscribers left the venue sees %d/%d subscriptions, want 1/1", y, n)
	}
	// NO's last subscriber leaves: NO is unsubscribed at the venue, YES is
	// not.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the venue drops the NO subscription", func() bool { y, n := venueSubs(); return y == 1 && n == 0 })
	if _, err := r.hub.View(no); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("View(NO) with no subscriber left: %v, want not found", err)
	}
	r.apply(t, deltaEv(yes, []polybot.Level{lv("0.45", "0")}, nil))
	r.waitMatch(t, "YES still follows the venue", yes)
	// The last subscriber leaves: the feed unsubscribes at the venue.
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the venue drops the YES subscription", func() bool { y, n := venueSubs(); return y == 0 && n == 0 })
	if st := r.hub.Stats(); st.Subscriptions != 0 || st.Instruments != 0 || st.Resyncs != 0 || st.Crossed != 0 {
		t.Fatalf("hub stats at the end %+v", st)
	}
	if c := r.feed.Connects(); c != 1 {
		t.Fatalf("%d connections, want 1", c)
	}
	// Subscribing again subscribes at the venue again, with a fresh book.
	r.apply(t, deltaEv(yes, []polybot.Level{lv("0.44", "9")}, nil))
	r.subscribe(t, yes, no)
	r.waitMatch(t, "subscribing again", yes, no)
	if y, n := venueSubs(); y != 1 || n != 1 {
		t.Fatalf("after subscribing again the venue sees %d/%d subscriptions, want 1/1", y, n)
	}
}

func TestHubOverPolymarketFeedViewsEqualTheSimulatorsBooks(t *testing.T) {
	f := start(t)
	r := startHub(t, f, nil)
	r.apply(t, snapshot(yes, []polybot.Level{lv("0.45", "100"), lv("0.44", "250.5")}, []polybot.Level{lv("0.47", "80"), lv("0.50", "1000")}),
		snapshot(no, []polybot.Level{lv("0.52", "10"), lv("0.30", "3")}, []polybot.Level{lv("0.55", "20")}))
	r.subscribe(t, yes, no)
	r.waitMatch(t, "the snapshot", yes, no)
	if got, _ := r.view(yes); !got.equal(book{[]polybot.Level{lv("0.45", "100"), lv("0.44", "250.5")}, []polybot.Level{lv("0.47", "80"), lv("0.50", "1000")}}) {
		t.Fatalf("YES view %v", got)
	}
	if got, _ := r.view(no); !got.equal(book{[]polybot.Level{lv("0.52", "10"), lv("0.30", "3")}, []polybot.Level{lv("0.55", "20")}}) {
		t.Fatalf("NO view %v", got)
	}
	v, _ := r.hub.View(yes)
	if bid, _ := v.BestBid(); bid != lv("0.45", "100") {
		t.Fatalf("YES best bid %v", bid)
	}
	if ask, _ := v.BestAsk(); ask != lv("0.47", "80") {
		t.Fatalf("YES best ask %v", ask)
	}

	// Several deltas: sizes change, levels go and come, a new best on each
	// side, a side emptied, and a whole new snapshot.
	steps := [][]polybot.BookEvent{
		{deltaEv(yes, []polybot.Level{lv("0.45", "60")}, nil)},
		{deltaEv(yes, []polybot.Level{lv("0.44", "0"), lv("0.43", "7")}, []polybot.Level{lv("0.46", "5")})},
		{deltaEv(no, []polybot.Level{lv("0.53", "1.5")}, []polybot.Level{lv("0.55", "0"), lv("0.60", "2")})},
		{deltaEv(yes, nil, []polybot.Level{lv("0.46", "0"), lv("0.47", "0"), lv("0.50", "0")})},
		{deltaEv(yes, nil, []polybot.Level{lv("0.49", "12")}), deltaEv(no, []polybot.Level{lv("0.30", "0")}, nil)},
		{snapshot(yes, []polybot.Level{lv("0.20", "1")}, []polybot.Level{lv("0.80", "1")}), snapshot(no, nil, nil)},
		{deltaEv(no, []polybot.Level{lv("0.19", "4")}, []polybot.Level{lv("0.81", "4")})},
	}
	for i, evs := range steps {
		r.apply(t, evs...)
		r.waitMatch(t, fmt.Sprintf("step %d", i+1), yes, no)
	}
	if st := r.hub.Stats(); st.Resyncs != 0 || st.Crossed != 0 {
		t.Fatalf("hub stats %+v: deltas in order need no resync", st)
	}
}

// history records, after every feed event, the hub's view of each
// instrument, and checks each against the books it may show.
type history struct {
	r *hubRig

	mu      sync.Mutex
	allowed map[polybot.Instrument][]book // nil: record nothing
	bad     []string
	seen    map[polybot.Instrument][]int
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
			continue // stale
		}
		got := book{v.Bids, v.Asks}
		i := 0
		for i < len(ok) && !ok[i].equal(got) {
			i++
		}
		if i == len(ok) {
			h.bad = append(h.bad, fmt.Sprintf("%s… showed %v after a %v event", inst.Token[:8], got, ev.Kind))
			continue
		}
		if s := h.seen[inst]; len(s) == 0 || s[len(s)-1] != i {
			h.seen[inst] = append(s, i)
		}
	}
}

func (h *history) watch(allowed map[polybot.Instrument][]book) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allowed, h.bad, h.seen = allowed, nil, map[polybot.Instrument][]int{}
}

func (h *history) stop(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("the hub published books the venue never had:\n%s", strings.Join(h.bad, "\n"))
	}
	for inst, s := range h.seen {
		for i := 1; i < len(s); i++ {
			if s[i] < s[i-1] {
				t.Fatalf("%s… went back to an older book: states %v", inst.Token[:8], s)
			}
		}
	}
	h.allowed = nil
}

func TestHubOverPolymarketFeedReconnectsAfterADroppedWebSocketWithAFreshBook(t *testing.T) {
	f := start(t)
	h := &history{}
	r := startHub(t, f, h.tap)
	h.r = r
	r.apply(t, snapshot(yes, []polybot.Level{lv("0.45", "100"), lv("0.44", "5")}, []polybot.Level{lv("0.47", "80")}),
		snapshot(no, []polybot.Level{lv("0.52", "10")}, []polybot.Level{lv("0.55", "20")}))
	s := r.subscribe(t, yes, no)
	r.waitMatch(t, "the first snapshot", yes, no)
	ay, an := r.simBook(yes), r.simBook(no)

	// While the feed is away the books move: several levels at once, so a
	// partial update would show a book the venue never had.
	by := book{[]polybot.Level{lv("0.46", "3"), lv("0.45", "100")}, []polybot.Level{lv("0.48", "1"), lv("0.49", "2")}}
	bn := book{[]polybot.Level{lv("0.51", "10")}, []polybot.Level{lv("0.55", "20")}}
	allowed := map[polybot.Instrument][]book{yes: {ay, by}, no: {an, bn}}
	h.watch(allowed)
	f.sim.DropWebSockets()
	r.apply(t, deltaEv(yes, []polybot.Level{lv("0.46", "3"), lv("0.44", "0")}, []polybot.Level{lv("0.47", "0"), lv("0.48", "1"), lv("0.49", "2")}),
		deltaEv(no, []polybot.Level{lv("0.52", "0"), lv("0.51", "10")}, nil))
	if got := r.simBook(yes); !got.equal(by) {
		t.Fatalf("the simulator's YES book B is %v", got)
	}
	if got := r.simBook(no); !got.equal(bn) {
		t.Fatalf("the simulator's NO book B is %v", got)
	}
	eventually(t, "a reconnect", func() bool { return r.feed.Connects() >= 2 })
	r.waitMatch(t, "the books after reconnecting", yes, no)
	h.stop(t)
	for _, v := range s.Poll(nil) {
		got := book{v.Bids, v.Asks}
		if !v.Stale && !got.equal(allowed[v.Instrument][0]) && !got.equal(allowed[v.Instrument][1]) {
			t.Fatalf("a subscriber was delivered %v", got)
		}
	}
	// Deltas flow on the new connection.
	r.apply(t, deltaEv(yes, []polybot.Level{lv("0.40", "1")}, nil))
	r.waitMatch(t, "deltas on the new connection", yes, no)
	if y, n := f.sim.MarketSubscriptions(yesToken), f.sim.MarketSubscriptions(noToken); y != 1 || n != 1 {
		t.Fatalf("after the reconnect the venue sees %d/%d subscriptions, want 1/1", y, n)
	}
	if st := r.hub.Stats(); st.Crossed != 0 {
		t.Fatalf("hub stats %+v", st)
	}
}

func TestHubOverPolymarketFeedTradesCauseNoResync(t *testing.T) {
	f := start(t)
	ctx := ctxT(t)
	r := startHub(t, f, nil)
	r.apply(t, snapshot(yes, []polybot.Level{lv("0.45", "100")}, []polybot.Level{lv("0.47", "10"), lv("0.48", "10")}),
		snapshot(no, []polybot.Level{lv("0.52", "10")}, []polybot.Level{lv("0.55", "20")}))
	s := r.subscribe(t, yes, no)
	r.waitMatch(t, "the first snapshot", yes, no)
	before := r.hub.Stats()

	// Takers cross the book; the last one partly fills and rests its rest
	// at the price it took (an ask goes, a bid comes, in one message).
	x, _ := f.tenant(t, f.cfg)
	for _, o := range []polybot.OrderRequest{
		order("t1", yes, polybot.Buy, "0.47", "4", polybot.FAK),
		order("t2", yes, polybot.Buy, "0.48", "10", polybot.FAK), // two levels
		order("t3", no, polybot.Buy, "0.55", "5", polybot.FAK),
		order("t4", yes, polybot.Buy, "0.48", "9", polybot.GTC),
	} {
		st, err := x.PlaceOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if st.Filled.IsZero() {
			t.Fatalf("order %s did not trade: %+v", o.ClientOrderID, st)
		}
	}
	r.waitMatch(t, "the books after the trades", yes, no)
	if v, _ := r.hub.View(yes); len(v.Bids) == 0 || v.Bids[0] != lv("0.48", "3") {
		t.Fatalf("YES bids after t4 rested: %v", v.Bids)
	}
	// t1 1, t2 2 (0.47 and 0.48), t3 1, t4 1: five last_trade_price events.
	var trades []polybot.BookEvent
	eventually(t, "the trades reach the subscriber", func() bool {
		trades, _ = s.Trades(trades)
		return len(trades) >= 5
	})
	var nYes, nNo int
	for _, tr := range trades {
		if tr.Kind != polybot.BookTrade {
			t.Fatalf("a trade event of kind %v", tr.Kind)
		}
		switch tr.Instrument.Token {
		case yesToken:
			nYes++
		case noToken:
			nNo++
		}
	}
	if nYes != 4 || nNo != 1 {
		t.Fatalf("%d YES and %d NO trades, want 4 and 1: %+v", nYes, nNo, trades)
	}
	if tr := trades[0]; tr.TradePrice != d("0.47") || tr.TradeSize != d("4") || tr.TradeSide != polybot.Buy {
		t.Fatalf("first trade %+v", tr)
	}
	after := r.hub.Stats()
	if after.Resyncs != before.Resyncs || after.Crossed != before.Crossed || after.Gaps != before.Gaps || after.TradesDropped != 0 {
		t.Fatalf("trades caused a resync: hub stats %+v → %+v", before, after)
	}
	if c := r.feed.Connects(); c != 1 {
		t.Fatalf("%d connections, want 1", c)
	}
}
