package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// market is a book generator for pmYes/pmNo whose every call shows 100
// more shares at the same prices: new depth (a new opportunity), since
// the paper fills of earlier calls stay taken.
type market struct {
	r *rig
	n int
}

func (mk *market) tick() {
	mk.n++
	size := polybot.NewDecimal(int64(100*mk.n+1), 0)
	mk.r.book(pmYes, []polybot.Level{lv("0.40", "100")}, []polybot.Level{{Price: d("0.45"), Size: size}})
	mk.r.book(pmNo, []polybot.Level{lv("0.45", "100")}, []polybot.Level{{Price: d("0.50"), Size: size}})
}

func TestReloadTakesEffectAtOnceWithoutARestart(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, func(c *polybot.Config) { c.MinProfitPct = d("10") })
	acted := make(chan time.Time, 16)
	m := r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
		m.onAct = func(context.Context, polybot.ID, Grant) { acted <- time.Now() }
	})
	r.waitRunning(id)
	before := m.Status(context.Background(), id)
	mk := &market{r: r}
	mk.tick() // 5.26% < 10%: not wanted
	time.Sleep(20 * time.Millisecond)
	if n := len(r.intents(id)); n != 0 || len(acted) != 0 {
		t.Fatalf("%d intents before the reload, want none", n)
	}

	r.tenantTx(id, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		c.MinProfitPct = d("1")
		return tx.UpdateConfig(c)
	})
	if err := m.Reload(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	reloaded := time.Now()
	mk.tick()
	select {
	case at := <-acted:
		t.Logf("reload to acting: %v", at.Sub(reloaded))
		if at.Sub(reloaded) > 50*time.Millisecond {
			t.Errorf("the bot acted %v after the reload, want within 50ms", at.Sub(reloaded))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the bot never acted on the reloaded config")
	}
	eventually(t, "the trade is recorded", func() bool { return len(r.fills(id)) == 2 })
	after := m.Status(context.Background(), id)
	if after.Counters.Restarts != 0 || after.StartedAt == nil || !after.StartedAt.Equal(*before.StartedAt) {
		t.Fatalf("status after reload %+v (before %+v): the bot must not restart", after, before)
	}
	if after.ConfigAt.Equal(before.ConfigAt) {
		t.Fatal("the status does not show the new config version")
	}
}

func TestHaltedBotSendsNothingAndResumesWhenActive(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, nil)
	m := r.start(Config{Universe: pmUniverse()})
	r.waitRunning(id)
	r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) })
	if err := m.Reload(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the bot is halted", func() bool { return m.Status(context.Background(), id).State == polybot.BotHalted })
	if st := m.Status(context.Background(), id); !strings.Contains(st.Reason, "halted") {
		t.Fatalf("reason %q", st.Reason)
	}
	mk := &market{r: r}
	mk.tick()
	time.Sleep(50 * time.Millisecond)
	if n := len(r.intents(id)); n != 0 {
		t.Fatalf("a halted bot persisted %d intents", n)
	}
	// Cancels still work while halted (nothing rests in dry-run).
	if n, err := m.CancelOpenOrders(r.ctx, id); err != nil || n != 0 {
		t.Fatalf("cancel while halted: %d, %v", n, err)
	}
	r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltActive) })
	if err := m.Reload(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	r.waitRunning(id)
	mk.tick()
	eventually(t, "the active bot trades again", func() bool { return len(r.fills(id)) == 2 })
}

func TestGlobalKillSwitchHaltsEveryBot(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	a, b := r.user(polybot.TierFree, nil), r.user(polybot.TierFree, nil)
	m := r.start(Config{Universe: pmUniverse(), HaltPoll: 10 * time.Millisecond})
	r.waitRunning(a, b)
	if err := r.db.Admin(r.ctx, func(tx polybot.AdminTx) error { return tx.SetGlobalHalt(polybot.HaltHalted) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both bots are halted", func() bool {
		return m.Status(context.Background(), a).State == polybot.BotHalted && m.Status(context.Background(), b).State == polybot.BotHalted
	})
	(&market{r: r}).tick()
	time.Sleep(50 * time.Millisecond)
	if len(r.intents(a))+len(r.intents(b)) != 0 {
		t.Fatal("orders were persisted under the global kill switch")
	}
}

