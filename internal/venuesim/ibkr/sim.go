// Package ibkr is a wire-compatible simulator of IBKR's Client Portal
// Gateway (the Web API under /v1/api) for tests and demos: the session
// (auth status, tickle, ssodh init, reauthenticate), the account list,
// secdef search and info, the ForecastEx event-contract endpoints
// (/forecast/category/tree, /forecast/contract/{market,details,rules,
// schedules}), orders with cOID and reply questions, order status, cancel,
// live orders and trades, positions, the ledger and summary, the market-data
// snapshot and the WebSocket (/v1/api/ws, "smd+<conid>" subscriptions).
// The shapes follow recorded gateway answers (internal/venue/ibkr/testdata).
//
// Sessions are checked as the gateway checks them: while nobody is signed in
// to the gateway every endpoint answers 401; while signed in without a
// brokerage session, /iserver/... endpoints answer 401 until ssodh init or
// reauthenticate opens it. A competing session shows in the auth status.
//
// ForecastEx contracts are options (YES a call, NO a put), each conid one
// book in the shared matching engine (internal/venuesim/matching), traded
// in $0.01 ticks and whole contracts. Sell orders of event contracts are
// refused: a position is reduced by buying the opposite contract, and the
// simulator nets a YES and a NO of one question into $1 of cash, as IBKR
// does. Stocks are books too, and sell as usual. A limit more than
// Config.PriceDeviation through the market (a buy above the best offer, a
// sell below the best bid) asks the "price exceeds the Percentage
// constraint" question (message id o163), which must be confirmed through
// /iserver/reply/{id}. Client order ids
// (cOID) are unique per account.
//
// It must not import the IBKR connector (internal/venue/ibkr): the two meet
// only over sockets. Nor may it import a store, the server or the engine.
//
// Faults are the simulators' shared ones (internal/venuesim/fault): latency,
// fail or rate-limit every N, planned rules, timeout after accept and
// dropped WebSockets, set by Config.Faults, Faults() or AdminPath/faults.
package ibkr

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venuesim/fault"
	"github.com/polybot/polybot/internal/venuesim/loopback"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// DefaultAddr is where the simulator listens when given no address.
const DefaultAddr = "127.0.0.1:8424"

// Config configures a simulator.
type Config struct {
	// Addr is where Start listens when it is given no address
	// (DefaultAddr when empty; "127.0.0.1:0" picks a free port).
	Addr     string
	Accounts []AccountConfig
	// Markets are the ForecastEx markets listed (FedMarket when nil and
	// NoDefaultMarket is false).
	Markets         []MarketConfig
	NoDefaultMarket bool
	// Stocks are the stocks listed (SPY when nil).
	Stocks []StockConfig
	// Books are starting external liquidity, by conid.
	Books []BookConfig
	// SignedOut starts the gateway with nobody signed in (every endpoint
	// 401) instead of an authenticated brokerage session.
	SignedOut bool
	// PriceDeviation is how far (a fraction, 0.10 when zero: the
	// simulator's choice; IBKR sets its own per account and product) a
	// limit may go through the market (a buy above the best offer, a sell
	// below the best bid, else the last trade) before the o163 question is
	// asked.
	PriceDeviation polybot.Decimal
	// Faults is the standing fault plan (internal/venuesim/fault); more
	// can be added while it runs (Faults, or POST AdminPath/faults).
	Faults fault.Config
	// Replay, when set, is replayed into the books (ForecastEx instruments:
	// Token the contract's conid, or Market the YES conid and Outcome;
	// stocks: Market the symbol).
	Replay []polybot.BookEvent
	// ReplaySpeed paces Replay (1 = real time; ≤ 0 as fast as possible);
	// ReplayLoop starts it again at the end.
	ReplaySpeed float64
	ReplayLoop  bool
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// AccountConfig is one brokerage account the session may trade.
type AccountConfig struct {
	ID   string          `json:"id"`
	Cash polybot.Decimal `json:"cash"`
}

// StockConfig is one listed stock.
type StockConfig struct {
	Symbol  string `json:"symbol"`
	Conid   int64  `json:"conid"`
	Company string `json:"company"`
}

// BookConfig is one contract's external liquidity.
type BookConfig struct {
	Conid int64           `json:"conid"`
	Bids  []polybot.Level `json:"bids"`
	Asks  []polybot.Level `json:"asks"`
}

// Server is a running (or ready) simulator.
type Server struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
	eng *matching.Engine

	// opMu serialises engine operations, so that an operation's fills are
	// booked before it returns.
	opMu sync.Mutex

	mu        sync.Mutex
	signedIn  bool
	authed    bool
	competing bool
	session   string
	accounts  map[string]*account
	contracts map[int64]*contract // conid -> contract
	markets   []*market
	stocks    map[string]*contract // symbol -> stock
	orders    map[string]*orderMeta
	replies   map[string]*pendingOrder
	lastPx    map[int64]polybot.Decimal
	nextID    int64
	ws        map[*wsClient]bool

	faults *fault.Injector
	srv    *loopback.Server
}

