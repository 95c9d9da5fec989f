package kalshi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// FeedConfig configures a Feed.
type FeedConfig struct {
	// URL is the WebSocket endpoint ("" means ProdWSURL).
	URL string
	// Signer signs the handshake; Kalshi requires an authenticated connection.
	Signer *Signer
	// HTTPClient dials the connection (nil: the default client).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// MinBackoff and MaxBackoff bound the reconnect delay (250 ms and 15 s
	// when zero). The delay doubles after each failed session, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Trades subscribes the public trade channel of every subscribed market
	// and delivers trades as BookTrade events.
	Trades bool
	// OnTicker, when set, subscribes the ticker channel of subscribed markets.
	OnTicker func(Ticker)
	// OnFill, when set, subscribes the private fill channel of the signer's
	// account.
	OnFill func(polybot.Fill)
	// Now is the clock for Received times (nil: time.Now).
	Now func() time.Time
}

// Ticker is a ticker-channel update: the top of the book and activity.
type Ticker struct {
	MarketTicker  string          `json:"market_ticker"`
	PriceDollars  polybot.Decimal `json:"price_dollars"`
	YesBidDollars polybot.Decimal `json:"yes_bid_dollars"`
	YesAskDollars polybot.Decimal `json:"yes_ask_dollars"`
	VolumeFP      polybot.Decimal `json:"volume_fp"`
	OpenInterest  polybot.Decimal `json:"open_interest_fp"`
	Ts            int64           `json:"ts"`
}

// FeedStats counts what a feed lived through.
type FeedStats struct {
	Connects, Snapshots, Deltas, Gaps, Resyncs, Dropped int64
}

// Feed is Kalshi's market-data stream: a polybot.MarketFeed. Each subscribed
// market gets its own orderbook_delta subscription, so a sequence gap resyncs
// one market (unsubscribe, subscribe, fresh snapshot) and leaves the others
// alone. The gap is also passed on, as a delta without levels carrying the
// out-of-sequence seq, so that a sink checking Seq (marketdata.Hub) shows the
// books stale until the snapshot. Events are delivered from one goroutine;
// the Bids and Asks slices of a delta event are reused after the sink
// returns, so a sink that keeps them must copy them (marketdata.Book.Apply
// copies).
type Feed struct {
	cfg FeedConfig
	log *slog.Logger

	mu      sync.Mutex
	markets map[string]*feedMarket
	bySid   map[int64]subRef
	pending map[int64]*pendingCmd
	nextID  int64
	fillSid int64
	fillReq int64 // pending fill subscribe id
	unsubs  []int64
	kick    chan struct{}
	running atomic.Bool

	stats struct{ connects, snapshots, deltas, gaps, resyncs, dropped atomic.Int64 }

	// Read-loop scratch: only the read goroutine touches these.
	env    envelope
	dm     deltaMsg
	lv     [4]polybot.Level
	events [2]polybot.BookEvent
	rbuf   bytes.Buffer
}

type feedMarket struct {
	ticker          string
	yesInst, noInst polybot.Instrument
	wantYes, wantNo bool
	book            ladders
	valid           bool
	lastSeq         int64
	bookSid         int64
	tradeSid        int64
	tickerSid       int64
	pending         int64 // subscribe command in flight
	resync          bool
	removed         bool
}

type subRef struct {
	m       *feedMarket
	channel string
}

type pendingCmd struct {
	m         *feedMarket // nil for the fill channel
	remaining int
}

var _ polybot.MarketFeed = (*Feed)(nil)

