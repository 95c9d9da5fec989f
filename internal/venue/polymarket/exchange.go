package polymarket

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/fee"
)

// ---- wire types of the authenticated REST API (shared with the simulator) ----

// PostOrderResponse is the answer to POST /order.
type PostOrderResponse struct {
	Success            bool     `json:"success"`
	ErrorMsg           string   `json:"errorMsg"`
	OrderID            string   `json:"orderID"`
	Status             string   `json:"status"` // live, matched, delayed, unmatched
	TakingAmount       string   `json:"takingAmount"`
	MakingAmount       string   `json:"makingAmount"`
	TransactionsHashes []string `json:"transactionsHashes,omitempty"`
	TradeIDs           []string `json:"tradeIDs,omitempty"`
}

// CancelResponse is the answer to DELETE /order, /orders and /cancel-all.
type CancelResponse struct {
	Canceled    []string          `json:"canceled"`
	NotCanceled map[string]string `json:"not_canceled"`
}

// OpenOrderJSON is an order as GET /data/order/{id} and /data/orders and the
// user channel's order event carry it. Sizes are decimal share strings.
type OpenOrderJSON struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"` // LIVE, MATCHED, CANCELED, INVALID, …
	Owner           string   `json:"owner"`
	MakerAddress    string   `json:"maker_address"`
	Market          string   `json:"market"`
	AssetID         string   `json:"asset_id"`
	Side            string   `json:"side"`
	OriginalSize    string   `json:"original_size"`
	SizeMatched     string   `json:"size_matched"`
	Price           string   `json:"price"`
	AssociateTrades []string `json:"associate_trades"`
	Outcome         string   `json:"outcome"`
	CreatedAt       int64    `json:"created_at"`
	Expiration      string   `json:"expiration"`
	OrderType       string   `json:"order_type"`
}

// Page is the cursor envelope of the /data/* list routes. The last page has
// NextCursor EndCursor.
type Page[T any] struct {
	Limit      int    `json:"limit"`
	Count      int    `json:"count"`
	NextCursor string `json:"next_cursor"`
	Data       []T    `json:"data"`
}

// Cursors of the /data/* list routes.
const (
	InitialCursor = "MA=="
	EndCursor     = "LTE="
)

// MakerOrderJSON is one maker side of a trade.
type MakerOrderJSON struct {
	OrderID       string `json:"order_id"`
	Owner         string `json:"owner"`
	MakerAddress  string `json:"maker_address"`
	MatchedAmount string `json:"matched_amount"`
	Price         string `json:"price"`
	FeeRateBps    string `json:"fee_rate_bps"`
	AssetID       string `json:"asset_id"`
	Outcome       string `json:"outcome"`
	Side          string `json:"side,omitempty"`
}

// TradeJSON is a trade as GET /data/trades and the user channel's trade
// event carry it. Side, Size and Price are the taker's.
type TradeJSON struct {
	ID              string           `json:"id"`
	TakerOrderID    string           `json:"taker_order_id"`
	Market          string           `json:"market"`
	AssetID         string           `json:"asset_id"`
	Side            string           `json:"side"`
	Size            string           `json:"size"`
	FeeRateBps      string           `json:"fee_rate_bps"`
	Price           string           `json:"price"`
	Status          string           `json:"status"` // MATCHED, MINED, CONFIRMED, RETRYING, FAILED
	MatchTime       string           `json:"match_time"`
	LastUpdate      string           `json:"last_update"`
	Outcome         string           `json:"outcome"`
	BucketIndex     int              `json:"bucket_index"`
	Owner           string           `json:"owner"`
	MakerAddress    string           `json:"maker_address"`
	MakerOrders     []MakerOrderJSON `json:"maker_orders"`
	TransactionHash string           `json:"transaction_hash,omitempty"`
	TraderSide      string           `json:"trader_side"` // TAKER or MAKER
}

// BalanceAllowanceResponse is the answer to GET /balance-allowance; the
// balance is in 6-decimal base units.
type BalanceAllowanceResponse struct {
	Balance    string            `json:"balance"`
	Allowances map[string]string `json:"allowances,omitempty"`
}

