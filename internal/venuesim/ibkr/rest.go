package ibkr

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

// gwError is the gateway's error body: {"error": "...", "statusCode": n}.
type gwError struct {
	status     int
	Error_     string `json:"error"`
	StatusCode int    `json:"statusCode,omitempty"`
}

func (e *gwError) Error() string { return e.Error_ }

func fail(status int, format string, args ...any) *gwError {
	return &gwError{status: status, Error_: fmt.Sprintf(format, args...)}
}

var errNotAuthenticated = &gwError{status: http.StatusUnauthorized, Error_: "not authenticated", StatusCode: 401}

type handler func(r *http.Request) (any, error)

// num writes a decimal as a JSON number.
func num(d polybot.Decimal) json.Number { return json.Number(d.String()) }

// str writes a decimal as IBKR's decimal strings do ("1.0", "0.45").
func str(d polybot.Decimal) string {
	s := d.String()
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// Handler returns the gateway's routes under /v1/api.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// brokerage: the /iserver endpoints that need an open brokerage session.
	h := func(pattern string, brokerage bool, fn handler) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" /v1/api"+path, s.faults.Wrap("/v1/api", s.gate(brokerage, fn), writeFault))
	}
	h("GET /iserver/auth/status", false, s.authStatus)
	h("POST /iserver/auth/status", false, s.authStatus)
	h("GET /tickle", false, s.tickle)
	h("POST /tickle", false, s.tickle)
	h("POST /iserver/auth/ssodh/init", false, s.ssodhInit)
	h("GET /iserver/reauthenticate", false, s.reauthenticate)
	h("POST /iserver/reauthenticate", false, s.reauthenticate)
	h("GET /iserver/accounts", true, s.accountList)
	h("GET /iserver/secdef/search", true, s.secdefSearch)
	h("POST /iserver/secdef/search", true, s.secdefSearch)
	h("GET /iserver/secdef/info", true, s.secdefInfo)
	h("GET /forecast/category/tree", false, s.categoryTree)
	h("GET /forecast/contract/market", false, s.forecastMarket)
	h("GET /forecast/contract/details", false, s.forecastDetails)
	h("GET /forecast/contract/rules", false, s.forecastRules)
	h("GET /forecast/contract/schedules", false, s.forecastSchedules)
	h("POST /iserver/account/{acct}/orders", true, s.postOrders)
	h("POST /iserver/reply/{id}", true, s.reply)
	h("GET /iserver/account/order/status/{id}", true, s.orderStatus)
	h("DELETE /iserver/account/{acct}/order/{id}", true, s.cancelOrder)
	h("GET /iserver/account/orders", true, s.liveOrders)
	h("GET /iserver/account/trades", true, s.trades)
	h("GET /iserver/marketdata/snapshot", true, s.snapshot)
	h("GET /portfolio/{acct}/positions/{page}", false, s.positions)
	h("GET /portfolio/{acct}/ledger", false, s.ledger)
	h("GET /portfolio/{acct}/summary", false, s.summary)
	mux.HandleFunc("GET /v1/api/ws", s.serveWS)
	s.faults.AdminRoutes(mux, AdminPath)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource not found"})
	})
	return mux
}

// AdminPath prefixes the simulator's own routes (the faults).
const AdminPath = "/sim/v1"

// writeFault is the gateway's answer to an injected 5xx or 429.
func writeFault(w http.ResponseWriter, status int) {
	writeJSON(w, status, map[string]any{"error": http.StatusText(status), "statusCode": status})
}

