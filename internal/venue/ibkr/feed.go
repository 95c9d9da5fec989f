package ibkr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// Market-data field ids (snapshot and WebSocket "smd" topics): last price,
// bid, ask size, ask and bid size.
const (
	FieldLast    = "31"
	FieldBid     = "84"
	FieldAskSize = "85"
	FieldAsk     = "86"
	FieldBidSize = "88"
)

// QuoteFields are the fields PolyBot asks for.
var QuoteFields = []string{FieldLast, FieldBid, FieldAskSize, FieldAsk, FieldBidSize}

// Quote is the top of one contract's book.
type Quote struct {
	Conid                            Conid
	Bid, BidSize, Ask, AskSize, Last polybot.Decimal
	HasBid, HasAsk, HasLast          bool
	Updated                          time.Time
	hasBidSize, hasAskSize           bool
}

// merge applies one message's fields (a WebSocket update carries only the
// fields that changed).
func (q *Quote) merge(m map[string]any) {
	set := func(key string, size bool, d *polybot.Decimal, has *bool) {
		v, ok := m[key]
		if !ok {
			return
		}
		x, ok := fieldValue(v, size)
		*d, *has = x, ok
	}
	set(FieldBid, false, &q.Bid, &q.HasBid)
	set(FieldAsk, false, &q.Ask, &q.HasAsk)
	set(FieldLast, false, &q.Last, &q.HasLast)
	set(FieldBidSize, true, &q.BidSize, &q.hasBidSize)
	set(FieldAskSize, true, &q.AskSize, &q.hasAskSize)
	if u, ok := m["_updated"].(json.Number); ok {
		if ms, err := u.Int64(); err == nil {
			q.Updated = time.UnixMilli(ms).UTC()
		}
	}
}

// fieldValue reads a market-data value. Prices may carry a one-letter
// prefix (C: the previous close, H: halted); sizes may use thousands
// separators and K/M suffixes. ok is false for an empty or unreadable value.
func fieldValue(v any, size bool) (polybot.Decimal, bool) {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = string(t)
	default:
		return polybot.Zero, false
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	s = strings.TrimLeft(s, "CH")
	mult := int64(1)
	if size && s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult, s = 1000, s[:len(s)-1]
		case 'M':
			mult, s = 1_000_000, s[:len(s)-1]
		}
	}
	if s == "" {
		return polybot.Zero, false
	}
	d, err := polybot.ParseDecimal(s)
	if err != nil {
		return polybot.Zero, false
	}
	return d.MulInt(mult), true
}

// levels is q as one-level book sides (a side without a price or a size is
// empty).
func (q *Quote) levels() (bids, asks []polybot.Level) {
	if q.HasBid && q.hasBidSize && q.Bid.Sign() > 0 && q.BidSize.Sign() > 0 {
		bids = []polybot.Level{{Price: q.Bid, Size: q.BidSize}}
	}
	if q.HasAsk && q.hasAskSize && q.Ask.Sign() > 0 && q.AskSize.Sign() > 0 {
		asks = []polybot.Level{{Price: q.Ask, Size: q.AskSize}}
	}
	return bids, asks
}

// Snapshot reads the top of the books of conids
// (/iserver/marketdata/snapshot). IBKR answers the first request for a
// contract with few fields while it opens the subscription; ask again.
func (c *Client) Snapshot(ctx context.Context, conids ...Conid) ([]Quote, error) {
	ids := make([]string, len(conids))
	for i, id := range conids {
		ids[i] = id.String()
	}
	var raw []map[string]any
	q := url.Values{"conids": {strings.Join(ids, ",")}, "fields": {strings.Join(QuoteFields, ",")}}
	if err := c.call(ctx, "GET", "/iserver/marketdata/snapshot", q, nil, false, &raw); err != nil {
		return nil, err
	}
	out := make([]Quote, 0, len(raw))
	for _, m := range raw {
		var qu Quote
		if id, ok := m["conid"].(json.Number); ok {
			v, _ := id.Int64()
			qu.Conid = Conid(v)
		}
		qu.merge(m)
		out = append(out, qu)
	}
	return out, nil
}

