package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/polybot/polybot/internal/strategy/backtest"
)

func runReplay(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	err = cmdReplay(context.Background(), e, args)
	return out.String(), errb.String(), err
}

// tableRow finds a report row: the strategy's name and its numbers.
func tableRow(t *testing.T, out, name string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 9 && f[0] == name {
			return f[1:]
		}
	}
	t.Fatalf("no %s row in:\n%s", name, out)
	return nil
}

func TestReplayReportsTheFedRecordingWithAProgressBar(t *testing.T) {
	out, errOut, err := runReplay(t)
	if err != nil {
		t.Fatal(err)
	}
	// 215 cross-platform opportunities at the default fees (pinned and
	// hand-checked in internal/strategy/backtest); the default 1% minimum
	// trades only some of them.
	cross := tableRow(t, out, "cross_platform")
	if cross[0] != "215" {
		t.Errorf("cross_platform opportunities %s, want 215:\n%s", cross[0], out)
	}
	if single := tableRow(t, out, "single_platform"); single[0] != "0" {
		t.Errorf("single_platform opportunities %s, want 0", single[0])
	}
	total := tableRow(t, out, "total")
	if total[0] != "215" || total[1] == "0" || total[1] == "215" {
		t.Errorf("total row %v", total)
	}
	for _, want := range []string{"1005 book updates (4020 events)", "skipped line 919", "min profit 1.00%", "net P&L = sets × payout − cost − fees",
		"Polymarket fee-free", "Polymarket at least 5.00 shares", "Fees by venue: Polymarket 0.00, Kalshi "} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// The bar is redrawn in place and ends at 100% on its own line.
	if n := strings.Count(errOut, "\r"); n < 10 || n > 101 {
		t.Errorf("%d redraws of the bar", n)
	}
	if !regexp.MustCompile(`\rreplay \[#{30}\] 100%  1005/1005 updates\n$`).MatchString(errOut) {
		t.Errorf("bar does not end at 100%%: %q", errOut[max(0, len(errOut)-120):])
	}
}

func TestReplayOfACSVPathWithFlags(t *testing.T) {
	// Hand-worked (see internal/strategy/backtest): Kalshi YES 0.45 ×100 +
	// Polymarket NO 0.52 ×250 each row; 100 sets cost $97, Kalshi's fee is
	// $1.74, P&L $1.26 a row.
	path := filepath.Join(t.TempDir(), "two_rows.csv")
	csv := "timestamp_ms,poly_best_bid_yes,poly_best_bid_no,poly_depth_best_yes,poly_depth_best_no,kalshi_best_bid_yes,kalshi_best_bid_no,kalshi_depth_best_yes,kalshi_depth_best_no\n" +
		"1764000000000,0.48,0.40,250,100,0.40,0.55,100,100\n" +
		"1764001800000,0.48,0.40,250,100,0.40,0.55,100,100\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		row  []string // opportunities, trades, untraded, sets, cost, fees, gross, net
	}{
		{"default fees and the default 1% minimum", nil, []string{"2", "2", "0", "200.00", "194.00", "3.48", "6.00", "2.52"}},
		{"a 1.3% minimum trades nothing", []string{"--min-profit-pct", "1.3"}, []string{"2", "0", "2", "0.00", "0.00", "0.00", "0.00", "0.00"}},
		{"a $50 cap buys 50 sets a row", []string{"--max-trade-usd", "50"}, []string{"2", "2", "0", "100.00", "97.00", "1.74", "3.00", "1.26"}},
		// Half the Kalshi rate: ceil(0.86625) = $0.87 a row.
		{"a Kalshi fee multiplier", []string{"--kalshi-fee-multiplier", "0.5"}, []string{"2", "2", "0", "200.00", "194.00", "1.74", "6.00", "4.26"}},
		// Crypto rate: 100 × 0.07 × 0.52 × 0.48 = $1.7472 on top of $1.74:
		// 3.4872 > 3.
		{"a Polymarket fee that eats the edge", []string{"--polymarket-fee-rate", "0.07"}, []string{"0", "0", "0", "0.00", "0.00", "0.00", "0.00", "0.00"}},
		// Economics rate: 100 × 0.05 × 0.2496 = $1.248 + $1.74 = 2.988 a
		// row, 0.012 left of 3: traded only without a minimum profit.
		{"Polymarket's economics rate leaves a sliver", []string{"--polymarket-fee-rate", "0.05", "--min-profit-pct", "0"}, []string{"2", "2", "0", "200.00", "194.00", "5.976", "6.00", "0.024"}},
		// Exponent 2: 100 × 0.05 × 0.2496² = 0.311500… → $0.31150: the edge
		// survives (0.3115 + 1.74 < 3), 0.9485 a row.
		{"a Polymarket fee exponent", []string{"--polymarket-fee-rate", "0.05", "--polymarket-fee-exponent", "2", "--min-profit-pct", "0"}, []string{"2", "2", "0", "200.00", "194.00", "4.103", "6.00", "1.897"}},
		{"a Polymarket minimum above the visible 100 shares", []string{"--polymarket-min-size", "150"}, []string{"0", "0", "0", "0.00", "0.00", "0.00", "0.00", "0.00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runReplay(t, append([]string{"--data", path, "--progress=false"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := tableRow(t, out, "cross_platform")
			if strings.Join(got, " ") != strings.Join(tc.row, " ") {
				t.Errorf("cross_platform row %v, want %v\n%s", got, tc.row, out)
			}
		})
	}
}

