package engine

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

// BenchmarkNewsHeadlineToOrder measures a news trade's latency as the
// metric does: from a headline's receipt (Manager.Headline) to the first
// order of the trade it caused going to the venue — matching, the rule's
// watch, the strategy, the dispatcher's grant, the runner, the risk gate's
// store transaction (SQLite, on disk) and the order's intent, everything
// but the venue's round trip (dry run: the paper fill comes after). One
// headline at a time, each waited for. It reports the p50 and p99 in
// milliseconds (target p99 ≤ 5 ms).
func BenchmarkNewsHeadlineToOrder(b *testing.B) {
	r := newRig(b)
	r.testHubs(polybot.Polymarket, polybot.Kalshi)
	kY, kN := kalshi.Instruments(newsPair.Legs[1].Market)
	rule := &polybot.NewsRule{ID: "bench", Name: "bench", Enabled: true, AnyOf: []string{"williams"}, Mode: polybot.NewsDirect,
		Markets: []polybot.BinaryMarket{{Yes: kY, No: kN}}, Outcome: polybot.No, MaxPrice: d("0.50"), MaxSize: d("1"),
		Window: time.Minute, TimeStop: time.Hour}
	id := r.user(polybot.TierEnterprise, func(c *polybot.Config) {
		c.EnableNewsArbitrage, c.EnableSinglePlatformArb, c.EnableCrossPlatformArb = true, false, false
	})
	lat := &newsLatency{}
	r.start(Config{Universe: Universe{Pairs: []*polybot.MarketPair{newsPair}}, Strategies: []string{polybot.StrategyNews},
		NewsRules: func(polybot.TenantTx) ([]*polybot.NewsRule, error) { c := *rule; return []*polybot.NewsRule{&c}, nil },
		NewsFires: func(context.Context, NewsFire) error { return nil }, Observer: lat})
	r.waitRunning(id)
	r.book(kY, []polybot.Level{lv("0.59", "1000000")}, []polybot.Level{lv("0.61", "1000000")})
	r.book(kN, []polybot.Level{lv("0.39", "1000000")}, []polybot.Level{lv("0.41", "1000000")})
	time.Sleep(50 * time.Millisecond)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		want := i
		r.m.Headline(polybot.Headline{ID: "h" + strconv.Itoa(i), Title: "Williams sees room to cut " + strconv.Itoa(i), Received: time.Now()})
		for deadline := time.Now().Add(5 * time.Second); ; {
			lat.mu.Lock()
			n := len(lat.obs)
			lat.mu.Unlock()
			if n >= want {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("headline %d: no order within 5 s", i)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	b.StopTimer()
	lat.mu.Lock()
	obs := slices.Clone(lat.obs)
	lat.mu.Unlock()
	slices.Sort(obs)
	q := func(p float64) float64 {
		return float64(obs[min(len(obs)-1, int(p*float64(len(obs))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
