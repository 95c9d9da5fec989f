package ibkr

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsClient is one WebSocket connection and the conids it subscribed.
type wsClient struct {
	conn   *websocket.Conn
	out    chan []byte
	mu     sync.Mutex
	subs   map[int64]bool
	cancel context.CancelFunc
}

func (c *wsClient) close() { c.cancel() }

func (c *wsClient) send(b []byte) {
	select {
	case c.out <- b:
	default: // a slow reader loses updates; the next one carries the state
	}
}

// serveWS is /v1/api/ws. The session must be signed in; the client
// authenticates with the session token from /tickle, in the "api" cookie or
// as its first message {"session": "..."}. Messages: "smd+<conid>+{...}"
// subscribes market data (the first update is a full snapshot),
// "umd+<conid>+{}" unsubscribes, "tic" is a heartbeat.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	signedIn, authed, session := s.signedIn, s.authed && !s.competing, s.session
	s.mu.Unlock()
	if !signedIn || !authed {
		writeJSON(w, errNotAuthenticated.status, errNotAuthenticated)
		return
	}
	cookieOK := false
	if ck, err := r.Cookie("api"); err == nil && strings.Contains(ck.Value, session) {
		cookieOK = true
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	c := &wsClient{conn: conn, out: make(chan []byte, 256), subs: map[int64]bool{}, cancel: cancel}
	s.mu.Lock()
	s.ws[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.ws, c)
		s.mu.Unlock()
		cancel()
		conn.CloseNow()
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-c.out:
				wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
				err := conn.Write(wctx, websocket.MessageText, b)
				wcancel()
				if err != nil {
					cancel()
					return
				}
			}
		}
	}()
	authedConn := cookieOK
	if authedConn {
		c.send([]byte(`{"topic":"sts","args":{"authenticated":true}}`))
	}
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			return
		}
		text := strings.TrimSpace(string(msg))
		if !authedConn {
			var in struct {
				Session string `json:"session"`
			}
			if json.Unmarshal(msg, &in) != nil || in.Session != session {
				conn.Close(websocket.StatusPolicyViolation, "not authenticated")
				return
			}
			authedConn = true
			c.send([]byte(`{"topic":"sts","args":{"authenticated":true}}`))
			continue
		}
		switch {
		case text == "tic" || strings.HasPrefix(text, "{"):
			c.send([]byte(`{"topic":"tic","alive":true}`))
		case strings.HasPrefix(text, "smd+"), strings.HasPrefix(text, "umd+"):
			parts := strings.SplitN(text, "+", 3)
			id, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil {
				continue
			}
			s.mu.Lock()
			_, listed := s.contracts[id]
			s.mu.Unlock()
			if !listed {
				continue
			}
			c.mu.Lock()
			if parts[0] == "smd" {
				c.subs[id] = true
			} else {
				delete(c.subs, id)
			}
			c.mu.Unlock()
			if parts[0] == "smd" {
				c.send(s.smdMessage(id))
			}
		}
	}
}

func (s *Server) smdMessage(conid int64) []byte {
	m := s.quote(conid)
	m["topic"] = "smd+" + strconv.FormatInt(conid, 10)
	b, _ := json.Marshal(m)
	return b
}

// publish sends a contract's book to the connections that subscribed it.
// Each message carries every field (a superset of IBKR's changed-fields
// updates, which a client merges the same way).
func (s *Server) publish(conid int64) {
	s.mu.Lock()
	var to []*wsClient
	for c := range s.ws {
		c.mu.Lock()
		if c.subs[conid] {
			to = append(to, c)
		}
		c.mu.Unlock()
	}
	s.mu.Unlock()
	if len(to) == 0 {
		return
	}
	b := s.smdMessage(conid)
	for _, c := range to {
		c.send(b)
	}
}
