package kalshi

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// apiError is Kalshi's error answer: {"error": {"code", "message", "details"}}.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"code": e.Code, "message": e.Message}
	if e.Details != "" {
		body["details"] = e.Details
	}
	writeJSON(w, e.Status, map[string]any{"error": body})
}

func badRequest(code, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg}
}

func notFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

// Handler returns the simulator's routes: the Trade API under /trade-api/v2,
// the WebSocket at /trade-api/ws/v2 and the admin API under /sim/v1.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	pub := func(pattern string, h func(*http.Request) (int, any, *apiError)) {
		mux.Handle(pattern, s.rest(false, func(r *http.Request, _ string) (int, any, *apiError) { return h(r) }))
	}
	priv := func(pattern string, h func(*http.Request, string) (int, any, *apiError)) {
		mux.Handle(pattern, s.rest(true, h))
	}
	p := RESTPrefix
	pub("GET "+p+"/exchange/status", func(*http.Request) (int, any, *apiError) {
		return 200, map[string]any{"exchange_active": true, "trading_active": true}, nil
	})
	pub("GET "+p+"/markets", s.getMarkets)
	pub("GET "+p+"/markets/{ticker}", s.getMarket)
	pub("GET "+p+"/markets/{ticker}/orderbook", s.getOrderbook)
	pub("GET "+p+"/events", s.getEvents)
	pub("GET "+p+"/events/{event_ticker}", s.getEvent)
	pub("GET "+p+"/series", s.getSeriesList)
	pub("GET "+p+"/series/{series_ticker}", s.getSeries)
	priv("GET "+p+"/portfolio/balance", s.getBalance)
	priv("GET "+p+"/portfolio/positions", s.getPositions)
	priv("GET "+p+"/portfolio/orders", s.getOrders)
	priv("GET "+p+"/portfolio/orders/{order_id}", s.getOrder)
	priv("GET "+p+"/portfolio/fills", s.getFills)
	priv("POST "+p+"/portfolio/events/orders", s.createOrderV2)
	priv("POST "+p+"/portfolio/orders", s.createOrderLegacy)
	priv("DELETE "+p+"/portfolio/events/orders/{order_id}", s.cancelOrderV2)
	priv("DELETE "+p+"/portfolio/orders/{order_id}", s.cancelOrderLegacy)
	priv("DELETE "+p+"/portfolio/events/orders", s.cancelAll)
	mux.Handle(p+"/", s.rest(false, func(*http.Request, string) (int, any, *apiError) {
		return 0, nil, notFound("not found")
	}))
	mux.HandleFunc("GET "+WSPath, s.handleWS)
	s.adminRoutes(mux)
	return mux
}

// rest wraps a handler with the injected faults, authentication and the
// error shape.
func (s *Server) rest(auth bool, h func(*http.Request, string) (int, any, *apiError)) http.Handler {
	return s.faults.Wrap(RESTPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keyID := ""
		if auth {
			var ok bool
			if keyID, ok = s.authenticate(w, r); !ok {
				return
			}
		}
		status, body, apiErr := h(r, keyID)
		if apiErr != nil {
			writeErr(w, apiErr)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	}), writeFault)
}

// writeFault is Kalshi's answer to an injected 5xx or 429.
func writeFault(w http.ResponseWriter, status int) {
	if status == http.StatusTooManyRequests {
		writeErr(w, &apiError{Status: status, Code: "too_many_requests", Message: "too many requests"})
		return
	}
	writeErr(w, &apiError{Status: status, Code: "internal_server_error", Message: "internal server error"})
}

