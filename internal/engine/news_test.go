package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

// newsPair is the Fed pair on hand-driven hubs.
var newsPair = &polybot.MarketPair{ID: "fed-hold", Name: "Fed holds", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xhold", "3001", "3002"), polybot.KalshiLeg("KXFED-H0")}, Approved: true}

type fireLog struct {
	mu    sync.Mutex
	fires []NewsFire
}

func (f *fireLog) record(_ any, x NewsFire) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fires = append(f.fires, x)
	return nil
}

func (f *fireLog) sent() []NewsFire {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []NewsFire
	for _, x := range f.fires {
		if x.Action == "sent" {
			out = append(out, x)
		}
	}
	return out
}

type newsLatency struct {
	mu  sync.Mutex
	obs []time.Duration
}

func (n *newsLatency) TickToOrder(time.Duration) {}
func (n *newsLatency) NewsToOrder(d time.Duration) {
	n.mu.Lock()
	n.obs = append(n.obs, d)
	n.mu.Unlock()
}

func newsRig(t *testing.T, rule *polybot.NewsRule) (*rig, polybot.ID, *Manager, *fireLog, *newsLatency) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket, polybot.Kalshi)
	id := r.user(polybot.TierFree, func(c *polybot.Config) {
		c.EnableNewsArbitrage, c.EnableSinglePlatformArb = true, false
		c.EnablePolymarket, c.EnableKalshi = true, true
	})
	fires, lat := &fireLog{}, &newsLatency{}
	m := r.start(Config{Universe: Universe{Pairs: []*polybot.MarketPair{newsPair}},
		Strategies: []string{polybot.StrategyNews},
		NewsRules: func(tx polybot.TenantTx) ([]*polybot.NewsRule, error) {
			c := *rule
			return []*polybot.NewsRule{&c}, nil
		},
		NewsFires: func(_ context.Context, f NewsFire) error { return fires.record(nil, f) },
		Observer:  lat})
	r.waitRunning(id)
	return r, id, m, fires, lat
}

func TestNewsDirectRuleBuysOnTheHeadlineAndExitsOnItsTimeStop(t *testing.T) {
	kY, kN := kalshi.Instruments(newsPair.Legs[1].Market)
	rule := &polybot.NewsRule{ID: "williams", Name: "Williams: cut", Enabled: true, AllOf: []string{"williams"}, AnyOf: []string{"cut", "adjustment"},
		Mode: polybot.NewsDirect, Markets: []polybot.BinaryMarket{{Yes: kY, No: kN}}, Outcome: polybot.No,
		MaxPrice: d("0.50"), MaxSize: d("20"), Window: time.Minute, TimeStop: 2 * time.Second}
	r, id, _, fires, lat := newsRig(t, rule)
	r.book(kN, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
	r.book(kY, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})

	// A headline the rule does not match: nothing.
	r.m.Headline(polybot.Headline{ID: "h-other", Title: "Fed's Logan wants to hold rates", Received: time.Now()})
	r.m.Headline(polybot.Headline{ID: "h-williams", Title: "Fed's Williams sees room for a further adjustment", Received: time.Now()})
	eventually(t, "the news buy is filled", func() bool { return len(r.fills(id)) == 1 })
	f := r.fills(id)[0]
	// 20 Kalshi NO at 0.40 (the rule's max size, below its max price):
	// fee ceil(0.07 × 20 × 0.40 × 0.60 = 0.336) = 0.34.
	if f.Instrument != kN || f.Side != polybot.Buy || f.Size != d("20") || f.Price != d("0.40") || f.Fee != d("0.34") ||
		f.Strategy != polybot.StrategyNews || f.Mode != polybot.DryRun {
		t.Fatalf("fill %+v, want 20 Kalshi NO at 0.40 by news arbitrage", f)
	}
	eventually(t, "the fire is recorded with its latency", func() bool { return len(fires.sent()) == 1 })
	s := fires.sent()[0]
	if s.RuleID != "williams" || s.HeadlineID != "h-williams" || s.Latency <= 0 || s.Latency > 2*time.Second {
		t.Fatalf("fire %+v", s)
	}
	if len(lat.obs) != 1 {
		t.Fatalf("%d latency observations, want 1", len(lat.obs))
	}
	// The time stop (2 s) sells the position at the bid, a risk-reducing exit.
	eventually(t, "the position is sold at its time stop", func() bool { return len(r.fills(id)) == 2 })
	exit := r.fills(id)[0]
	if exit.Side != polybot.Sell || exit.Size != d("20") || exit.Price != d("0.38") {
		t.Fatalf("exit %+v, want 20 sold at the 0.38 bid", exit)
	}
	for _, in := range r.intents(id) {
		if in.Side == polybot.Sell && (in.Leg != polybot.ExitLeg || polybot.IntentReason(in) != "Exit: Filled 20.00 at up to 0.38") {
			t.Fatalf("exit intent %+v (%q), want leg %d", in, polybot.IntentReason(in), polybot.ExitLeg)
		}
	}
}

