// Package polymarket is a wire-compatible simulator of Polymarket's CLOB V2
// for tests, demos (`polybot sim`, `polybot serve --sim`) and the official
// SDKs: the REST routes, the market and user WebSocket channels, and the
// Gamma and Data API routes the connector uses, on loopback HTTP.
//
// Auth is checked as the venue checks it: any wallet may create or derive
// API credentials by signing the L1 ClobAuth message (and is funded with
// Config.StartingBalance USDC on first sight); every trading route verifies
// the L2 HMAC headers; every order's EIP-712 signature is recovered and must
// be by the order's signer, who must be the API key's wallet. Failures get
// the venue's status and {"error": "..."} body.
//
// Books and matching are internal/venuesim/matching, one book per token id.
// Replays and the synthetic generator set external liquidity in those books.
// Multi-outcome events (Config.Events, replay.EventRecording) are served as
// negRisk events on Gamma /events, their markets listed like any other, and
// their books replayed the same way.
// Balances and positions are kept per wallet; fills go to the user channel.
// Leader wallets (Config.Leaders, AddLeaderTrade) play copy trading's
// leaders: their trades appear on the Data API's /trades and /activity and
// take liquidity from the books as immediate-or-cancel orders.
// Faults (latency, 5xx, 429, dropped WebSockets, a timeout after an order was
// accepted) are the shared fault.Injector, set per test through Faults.
//
// It imports the connector (internal/venue/polymarket) for the wire types
// and the signature checks, so both sides speak one protocol; it must not
// import a store, the server or the engine.
package polymarket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/marketdata/replay"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	"github.com/polybot/polybot/internal/venuesim/fault"
	"github.com/polybot/polybot/internal/venuesim/loopback"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// DefaultAddr is where `polybot sim` listens for Polymarket unless told
// otherwise (the Kalshi simulator's default is the next port).
const DefaultAddr = "127.0.0.1:8420"

// Market is one binary market the simulator lists.
type Market struct {
	ConditionID string
	Question    string
	Slug        string
	// Tokens are the YES and NO token ids (decimal uint256).
	Tokens [2]string
	// Outcomes name the tokens (default "Yes", "No").
	Outcomes     [2]string
	TickSize     polybot.Decimal // default 0.01
	MinOrderSize polybot.Decimal // default 0 (no minimum)
	NegRisk      bool
	// NegRiskMarketID, QuestionID and GroupItemTitle place a negRisk
	// market in its event (see Events).
	NegRiskMarketID string
	QuestionID      string
	GroupItemTitle  string
	// FeeSchedule is the market's taker fee schedule, published as the
	// venue does (Gamma feesEnabled/feeSchedule, CLOB fd, /fee-rate) and
	// charged on every taker fill; the zero value is fee-free.
	FeeSchedule fee.PolymarketSchedule
	// RebateRate is published with a fee schedule (e.g. 0.25).
	RebateRate polybot.Decimal
}

