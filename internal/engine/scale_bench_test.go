package engine

// Scale-out at issue 17's size: one gateway and one or two workers in this
// process over a real NATS server (natstest) and one SQLite store.
//
//	go test ./internal/engine -run '^$' -bench ScaleOut -benchtime 20x -timeout 60m                # 100,000 tenants, about 6 minutes
//	go test ./internal/engine -run '^$' -bench ScaleOut -benchtime 20x -scale.tenants 10000        # a quick run
//
// The tenants are seeded once per test process into a template SQLite file
// (about half a minute at 100,000 here), and each run works on a copy.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/nats/natstest"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
	"github.com/polybot/polybot/internal/strategy"
)

var (
	scaleTenants = flag.Int("scale.tenants", 100_000, "BenchmarkScaleOut: tenants seeded (issue 17 asks for 100,000)")
	scaleGrants  = flag.Int("scale.grants", 100, "BenchmarkScaleOut: grants of $5 each book update makes room for")
)

// TestMain removes the scale template after the run.
// cleanupScaleSeed deletes the seeded template store (the package's
// TestMain calls it when the run ends).
func cleanupScaleSeed() {
	if scaleSeed.dir != "" {
		_ = os.RemoveAll(scaleSeed.dir)
	}
}

// scaleSeed is the template store BenchmarkScaleOut copies: n dry-run
// free-tier tenants trading $5 at most (5.26 sets at 0.95, just over
// Polymarket's 5-share minimum order), their bots on.
var scaleSeed struct {
	once sync.Once
	dir  string
	n    int
	ids  []polybot.ID
	took time.Duration
}

// openRigAt is newRig on the store in dir (created if need be); the
// caller closes r.db.
func openRigAt(tb testing.TB, dir string) *rig {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(dir, "polybot.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	kr, err := secrets.OpenKeyFile(filepath.Join(dir, "master.key"), true)
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, db, kr); err != nil {
		tb.Fatal(err)
	}
	return &rig{t: tb, ctx: ctx, db: db, box: secrets.NewBox(kr, 0), hubs: map[polybot.Platform]*marketdata.Hub{}}
}

