// Package matching owns the limit-order matching engine that every venue
// simulator uses: many books keyed by a string the simulator chooses,
// price-time priority, the time-in-force rules (GTC, GTD, FOK, FAK/IOC),
// self-trade prevention, and "external" liquidity that a replay or synthetic
// feed sets under the pseudo-account MarketAccount.
//
// The engine knows nothing about wire formats, auth, balances or fees: those
// belong to the simulators (internal/venuesim/<venue>). Beside it, Trade.Legs,
// Holding and Settle are the one book-keeping of fills into cash and
// positions that the simulators share. It imports only the
// root package and the standard library, and must not import a venue
// connector, a store, the server or marketdata.
//
// # Rules
//
//   - Prices and sizes are polybot.Decimal; a trade executes at the resting
//     (maker) order's price. Price and size must be positive.
//   - Priority is best price first, then arrival order. External liquidity at
//     a price level is always ahead of simulated orders at that level (it
//     stands for depth that was queued before any simulated order), and a new
//     external snapshot keeps it there.
//   - GTC rests until cancelled; GTD rests until its expiry on the engine's
//     clock (Config.Now), then is cancelled with reason "expired" by the next
//     call that looks at the engine, or by Expire. FOK fills completely at
//     once or is rejected, with nothing changed. FAK (IOC) fills what crosses
//     and cancels the rest. PostOnly orders that would cross are rejected.
//   - Self-trade prevention (an order meeting a resting order of the same
//     account): the default, STPCancelResting, cancels the resting order and
//     keeps matching; STPCancelTaker cancels the rest of the incoming order.
//     A request can override the engine default.
//   - External liquidity is owned by MarketAccount. SetExternal replaces all
//     of a book's external levels (users' resting orders are untouched);
//     UpdateExternal sets individual external levels. Simulated orders take
//     external liquidity like any other; what they take is gone until the
//     next external snapshot or update. External levels that cross resting
//     simulated orders trade with them at the simulated order's price (the
//     market moved through the order), so the book never stays crossed.
//     External orders are never returned by Order or OpenOrders.
//
// # Subscribers
//
// Subscribe registers a callback that receives one Update per operation per
// book (trades, net level changes, and order state changes). Callbacks run
// one at a time, in Seq order, outside the engine's lock, on the goroutine of
// whichever operation is delivering: an operation that finds another one
// delivering queues its updates and returns, so an operation's return does
// not mean its updates were delivered yet. Callbacks may call any engine
// method (their own updates are delivered after the current one). They
// should be quick: a slow callback delays every subscriber, and the
// goroutine delivering.
package matching

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// MarketAccount owns external liquidity. Users may not submit as it.
const MarketAccount = "market"

// SelfTrade is a self-trade prevention policy.
type SelfTrade uint8

const (
	// STPDefault uses the engine's policy (in a Request).
	STPDefault SelfTrade = iota
	// STPCancelResting cancels the resting order of the same account and
	// keeps matching the incoming one.
	STPCancelResting
	// STPCancelTaker cancels what is left of the incoming order.
	STPCancelTaker
)

// Reasons set on cancelled or rejected orders.
const (
	ReasonExpired      = "expired"
	ReasonCancelled    = "cancelled"
	ReasonSelfTrade    = "self-trade prevention"
	ReasonUnfilled     = "unfilled remainder cancelled"
	ReasonFOK          = "fill-or-kill: not enough liquidity"
	ReasonPostOnly     = "post-only order would cross"
	ReasonExpiryPassed = "expiration already passed"
)

const defaultKeepDone = 100_000

// Config configures an Engine. The zero value works.
type Config struct {
	// Now is the engine's clock (GTD expiry, order and trade times).
	// Defaults to time.Now.
	Now func() time.Time
	// SelfTrade is the default self-trade policy (STPCancelResting if unset).
	SelfTrade SelfTrade
	// IDPrefix prefixes engine-assigned ids: orders are IDPrefix+"o"+n,
	// trades IDPrefix+"t"+n, external orders IDPrefix+"x"+n.
	IDPrefix string
	// KeepDone is how many finished (filled, cancelled, rejected) orders stay
	// queryable by Order; older ones are forgotten. Default 100,000.
	KeepDone int
}

// Request is an order to submit.
type Request struct {
	Book     string
	Account  string
	ClientID string // optional; unique per account when set
	OrderID  string // optional; engine-assigned when empty; unique
	Side     polybot.Side
	Price    polybot.Decimal
	Size     polybot.Decimal
	TIF      polybot.TimeInForce // empty means GTC
	Expires  time.Time           // GTD only
	PostOnly bool                // GTC/GTD only: reject instead of taking
	// SelfTrade overrides the engine's policy for this order.
	SelfTrade SelfTrade
}