// Config configures a simulator. The zero value works: chain 137, 1,000
// USDC per new wallet, no markets until a feed or AddMarket brings some.
type Config struct {
	// Addr is the listen address (DefaultAddr when empty; "127.0.0.1:0"
	// picks a free port).
	Addr string
	// ChainID is the chain whose exchange contracts orders are signed for.
	ChainID int64
	// StartingBalance funds each wallet the first time it authenticates.
	StartingBalance polybot.Decimal
	// Markets are listed from the start.
	Markets []Market
	// Feeds drive external liquidity (replays, the synthetic generator).
	Feeds []Source
	// FeedFeeSchedule is the fee schedule of the markets feeds and events
	// list (zero: fee-free, as the Fed Dec 2025 market was).
	FeedFeeSchedule fee.PolymarketSchedule
	// Events are multi-outcome events (Polymarket sets only), each listed
	// as a negRisk event on Gamma /events (augmented unless its set is
	// exhaustive), its outcome markets listed like any other (negRisk, on
	// Gamma /markets and CLOB /clob-markets), and its books replayed into
	// the matching engine and the market channel as a feed, paced by
	// EventSpeed (1 = real time, ≤ 0 as fast as possible) and started
	// again at the end when EventLoop is set.
	Events     []*replay.EventRecording
	EventSpeed float64
	EventLoop  bool
	// Leaders are wallets whose trades are replayed from Start (see
	// LeaderConfig, AddLeaderTrade), paced by LeaderSpeed (1: as recorded,
	// 60: a minute a second, ≤ 0: all at once).
	Leaders     []LeaderConfig
	LeaderSpeed float64
	// LeaderLoop, when positive, replays the leaders' trades again that
	// long after each cycle (see playLeader).
	LeaderLoop time.Duration
	// Faults is the initial fault plan (more can be set at run time).
	Faults fault.Config
	// AuthMaxSkew bounds how far an auth timestamp may be from the clock
	// (default 5 minutes; negative disables the check).
	AuthMaxSkew time.Duration
	// Seed makes API credentials reproducible across runs; empty means
	// random per simulator.
	Seed string
	// Now is the simulator's clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// URLs are the simulator's endpoints once started.
type URLs struct {
	CLOB, MarketWS, UserWS, Gamma, Data string
}

// ClientConfig returns a connector configuration that points at the
// simulator.
func (u URLs) ClientConfig(chainID int64) pm.Config {
	return pm.Config{CLOBURL: u.CLOB, MarketWSURL: u.MarketWS, UserWSURL: u.UserWS,
		GammaURL: u.Gamma, DataURL: u.Data, ChainID: chainID}
}

// Server is a running (or startable) simulator.
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine *matching.Engine
	faults *fault.Injector
	seed   []byte
	stdDom *pm.ExchangeDomain
	negDom *pm.ExchangeDomain

	orderMu sync.Mutex // serialises balance checks with Submit

	mu        sync.Mutex
	cond      *sync.Cond
	processed uint64             // engine Seq delivered to onUpdate
	markets   map[string]*market // token id → market
	order     []*market          // listing order
	events    []*event           // Gamma events, listing order
	feeds     []Source           // Config.Feeds, then the events' replays
	accounts  map[eip712.Address]*account
	keys      map[string]*apiKey
	orders    map[string]*orderMeta
	trades    []*tradeRec
	mirror    map[string]*marketdata.Book // token → book as the market channel told it
	lastTrade map[string]polybot.Decimal
	conns     map[*wsConn]struct{}
	subs      []Submission // every signed order received, oldest first
	// leaderTrades: leader address → its played trades, oldest first.
	leaderTrades map[string][]*leaderRec

	srv     *loopback.Server
	urls    URLs
	started bool
}

type market struct {
	Market
	id int
}

type account struct {
	addr    eip712.Address
	cash    polybot.Decimal
	pos     map[string]polybot.Decimal // token → shares
	cost    map[string]polybot.Decimal // token → cost basis of the shares
	apiKeys []string
}

type apiKey struct {
	creds pm.APICreds
	acct  *account
}

type orderMeta struct {
	id         string
	owner      string // API key
	acct       *account
	token      string
	tif        polybot.TimeInForce
	expiration int64
	created    time.Time
	trades     []string
	placed     bool // a PLACEMENT event went out
}

type tradeRec struct {
	j          pm.TradeJSON // taker's view
	taker      *account
	maker      *account
	makerOwner string
	makerOrder string
	makerSide  polybot.Side
	at         time.Time
}

