package polymarket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// Feed is the market channel as a polybot.MarketFeed: one connection for
// every subscribed token, PING heartbeats, reconnection with backoff, and
// fresh book snapshots before any delta after each (re)connect or resync.
type Feed struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	subs    map[string]polybot.Instrument // token → instrument
	synced  map[string]bool               // token → snapshot seen on this connection
	pending []polybot.Instrument          // new instruments for the decoder
	conn    *websocket.Conn

	running  atomic.Bool
	connects atomic.Int64
}

var _ polybot.MarketFeed = (*Feed)(nil)

// NewFeed returns a market feed on cfg.MarketWSURL. log may be nil.
func NewFeed(cfg Config, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{cfg: cfg.withDefaults(), log: log.With("venue", "polymarket", "channel", "market"),
		subs: map[string]polybot.Instrument{}, synced: map[string]bool{}}
}

// Platform implements polybot.MarketFeed.
func (f *Feed) Platform() polybot.Platform { return polybot.Polymarket }

// Connects returns how many connections Run has opened (reconnects included).
func (f *Feed) Connects() int64 { return f.connects.Load() }

// Run implements polybot.MarketFeed. Events passed to sink own their slices.
func (f *Feed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("polymarket: feed already running")
	}
	defer f.running.Store(false)
	b := wire.Backoff{Min: 200 * time.Millisecond, Max: 30 * time.Second}
	for {
		start := time.Now()
		err := f.session(ctx, sink)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(start) > time.Minute {
			b.Reset()
		}
		f.invalidate(sink)
		d := b.Next()
		f.log.Warn("market channel lost; reconnecting", "err", err, "in", d)
		if err := wire.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// invalidate tells the sink that every subscribed book is unknown until the
// next connection's snapshots.
func (f *Feed) invalidate(sink func(polybot.BookEvent)) {
	f.mu.Lock()
	insts := make([]polybot.Instrument, 0, len(f.subs))
	for _, inst := range f.subs {
		insts = append(insts, inst)
	}
	f.mu.Unlock()
	for _, inst := range insts {
		sink(polybot.BookEvent{Kind: polybot.BookInvalidate, Instrument: inst, Received: time.Now()})
	}
}

type subscribeMsg struct {
	AssetsIDs []string `json:"assets_ids"`
	Type      string   `json:"type,omitempty"`
	Operation string   `json:"operation,omitempty"`
}

func (f *Feed) session(ctx context.Context, sink func(polybot.BookEvent)) error {
	conn, err := dialWS(ctx, f.cfg.MarketWSURL)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	f.connects.Add(1)
	dec := NewDecoder()
	f.mu.Lock()
	ids := make([]string, 0, len(f.subs))
	for tok, inst := range f.subs {
		ids = append(ids, tok)
		dec.SetInstrument(inst)
	}
	f.pending = f.pending[:0]
	f.synced = map[string]bool{}
	f.conn = conn
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.conn == conn {
			f.conn = nil
		}
		f.mu.Unlock()
	}()
	slices.Sort(ids)
	if err := writeJSON(ctx, conn, subscribeMsg{AssetsIDs: ids, Type: "market"}); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go pinger(sctx, conn, f.cfg.PingInterval)

	var buf bytes.Buffer
	for {
		rctx, rcancel := context.WithTimeout(sctx, 3*f.cfg.PingInterval)
		_, r, err := conn.Reader(rctx)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		rcancel()
		if err != nil {
			return err
		}
		received := time.Now()
		f.mu.Lock()
		for _, inst := range f.pending {
			dec.SetInstrument(inst)
		}
		f.pending = f.pending[:0]
		f.mu.Unlock()
		evs, err := dec.Decode(buf.Bytes(), received)
		if err != nil {
			f.log.Warn("market channel: undecodable message", "err", err, "len", buf.Len())
			continue
		}
		for i := range evs {
			ev := evs[i]
			tok := ev.Instrument.Token
			f.mu.Lock()
			inst, ok := f.subs[tok]
			switch {
			case !ok:
			case ev.Kind == polybot.BookSnapshot:
				f.synced[tok] = true
			case ev.Kind == polybot.BookDelta && !f.synced[tok]:
				ok = false // a delta before this connection's snapshot
			}
			f.mu.Unlock()
			if !ok {
				continue
			}
			if ev.Instrument.Market == "" || inst.Market != "" {
				ev.Instrument.Market = inst.Market
			}
			ev.Instrument.Outcome = inst.Outcome
			ev.Bids, ev.Asks = slices.Clone(ev.Bids), slices.Clone(ev.Asks)
			sink(ev)
		}
	}
}

func writeJSON(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}

// Subscribe implements polybot.MarketFeed. Instruments need a Token.
func (f *Feed) Subscribe(_ context.Context, insts ...polybot.Instrument) error {
	var ids []string
	f.mu.Lock()
	for _, inst := range insts {
		if inst.Token == "" {
			f.mu.Unlock()
			return fmt.Errorf("polymarket: instrument %s has no token id", inst.Key())
		}
		inst.Venue = polybot.Polymarket
		if _, ok := f.subs[inst.Token]; !ok {
			ids = append(ids, inst.Token)
		}
		f.subs[inst.Token] = inst
		f.pending = append(f.pending, inst)
	}
	conn := f.conn
	f.mu.Unlock()
	return f.send(conn, ids, "subscribe")
}

// Unsubscribe implements polybot.MarketFeed.
func (f *Feed) Unsubscribe(insts ...polybot.Instrument) error {
	var ids []string
	f.mu.Lock()
	for _, inst := range insts {
		if _, ok := f.subs[inst.Token]; ok {
			ids = append(ids, inst.Token)
			delete(f.subs, inst.Token)
			delete(f.synced, inst.Token)
		}
	}
	conn := f.conn
	f.mu.Unlock()
	return f.send(conn, ids, "unsubscribe")
}

// Resync implements polybot.MarketFeed: the token is unsubscribed and
// subscribed again, which makes the venue send a fresh book; deltas are
// dropped until it arrives.
func (f *Feed) Resync(inst polybot.Instrument) error {
	f.mu.Lock()
	_, ok := f.subs[inst.Token]
	f.synced[inst.Token] = false
	conn := f.conn
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("polymarket: resync of %s, which is not subscribed", inst.Key())
	}
	if err := f.send(conn, []string{inst.Token}, "unsubscribe"); err != nil {
		return err
	}
	return f.send(conn, []string{inst.Token}, "subscribe")
}

// send writes a subscription change on the live connection, if any. A lost
// write is harmless: the next connection subscribes to everything.
func (f *Feed) send(conn *websocket.Conn, ids []string, op string) error {
	if conn == nil || len(ids) == 0 {
		return nil
	}
	if err := writeJSON(context.Background(), conn, subscribeMsg{AssetsIDs: ids, Operation: op}); err != nil {
		f.log.Warn("market channel: "+op+" not sent; the reconnect will", "err", err)
	}
	return nil
}
