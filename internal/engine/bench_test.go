package engine

// Benchmarks (see docs or run):
//
//	go test ./internal/engine -run '^$' -bench . -benchtime 100x
//
// Density and fan-out seed 10,000 tenants in a SQLite file first (about 5 s).

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

const benchTenants = 10_000

// seedTenants creates n free-tier dry-run tenants with their bots enabled:
// the users in one admin transaction, then one tenant transaction each.
func seedTenants(r *rig, n int, mod func(*polybot.Config)) []polybot.ID {
	ids := make([]polybot.ID, n)
	err := r.db.Admin(r.ctx, func(tx polybot.AdminTx) error {
		tr, err := tx.Tier(polybot.TierFree)
		if err != nil {
			return err
		}
		for i := range ids {
			id := polybot.NewID()
			ids[i] = id
			email := id.String() + "@example.com"
			c := polybot.DefaultConfig(id, tx.Now())
			if mod != nil {
				mod(c)
			}
			if err := tx.CreateUser(&polybot.User{ID: id, Email: email, Role: polybot.RoleUser, CreatedAt: tx.Now()},
				polybot.NewProfile(id, email, tr, tx.Now()), c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, id := range ids {
		r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(true) })
	}
	return ids
}

// waitAll waits (up to a minute) until n bots run and are indexed.
func waitAll(tb testing.TB, m *Manager, n int) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := m.Snapshot()
		if s.ActiveTenants == int64(n) && s.Indexed == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d bots running (%d indexed)", s.ActiveTenants, n, s.Indexed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func reportLatency(b *testing.B, name string, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), name+"-p99-µs")
}

// BenchmarkDensity runs 10,000 tenants' bots in one process and reports the
// memory each costs (heap and goroutine stacks, after GC). ns/op is the cost
// of one metrics Snapshot over all of them.
func BenchmarkDensity(b *testing.B) {
	r := newRig(b)
	r.testHubs(polybot.Polymarket)
	seedTenants(r, benchTenants, nil)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	m := r.start(Config{Universe: pmUniverse()})
	waitAll(b, m, benchTenants)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	stack := int64(after.StackInuse) - int64(before.StackInuse)
	goroutines := runtime.NumGoroutine() - g0
	b.ResetTimer()
	for range b.N {
		_ = m.Snapshot()
	}
	b.StopTimer()
	b.ReportMetric(float64(heap+stack)/benchTenants, "B/tenant")
	b.ReportMetric(float64(heap)/benchTenants, "heap-B/tenant")
	b.ReportMetric(float64(stack)/benchTenants, "stack-B/tenant")
	b.ReportMetric(float64(goroutines)/benchTenants, "goroutines/tenant")
}

// BenchmarkFanout pushes book updates to 10,000 subscribed tenants, one at a
// time: each update is detected once and routed to every tenant, each of
// which decides (claims depth or not). It reports updates per second, the
// latency from the hub update to each tenant's decision (when its outcome
// was fixed: lent depth, or nothing because the pool was dry) and to its
// being told (its opportunity counted, its events and digest fed:
// dispatcher.settle, after the grants).
func BenchmarkFanout(b *testing.B) {
	r := newRig(b)
	r.testHubs(polybot.Polymarket)
	// $5 a trade (5.26 sets at 0.95, over Polymarket's minimum order of
	// 5): each update's 6 more sets of depth go to the first tenant.
	seedTenants(r, benchTenants, func(c *polybot.Config) { c.MaxTradeSizeUSD = d("5") })
	var (
		tickAt  atomic.Int64
		decided atomic.Int64
		lats    = make([]int64, benchTenants)
		tolds   = make([]int64, benchTenants)
	)
	m := r.startWith(Config{Universe: pmUniverse(), MaxOfferAge: -1}, func(m *Manager) {
		m.onDecision = func(_ polybot.ID, _ *polybot.Opportunity, _ polybot.Decimal, at time.Time) {
			i := decided.Add(1) - 1
			if i < int64(len(lats)) {
				lats[i] = at.UnixNano() - tickAt.Load()
				tolds[i] = time.Now().UnixNano() - tickAt.Load()
			}
		}
	})
	waitAll(b, m, benchTenants)
	r.book(pmNo, []polybot.Level{lv("0.49", "1000")}, []polybot.Level{lv("0.50", "1000000")})
	var all, told []time.Duration
	update := func(i int, keep bool) {
		decided.Store(0)
		tickAt.Store(time.Now().UnixNano())
		// Each update shows 6 more sets (earlier paper fills stay taken).
		r.book(pmYes, []polybot.Level{lv("0.44", "1000")}, []polybot.Level{{Price: d("0.45"), Size: polybot.NewDecimal(int64(6*(i+10)), 0)}})
		deadline := time.Now().Add(30 * time.Second)
		for decided.Load() < benchTenants {
			if time.Now().After(deadline) {
				b.Fatalf("update %d: %d of %d tenants decided", i, decided.Load(), benchTenants)
			}
			time.Sleep(20 * time.Microsecond)
		}
		if keep {
			for i, ns := range lats {
				all = append(all, time.Duration(ns))
				told = append(told, time.Duration(tolds[i]))
			}
		}
	}
	for i := range 3 {
		update(-1-i, false)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		update(i, true)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "updates/s")
	b.ReportMetric(float64(b.N)*benchTenants/el.Seconds(), "decisions/s")
	reportLatency(b, "update→decision", all)
	reportLatency(b, "update→told", told)
}

// BenchmarkReloadToAct measures from the moment Reload is called (after the
// new config is stored, as PUT /api/v1/config does) to the bot acting on a
// book update under the new config, with 1 or 10,000 tenants running.
func BenchmarkReloadToAct(b *testing.B) {
	for _, others := range []int{0, benchTenants - 1} {
		b.Run(fmt.Sprintf("tenants=%d", others+1), func(b *testing.B) {
			r := newRig(b)
			r.testHubs(polybot.Polymarket)
			if others > 0 {
				// Others never want this: they only make the index big.
				seedTenants(r, others, func(c *polybot.Config) { c.MinProfitPct = d("90") })
			}
			id := r.user(polybot.TierFree, func(c *polybot.Config) { c.MaxTradeSizeUSD = d("5"); c.MinProfitPct = d("10") })
			acted := make(chan time.Time, 64)
			m := r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
				m.onAct = func(_ context.Context, t polybot.ID, _ Grant) {
					if t == id {
						acted <- time.Now()
					}
				}
			})
			waitAll(b, m, others+1)
			setPct := func(pct string) {
				r.tenantTx(id, func(tx polybot.TenantTx) error {
					c, err := tx.Config()
					if err != nil {
						return err
					}
					c.MinProfitPct = d(pct)
					return tx.UpdateConfig(c)
				})
			}
			mk := &market{r: r}
			var lat, reload []time.Duration
			for i := range b.N + 2 {
				setPct("10")
				if err := m.Reload(r.ctx, id); err != nil {
					b.Fatal(err)
				}
				mk.tick()
				setPct("1")
				t0 := time.Now()
				if err := m.Reload(r.ctx, id); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				mk.tick()
				select {
				case at := <-acted:
					if i >= 2 {
						lat = append(lat, at.Sub(t0))
						reload = append(reload, t1.Sub(t0))
					}
				case <-time.After(10 * time.Second):
					b.Fatal("the bot never acted after the reload")
				}
				for len(acted) > 0 {
					<-acted
				}
			}
			reportLatency(b, "reload→act", lat)
			reportLatency(b, "reload-call", reload)
		})
	}
}