// authenticate checks Kalshi's three headers: a known key, a timestamp within
// the window, and an RSA-PSS (SHA-256, salt = hash length) signature over
// timestamp + METHOD + path (without the query). On failure it writes
// Kalshi's 401.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	keyID := r.Header.Get("KALSHI-ACCESS-KEY")
	tsText := r.Header.Get("KALSHI-ACCESS-TIMESTAMP")
	sigText := r.Header.Get("KALSHI-ACCESS-SIGNATURE")
	fail := func(code, details string) (string, bool) {
		msg := "authentication error"
		writeErr(w, &apiError{Status: http.StatusUnauthorized, Code: code, Message: msg, Details: details})
		return "", false
	}
	if keyID == "" || tsText == "" || sigText == "" {
		return fail("signature_is_missing_from_headers", "")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fail("header_timestamp_expired", "")
	}
	now := s.now()
	t := time.UnixMilli(ts)
	if t.Before(now.Add(-s.cfg.TimestampPast)) || t.After(now.Add(s.cfg.TimestampFuture)) {
		return fail("header_timestamp_expired", "")
	}
	s.mu.Lock()
	pub := s.keys[keyID]
	s.mu.Unlock()
	if pub == nil {
		return fail("authentication_error", "NOT_FOUND")
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return fail("authentication_error", "INCORRECT_API_KEY_SIGNATURE")
	}
	h := sha256.Sum256([]byte(tsText + r.Method + r.URL.EscapedPath()))
	if rsa.VerifyPSS(pub, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
		return fail("authentication_error", "INCORRECT_API_KEY_SIGNATURE")
	}
	return keyID, true
}

// --- markets, events, series ---

func (s *Server) marketJSON(ticker string) map[string]any {
	m, _ := s.marketOf(ticker)
	s.opMu.Lock()
	d := s.eng.Depth(ticker, 1)
	s.opMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{"ticker": m.Ticker, "event_ticker": m.EventTicker, "market_type": "binary", "title": m.Title,
		"status": "active", "open_time": rfc3339(m.created), "close_time": rfc3339(m.created.AddDate(1, 0, 0)),
		"expiration_time": rfc3339(m.created.AddDate(1, 0, 7)), "yes_sub_title": "Yes", "no_sub_title": "No",
		"volume_fp": count(m.volume), "last_price_dollars": dollars(m.lastPx), "notional_value_dollars": "1.0000",
		"price_level_structure": "linear_cent", "result": "",
		"price_ranges": []map[string]string{{"start": "0.0000", "end": "1.0000", "step": "0.0100"}}}
	if m.YesSubTitle != "" {
		// A market of a multi-outcome event names its outcome on both sides.
		out["yes_sub_title"], out["no_sub_title"] = m.YesSubTitle, m.YesSubTitle
	}
	yb, ya := polybot.Zero, polybot.One
	var yBidSize, yAskSize polybot.Decimal
	if len(d.Bids) > 0 {
		yb, yBidSize = d.Bids[0].Price, d.Bids[0].Size
	}
	if len(d.Asks) > 0 {
		ya, yAskSize = d.Asks[0].Price, d.Asks[0].Size
	}
	out["yes_bid_dollars"], out["yes_ask_dollars"] = dollars(yb), dollars(ya)
	out["yes_bid_size_fp"], out["yes_ask_size_fp"] = count(yBidSize), count(yAskSize)
	out["no_bid_dollars"], out["no_ask_dollars"] = dollars(polybot.One.Sub(ya)), dollars(polybot.One.Sub(yb))
	return out
}

func (s *Server) getMarkets(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	want := map[string]bool{}
	for _, t := range strings.Split(q.Get("tickers"), ",") {
		if t != "" {
			want[t] = true
		}
	}
	var list []map[string]any
	for _, t := range s.marketTickers() {
		m, _ := s.marketOf(t)
		if (len(want) > 0 && !want[t]) || (q.Get("event_ticker") != "" && m.EventTicker != q.Get("event_ticker")) ||
			(q.Get("series_ticker") != "" && m.SeriesTicker != q.Get("series_ticker")) {
			continue
		}
		list = append(list, s.marketJSON(t))
	}
	page, cursor, err := paginate(list, q)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"markets": page, "cursor": cursor}, nil
}

