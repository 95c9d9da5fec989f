package polymarket

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// venueError is an answer in the venue's error shape: {"error": msg}.
type venueError struct {
	status int
	msg    string
}

func (e *venueError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func fail(status int, msg string) error { return &venueError{status: status, msg: msg} }

// The venue's messages for the errors the simulator reproduces.
const (
	msgInvalidAPIKey  = "Unauthorized/Invalid api key"
	msgInvalidL1      = "Invalid L1 Request headers"
	msgInvalidToken   = "Invalid token id"
	msgNoBook         = "No orderbook exists for the requested token id"
	msgInvalidPayload = "Invalid order payload"
	msgBadSignature   = "invalid signature"
	msgOwnerMismatch  = "the order owner has to be the owner of the API KEY"
	msgSignerMismatch = "the order signer address has to be the address of the API KEY"
	msgNoBalance      = "not enough balance / allowance"
	msgFOKKilled      = "order couldn't be fully filled. FOK orders are fully filled or killed."
	msgFAKNoMatch     = "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
	msgDuplicate      = "order already exists"
)

type handler func(w http.ResponseWriter, r *http.Request) error

// routes is the whole route table.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn handler) {
		mux.Handle(pattern, s.faults.Wrap("", s.endpoint(pattern, fn), writeFault))
	}
	// Public CLOB.
	h("GET /ok", func(w http.ResponseWriter, r *http.Request) error { return writeJSON(w, "OK") })
	h("GET /time", func(w http.ResponseWriter, r *http.Request) error { return writeJSON(w, s.cfg.Now().Unix()) })
	h("GET /version", func(w http.ResponseWriter, r *http.Request) error { return writeJSON(w, map[string]int{"version": 2}) })
	h("GET /book", s.getBook)
	h("POST /books", s.postBooks)
	h("GET /tick-size", s.getTickSize)
	h("GET /tick-size/{token_id}", s.getTickSize)
	h("GET /neg-risk", s.getNegRisk)
	h("GET /fee-rate", s.getFeeRate)
	h("GET /midpoint", s.getMidpoint)
	h("GET /price", s.getPrice)
	h("GET /last-trade-price", s.getLastTradePrice)
	h("GET /markets", s.getMarkets)
	h("GET /markets-by-token/{token_id}", s.getMarketByToken)
	h("GET /clob-markets/{condition_id}", s.getClobMarket)
	// L1.
	h("POST /auth/api-key", s.createAPIKey)
	h("GET /auth/derive-api-key", s.createAPIKey)
	// L2.
	h("GET /auth/api-keys", s.getAPIKeys)
	h("POST /order", s.postOrder)
	h("POST /orders", s.postOrders)
	h("DELETE /order", s.deleteOrder)
	h("DELETE /orders", s.deleteOrders)
	h("DELETE /cancel-all", s.cancelAll)
	h("DELETE /cancel-market-orders", s.cancelMarketOrders)
	h("GET /data/order/{id}", s.getOrder)
	h("GET /data/orders", s.getOrders)
	h("GET /data/trades", s.getTrades)
	h("GET /balance-allowance", s.getBalanceAllowance)
	h("GET /balance-allowance/update", s.getBalanceAllowance)
	// Gamma and Data APIs.
	h("GET /gamma/markets", s.gammaMarkets)
	h("GET /gamma/events", s.gammaEvents)
	h("GET /gamma/events/{id}", s.gammaEventOne)
	h("GET /gamma/events/slug/{slug}", s.gammaEventOne)
	h("GET /data-api/positions", s.dataPositions)
	h("GET /data-api/trades", s.dataTrades)
	h("GET /data-api/activity", s.dataActivity)
	// The simulator's own routes (no faults).
	mux.HandleFunc("GET "+AdminPath+"/submissions", s.submissionsHandler)
	s.faults.AdminRoutes(mux, AdminPath)
	// WebSocket channels (no REST faults).
	mux.HandleFunc("GET /ws/market", s.serveMarketWS)
	mux.HandleFunc("GET /ws/user", s.serveUserWS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &venueError{http.StatusNotFound, "not found"})
	})
	return mux
}

