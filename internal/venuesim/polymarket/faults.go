package polymarket

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultConfig is a standing fault plan, for `polybot sim` flags: every Nth
// REST call fails, and so on. Zero fields inject nothing.
type FaultConfig struct {
	// Latency is added to every REST answer.
	Latency time.Duration
	// Error5xxEvery makes every Nth REST call answer 503.
	Error5xxEvery int
	// RateLimitEvery makes every Nth REST call answer 429 with RetryAfter.
	RateLimitEvery int
	RetryAfter     time.Duration
	// DropWebSocketsEvery closes every WebSocket connection at this interval.
	DropWebSocketsEvery time.Duration
}

// Faults is what the simulator does wrong, set per test while it runs.
// Route patterns are the route table's ("POST /order", "GET /book"); an
// empty route means every REST route.
type Faults struct {
	mu       sync.Mutex
	cfg      FaultConfig
	calls    int
	latency  time.Duration
	planned  []plannedFault
	timeouts int
}

type plannedFault struct {
	route      string
	n          int
	status     int
	msg        string
	retryAfter time.Duration
}

type faultAnswer struct {
	status     int
	msg        string
	retryAfter time.Duration
}

func newFaults(cfg FaultConfig) *Faults { return &Faults{cfg: cfg, latency: cfg.Latency} }

// SetLatency delays every REST answer by d.
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// FailNext makes the next n calls of route answer status (a 5xx) with the
// venue's error body.
func (f *Faults) FailNext(route string, n, status int) {
	f.plan(plannedFault{route: route, n: n, status: status, msg: http.StatusText(status)})
}

// RateLimitNext makes the next n calls of route answer 429 with a
// Retry-After of retryAfter (rounded up to whole seconds on the wire).
func (f *Faults) RateLimitNext(route string, n int, retryAfter time.Duration) {
	f.plan(plannedFault{route: route, n: n, status: http.StatusTooManyRequests, msg: msgTooManyRequests, retryAfter: retryAfter})
}

// TimeoutAfterAccept makes the next n accepted orders (POST /order) rest in
// the book while their answer never comes: the client times out.
func (f *Faults) TimeoutAfterAccept(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeouts += n
}

// Clear removes every planned fault and the latency.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planned, f.timeouts, f.latency = nil, 0, 0
}

func (f *Faults) plan(p plannedFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planned = append(f.planned, p)
}

// before runs ahead of a REST handler: it sleeps the latency and returns a
// fault to answer instead, if one is due.
func (f *Faults) before(ctx context.Context, route string) *faultAnswer {
	f.mu.Lock()
	lat := f.latency
	f.calls++
	var ans *faultAnswer
	for i := range f.planned {
		p := &f.planned[i]
		if p.n > 0 && (p.route == "" || strings.EqualFold(p.route, route)) {
			p.n--
			ans = &faultAnswer{status: p.status, msg: p.msg, retryAfter: p.retryAfter}
			break
		}
	}
	if ans == nil {
		switch {
		case f.cfg.Error5xxEvery > 0 && f.calls%f.cfg.Error5xxEvery == 0:
			ans = &faultAnswer{status: http.StatusServiceUnavailable, msg: http.StatusText(http.StatusServiceUnavailable)}
		case f.cfg.RateLimitEvery > 0 && f.calls%f.cfg.RateLimitEvery == 0:
			ra := f.cfg.RetryAfter
			if ra <= 0 {
				ra = time.Second
			}
			ans = &faultAnswer{status: http.StatusTooManyRequests, msg: msgTooManyRequests, retryAfter: ra}
		}
	}
	f.mu.Unlock()
	if lat > 0 {
		t := time.NewTimer(lat)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return ans
}

func (f *Faults) takeTimeoutAfterAccept() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timeouts > 0 {
		f.timeouts--
		return true
	}
	return false
}