// Quote reads the top of one instrument's book.
func (x *Exchange) Quote(ctx context.Context, inst polybot.Instrument) (Quote, error) {
	id, err := x.r.conid(ctx, inst)
	if err != nil {
		return Quote{}, err
	}
	qs, err := x.c.Snapshot(ctx, id)
	if err != nil {
		return Quote{}, err
	}
	for _, q := range qs {
		if q.Conid == id {
			return q, nil
		}
	}
	return Quote{}, polybot.Errorf(polybot.ENOTFOUND, "IBKR sent no quote for contract %d", id)
}

// FeedConfig configures a Feed.
type FeedConfig struct {
	// URL is the WebSocket endpoint ("" derives it from the gateway URL:
	// ws(s)://host/v1/api/ws).
	URL string
	// HTTPClient dials the connection (nil: the exchange's client).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// MinBackoff and MaxBackoff bound the reconnect delay (250 ms and 15 s
	// when zero; wire.Backoff: doubling after each failed session, jitter).
	MinBackoff, MaxBackoff time.Duration
	// Heartbeat is how often "tic" is sent (30 s when zero).
	Heartbeat time.Duration
	// Now is the clock for Received times (nil: time.Now).
	Now func() time.Time
}

// Feed is IBKR's market-data WebSocket as a polybot.MarketFeed: one
// "smd+<conid>" subscription per contract (a ForecastEx question's YES and
// NO contracts each have their own), delivered as top-of-book snapshots.
// After a reconnect every contract is subscribed again, and its first
// message is a full snapshot; on a disconnect every subscribed book is
// invalidated.
type Feed struct {
	x   *Exchange
	cfg FeedConfig
	log *slog.Logger

	mu      sync.Mutex
	subs    map[Conid]*feedSub
	pending map[Conid]string // commands to write
	wake    chan struct{}
}

type feedSub struct {
	inst polybot.Instrument
	q    Quote
}

var _ polybot.MarketFeed = (*Feed)(nil)

// NewFeed returns a feed that resolves instruments through x.
func NewFeed(x *Exchange, cfg FeedConfig) *Feed {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 15 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = x.c.http
	}
	log := cfg.Logger
	if log == nil {
		log = x.c.log
	}
	return &Feed{x: x, cfg: cfg, log: log.With("feed", "ibkr"), subs: map[Conid]*feedSub{}, pending: map[Conid]string{},
		wake: make(chan struct{}, 1)}
}

// NewMarketDataFeed is a feed of the gateway at cfg.GatewayURL that trades
// nothing: the platform's own market-data session (cfg.Account may be
// empty).
func NewMarketDataFeed(cfg Config, fc FeedConfig) (*Feed, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return NewFeed(&Exchange{c: c, r: newResolver(c), orders: map[string]ID{}}, fc), nil
}

// Platform implements polybot.MarketFeed.
func (f *Feed) Platform() polybot.Platform { return polybot.IBKR }

func (f *Feed) wsURL() string {
	if f.cfg.URL != "" {
		return f.cfg.URL
	}
	u := f.x.c.base + "/ws"
	if strings.HasPrefix(u, "https://") {
		return "wss://" + strings.TrimPrefix(u, "https://")
	}
	return "ws://" + strings.TrimPrefix(u, "http://")
}

func smd(id Conid) string {
	b, _ := json.Marshal(map[string][]string{"fields": QuoteFields})
	return "smd+" + id.String() + "+" + string(b)
}

func umd(id Conid) string { return "umd+" + id.String() + "+{}" }