// New returns a simulator; Start serves it.
func New(cfg Config) (*Server, error) {
	if cfg.ChainID == 0 {
		cfg.ChainID = pm.ChainPolygon
	}
	std, err := pm.ExchangeContract(cfg.ChainID, false)
	if err != nil {
		return nil, err
	}
	neg, _ := pm.ExchangeContract(cfg.ChainID, true)
	if cfg.StartingBalance.IsZero() {
		cfg.StartingBalance = polybot.NewDecimal(1000, 0)
	}
	if cfg.AuthMaxSkew == 0 {
		cfg.AuthMaxSkew = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Log.With("sim", "polymarket"),
		engine:    matching.New(matching.Config{Now: cfg.Now}),
		faults:    fault.New(cfg.Faults),
		stdDom:    pm.NewExchangeDomain(cfg.ChainID, std),
		negDom:    pm.NewExchangeDomain(cfg.ChainID, neg),
		markets:   map[string]*market{},
		accounts:  map[eip712.Address]*account{},
		keys:      map[string]*apiKey{},
		orders:    map[string]*orderMeta{},
		mirror:    map[string]*marketdata.Book{},
		lastTrade: map[string]polybot.Decimal{},
		conns:     map[*wsConn]struct{}{},

		leaderTrades: map[string][]*leaderRec{},
	}
	s.cond = sync.NewCond(&s.mu)
	s.faults.OnDrop(s.DropWebSockets)
	if cfg.Seed != "" {
		h := sha256.Sum256([]byte(cfg.Seed))
		s.seed = h[:]
	} else {
		s.seed = make([]byte, 32)
		if _, err := rand.Read(s.seed); err != nil {
			return nil, err
		}
	}
	for _, m := range cfg.Markets {
		if err := s.AddMarket(m); err != nil {
			return nil, err
		}
	}
	s.feeds = slices.Clone(cfg.Feeds)
	for _, rec := range cfg.Events {
		if err := s.addEvent(rec); err != nil {
			return nil, err
		}
		s.feeds = append(s.feeds, Replay(rec.Source, replay.Options{Speed: cfg.EventSpeed}, cfg.EventLoop))
	}
	for _, f := range cfg.Feeds {
		if l, ok := f.(MarketLister); ok {
			for _, m := range l.Markets() {
				if m.FeeSchedule.FeeFree() {
					m.FeeSchedule = cfg.FeedFeeSchedule
				}
				if err := s.AddMarket(m); err != nil && polybot.ErrorCode(err) != polybot.ECONFLICT {
					return nil, err
				}
			}
		}
	}
	s.engine.Subscribe("", s.onUpdate)
	return s, nil
}

// Start listens on addr ("" means Config.Addr, then DefaultAddr), serves
// until ctx ends or Close, starts the feeds, and returns the endpoints.
func (s *Server) Start(ctx context.Context, addr string) (URLs, error) {
	srv, err := loopback.Serve(ctx, "polymarket sim", s.routes(), s.log, s.DropWebSockets, addr, s.cfg.Addr, DefaultAddr)
	if err != nil {
		return URLs{}, err
	}
	base, ws := "http://"+srv.Addr, "ws://"+srv.Addr
	s.mu.Lock()
	s.urls = URLs{CLOB: base, MarketWS: ws + "/ws/market", UserWS: ws + "/ws/user",
		Gamma: base + "/gamma", Data: base + "/data-api"}
	s.srv = srv
	s.started = true
	s.mu.Unlock()
	for _, f := range s.feeds {
		go func() {
			sink := func(ev polybot.BookEvent) {
				if err := s.apply(ev); err != nil {
					s.log.Warn("feed event refused", "token", ev.Instrument.Token, "err", err)
				}
			}
			if err := f.Run(ctx, sink); err != nil && ctx.Err() == nil {
				s.log.Warn("feed stopped", "err", err)
			}
		}()
	}
	for _, l := range s.cfg.Leaders {
		go s.playLeader(ctx, l, s.cfg.LeaderSpeed)
	}
	s.faults.Start(ctx)
	return s.urls, nil
}

// URLs returns the endpoints (empty before Start).
func (s *Server) URLs() URLs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urls
}

// Close stops serving and drops every WebSocket.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		s.DropWebSockets()
	}
	return srv.Close()
}

