package kalshi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// Default endpoints.
const (
	ProdBaseURL = "https://external-api.kalshi.com/trade-api/v2"
	DemoBaseURL = "https://demo-api.kalshi.co/trade-api/v2"
	ProdWSURL   = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
	DemoWSURL   = "wss://demo-api.kalshi.co/trade-api/ws/v2"
)

// Client is a REST client of the Trade API v2. Public endpoints work without
// a Signer; portfolio endpoints need one. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	http     *http.Client
	signer   *Signer
	basePath string // "/trade-api/v2"
}

// NewClient returns a client for baseURL ("" means ProdBaseURL). hc may be
// nil (a client with a 10 s timeout); signer may be nil for public data.
func NewClient(baseURL string, hc *http.Client, signer *Signer) (*Client, error) {
	if baseURL == "" {
		baseURL = ProdBaseURL
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, polybot.FieldError("base_url", "must be an http(s) URL such as "+ProdBaseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: u, http: hc, signer: signer, basePath: u.Path}, nil
}

// Signer returns the client's signer (nil for a public client).
func (c *Client) Signer() *Signer { return c.signer }

// do sends one request. path is relative to the base ("/portfolio/balance").
// A non-2xx answer becomes a *polybot.VenueError with the venue's code;
// when unknownOnFailure is set, a failure after the request may have been
// written or a 5xx marks the outcome unknown (wire.Call decides).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any, unknownOnFailure bool) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("kalshi: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	u.Path = c.basePath + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("kalshi: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.signer != nil {
		if err := c.signer.SetHeaders(req.Header, method, u.Path); err != nil {
			return err
		}
	}
	call := wire.Call{Venue: polybot.Kalshi, Mutating: unknownOnFailure}
	resp, err := call.Send(c.http, req)
	if err != nil {
		return err
	}
	if !resp.OK() {
		code, msg := errorBody(resp.Body)
		return call.Error(resp, code, msg)
	}
	if out == nil || len(bytes.TrimSpace(resp.Body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		// A 2xx we cannot read: for an order, the venue acted but we do
		// not know how.
		return &polybot.VenueError{Venue: polybot.Kalshi, Status: resp.Status,
			Message: fmt.Sprintf("%s %s: cannot decode the answer: %v", method, path, err), Unknown: unknownOnFailure}
	}
	return nil
}

