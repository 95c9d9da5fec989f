package kalshi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// ExchangeConfig configures one tenant's Exchange.
type ExchangeConfig struct {
	// BaseURL is the REST base ("" means ProdBaseURL; DemoBaseURL for demo).
	BaseURL string
	// KeyID and PrivateKeyPEM are the tenant's API key (PKCS#1 or PKCS#8).
	KeyID         string
	PrivateKeyPEM []byte
	HTTPClient    *http.Client
	// Legacy places orders through POST /portfolio/orders (side yes|no,
	// action buy|sell) instead of POST /portfolio/events/orders.
	Legacy bool
	// Now is the signing clock (nil: time.Now).
	Now func() time.Time
}

// Exchange is one tenant's trading connection to Kalshi: a polybot.Exchange.
// It remembers what it sent (by client order id) so that answers in the
// venue's YES-book terms map back to the instrument and side the caller
// asked for; orders it never saw are reported as they sit on the YES book.
type Exchange struct {
	c      *Client
	legacy bool

	mu      sync.Mutex
	intents map[string]intent // by client order id
	byVenue map[string]string // venue order id -> client order id
}

type intent struct {
	inst    polybot.Instrument
	side    polybot.Side
	orderID string
}

var _ polybot.Exchange = (*Exchange)(nil)