// Faults returns the REST and WebSocket faults, changeable while the
// simulator runs (rule paths as routed, such as "/order").
func (s *Server) Faults() *fault.Injector { return s.faults }

// Engine returns the matching engine (tests read depth from it).
func (s *Server) Engine() *matching.Engine { return s.engine }

// ChainID returns the chain orders must be signed for.
func (s *Server) ChainID() int64 { return s.cfg.ChainID }

// AddMarket lists a market. Its books start empty.
func (s *Server) AddMarket(m Market) error {
	if m.ConditionID == "" || m.Tokens[0] == "" || m.Tokens[1] == "" {
		return polybot.FieldError("market", "needs a condition id and two token ids")
	}
	if m.Outcomes[0] == "" {
		m.Outcomes = [2]string{"Yes", "No"}
	}
	if m.TickSize.IsZero() {
		m.TickSize = polybot.NewDecimal(1, 2)
	}
	if _, err := pm.RoundingFor(m.TickSize); err != nil {
		return err
	}
	if m.Slug == "" {
		m.Slug = "sim-" + strings.TrimPrefix(m.ConditionID, "0x")[:min(8, len(strings.TrimPrefix(m.ConditionID, "0x")))]
	}
	if m.Question == "" {
		m.Question = "Simulated market " + m.Slug
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.markets[m.Tokens[0]]; dup {
		return polybot.Errorf(polybot.ECONFLICT, "token %s is already listed", m.Tokens[0])
	}
	mk := &market{Market: m, id: len(s.order) + 1}
	s.order = append(s.order, mk)
	for _, t := range m.Tokens {
		s.markets[t] = mk
		inst := polybot.Instrument{Venue: polybot.Polymarket, Market: m.ConditionID, Token: t}
		s.mirror[t] = marketdata.NewBook(inst)
		s.mirror[t].TickSize = m.TickSize
	}
	return nil
}

// Markets lists the simulator's markets.
func (s *Server) Markets() []Market {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Market, len(s.order))
	for i, m := range s.order {
		out[i] = m.Market
	}
	return out
}

// SetTickSize changes a token's market tick size and tells the market
// channel (tick_size_change).
func (s *Server) SetTickSize(token string, tick polybot.Decimal) error {
	if _, err := pm.RoundingFor(tick); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.markets[token]
	if m == nil {
		return polybot.Errorf(polybot.ENOTFOUND, "token %s is not listed", token)
	}
	old := m.TickSize
	m.TickSize = tick
	now := s.cfg.Now()
	for _, t := range m.Tokens {
		s.mirror[t].TickSize = tick
		s.broadcastMarket(t, map[string]any{"event_type": pm.EventTickSizeChange, "asset_id": t,
			"market": m.ConditionID, "old_tick_size": wire(old), "new_tick_size": wire(tick),
			"timestamp": millis(now)})
	}
	return nil
}

// Fund sets a wallet's USDC balance (creating the account).
func (s *Server) Fund(addr eip712.Address, usdc polybot.Decimal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountLocked(addr).cash = usdc
}

// Wallet is a wallet's balances as the simulator keeps them.
type Wallet struct {
	Cash      polybot.Decimal
	Positions map[string]polybot.Decimal // token → shares
}

// Wallet returns a wallet's balances (zero for an unknown wallet).
func (s *Server) Wallet(addr eip712.Address) Wallet {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := Wallet{Positions: map[string]polybot.Decimal{}}
	if a := s.accounts[addr]; a != nil {
		w.Cash = a.cash
		for t, p := range a.pos {
			w.Positions[t] = p
		}
	}
	return w
}

// Sync waits until every engine update so far has been applied to balances
// and pushed to the channels.
func (s *Server) Sync() {
	s.waitSeq(s.engineSeq())
}

func (s *Server) engineSeq() uint64 {
	var seq uint64
	for _, b := range s.engine.Books() {
		if d := s.engine.Depth(b, 1); d.Seq > seq {
			seq = d.Seq
		}
	}
	return seq
}