// NewFeed returns a feed; call Run to connect.
func NewFeed(cfg FeedConfig) (*Feed, error) {
	if cfg.URL == "" {
		cfg.URL = ProdWSURL
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		return nil, polybot.FieldError("ws_url", "must be a ws(s) URL such as "+ProdWSURL)
	}
	if cfg.Signer == nil {
		return nil, polybot.FieldError("api_key", "Kalshi's WebSocket needs an API key")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(15*time.Second, cfg.MinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{cfg: cfg, log: log.With("venue", "kalshi"), markets: map[string]*feedMarket{},
		bySid: map[int64]subRef{}, pending: map[int64]*pendingCmd{}, kick: make(chan struct{}, 1)}, nil
}

// Platform implements polybot.MarketFeed.
func (f *Feed) Platform() polybot.Platform { return polybot.Kalshi }

// Stats returns the feed's counters.
func (f *Feed) Stats() FeedStats {
	return FeedStats{Connects: f.stats.connects.Load(), Snapshots: f.stats.snapshots.Load(), Deltas: f.stats.deltas.Load(),
		Gaps: f.stats.gaps.Load(), Resyncs: f.stats.resyncs.Load(), Dropped: f.stats.dropped.Load()}
}

// Subscribe implements polybot.MarketFeed. Both instruments of a market share
// one venue subscription.
func (f *Feed) Subscribe(_ context.Context, instruments ...polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range instruments {
		if in.Venue != polybot.Kalshi || in.Market == "" {
			return polybot.FieldError("instrument", "not a Kalshi market: "+in.Key())
		}
		m := f.markets[in.Market]
		if m == nil || m.removed {
			m = &feedMarket{ticker: in.Market, book: newLadders()}
			m.yesInst, m.noInst = Instruments(in.Market)
			f.markets[in.Market] = m
		}
		fresh := false
		if in.Outcome == polybot.No {
			fresh, m.wantNo = !m.wantNo, true
		} else {
			fresh, m.wantYes = !m.wantYes, true
		}
		// The market's snapshot came before this instrument was wanted, and
		// the venue sends one only on subscribe: resubscribe for a fresh one.
		if fresh && m.valid {
			f.markForResync(m)
		}
	}
	f.poke()
	return nil
}

// Unsubscribe implements polybot.MarketFeed.
func (f *Feed) Unsubscribe(instruments ...polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range instruments {
		m := f.markets[in.Market]
		if m == nil {
			continue
		}
		if in.Outcome == polybot.No {
			m.wantNo = false
		} else {
			m.wantYes = false
		}
	}
	f.poke()
	return nil
}

// Resync implements polybot.MarketFeed: the market is resubscribed and its
// books are withheld until the fresh snapshot.
func (f *Feed) Resync(in polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.markets[in.Market]
	if m == nil {
		return polybot.Errorf(polybot.ENOTFOUND, "kalshi feed: %s is not subscribed", in.Market)
	}
	f.markForResync(m)
	f.poke()
	return nil
}

func (f *Feed) markForResync(m *feedMarket) {
	m.valid = false
	if m.bookSid != 0 || m.pending == 0 {
		m.resync = true
	}
}

func (f *Feed) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run implements polybot.MarketFeed. It returns ctx's error when ctx ends.
func (f *Feed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("kalshi feed: Run is already running")
	}
	defer f.running.Store(false)
	return wire.Redial(ctx, wire.Backoff{Min: f.cfg.MinBackoff, Max: f.cfg.MaxBackoff}, f.log,
		func(ctx context.Context) (bool, error) { return f.session(ctx, sink) },
		func() { f.invalidate(sink) })
}

// invalidate tells the sink that every subscribed book is unknown until the
// next connection's snapshots.
func (f *Feed) invalidate(sink func(polybot.BookEvent)) {
	f.mu.Lock()
	var insts []polybot.Instrument
	for _, m := range f.markets {
		if m.wantYes {
			insts = append(insts, m.yesInst)
		}
		if m.wantNo {
			insts = append(insts, m.noInst)
		}
	}
	f.mu.Unlock()
	for _, inst := range insts {
		sink(polybot.BookEvent{Kind: polybot.BookInvalidate, Instrument: inst, Received: f.cfg.Now()})
	}
}

// session runs one connection. healthy reports whether it got as far as a
// snapshot, which resets the backoff.
func (f *Feed) session(ctx context.Context, sink func(polybot.BookEvent)) (healthy bool, err error) {
	h := http.Header{}
	u, _ := url.Parse(f.cfg.URL)
	if err := f.cfg.Signer.SetHeaders(h, http.MethodGet, u.Path); err != nil {
		return false, err
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, resp, err := websocket.Dial(dctx, f.cfg.URL, &websocket.DialOptions{HTTPHeader: h, HTTPClient: f.cfg.HTTPClient})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return false, fmt.Errorf("kalshi feed: handshake refused (401): %w", err)
		}
		return false, err
	}
	conn.SetReadLimit(64 << 20)
	f.stats.connects.Add(1)
	f.resetSession()

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.writeLoop(sctx, conn)
	}()
	defer func() {
		stop()
		_ = conn.Close(websocket.StatusNormalClosure, "")
		wg.Wait()
	}()
	f.poke()
	for {
		typ, r, err := conn.Reader(sctx)
		if err != nil {
			return healthy, err
		}
		f.rbuf.Reset()
		if _, err := f.rbuf.ReadFrom(r); err != nil {
			return healthy, err
		}
		if typ != websocket.MessageText {
			continue
		}
		if f.handle(f.rbuf.Bytes(), sink) {
			healthy = true
		}
	}
}

