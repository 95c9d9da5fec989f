package engine

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// FeeModel prices a venue's taker fee for one order (strategy.FeeModel
// satisfies it).
type FeeModel interface {
	TakerFee(inst polybot.Instrument, price, count polybot.Decimal) polybot.Decimal
}

// Books reads the hubs' current views.
type Books interface {
	// View returns inst's latest live view, or false when there is none
	// (not subscribed, no snapshot yet, or resynchronising).
	View(inst polybot.Instrument) (*marketdata.View, bool)
}

// paperKeep bounds what a paper exchange remembers (orders and fills), so a
// dry-run tenant's memory does not grow with its trade count.
const paperKeep = 64

// paperBook is the liquidity every dry-run tenant of the process shares: a
// record of what paper fills took, per instrument, side and price, layered
// over the hub's views (which paper fills never change, since they never
// reach the venue). What a level offers paper orders is what the hub shows
// less what paper fills took there; the record follows the level's shown
// size by the rule of the dispatcher's depth book (levelDepth): a level
// that grows by Δ offers Δ more (the venue shows new orders), one that
// shrinks first uses up what paper fills took (someone else took, or
// cancelled, liquidity we count as taken already). So two tenants never
// fill the same 50 shares, and at any level the paper fills never exceed
// the sum of the increases the venue showed there. The record learns a
// level's size when a paper order reads the instrument's book; a change
// it does not see in between (the level shrank and grew back) can only
// make it offer less.
type paperBook struct {
	books Books

	mu         sync.Mutex
	asks, bids depthBook // only consumed is used: paper fills hold no grants

	onFill func(inst polybot.Instrument, side polybot.Side, price, size polybot.Decimal) // tests; mu held
}

func newPaperBook(books Books) *paperBook {
	return &paperBook{books: books, asks: newDepthBook(), bids: newDepthBook()}
}