// ---- the exchange ----

// Credentials are one tenant's Polymarket keys.
type Credentials struct {
	// Wallet signs orders and L1 auth. Required.
	Wallet DigestSigner
	// SignatureType and Funder say whose funds orders use: EOA (the wallet
	// itself, Funder zero) or a proxy/safe (Funder is its address).
	SignatureType SignatureType
	Funder        eip712.Address
	// API are the L2 credentials; when empty they are created (or derived)
	// with L1 auth on first use.
	API APICreds
	// Nonce is the L1 nonce used to create or derive API credentials.
	Nonce uint64
}

// OrderIndex maps client order ids to the venue's order ids (order hashes).
// The hash is computed before the order is sent, so a request whose outcome
// is unknown can still be looked up. The default keeps the map in memory; a
// caller that must reconcile across restarts supplies a durable one.
type OrderIndex interface {
	Put(ctx context.Context, clientOrderID, orderID string) error
	OrderID(ctx context.Context, clientOrderID string) (string, bool)
	ClientOrderID(ctx context.Context, orderID string) (string, bool)
}

// NewMemoryOrderIndex returns an in-memory OrderIndex.
func NewMemoryOrderIndex() OrderIndex {
	return &memIndex{byClient: map[string]string{}, byOrder: map[string]string{}}
}

type memIndex struct {
	mu                sync.RWMutex
	byClient, byOrder map[string]string
}

func (m *memIndex) Put(_ context.Context, c, o string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byClient[c] = o
	m.byOrder[strings.ToLower(o)] = c
	return nil
}

func (m *memIndex) OrderID(_ context.Context, c string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.byClient[c]
	return o, ok
}

func (m *memIndex) ClientOrderID(_ context.Context, o string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.byOrder[strings.ToLower(o)]
	return c, ok
}

// ExchangeOptions are optional parts of an Exchange.
type ExchangeOptions struct {
	Log   *slog.Logger
	Index OrderIndex // default: in memory
}

// Exchange is one tenant's polybot.Exchange on Polymarket.
type Exchange struct {
	c      *Client
	log    *slog.Logger
	wallet DigestSigner
	signer *OrderSigner
	nonce  uint64
	index  OrderIndex

	mu      sync.Mutex
	api     APICreds
	markets map[string]marketInfo         // token → tick size, neg risk
	insts   map[string]polybot.Instrument // token → instrument of our orders
}

type marketInfo struct {
	tick    polybot.Decimal
	negRisk bool
}

var _ polybot.Exchange = (*Exchange)(nil)

