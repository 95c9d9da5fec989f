package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	lines := runSim(t, []string{"polymarket", "kalshi", "kalshi-demo"}, "--kalshi-demo-key", keyPath, "--speed", "0")
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

// runSim runs `polybot sim` on free ports with args until the test ends,
// and returns the lines it printed by their first word ("kalshi demo" is
// "kalshi-demo"), each as its key=value pairs, once every name in want
// was printed.
func runSim(t *testing.T, want []string, args ...string) map[string]map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"sim", "--polymarket-addr", "127.0.0.1:0", "--kalshi-addr", "127.0.0.1:0", "--log-level", "warn"}, args...),
			func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sim: %v", err)
		}
	})
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
	missing := func() bool {
		for _, n := range want {
			if lines[n] == nil {
				return true
			}
		}
		return false
	}
	for missing() {
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
	go func() {
		for range got { // drain, so the sim never blocks printing
		}
	}()
	return lines
}

// TestSimEventsDemoServesTheSyntheticEventOnBothVenues runs `polybot sim
// --events demo` and reads the event from each venue with our connectors,
// as outcome sets of its four outcomes.
func TestSimEventsDemoServesTheSyntheticEventOnBothVenues(t *testing.T) {
	lines := runSim(t, []string{"polymarket", "kalshi", "events"}, "--events", "demo", "--replay", "none", "--speed", "0", "--loop=false")
	if lines["events"]["polymarket"] != "synthetic-fed-demo-polymarket" || lines["events"]["kalshi"] != "SYNTHFED-DEMO" {
		t.Fatalf("events line %v", lines["events"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc := polymarket.NewClient(polymarket.Config{CLOBURL: lines["polymarket"]["clob"], GammaURL: lines["polymarket"]["gamma"]})
	evs, err := pc.Events(ctx, polymarket.EventsQuery{Slugs: []string{lines["events"]["polymarket"]}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("polymarket events: %+v %v", evs, err)
	}
	kc, err := kalshi.NewClient(lines["kalshi"]["rest"], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kev, err := kc.Event(ctx, lines["events"]["kalshi"])
	if err != nil {
		t.Fatal(err)
	}
	pset, _, perr := polymarket.OutcomeSetOf(evs[0])
	kset, _, kerr := kalshi.OutcomeSetOf(kev)
	for _, set := range []*polybot.OutcomeSet{pset, kset} {
		if perr != nil || kerr != nil || set.Validate() != nil || len(set.Outcomes) != 4 || !set.Exhaustive || set.Approved ||
			!strings.Contains(set.Name, "SYNTHETIC") {
			t.Fatalf("set %+v (%v %v): want 4 exhaustive outcomes, not approved, named SYNTHETIC", set, perr, kerr)
		}
	}
	// Its books are up on both venues.
	yes := pset.Outcomes[1].Markets[0].Yes
	waitFor(t, func() bool {
		b, err := pc.Book(ctx, yes.Token)
		return err == nil && len(b.Bids) > 0 && len(b.Asks) > 0
	})
	waitFor(t, func() bool {
		ob, err := kc.Orderbook(ctx, kset.Outcomes[1].Markets[0].Yes.Market, 0)
		return err == nil && len(ob.YesDollars) > 0 && len(ob.NoDollars) > 0
	})
}

func TestSimRefusesAnUnknownEventsName(t *testing.T) {
	for _, list := range []string{"fed-2027", "demo,demo", "demo,", "none,demo"} {
		err := run(context.Background(), []string{"sim", "--events", list}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--events") {
			t.Errorf("--events %q: %v, want a usage error naming --events", list, err)
		}
	}
}

// TestSimFaultFlagsReachEverySimulator runs `polybot sim --fail-every 2
// --rate-limit-every 3` with nothing replayed, and calls a route of each
// simulator six times: calls 2, 4 and 6 answer 503, call 3 answers 429
// with the default Retry-After of 2 s (a due failure wins over a due rate
// limit), on every venue.
func TestSimFaultFlagsReachEverySimulator(t *testing.T) {
	lines := runSim(t, []string{"polymarket", "kalshi", "alpaca"}, "--replay", "none", "--events", "none", "--news", "none",
		"--leaders", "none", "--fail-every", "2", "--rate-limit-every", "3")
	urls := map[string]string{
		"polymarket": lines["polymarket"]["clob"] + "/time",
		"kalshi":     lines["kalshi"]["rest"] + "/exchange/status",
		"alpaca":     lines["alpaca"]["rest"] + "/v2/account", // 401 unless faulted: no key
	}
	for venue, url := range urls {
		var got []int
		for range 6 {
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			st := resp.StatusCode
			if st == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "2" {
				t.Errorf("%s: a 429 with Retry-After %q, want 2", venue, resp.Header.Get("Retry-After"))
			}
			if st != http.StatusServiceUnavailable && st != http.StatusTooManyRequests {
				st = 0 // served
			}
			got = append(got, st)
		}
		if want := []int{0, 503, 429, 503, 0, 503}; !slices.Equal(got, want) {
			t.Errorf("%s answered %v, want %v (0: served)", venue, got, want)
		}
	}
}
