package server

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/polybot/polybot"
)

// Latency buckets, in seconds.
var (
	// apiBuckets spans a cached read (~1 ms) to a slow write (10 s).
	apiBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// reloadBuckets spans an in-place config swap to a reload that
	// re-reads secrets and reconnects.
	reloadBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
)

// streamRoutes are long-lived responses whose duration is a session length,
// not a latency: they are counted but not timed.
var streamRoutes = map[string]bool{"GET /api/v1/events": true}

// serverMetrics is the server's own Prometheus registry: not the global
// default, so two servers in one process (tests) never share series.
// Every label is bounded: route is a pattern of the route table (or
// "unmatched"), status a class 1xx..5xx, trigger one of three words.
type serverMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	reload   *prometheus.HistogramVec
	handler  http.Handler
}

func newServerMetrics(cfg *Config) *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "polybot_http_requests_total",
			Help: "API requests by route pattern and status class.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "polybot_http_request_duration_seconds",
			Help:    "API request latency by route pattern (event streams are not timed).",
			Buckets: apiBuckets,
		}, []string{"route"}),
		reload: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "polybot_config_reload_duration_seconds",
			Help:    "Time for a running bot to take up a stored config: trigger=\"api\" after a tenant's change, \"admin\" for POST /reload/{user}, \"billing\" after a subscription changed the plan.",
			Buckets: reloadBuckets,
		}, []string{"trigger"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.reload,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if ps, ok := cfg.Store.(PoolStatter); ok {
		m.reg.MustRegister(poolCollector{ps})
	}
	if cfg.Metrics != nil {
		m.reg.MustRegister(cfg.Metrics)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{cfg.Logger},
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// observe records one finished request.
func (m *serverMetrics) observe(pattern string, status int, d time.Duration) {
	if pattern == "" {
		pattern = "unmatched"
	}
	m.requests.WithLabelValues(pattern, strconv.Itoa(status/100)+"xx").Inc()
	if !streamRoutes[pattern] {
		m.duration.WithLabelValues(pattern).Observe(d.Seconds())
	}
}

// slogPrinter hands promhttp's collection errors to the server's logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("metrics collection", "err", fmt.Sprint(v...)) }

// PoolStatter is implemented by stores that can report their connection pool.
type PoolStatter interface {
	PoolStats() map[string]int64
}

var poolDesc = prometheus.NewDesc("polybot_db_pool", "Database connection pool state.", []string{"stat"}, nil)

// poolCollector reads the store's pool at each scrape. Its stat names come
// from the store adapter: a fixed, small set.
type poolCollector struct{ ps PoolStatter }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- poolDesc }

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.ps.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(v), k)
	}
}

var errUnauthenticatedMetrics = polybot.Errorf(polybot.EUNAUTHORIZED,
	"metrics need the metrics bearer token (--metrics-token), or the separate metrics listener (--metrics-addr)")

// metricsAllowed reports whether r may read the metrics. With a token set,
// every request must carry it, on either listener. Without one, only the
// separate metrics listener serves them (open is true there): no address,
// loopback included, is trusted on the API listener.
func (s *Server) metricsAllowed(r *http.Request, open bool) bool {
	tok := s.cfg.MetricsToken
	if tok == "" {
		return open
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1
}

// handleMetrics serves the registry in the Prometheus exposition format on
// the API listener: to the metrics token only.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *identity) error {
	if !s.metricsAllowed(r, false) {
		return errUnauthenticatedMetrics
	}
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

// MetricsHandler serves GET /metrics alone, for a separate listener
// (serve --metrics-addr) that only the monitoring network reaches. It asks
// for the metrics token when one is set.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if !s.metricsAllowed(r, true) {
			s.writeError(w, r, errUnauthenticatedMetrics)
			return
		}
		s.metrics.handler.ServeHTTP(w, r)
	})
	return mux
}

// timeReload runs reload and records how long it took.
func (s *Server) timeReload(trigger string, reload func() error) error {
	start := time.Now()
	err := reload()
	s.metrics.reload.WithLabelValues(trigger).Observe(time.Since(start).Seconds())
	return err
}

// ProbeHandler serves only GET /healthz, /readyz and /metrics: all a node
// without the API (serve --role gateway or worker) exposes.
func (s *Server) ProbeHandler() http.Handler {
	mux := http.NewServeMux()
	probe := func(h func(http.ResponseWriter, *http.Request, *identity) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r, nil); err != nil {
				s.writeError(w, r, err)
			}
		}
	}
	mux.HandleFunc("GET /healthz", probe(s.handleHealthz))
	mux.HandleFunc("GET /readyz", probe(s.handleReadyz))
	mux.Handle("GET /metrics", s.MetricsHandler())
	return mux
}