// scaleRig is a rig on a fresh copy of the template of n tenants.
func scaleRig(b *testing.B, n int) (*rig, []polybot.ID) {
	b.Helper()
	scaleSeed.once.Do(func() {
		dir, err := os.MkdirTemp("", "polybot-scale-")
		if err != nil {
			b.Fatal(err)
		}
		scaleSeed.dir = dir
		began := time.Now()
		r := openRigAt(b, dir)
		ids := seedTenants(r, n, func(c *polybot.Config) { c.MaxTradeSizeUSD = d("5") })
		if err := r.db.Close(); err != nil {
			b.Fatal(err)
		}
		scaleSeed.n, scaleSeed.ids, scaleSeed.took = n, ids, time.Since(began)
		b.Logf("seeded %d tenants in %s", n, scaleSeed.took.Round(time.Second))
	})
	if scaleSeed.n != n {
		b.Fatalf("the template holds %d tenants, not %d (seeding failed, or the flag changed)", scaleSeed.n, n)
	}
	dir := b.TempDir()
	for _, name := range []string{"polybot.db", "polybot.db-wal", "master.key"} {
		if err := copyFile(filepath.Join(scaleSeed.dir, name), filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
	}
	r := openRigAt(b, dir)
	b.Cleanup(func() { r.db.Close() })
	return r, scaleSeed.ids
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// scaleIdle is how many grants BenchmarkScaleOut sends one at a time.
const scaleIdle = 20

// dumpGoroutines writes every goroutine's stack to a file and says where
// (a benchmark that stalls at 100,000 tenants is slow to run again).
func dumpGoroutines() string {
	f, err := os.CreateTemp("", "polybot-scale-goroutines-*.txt")
	if err != nil {
		return "goroutines not written: " + err.Error()
	}
	defer f.Close()
	if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
		return "goroutines not written: " + err.Error()
	}
	return "goroutines in " + f.Name()
}

// liveBytes is the heap and goroutine stacks in use after two GCs.
func liveBytes() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// waitFor polls cond every 50 ms until it holds or limit passes.
func waitFor(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting until %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scaleProbe is what the hooks of the gateway and the workers record.
type scaleProbe struct {
	n        int64
	tick     atomic.Int64 // when the current update entered the hub (unix ns)
	decided  atomic.Int64 // decisions on the current update
	allIn    chan struct{}
	dec      []int64 // the current update's update→decision, ns (dispatcher goroutine)
	told     []int64 // the current update's update→told, ns (dispatcher goroutine)
	grantLat []int64 // update→decision of the decisions that lent depth, ns (dispatcher goroutine)

	grants, resolved, sent atomic.Int64

	mu       sync.Mutex
	arrived  map[GrantID]time.Time
	reach    []time.Duration // Grant.At (the gateway's dispatch) → the grant at the worker
	take     []time.Duration // grant at the worker → first leg placed
	dispatch []time.Duration // Grant.At → first leg placed
}

func (p *scaleProbe) decision(_ polybot.ID, _ *polybot.Opportunity, got polybot.Decimal, at time.Time) {
	tick := p.tick.Load()
	lat := at.UnixNano() - tick
	i := p.decided.Add(1)
	if i <= int64(len(p.dec)) {
		p.dec[i-1] = lat
		p.told[i-1] = time.Now().UnixNano() - tick
	}
	if got.Sign() > 0 {
		p.grantLat = append(p.grantLat, lat)
	}
	if i == p.n {
		select { // never block the dispatcher
		case p.allIn <- struct{}{}:
		default:
		}
	}
}

func (p *scaleProbe) onTake(g *Grant, at time.Time) {
	p.mu.Lock()
	p.arrived[g.ID] = at
	p.reach = append(p.reach, at.Sub(g.At))
	p.mu.Unlock()
}

func (p *scaleProbe) onSend(_ polybot.ID, g *Grant) {
	now := time.Now()
	p.sent.Add(1)
	p.mu.Lock()
	if at, ok := p.arrived[g.ID]; ok {
		p.take = append(p.take, now.Sub(at))
		delete(p.arrived, g.ID)
	}
	p.dispatch = append(p.dispatch, now.Sub(g.At))
	p.mu.Unlock()
}

// scaleWorkers is one set of workers sharing every tenant.
type scaleWorkers struct {
	k     int
	bytes int64 // heap and stacks they added
	ms    []*Manager
	ids   []string
	stops []func()
}

func (w *scaleWorkers) stop() {
	if w == nil {
		return
	}
	for _, s := range w.stops {
		s()
	}
}

// BenchmarkScaleOut runs -scale.tenants tenants (100,000 by default) over
// one gateway and one or two workers in this process, over a real NATS
// server and one SQLite store, wired as TestSplitRolesTradeAsOneProcessDoes
// wires them. Every tenant wants every opportunity; each book update makes
// room for -scale.grants grants of $5 (the depth book gives the first
// tenants in the rotation the sets the update added), so almost every
// tenant is offered each update and refused for depth.
//
// One op is one book update, routed to every tenant; the updates follow
// each other as soon as the last tenant is told. The gateway indexes only
// the tenants a worker holds, so it runs alone only while nobody holds
// one: its memory is measured then. It reports, for one and for two
// workers under the same load:
//   - update→decision: from the update entering the gateway's hub to the
//     moment the dispatcher fixed a tenant's outcome (onDecision's at),
//     over every tenant: lent depth, or — once every pool it could still
//     meet was dry — nothing, for all the tenants not yet reached at once;
//     update→told: to the moment the tenant was told (its opportunity
//     counted, its events and digest fed: dispatcher.settle, after the
//     grants); update→grant: update→decision for the decisions that lent
//     depth;
//   - grant→order: from the grant reaching the worker (takeGrant) to its
//     first leg being placed (the intents recorded in the store, the
//     venue excluded: a paper exchange), under the load above, and
//     grant→order-idle with one grant at a time (scaleIdle of them);
//     dispatch→order: from the gateway's dispatch (Grant.At) to the same
//     point, the gateway's send and NATS included, and dispatch→worker
//     the part of it before the grant reaches the worker;
//   - grants/s: grants executed (first leg placed) per second, from the
//     first update until every grant is resolved; on workers=2,
//     ×workers=1 is its ratio to workers=1's in the same run;
//   - gateway-B/tenant: the heap and stacks the gateway added, alone, per
//     tenant; workers-B/tenant: what the workers added, per tenant.
func BenchmarkScaleOut(b *testing.B) {
	n := *scaleTenants
	r, ids := scaleRig(b, n)
	r.testHubs(polybot.Polymarket)
	cfg := natstest.Config(b)
	const ttl = time.Minute
	ready := time.Duration(n/100)*time.Second + 2*time.Minute

	p := &scaleProbe{n: int64(n), allIn: make(chan struct{}, 1), dec: make([]int64, n), told: make([]int64, n), arrived: map[GrantID]time.Time{}}
	base := liveBytes()
	gwBus := natstest.Connect(b, cfg)
	began := time.Now()
	// The NO book is shown once and only the YES ask moves: its quote
	// must stay good while the workers start (the default is 5 s).
	det := strategy.New(strategy.Config{MaxQuoteAge: time.Hour})
	gw := r.startWith(Config{Universe: pmUniverse(), Strategy: det, Role: RoleGateway, Bus: gwBus, MaxOfferAge: -1, LeaseTTL: ttl}, func(m *Manager) {
		m.onDecision = p.decision
		m.disp.onGrant = func(Grant) { p.grants.Add(1) }
		m.disp.onResolve = func(GrantResult) { p.resolved.Add(1) }
	})
	waitFor(b, ready, "the gateway follows every tenant", func() bool {
		return gw.Snapshot().ActiveTenants == int64(n)
	})
	b.Logf("gateway following %d tenants after %s", n, time.Since(began).Round(time.Millisecond))
	gwBytes := liveBytes() - base

	// Each update adds room at the YES ask: at 0.45 one tenant's $5 buys
	// 5.26 sets (0.95 a set). The NO side is deep. The grants one at a
	// time trade at 0.46 (5.20 sets of 0.96): a level where no depth was
	// given back, so that each update makes one grant.
	loaded, quiet := d("0.45"), d("0.46")
	room, one := d("5.26").Mul(polybot.NewDecimal(int64(*scaleGrants), 0)), d("5.20")
	r.book(pmNo, []polybot.Level{lv("0.49", "1000")}, []polybot.Level{lv("0.50", "100000000")})
	price, shown, seq := loaded, polybot.Zero, 0
	var (
		cur  *scaleWorkers
		solo float64 // grants/s with one worker
	)
	// update shows room more at the YES ask at at (the only ask level).
	update := func(b *testing.B, at, room polybot.Decimal, keep bool, dec, told *[]time.Duration) {
		seq++
		if at != price {
			price, shown = at, polybot.Zero // the old level is gone, and what was taken there with it
		}
		shown = shown.Add(room)
		p.decided.Store(0)
		p.tick.Store(time.Now().UnixNano())
		r.book(pmYes, []polybot.Level{lv("0.44", "1000")}, []polybot.Level{{Price: price, Size: shown}})
		select {
		case <-p.allIn:
		case <-time.After(time.Minute):
			s := gw.Snapshot()
			b.Fatalf("update %d: %d of %d tenants decided (gateway: %d batches, %d opportunities, %d repeats, %d indexed, %d running); %s",
				seq, p.decided.Load(), n, s.Batches, s.Opportunities, s.Repeats, s.Indexed, s.ActiveTenants, dumpGoroutines())
		}
		if keep {
			for i, ns := range p.dec {
				*dec = append(*dec, time.Duration(ns))
				*told = append(*told, time.Duration(p.told[i]))
			}
		}
	}
	drain := func(b *testing.B) {
		deadline := time.Now().Add(2 * time.Minute)
		for p.resolved.Load() < p.grants.Load() {
			if time.Now().After(deadline) {
				msg := fmt.Sprintf("grants %d, resolved %d, held %d, sent %d", p.grants.Load(), p.resolved.Load(), gw.disp.held(), p.sent.Load())
				if cur != nil {
					for _, m := range cur.ms {
						s := m.Snapshot()
						msg += fmt.Sprintf("\n%s: deliveries %d conflated %d dropped %d fills %d stale %d moved %d unknown %d running %d", m.cfg.WorkerID,
							s.Deliveries, s.MailboxConflated, s.MailboxDropped, s.Fills, s.StaleOffers, s.BookMoved, s.UnknownOutcomes, s.ActiveTenants)
					}
				}
				b.Fatalf("timed out waiting until every grant is resolved: %s\n%s", msg, dumpGoroutines())
			}
			time.Sleep(time.Millisecond)
		}
	}

	defer func() { cur.stop() }()
	start := func(sb *testing.B, k int) *scaleWorkers {
		w := &scaleWorkers{k: k}
		before := liveBytes()
		began := time.Now()
		for j := range k {
			bus := natstest.Connect(b, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			hubs := map[polybot.Platform]*marketdata.Hub{}
			for _, pl := range polybot.Platforms {
				h := marketdata.NewHub(marketdata.NewRelayFeed(pl, bus), marketdata.HubConfig{})
				hubs[pl] = h
				go func() { _ = h.Run(ctx) }()
			}
			id := fmt.Sprintf("w%d-%d", k, j+1)
			m := r.startWith(Config{Universe: pmUniverse(), Role: RoleWorker, Bus: bus, Hubs: hubs, WorkerID: id,
				Capacity: (n + k - 1) / k, LeaseTTL: ttl, MaxOfferAge: -1}, func(m *Manager) {
				m.onTake, m.onSend = p.onTake, p.onSend
			})
			stop := r.stop
			w.ms, w.ids = append(w.ms, m), append(w.ids, id)
			w.stops = append(w.stops, func() { stop(); cancel(); _ = bus.Close() })
		}
		waitFor(sb, ready, fmt.Sprintf("%d workers run every tenant", k), func() bool {
			running := int64(0)
			for _, m := range w.ms {
				running += m.Snapshot().ActiveTenants
			}
			return running == int64(n)
		})
		mine := map[string]bool{}
		for _, id := range w.ids {
			mine[id] = true
		}
		waitFor(sb, ready, "the gateway knows the holder of every tenant", func() bool {
			for _, id := range ids {
				if !mine[gw.gw.holder(id)] {
					return false
				}
			}
			return true
		})
		// The gateway indexes the tenants a worker holds.
		waitFor(sb, ready, "the gateway indexes every tenant", func() bool { return gw.Snapshot().Indexed == n })
		sb.Logf("%d workers running %d tenants after %s", k, n, time.Since(began).Round(time.Millisecond))
		w.bytes = liveBytes() - before
		return w
	}

	for _, k := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", k), func(b *testing.B) {
			if cur == nil || cur.k != k {
				cur.stop()
				cur = nil
				cur = start(b, k)
				for range 3 {
					update(b, loaded, room, false, nil, nil)
				}
				drain(b)
			}
			p.mu.Lock()
			p.reach, p.take, p.dispatch = nil, nil, nil
			p.mu.Unlock()
			p.grantLat = p.grantLat[:0]
			g0, s0 := p.grants.Load(), p.sent.Load()
			var dec, told []time.Duration
			b.ResetTimer()
			began := time.Now()
			for range b.N {
				update(b, loaded, room, true, &dec, &told)
			}
			drain(b)
			el := time.Since(began)
			b.StopTimer()
			rate := float64(p.sent.Load()-s0) / el.Seconds()
			made := p.grants.Load() - g0
			grantLat := make([]time.Duration, len(p.grantLat))
			for i, ns := range p.grantLat {
				grantLat[i] = time.Duration(ns)
			}
			p.mu.Lock()
			reach, take, dispatch := slices.Clone(p.reach), slices.Clone(p.take), slices.Clone(p.dispatch)
			p.take = p.take[:0]
			p.mu.Unlock()
			// Then one grant at a time: the worker's path without a queue.
			for range scaleIdle {
				update(b, quiet, one, false, nil, nil)
				drain(b)
			}
			p.mu.Lock()
			idle := slices.Clone(p.take)
			p.mu.Unlock()
			reportLatency(b, "update→decision", dec)
			reportLatency(b, "update→told", told)
			reportLatency(b, "update→grant", grantLat)
			reportLatency(b, "grant→order", take)
			reportLatency(b, "grant→order-idle", idle)
			reportLatency(b, "dispatch→order", dispatch)
			reportLatency(b, "dispatch→worker", reach)
			b.ReportMetric(rate, "grants/s")
			b.ReportMetric(float64(made)/float64(b.N), "grants/update")
			b.ReportMetric(float64(gwBytes)/float64(n), "gateway-B/tenant")
			b.ReportMetric(float64(cur.bytes)/float64(n), "workers-B/tenant")
			switch {
			case k == 1:
				solo = rate
			case solo > 0:
				b.ReportMetric(rate/solo, "×workers=1")
			}
		})
	}
}