func (f *Feed) queue(id Conid, cmd string) {
	f.pending[id] = cmd
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Subscribe implements polybot.MarketFeed. Resolving a NO contract may ask
// the gateway once (bounded by ctx); the subscription itself is written by
// Run's goroutine.
func (f *Feed) Subscribe(ctx context.Context, instruments ...polybot.Instrument) error {
	for _, inst := range instruments {
		id, err := f.x.r.conid(ctx, inst)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if _, ok := f.subs[id]; !ok {
			f.subs[id] = &feedSub{inst: inst}
			f.queue(id, smd(id))
		}
		f.mu.Unlock()
	}
	return nil
}

// Unsubscribe implements polybot.MarketFeed.
func (f *Feed) Unsubscribe(instruments ...polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, inst := range instruments {
		for id, s := range f.subs {
			if s.inst == inst {
				delete(f.subs, id)
				f.queue(id, umd(id))
			}
		}
	}
	return nil
}

// Resync implements polybot.MarketFeed: unsubscribe and subscribe again,
// whose first message is a full snapshot.
func (f *Feed) Resync(inst polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, s := range f.subs {
		if s.inst == inst {
			s.q = Quote{Conid: id}
			f.pending[id] = umd(id) + "\n" + smd(id)
			select {
			case f.wake <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// Run implements polybot.MarketFeed: sessions one after another
// (wire.Redial), the books invalidated between them.
func (f *Feed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	return wire.Redial(ctx, wire.Backoff{Min: f.cfg.MinBackoff, Max: f.cfg.MaxBackoff}, f.log,
		func(ctx context.Context) (bool, error) { return f.session(ctx, sink) }, func() { f.invalidate(sink) })
}

func (f *Feed) invalidate(sink func(polybot.BookEvent)) {
	f.mu.Lock()
	var insts []polybot.Instrument
	for id, s := range f.subs {
		s.q = Quote{Conid: id}
		insts = append(insts, s.inst)
	}
	f.mu.Unlock()
	now := f.cfg.Now()
	for _, inst := range insts {
		sink(polybot.BookEvent{Kind: polybot.BookInvalidate, Instrument: inst, Time: now, Received: now})
	}
}

// session is one connection: the session token from /tickle, the socket,
// every subscription, then messages until an error. healthy is having read
// a message.
func (f *Feed) session(ctx context.Context, sink func(polybot.BookEvent)) (healthy bool, err error) {
	tk, err := f.x.c.Tickle(ctx)
	if err != nil {
		return false, err
	}
	if !tk.IServer.AuthStatus.Authenticated {
		return false, errors.New("the brokerage session is not authenticated")
	}
	h := http.Header{}
	h.Set("Cookie", "api="+url.QueryEscape(`{"session":"`+tk.Session+`"}`))
	conn, _, err := websocket.Dial(ctx, f.wsURL(), &websocket.DialOptions{HTTPClient: f.cfg.HTTPClient, HTTPHeader: h})
	if err != nil {
		return false, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := conn.Write(sctx, websocket.MessageText, []byte(`{"session":"`+tk.Session+`"}`)); err != nil {
		return false, err
	}
	f.mu.Lock()
	f.pending = map[Conid]string{}
	for id := range f.subs {
		f.queue(id, smd(id))
	}
	f.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- f.write(sctx, conn) }()
	for {
		_, msg, err := conn.Read(sctx)
		if err != nil {
			cancel()
			if werr := <-errc; werr != nil && !errors.Is(werr, context.Canceled) {
				return healthy, werr
			}
			return healthy, err
		}
		healthy = true
		f.handle(msg, sink)
	}
}

func (f *Feed) write(ctx context.Context, conn *websocket.Conn) error {
	hb := time.NewTicker(f.cfg.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-hb.C:
			if err := conn.Write(ctx, websocket.MessageText, []byte("tic")); err != nil {
				return err
			}
			continue
		case <-f.wake:
		}
		f.mu.Lock()
		cmds := f.pending
		f.pending = map[Conid]string{}
		f.mu.Unlock()
		for _, c := range cmds {
			for _, line := range strings.Split(c, "\n") {
				if err := conn.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
					return err
				}
			}
		}
	}
}

// handle reads one message: "smd+<conid>" topics update a book; the
// others (system, sts, heartbeats) are ignored.
func (f *Feed) handle(msg []byte, sink func(polybot.BookEvent)) {
	dec := json.NewDecoder(strings.NewReader(string(msg)))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return
	}
	topic, _ := m["topic"].(string)
	rest, ok := strings.CutPrefix(topic, "smd+")
	if !ok {
		return
	}
	v, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return
	}
	id := Conid(v)
	f.mu.Lock()
	s, ok := f.subs[id]
	if !ok {
		f.mu.Unlock()
		return
	}
	s.q.merge(m)
	bids, asks := s.q.levels()
	inst, q := s.inst, s.q
	f.mu.Unlock()
	now := f.cfg.Now()
	ev := polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst, Bids: bids, Asks: asks, TickSize: f.tick(inst),
		Time: q.Updated, Received: now}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	sink(ev)
}

func (f *Feed) tick(inst polybot.Instrument) polybot.Decimal {
	if SellsByBuyingOpposite(inst) {
		return EventTick
	}
	return polybot.NewDecimal(1, 2)
}

// String names the feed in logs.
func (f *Feed) String() string { return fmt.Sprintf("ibkr feed(%s)", f.wsURL()) }
