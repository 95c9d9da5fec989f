//go:build unix

package failovertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/crashtest/simcheck"
	"github.com/polybot/polybot/internal/notify/notifytest"
)

// TestSplitRolesQueueTheEnginesAlertsOnceAndTheAPISendsThem: in a split
// deployment the engine's notifications come from the gateway and the
// workers (a bot refused or halted; opportunities), which send nothing;
// they must reach the outbox, and the api node must send them. Every
// tenant has a verified webhook destination; the platform goes
// reducing-only, so every bot is halted, on its worker and in the
// gateway's view of it. Each tenant's receiver must get the halt alert
// exactly once, sent by the api node from the outbox.
func TestSplitRolesQueueTheEnginesAlertsOnceAndTheAPISendsThem(t *testing.T) {
	const n = 4
	c := newCluster(t, n, leaseTTL)
	rcv := notifytest.NewReceiver(t)
	const signing = "whsec_failovertest_0123456789abcdef"
	rcv.SetSecret(signing)
	ctx := context.Background()
	for _, tn := range c.tenants {
		if err := c.st.Tenant(ctx, tn.id, func(tx polybot.TenantTx) error {
			now := tx.Now()
			d := &polybot.NotifyDestination{ID: fmt.Sprintf("dst_tenant%d", tn.n), Channel: polybot.ChannelWebhook, Name: "receiver", Target: rcv.URL,
				Events: []string{}, Enabled: true, VerifiedAt: &now, Sealed: map[string]string{}}
			for field, v := range map[string]string{polybot.NotifyFieldURL: rcv.URL, polybot.NotifyFieldSigning: signing} {
				s, err := c.box.SealNotify(ctx, tx, d.ID, field, []byte(v))
				if err != nil {
					return err
				}
				d.Sealed[field] = s
			}
			return tx.PutNotifyDestination(d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	gw, api := c.start("gateway", "gateway"), c.start("api", "api", "--notify-allow-private")
	w1 := c.startWorker("w1", n)
	c.waitHeld("w1", n, 30*time.Second)

	c.haltAndSettle(gw, w1)
	// halts is every tenant's halt alerts in the outbox.
	halts := func() map[*tenant][]*polybot.NotifyDelivery {
		out := map[*tenant][]*polybot.NotifyDelivery{}
		for _, tn := range c.tenants {
			if err := c.st.TenantView(ctx, tn.id, func(tx polybot.TenantTx) error {
				ds, err := tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{})
				for _, d := range ds {
					if d.Event == polybot.NotifyBotHalted {
						out[tn] = append(out[tn], d)
					}
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		delivered := 0
		for _, ds := range halts() {
			for _, d := range ds {
				if d.State == polybot.DeliveryDelivered {
					delivered++
				}
			}
		}
		if delivered >= n {
			break
		}
		if time.Now().After(deadline) {
			_, byKey, bad := rcv.Stats()
			t.Fatalf("30 s after the halt %d halt alerts were delivered (the receiver took %d, refused %v); want one for each of the %d tenants",
				delivered, len(byKey), bad, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range []*simcheck.Proc{w1, gw, api} {
		p.Stop(t, 30*time.Second)
	}
	_, byKey, bad := rcv.Stats()
	if len(bad) != 0 {
		t.Errorf("the receiver refused %v", bad)
	}
	all := halts()
	for _, tn := range c.tenants {
		ds := all[tn]
		if len(ds) != 1 || ds[0].State != polybot.DeliveryDelivered || byKey[ds[0].Key] != 1 ||
			!strings.Contains(string(ds[0].Payload), "platform-wide reducing-only") {
			for _, d := range ds {
				t.Logf("tenant %d: %s %s after %d attempts, received %d times: %s", tn.n, d.EventID, d.State, d.Attempts, byKey[d.Key], d.Payload)
			}
			t.Errorf("tenant %d: %d halt alerts; want one, delivered and received once", tn.n, len(ds))
		}
	}
}
