package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

var tltInst = polybot.Instrument{Venue: polybot.Alpaca, Market: "TLT"}

func buyTLT(qty, limit string) *polybot.EquityOrder {
	return &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: "TLT", Side: polybot.EquityBuy, Quantity: d(qty), MaxPrice: d(limit)}
}

// equityRig runs rules for a Basic-tier tenant ($250 trades) that trades
// news on Kalshi and Alpaca, on hand-driven hubs.
func equityRig(t *testing.T, rules ...*polybot.NewsRule) (*rig, polybot.ID, *fireLog) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket, polybot.Kalshi, polybot.Alpaca)
	id := r.user(polybot.TierBasic, func(c *polybot.Config) {
		c.EnableNewsArbitrage, c.EnableSinglePlatformArb = true, false
		c.EnableKalshi, c.EnableAlpaca = true, true
		c.MaxTradeSizeUSD = d("250")
	})
	fires := &fireLog{}
	r.start(Config{Universe: Universe{Pairs: []*polybot.MarketPair{newsPair}}, Strategies: []string{polybot.StrategyNews},
		Venues: []polybot.Platform{polybot.Polymarket, polybot.Kalshi, polybot.Alpaca},
		NewsRules: func(polybot.TenantTx) ([]*polybot.NewsRule, error) {
			out := make([]*polybot.NewsRule, len(rules))
			for i, rl := range rules {
				c := *rl
				out[i] = &c
			}
			return out, nil
		},
		NewsFires: func(_ context.Context, f NewsFire) error { return fires.record(nil, f) }})
	r.waitRunning(id)
	return r, id, fires
}

// tltBook sets TLT's quote once the desk has subscribed to it (the desk
// subscribes to the rules' symbols on its own, within 2 s of start).
func (r *rig) tltBook(t *testing.T, bid, ask string) {
	t.Helper()
	eventually(t, "TLT's book is in the hub", func() bool {
		r.book(tltInst, []polybot.Level{lv(bid, "300")}, []polybot.Level{lv(ask, "200")})
		v, ok := r.m.books.View(tltInst)
		return ok && v.Asks[0].Price == d(ask)
	})
}

func TestNewsEquityRuleBuysTheETFInDryRunAndExitsOnItsTimeStop(t *testing.T) {
	rule := &polybot.NewsRule{ID: "rate-cut-tlt", Name: "Rate cut: buy TLT", Enabled: true, AnyOf: []string{"rate cut"},
		Mode: polybot.NewsEquity, Equity: buyTLT("2", "89.50"), Window: time.Minute, TimeStop: 2 * time.Second}
	r, id, fires := equityRig(t, rule)
	r.tltBook(t, "89.12", "89.13")
	r.m.Headline(polybot.Headline{ID: "h-waller", Title: "Waller backs 25 bps 'risk management' rate cut in December", Received: time.Now()})
	eventually(t, "the ETF is bought", func() bool { return len(r.fills(id)) == 1 })
	f := r.fills(id)[0]
	// 2 shares at the 89.13 ask: $178.26, within the $250 max trade size,
	// commission-free.
	if f.Instrument != tltInst || f.Side != polybot.Buy || f.Size != d("2") || f.Price != d("89.13") || !f.Fee.IsZero() ||
		f.Strategy != polybot.StrategyNews || f.Mode != polybot.DryRun {
		t.Fatalf("fill %+v, want 2 TLT bought at 89.13 in dry run by news arbitrage", f)
	}
	eventually(t, "the fire is recorded as sent, with its latency", func() bool { return len(fires.sent()) == 1 })
	if s := fires.sent()[0]; s.RuleID != rule.ID || s.HeadlineID != "h-waller" || s.Latency <= 0 || s.OpportunityID == "" {
		t.Fatalf("fire %+v", s)
	}
	// Held, the 2 shares are worth their bid in full (never netted into a
	// set): 2 × 89.12 = 178.24.
	r.tenantView(id, func(tx polybot.TenantTx) error {
		hs, err := tx.Holdings()
		if err != nil {
			return err
		}
		if v := polybot.Value(hs, polybot.DryRun, r.m.val); v.Value != d("178.24") || len(v.Sets) != 0 {
			t.Errorf("valued %s with %d sets, want 178.24 and none", v.Value, len(v.Sets))
		}
		return nil
	})
	// The time stop sells both at the bid: realised −0.02 (2 × 0.01 spread).
	eventually(t, "the position is sold at its time stop", func() bool { return len(r.fills(id)) == 2 })
	exit := r.fills(id)[0]
	if exit.Side != polybot.Sell || exit.Size != d("2") || exit.Price != d("89.12") || exit.RealizedPnL != d("-0.02") {
		t.Fatalf("exit %+v, want 2 sold at 89.12 for −0.02", exit)
	}
}

