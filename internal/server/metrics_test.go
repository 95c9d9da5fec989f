package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
)

func getMetrics(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestMetricsOnTheAPIListenerNeedTheTokenEvenFromLoopback(t *testing.T) {
	tests := []struct {
		name       string
		cfgToken   string
		sendToken  string
		wantStatus int
	}{
		{"no token configured: a loopback client is refused", "", "", 401},
		{"no token configured: any bearer is refused", "", "anything", 401},
		{"token configured: a loopback client without it is refused", "s3cret-metrics-token", "", 401},
		{"token configured: a wrong token is refused", "s3cret-metrics-token", "s3cret-metrics-tokem", 401},
		{"token configured: the token is served", "s3cret-metrics-token", "s3cret-metrics-token", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnvWith(t, nil, func(c *server.Config) { c.MetricsToken = tt.cfgToken })
			env.client().signup("m@example.com")
			st, body := getMetrics(t, env.URL+"/metrics", tt.sendToken)
			if st != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", st, tt.wantStatus, body)
			}
			if st != 200 {
				if strings.Contains(body, "polybot_") {
					t.Fatalf("refused, yet metrics in the body: %s", body)
				}
				return
			}
			for _, want := range []string{
				`polybot_http_requests_total{route="POST /api/v1/auth/signup",status="2xx"} 1`,
				`polybot_http_request_duration_seconds_bucket{route="POST /api/v1/auth/signup",le="+Inf"} 1`,
				"go_goroutines ",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("metrics lack %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, tt.cfgToken) {
				t.Fatal("the metrics show the metrics token")
			}
		})
	}
}

func TestMetricsListenerServesMetricsOnlyAndAsksForTheTokenWhenSet(t *testing.T) {
	for _, tok := range []string{"", "s3cret-metrics-token"} {
		env := newEnv(t, nil)
		srv := server.New(server.Config{Store: env.Store, MetricsToken: tok})
		ms := httptest.NewServer(srv.MetricsHandler())
		t.Cleanup(ms.Close)
		st, body := getMetrics(t, ms.URL+"/metrics", "")
		if want := map[bool]int{true: 200, false: 401}[tok == ""]; st != want {
			t.Fatalf("token %q, none sent: status %d, want %d", tok, st, want)
		}
		if tok == "" && !strings.Contains(body, "go_goroutines ") {
			t.Fatalf("metrics listener body: %s", body)
		}
		if tok != "" {
			if st, _ := getMetrics(t, ms.URL+"/metrics", tok); st != 200 {
				t.Fatalf("token sent: status %d", st)
			}
		}
		if st, _ := getMetrics(t, ms.URL+"/api/v1/profile", tok); st != 404 {
			t.Fatalf("the metrics listener serves the API: status %d", st)
		}
	}
}

func TestMetricsTimeConfigReloads(t *testing.T) {
	env := newEnvWith(t, nil, func(c *server.Config) {
		c.MetricsToken = "s3cret-metrics-token"
		c.Bots = &fakeBots{running: map[polybot.ID]bool{}}
	})
	c := env.client().signup("reload@example.com")
	expectStatus(t, c.do("PUT", "/api/v1/config", `{"min_profit_pct": 3}`), 200)
	_, body := getMetrics(t, env.URL+"/metrics", "s3cret-metrics-token")
	for _, want := range []string{
		`polybot_config_reload_duration_seconds_count{trigger="api"} 1`,
		`polybot_http_request_duration_seconds_count{route="PUT /api/v1/config"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
