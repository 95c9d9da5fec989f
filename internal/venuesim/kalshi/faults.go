package kalshi

import (
	"github.com/polybot/polybot/internal/venuesim/fault"
	"github.com/polybot/polybot/internal/venuesim/loopback"
)

// Faults returns the REST and WebSocket faults, changeable while the
// simulator runs (rule paths are relative to RESTPrefix, such as
// "/portfolio/events/orders").
func (s *Server) Faults() *fault.Injector { return s.faults }

// SkipSeq makes the next orderbook_delta of ticker, on every subscription,
// skip one sequence number: what a client sees after a lost message.
func (s *Server) SkipSeq(ticker string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipSeq[ticker]++
}

// DropWebSockets closes every WebSocket connection abruptly.
func (s *Server) DropWebSockets() {
	loopback.DropAll(&s.mu, s.conns, (*wsConn).drop)
}

// Subscriptions counts the open WebSocket subscriptions to channel
// ("orderbook_delta", "trade", "ticker", "fill") that cover ticker, over
// every connection: what the venue sees of its clients' subscriptions. A
// subscription without a market filter covers every ticker.
func (s *Server) Subscriptions(channel, ticker string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		c.mu.Lock()
		for _, sub := range c.subs {
			if sub.channel == channel && sub.covers(ticker) {
				n++
			}
		}
		c.mu.Unlock()
	}
	return n
}
