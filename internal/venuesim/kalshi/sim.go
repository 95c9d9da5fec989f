// Package kalshi is a wire-compatible simulator of Kalshi's Trade API v2 for
// tests, demos and official SDKs: the REST routes and the WebSocket channels
// (orderbook_snapshot/orderbook_delta with per-subscription seq, ticker,
// trade, fill) on loopback, RSA-PSS authentication verified as Kalshi does
// it, accounts with balances and positions, fees, a replay of recorded data
// (the cross-venue recording, and multi-outcome events served as mutually
// exclusive events with their markets), a synthetic load feed, and fault
// injection per test.
//
// A Kalshi market is one YES book in the shared matching engine
// (internal/venuesim/matching): a NO buy at p is a YES sell at 1−p, and the
// published book is the bids-only view (YES bids, and NO bids at 1 − each
// YES ask).
//
// It must not import the Kalshi connector (internal/venue/kalshi): the two
// meet only over sockets, so a shared bug cannot hide. Nor may it import a
// store, the server or the engine.
package kalshi

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venuesim/fault"
	"github.com/polybot/polybot/internal/venuesim/loopback"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// Default listen address of `polybot sim` for Kalshi.
const DefaultAddr = "127.0.0.1:8421"

// Path prefixes, as on the real venue.
const (
	RESTPrefix = "/trade-api/v2"
	WSPath     = "/trade-api/ws/v2"
	AdminPath  = "/sim/v1"
)

