package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// TestSimServesBothVenuesFromTheCommandLine runs `polybot sim` as a user
// would, reads the URLs it prints, and talks to each venue with our own
// connectors: a signed Kalshi balance call with the generated demo key, and
// both venues' books of the replayed Fed event.
func TestSimServesBothVenuesFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "kalshi-demo.pem")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--polymarket-addr", "127.0.0.1:0", "--kalshi-addr", "127.0.0.1:0",
			"--kalshi-demo-key", keyPath, "--speed", "0", "--log-level", "warn"},
			func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sim: %v", err)
		}
	}()
	lines := map[string]map[string]string{}
	sc := bufio.NewScanner(pr)
	deadline := time.After(30 * time.Second)
	got := make(chan string)
	go func() {
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	for len(lines) < 3 {
		select {
		case l, ok := <-got:
			if !ok {
				t.Fatalf("sim stopped early: %v", lines)
			}
			f := strings.Fields(l)
			kv := map[string]string{}
			for _, p := range f[1:] {
				if k, v, ok := strings.Cut(p, "="); ok {
					kv[k] = v
				}
			}
			name := f[0]
			if len(f) > 1 && f[1] == "demo" {
				name = "kalshi-demo"
			}
			lines[name] = kv
		case <-deadline:
			t.Fatalf("sim printed %v", lines)
		}
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo key file: %v %v", fi, err)
	}
	pem, _ := os.ReadFile(keyPath)
	ex, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: lines["kalshi"]["rest"], KeyID: lines["kalshi-demo"]["id"], PrivateKeyPEM: pem})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	bal, err := ex.Balance(cctx)
	if err != nil {
		t.Fatalf("signed kalshi balance: %v", err)
	}
	if bal.Available != polybot.NewDecimal(10000, 0) {
		t.Errorf("kalshi balance %s, want 10000", bal.Available)
	}
	// The replay (as fast as possible) has put the Fed event's books up on both venues.
	kc, err := kalshi.NewClient(lines["kalshi"]["rest"], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := polymarket.NewClient(polymarket.Config{CLOBURL: lines["polymarket"]["clob"]})
	waitFor(t, func() bool {
		ob, err := kc.Orderbook(cctx, replay.FedDec2025Hold.KalshiTicker, 0)
		return err == nil && len(ob.YesDollars) > 0 && len(ob.NoDollars) > 0
	})
	waitFor(t, func() bool {
		b, err := pc.Book(cctx, replay.FedDec2025Hold.PolymarketYesToken)
		return err == nil && len(b.Bids) > 0 && len(b.Asks) > 0
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}
