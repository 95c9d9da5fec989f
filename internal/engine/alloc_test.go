package engine

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestHundredTenantsOnAFiftyShareOpportunityRequestAtMostFifty(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	ids := make([]polybot.ID, 100)
	for i := range ids {
		// $9.50 buys 10 sets at 0.95: together they want 1,000.
		ids[i] = r.user(polybot.TierFree, func(c *polybot.Config) { c.MaxTradeSizeUSD = d("9.5") })
	}
	var decided atomic.Int64
	var mu sync.Mutex
	claimed := polybot.Zero
	r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
		m.onDecision = func(_ polybot.ID, _ *offer, got polybot.Decimal) {
			mu.Lock()
			claimed = claimed.Add(got)
			mu.Unlock()
			decided.Add(1)
		}
	})
	r.waitRunning(ids...)

	r.book(pmYes, nil, []polybot.Level{lv("0.45", "50")})
	r.book(pmNo, nil, []polybot.Level{lv("0.50", "50"), lv("0.51", "1000")})
	eventually(t, "every tenant decided", func() bool { return decided.Load() == 100 })

	var mu2 sync.Mutex
	requested := map[polybot.Instrument]polybot.Decimal{}
	traders := 0
	eventually(t, "the orders are settled", func() bool {
		clear(requested)
		traders = 0
		for _, id := range ids {
			ins := r.intents(id)
			if len(ins) > 0 {
				traders++
			}
			for _, in := range ins {
				if in.State == polybot.IntentPending {
					return false
				}
				mu2.Lock()
				requested[in.Instrument] = requested[in.Instrument].Add(in.Size)
				mu2.Unlock()
			}
		}
		return requested[pmYes] == d("50")
	})
	time.Sleep(50 * time.Millisecond) // nothing more arrives
	for inst, q := range requested {
		if q.GreaterThan(d("50")) {
			t.Fatalf("tenants requested %s of %s, more than the 50 the book showed", q, inst.Key())
		}
	}
	if requested[pmNo] != d("50") || traders != 5 || claimed != d("50") {
		t.Fatalf("requested %v by %d tenants (claimed %s), want 50 on each leg by 5 tenants of 10", requested, traders, claimed)
	}
}

func TestClaimsSplitTheThinnestLegAndReleasesGiveBack(t *testing.T) {
	m := &Manager{}
	a, b := newAllocator(d("30")), newAllocator(d("50"))
	o := &offer{allocs: []*allocator{a, b}}
	if got := m.claim(o, d("20"), polybot.One); got != d("20") {
		t.Fatalf("first claim %s", got)
	}
	if got := m.claim(o, d("20"), polybot.One); got != d("10") {
		t.Fatalf("second claim %s, want the 10 left on the thinner leg", got)
	}
	if got := m.claim(o, d("5"), polybot.One); !got.IsZero() {
		t.Fatalf("third claim %s, want nothing", got)
	}
	m.release(o, polybot.Zero, []polybot.Decimal{d("4"), d("0")})
	if a.remaining != d("4") || b.remaining != d("20") {
		t.Fatalf("after release: %s, %s", a.remaining, b.remaining)
	}
	if got := m.claim(o, d("10.7"), d("0.5")); got != d("4") {
		t.Fatalf("claim after release %s", got)
	}
	m.release(o, d("1000"), nil)
	if a.remaining != a.total || b.remaining != b.total {
		t.Fatal("a release never grows depth beyond what the book showed")
	}
}