// take fills up to size of side at levels crossing limit, each level
// offering its shown size less what paper fills took there, and returns
// the fills (price, size) best first. all: nothing is taken unless the
// whole size is there (fill-or-kill).
func (b *paperBook) take(view *marketdata.View, side polybot.Side, limit, size polybot.Decimal, all bool) (fills []polybot.Level, avail polybot.Decimal) {
	levels, book := view.Asks, &b.asks
	crosses := func(p polybot.Decimal) bool { return !p.GreaterThan(limit) }
	if side == polybot.Sell {
		levels, book = view.Bids, &b.bids
		crosses = func(p polybot.Decimal) bool { return !p.LessThan(limit) }
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	book.observe(view.Instrument, levels, false)
	for _, l := range levels {
		if !crosses(l.Price) {
			break
		}
		avail = avail.Add(book.free(keyAt(view.Instrument, false, l.Price), l.Size))
	}
	if all && avail.LessThan(size) {
		return nil, avail
	}
	left := size
	for _, l := range levels {
		if left.Sign() <= 0 || !crosses(l.Price) {
			break
		}
		lk := keyAt(view.Instrument, false, l.Price)
		q := left.Min(book.free(lk, l.Size))
		if q.Sign() <= 0 {
			continue
		}
		book.level(lk, l.Size).use(q)
		fills = append(fills, polybot.Level{Price: l.Price, Size: q})
		left = left.Sub(q)
		if b.onFill != nil {
			b.onFill(view.Instrument, side, l.Price, q)
		}
	}
	return fills, avail
}

// paperExchange is dry-run execution on one venue: an order fills at once
// against the hub's current view less what other paper fills took there
// (the process's paperBook), walking the levels up to its limit price,
// with the venue's taker fee. Orders that would rest stay open and never
// fill.
type paperExchange struct {
	platform polybot.Platform
	book     *paperBook
	fees     FeeModel
	now      polybot.Clock

	mu     sync.Mutex
	orders map[string]*polybot.OrderStatus
	order  []string // client ids, oldest first
	fills  []polybot.Fill
	seq    uint64
}

func newPaperExchange(p polybot.Platform, book *paperBook, fees FeeModel, now polybot.Clock) *paperExchange {
	return &paperExchange{platform: p, book: book, fees: fees, now: now}
}

var _ polybot.Exchange = (*paperExchange)(nil)

func (x *paperExchange) Platform() polybot.Platform                { return x.platform }
func (x *paperExchange) ValidateCredentials(context.Context) error { return nil }

func (x *paperExchange) PlaceOrder(_ context.Context, req polybot.OrderRequest) (*polybot.OrderStatus, error) {
	v := polybot.Validation{}
	if req.ClientOrderID == "" {
		v.Add("client_order_id", "is required")
	}
	if req.Instrument.Venue != x.platform {
		v.Add("instrument", "is not on "+string(x.platform))
	}
	switch {
	case polybot.PricedPerShare(req.Instrument) && req.Price.Sign() <= 0:
		v.Add("price", "must be positive")
	case !polybot.PricedPerShare(req.Instrument) && (req.Price.Sign() <= 0 || !req.Price.LessThan(polybot.One)):
		v.Add("price", "must be between 0 and 1 dollar")
	}
	if req.Size.Sign() <= 0 {
		v.Add("size", "must be positive")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if st, ok := x.orders[req.ClientOrderID]; ok {
		c := *st
		return &c, nil
	}
	now := x.now()
	st := &polybot.OrderStatus{ClientOrderID: req.ClientOrderID, VenueOrderID: "paper-" + req.ClientOrderID,
		Instrument: req.Instrument, Side: req.Side, Price: req.Price, Size: req.Size, UpdatedAt: now}
	view, ok := x.book.books.View(req.Instrument)
	if !ok {
		st.State, st.Reason = polybot.OrderRejected, "no live book for "+req.Instrument.Key()
		x.remember(st)
		c := *st
		return &c, nil
	}
	taken, avail := x.book.take(view, req.Side, req.Price, req.Size, req.TIF == polybot.FOK)
	if req.TIF == polybot.FOK && avail.LessThan(req.Size) {
		st.State, st.Reason = polybot.OrderCancelled, "fill-or-kill: only "+avail.String()+" available at the limit"
		x.remember(st)
		c := *st
		return &c, nil
	}
	for _, l := range taken {
		q := l.Size
		x.seq++
		f := polybot.Fill{TradeID: "paper-" + req.ClientOrderID + "-" + strconv.FormatUint(x.seq, 10),
			ClientOrderID: req.ClientOrderID, VenueOrderID: st.VenueOrderID, Instrument: req.Instrument,
			Side: req.Side, Price: l.Price, Size: q, Time: now}
		if x.fees != nil {
			f.Fee = x.fees.TakerFee(req.Instrument, l.Price, q)
		}
		x.addFill(f)
		st.Filled = st.Filled.Add(q)
	}
	switch {
	case st.Filled == req.Size:
		st.State = polybot.OrderFilled
	case req.TIF == polybot.FAK || req.TIF == polybot.FOK:
		if st.Filled.IsZero() {
			st.State = polybot.OrderCancelled
		} else {
			st.State = polybot.OrderPartial
		}
		st.Reason = "remainder cancelled"
	case st.Filled.IsZero():
		st.State = polybot.OrderOpen
	default:
		st.State = polybot.OrderPartial
	}
	x.remember(st)
	c := *st
	return &c, nil
}

func (x *paperExchange) remember(st *polybot.OrderStatus) {
	if x.orders == nil {
		x.orders = make(map[string]*polybot.OrderStatus, 4)
	}
	if len(x.order) >= paperKeep {
		delete(x.orders, x.order[0])
		x.order = append(x.order[:0], x.order[1:]...)
	}
	x.orders[st.ClientOrderID] = st
	x.order = append(x.order, st.ClientOrderID)
}

func (x *paperExchange) addFill(f polybot.Fill) {
	if len(x.fills) >= paperKeep {
		x.fills = append(x.fills[:0], x.fills[1:]...)
	}
	x.fills = append(x.fills, f)
}

func (x *paperExchange) CancelOrder(_ context.Context, id string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.orders[id]
	if !ok || (st.State != polybot.OrderOpen && st.State != polybot.OrderPartial) {
		return polybot.NotFound("open order")
	}
	if st.Filled.IsZero() {
		st.State = polybot.OrderCancelled
	} else {
		st.State = polybot.OrderPartial
		st.Reason = "remainder cancelled"
	}
	st.UpdatedAt = x.now()
	return nil
}

func (x *paperExchange) CancelAll(ctx context.Context) error {
	open, _ := x.OpenOrders(ctx)
	for _, o := range open {
		_ = x.CancelOrder(ctx, o.ClientOrderID)
	}
	return nil
}

func (x *paperExchange) Order(_ context.Context, id string) (*polybot.OrderStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.orders[id]
	if !ok {
		return nil, polybot.NotFound("order")
	}
	c := *st
	return &c, nil
}

func (x *paperExchange) OpenOrders(context.Context) ([]polybot.OrderStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []polybot.OrderStatus
	for _, id := range x.order {
		if st := x.orders[id]; st.State == polybot.OrderOpen || (st.State == polybot.OrderPartial && st.Reason == "") {
			out = append(out, *st)
		}
	}
	return out, nil
}

func (x *paperExchange) Fills(_ context.Context, since time.Time) ([]polybot.Fill, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []polybot.Fill
	for _, f := range x.fills {
		if !f.Time.Before(since) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Positions and Balance are not kept by paper execution: the store's
// holdings are the dry-run positions.
func (x *paperExchange) Positions(context.Context) ([]polybot.Position, error) { return nil, nil }
func (x *paperExchange) Balance(context.Context) (polybot.Balance, error) {
	return polybot.Balance{}, nil
}
