package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
)

// countingSender takes every message and counts it by idempotency key.
type countingSender struct {
	mu    sync.Mutex
	byKey map[string]int
}

func newCountingSender() *countingSender { return &countingSender{byKey: map[string]int{}} }

func (s *countingSender) Send(_ context.Context, _ notify.Target, m *notify.Message) error {
	s.mu.Lock()
	s.byKey[m.Key]++
	s.mu.Unlock()
	return nil
}

func (s *countingSender) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKey[key]
}

// rendezvous holds a dispatcher between reading a batch and claiming it
// until the other dispatcher has read the same batch, so that both claim
// every batch at once, having read the same attempts.
type rendezvous struct {
	t       *testing.T
	mu      sync.Mutex
	waiting map[int64]chan struct{}
	met     int
}

func newRendezvous(t *testing.T) *rendezvous {
	return &rendezvous{t: t, waiting: map[int64]chan struct{}{}}
}

func (r *rendezvous) meet(batch []polybot.NotifyDue) {
	r.mu.Lock()
	if ch, ok := r.waiting[batch[0].ID]; ok {
		delete(r.waiting, batch[0].ID)
		r.met++
		r.mu.Unlock()
		close(ch)
		return
	}
	ch := make(chan struct{})
	r.waiting[batch[0].ID] = ch
	r.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(time.Minute): // a safety net: both always come
		r.t.Errorf("the other dispatcher never came to claim the batch of delivery %d", batch[0].ID)
	}
}

// opener is a store to test on: a rig, and another store on the same
// database as a second node would open.
type opener struct {
	name string
	open func(t *testing.T, cfg func(*notify.Config)) (*rig, func() polybot.Store)
}

var openers = []opener{
	{"SQLite", func(t *testing.T, cfg func(*notify.Config)) (*rig, func() polybot.Store) {
		// One process holds SQLite's single writer: the nodes share it.
		r := newRig(t, "", cfg)
		return r, func() polybot.Store { return r.db }
	}},
	{"PostgreSQL", func(t *testing.T, cfg func(*notify.Config)) (*rig, func() polybot.Store) {
		return newPostgresRig(t, cfg)
	}},
}

// verifiedWebhook adds a webhook destination and verifies it with a
// test message through the rig's webhook sender.
func (r *rig) verifiedWebhook() *polybot.NotifyDestination {
	r.t.Helper()
	dest, _ := r.webhook("https://hooks.example.com/polybot")
	dest, err := r.d.SendTest(r.ctx, r.user, dest.ID) // a 2xx verifies a webhook
	if err != nil {
		r.t.Fatal(err)
	}
	if !dest.Verified() {
		r.t.Fatalf("the test message did not verify %+v", dest)
	}
	return dest
}

func TestTwoDispatchersOnOneStoreSendEveryDueDeliveryOnceWhenTheirClaimsOverlap(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			sender := newCountingSender()
			r, other := o.open(t, func(c *notify.Config) {
				c.Senders[polybot.ChannelWebhook] = sender
				c.Batch = 10
			})
			r.addUser("twice@example.com")
			r.verifiedWebhook()
			const n = 60
			for i := range n {
				r.alert(fmt.Sprintf("twice-%02d", i))
			}
			cfg := r.cfg
			cfg.Store = other()
			d2 := notify.New(cfg)
			meet := newRendezvous(t)
			notify.SetBeforeClaim(r.d, meet.meet)
			notify.SetBeforeClaim(d2, meet.meet)
			var wg sync.WaitGroup
			var tried [2]int
			var errs [2]error
			for i, d := range []*notify.Dispatcher{r.d, d2} {
				wg.Go(func() { tried[i], errs[i] = d.Drain(r.ctx) })
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("Drain: %v, %v", errs[0], errs[1])
			}
			if tried[0] != n || tried[1] != n || meet.met != n/cfg.Batch {
				t.Fatalf("the dispatchers read %d and %d deliveries and met at %d claims; want %d each at %d (every batch claimed by both at once)",
					tried[0], tried[1], meet.met, n, n/cfg.Batch)
			}
			ds := r.deliveries()
			if len(ds) != n {
				t.Fatalf("%d deliveries, want %d", len(ds), n)
			}
			for _, d := range ds {
				if got := sender.count(d.Key); got != 1 || d.State != polybot.DeliveryDelivered || d.Attempts != 1 {
					t.Errorf("delivery %s: sent %d times, %s after %d attempts; want sent once, delivered after 1", d.EventID, got, d.State, d.Attempts)
				}
			}
			if sent := r.d.Sent.Load() + d2.Sent.Load(); sent != n {
				t.Errorf("the dispatchers sent %d + %d, want %d in all", r.d.Sent.Load(), d2.Sent.Load(), n)
			}
		})
	}
}

