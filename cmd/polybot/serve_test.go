package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServeServesMetricsOnTheMetricsListenerAndRefusesThemOnTheAPI(t *testing.T) {
	url, lines := startServeLines(t, t.TempDir(), nil, "--venues", "off", "--metrics-addr", "127.0.0.1:0")
	var metricsURL string
	for _, l := range lines {
		if u, ok := strings.CutPrefix(l, "Metrics are on "); ok {
			metricsURL = u
		}
	}
	if metricsURL == "" {
		t.Fatalf("serve did not say where the metrics are: %q", lines)
	}
	get := func(u string) (int, string) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, body := get(metricsURL); st != 200 || !strings.Contains(body, "polybot_http_requests_total") && !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics listener: %d %.200s", st, body)
	}
	if st, _ := get(url + "/metrics"); st != 401 {
		t.Fatalf("/metrics on the API listener from loopback without a token: %d, want 401", st)
	}
}

func TestServeRefusesATrustedProxyThatIsNotAnAddress(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--trusted-proxy", "proxy.internal"},
		func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(userMessage(err), "--trusted-proxy") || exitCode(err) != 2 {
		t.Fatalf("err %v (exit %d), want a usage error naming --trusted-proxy", err, exitCode(err))
	}
}
