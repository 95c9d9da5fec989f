package venuetest

import (
	"context"
	"sync"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

var feedScenarios = []scenario{
	{"ASnapshotThenDeltasKeepTheBook", testSnapshotThenDeltas},
	{"UnsubscribeAndSubscribeAgainAtTheVenue", testFeedSubscribe},
	{"ADroppedSocketReconnectsWithAFreshSnapshotBeforeAnyDelta", testFeedReconnect},
	{"ResyncDeliversAFreshSnapshot", testFeedResync},
}

// RunFeed runs the MarketFeed scenarios.
func RunFeed(t *testing.T, open Opener) { runAll(t, open, feedScenarios, (*env).needFeed) }

// recorder is a feed's sink: it keeps each instrument's book and counts
// events, and fails the test when a delta comes while a book is not known
// (before the first snapshot, or after an invalidation).
type recorder struct {
	errs errorList

	mu                                  sync.Mutex
	books                               map[polybot.Instrument]*marketdata.Book
	known                               map[polybot.Instrument]bool
	snapshots, deltas, invalids, trades map[polybot.Instrument]int
}

func newRecorder() *recorder {
	return &recorder{books: map[polybot.Instrument]*marketdata.Book{}, known: map[polybot.Instrument]bool{},
		snapshots: map[polybot.Instrument]int{}, deltas: map[polybot.Instrument]int{},
		invalids: map[polybot.Instrument]int{}, trades: map[polybot.Instrument]int{}}
}

func (r *recorder) sink(ev polybot.BookEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := ev.Instrument
	switch ev.Kind {
	case polybot.BookSnapshot:
		r.snapshots[in]++
		r.known[in] = true
	case polybot.BookDelta:
		r.deltas[in]++
		if !r.known[in] {
			r.errs.add("a delta of %s while its book is not known (before a snapshot or after an invalidation): %+v", in.Key(), ev)
			return
		}
	case polybot.BookInvalidate:
		r.invalids[in]++
		r.known[in] = false
	case polybot.BookTrade:
		r.trades[in]++
		return
	}
	b := r.books[in]
	if b == nil {
		b = marketdata.NewBook(in)
		r.books[in] = b
	}
	b.Apply(&ev)
}

func (r *recorder) book(in polybot.Instrument) (Book, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.books[in]
	if b == nil || !r.known[in] {
		return Book{}, false
	}
	return Book{append([]polybot.Level(nil), b.Bids...), append([]polybot.Level(nil), b.Asks...)}, true
}

func (r *recorder) count(m map[polybot.Instrument]int, in polybot.Instrument) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[in]
}

// runFeed starts a feed subscribed to the instrument, feeding a recorder.
func (e *env) runFeed(t *testing.T) (polybot.MarketFeed, *recorder) {
	t.Helper()
	f := e.Feed(t)
	r := newRecorder()
	if err := f.Subscribe(e.ctx, e.Instrument); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx, r.sink) }()
	t.Cleanup(func() { cancel(); <-done; r.errs.check(t) })
	return f, r
}

// waitBook waits until the recorder's book of the instrument is want.
func (e *env) waitBook(t *testing.T, r *recorder, what string, want Book) {
	t.Helper()
	want = e.shown(want)
	eventually(t, what, func() bool { b, ok := r.book(e.Instrument); return ok && b.Equal(want) })
	r.errs.check(t)
}

