// Package alpaca is PolyBot's connector to Alpaca's Trading API, through
// Alpaca's official Go SDK (github.com/alpacahq/alpaca-trade-api-go/v3): a
// polybot.Exchange for one tenant's Alpaca account (key id and secret),
// paper trading by default (PaperBaseURL).
//
// Equities are instruments polybot.Instrument{Venue: polybot.Alpaca,
// Market: "SPY"}: Market is the symbol, Token is empty and Outcome is left
// at its zero value (polybot.Yes) and ignored, since a share pays on no
// outcome. A zero OrderRequest.Price sends a market order; otherwise a
// limit order. Time in force: GTC → gtc, FOK → fok, FAK → ioc, and an empty
// TIF → day (Alpaca's own default; fractional quantities must be day
// orders). Alpaca has no good-till-date orders, so GTD is refused.
//
// Money crosses the SDK's shopspring decimals as strings, never float64.
// Balance reports cash as Total and, as Available, the smaller of cash and
// buying power: PolyBot does not trade on margin.
//
// It owns the mapping between the SDK and polybot types and nothing else.
// It must not import a store, the server, the engine, the market-data hub or
// any simulator (internal/venuesim/...): tests reach the simulator over real
// sockets only.
package alpaca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/shopspring/decimal"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// Base URLs of Alpaca's Trading API.
const (
	PaperBaseURL = "https://paper-api.alpaca.markets"
	LiveBaseURL  = "https://api.alpaca.markets"
)

// Config configures one tenant's Exchange.
type Config struct {
	KeyID, SecretKey string
	// BaseURL is the Trading API base ("" means PaperBaseURL).
	BaseURL string
	// HTTPClient carries the requests (nil: a client with a 10 s timeout).
	HTTPClient *http.Client
}

// Exchange is one tenant's trading connection to Alpaca: a
// polybot.Exchange. Every call goes through the official SDK, with the
// caller's context attached to its HTTP requests.
type Exchange struct {
	cfg  Config
	http *http.Client

	mu      sync.Mutex
	clients map[string]string // venue order id -> client order id
}

var _ polybot.Exchange = (*Exchange)(nil)

// checkKey names a missing key id or secret ("is required for " + what).
func checkKey(keyID, secret, what string) error {
	v := polybot.Validation{}
	if keyID == "" {
		v.Add(polybot.FieldAPIKey, "is required for "+what)
	}
	if secret == "" {
		v.Add(polybot.FieldAPISecret, "is required for "+what)
	}
	return v.Err()
}