func (s *Server) getMarket(r *http.Request) (int, any, *apiError) {
	t := r.PathValue("ticker")
	if m, _ := s.marketOf(t); m == nil {
		return 0, nil, notFound("market not found")
	}
	return 200, map[string]any{"market": s.marketJSON(t)}, nil
}

func (s *Server) getOrderbook(r *http.Request) (int, any, *apiError) {
	t := r.PathValue("ticker")
	if m, _ := s.marketOf(t); m == nil {
		return 0, nil, notFound("market not found")
	}
	s.opMu.Lock()
	yes, no := s.bidsOnly(t)
	s.opMu.Unlock()
	if depth, _ := strconv.Atoi(r.URL.Query().Get("depth")); depth > 0 {
		// Ascending lists: the best bids are at the end.
		if len(yes) > depth {
			yes = yes[len(yes)-depth:]
		}
		if len(no) > depth {
			no = no[len(no)-depth:]
		}
	}
	return 200, map[string]any{"orderbook_fp": map[string]any{"yes_dollars": yes, "no_dollars": no}}, nil
}

func (s *Server) eventJSON(eventTicker string, nested bool) (map[string]any, []map[string]any) {
	var markets []map[string]any
	series := ""
	title := ""
	for _, t := range s.marketTickers() {
		m, _ := s.marketOf(t)
		if m.EventTicker == eventTicker {
			series, title = m.SeriesTicker, m.Title
			markets = append(markets, s.marketJSON(t))
		}
	}
	ev := map[string]any{"event_ticker": eventTicker, "series_ticker": series, "title": title, "sub_title": "",
		"mutually_exclusive": false, "collateral_return_type": "binary"}
	s.mu.Lock()
	if ec := s.events[eventTicker]; ec != nil {
		ev["series_ticker"], ev["title"], ev["sub_title"], ev["mutually_exclusive"] = ec.SeriesTicker, ec.Title, ec.SubTitle, ec.MutuallyExclusive
	}
	s.mu.Unlock()
	if nested {
		ev["markets"] = markets
	}
	return ev, markets
}

func (s *Server) getEvents(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	seen := map[string]bool{}
	var list []map[string]any
	for _, t := range s.marketTickers() {
		m, _ := s.marketOf(t)
		if seen[m.EventTicker] || (q.Get("series_ticker") != "" && q.Get("series_ticker") != m.SeriesTicker) {
			continue
		}
		seen[m.EventTicker] = true
		ev, _ := s.eventJSON(m.EventTicker, q.Get("with_nested_markets") == "true")
		list = append(list, ev)
	}
	page, cursor, err := paginate(list, q)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"events": page, "cursor": cursor, "milestones": []any{}}, nil
}

func (s *Server) getEvent(r *http.Request) (int, any, *apiError) {
	ev, markets := s.eventJSON(r.PathValue("event_ticker"), r.URL.Query().Get("with_nested_markets") == "true")
	if len(markets) == 0 {
		return 0, nil, notFound("event not found")
	}
	return 200, map[string]any{"event": ev, "markets": markets}, nil
}

func seriesJSON(sc *SeriesConfig) map[string]any {
	mult := json.Number("1")
	if !sc.FeeMultiplier.IsZero() {
		mult = json.Number(sc.FeeMultiplier.String())
	}
	return map[string]any{"ticker": sc.Ticker, "title": sc.Title, "frequency": "custom", "category": "Economics",
		"tags": []string{}, "settlement_sources": []any{}, "contract_url": "", "contract_terms_url": "",
		"fee_type": sc.FeeType, "fee_multiplier": mult, "additional_prohibitions": []string{}}
}

func (s *Server) getSeriesList(*http.Request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(s.series)) {
		list = append(list, seriesJSON(s.series[k]))
	}
	return 200, map[string]any{"series": list}, nil
}

func (s *Server) getSeries(r *http.Request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.series[r.PathValue("series_ticker")]
	if sc == nil {
		return 0, nil, notFound("series not found")
	}
	return 200, map[string]any{"series": seriesJSON(sc)}, nil
}

