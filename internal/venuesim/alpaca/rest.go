package alpaca

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// apiError is Alpaca's error body: {"code": 40110000, "message": "..."}.
type apiError struct {
	status  int
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

// Alpaca's documented error codes.
var (
	errUnauthorized = &apiError{http.StatusUnauthorized, 40110000, "request is not authorized"}
	errNotFound     = &apiError{http.StatusNotFound, 40410000, "order not found"}
	errNoPosition   = &apiError{http.StatusNotFound, 40410000, "position does not exist"}
)

func invalid(format string, args ...any) *apiError {
	return &apiError{http.StatusUnprocessableEntity, 40010001, fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{http.StatusForbidden, 40310000, fmt.Sprintf(format, args...)}
}

type handler func(r *http.Request, a *account) (int, any, error)

// Handler returns the Trading API routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn handler) { mux.Handle(pattern, s.faults.Wrap("", s.authed(fn), writeFault)) }
	h("GET /v2/account", s.getAccount)
	h("POST /v2/orders", s.postOrder)
	h("GET /v2/orders", s.listOrders)
	h("DELETE /v2/orders", s.cancelAll)
	h("GET /v2/orders:by_client_order_id", s.orderByClientID)
	h("GET /v2/orders/{id}", s.getOrder)
	h("DELETE /v2/orders/{id}", s.cancelOrder)
	h("GET /v2/positions", s.listPositions)
	h("GET /v2/positions/{symbol}", s.getPosition)
	h("GET /v2/account/activities", s.activities)
	h("GET /v2/account/activities/{type}", s.activities)
	// The Market Data API (data.alpaca.markets), on the same address.
	h("GET /v2/stocks/quotes/latest", s.latestQuotes)
	for _, f := range StreamFeeds { // the market-data stream (stream.go)
		mux.HandleFunc("GET /v2/"+f, s.handleStream)
	}
	s.faults.AdminRoutes(mux, AdminPath)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, &apiError{Code: 40410000, Message: "endpoint not found"})
	})
	return mux
}

// authed checks the key headers, runs fn and writes its answer.
func (s *Server) authed(fn handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, secret := r.Header.Get("APCA-API-KEY-ID"), r.Header.Get("APCA-API-SECRET-KEY")
		s.mu.Lock()
		a := s.accounts[key]
		s.mu.Unlock()
		if a == nil || secret == "" || secret != a.secret {
			writeJSON(w, errUnauthorized.status, errUnauthorized)
			return
		}
		status, body, err := fn(r, a)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				s.log.Error("alpaca sim", "method", r.Method, "path", r.URL.Path, "err", err)
				ae = &apiError{http.StatusInternalServerError, 50010000, "internal server error"}
				if polybot.ErrorCode(err) == polybot.EINVALID {
					ae = invalid("%s", polybot.ErrorMessage(err))
				}
			}
			writeJSON(w, ae.status, ae)
			return
		}
		writeJSON(w, status, body)
	})
}

// AdminPath prefixes the simulator's own routes (the faults).
const AdminPath = "/sim/v1"

