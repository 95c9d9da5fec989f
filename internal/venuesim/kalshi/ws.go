package kalshi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/polybot/polybot"
)

// wsConn is one WebSocket client. Outgoing frames go through a buffered
// queue; a client too slow to drain it is disconnected, as a venue would.
type wsConn struct {
	s     *Server
	keyID string
	c     *websocket.Conn
	out   chan []byte
	once  sync.Once
	gone  chan struct{}

	mu      sync.Mutex // guards subs and nextSid; taken after Server.mu
	subs    map[int64]*wsSub
	nextSid int64
}

type wsSub struct {
	sid     int64
	channel string
	tickers map[string]bool // nil: every market (fill, and trade/ticker without a filter)
	seq     int64
}

func (sub *wsSub) covers(ticker string) bool { return sub.tickers == nil || sub.tickers[ticker] }

type wsCommand struct {
	ID     int64  `json:"id"`
	Cmd    string `json:"cmd"`
	Params struct {
		Channels      []string `json:"channels"`
		MarketTicker  string   `json:"market_ticker"`
		MarketTickers []string `json:"market_tickers"`
		Sids          []int64  `json:"sids"`
		Sid           int64    `json:"sid"`
		Action        string   `json:"action"`
	} `json:"params"`
}

// outFrame is every server frame: data frames carry sid and seq, command
// answers carry id.
type outFrame struct {
	ID   int64  `json:"id,omitempty"`
	Type string `json:"type"`
	Sid  int64  `json:"sid,omitempty"`
	Seq  int64  `json:"seq,omitempty"`
	Msg  any    `json:"msg,omitempty"`
}

// WebSocket command error codes, as Kalshi numbers them.
const (
	wsErrProcessing     = 1
	wsErrParamsRequired = 2
	wsErrChannels       = 3
	wsErrSids           = 4
	wsErrUnknownCommand = 5
	wsErrUnknownSid     = 7
	wsErrUnknownChannel = 8
	wsErrInvalidParam   = 11
	wsErrOneSid         = 12
	wsErrAction         = 13
	wsErrMarketRequired = 14
)

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	keyID, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20)
	conn := &wsConn{s: s, keyID: keyID, c: c, out: make(chan []byte, 16384), gone: make(chan struct{}), subs: map[int64]*wsSub{}}
	s.mu.Lock()
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.drop()
	}()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go conn.writeLoop(ctx)
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var cmd wsCommand
		if err := json.Unmarshal(b, &cmd); err != nil {
			conn.sendError(0, wsErrProcessing, "Unable to process message")
			continue
		}
		s.command(conn, &cmd)
	}
}

func (c *wsConn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.gone:
			return
		case b := <-c.out:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.drop()
				return
			}
		}
	}
}

func (c *wsConn) drop() {
	c.once.Do(func() {
		close(c.gone)
		_ = c.c.CloseNow()
	})
}

// send queues a frame; a full queue disconnects the client.
func (c *wsConn) send(f outFrame) {
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	select {
	case c.out <- b:
	case <-c.gone:
	default:
		c.drop()
	}
}

func (c *wsConn) sendError(id int64, code int, msg string) {
	c.send(outFrame{ID: id, Type: "error", Msg: map[string]any{"code": code, "msg": msg}})
}

// publish sends a data frame on sub, numbering it. Call with c.mu held.
func (c *wsConn) publish(sub *wsSub, typ string, msg any, skip int64) {
	sub.seq += 1 + skip
	c.send(outFrame{Type: typ, Sid: sub.sid, Seq: sub.seq, Msg: msg})
}

var knownChannels = map[string]bool{"orderbook_delta": true, "ticker": true, "trade": true, "fill": true}