func (s *Server) waitSeq(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.processed < seq {
		s.cond.Wait()
	}
}

// accountLocked returns the wallet's account, creating and funding it.
func (s *Server) accountLocked(addr eip712.Address) *account {
	a := s.accounts[addr]
	if a == nil {
		a = &account{addr: addr, cash: s.cfg.StartingBalance, pos: map[string]polybot.Decimal{}, cost: map[string]polybot.Decimal{}}
		s.accounts[addr] = a
	}
	return a
}

func (s *Server) accountOf(engineAccount string) *account {
	if engineAccount == matching.MarketAccount {
		return nil
	}
	addr, err := eip712.ParseAddress(engineAccount)
	if err != nil {
		return nil
	}
	return s.accounts[addr]
}

func engineAccount(a *account) string { return strings.ToLower(a.addr.Hex()) }

// credsFor derives a wallet's API credentials for a nonce: the same wallet
// and nonce always get the same credentials from one simulator.
func (s *Server) credsFor(addr eip712.Address, nonce uint64) pm.APICreds {
	h := func(label string) []byte {
		m := sha256.New()
		m.Write(s.seed)
		m.Write([]byte(label))
		m.Write(addr[:])
		m.Write([]byte(strconv.FormatUint(nonce, 10)))
		return m.Sum(nil)
	}
	k := h("key")
	key := fmt.Sprintf("%x-%x-%x-%x-%x", k[0:4], k[4:6], k[6:8], k[8:10], k[10:16])
	return pm.APICreds{Key: key, Secret: base64.URLEncoding.EncodeToString(h("secret")),
		Passphrase: hex.EncodeToString(h("passphrase"))}
}

// ---- engine updates: settlement and pushes ----

