package engine

// Allocation overhead, per opportunity and per tenant:
//
//	go test ./internal/engine -run '^$' -bench 'Grant|Route' -benchmem

import (
	"fmt"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/strategy"
)

// allocManager is a Manager with n running dry-run tenants in its index and
// no store, hubs or goroutines: enough to route and resolve.
func allocManager(n int) (*Manager, []*tenant) {
	m := &Manager{cfg: Config{MailboxSize: 4, Wants: strategy.Wants}}
	m.ring.init(64)
	m.disp = newDispatcher(m)
	ts := make([]*tenant, n)
	for i := range ts {
		id := polybot.NewID()
		t := newTenant(m, id)
		c := polybot.DefaultConfig(id, time.Time{})
		c.DryRun, c.EnablePolymarket, c.EnableSinglePlatformArb = true, true, true
		c.MaxTradeSizeUSD, c.MinProfitPct = d("5"), d("1")
		t.snap.Store(&snapshot{cfg: c, profile: &polybot.Profile{Features: polybot.Features{SinglePlatform: true}, MaxTradeSizeUSD: d("50")}})
		t.state.Store(stRunning)
		ts[i] = t
	}
	m.index.Store(buildIndex(ts))
	return m, ts
}

// deepOpportunity is a single-platform opportunity deep enough for every
// tenant: $5 buys 5.26 sets at 0.95 (Polymarket's minimum order is 5).
func deepOpportunity() *polybot.Opportunity {
	return &polybot.Opportunity{Strategy: polybot.StrategySinglePlatform, Size: d("1000000"), Cost: d("0.95"),
		NetEdge: d("0.05"), ProfitPct: d("5.26"), Legs: []polybot.Leg{
			{Instrument: pmYes, Side: polybot.Buy, Price: d("0.45"), Available: d("1000000")},
			{Instrument: pmNo, Side: polybot.Buy, Price: d("0.50"), Available: d("1000000")},
		}}
}

// BenchmarkGrantRoundTrip is one tenant's claim and release: the
// dispatcher sizes it and lends depth (a Grant value), the grant goes
// through the tenant's mailbox, and the runner's GrantResult gives it back.
func BenchmarkGrantRoundTrip(b *testing.B) {
	m, ts := allocManager(1)
	t, d := ts[0], m.disp
	o := deepOpportunity()
	group, lot := groupOf(o), lotOf(o)
	buf := make([]Grant, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		d.mu.Lock()
		g, _ := d.offerTo(t, o, group, time.Time{}, lot)
		d.mu.Unlock()
		t.box.put(g)
		buf = t.box.take(buf[:0])
		d.Resolve(buf[0].releaseAll())
	}
	if d.held() != 0 {
		b.Fatal("grants left unresolved")
	}
}

// BenchmarkRoute routes one opportunity to N tenants, each of which is lent
// depth, then resolves every grant (ns/op is the whole round trip of one
// opportunity; ns/tenant divides it).
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			m, ts := allocManager(n)
			d := m.disp
			base := deepOpportunity()
			buf := make([]Grant, 0, 4)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				o := *base
				o.ID = fmt.Sprint("op", i)
				d.route(&o, time.Time{})
				for _, t := range ts {
					buf = t.box.take(buf[:0])
					for j := range buf {
						d.Resolve(buf[j].releaseAll())
					}
				}
			}
			if d.held() != 0 {
				b.Fatal("grants left unresolved")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/tenant")
		})
	}
	// The common case at scale: the level is thin, the first tenant takes
	// it and the other 999 are sized and refused without an allocation.
	b.Run("tenants=1000,thin", func(b *testing.B) {
		m, ts := allocManager(1000)
		disp := m.disp
		base := deepOpportunity()
		base.Legs = append([]polybot.Leg(nil), base.Legs...)
		base.Legs[0].Available = d("1")
		buf := make([]Grant, 0, 4)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			o := *base
			o.ID = fmt.Sprint("op", i)
			disp.route(&o, time.Time{})
			for _, t := range ts {
				buf = t.box.take(buf[:0])
				for j := range buf {
					disp.Resolve(buf[j].releaseAll())
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/tenant")
	})
}