func TestDailyLossLimitBlocksNewOrdersOnceReached(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, func(c *polybot.Config) { c.MaxDailyLossUSD = d("1") })
	// Today the tenant bought 10 at 0.90 and sold them at 0.70: −2.00.
	r.tenantTx(id, func(tx polybot.TenantTx) error {
		for i, f := range []*polybot.TradeFill{
			{Venue: polybot.Polymarket, TradeID: "t1", Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Instrument: pmYes,
				Side: polybot.Buy, Price: d("0.90"), Size: d("10"), Time: tx.Now()},
			{Venue: polybot.Polymarket, TradeID: "t2", Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Instrument: pmYes,
				Side: polybot.Sell, Price: d("0.70"), Size: d("10"), Time: tx.Now()},
		} {
			if ok, err := polybot.RecordFill(tx, f, nil); err != nil || !ok {
				return errors.Join(err, errors.New("fill "+itoa(int64(i))+" not recorded"))
			}
		}
		return nil
	})
	m := r.start(Config{Universe: pmUniverse()})
	r.waitRunning(id)
	mk := &market{r: r}
	// A new opportunity on each poll: on a loaded machine a runner may reach
	// one later than MaxOfferAge and drop it, which is not what this tests.
	var ticked time.Time
	eventually(t, "the bot is refused by the daily-loss limit", func() bool {
		st := m.Status(context.Background(), id)
		if st.State == polybot.BotRefused && strings.Contains(st.Reason, "daily limit") {
			return true
		}
		if time.Since(ticked) > 250*time.Millisecond {
			mk.tick()
			ticked = time.Now()
		}
		return false
	})
	mk.tick()
	time.Sleep(50 * time.Millisecond)
	// The refused decision is kept for the Orders page, rejected with the
	// reason; nothing was sent and nothing else persisted.
	ins := r.intents(id)
	if len(ins) != 2 {
		t.Fatalf("%d intents persisted, want the refused decision's 2 legs", len(ins))
	}
	for _, in := range ins {
		if in.State != polybot.IntentRejected || !strings.Contains(in.Error, "refused: Today's loss") ||
			!strings.HasPrefix(polybot.IntentReason(in), "Refused by your limits: Today's loss") {
			t.Fatalf("intent %+v (reason %q): want rejected by the daily-loss limit", in, polybot.IntentReason(in))
		}
	}
	if st := m.Status(context.Background(), id); st.Counters.Rejected != 1 || !strings.Contains(st.LastError, "daily limit") {
		t.Fatalf("status %+v", st)
	}
}

func TestRefusedWhenTheMonthlyTradeLimitIsReached(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, func(c *polybot.Config) { c.DryRun = false })
	r.tenantTx(id, func(tx polybot.TenantTx) error {
		for range 100 {
			if _, err := tx.IncrementTrades(); err != nil {
				return err
			}
		}
		return nil
	})
	m := r.start(Config{Universe: pmUniverse()})
	eventually(t, "the bot is refused", func() bool { return m.Status(context.Background(), id).State == polybot.BotRefused })
	if st := m.Status(context.Background(), id); !strings.Contains(st.Reason, "monthly trade limit is reached (100 of 100") || st.Mode != polybot.Live {
		t.Fatalf("status %+v", st)
	}
}

func TestRefusedWithoutAStrategyTheBotRuns(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, func(c *polybot.Config) { c.EnableSinglePlatformArb = false })
	m := r.start(Config{Universe: pmUniverse()})
	eventually(t, "the bot is refused", func() bool { return m.Status(context.Background(), id).State == polybot.BotRefused })
	if st := m.Status(context.Background(), id); !strings.Contains(st.Reason, "no strategy") {
		t.Fatalf("status %+v", st)
	}
}

