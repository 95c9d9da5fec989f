// Package fault is the one fault API of the venue simulators: added
// latency, every Nth REST call failing (5xx) or rate limited (429 with
// Retry-After), planned faults on chosen routes ("the next POST /order
// answers 503"), a timeout after accept (the request is carried out and its
// answer never comes), and dropped WebSockets, once or at an interval.
//
// A simulator wraps its REST routes with Injector.Wrap, giving it a writer
// of its venue's error body; it registers its WebSocket drop with
// Injector.OnDrop and starts the standing plan with Injector.Start. It
// serves Injector.AdminRoutes under its admin prefix so that tests and
// official clients in other languages can drive faults over HTTP.
//
// It must not import a simulator, a connector, a store or the engine.
package fault

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is a standing fault plan, the `polybot sim` flags. Zero fields
// inject nothing.
type Config struct {
	// Latency is added to every REST answer.
	Latency time.Duration
	// FailEvery makes every Nth REST call answer FailStatus (503 when 0).
	FailEvery  int
	FailStatus int
	// RateLimitEvery makes every Nth REST call answer 429 with a
	// Retry-After of RetryAfter (1 s when 0).
	RateLimitEvery int
	RetryAfter     time.Duration
	// DropSocketsEvery closes every WebSocket connection at this interval.
	DropSocketsEvery time.Duration
}

// Kind is what a planned fault does to a REST request.
type Kind string

const (
	// Status answers Status (500 when 0) without carrying the request out.
	Status Kind = "status"
	// RateLimit answers 429 with Retry-After, without carrying it out.
	RateLimit Kind = "rate_limit"
	// TimeoutAfterAccept carries the request out (an order is accepted and
	// may trade) and never answers: the connection is dropped once the
	// client gives up, or after Hold (30 s when 0).
	TimeoutAfterAccept Kind = "timeout_after_accept"
	// Latency delays the request by Delay, then serves it.
	Latency Kind = "latency"
)

