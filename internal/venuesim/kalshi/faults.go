package kalshi

import (
	"net/http"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a REST request.
type FaultKind string

const (
	// FaultStatus answers Status (e.g. 500, 503) without doing anything.
	FaultStatus FaultKind = "status"
	// FaultRateLimit answers 429 with Retry-After.
	FaultRateLimit FaultKind = "rate_limit"
	// FaultTimeoutAfterAccept carries the request out (an order is accepted
	// and may trade) and then never answers: the connection is dropped once
	// the client gives up, or after Hold.
	FaultTimeoutAfterAccept FaultKind = "timeout_after_accept"
	// FaultLatency delays the request by Delay, then serves it.
	FaultLatency FaultKind = "latency"
)

// Fault is one injected REST fault. Method and Path select requests
// ("" matches any; Path is a prefix of the path after /trade-api/v2, such as
// "/portfolio/events/orders"). Times is how many requests it hits (0: until
// ClearFaults).
type Fault struct {
	Kind       FaultKind     `json:"kind"`
	Method     string        `json:"method,omitempty"`
	Path       string        `json:"path,omitempty"`
	Status     int           `json:"status,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Delay      time.Duration `json:"delay,omitempty"`
	Hold       time.Duration `json:"hold,omitempty"`
	Times      int           `json:"times,omitempty"`
}

type faultSet struct {
	latency time.Duration
	rules   []*faultRule
}

type faultRule struct {
	Fault
	left int // remaining hits; -1 unlimited
}

// InjectFault adds a REST fault.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := f.Times
	if left <= 0 {
		left = -1
	}
	if f.Kind == FaultRateLimit && f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	if f.Kind == FaultStatus && f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	s.faults.rules = append(s.faults.rules, &faultRule{Fault: f, left: left})
}

// SetLatency delays every REST request by d (0 turns it off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// ClearFaults removes every REST fault and the latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultSet{}
}

// SkipSeq makes the next orderbook_delta of ticker, on every subscription,
// skip one sequence number: what a client sees after a lost message.
func (s *Server) SkipSeq(ticker string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipSeq[ticker]++
}

// DropWebSockets closes every WebSocket connection abruptly.
func (s *Server) DropWebSockets() {
	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
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

// matchFault returns the fault that hits this request, if any, and the
// latency to apply.
func (s *Server) matchFault(method, path string) (*Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := strings.TrimPrefix(path, RESTPrefix)
	for i, r := range s.faults.rules {
		if (r.Method != "" && !strings.EqualFold(r.Method, method)) || !strings.HasPrefix(rel, r.Path) {
			continue
		}
		f := r.Fault
		if r.left > 0 {
			r.left--
			if r.left == 0 {
				s.faults.rules = append(s.faults.rules[:i:i], s.faults.rules[i+1:]...)
			}
		}
		return &f, s.faults.latency
	}
	return nil, s.faults.latency
}
