//go:build load

package main

// The load test: go test -tags load ./cmd/polybot -run TestLoad -v
//
//	POLYBOT_LOAD_TENANTS   tenants, each with its own dry-run bot (default 20)
//	POLYBOT_LOAD_RPS       API requests per second per tenant (default 5)
//	POLYBOT_LOAD_SECONDS   how long (default 30)
//	POLYBOT_LOAD_DB        "sqlite" (default) or "postgres" (a fresh migrated
//	                       database on POLYBOT_TEST_DATABASE_URL's server)
//
// serve --sim runs in-process with its simulators replaying the Fed
// recording; every tenant signs up from its own loopback address
// (127.0.0.N), onboards, starts its bot, takes an API token, then makes a
// mix of reads and config writes at the given rate. It reports throughput,
// p50/p99 latency and every non-2xx, and fails on any 5xx.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/postgres/pgtest"
)

func loadEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestLoad(t *testing.T) {
	tenants := loadEnv("POLYBOT_LOAD_TENANTS", 20)
	rps := loadEnv("POLYBOT_LOAD_RPS", 5)
	secs := loadEnv("POLYBOT_LOAD_SECONDS", 30)
	args := []string{"--sim"}
	store := "sqlite"
	if os.Getenv("POLYBOT_LOAD_DB") == "postgres" {
		d := pgtest.NewDatabase(t)
		args = append(args, "--database-url", d.AppURL)
		store = "postgres"
	}
	url, _ := startServeLines(t, t.TempDir(), nil, args...)

	type client struct {
		hc    *http.Client
		token string
	}
	clients := make([]*client, tenants)
	for i := range clients {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+(i+2)/250), byte(1+(i+2)%250))}
		jar, _ := cookiejar.New(nil)
		c := &client{hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
			Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext, MaxIdleConnsPerHost: 4}}}
		do := func(method, path, body, csrf string) (int, []byte) {
			req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if csrf != "" {
				req.Header.Set("X-CSRF-Token", csrf)
			}
			res, err := c.hc.Do(req)
			if err != nil {
				t.Fatalf("tenant %d %s %s: %v", i, method, path, err)
			}
			defer res.Body.Close()
			var b []byte
			b, _ = readAll(res)
			return res.StatusCode, b
		}
		st, body := do("POST", "/api/v1/auth/signup", fmt.Sprintf(`{"email":"load%d@example.com","password":"correct horse battery staple %d"}`, i, i), "")
		if st != 201 {
			t.Fatalf("signup %d: %d %s", i, st, body)
		}
		var s struct {
			CSRF string `json:"csrf_token"`
		}
		_ = json.Unmarshal(body, &s)
		if st, body := do("PATCH", "/api/v1/profile", `{"onboarding_completed":true,"accept_terms":true}`, s.CSRF); st != 200 {
			t.Logf("onboarding %d: %d %s", i, st, body)
		}
		if st, body := do("POST", "/api/v1/bot/start", "", s.CSRF); st != 200 {
			t.Fatalf("bot start %d: %d %s", i, st, body)
		}
		st, body = do("POST", "/api/v1/tokens", `{"name":"load"}`, s.CSRF)
		var tok struct {
			Token string `json:"token"`
		}
		if st != 201 || json.Unmarshal(body, &tok) != nil || tok.Token == "" {
			t.Fatalf("token %d: %d %s", i, st, body)
		}
		c.token = tok.Token
		clients[i] = c
	}

	mix := []struct{ method, path, body string }{
		{"GET", "/api/v1/bot", ""}, {"GET", "/api/v1/pnl", ""}, {"GET", "/api/v1/positions", ""},
		{"GET", "/api/v1/trades?limit=50", ""}, {"GET", "/api/v1/opportunities", ""}, {"GET", "/api/v1/orders", ""},
		{"GET", "/api/v1/config", ""}, {"PUT", "/api/v1/config", `{"min_profit_pct":"%d"}`},
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[int]int{}
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(rps))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				m := mix[(i+n)%len(mix)]
				body := m.body
				if strings.Contains(body, "%d") {
					body = fmt.Sprintf(body, 1+n%3)
				}
				req, _ := http.NewRequest(m.method, url+m.path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+c.token)
				req.Header.Set("Content-Type", "application/json")
				at := time.Now()
				res, err := c.hc.Do(req)
				d := time.Since(at)
				code := 0
				if err == nil {
					_, _ = readAll(res)
					res.Body.Close()
					code = res.StatusCode
				}
				mu.Lock()
				latencies = append(latencies, d)
				statuses[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(began)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	fivexx := 0
	for code, n := range statuses {
		if code >= 500 || code == 0 {
			fivexx += n
		}
	}
	t.Logf("load on %s: %d tenants × %d req/s for %s: %d requests, %.0f req/s, p50 %s, p99 %s, statuses %v",
		store, tenants, rps, took.Round(time.Second), len(latencies), float64(len(latencies))/took.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), statuses)
	if fivexx > 0 {
		t.Fatalf("%d requests failed with a 5xx or no answer", fivexx)
	}
}

func readAll(res *http.Response) ([]byte, error) {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String()), nil
		}
	}
}
