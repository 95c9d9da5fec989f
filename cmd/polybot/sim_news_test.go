package main

import (
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/marketdata/replay"
)

// `polybot sim` prints its news feed's RSS URL; at --speed 0 every one of
// the built-in real headlines is on it at once.
func TestSimServesTheNewsFeedOfTheFedReplay(t *testing.T) {
	lines := runSim(t, []string{"polymarket", "kalshi", "news"}, "--speed", "0")
	u := lines["news"]["rss"]
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/news/rss") || lines["news"]["headlines"] != "12" {
		t.Fatalf("news line %v", lines["news"])
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var f struct {
		Titles []string `xml:"channel>item>title"`
	}
	if err := xml.Unmarshal(body, &f); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v %s", resp.Status, err, body)
	}
	if len(f.Titles) != 12 || !strings.Contains(strings.Join(f.Titles, "\n"), "MNI BRIEF: Fed's Williams: Room For A Further Adjustment") {
		t.Fatalf("titles %q", f.Titles)
	}
}

func TestSimNewsFlagPicksTheHeadlinesAndTheReplaysAnchor(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "h.jsonl")
	os.WriteFile(file, []byte(`{"published":"2025-11-21T12:37:39Z","title":"t","link":"https://e.com/a","source":"S","source_note":"n"}`+"\n"), 0o600)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	blank := filepath.Join(dir, "blank")
	os.WriteFile(blank, []byte("\n"), 0o600)

	fed, _, err := replay.ReadCrossVenue(strings.NewReader(string(replay.FedDec2025HoldCSV)), replay.FedDec2025Hold)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2025, 11, 16, 6, 1, 20, 28e6, time.UTC) // the CSV's first row, 1763272880028 ms
	tests := []struct {
		name                    string
		news, replayArg         string
		webhook, secret         string
		recorded                int // how many of the Fed events are "replayed"
		wantNone                bool
		wantN                   int
		wantAnchor, wantWebhook bool
		wantErr                 string
	}{
		{name: "auto with the fed replay", news: "auto", replayArg: "fed", recorded: len(fed), wantN: 12, wantAnchor: true},
		{name: "zero value is auto", news: "", replayArg: "fed", recorded: len(fed), wantN: 12, wantAnchor: true},
		{name: "auto without the fed replay", news: "auto", replayArg: "none", wantNone: true},
		{name: "auto with another recording", news: "", replayArg: "x.csv", wantNone: true},
		{name: "none", news: "none", replayArg: "fed", recorded: len(fed), wantNone: true},
		{name: "fed without a replay", news: "fed", replayArg: "none", wantN: 12},
		{name: "a headlines file", news: file, replayArg: "fed", recorded: len(fed), wantN: 1, wantAnchor: true},
		{name: "an empty file", news: empty, replayArg: "none", wantErr: "no headlines"},
		{name: "a missing file", news: filepath.Join(dir, "nope.jsonl"), replayArg: "none", wantErr: "--news"},
		{name: "an unknown name", news: "reuters", replayArg: "fed", wantErr: "--news \"reuters\""},
		{name: "a webhook", news: "fed", replayArg: "fed", recorded: len(fed), webhook: "http://127.0.0.1:9/hook", secret: secret, wantN: 12, wantAnchor: true, wantWebhook: true},
		{name: "a webhook without a secret", news: "fed", replayArg: "fed", webhook: "http://127.0.0.1:9/hook", wantErr: "--news-webhook-secret-file"},
		{name: "a blank secret", news: "fed", replayArg: "fed", webhook: "http://127.0.0.1:9/hook", secret: blank, wantErr: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := simFlags{news: tc.news, replay: tc.replayArg, speed: 36000, loop: true, newsWebhook: tc.webhook, newsWebhookSecret: tc.secret}
			cfg, err := f.newsConfig(fed[:tc.recorded], slog.New(slog.DiscardHandler))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantNone {
				if cfg != nil {
					t.Fatalf("config %+v, want none", cfg)
				}
				return
			}
			if cfg == nil || len(cfg.Headlines) != tc.wantN || cfg.Speed != 36000 || !cfg.Loop {
				t.Fatalf("config %+v", cfg)
			}
			if tc.wantAnchor != (cfg.Anchor.Equal(first) && cfg.End.Equal(fed[len(fed)-1].Time)) {
				t.Errorf("anchor %s end %s", cfg.Anchor, cfg.End)
			}
			if tc.wantWebhook != (cfg.Webhook != nil && string(cfg.Webhook.Secret) == "s3cret") {
				t.Errorf("webhook %+v", cfg.Webhook)
			}
		})
	}
}
