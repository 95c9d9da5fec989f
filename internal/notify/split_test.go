package notify_test

import (
	"context"
	"fmt"
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

// webhookTo adds a verified webhook destination through sender.
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