// --- portfolio ---

func (s *Server) getBalance(_ *http.Request, keyID string) (int, any, *apiError) {
	s.opMu.Lock()
	open := s.eng.OpenOrders(keyID, "")
	s.opMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[keyID]
	avail := s.available(a, open)
	value := polybot.Zero
	for _, p := range a.pos {
		value = value.Add(p.Cost)
	}
	return 200, map[string]any{"balance": cents(avail), "balance_dollars": dollars(avail),
		"portfolio_value": cents(value), "updated_ts": a.updated.Unix()}, nil
}

func (s *Server) getPositions(r *http.Request, keyID string) (int, any, *apiError) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[keyID]
	market := []map[string]any{}
	events := map[string]map[string]polybot.Decimal{}
	for _, t := range slices.Sorted(maps.Keys(a.pos)) {
		p := a.pos[t]
		if q.Get("ticker") != "" && q.Get("ticker") != t {
			continue
		}
		if strings.Contains(q.Get("count_filter"), "position") && p.Size.IsZero() {
			continue
		}
		market = append(market, map[string]any{"ticker": t, "exchange_index": 0,
			"total_traded_dollars": dollars(p.Traded), "position_fp": count(p.Size),
			"market_exposure_dollars": dollars(p.Cost), "realized_pnl_dollars": dollars(p.Realized),
			"fees_paid_dollars": dollars(p.Fees), "last_updated_ts": rfc3339(p.Updated)})
		if m := s.markets[t]; m != nil {
			e := events[m.EventTicker]
			if e == nil {
				e = map[string]polybot.Decimal{}
				events[m.EventTicker] = e
			}
			e["cost"] = e["cost"].Add(p.Cost)
			e["pnl"] = e["pnl"].Add(p.Realized)
			e["fees"] = e["fees"].Add(p.Fees)
			e["shares"] = e["shares"].Add(absDec(p.Size))
		}
	}
	evs := []map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(events)) {
		e := events[k]
		evs = append(evs, map[string]any{"event_ticker": k, "total_cost_dollars": dollars(e["cost"]),
			"total_cost_shares_fp": count(e["shares"]), "event_exposure_dollars": dollars(e["cost"]),
			"realized_pnl_dollars": dollars(e["pnl"]), "fees_paid_dollars": dollars(e["fees"])})
	}
	return 200, map[string]any{"market_positions": market, "event_positions": evs, "cursor": ""}, nil
}

// orderJSON is an order as Kalshi shows it. Call without s.mu held.
func (s *Server) orderJSON(o matching.Order) map[string]any {
	s.mu.Lock()
	meta := s.meta[o.ID]
	var m orderMeta
	if meta != nil {
		m = *meta
	}
	userID := ""
	if a := s.accounts[o.Account]; a != nil {
		userID = a.userID
	}
	s.mu.Unlock()
	status := "resting"
	switch o.State {
	case polybot.OrderFilled:
		status = "executed"
	case polybot.OrderCancelled, polybot.OrderRejected:
		status = "canceled"
	}
	bookSide, outcome, side, action := "bid", "yes", "yes", "buy"
	if o.Side == polybot.Sell {
		bookSide, outcome, action = "ask", "no", "sell"
	}
	if m.legacy != nil {
		side, action = m.legacy.Side, m.legacy.Action
	}
	out := map[string]any{"order_id": o.ID, "user_id": userID, "client_order_id": o.ClientID, "ticker": o.Book,
		"side": side, "action": action, "outcome_side": outcome, "book_side": bookSide, "type": "limit", "status": status,
		"yes_price": cents(o.Price), "no_price": cents(polybot.One.Sub(o.Price)),
		"yes_price_dollars": dollars(o.Price), "no_price_dollars": dollars(polybot.One.Sub(o.Price)),
		"fill_count_fp": count(o.Filled), "remaining_count_fp": count(o.Remaining()), "initial_count_fp": count(o.Size),
		"fill_count": o.Filled.Micros() / 1_000_000, "remaining_count": o.Remaining().Micros() / 1_000_000,
		"initial_count":           o.Size.Micros() / 1_000_000,
		"taker_fill_cost_dollars": dollars(m.takerCost), "maker_fill_cost_dollars": dollars(m.makerCost),
		"taker_fees_dollars": dollars(m.takerFees), "maker_fees_dollars": dollars(m.makerFees),
		"created_time": rfc3339(o.Created), "last_update_time": rfc3339(o.Updated),
		"self_trade_prevention_type": "taker_at_cross", "exchange_index": 0, "subaccount_number": 0}
	if !o.Expires.IsZero() {
		out["expiration_time"] = rfc3339(o.Expires)
	}
	return out
}