// New checks the key and returns an Exchange; it makes no call.
func New(cfg Config) (*Exchange, error) {
	if err := checkKey(cfg.KeyID, cfg.SecretKey, "alpaca"); err != nil {
		return nil, err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = PaperBaseURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Exchange{cfg: cfg, http: hc, clients: map[string]string{}}, nil
}

// call is one SDK call: a client whose transport carries ctx and remembers
// the request, whether it was written in full, and the answer's status and
// headers, which the SDK's errors drop.
type call struct {
	ctx   context.Context
	base  http.RoundTripper
	req   *http.Request
	wrote atomic.Bool
	resp  wire.Response // Status 0: no answer
}

func (c *call) RoundTrip(req *http.Request) (*http.Response, error) {
	c.req = req
	resp, err := c.base.RoundTrip(wire.Track(req.WithContext(c.ctx), &c.wrote))
	if resp != nil {
		c.resp = wire.Response{Status: resp.StatusCode, Header: resp.Header}
	}
	return resp, err
}

func (x *Exchange) client(ctx context.Context) (*alpaca.Client, *call) {
	base := x.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := &call{ctx: ctx, base: base}
	hc := &http.Client{Transport: c, Timeout: x.http.Timeout, CheckRedirect: x.http.CheckRedirect, Jar: x.http.Jar}
	return alpaca.NewClient(alpaca.ClientOpts{APIKey: x.cfg.KeyID, APISecret: x.cfg.SecretKey, BaseURL: x.cfg.BaseURL,
		HTTPClient: hc, RetryLimit: -1}), c // RetryLimit -1: a 429 comes back to us with its Retry-After
}

// venueError maps an SDK error to a polybot.VenueError, classified by
// internal/venue/wire. post says whether the request may have changed
// something (then a failure after it was sent, or a 5xx, leaves the
// outcome unknown).
func (c *call) venueError(err error, post bool) error {
	if err == nil {
		return nil
	}
	w := wire.Call{Venue: polybot.Alpaca, Mutating: post}
	var ve *polybot.VenueError
	var api *alpaca.APIError
	switch {
	case errors.As(err, &api):
		code := ""
		if api.Code != 0 {
			code = strconv.Itoa(api.Code)
		}
		r := c.resp
		r.Status = api.StatusCode
		ve = w.Error(&r, code, api.Message)
	case c.resp.Status != 0:
		// An answer the SDK could not read: after a 2xx to an order, the
		// venue acted but we do not know how.
		ve = &polybot.VenueError{Venue: polybot.Alpaca, Status: c.resp.Status, Message: err.Error(),
			Unknown: post && c.resp.OK()}
	case c.req != nil:
		ve = w.Failure(c.req, err, wire.Classify(err, c.wrote.Load()))
	default:
		ve = &polybot.VenueError{Venue: polybot.Alpaca, Message: err.Error()}
	}
	if ve.Status == http.StatusUnauthorized || (ve.Status == http.StatusForbidden && !strings.Contains(ve.Message, "insufficient")) {
		// Alpaca also answers 403 to orders beyond buying power or shares
		// held ("insufficient ..."): those are not a key problem.
		ve.Message = "Alpaca did not accept the API key ID and secret (check paper or live): " + ve.Message
	}
	return ve
}

// Platform implements polybot.Exchange.
func (x *Exchange) Platform() polybot.Platform { return polybot.Alpaca }

// ValidateCredentials reads the account, which needs a valid key.
func (x *Exchange) ValidateCredentials(ctx context.Context) error {
	c, k := x.client(ctx)
	_, err := c.GetAccount()
	return k.venueError(err, false)
}

func toSD(d polybot.Decimal) *decimal.Decimal {
	v := decimal.RequireFromString(d.String())
	return &v
}

// fromSD converts exactly, rounding to polybot.Decimal's six places.
func fromSD(d decimal.Decimal) polybot.Decimal {
	v, err := polybot.ParseDecimal(d.Round(polybot.DecimalPlaces).String())
	if err != nil {
		return polybot.Zero
	}
	return v
}

func fromSDPtr(d *decimal.Decimal) polybot.Decimal {
	if d == nil {
		return polybot.Zero
	}
	return fromSD(*d)
}

// orderRules are what Alpaca asks of every order of whole shares: a day
// order unless GTC, FAK as IOC, no good-till-date.
var orderRules = wire.OrderRules{Venue: polybot.Alpaca, Name: "Alpaca", MaxClientOrderID: 128, Instrument: "an Alpaca symbol",
	TIF: map[polybot.TimeInForce]string{"": string(alpaca.Day), polybot.GTC: string(alpaca.GTC),
		polybot.FOK: string(alpaca.FOK), polybot.FAK: string(alpaca.IOC)},
	Refused: map[polybot.TimeInForce]string{polybot.GTD: "Alpaca has no good-till-date orders: use GTC or a day order"}}

// fractionalRules are the same for fractional quantities, which Alpaca
// takes as day orders only.
var fractionalRules = func() wire.OrderRules {
	r := orderRules
	r.TIF = map[polybot.TimeInForce]string{"": string(alpaca.Day), polybot.GTC: string(alpaca.Day)}
	r.Refused = map[polybot.TimeInForce]string{polybot.GTD: orderRules.Refused[polybot.GTD],
		polybot.FOK: "Alpaca takes fractional quantities as day orders only",
		polybot.FAK: "Alpaca takes fractional quantities as day orders only"}
	return r
}()

// checkOrder validates req and returns its time in force.
func checkOrder(req polybot.OrderRequest) (alpaca.TimeInForce, error) {
	rules := orderRules
	if req.Size.Places() > 0 {
		rules = fractionalRules
	}
	tif, err := rules.Check(req, func(v polybot.Validation) {
		switch {
		case req.Price.Sign() < 0:
			v.Add("price", "must not be negative (zero sends a market order)")
		case !req.Price.LessThan(polybot.One) && req.Price.Places() > 2:
			v.Add("price", "Alpaca takes at most 2 decimal places at $1 and above")
		case req.Price.Places() > 4:
			v.Add("price", "Alpaca takes at most 4 decimal places below $1")
		}
	})
	return alpaca.TimeInForce(tif), err
}

// PlaceOrder implements polybot.Exchange. A timeout or a 5xx returns an
// error wrapping polybot.ErrOutcomeUnknown: call Order with the same client
// order id, never PlaceOrder again.
func (x *Exchange) PlaceOrder(ctx context.Context, req polybot.OrderRequest) (*polybot.OrderStatus, error) {
	tif, err := checkOrder(req)
	if err != nil {
		return nil, err
	}
	side := alpaca.Buy
	if req.Side == polybot.Sell {
		side = alpaca.Sell
	}
	p := alpaca.PlaceOrderRequest{Symbol: req.Instrument.Market, Qty: toSD(req.Size), Side: side, Type: alpaca.Market,
		TimeInForce: tif, ClientOrderID: req.ClientOrderID}
	if req.Price.Sign() > 0 {
		p.Type, p.LimitPrice = alpaca.Limit, toSD(req.Price)
	}
	c, k := x.client(ctx)
	o, err := c.PlaceOrder(p)
	if err != nil {
		return nil, k.venueError(err, true)
	}
	return x.status(o), nil
}

func (x *Exchange) status(o *alpaca.Order) *polybot.OrderStatus {
	x.mu.Lock()
	x.clients[o.ID] = o.ClientOrderID
	x.mu.Unlock()
	st := &polybot.OrderStatus{ClientOrderID: o.ClientOrderID, VenueOrderID: o.ID,
		Instrument: polybot.Instrument{Venue: polybot.Alpaca, Market: o.Symbol},
		Price:      fromSDPtr(o.LimitPrice), Size: fromSDPtr(o.Qty), Filled: fromSD(o.FilledQty), UpdatedAt: o.UpdatedAt}
	if o.Side == alpaca.Sell {
		st.Side = polybot.Sell
	}
	if o.LimitPrice == nil {
		st.Price = fromSDPtr(o.FilledAvgPrice)
	}
	st.State, st.Reason = state(o.Status, st.Filled)
	return st
}

// state maps Alpaca's order statuses.
func state(s string, filled polybot.Decimal) (polybot.OrderState, string) {
	switch s {
	case "filled":
		return polybot.OrderFilled, ""
	case "partially_filled":
		return polybot.OrderPartial, ""
	case "canceled", "expired", "done_for_day", "replaced":
		return polybot.OrderCancelled, s
	case "rejected":
		return polybot.OrderRejected, s
	}
	// new, accepted, pending_new, accepted_for_bidding, pending_cancel,
	// pending_replace, held, calculated, stopped, suspended: still live.
	if filled.Sign() > 0 {
		return polybot.OrderPartial, ""
	}
	return polybot.OrderOpen, ""
}

func notFound(err error, clientOrderID string) error {
	var ve *polybot.VenueError
	if errors.As(err, &ve) && ve.Status == http.StatusNotFound {
		return polybot.Errorf(polybot.ENOTFOUND, "alpaca has no order with client order id %q", clientOrderID)
	}
	return err
}

// Order implements polybot.Exchange (ENOTFOUND when Alpaca never saw it).
func (x *Exchange) Order(ctx context.Context, clientOrderID string) (*polybot.OrderStatus, error) {
	c, k := x.client(ctx)
	o, err := c.GetOrderByClientOrderID(clientOrderID)
	if err != nil {
		return nil, notFound(k.venueError(err, false), clientOrderID)
	}
	return x.status(o), nil
}

// CancelOrder implements polybot.Exchange: it finds the order by its client
// id, then cancels it by Alpaca's id.
func (x *Exchange) CancelOrder(ctx context.Context, clientOrderID string) error {
	st, err := x.Order(ctx, clientOrderID)
	if err != nil {
		return err
	}
	c, k := x.client(ctx)
	return notFound(k.venueError(c.CancelOrder(st.VenueOrderID), false), clientOrderID)
}

// CancelAll implements polybot.Exchange.
func (x *Exchange) CancelAll(ctx context.Context) error {
	c, k := x.client(ctx)
	return k.venueError(c.CancelAllOrders(), false)
}

// OpenOrders implements polybot.Exchange.
func (x *Exchange) OpenOrders(ctx context.Context) ([]polybot.OrderStatus, error) {
	c, k := x.client(ctx)
	os, err := c.GetOrders(alpaca.GetOrdersRequest{Status: "open", Limit: 500})
	if err != nil {
		return nil, k.venueError(err, false)
	}
	out := make([]polybot.OrderStatus, 0, len(os))
	for i := range os {
		out = append(out, *x.status(&os[i]))
	}
	return out, nil
}

// Fills implements polybot.Exchange from the account's FILL activities.
// Activities name Alpaca's order id only; the client order id comes from
// orders this Exchange has seen, or one order lookup.
func (x *Exchange) Fills(ctx context.Context, since time.Time) ([]polybot.Fill, error) {
	c, k := x.client(ctx)
	acts, err := c.GetAccountActivities(alpaca.GetAccountActivitiesRequest{ActivityTypes: []string{"FILL"}, After: since, Direction: "asc"})
	if err != nil {
		return nil, k.venueError(err, false)
	}
	out := make([]polybot.Fill, 0, len(acts))
	for _, a := range acts {
		x.mu.Lock()
		cid, ok := x.clients[a.OrderID]
		x.mu.Unlock()
		if !ok {
			c, k := x.client(ctx)
			o, err := c.GetOrder(a.OrderID)
			if err != nil {
				return nil, k.venueError(err, false)
			}
			cid = x.status(o).ClientOrderID
		}
		f := polybot.Fill{TradeID: a.ID, ClientOrderID: cid, VenueOrderID: a.OrderID,
			Instrument: polybot.Instrument{Venue: polybot.Alpaca, Market: a.Symbol},
			Price:      fromSD(a.Price), Size: fromSD(a.Qty), Time: a.TransactionTime}
		if a.Side == "sell" || a.Side == "sell_short" {
			f.Side = polybot.Sell
		}
		out = append(out, f)
	}
	return out, nil
}

// Positions implements polybot.Exchange (short positions have a negative
// size, as Alpaca reports them).
func (x *Exchange) Positions(ctx context.Context) ([]polybot.Position, error) {
	c, k := x.client(ctx)
	ps, err := c.GetPositions()
	if err != nil {
		return nil, k.venueError(err, false)
	}
	out := make([]polybot.Position, 0, len(ps))
	for _, p := range ps {
		out = append(out, polybot.Position{Instrument: polybot.Instrument{Venue: polybot.Alpaca, Market: p.Symbol},
			Size: fromSD(p.Qty), AvgPrice: fromSD(p.AvgEntryPrice)})
	}
	return out, nil
}

// Balance implements polybot.Exchange: Total is cash, Available the smaller
// of cash and buying power (never below zero).
func (x *Exchange) Balance(ctx context.Context) (polybot.Balance, error) {
	c, k := x.client(ctx)
	a, err := c.GetAccount()
	if err != nil {
		return polybot.Balance{}, k.venueError(err, false)
	}
	cash := fromSD(a.Cash)
	return polybot.Balance{Total: cash, Available: cash.Min(fromSD(a.BuyingPower)).Max(polybot.Zero)}, nil
}

// String names the exchange in logs without its secret.
func (x *Exchange) String() string { return fmt.Sprintf("alpaca(%s, %s)", x.cfg.KeyID, x.cfg.BaseURL) }