func TestStartAndStopPersistAndControlTheBot(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, nil)
	r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(false) })
	m := r.start(Config{Universe: pmUniverse()})
	if st := m.Status(context.Background(), id); st.State != polybot.BotStopped {
		t.Fatalf("an unwanted bot is %s", st.State)
	}
	if err := m.Start(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	r.waitRunning(id)
	if err := m.Stop(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(context.Background(), id); st.State != polybot.BotStopped || st.StartedAt != nil {
		t.Fatalf("after stop: %+v", st)
	}
	var on bool
	r.tenantView(id, func(tx polybot.TenantTx) (err error) { on, err = tx.BotEnabled(); return })
	if on {
		t.Fatal("stop did not persist")
	}
	eventually(t, "the index drops the stopped bot", func() bool { return m.index.Load().tenants == 0 })
}

func TestPanicInOneTenantNeitherStopsOthersNorItself(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	a, b := r.user(polybot.TierFree, nil), r.user(polybot.TierFree, nil)
	var panicked atomic.Bool
	m := r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
		m.onAct = func(_ context.Context, t polybot.ID, _ Grant) {
			if t == a && panicked.CompareAndSwap(false, true) {
				panic("a bug in tenant a's strategy")
			}
		}
	})
	r.waitRunning(a, b)
	mk := &market{r: r}
	mk.tick()
	eventually(t, "tenant b trades", func() bool { return len(r.fills(b)) == 2 })
	eventually(t, "tenant a restarted", func() bool {
		st := m.Status(context.Background(), a)
		return st.Counters.Restarts == 1 && st.State == polybot.BotRunning
	})
	r.waitRunning(a, b)
	mk.tick()
	eventually(t, "tenant a trades after its restart", func() bool { return len(r.fills(a)) == 2 })
	if st := m.Status(context.Background(), a); st.LastError == "" || strings.Contains(st.LastError, "tenant a's strategy") {
		t.Fatalf("last error %q: say it restarted, without internals", st.LastError)
	}
	if s := m.Snapshot(); s.RunnerPanics != 1 || s.Restarts != 1 {
		t.Fatalf("metrics %+v", s)
	}
}

func TestSlowTenantDoesNotStallOthersOrTheDispatcher(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	slow, fast := r.user(polybot.TierFree, nil), r.user(polybot.TierFree, nil)
	release := make(chan struct{})
	var once sync.Once
	m := r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
		m.onAct = func(_ context.Context, t polybot.ID, _ Grant) {
			if t == slow {
				<-release
			}
		}
	})
	defer once.Do(func() { close(release) })
	r.waitRunning(slow, fast)
	mk := &market{r: r}
	for i := range 20 {
		mk.tick()
		eventually(t, "the dispatcher routes every opportunity", func() bool { return m.Snapshot().Opportunities >= int64(i+1) })
	}
	eventually(t, "the fast tenant trades while the slow one is stuck", func() bool { return len(r.fills(fast)) >= 2 })
	once.Do(func() { close(release) })
	// The slow tenant's mailbox held at most MailboxSize offers.
	if n := len(m.lookup(slow).box.items); n > m.cfg.MailboxSize {
		t.Fatalf("mailbox holds %d", n)
	}
}

func TestEventsReachSubscribersWithoutBlocking(t *testing.T) {
	var f fanout
	ch, cancel := f.subscribe()
	for i := range eventBuffer + 10 {
		f.publish(polybot.Event{Type: "status", Data: i})
	}
	if got := f.dropped.Load(); got != 10 {
		t.Fatalf("dropped %d, want 10", got)
	}
	if ev := <-ch; ev.Data != 0 {
		t.Fatalf("first event %+v", ev)
	}
	cancel()
	cancel()
	f.publish(polybot.Event{Type: "status"})
	if f.active() {
		t.Fatal("a cancelled subscriber is still active")
	}
}

func TestNothingIsSentWhenTheBookMovedBeforeTheFirstLeg(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, nil)
	var once sync.Once
	m := r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
		m.onAct = func(context.Context, polybot.ID, Grant) {
			// Someone takes the NO ask while the runner persists its intents.
			once.Do(func() { r.book(pmNo, nil, []polybot.Level{lv("0.70", "100")}) })
		}
	})
	r.waitRunning(id)
	(&market{r: r}).tick()
	eventually(t, "the intents are closed unsent", func() bool {
		ins := r.intents(id)
		return len(ins) == 2 && ins[0].State == polybot.IntentCancelled && ins[1].State == polybot.IntentCancelled
	})
	for _, in := range r.intents(id) {
		if !strings.Contains(in.Error, "the book moved") {
			t.Fatalf("intent %+v", in)
		}
	}
	if len(r.fills(id)) != 0 || m.Snapshot().BookMoved != 1 || m.Status(context.Background(), id).Counters.Unwinds != 0 {
		t.Fatalf("fills %d, snapshot %+v", len(r.fills(id)), m.Snapshot())
	}
}