// endpoint wraps a handler: panic recovery and the one error writer.
func (s *Server) endpoint(pattern string, fn handler) http.Handler {
	route := pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic", "route", route, "panic", v)
				writeError(w, &venueError{http.StatusInternalServerError, "internal error"})
			}
		}()
		if err := fn(w, r); err != nil {
			writeError(w, err)
		}
	})
}

// writeFault is the venue's answer to an injected 5xx or 429.
func writeFault(w http.ResponseWriter, status int) {
	writeError(w, &venueError{status, http.StatusText(status)})
}

func writeError(w http.ResponseWriter, err error) {
	var ve *venueError
	if !errors.As(err, &ve) {
		ve = &venueError{http.StatusInternalServerError, "internal error"}
		switch polybot.ErrorCode(err) {
		case polybot.EINVALID, polybot.ECONFLICT:
			ve = &venueError{http.StatusBadRequest, polybot.ErrorMessage(err)}
		case polybot.ENOTFOUND:
			ve = &venueError{http.StatusNotFound, polybot.ErrorMessage(err)}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ve.status)
	json.NewEncoder(w).Encode(map[string]string{"error": ve.msg})
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "unreadable body")
	}
	return b, nil
}

// ---- auth ----

func (s *Server) fresh(ts string) bool {
	if s.cfg.AuthMaxSkew < 0 {
		return true
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := s.cfg.Now().Sub(time.Unix(n, 0))
	return d <= s.cfg.AuthMaxSkew && d >= -s.cfg.AuthMaxSkew
}

// l1 verifies ClobAuth headers and returns the wallet (funded on first
// sight) and the nonce.
func (s *Server) l1(r *http.Request) (*account, uint64, error) {
	a, err := pm.ParseL1Auth(r.Header)
	if err != nil || pm.VerifyL1(s.cfg.ChainID, a) != nil || !s.fresh(a.Timestamp) {
		return nil, 0, fail(http.StatusUnauthorized, msgInvalidL1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(a.Address), a.Nonce, nil
}

// l2JSON reads the body of an L2 request, verifies its headers and decodes
// the body into v, answering 400 with badMsg when it is not JSON (badMsg ""
// reads what it can and goes on).
func (s *Server) l2JSON(r *http.Request, v any, badMsg string) (*apiKey, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	k, err := s.l2(r, body)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil && badMsg != "" {
		return nil, fail(http.StatusBadRequest, badMsg)
	}
	return k, nil
}

// l2 verifies the HMAC headers of a request whose body is body.
func (s *Server) l2(r *http.Request, body []byte) (*apiKey, error) {
	a, err := pm.ParseL2Auth(r.Header)
	if err != nil {
		return nil, fail(http.StatusUnauthorized, msgInvalidAPIKey)
	}
	s.mu.Lock()
	k := s.keys[a.APIKey]
	s.mu.Unlock()
	if k == nil || k.creds.Passphrase != a.Passphrase || k.acct.addr != a.Address || !s.fresh(a.Timestamp) ||
		a.Verify(k.creds.Secret, r.Method, r.URL.Path, body) != nil {
		return nil, fail(http.StatusUnauthorized, msgInvalidAPIKey)
	}
	return k, nil
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	acct, nonce, err := s.l1(r)
	if err != nil {
		return err
	}
	c := s.credsFor(acct.addr, nonce)
	s.mu.Lock()
	if s.keys[c.Key] == nil {
		s.keys[c.Key] = &apiKey{creds: c, acct: acct}
		acct.apiKeys = append(acct.apiKeys, c.Key)
	}
	s.mu.Unlock()
	return writeJSON(w, c)
}

func (s *Server) getAPIKeys(w http.ResponseWriter, r *http.Request) error {
	k, err := s.l2(r, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	keys := slices.Clone(k.acct.apiKeys)
	s.mu.Unlock()
	return writeJSON(w, map[string][]string{"apiKeys": keys})
}

// ---- public market data ----

func (s *Server) marketOf(token string) (*market, error) {
	if token == "" {
		return nil, fail(http.StatusBadRequest, msgInvalidToken)
	}
	s.mu.Lock()
	m := s.markets[token]
	s.mu.Unlock()
	if m == nil {
		return nil, fail(http.StatusNotFound, msgNoBook)
	}
	return m, nil
}

func tokenParam(r *http.Request) string {
	if t := r.PathValue("token_id"); t != "" {
		return t
	}
	return r.URL.Query().Get("token_id")
}

// bookJSON renders a token's book from the engine, levels in the venue's
// order (bids ascending, asks descending: best last).
func (s *Server) bookJSON(m *market, token string) map[string]any {
	d := s.engine.Depth(token, 0)
	return s.bookMessage(m, token, d.Bids, d.Asks, s.cfg.Now())
}

func (s *Server) bookMessage(m *market, token string, bids, asks []polybot.Level, now time.Time) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bookMessageLocked(m, token, bids, asks, now)
}

// bookMessageLocked renders a book message. Call with s.mu held.
func (s *Server) bookMessageLocked(m *market, token string, bids, asks []polybot.Level, now time.Time) map[string]any {
	lv := func(ls []polybot.Level) []map[string]string {
		out := make([]map[string]string, len(ls))
		for i, l := range ls {
			out[len(ls)-1-i] = map[string]string{"price": wire(l.Price), "size": wire(l.Size)}
		}
		return out
	}
	last := s.lastTrade[token]
	return map[string]any{
		"market": m.ConditionID, "asset_id": token, "timestamp": millis(now),
		"hash": bookHashLevels(bids, asks), "bids": lv(bids), "asks": lv(asks),
		"min_order_size": wire(m.MinOrderSize), "tick_size": wire(m.TickSize), "neg_risk": m.NegRisk,
		"last_trade_price": wire(last),
	}
}

func (s *Server) getBook(w http.ResponseWriter, r *http.Request) error {
	t := tokenParam(r)
	m, err := s.marketOf(t)
	if err != nil {
		return err
	}
	return writeJSON(w, s.bookJSON(m, t))
}

func (s *Server) postBooks(w http.ResponseWriter, r *http.Request) error {
	var req []struct {
		TokenID string `json:"token_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return fail(http.StatusBadRequest, "Invalid payload")
	}
	out := make([]map[string]any, 0, len(req))
	for _, q := range req {
		m, err := s.marketOf(q.TokenID)
		if err != nil {
			continue
		}
		out = append(out, s.bookJSON(m, q.TokenID))
	}
	return writeJSON(w, out)
}

func (s *Server) getTickSize(w http.ResponseWriter, r *http.Request) error {
	m, err := s.marketOf(tokenParam(r))
	if err != nil {
		return err
	}
	s.mu.Lock()
	tick := m.TickSize
	s.mu.Unlock()
	return writeJSON(w, map[string]json.Number{"minimum_tick_size": json.Number(wire(tick))})
}

func (s *Server) getNegRisk(w http.ResponseWriter, r *http.Request) error {
	m, err := s.marketOf(tokenParam(r))
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]bool{"neg_risk": m.NegRisk})
}

// getFeeRate is the legacy base fee in bps, as the venue still serves it:
// 1000 on a market with fees, 0 on a fee-free one (the rate itself is in
// the market's fee schedule).
func (s *Server) getFeeRate(w http.ResponseWriter, r *http.Request) error {
	m, err := s.marketOf(tokenParam(r))
	if err != nil {
		return err
	}
	base := 0
	if !m.FeeSchedule.FeeFree() {
		base = 1000
	}
	return writeJSON(w, map[string]int{"base_fee": base})
}

func (s *Server) best(token string) (bid, ask polybot.Level, okb, oka bool) {
	d := s.engine.Depth(token, 1)
	if len(d.Bids) > 0 {
		bid, okb = d.Bids[0], true
	}
	if len(d.Asks) > 0 {
		ask, oka = d.Asks[0], true
	}
	return
}

func (s *Server) getMidpoint(w http.ResponseWriter, r *http.Request) error {
	t := tokenParam(r)
	if _, err := s.marketOf(t); err != nil {
		return err
	}
	bid, ask, okb, oka := s.best(t)
	if !okb || !oka {
		return fail(http.StatusNotFound, msgNoBook)
	}
	mid := polybot.DecimalFromMicros((bid.Price.Micros() + ask.Price.Micros()) / 2)
	return writeJSON(w, map[string]string{"mid": wire(mid)})
}

func (s *Server) getPrice(w http.ResponseWriter, r *http.Request) error {
	t := tokenParam(r)
	if _, err := s.marketOf(t); err != nil {
		return err
	}
	bid, ask, okb, oka := s.best(t)
	switch strings.ToUpper(r.URL.Query().Get("side")) {
	case "BUY":
		if okb {
			return writeJSON(w, map[string]string{"price": wire(bid.Price)})
		}
	case "SELL":
		if oka {
			return writeJSON(w, map[string]string{"price": wire(ask.Price)})
		}
	default:
		return fail(http.StatusBadRequest, "Invalid side")
	}
	return fail(http.StatusNotFound, msgNoBook)
}

func (s *Server) getLastTradePrice(w http.ResponseWriter, r *http.Request) error {
	t := tokenParam(r)
	if _, err := s.marketOf(t); err != nil {
		return err
	}
	s.mu.Lock()
	p := s.lastTrade[t]
	s.mu.Unlock()
	return writeJSON(w, map[string]string{"price": wire(p), "side": ""})
}

func (s *Server) getMarketByToken(w http.ResponseWriter, r *http.Request) error {
	t := r.PathValue("token_id")
	m, err := s.marketOf(t)
	if err != nil {
		return err
	}
	other := m.Tokens[0]
	if other == t {
		other = m.Tokens[1]
	}
	return writeJSON(w, map[string]string{"condition_id": m.ConditionID, "primary_token_id": m.Tokens[0], "secondary_token_id": other})
}

func (s *Server) getClobMarket(w http.ResponseWriter, r *http.Request) error {
	cid := r.PathValue("condition_id")
	s.mu.Lock()
	var m *market
	for _, x := range s.order {
		if strings.EqualFold(x.ConditionID, cid) {
			m = x
		}
	}
	s.mu.Unlock()
	if m == nil {
		return fail(http.StatusNotFound, "market not found")
	}
	return writeJSON(w, pm.ClobMarketInfoJSON(pm.ClobMarketInfo{ConditionID: m.ConditionID, TickSize: m.TickSize,
		MinOrderSize: m.MinOrderSize, FeeSchedule: m.FeeSchedule}, m.Tokens, m.Outcomes, m.NegRisk))
}

// ---- orders ----

func (s *Server) postOrder(w http.ResponseWriter, r *http.Request) error {
	var p pm.OrderPayload
	k, err := s.l2JSON(r, &p, msgInvalidPayload)
	if err != nil {
		return err
	}
	resp, err := s.placeOrder(k, p)
	if err != nil {
		return err
	}
	return writeJSON(w, resp)
}

func (s *Server) postOrders(w http.ResponseWriter, r *http.Request) error {
	var ps []pm.OrderPayload
	k, err := s.l2JSON(r, &ps, msgInvalidPayload)
	if err != nil {
		return err
	}
	out := make([]pm.PostOrderResponse, 0, len(ps))
	for _, p := range ps {
		resp, err := s.placeOrder(k, p)
		if err != nil {
			var ve *venueError
			msg := err.Error()
			if errors.As(err, &ve) {
				msg = ve.msg
			}
			resp = pm.PostOrderResponse{ErrorMsg: msg}
		}
		out = append(out, resp)
	}
	return writeJSON(w, out)
}

// placeOrder checks and submits one signed order for API key k.
func (s *Server) placeOrder(k *apiKey, p pm.OrderPayload) (resp pm.PostOrderResponse, err error) {
	var so *pm.SignedOrder
	defer func() { s.recordSubmission(p.Owner, so, resp, err) }()
	if p.Owner != k.creds.Key {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgOwnerMismatch)
	}
	so, err = p.Order.Parse()
	if err != nil {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgInvalidPayload)
	}
	token := so.TokenID.String()
	m, err := s.marketOf(token)
	if err != nil {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgInvalidToken)
	}
	dom := s.stdDom
	if m.NegRisk {
		dom = s.negDom
	}
	hash, err := dom.VerifyOrder(&so.OrderV2, so.Signature)
	if err != nil {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgBadSignature)
	}
	if so.Signer != k.acct.addr {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgSignerMismatch)
	}
	id := pm.OrderID(hash)
	side := so.Side
	price, size, err := s.priceAndSize(m, side, so.MakerAmount.Int64(), so.TakerAmount.Int64(), so.MakerAmount.IsInt64() && so.TakerAmount.IsInt64())
	if err != nil {
		return pm.PostOrderResponse{}, err
	}
	tif := p.OrderType
	if tif == "" {
		tif = polybot.GTC
	}
	req := matching.Request{Book: token, Account: engineAccount(k.acct), OrderID: id, Side: side,
		Price: price, Size: size, TIF: tif, PostOnly: p.PostOnly}
	exp := so.Expiration.Int64()
	switch tif {
	case polybot.GTD:
		if exp <= 0 {
			return pm.PostOrderResponse{}, fail(http.StatusBadRequest, "invalid expiration")
		}
		req.Expires = time.Unix(exp, 0)
	case polybot.GTC, polybot.FOK, polybot.FAK:
	default:
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgInvalidPayload)
	}
	if m.MinOrderSize.Sign() > 0 && size.LessThan(m.MinOrderSize) {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest,
			fmt.Sprintf("Size (%s) lower than the minimum: %s", wire(size), wire(m.MinOrderSize)))
	}

	s.orderMu.Lock()
	defer s.orderMu.Unlock()
	if err := s.checkFunds(k.acct, token, side, price, size); err != nil {
		return pm.PostOrderResponse{}, err
	}
	s.mu.Lock()
	if s.orders[id] != nil {
		s.mu.Unlock()
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgDuplicate)
	}
	meta := &orderMeta{id: id, owner: k.creds.Key, acct: k.acct, token: token, tif: tif, expiration: exp, created: s.cfg.Now()}
	s.orders[id] = meta
	s.mu.Unlock()
	res, err := s.engine.Submit(req)
	if err != nil {
		s.mu.Lock()
		delete(s.orders, id)
		s.mu.Unlock()
		return pm.PostOrderResponse{}, err
	}
	s.waitSeq(s.engine.Depth(token, 1).Seq)
	o := res.Order
	if o.State == polybot.OrderRejected {
		msg := o.Reason
		switch {
		case tif == polybot.FOK:
			msg = msgFOKKilled
		case o.Reason == matching.ReasonPostOnly:
			msg = "invalid post-only order: order crosses book"
		}
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msg)
	}
	if tif == polybot.FAK && o.Filled.IsZero() {
		return pm.PostOrderResponse{}, fail(http.StatusBadRequest, msgFAKNoMatch)
	}
	resp = pm.PostOrderResponse{Success: true, OrderID: id, Status: "live",
		TransactionsHashes: []string{}, TradeIDs: []string{}}
	if o.Filled.Sign() > 0 {
		resp.Status = "matched"
		spent := polybot.Zero
		for _, t := range res.Trades {
			spent = spent.Add(t.Price.Mul(t.Size))
			resp.TradeIDs = append(resp.TradeIDs, t.ID)
			resp.TransactionsHashes = append(resp.TransactionsHashes, "0x"+hex.EncodeToString(sha256Sum([]byte("tx/"+t.ID))))
		}
		// Shares and dollars exchanged so far, as decimal strings.
		if side == polybot.Buy {
			resp.MakingAmount, resp.TakingAmount = wire(spent), wire(o.Filled)
		} else {
			resp.MakingAmount, resp.TakingAmount = wire(o.Filled), wire(spent)
		}
		if o.State == polybot.OrderPartial && (tif == polybot.GTC || tif == polybot.GTD) {
			resp.Status = "live"
		}
	}
	return resp, nil
}

// priceAndSize recovers an order's limit price and share size from its
// signed amounts, and checks the price is on the market's tick.
func (s *Server) priceAndSize(m *market, side polybot.Side, maker, taker int64, ok bool) (polybot.Decimal, polybot.Decimal, error) {
	if !ok || maker <= 0 || taker <= 0 {
		return polybot.Zero, polybot.Zero, fail(http.StatusBadRequest, "invalid amounts")
	}
	dollars, shares := maker, taker
	if side == polybot.Sell {
		dollars, shares = taker, maker
	}
	s.mu.Lock()
	tick := m.TickSize
	s.mu.Unlock()
	// price = dollars/shares, rounded to the nearest tick.
	t := tick.Micros()
	q := new(big.Int).Mul(big.NewInt(dollars), big.NewInt(1_000_000))
	q.Quo(q, big.NewInt(shares))
	price := int64(-1)
	if q.IsInt64() {
		price = (q.Int64() + t/2) / t * t
	}
	p := polybot.DecimalFromMicros(price)
	if price <= 0 || p.LessThan(tick) || p.GreaterThan(polybot.One.Sub(tick)) {
		return polybot.Zero, polybot.Zero, fail(http.StatusBadRequest,
			fmt.Sprintf("invalid price, min: %s - max: %s", wire(tick), wire(polybot.One.Sub(tick))))
	}
	return p, polybot.DecimalFromMicros(shares), nil
}

// checkFunds refuses an order its wallet cannot pay for, counting what its
// open orders already reserve.
func (s *Server) checkFunds(a *account, token string, side polybot.Side, price, size polybot.Decimal) error {
	open := s.engine.OpenOrders(engineAccount(a), "")
	s.mu.Lock()
	defer s.mu.Unlock()
	if side == polybot.Buy {
		free := a.cash
		for _, o := range open {
			if o.Side == polybot.Buy {
				free = free.Sub(o.Remaining().Mul(o.Price))
			}
		}
		if free.LessThan(price.Mul(size)) {
			return fail(http.StatusBadRequest, msgNoBalance)
		}
		return nil
	}
	free := a.pos[token]
	for _, o := range open {
		if o.Side == polybot.Sell && o.Book == token {
			free = free.Sub(o.Remaining())
		}
	}
	if free.LessThan(size) {
		return fail(http.StatusBadRequest, msgNoBalance)
	}
	return nil
}

// ownedOrder returns an order of k's wallet.
func (s *Server) ownedOrder(k *apiKey, id string) (*orderMeta, matching.Order, bool) {
	s.mu.Lock()
	meta := s.orders[strings.ToLower(id)]
	s.mu.Unlock()
	if meta == nil || meta.acct != k.acct {
		return nil, matching.Order{}, false
	}
	o, err := s.engine.Order(meta.id)
	if err != nil {
		return nil, matching.Order{}, false
	}
	return meta, o, true
}

func (s *Server) cancelIDs(k *apiKey, ids []string) pm.CancelResponse {
	resp := pm.CancelResponse{Canceled: []string{}, NotCanceled: map[string]string{}}
	for _, id := range ids {
		meta, o, ok := s.ownedOrder(k, id)
		switch {
		case !ok:
			resp.NotCanceled[id] = "order not found"
		case o.Done():
			resp.NotCanceled[id] = "order can't be canceled, it is already canceled or matched"
		default:
			if _, err := s.engine.Cancel(meta.id); err != nil {
				resp.NotCanceled[id] = "order can't be canceled, it is already canceled or matched"
				continue
			}
			resp.Canceled = append(resp.Canceled, meta.id)
		}
	}
	s.Sync()
	return resp
}

func (s *Server) deleteOrder(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		OrderID string `json:"orderID"`
	}
	k, err := s.l2JSON(r, &req, "Invalid order id")
	if err != nil {
		return err
	}
	if req.OrderID == "" {
		return fail(http.StatusBadRequest, "Invalid order id")
	}
	return writeJSON(w, s.cancelIDs(k, []string{req.OrderID}))
}

func (s *Server) deleteOrders(w http.ResponseWriter, r *http.Request) error {
	var ids []string
	k, err := s.l2JSON(r, &ids, "Invalid payload")
	if err != nil {
		return err
	}
	return writeJSON(w, s.cancelIDs(k, ids))
}

func (s *Server) cancelAll(w http.ResponseWriter, r *http.Request) error {
	k, err := s.l2(r, nil)
	if err != nil {
		return err
	}
	resp := pm.CancelResponse{Canceled: []string{}, NotCanceled: map[string]string{}}
	for _, o := range s.engine.CancelAll(engineAccount(k.acct), "") {
		resp.Canceled = append(resp.Canceled, o.ID)
	}
	s.Sync()
	return writeJSON(w, resp)
}

func (s *Server) cancelMarketOrders(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Market  string `json:"market"`
		AssetID string `json:"asset_id"`
	}
	k, err := s.l2JSON(r, &req, "")
	if err != nil {
		return err
	}
	var ids []string
	for _, o := range s.engine.OpenOrders(engineAccount(k.acct), req.AssetID) {
		s.mu.Lock()
		m := s.markets[o.Book]
		s.mu.Unlock()
		if req.Market == "" || (m != nil && strings.EqualFold(m.ConditionID, req.Market)) {
			ids = append(ids, o.ID)
		}
	}
	return writeJSON(w, s.cancelIDs(k, ids))
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	k, err := s.l2(r, nil)
	if err != nil {
		return err
	}
	meta, o, ok := s.ownedOrder(k, r.PathValue("id"))
	if !ok {
		return fail(http.StatusNotFound, "order not found")
	}
	s.mu.Lock()
	j := s.openOrderJSON(meta, o)
	s.mu.Unlock()
	return writeJSON(w, j)
}

func (s *Server) getOrders(w http.ResponseWriter, r *http.Request) error {
	k, err := s.l2(r, nil)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out := []pm.OpenOrderJSON{}
	for _, o := range s.engine.OpenOrders(engineAccount(k.acct), q.Get("asset_id")) {
		s.mu.Lock()
		meta := s.orders[o.ID]
		var j pm.OpenOrderJSON
		if meta != nil {
			j = s.openOrderJSON(meta, o)
		}
		s.mu.Unlock()
		if meta == nil || (q.Get("id") != "" && !strings.EqualFold(q.Get("id"), o.ID)) ||
			(q.Get("market") != "" && !strings.EqualFold(q.Get("market"), j.Market)) {
			continue
		}
		out = append(out, j)
	}
	return writeJSON(w, pm.Page[pm.OpenOrderJSON]{Limit: len(out), Count: len(out), NextCursor: pm.EndCursor, Data: out})
}

// getTrades lists the trades of the caller's wallet, from its side.
func (s *Server) getTrades(w http.ResponseWriter, r *http.Request) error {
	k, err := s.l2(r, nil)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	out := []pm.TradeJSON{}
	s.mu.Lock()
	for _, t := range s.trades {
		j := t.j
		switch k.acct {
		case t.taker:
		case t.maker:
			j.TraderSide = "MAKER"
		default:
			continue
		}
		if (q.Get("id") != "" && q.Get("id") != j.ID) || (q.Get("market") != "" && !strings.EqualFold(q.Get("market"), j.Market)) ||
			(q.Get("asset_id") != "" && q.Get("asset_id") != j.AssetID) ||
			(after > 0 && t.at.Unix() < after) || (before > 0 && t.at.Unix() >= before) {
			continue
		}
		out = append(out, j)
	}
	s.mu.Unlock()
	return writeJSON(w, pm.Page[pm.TradeJSON]{Limit: len(out), Count: len(out), NextCursor: pm.EndCursor, Data: out})
}

func (s *Server) getBalanceAllowance(w http.ResponseWriter, r *http.Request) error {
	k, err := s.l2(r, nil)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	s.mu.Lock()
	bal := k.acct.cash
	if strings.EqualFold(q.Get("asset_type"), "CONDITIONAL") {
		bal = k.acct.pos[q.Get("token_id")]
	}
	s.mu.Unlock()
	max := "115792089237316195423570985008687907853269984665640564039457584007913129639935"
	return writeJSON(w, pm.BalanceAllowanceResponse{Balance: strconv.FormatInt(bal.Micros(), 10),
		Allowances: map[string]string{s.stdDom.Contract.String(): max, s.negDom.Contract.String(): max}})
}

// ---- Gamma and Data APIs ----

func (s *Server) gammaMarkets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, m := range s.order {
		if q.Get("slug") != "" && q.Get("slug") != m.Slug {
			continue
		}
		if ids := q["condition_ids"]; len(ids) > 0 && !slices.ContainsFunc(ids, func(x string) bool { return strings.EqualFold(x, m.ConditionID) }) {
			continue
		}
		if ids := q["clob_token_ids"]; len(ids) > 0 && !slices.Contains(ids, m.Tokens[0]) && !slices.Contains(ids, m.Tokens[1]) {
			continue
		}
		if q.Get("closed") == "true" {
			continue
		}
		out = append(out, pm.GammaMarketJSON(gammaMarket(m)))
	}
	off, _ := strconv.Atoi(q.Get("offset"))
	if off > 0 {
		out = out[min(off, len(out)):]
	}
	if lim, _ := strconv.Atoi(q.Get("limit")); lim > 0 && lim < len(out) {
		out = out[:lim]
	}
	return writeJSON(w, out)
}

func (s *Server) walletParam(r *http.Request) (*account, error) {
	addr, err := eip712.ParseAddress(r.URL.Query().Get("user"))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "invalid user address")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[addr], nil
}

func (s *Server) dataPositions(w http.ResponseWriter, r *http.Request) error {
	a, err := s.walletParam(r)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	if a == nil {
		return writeJSON(w, out)
	}
	s.mu.Lock()
	tokens := make([]string, 0, len(a.pos))
	for t := range a.pos {
		tokens = append(tokens, t)
	}
	slices.Sort(tokens)
	for _, t := range tokens {
		size := a.pos[t]
		m := s.markets[t]
		if size.Sign() == 0 || m == nil {
			continue
		}
		idx := 0
		if m.Tokens[1] == t {
			idx = 1
		}
		ap := avg(a.cost[t], size)
		cur := s.lastTrade[t]
		out = append(out, map[string]any{
			"proxyWallet": a.addr.String(), "asset": t, "conditionId": m.ConditionID,
			"size": json.Number(wire(size)), "avgPrice": json.Number(wire(ap)), "curPrice": json.Number(wire(cur)),
			"initialValue": json.Number(wire(a.cost[t])), "currentValue": json.Number(wire(cur.Mul(size))),
			"cashPnl": json.Number(wire(cur.Mul(size).Sub(a.cost[t]))), "realizedPnl": json.Number("0"),
			"outcome": m.Outcomes[idx], "outcomeIndex": idx, "oppositeAsset": m.Tokens[1-idx],
			"title": m.Question, "slug": m.Slug, "negativeRisk": m.NegRisk,
		})
	}
	s.mu.Unlock()
	return writeJSON(w, out)
}

func (s *Server) dataTrades(w http.ResponseWriter, r *http.Request) error {
	return s.dataRows(w, r, false)
}

func (s *Server) dataActivity(w http.ResponseWriter, r *http.Request) error {
	return s.dataRows(w, r, true)
}
