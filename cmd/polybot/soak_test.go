package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/web"
)

// soakDuration is how long TestServeSimDemoBotTradesForMinutesWithoutRefusingItself
// watches the demo bot: 3 minutes, or POLYBOT_SOAK (a Go duration) — set
// POLYBOT_SOAK=10m to watch it as long as the money-path issue asks.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("POLYBOT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("POLYBOT_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 3 * time.Minute
}

// TestServeSimDemoBotTradesForMinutesWithoutRefusingItself watches `serve
// --sim` as a user watches the dashboard, for minutes, not up to the first
// trade: the simulators replay the Fed recording at 36,000× (the whole
// recording about every 50 s, looping), the demo user's dry-run bot buys
// complete sets, and every 2 s the test reads the bot's state and today's
// loss. The bot must stay running the whole time (a hedged book is never a
// "loss"), keep trading, and at the end the net P&L the API reports must be
// its parts' sum and be the figure the dashboard shows.
func TestServeSimDemoBotTradesForMinutesWithoutRefusingItself(t *testing.T) {
	if testing.Short() {
		t.Skip("watches serve --sim for minutes")
	}
	run := soakDuration(t)
	_, c := serveSimAsDemo(t)

	type botStatus struct {
		State     string `json:"state"`
		Reason    string `json:"reason"`
		LastError string `json:"last_error"`
		Counters  struct {
			Fills    int64 `json:"fills"`
			Rejected int64 `json:"rejected"`
		} `json:"counters"`
		Today *polybot.DayRisk `json:"today"`
	}
	bot := func() botStatus {
		st, body := c.do("GET", "/api/v1/bot", "")
		var b botStatus
		if st != 200 || json.Unmarshal([]byte(body), &b) != nil {
			t.Fatalf("GET /api/v1/bot: %d %s", st, body)
		}
		return b
	}
	start := time.Now()
	for bot().State != polybot.BotRunning {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the demo bot did not start: %+v", bot())
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Fills per minute of the watch: the bot must keep trading, not trade
	// once and stop.
	minutes := int((run + time.Minute - 1) / time.Minute)
	fillsBy := make([]int64, minutes)
	polls := 0
	// overlapping is when the demo's first overlapping-arbitrage fills were
	// recorded (the acceptance: within 2 minutes of the bot starting).
	var overlapping time.Duration
	overlapFills := func() int {
		_, body := c.do("GET", "/api/v1/pnl", "")
		var p struct {
			ByStrategy []polybot.StrategyPnL `json:"by_strategy"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("pnl: %v %s", err, body)
		}
		n := 0
		for _, sp := range p.ByStrategy {
			if sp.Strategy == polybot.StrategyOverlapping && sp.Mode == polybot.DryRun {
				n += sp.Fills
			}
		}
		return n
	}
	// newsAt is when the demo's news rule had fired on a replayed real
	// headline and its dry-run trade's first order had gone, with its
	// latency (the acceptance: within 2 minutes).
	var newsAt, equityAt time.Duration
	var newsLatency, equityLatency int64
	var equityOpp string
	newsFires := func() []polybot.NewsFire {
		_, body := c.do("GET", "/api/v1/news/fires?limit=100", "")
		var f struct {
			Fires []polybot.NewsFire `json:"fires"`
		}
		if err := json.Unmarshal([]byte(body), &f); err != nil {
			t.Fatalf("news fires: %v %s", err, body)
		}
		return f.Fires
	}
	// The demo's Alpaca rule: a rate-cut headline buys TLT, in dry run,
	// filled against the simulator's quote book.
	equityTraded := func() bool {
		for _, x := range newsFires() {
			if x.RuleID != demoEquityRule().ID || x.Action != "sent" || x.LatencyMicros <= 0 || x.OpportunityID == "" {
				continue
			}
			_, body := c.do("GET", "/api/v1/orders?opportunity="+x.OpportunityID, "")
			var o struct {
				Orders []polybot.Intent `json:"orders"`
			}
			if err := json.Unmarshal([]byte(body), &o); err != nil {
				t.Fatalf("orders: %v %s", err, body)
			}
			for _, in := range o.Orders {
				if in.Instrument == (polybot.Instrument{Venue: polybot.Alpaca, Market: simEquitySymbol}) && in.Mode == polybot.DryRun &&
					in.Side == polybot.Buy && in.Filled == polybot.One && in.Strategy == polybot.StrategyNews {
					equityLatency, equityOpp = x.LatencyMicros, x.OpportunityID
					return true
				}
			}
		}
		return false
	}
	newsFired := func() bool {
		for _, x := range newsFires() {
			if x.RuleID == demoNewsRule().ID && x.Action == "sent" && x.LatencyMicros > 0 && x.OpportunityID != "" {
				_, orders := c.do("GET", "/api/v1/orders?opportunity="+x.OpportunityID, "")
				if strings.Contains(orders, `"strategy":"news_arbitrage"`) && strings.Contains(orders, `"mode":"dry_run"`) {
					newsLatency = x.LatencyMicros
					return true
				}
			}
		}
		return false
	}
	// copiedAt is when the demo had copied its leader's trade in dry-run,
	// sized and capped by its leader settings ($20 a copy at most).
	type copyView struct {
		Action        string          `json:"action"`
		OpportunityID string          `json:"opportunity_id"`
		Size          polybot.Decimal `json:"size"`
		Price         polybot.Decimal `json:"price"`
		LeaderPrice   polybot.Decimal `json:"leader_price"`
		LeaderSize    polybot.Decimal `json:"leader_size"`
	}
	var copiedAt time.Duration
	var copied copyView
	copyDone := func() bool {
		_, body := c.do("GET", "/api/v1/copy/leaders/demo-kch123/copies?limit=100", "")
		var r struct {
			Copies []copyView `json:"copies"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("copies: %v %s", err, body)
		}
		for _, x := range r.Copies {
			if x.Action == polybot.CopyCopied && x.Size.Sign() > 0 {
				_, orders := c.do("GET", "/api/v1/orders?opportunity="+x.OpportunityID, "")
				if strings.Contains(orders, `"strategy":"copy_trading"`) && strings.Contains(orders, `"mode":"dry_run"`) {
					copied = x
					return true
				}
			}
		}
		return false
	}
	for began := time.Now(); time.Since(began) < run; time.Sleep(2 * time.Second) {
		b := bot()
		polls++
		if copiedAt == 0 && copyDone() {
			copiedAt = time.Since(start)
		}
		if overlapping == 0 && overlapFills() > 0 {
			overlapping = time.Since(start)
		}
		if newsAt == 0 && newsFired() {
			newsAt = time.Since(start)
		}
		if equityAt == 0 && equityTraded() {
			equityAt = time.Since(start)
		}
		if b.State != polybot.BotRunning {
			t.Fatalf("after %s the demo bot is %s: %q (last error %q; today %+v)",
				time.Since(began).Round(time.Second), b.State, b.Reason, b.LastError, b.Today)
		}
		if b.Today == nil || b.Today.Refused() || strings.Contains(b.LastError, "loss") {
			t.Fatalf("after %s: today %+v, last error %q", time.Since(began).Round(time.Second), b.Today, b.LastError)
		}
		if m := int(time.Since(began) / time.Minute); m < minutes {
			fillsBy[m] = b.Counters.Fills
		}
		if b.Counters.Rejected > 0 {
			t.Fatalf("the risk gate refused %d orders: %q", b.Counters.Rejected, b.LastError)
		}
	}
	for m := 1; m < minutes; m++ {
		if fillsBy[m] <= fillsBy[m-1] {
			t.Fatalf("no new fills in minute %d of %d (fills by minute %v)", m+1, minutes, fillsBy)
		}
	}
	if overlapping == 0 || overlapping > 2*time.Minute {
		t.Fatalf("no dry-run overlapping-arbitrage fill within 2 minutes (first after %s)", overlapping)
	}
	if newsAt == 0 || newsAt > 2*time.Minute {
		t.Fatalf("the demo's news rule made no dry-run trade within 2 minutes (first after %s)", newsAt)
	}
	t.Logf("first news trade after %s, headline → first order %d µs", newsAt.Round(time.Second), newsLatency)
	if equityAt == 0 || equityAt > 2*time.Minute {
		t.Fatalf("the demo's Alpaca rule made no dry-run equity trade within 2 minutes (first after %s)", equityAt)
	}
	t.Logf("first equity trade (1 TLT on Alpaca) after %s, headline → first order %d µs", equityAt.Round(time.Second), equityLatency)
	if _, page := c.do("GET", "/news", ""); !strings.Contains(page, equityOpp) || !strings.Contains(page, demoEquityRule().Name) {
		t.Fatalf("the News page does not show the equity trade %s of %q", equityOpp, demoEquityRule().Name)
	}
	if copiedAt == 0 || copiedAt > 2*time.Minute {
		t.Fatalf("the demo copied no leader trade in dry-run within 2 minutes (first after %s)", copiedAt)
	}
	// The demo leader copies a twentieth of the leader's notional, $20 a
	// copy at most: never more than $20.
	if cost := copied.Size.Mul(copied.Price); cost.GreaterThan(polybot.MustDecimal("20")) || copied.Price.GreaterThan(copied.LeaderPrice.Add(polybot.MustDecimal("0.02"))) {
		t.Fatalf("copy %+v costs %s or chases the leader's price: the caps and guard were not applied", copied, cost)
	}
	t.Logf("first copy after %s: %s shares at %s of the leader's %s at %s", copiedAt.Round(time.Second), copied.Size, copied.Price,
		copied.LeaderSize, copied.LeaderPrice)
	t.Logf("watched %s: %d polls, always running; fills by minute %v; first overlapping fills after %s", run, polls, fillsBy,
		overlapping.Round(time.Second))

	// Stop the bot, so that the figures hold still, then compare them.
	if st, body := c.do("POST", "/api/v1/bot/stop", ""); st != 200 {
		t.Fatalf("stop: %d %s", st, body)
	}
	time.Sleep(500 * time.Millisecond)
	_, pnlBody := c.do("GET", "/api/v1/pnl", "")
	var pnl struct {
		Net map[polybot.ExecMode]struct {
			Realized, Locked, Unrealized, Total polybot.Decimal
		} `json:"net"`
		LockedTotal map[polybot.ExecMode]polybot.Decimal `json:"locked_total"`
		Locked      []polybot.LockedSet                  `json:"locked"`
	}
	if err := json.Unmarshal([]byte(pnlBody), &pnl); err != nil {
		t.Fatalf("pnl: %v %s", err, pnlBody)
	}
	net := pnl.Net[polybot.DryRun]
	if sum := net.Realized.Add(net.Locked).Add(net.Unrealized); sum != net.Total || net.Locked != pnl.LockedTotal[polybot.DryRun] {
		t.Fatalf("net %+v: total is not realized + locked + unrealized, or locked differs from locked_total %s", net, pnl.LockedTotal[polybot.DryRun])
	}
	if net.Total.Sign() <= 0 {
		t.Fatalf("net P&L %s after %s of buying complete sets below $1: want a gain", net.Total, run)
	}
	_, page := c.do("GET", "/dashboard", "")
	// The overlapping sets the API lists are on the dashboard, each with
	// its kind and every leg.
	kinds := map[string]bool{}
	for _, l := range pnl.Locked {
		kinds[l.Kind] = true
		if l.Kind == polybot.SetRebalanceShort || l.Kind == polybot.SetRebalanceLong || l.Kind == polybot.SetImplication {
			if len(l.Legs) < 2 {
				t.Fatalf("locked set %+v lists %d legs", l, len(l.Legs))
			}
			if want := web.SetKindLabel(l.Kind) + ": "; !strings.Contains(page, want) {
				t.Fatalf("the dashboard does not show the %s set %s (%q)", l.Kind, l.Market, want)
			}
		}
	}
	if !kinds[polybot.SetRebalanceShort] && !kinds[polybot.SetRebalanceLong] && !kinds[polybot.SetImplication] {
		t.Fatalf("no overlapping set held after %s: locked kinds %v", run, kinds)
	}
	re := regexp.MustCompile(`id="pnl-net-dry_run"[^>]*>([^<]*)<`)
	m := re.FindStringSubmatch(page)
	if m == nil || m[1] != polybot.FormatUSD(net.Total) {
		t.Fatalf("the dashboard shows net P&L %q, the API %s (%s)", m, net.Total, polybot.FormatUSD(net.Total))
	}
}
