package server

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/polybot/polybot"
)

// requestStats counts API requests by route pattern and status class. Both
// label sets are bounded: patterns come from the route table, classes are
// 2xx..5xx.
type requestStats struct {
	mu     sync.RWMutex
	counts map[string]*atomic.Int64
}

func newRequestStats() *requestStats { return &requestStats{counts: map[string]*atomic.Int64{}} }

func (rs *requestStats) add(pattern string, status int) {
	if pattern == "" {
		pattern = "unmatched"
	}
	key := pattern + "\x00" + fmt.Sprintf("%dxx", status/100)
	rs.mu.RLock()
	c := rs.counts[key]
	rs.mu.RUnlock()
	if c == nil {
		rs.mu.Lock()
		if c = rs.counts[key]; c == nil {
			c = &atomic.Int64{}
			rs.counts[key] = c
		}
		rs.mu.Unlock()
	}
	c.Add(1)
}

func (rs *requestStats) write(w io.Writer) {
	rs.mu.RLock()
	keys := make([]string, 0, len(rs.counts))
	for k := range rs.counts {
		keys = append(keys, k)
	}
	rs.mu.RUnlock()
	sort.Strings(keys)
	fmt.Fprintln(w, "# HELP polybot_http_requests_total API requests by route and status class.")
	fmt.Fprintln(w, "# TYPE polybot_http_requests_total counter")
	for _, k := range keys {
		route, class, _ := strings.Cut(k, "\x00")
		rs.mu.RLock()
		n := rs.counts[k].Load()
		rs.mu.RUnlock()
		fmt.Fprintf(w, "polybot_http_requests_total{route=%q,status=%q} %d\n", route, class, n)
	}
}

var errUnauthenticatedMetrics = polybot.Errorf(polybot.EUNAUTHORIZED, "metrics need the metrics bearer token, or a loopback client")

// PoolStatter is implemented by stores that can report their connection pool.
type PoolStatter interface {
	PoolStats() map[string]int64
}

// handleMetrics serves Prometheus text: the API's own counters, the Go
// runtime, the database pool, and the engine's metrics.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *identity) error {
	if tok := s.cfg.MetricsToken; tok != "" {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			return errUnauthenticatedMetrics
		}
	} else if ip := net.ParseIP(clientIP(r)); ip == nil || !ip.IsLoopback() {
		return errUnauthenticatedMetrics
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	s.stats.write(w)
	fmt.Fprintln(w, "# HELP polybot_goroutines Goroutines in this process.")
	fmt.Fprintln(w, "# TYPE polybot_goroutines gauge")
	fmt.Fprintf(w, "polybot_goroutines %d\n", runtime.NumGoroutine())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintln(w, "# HELP polybot_heap_bytes Bytes of allocated heap objects.")
	fmt.Fprintln(w, "# TYPE polybot_heap_bytes gauge")
	fmt.Fprintf(w, "polybot_heap_bytes %d\n", ms.HeapAlloc)
	if ps, ok := s.cfg.Store.(PoolStatter); ok {
		st := ps.PoolStats()
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "# HELP polybot_db_pool Database connection pool state.")
		fmt.Fprintln(w, "# TYPE polybot_db_pool gauge")
		for _, k := range keys {
			fmt.Fprintf(w, "polybot_db_pool{stat=%q} %d\n", k, st[k])
		}
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics(w)
	}
	return nil
}
