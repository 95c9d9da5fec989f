package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/nats/natstest"
)

// relayed returns hubs of every venue fed from the bus, running until the
// test ends.
func relayed(t *testing.T, bus polybot.Bus) map[polybot.Platform]*marketdata.Hub {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	hubs := map[polybot.Platform]*marketdata.Hub{}
	for _, p := range polybot.Platforms {
		h := marketdata.NewHub(marketdata.NewRelayFeed(p, bus), marketdata.HubConfig{})
		hubs[p] = h
		go func() { _ = h.Run(ctx) }()
	}
	return hubs
}

func leasesOf(r *rig) map[polybot.ID]*polybot.Lease {
	r.t.Helper()
	var ls []*polybot.Lease
	if err := r.db.AdminView(r.ctx, func(tx polybot.AdminTx) (err error) { ls, err = tx.Leases(); return }); err != nil {
		r.t.Fatal(err)
	}
	out := map[polybot.ID]*polybot.Lease{}
	for _, l := range ls {
		if l.ExpiresAt.After(time.Now()) {
			out[l.Tenant] = l
		}
	}
	return out
}

// TestSplitRolesTradeAsOneProcessDoes runs a gateway, two workers and an
// api node in one test process over a real NATS server and one store: the
// workers share the tenants through leases, the gateway's grants reach the
// worker holding each tenant, the depth the book shows is lent once across
// both workers, every intent carries its lease's epoch, and the api node
// sees each bot's status as its worker reports it.
func TestSplitRolesTradeAsOneProcessDoes(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	cfg := natstest.Config(t)
	gwBus, w1Bus, w2Bus, apiBus := natstest.Connect(t, cfg), natstest.Connect(t, cfg), natstest.Connect(t, cfg), natstest.Connect(t, cfg)
	var ids []polybot.ID
	for range 6 {
		ids = append(ids, r.user(polybot.TierFree, nil)) // dry run, single-platform, $50 a trade, 1% minimum
	}
	gw := r.start(Config{Universe: pmUniverse(), Role: RoleGateway, Bus: gwBus})
	worker := func(id string, bus polybot.Bus) *Manager {
		return r.start(Config{Universe: pmUniverse(), Role: RoleWorker, Bus: bus, Hubs: relayed(t, bus), WorkerID: id, Capacity: 3,
			LeaseTTL: 3 * time.Second})
	}
	worker("w1", w1Bus)
	worker("w2", w2Bus)
	api := r.start(Config{Universe: pmUniverse(), Role: RoleAPI, Bus: apiBus, Hubs: relayed(t, apiBus)})

	eventually(t, "both workers hold three tenants each", func() bool {
		n := map[string]int{}
		for _, l := range leasesOf(r) {
			n[l.Worker]++
		}
		return n["w1"] == 3 && n["w2"] == 3
	})
	eventually(t, "the api node sees every bot running", func() bool {
		for _, id := range ids {
			if api.Status(r.ctx, id).State != polybot.BotRunning {
				return false
			}
		}
		return true
	})

	eventually(t, "the gateway knows who holds every tenant", func() bool {
		for _, id := range ids {
			if gw.gw.holder(id) == "" {
				return false
			}
		}
		return true
	})

	// The api node's live streams (the dashboards' SSE) carry what the
	// workers' runners do.
	streams := make([]<-chan polybot.Event, len(ids))
	for i, id := range ids {
		ch, cancel := api.Subscribe(id)
		t.Cleanup(cancel)
		streams[i] = ch
	}
	time.Sleep(100 * time.Millisecond) // the subscriptions reach NATS

	// YES 0.45 + NO 0.50 = 0.95 a set, 100 shown on each leg: $50 buys
	// 52.63 sets, so the book has room for one tenant and most of a second,
	// whichever workers they are on.
	r.book(pmYes, []polybot.Level{lv("0.44", "80")}, []polybot.Level{lv("0.45", "100")})
	r.book(pmNo, []polybot.Level{lv("0.49", "80")}, []polybot.Level{lv("0.50", "100")})

	total := func() (polybot.Decimal, int) {
		sum, n := polybot.Zero, 0
		for _, id := range ids {
			for _, f := range r.fills(id) {
				if f.Instrument == pmYes {
					sum = sum.Add(f.Size)
					n++
				}
			}
		}
		return sum, n
	}
	eventually(t, "two tenants' fills are recorded", func() bool { _, n := total(); return n >= 2 })
	time.Sleep(500 * time.Millisecond) // nothing more may come for this book
	sum, n := total()
	if sum.GreaterThan(d("100")) || n != 2 {
		t.Fatalf("%d tenants bought %s YES in all; the book showed 100: depth lent more than once", n, sum)
	}
	fillEvents := 0
	for _, ch := range streams {
	drain:
		for {
			select {
			case ev := <-ch:
				if ev.Type == "fill" {
					fillEvents++
				}
			default:
				break drain
			}
		}
	}
	if fillEvents != 2*n {
		t.Fatalf("the api node's streams carried %d fill events, want %d (two legs for each of %d tenants)", fillEvents, 2*n, n)
	}
	leases := leasesOf(r)
	for _, id := range ids {
		for _, in := range r.intents(id) {
			if l := leases[id]; in.Epoch == 0 || l == nil || in.Epoch != l.Epoch {
				t.Fatalf("intent %s under epoch %d; the tenant's lease is %+v", in.ID, in.Epoch, l)
			}
		}
	}
}