// BenchmarkRouteAtScale is the gateway's part of BenchmarkScaleOut alone:
// one opportunity routed to 10,000 or 100,000 running tenants on a thin
// level (BenchmarkRoute's thin case at scale): the first tenant takes the
// level, and the pool is dry for everyone else. No store, bus or worker;
// ns/tenant is route's cost (every decision fixed) per tenant, and
// told-ns/tenant settle's (telling the tenants route did not reach).
func BenchmarkRouteAtScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			m, ts := allocManager(n)
			disp := m.disp
			base := deepOpportunity()
			base.Legs = append([]polybot.Leg(nil), base.Legs...)
			base.Legs[0].Available = d("1")
			buf := make([]Grant, 0, 4)
			i := 0
			var told time.Duration
			b.ReportAllocs()
			for b.Loop() {
				i++
				o := *base
				o.ID = fmt.Sprint("op", i)
				disp.route(&o, time.Time{})
				b.StopTimer()
				began := time.Now()
				for disp.settle(1 << 30) {
				}
				told += time.Since(began)
				for _, t := range ts {
					buf = t.box.take(buf[:0])
					for j := range buf {
						disp.Resolve(buf[j].releaseAll())
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/tenant")
			b.ReportMetric(float64(told.Nanoseconds())/float64(b.N)/float64(n), "told-ns/tenant")
		})
	}
}