// NewExchange returns the Exchange of one tenant.
func NewExchange(c *Client, cr Credentials, opt ExchangeOptions) (*Exchange, error) {
	if cr.Wallet == nil {
		return nil, polybot.FieldError("private_key", "required for polymarket")
	}
	signer, err := NewOrderSigner(cr.Wallet, c.cfg.ChainID, cr.SignatureType, cr.Funder)
	if err != nil {
		return nil, err
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Index == nil {
		opt.Index = NewMemoryOrderIndex()
	}
	return &Exchange{c: c, log: opt.Log.With("venue", "polymarket"), wallet: cr.Wallet, signer: signer,
		nonce: cr.Nonce, index: opt.Index, api: cr.API,
		markets: map[string]marketInfo{}, insts: map[string]polybot.Instrument{}}, nil
}

// Platform implements polybot.Exchange.
func (x *Exchange) Platform() polybot.Platform { return polybot.Polymarket }

// Address returns the signing wallet's address.
func (x *Exchange) Address() eip712.Address { return x.wallet.Address() }

// Maker returns the funding wallet (the orders' maker).
func (x *Exchange) Maker() eip712.Address { return x.signer.Maker() }

// ---- L1: API credentials ----

// CreateAPIKey creates API credentials for wallet with L1 auth.
func (c *Client) CreateAPIKey(ctx context.Context, wallet DigestSigner, nonce uint64) (APICreds, error) {
	return c.apiKey(ctx, http.MethodPost, "/auth/api-key", wallet, nonce)
}

// DeriveAPIKey returns the wallet's existing API credentials for nonce.
func (c *Client) DeriveAPIKey(ctx context.Context, wallet DigestSigner, nonce uint64) (APICreds, error) {
	return c.apiKey(ctx, http.MethodGet, "/auth/derive-api-key", wallet, nonce)
}

// CreateOrDeriveAPIKey creates credentials and, when the venue refuses
// (they exist already), derives them, as the official client does.
func (c *Client) CreateOrDeriveAPIKey(ctx context.Context, wallet DigestSigner, nonce uint64) (APICreds, error) {
	a, err := c.CreateAPIKey(ctx, wallet, nonce)
	if err == nil && a.Valid() {
		return a, nil
	}
	if d, derr := c.DeriveAPIKey(ctx, wallet, nonce); derr == nil {
		return d, nil
	} else if err == nil {
		err = derr
	}
	return APICreds{}, err
}

func (c *Client) apiKey(ctx context.Context, method, path string, wallet DigestSigner, nonce uint64) (APICreds, error) {
	auth, err := NewL1Auth(wallet, c.cfg.ChainID, c.cfg.Now().Unix(), nonce)
	if err != nil {
		return APICreds{}, err
	}
	var a APICreds
	if err := c.do(ctx, request{method: method, base: c.cfg.CLOBURL, path: path, header: auth.Header()}, &a); err != nil {
		return APICreds{}, err
	}
	if !a.Valid() {
		return APICreds{}, badResponse(http.StatusOK, "API credentials missing")
	}
	return a, nil
}

// creds returns the L2 credentials, creating or deriving them once.
func (x *Exchange) creds(ctx context.Context) (APICreds, error) {
	x.mu.Lock()
	a := x.api
	x.mu.Unlock()
	if a.Valid() {
		return a, nil
	}
	a, err := x.c.CreateOrDeriveAPIKey(ctx, x.wallet, x.nonce)
	if err != nil {
		return APICreds{}, err
	}
	x.mu.Lock()
	x.api = a
	x.mu.Unlock()
	return a, nil
}

// APICreds returns the L2 credentials, creating or deriving them if needed.
func (x *Exchange) APICreds(ctx context.Context) (APICreds, error) { return x.creds(ctx) }

// l2 sends an authenticated request.
func (x *Exchange) l2(ctx context.Context, method, path string, query url.Values, body any, mutating bool, out any) error {
	a, err := x.creds(ctx)
	if err != nil {
		return err
	}
	var b []byte
	if body != nil {
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	auth, err := NewL2Auth(x.wallet.Address(), a.Key, a.Secret, a.Passphrase, x.c.cfg.Now().Unix(), method, path, b)
	if err != nil {
		return err
	}
	return x.c.do(ctx, request{method: method, base: x.c.cfg.CLOBURL, path: path, query: query, body: b,
		header: auth.Header(), mutating: mutating}, out)
}

// ValidateCredentials implements polybot.Exchange: it derives the API
// credentials if needed and lists the wallet's API keys (L2), changing
// nothing.
func (x *Exchange) ValidateCredentials(ctx context.Context) error {
	return x.l2(ctx, http.MethodGet, "/auth/api-keys", nil, nil, false, nil)
}

// ---- market parameters ----

func (x *Exchange) market(ctx context.Context, token string) (marketInfo, error) {
	x.mu.Lock()
	m, ok := x.markets[token]
	x.mu.Unlock()
	if ok {
		return m, nil
	}
	tick, err := x.c.TickSize(ctx, token)
	if err != nil {
		return m, err
	}
	neg, err := x.c.NegRisk(ctx, token)
	if err != nil {
		return m, err
	}
	m = marketInfo{tick: tick, negRisk: neg}
	x.mu.Lock()
	x.markets[token] = m
	x.mu.Unlock()
	return m, nil
}

// SetTickSize records a tick-size change the market channel reported, so
// the next order is rounded by it.
func (x *Exchange) SetTickSize(token string, tick polybot.Decimal) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if m, ok := x.markets[token]; ok {
		m.tick = tick
		x.markets[token] = m
	}
}

// ---- orders ----

// BuildOrder signs req without sending it and returns the order and its id
// (the order hash). PlaceOrder uses it; so can a caller that wants the id
// first.
func (x *Exchange) BuildOrder(ctx context.Context, req polybot.OrderRequest, now time.Time) (*SignedOrder, error) {
	v := polybot.Validation{}
	if req.ClientOrderID == "" {
		v.Add("client_order_id", "required")
	}
	if req.Instrument.Token == "" {
		v.Add("instrument", "needs a Polymarket token id")
	}
	if req.TIF == polybot.GTD && req.Expiration.IsZero() {
		v.Add("expiration", "required for GTD")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	m, err := x.market(ctx, req.Instrument.Token)
	if err != nil {
		return nil, err
	}
	lo := LimitOrder{ClientOrderID: req.ClientOrderID, TokenID: req.Instrument.Token, Side: req.Side,
		Price: req.Price, Size: req.Size, TickSize: m.tick, NegRisk: m.negRisk, Timestamp: now}
	if req.TIF == polybot.GTD {
		lo.Expiration = req.Expiration
	}
	return x.signer.Build(lo)
}

// PlaceOrder implements polybot.Exchange. The order id is recorded in the
// index before the order is sent; a timeout or a 5xx returns an error with
// Unknown set (errors.Is(err, polybot.ErrOutcomeUnknown)): call Order, never
// resend.
func (x *Exchange) PlaceOrder(ctx context.Context, req polybot.OrderRequest) (*polybot.OrderStatus, error) {
	tif := req.TIF
	if tif == "" {
		tif = polybot.GTC
	}
	// A client order id already placed is answered with that order, never
	// a second one: a new build would sign a new order (its hash carries
	// the time), which the venue would take as another order.
	if prior, ok := x.index.OrderID(ctx, req.ClientOrderID); ok {
		st, err := x.Order(ctx, req.ClientOrderID)
		if err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
			return nil, &polybot.VenueError{Venue: polybot.Polymarket, Unknown: true,
				Message: "client order id " + req.ClientOrderID + " was placed as " + prior + " and its state cannot be read now: " + polybot.ErrorMessage(err)}
		}
		if err == nil {
			return st, nil
		}
	}
	so, err := x.BuildOrder(ctx, req, x.c.cfg.Now())
	if err != nil {
		return nil, err
	}
	a, err := x.creds(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := so.Payload(a.Key, tif, false)
	if err != nil {
		return nil, err
	}
	id := so.ID()
	if err := x.index.Put(ctx, req.ClientOrderID, id); err != nil {
		return nil, fmt.Errorf("polymarket: recording order id: %w", err)
	}
	inst := req.Instrument
	inst.Venue = polybot.Polymarket
	x.mu.Lock()
	x.insts[inst.Token] = inst
	x.mu.Unlock()
	var resp PostOrderResponse
	if err := x.l2(ctx, http.MethodPost, "/order", nil, payload, true, &resp); err != nil {
		return nil, err
	}
	if !resp.Success {
		return nil, &polybot.VenueError{Venue: polybot.Polymarket, Status: http.StatusOK, Message: resp.ErrorMsg}
	}
	if resp.OrderID != "" && !strings.EqualFold(resp.OrderID, id) {
		x.log.Warn("venue order id differs from the order hash", "order", id, "venue_order", resp.OrderID)
		_ = x.index.Put(ctx, req.ClientOrderID, resp.OrderID)
		id = resp.OrderID
	}
	st := &polybot.OrderStatus{ClientOrderID: req.ClientOrderID, VenueOrderID: id, Instrument: inst,
		Side: req.Side, Price: req.Price, Size: req.Size, State: polybot.OrderOpen, UpdatedAt: x.c.cfg.Now()}
	if strings.EqualFold(resp.Status, "live") && len(resp.TradeIDs) == 0 {
		return st, nil
	}
	// It traded (or the venue delayed it): the order itself says how much.
	full, err := x.orderByID(ctx, id)
	if err != nil {
		x.log.Warn("order placed; reading its fill failed", "order", id, "err", err)
		return st, nil
	}
	full.ClientOrderID = req.ClientOrderID
	full.Instrument = inst
	return full, nil
}

// Order implements polybot.Exchange.
func (x *Exchange) Order(ctx context.Context, clientOrderID string) (*polybot.OrderStatus, error) {
	id, ok := x.index.OrderID(ctx, clientOrderID)
	if !ok {
		return nil, polybot.Errorf(polybot.ENOTFOUND, "no polymarket order with client order id %s", clientOrderID)
	}
	st, err := x.orderByID(ctx, id)
	if err != nil {
		return nil, err
	}
	st.ClientOrderID = clientOrderID
	return st, nil
}

// OrderByID returns an order by its venue id (order hash).
func (x *Exchange) OrderByID(ctx context.Context, orderID string) (*polybot.OrderStatus, error) {
	return x.orderByID(ctx, orderID)
}

func (x *Exchange) orderByID(ctx context.Context, id string) (*polybot.OrderStatus, error) {
	var raw json.RawMessage
	err := x.l2(ctx, http.MethodGet, "/data/order/"+id, nil, nil, false, &raw)
	if ve, ok := err.(*polybot.VenueError); ok && ve.Status == http.StatusNotFound {
		return nil, polybot.Errorf(polybot.ENOTFOUND, "polymarket order %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	var o OpenOrderJSON
	if string(raw) == "null" || len(raw) == 0 || json.Unmarshal(raw, &o) != nil || o.ID == "" {
		return nil, polybot.Errorf(polybot.ENOTFOUND, "polymarket order %s not found", id)
	}
	return x.status(ctx, o)
}

// status converts a venue order.
func (x *Exchange) status(ctx context.Context, o OpenOrderJSON) (*polybot.OrderStatus, error) {
	size, err := parseNumber(o.OriginalSize)
	if err != nil {
		return nil, err
	}
	filled, err := parseNumber(o.SizeMatched)
	if err != nil {
		return nil, err
	}
	price, err := parseNumber(o.Price)
	if err != nil {
		return nil, err
	}
	st := &polybot.OrderStatus{VenueOrderID: o.ID, Instrument: x.instrument(o.AssetID, o.Market, o.Outcome),
		Side: sideOf(o.Side), Price: price, Size: size, Filled: filled, State: orderState(o.Status, filled, size),
		UpdatedAt: x.c.cfg.Now()}
	if c, ok := x.index.ClientOrderID(ctx, o.ID); ok {
		st.ClientOrderID = c
	}
	if st.State == polybot.OrderCancelled || st.State == polybot.OrderRejected {
		st.Reason = strings.ToLower(o.Status)
	}
	return st, nil
}

// orderState maps the venue's order status.
func orderState(status string, filled, size polybot.Decimal) polybot.OrderState {
	switch strings.ToUpper(status) {
	case "MATCHED":
		if filled.LessThan(size) && filled.Sign() > 0 {
			return polybot.OrderPartial
		}
		return polybot.OrderFilled
	case "LIVE", "DELAYED":
		if filled.Sign() > 0 {
			if !filled.LessThan(size) {
				return polybot.OrderFilled
			}
			return polybot.OrderPartial
		}
		return polybot.OrderOpen
	case "INVALID":
		return polybot.OrderRejected
	}
	// CANCELED, CANCELED_MARKET_RESOLVED, UNMATCHED.
	return polybot.OrderCancelled
}

func sideOf(s string) polybot.Side {
	if strings.EqualFold(s, "SELL") {
		return polybot.Sell
	}
	return polybot.Buy
}

func outcomeOf(s string) polybot.Outcome {
	if strings.EqualFold(s, "NO") {
		return polybot.No
	}
	return polybot.Yes
}

// instrument returns the instrument of a token: the one our orders named,
// else one built from the venue's fields.
func (x *Exchange) instrument(token, market, outcome string) polybot.Instrument {
	x.mu.Lock()
	inst, ok := x.insts[token]
	x.mu.Unlock()
	if ok {
		if inst.Market == "" {
			inst.Market = market
		}
		return inst
	}
	return polybot.Instrument{Venue: polybot.Polymarket, Market: market, Token: token, Outcome: outcomeOf(outcome)}
}

// CancelOrder implements polybot.Exchange. An order the venue did not
// cancel (already filled or cancelled) is ECONFLICT.
func (x *Exchange) CancelOrder(ctx context.Context, clientOrderID string) error {
	id, ok := x.index.OrderID(ctx, clientOrderID)
	if !ok {
		return polybot.Errorf(polybot.ENOTFOUND, "no polymarket order with client order id %s", clientOrderID)
	}
	return x.CancelByID(ctx, id)
}

// CancelByID cancels an order by its venue id.
func (x *Exchange) CancelByID(ctx context.Context, orderID string) error {
	var resp CancelResponse
	if err := x.l2(ctx, http.MethodDelete, "/order", nil, map[string]string{"orderID": orderID}, true, &resp); err != nil {
		return err
	}
	for _, c := range resp.Canceled {
		if strings.EqualFold(c, orderID) {
			return nil
		}
	}
	reason := "not cancelled"
	for k, v := range resp.NotCanceled {
		if strings.EqualFold(k, orderID) {
			reason = v
		}
	}
	return polybot.Errorf(polybot.ECONFLICT, "polymarket order %s: %s", orderID, reason)
}

// CancelAll implements polybot.Exchange.
func (x *Exchange) CancelAll(ctx context.Context) error {
	var resp CancelResponse
	return x.l2(ctx, http.MethodDelete, "/cancel-all", nil, nil, true, &resp)
}

// OpenOrders implements polybot.Exchange.
func (x *Exchange) OpenOrders(ctx context.Context) ([]polybot.OrderStatus, error) {
	var out []polybot.OrderStatus
	cursor := InitialCursor
	for page := 0; cursor != EndCursor && cursor != "" && page < 1000; page++ {
		var p Page[OpenOrderJSON]
		if err := x.l2(ctx, http.MethodGet, "/data/orders", url.Values{"next_cursor": {cursor}}, nil, false, &p); err != nil {
			return nil, err
		}
		for _, o := range p.Data {
			st, err := x.status(ctx, o)
			if err != nil {
				return nil, err
			}
			out = append(out, *st)
		}
		cursor = p.NextCursor
	}
	return out, nil
}

// Fills implements polybot.Exchange: the wallet's trades since since, as
// taker and as maker.
func (x *Exchange) Fills(ctx context.Context, since time.Time) ([]polybot.Fill, error) {
	a, err := x.creds(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"maker_address": {x.Maker().String()}}
	if !since.IsZero() {
		q.Set("after", strconv.FormatInt(since.Unix(), 10))
	}
	var out []polybot.Fill
	cursor := InitialCursor
	for page := 0; cursor != EndCursor && cursor != "" && page < 1000; page++ {
		q.Set("next_cursor", cursor)
		var p Page[TradeJSON]
		if err := x.l2(ctx, http.MethodGet, "/data/trades", q, nil, false, &p); err != nil {
			return nil, err
		}
		for _, t := range p.Data {
			fs, err := x.fills(ctx, t, a.Key)
			if err != nil {
				return nil, err
			}
			for _, f := range fs {
				if !f.Time.Before(since) {
					out = append(out, f)
				}
			}
		}
		cursor = p.NextCursor
	}
	return out, nil
}

// fills returns our side(s) of a venue trade: the taker fill when the trade
// is ours as taker, and one maker fill per maker order of ours. Maker fills
// have TradeID "<trade id>/<order id>", since one trade can fill several.
func (x *Exchange) fills(ctx context.Context, t TradeJSON, apiKey string) ([]polybot.Fill, error) {
	if strings.EqualFold(t.Status, "FAILED") {
		return nil, nil
	}
	at := parseMillis(t.MatchTime)
	maker := x.Maker().String()
	var out []polybot.Fill
	ours := func(owner, addr string) bool {
		return (owner != "" && owner == apiKey) || (owner == "" && strings.EqualFold(addr, maker))
	}
	if ours(t.Owner, t.MakerAddress) && !strings.EqualFold(t.TraderSide, "MAKER") {
		p, err := parseNumber(t.Price)
		if err != nil {
			return nil, err
		}
		s, err := parseNumber(t.Size)
		if err != nil {
			return nil, err
		}
		f := polybot.Fill{TradeID: t.ID, VenueOrderID: t.TakerOrderID, Instrument: x.instrument(t.AssetID, t.Market, t.Outcome),
			Side: sideOf(t.Side), Price: p, Size: s, Fee: takerFee(p, s, t.FeeRateBps), Time: at}
		f.ClientOrderID, _ = x.index.ClientOrderID(ctx, t.TakerOrderID)
		out = append(out, f)
	}
	for _, m := range t.MakerOrders {
		if !ours(m.Owner, m.MakerAddress) {
			continue
		}
		p, err := parseNumber(m.Price)
		if err != nil {
			return nil, err
		}
		s, err := parseNumber(m.MatchedAmount)
		if err != nil {
			return nil, err
		}
		side := polybot.Side(1) - sideOf(t.Side)
		if m.Side != "" {
			side = sideOf(m.Side)
		} else if m.AssetID != "" && m.AssetID != t.AssetID {
			side = sideOf(t.Side) // matched against the complementary token
		}
		asset := m.AssetID
		if asset == "" {
			asset = t.AssetID
		}
		f := polybot.Fill{TradeID: t.ID + "/" + m.OrderID, VenueOrderID: m.OrderID,
			Instrument: x.instrument(asset, t.Market, m.Outcome), Side: side, Price: p, Size: s, Maker: true, Time: at}
		f.ClientOrderID, _ = x.index.ClientOrderID(ctx, m.OrderID)
		out = append(out, f)
	}
	return out, nil
}

// takerFee is the fee of a taker fill as the trade reports it: its
// fee_rate_bps is the rate that applied (rate × 10⁴), charged on the
// published curve C × rate × p × (1−p) (exponent 1, the only one the trade
// carries; internal/fee holds the formula).
func takerFee(price, size polybot.Decimal, bps string) polybot.Decimal {
	n, err := strconv.ParseInt(strings.TrimSpace(bps), 10, 64)
	if err != nil || n <= 0 || n >= 10_000 {
		return polybot.Zero
	}
	return fee.PolymarketSchedule{Rate: polybot.NewDecimal(n, 4), Exponent: 1}.TakerFee(price, size)
}

// Balance implements polybot.Exchange: Total is the collateral (USDC)
// balance; Available is Total less what open buy orders reserve.
func (x *Exchange) Balance(ctx context.Context) (polybot.Balance, error) {
	var r BalanceAllowanceResponse
	q := url.Values{"asset_type": {"COLLATERAL"}, "signature_type": {strconv.Itoa(int(x.signer.SignatureType()))}}
	if err := x.l2(ctx, http.MethodGet, "/balance-allowance", q, nil, false, &r); err != nil {
		return polybot.Balance{}, err
	}
	units, err := strconv.ParseInt(strings.TrimSpace(r.Balance), 10, 64)
	if err != nil {
		return polybot.Balance{}, badResponse(http.StatusOK, fmt.Sprintf("balance %q is not base units", r.Balance))
	}
	total := polybot.DecimalFromMicros(units)
	open, err := x.OpenOrders(ctx)
	if err != nil {
		return polybot.Balance{}, err
	}
	avail := total
	for _, o := range open {
		if o.Side == polybot.Buy {
			avail = avail.Sub(o.Size.Sub(o.Filled).Mul(o.Price))
		}
	}
	return polybot.Balance{Available: avail, Total: total}, nil
}

// Positions implements polybot.Exchange through the Data API (the CLOB has
// no positions list).
func (x *Exchange) Positions(ctx context.Context) ([]polybot.Position, error) {
	ps, err := x.c.WalletPositions(ctx, x.Maker().String())
	if err != nil {
		return nil, err
	}
	out := make([]polybot.Position, 0, len(ps))
	for _, p := range ps {
		if p.Size.Sign() == 0 {
			continue
		}
		inst := x.instrument(p.Asset, p.ConditionID, p.Outcome)
		if p.OutcomeIndex == 1 {
			inst.Outcome = polybot.No
		}
		out = append(out, polybot.Position{Instrument: inst, Size: p.Size.Decimal, AvgPrice: p.AvgPrice.Decimal})
	}
	return out, nil
}