// A worker builds no interest index (the gateway routes), so a reload
// (the api node's control message) must not wait for one: it returns at
// once with the new settings in the runner's hands.
func TestAWorkersReloadReturnsWithTheNewSettings(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	bus := natstest.Open(t)
	id := r.user(polybot.TierFree, nil)
	w := r.start(Config{Universe: pmUniverse(), Role: RoleWorker, Bus: bus, Hubs: relayed(t, bus), WorkerID: "w1", LeaseTTL: 3 * time.Second})
	eventually(t, "the worker runs the tenant", func() bool { return w.Status(r.ctx, id).State == polybot.BotRunning })
	r.tenantTx(id, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		c.MinProfitPct = d("2.5")
		return tx.UpdateConfig(c)
	})
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	if err := w.Reload(ctx, id); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := w.lookup(id).snap.Load().cfg.MinProfitPct; got.Cmp(d("2.5")) != 0 {
		t.Fatalf("after the reload the runner trades with min_profit_pct %s, want 2.5", got)
	}
}

// TestSplitRolesFollowAConfigChange: a config change saved through the api
// node (store, then Reload → control) reaches the gateway's routing: a
// tenant whose 10% minimum is above an opportunity's is not offered it,
// and once it lowers the minimum to 1% the next one is traded (the
// gateway's interest index, which buckets tenants by minimum, follows).
func TestSplitRolesFollowAConfigChange(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	cfg := natstest.Config(t)
	gwBus, wBus, apiBus := natstest.Connect(t, cfg), natstest.Connect(t, cfg), natstest.Connect(t, cfg)
	id := r.user(polybot.TierFree, func(c *polybot.Config) { c.MinProfitPct = d("10") }) // single-platform
	gw := r.start(Config{Universe: pmUniverse(), Role: RoleGateway, Bus: gwBus})
	r.start(Config{Universe: pmUniverse(), Role: RoleWorker, Bus: wBus, Hubs: relayed(t, wBus), WorkerID: "w1", LeaseTTL: 3 * time.Second})
	api := r.start(Config{Universe: pmUniverse(), Role: RoleAPI, Bus: apiBus, Hubs: relayed(t, apiBus)})
	eventually(t, "the bot runs and the gateway knows its worker", func() bool {
		return api.Status(r.ctx, id).State == polybot.BotRunning && gw.gw.holder(id) == "w1"
	})
	setMin := func(pct string) {
		r.tenantTx(id, func(tx polybot.TenantTx) error {
			c, err := tx.Config()
			if err != nil {
				return err
			}
			c.MinProfitPct = d(pct)
			return tx.UpdateConfig(c)
		})
		if err := api.Reload(r.ctx, id); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the gateway follows the new minimum", func() bool {
			s := gw.tenant(id).snap.Load()
			return s != nil && s.cfg.MinProfitPct == d(pct)
		})
	}
	yesFills := func() int {
		n := 0
		for _, f := range r.fills(id) {
			if f.Instrument == pmYes {
				n++
			}
		}
		return n
	}
	// 0.45 + 0.50: 5.26% a set, under the 10% minimum the tenant started with.
	r.book(pmNo, []polybot.Level{lv("0.49", "80")}, []polybot.Level{lv("0.50", "1000")})
	r.book(pmYes, []polybot.Level{lv("0.44", "80")}, []polybot.Level{lv("0.45", "1000")})
	time.Sleep(time.Second)
	if n := yesFills(); n != 0 {
		t.Fatalf("%d fills of a 5.26%% opportunity under a 10%% minimum", n)
	}
	setMin("1")
	r.book(pmYes, []polybot.Level{lv("0.44", "80")}, []polybot.Level{lv("0.45", "999")})
	eventually(t, "the next opportunity is traded under the 1% minimum", func() bool { return yesFills() == 1 })
}