// Config configures a simulator. The zero value serves the default market
// with no accounts.
type Config struct {
	// Addr is where Start listens when it is given no address
	// (DefaultAddr when empty; "127.0.0.1:0" picks a free port).
	Addr string
	// Accounts are registered at start.
	Accounts []AccountConfig
	// Series and Markets are what the venue lists. Empty Markets means
	// DefaultMarkets.
	Series  []SeriesConfig
	Markets []MarketConfig
	// Replay, when set, replays recorded best bids into the books.
	Replay *ReplayConfig
	// Synthetic, when set, drives a generated load feed.
	Synthetic *SyntheticConfig
	// Events are multi-outcome events (Kalshi sets only): each is listed
	// as a mutually exclusive event (GET /events, /events/{ticker}) whose
	// series is its ticker's prefix, its outcome markets listed like any
	// other (yes_sub_title the outcome's label), and its books replayed
	// into the matching engine and the orderbook channel, paced by
	// EventSpeed (1 = real time, ≤ 0 as fast as possible) and started
	// again at the end when EventLoop is set.
	Events     []*replay.EventRecording
	EventSpeed float64
	EventLoop  bool
	// Faults is the standing fault plan (tests add more with Faults()).
	Faults fault.Config
	// TimestampPast and TimestampFuture bound how far a signed timestamp
	// may lie behind or ahead of the clock (20 s and 60 s when zero).
	TimestampPast, TimestampFuture time.Duration
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// AccountConfig registers an API key. PublicKeyPEM is a PKIX ("PUBLIC KEY")
// or PKCS#1 ("RSA PUBLIC KEY") PEM; a private key PEM is accepted too and
// only its public half is kept.
type AccountConfig struct {
	KeyID        string          `json:"key_id"`
	PublicKeyPEM string          `json:"public_key_pem"`
	Balance      polybot.Decimal `json:"balance_dollars"`
}

// SeriesConfig is a series and its fee schedule.
type SeriesConfig struct {
	Ticker        string          `json:"ticker"`
	Title         string          `json:"title"`
	FeeType       string          `json:"fee_type"`       // quadratic (default), quadratic_with_maker_fees, flat
	FeeMultiplier polybot.Decimal `json:"fee_multiplier"` // 0 means 1
}

// MarketConfig is one binary market.
type MarketConfig struct {
	Ticker       string `json:"ticker"`
	EventTicker  string `json:"event_ticker"`
	SeriesTicker string `json:"series_ticker"`
	Title        string `json:"title"`
	// YesSubTitle names the outcome the market pays YES on in its event
	// ("Cut 25bps"); empty means "Yes".
	YesSubTitle string `json:"yes_sub_title,omitempty"`
}

// EventConfig is an event's own fields. An event the simulator has no
// EventConfig for is described from its markets, not mutually exclusive.
type EventConfig struct {
	Ticker       string `json:"event_ticker"`
	SeriesTicker string `json:"series_ticker"`
	Title        string `json:"title"`
	SubTitle     string `json:"sub_title"`
	// MutuallyExclusive says at most one of the event's markets resolves
	// YES.
	MutuallyExclusive bool `json:"mutually_exclusive"`
}

// FedTicker is the market the cross-venue recording drives.
const FedTicker = "KXFEDDECISION-25DEC-H0"

// DefaultMarkets is the market list of a simulator configured with none.
func DefaultMarkets() ([]SeriesConfig, []MarketConfig) {
	return []SeriesConfig{{Ticker: "KXFEDDECISION", Title: "Fed decision", FeeType: "quadratic"}},
		[]MarketConfig{{Ticker: FedTicker, EventTicker: "KXFEDDECISION-25DEC", SeriesTicker: "KXFEDDECISION",
			Title: "Will the Fed hold rates at its December 2025 meeting?"}}
}

// URLs are where a started simulator answers.
type URLs struct {
	REST  string // http://127.0.0.1:port/trade-api/v2
	WS    string // ws://127.0.0.1:port/trade-api/ws/v2
	Admin string // http://127.0.0.1:port/sim/v1
}

// Server is a running (or ready) simulator.
type Server struct {
	cfg Config
	now func() time.Time
	log *slog.Logger
	eng *matching.Engine

	// opMu serialises every engine operation, so that an operation's
	// updates (accounting, WebSocket messages) are delivered before it
	// returns. The engine's callbacks run under it.
	opMu sync.Mutex

	// mu guards everything below.
	mu       sync.Mutex
	keys     map[string]*rsa.PublicKey // key id -> public key
	accounts map[string]*account       // key id -> account
	series   map[string]*SeriesConfig
	events   map[string]*EventConfig
	markets  map[string]*market
	order    []string              // market tickers in listing order
	meta     map[string]*orderMeta // engine order id -> what the engine does not keep
	conns    map[*wsConn]struct{}
	faults   *fault.Injector
	skipSeq  map[string]int // ticker -> deltas whose seq should skip one
	subs     []Submission   // every order request received, oldest first

	srv   *loopback.Server
	unsub func()
}

type market struct {
	MarketConfig
	volume   polybot.Decimal
	lastPx   polybot.Decimal
	created  time.Time
	lastTick [2]polybot.Decimal // last published yes bid/ask
}

// New returns a simulator; Start serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimestampPast <= 0 {
		cfg.TimestampPast = 20 * time.Second
	}
	if cfg.TimestampFuture <= 0 {
		cfg.TimestampFuture = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, now: cfg.Now, log: log.With("sim", "kalshi"),
		keys: map[string]*rsa.PublicKey{}, accounts: map[string]*account{}, series: map[string]*SeriesConfig{}, events: map[string]*EventConfig{},
		markets: map[string]*market{}, meta: map[string]*orderMeta{}, conns: map[*wsConn]struct{}{},
		skipSeq: map[string]int{}}
	s.eng = matching.New(matching.Config{Now: cfg.Now, SelfTrade: matching.STPCancelTaker, IDPrefix: "k"})
	series, markets := cfg.Series, cfg.Markets
	if len(markets) == 0 {
		ds, dm := DefaultMarkets()
		series, markets = append(series, ds...), dm
	}
	for _, sc := range series {
		if err := s.AddSeries(sc); err != nil {
			return nil, err
		}
	}
	for _, mc := range markets {
		if err := s.AddMarket(mc); err != nil {
			return nil, err
		}
	}
	for _, rec := range cfg.Events {
		if err := s.addEvent(rec); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Accounts {
		if err := s.AddAccount(a); err != nil {
			return nil, err
		}
	}
	s.faults = fault.New(cfg.Faults)
	s.faults.OnDrop(s.DropWebSockets)
	s.unsub = s.eng.Subscribe("", s.onUpdate)
	return s, nil
}

// Engine returns the matching engine (tests and feeds).
func (s *Server) Engine() *matching.Engine { return s.eng }

