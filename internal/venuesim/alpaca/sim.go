// Package alpaca is a wire-compatible simulator of Alpaca's Trading API v2
// for tests, demos and Alpaca's official SDKs: the account, orders (market
// and limit; day, gtc, ioc and fok), orders by client order id, cancels,
// positions and FILL activities on loopback, with the documented JSON
// shapes and errors, and keys checked as Alpaca checks them (the
// APCA-API-KEY-ID and APCA-API-SECRET-KEY headers; 401 otherwise).
//
// Each symbol is one book in the shared matching engine
// (internal/venuesim/matching), whose external liquidity the config or
// SetBook sets. A limit order rests and matches there; a market order takes
// what the book holds and the rest is cancelled (the simulator has no
// liquidity beyond its books). Day orders rest like gtc ones: the simulator
// has no trading session. Accounts are cash accounts (multiplier 1, no
// shorting): a buy needs buying power, a sell needs the shares, and fills
// move cash and positions.
//
// It must not import the Alpaca connector (internal/venue/alpaca): the two
// meet only over sockets, so a shared bug cannot hide. Nor may it import a
// store, the server or the engine.
package alpaca

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/fault"
	"github.com/polybot/polybot/internal/venuesim/loopback"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// DefaultAddr is where the simulator listens when given no address.
const DefaultAddr = "127.0.0.1:8423"

// Config configures a simulator.
type Config struct {
	// Addr is where Start listens when it is given no address
	// (DefaultAddr when empty; "127.0.0.1:0" picks a free port).
	Addr     string
	Accounts []AccountConfig
	// Books are the symbols traded and their starting liquidity.
	Books []BookConfig
	// Faults is the standing fault plan (tests add more with Faults()).
	Faults fault.Config
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// AccountConfig registers an API key pair with starting cash.
type AccountConfig struct {
	KeyID  string          `json:"key_id"`
	Secret string          `json:"secret_key"`
	Cash   polybot.Decimal `json:"cash"`
}

// BookConfig is a symbol and its external liquidity.
type BookConfig struct {
	Symbol string          `json:"symbol"`
	Bids   []polybot.Level `json:"bids"`
	Asks   []polybot.Level `json:"asks"`
}

// Server is a running (or ready) simulator.
type Server struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
	eng *matching.Engine
	// stream is the market-data stream (stream.go).
	stream stream

	// opMu serialises engine operations, so that an operation's fills are
	// booked before it returns (the engine's callbacks run under it).
	opMu sync.Mutex

	// mu guards everything below.
	mu       sync.Mutex
	accounts map[string]*account // key id -> account
	symbols  map[string]bool
	meta     map[string]*orderMeta // order id -> what the engine does not keep
	lastPx   map[string]polybot.Decimal

	faults *fault.Injector

	srv *loopback.Server
}

type account struct {
	id, number string
	keyID      string
	secret     string
	cash       polybot.Decimal
	positions  map[string]*matching.Holding
	orders     []string // order ids, oldest first
	fills      []activity
	created    time.Time
}

type orderMeta struct {
	account  string
	typ      string // market | limit
	tif      string // day | gtc | ioc | fok
	qty      polybot.Decimal
	filled   polybot.Decimal
	notional polybot.Decimal
	filledAt time.Time
}

// activity is one FILL account activity.
type activity struct {
	id, orderID, symbol, side string
	price, qty, cum, leaves   polybot.Decimal
	at                        time.Time
}