// writeFault is Alpaca's answer to an injected 5xx or 429.
func writeFault(w http.ResponseWriter, status int) {
	e := &apiError{status, 50010000, "internal server error occurred"}
	if status == http.StatusTooManyRequests {
		e = &apiError{status, 42910000, "rate limit exceeded"}
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func tsPtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}

func sideWire(s polybot.Side) string {
	if s == polybot.Sell {
		return "sell"
	}
	return "buy"
}

// assetID is a stable UUID-shaped id per symbol.
func assetID(symbol string) string {
	var id polybot.ID
	copy(id[:], fmt.Sprintf("%-16.16s", symbol))
	return id.String()
}

// --- account ---

type accountJSON struct {
	ID                    string `json:"id"`
	AccountNumber         string `json:"account_number"`
	Status                string `json:"status"`
	CryptoStatus          string `json:"crypto_status"`
	Currency              string `json:"currency"`
	BuyingPower           string `json:"buying_power"`
	RegTBuyingPower       string `json:"regt_buying_power"`
	DaytradingBuyingPower string `json:"daytrading_buying_power"`
	EffectiveBuyingPower  string `json:"effective_buying_power"`
	NonMarginBuyingPower  string `json:"non_marginable_buying_power"`
	BodDtbp               string `json:"bod_dtbp"`
	Cash                  string `json:"cash"`
	AccruedFees           string `json:"accrued_fees"`
	PortfolioValue        string `json:"portfolio_value"`
	PatternDayTrader      bool   `json:"pattern_day_trader"`
	TradingBlocked        bool   `json:"trading_blocked"`
	TransfersBlocked      bool   `json:"transfers_blocked"`
	AccountBlocked        bool   `json:"account_blocked"`
	ShortingEnabled       bool   `json:"shorting_enabled"`
	TradeSuspendedByUser  bool   `json:"trade_suspended_by_user"`
	CreatedAt             string `json:"created_at"`
	Multiplier            string `json:"multiplier"`
	Equity                string `json:"equity"`
	LastEquity            string `json:"last_equity"`
	LongMarketValue       string `json:"long_market_value"`
	ShortMarketValue      string `json:"short_market_value"`
	PositionMarketValue   string `json:"position_market_value"`
	InitialMargin         string `json:"initial_margin"`
	MaintenanceMargin     string `json:"maintenance_margin"`
	LastMaintenanceMargin string `json:"last_maintenance_margin"`
	SMA                   string `json:"sma"`
	DaytradeCount         int64  `json:"daytrade_count"`
}

// reserved is what a's open orders hold back: cash for buys, shares for
// sells (by symbol). Call it without s.mu (it asks the engine).
func (s *Server) reserved(a *account) (cash polybot.Decimal, shares map[string]polybot.Decimal) {
	shares = map[string]polybot.Decimal{}
	for _, o := range s.eng.OpenOrders(a.keyID, "") {
		if o.Side == polybot.Buy {
			cash = cash.Add(o.Remaining().Mul(o.Price))
		} else {
			shares[o.Book] = shares[o.Book].Add(o.Remaining())
		}
	}
	return cash, shares
}

func (s *Server) getAccount(_ *http.Request, a *account) (int, any, error) {
	held, _ := s.reserved(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	long := polybot.Zero
	for sym, p := range a.positions {
		long = long.Add(s.marketValue(sym, p))
	}
	bp := a.cash.Sub(held).Max(polybot.Zero).String()
	equity := a.cash.Add(long).String()
	z := "0"
	return http.StatusOK, accountJSON{ID: a.id, AccountNumber: a.number, Status: "ACTIVE", CryptoStatus: "INACTIVE", Currency: "USD",
		BuyingPower: bp, RegTBuyingPower: bp, DaytradingBuyingPower: z, EffectiveBuyingPower: bp, NonMarginBuyingPower: bp, BodDtbp: z,
		Cash: a.cash.String(), AccruedFees: z, PortfolioValue: equity, CreatedAt: ts(a.created), Multiplier: "1",
		Equity: equity, LastEquity: equity, LongMarketValue: long.String(), ShortMarketValue: z, PositionMarketValue: long.String(),
		InitialMargin: z, MaintenanceMargin: z, LastMaintenanceMargin: z, SMA: z}, nil
}

// marketValue values a position at the last trade (its cost when none).
func (s *Server) marketValue(symbol string, p *matching.Holding) polybot.Decimal {
	if px, ok := s.lastPx[symbol]; ok {
		return px.Mul(p.Qty)
	}
	return p.Cost
}

// --- orders ---

type orderJSON struct {
	ID             string  `json:"id"`
	ClientOrderID  string  `json:"client_order_id"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
	SubmittedAt    string  `json:"submitted_at"`
	FilledAt       *string `json:"filled_at"`
	ExpiredAt      *string `json:"expired_at"`
	CanceledAt     *string `json:"canceled_at"`
	FailedAt       *string `json:"failed_at"`
	ReplacedAt     *string `json:"replaced_at"`
	ReplacedBy     *string `json:"replaced_by"`
	Replaces       *string `json:"replaces"`
	AssetID        string  `json:"asset_id"`
	Symbol         string  `json:"symbol"`
	AssetClass     string  `json:"asset_class"`
	Notional       *string `json:"notional"`
	Qty            string  `json:"qty"`
	FilledQty      string  `json:"filled_qty"`
	FilledAvgPrice *string `json:"filled_avg_price"`
	OrderClass     string  `json:"order_class"`
	OrderType      string  `json:"order_type"`
	Type           string  `json:"type"`
	Side           string  `json:"side"`
	PositionIntent string  `json:"position_intent"`
	TimeInForce    string  `json:"time_in_force"`
	LimitPrice     *string `json:"limit_price"`
	StopPrice      *string `json:"stop_price"`
	Status         string  `json:"status"`
	ExtendedHours  bool    `json:"extended_hours"`
	Legs           []any   `json:"legs"`
	TrailPercent   *string `json:"trail_percent"`
	TrailPrice     *string `json:"trail_price"`
	HWM            *string `json:"hwm"`
}

// wireStatus is Alpaca's status for an engine order. An unfilled
// fill-or-kill order is canceled at Alpaca, not rejected.
func wireStatus(o matching.Order) string {
	switch o.State {
	case polybot.OrderFilled:
		return "filled"
	case polybot.OrderCancelled:
		if o.Reason == matching.ReasonExpired {
			return "expired"
		}
		return "canceled"
	case polybot.OrderRejected:
		if o.Reason == matching.ReasonFOK {
			return "canceled"
		}
		return "rejected"
	}
	if o.Filled.Sign() > 0 {
		return "partially_filled"
	}
	return "new"
}

// orderView builds the wire order; call it with s.mu held.
func (s *Server) orderView(o matching.Order) orderJSON {
	m := s.meta[o.ID]
	if m == nil {
		m = &orderMeta{typ: "limit", tif: "gtc"}
	}
	status := wireStatus(o)
	intent := "buy_to_open"
	if o.Side == polybot.Sell {
		intent = "sell_to_close"
	}
	v := orderJSON{ID: o.ID, ClientOrderID: o.ClientID, CreatedAt: ts(o.Created), UpdatedAt: ts(o.Updated), SubmittedAt: ts(o.Created),
		AssetID: assetID(o.Book), Symbol: o.Book, AssetClass: "us_equity", Qty: o.Size.String(), FilledQty: o.Filled.String(),
		OrderType: m.typ, Type: m.typ, Side: sideWire(o.Side), PositionIntent: intent, TimeInForce: m.tif, Status: status}
	if m.typ == "limit" {
		p := o.Price.String()
		v.LimitPrice = &p
	}
	if o.Filled.Sign() > 0 {
		avg := m.notional.Div(o.Filled).String()
		v.FilledAvgPrice = &avg
	}
	switch status {
	case "filled":
		v.FilledAt = tsPtr(m.filledAt)
	case "canceled":
		v.CanceledAt = tsPtr(o.Updated)
	case "expired":
		v.ExpiredAt = tsPtr(o.Updated)
	case "rejected":
		v.FailedAt = tsPtr(o.Updated)
	}
	return v
}

func (s *Server) view(o matching.Order) orderJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orderView(o)
}

// orderRequest is POST /v2/orders. Numbers may come as JSON strings (the Go
// SDK) or numbers (the JavaScript SDK).
type orderRequest struct {
	Symbol        string           `json:"symbol"`
	Qty           *polybot.Decimal `json:"qty"`
	Notional      *polybot.Decimal `json:"notional"`
	Side          string           `json:"side"`
	Type          string           `json:"type"`
	TimeInForce   string           `json:"time_in_force"`
	LimitPrice    *polybot.Decimal `json:"limit_price"`
	StopPrice     *polybot.Decimal `json:"stop_price"`
	ClientOrderID string           `json:"client_order_id"`
	OrderClass    string           `json:"order_class"`
	ExtendedHours bool             `json:"extended_hours"`
}

// Far-away limits that make a market order take whatever the book holds.
var (
	marketBuyCap   = polybot.MustDecimal("1000000")
	marketSellCap  = polybot.MustDecimal("0.000001")
	engineTIF      = map[string]polybot.TimeInForce{"day": polybot.GTC, "gtc": polybot.GTC, "ioc": polybot.FAK, "fok": polybot.FOK}
	maxClientIDLen = 128
)

func (s *Server) postOrder(r *http.Request, a *account) (int, any, error) {
	var req orderRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	if err := dec.Decode(&req); err != nil {
		return 0, nil, invalid("request body format is invalid: %v", err)
	}
	switch {
	case req.Symbol == "":
		return 0, nil, invalid("symbol is required")
	case req.Notional != nil:
		return 0, nil, invalid("notional orders are not supported by the simulator")
	case req.Qty == nil || req.Qty.Sign() <= 0:
		return 0, nil, invalid("qty must be > 0")
	case req.Side != "buy" && req.Side != "sell":
		return 0, nil, invalid("invalid side")
	case req.Type != "market" && req.Type != "limit":
		return 0, nil, invalid("invalid order type (the simulator takes market and limit)")
	case engineTIF[req.TimeInForce] == "":
		return 0, nil, invalid("invalid time_in_force")
	case req.OrderClass != "" && req.OrderClass != "simple":
		return 0, nil, invalid("invalid order class (the simulator takes simple orders)")
	case len(req.ClientOrderID) > maxClientIDLen:
		return 0, nil, invalid("client_order_id must be no more than 128 characters")
	}
	if req.Qty.Places() > 0 && req.TimeInForce != "day" {
		return 0, nil, invalid("fractional orders must be DAY orders")
	}
	side := polybot.Buy
	if req.Side == "sell" {
		side = polybot.Sell
	}
	var price polybot.Decimal
	switch req.Type {
	case "limit":
		if req.LimitPrice == nil || req.LimitPrice.Sign() <= 0 {
			return 0, nil, invalid("limit_price is required for limit orders")
		}
		price = *req.LimitPrice
	case "market":
		if req.LimitPrice != nil {
			return 0, nil, invalid("limit_price must not be set for market orders")
		}
		price = marketBuyCap
		if side == polybot.Sell {
			price = marketSellCap
		}
	}
	tif := engineTIF[req.TimeInForce]
	if req.Type == "market" && tif == polybot.GTC {
		tif = polybot.FAK
	}
	s.mu.Lock()
	known := s.symbols[req.Symbol]
	s.mu.Unlock()
	if !known {
		return 0, nil, invalid("asset %q not found", req.Symbol)
	}
	if req.ClientOrderID == "" {
		req.ClientOrderID = polybot.NewID().String()
	}

	s.opMu.Lock()
	defer s.opMu.Unlock()
	if _, err := s.eng.OrderByClientID(a.keyID, req.ClientOrderID); err == nil {
		return 0, nil, invalid("client_order_id must be unique")
	}
	heldCash, heldShares := s.reserved(a)
	cost := polybot.Zero
	if side == polybot.Buy {
		if req.Type == "limit" {
			cost = price.Mul(*req.Qty)
		} else {
			cost = s.sweepCost(req.Symbol, *req.Qty)
		}
	}
	id := polybot.NewID().String()
	s.mu.Lock()
	if side == polybot.Buy {
		if bp := a.cash.Sub(heldCash); cost.GreaterThan(bp) {
			s.mu.Unlock()
			return 0, nil, forbidden("insufficient buying power")
		}
	} else {
		have := polybot.Zero
		if p := a.positions[req.Symbol]; p != nil {
			have = p.Qty
		}
		if avail := have.Sub(heldShares[req.Symbol]); req.Qty.GreaterThan(avail) {
			s.mu.Unlock()
			return 0, nil, forbidden("insufficient qty available for order (requested: %s, available: %s)", req.Qty, avail.Max(polybot.Zero))
		}
	}
	s.meta[id] = &orderMeta{account: a.keyID, typ: req.Type, tif: req.TimeInForce, qty: *req.Qty}
	a.orders = append(a.orders, id)
	s.mu.Unlock()

	res, err := s.eng.Submit(matching.Request{Book: req.Symbol, Account: a.keyID, ClientID: req.ClientOrderID, OrderID: id,
		Side: side, Price: price, Size: *req.Qty, TIF: tif})
	if err != nil {
		s.mu.Lock()
		delete(s.meta, id)
		a.orders = slices.DeleteFunc(a.orders, func(x string) bool { return x == id })
		s.mu.Unlock()
		if polybot.ErrorCode(err) == polybot.ECONFLICT {
			return 0, nil, invalid("client_order_id must be unique")
		}
		return 0, nil, err
	}
	s.log.Info("order", "account", a.keyID, "order", id, "client_order_id", req.ClientOrderID, "symbol", req.Symbol,
		"side", req.Side, "type", req.Type, "qty", req.Qty.String(), "status", wireStatus(res.Order))
	return http.StatusOK, s.view(res.Order), nil
}

// sweepCost is what buying qty at market would cost on the book now (what
// the book cannot fill costs nothing: it is cancelled).
func (s *Server) sweepCost(symbol string, qty polybot.Decimal) polybot.Decimal {
	cost := polybot.Zero
	for _, l := range s.eng.Depth(symbol, 0).Asks {
		take := l.Size.Min(qty)
		cost = cost.Add(take.Mul(l.Price))
		if qty = qty.Sub(take); qty.Sign() <= 0 {
			break
		}
	}
	return cost
}

// ownOrder returns a's order by Alpaca id (404 when it is not a's).
func (s *Server) ownOrder(a *account, id string) (matching.Order, error) {
	o, err := s.eng.Order(id)
	if err != nil || o.Account != a.keyID {
		return matching.Order{}, errNotFound
	}
	return o, nil
}

func (s *Server) getOrder(r *http.Request, a *account) (int, any, error) {
	o, err := s.ownOrder(a, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.view(o), nil
}

func (s *Server) orderByClientID(r *http.Request, a *account) (int, any, error) {
	o, err := s.eng.OrderByClientID(a.keyID, r.URL.Query().Get("client_order_id"))
	if err != nil {
		return 0, nil, errNotFound
	}
	return http.StatusOK, s.view(o), nil
}

func (s *Server) cancelOrder(r *http.Request, a *account) (int, any, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	o, err := s.ownOrder(a, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if o.Done() {
		return 0, nil, &apiError{http.StatusUnprocessableEntity, 42210000, fmt.Sprintf("order is already in %q state", wireStatus(o))}
	}
	if _, err := s.eng.Cancel(o.ID); err != nil {
		return 0, nil, errNotFound
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) cancelAll(_ *http.Request, a *account) (int, any, error) {
	s.opMu.Lock()
	cancelled := s.eng.CancelAll(a.keyID, "")
	s.opMu.Unlock()
	type result struct {
		ID     string    `json:"id"`
		Status int       `json:"status"`
		Body   orderJSON `json:"body"`
	}
	out := make([]result, 0, len(cancelled))
	for _, o := range cancelled {
		out = append(out, result{ID: o.ID, Status: http.StatusOK, Body: s.view(o)})
	}
	return http.StatusMultiStatus, out, nil
}

func (s *Server) listOrders(r *http.Request, a *account) (int, any, error) {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = "open"
	}
	if status != "open" && status != "closed" && status != "all" {
		return 0, nil, invalid("invalid status")
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, nil, invalid("invalid limit")
		}
		limit = min(n, 500)
	}
	var symbols []string
	if v := q.Get("symbols"); v != "" {
		symbols = strings.Split(v, ",")
	}
	var after, until time.Time
	for name, t := range map[string]*time.Time{"after": &after, "until": &until} {
		if v := q.Get(name); v != "" {
			p, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return 0, nil, invalid("invalid %s", name)
			}
			*t = p
		}
	}
	s.mu.Lock()
	ids := slices.Clone(a.orders)
	s.mu.Unlock()
	if q.Get("direction") != "asc" {
		slices.Reverse(ids)
	}
	var orders []matching.Order
	for _, id := range ids {
		o, err := s.eng.Order(id)
		if err != nil || (status == "open" && o.Done()) || (status == "closed" && !o.Done()) ||
			(symbols != nil && !slices.Contains(symbols, o.Book)) ||
			(!after.IsZero() && !o.Created.After(after)) || (!until.IsZero() && !o.Created.Before(until)) {
			continue
		}
		if orders = append(orders, o); len(orders) == limit {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]orderJSON, 0, len(orders))
	for _, o := range orders {
		out = append(out, s.orderView(o))
	}
	return http.StatusOK, out, nil
}

// --- positions ---

type positionJSON struct {
	AssetID                string `json:"asset_id"`
	Symbol                 string `json:"symbol"`
	Exchange               string `json:"exchange"`
	AssetClass             string `json:"asset_class"`
	AssetMarginable        bool   `json:"asset_marginable"`
	Qty                    string `json:"qty"`
	QtyAvailable           string `json:"qty_available"`
	AvgEntryPrice          string `json:"avg_entry_price"`
	Side                   string `json:"side"`
	MarketValue            string `json:"market_value"`
	CostBasis              string `json:"cost_basis"`
	UnrealizedPL           string `json:"unrealized_pl"`
	UnrealizedPLPC         string `json:"unrealized_plpc"`
	UnrealizedIntradayPL   string `json:"unrealized_intraday_pl"`
	UnrealizedIntradayPLPC string `json:"unrealized_intraday_plpc"`
	CurrentPrice           string `json:"current_price"`
	LastdayPrice           string `json:"lastday_price"`
	ChangeToday            string `json:"change_today"`
}

// positionView builds the wire position; call it with s.mu held.
func (s *Server) positionView(symbol string, p *matching.Holding, held polybot.Decimal) positionJSON {
	avg := p.Cost.Div(p.Qty)
	mv := s.marketValue(symbol, p)
	px := mv.Div(p.Qty)
	pl := mv.Sub(p.Cost)
	plpc := "0"
	if p.Cost.Sign() > 0 {
		plpc = pl.Div(p.Cost).String()
	}
	return positionJSON{AssetID: assetID(symbol), Symbol: symbol, Exchange: "ARCA", AssetClass: "us_equity", AssetMarginable: true,
		Qty: p.Qty.String(), QtyAvailable: p.Qty.Sub(held).Max(polybot.Zero).String(), AvgEntryPrice: avg.String(), Side: "long",
		MarketValue: mv.String(), CostBasis: p.Cost.String(), UnrealizedPL: pl.String(), UnrealizedPLPC: plpc,
		UnrealizedIntradayPL: pl.String(), UnrealizedIntradayPLPC: plpc, CurrentPrice: px.String(), LastdayPrice: px.String(), ChangeToday: "0"}
}

func (s *Server) listPositions(_ *http.Request, a *account) (int, any, error) {
	_, held := s.reserved(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	syms := slices.Sorted(maps.Keys(a.positions))
	out := make([]positionJSON, 0, len(syms))
	for _, sym := range syms {
		out = append(out, s.positionView(sym, a.positions[sym], held[sym]))
	}
	return http.StatusOK, out, nil
}

func (s *Server) getPosition(r *http.Request, a *account) (int, any, error) {
	_, held := s.reserved(a)
	sym := r.PathValue("symbol")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := a.positions[sym]
	if p == nil {
		return 0, nil, errNoPosition
	}
	return http.StatusOK, s.positionView(sym, p, held[sym]), nil
}

// --- activities ---

type activityJSON struct {
	ID              string `json:"id"`
	ActivityType    string `json:"activity_type"`
	TransactionTime string `json:"transaction_time"`
	Type            string `json:"type"`
	Price           string `json:"price"`
	Qty             string `json:"qty"`
	Side            string `json:"side"`
	Symbol          string `json:"symbol"`
	LeavesQty       string `json:"leaves_qty"`
	CumQty          string `json:"cum_qty"`
	OrderID         string `json:"order_id"`
	OrderStatus     string `json:"order_status"`
}

// activities serves FILL activities (the only kind the simulator makes).
func (s *Server) activities(r *http.Request, a *account) (int, any, error) {
	q := r.URL.Query()
	types := q.Get("activity_types")
	if t := r.PathValue("type"); t != "" {
		types = t
	}
	out := []activityJSON{}
	if types != "" && !slices.Contains(strings.Split(types, ","), "FILL") {
		return http.StatusOK, out, nil
	}
	var after, until time.Time
	for name, t := range map[string]*time.Time{"after": &after, "until": &until} {
		if v := q.Get(name); v != "" {
			p, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return 0, nil, invalid("invalid %s", name)
			}
			*t = p
		}
	}
	pageSize := 100
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, nil, invalid("invalid page_size")
		}
		pageSize = min(n, 100)
	}
	s.mu.Lock()
	fills := slices.Clone(a.fills)
	s.mu.Unlock()
	if q.Get("direction") != "asc" {
		slices.Reverse(fills)
	}
	for _, f := range fills {
		if (!after.IsZero() && !f.at.After(after)) || (!until.IsZero() && !f.at.Before(until)) {
			continue
		}
		typ, status := "partial_fill", "partially_filled"
		if f.leaves.Sign() <= 0 {
			typ, status = "fill", "filled"
		}
		out = append(out, activityJSON{ID: f.id, ActivityType: "FILL", TransactionTime: ts(f.at), Type: typ, Price: f.price.String(),
			Qty: f.qty.String(), Side: f.side, Symbol: f.symbol, LeavesQty: f.leaves.String(), CumQty: f.cum.String(),
			OrderID: f.orderID, OrderStatus: status})
		if len(out) == pageSize {
			break
		}
	}
	return http.StatusOK, out, nil
}