func (s *Server) accountOrders(keyID string) []matching.Order {
	s.mu.Lock()
	ids := append([]string(nil), s.accounts[keyID].orderIDs...)
	s.mu.Unlock()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	out := make([]matching.Order, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- { // newest first, as Kalshi lists
		if o, err := s.eng.Order(ids[i]); err == nil {
			out = append(out, o)
		}
	}
	return out
}

func (s *Server) getOrders(r *http.Request, keyID string) (int, any, *apiError) {
	q := r.URL.Query()
	minTs, _ := strconv.ParseInt(q.Get("min_ts"), 10, 64)
	maxTs, _ := strconv.ParseInt(q.Get("max_ts"), 10, 64)
	var list []map[string]any
	for _, o := range s.accountOrders(keyID) {
		j := s.orderJSON(o)
		if (q.Get("ticker") != "" && o.Book != q.Get("ticker")) || (q.Get("status") != "" && j["status"] != q.Get("status")) ||
			(minTs > 0 && o.Created.Unix() < minTs) || (maxTs > 0 && o.Created.Unix() > maxTs) {
			continue
		}
		list = append(list, j)
	}
	page, cursor, err := paginate(list, q)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"orders": page, "cursor": cursor}, nil
}

func (s *Server) ownOrder(keyID, orderID string) (matching.Order, *apiError) {
	s.opMu.Lock()
	o, err := s.eng.Order(orderID)
	s.opMu.Unlock()
	if err != nil || o.Account != keyID {
		return matching.Order{}, notFound("order not found")
	}
	return o, nil
}

func (s *Server) getOrder(r *http.Request, keyID string) (int, any, *apiError) {
	o, apiErr := s.ownOrder(keyID, r.PathValue("order_id"))
	if apiErr != nil {
		return 0, nil, apiErr
	}
	return 200, map[string]any{"order": s.orderJSON(o)}, nil
}

func (s *Server) getFills(r *http.Request, keyID string) (int, any, *apiError) {
	q := r.URL.Query()
	minTs, _ := strconv.ParseInt(q.Get("min_ts"), 10, 64)
	maxTs, _ := strconv.ParseInt(q.Get("max_ts"), 10, 64)
	s.mu.Lock()
	fills := append([]fillRecord(nil), s.accounts[keyID].fills...)
	s.mu.Unlock()
	var list []map[string]any
	for i := len(fills) - 1; i >= 0; i-- {
		f := &fills[i]
		if (q.Get("ticker") != "" && f.Ticker != q.Get("ticker")) || (q.Get("order_id") != "" && f.OrderID != q.Get("order_id")) ||
			(minTs > 0 && f.Time.Unix() < minTs) || (maxTs > 0 && f.Time.Unix() > maxTs) {
			continue
		}
		list = append(list, fillJSON(f))
	}
	page, cursor, err := paginate(list, q)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"fills": page, "cursor": cursor}, nil
}

// --- orders ---

type placement struct {
	ticker, clientID string
	side             polybot.Side
	price, size      polybot.Decimal
	tif              polybot.TimeInForce
	expires          time.Time
	postOnly         bool
	stp              matching.SelfTrade
	legacy           *legacyTerms
}