// New returns a simulator; Start serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, now: cfg.Now, log: log.With("sim", "alpaca"), accounts: map[string]*account{},
		symbols: map[string]bool{}, meta: map[string]*orderMeta{}, lastPx: map[string]polybot.Decimal{},
		faults: fault.New(cfg.Faults)}
	s.eng = matching.New(matching.Config{Now: cfg.Now, SelfTrade: matching.STPCancelTaker, IDPrefix: "a"})
	s.stream = stream{s: s, conns: map[*streamConn]struct{}{}, last: map[string]quoteWire{}}
	s.faults.OnDrop(s.DropStreams)
	s.eng.Subscribe("", s.onUpdate)
	for _, a := range cfg.Accounts {
		if err := s.AddAccount(a); err != nil {
			return nil, err
		}
	}
	for _, b := range cfg.Books {
		if err := s.SetBook(b.Symbol, b.Bids, b.Asks); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Faults returns the REST faults, changeable while the simulator runs (rule
// paths as routed, such as "/v2/orders"); its socket drops close the
// market-data stream's connections.
func (s *Server) Faults() *fault.Injector { return s.faults }

// Engine returns the matching engine (tests).
func (s *Server) Engine() *matching.Engine { return s.eng }

// AddAccount registers a key pair; registering a key id again replaces its
// secret and cash and keeps its orders and positions.
func (s *Server) AddAccount(a AccountConfig) error {
	v := polybot.Validation{}
	if a.KeyID == "" {
		v.Add("key_id", "is required")
	}
	if a.Secret == "" {
		v.Add("secret_key", "is required")
	}
	if a.Cash.Sign() < 0 {
		v.Add("cash", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if acc, ok := s.accounts[a.KeyID]; ok {
		acc.secret, acc.cash = a.Secret, a.Cash
		return nil
	}
	s.accounts[a.KeyID] = &account{id: polybot.NewID().String(), number: fmt.Sprintf("PA%08d", len(s.accounts)+1),
		keyID: a.KeyID, secret: a.Secret, cash: a.Cash, positions: map[string]*matching.Holding{}, created: s.now()}
	return nil
}

// SetBook makes symbol tradable and replaces its external liquidity.
// Simulated orders stay; external levels that cross them trade with them.
func (s *Server) SetBook(symbol string, bids, asks []polybot.Level) error {
	if symbol == "" {
		return polybot.FieldError("symbol", "is required")
	}
	s.mu.Lock()
	s.symbols[symbol] = true
	s.mu.Unlock()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	_, err := s.eng.SetExternal(symbol, bids, asks)
	return err
}

// Cash returns an account's cash (tests).
func (s *Server) Cash(keyID string) polybot.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[keyID]; a != nil {
		return a.cash
	}
	return polybot.Zero
}

// onUpdate books every trade of a simulated order into its account.
func (s *Server) onUpdate(u matching.Update) {
	if len(u.Trades) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range u.Trades {
		s.lastPx[t.Book] = t.Price
		for _, l := range t.Legs() {
			s.book(l, t)
		}
	}
}

func (s *Server) book(l matching.Leg, t matching.Trade) {
	a := s.accounts[l.Account]
	if a == nil {
		return // the market's own liquidity
	}
	amount, _ := matching.Settle(&a.cash, a.positions, t.Book, l.Side, t.Price, t.Size)
	suffix, orderID, symbol, side := l.Tag(), l.OrderID, t.Book, l.Side
	f := activity{id: t.Time.UTC().Format("20060102150405.000000") + "::" + t.ID + suffix, orderID: orderID,
		symbol: symbol, side: sideWire(side), price: t.Price, qty: t.Size, at: t.Time}
	if m := s.meta[orderID]; m != nil {
		m.filled = m.filled.Add(t.Size)
		m.notional = m.notional.Add(amount)
		m.filledAt = t.Time
		f.cum, f.leaves = m.filled, m.qty.Sub(m.filled)
	}
	a.fills = append(a.fills, f)
}

// Start listens on addr ("" means Config.Addr, then DefaultAddr) and serves
// until ctx ends or Close is called. It returns the base URL (what the SDKs
// take as their base, without /v2).
func (s *Server) Start(ctx context.Context, addr string) (string, error) {
	srv, err := loopback.Serve(ctx, "alpaca sim", s.Handler(), s.log, nil, addr, s.cfg.Addr, DefaultAddr)
	if err != nil {
		return "", err
	}
	s.srv = srv
	s.faults.Start(ctx)
	return "http://" + srv.Addr, nil
}

// Close stops a started simulator and waits for it.
func (s *Server) Close() { _ = s.srv.Close() }
