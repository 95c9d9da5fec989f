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
	// ops are the subscription changes the connection's writer has yet to
	// send, one per token (coalesced); kick wakes the writer.
	ops  map[string]subOp
	kick chan struct{}

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
		subs: map[string]polybot.Instrument{}, synced: map[string]bool{}, ops: map[string]subOp{},
		kick: make(chan struct{}, 1)}
}

// Platform implements polybot.MarketFeed.
func (f *Feed) Platform() polybot.Platform { return polybot.Polymarket }

// Connects returns how many connections Run has opened (reconnects included).
func (f *Feed) Connects() int64 { return f.connects.Load() }

// reconnect is the channels' delay between connections; one that lasted a
// minute resets it.
var reconnect = wire.Backoff{Min: 200 * time.Millisecond, Max: 30 * time.Second}

// Run implements polybot.MarketFeed. Events passed to sink own their slices.
func (f *Feed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("polymarket: feed already running")
	}
	defer f.running.Store(false)
	return wire.Redial(ctx, reconnect, f.log,
		wire.LastedOver(time.Minute, func(ctx context.Context) error { return f.session(ctx, sink) }),
		func() { f.invalidate(sink) })
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
	clear(f.ops) // the first message subscribes to everything
	f.mu.Unlock()
	slices.Sort(ids)
	if err := writeJSON(ctx, conn, subscribeMsg{AssetsIDs: ids, Type: "market"}); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go pinger(sctx, conn, f.cfg.PingInterval)
	go f.writer(sctx, conn)

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

// subOp is a subscription change waiting for the writer.
type subOp uint8

const (
	opSubscribe subOp = iota + 1
	opUnsubscribe
	opResync // unsubscribe, then subscribe: the venue sends a fresh book
)

// queue records a change for token under f.mu, coalescing it with one not
// yet sent, and wakes the writer. It never touches the network.
func (f *Feed) queue(token string, op subOp) {
	prev, queued := f.ops[token]
	switch {
	case !queued:
	case op == opSubscribe && prev == opUnsubscribe:
		op = opResync
	case op == opResync && prev == opSubscribe:
		op = opSubscribe // not yet subscribed: the subscription brings the book
	case op == opUnsubscribe && prev == opSubscribe:
		delete(f.ops, token) // never sent: nothing to take back
		return
	}
	f.ops[token] = op
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// writer sends the queued subscription changes on conn until ctx ends:
// unsubscriptions first, then subscriptions, each as one message. A failed
// write is harmless: the reader sees the broken connection, and the next
// connection subscribes to everything.
func (f *Feed) writer(ctx context.Context, conn *websocket.Conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		var subs, unsubs []string
		f.mu.Lock()
		for tok, op := range f.ops {
			if op != opSubscribe {
				unsubs = append(unsubs, tok)
			}
			if op != opUnsubscribe {
				subs = append(subs, tok)
			}
		}
		clear(f.ops)
		f.mu.Unlock()
		slices.Sort(subs)
		slices.Sort(unsubs)
		for _, m := range []subscribeMsg{{AssetsIDs: unsubs, Operation: "unsubscribe"}, {AssetsIDs: subs, Operation: "subscribe"}} {
			if len(m.AssetsIDs) == 0 {
				continue
			}
			if err := writeJSON(ctx, conn, m); err != nil {
				f.log.Warn("market channel: "+m.Operation+" not sent; the reconnect will", "err", err)
				return
			}
		}
	}
}

// Subscribe implements polybot.MarketFeed. Instruments need a Token. It
// only queues the change for the connection's writer: it never waits on
// the network.
func (f *Feed) Subscribe(_ context.Context, insts ...polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, inst := range insts {
		if inst.Token == "" {
			return fmt.Errorf("polymarket: instrument %s has no token id", inst.Key())
		}
	}
	for _, inst := range insts {
		inst.Venue = polybot.Polymarket
		if _, ok := f.subs[inst.Token]; !ok {
			f.queue(inst.Token, opSubscribe)
		}
		f.subs[inst.Token] = inst
		f.pending = append(f.pending, inst)
	}
	return nil
}

// Unsubscribe implements polybot.MarketFeed; like Subscribe it only queues.
func (f *Feed) Unsubscribe(insts ...polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, inst := range insts {
		if _, ok := f.subs[inst.Token]; ok {
			f.queue(inst.Token, opUnsubscribe)
			delete(f.subs, inst.Token)
			delete(f.synced, inst.Token)
		}
	}
	return nil
}

// Resync implements polybot.MarketFeed: the token is unsubscribed and
// subscribed again, which makes the venue send a fresh book; deltas are
// dropped until it arrives.
func (f *Feed) Resync(inst polybot.Instrument) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[inst.Token]; !ok {
		return fmt.Errorf("polymarket: resync of %s, which is not subscribed", inst.Key())
	}
	f.synced[inst.Token] = false
	f.queue(inst.Token, opResync)
	return nil
}