// Order is an order's state at a point in time.
type Order struct {
	ID       string
	ClientID string
	Account  string
	Book     string
	Side     polybot.Side
	Price    polybot.Decimal
	Size     polybot.Decimal // original size
	Filled   polybot.Decimal
	TIF      polybot.TimeInForce
	Expires  time.Time
	State    polybot.OrderState
	Reason   string // why it was cancelled or rejected
	Created  time.Time
	Updated  time.Time
}

// Remaining is the size still open (zero once the order is done).
func (o Order) Remaining() polybot.Decimal {
	if o.Done() {
		return polybot.Zero
	}
	return o.Size.Sub(o.Filled)
}

// Done reports whether the order can no longer trade.
func (o Order) Done() bool {
	return o.State == polybot.OrderFilled || o.State == polybot.OrderCancelled || o.State == polybot.OrderRejected
}

// Trade is one execution between a resting (maker) and an incoming (taker)
// order, at the maker's price.
type Trade struct {
	ID            string
	Book          string
	Price         polybot.Decimal
	Size          polybot.Decimal
	TakerSide     polybot.Side
	MakerOrderID  string
	MakerAccount  string
	MakerClientID string
	TakerOrderID  string
	TakerAccount  string
	TakerClientID string
	Time          time.Time
}

// LevelChange is the net change of one aggregated price level in one
// operation: Size is the new total at Price (zero: the level is gone), Delta
// the change from before.
type LevelChange struct {
	Side  polybot.Side // Buy: a bid level; Sell: an ask level
	Price polybot.Decimal
	Size  polybot.Decimal
	Delta polybot.Decimal
}

// Update is what one operation did to one book.
type Update struct {
	Seq    uint64 // engine-wide, increasing by one per Update
	Book   string
	Time   time.Time
	Trades []Trade
	Levels []LevelChange
	// Orders holds the new state of every simulated order the operation
	// changed (the incoming order first when there is one). External orders
	// are not included.
	Orders []Order
}

// Result is the outcome of Submit.
type Result struct {
	Order  Order   // the submitted order's state after matching
	Trades []Trade // its executions, in order
	// Changed holds the other simulated orders whose state changed: makers
	// (partially) filled, resting orders cancelled by self-trade prevention
	// or expiry.
	Changed []Order
}

// Depth is an aggregated view of a book.
type Depth struct {
	Book string
	Bids []polybot.Level // best (highest) first
	Asks []polybot.Level // best (lowest) first
	Seq  uint64          // Seq of the last Update that changed this book
}

// Engine matches orders on many books. It is safe for concurrent use.
type Engine struct {
	mu      sync.Mutex
	now     func() time.Time
	stp     SelfTrade
	prefix  string
	keep    int
	books   map[string]*book
	orders  map[string]*order            // live and recently finished simulated orders
	clients map[string]map[string]string // account → client id → order id
	open    map[string]map[string]*order // account → order id → live order
	done    []string                     // finished order ids, oldest first (for KeepDone)
	gtd     map[*order]struct{}
	nextExp time.Time // earliest GTD expiry; zero when none
	nOrder  uint64
	nTrade  uint64
	nExt    uint64
	seq     uint64
	subs    []*subscriber // copy-on-write
	nSub    uint64

	pending    []Update // numbered, not yet delivered
	delivering bool     // some goroutine is running callbacks
}

type subscriber struct {
	id   uint64
	book string
	fn   func(Update)
}

type order struct {
	Order
	level *level
}

type level struct {
	price  polybot.Decimal
	total  polybot.Decimal
	orders []*order // FIFO
}

type book struct {
	key  string
	bids []*level // best first (descending)
	asks []*level // best first (ascending)
	seq  uint64
}