type account struct {
	id        string
	cash      polybot.Decimal
	positions map[int64]*matching.Holding
	orders    []string // engine order ids, oldest first
	coids     map[string]string
	trades    []execution
}

type orderMeta struct {
	account   string
	conid     int64
	orderType string // LMT | MKT
	tif       string
	coid      string
	ibID      string // IBKR's numeric order id
	filled    polybot.Decimal
	notional  polybot.Decimal
	lastExec  time.Time
}

type pendingOrder struct {
	account string
	req     orderRequest
}

type execution struct {
	id, orderID, coid string
	conid             int64
	side              polybot.Side
	price, size       polybot.Decimal
	at                time.Time
}

// New returns a simulator; Start serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PriceDeviation.Sign() <= 0 {
		cfg.PriceDeviation = polybot.NewDecimal(10, 2)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, now: cfg.Now, log: log.With("sim", "ibkr"), signedIn: !cfg.SignedOut, authed: !cfg.SignedOut,
		session: fmt.Sprintf("%x", cfg.Now().UnixNano()), accounts: map[string]*account{}, contracts: map[int64]*contract{},
		stocks: map[string]*contract{}, orders: map[string]*orderMeta{}, replies: map[string]*pendingOrder{},
		lastPx: map[int64]polybot.Decimal{}, nextID: 1_000_000_000, ws: map[*wsClient]bool{}, faults: fault.New(cfg.Faults)}
	s.faults.OnDrop(s.dropSockets)
	s.eng = matching.New(matching.Config{Now: cfg.Now, SelfTrade: matching.STPCancelTaker, IDPrefix: "i"})
	s.eng.Subscribe("", s.onUpdate)
	markets := cfg.Markets
	if markets == nil && !cfg.NoDefaultMarket {
		markets = []MarketConfig{FedMarket()}
	}
	for _, m := range markets {
		if err := s.AddMarket(m); err != nil {
			return nil, err
		}
	}
	stocks := cfg.Stocks
	if stocks == nil {
		stocks = []StockConfig{{Symbol: "SPY", Conid: 756733, Company: "SPDR S&P 500 ETF TRUST"}}
	}
	for _, st := range stocks {
		if err := s.AddStock(st); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Accounts {
		if err := s.AddAccount(a); err != nil {
			return nil, err
		}
	}
	for _, b := range cfg.Books {
		if err := s.SetBook(b.Conid, b.Bids, b.Asks); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Faults returns the REST and WebSocket faults, changeable while the
// simulator runs (rule paths after /v1/api, such as
// "/iserver/account/DU1/orders").
func (s *Server) Faults() *fault.Injector { return s.faults }

// Engine returns the matching engine (tests).
func (s *Server) Engine() *matching.Engine { return s.eng }

// AddAccount adds an account to the session's list; adding an id again
// sets its cash and keeps its orders and positions.
func (s *Server) AddAccount(a AccountConfig) error {
	v := polybot.Validation{}
	if a.ID == "" {
		v.Add("id", "is required")
	}
	if a.Cash.Sign() < 0 {
		v.Add("cash", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if acc, ok := s.accounts[a.ID]; ok {
		acc.cash = a.Cash
		return nil
	}
	s.accounts[a.ID] = &account{id: a.ID, cash: a.Cash, positions: map[int64]*matching.Holding{}, coids: map[string]string{}}
	return nil
}

// AddStock lists a stock.
func (s *Server) AddStock(st StockConfig) error {
	if st.Symbol == "" || st.Conid <= 0 {
		return polybot.FieldError("stock", "needs a symbol and a positive conid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.contracts[st.Conid]; ok {
		return polybot.Errorf(polybot.ECONFLICT, "conid %d is already listed", st.Conid)
	}
	c := &contract{conid: st.Conid, symbol: st.Symbol, secType: "STK", company: st.Company}
	s.contracts[st.Conid], s.stocks[st.Symbol] = c, c
	return nil
}

// SetBook replaces a contract's external liquidity. Simulated orders stay;
// external levels that cross them trade with them.
func (s *Server) SetBook(conid int64, bids, asks []polybot.Level) error {
	s.mu.Lock()
	_, ok := s.contracts[conid]
	s.mu.Unlock()
	if !ok {
		return polybot.Errorf(polybot.ENOTFOUND, "no contract %d", conid)
	}
	s.opMu.Lock()
	_, err := s.eng.SetExternal(strconv.FormatInt(conid, 10), bids, asks)
	s.opMu.Unlock()
	if err == nil {
		s.publish(conid)
	}
	return err
}

// SetSession sets the gateway's state: signedIn (someone signed in to the
// gateway), authenticated (the brokerage session is open) and competing
// (another session holds it).
func (s *Server) SetSession(signedIn, authenticated, competing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signedIn, s.authed, s.competing = signedIn, authenticated && signedIn, competing
}

// Cash returns an account's cash (tests).
func (s *Server) Cash(id string) polybot.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[id]; a != nil {
		return a.cash
	}
	return polybot.Zero
}

// apply puts one replayed event into the books: a ForecastEx instrument
// (Market the YES conid, Outcome YES or NO) or a stock (Market the symbol).
func (s *Server) apply(ev polybot.BookEvent) {
	if ev.Instrument.Venue != polybot.IBKR || (ev.Kind != polybot.BookSnapshot && ev.Kind != polybot.BookDelta) {
		return
	}
	conid, ok := s.conidOf(ev.Instrument)
	if !ok {
		return
	}
	s.opMu.Lock()
	var err error
	if ev.Kind == polybot.BookSnapshot {
		_, err = s.eng.SetExternal(strconv.FormatInt(conid, 10), ev.Bids, ev.Asks)
	} else {
		_, err = s.eng.UpdateExternal(strconv.FormatInt(conid, 10), ev.Bids, ev.Asks)
	}
	s.opMu.Unlock()
	if err != nil {
		s.log.Debug("ibkr sim: replayed event not applied", "conid", conid, "err", err)
		return
	}
	s.publish(conid)
}

func (s *Server) conidOf(inst polybot.Instrument) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst.Token != "" {
		id, err := strconv.ParseInt(inst.Token, 10, 64)
		if c, ok := s.contracts[id]; err != nil || !ok || c.secType != "OPT" {
			return 0, false
		}
		return id, true
	}
	if st, ok := s.stocks[inst.Market]; ok {
		return st.conid, true
	}
	yes, err := strconv.ParseInt(inst.Market, 10, 64)
	if err != nil {
		return 0, false
	}
	c, ok := s.contracts[yes]
	if !ok || c.secType != "OPT" {
		return 0, false
	}
	if inst.Outcome == polybot.No {
		return c.pair, true
	}
	return yes, true
}

// Start listens on addr ("" means Config.Addr, then DefaultAddr) and serves
// until ctx ends or Close is called. It returns the gateway's base URL
// (without /v1/api).
func (s *Server) Start(ctx context.Context, addr string) (string, error) {
	srv, err := loopback.Serve(ctx, "ibkr sim", s.Handler(), s.log, s.dropSockets, addr, s.cfg.Addr, DefaultAddr)
	if err != nil {
		return "", err
	}
	s.srv = srv
	s.faults.Start(ctx)
	if len(s.cfg.Replay) > 0 {
		go func() {
			for {
				err := replay.Play(ctx, replay.Events(s.cfg.Replay), replay.Options{Speed: s.cfg.ReplaySpeed}, s.apply)
				if err != nil || !s.cfg.ReplayLoop {
					return
				}
			}
		}()
	}
	return "http://" + srv.Addr, nil
}

// dropSockets closes every WebSocket connection.
func (s *Server) dropSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.ws {
		c.close()
	}
}

// Close stops a started simulator and waits for it.
func (s *Server) Close() { _ = s.srv.Close() }