// onUpdate runs for every engine update, in Seq order: it settles trades,
// records them, keeps the mirror books and pushes market and user events.
func (s *Server) onUpdate(u matching.Update) {
	s.mu.Lock()
	defer func() {
		if u.Seq > s.processed {
			s.processed = u.Seq
		}
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	m := s.markets[u.Book]
	if m == nil {
		return
	}
	ts := millis(u.Time)
	// Levels: the mirror and price_change.
	if len(u.Levels) > 0 {
		book := s.mirror[u.Book]
		ev := polybot.BookEvent{Kind: polybot.BookDelta}
		for _, l := range u.Levels {
			lv := polybot.Level{Price: l.Price, Size: l.Size}
			if l.Side == polybot.Buy {
				ev.Bids = append(ev.Bids, lv)
			} else {
				ev.Asks = append(ev.Asks, lv)
			}
		}
		book.Apply(&ev)
		bb, ba := "0", "1"
		if l, ok := book.BestBid(); ok {
			bb = wire(l.Price)
		}
		if l, ok := book.BestAsk(); ok {
			ba = wire(l.Price)
		}
		hash := bookHash(book)
		changes := make([]map[string]string, 0, len(u.Levels))
		for _, l := range u.Levels {
			changes = append(changes, map[string]string{"asset_id": u.Book, "price": wire(l.Price), "size": wire(l.Size),
				"side": l.Side.String(), "hash": hash, "best_bid": bb, "best_ask": ba})
		}
		s.broadcastMarket(u.Book, map[string]any{"market": m.ConditionID, "price_changes": changes,
			"timestamp": ts, "event_type": pm.EventPriceChange})
	}
	for _, t := range u.Trades {
		s.settleLocked(m, t)
	}
	for _, o := range u.Orders {
		s.orderEventLocked(m, o)
	}
}

func (s *Server) settleLocked(m *market, t matching.Trade) {
	taker, maker := s.accountOf(t.TakerAccount), s.accountOf(t.MakerAccount)
	notional := t.Price.Mul(t.Size)
	move := func(a *account, side polybot.Side) {
		if a == nil {
			return
		}
		if side == polybot.Buy {
			a.cash = a.cash.Sub(notional)
			a.pos[t.Book] = a.pos[t.Book].Add(t.Size)
			a.cost[t.Book] = a.cost[t.Book].Add(notional)
			return
		}
		held := a.pos[t.Book]
		if held.Sign() > 0 {
			// Reduce the cost basis pro rata.
			left := held.Sub(t.Size)
			if left.Sign() <= 0 {
				a.cost[t.Book] = polybot.Zero
			} else {
				a.cost[t.Book] = avg(a.cost[t.Book], held).Mul(left)
			}
		}
		a.cash = a.cash.Add(notional)
		a.pos[t.Book] = held.Sub(t.Size)
	}
	move(taker, t.TakerSide)
	move(maker, 1-t.TakerSide)
	// The taker pays the market's fee; makers pay nothing. (The venue takes
	// a buyer's fee in shares worth it; the simulator takes the dollars.)
	takerFee := m.FeeSchedule.TakerFee(t.Price, t.Size)
	if taker != nil {
		taker.cash = taker.cash.Sub(takerFee)
	}
	bps := feeRateBps(m.FeeSchedule)
	s.lastTrade[t.Book] = t.Price
	outcome := outcomeName(m, t.Book)
	txHash := "0x" + hex.EncodeToString(sha256Sum([]byte("tx/"+t.ID)))
	takerOwner, makerOwner := "", ""
	if o := s.orders[t.TakerOrderID]; o != nil {
		takerOwner = o.owner
		o.trades = append(o.trades, t.ID)
	}
	if o := s.orders[t.MakerOrderID]; o != nil {
		makerOwner = o.owner
		o.trades = append(o.trades, t.ID)
	}
	at := strconv.FormatInt(t.Time.Unix(), 10)
	rec := &tradeRec{taker: taker, maker: maker, makerOwner: makerOwner, makerOrder: t.MakerOrderID,
		makerSide: 1 - t.TakerSide, at: t.Time}
	rec.j = pm.TradeJSON{ID: t.ID, TakerOrderID: t.TakerOrderID, Market: m.ConditionID, AssetID: t.Book,
		Side: t.TakerSide.String(), Size: wire(t.Size), FeeRateBps: bps, Price: wire(t.Price),
		Status: "MATCHED", MatchTime: at, LastUpdate: at, Outcome: outcome, Owner: takerOwner,
		MakerOrders: []pm.MakerOrderJSON{{OrderID: t.MakerOrderID, Owner: makerOwner,
			MatchedAmount: wire(t.Size), Price: wire(t.Price), FeeRateBps: "0", AssetID: t.Book,
			Outcome: outcome, Side: (1 - t.TakerSide).String()}},
		TransactionHash: txHash, TraderSide: "TAKER"}
	if taker != nil {
		rec.j.MakerAddress = taker.addr.String()
	}
	if maker != nil {
		rec.j.MakerOrders[0].MakerAddress = maker.addr.String()
	}
	s.trades = append(s.trades, rec)
	// Market channel: last trade price. User channel: each side's view.
	s.broadcastMarket(t.Book, map[string]any{"asset_id": t.Book, "event_type": pm.EventLastTradePrice,
		"fee_rate_bps": bps, "market": m.ConditionID, "price": wire(t.Price), "side": t.TakerSide.String(),
		"size": wire(t.Size), "timestamp": millis(t.Time), "transaction_hash": txHash})
	if takerOwner != "" {
		s.pushUser(takerOwner, m.ConditionID, tradeEvent(rec.j, "TAKER"))
	}
	if makerOwner != "" {
		s.pushUser(makerOwner, m.ConditionID, tradeEvent(rec.j, "MAKER"))
	}
}

// userTrade and userOrder are the user channel's events: the REST objects
// with the event fields beside them.
type userTrade struct {
	pm.TradeJSON
	EventType string `json:"event_type"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
}

type userOrder struct {
	pm.OpenOrderJSON
	EventType string `json:"event_type"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
}

func tradeEvent(j pm.TradeJSON, side string) userTrade {
	j.TraderSide = side
	return userTrade{TradeJSON: j, EventType: pm.EventTrade, Type: "TRADE", Timestamp: j.MatchTime}
}

func (s *Server) orderEventLocked(m *market, o matching.Order) {
	meta := s.orders[o.ID]
	if meta == nil {
		return
	}
	typ := "UPDATE"
	switch {
	case o.State == polybot.OrderCancelled || o.State == polybot.OrderRejected:
		typ = "CANCELLATION"
	case !meta.placed:
		typ = "PLACEMENT"
	}
	meta.placed = true
	j := s.openOrderJSON(meta, o)
	s.pushUser(meta.owner, m.ConditionID, userOrder{OpenOrderJSON: j, EventType: pm.EventOrder, Type: typ,
		Timestamp: strconv.FormatInt(o.Updated.Unix(), 10)})
}

// openOrderJSON renders an order as the venue's order object.
func (s *Server) openOrderJSON(meta *orderMeta, o matching.Order) pm.OpenOrderJSON {
	m := s.markets[o.Book]
	j := pm.OpenOrderJSON{ID: o.ID, Status: venueStatus(o), Owner: meta.owner, MakerAddress: meta.acct.addr.String(),
		AssetID: o.Book, Side: o.Side.String(), OriginalSize: wire(o.Size), SizeMatched: wire(o.Filled),
		Price: wire(o.Price), AssociateTrades: slices.Clone(meta.trades), CreatedAt: meta.created.Unix(),
		Expiration: strconv.FormatInt(meta.expiration, 10), OrderType: string(meta.tif)}
	if j.AssociateTrades == nil {
		j.AssociateTrades = []string{}
	}
	if m != nil {
		j.Market = m.ConditionID
		j.Outcome = outcomeName(m, o.Book)
	}
	return j
}

func venueStatus(o matching.Order) string {
	switch o.State {
	case polybot.OrderFilled:
		return "MATCHED"
	case polybot.OrderCancelled:
		if o.Filled.Sign() == 0 && (o.TIF == polybot.FAK || o.TIF == polybot.FOK) {
			return "UNMATCHED"
		}
		return "CANCELED"
	case polybot.OrderRejected:
		return "INVALID"
	}
	return "LIVE"
}

func outcomeName(m *market, token string) string {
	if m.Tokens[1] == token {
		return m.Outcomes[1]
	}
	return m.Outcomes[0]
}

// ---- helpers ----

// wire formats a decimal as the venue does: no trailing zeros ("0.5", "200").
func wire(d polybot.Decimal) string {
	s := d.String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func bookHash(b *marketdata.Book) string { return bookHashLevels(b.Bids, b.Asks) }

// bookHashLevels is a digest of a book's levels (the venue's "hash" field:
// equal books, equal hashes).
func bookHashLevels(bids, asks []polybot.Level) string {
	h := sha256.New()
	for _, l := range bids {
		fmt.Fprintf(h, "b%s:%s;", l.Price, l.Size)
	}
	for _, l := range asks {
		fmt.Fprintf(h, "a%s:%s;", l.Price, l.Size)
	}
	return hex.EncodeToString(h.Sum(nil)[:20])
}

// avg returns cost/size, or zero.
func avg(cost, size polybot.Decimal) polybot.Decimal {
	if size.Sign() <= 0 {
		return polybot.Zero
	}
	q := new(big.Int).Mul(big.NewInt(cost.Micros()), big.NewInt(1_000_000))
	q.Quo(q, big.NewInt(size.Micros()))
	if !q.IsInt64() {
		return polybot.Zero
	}
	return polybot.DecimalFromMicros(q.Int64())
}

// feeRateBps is the rate a taker fill reports, rate × 10⁴ ("0" when the
// market is fee-free).
func feeRateBps(s fee.PolymarketSchedule) string {
	return strconv.FormatInt(s.Rate.Micros()/100, 10)
}