// gate applies the gateway's session checks, runs fn and writes its answer.
func (s *Server) gate(brokerage bool, fn handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		signedIn, authed, competing := s.signedIn, s.authed, s.competing
		s.mu.Unlock()
		if !signedIn || (brokerage && (!authed || competing)) {
			writeJSON(w, errNotAuthenticated.status, errNotAuthenticated)
			return
		}
		body, err := fn(r)
		if err != nil {
			var ge *gwError
			if !errors.As(err, &ge) {
				var pe *polybot.Error
				if errors.As(err, &pe) && pe.Code != polybot.EINTERNAL {
					ge = fail(http.StatusBadRequest, "%s", pe.Message)
				} else {
					s.log.Error("ibkr sim", "method", r.Method, "path", r.URL.Path, "err", err)
					ge = fail(http.StatusInternalServerError, "internal error")
				}
			}
			writeJSON(w, ge.status, ge)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// --- session ---

type serverInfo struct {
	ServerName    string `json:"serverName"`
	ServerVersion string `json:"serverVersion"`
}

func (s *Server) statusBody(withFail bool) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := map[string]any{"authenticated": s.authed && !s.competing, "established": s.authed, "competing": s.competing,
		"connected": s.signedIn, "message": "", "MAC": "00:00:00:00:00:01",
		"serverInfo":    serverInfo{ServerName: "PolyBotSim", ServerVersion: "Build 10.44.1d (simulator)"},
		"hardware_info": "polybot|00:00:00:00:00:01"}
	if withFail {
		b["fail"] = ""
	}
	return b
}

func (s *Server) authStatus(*http.Request) (any, error) { return s.statusBody(true), nil }

func (s *Server) tickle(*http.Request) (any, error) {
	s.mu.Lock()
	sess := s.session
	s.mu.Unlock()
	return map[string]any{"session": sess, "hmds": map[string]string{"error": "no bridge"},
		"iserver": map[string]any{"authStatus": s.statusBody(false)}}, nil
}

func (s *Server) ssodhInit(r *http.Request) (any, error) {
	var in struct {
		Compete bool `json:"compete"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	if !s.competing || in.Compete {
		s.authed, s.competing = true, false
	}
	s.mu.Unlock()
	return s.statusBody(false), nil
}

func (s *Server) reauthenticate(*http.Request) (any, error) {
	s.mu.Lock()
	if !s.competing {
		s.authed = true
	}
	s.mu.Unlock()
	return map[string]string{"message": "triggered"}, nil
}

func (s *Server) accountList(*http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.accounts))
	props, aliases := map[string]any{}, map[string]string{}
	for _, id := range ids {
		props[id] = map[string]bool{"hasChildAccounts": false, "supportsCashQty": true, "supportsFractions": false}
		aliases[id] = id
	}
	sel := ""
	if len(ids) > 0 {
		sel = ids[0]
	}
	return map[string]any{"accounts": ids, "acctProps": props, "aliases": aliases,
		"allowFeatures": map[string]any{"allowEventContract": true, "allowEventTrading": true, "allowedAssetTypes": "STK,OPT"},
		"groups":        []string{}, "profiles": []string{}, "selectedAccount": sel}, nil
}

// --- contracts ---

func (s *Server) secdefSearch(r *http.Request) (any, error) {
	sym := r.URL.Query().Get("symbol")
	if r.Method == http.MethodPost {
		var in struct {
			Symbol string `json:"symbol"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return nil, fail(http.StatusBadRequest, "bad request body")
		}
		sym = in.Symbol
	}
	if sym == "" {
		return nil, fail(http.StatusBadRequest, "symbol required")
	}
	type section struct {
		SecType  string `json:"secType"`
		Exchange string `json:"exchange,omitempty"`
		Months   string `json:"months,omitempty"`
	}
	type result struct {
		Conid         string    `json:"conid"`
		CompanyHeader string    `json:"companyHeader"`
		CompanyName   string    `json:"companyName"`
		Symbol        string    `json:"symbol"`
		Description   string    `json:"description"`
		Restricted    *string   `json:"restricted"`
		Sections      []section `json:"sections"`
	}
	out := []result{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stocks[strings.ToUpper(sym)]; ok {
		out = append(out, result{Conid: strconv.FormatInt(st.conid, 10), CompanyHeader: st.company + " - ARCA", CompanyName: st.company,
			Symbol: st.symbol, Description: "ARCA", Sections: []section{{SecType: "STK"}}})
	}
	for _, m := range s.markets {
		if strings.EqualFold(m.cfg.Symbol, sym) {
			out = append(out, result{Conid: strconv.FormatInt(m.cfg.UnderlyingConid, 10), CompanyHeader: m.cfg.Name + " - FORECASTX",
				CompanyName: m.cfg.Name, Symbol: m.cfg.Symbol, Description: "FORECASTX",
				Sections: []section{{SecType: "OPT", Exchange: "FORECASTX", Months: months(m)}}})
		}
	}
	return out, nil
}

func months(m *market) string {
	var ms []string
	for _, c := range m.cfg.Contracts {
		t, _ := time.Parse("20060102", c.Expiration)
		if v := strings.ToUpper(t.Format("Jan06")); !slices.Contains(ms, v) {
			ms = append(ms, v)
		}
	}
	return strings.Join(ms, ";")
}

func (s *Server) secdefInfo(r *http.Request) (any, error) {
	q := r.URL.Query()
	id, err := strconv.ParseInt(q.Get("conid"), 10, 64)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "conid required")
	}
	type info struct {
		Conid           int64       `json:"conid"`
		Symbol          string      `json:"symbol"`
		SecType         string      `json:"secType"`
		Exchange        string      `json:"exchange"`
		ListingExchange string      `json:"listingExchange"`
		Right           string      `json:"right,omitempty"`
		Strike          json.Number `json:"strike,omitempty"`
		MaturityDate    string      `json:"maturityDate,omitempty"`
	}
	out := []info{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.contracts[id]; ok && c.secType == "STK" {
		return append(out, info{Conid: c.conid, Symbol: c.symbol, SecType: "STK", Exchange: "SMART", ListingExchange: "ARCA"}), nil
	}
	for _, m := range s.markets {
		if m.cfg.UnderlyingConid != id {
			continue
		}
		for _, cc := range m.cfg.Contracts {
			for _, cid := range []int64{cc.YesConid, cc.NoConid} {
				c := s.contracts[cid]
				if (q.Get("right") != "" && q.Get("right") != c.right()) || (q.Get("strike") != "" && q.Get("strike") != cc.Strike.String()) ||
					(q.Get("month") != "" && !strings.EqualFold(q.Get("month"), c.expiry().Format("Jan06"))) {
					continue
				}
				out = append(out, info{Conid: cid, Symbol: m.cfg.Symbol, SecType: "OPT", Exchange: "FORECASTX", ListingExchange: "FORECASTX",
					Right: c.right(), Strike: num(cc.Strike), MaturityDate: cc.Expiration})
			}
		}
	}
	return out, nil
}