// New returns an empty engine.
func New(cfg Config) *Engine {
	e := &Engine{
		now:     cfg.Now,
		stp:     cfg.SelfTrade,
		prefix:  cfg.IDPrefix,
		keep:    cfg.KeepDone,
		books:   map[string]*book{},
		orders:  map[string]*order{},
		clients: map[string]map[string]string{},
		open:    map[string]map[string]*order{},
		gtd:     map[*order]struct{}{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.stp == STPDefault {
		e.stp = STPCancelResting
	}
	if e.keep <= 0 {
		e.keep = defaultKeepDone
	}
	return e
}

// op collects what one operation does, per book, for the result and the
// subscribers.
type op struct {
	now     time.Time
	updates []*Update
	touched []touch
}

type touch struct {
	book  string
	side  polybot.Side
	price polybot.Decimal
	old   polybot.Decimal
}

func (p *op) update(book string) *Update {
	for _, u := range p.updates {
		if u.Book == book {
			return u
		}
	}
	u := &Update{Book: book, Time: p.now}
	p.updates = append(p.updates, u)
	return u
}

// touch records a level's total before its first change in this op.
func (p *op) touch(b string, side polybot.Side, l *level) {
	for _, t := range p.touched {
		if t.book == b && t.side == side && t.price == l.price {
			return
		}
	}
	p.touched = append(p.touched, touch{b, side, l.price, l.total})
	p.update(b)
}

func (p *op) orderChanged(o *order) {
	if o.Account == MarketAccount {
		return
	}
	u := p.update(o.Book)
	for i := range u.Orders {
		if u.Orders[i].ID == o.ID {
			u.Orders[i] = o.Order
			return
		}
	}
	u.Orders = append(u.Orders, o.Order)
}

// finish computes the level changes, numbers the updates, and hands off to
// delivery. It must be called with e.mu held and releases it.
func (e *Engine) finish(p *op) []Update {
	var out []Update
	for _, u := range p.updates {
		b := e.books[u.Book]
		for _, t := range p.touched {
			if t.book != u.Book {
				continue
			}
			cur := polybot.Zero
			if l := b.find(t.side, t.price); l != nil {
				cur = l.total
			}
			if cur != t.old {
				u.Levels = append(u.Levels, LevelChange{Side: t.side, Price: t.price, Size: cur, Delta: cur.Sub(t.old)})
			}
		}
		if len(u.Levels) == 0 && len(u.Trades) == 0 && len(u.Orders) == 0 {
			continue
		}
		e.seq++
		u.Seq = e.seq
		b.seq = e.seq
		out = append(out, *u)
	}
	if len(out) == 0 || len(e.subs) == 0 {
		e.mu.Unlock()
		return out
	}
	e.pending = append(e.pending, out...)
	if e.delivering {
		// Another operation (or the callback that called us) is delivering
		// and will deliver these after what it has, in order.
		e.mu.Unlock()
		return out
	}
	e.delivering = true
	e.deliverLocked()
	e.mu.Unlock()
	return out
}

// deliverLocked runs the callbacks for everything pending, releasing e.mu
// around them; e.mu is held again when it returns. If a callback panics the
// panic propagates with e.mu released, and what is still pending is
// delivered by the next operation.
func (e *Engine) deliverLocked() {
	locked := true
	defer func() {
		if !locked { // a callback panicked: unlock on the way out
			e.mu.Lock()
			e.delivering = false
			e.mu.Unlock()
		}
	}()
	for len(e.pending) > 0 {
		batch, subs := e.pending, e.subs
		e.pending = nil
		e.mu.Unlock()
		locked = false
		for _, u := range batch {
			for _, s := range subs {
				if s.book == "" || s.book == u.Book {
					s.fn(u)
				}
			}
		}
		e.mu.Lock()
		locked = true
	}
	e.delivering = false
}

// Subscribe calls fn with every Update of book (every book when book is
// "") until the returned function is called. See the package doc for what fn
// may do.
func (e *Engine) Subscribe(book string, fn func(Update)) (unsubscribe func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nSub++
	s := &subscriber{id: e.nSub, book: book, fn: fn}
	e.subs = append(slices.Clip(e.subs), s)
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.subs = slices.DeleteFunc(slices.Clone(e.subs), func(x *subscriber) bool { return x == s })
	}
}

func (e *Engine) book(key string) *book {
	b := e.books[key]
	if b == nil {
		b = &book{key: key}
		e.books[key] = b
	}
	return b
}

func (e *Engine) validate(r *Request) error {
	v := polybot.Validation{}
	if r.Book == "" {
		v.Add("book", "required")
	}
	switch r.Account {
	case "":
		v.Add("account", "required")
	case MarketAccount:
		v.Add("account", "reserved for external liquidity")
	}
	if r.Side != polybot.Buy && r.Side != polybot.Sell {
		v.Add("side", "must be buy or sell")
	}
	if r.Price.Sign() <= 0 {
		v.Add("price", "must be positive")
	}
	if r.Size.Sign() <= 0 {
		v.Add("size", "must be positive")
	}
	switch r.TIF {
	case "":
		r.TIF = polybot.GTC
	case polybot.GTC, polybot.FOK, polybot.FAK:
	case polybot.GTD:
		if r.Expires.IsZero() {
			v.Add("expires", "required for GTD")
		}
	default:
		v.Add("tif", "unknown time in force "+string(r.TIF))
	}
	if r.PostOnly && r.TIF != polybot.GTC && r.TIF != polybot.GTD {
		v.Add("post_only", "only for GTC or GTD orders")
	}
	return v.Err()
}

// Submit matches r against its book and rests what is left when its time in
// force allows. Invalid requests get an EINVALID error; a reused order id or
// client id an ECONFLICT error. A killed FOK or a post-only order that would
// cross is not an error: the returned order is OrderRejected, with Reason.
func (e *Engine) Submit(r Request) (Result, error) {
	if err := e.validate(&r); err != nil {
		return Result{}, err
	}
	e.mu.Lock()
	now := e.now()
	if r.OrderID != "" {
		if _, ok := e.orders[r.OrderID]; ok {
			e.mu.Unlock()
			return Result{}, polybot.Errorf(polybot.ECONFLICT, "order id %s already exists", r.OrderID)
		}
	}
	if r.ClientID != "" {
		if _, ok := e.clients[r.Account][r.ClientID]; ok {
			e.mu.Unlock()
			return Result{}, polybot.Errorf(polybot.ECONFLICT, "client order id %s already used", r.ClientID)
		}
	}
	p := &op{now: now}
	e.expireLocked(p, now)
	if r.OrderID == "" {
		for {
			e.nOrder++
			r.OrderID = e.prefix + "o" + strconv.FormatUint(e.nOrder, 10)
			if _, ok := e.orders[r.OrderID]; !ok {
				break
			}
		}
	}
	o := &order{Order: Order{
		ID: r.OrderID, ClientID: r.ClientID, Account: r.Account, Book: r.Book,
		Side: r.Side, Price: r.Price, Size: r.Size, TIF: r.TIF,
		State: polybot.OrderOpen, Created: now, Updated: now,
	}}
	if r.TIF == polybot.GTD {
		o.Expires = r.Expires
	}
	stp := r.SelfTrade
	if stp == STPDefault {
		stp = e.stp
	}
	b := e.book(r.Book)
	e.index(o)
	u := p.update(r.Book)
	self := len(u.Orders) // after any orders expired on this book just now
	u.Orders = append(u.Orders, o.Order)

	switch {
	case r.TIF == polybot.GTD && !now.Before(r.Expires):
		e.reject(o, ReasonExpiryPassed, now)
	case r.PostOnly && b.crosses(o.Side, o.Price):
		e.reject(o, ReasonPostOnly, now)
	case r.TIF == polybot.FOK && b.fillable(o, stp).LessThan(o.Size):
		e.reject(o, ReasonFOK, now)
	default:
		taker := e.match(p, b, o, stp)
		rem := o.Size.Sub(o.Filled)
		switch {
		case rem.IsZero():
			o.State = polybot.OrderFilled
			e.retire(o)
		case !taker: // cancelled by self-trade prevention
			o.State, o.Reason = polybot.OrderCancelled, ReasonSelfTrade
			e.retire(o)
		case r.TIF == polybot.GTC || r.TIF == polybot.GTD:
			e.rest(p, b, o)
			if o.TIF == polybot.GTD {
				e.gtd[o] = struct{}{}
				if e.nextExp.IsZero() || o.Expires.Before(e.nextExp) {
					e.nextExp = o.Expires
				}
			}
		default: // FAK, or FOK that could not complete (cannot happen after the check)
			o.State, o.Reason = polybot.OrderCancelled, ReasonUnfilled
			e.retire(o)
		}
		o.Updated = now
	}
	u.Orders[self] = o.Order
	res := Result{Order: o.Order, Trades: slices.Clone(u.Trades)}
	for _, x := range p.updates {
		for _, c := range x.Orders {
			if c.ID != o.ID {
				res.Changed = append(res.Changed, c)
			}
		}
	}
	e.finish(p)
	return res, nil
}

func (e *Engine) reject(o *order, reason string, now time.Time) {
	o.State, o.Reason, o.Updated = polybot.OrderRejected, reason, now
	e.retire(o)
}

// index records a new simulated order as live.
func (e *Engine) index(o *order) {
	e.orders[o.ID] = o
	if o.ClientID != "" {
		m := e.clients[o.Account]
		if m == nil {
			m = map[string]string{}
			e.clients[o.Account] = m
		}
		m[o.ClientID] = o.ID
	}
	m := e.open[o.Account]
	if m == nil {
		m = map[string]*order{}
		e.open[o.Account] = m
	}
	m[o.ID] = o
}

// retire moves a finished order out of the open set; the oldest finished
// orders beyond KeepDone are forgotten.
func (e *Engine) retire(o *order) {
	if o.Account == MarketAccount {
		return
	}
	o.level = nil
	delete(e.gtd, o)
	if m := e.open[o.Account]; m != nil {
		delete(m, o.ID)
		if len(m) == 0 {
			delete(e.open, o.Account)
		}
	}
	e.done = append(e.done, o.ID)
	for len(e.done) > e.keep {
		id := e.done[0]
		e.done = e.done[1:]
		if old := e.orders[id]; old != nil && old.Done() {
			delete(e.orders, id)
			if old.ClientID != "" {
				if m := e.clients[old.Account]; m != nil && m[old.ClientID] == id {
					delete(m, old.ClientID)
					if len(m) == 0 {
						delete(e.clients, old.Account)
					}
				}
			}
		}
	}
}

func (b *book) sideOf(s polybot.Side) *[]*level {
	if s == polybot.Buy {
		return &b.bids
	}
	return &b.asks
}

// crosses reports whether an order on side s at price would trade.
func (b *book) crosses(s polybot.Side, price polybot.Decimal) bool {
	opp := *b.sideOf(1 - s)
	return len(opp) > 0 && crossesLevel(s, price, opp[0].price)
}

func crossesLevel(s polybot.Side, limit, lp polybot.Decimal) bool {
	if s == polybot.Buy {
		return !lp.GreaterThan(limit)
	}
	return !lp.LessThan(limit)
}

func (b *book) find(s polybot.Side, price polybot.Decimal) *level {
	side := *b.sideOf(s)
	i, ok := search(side, s, price)
	if !ok {
		return nil
	}
	return side[i]
}

func search(side []*level, s polybot.Side, price polybot.Decimal) (int, bool) {
	return slices.BinarySearchFunc(side, price, func(l *level, p polybot.Decimal) int {
		if s == polybot.Buy {
			return p.Cmp(l.price)
		}
		return l.price.Cmp(p)
	})
}

// fillable is how much of o would fill now, under policy stp, up to o.Size.
func (b *book) fillable(o *order, stp SelfTrade) polybot.Decimal {
	sum := polybot.Zero
	for _, l := range *b.sideOf(1 - o.Side) {
		if !crossesLevel(o.Side, o.Price, l.price) {
			break
		}
		for _, m := range l.orders {
			if m.Account == o.Account {
				if stp == STPCancelTaker {
					return sum
				}
				continue
			}
			sum = sum.Add(m.Size.Sub(m.Filled))
			if !sum.LessThan(o.Size) {
				return sum
			}
		}
	}
	return sum
}

// match trades o against the opposite side. It returns false when self-trade
// prevention cancelled o.
func (e *Engine) match(p *op, b *book, o *order, stp SelfTrade) bool {
	opp := b.sideOf(1 - o.Side)
	for o.Filled.LessThan(o.Size) && len(*opp) > 0 {
		l := (*opp)[0]
		if !crossesLevel(o.Side, o.Price, l.price) {
			break
		}
		for len(l.orders) > 0 && o.Filled.LessThan(o.Size) {
			m := l.orders[0]
			if m.Account == o.Account {
				if stp == STPCancelTaker {
					return false
				}
				p.touch(b.key, m.Side, l)
				e.unrest(b, m)
				m.State, m.Reason, m.Updated = polybot.OrderCancelled, ReasonSelfTrade, p.now
				e.retire(m)
				p.orderChanged(m)
				continue
			}
			e.execute(p, b, l, m, o)
		}
		if len(l.orders) == 0 && len(*opp) > 0 && (*opp)[0] == l {
			*opp = (*opp)[1:]
		}
	}
	return true
}

// execute trades min(remaining) between maker m (head of l) and taker t.
func (e *Engine) execute(p *op, b *book, l *level, m, t *order) {
	q := t.Size.Sub(t.Filled)
	if mr := m.Size.Sub(m.Filled); mr.LessThan(q) {
		q = mr
	}
	p.touch(b.key, m.Side, l)
	e.nTrade++
	tr := Trade{
		ID: e.prefix + "t" + strconv.FormatUint(e.nTrade, 10), Book: b.key,
		Price: l.price, Size: q, TakerSide: t.Side,
		MakerOrderID: m.ID, MakerAccount: m.Account, MakerClientID: m.ClientID,
		TakerOrderID: t.ID, TakerAccount: t.Account, TakerClientID: t.ClientID,
		Time: p.now,
	}
	u := p.update(b.key)
	u.Trades = append(u.Trades, tr)
	m.Filled = m.Filled.Add(q)
	t.Filled = t.Filled.Add(q)
	l.total = l.total.Sub(q)
	m.Updated, t.Updated = p.now, p.now
	if m.Filled == m.Size {
		m.State = polybot.OrderFilled
		l.orders[0] = nil
		l.orders = l.orders[1:]
		e.retire(m)
	} else {
		m.State = polybot.OrderPartial
	}
	if t.Account != MarketAccount && t.Filled.Sign() > 0 && t.Filled != t.Size {
		t.State = polybot.OrderPartial
	}
	p.orderChanged(m)
}

// rest adds o to its side of b, behind orders at its price (external
// liquidity stays ahead of simulated orders: see the package doc).
func (e *Engine) rest(p *op, b *book, o *order) {
	sidep := b.sideOf(o.Side)
	i, ok := search(*sidep, o.Side, o.Price)
	var l *level
	if ok {
		l = (*sidep)[i]
	} else {
		l = &level{price: o.Price}
		*sidep = slices.Insert(*sidep, i, l)
	}
	p.touch(b.key, o.Side, l)
	rem := o.Size.Sub(o.Filled)
	if o.Account == MarketAccount {
		// External liquidity goes ahead of simulated orders.
		j := 0
		for j < len(l.orders) && l.orders[j].Account == MarketAccount {
			j++
		}
		l.orders = slices.Insert(l.orders, j, o)
	} else {
		l.orders = append(l.orders, o)
	}
	l.total = l.total.Add(rem)
	o.level = l
}

// unrest removes resting order o from its level (and the level if empty).
func (e *Engine) unrest(b *book, o *order) {
	l := o.level
	if l == nil {
		return
	}
	if i := slices.Index(l.orders, o); i >= 0 {
		l.orders = slices.Delete(l.orders, i, i+1)
	}
	l.total = l.total.Sub(o.Size.Sub(o.Filled))
	o.level = nil
	if len(l.orders) == 0 {
		sidep := b.sideOf(o.Side)
		if i, ok := search(*sidep, o.Side, l.price); ok {
			*sidep = slices.Delete(*sidep, i, i+1)
		}
	}
}

// Cancel cancels a live order by id (ENOTFOUND if unknown or done).
func (e *Engine) Cancel(orderID string) (Order, error) {
	e.mu.Lock()
	now := e.now()
	p := &op{now: now}
	e.expireLocked(p, now)
	o := e.orders[orderID]
	if o == nil || o.Done() {
		e.finish(p)
		return Order{}, polybot.Errorf(polybot.ENOTFOUND, "order %s not found or no longer open", orderID)
	}
	e.cancelLocked(p, o, ReasonCancelled)
	out := o.Order
	e.finish(p)
	return out, nil
}

func (e *Engine) cancelLocked(p *op, o *order, reason string) {
	b := e.books[o.Book]
	if o.level != nil {
		p.touch(b.key, o.Side, o.level)
		e.unrest(b, o)
	}
	o.State, o.Reason, o.Updated = polybot.OrderCancelled, reason, p.now
	e.retire(o)
	p.orderChanged(o)
}

// CancelAll cancels every live order of account, on book only when book is
// not "", and returns them cancelled, in arrival order.
func (e *Engine) CancelAll(account, book string) []Order {
	p, os := e.liveOrders(account, book)
	out := make([]Order, 0, len(os))
	for _, o := range os {
		e.cancelLocked(p, o, ReasonCancelled)
		out = append(out, o.Order)
	}
	e.finish(p)
	return out
}

// liveOrders locks the engine, expires what is due, and returns the op
// (for finish) and account's live orders (on book only, when book is not
// ""), in arrival order.
func (e *Engine) liveOrders(account, book string) (*op, []*order) {
	e.mu.Lock()
	now := e.now()
	p := &op{now: now}
	e.expireLocked(p, now)
	var os []*order
	for _, o := range e.open[account] {
		if book == "" || o.Book == book {
			os = append(os, o)
		}
	}
	sortOrders(os)
	return p, os
}

func sortOrders(os []*order) {
	slices.SortFunc(os, func(a, b *order) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		if len(a.ID) != len(b.ID) {
			return len(a.ID) - len(b.ID)
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
}

// Order returns an order by id: live ones and the most recent finished ones
// (see Config.KeepDone). ENOTFOUND otherwise.
func (e *Engine) Order(orderID string) (Order, error) {
	e.mu.Lock()
	now := e.now()
	p := &op{now: now}
	e.expireLocked(p, now)
	o := e.orders[orderID]
	var out Order
	if o != nil {
		out = o.Order
	}
	e.finish(p)
	if o == nil {
		return Order{}, polybot.Errorf(polybot.ENOTFOUND, "order %s not found", orderID)
	}
	return out, nil
}

// OrderByClientID finds an account's order by its client id.
func (e *Engine) OrderByClientID(account, clientID string) (Order, error) {
	e.mu.Lock()
	id, ok := e.clients[account][clientID]
	e.mu.Unlock()
	if !ok {
		return Order{}, polybot.Errorf(polybot.ENOTFOUND, "order with client id %s not found", clientID)
	}
	return e.Order(id)
}

// OpenOrders lists account's live orders (on book only, when book is not
// ""), in arrival order.
func (e *Engine) OpenOrders(account, book string) []Order {
	p, os := e.liveOrders(account, book)
	out := make([]Order, len(os))
	for i, o := range os {
		out[i] = o.Order
	}
	e.finish(p)
	return out
}

// Depth returns book's aggregated levels, at most n per side (all when
// n ≤ 0). An unknown book is empty.
func (e *Engine) Depth(book string, n int) Depth {
	e.mu.Lock()
	now := e.now()
	p := &op{now: now}
	e.expireLocked(p, now)
	d := Depth{Book: book}
	if b := e.books[book]; b != nil {
		d.Bids = levels(b.bids, n)
		d.Asks = levels(b.asks, n)
		d.Seq = b.seq
	}
	e.finish(p)
	return d
}

func levels(side []*level, n int) []polybot.Level {
	if n <= 0 || n > len(side) {
		n = len(side)
	}
	out := make([]polybot.Level, n)
	for i := range n {
		out[i] = polybot.Level{Price: side[i].price, Size: side[i].total}
	}
	return out
}

// Books lists the keys of books the engine has seen, sorted.
func (e *Engine) Books() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.books))
}