// resetSession forgets every venue subscription: a new connection starts
// with none, and every book waits for its snapshot.
func (f *Feed) resetSession() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.bySid)
	clear(f.pending)
	f.unsubs = nil
	f.fillSid, f.fillReq = 0, 0
	for t, m := range f.markets {
		if m.removed {
			delete(f.markets, t)
			continue
		}
		m.bookSid, m.tradeSid, m.tickerSid, m.pending = 0, 0, 0, 0
		m.valid, m.resync, m.lastSeq = false, false, 0
	}
}

type command struct {
	ID     int64         `json:"id"`
	Cmd    string        `json:"cmd"`
	Params commandParams `json:"params"`
}

type commandParams struct {
	Channels     []string `json:"channels,omitempty"`
	MarketTicker string   `json:"market_ticker,omitempty"`
	Sids         []int64  `json:"sids,omitempty"`
}

// writeLoop brings the venue's subscriptions in line with what is wanted,
// whenever something changes and every few seconds (to retry failures).
func (f *Feed) writeLoop(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		for _, c := range f.plan() {
			b, _ := json.Marshal(c)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-t.C:
		}
	}
}

// plan returns the commands that reconcile the venue with what is wanted.
func (f *Feed) plan() []command {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cmds []command
	if len(f.unsubs) > 0 {
		f.nextID++
		cmds = append(cmds, command{ID: f.nextID, Cmd: "unsubscribe", Params: commandParams{Sids: f.unsubs}})
		f.unsubs = nil
	}
	if f.cfg.OnFill != nil && f.fillSid == 0 && f.fillReq == 0 {
		f.nextID++
		f.fillReq = f.nextID
		f.pending[f.nextID] = &pendingCmd{remaining: 1}
		cmds = append(cmds, command{ID: f.nextID, Cmd: "subscribe", Params: commandParams{Channels: []string{"fill"}}})
	}
	for t, m := range f.markets {
		if !m.wantYes && !m.wantNo {
			var sids []int64
			for _, s := range []int64{m.bookSid, m.tradeSid, m.tickerSid} {
				if s != 0 {
					sids = append(sids, s)
					delete(f.bySid, s)
				}
			}
			if len(sids) > 0 {
				f.nextID++
				cmds = append(cmds, command{ID: f.nextID, Cmd: "unsubscribe", Params: commandParams{Sids: sids}})
			}
			m.removed = true
			delete(f.markets, t)
			continue
		}
		if m.pending != 0 {
			continue
		}
		if m.resync && m.bookSid != 0 {
			f.nextID++
			cmds = append(cmds, command{ID: f.nextID, Cmd: "unsubscribe", Params: commandParams{Sids: []int64{m.bookSid}}})
			delete(f.bySid, m.bookSid)
			m.bookSid = 0
			f.stats.resyncs.Add(1)
		}
		m.resync = false
		var chans []string
		if m.bookSid == 0 {
			chans = append(chans, "orderbook_delta")
		}
		if f.cfg.Trades && m.tradeSid == 0 {
			chans = append(chans, "trade")
		}
		if f.cfg.OnTicker != nil && m.tickerSid == 0 {
			chans = append(chans, "ticker")
		}
		if len(chans) == 0 {
			continue
		}
		f.nextID++
		m.pending = f.nextID
		f.pending[f.nextID] = &pendingCmd{m: m, remaining: len(chans)}
		cmds = append(cmds, command{ID: f.nextID, Cmd: "subscribe", Params: commandParams{Channels: chans, MarketTicker: m.ticker}})
	}
	return cmds
}

