package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/strategy"
	"github.com/polybot/polybot/internal/strategy/backtest"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

// cmdReplay is `polybot replay`: the strategies over a recording, as fast
// as the machine allows, with a progress bar on stderr and a report of
// opportunities, trades, fees and P&L net of fees on stdout.
func cmdReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "replay")
	data := fs.String("data", "fed", `recording to replay: "fed" (the built-in Fed Dec 2025 recording, both venues) or a cross-venue .csv`)
	pmYes := fs.String("polymarket-yes-token", replay.FedDec2025Hold.PolymarketYesToken, "the recording's Polymarket YES token id")
	pmNo := fs.String("polymarket-no-token", replay.FedDec2025Hold.PolymarketNoToken, "the recording's Polymarket NO token id")
	ticker := fs.String("kalshi-ticker", replay.FedDec2025Hold.KalshiTicker, "the recording's Kalshi market ticker")
	kMult := fs.String("kalshi-fee-multiplier", "1", "Kalshi fee multiplier of the series (taker fee ceil(0.07 × multiplier × C × P × (1−P)) to the cent per order)")
	pmBps := fs.Int64("polymarket-fee-bps", 0, "Polymarket fee_rate_bps (fee = bps/10⁴ × min(P, 1−P) × C)")
	minProfit := fs.String("min-profit-pct", "1", "trade only opportunities at least this profitable, in percent of their cost (a tenant's min_profit_pct)")
	maxTrade := fs.String("max-trade-usd", "0", "cap on one trade's cost with fees (a tenant's max_trade_size_usd); 0 takes the whole visible size")
	maxAge := fs.Duration("max-quote-age", strategy.DefaultMaxQuoteAge, "never trade a quote older than this")
	strategies := fs.String("strategies", polybot.StrategySinglePlatform+","+polybot.StrategyCrossPlatform, "comma-separated strategies to run")
	jsonOut := fs.Bool("json", false, "print the report as JSON (with every trade)")
	bar := fs.Bool("progress", true, "show a progress bar on stderr")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("replay: unexpected argument %q", fs.Arg(0)))
	}
	dec := func(flag, s string, positive bool) (polybot.Decimal, error) {
		d, err := polybot.ParseDecimal(s)
		if err != nil || d.Sign() < 0 || (positive && d.Sign() == 0) {
			what := "a non-negative decimal"
			if positive {
				what = "a positive decimal"
			}
			return polybot.Zero, usageError(fmt.Sprintf("--%s %q: must be %s", flag, s, what))
		}
		return d, nil
	}
	mult, err := dec("kalshi-fee-multiplier", *kMult, true)
	if err != nil {
		return err
	}
	if *pmBps < 0 || *pmBps > 10_000 {
		return usageError("--polymarket-fee-bps: must be between 0 and 10000")
	}
	if *maxAge <= 0 {
		return usageError("--max-quote-age: must be positive")
	}
	opt := backtest.Options{
		Fees: strategy.VenueFees{
			Kalshi:     strategy.KalshiFees{Default: kalshi.FeeSchedule{Multiplier: mult}},
			Polymarket: strategy.PolymarketFees{RateBps: *pmBps},
		},
		MaxQuoteAge: *maxAge,
	}
	if opt.MinProfitPct, err = dec("min-profit-pct", *minProfit, false); err != nil {
		return err
	}
	if opt.MaxTradeUSD, err = dec("max-trade-usd", *maxTrade, false); err != nil {
		return err
	}
	for _, s := range strings.Split(*strategies, ",") {
		switch s = strings.TrimSpace(s); s {
		case polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform:
			opt.Strategies = append(opt.Strategies, s)
		case "":
		default:
			return usageError(fmt.Sprintf("--strategies: %q is not %s or %s", s, polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform))
		}
	}
	if len(opt.Strategies) == 0 {
		return usageError("--strategies: name at least one strategy")
	}

	market := replay.CrossVenueMarket{PolymarketYesToken: *pmYes, PolymarketNoToken: *pmNo, KalshiTicker: *ticker}
	raw := replay.FedDec2025HoldCSV
	label := "fed (built-in: Fed December 2025 hold, Polymarket and Kalshi)"
	if *data != "fed" {
		if !strings.EqualFold(filepath.Ext(*data), ".csv") {
			return usageError(fmt.Sprintf("--data %q: want fed or a cross-venue .csv recording", *data))
		}
		if raw, err = os.ReadFile(*data); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
		label = *data
	}
	var pb *progressBar
	if *bar {
		pb = &progressBar{w: e.stderr, last: -1}
		opt.Progress = pb.update
	}
	start := time.Now()
	rep, err := backtest.RunCrossVenue(ctx, bytes.NewReader(raw), market, opt)
	elapsed := time.Since(start)
	if pb != nil {
		pb.finish()
	}
	if err != nil {
		return fmt.Errorf("replay %s: %w", *data, err)
	}
	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(e.stdout, rep, label, elapsed, *kMult, *pmBps, opt)
	return nil
}

// progressBar draws "[#####-----]  50%  503/1005 updates" in place with \r,
// redrawn only when the percentage changes.
type progressBar struct {
	w    io.Writer
	last int
	done bool
}

func (p *progressBar) update(done, total int) {
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	if pct == p.last {
		return
	}
	p.last = pct
	const width = 30
	fill := done * width / total
	fmt.Fprintf(p.w, "\rreplay [%s%s] %3d%%  %d/%d updates", strings.Repeat("#", fill), strings.Repeat("-", width-fill), pct, done, total)
	p.done = true
}

// finish ends the bar's line.
func (p *progressBar) finish() {
	if p.done {
		fmt.Fprintln(p.w)
		p.done = false
	}
}

func printReport(w io.Writer, rep *backtest.Report, label string, elapsed time.Duration, kMult string, pmBps int64, opt backtest.Options) {
	fmt.Fprintf(w, "Replayed %s\n", label)
	fmt.Fprintf(w, "  %d book updates (%d events) from %s to %s, in %s\n", rep.Updates, rep.Events,
		rep.From.UTC().Format(time.RFC3339), rep.To.UTC().Format(time.RFC3339), elapsed.Round(time.Microsecond))
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "  skipped line %d: %s\n", s.Line, s.Reason)
	}
	limit := "the whole visible size"
	if opt.MaxTradeUSD.Sign() > 0 {
		limit = "$" + opt.MaxTradeUSD.String()
	}
	fmt.Fprintf(w, "  fees: Kalshi taker ceil(0.07 × %s × C × P × (1−P)) per order, Polymarket %d bps; min profit %s%%; max trade %s; max quote age %s\n\n",
		kMult, pmBps, opt.MinProfitPct, limit, opt.MaxQuoteAge)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\topportunities\ttrades\tuntraded\tsets\tcost\tfees\tgross P&L\tnet P&L\t")
	row := func(name string, t *backtest.Tally) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, t.Opportunities, t.Trades, t.Untraded,
			t.Sets, t.Cost, t.Fees, t.GrossPnL, t.NetPnL)
	}
	for _, s := range []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform} {
		if t := rep.ByStrategy[s]; t != nil {
			row(s, t)
		}
	}
	row("total", &rep.Tally)
	tw.Flush()
	fmt.Fprintln(w, "\nMoney in dollars. Each set (one YES and one NO of the event) pays $1 at resolution, so a trade's")
	fmt.Fprintln(w, "P&L is locked in when it fills: net P&L = sets × $1 − cost − fees. Fills are taker fills at the")
	fmt.Fprintln(w, "recorded best asks; the recording cannot show our own fills consuming later rows' liquidity.")
}