// Expire cancels GTD orders whose expiry has passed on the engine's clock.
// Every other call does this too; Expire is for simulators that want to push
// expiry updates promptly (e.g. on a ticker).
func (e *Engine) Expire() {
	e.mu.Lock()
	now := e.now()
	p := &op{now: now}
	e.expireLocked(p, now)
	e.finish(p)
}

func (e *Engine) expireLocked(p *op, now time.Time) {
	if e.nextExp.IsZero() || now.Before(e.nextExp) {
		return
	}
	var expired []*order
	next := time.Time{}
	for o := range e.gtd {
		if !now.Before(o.Expires) {
			expired = append(expired, o)
		} else if next.IsZero() || o.Expires.Before(next) {
			next = o.Expires
		}
	}
	e.nextExp = next
	sortOrders(expired)
	for _, o := range expired {
		e.cancelLocked(p, o, ReasonExpired)
	}
}

// SetExternal replaces book's external liquidity by bids and asks (levels
// with size ≤ 0 are ignored). Users' resting orders are not touched, except
// that external levels crossing them trade with them (see the package doc).
// Crossed external levels (a bid at or above an ask) are EINVALID.
func (e *Engine) SetExternal(book string, bids, asks []polybot.Level) (Update, error) {
	return e.external(book, bids, asks, true)
}

