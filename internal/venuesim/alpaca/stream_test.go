package alpaca

import (
	"context"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestSyntheticWalkStaysInItsBandOneCentWideAndRepeats(t *testing.T) {
	start := d("89.00")
	w := SyntheticWalk(start, 500, 7)
	lo, hi := d("87.22"), d("90.78") // 89.00 ∓ 2% (1.78)
	for i, q := range w {
		if q.Bid.Price.LessThan(lo) || q.Bid.Price.GreaterThan(hi) || q.Ask.Price != q.Bid.Price.Add(d("0.01")) ||
			q.Bid.Price.Places() > 2 || q.Bid.Size.Sign() <= 0 || q.Ask.Size.Sign() <= 0 {
			t.Fatalf("step %d: %+v", i, q)
		}
		if i > 0 {
			if step := q.Bid.Price.Sub(w[i-1].Bid.Price); step.GreaterThan(d("0.03")) || step.LessThan(d("-0.03")) {
				t.Fatalf("step %d moved %s", i, step)
			}
		}
	}
	again := SyntheticWalk(start, 500, 7)
	for i := range w {
		if w[i] != again[i] {
			t.Fatalf("step %d differs between runs: %+v %+v", i, w[i], again[i])
		}
	}
}

func TestPlayQuotesSetsTheBookStepByStep(t *testing.T) {
	s, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	qs := []Quote{{Bid: polybot.Level{Price: d("89.10"), Size: d("100")}, Ask: polybot.Level{Price: d("89.11"), Size: d("200")}},
		{Bid: polybot.Level{Price: d("89.12"), Size: d("300")}, Ask: polybot.Level{Price: d("89.13"), Size: d("400")}}}
	go func() { _ = s.PlayQuotes(ctx, "TLT", 20*time.Millisecond, qs) }()
	seen := map[string]bool{}
	for end := time.Now().Add(5 * time.Second); len(seen) < 2 && time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if dp := s.Engine().Depth("TLT", 1); len(dp.Bids) == 1 && len(dp.Asks) == 1 {
			seen[dp.Bids[0].Price.String()+"/"+dp.Asks[0].Price.String()] = true
		}
	}
	if !seen["89.10/89.11"] || !seen["89.12/89.13"] {
		t.Fatalf("books seen %v, want both steps", seen)
	}
}
