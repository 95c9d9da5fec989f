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

// paperExchange is dry-run execution on one venue: an order fills at once
// against the hub's current view, walking the levels up to its limit price,
// with the venue's taker fee. It never changes the shared book (the
// allocator keeps tenants within the visible depth). Orders that would rest
// stay open and never fill.
type paperExchange struct {
	platform polybot.Platform
	books    Books
	fees     FeeModel
	now      polybot.Clock

	mu     sync.Mutex
	orders map[string]*polybot.OrderStatus
	order  []string // client ids, oldest first
	fills  []polybot.Fill
	seq    uint64
}

func newPaperExchange(p polybot.Platform, books Books, fees FeeModel, now polybot.Clock) *paperExchange {
	return &paperExchange{platform: p, books: books, fees: fees, now: now}
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
	if req.Price.Sign() <= 0 || !req.Price.LessThan(polybot.One) {
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
	view, ok := x.books.View(req.Instrument)
	if !ok {
		st.State, st.Reason = polybot.OrderRejected, "no live book for "+req.Instrument.Key()
		x.remember(st)
		c := *st
		return &c, nil
	}
	levels, crosses := view.Asks, func(p polybot.Decimal) bool { return !p.GreaterThan(req.Price) }
	if req.Side == polybot.Sell {
		levels, crosses = view.Bids, func(p polybot.Decimal) bool { return !p.LessThan(req.Price) }
	}
	avail := polybot.Zero
	for _, l := range levels {
		if !crosses(l.Price) {
			break
		}
		avail = avail.Add(l.Size)
	}
	if req.TIF == polybot.FOK && avail.LessThan(req.Size) {
		st.State, st.Reason = polybot.OrderCancelled, "fill-or-kill: only "+avail.String()+" available at the limit"
		x.remember(st)
		c := *st
		return &c, nil
	}
	left := req.Size
	for _, l := range levels {
		if left.Sign() <= 0 || !crosses(l.Price) {
			break
		}
		q := left.Min(l.Size)
		x.seq++
		f := polybot.Fill{TradeID: "paper-" + req.ClientOrderID + "-" + strconv.FormatUint(x.seq, 10),
			ClientOrderID: req.ClientOrderID, VenueOrderID: st.VenueOrderID, Instrument: req.Instrument,
			Side: req.Side, Price: l.Price, Size: q, Time: now}
		if x.fees != nil {
			f.Fee = x.fees.TakerFee(req.Instrument, l.Price, q)
		}
		x.addFill(f)
		st.Filled = st.Filled.Add(q)
		left = left.Sub(q)
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