func TestNewsLagRuleBuysTheLaggingVenueAndSellsOnConvergence(t *testing.T) {
	kY, kN := kalshi.Instruments(newsPair.Legs[1].Market)
	pm, _ := PairMarkets(newsPair)
	rule := &polybot.NewsRule{ID: "lag", Name: "Williams lag", Enabled: true, AnyOf: []string{"williams"}, Mode: polybot.NewsLag,
		Pairs: []string{newsPair.ID}, Outcome: polybot.No, MaxPrice: d("0.55"), MaxSize: d("10"), Threshold: d("0.10"),
		Window: time.Minute, TimeStop: time.Hour}
	r, id, _, _, _ := newsRig(t, rule)
	// At the headline both venues bid 0.38 for NO.
	r.book(pm.No, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
	r.book(pm.Yes, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	r.book(kN, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
	r.book(kY, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	time.Sleep(50 * time.Millisecond)
	r.m.Headline(polybot.Headline{ID: "h1", Title: "Williams: room to cut", Received: time.Now()})
	time.Sleep(100 * time.Millisecond)
	if n := len(r.fills(id)); n != 0 {
		t.Fatalf("%d fills before either venue moved", n)
	}
	// Polymarket reprices NO to 0.60; Kalshi still asks 0.40: buy 10 there.
	r.book(pm.No, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	eventually(t, "the lagging venue is bought", func() bool { return len(r.fills(id)) == 1 })
	if f := r.fills(id)[0]; f.Instrument != kN || f.Price != d("0.40") || f.Size != d("10") {
		t.Fatalf("fill %+v, want 10 Kalshi NO at 0.40", f)
	}
	// Kalshi converges: its NO bid reaches the leader's 0.60, the position is sold.
	r.book(kN, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	eventually(t, "the position is sold on convergence", func() bool { return len(r.fills(id)) == 2 })
	if f := r.fills(id)[0]; f.Side != polybot.Sell || f.Price != d("0.60") || f.Size != d("10") || f.RealizedPnL.Sign() <= 0 {
		t.Fatalf("exit %+v, want 10 sold at 0.60 at a profit", f)
	}
}

func TestNewsLagRuleDoesNotTradeWhenBothVenuesHaveMoved(t *testing.T) {
	kY, kN := kalshi.Instruments(newsPair.Legs[1].Market)
	pm, _ := PairMarkets(newsPair)
	rule := &polybot.NewsRule{ID: "lag", Name: "Williams lag", Enabled: true, AnyOf: []string{"williams"}, Mode: polybot.NewsLag,
		Pairs: []string{newsPair.ID}, Outcome: polybot.No, MaxPrice: d("0.70"), MaxSize: d("10"), Threshold: d("0.10"),
		Window: 2 * time.Second, TimeStop: time.Hour}
	r, id, _, fires, _ := newsRig(t, rule)
	for _, b := range []polybot.Instrument{pm.No, kN} {
		r.book(b, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
	}
	r.book(pm.Yes, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	r.book(kY, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	time.Sleep(50 * time.Millisecond)
	r.m.Headline(polybot.Headline{ID: "h1", Title: "Williams: room to cut", Received: time.Now()})
	time.Sleep(50 * time.Millisecond)
	// Both reprice together (as the recording's 30-minute rows do).
	r.book(pm.No, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	r.book(kN, []polybot.Level{lv("0.59", "100")}, []polybot.Level{lv("0.61", "100")})
	eventually(t, "the watch expires", func() bool {
		fires.mu.Lock()
		defer fires.mu.Unlock()
		for _, f := range fires.fires {
			if f.Action == "expired" {
				return true
			}
		}
		return false
	})
	if n := len(r.fills(id)); n != 0 {
		t.Fatalf("%d fills when both venues had moved", n)
	}
}

// TestATenantsOwnHeadlineReachesOnlyTheirRules: two tenants with the same
// rule; a headline from A's own webhook trades for A, never for B; a
// platform headline trades for both.
func TestATenantsOwnHeadlineReachesOnlyTheirRules(t *testing.T) {
	kY, kN := kalshi.Instruments(newsPair.Legs[1].Market)
	rule := &polybot.NewsRule{ID: "williams", Name: "Williams: cut", Enabled: true, AllOf: []string{"williams"}, Mode: polybot.NewsDirect,
		Markets: []polybot.BinaryMarket{{Yes: kY, No: kN}}, Outcome: polybot.No, MaxPrice: d("0.50"), MaxSize: d("5"),
		Window: time.Minute, TimeStop: time.Hour}
	r := newRig(t)
	r.testHubs(polybot.Polymarket, polybot.Kalshi)
	mod := func(c *polybot.Config) { c.EnableNewsArbitrage, c.EnableSinglePlatformArb = true, false }
	a, b := r.user(polybot.TierFree, mod), r.user(polybot.TierFree, mod)
	r.start(Config{Universe: Universe{Pairs: []*polybot.MarketPair{newsPair}}, Strategies: []string{polybot.StrategyNews},
		NewsRules: func(polybot.TenantTx) ([]*polybot.NewsRule, error) { c := *rule; return []*polybot.NewsRule{&c}, nil }})
	r.waitRunning(a, b)
	r.book(kN, []polybot.Level{lv("0.38", "1000")}, []polybot.Level{lv("0.40", "1000")})
	r.book(kY, []polybot.Level{lv("0.60", "1000")}, []polybot.Level{lv("0.62", "1000")})
	time.Sleep(50 * time.Millisecond)
	r.m.TenantHeadline(a, polybot.Headline{ID: "h-a", Title: "Williams: A's private wire", Received: time.Now()})
	eventually(t, "A trades on its own headline", func() bool { return len(r.fills(a)) == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := len(r.fills(b)); n != 0 {
		t.Fatalf("B traded %d times on A's private headline", n)
	}
	r.m.Headline(polybot.Headline{ID: "h-all", Title: "Williams: on every wire", Received: time.Now()})
	eventually(t, "both trade on a platform headline", func() bool { return len(r.fills(a)) == 2 && len(r.fills(b)) == 1 })
}

// On a venue that takes no sell orders (IBKR ForecastEx), a news position
// is closed by buying the same market's other outcome at its ask, a
// risk-reducing buy against the contract held.
func TestNewsExitOnAVenueWithoutSellsBuysTheOppositeContract(t *testing.T) {
	yes := polybot.Instrument{Venue: polybot.IBKR, Market: "FF-DEC25", Token: "7001", Outcome: polybot.Yes}
	no := polybot.Instrument{Venue: polybot.IBKR, Market: "FF-DEC25", Token: "7002", Outcome: polybot.No}
	rule := &polybot.NewsRule{ID: "williams-fx", Name: "Williams: cut (ForecastEx)", Enabled: true, AllOf: []string{"williams"},
		Mode: polybot.NewsDirect, Markets: []polybot.BinaryMarket{{Yes: yes, No: no}}, Outcome: polybot.No,
		MaxPrice: d("0.50"), MaxSize: d("20"), Window: time.Minute, TimeStop: 2 * time.Second}
	r := newRig(t)
	r.testHubs(polybot.IBKR)
	id := r.user(polybot.TierFree, func(c *polybot.Config) {
		c.EnableNewsArbitrage, c.EnableSinglePlatformArb = true, false
		c.EnableIBKR = true
	})
	r.start(Config{Strategies: []string{polybot.StrategyNews}, Venues: []polybot.Platform{polybot.IBKR},
		NewsRules: func(tx polybot.TenantTx) ([]*polybot.NewsRule, error) {
			c := *rule
			return []*polybot.NewsRule{&c}, nil
		}})
	r.waitRunning(id)
	r.m.Headline(polybot.Headline{ID: "h-williams", Title: "Fed's Williams sees room for a further adjustment", Received: time.Now()})
	// The desk subscribes to the rule's market (outside the universe) on
	// its own; the test venue sends the books again until it has.
	eventually(t, "the NO contract is bought and then closed by buying YES", func() bool {
		if len(r.fills(id)) == 0 {
			r.book(no, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
			r.book(yes, []polybot.Level{lv("0.59", "100")}, []polybot.Level{lv("0.61", "100")})
		}
		return len(r.fills(id)) == 2
	})
	var buyNo, buyYes *polybot.TradeFill
	for _, f := range r.fills(id) {
		switch f.Instrument {
		case no:
			buyNo = f
		case yes:
			buyYes = f
		}
	}
	if buyNo == nil || buyNo.Side != polybot.Buy || buyNo.Size != d("20") || buyNo.Price != d("0.40") {
		t.Fatalf("entry %+v, want 20 NO bought at 0.40", buyNo)
	}
	if buyYes == nil || buyYes.Side != polybot.Buy || buyYes.Size != d("20") || buyYes.Price != d("0.61") {
		t.Fatalf("exit %+v, want 20 YES bought at the 0.61 ask (no sells on ForecastEx)", buyYes)
	}
	for _, in := range r.intents(id) {
		if in.Side == polybot.Sell {
			t.Fatalf("intent %+v: nothing is sold on a venue without sells", in)
		}
		if in.Leg == polybot.ExitLeg && (in.Side != polybot.Buy || in.Instrument != yes) {
			t.Fatalf("exit intent %+v, want a buy of YES (the gate took it as risk-reducing: it went through)", in)
		}
	}
}