func (s *Server) categoryTree(*http.Request) (any, error) {
	type mkt struct {
		Name         string `json:"name"`
		Symbol       string `json:"symbol"`
		Exchange     string `json:"exchange"`
		Conid        int64  `json:"conid"`
		ProductConid int64  `json:"product_conid"`
	}
	type cat struct {
		Name     string `json:"name"`
		ParentID string `json:"parent_id,omitempty"`
		Markets  []mkt  `json:"markets,omitempty"`
	}
	cats := map[string]*cat{"g5351": {Name: "Economics"}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.markets {
		c := cats[m.cfg.CategoryID]
		if c == nil {
			c = &cat{Name: m.cfg.Category, ParentID: "g5351"}
			cats[m.cfg.CategoryID] = c
		}
		c.Markets = append(c.Markets, mkt{Name: m.cfg.Name, Symbol: m.cfg.Symbol, Exchange: "FORECASTX", Conid: m.cfg.UnderlyingConid,
			ProductConid: m.cfg.ProductConid})
	}
	return map[string]any{"categories": cats}, nil
}

func (s *Server) forecastMarket(r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.URL.Query().Get("underlyingConid"), 10, 64)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "underlyingConid required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.markets {
		if m.cfg.UnderlyingConid != id {
			continue
		}
		var cs []map[string]any
		for _, cc := range m.cfg.Contracts {
			for _, cid := range []int64{cc.YesConid, cc.NoConid} {
				c := s.contracts[cid]
				t := c.expiry().AddDate(0, 0, 1)
				cs = append(cs, map[string]any{"conid": cid, "side": c.side(), "expiration": cc.Expiration, "strike": num(cc.Strike),
					"strike_label": c.strikeLabel(), "expiry_label": c.expiryLabel(), "underlying_conid": id,
					"time_specifier": fmt.Sprintf("%d.%d.%d", t.Year(), int(t.Month()), t.Day())})
			}
		}
		return map[string]any{"market_name": m.cfg.Name, "exchange": "FORECASTX", "symbol": m.cfg.Symbol, "logo_category": m.cfg.CategoryID,
			"exclude_historical_data": false, "payout": json.Number("1.0"), "contracts": cs}, nil
	}
	return nil, fail(http.StatusBadRequest, "no market for underlying %d", id)
}

func (s *Server) eventContract(r *http.Request) (*contract, error) {
	id, err := strconv.ParseInt(r.URL.Query().Get("conid"), 10, 64)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "conid required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contracts[id]
	if !ok || c.secType != "OPT" {
		return nil, fail(http.StatusBadRequest, "no event contract %d", id)
	}
	return c, nil
}

func (s *Server) forecastDetails(r *http.Request) (any, error) {
	c, err := s.eventContract(r)
	if err != nil {
		return nil, err
	}
	m := c.market.cfg
	return map[string]any{"conid_yes": c.q.YesConid, "conid_no": c.q.NoConid, "question": c.q.Question, "side": c.side(),
		"strike_label": c.strikeLabel(), "strike": num(c.q.Strike), "exchange": "FORECASTX", "expiration": c.q.Expiration,
		"symbol": m.Symbol, "category": m.CategoryID, "logo_category": m.CategoryID, "measured_period": c.expiry().Format("Jan02'06"),
		"market_name": m.Name, "underlying_conid": m.UnderlyingConid, "payout": json.Number("1.0"), "product_conid": m.ProductConid,
		"is_restricted": false}, nil
}

func (s *Server) forecastRules(r *http.Request) (any, error) {
	c, err := s.eventContract(r)
	if err != nil {
		return nil, err
	}
	last := c.expiry().Add(19 * time.Hour).Unix() // 14:00 ET
	return map[string]any{"asset_class": "OPT", "description": "The federal funds rate is the target interest rate range set by the FOMC.",
		"market_name": c.market.cfg.Name, "measured_period": c.expiry().Format("Jan02'06"), "threshold": c.q.Strike.String(),
		"source_agency": "U.S. Federal Reserve", "data_and_resolution_link": "https://www.federalreserve.gov/monetarypolicy/openmarket.htm",
		"last_trade_time": last, "product_code": c.market.cfg.Symbol, "market_rules_link": "https://forecastex.com/",
		"release_time": last, "payout_time": last + 86400, "payout": "$1.00", "price_increment": "$0.01", "exchange_timezone": "US/Central"}, nil
}

