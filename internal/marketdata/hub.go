package marketdata

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
)

// Hub keeps one Book per instrument for one venue feed and shares it with
// every subscriber, whatever their number.
//
// # Subscriptions
//
// Instruments are reference-counted: the first subscription to an
// instrument calls the feed's Subscribe, closing the last one calls its
// Unsubscribe. Feed calls are serialised, so a subscribe and an unsubscribe
// of the same instrument reach the feed in the order they happened.
//
// # Consistency
//
//   - A book is "stale" until its first snapshot, and again after a sequence
//     gap or a delta that leaves it crossed. While stale, the hub drops its
//     deltas, asks the feed to Resync (again after Config.ResyncRetry if the
//     snapshot does not come), and delivers nothing from it but one View
//     with Stale set and no levels, so a subscriber never keeps trading on a
//     book it believes is live. The next snapshot makes it live again.
//   - Seq, where the feed sets it (non-zero), must increase by exactly one
//     per event for an instrument; connectors whose venue numbers a
//     subscription spanning several instruments (Kalshi) renumber or check
//     the venue sequence themselves. An event with a Seq at or below the
//     book's is a duplicate and is ignored.
//   - Every change publishes a new immutable View; readers (View, and
//     subscribers) always see a whole book, never a half-applied one.
//
// # Fan-out policy
//
// Delivery never blocks the feed. Book state is conflated per subscriber
// and instrument: each subscriber has a one-view mailbox per instrument that
// always holds the newest View, so a slow subscriber skips intermediate
// books but always reads the latest consistent one, and costs the hub one
// atomic swap per update. Trades are events, not state: each subscription
// queues them in a bounded buffer (Config.TradeQueue); when it is full new
// trades are dropped and counted (Subscription.Trades reports how many).
type Hub struct {
	feed  polybot.MarketFeed
	cfg   HubConfig
	feeds sync.Mutex // serialises feed Subscribe/Unsubscribe calls

	mu    sync.RWMutex
	insts map[instKey]*entry

	subs, nInsts                                 atomic.Int64
	events, applied, ignored, resyncs, gaps, crs atomic.Uint64
	tradesDropped                                atomic.Uint64
}

// HubConfig tunes a Hub. The zero value works.
type HubConfig struct {
	// Now is the hub's clock (resync retries). Defaults to time.Now.
	Now func() time.Time
	// ResyncRetry is how long a stale book waits for its snapshot before the
	// hub asks again (checked when a later event for it arrives). Default 5s.
	ResyncRetry time.Duration
	// TradeQueue is each subscription's trade buffer. Default 1024.
	TradeQueue int
}

// View is an immutable, consistent snapshot of one book. Its slices are
// shared between readers and must not be modified.
type View struct {
	Instrument polybot.Instrument
	Bids, Asks []polybot.Level // best first
	TickSize   polybot.Decimal
	Seq        int64
	// Version counts the hub's changes to this instrument's book.
	Version        uint64
	Time, Received time.Time
	// Stale means the book is being resynchronised: the view has no levels
	// and nothing from the book can be trusted until a live view follows.
	Stale bool
}

// BestBid returns the highest bid.
func (v *View) BestBid() (polybot.Level, bool) {
	if len(v.Bids) == 0 {
		return polybot.Level{}, false
	}
	return v.Bids[0], true
}

// BestAsk returns the lowest ask.
func (v *View) BestAsk() (polybot.Level, bool) {
	if len(v.Asks) == 0 {
		return polybot.Level{}, false
	}
	return v.Asks[0], true
}

// HubStats are the hub's counters, for metrics.
type HubStats struct {
	Subscriptions int64  // open subscriptions
	Instruments   int64  // instruments with at least one subscriber
	Events        uint64 // feed events received
	Applied       uint64 // events that changed a book (or were trades delivered)
	Ignored       uint64 // events for unsubscribed instruments, stale books, or duplicates
	Resyncs       uint64 // Resync requests sent to the feed
	Gaps          uint64 // sequence gaps found
	Crossed       uint64 // deltas that left a book crossed
	TradesDropped uint64 // trades dropped because a subscriber's queue was full
}