// handle processes one frame and delivers its events. It reports whether the
// frame was a snapshot.
func (f *Feed) handle(b []byte, sink func(polybot.BookEvent)) bool {
	env := &f.env
	if err := decodeEnvelope(b, env); err != nil {
		f.log.Warn("kalshi feed: undecodable message", "err", err)
		return false
	}
	switch string(env.Type) {
	case "orderbook_delta":
		n := f.onDelta(env)
		for i := range n {
			sink(f.events[i])
		}
	case "orderbook_snapshot":
		evs := f.onSnapshot(env)
		for _, ev := range evs {
			sink(ev)
		}
		return len(evs) > 0
	case "trade":
		for _, ev := range f.onTrade(env) {
			sink(ev)
		}
	case "ticker":
		f.onTicker(env)
	case "fill":
		f.onFill(env)
	case "subscribed":
		f.onSubscribed(env)
	case "error":
		f.onError(env)
	}
	return false
}

// onDelta applies an orderbook_delta and fills f.events; it returns how many
// events to deliver.
func (f *Feed) onDelta(env *envelope) int {
	d := &f.dm
	if err := decodeDelta(env.Msg, d); err != nil {
		f.log.Warn("kalshi feed: bad orderbook_delta", "err", err)
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ref, ok := f.bySid[env.Sid]
	if !ok || ref.channel != "orderbook_delta" {
		f.stats.dropped.Add(1)
		return 0
	}
	m := ref.m
	if !m.valid {
		f.stats.dropped.Add(1)
		return 0
	}
	if env.Seq != m.lastSeq+1 {
		f.stats.gaps.Add(1)
		f.log.Warn("kalshi feed: sequence gap; resyncing", "market", m.ticker, "want", m.lastSeq+1, "got", env.Seq)
		f.markForResync(m)
		f.poke()
		return f.gapEvents(m, env.Seq, d.TsMs)
	}
	m.lastSeq = env.Seq
	size, ok := m.book.apply(d.Side, d.Price, d.Delta)
	if !ok {
		f.stats.gaps.Add(1)
		f.log.Warn("kalshi feed: level went negative; resyncing", "market", m.ticker)
		f.markForResync(m)
		f.poke()
		return 0
	}
	f.stats.deltas.Add(1)
	return f.deltaEvents(m, d.Side, d.Price, size, env.Seq, d.TsMs)
}

// deltaEvents builds the delta of each wanted instrument in f.events: a YES
// bid at p is a YES bid and a NO ask at 1−p; a NO bid at q is a NO bid and a
// YES ask at 1−q.
func (f *Feed) deltaEvents(m *feedMarket, side byte, price, size polybot.Decimal, seq, tsMs int64) int {
	recv := f.cfg.Now()
	t := recv
	if tsMs > 0 {
		t = time.UnixMilli(tsMs)
	}
	f.lv[0] = polybot.Level{Price: price, Size: size}
	f.lv[1] = polybot.Level{Price: polybot.One.Sub(price), Size: size}
	n := 0
	if m.wantYes {
		ev := &f.events[n]
		*ev = polybot.BookEvent{Kind: polybot.BookDelta, Instrument: m.yesInst, Seq: seq, Time: t, Received: recv}
		if side == 'y' {
			ev.Bids = f.lv[0:1:1]
		} else {
			ev.Asks = f.lv[1:2:2]
		}
		n++
	}
	if m.wantNo {
		ev := &f.events[n]
		*ev = polybot.BookEvent{Kind: polybot.BookDelta, Instrument: m.noInst, Seq: seq, Time: t, Received: recv}
		if side == 'n' {
			ev.Bids = f.lv[0:1:1]
		} else {
			ev.Asks = f.lv[1:2:2]
		}
		n++
	}
	return n
}

// gapEvents fills f.events with a delta without levels for each wanted
// instrument, carrying the venue's seq after a gap: nothing to a sink that
// applies it, and the gap itself to one that checks the sequence
// (marketdata.Hub), which then shows the books stale instead of live until
// the fresh snapshot.
func (f *Feed) gapEvents(m *feedMarket, seq, tsMs int64) int {
	recv := f.cfg.Now()
	t := recv
	if tsMs > 0 {
		t = time.UnixMilli(tsMs)
	}
	n := 0
	for _, w := range [2]struct {
		want bool
		inst polybot.Instrument
	}{{m.wantYes, m.yesInst}, {m.wantNo, m.noInst}} {
		if w.want {
			f.events[n] = polybot.BookEvent{Kind: polybot.BookDelta, Instrument: w.inst, Seq: seq, Time: t, Received: recv}
			n++
		}
	}
	return n
}

type snapshotMsg struct {
	MarketTicker string               `json:"market_ticker"`
	YesFP        [][2]polybot.Decimal `json:"yes_dollars_fp"`
	NoFP         [][2]polybot.Decimal `json:"no_dollars_fp"`
	YesDollars   [][2]polybot.Decimal `json:"yes_dollars"`
	NoDollars    [][2]polybot.Decimal `json:"no_dollars"`
	TsMs         int64                `json:"ts_ms"`
}

func (f *Feed) onSnapshot(env *envelope) []polybot.BookEvent {
	var s snapshotMsg
	if err := json.Unmarshal(env.Msg, &s); err != nil {
		f.log.Warn("kalshi feed: bad orderbook_snapshot", "err", err)
		return nil
	}
	if s.YesFP == nil && s.NoFP == nil {
		s.YesFP, s.NoFP = s.YesDollars, s.NoDollars
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ref, ok := f.bySid[env.Sid]
	if !ok || ref.channel != "orderbook_delta" || ref.m.ticker != s.MarketTicker {
		f.stats.dropped.Add(1)
		return nil
	}
	m := ref.m
	m.book.reset(s.YesFP, s.NoFP)
	m.valid, m.lastSeq = true, env.Seq
	f.stats.snapshots.Add(1)
	recv := f.cfg.Now()
	t := recv
	if s.TsMs > 0 {
		t = time.UnixMilli(s.TsMs)
	}
	yes, no := m.book.snapshotEvents(m.ticker, env.Seq, t, recv)
	var out []polybot.BookEvent
	if m.wantYes {
		out = append(out, yes)
	}
	if m.wantNo {
		out = append(out, no)
	}
	return out
}

type tradeMsg struct {
	TradeID      string          `json:"trade_id"`
	MarketTicker string          `json:"market_ticker"`
	YesPrice     polybot.Decimal `json:"yes_price_dollars"`
	NoPrice      polybot.Decimal `json:"no_price_dollars"`
	CountFP      polybot.Decimal `json:"count_fp"`
	TakerSide    string          `json:"taker_side"`
	Ts           int64           `json:"ts"`
}

func (f *Feed) onTrade(env *envelope) []polybot.BookEvent {
	var t tradeMsg
	if err := json.Unmarshal(env.Msg, &t); err != nil {
		f.log.Warn("kalshi feed: bad trade", "err", err)
		return nil
	}
	f.mu.Lock()
	m := f.markets[t.MarketTicker]
	wantYes, wantNo := m != nil && m.wantYes, m != nil && m.wantNo
	f.mu.Unlock()
	recv := f.cfg.Now()
	ts := time.Unix(t.Ts, 0)
	noPrice := t.NoPrice
	if noPrice.IsZero() {
		noPrice = polybot.One.Sub(t.YesPrice)
	}
	// taker_side "yes" bought YES, which on the NO instrument is a sale.
	yesSide := polybot.Buy
	if t.TakerSide == "no" {
		yesSide = polybot.Sell
	}
	yi, ni := Instruments(t.MarketTicker)
	var out []polybot.BookEvent
	if wantYes {
		out = append(out, polybot.BookEvent{Kind: polybot.BookTrade, Instrument: yi, TradePrice: t.YesPrice, TradeSize: t.CountFP, TradeSide: yesSide, Seq: env.Seq, Time: ts, Received: recv})
	}
	if wantNo {
		out = append(out, polybot.BookEvent{Kind: polybot.BookTrade, Instrument: ni, TradePrice: noPrice, TradeSize: t.CountFP, TradeSide: 1 - yesSide, Seq: env.Seq, Time: ts, Received: recv})
	}
	return out
}

func (f *Feed) onTicker(env *envelope) {
	if f.cfg.OnTicker == nil {
		return
	}
	var t Ticker
	if err := json.Unmarshal(env.Msg, &t); err != nil {
		f.log.Warn("kalshi feed: bad ticker", "err", err)
		return
	}
	f.cfg.OnTicker(t)
}

// wsFill is the fill channel's msg.
type wsFill struct {
	Fill
	TsMs           int64           `json:"ts_ms"`
	PostPositionFP polybot.Decimal `json:"post_position_fp"`
}

func (f *Feed) onFill(env *envelope) {
	if f.cfg.OnFill == nil {
		return
	}
	var w wsFill
	if err := json.Unmarshal(env.Msg, &w); err != nil {
		f.log.Warn("kalshi feed: bad fill", "err", err)
		return
	}
	fl := w.Fill
	if fl.Ticker == "" {
		fl.Ticker = fl.MarketTicker
	}
	pf := toPolybotFill(&fl, nil)
	if w.TsMs > 0 {
		pf.Time = time.UnixMilli(w.TsMs)
	}
	f.cfg.OnFill(pf)
}

type subscribedMsg struct {
	Channel string `json:"channel"`
	Sid     int64  `json:"sid"`
}

func (f *Feed) onSubscribed(env *envelope) {
	var s subscribedMsg
	if err := json.Unmarshal(env.Msg, &s); err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pending[env.ID]
	if p == nil {
		// Not ours any more (an answer from before a resync): drop it.
		f.unsubs = append(f.unsubs, s.Sid)
		f.poke()
		return
	}
	f.donePending(env.ID, p)
	if p.m == nil {
		if s.Channel == "fill" {
			f.fillSid, f.fillReq = s.Sid, 0
			f.bySid[s.Sid] = subRef{channel: "fill"}
		}
		return
	}
	m := p.m
	if m.removed {
		f.unsubs = append(f.unsubs, s.Sid)
		f.poke()
		return
	}
	switch s.Channel {
	case "orderbook_delta":
		m.bookSid, m.valid, m.lastSeq = s.Sid, false, 0
	case "trade":
		m.tradeSid = s.Sid
	case "ticker":
		m.tickerSid = s.Sid
	}
	f.bySid[s.Sid] = subRef{m: m, channel: s.Channel}
}

func (f *Feed) donePending(id int64, p *pendingCmd) {
	p.remaining--
	if p.remaining > 0 {
		return
	}
	delete(f.pending, id)
	if p.m != nil && p.m.pending == id {
		p.m.pending = 0
	}
	if p.m == nil && f.fillReq == id && f.fillSid == 0 {
		f.fillReq = 0
	}
}

type errorMsg struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

func (f *Feed) onError(env *envelope) {
	var e errorMsg
	_ = json.Unmarshal(env.Msg, &e)
	f.log.Warn("kalshi feed: command failed", "id", env.ID, "code", e.Code, "msg", e.Msg)
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.pending[env.ID]; p != nil {
		// The whole command failed: let the next plan retry it.
		p.remaining = 1
		f.donePending(env.ID, p)
	}
}