func TestReplayJSONReportListsTrades(t *testing.T) {
	out, errOut, err := runReplay(t, "--json", "--progress=false", "--min-profit-pct", "0", "--strategies", "cross_platform")
	if err != nil {
		t.Fatal(err)
	}
	if errOut != "" {
		t.Errorf("stderr without a bar: %q", errOut)
	}
	var rep backtest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Opportunities != 215 || rep.Trades != 215 || len(rep.TradeLog) != 215 || len(rep.ByStrategy) != 1 {
		t.Errorf("%d opportunities, %d trades (%d listed), strategies %v", rep.Opportunities, rep.Trades, len(rep.TradeLog), rep.ByStrategy)
	}
}

func TestReplayRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"an unknown flag", []string{"--nope"}, true, "nope"},
		{"a stray argument", []string{"extra"}, true, "unexpected argument"},
		{"a negative minimum profit", []string{"--min-profit-pct", "-1"}, true, "--min-profit-pct"},
		{"a float-looking cap", []string{"--max-trade-usd", "1e3"}, true, "--max-trade-usd"},
		{"a zero Kalshi multiplier", []string{"--kalshi-fee-multiplier", "0"}, true, "--kalshi-fee-multiplier"},
		{"a Polymarket fee rate of 100%", []string{"--polymarket-fee-rate", "1"}, true, "--polymarket-fee-rate"},
		{"a Polymarket fee exponent of 0", []string{"--polymarket-fee-rate", "0.05", "--polymarket-fee-exponent", "0"}, true, "exponent"},
		{"a zero Polymarket minimum", []string{"--polymarket-min-size", "0"}, true, "--polymarket-min-size"},
		{"an unknown strategy", []string{"--strategies", "copy_trading"}, true, "--strategies"},
		{"a recording that is not a csv", []string{"--data", "book.jsonl"}, true, "--data"},
		{"a missing recording", []string{"--data", filepath.Join(t.TempDir(), "missing.csv")}, false, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runReplay(t, tc.args...)
			var ue *usageErr
			if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v (usage error: %v), want one mentioning %q (usage error: %v)", err, errors.As(err, &ue), tc.want, tc.usage)
			}
		})
	}
}

// TestReplayOfAMultiOutcomeRecordingReportsByKind: the five-outcome Fed
// July 2026 recording, fee-free and at any profit, finds the 2 long and 7
// short rebalancing sets recordings/polymarketus_fed_jul2026_count.py
// counts from the CSV; each trade is 5 sets (the recording's assumed
// size), at the costs the script lists (2 × 0.99; 3 × 3.95 + 4 × 3.96).
func TestReplayOfAMultiOutcomeRecordingReportsByKind(t *testing.T) {
	out, _, err := runReplay(t, "--data", "fed-jul2026", "--min-profit-pct", "0", "--polymarket-fee-rate", "0", "--progress=false")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"rebalance_long":  {"2", "2", "0", "10.00", "9.90", "0.00", "0.10", "0.10"},
		"rebalance_short": {"7", "7", "0", "35.00", "138.45", "0.00", "1.55", "1.55"},
		"implication":     {"0", "0", "0", "0.00", "0.00", "0.00", "0.00", "0.00"},
		"overlapping_arb": {"9", "9", "0", "45.00", "148.35", "0.00", "1.65", "1.65"},
	} {
		if got := tableRow(t, out, name); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s row %v, want %v\n%s", name, got, want, out)
		}
	}
}

// TestReplayWithHeadlinesReportsNewsTradesApart: the Fed recording with its
// real headlines and the demo rule makes the one news trade worked by hand
// in internal/strategy/backtest (100 NO at 0.39 after MNI's 12:37:39 brief
// on Williams, sold at 0.60: +$21.00), in its own row and listed.
func TestReplayWithHeadlinesReportsNewsTradesApart(t *testing.T) {
	out, _, err := runReplay(t, "--headlines", "fed-nov2025", "--progress=false")
	if err != nil {
		t.Fatal(err)
	}
	if got := tableRow(t, out, "news_arbitrage"); strings.Join(got, " ") != "1 1 0 100.00 39.00 0.00 21.00 21.00" {
		t.Errorf("news row %v\n%s", got, out)
	}
	if c := tableRow(t, out, "cross_platform"); c[0] != "215" {
		t.Errorf("cross-platform changed with headlines: %v", c)
	}
	if !strings.Contains(out, `"MNI BRIEF: Fed's Williams: Room For A Further Adjustment" (rule demo-williams): bought 100.00 Polymarket NO 12:37:39 at 0.39, sold at 0.60`) {
		t.Errorf("the news trade is not listed:\n%s", out)
	}
	if _, _, err := runReplay(t, "--news-rules", "x.json"); err == nil {
		t.Error("--news-rules without --headlines accepted")
	}
}

// TestReplayOfALeadersTradesReportsTheCopies: the built-in real wallet's
// ten buys for the demo leader settings make the six copies worked by hand
// in internal/strategy/backtest (+$6.8373 marked).
func TestReplayOfALeadersTradesReportsTheCopies(t *testing.T) {
	out, _, err := runReplay(t, "--leader-trades", "real")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"6 copied, 4 skipped, 0 exits; cost 108.3915", "net 6.8373", "→ copied 38.18 at 0.22",
		"→ skipped: $0.90 buys 1.04 shares at 0.86, below the venue's minimum 5.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