func parseTIF(v string, expires int64, legacy bool) (polybot.TimeInForce, time.Time, *apiError) {
	var exp time.Time
	if expires > 0 {
		exp = time.Unix(expires, 0)
	}
	switch v {
	case "good_till_canceled", "gtc":
		if !exp.IsZero() {
			return polybot.GTD, exp, nil
		}
		return polybot.GTC, exp, nil
	case "immediate_or_cancel", "ioc":
		if !exp.IsZero() {
			return "", exp, badRequest("invalid_parameters", "immediate_or_cancel cannot have an expiration")
		}
		return polybot.FAK, exp, nil
	case "fill_or_kill", "fok":
		return polybot.FOK, exp, nil
	case "":
		if legacy {
			if !exp.IsZero() {
				return polybot.GTD, exp, nil
			}
			return polybot.GTC, exp, nil
		}
	}
	return "", exp, badRequest("invalid_parameters", "invalid time_in_force "+strconv.Quote(v))
}

// place validates p, checks the balance and submits. The order id is chosen
// here so that its bookkeeping exists before the engine reports a trade.
func (s *Server) place(keyID string, p placement) (res matching.Result, apiErr *apiError) {
	defer func() { s.recordSubmission(keyID, p, res, apiErr) }()
	if m, _ := s.marketOf(p.ticker); m == nil {
		return matching.Result{}, &apiError{Status: http.StatusNotFound, Code: "market_not_found", Message: "market not found"}
	}
	if p.price.Sign() <= 0 || !p.price.LessThan(polybot.One) || p.price.Places() > 4 {
		return matching.Result{}, badRequest("invalid_price", "price must be between 0.0001 and 0.9999 dollars")
	}
	if p.size.Sign() <= 0 || p.size.Places() > 2 {
		return matching.Result{}, badRequest("invalid_count", "count must be positive with at most 2 decimal places")
	}
	_, sc := s.marketOf(p.ticker)
	id := newKeyID()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	open := s.eng.OpenOrders(keyID, "")
	s.mu.Lock()
	a := s.accounts[keyID]
	need := collateral(p.side, p.price, p.size).Add(seriesFee(sc, p.price, p.size, true))
	if s.available(a, open).LessThan(need) {
		s.mu.Unlock()
		return matching.Result{}, badRequest("insufficient_balance", "insufficient balance")
	}
	s.meta[id] = &orderMeta{keyID: keyID, clientID: p.clientID, ticker: p.ticker, legacy: p.legacy}
	s.mu.Unlock()
	res, err := s.eng.Submit(matching.Request{Book: p.ticker, Account: keyID, ClientID: p.clientID, OrderID: id,
		Side: p.side, Price: p.price, Size: p.size, TIF: p.tif, Expires: p.expires, PostOnly: p.postOnly, SelfTrade: p.stp})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.meta, id)
		if polybot.ErrorCode(err) == polybot.ECONFLICT {
			return matching.Result{}, &apiError{Status: http.StatusConflict, Code: "order_already_exists",
				Message: "an order with this client_order_id already exists"}
		}
		return matching.Result{}, badRequest("invalid_parameters", polybot.ErrorMessage(err))
	}
	a.orderIDs = append(a.orderIDs, id)
	return res, nil
}

func stpOf(v string) (matching.SelfTrade, *apiError) {
	switch v {
	case "", "taker_at_cross":
		return matching.STPCancelTaker, nil
	case "maker":
		return matching.STPCancelResting, nil
	}
	return 0, badRequest("invalid_parameters", "invalid self_trade_prevention_type")
}

// decode reads a JSON request body into v.
func decode(r *http.Request, v any) *apiError {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return badRequest("invalid_parameters", "invalid JSON body: "+err.Error())
	}
	return nil
}

