package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/strategy"
	"github.com/polybot/polybot/internal/strategy/backtest"
	"github.com/polybot/polybot/internal/venue/polymarket"
	pmsim "github.com/polybot/polybot/internal/venuesim/polymarket"
)

// The built-in Fed Dec 2025 recording's fee schedules.
//
// Polymarket: fee-free. The recording runs 16 Nov to 6 Dec 2025 and the
// market resolved on 10 Dec 2025. Polymarket charged no trading fees on it
// then: its first taker fees appeared in the docs on 6 Jan 2026 and covered
// only 15-minute crypto markets (reported e.g. at
// https://followin.io/en/feed/22374047), were extended to all crypto markets
// on 6 Mar 2026, and to finance, politics, economics and the other
// categories from 30 Mar 2026 (https://www.htx.com/news/interpreting-
// polymarkets-major-updates-last-night-expanded-f-nQA4eoOe/), and the fee
// docs of that time say "Fees apply only to markets deployed on or after the
// activation date. Pre-existing markets are unaffected." We have not seen
// the market's own Gamma record (feesEnabled / feeSchedule); the economics
// schedule it would carry today is --polymarket-fee-rate 0.05.
//
// Kalshi: KXFEDDECISION is assumed to be on the general schedule
// (quadratic, multiplier 1), as in the simulator; --kalshi-fee-multiplier
// changes it.
var (
	fedPolymarketSchedule = fee.PolymarketSchedule{}
	fedKalshiSchedule     = fee.KalshiSchedule{Type: fee.KalshiQuadratic, Multiplier: polybot.One}
)