func testSnapshotThenDeltas(t *testing.T, e *env) {
	a := Book{levels(L("0.30", "5"), L("0.29", "2.5")), levels(L("0.40", "6"), L("0.45", "10"))}
	e.SetBook(t, a.Bids, a.Asks)
	_, r := e.runFeed(t)
	e.waitBook(t, r, "the snapshot", a)
	// A resting bid of ours moves the book: one delta, no new snapshot.
	x := e.exchange(t, ExchangeOptions{})
	e.place(t, x, e.order("vt-feed-1", polybot.Buy, "0.31", "4", polybot.GTC))
	e.waitBook(t, r, "the resting bid", Book{levels(L("0.31", "4"), L("0.30", "5"), L("0.29", "2.5")), a.Asks})
	if err := x.CancelOrder(e.ctx, "vt-feed-1"); err != nil {
		t.Fatal(err)
	}
	e.waitBook(t, r, "the cancel", a)
	s, d := r.count(r.snapshots, e.Instrument), r.count(r.deltas, e.Instrument)
	switch {
	case e.TopOfBook && s < 3:
		t.Fatalf("%d snapshots, want one for each of the three books (a top-of-book feed sends each whole)", s)
	case !e.TopOfBook && (s != 1 || d < 2):
		t.Fatalf("%d snapshots and %d deltas, want one snapshot then deltas", s, d)
	}
}

func testFeedSubscribe(t *testing.T, e *env) {
	e.SetBook(t, levels(L("0.30", "5")), levels(L("0.40", "6")))
	f, r := e.runFeed(t)
	e.waitBook(t, r, "the snapshot", Book{levels(L("0.30", "5")), levels(L("0.40", "6"))})
	if e.VenueSubscriptions != nil {
		eventually(t, "the venue sees one subscription", func() bool { return e.VenueSubscriptions() == 1 })
	}
	if err := f.Unsubscribe(e.Instrument); err != nil {
		t.Fatal(err)
	}
	if e.VenueSubscriptions != nil {
		eventually(t, "the venue drops the subscription", func() bool { return e.VenueSubscriptions() == 0 })
	}
	before := r.count(r.snapshots, e.Instrument)
	e.SetBook(t, levels(L("0.31", "1")), levels(L("0.40", "6")))
	if err := f.Subscribe(e.ctx, e.Instrument); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a fresh snapshot after subscribing again", func() bool { return r.count(r.snapshots, e.Instrument) > before })
	e.waitBook(t, r, "the book after subscribing again", Book{levels(L("0.31", "1")), levels(L("0.40", "6"))})
	if e.VenueSubscriptions != nil && e.VenueSubscriptions() != 1 {
		t.Fatalf("the venue sees %d subscriptions after subscribing again, want 1", e.VenueSubscriptions())
	}
}

func testFeedReconnect(t *testing.T, e *env) {
	e.needFaults(t)
	a := Book{levels(L("0.30", "5")), levels(L("0.40", "6"))}
	e.SetBook(t, a.Bids, a.Asks)
	_, r := e.runFeed(t)
	e.waitBook(t, r, "the first snapshot", a)
	// The book moves while the feed is away: only a fresh snapshot can
	// tell it.
	e.Faults.DropSockets()
	b := Book{levels(L("0.32", "2"), L("0.30", "1")), levels(L("0.41", "3"))}
	e.SetBook(t, b.Bids, b.Asks)
	eventually(t, "an invalidation and a second snapshot", func() bool {
		return r.count(r.invalids, e.Instrument) >= 1 && r.count(r.snapshots, e.Instrument) >= 2
	})
	e.waitBook(t, r, "the book after reconnecting", b)
	// Deltas flow on the new connection.
	x := e.exchange(t, ExchangeOptions{})
	e.place(t, x, e.order("vt-feed-2", polybot.Buy, "0.20", "1", polybot.GTC))
	e.waitBook(t, r, "a delta on the new connection", Book{levels(L("0.32", "2"), L("0.30", "1"), L("0.20", "1")), b.Asks})
}

func testFeedResync(t *testing.T, e *env) {
	a := Book{levels(L("0.30", "5")), levels(L("0.40", "6"))}
	e.SetBook(t, a.Bids, a.Asks)
	f, r := e.runFeed(t)
	e.waitBook(t, r, "the first snapshot", a)
	before := r.count(r.snapshots, e.Instrument)
	if err := f.Resync(e.Instrument); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a fresh snapshot after Resync", func() bool { return r.count(r.snapshots, e.Instrument) > before })
	e.waitBook(t, r, "the book after Resync", a)
}