// placeWith completes p with the wire's time in force, expiry and
// self-trade prevention, and places it.
func (s *Server) placeWith(keyID string, p placement, tif string, expires int64, legacy bool, stp string) (matching.Result, *apiError) {
	var apiErr *apiError
	if p.tif, p.expires, apiErr = parseTIF(tif, expires, legacy); apiErr != nil {
		return matching.Result{}, apiErr
	}
	if p.stp, apiErr = stpOf(stp); apiErr != nil {
		return matching.Result{}, apiErr
	}
	return s.place(keyID, p)
}

func (s *Server) createOrderV2(r *http.Request, keyID string) (int, any, *apiError) {
	var req struct {
		Ticker         string           `json:"ticker"`
		ClientOrderID  string           `json:"client_order_id"`
		Side           string           `json:"side"`
		Count          *polybot.Decimal `json:"count"`
		Price          *polybot.Decimal `json:"price"`
		ExpirationTime int64            `json:"expiration_time"`
		TimeInForce    string           `json:"time_in_force"`
		PostOnly       bool             `json:"post_only"`
		STP            string           `json:"self_trade_prevention_type"`
	}
	if apiErr := decode(r, &req); apiErr != nil {
		return 0, nil, apiErr
	}
	if req.Ticker == "" || req.Count == nil || req.Price == nil {
		return 0, nil, badRequest("missing_parameters", "ticker, side, count and price are required")
	}
	p := placement{ticker: req.Ticker, clientID: req.ClientOrderID, price: *req.Price, size: *req.Count, postOnly: req.PostOnly}
	switch req.Side {
	case "bid":
		p.side = polybot.Buy
	case "ask":
		p.side = polybot.Sell
	default:
		return 0, nil, badRequest("invalid_parameters", "side must be bid or ask")
	}
	res, apiErr := s.placeWith(keyID, p, req.TimeInForce, req.ExpirationTime, false, req.STP)
	if apiErr != nil {
		return 0, nil, apiErr
	}
	o := res.Order
	out := map[string]any{"order_id": o.ID, "client_order_id": o.ClientID, "fill_count": count(o.Filled),
		"remaining_count": count(o.Remaining()), "ts_ms": o.Updated.UnixMilli()}
	if o.Filled.Sign() > 0 {
		s.mu.Lock()
		m := s.meta[o.ID]
		cost, fees := m.takerCost.Add(m.makerCost), m.takerFees.Add(m.makerFees)
		s.mu.Unlock()
		out["average_fill_price"] = dollars(scale(cost, polybot.One, o.Filled))
		out["average_fee_paid"] = dollars(scale(fees, polybot.One, o.Filled))
	}
	return http.StatusCreated, out, nil
}