// cmdReplay is `polybot replay`: the strategies over a recording, as fast
// as the machine allows, with a progress bar on stderr and a report of
// opportunities, trades, fees and P&L net of fees on stdout.
func cmdReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "replay")
	data := fs.String("data", "fed", `recording to replay: "fed" (the built-in Fed Dec 2025 recording, both venues), "fed-jul2026" (the built-in five-outcome Fed July 2026 event) or "cpi-jul2026" (the built-in CPI threshold ladder), both for overlapping arbitrage, or a cross-venue .csv`)
	pmYes := fs.String("polymarket-yes-token", replay.FedDec2025Hold.PolymarketYesToken, "the recording's Polymarket YES token id")
	pmNo := fs.String("polymarket-no-token", replay.FedDec2025Hold.PolymarketNoToken, "the recording's Polymarket NO token id")
	ticker := fs.String("kalshi-ticker", replay.FedDec2025Hold.KalshiTicker, "the recording's Kalshi market ticker")
	kMult := fs.String("kalshi-fee-multiplier", fedKalshiSchedule.Multiplier.String(), "Kalshi fee multiplier of the series (taker fee ceil(0.07 × multiplier × C × P × (1−P)) to the cent per order)")
	pmRate := fs.String("polymarket-fee-rate", fedPolymarketSchedule.Rate.String(), "Polymarket market fee schedule rate (taker fee C × rate × (P × (1−P))^exponent, to 0.00001 down); 0 is fee-free. The Fed Dec 2025 market had none")
	pmExp := fs.Int("polymarket-fee-exponent", fedPolymarketSchedule.ExponentValue(), "Polymarket market fee schedule exponent (a whole number, 1 to 4)")
	pmMin := fs.String("polymarket-min-size", fee.PolymarketDefaultRules.MinSize.String(), "Polymarket minimum order size in shares (the market's orderMinSize)")
	minProfit := fs.String("min-profit-pct", "1", "trade only opportunities at least this profitable, in percent of their cost (a tenant's min_profit_pct)")
	maxTrade := fs.String("max-trade-usd", "0", "cap on one trade's cost with fees (a tenant's max_trade_size_usd); 0 takes the whole visible size")
	maxAge := fs.Duration("max-quote-age", strategy.DefaultMaxQuoteAge, "never trade a quote older than this")
	strategies := fs.String("strategies", "", "comma-separated strategies to run (default: single_platform,cross_platform; overlapping_arb for a multi-outcome recording)")
	headlines := fs.String("headlines", "", `headlines to replay with the recording, for news arbitrage: "fed-nov2025" (the built-in real headlines around the Fed recording) or a .jsonl file ({"published","title","link","source"} a line)`)
	rulesFile := fs.String("news-rules", "", "news rules to run on the headlines: a JSON file holding an array of rules as the API takes them (default with --headlines: the demo rule, Williams signals a cut → buy Polymarket NO of the Fed hold up to 0.45)")
	leaderTrades := fs.String("leader-trades", "", `a leader's trades to replay for copy trading: "real" (the built-in real wallet's recorded Data API /activity) or a JSON file of /activity or /trades rows; reports the copies and their P&L (alone: no market recording is replayed)`)
	leaderFile := fs.String("leader", "", "the follower's leader settings: a JSON file as the copy API takes them (default: the demo's — a twentieth of the leader's notional, $20 a copy, $150 a day, 2-cent guard)")
	jsonOut := fs.Bool("json", false, "print the report as JSON (with every trade)")
	bar := fs.Bool("progress", true, "show a progress bar on stderr")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("replay: unexpected argument %q", fs.Arg(0)))
	}
	if *leaderTrades != "" {
		return replayCopies(e, *leaderTrades, *leaderFile, *jsonOut)
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
	rate, err := dec("polymarket-fee-rate", *pmRate, false)
	if err != nil {
		return err
	}
	pmSchedule, err := fee.NewPolymarketSchedule(rate, polybot.NewDecimal(int64(*pmExp), 0))
	if err != nil {
		return usageError(fmt.Sprintf("--polymarket-fee-rate %s --polymarket-fee-exponent %d: %v", *pmRate, *pmExp, err))
	}
	minSize, err := dec("polymarket-min-size", *pmMin, true)
	if err != nil {
		return err
	}
	if *maxAge <= 0 {
		return usageError("--max-quote-age: must be positive")
	}
	opt := backtest.Options{
		Fees: fee.Venues{
			Kalshi:     fee.Kalshi{Default: fee.KalshiSchedule{Type: fedKalshiSchedule.Type, Multiplier: mult}},
			Polymarket: fee.Polymarket{Default: pmSchedule},
		},
		Facts:       &fee.Facts{Polymarket: fee.Rules{MinSize: minSize}},
		MaxQuoteAge: *maxAge,
	}
	if opt.MinProfitPct, err = dec("min-profit-pct", *minProfit, false); err != nil {
		return err
	}
	if opt.MaxTradeUSD, err = dec("max-trade-usd", *maxTrade, false); err != nil {
		return err
	}
	multi := multiOutcome[*data]
	list := *strategies
	if list == "" {
		list = polybot.StrategySinglePlatform + "," + polybot.StrategyCrossPlatform
		if multi != nil {
			list = polybot.StrategyOverlapping
		}
		if *headlines != "" {
			list += "," + polybot.StrategyNews
		}
	}
	for _, s := range strings.Split(list, ",") {
		switch s = strings.TrimSpace(s); s {
		case polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform, polybot.StrategyOverlapping, polybot.StrategyNews:
			opt.Strategies = append(opt.Strategies, s)
		case "":
		default:
			return usageError(fmt.Sprintf("--strategies: %q is not %s, %s, %s or %s", s, polybot.StrategySinglePlatform,
				polybot.StrategyCrossPlatform, polybot.StrategyOverlapping, polybot.StrategyNews))
		}
	}
	if len(opt.Strategies) == 0 {
		return usageError("--strategies: name at least one strategy")
	}
	if *headlines != "" {
		if opt.Headlines, err = readHeadlines(*headlines); err != nil {
			return err
		}
		if opt.NewsRules, err = readNewsRules(*rulesFile); err != nil {
			return err
		}
	} else if *rulesFile != "" {
		return usageError("--news-rules: give --headlines too")
	}
	if multi != nil {
		rec, rels, err := multi.load()
		if err != nil {
			return fmt.Errorf("replay %s: %w", *data, err)
		}
		var pb *progressBar
		if *bar {
			pb = &progressBar{w: e.stderr, last: -1}
			opt.Progress = pb.update
		}
		start := time.Now()
		rep, err := backtest.Run(ctx, rec.Events, backtest.EventUniverse(rec, rels...), opt)
		elapsed := time.Since(start)
		if pb != nil {
			pb.finish()
		}
		if err != nil {
			return fmt.Errorf("replay %s: %w", *data, err)
		}
		rep.Skipped = rec.Skipped
		if *jsonOut {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		printReport(e.stdout, rep, multi.label, elapsed, mult, pmSchedule, minSize, opt)
		return nil
	}

	market := replay.CrossVenueMarket{PolymarketYesToken: *pmYes, PolymarketNoToken: *pmNo, KalshiTicker: *ticker}
	raw := replay.FedDec2025HoldCSV
	label := "fed (built-in: Fed December 2025 hold, Polymarket and Kalshi)"
	if *data != "fed" {
		if !strings.EqualFold(filepath.Ext(*data), ".csv") {
			return usageError(fmt.Sprintf("--data %q: want fed, %s or a cross-venue .csv recording", *data, multiOutcomeNames()))
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
	printReport(e.stdout, rep, label, elapsed, mult, pmSchedule, minSize, opt)
	return nil
}

// replayCopies runs copy trading over a leader's recorded trades.
func replayCopies(e *env, tradesArg, leaderArg string, jsonOut bool) error {
	raw := pmsim.RealLeaderActivityJSON
	if tradesArg != "real" {
		var err error
		if raw, err = os.ReadFile(tradesArg); err != nil {
			return fmt.Errorf("--leader-trades: %w", err)
		}
	}
	var rows []polymarket.WalletActivity
	if err := json.Unmarshal(raw, &rows); err != nil {
		return usageError(fmt.Sprintf("--leader-trades %s: %v", tradesArg, err))
	}
	var trades []polybot.LeaderTrade
	for i, r := range rows {
		t, err := r.ToLeaderTrade()
		if errors.Is(err, polymarket.ErrNotATrade) {
			continue
		}
		if err != nil {
			return usageError(fmt.Sprintf("--leader-trades %s: row %d: %v", tradesArg, i, err))
		}
		trades = append(trades, t)
	}
	if len(trades) == 0 {
		return usageError("--leader-trades: no trades")
	}
	l := demoLeader(trades[0].Wallet)
	if leaderArg != "" {
		b, err := os.ReadFile(leaderArg)
		if err != nil {
			return fmt.Errorf("--leader: %w", err)
		}
		l = &polybot.Leader{}
		if err := json.Unmarshal(b, l); err != nil {
			return usageError(fmt.Sprintf("--leader %s: %v", leaderArg, err))
		}
		if l.Address == "" {
			l.Address = trades[0].Wallet
		}
		if l.ID == "" {
			l.ID = "leader"
		}
		if err := l.Validate(); err != nil {
			return usageError(fmt.Sprintf("--leader %s: %v", leaderArg, err))
		}
	}
	rep := backtest.RunCopy(trades, l, polybot.Zero, backtest.Options{})
	if jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	w := e.stdout
	fmt.Fprintf(w, "Replayed %d trades of %s for %s (%s)\n", len(trades), l.Address, l.ID, l.Describe())
	for _, c := range rep.Trades {
		line := fmt.Sprintf("  %s %s %s %s at %s", c.Trade.Time.UTC().Format(time.RFC3339), c.Trade.Side, c.Trade.Size, c.Trade.Instrument.Outcome, c.Trade.Price)
		switch c.Action {
		case polybot.CopySkipped:
			line += " → skipped: " + c.Reason
		default:
			line += fmt.Sprintf(" → %s %s at %s", c.Action, c.Size, c.Price)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\n%d copied, %d skipped, %d exits; cost %s, fees %s, realised %s, unrealised %s (held, at the leader's last price), net %s\n",
		rep.Copied, rep.Skipped, rep.Exits, rep.Cost, rep.Fees, rep.Realized, rep.Unrealized, rep.NetPnL)
	fmt.Fprintln(w, "No book of the leader's market is recorded with its trades: each copy is priced at the leader's own fill (rounded")
	fmt.Fprintln(w, "to the tick against us), so this is the best copying could have done; the price guard cannot bind here.")
	return nil
}

// describeInst names an instrument in a report line.
func describeInst(in polybot.Instrument) string {
	if in.Venue == polybot.Kalshi {
		return "Kalshi " + in.Market + " " + in.Outcome.String()
	}
	return "Polymarket " + in.Outcome.String()
}

// readHeadlines reads --headlines: the built-in set or a .jsonl file.
func readHeadlines(name string) ([]polybot.Headline, error) {
	if name == "fed-nov2025" {
		return replay.FedNov2025Headlines()
	}
	if !strings.EqualFold(filepath.Ext(name), ".jsonl") {
		return nil, usageError(fmt.Sprintf("--headlines %q: want fed-nov2025 or a .jsonl file", name))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--headlines: %w", err)
	}
	defer f.Close()
	hs, err := replay.ReadHeadlines(f)
	if err != nil {
		return nil, fmt.Errorf("--headlines %s: %w", name, err)
	}
	return hs, nil
}

// readNewsRules reads --news-rules (a JSON array of rules, each
// validated), or gives the demo rule.
func readNewsRules(name string) ([]*polybot.NewsRule, error) {
	if name == "" {
		return []*polybot.NewsRule{demoNewsRule()}, nil
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--news-rules: %w", err)
	}
	var rules []*polybot.NewsRule
	if err := json.Unmarshal(raw, &rules); err != nil {
		return nil, usageError(fmt.Sprintf("--news-rules %s: %v", name, err))
	}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, usageError(fmt.Sprintf("--news-rules %s: rule %d: %v", name, i, err))
		}
	}
	return rules, nil
}

// demoNewsRule is the demo user's news rule (serve --sim) and replay's
// default: when a headline names Williams with an adjustment, a cut,
// easing or lower rates, buy up to 100 Polymarket NO of the Fed's December
// 2025 hold at 0.45 or less; take profit at +0.10, time stop 30 minutes.
func demoNewsRule() *polybot.NewsRule {
	m := replay.FedDec2025Hold
	r := &polybot.NewsRule{ID: "demo-williams", Name: "Williams signals a cut: buy NO on a December hold", Enabled: true,
		AllOf: []string{"williams"}, AnyOf: []string{"adjustment", "cut", "easing", "lower"}, Mode: polybot.NewsDirect,
		Markets: []polybot.BinaryMarket{{
			Yes: polybot.Instrument{Venue: polybot.Polymarket, Token: m.PolymarketYesToken, Outcome: polybot.Yes},
			No:  polybot.Instrument{Venue: polybot.Polymarket, Token: m.PolymarketNoToken, Outcome: polybot.No}}},
		Outcome: polybot.No, MaxPrice: polybot.MustDecimal("0.45"), MaxSize: polybot.MustDecimal("100"),
		TakeProfit: polybot.MustDecimal("0.10")}
	_ = r.Validate() // fills in the window and the time stop
	return r
}

// multiOutcomeRecording is a built-in recording of a multi-outcome event,
// with the relations between its markets (approved: a replay studies them).
type multiOutcomeRecording struct {
	label string
	load  func() (*replay.EventRecording, []*polybot.Relation, error)
}

var multiOutcome = map[string]*multiOutcomeRecording{
	"fed-jul2026": {
		label: "fed-jul2026 (built-in: every outcome of the Fed's July 2026 decision on Polymarket US, best bid and ask; sizes not recorded, 5 shares assumed)",
		load: func() (*replay.EventRecording, []*polybot.Relation, error) {
			rec, err := replay.FedJul2026()
			return rec, nil, err
		},
	},
	"cpi-jul2026": {
		label: "cpi-jul2026 (built-in: the 11-rung CPI YoY July 2026 ladder on Polymarket US, best bid and ask, its 55 implications approved; sizes not recorded, 5 shares assumed)",
		load: func() (*replay.EventRecording, []*polybot.Relation, error) {
			rec, err := replay.CPIJul2026()
			rels := replay.CPIJul2026Implications()
			for _, r := range rels {
				r.Approved = true
			}
			return rec, rels, err
		},
	},
}

func multiOutcomeNames() string {
	var names []string
	for n := range multiOutcome {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
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

func printReport(w io.Writer, rep *backtest.Report, label string, elapsed time.Duration, kMult polybot.Decimal, pm fee.PolymarketSchedule, pmMin polybot.Decimal, opt backtest.Options) {
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
	pmFee := "fee-free"
	if !pm.FeeFree() {
		pmFee = fmt.Sprintf("taker C × %s × (P × (1−P))^%d to 0.00001 down", pm.Rate, pm.ExponentValue())
	}
	fmt.Fprintf(w, "  fees: Kalshi taker ceil(0.07 × %s × C × P × (1−P)) to the cent per order; Polymarket %s; makers are never charged\n", kMult, pmFee)
	fmt.Fprintf(w, "  orders: Polymarket at least %s shares, Kalshi 1 contract; min profit %s%%; max trade %s; max quote age %s\n\n",
		pmMin, opt.MinProfitPct, limit, opt.MaxQuoteAge)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\topportunities\ttrades\tuntraded\tsets\tcost\tfees\tgross P&L\tnet P&L\t")
	row := func(name string, t *backtest.Tally) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, t.Opportunities, t.Trades, t.Untraded,
			t.Sets, t.Cost, t.Fees, t.GrossPnL, t.NetPnL)
	}
	for _, s := range []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform, polybot.StrategyOverlapping, polybot.StrategyNews} {
		if t := rep.ByStrategy[s]; t != nil {
			row(s, t)
		}
	}
	row("total", &rep.Tally)
	if rep.ByKind != nil {
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t")
		fmt.Fprintln(tw, "overlapping, by kind\t\t\t\t\t\t\t\t\t")
		for _, k := range backtest.Kinds {
			row(k, rep.ByKind[k])
		}
	}
	tw.Flush()
	if len(rep.NewsTrades) > 0 {
		fmt.Fprintln(w, "\nNews trades (headline → buy at the ask → sell at the bid on the rule's exit):")
		for _, n := range rep.NewsTrades {
			fmt.Fprintf(w, "  %s %q (rule %s): bought %s %s %s at %s, sold at %s %s (%s); fees %s, net %s\n",
				n.Published.UTC().Format(time.RFC3339), n.Headline, n.Rule, n.Size, describeInst(n.Instrument), n.EntryAt.UTC().Format("15:04:05"),
				n.Entry, n.Exit, n.ExitAt.UTC().Format("2006-01-02 15:04:05"), n.Why, n.Fees, n.NetPnL)
		}
	}
	fmt.Fprintf(w, "\nFees by venue: Polymarket %s, Kalshi %s. Skipped below a venue's minimum order: %d; off the tick: %d.\n",
		rep.FeesPolymarket, rep.FeesKalshi, rep.Skips.BelowMinSize, rep.Skips.OffTick)
	fmt.Fprintln(w, "\nMoney in dollars. Each set (one YES and one NO of the event; YES on every outcome of an exhaustive")
	fmt.Fprintln(w, "event; YES on B and NO on A of an implication A ⇒ B) pays $1 at resolution, NO on every one of n")
	fmt.Fprintln(w, "outcomes pays n − 1, so a trade's P&L is locked in when it fills: net P&L = sets × payout − cost − fees.")
	fmt.Fprintln(w, "Fills are taker fills at the recorded best asks; the recording cannot show our own fills consuming")
	fmt.Fprintln(w, "later rows' liquidity.")
	if rep.ByStrategy[polybot.StrategyNews] != nil {
		fmt.Fprintln(w, "News trades are directional, not sets: bought at the ask when the headline comes out (on the books the")
		fmt.Fprintln(w, "recording last showed), sold at the bid on the rule's exit; net P&L = size × (exit − entry) − both fees.")
	}
}