func (s *Server) forecastSchedules(r *http.Request) (any, error) {
	if _, err := s.eventContract(r); err != nil {
		return nil, err
	}
	type window struct {
		Open  string `json:"open"`
		Close string `json:"close"`
	}
	type day struct {
		Day   string   `json:"day_of_week"`
		Times []window `json:"trading_times"`
	}
	var days []day
	for _, d := range []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday"} {
		days = append(days, day{Day: d, Times: []window{{"12:00 AM", "4:15 PM"}, {"4:16 PM", "11:59 PM"}}})
	}
	return map[string]any{"timezone": "US/Central", "trading_schedules": days}, nil
}

// --- orders ---

// orderRequest is one order of POST /iserver/account/{acct}/orders.
type orderRequest struct {
	AcctID    string      `json:"acctId"`
	Conid     json.Number `json:"conid"`
	OrderType string      `json:"orderType"`
	Price     json.Number `json:"price"`
	Side      string      `json:"side"`
	Quantity  json.Number `json:"quantity"`
	TIF       string      `json:"tif"`
	COID      string      `json:"cOID"`
}

func (s *Server) accountOf(id string) (*account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[id]
	if a == nil {
		return nil, fail(http.StatusBadRequest, "Account %s is not authorized for this session", id)
	}
	return a, nil
}