func TestNewsEquityTakeProfitIsAFractionOfEntry(t *testing.T) {
	// Take profit 0.001 of an 89.13 entry: sell at a bid of 89.13 + 0.08913
	// = 89.21913 or more, long before the hour's time stop.
	rule := &polybot.NewsRule{ID: "tlt-tp", Name: "TLT take profit", Enabled: true, AnyOf: []string{"rate cut"},
		Mode: polybot.NewsEquity, Equity: buyTLT("1", "89.50"), TakeProfit: d("0.001"), Window: time.Minute, TimeStop: time.Hour}
	r, id, _ := equityRig(t, rule)
	r.tltBook(t, "89.12", "89.13")
	r.m.Headline(polybot.Headline{ID: "h1", Title: "Fed rate cut odds double", Received: time.Now()})
	eventually(t, "the ETF is bought", func() bool { return len(r.fills(id)) == 1 })
	r.book(tltInst, []polybot.Level{lv("89.25", "300")}, []polybot.Level{lv("89.26", "200")})
	eventually(t, "the position is sold on its take profit", func() bool { return len(r.fills(id)) == 2 })
	if exit := r.fills(id)[0]; exit.Side != polybot.Sell || exit.Price != d("89.25") || exit.RealizedPnL != d("0.12") {
		t.Fatalf("exit %+v, want 1 sold at 89.25 for +0.12", exit)
	}
}

func TestNewsHedgeLegFollowsTheContractTradeAndAnEquitySellClosesIt(t *testing.T) {
	kY, kN := kalshi.Instruments(newsPair.Legs[1].Market)
	direct := &polybot.NewsRule{ID: "williams", Name: "Williams: cut, hedged", Enabled: true, AllOf: []string{"williams"},
		Mode: polybot.NewsDirect, Markets: []polybot.BinaryMarket{{Yes: kY, No: kN}}, Outcome: polybot.No,
		MaxPrice: d("0.50"), MaxSize: d("10"), Window: time.Minute, TimeStop: time.Hour, Hedge: buyTLT("1", "89.50")}
	seller := &polybot.NewsRule{ID: "hawk-sell", Name: "Hawkish: sell TLT", Enabled: true, AllOf: []string{"hawkish"},
		Mode: polybot.NewsEquity, Equity: &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: "TLT", Side: polybot.EquitySell,
			Quantity: d("5"), MaxPrice: d("89.00")}, Window: time.Minute, TimeStop: time.Hour}
	r, id, _ := equityRig(t, direct, seller)
	r.book(kN, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
	r.book(kY, []polybot.Level{lv("0.60", "100")}, []polybot.Level{lv("0.62", "100")})
	r.tltBook(t, "89.12", "89.13")
	r.m.Headline(polybot.Headline{ID: "h-w", Title: "Williams sees room to cut", Received: time.Now()})
	eventually(t, "the contract and then its hedge are bought", func() bool { return len(r.fills(id)) == 2 })
	fs := r.fills(id) // newest first
	if fs[1].Instrument != kN || fs[1].Size != d("10") || fs[0].Instrument != tltInst || fs[0].Size != d("1") || fs[0].Price != d("89.13") {
		t.Fatalf("fills %+v then %+v, want 10 Kalshi NO then the 1-share TLT hedge", fs[1], fs[0])
	}
	// A sell rule sells what is held (1, not its 5: never short), at the
	// bid, which is above its 89.00 limit.
	r.m.Headline(polybot.Headline{ID: "h-h", Title: "Hawkish minutes", Received: time.Now()})
	eventually(t, "the held share is sold", func() bool { return len(r.fills(id)) == 3 })
	if f := r.fills(id)[0]; f.Instrument != tltInst || f.Side != polybot.Sell || f.Size != d("1") || f.Price != d("89.12") {
		t.Fatalf("sell %+v, want the 1 held TLT sold at 89.12", f)
	}
}

func TestNewsDeskDropsTheBookOfARuleThatIsGone(t *testing.T) {
	var mu sync.Mutex
	rules := []*polybot.NewsRule{{ID: "tlt", Name: "TLT", Enabled: true, AnyOf: []string{"rate cut"}, Mode: polybot.NewsEquity,
		Equity: buyTLT("1", "89.50"), Window: time.Minute, TimeStop: time.Hour}}
	r := newRig(t)
	r.testHubs(polybot.Polymarket, polybot.Kalshi, polybot.Alpaca)
	id := r.user(polybot.TierBasic, func(c *polybot.Config) { c.EnableNewsArbitrage, c.EnableAlpaca = true, true })
	r.start(Config{Strategies: []string{polybot.StrategyNews}, Venues: []polybot.Platform{polybot.Polymarket, polybot.Kalshi, polybot.Alpaca},
		NewsRules: func(polybot.TenantTx) ([]*polybot.NewsRule, error) {
			mu.Lock()
			defer mu.Unlock()
			return rules, nil
		}})
	r.waitRunning(id)
	alpacaHub := r.hubs[polybot.Alpaca]
	eventually(t, "TLT subscribed", func() bool { return alpacaHub.Stats().Instruments == 1 })
	mu.Lock()
	rules = nil
	mu.Unlock()
	if err := r.m.Reload(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "TLT unsubscribed once no rule names it", func() bool { return alpacaHub.Stats().Instruments == 0 })
}