// BenchmarkTickToOrder measures, live against the simulators over real
// sockets, from a book update entering the hub (the Polymarket NO ask that
// completes a cross-platform opportunity) to the first leg's order arriving
// on the Kalshi simulator's socket: without notifications, and with every
// notification on (each fill queues a trade delivery in its transaction,
// opportunities feed the digest, and the dispatcher sends signed webhooks
// to a receiver on loopback while the bot trades); and with every
// notification on but sends that do nothing (the outbox's store work
// alone, without the HTTP that shares this machine's cores).
func BenchmarkTickToOrder(b *testing.B) {
	b.Run("notify=off", func(b *testing.B) { benchTickToOrder(b, false, false) })
	b.Run("notify=on", func(b *testing.B) { benchTickToOrder(b, true, false) })
	b.Run("notify=on-noop-send", func(b *testing.B) { benchTickToOrder(b, true, true) })
}

func benchTickToOrder(b *testing.B, notifyOn, noopSend bool) {
	r := newLiveRig(b)
	lt := r.liveUser(func(c *polybot.Config) {
		c.MaxDailyLossUSD = d("2500")
		c.NotifyOnTrade, c.NotifyOnOpportunity, c.NotificationChannels = notifyOn, notifyOn, polybot.NotificationChannels
	})
	r.psim.Fund(lt.wallet.Address(), d("1000000"))
	var hook polybot.NotifyHook
	if notifyOn {
		hook = benchNotifier(b, r.rig, lt.id, noopSend)
	}
	var tick atomic.Int64
	tap := func(ev polybot.BookEvent) {
		if ev.Instrument.Token == pmNoTok && len(ev.Asks) > 0 && tick.Load() == 0 {
			tick.Store(time.Now().UnixNano())
		}
	}
	r.tap.Store(&tap)
	m := r.startLive(Config{KeyRate: Rate{Burst: 1_000_000}, VenueRate: Rate{Burst: 1_000_000}, Notify: hook})
	waitAll(b, m, 1)
	view := func(inst polybot.Instrument, ok func(*[]polybot.Level) bool) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if v, live := hubBooks(r.hubs).View(inst); live && ok(&v.Asks) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("the hub never showed the book of %s", inst.Key())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	var lat []time.Duration
	var mu sync.Mutex
	round := func(keep bool) {
		if err := r.ksim.SetBook(fedTicker, []polybot.Level{lv("0.40", "100")}, []polybot.Level{lv("0.55", "10")}); err != nil {
			b.Fatal(err)
		}
		r.pmAsks(pmFedYes, lv("0.60", "100"))
		view(kYes, func(a *[]polybot.Level) bool { return len(*a) > 0 && (*a)[0] == lv("0.45", "10") })
		n := len(r.kalshiOrders())
		tick.Store(0)
		r.pmAsks(pmFedNo, lv("0.52", "100"))
		deadline := time.Now().Add(10 * time.Second)
		for len(r.kalshiOrders()) == n {
			if time.Now().After(deadline) {
				b.Fatalf("no order reached the simulator: %+v %+v %+v", m.Status(context.Background(), lt.id), m.Snapshot(), m.Opportunities(context.Background(), lt.id, 5))
			}
			time.Sleep(50 * time.Microsecond)
		}
		at := r.kalshiOrders()[n].at
		if keep {
			mu.Lock()
			lat = append(lat, at.Sub(time.Unix(0, tick.Load())))
			mu.Unlock()
		}
		// Let both legs settle, then take the NO ask away.
		deadline = time.Now().Add(10 * time.Second)
		for m.Snapshot().Fills < int64(2*len(r.kalshiOrders())) {
			if time.Now().After(deadline) {
				b.Fatalf("legs did not fill: %+v", m.Status(context.Background(), lt.id))
			}
			time.Sleep(100 * time.Microsecond)
		}
		r.pmAsks(pmFedNo)
		view(pmFedNo, func(a *[]polybot.Level) bool { return len(*a) == 0 })
	}
	round(false) // derives the Polymarket API key
	b.ResetTimer()
	for range b.N {
		round(true)
	}
	b.StopTimer()
	reportLatency(b, "tick→order", lat)
}