// Rule is one planned fault. Method ("" any) and Path select requests:
// Path "" matches every path, else a path equal to it or below it
// ("/order" matches "/order" and "/order/1", not "/orders"), after the
// prefix given to Wrap is cut. Times is how many requests it hits (0: until
// Clear).
type Rule struct {
	Kind       Kind          `json:"kind"`
	Method     string        `json:"method,omitempty"`
	Path       string        `json:"path,omitempty"`
	Status     int           `json:"status,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Delay      time.Duration `json:"delay,omitempty"`
	Hold       time.Duration `json:"hold,omitempty"`
	Times      int           `json:"times,omitempty"`
}

func (r *Rule) matches(method, path string) bool {
	if r.Method != "" && !strings.EqualFold(r.Method, method) {
		return false
	}
	return r.Path == "" || path == r.Path || strings.HasPrefix(path, strings.TrimSuffix(r.Path, "/")+"/")
}

// ErrorWriter writes a venue's error body for status (5xx or 429); Wrap has
// set Retry-After already.
type ErrorWriter func(w http.ResponseWriter, status int)

// Injector holds a simulator's faults. The zero value is not usable: use
// New.
type Injector struct {
	mu      sync.Mutex
	cfg     Config
	latency time.Duration
	calls   int
	rules   []*rule
	drop    func()
}

type rule struct {
	Rule
	left int // -1: unlimited
}

// New returns an Injector with cfg as its standing plan.
func New(cfg Config) *Injector { return &Injector{cfg: cfg, latency: cfg.Latency} }

// Add plans a fault.
func (in *Injector) Add(r Rule) {
	switch {
	case r.Kind == RateLimit && r.RetryAfter <= 0:
		r.RetryAfter = time.Second
	case r.Kind == Status && r.Status == 0:
		r.Status = http.StatusInternalServerError
	}
	left := r.Times
	if left <= 0 {
		left = -1
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = append(in.rules, &rule{Rule: r, left: left})
}

// FailNext makes the next n requests of method and path answer status.
func (in *Injector) FailNext(method, path string, n, status int) {
	in.Add(Rule{Kind: Status, Method: method, Path: path, Status: status, Times: n})
}

// RateLimitNext makes the next n requests of method and path answer 429
// with a Retry-After of retryAfter (whole seconds on the wire, rounded up).
func (in *Injector) RateLimitNext(method, path string, n int, retryAfter time.Duration) {
	in.Add(Rule{Kind: RateLimit, Method: method, Path: path, RetryAfter: retryAfter, Times: n})
}

// TimeoutAfterAccept makes the next n requests of method and path be
// carried out with their answers never sent.
func (in *Injector) TimeoutAfterAccept(method, path string, n int) {
	in.Add(Rule{Kind: TimeoutAfterAccept, Method: method, Path: path, Times: n})
}

// SetLatency delays every REST answer by d (0 turns it off).
func (in *Injector) SetLatency(d time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.latency = d
}

// Clear removes every planned fault, the latency and the standing plan.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules, in.latency, in.cfg = nil, 0, Config{}
}

// OnDrop registers how the simulator drops its WebSockets.
func (in *Injector) OnDrop(drop func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.drop = drop
}

// DropSockets closes every WebSocket connection now (a no-op for a
// simulator without WebSockets).
func (in *Injector) DropSockets() {
	in.mu.Lock()
	drop := in.drop
	in.mu.Unlock()
	if drop != nil {
		drop()
	}
}

// Start runs the standing socket drops until ctx ends.
func (in *Injector) Start(ctx context.Context) {
	in.mu.Lock()
	every := in.cfg.DropSocketsEvery
	in.mu.Unlock()
	if every <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				in.DropSockets()
			}
		}
	}()
}

// take counts a call and returns the fault that hits it (nil for none) and
// the latency to add.
func (in *Injector) take(method, path string) (*Rule, time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	lat := in.latency
	for i, r := range in.rules {
		if !r.matches(method, path) {
			continue
		}
		f := r.Rule
		if r.left > 0 {
			if r.left--; r.left == 0 {
				in.rules = append(in.rules[:i:i], in.rules[i+1:]...)
			}
		}
		if f.Kind == Latency {
			lat += f.Delay
		}
		return &f, lat
	}
	switch c := in.cfg; {
	case c.FailEvery > 0 && in.calls%c.FailEvery == 0:
		st := c.FailStatus
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		return &Rule{Kind: Status, Status: st}, lat
	case c.RateLimitEvery > 0 && in.calls%c.RateLimitEvery == 0:
		ra := c.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		return &Rule{Kind: RateLimit, RetryAfter: ra}, lat
	}
	return nil, lat
}

// Wrap returns next with the faults applied: latency first, then a planned
// or standing fault, answered in the venue's shape by writeErr. prefix is
// cut from the request path before rules are matched.
func (in *Injector) Wrap(prefix string, next http.Handler, writeErr ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, lat := in.take(r.Method, strings.TrimPrefix(r.URL.Path, prefix))
		if lat > 0 {
			t := time.NewTimer(lat)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f == nil || f.Kind == Latency {
			next.ServeHTTP(w, r)
			return
		}
		switch f.Kind {
		case Status:
			writeErr(w, f.Status)
		case RateLimit:
			w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
			writeErr(w, http.StatusTooManyRequests)
		case TimeoutAfterAccept:
			// The work is done; the answer never comes.
			next.ServeHTTP(discard{http.Header{}}, r)
			hold := f.Hold
			if hold <= 0 {
				hold = 30 * time.Second
			}
			t := time.NewTimer(hold)
			select {
			case <-r.Context().Done():
			case <-t.C:
			}
			t.Stop()
			panic(http.ErrAbortHandler)
		}
	})
}

// discard is a ResponseWriter whose answer goes nowhere.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// AdminRoutes serves the faults over HTTP under prefix (no auth: the
// simulators listen on loopback):
//
//	POST   {prefix}/faults             {"kind","method","path","status","retry_after_seconds","delay_ms","hold_ms","times"}
//	DELETE {prefix}/faults
//	POST   {prefix}/websockets/drop
func (in *Injector) AdminRoutes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("POST "+prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Kind              Kind   `json:"kind"`
			Method            string `json:"method"`
			Path              string `json:"path"`
			Status            int    `json:"status"`
			RetryAfterSeconds int    `json:"retry_after_seconds"`
			DelayMs           int    `json:"delay_ms"`
			HoldMs            int    `json:"hold_ms"`
			Times             int    `json:"times"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
			adminError(w, "invalid JSON body: "+err.Error())
			return
		}
		switch f.Kind {
		case Status, RateLimit, TimeoutAfterAccept, Latency:
		default:
			adminError(w, "kind: must be status, rate_limit, timeout_after_accept or latency")
			return
		}
		in.Add(Rule{Kind: f.Kind, Method: f.Method, Path: f.Path, Status: f.Status,
			RetryAfter: time.Duration(f.RetryAfterSeconds) * time.Second, Delay: time.Duration(f.DelayMs) * time.Millisecond,
			Hold: time.Duration(f.HoldMs) * time.Millisecond, Times: f.Times})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		in.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+prefix+"/websockets/drop", func(w http.ResponseWriter, r *http.Request) {
		in.DropSockets()
		w.WriteHeader(http.StatusNoContent)
	})
}

func adminError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": "invalid_parameters", "message": msg}})
}