// instKey identifies an instrument as Instrument.Key does, without
// allocating.
type instKey struct {
	venue   polybot.Platform
	id      string
	outcome polybot.Outcome
}

func keyOf(i polybot.Instrument) instKey {
	if i.Token != "" {
		return instKey{i.Venue, i.Token, 0}
	}
	return instKey{i.Venue, i.Market, i.Outcome}
}

type entry struct {
	inst polybot.Instrument
	refs int // guarded by Hub.mu

	mu        sync.Mutex
	book      *Book
	stale     bool
	resyncAt  time.Time // when Resync was last asked for
	version   uint64
	view      atomic.Pointer[View] // nil while stale
	slots     []*slot              // copy-on-write under mu
	delivered bool                 // the stale marker has been sent
}

type slot struct {
	sub    *Subscription
	latest atomic.Pointer[View]
}

// NewHub returns a hub over feed. Run (or feed.Run with Handle as its sink)
// must be running for books to fill.
func NewHub(feed polybot.MarketFeed, cfg HubConfig) *Hub {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ResyncRetry <= 0 {
		cfg.ResyncRetry = 5 * time.Second
	}
	if cfg.TradeQueue <= 0 {
		cfg.TradeQueue = 1024
	}
	return &Hub{feed: feed, cfg: cfg, insts: map[instKey]*entry{}}
}

// Run runs the feed with the hub as its sink until ctx ends.
func (h *Hub) Run(ctx context.Context) error { return h.feed.Run(ctx, h.Handle) }

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	return HubStats{
		Subscriptions: h.subs.Load(), Instruments: h.nInsts.Load(),
		Events: h.events.Load(), Applied: h.applied.Load(), Ignored: h.ignored.Load(),
		Resyncs: h.resyncs.Load(), Gaps: h.gaps.Load(), Crossed: h.crs.Load(),
		TradesDropped: h.tradesDropped.Load(),
	}
}

// View returns the latest view of inst's book: ENOTFOUND if nobody
// subscribes to it, EUNAVAILABLE while it is stale (no snapshot yet, or
// resynchronising).
func (h *Hub) View(inst polybot.Instrument) (*View, error) {
	h.mu.RLock()
	e := h.insts[keyOf(inst)]
	h.mu.RUnlock()
	if e == nil {
		return nil, polybot.Errorf(polybot.ENOTFOUND, "no subscription to %s", inst.Key())
	}
	v := e.view.Load()
	if v == nil {
		return nil, polybot.Errorf(polybot.EUNAVAILABLE, "book %s is resynchronising", inst.Key())
	}
	return v, nil
}

// Subscribe opens a subscription to insts. New instruments are subscribed at
// the feed (an error there undoes the whole call). Instruments whose book is
// live are in the subscription's first Next at once.
func (h *Hub) Subscribe(ctx context.Context, insts ...polybot.Instrument) (*Subscription, error) {
	if len(insts) == 0 {
		return nil, polybot.FieldError("instruments", "at least one is required")
	}
	s := &Subscription{h: h, notify: make(chan struct{}, 1), tradeCap: h.cfg.TradeQueue}
	seen := map[instKey]bool{}
	for _, i := range insts {
		if k := keyOf(i); !seen[k] {
			seen[k] = true
			s.insts = append(s.insts, i)
		}
	}
	h.feeds.Lock()
	defer h.feeds.Unlock()
	var opened []polybot.Instrument
	entries := make([]*entry, len(s.insts))
	h.mu.Lock()
	for n, i := range s.insts {
		k := keyOf(i)
		e := h.insts[k]
		if e == nil {
			e = &entry{inst: i, book: NewBook(i), stale: true}
			h.insts[k] = e
			h.nInsts.Add(1)
			opened = append(opened, i)
		}
		e.refs++
		entries[n] = e
	}
	h.mu.Unlock()
	if len(opened) > 0 {
		if err := h.feed.Subscribe(ctx, opened...); err != nil {
			h.release(entries)
			return nil, err
		}
	}
	for _, e := range entries {
		sl := &slot{sub: s}
		s.slots = append(s.slots, sl)
		e.mu.Lock()
		e.slots = append(slices.Clip(e.slots), sl)
		if v := e.view.Load(); v != nil {
			s.put(sl, v)
		}
		e.mu.Unlock()
	}
	s.entries = entries
	h.subs.Add(1)
	return s, nil
}

