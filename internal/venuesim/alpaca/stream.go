package alpaca

// The market-data stream (wss://stream.data.alpaca.markets/v2/{feed}) as
// Alpaca's SDKs speak it: msgpack frames over a WebSocket (the SDK asks
// with Content-Type application/msgpack). The flow is the documented one:
//
//	server: [{"T":"success","msg":"connected"}]
//	client: {"action":"auth","key":"…","secret":"…"}
//	server: [{"T":"success","msg":"authenticated"}]
//	     or [{"T":"error","code":402,"msg":"auth failed"}] and the socket closes
//	client: {"action":"subscribe","quotes":["TLT"],"trades":[],…}
//	server: [{"T":"subscription","trades":[],"quotes":["TLT"],…}]
//	server: [{"T":"q","S":"TLT","bx":"V","bp":89.12,"bs":300,"ax":"V","ap":89.13,"as":200,"t":…,"c":["R"],"z":"C"}]
//
// A quote is sent whenever a subscribed symbol's top of book changes (an
// external level moved — SetBook, a replay step — or a simulated order
// rested, filled or was cancelled). As on Alpaca, subscribing sends no
// quote of its own: the next change does. Only quotes are served; the
// other channels are acknowledged empty.

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/loopback"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// StreamFeeds are the feed paths the stream answers (under /v2/).
var StreamFeeds = []string{"iex", "sip", "delayed_sip", "test"}

// stream is the simulator's market-data stream state.
type stream struct {
	s     *Server
	once  sync.Once
	dirty chan string

	mu    sync.Mutex
	conns map[*streamConn]struct{}
	last  map[string]quoteWire // last quote sent per symbol
}

type streamConn struct {
	c    *websocket.Conn
	out  chan []byte
	gone chan struct{}
	once sync.Once

	mu     sync.Mutex
	quotes map[string]bool
}

func (c *streamConn) drop() {
	c.once.Do(func() {
		close(c.gone)
		_ = c.c.CloseNow()
	})
}

func (c *streamConn) send(b []byte) {
	select {
	case c.out <- b:
	case <-c.gone:
	default:
		c.drop() // too slow to read: Alpaca disconnects slow clients too
	}
}

// control is a success or error message.
type control struct {
	T    string `msgpack:"T"`
	Code int    `msgpack:"code,omitempty"`
	Msg  string `msgpack:"msg"`
}

// subscription is the answer to a subscription change: what the client is
// subscribed to now.
type subscription struct {
	T           string   `msgpack:"T"`
	Trades      []string `msgpack:"trades"`
	Quotes      []string `msgpack:"quotes"`
	Bars        []string `msgpack:"bars"`
	UpdatedBars []string `msgpack:"updatedBars"`
	DailyBars   []string `msgpack:"dailyBars"`
	Statuses    []string `msgpack:"statuses"`
	LULDs       []string `msgpack:"lulds"`
	Corrections []string `msgpack:"corrections"`
	CancelErrs  []string `msgpack:"cancelErrors"`
}

// quoteWire is a quote message; T must come first (the SDK checks).
type quoteWire struct {
	T          string    `msgpack:"T"`
	Symbol     string    `msgpack:"S"`
	BidExch    string    `msgpack:"bx"`
	BidPrice   float64   `msgpack:"bp"`
	BidSize    uint32    `msgpack:"bs"`
	AskExch    string    `msgpack:"ax"`
	AskPrice   float64   `msgpack:"ap"`
	AskSize    uint32    `msgpack:"as"`
	Time       time.Time `msgpack:"t"`
	Conditions []string  `msgpack:"c"`
	Tape       string    `msgpack:"z"`
}

type clientMsg struct {
	Action string   `msgpack:"action"`
	Key    string   `msgpack:"key"`
	Secret string   `msgpack:"secret"`
	Quotes []string `msgpack:"quotes"`
}

func frame(v ...any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err) // our own fixed shapes
	}
	return b
}

func (st *stream) start() {
	st.once.Do(func() {
		st.dirty = make(chan string, 1024)
		st.s.eng.Subscribe("", func(u matching.Update) {
			if len(u.Levels) > 0 {
				select {
				case st.dirty <- u.Book:
				default: // the publisher is behind; it reads every book's top anyway when it catches up
				}
			}
		})
		go st.publish()
	})
}