// unackedBus sends for real but reports every SendAll message as sent
// without an acknowledgement (an ack lost to a timeout).
type unackedBus struct{ polybot.Bus }

func (b unackedBus) SendAll(ctx context.Context, msgs []polybot.Outgoing) []error {
	errs := b.Bus.SendAll(ctx, msgs)
	for i, err := range errs {
		if err == nil {
			errs[i] = fmt.Errorf("send to %s: %w", msgs[i].Queue, polybot.ErrMaybeSent)
		}
	}
	return errs
}

// A grant whose send was not acknowledged may still reach its worker and
// trade: the gateway counts its depth used, so the book's depth is never
// lent twice, even when the book is shown again unchanged.
func TestAGrantSentWithoutAcknowledgementIsCountedUsed(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	cfg := natstest.Config(t)
	gwBus, wBus := natstest.Connect(t, cfg), natstest.Connect(t, cfg)
	ids := []polybot.ID{r.user(polybot.TierFree, nil), r.user(polybot.TierFree, nil)} // $50 a trade each
	var mu sync.Mutex
	lent := polybot.Zero
	gw := r.startWith(Config{Universe: pmUniverse(), Role: RoleGateway, Bus: unackedBus{gwBus}}, func(m *Manager) {
		m.disp.onGrant = func(g Grant) {
			mu.Lock()
			lent = lent.Add(g.Sets)
			mu.Unlock()
		}
	})
	w := r.start(Config{Universe: pmUniverse(), Role: RoleWorker, Bus: wBus, Hubs: relayed(t, wBus), WorkerID: "w1", Capacity: 2, LeaseTTL: 3 * time.Second})
	// Both runners run before the book is shown once: a grant that
	// reaches a tenant still starting is given back, and here, sent
	// without an acknowledgement, its depth stays counted used.
	eventually(t, "the gateway indexes both tenants held and the worker runs them", func() bool {
		return gw.gw.holder(ids[0]) != "" && gw.gw.holder(ids[1]) != "" && gw.Snapshot().Indexed == 2 && w.states[stRunning].Load() == 2
	})
	// 100 sets shown: room for one $50 tenant (52.63 sets) and most of
	// the other.
	show := func(bid string) {
		r.book(pmYes, []polybot.Level{lv(bid, "80")}, []polybot.Level{lv("0.45", "100")})
		r.book(pmNo, []polybot.Level{lv("0.49", "80")}, []polybot.Level{lv("0.50", "100")})
	}
	show("0.44")
	eventually(t, "both tenants trade", func() bool { return len(r.fills(ids[0])) > 0 && len(r.fills(ids[1])) > 0 })
	eventually(t, "every grant is resolved", func() bool { return gw.disp.held() == 0 })
	// The same asks again (only the bid moved): nothing is free to lend.
	for _, bid := range []string{"0.43", "0.42", "0.41"} {
		show(bid)
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if lent.GreaterThan(d("100")) || lent.Sign() <= 0 {
		t.Fatalf("the gateway lent %s sets in all on a book showing 100", lent)
	}
}

// TestLeaseViewReadsNewClaimsOnly checks where a gateway's next read of
// new claims starts: claimOverlap before the latest claim while claims
// come, and no further back than claimOverlap before the last read's reach
// once they stop (the same thousands of claims were read again each
// second, forever, after a worker's start).
func TestLeaseViewReadsNewClaimsOnly(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name         string
		cursor, last time.Time
		want         time.Time
	}{
		{"claims keep coming", t0, t0.Add(500 * time.Millisecond), t0.Add(-claimOverlap)},
		{"a claim stamped ahead of the reader's clock", t0.Add(time.Second), t0, t0.Add(time.Second - claimOverlap)},
		{"claims stopped a minute ago", t0, t0.Add(time.Minute), t0.Add(time.Minute - 2*claimOverlap)},
		{"nothing read yet", time.Time{}, time.Time{}, time.Time{}.Add(-claimOverlap)},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := &leaseView{cursor: c.cursor, last: c.last}
			if got := v.since(); !got.Equal(c.want) {
				t.Errorf("since = %s, want %s", got, c.want)
			}
		})
	}
}