func (s *Server) postOrders(r *http.Request) (any, error) {
	acct := r.PathValue("acct")
	if _, err := s.accountOf(acct); err != nil {
		return nil, err
	}
	var in struct {
		Orders []orderRequest `json:"orders"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || len(in.Orders) != 1 {
		return nil, fail(http.StatusBadRequest, "expected one order in orders")
	}
	return s.place(acct, in.Orders[0], false)
}

// parsed is a checked order request.
type parsed struct {
	c           *contract
	side        polybot.Side
	price, size polybot.Decimal
	market      bool
	tif         polybot.TimeInForce
}

func (s *Server) check(acct string, o orderRequest) (parsed, error) {
	var p parsed
	id, err := strconv.ParseInt(o.Conid.String(), 10, 64)
	s.mu.Lock()
	c := s.contracts[id]
	a := s.accounts[acct]
	_, dup := a.coids[o.COID]
	s.mu.Unlock()
	if err != nil || c == nil {
		return p, fail(http.StatusBadRequest, "Contract %s not found", o.Conid)
	}
	p.c = c
	if o.AcctID != "" && o.AcctID != acct {
		return p, fail(http.StatusBadRequest, "acctId %s does not match the account in the path", o.AcctID)
	}
	if o.COID != "" && dup {
		return p, fail(http.StatusBadRequest, "Local order ID=%s is already registered.", o.COID)
	}
	switch o.Side {
	case "BUY":
	case "SELL":
		p.side = polybot.Sell
		if c.secType == "OPT" {
			return p, fail(http.StatusBadRequest, "Event contracts cannot be sold. To close a position, buy the opposite contract.")
		}
	default:
		return p, fail(http.StatusBadRequest, "side must be BUY or SELL")
	}
	if p.size, err = polybot.ParseDecimal(o.Quantity.String()); err != nil || p.size.Sign() <= 0 {
		return p, fail(http.StatusBadRequest, "quantity must be positive")
	}
	switch o.OrderType {
	case "LMT":
		if p.price, err = polybot.ParseDecimal(o.Price.String()); err != nil || p.price.Sign() <= 0 {
			return p, fail(http.StatusBadRequest, "a limit order needs a positive price")
		}
	case "MKT":
		p.market = true
	default:
		return p, fail(http.StatusBadRequest, "orderType %q is not supported by the simulator (LMT, MKT)", o.OrderType)
	}
	switch o.TIF {
	case "GTC", "DAY", "":
		p.tif = polybot.GTC
	case "IOC":
		p.tif = polybot.FAK
	default:
		return p, fail(http.StatusBadRequest, "tif %q is not supported (GTC, DAY, IOC)", o.TIF)
	}
	if c.secType == "OPT" {
		if p.size.Places() > 0 {
			return p, fail(http.StatusBadRequest, "Event contracts trade in whole contracts")
		}
		if !p.market && (!p.price.LessThan(polybot.One) || p.price.Micros()%10_000 != 0) {
			return p, fail(http.StatusBadRequest, "The price of an event contract is between 0.01 and 0.99 in 0.01 increments")
		}
	}
	return p, nil
}

// reference is the price a limit is compared with: the best offer for a
// buy and the best bid for a sell, else the last trade.
func (s *Server) reference(conid int64, side polybot.Side) (polybot.Decimal, bool) {
	d := s.eng.Depth(strconv.FormatInt(conid, 10), 1)
	if side == polybot.Buy && len(d.Asks) > 0 {
		return d.Asks[0].Price, true
	}
	if side == polybot.Sell && len(d.Bids) > 0 {
		return d.Bids[0].Price, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	px, ok := s.lastPx[conid]
	return px, ok
}

func (s *Server) place(acct string, o orderRequest, confirmed bool) (any, error) {
	p, err := s.check(acct, o)
	if err != nil {
		return nil, err
	}
	// The price-cap question: a limit through the market (a buy above the
	// reference, a sell below it) by more than the allowed fraction.
	if !confirmed && !p.market {
		if ref, ok := s.reference(p.c.conid, p.side); ok && ref.Sign() > 0 {
			through := p.price.Sub(ref)
			if p.side == polybot.Sell {
				through = through.Neg()
			}
			if through.GreaterThan(ref.Mul(s.cfg.PriceDeviation)) {
				s.mu.Lock()
				s.nextID++
				id := fmt.Sprintf("%x-%d", s.now().UnixNano(), s.nextID)
				s.replies[id] = &pendingOrder{account: acct, req: o}
				s.mu.Unlock()
				pct := s.cfg.PriceDeviation.MulInt(100)
				return []map[string]any{{"id": id, "message": []string{fmt.Sprintf("The following order \"%s %s %s @ %s\" price exceeds the Percentage constraint of %s%%.\nAre you sure you want to submit this order?",
					o.Side, p.size, p.c.description(), p.price, pct)}, "isSuppressed": false, "messageIds": []string{"o163"},
					"messageOptions": []string{"Yes", "No"}}}, nil
			}
		}
	}
	// Funds: a buy needs its cost in cash; a stock sale needs the shares.
	s.mu.Lock()
	a := s.accounts[acct]
	cost := p.price.Mul(p.size)
	if p.market && p.c.secType == "OPT" {
		cost = polybot.MustDecimal("0.99").Mul(p.size)
	}
	held := polybot.Zero
	if pos := a.positions[p.c.conid]; pos != nil {
		held = pos.Qty
	}
	cash := a.cash
	s.nextID++
	ibID := strconv.FormatInt(s.nextID, 10)
	s.mu.Unlock()
	if p.side == polybot.Buy && !p.market && cost.GreaterThan(cash) {
		return nil, fail(http.StatusBadRequest, "Insufficient funds: the order costs %s, the account has %s", cost, cash)
	}
	if p.side == polybot.Sell && p.size.GreaterThan(held) {
		return nil, fail(http.StatusBadRequest, "The simulator does not sell short: %s held", held)
	}
	price := p.price
	if p.market {
		p.tif = polybot.FAK
		switch {
		case p.side == polybot.Sell:
			price = polybot.DecimalFromMicros(1)
		case p.c.secType == "OPT":
			price = polybot.MustDecimal("0.99")
		default:
			price = polybot.NewDecimal(1_000_000, 0)
		}
	}
	meta := &orderMeta{account: acct, conid: p.c.conid, orderType: "LMT", tif: o.TIF, coid: o.COID, ibID: ibID}
	if p.market {
		meta.orderType = "MKT"
	}
	if meta.tif == "" {
		meta.tif = "DAY"
	}
	s.mu.Lock()
	s.orders[ibID] = meta
	a.orders = append(a.orders, ibID)
	if o.COID != "" {
		a.coids[o.COID] = ibID
	}
	s.mu.Unlock()
	s.opMu.Lock()
	res, err := s.eng.Submit(matching.Request{Book: strconv.FormatInt(p.c.conid, 10), Account: acct, ClientID: o.COID, OrderID: ibID,
		Side: p.side, Price: price, Size: p.size, TIF: p.tif})
	s.opMu.Unlock()
	if err != nil {
		return nil, fail(http.StatusBadRequest, "%s", err.Error())
	}
	s.publish(p.c.conid)
	return []map[string]string{{"order_id": ibID, "order_status": statusWire(res.Order), "encrypt_message": "1"}}, nil
}

func (s *Server) reply(r *http.Request) (any, error) {
	id := r.PathValue("id")
	var in struct {
		Confirmed bool `json:"confirmed"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return nil, fail(http.StatusBadRequest, "confirmed required")
	}
	s.mu.Lock()
	p := s.replies[id]
	delete(s.replies, id)
	s.mu.Unlock()
	if p == nil {
		return nil, fail(http.StatusBadRequest, "Reply id %s not found or already answered", id)
	}
	if !in.Confirmed {
		return []map[string]string{{"order_status": "Cancelled", "message": "Order not confirmed"}}, nil
	}
	return s.place(p.account, p.req, true)
}