func (s *Server) createOrderLegacy(r *http.Request, keyID string) (int, any, *apiError) {
	var req struct {
		Ticker          string           `json:"ticker"`
		ClientOrderID   string           `json:"client_order_id"`
		Side            string           `json:"side"`
		Action          string           `json:"action"`
		Count           int64            `json:"count"`
		CountFP         *polybot.Decimal `json:"count_fp"`
		YesPrice        int64            `json:"yes_price"`
		NoPrice         int64            `json:"no_price"`
		YesPriceDollars *polybot.Decimal `json:"yes_price_dollars"`
		NoPriceDollars  *polybot.Decimal `json:"no_price_dollars"`
		ExpirationTs    int64            `json:"expiration_ts"`
		TimeInForce     string           `json:"time_in_force"`
		PostOnly        bool             `json:"post_only"`
		STP             string           `json:"self_trade_prevention_type"`
	}
	if apiErr := decode(r, &req); apiErr != nil {
		return 0, nil, apiErr
	}
	size := polybot.NewDecimal(req.Count, 0)
	if req.CountFP != nil {
		if req.Count != 0 && req.CountFP.Cmp(size) != 0 {
			return 0, nil, badRequest("invalid_parameters", "count and count_fp differ")
		}
		size = *req.CountFP
	}
	var price polybot.Decimal
	switch req.Side {
	case "yes":
		price = polybot.NewDecimal(req.YesPrice, 2)
		if req.YesPriceDollars != nil {
			price = *req.YesPriceDollars
		}
	case "no":
		price = polybot.NewDecimal(req.NoPrice, 2)
		if req.NoPriceDollars != nil {
			price = *req.NoPriceDollars
		}
	default:
		return 0, nil, badRequest("invalid_parameters", "side must be yes or no")
	}
	if req.Action != "buy" && req.Action != "sell" {
		return 0, nil, badRequest("invalid_parameters", "action must be buy or sell")
	}
	if price.Sign() <= 0 || !price.LessThan(polybot.One) {
		return 0, nil, badRequest("invalid_price", "a price on the order's side is required")
	}
	// On the YES book: buy yes = bid at p; sell yes = ask at p; buy no at q
	// = ask at 1−q; sell no at q = bid at 1−q.
	p := placement{ticker: req.Ticker, clientID: req.ClientOrderID, size: size, postOnly: req.PostOnly,
		legacy: &legacyTerms{Side: req.Side, Action: req.Action}, price: price, side: polybot.Buy}
	if req.Action == "sell" {
		p.side = polybot.Sell
	}
	if req.Side == "no" {
		p.price = polybot.One.Sub(price)
		p.side = 1 - p.side
	}
	res, apiErr := s.placeWith(keyID, p, req.TimeInForce, req.ExpirationTs, true, req.STP)
	if apiErr != nil {
		return 0, nil, apiErr
	}
	return http.StatusCreated, map[string]any{"order": s.orderJSON(res.Order)}, nil
}

func (s *Server) cancel(keyID, orderID string) (matching.Order, polybot.Decimal, *apiError) {
	o, apiErr := s.ownOrder(keyID, orderID)
	if apiErr != nil {
		return o, polybot.Zero, apiErr
	}
	if o.Done() {
		return o, polybot.Zero, notFound("order is not resting")
	}
	rem := o.Remaining()
	s.opMu.Lock()
	c, err := s.eng.Cancel(orderID)
	s.opMu.Unlock()
	if err != nil {
		return o, polybot.Zero, notFound("order is not resting")
	}
	return c, rem, nil
}

func (s *Server) cancelOrderV2(r *http.Request, keyID string) (int, any, *apiError) {
	o, reduced, apiErr := s.cancel(keyID, r.PathValue("order_id"))
	if apiErr != nil {
		return 0, nil, apiErr
	}
	return 200, map[string]any{"order_id": o.ID, "client_order_id": o.ClientID, "reduced_by": count(reduced),
		"ts_ms": o.Updated.UnixMilli()}, nil
}

func (s *Server) cancelOrderLegacy(r *http.Request, keyID string) (int, any, *apiError) {
	o, reduced, apiErr := s.cancel(keyID, r.PathValue("order_id"))
	if apiErr != nil {
		return 0, nil, apiErr
	}
	return 200, map[string]any{"order": s.orderJSON(o), "reduced_by": reduced.Micros() / 1_000_000,
		"reduced_by_fp": count(reduced)}, nil
}

func (s *Server) cancelAll(_ *http.Request, keyID string) (int, any, *apiError) {
	s.opMu.Lock()
	s.eng.CancelAll(keyID, "")
	s.opMu.Unlock()
	return http.StatusNoContent, nil, nil
}

// paginate cuts list by limit (default 100, at most 1000) from the cursor,
// which is an offset.
func paginate(list []map[string]any, q map[string][]string) ([]map[string]any, string, *apiError) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	limit := 100
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", badRequest("invalid_parameters", "limit must be between 1 and 1000")
		}
		limit = n
	}
	off := 0
	if v := get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "", badRequest("invalid_parameters", "invalid cursor")
		}
		off = n
	}
	if list == nil {
		list = []map[string]any{}
	}
	if off >= len(list) {
		return []map[string]any{}, "", nil
	}
	end := min(off+limit, len(list))
	next := ""
	if end < len(list) {
		next = strconv.Itoa(end)
	}
	return list[off:end], next, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
