package ibkr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// ReplyPolicy says which order questions PolyBot confirms. A question is
// confirmed only when every one of its messages is accepted: its message id
// is in MessageIDs, or (for a message without an id) its text contains one
// of Texts. Anything else is answered "no" and the order is not placed.
type ReplyPolicy struct {
	MessageIDs []string `json:"message_ids"`
	Texts      []string `json:"texts"`
}

// PricePercentageWarning is IBKR's message id for a limit price far from
// the market ("... price exceeds the Percentage constraint ... Are you
// sure you want to submit this order?").
const PricePercentageWarning = "o163"

// NoMarketDataWarning is IBKR's message id for an order sent without a
// market-data subscription.
const NoMarketDataWarning = "o354"

// accepts reports whether the policy confirms a question.
func (p ReplyPolicy) accepts(q question) bool {
	if len(q.Message) == 0 && len(q.MessageIDs) == 0 {
		return false
	}
	n := max(len(q.Message), len(q.MessageIDs))
	for i := range n {
		if i < len(q.MessageIDs) && q.MessageIDs[i] != "" {
			if !slices.Contains(p.MessageIDs, q.MessageIDs[i]) {
				return false
			}
			continue
		}
		text := ""
		if i < len(q.Message) {
			text = q.Message[i]
		}
		if !slices.ContainsFunc(p.Texts, func(t string) bool { return t != "" && strings.Contains(text, t) }) {
			return false
		}
	}
	return true
}

// question is one element of an order answer: a question (ID, Message,
// MessageIDs), a placed order (OrderID, OrderStatus) or an error.
type question struct {
	ID          string   `json:"id"`
	Message     []string `json:"message"`
	MessageIDs  []string `json:"messageIds"`
	OrderID     ID       `json:"order_id"`
	OrderStatus string   `json:"order_status"`
	Error       string   `json:"error"`
}

// Exchange is one tenant's IBKR account: a polybot.Exchange over the
// Client Portal Web API.
type Exchange struct {
	c *Client
	r *resolver

	mu     sync.Mutex
	orders map[string]ID // client order id -> IBKR order id

	// The session's keep-alive (Client.KeepAlive), started by the first
	// trading call (not by ValidateCredentials: a key check keeps nothing
	// alive) and stopped by Close.
	alive     sync.Once
	stopAlive context.CancelFunc
	aliveDone chan struct{}
}

var _ polybot.Exchange = (*Exchange)(nil)

// New checks cfg and returns an Exchange; it makes no call.
func New(cfg Config) (*Exchange, error) {
	if cfg.Account == "" {
		return nil, polybot.FieldError(polybot.FieldAPIKey, "must be an IBKR account id such as U1234567 (letters and digits)")
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Exchange{c: c, r: newResolver(c), orders: map[string]ID{}}, nil
}

// Client returns the REST client (discovery, session, KeepAlive).
func (x *Exchange) Client() *Client { return x.c }

// keepAlive starts the session's keep-alive once: a tenant's exchange that
// trades keeps its gateway session open (tickle, re-open when closed).
func (x *Exchange) keepAlive() {
	x.alive.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		x.mu.Lock()
		x.stopAlive, x.aliveDone = cancel, done
		x.mu.Unlock()
		go func() { defer close(done); _ = x.c.KeepAlive(ctx) }()
	})
}