// statusWire maps an engine order to IBKR's order statuses.
func statusWire(o matching.Order) string {
	switch o.State {
	case polybot.OrderFilled:
		return "Filled"
	case polybot.OrderCancelled:
		return "Cancelled"
	case polybot.OrderRejected:
		return "Inactive"
	}
	return "Submitted"
}

func orderTypeWire(t string) string {
	if t == "MKT" {
		return "Market"
	}
	return "Limit"
}

func sideWire(side polybot.Side) string {
	if side == polybot.Sell {
		return "SELL"
	}
	return "BUY"
}

func (s *Server) order(ibID string) (matching.Order, *orderMeta, *contract, error) {
	s.mu.Lock()
	m := s.orders[ibID]
	var c *contract
	if m != nil {
		c = s.contracts[m.conid]
	}
	s.mu.Unlock()
	if m == nil {
		return matching.Order{}, nil, nil, fail(http.StatusBadRequest, "OrderID %s doesn't exist", ibID)
	}
	o, err := s.eng.Order(ibID)
	if err != nil {
		return matching.Order{}, nil, nil, fail(http.StatusBadRequest, "OrderID %s doesn't exist", ibID)
	}
	return o, m, c, nil
}

func eventFlag(c *contract) string {
	if c.secType == "OPT" {
		return "1"
	}
	return "0"
}

