package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkReloadLatencyHTTP measures what a user sees: from the response to
// PUT /api/v1/config to GET /api/v1/bot reporting that the running bot acts
// on that config version (config_updated_at), over real HTTP against
// `serve --sim`. The seed's design restarts the bot with a 1-second sleep.
func BenchmarkReloadLatencyHTTP(b *testing.B) {
	url, _ := startServeLines(b, b.TempDir(), nil, "--sim", "--log-level", "error")
	c := newE2EClient(b, url)
	c.signup("reload@example.com")
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, body := c.do("PUT", "/api/v1/config", fmt.Sprintf(`{"min_profit_pct":"%d.5"}`, 1+i%5))
		if st != 200 {
			b.Fatalf("PUT: %d %s", st, body)
		}
		t0 := time.Now()
		var cfg struct {
			UpdatedAt time.Time `json:"updated_at"`
		}
		_ = json.Unmarshal([]byte(body), &cfg)
		for {
			_, s := c.do("GET", "/api/v1/bot", "")
			var bot struct {
				ConfigAt time.Time `json:"config_updated_at"`
			}
			_ = json.Unmarshal([]byte(s), &bot)
			if bot.ConfigAt.Equal(cfg.UpdatedAt) {
				break
			}
			if time.Since(t0) > 5*time.Second {
				b.Fatalf("bot still on config %s, want %s", bot.ConfigAt, cfg.UpdatedAt)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