// errorBody reads the venue's code and message from an error answer
// ({"error": {"code", "message", "details"}}, or flat {"code", "message"});
// a body of another shape becomes the message.
func errorBody(data []byte) (code, message string) {
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil {
		switch {
		case eb.Error != nil:
			code, message = eb.Error.Code, eb.Error.Message
			if eb.Error.Details != "" {
				if message != "" {
					message += ": "
				}
				message += eb.Error.Details
			}
		default:
			code, message = eb.Code, eb.Message
		}
	}
	if message == "" && code == "" {
		message = strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	return code, message
}

// IsNotFound reports whether err is the venue's 404.
func IsNotFound(err error) bool {
	var ve *polybot.VenueError
	return errors.As(err, &ve) && ve.Status == http.StatusNotFound
}

// MarketsQuery filters GET /markets.
type MarketsQuery struct {
	EventTicker  string
	SeriesTicker string
	Status       string
	Tickers      []string
	Limit        int
	Cursor       string
}

// Markets returns one page of markets and the cursor of the next page ("" at
// the end).
func (c *Client) Markets(ctx context.Context, q MarketsQuery) ([]Market, string, error) {
	v := url.Values{}
	set(v, "event_ticker", q.EventTicker)
	set(v, "series_ticker", q.SeriesTicker)
	set(v, "status", q.Status)
	set(v, "tickers", strings.Join(q.Tickers, ","))
	set(v, "cursor", q.Cursor)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var r marketsResponse
	if err := c.do(ctx, http.MethodGet, "/markets", v, nil, &r, false); err != nil {
		return nil, "", err
	}
	return r.Markets, r.Cursor, nil
}

// Market returns one market.
func (c *Client) Market(ctx context.Context, ticker string) (*Market, error) {
	var r struct {
		Market Market `json:"market"`
	}
	if err := c.do(ctx, http.MethodGet, "/markets/"+url.PathEscape(ticker), nil, nil, &r, false); err != nil {
		return nil, err
	}
	return &r.Market, nil
}

// EventsQuery filters GET /events.
type EventsQuery struct {
	SeriesTicker string
	Status       string // unopened | open | closed | settled
	// WithNestedMarkets asks for each event's markets in Event.Markets.
	WithNestedMarkets bool
	Limit             int // at most 200
	Cursor            string
}

// Events returns one page of events and the cursor of the next page (""
// at the end).
func (c *Client) Events(ctx context.Context, q EventsQuery) ([]Event, string, error) {
	v := url.Values{}
	set(v, "series_ticker", q.SeriesTicker)
	set(v, "status", q.Status)
	set(v, "cursor", q.Cursor)
	if q.WithNestedMarkets {
		v.Set("with_nested_markets", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var r eventsResponse
	if err := c.do(ctx, http.MethodGet, "/events", v, nil, &r, false); err != nil {
		return nil, "", err
	}
	return r.Events, r.Cursor, nil
}

// Event returns one event with its markets (nested, as
// with_nested_markets=true asks, or from the answer's deprecated top-level
// markets when the venue sends only those).
func (c *Client) Event(ctx context.Context, eventTicker string) (*Event, error) {
	var r eventResponse
	v := url.Values{"with_nested_markets": {"true"}}
	if err := c.do(ctx, http.MethodGet, "/events/"+url.PathEscape(eventTicker), v, nil, &r, false); err != nil {
		return nil, err
	}
	if len(r.Event.Markets) == 0 {
		r.Event.Markets = r.Markets
	}
	return &r.Event, nil
}

// Series returns one series, with its fee schedule.
func (c *Client) Series(ctx context.Context, seriesTicker string) (*Series, error) {
	var r struct {
		Series Series `json:"series"`
	}
	if err := c.do(ctx, http.MethodGet, "/series/"+url.PathEscape(seriesTicker), nil, nil, &r, false); err != nil {
		return nil, err
	}
	return &r.Series, nil
}

// SeriesList returns the series of a category ("" for all).
func (c *Client) SeriesList(ctx context.Context, category string) ([]Series, error) {
	v := url.Values{}
	set(v, "category", category)
	var r seriesListResponse
	if err := c.do(ctx, http.MethodGet, "/series", v, nil, &r, false); err != nil {
		return nil, err
	}
	return r.Series, nil
}

// Orderbook returns the market's bids-only book (depth 0 = all levels).
func (c *Client) Orderbook(ctx context.Context, ticker string, depth int) (*OrderbookFP, error) {
	v := url.Values{}
	if depth > 0 {
		v.Set("depth", strconv.Itoa(depth))
	}
	var r struct {
		OrderbookFP OrderbookFP `json:"orderbook_fp"`
	}
	if err := c.do(ctx, http.MethodGet, "/markets/"+url.PathEscape(ticker)+"/orderbook", v, nil, &r, false); err != nil {
		return nil, err
	}
	return &r.OrderbookFP, nil
}

// Balance returns the account's cash.
func (c *Client) Balance(ctx context.Context) (*BalanceResponse, error) {
	var r BalanceResponse
	if err := c.do(ctx, http.MethodGet, "/portfolio/balance", nil, nil, &r, false); err != nil {
		return nil, err
	}
	return &r, nil
}

// Positions returns every non-zero market position, following cursors.
func (c *Client) Positions(ctx context.Context) ([]MarketPosition, error) {
	var all []MarketPosition
	cursor := ""
	for range maxPages {
		v := url.Values{"limit": {"1000"}, "count_filter": {"position"}}
		set(v, "cursor", cursor)
		var r positionsResponse
		if err := c.do(ctx, http.MethodGet, "/portfolio/positions", v, nil, &r, false); err != nil {
			return nil, err
		}
		all = append(all, r.MarketPositions...)
		if r.Cursor == "" {
			return all, nil
		}
		cursor = r.Cursor
	}
	return all, nil
}

// maxPages bounds cursor loops, so a venue that never ends a listing cannot
// hold a caller forever.
const maxPages = 100

// OrdersQuery filters GET /portfolio/orders.
type OrdersQuery struct {
	Ticker string
	Status string // resting | canceled | executed
	MinTs  int64
	Limit  int
	Cursor string
}

// Orders returns one page of the account's orders.
func (c *Client) Orders(ctx context.Context, q OrdersQuery) ([]Order, string, error) {
	v := url.Values{}
	set(v, "ticker", q.Ticker)
	set(v, "status", q.Status)
	set(v, "cursor", q.Cursor)
	if q.MinTs > 0 {
		v.Set("min_ts", strconv.FormatInt(q.MinTs, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var r ordersResponse
	if err := c.do(ctx, http.MethodGet, "/portfolio/orders", v, nil, &r, false); err != nil {
		return nil, "", err
	}
	return r.Orders, r.Cursor, nil
}

// Order returns one order by the venue's order id.
func (c *Client) Order(ctx context.Context, orderID string) (*Order, error) {
	var r struct {
		Order Order `json:"order"`
	}
	if err := c.do(ctx, http.MethodGet, "/portfolio/orders/"+url.PathEscape(orderID), nil, nil, &r, false); err != nil {
		return nil, err
	}
	return &r.Order, nil
}

// OrderByClientID finds an order by its client order id, searching the
// market's orders when ticker is known and all orders otherwise. It returns a
// polybot ENOTFOUND error when the venue has none.
func (c *Client) OrderByClientID(ctx context.Context, clientOrderID, ticker string) (*Order, error) {
	cursor := ""
	for range maxPages {
		orders, next, err := c.Orders(ctx, OrdersQuery{Ticker: ticker, Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for i := range orders {
			if orders[i].ClientOrderID == clientOrderID {
				return &orders[i], nil
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return nil, polybot.Errorf(polybot.ENOTFOUND, "kalshi has no order with client order id %q", clientOrderID)
}

// FillsQuery filters GET /portfolio/fills.
type FillsQuery struct {
	Ticker  string
	OrderID string
	MinTs   int64
	Limit   int
	Cursor  string
}

// Fills returns one page of the account's fills.
func (c *Client) Fills(ctx context.Context, q FillsQuery) ([]Fill, string, error) {
	v := url.Values{}
	set(v, "ticker", q.Ticker)
	set(v, "order_id", q.OrderID)
	set(v, "cursor", q.Cursor)
	if q.MinTs > 0 {
		v.Set("min_ts", strconv.FormatInt(q.MinTs, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var r fillsResponse
	if err := c.do(ctx, http.MethodGet, "/portfolio/fills", v, nil, &r, false); err != nil {
		return nil, "", err
	}
	return r.Fills, r.Cursor, nil
}

// CreateOrder places an order through POST /portfolio/events/orders. A
// timeout or 5xx answer is an error wrapping polybot.ErrOutcomeUnknown.
func (c *Client) CreateOrder(ctx context.Context, req CreateOrderV2Request) (*CreateOrderV2Response, error) {
	var r CreateOrderV2Response
	if err := c.do(ctx, http.MethodPost, "/portfolio/events/orders", nil, req, &r, true); err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateOrderLegacy places an order through the legacy POST
// /portfolio/orders. Errors are classified as for CreateOrder.
func (c *Client) CreateOrderLegacy(ctx context.Context, req CreateOrderRequest) (*Order, error) {
	var r struct {
		Order Order `json:"order"`
	}
	if err := c.do(ctx, http.MethodPost, "/portfolio/orders", nil, req, &r, true); err != nil {
		return nil, err
	}
	return &r.Order, nil
}

// CancelOrder cancels a resting order by the venue's order id.
func (c *Client) CancelOrder(ctx context.Context, orderID string) error {
	return c.do(ctx, http.MethodDelete, "/portfolio/events/orders/"+url.PathEscape(orderID), nil, nil, nil, false)
}

// CancelAll cancels every resting order of the account.
func (c *Client) CancelAll(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/portfolio/events/orders", nil, nil, nil, false)
}

func set(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}