func (s *Server) orderStatus(r *http.Request) (any, error) {
	o, m, c, err := s.order(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	id, _ := strconv.ParseInt(m.ibID, 10, 64)
	avg := polybot.Zero
	if m.filled.Sign() > 0 {
		avg = m.notional.Div(m.filled)
	}
	price := o.Price
	if m.orderType == "MKT" {
		price = polybot.Zero
	}
	desc := fmt.Sprintf("%s %s %s %s %s, %s", map[bool]string{true: "Bought", false: "Buy"}[o.State == polybot.OrderFilled],
		o.Size, c.symbol, orderTypeWire(m.orderType), price, m.tif)
	return map[string]any{"sub_type": nil, "request_id": "1", "order_id": id, "conidex": strconv.FormatInt(c.conid, 10), "conid": c.conid,
		"symbol": c.symbol, "side": sideWire(o.Side), "contract_description_1": c.description(), "listing_exchange": listing(c),
		"is_event_trading": eventFlag(c), "order_desc": desc, "order_status": statusWire(o), "order_type": orderTypeWire(m.orderType),
		"size": str(o.Size), "fill_price": str(avg), "filled_quantity": str(o.Filled), "remaining_quantity": str(o.Remaining()),
		"avg_fill_price": str(avg), "last_fill_price": str(avg), "total_size": str(o.Size), "total_cash_size": "0.0",
		"price": str(price), "tif": m.tif, "order_not_editable": o.Done(), "cannot_cancel_order": o.Done(), "outside_rth": false,
		"all_or_none": false, "sec_type": c.secType, "order_description": desc, "order_clearing_account": m.account,
		"order_time": o.Created.UTC().Format("060102150405")}, nil
}

func listing(c *contract) string {
	if c.secType == "OPT" {
		return "FORECASTX"
	}
	return "ARCA"
}

func (s *Server) cancelOrder(r *http.Request) (any, error) {
	acct, ibID := r.PathValue("acct"), r.PathValue("id")
	_, m, _, err := s.order(ibID)
	if err != nil {
		return nil, err
	}
	if m.account != acct {
		return nil, fail(http.StatusBadRequest, "OrderID %s doesn't exist", ibID)
	}
	s.opMu.Lock()
	o, err := s.eng.Cancel(ibID)
	s.opMu.Unlock()
	if err != nil && !o.Done() {
		return nil, fail(http.StatusBadRequest, "%s", err.Error())
	}
	s.publish(m.conid)
	id, _ := strconv.ParseInt(ibID, 10, 64)
	return map[string]any{"msg": "Request was submitted", "order_id": id, "conid": -1, "account": nil}, nil
}

func (s *Server) liveOrders(*http.Request) (any, error) {
	s.mu.Lock()
	var ids []string
	for _, a := range s.accounts {
		ids = append(ids, a.orders...)
	}
	s.mu.Unlock()
	out := []map[string]any{}
	for _, ibID := range ids {
		o, m, c, err := s.order(ibID)
		if err != nil {
			continue
		}
		id, _ := strconv.ParseInt(ibID, 10, 64)
		avg := ""
		if m.filled.Sign() > 0 {
			avg = m.notional.Div(m.filled).String()
		}
		price := ""
		if m.orderType == "LMT" {
			price = o.Price.String()
		}
		row := map[string]any{"acct": m.account, "conidex": strconv.FormatInt(c.conid, 10), "conid": c.conid, "account": m.account,
			"orderId": id, "cashCcy": "USD", "sizeAndFills": o.Filled.String() + "/" + o.Size.String(), "orderDesc": c.description(),
			"description1": c.description(), "ticker": c.symbol, "secType": c.secType, "listingExchange": listing(c),
			"remainingQuantity": num(o.Remaining()), "filledQuantity": num(o.Filled), "totalSize": num(o.Size), "companyName": c.company,
			"status": statusWire(o), "order_ccp_status": statusWire(o), "avgPrice": avg, "origOrderType": strings.ToUpper(orderTypeWire(m.orderType)),
			"orderType": orderTypeWire(m.orderType), "isEventTrading": eventFlag(c), "price": price, "timeInForce": m.tif, "side": sideWire(o.Side),
			"lastExecutionTime_r": o.Updated.UnixMilli(), "lastExecutionTime": o.Updated.UTC().Format("060102150405")}
		if m.coid != "" {
			row["order_ref"] = m.coid
		}
		out = append(out, row)
	}
	return map[string]any{"orders": out, "snapshot": true}, nil
}

func (s *Server) trades(r *http.Request) (any, error) {
	days := 1
	if d, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && d >= 1 && d <= 7 {
		days = d
	}
	since := s.now().AddDate(0, 0, -days)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, a := range s.accounts {
		for _, t := range a.trades {
			if t.at.Before(since) {
				continue
			}
			c := s.contracts[t.conid]
			side, verb := "B", "Bot"
			if t.side == polybot.Sell {
				side, verb = "S", "Sold"
			}
			held := polybot.Zero
			if p := a.positions[t.conid]; p != nil {
				held = p.Qty
			}
			oid, _ := strconv.ParseInt(t.orderID, 10, 64)
			out = append(out, map[string]any{"execution_id": t.id, "symbol": c.symbol, "supports_tax_opt": "1", "side": side,
				"order_description": fmt.Sprintf("%s %s @ %s on %s", verb, t.size, t.price, listing(c)),
				"trade_time":        t.at.UTC().Format("20060102-15:04:05"), "trade_time_r": t.at.UnixMilli(), "size": num(t.size),
				"price": t.price.String(), "order_ref": t.coid, "exchange": listing(c), "commission": "0.0", "net_amount": num(t.price.Mul(t.size)),
				"account": a.id, "accountCode": a.id, "company_name": c.company, "contract_description_1": c.description(), "sec_type": c.secType,
				"listing_exchange": listing(c), "conid": c.conid, "conidEx": strconv.FormatInt(c.conid, 10), "position": held.String(),
				"clearing_id": "IB", "clearing_name": "IB", "liquidation_trade": "0", "is_event_trading": eventFlag(c), "order_id": oid})
		}
	}
	return out, nil
}

// --- portfolio ---

func (s *Server) positions(r *http.Request) (any, error) {
	a, err := s.accountOf(r.PathValue("acct"))
	if err != nil {
		return nil, err
	}
	page, err := strconv.Atoi(r.PathValue("page"))
	if err != nil || page < 0 {
		return nil, fail(http.StatusBadRequest, "page must be a number")
	}
	s.mu.Lock()
	ids := slices.Sorted(maps.Keys(a.positions))
	out := []map[string]any{}
	for i, id := range ids {
		if i/100 != page {
			continue
		}
		p, c := a.positions[id], s.contracts[id]
		mkt := s.lastPx[id]
		avg := p.Cost.Div(p.Qty)
		row := map[string]any{"acctId": a.id, "conid": id, "contractDesc": c.description(), "position": num(p.Qty),
			"mktPrice": num(mkt), "mktValue": num(mkt.Mul(p.Qty)), "currency": "USD", "avgCost": num(avg), "avgPrice": num(avg),
			"realizedPnl": json.Number("0.0"), "unrealizedPnl": num(mkt.Sub(avg).Mul(p.Qty)), "exchs": nil, "expiry": nil, "putOrCall": nil,
			"multiplier": nil, "strike": json.Number("0.0"), "exerciseStyle": nil, "conExchMap": []string{}, "assetClass": c.secType,
			"undConid": 0, "model": ""}
		if c.secType == "OPT" {
			row["expiry"], row["putOrCall"], row["strike"], row["undConid"] = c.q.Expiration, c.right(), num(c.q.Strike), c.market.cfg.UnderlyingConid
			row["multiplier"] = json.Number("1.0")
		}
		out = append(out, row)
	}
	s.mu.Unlock()
	return out, nil
}

func (s *Server) valueOf(a *account) polybot.Decimal {
	v := polybot.Zero
	for id, p := range a.positions {
		v = v.Add(s.lastPx[id].Mul(p.Qty))
	}
	return v
}

func (s *Server) ledger(r *http.Request) (any, error) {
	a, err := s.accountOf(r.PathValue("acct"))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entry := func(ccy string) map[string]any {
		return map[string]any{"settledcash": num(a.cash), "cashbalance": num(a.cash), "netliquidationvalue": num(a.cash.Add(s.valueOf(a))),
			"stockoptionmarketvalue": num(s.valueOf(a)), "currency": ccy, "acctcode": a.id, "key": "LedgerList", "secondkey": ccy,
			"timestamp": s.now().Unix(), "exchangerate": 1, "endofbundle": 1, "severity": 0}
	}
	return map[string]any{"USD": entry("USD"), "BASE": entry("BASE")}, nil
}

func (s *Server) summary(r *http.Request) (any, error) {
	a, err := s.accountOf(r.PathValue("acct"))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.now().Unix()
	field := func(d polybot.Decimal) map[string]any {
		return map[string]any{"amount": num(d), "currency": "USD", "isNull": false, "timestamp": ts, "value": d.String(), "severity": 0}
	}
	return map[string]any{
		"accountcode":    map[string]any{"amount": json.Number("0.0"), "currency": nil, "isNull": false, "timestamp": ts, "value": a.id, "severity": 0},
		"netliquidation": field(a.cash.Add(s.valueOf(a))), "buyingpower": field(a.cash), "totalcashvalue": field(a.cash),
		"initmarginreq": field(polybot.Zero)}, nil
}

// --- market data ---

// quote is a contract's top of book and last trade as snapshot fields.
func (s *Server) quote(conid int64) map[string]any {
	d := s.eng.Depth(strconv.FormatInt(conid, 10), 1)
	s.mu.Lock()
	last, hasLast := s.lastPx[conid]
	s.mu.Unlock()
	m := map[string]any{"conidEx": strconv.FormatInt(conid, 10), "conid": conid, "_updated": s.now().UnixMilli(), "server_id": "q0", "6509": "RpB"}
	// An empty side is sent as empty fields: a WebSocket update carries the
	// fields that changed, so a side that emptied must say so.
	m["84"], m["88"], m["86"], m["85"] = "", "", "", ""
	if len(d.Bids) > 0 {
		m["84"], m["88"] = d.Bids[0].Price.String(), d.Bids[0].Size.String()
	}
	if len(d.Asks) > 0 {
		m["86"], m["85"] = d.Asks[0].Price.String(), d.Asks[0].Size.String()
	}
	if hasLast {
		m["31"] = last.String()
	}
	return m
}

func (s *Server) snapshot(r *http.Request) (any, error) {
	out := []map[string]any{}
	for _, f := range strings.Split(r.URL.Query().Get("conids"), ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fail(http.StatusBadRequest, "conids must be numbers")
		}
		s.mu.Lock()
		_, ok := s.contracts[id]
		s.mu.Unlock()
		if ok {
			out = append(out, s.quote(id))
		}
	}
	return out, nil
}