// UpdateExternal sets book's external size at the given prices (size ≤ 0
// removes the external level), leaving other external levels as they are.
func (e *Engine) UpdateExternal(book string, bids, asks []polybot.Level) (Update, error) {
	return e.external(book, bids, asks, false)
}

func (e *Engine) external(key string, bids, asks []polybot.Level, replace bool) (Update, error) {
	if key == "" {
		return Update{}, polybot.FieldError("book", "required")
	}
	e.mu.Lock()
	now := e.now()
	p := &op{now: now}
	e.expireLocked(p, now)
	b := e.book(key)
	// Check the new external levels against each other (not against users'
	// orders, which they may legitimately trade with).
	bestBid, bestAsk := polybot.Zero, polybot.Zero
	haveBid, haveAsk := false, false
	consider := func(side polybot.Side, ls []polybot.Level) {
		for _, l := range ls {
			if l.Size.Sign() <= 0 {
				continue
			}
			if side == polybot.Buy && (!haveBid || l.Price.GreaterThan(bestBid)) {
				bestBid, haveBid = l.Price, true
			}
			if side == polybot.Sell && (!haveAsk || l.Price.LessThan(bestAsk)) {
				bestAsk, haveAsk = l.Price, true
			}
		}
	}
	consider(polybot.Buy, bids)
	consider(polybot.Sell, asks)
	if !replace {
		// Remaining external levels not overridden also count.
		for _, s := range []polybot.Side{polybot.Buy, polybot.Sell} {
			ls := bids
			if s == polybot.Sell {
				ls = asks
			}
			for _, l := range *b.sideOf(s) {
				if l.orders[0].Account != MarketAccount || slices.ContainsFunc(ls, func(x polybot.Level) bool { return x.Price == l.price }) {
					continue
				}
				consider(s, []polybot.Level{{Price: l.price, Size: polybot.One}})
			}
		}
	}
	for _, l := range append(slices.Clip(bids), asks...) {
		if l.Size.Sign() > 0 && l.Price.Sign() <= 0 {
			e.finish(p)
			return Update{}, polybot.FieldError("price", "external level price must be positive")
		}
	}
	if haveBid && haveAsk && !bestBid.LessThan(bestAsk) {
		e.finish(p)
		return Update{}, polybot.Errorf(polybot.EINVALID, "external levels are crossed: bid %s ≥ ask %s", bestBid, bestAsk)
	}
	if replace {
		for _, s := range []polybot.Side{polybot.Buy, polybot.Sell} {
			for _, l := range slices.Clone(*b.sideOf(s)) {
				for _, o := range slices.Clone(l.orders) {
					if o.Account == MarketAccount {
						p.touch(key, s, l)
						e.unrest(b, o)
					}
				}
			}
		}
	} else {
		for _, s := range []polybot.Side{polybot.Buy, polybot.Sell} {
			ls := bids
			if s == polybot.Sell {
				ls = asks
			}
			for _, x := range ls {
				l := b.find(s, x.Price)
				if l == nil {
					continue
				}
				for _, o := range slices.Clone(l.orders) {
					if o.Account == MarketAccount {
						p.touch(key, s, l)
						e.unrest(b, o)
					}
				}
			}
		}
	}
	// Asks first (ascending), then bids (descending): each external level
	// trades with crossing simulated orders, then rests.
	add := func(side polybot.Side, ls []polybot.Level) {
		ls = slices.Clone(ls)
		slices.SortFunc(ls, func(x, y polybot.Level) int {
			if side == polybot.Buy {
				return y.Price.Cmp(x.Price)
			}
			return x.Price.Cmp(y.Price)
		})
		for _, l := range ls {
			if l.Size.Sign() <= 0 {
				continue
			}
			e.nExt++
			o := &order{Order: Order{
				ID: e.prefix + "x" + strconv.FormatUint(e.nExt, 10), Account: MarketAccount, Book: key,
				Side: side, Price: l.Price, Size: l.Size, TIF: polybot.GTC, State: polybot.OrderOpen,
				Created: now, Updated: now,
			}}
			e.match(p, b, o, STPCancelTaker)
			if o.Filled.LessThan(o.Size) {
				e.rest(p, b, o)
			}
		}
	}
	add(polybot.Sell, asks)
	add(polybot.Buy, bids)
	var out Update
	ups := e.finish(p)
	for _, u := range ups {
		if u.Book == key {
			out = u
		}
	}
	if out.Book == "" {
		out.Book = key
	}
	return out, nil
}