// NewExchange checks the key and returns an Exchange; it makes no call.
func NewExchange(cfg ExchangeConfig) (*Exchange, error) {
	v := polybot.Validation{}
	if cfg.KeyID == "" {
		v.Add(polybot.FieldAPIKey, "is required for kalshi")
	}
	key, err := ParsePrivateKey(cfg.PrivateKeyPEM)
	if err != nil {
		v.Add(polybot.FieldPrivateKey, "must be an RSA private key in PEM form (PKCS#1 or PKCS#8)")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := NewClient(cfg.BaseURL, cfg.HTTPClient, NewSigner(cfg.KeyID, key, cfg.Now))
	if err != nil {
		return nil, err
	}
	return &Exchange{c: c, legacy: cfg.Legacy, intents: map[string]intent{}, byVenue: map[string]string{}}, nil
}

// Client returns the underlying REST client.
func (x *Exchange) Client() *Client { return x.c }

// Platform implements polybot.Exchange.
func (x *Exchange) Platform() polybot.Platform { return polybot.Kalshi }

// ValidateCredentials reads the balance, which needs a valid signature.
func (x *Exchange) ValidateCredentials(ctx context.Context) error {
	_, err := x.c.Balance(ctx)
	return err
}

// toBook maps an order on an instrument to the YES book: buying YES is a bid
// at P, selling YES an ask at P; buying NO at P is an ask at 1−P, selling NO
// a bid at 1−P.
func toBook(o polybot.Outcome, s polybot.Side, price polybot.Decimal) (bookSide string, yesPrice polybot.Decimal) {
	if o == polybot.No {
		price = polybot.One.Sub(price)
		s = 1 - s
	}
	if s == polybot.Buy {
		return "bid", price
	}
	return "ask", price
}

// orderRules are what Kalshi asks of every order: GTD rests as GTC until its
// expiration (sent apart), FAK is immediate-or-cancel.
var orderRules = wire.OrderRules{Venue: polybot.Kalshi, Name: "Kalshi", Instrument: "a Kalshi market",
	TIF: map[polybot.TimeInForce]string{"": TIFGoodTillCanceled, polybot.GTC: TIFGoodTillCanceled,
		polybot.GTD: TIFGoodTillCanceled, polybot.FOK: TIFFillOrKill, polybot.FAK: TIFImmediateOrCancel}}

// checkOrder validates req and returns its time in force on the wire.
func checkOrder(req polybot.OrderRequest) (string, error) {
	return orderRules.Check(req, func(v polybot.Validation) {
		if req.Price.Sign() <= 0 || !req.Price.LessThan(polybot.One) {
			v.Add("price", "must be between 0 and 1 dollar")
		} else if req.Price.Places() > 4 {
			v.Add("price", "has more than 4 decimal places")
		}
		if req.Size.Places() > 2 {
			v.Add("size", "Kalshi counts have at most 2 decimal places")
		}
		if req.TIF == polybot.GTD && req.Expiration.IsZero() {
			v.Add("expiration", "is required for GTD")
		}
	})
}

// PlaceOrder implements polybot.Exchange. A timeout or a 5xx returns an
// error wrapping polybot.ErrOutcomeUnknown: call Order with the same client
// order id, never PlaceOrder again.
func (x *Exchange) PlaceOrder(ctx context.Context, req polybot.OrderRequest) (*polybot.OrderStatus, error) {
	tif, err := checkOrder(req)
	if err != nil {
		return nil, err
	}
	var exp int64
	if req.TIF == polybot.GTD {
		exp = req.Expiration.Unix()
	}
	x.remember(req.ClientOrderID, intent{inst: req.Instrument, side: req.Side})
	count, _ := formatFixed(req.Size, 2)
	st := &polybot.OrderStatus{ClientOrderID: req.ClientOrderID, Instrument: req.Instrument, Side: req.Side,
		Price: req.Price, Size: req.Size, State: polybot.OrderOpen, UpdatedAt: time.Now()}
	if x.legacy {
		w := CreateOrderRequest{Ticker: req.Instrument.Market, ClientOrderID: req.ClientOrderID, Side: "yes", Action: "buy",
			CountFP: count, TimeInForce: tif, ExpirationTs: exp}
		if req.Instrument.Outcome == polybot.No {
			w.Side = "no"
			w.NoPriceDollars = string(appendFixed(nil, req.Price, 4))
		} else {
			w.YesPriceDollars = string(appendFixed(nil, req.Price, 4))
		}
		if req.Side == polybot.Sell {
			w.Action = "sell"
		}
		o, err := x.c.CreateOrderLegacy(ctx, w)
		if err != nil {
			return nil, err
		}
		x.bind(req.ClientOrderID, o.OrderID)
		return x.status(o), nil
	}
	side, yesPrice := toBook(req.Instrument.Outcome, req.Side, req.Price)
	w := CreateOrderV2Request{Ticker: req.Instrument.Market, ClientOrderID: req.ClientOrderID, Side: side,
		Count: count, Price: string(appendFixed(nil, yesPrice, 4)), TimeInForce: tif, ExpirationTime: exp,
		SelfTradePreventionType: "taker_at_cross"}
	r, err := x.c.CreateOrder(ctx, w)
	if err != nil {
		return nil, err
	}
	x.bind(req.ClientOrderID, r.OrderID)
	st.VenueOrderID = r.OrderID
	st.Filled = r.FillCount
	if r.TsMs > 0 {
		st.UpdatedAt = time.UnixMilli(r.TsMs)
	}
	switch {
	case r.FillCount.Cmp(req.Size) >= 0:
		st.State = polybot.OrderFilled
	case r.RemainingCount.Sign() > 0 && r.FillCount.Sign() > 0:
		st.State = polybot.OrderPartial
	case r.RemainingCount.Sign() > 0:
		st.State = polybot.OrderOpen
	default:
		// Nothing rests and not all filled: an IOC or FOK remainder was cancelled.
		st.State = polybot.OrderCancelled
	}
	return st, nil
}

func (x *Exchange) remember(coid string, in intent) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.intents[coid]; ok && old.orderID != "" {
		in.orderID = old.orderID
	}
	x.intents[coid] = in
}

func (x *Exchange) bind(coid, orderID string) {
	if orderID == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	in := x.intents[coid]
	in.orderID = orderID
	x.intents[coid] = in
	x.byVenue[orderID] = coid
}

func (x *Exchange) lookup(coid string) (intent, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	in, ok := x.intents[coid]
	return in, ok
}

func (x *Exchange) intentOf(o *Order) *intent {
	x.mu.Lock()
	defer x.mu.Unlock()
	coid := o.ClientOrderID
	if coid == "" {
		coid = x.byVenue[o.OrderID]
	}
	if in, ok := x.intents[coid]; ok && in.inst.Market == o.Ticker {
		return &in
	}
	return nil
}

