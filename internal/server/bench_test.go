package server_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/server"
)

// benchmarkGetConfig measures authenticated GET /api/v1/config over real
// HTTP (loopback TCP, keep-alive) with an API token, and reports req/s and
// the p99 latency.
func benchmarkGetConfig(b *testing.B, open storeOpener) {
	// The per-tenant API limit is off: this measures the server, not the limit.
	env := newEnvWith(b, open, func(c *server.Config) { c.TenantRate = server.Rate{Burst: -1} })
	c := env.client().signup("bench@example.com")
	r := c.do("POST", "/api/v1/tokens", map[string]any{"name": "bench"})
	expectStatus(b, r, 201)
	var tok struct {
		Token string `json:"token"`
	}
	r.JSON(b, &tok)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	url := env.URL + "/api/v1/config"

	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		buf := make([]byte, 4096)
		for pb.Next() {
			t0 := time.Now()
			res, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			for {
				if _, err := res.Body.Read(buf); err != nil {
					break
				}
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkGetConfigSQLite(b *testing.B) { benchmarkGetConfig(b, openSQLite) }
