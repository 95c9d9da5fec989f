package replay

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// Source yields events in time order; ok is false when it is exhausted.
type Source interface {
	Next() (ev polybot.BookEvent, ok bool)
}

type sliceSource struct {
	evs []polybot.BookEvent
	i   int
}

func (s *sliceSource) Next() (polybot.BookEvent, bool) {
	if s.i >= len(s.evs) {
		return polybot.BookEvent{}, false
	}
	s.i++
	return s.evs[s.i-1], true
}

// Events returns a Source over evs.
func Events(evs []polybot.BookEvent) Source { return &sliceSource{evs: evs} }

// Clock is the time a paced replay waits on. Tests pass a fake.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

// WallClock is the wall clock, every Clock's default.
var WallClock Clock = realClock{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options say how fast a replay runs.
type Options struct {
	// Speed is the pace relative to the recording: 1 replays in real time,
	// 10 ten times faster. Zero or less replays as fast as possible.
	Speed float64
	// Clock defaults to the wall clock.
	Clock Clock
}

// pacer waits until each event's due time: the first event is due at once,
// later ones at start + (event time − first event time) / Speed, so waits do
// not accumulate drift.
type pacer struct {
	opt   Options
	start time.Time
	first time.Time
	begun bool
}

func newPacer(o Options) *pacer {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return &pacer{opt: o}
}

// wait returns how long to wait before emitting an event at t (0: now).
func (p *pacer) wait(t time.Time) time.Duration {
	if p.opt.Speed <= 0 || t.IsZero() {
		return 0
	}
	if !p.begun {
		p.begun, p.start, p.first = true, p.opt.Clock.Now(), t
		return 0
	}
	due := p.start.Add(time.Duration(float64(t.Sub(p.first)) / p.opt.Speed))
	return due.Sub(p.opt.Clock.Now())
}

// Play sends every event of src to sink, paced by opts, until src is
// exhausted (nil) or ctx ends (its error). Received is set to the clock's
// time when an event is sent.
func Play(ctx context.Context, src Source, opts Options, sink func(polybot.BookEvent)) error {
	p := newPacer(opts)
	for {
		ev, ok := src.Next()
		if !ok {
			return nil
		}
		if d := p.wait(ev.Time); d > 0 {
			select {
			case <-p.opt.Clock.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		ev.Received = p.opt.Clock.Now()
		sink(ev)
	}
}

// Feed replays a Source as a polybot.MarketFeed, so a Hub (or a simulator)
// can run over recorded or synthetic data. It delivers events only for
// subscribed instruments of its platform. It keeps a Book per instrument it
// has seen, so Subscribe and Resync are answered with a fresh snapshot of
// the replay's current book (carrying its Seq) before any later delta.
type Feed struct {
	platform polybot.Platform
	src      Source
	opts     Options

	mu      sync.Mutex
	subs    map[string]bool
	books   map[string]*marketdata.Book
	pending []polybot.Instrument // snapshots to send
	wake    chan struct{}
	done    bool
}

var _ polybot.MarketFeed = (*Feed)(nil)

// NewFeed returns a Feed for platform over src.
func NewFeed(platform polybot.Platform, src Source, opts Options) *Feed {
	return &Feed{platform: platform, src: src, opts: opts,
		subs: map[string]bool{}, books: map[string]*marketdata.Book{}, wake: make(chan struct{}, 1)}
}

// Platform is the feed's venue.
func (f *Feed) Platform() polybot.Platform { return f.platform }

// Subscribe starts delivering insts, beginning with a snapshot of each book
// the replay has already built.
func (f *Feed) Subscribe(_ context.Context, insts ...polybot.Instrument) error {
	f.mu.Lock()
	for _, i := range insts {
		f.subs[i.Key()] = true
		if f.books[i.Key()] != nil {
			f.pending = append(f.pending, i)
		}
	}
	f.mu.Unlock()
	f.poke()
	return nil
}

// Unsubscribe stops delivering insts.
func (f *Feed) Unsubscribe(insts ...polybot.Instrument) error {
	f.mu.Lock()
	for _, i := range insts {
		delete(f.subs, i.Key())
	}
	f.mu.Unlock()
	return nil
}

// Resync queues a snapshot of inst's current book.
func (f *Feed) Resync(inst polybot.Instrument) error {
	f.mu.Lock()
	if f.books[inst.Key()] != nil {
		f.pending = append(f.pending, inst)
	}
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *Feed) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// flush sends the queued snapshots.
func (f *Feed) flush(sink func(polybot.BookEvent)) {
	f.mu.Lock()
	var out []polybot.BookEvent
	for _, i := range f.pending {
		b := f.books[i.Key()]
		if b == nil || !f.subs[i.Key()] {
			continue
		}
		out = append(out, polybot.BookEvent{
			Kind: polybot.BookSnapshot, Instrument: b.Instrument,
			Bids: append([]polybot.Level(nil), b.Bids...), Asks: append([]polybot.Level(nil), b.Asks...),
			TickSize: b.TickSize, Seq: b.Seq, Time: b.Time, Received: f.clock().Now(),
		})
	}
	f.pending = f.pending[:0]
	f.mu.Unlock()
	for _, ev := range out {
		sink(ev)
	}
}

func (f *Feed) clock() Clock {
	if f.opts.Clock == nil {
		return realClock{}
	}
	return f.opts.Clock
}

// Run replays the source into sink. When the source is exhausted it keeps
// answering Subscribe and Resync until ctx ends; it returns ctx's error.
// A Feed runs once.
func (f *Feed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	p := newPacer(f.opts)
	for {
		f.flush(sink)
		f.mu.Lock()
		done := f.done
		f.mu.Unlock()
		if done {
			select {
			case <-f.wake:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ev, ok := f.src.Next()
		if !ok {
			f.mu.Lock()
			f.done = true
			f.mu.Unlock()
			continue
		}
		if ev.Instrument.Venue != f.platform {
			continue
		}
		for d := p.wait(ev.Time); d > 0; d = p.wait(ev.Time) {
			select {
			case <-p.opt.Clock.After(d):
			case <-f.wake:
				f.flush(sink)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		key := ev.Instrument.Key()
		f.mu.Lock()
		b := f.books[key]
		if b == nil {
			b = marketdata.NewBook(ev.Instrument)
			f.books[key] = b
		}
		b.Apply(&ev)
		if ev.Kind == polybot.BookSnapshot {
			b.Seq = ev.Seq
		}
		// A snapshot still queued for this instrument already includes ev.
		send := f.subs[key] && !slices.ContainsFunc(f.pending, func(i polybot.Instrument) bool { return i.Key() == key })
		f.mu.Unlock()
		if send {
			ev.Received = p.opt.Clock.Now()
			sink(ev)
		}
	}
}