// status converts a venue order into an OrderStatus in the caller's terms.
func (x *Exchange) status(o *Order) *polybot.OrderStatus {
	st := &polybot.OrderStatus{ClientOrderID: o.ClientOrderID, VenueOrderID: o.OrderID, Filled: o.FillCountFP,
		Size: o.InitialCountFP}
	if st.Size.IsZero() {
		st.Size = o.FillCountFP.Add(o.RemainingCountFP)
	}
	in := x.intentOf(o)
	st.Instrument, st.Side, st.Price = orderTerms(o, in)
	switch o.Status {
	case StatusExecuted:
		st.State = polybot.OrderFilled
	case StatusCanceled:
		st.State = polybot.OrderCancelled
	default:
		st.State = polybot.OrderOpen
		if o.FillCountFP.Sign() > 0 {
			st.State = polybot.OrderPartial
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, o.LastUpdateTime); err == nil {
		st.UpdatedAt = t
	} else if t, err := time.Parse(time.RFC3339Nano, o.CreatedTime); err == nil {
		st.UpdatedAt = t
	}
	return st
}

// orderTerms says which instrument, side and price an order is, preferring
// what we sent, then the legacy side/action fields, then the YES book side.
func orderTerms(o *Order, in *intent) (polybot.Instrument, polybot.Side, polybot.Decimal) {
	yi, ni := Instruments(o.Ticker)
	noPrice := o.NoPriceDollars
	if noPrice.IsZero() && !o.YesPriceDollars.IsZero() {
		noPrice = polybot.One.Sub(o.YesPriceDollars)
	}
	if in != nil {
		if in.inst.Outcome == polybot.No {
			return ni, in.side, noPrice
		}
		return yi, in.side, o.YesPriceDollars
	}
	if (o.Side == "yes" || o.Side == "no") && (o.Action == "buy" || o.Action == "sell") {
		side := polybot.Buy
		if o.Action == "sell" {
			side = polybot.Sell
		}
		if o.Side == "no" {
			return ni, side, noPrice
		}
		return yi, side, o.YesPriceDollars
	}
	if o.BookSide == "ask" || (o.BookSide == "" && o.Action == "sell") {
		return yi, polybot.Sell, o.YesPriceDollars
	}
	return yi, polybot.Buy, o.YesPriceDollars
}

// toPolybotFill converts a venue fill; in, when known, is what we sent.
func toPolybotFill(f *Fill, in *intent) polybot.Fill {
	ticker := f.Ticker
	if ticker == "" {
		ticker = f.MarketTicker
	}
	o := Order{Ticker: ticker, Side: f.Side, Action: f.Action, BookSide: f.BookSide,
		YesPriceDollars: f.YesPriceDollars, NoPriceDollars: f.NoPriceDollars}
	if in != nil && in.inst.Market != ticker {
		in = nil
	}
	inst, side, price := orderTerms(&o, in)
	id := f.TradeID
	if id == "" {
		id = f.FillID
	}
	pf := polybot.Fill{TradeID: id, ClientOrderID: f.ClientOrderID, VenueOrderID: f.OrderID, Instrument: inst,
		Side: side, Price: price, Size: f.CountFP, Fee: f.FeeCost, Maker: !f.IsTaker}
	if t, err := time.Parse(time.RFC3339Nano, f.CreatedTime); err == nil {
		pf.Time = t
	} else if f.Ts > 0 {
		pf.Time = time.Unix(f.Ts, 0)
	}
	return pf
}

// CancelOrder implements polybot.Exchange.
func (x *Exchange) CancelOrder(ctx context.Context, clientOrderID string) error {
	orderID := ""
	if in, ok := x.lookup(clientOrderID); ok {
		orderID = in.orderID
	}
	if orderID == "" {
		o, err := x.order(ctx, clientOrderID)
		if err != nil {
			return err
		}
		orderID = o.OrderID
	}
	err := x.c.CancelOrder(ctx, orderID)
	if IsNotFound(err) {
		return polybot.Errorf(polybot.ENOTFOUND, "kalshi has no resting order %q", clientOrderID)
	}
	return err
}

// CancelAll implements polybot.Exchange.
func (x *Exchange) CancelAll(ctx context.Context) error { return x.c.CancelAll(ctx) }

func (x *Exchange) order(ctx context.Context, coid string) (*Order, error) {
	ticker := ""
	if in, ok := x.lookup(coid); ok {
		ticker = in.inst.Market
		if in.orderID != "" {
			o, err := x.c.Order(ctx, in.orderID)
			if err == nil || !IsNotFound(err) {
				return o, err
			}
		}
	}
	o, err := x.c.OrderByClientID(ctx, coid, ticker)
	if err != nil {
		return nil, err
	}
	x.bind(coid, o.OrderID)
	return o, nil
}

// Order implements polybot.Exchange: the reconciliation path after an
// unknown outcome. It returns ENOTFOUND when the venue never saw the order.
func (x *Exchange) Order(ctx context.Context, clientOrderID string) (*polybot.OrderStatus, error) {
	o, err := x.order(ctx, clientOrderID)
	if err != nil {
		return nil, err
	}
	return x.status(o), nil
}

// OpenOrders implements polybot.Exchange.
func (x *Exchange) OpenOrders(ctx context.Context) ([]polybot.OrderStatus, error) {
	var out []polybot.OrderStatus
	cursor := ""
	for range maxPages {
		orders, next, err := x.c.Orders(ctx, OrdersQuery{Status: StatusResting, Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for i := range orders {
			out = append(out, *x.status(&orders[i]))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// Fills implements polybot.Exchange.
func (x *Exchange) Fills(ctx context.Context, since time.Time) ([]polybot.Fill, error) {
	var out []polybot.Fill
	cursor := ""
	q := FillsQuery{Limit: 1000}
	if !since.IsZero() {
		q.MinTs = since.Unix()
	}
	for range maxPages {
		q.Cursor = cursor
		fills, next, err := x.c.Fills(ctx, q)
		if err != nil {
			return nil, err
		}
		for i := range fills {
			f := &fills[i]
			var in *intent
			x.mu.Lock()
			coid := f.ClientOrderID
			if coid == "" {
				coid = x.byVenue[f.OrderID]
			}
			if v, ok := x.intents[coid]; ok {
				in = &v
			}
			x.mu.Unlock()
			pf := toPolybotFill(f, in)
			if pf.ClientOrderID == "" {
				pf.ClientOrderID = coid
			}
			if !since.IsZero() && !pf.Time.IsZero() && pf.Time.Before(since) {
				continue
			}
			out = append(out, pf)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// Positions implements polybot.Exchange: a positive Kalshi position is YES
// contracts, a negative one NO contracts.
func (x *Exchange) Positions(ctx context.Context) ([]polybot.Position, error) {
	ps, err := x.c.Positions(ctx)
	if err != nil {
		return nil, err
	}
	var out []polybot.Position
	for _, p := range ps {
		if p.PositionFP.IsZero() {
			continue
		}
		yi, ni := Instruments(p.Ticker)
		pos := polybot.Position{Instrument: yi, Size: p.PositionFP}
		if p.PositionFP.Sign() < 0 {
			pos.Instrument, pos.Size = ni, p.PositionFP.Neg()
		}
		if avg, ok := divDecimal(p.MarketExposureDollars, pos.Size); ok {
			pos.AvgPrice = avg
		}
		out = append(out, pos)
	}
	return out, nil
}

// Balance implements polybot.Exchange. Total adds the value of positions.
func (x *Exchange) Balance(ctx context.Context) (polybot.Balance, error) {
	b, err := x.c.Balance(ctx)
	if err != nil {
		return polybot.Balance{}, err
	}
	avail := centsToDecimal(b.Balance)
	if b.BalanceDollars != nil {
		avail = *b.BalanceDollars
	}
	// Kalshi's portfolio_value is its positions' market value, not cash:
	// Balance is cash on every venue (polybot.Balance).
	return polybot.Balance{Available: avail, Total: avail}, nil
}