// BookFill applies one fill to an account's holding of qty that cost cost
// (the simulators' position books): a buy adds size and amount; a sell
// takes size away and the cost in proportion, and a sale of all (or more)
// leaves nothing.
func BookFill(qty, cost *polybot.Decimal, side polybot.Side, size, amount polybot.Decimal) {
	if side == polybot.Buy {
		*qty, *cost = qty.Add(size), cost.Add(amount)
		return
	}
	rest := qty.Sub(size)
	if rest.Sign() <= 0 {
		*qty, *cost = polybot.Zero, polybot.Zero
		return
	}
	*cost, *qty = cost.Mul(rest).Div(*qty), rest
}

// Leg is one account's side of a trade.
type Leg struct {
	OrderID string
	Account string
	Side    polybot.Side
	Taker   bool
}

// Legs returns the trade's maker leg, then its taker leg.
func (t Trade) Legs() [2]Leg {
	return [2]Leg{
		{OrderID: t.MakerOrderID, Account: t.MakerAccount, Side: 1 - t.TakerSide},
		{OrderID: t.TakerOrderID, Account: t.TakerAccount, Side: t.TakerSide, Taker: true},
	}
}

// Tag is "m" on the maker leg and "t" on the taker's: what tells the two
// legs' records of one trade apart.
func (l Leg) Tag() string {
	if l.Taker {
		return "t"
	}
	return "m"
}

// Holding is what an account holds of one book: Qty, and Cost, what it cost.
type Holding struct {
	Qty, Cost polybot.Decimal
}

// Settle books one leg of a trade of size at price into an account's cash
// and its holding under key: a buy pays price × size and adds to the
// holding, a sale is paid it and takes from the holding (BookFill); a
// holding sold to nothing is removed. It returns the amount, price × size,
// and the holding (nil when removed).
func Settle[K comparable](cash *polybot.Decimal, positions map[K]*Holding, key K, side polybot.Side, price, size polybot.Decimal) (polybot.Decimal, *Holding) {
	amount := price.Mul(size)
	h := positions[key]
	if h == nil {
		h = &Holding{}
		positions[key] = h
	}
	if side == polybot.Buy {
		*cash = cash.Sub(amount)
	} else {
		*cash = cash.Add(amount)
	}
	BookFill(&h.Qty, &h.Cost, side, size, amount)
	if h.Qty.IsZero() {
		delete(positions, key)
		return amount, nil
	}
	return amount, h
}
