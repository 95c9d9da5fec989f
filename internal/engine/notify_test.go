package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/notify/notifytest"
)

// benchNotifier runs a notification dispatcher for tenant over the rig's
// store, with a verified webhook destination (every event) whose receiver
// checks signatures, until the benchmark ends. With noopSend the
// dispatcher does all its store work (claims, records) but its sends do
// nothing: what is left is the outbox's cost, without the HTTP.
func benchNotifier(b *testing.B, r *rig, tenant polybot.ID, noopSend bool) *notify.Dispatcher {
	b.Helper()
	rcv := notifytest.NewReceiver(b)
	d := notify.New(notify.Config{Store: r.db, Box: r.box, Rate: 1000, Burst: 1000, // the default poll: once a second
		DigestWindow: time.Second, Senders: map[string]notify.Sender{polybot.ChannelWebhook: notify.NewWebhook(notify.HTTPConfig{AllowPrivate: true}, nil)}})
	dest, secret, err := d.CreateDestination(r.ctx, tenant, &polybot.NotifyDestinationInput{Channel: polybot.ChannelWebhook, Name: "bench", URL: rcv.URL})
	if err != nil {
		b.Fatal(err)
	}
	rcv.SetSecret(secret)
	if _, err := d.SendTest(r.ctx, tenant, dest.ID); err != nil {
		b.Fatal(err)
	}
	if noopSend {
		d = notify.New(notify.Config{Store: r.db, Box: r.box, Rate: 1000, Burst: 1000, Senders: map[string]notify.Sender{polybot.ChannelWebhook: noopSender{}}})
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	b.Cleanup(func() {
		cancel()
		<-done
		_, byKey, bad := rcv.Stats()
		b.ReportMetric(float64(len(byKey)), "webhooks")
		if len(bad) > 0 {
			b.Errorf("the receiver refused %v", bad)
		}
	})
	return d
}

// noopSender sends nothing and succeeds.
type noopSender struct{}

func (noopSender) Send(context.Context, notify.Target, *notify.Message) error { return nil }

// hookLog records what the engine tells its NotifyHook.
type hookLog struct {
	mu     sync.Mutex
	states []string
	opps   int
}

func (h *hookLog) Opportunity(polybot.ID, *polybot.Opportunity) { h.mu.Lock(); h.opps++; h.mu.Unlock() }

func (h *hookLog) BotState(_ polybot.ID, state, reason string) {
	h.mu.Lock()
	h.states = append(h.states, state+": "+reason)
	h.mu.Unlock()
}

func (h *hookLog) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.states...)
}

func TestTheNotifyHookHearsAHaltOnceAndNotTheRunningState(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, nil)
	h := &hookLog{}
	m := r.start(Config{Universe: pmUniverse(), Notify: h})
	r.waitRunning(id)
	r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) })
	if err := m.Reload(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hook hears the halt", func() bool { return len(h.seen()) > 0 })
	if err := m.Reload(r.ctx, id); err != nil { // the same state again: not a change
		t.Fatal(err)
	}
	r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltActive) })
	if err := m.Reload(r.ctx, id); err != nil {
		t.Fatal(err)
	}
	r.waitRunning(id)
	if got := h.seen(); len(got) != 1 || got[0] != "halted: trading is halted for this account" {
		t.Fatalf("the hook heard %q, want the one halt", got)
	}
}

// addNotifyDestination gives tenant a verified webhook destination that
// takes every event (nothing sends to it: the tests read the outbox).
func addNotifyDestination(t testing.TB, r *rig, tenant polybot.ID) {
	t.Helper()
	r.tenantTx(tenant, func(tx polybot.TenantTx) error {
		now := tx.Now()
		return tx.PutNotifyDestination(&polybot.NotifyDestination{ID: "dest", Channel: polybot.ChannelWebhook, Name: "hook",
			Target: "https://example.com", Enabled: true, VerifiedAt: &now, Sealed: map[string]string{}})
	})
}

// queuedNotifications is the tenant's outbox: each event type's payload.
func queuedNotifications(t testing.TB, r *rig, tenant polybot.ID) map[string]string {
	t.Helper()
	out := map[string]string{}
	r.tenantView(tenant, func(tx polybot.TenantTx) error {
		ds, err := tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{})
		for _, d := range ds {
			out[d.Event] = string(d.Payload)
		}
		return err
	})
	return out
}
