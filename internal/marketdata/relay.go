package marketdata

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// BookKind is the bus's last-value space of book views (one key per
// instrument): the gateway writes each changed view there, and the
// workers' and api nodes' hubs read it through a RelayFeed.
const BookKind = "books"

// relayView is a view on the wire: the whole book of one instrument (a
// snapshot), or Stale (the gateway's book is resynchronising: nothing from
// it can be traded on).
type relayView struct {
	Instrument polybot.Instrument `json:"i"`
	Bids       []polybot.Level    `json:"b,omitempty"`
	Asks       []polybot.Level    `json:"a,omitempty"`
	TickSize   polybot.Decimal    `json:"t"`
	Seq        int64              `json:"q,omitempty"`
	Time       time.Time          `json:"at"`
	Received   time.Time          `json:"rx"`
	Stale      bool               `json:"s,omitempty"`
}

// EncodeView is v as the gateway puts it on the bus.
func EncodeView(v *View) ([]byte, error) {
	return json.Marshal(relayView{Instrument: v.Instrument, Bids: v.Bids, Asks: v.Asks, TickSize: v.TickSize, Seq: v.Seq,
		Time: v.Time, Received: v.Received, Stale: v.Stale})
}

// DecodeView turns an encoded view back into the book event that
// reproduces it in a hub: a snapshot, or an invalidation for a stale view.
func DecodeView(data []byte) (polybot.BookEvent, error) {
	var rv relayView
	if err := json.Unmarshal(data, &rv); err != nil {
		return polybot.BookEvent{}, polybot.Errorf(polybot.EINVALID, "book view: %v", err)
	}
	// An instrument is named by its market (Kalshi's ticker and outcome)
	// or by its token (Polymarket's, whose market may be empty: see Key).
	if rv.Instrument.Venue == "" || (rv.Instrument.Market == "" && rv.Instrument.Token == "") {
		return polybot.BookEvent{}, polybot.FieldError("instrument", "is required")
	}
	ev := polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: rv.Instrument, Bids: rv.Bids, Asks: rv.Asks, TickSize: rv.TickSize,
		Seq: rv.Seq, Time: rv.Time, Received: rv.Received}
	if rv.Stale {
		ev = polybot.BookEvent{Kind: polybot.BookInvalidate, Instrument: rv.Instrument, Time: rv.Time, Received: rv.Received}
	}
	return ev, nil
}

// Publisher puts hub views on a bus as each instrument's latest value. It
// conflates: Publish never blocks, and an instrument that changed several
// times while a put was in flight is put once, with its newest view.
type Publisher struct {
	bus polybot.Bus
	log func(msg string, args ...any)

	mu      sync.Mutex
	pending map[string]*View
	order   []string
	notify  chan struct{}

	puts, fails int64
}

// NewPublisher returns a Publisher onto bus; Run sends.
func NewPublisher(bus polybot.Bus, warn func(msg string, args ...any)) *Publisher {
	if warn == nil {
		warn = func(string, ...any) {}
	}
	return &Publisher{bus: bus, log: warn, pending: map[string]*View{}, notify: make(chan struct{}, 1)}
}

// Publish queues v (replacing a queued view of the same instrument).
func (p *Publisher) Publish(v *View) {
	k := v.Instrument.Key()
	p.mu.Lock()
	if _, ok := p.pending[k]; !ok {
		p.order = append(p.order, k)
	}
	p.pending[k] = v
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Stats reports the puts made and failed.
func (p *Publisher) Stats() (puts, fails int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.puts, p.fails
}

// Run puts queued views until ctx ends. A put that fails (the bus is down)
// is kept queued unless a newer view replaced it, and tried again.
func (p *Publisher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.notify:
		}
		for {
			p.mu.Lock()
			if len(p.order) == 0 {
				p.mu.Unlock()
				break
			}
			k := p.order[0]
			p.order = p.order[1:]
			v := p.pending[k]
			delete(p.pending, k)
			p.mu.Unlock()
			data, err := EncodeView(v)
			if err == nil {
				err = p.bus.PutLast(ctx, BookKind, k, data)
			}
			p.mu.Lock()
			if err != nil {
				p.fails++
				if _, newer := p.pending[k]; !newer {
					p.pending[k] = v
					p.order = append(p.order, k)
				}
			} else {
				p.puts++
			}
			p.mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				p.log("publishing a book view failed; retrying", "instrument", k, "err", err)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}
}

// RelayFeed is a polybot.MarketFeed of one venue's books as another
// process's hubs see them, read from a bus (the gateway's Publisher): what
// a worker or an api node trades and values with. It delivers the latest
// view of every instrument first, then each new one; an instrument
// subscribed later gets the latest view at once. When the bus is down no
// view arrives and the books age: the hub's staleness rules apply.
type RelayFeed struct {
	venue polybot.Platform
	bus   polybot.Bus

	mu   sync.Mutex // serialises sink calls and guards last
	sink func(polybot.BookEvent)
	last map[string]polybot.BookEvent
}

var _ polybot.MarketFeed = (*RelayFeed)(nil)

// NewRelayFeed returns a feed of venue's books from bus.
func NewRelayFeed(venue polybot.Platform, bus polybot.Bus) *RelayFeed {
	return &RelayFeed{venue: venue, bus: bus, last: map[string]polybot.BookEvent{}}
}

// Platform implements polybot.MarketFeed.
func (f *RelayFeed) Platform() polybot.Platform { return f.venue }

// Run watches the bus until ctx ends.
func (f *RelayFeed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	f.mu.Lock()
	f.sink = sink
	f.mu.Unlock()
	stop, err := f.bus.WatchLast(ctx, BookKind, func(key string, data []byte) {
		ev, err := DecodeView(data)
		if err != nil || ev.Instrument.Venue != f.venue {
			return
		}
		f.mu.Lock()
		f.last[ev.Instrument.Key()] = ev
		sink(ev)
		f.mu.Unlock()
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// Subscribe delivers the latest known view of insts (the hub has their
// entries by now); later views come as the bus brings them.
func (f *RelayFeed) Subscribe(_ context.Context, insts ...polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sink == nil {
		return nil
	}
	for _, i := range insts {
		if ev, ok := f.last[i.Key()]; ok {
			f.sink(ev)
		}
	}
	return nil
}

// Unsubscribe implements polybot.MarketFeed (every view arrives anyway).
func (f *RelayFeed) Unsubscribe(...polybot.Instrument) error { return nil }

// Resync delivers the latest view again: the gateway's book is the source
// of truth, and its next view follows.
func (f *RelayFeed) Resync(inst polybot.Instrument) error {
	go func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if ev, ok := f.last[inst.Key()]; ok && f.sink != nil {
			f.sink(ev)
		}
	}()
	return nil
}