// publish turns book changes into quotes for the symbols' subscribers.
func (st *stream) publish() {
	for sym := range st.dirty {
		d := st.s.eng.Depth(sym, 1)
		q := quoteWire{T: "q", Symbol: sym, BidExch: "V", AskExch: "V", Time: st.s.now().UTC(), Conditions: []string{"R"}, Tape: "C"}
		if len(d.Bids) > 0 {
			q.BidPrice, q.BidSize = wireFloat(d.Bids[0].Price), wireSize(d.Bids[0].Size)
		}
		if len(d.Asks) > 0 {
			q.AskPrice, q.AskSize = wireFloat(d.Asks[0].Price), wireSize(d.Asks[0].Size)
		}
		st.mu.Lock()
		if old, ok := st.last[sym]; ok && old.BidPrice == q.BidPrice && old.BidSize == q.BidSize && old.AskPrice == q.AskPrice && old.AskSize == q.AskSize {
			st.mu.Unlock()
			continue
		}
		st.last[sym] = q
		conns := make([]*streamConn, 0, len(st.conns))
		for c := range st.conns {
			conns = append(conns, c)
		}
		st.mu.Unlock()
		b := frame(q)
		for _, c := range conns {
			c.mu.Lock()
			want := c.quotes[sym] || c.quotes["*"]
			c.mu.Unlock()
			if want {
				c.send(b)
			}
		}
	}
}

// wireFloat is a price as the stream carries it: a float64, the nearest
// one to the exact decimal (the wire has nothing else).
func wireFloat(d polybot.Decimal) float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// wireSize is a size in whole shares, as the stream's uint32.
func wireSize(d polybot.Decimal) uint32 {
	n := d.Floor(polybot.One).Micros() / 1_000_000
	return uint32(min(max(n, 0), 1<<32-1))
}

// handleStream serves one stream client.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	st := &s.stream
	st.start()
	conn := &streamConn{c: c, out: make(chan []byte, 256), gone: make(chan struct{}), quotes: map[string]bool{}}
	ctx := r.Context()
	defer conn.drop()
	go func() { // writer
		for {
			select {
			case <-conn.gone:
				return
			case b := <-conn.out:
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := c.Write(wctx, websocket.MessageBinary, b)
				cancel()
				if err != nil {
					conn.drop()
					return
				}
			}
		}
	}()
	conn.send(frame(control{T: "success", Msg: "connected"}))
	authed := false
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			break
		}
		var m clientMsg
		if err := msgpack.Unmarshal(b, &m); err != nil {
			conn.send(frame(control{T: "error", Code: 400, Msg: "invalid syntax"}))
			continue
		}
		switch {
		case m.Action == "auth":
			if authed {
				conn.send(frame(control{T: "error", Code: 403, Msg: "already authenticated"}))
				continue
			}
			s.mu.Lock()
			a := s.accounts[m.Key]
			ok := a != nil && a.secret == m.Secret
			s.mu.Unlock()
			if !ok {
				conn.send(frame(control{T: "error", Code: 402, Msg: "auth failed"}))
				// Let the writer flush the refusal, then close as Alpaca does.
				time.AfterFunc(200*time.Millisecond, conn.drop)
				continue
			}
			authed = true
			st.mu.Lock()
			st.conns[conn] = struct{}{}
			st.mu.Unlock()
			conn.send(frame(control{T: "success", Msg: "authenticated"}))
		case !authed:
			conn.send(frame(control{T: "error", Code: 401, Msg: "not authenticated"}))
		case m.Action == "subscribe" || m.Action == "unsubscribe":
			conn.mu.Lock()
			for _, q := range m.Quotes {
				if m.Action == "subscribe" {
					conn.quotes[q] = true
				} else {
					delete(conn.quotes, q)
				}
			}
			now := make([]string, 0, len(conn.quotes))
			for q := range conn.quotes {
				now = append(now, q)
			}
			conn.mu.Unlock()
			slices.Sort(now)
			e := []string{}
			conn.send(frame(subscription{T: "subscription", Trades: e, Quotes: now, Bars: e, UpdatedBars: e, DailyBars: e,
				Statuses: e, LULDs: e, Corrections: e, CancelErrs: e}))
		default:
			conn.send(frame(control{T: "error", Code: 400, Msg: "invalid syntax"}))
		}
	}
	st.mu.Lock()
	delete(st.conns, conn)
	st.mu.Unlock()
}