// Close stops the keep-alive (the engine closes an exchange it replaces
// or no longer needs).
func (x *Exchange) Close() error {
	x.alive.Do(func() {}) // none may start after Close
	x.mu.Lock()
	stop, done := x.stopAlive, x.aliveDone
	x.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

// Platform implements polybot.Exchange.
func (x *Exchange) Platform() polybot.Platform { return polybot.IBKR }

// ValidateCredentials checks the brokerage session (opening it when the
// gateway is signed in) and that the configured account is one it may
// trade.
func (x *Exchange) ValidateCredentials(ctx context.Context) error { return x.c.EnsureSession(ctx) }

// orderBody is one order of POST /iserver/account/{acct}/orders.
type orderBody struct {
	AcctID    string      `json:"acctId"`
	Conid     int64       `json:"conid"`
	OrderType string      `json:"orderType"`
	Price     json.Number `json:"price,omitempty"`
	Side      string      `json:"side"`
	Quantity  json.Number `json:"quantity"`
	TIF       string      `json:"tif"`
	COID      string      `json:"cOID"`
}

// orderRules are what IBKR asks of every order: a day order unless GTC,
// FAK as IOC, no fill-or-kill or good-till-date.
var orderRules = wire.OrderRules{Venue: polybot.IBKR, Name: "IBKR", MaxClientOrderID: 64,
	Instrument: "an IBKR instrument: a ForecastEx YES conid or a stock symbol",
	TIF:        map[polybot.TimeInForce]string{"": "DAY", polybot.GTC: "GTC", polybot.FAK: "IOC"},
	Refused: map[polybot.TimeInForce]string{
		polybot.FOK: "IBKR's Web API takes no fill-or-kill orders: use FAK (IOC)",
		polybot.GTD: "IBKR's Web API takes no good-till-date orders: use GTC or a day order"}}

// checkOrder validates req and returns its time in force on the wire.
func checkOrder(req polybot.OrderRequest) (string, error) {
	return orderRules.Check(req, func(v polybot.Validation) {
		if SellsByBuyingOpposite(req.Instrument) {
			if req.Side == polybot.Sell {
				v.Add("side", "ForecastEx takes no sell orders: reduce a "+req.Instrument.Outcome.String()+
					" position by buying "+req.Instrument.Outcome.Opposite().String())
			}
			switch {
			case req.Price.Sign() <= 0 || !req.Price.LessThan(EventPayout):
				v.Add("price", "a ForecastEx limit price is between $0.01 and $0.99")
			case req.Price.Micros()%EventTick.Micros() != 0:
				v.Add("price", "ForecastEx quotes in $0.01 ticks")
			}
			if req.Size.Places() > 0 {
				v.Add("size", "ForecastEx trades whole contracts")
			}
		} else if req.Price.Sign() < 0 {
			v.Add("price", "must not be negative (zero sends a market order)")
		}
	})
}

// PlaceOrder implements polybot.Exchange. IBKR's questions are answered by
// the ReplyPolicy; a question it does not accept is answered "no" and
// PlaceOrder returns EFORBIDDEN. A timeout, a reset or a 5xx after the order
// may have been written returns an error wrapping polybot.ErrOutcomeUnknown:
// call Order with the same client order id, never PlaceOrder again.
func (x *Exchange) PlaceOrder(ctx context.Context, req polybot.OrderRequest) (*polybot.OrderStatus, error) {
	x.keepAlive()
	tif, err := checkOrder(req)
	if err != nil {
		return nil, err
	}
	conid, err := x.r.conid(ctx, req.Instrument)
	if err != nil {
		return nil, err
	}
	o := orderBody{AcctID: x.c.cfg.Account, Conid: int64(conid), OrderType: "MKT", Side: "BUY",
		Quantity: number(req.Size), TIF: tif, COID: req.ClientOrderID}
	if req.Side == polybot.Sell {
		o.Side = "SELL"
	}
	if req.Price.Sign() > 0 {
		o.OrderType, o.Price = "LMT", number(req.Price)
	}
	var answer []question
	path := "/iserver/account/" + url.PathEscape(x.c.cfg.Account) + "/orders"
	if err := x.c.call(ctx, "POST", path, nil, map[string][]orderBody{"orders": {o}}, true, &answer); err != nil {
		return nil, err
	}
	// Questions may follow one another; IBKR asks a handful at most.
	for range 5 {
		if len(answer) == 0 {
			return nil, &polybot.VenueError{Venue: polybot.IBKR, Status: 200, Message: "empty answer to an order", Unknown: true}
		}
		a := answer[0]
		switch {
		case a.Error != "":
			return nil, &polybot.VenueError{Venue: polybot.IBKR, Status: 200, Message: a.Error}
		case a.OrderID != "":
			x.mu.Lock()
			x.orders[req.ClientOrderID] = a.OrderID
			x.mu.Unlock()
			// The order's state now, fills included; the placement's own
			// answer when the status cannot be read.
			if st, err := x.statusOf(ctx, a.OrderID, req.ClientOrderID); err == nil {
				return st, nil
			}
			st := &polybot.OrderStatus{ClientOrderID: req.ClientOrderID, VenueOrderID: string(a.OrderID), Instrument: req.Instrument,
				Side: req.Side, Price: req.Price, Size: req.Size, UpdatedAt: time.Now()}
			st.State, st.Reason = state(a.OrderStatus, polybot.Zero, req.Size)
			return st, nil
		case a.ID == "":
			return nil, &polybot.VenueError{Venue: polybot.IBKR, Status: 200, Message: "unreadable answer to an order", Unknown: true}
		}
		if !x.c.cfg.Replies.accepts(a) {
			// Say no, so the gateway drops the pending order.
			_ = x.c.call(ctx, "POST", "/iserver/reply/"+url.PathEscape(a.ID), nil, map[string]bool{"confirmed": false}, false, nil)
			return nil, polybot.Errorf(polybot.EFORBIDDEN, "IBKR asked about the order (%s: %s); the reply policy does not accept it, so the order was not placed",
				strings.Join(a.MessageIDs, ", "), firstLine(a.Message))
		}
		x.c.log.Info("ibkr order question confirmed by policy", "order", req.ClientOrderID, "message_ids", a.MessageIDs)
		answer = nil
		if err := x.c.call(ctx, "POST", "/iserver/reply/"+url.PathEscape(a.ID), nil, map[string]bool{"confirmed": true}, true, &answer); err != nil {
			return nil, err
		}
	}
	return nil, &polybot.VenueError{Venue: polybot.IBKR, Status: 200, Message: "IBKR kept asking about the order", Unknown: true}
}

func firstLine(msgs []string) string {
	if len(msgs) == 0 {
		return ""
	}
	s, _, _ := strings.Cut(msgs[0], "\n")
	return s
}

// state maps IBKR's order statuses.
func state(s string, filled, size polybot.Decimal) (polybot.OrderState, string) {
	switch s {
	case "Filled":
		return polybot.OrderFilled, ""
	case "Cancelled", "ApiCancelled":
		return polybot.OrderCancelled, strings.ToLower(s)
	case "Inactive", "Rejected":
		return polybot.OrderRejected, strings.ToLower(s)
	}
	// PendingSubmit, PreSubmitted, Submitted, PendingCancel: still live.
	if filled.Sign() > 0 && filled.LessThan(size) {
		return polybot.OrderPartial, ""
	}
	if filled.Sign() > 0 {
		return polybot.OrderFilled, ""
	}
	return polybot.OrderOpen, ""
}

// liveOrder is one order of /iserver/account/orders.
type liveOrder struct {
	Acct              string `json:"acct"`
	Conid             Conid  `json:"conid"`
	OrderID           ID     `json:"orderId"`
	Ticker            string `json:"ticker"`
	SecType           string `json:"secType"`
	RemainingQuantity Num    `json:"remainingQuantity"`
	FilledQuantity    Num    `json:"filledQuantity"`
	TotalSize         Num    `json:"totalSize"`
	Status            string `json:"status"`
	AvgPrice          Avg    `json:"avgPrice"`
	Price             Num    `json:"price"`
	OrderType         string `json:"orderType"`
	OrderRef          string `json:"order_ref"`
	TimeInForce       string `json:"timeInForce"`
	Side              string `json:"side"`
	LastExecutionR    int64  `json:"lastExecutionTime_r"`
}

// LiveOrders lists the account's orders of the current session
// (/iserver/account/orders), filled and cancelled ones included.
func (x *Exchange) LiveOrders(ctx context.Context) ([]liveOrder, error) {
	var out struct {
		Orders []liveOrder `json:"orders"`
	}
	if err := x.c.call(ctx, "GET", "/iserver/account/orders", url.Values{"force": {"false"}}, nil, false, &out); err != nil {
		return nil, err
	}
	mine := out.Orders[:0]
	for _, o := range out.Orders {
		if o.Acct == "" || o.Acct == x.c.cfg.Account {
			mine = append(mine, o)
		}
	}
	return mine, nil
}

// orderID finds an order's IBKR id by its client order id: remembered from
// PlaceOrder, else the live orders' order_ref, else the trades'.
func (x *Exchange) orderID(ctx context.Context, clientOrderID string) (ID, error) {
	x.mu.Lock()
	id, ok := x.orders[clientOrderID]
	x.mu.Unlock()
	if ok {
		return id, nil
	}
	os, err := x.LiveOrders(ctx)
	if err != nil {
		return "", err
	}
	for _, o := range os {
		if o.OrderRef == clientOrderID {
			id = o.OrderID
		}
	}
	if id == "" {
		ts, err := x.trades(ctx)
		if err != nil {
			return "", err
		}
		for _, t := range ts {
			if t.OrderRef == clientOrderID && t.OrderID != "" {
				id = t.OrderID
			}
		}
	}
	if id == "" {
		return "", polybot.Errorf(polybot.ENOTFOUND, "ibkr has no order with client order id %q", clientOrderID)
	}
	x.mu.Lock()
	x.orders[clientOrderID] = id
	x.mu.Unlock()
	return id, nil
}

// orderStatus is /iserver/account/order/status/{orderId}.
type orderStatus struct {
	OrderID           ID     `json:"order_id"`
	Conid             Conid  `json:"conid"`
	Symbol            string `json:"symbol"`
	Side              string `json:"side"`
	SecType           string `json:"sec_type"`
	OrderStatus       string `json:"order_status"`
	OrderType         string `json:"order_type"`
	Size              Num    `json:"size"`
	TotalSize         Num    `json:"total_size"`
	FilledQuantity    Num    `json:"filled_quantity"`
	RemainingQuantity Num    `json:"remaining_quantity"`
	Price             Num    `json:"price"`
	AvgFillPrice      Avg    `json:"avg_fill_price"`
	TIF               string `json:"tif"`
	Account           string `json:"order_clearing_account"`
	OrderTime         string `json:"order_time"`
}

// Order implements polybot.Exchange (ENOTFOUND when IBKR never saw it).
func (x *Exchange) Order(ctx context.Context, clientOrderID string) (*polybot.OrderStatus, error) {
	x.keepAlive()
	id, err := x.orderID(ctx, clientOrderID)
	if err != nil {
		return nil, err
	}
	return x.statusOf(ctx, id, clientOrderID)
}

// statusOf reads order id's status (/iserver/account/order/status/{id}).
func (x *Exchange) statusOf(ctx context.Context, id ID, clientOrderID string) (*polybot.OrderStatus, error) {
	var s orderStatus
	if err := x.c.call(ctx, "GET", "/iserver/account/order/status/"+url.PathEscape(string(id)), nil, nil, false, &s); err != nil {
		return nil, err
	}
	inst, err := x.r.instrument(ctx, s.Conid, s.SecType, s.Symbol)
	if err != nil {
		return nil, err
	}
	st := &polybot.OrderStatus{ClientOrderID: clientOrderID, VenueOrderID: string(s.OrderID), Instrument: inst,
		Price: s.Price.D(), Size: s.TotalSize.D(), Filled: s.FilledQuantity.D(), UpdatedAt: orderTime(s.OrderTime)}
	if st.Size.IsZero() {
		st.Size = s.Size.D()
	}
	if st.Price.IsZero() {
		st.Price = s.AvgFillPrice.D()
	}
	if s.Side == "SELL" || s.Side == "S" {
		st.Side = polybot.Sell
	}
	st.State, st.Reason = state(s.OrderStatus, st.Filled, st.Size)
	return st, nil
}

// orderTime reads order_time, "yyMMddHHmmss" in UTC.
func orderTime(s string) time.Time {
	t, err := time.Parse("060102150405", s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// CancelOrder implements polybot.Exchange.
func (x *Exchange) CancelOrder(ctx context.Context, clientOrderID string) error {
	x.keepAlive()
	id, err := x.orderID(ctx, clientOrderID)
	if err != nil {
		return err
	}
	return x.cancel(ctx, id)
}

// cancelAnswer is DELETE /iserver/account/{acct}/order/{orderId}'s answer.
type cancelAnswer struct {
	Msg     string `json:"msg"`
	OrderID ID     `json:"order_id"`
	Conid   Conid  `json:"conid"`
}

func (x *Exchange) cancel(ctx context.Context, id ID) error {
	var a cancelAnswer
	err := x.c.call(ctx, "DELETE", "/iserver/account/"+url.PathEscape(x.c.cfg.Account)+"/order/"+url.PathEscape(string(id)), nil, nil, true, &a)
	var ve *polybot.VenueError
	if errors.As(err, &ve) && strings.Contains(strings.ToLower(ve.Message), "doesn't exist") {
		return polybot.Errorf(polybot.ENOTFOUND, "ibkr has no live order %s", id)
	}
	return err
}

// CancelAll implements polybot.Exchange: every live order of the account.
func (x *Exchange) CancelAll(ctx context.Context) error {
	x.keepAlive()
	os, err := x.LiveOrders(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range os {
		if s, _ := state(o.Status, o.FilledQuantity.D(), o.TotalSize.D()); s == polybot.OrderOpen || s == polybot.OrderPartial {
			if err := x.cancel(ctx, o.OrderID); err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// OpenOrders implements polybot.Exchange.
func (x *Exchange) OpenOrders(ctx context.Context) ([]polybot.OrderStatus, error) {
	x.keepAlive()
	os, err := x.LiveOrders(ctx)
	if err != nil {
		return nil, err
	}
	var out []polybot.OrderStatus
	for _, o := range os {
		st, reason := state(o.Status, o.FilledQuantity.D(), o.TotalSize.D())
		if st != polybot.OrderOpen && st != polybot.OrderPartial {
			continue
		}
		inst, err := x.r.instrument(ctx, o.Conid, o.SecType, o.Ticker)
		if err != nil {
			return nil, err
		}
		s := polybot.OrderStatus{ClientOrderID: o.OrderRef, VenueOrderID: string(o.OrderID), Instrument: inst,
			Price: o.Price.D(), Size: o.TotalSize.D(), Filled: o.FilledQuantity.D(), State: st, Reason: reason}
		if o.LastExecutionR > 0 {
			s.UpdatedAt = time.UnixMilli(o.LastExecutionR).UTC()
		}
		if o.Side == "SELL" {
			s.Side = polybot.Sell
		}
		out = append(out, s)
	}
	return out, nil
}

// trade is one execution of /iserver/account/trades.
type trade struct {
	ExecutionID string `json:"execution_id"`
	Symbol      string `json:"symbol"`
	Side        string `json:"side"`
	TradeTimeR  int64  `json:"trade_time_r"`
	Size        Num    `json:"size"`
	Price       Num    `json:"price"`
	OrderRef    string `json:"order_ref"`
	Commission  Num    `json:"commission"`
	Account     string `json:"account"`
	SecType     string `json:"sec_type"`
	Conid       Conid  `json:"conid"`
	OrderID     ID     `json:"order_id"`
}

func (x *Exchange) trades(ctx context.Context) ([]trade, error) {
	var ts []trade
	err := x.c.call(ctx, "GET", "/iserver/account/trades", url.Values{"days": {"7"}}, nil, false, &ts)
	return ts, err
}

// Fills implements polybot.Exchange from the account's executions of the
// last seven days (IBKR's limit), oldest first.
func (x *Exchange) Fills(ctx context.Context, since time.Time) ([]polybot.Fill, error) {
	x.keepAlive()
	ts, err := x.trades(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]polybot.Fill, 0, len(ts))
	for _, t := range ts {
		at := time.UnixMilli(t.TradeTimeR).UTC()
		if (t.Account != "" && t.Account != x.c.cfg.Account) || at.Before(since) {
			continue
		}
		inst, err := x.r.instrument(ctx, t.Conid, t.SecType, t.Symbol)
		if err != nil {
			return nil, err
		}
		f := polybot.Fill{TradeID: t.ExecutionID, ClientOrderID: t.OrderRef, VenueOrderID: string(t.OrderID), Instrument: inst,
			Price: t.Price.D(), Size: t.Size.D(), Fee: t.Commission.D(), Time: at}
		if t.Side == "S" || t.Side == "SLD" || t.Side == "SELL" {
			f.Side = polybot.Sell
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b polybot.Fill) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// position is one of /portfolio/{acct}/positions/{page}.
type position struct {
	AcctID       string `json:"acctId"`
	Conid        Conid  `json:"conid"`
	ContractDesc string `json:"contractDesc"`
	Ticker       string `json:"ticker"`
	Position     Num    `json:"position"`
	AvgPrice     Avg    `json:"avgPrice"`
	AssetClass   string `json:"assetClass"`
}

// Positions implements polybot.Exchange (every page of 100).
func (x *Exchange) Positions(ctx context.Context) ([]polybot.Position, error) {
	x.keepAlive()
	var out []polybot.Position
	for page := 0; page < 50; page++ {
		var ps []position
		if err := x.c.call(ctx, "GET", fmt.Sprintf("/portfolio/%s/positions/%d", url.PathEscape(x.c.cfg.Account), page), nil, nil, false, &ps); err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.Position.D().IsZero() {
				continue
			}
			sym := p.Ticker
			if sym == "" {
				sym = p.ContractDesc
			}
			inst, err := x.r.instrument(ctx, p.Conid, p.AssetClass, sym)
			if err != nil {
				return nil, err
			}
			out = append(out, polybot.Position{Instrument: inst, Size: p.Position.D(), AvgPrice: p.AvgPrice.D()})
		}
		if len(ps) < 100 {
			break
		}
	}
	return out, nil
}

// ledgerEntry is one currency of /portfolio/{acct}/ledger.
type ledgerEntry struct {
	CashBalance Num    `json:"cashbalance"`
	SettledCash Num    `json:"settledcash"`
	Currency    string `json:"currency"`
}

// Balance implements polybot.Exchange from the USD ledger: Total is the
// cash balance, Available the settled cash (never more than the balance
// nor below zero). PolyBot does not trade on margin.
func (x *Exchange) Balance(ctx context.Context) (polybot.Balance, error) {
	x.keepAlive()
	var l map[string]ledgerEntry
	if err := x.c.call(ctx, "GET", "/portfolio/"+url.PathEscape(x.c.cfg.Account)+"/ledger", nil, nil, false, &l); err != nil {
		return polybot.Balance{}, err
	}
	usd, ok := l["USD"]
	if !ok {
		return polybot.Balance{}, &polybot.VenueError{Venue: polybot.IBKR, Status: 200, Message: "the ledger has no USD entry"}
	}
	total := usd.CashBalance.D()
	return polybot.Balance{Total: total, Available: usd.SettledCash.D().Min(total).Max(polybot.Zero)}, nil
}

// String names the exchange in logs.
func (x *Exchange) String() string { return fmt.Sprintf("ibkr(%s, %s)", x.c.cfg.Account, x.c.base) }