// onUpdate books trades into the accounts and pushes the books that
// changed to the WebSocket subscribers.
func (s *Server) onUpdate(u matching.Update) {
	conid, _ := strconv.ParseInt(u.Book, 10, 64)
	if len(u.Trades) > 0 {
		s.mu.Lock()
		for _, t := range u.Trades {
			s.lastPx[conid] = t.Price
			for _, l := range t.Legs() {
				s.fill(l, conid, t)
			}
		}
		s.mu.Unlock()
	}
	s.publish(conid)
}

// fill books one side of a trade (s.mu held).
func (s *Server) fill(l matching.Leg, conid int64, t matching.Trade) {
	a := s.accounts[l.Account]
	if a == nil {
		return // the market's own liquidity
	}
	amount, _ := matching.Settle(&a.cash, a.positions, conid, l.Side, t.Price, t.Size)
	suffix, orderID, side := l.Tag(), l.OrderID, l.Side
	m := s.orders[orderID]
	coid := ""
	if m != nil {
		m.filled, m.notional, m.lastExec = m.filled.Add(t.Size), m.notional.Add(amount), t.Time
		coid = m.coid
	}
	a.trades = append(a.trades, execution{id: fmt.Sprintf("%08x.%s%s.01.01", t.Time.Unix(), t.ID, suffix), orderID: orderID, coid: coid,
		conid: conid, side: side, price: t.Price, size: t.Size, at: t.Time})
	s.net(a, conid)
}

// net pays out the pairs of a YES and a NO of one question that an account
// holds: $1 each, as IBKR nets event contracts (s.mu held).
func (s *Server) net(a *account, conid int64) {
	c := s.contracts[conid]
	if c == nil || c.secType != "OPT" {
		return
	}
	p, q := a.positions[conid], a.positions[c.pair]
	if p == nil || q == nil {
		return
	}
	pairs := p.Qty.Min(q.Qty)
	if pairs.Sign() <= 0 {
		return
	}
	for _, id := range []int64{conid, c.pair} {
		x := a.positions[id]
		matching.BookFill(&x.Qty, &x.Cost, polybot.Sell, pairs, polybot.Zero)
		if x.Qty.IsZero() {
			delete(a.positions, id)
		}
	}
	a.cash = a.cash.Add(pairs)
}