func (s *Server) command(c *wsConn, cmd *wsCommand) {
	switch cmd.Cmd {
	case "subscribe":
		s.subscribe(c, cmd)
	case "unsubscribe":
		if len(cmd.Params.Sids) == 0 {
			c.sendError(cmd.ID, wsErrSids, "Subscription IDs required")
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, sid := range cmd.Params.Sids {
			sub, ok := c.subs[sid]
			if !ok {
				c.sendError(cmd.ID, wsErrUnknownSid, "Unknown subscription ID")
				continue
			}
			delete(c.subs, sid)
			c.send(outFrame{ID: cmd.ID, Sid: sid, Seq: sub.seq, Type: "unsubscribed"})
		}
	case "list_subscriptions":
		c.mu.Lock()
		defer c.mu.Unlock()
		list := []map[string]any{}
		for _, sid := range slices.Sorted(maps.Keys(c.subs)) {
			list = append(list, map[string]any{"channel": c.subs[sid].channel, "sid": sid})
		}
		c.send(outFrame{ID: cmd.ID, Type: "ok", Msg: list})
	case "update_subscription":
		s.updateSubscription(c, cmd)
	default:
		c.sendError(cmd.ID, wsErrUnknownCommand, "Unknown command")
	}
}

// knownTickers returns the markets cmd names; when one is unknown it
// answers the command with an error and returns false.
func (s *Server) knownTickers(c *wsConn, cmd *wsCommand) ([]string, bool) {
	tickers := tickersOf(cmd)
	for _, t := range tickers {
		if m, _ := s.marketOf(t); m == nil {
			c.sendError(cmd.ID, wsErrInvalidParam, "Invalid parameter: unknown market "+t)
			return nil, false
		}
	}
	return tickers, true
}

func tickersOf(cmd *wsCommand) []string {
	t := append([]string(nil), cmd.Params.MarketTickers...)
	if cmd.Params.MarketTicker != "" {
		t = append(t, cmd.Params.MarketTicker)
	}
	return t
}

func (s *Server) subscribe(c *wsConn, cmd *wsCommand) {
	if len(cmd.Params.Channels) == 0 {
		c.sendError(cmd.ID, wsErrChannels, "Channels required")
		return
	}
	tickers, ok := s.knownTickers(c, cmd)
	if !ok {
		return
	}
	for _, ch := range cmd.Params.Channels {
		if !knownChannels[ch] {
			c.sendError(cmd.ID, wsErrUnknownChannel, "Unknown channel name")
			return
		}
		if ch == "orderbook_delta" && len(tickers) == 0 {
			c.sendError(cmd.ID, wsErrMarketRequired, "Market ticker required for orderbook_delta")
			return
		}
	}
	// Hold the engine still while the snapshot is taken and the
	// subscription registered, so that no delta is lost or doubled.
	s.opMu.Lock()
	defer s.opMu.Unlock()
	// Snapshots first: looking at the engine may deliver updates, which
	// take c.mu.
	snaps := map[string]map[string]any{}
	if slices.Contains(cmd.Params.Channels, "orderbook_delta") {
		s.eng.Expire()
		for _, t := range tickers {
			snaps[t] = s.snapshotMsg(t)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range cmd.Params.Channels {
		c.nextSid++
		sub := &wsSub{sid: c.nextSid, channel: ch}
		if len(tickers) > 0 && ch != "fill" {
			sub.tickers = map[string]bool{}
			for _, t := range tickers {
				sub.tickers[t] = true
			}
		}
		c.subs[sub.sid] = sub
		c.send(outFrame{ID: cmd.ID, Type: "subscribed", Msg: map[string]any{"channel": ch, "sid": sub.sid}})
		if ch == "orderbook_delta" {
			for _, t := range tickers {
				c.publish(sub, "orderbook_snapshot", snaps[t], 0)
			}
		}
	}
}

func (s *Server) updateSubscription(c *wsConn, cmd *wsCommand) {
	sids := cmd.Params.Sids
	if cmd.Params.Sid != 0 {
		sids = append(sids, cmd.Params.Sid)
	}
	if len(sids) != 1 {
		c.sendError(cmd.ID, wsErrOneSid, "Exactly one subscription ID is required")
		return
	}
	tickers, ok := s.knownTickers(c, cmd)
	if !ok {
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.eng.Expire()
	snaps := map[string]map[string]any{}
	for _, t := range tickers {
		snaps[t] = s.snapshotMsg(t)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sub, ok := c.subs[sids[0]]
	if !ok {
		c.sendError(cmd.ID, wsErrUnknownSid, "Unknown subscription ID")
		return
	}
	if sub.tickers == nil {
		sub.tickers = map[string]bool{}
	}
	switch cmd.Params.Action {
	case "add_markets":
		for _, t := range tickers {
			if !sub.tickers[t] {
				sub.tickers[t] = true
				if sub.channel == "orderbook_delta" {
					c.publish(sub, "orderbook_snapshot", snaps[t], 0)
				}
			}
		}
	case "delete_markets":
		for _, t := range tickers {
			delete(sub.tickers, t)
		}
	default:
		c.sendError(cmd.ID, wsErrAction, "Unsupported action")
		return
	}
	c.send(outFrame{ID: cmd.ID, Sid: sub.sid, Seq: sub.seq, Type: "ok", Msg: map[string]any{"market_tickers": slices.Sorted(maps.Keys(sub.tickers))}})
}

// snapshotMsg is the bids-only book of ticker. Call with opMu held.
func (s *Server) snapshotMsg(ticker string) map[string]any {
	yes, no := s.bidsOnly(ticker)
	return map[string]any{"market_ticker": ticker, "market_id": marketID(ticker),
		"yes_dollars_fp": yes, "no_dollars_fp": no, "ts_ms": s.now().UnixMilli()}
}

// bidsOnly returns the book as Kalshi shows it: YES bids and NO bids, each
// as [price, count] strings in ascending price order. A YES ask at a is a
// NO bid at 1−a.
func (s *Server) bidsOnly(ticker string) (yes, no [][2]string) {
	d := s.eng.Depth(ticker, 0)
	yes = make([][2]string, 0, len(d.Bids))
	for i := len(d.Bids) - 1; i >= 0; i-- {
		yes = append(yes, [2]string{dollars(d.Bids[i].Price), count(d.Bids[i].Size)})
	}
	no = make([][2]string, 0, len(d.Asks))
	for i := len(d.Asks) - 1; i >= 0; i-- {
		no = append(no, [2]string{dollars(polybot.One.Sub(d.Asks[i].Price)), count(d.Asks[i].Size)})
	}
	return yes, no
}

func marketID(ticker string) string {
	b := []byte("00000000-0000-4000-8000-000000000000")
	h := uint64(14695981039346656037)
	for i := 0; i < len(ticker); i++ {
		h = (h ^ uint64(ticker[i])) * 1099511628211
	}
	const hexd = "0123456789abcdef"
	for i, j := 0, 0; j < 16 && i < len(b); i++ {
		if b[i] == '-' || i == 14 || i == 19 {
			continue
		}
		b[i] = hexd[(h>>(4*uint(j)))&0xf]
		j++
	}
	return string(b)
}
