// Package marketdata owns PolyBot's view of the markets: one order book per
// instrument, the hub that shares those books between every subscriber
// whatever the number of tenants, and replays of recorded feeds.
//
// It speaks only normalised polybot.BookEvent values: decoding a venue's wire
// format belongs to that venue's connector. It must not import a store, the
// server, or any tenant state.
package marketdata

import (
	"slices"
	"time"

	"github.com/polybot/polybot"
)

// Book is an order book for one instrument. Bids are sorted best (highest)
// first, asks best (lowest) first. Sizes are totals per price level. A Book
// is not safe for concurrent use; the hub guards its books.
type Book struct {
	Instrument polybot.Instrument
	Bids       []polybot.Level
	Asks       []polybot.Level
	TickSize   polybot.Decimal
	Seq        int64
	Time       time.Time // venue time of the last change
	Received   time.Time // when we read the last change
}

// NewBook returns an empty book for inst.
func NewBook(inst polybot.Instrument) *Book { return &Book{Instrument: inst} }

// Apply changes the book by ev. Snapshots replace both sides; deltas set
// levels (size 0 removes). Trades leave the book as it is.
func (b *Book) Apply(ev *polybot.BookEvent) {
	switch ev.Kind {
	case polybot.BookSnapshot:
		b.Bids = setSide(b.Bids[:0], ev.Bids, true)
		b.Asks = setSide(b.Asks[:0], ev.Asks, false)
	case polybot.BookDelta:
		for _, l := range ev.Bids {
			b.Bids = setLevel(b.Bids, l, true)
		}
		for _, l := range ev.Asks {
			b.Asks = setLevel(b.Asks, l, false)
		}
	case polybot.BookTickSize:
		b.TickSize = ev.TickSize
		return
	case polybot.BookTrade:
		return
	}
	if !ev.TickSize.IsZero() {
		b.TickSize = ev.TickSize
	}
	if ev.Seq != 0 {
		b.Seq = ev.Seq
	}
	b.Time, b.Received = ev.Time, ev.Received
}

func setSide(dst, levels []polybot.Level, bids bool) []polybot.Level {
	for _, l := range levels {
		if l.Size.Sign() > 0 {
			dst = append(dst, l)
		}
	}
	slices.SortFunc(dst, func(x, y polybot.Level) int {
		if bids {
			return y.Price.Cmp(x.Price)
		}
		return x.Price.Cmp(y.Price)
	})
	// Merge duplicate prices (a snapshot should not have them, but a book
	// must never hold two levels at one price).
	out := dst[:0]
	for _, l := range dst {
		if n := len(out); n > 0 && out[n-1].Price == l.Price {
			out[n-1].Size = out[n-1].Size.Add(l.Size)
			continue
		}
		out = append(out, l)
	}
	return out
}

// setLevel sets the size at l.Price on a sorted side, inserting, replacing or
// (size ≤ 0) removing the level.
func setLevel(side []polybot.Level, l polybot.Level, bids bool) []polybot.Level {
	i, found := slices.BinarySearchFunc(side, l.Price, func(x polybot.Level, p polybot.Decimal) int {
		if bids {
			return p.Cmp(x.Price)
		}
		return x.Price.Cmp(p)
	})
	switch {
	case found && l.Size.Sign() <= 0:
		return slices.Delete(side, i, i+1)
	case found:
		side[i].Size = l.Size
		return side
	case l.Size.Sign() <= 0:
		return side
	}
	return slices.Insert(side, i, l)
}

// BestBid returns the highest bid.
func (b *Book) BestBid() (polybot.Level, bool) {
	if len(b.Bids) == 0 {
		return polybot.Level{}, false
	}
	return b.Bids[0], true
}

// BestAsk returns the lowest ask.
func (b *Book) BestAsk() (polybot.Level, bool) {
	if len(b.Asks) == 0 {
		return polybot.Level{}, false
	}
	return b.Asks[0], true
}

// Clone returns a deep copy, for handing a consistent view to readers.
func (b *Book) Clone() *Book {
	c := *b
	c.Bids = slices.Clone(b.Bids)
	c.Asks = slices.Clone(b.Asks)
	return &c
}

// Crossed reports whether the best bid is at or above the best ask, which a
// correct book never is: a sign of a missed update.
func (b *Book) Crossed() bool {
	bid, ok1 := b.BestBid()
	ask, ok2 := b.BestAsk()
	return ok1 && ok2 && !bid.Price.LessThan(ask.Price)
}