// AddSeries lists a series (replacing one with the same ticker).
func (s *Server) AddSeries(sc SeriesConfig) error {
	if sc.Ticker == "" {
		return polybot.FieldError("series.ticker", "is required")
	}
	switch sc.FeeType {
	case "":
		sc.FeeType = "quadratic"
	case "quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat":
	default:
		return polybot.FieldError("series.fee_type", "unknown fee type "+sc.FeeType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[sc.Ticker] = &sc
	return nil
}

// AddMarket lists a market (its series is created if missing).
func (s *Server) AddMarket(mc MarketConfig) error {
	if mc.Ticker == "" {
		return polybot.FieldError("market.ticker", "is required")
	}
	if mc.EventTicker == "" {
		mc.EventTicker = mc.Ticker
	}
	if mc.SeriesTicker == "" {
		mc.SeriesTicker = mc.EventTicker
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.series[mc.SeriesTicker]; !ok {
		s.series[mc.SeriesTicker] = &SeriesConfig{Ticker: mc.SeriesTicker, FeeType: "quadratic"}
	}
	if _, ok := s.markets[mc.Ticker]; !ok {
		s.order = append(s.order, mc.Ticker)
	}
	s.markets[mc.Ticker] = &market{MarketConfig: mc, created: s.now()}
	return nil
}

// AddEvent describes an event (replacing one with the same ticker); its
// markets are added with AddMarket.
func (s *Server) AddEvent(ec EventConfig) error {
	if ec.Ticker == "" {
		return polybot.FieldError("event.event_ticker", "is required")
	}
	if ec.SeriesTicker == "" {
		ec.SeriesTicker, _, _ = strings.Cut(ec.Ticker, "-")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.series[ec.SeriesTicker]; !ok {
		s.series[ec.SeriesTicker] = &SeriesConfig{Ticker: ec.SeriesTicker, FeeType: "quadratic"}
	}
	s.events[ec.Ticker] = &ec
	return nil
}

// AddAccount registers an API key with its public key and a starting cash
// balance. Registering a key id again replaces its public key and keeps the
// account.
func (s *Server) AddAccount(a AccountConfig) error {
	if a.KeyID == "" {
		return polybot.FieldError("key_id", "is required")
	}
	pub, err := ParsePublicKey([]byte(a.PublicKeyPEM))
	if err != nil {
		return polybot.FieldError("public_key_pem", err.Error())
	}
	if a.Balance.Sign() < 0 {
		return polybot.FieldError("balance_dollars", "must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[a.KeyID] = pub
	if acc, ok := s.accounts[a.KeyID]; ok {
		acc.cash = a.Balance
		return nil
	}
	s.accounts[a.KeyID] = newAccount(a.KeyID, a.Balance)
	return nil
}

// Start listens on addr ("" means Config.Addr, then DefaultAddr) and serves
// until ctx ends or Close is called. It returns the base URLs.
func (s *Server) Start(ctx context.Context, addr string) (URLs, error) {
	srv, err := loopback.Serve(ctx, "kalshi sim", s.Handler(), s.log, s.DropWebSockets, addr, s.cfg.Addr, DefaultAddr)
	if err != nil {
		return URLs{}, err
	}
	s.srv = srv
	s.faults.Start(ctx)
	if s.cfg.Replay != nil {
		go s.runReplay(ctx, *s.cfg.Replay)
	}
	if s.cfg.Synthetic != nil {
		go s.runSynthetic(ctx, *s.cfg.Synthetic)
	}
	for _, rec := range s.cfg.Events {
		go s.runEvent(ctx, rec)
	}
	host := srv.Addr
	return URLs{REST: "http://" + host + RESTPrefix, WS: "ws://" + host + WSPath, Admin: "http://" + host + AdminPath}, nil
}

// Close stops a started simulator and waits for it.
func (s *Server) Close() { _ = s.srv.Close() }

// marketTickers returns the tickers in listing order.
func (s *Server) marketTickers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

func (s *Server) marketOf(ticker string) (*market, *SeriesConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.markets[ticker]
	if m == nil {
		return nil, nil
	}
	return m, s.series[m.SeriesTicker]
}
