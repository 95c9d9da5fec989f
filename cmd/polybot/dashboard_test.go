package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboardUsesOnlyMetricsTheServerExports keeps
// deploy/grafana/polybot.json in step with the code: every polybot_ metric a
// panel queries must be defined in the server's or the engine's metrics, and
// every panel must have a query.
func TestGrafanaDashboardUsesOnlyMetricsTheServerExports(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/polybot.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range []string{"../../internal/server/metrics.go", "../../internal/engine/metrics.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	name := regexp.MustCompile(`\bpolybot_[a-z_]+`)
	panels := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					m = strings.TrimSuffix(m, suf)
				}
				if !strings.Contains(src.String(), `"`+m+`"`) {
					t.Errorf("panel %q queries %s, which no metrics.go defines", p.Title, m)
				}
			}
		}
	}
	if panels < 10 {
		t.Fatalf("%d panels", panels)
	}
}