// release drops one reference to each entry and returns the instruments
// nobody references any more. Call with h.feeds held.
func (h *Hub) release(entries []*entry) []polybot.Instrument {
	var closed []polybot.Instrument
	h.mu.Lock()
	for _, e := range entries {
		e.refs--
		if e.refs == 0 {
			delete(h.insts, keyOf(e.inst))
			h.nInsts.Add(-1)
			closed = append(closed, e.inst)
		}
	}
	h.mu.Unlock()
	return closed
}

// Handle applies one feed event. It is the sink the hub gives feed.Run; it
// never blocks on subscribers.
func (h *Hub) Handle(ev polybot.BookEvent) {
	h.events.Add(1)
	h.mu.RLock()
	e := h.insts[keyOf(ev.Instrument)]
	h.mu.RUnlock()
	if e == nil {
		h.ignored.Add(1)
		return
	}
	e.mu.Lock()
	resync := e.apply(h, &ev)
	e.mu.Unlock()
	if resync {
		h.resyncs.Add(1)
		// The feed may answer synchronously through Handle: no lock is held.
		_ = h.feed.Resync(e.inst)
	}
}

// apply changes the entry by ev and publishes the result. It reports
// whether the feed must be asked for a snapshot. Called with e.mu held.
func (e *entry) apply(h *Hub, ev *polybot.BookEvent) (resync bool) {
	b := e.book
	switch ev.Kind {
	case polybot.BookSnapshot:
		b.Apply(ev)
		b.Seq = ev.Seq
		e.stale, e.resyncAt = false, time.Time{}
	case polybot.BookDelta:
		if e.stale {
			h.ignored.Add(1)
			return e.retryResync(h)
		}
		if ev.Seq != 0 && b.Seq != 0 {
			switch {
			case ev.Seq <= b.Seq:
				h.ignored.Add(1)
				return false
			case ev.Seq != b.Seq+1:
				h.gaps.Add(1)
				return e.markStale(h)
			}
		}
		b.Apply(ev)
		if b.Crossed() {
			h.crs.Add(1)
			return e.markStale(h)
		}
	case polybot.BookTickSize:
		b.Apply(ev)
		if e.stale {
			h.applied.Add(1)
			return false
		}
	case polybot.BookInvalidate:
		// The feed lost its connection and re-snapshots on reconnect: stale
		// until then, without asking it for anything now.
		if !e.stale {
			e.markStale(h)
		}
		return false
	case polybot.BookTrade:
		h.applied.Add(1)
		for _, sl := range e.slots {
			sl.sub.putTrade(ev)
		}
		return false
	default:
		h.ignored.Add(1)
		return false
	}
	h.applied.Add(1)
	e.version++
	v := &View{
		Instrument: e.inst, Bids: slices.Clone(b.Bids), Asks: slices.Clone(b.Asks),
		TickSize: b.TickSize, Seq: b.Seq, Version: e.version, Time: b.Time, Received: b.Received,
	}
	e.view.Store(v)
	e.delivered = false
	for _, sl := range e.slots {
		sl.sub.put(sl, v)
	}
	return false
}

// markStale invalidates the book, tells subscribers once, and asks for a
// snapshot.
func (e *entry) markStale(h *Hub) bool {
	e.stale = true
	e.book.Bids, e.book.Asks = e.book.Bids[:0], e.book.Asks[:0]
	e.view.Store(nil)
	e.version++
	if !e.delivered {
		e.delivered = true
		v := &View{Instrument: e.inst, Version: e.version, Seq: e.book.Seq, Stale: true}
		for _, sl := range e.slots {
			sl.sub.put(sl, v)
		}
	}
	e.resyncAt = h.cfg.Now()
	return true
}

