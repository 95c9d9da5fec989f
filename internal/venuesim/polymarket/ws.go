package polymarket

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	pm "github.com/polybot/polybot/internal/venue/polymarket"
)

// wsConn is one market- or user-channel connection. Messages are queued
// under Server.mu, so every connection sees events in engine order; a
// connection whose queue overflows is dropped (the client resyncs).
type wsConn struct {
	c      *websocket.Conn
	out    chan []byte
	user   bool
	key    *apiKey         // user channel
	filter map[string]bool // user channel: condition ids (none: all)
	assets map[string]bool // market channel: subscribed tokens
	once   sync.Once
	done   chan struct{}
}

const wsQueue = 8192

func (c *wsConn) send(b []byte) {
	select {
	case c.out <- b:
	default:
		c.close()
	}
}

func (c *wsConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.c.CloseNow()
	})
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request, user bool) *wsConn {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	c.SetReadLimit(1 << 20)
	conn := &wsConn{c: c, out: make(chan []byte, wsQueue), user: user, assets: map[string]bool{},
		filter: map[string]bool{}, done: make(chan struct{})}
	s.mu.Lock()
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	go func() {
		for {
			select {
			case <-conn.done:
				return
			case b := <-conn.out:
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := c.Write(ctx, websocket.MessageText, b)
				cancel()
				if err != nil {
					conn.close()
					return
				}
			}
		}
	}()
	return conn
}

func (s *Server) forget(c *wsConn) {
	c.close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// DropWebSockets closes every WebSocket connection, as a venue outage
// would; clients reconnect.
func (s *Server) DropWebSockets() {
	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.conns = map[*wsConn]struct{}{}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// MarketSubscriptions counts the open market-channel connections
// subscribed to token: what the venue sees of its clients' subscriptions.
func (s *Server) MarketSubscriptions(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if !c.user && c.assets[token] {
			n++
		}
	}
	return n
}

type channelRequest struct {
	AssetsIDs []string `json:"assets_ids"`
	Markets   []string `json:"markets"`
	Type      string   `json:"type"`
	Operation string   `json:"operation"`
	Auth      *struct {
		APIKey     string `json:"apiKey"`
		Secret     string `json:"secret"`
		Passphrase string `json:"passphrase"`
	} `json:"auth"`
}

// serveChannel accepts a channel's WebSocket and hands each request on it
// to handle (PING is answered here) until the connection ends or handle
// returns false.
func (s *Server) serveChannel(w http.ResponseWriter, r *http.Request, user bool, handle func(*wsConn, *channelRequest) bool) {
	conn := s.accept(w, r, user)
	if conn == nil {
		return
	}
	defer s.forget(conn)
	for {
		_, msg, err := conn.c.Read(r.Context())
		if err != nil {
			return
		}
		msg = bytes.TrimSpace(msg)
		if string(msg) == "PING" {
			conn.send([]byte("PONG"))
			continue
		}
		var req channelRequest
		if json.Unmarshal(msg, &req) != nil {
			continue
		}
		if !handle(conn, &req) {
			return
		}
	}
}

func (s *Server) serveMarketWS(w http.ResponseWriter, r *http.Request) {
	s.serveChannel(w, r, false, func(conn *wsConn, req *channelRequest) bool {
		if req.Operation == "unsubscribe" {
			s.mu.Lock()
			for _, id := range req.AssetsIDs {
				delete(conn.assets, id)
			}
			s.mu.Unlock()
			return true
		}
		s.subscribeMarket(conn, req.AssetsIDs, req.Operation == "")
		return true
	})
}

// subscribeMarket adds tokens to a connection and sends their books, taken
// from the mirror under the same lock as the deltas, so no delta is missed
// or applied twice.
func (s *Server) subscribeMarket(c *wsConn, ids []string, initial bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	var books []any
	for _, id := range ids {
		m := s.markets[id]
		if m == nil {
			continue
		}
		c.assets[id] = true
		b := s.mirror[id]
		msg := s.bookMessageLocked(m, id, b.Bids, b.Asks, now)
		msg["event_type"] = pm.EventBook
		books = append(books, msg)
	}
	if len(books) == 0 {
		return
	}
	if initial {
		if b, err := json.Marshal(books); err == nil {
			c.send(b)
		}
		return
	}
	for _, m := range books {
		if b, err := json.Marshal(m); err == nil {
			c.send(b)
		}
	}
}

func (s *Server) serveUserWS(w http.ResponseWriter, r *http.Request) {
	s.serveChannel(w, r, true, func(conn *wsConn, req *channelRequest) bool {
		s.mu.Lock()
		if req.Auth != nil {
			k := s.keys[req.Auth.APIKey]
			if k == nil || k.creds.Secret != req.Auth.Secret || k.creds.Passphrase != req.Auth.Passphrase {
				s.mu.Unlock()
				conn.c.Close(websocket.StatusPolicyViolation, msgInvalidAPIKey)
				return false
			}
			conn.key = k
		}
		if conn.key == nil {
			s.mu.Unlock()
			conn.c.Close(websocket.StatusPolicyViolation, msgInvalidAPIKey)
			return false
		}
		for _, m := range req.Markets {
			if req.Operation == "unsubscribe" {
				delete(conn.filter, m)
			} else {
				conn.filter[m] = true
			}
		}
		s.mu.Unlock()
		return true
	})
}

// broadcastMarket sends msg to every market connection subscribed to
// token. Call with s.mu held.
func (s *Server) broadcastMarket(token string, msg any) {
	var b []byte
	for c := range s.conns {
		if c.user || !c.assets[token] {
			continue
		}
		if b == nil {
			var err error
			if b, err = json.Marshal(msg); err != nil {
				return
			}
		}
		c.send(b)
	}
}

// pushUser sends msg to the user connections of API key owner that follow
// market (condition id). Call with s.mu held.
func (s *Server) pushUser(owner, market string, msg any) {
	var b []byte
	for c := range s.conns {
		if !c.user || c.key == nil || c.key.creds.Key != owner || (len(c.filter) > 0 && !c.filter[market]) {
			continue
		}
		if b == nil {
			var err error
			if b, err = json.Marshal(msg); err != nil {
				return
			}
		}
		c.send(b)
	}
}