// hookOnly starts a dispatcher on st that runs only its hooks, as a
// gateway or a worker does, until the test ends.
func hookOnly(t *testing.T, cfg notify.Config, st polybot.Store) *notify.Dispatcher {
	cfg.Store, cfg.Senders = st, map[string]notify.Sender{} // it sends nothing: the api node does
	d := notify.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.RunHooks(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// waitQueued waits until each dispatcher's hooks have written at least
// want events to the outbox, moving the clock on by step each round (the
// digest flushes once its window has passed).
func (r *rig) waitQueued(want int64, step time.Duration, ds ...*notify.Dispatcher) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := true
		for _, d := range ds {
			all = all && d.Queued.Load() >= want
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			for i, d := range ds {
				r.t.Logf("dispatcher %d queued %d", i, d.Queued.Load())
			}
			r.t.Fatalf("the hooks did not queue %d events each within 20 s", want)
		}
		r.clock.Advance(step)
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHookOnlyDispatchersQueueOneAlertAndOneDigestWhichTheAPINodesDispatcherSends(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			sender := newCountingSender()
			r, other := o.open(t, func(c *notify.Config) {
				c.Senders[polybot.ChannelWebhook] = sender
				c.DigestWindow = 40 * time.Millisecond
			})
			r.addUser("split@example.com")
			r.verifiedWebhook()
			r.tenant(func(tx polybot.TenantTx) error {
				c, err := tx.Config()
				if err != nil {
					return err
				}
				c.NotifyOnOpportunity, c.NotificationChannels = true, []string{polybot.ChannelWebhook}
				return tx.UpdateConfig(c)
			})
			// Two gateways (the second one overlapping the first, as in a
			// botched rollout) and a worker, each on a store of its own.
			gw, gw2, worker := hookOnly(t, r.cfg, other()), hookOnly(t, r.cfg, other()), hookOnly(t, r.cfg, other())
			const why = "platform-wide reducing-only: no new positions"
			// The first gateway's window opens at a whole second, the
			// second's 10 ms later: the same 40 ms slot.
			r.clock.Set(T0.Truncate(time.Second).Add(time.Hour))
			for i, g := range []*notify.Dispatcher{gw, gw2} {
				for j := range 3 - i {
					g.Opportunity(r.user, &polybot.Opportunity{ID: fmt.Sprintf("opp-%d", j), Strategy: polybot.StrategyCrossPlatform,
						ProfitPct: polybot.MustDecimal("1.5"), NetEdge: polybot.MustDecimal("0.015"), Size: polybot.MustDecimal("20")})
				}
				g.BotState(r.user, polybot.BotHalted, why)
				r.waitQueued(1, 0, g) // the alert is queued after the opportunities: they are digested, their window open
				r.clock.Advance(10 * time.Millisecond)
			}
			worker.BotState(r.user, polybot.BotHalted, why)
			r.waitQueued(1, 0, worker)
			ds := r.deliveries()
			if len(ds) != 1 || ds[0].Event != polybot.NotifyBotHalted || ds[0].State != polybot.DeliveryPending || ds[0].Attempts != 0 {
				t.Fatalf("after three processes heard the bot halted the outbox holds %v; want one halt alert, pending", eventIDs(ds))
			}
			r.waitQueued(2, time.Minute, gw, gw2) // the window passes: each gateway flushes its digest
			ds = r.deliveries()
			byType := map[string]*polybot.NotifyDelivery{}
			for _, d := range ds {
				if byType[d.Event] != nil || d.State != polybot.DeliveryPending || d.Attempts != 0 {
					t.Errorf("delivery %s: %s after %d attempts (a second of its type?); want each type once, pending", d.EventID, d.State, d.Attempts)
				}
				byType[d.Event] = d
			}
			if len(ds) != 2 || byType[polybot.NotifyOpportunity] == nil {
				t.Fatalf("after two gateways digested one window the outbox holds %v; want the alert and one digest", eventIDs(ds))
			}
			if n, err := r.d.Drain(r.ctx); n != 2 || err != nil {
				t.Fatalf("the api node's dispatcher drained %d, %v; want the two", n, err)
			}
			for _, d := range r.deliveries() {
				if d.State != polybot.DeliveryDelivered || sender.count(d.Key) != 1 {
					t.Errorf("delivery %s: %s, sent %d times; want delivered once", d.EventID, d.State, sender.count(d.Key))
				}
			}
			var ev polybot.NotifyEvent
			if err := json.Unmarshal(byType[polybot.NotifyOpportunity].Payload, &ev); err != nil || !strings.Contains(ev.Text, "cross_platform: 1.50% net") ||
				!(strings.HasPrefix(ev.Title, "3 opportunities since") || strings.HasPrefix(ev.Title, "2 opportunities since")) {
				t.Errorf("the digest: %+v (%v); want one gateway's 3 or 2 opportunities", ev, err)
			}
		})
	}
}

func eventIDs(ds []*polybot.NotifyDelivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.EventID+" ("+d.State+")")
	}
	return out
}
