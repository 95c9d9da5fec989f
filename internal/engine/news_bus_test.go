package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/nats/natstest"
)

// newsOnPolymarket is a direct rule on the rig's Polymarket market: a
// headline on Williams and a cut buys up to 20 NO at up to 0.50. No exit
// comes within a test (an hour's time stop, no take profit or stop loss).
func newsOnPolymarket() *polybot.NewsRule {
	return &polybot.NewsRule{ID: "williams", Name: "Williams: cut", Enabled: true, AllOf: []string{"williams"}, AnyOf: []string{"cut"},
		Mode: polybot.NewsDirect, Markets: []polybot.BinaryMarket{{Yes: pmYes, No: pmNo}}, Outcome: polybot.No,
		MaxPrice: d("0.50"), MaxSize: d("20"), Window: time.Minute, TimeStop: time.Hour}
}

// newsUser is a tenant that trades news only, on Polymarket, with rule.
func newsUser(r *rig) polybot.ID {
	return r.user(polybot.TierFree, func(c *polybot.Config) {
		c.EnableNewsArbitrage, c.EnableSinglePlatformArb, c.EnablePolymarket = true, false, true
	})
}

// newsBuys are the tenant's news intents, read from the store.
func newsBuys(r *rig, id polybot.ID) []*polybot.Intent {
	var out []*polybot.Intent
	for _, in := range r.intents(id) {
		if in.Strategy == polybot.StrategyNews && in.Side == polybot.Buy {
			out = append(out, in)
		}
	}
	return out
}

// splitNews starts a gateway and an api node on a fresh bus, and returns
// a function that starts workers on it (their fires in log).
func splitNews(t *testing.T, r *rig) (api *Manager, worker func(id string, log *fireLog) *Manager) {
	cfg := natstest.Config(t)
	connect := func() polybot.Bus { return natstest.Connect(t, cfg) }
	rules := func(polybot.TenantTx) ([]*polybot.NewsRule, error) {
		return []*polybot.NewsRule{newsOnPolymarket()}, nil
	}
	strategies := []string{polybot.StrategySinglePlatform, polybot.StrategyNews}
	r.start(Config{Universe: pmUniverse(), Role: RoleGateway, Bus: connect(), Strategies: strategies, NewsRules: rules})
	api = r.start(Config{Universe: pmUniverse(), Role: RoleAPI, Bus: connect(), Strategies: strategies, NewsRules: rules})
	worker = func(id string, log *fireLog) *Manager {
		bus := connect()
		return r.start(Config{Universe: pmUniverse(), Role: RoleWorker, Bus: bus, Hubs: relayed(t, bus), WorkerID: id, Capacity: 1,
			LeaseTTL: 3 * time.Second, Strategies: strategies, NewsRules: rules,
			NewsFires: func(_ context.Context, f NewsFire) error { return log.record(nil, f) }})
	}
	return api, worker
}