func (e *entry) retryResync(h *Hub) bool {
	now := h.cfg.Now()
	if e.resyncAt.IsZero() {
		// Never asked: the first snapshot after Subscribe is on its way.
		e.resyncAt = now
		return false
	}
	if now.Sub(e.resyncAt) < h.cfg.ResyncRetry {
		return false
	}
	e.resyncAt = now
	return true
}

// Subscription receives the books and trades of its instruments. Its
// methods are safe for concurrent use, but it is meant for one reader.
type Subscription struct {
	h       *Hub
	insts   []polybot.Instrument
	entries []*entry
	slots   []*slot
	notify  chan struct{}

	mu       sync.Mutex
	dirty    []*slot
	spare    []*slot // the other dirty buffer, reused by Poll
	trades   []polybot.BookEvent
	tradeCap int
	dropped  uint64
	closed   bool
}

// put is the conflating mailbox: the slot keeps only the newest view; the
// slot joins the dirty list only when it was empty.
func (s *Subscription) put(sl *slot, v *View) {
	if sl.latest.Swap(v) != nil {
		return
	}
	s.mu.Lock()
	s.dirty = append(s.dirty, sl)
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) putTrade(ev *polybot.BookEvent) {
	s.mu.Lock()
	if len(s.trades) >= s.tradeCap {
		s.dropped++
		s.mu.Unlock()
		s.h.tradesDropped.Add(1)
		return
	}
	s.trades = append(s.trades, *ev)
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Instruments lists what s subscribes to.
func (s *Subscription) Instruments() []polybot.Instrument { return slices.Clone(s.insts) }

// C receives a value when Poll or Trades has something new.
func (s *Subscription) C() <-chan struct{} { return s.notify }

// Poll appends to dst the newest view of every instrument that changed since
// the last Poll (one per instrument, in the order they changed first), and
// returns it. It does not block.
func (s *Subscription) Poll(dst []*View) []*View {
	s.mu.Lock()
	d := s.dirty
	if len(d) == 0 {
		s.mu.Unlock()
		return dst
	}
	s.dirty, s.spare = s.spare[:0], nil
	s.mu.Unlock()
	for _, sl := range d {
		if v := sl.latest.Swap(nil); v != nil {
			dst = append(dst, v)
		}
	}
	clear(d)
	s.mu.Lock()
	s.spare = d[:0]
	s.mu.Unlock()
	return dst
}

// Next waits until at least one view or trade is ready (or ctx ends) and
// returns the views as Poll does; trades are read with Trades.
func (s *Subscription) Next(ctx context.Context, dst []*View) ([]*View, error) {
	for {
		if out := s.Poll(dst); len(out) > len(dst) {
			return out, nil
		}
		s.mu.Lock()
		hasTrades := len(s.trades) > 0
		s.mu.Unlock()
		if hasTrades {
			return dst, nil
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// Trades appends the queued trades to dst and reports how many were dropped
// (queue full) since the last call.
func (s *Subscription) Trades(dst []polybot.BookEvent) ([]polybot.BookEvent, uint64) {
	s.mu.Lock()
	dst = append(dst, s.trades...)
	s.trades = s.trades[:0]
	n := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	return dst, n
}

// Close ends the subscription; instruments it was the last subscriber of
// are unsubscribed at the feed, whose error (if any) is returned. Closing
// twice is a no-op.
func (s *Subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	h := s.h
	h.feeds.Lock()
	defer h.feeds.Unlock()
	for n, e := range s.entries {
		sl := s.slots[n]
		e.mu.Lock()
		e.slots = slices.DeleteFunc(slices.Clone(e.slots), func(x *slot) bool { return x == sl })
		e.mu.Unlock()
	}
	h.subs.Add(-1)
	if closed := h.release(s.entries); len(closed) > 0 {
		return h.feed.Unsubscribe(closed...)
	}
	return nil
}