// DropStreams closes every market-data stream connection abruptly (a
// dropped socket; the SDK reconnects).
func (s *Server) DropStreams() {
	loopback.DropAll(&s.stream.mu, s.stream.conns, (*streamConn).drop)
}

// StreamClients is how many authenticated stream connections are open
// (tests).
func (s *Server) StreamClients() int {
	s.stream.mu.Lock()
	defer s.stream.mu.Unlock()
	return len(s.stream.conns)
}

// Quote is one step of a replayed top of book.
type Quote struct {
	Bid, Ask polybot.Level
}

// PlayQuotes replays quotes as symbol's external liquidity, one every
// step, looping until ctx ends: the stream's quotes follow, and orders
// match against them.
func (s *Server) PlayQuotes(ctx context.Context, symbol string, step time.Duration, quotes []Quote) error {
	if len(quotes) == 0 {
		return polybot.FieldError("quotes", "must not be empty")
	}
	t := time.NewTicker(step)
	defer t.Stop()
	for i := 0; ; i = (i + 1) % len(quotes) {
		q := quotes[i]
		if err := s.SetBook(symbol, []polybot.Level{q.Bid}, []polybot.Level{q.Ask}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SyntheticWalk is a made-up top of book for demos and tests, NOT real
// prices: steps quotes of a random walk (seeded, so the same every run)
// starting at mid start, moving 0 to 3 cents a step and kept within 2% of
// start, one cent wide, with 100 to 900 shares a side. No public intraday
// ETF prices could be stored here, so the simulator's TLT is this walk.
func SyntheticWalk(start polybot.Decimal, steps int, seed uint64) []Quote {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cent := polybot.NewDecimal(1, 2)
	band := start.Mul(polybot.NewDecimal(2, 2)).Floor(cent)
	lo, hi := start.Sub(band), start.Add(band)
	bid := start.Floor(cent)
	out := make([]Quote, 0, steps)
	for range steps {
		move := cent.MulInt(int64(rng.IntN(7) - 3))
		if next := bid.Add(move); !next.LessThan(lo) && !next.GreaterThan(hi) {
			bid = next
		}
		size := func() polybot.Decimal { return polybot.NewDecimal(int64(100*(1+rng.IntN(9))), 0) }
		out = append(out, Quote{Bid: polybot.Level{Price: bid, Size: size()}, Ask: polybot.Level{Price: bid.Add(cent), Size: size()}})
	}
	return out
}

// latestQuoteJSON is a quote of the Market Data API's
// /v2/stocks/quotes/latest, in its JSON shape.
type latestQuoteJSON struct {
	Time       time.Time `json:"t"`
	BidExch    string    `json:"bx"`
	BidPrice   float64   `json:"bp"`
	BidSize    uint32    `json:"bs"`
	AskExch    string    `json:"ax"`
	AskPrice   float64   `json:"ap"`
	AskSize    uint32    `json:"as"`
	Conditions []string  `json:"c"`
	Tape       string    `json:"z"`
}

// latestQuotes is GET /v2/stocks/quotes/latest?symbols=A,B: each symbol's
// top of book now (a symbol with no book is left out, as Alpaca leaves
// out a symbol it has no quote for).
func (s *Server) latestQuotes(r *http.Request, _ *account) (int, any, error) {
	syms := strings.Split(r.URL.Query().Get("symbols"), ",")
	out := map[string]latestQuoteJSON{}
	for _, sym := range syms {
		if sym == "" {
			continue
		}
		d := s.eng.Depth(sym, 1)
		if len(d.Bids)+len(d.Asks) == 0 {
			continue
		}
		q := latestQuoteJSON{Time: s.now().UTC(), BidExch: "V", AskExch: "V", Conditions: []string{"R"}, Tape: "C"}
		if len(d.Bids) > 0 {
			q.BidPrice, q.BidSize = wireFloat(d.Bids[0].Price), wireSize(d.Bids[0].Size)
		}
		if len(d.Asks) > 0 {
			q.AskPrice, q.AskSize = wireFloat(d.Asks[0].Price), wireSize(d.Asks[0].Size)
		}
		out[sym] = q
	}
	return http.StatusOK, map[string]any{"quotes": out}, nil
}