// liveBook shows NO at 0.40 (100) and YES at 0.62 (no arbitrage: 1.02 a
// set; a news trade for the rule), again every 100 ms until the test ends,
// as a live market does: detection trusts only a fresh book, and the
// gateway relays only what its hubs are subscribed to by then.
func liveBook(t *testing.T, r *rig) {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			r.book(pmNo, []polybot.Level{lv("0.38", "100")}, []polybot.Level{lv("0.40", "100")})
			r.book(pmYes, []polybot.Level{lv("0.58", "100")}, []polybot.Level{lv("0.62", "100")})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (f *fireLog) of(tenant polybot.ID, action string) []NewsFire {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []NewsFire
	for _, x := range f.fires {
		if x.Tenant == tenant && x.Action == action {
			out = append(out, x)
		}
	}
	return out
}

// TestSplitRolesActOnAWebhookHeadlineAtTheWorkerHoldingTheTenant: a
// webhook headline received by an api node reaches the news desk of the
// worker that holds the tenant, over a real NATS server, and is acted on
// there once: the tenant buys, under its lease's epoch, and the other
// worker neither buys for it nor records a fire; a repost of the same
// headline is not posted again; with the bus gone the api node declines
// (EUNAVAILABLE) instead of dropping the headline.
func TestSplitRolesActOnAWebhookHeadlineAtTheWorkerHoldingTheTenant(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	a, b := newsUser(r), newsUser(r)
	api, worker := splitNews(t, r)
	logs := map[string]*fireLog{"w1": {}, "w2": {}}
	workers := map[string]*Manager{"w1": worker("w1", logs["w1"]), "w2": worker("w2", logs["w2"])}
	eventually(t, "each worker holds one tenant and runs it", func() bool {
		ls := leasesOf(r)
		return ls[a] != nil && ls[b] != nil && ls[a].Worker != ls[b].Worker &&
			api.Status(r.ctx, a).State == polybot.BotRunning && api.Status(r.ctx, b).State == polybot.BotRunning
	})
	holder, other := leasesOf(r)[a].Worker, leasesOf(r)[b].Worker
	liveBook(t, r)
	eventually(t, "the holder sees the gateway's book", func() bool {
		v, ok := workers[holder].books.View(pmNo)
		return ok && len(v.Asks) > 0
	})

	h := polybot.Headline{ID: "h-williams-" + randomHex(4), Source: "hook-a", SourceName: "A's wire",
		Title: "Fed's Williams sees room for a cut", Received: time.Now()}
	if err := api.PostHeadlines(r.ctx, a, []polybot.Headline{h}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the tenant's news buy is filled", func() bool {
		for _, f := range r.fills(a) {
			if f.Strategy == polybot.StrategyNews {
				return true
			}
		}
		return false
	})
	buys := newsBuys(r, a)
	if len(buys) != 1 || buys[0].Instrument != pmNo || buys[0].Size != d("20") || buys[0].Price != d("0.40") {
		t.Fatalf("news intents %+v, want one buy of 20 NO at 0.40", buys)
	}
	if l := leasesOf(r)[a]; buys[0].Epoch != l.Epoch {
		t.Fatalf("the buy was made under epoch %d; the tenant's lease is %+v", buys[0].Epoch, l)
	}
	eventually(t, "the holder records the fire", func() bool { return len(logs[holder].of(a, "sent")) == 1 })
	if f := logs[holder].of(a, "sent")[0]; f.HeadlineID != h.ID || f.Latency <= 0 {
		t.Fatalf("fire %+v, want headline %s with its latency from the api node's receipt", f, h.ID)
	}
	if n := len(logs[holder].of(a, "offered")); n != 1 {
		t.Fatalf("the holder offered the trade %d times, want once", n)
	}
	if fs := logs[other].fires; len(fs) != 0 {
		t.Fatalf("the worker that does not hold the tenant recorded fires %+v", fs)
	}
	if n := len(newsBuys(r, b)); n != 0 {
		t.Fatalf("the other tenant has %d news intents: a webhook headline is its owner's only", n)
	}

	// The sender's retry (to this or another api node) is not posted again.
	data, err := json.Marshal(busHeadline{Tenant: a, Headline: h})
	if err != nil {
		t.Fatal(err)
	}
	if posted, err := api.cfg.Bus.Post(r.ctx, NewsKind, a.String()+"."+h.ID, data); err != nil || posted {
		t.Fatalf("reposting the headline: posted %v, %v; want not posted", posted, err)
	}
	if err := api.PostHeadlines(r.ctx, a, []polybot.Headline{h}); err != nil {
		t.Fatalf("a repost is not an error: %v", err)
	}

	// Without the bus the api node says so.
	_ = api.cfg.Bus.Close()
	h2 := h
	h2.ID = "h-williams-again"
	if err := api.PostHeadlines(r.ctx, a, []polybot.Headline{h2}); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("posting with the bus closed: %v, want EUNAVAILABLE", err)
	}
}

// TestSplitRolesKeepAWebhookHeadlineForTheTenantsNextHolder: a headline
// that arrives while the tenant's lease belongs to a worker that died
// waits on the bus; the worker that claims the tenant when that lease
// lapses takes it and acts on it under its own epoch.
func TestSplitRolesKeepAWebhookHeadlineForTheTenantsNextHolder(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	a := newsUser(r)
	// A worker that holds the tenant's lease, and dies (renews no more)
	// once the headline is on its way.
	claim := func(ttl time.Duration) {
		if err := r.db.Admin(r.ctx, func(tx polybot.AdminTx) error { _, err := tx.ClaimLeases("w-dead", 1, ttl); return err }); err != nil {
			t.Fatal(err)
		}
	}
	claim(time.Minute)
	dead := leasesOf(r)[a]
	if dead == nil || dead.Worker != "w-dead" {
		t.Fatalf("lease %+v, want the dead worker's", dead)
	}
	api, worker := splitNews(t, r)
	log := &fireLog{}
	w2 := worker("w2", log)
	liveBook(t, r)
	eventually(t, "the next holder sees the gateway's book", func() bool {
		v, ok := w2.books.View(pmNo)
		return ok && len(v.Asks) > 0
	})

	h := polybot.Headline{ID: "h-williams-" + randomHex(4), Source: "hook-a", Title: "Williams: a cut is on the table", Received: time.Now()}
	claim(2 * time.Second) // its last renewal
	if err := api.PostHeadlines(r.ctx, a, []polybot.Headline{h}); err != nil {
		t.Fatal(err)
	}
	if l := leasesOf(r)[a]; l == nil || l.Worker != "w-dead" {
		t.Fatalf("the lease was %+v when the headline was posted: the test wants it still the dead worker's", l)
	}
	eventually(t, "the next holder buys on the headline", func() bool { return len(newsBuys(r, a)) == 1 })
	l := leasesOf(r)[a]
	if l.Worker != "w2" || l.Epoch != dead.Epoch+1 {
		t.Fatalf("lease %+v, want w2's under epoch %d", l, dead.Epoch+1)
	}
	if in := newsBuys(r, a)[0]; in.Epoch != l.Epoch {
		t.Fatalf("the buy was made under epoch %d, want %d", in.Epoch, l.Epoch)
	}
	eventually(t, "w2 records the fire", func() bool { return len(log.of(a, "sent")) == 1 })
	if f := log.of(a, "sent")[0]; f.HeadlineID != h.ID {
		t.Fatalf("fire %+v", f)
	}
}
