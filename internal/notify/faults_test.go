package notify_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/notify/notifytest"
)

func webhookRig(t *testing.T, cfg func(*notify.Config)) (*rig, *notifytest.Receiver) {
	rcv := notifytest.NewReceiver(t)
	r := newRig(t, "", func(c *notify.Config) {
		c.Senders[polybot.ChannelWebhook] = notify.NewWebhook(notify.HTTPConfig{AllowPrivate: true}, nil)
		c.SendTimeout = 300 * time.Millisecond
		if cfg != nil {
			cfg(c)
		}
	})
	r.addUser("faults@example.com")
	dest, secret := r.webhook(rcv.URL)
	rcv.SetSecret(secret)
	if _, err := r.d.SendTest(r.ctx, r.user, dest.ID); err != nil {
		t.Fatal(err)
	}
	return r, rcv
}

func TestFailuresTimeoutsAndSlowReceiversAreRetriedUnderOneKeyEach(t *testing.T) {
	r, rcv := webhookRig(t, nil)
	_, before, _ := rcv.Stats()
	rcv.Fail(
		notifytest.Fault{Status: http.StatusInternalServerError, Times: 2},
		notifytest.Fault{Status: http.StatusBadGateway, Times: 1},
		notifytest.Fault{Delay: 2 * time.Second, Times: 1},             // no answer within the timeout
		notifytest.Fault{Late: true, Delay: 2 * time.Second, Times: 1}, // taken, answered too late
		notifytest.Fault{Status: http.StatusTooManyRequests, Times: 1},
	)
	for _, id := range []string{"a", "b", "c"} {
		r.alert(id)
	}
	for round := 0; round < 12; round++ {
		r.drain()
		r.clock.Advance(2 * time.Minute) // past any backoff
	}
	requests, byKey, bad := rcv.Stats()
	attempts := 0
	for _, d := range r.deliveries() {
		attempts += d.Attempts
		if d.State != polybot.DeliveryDelivered {
			t.Errorf("delivery %s: %s (%s)", d.EventID, d.State, d.LastError)
		}
		if byKey[d.Key] < 1 {
			t.Errorf("delivery %s never reached the receiver", d.EventID)
		}
	}
	// 3 deliveries, 6 faults: 9 requests after the test message. One key
	// came twice (the late answer); an idempotent receiver takes it once.
	if requests-1 != 9 || attempts != 9 || len(bad) != 0 {
		t.Errorf("%d requests, %d attempts recorded, refused %v; want 9 and 9", requests-1, attempts, bad)
	}
	twice := 0
	for k, n := range byKey {
		if before[k] == 0 && n == 2 {
			twice++
		} else if before[k] == 0 && n != 1 {
			t.Errorf("key %s arrived %d times", k, n)
		}
	}
	if len(byKey)-len(before) != 3 || twice != 1 {
		t.Errorf("keys %v: want 3 new keys, one of them twice", byKey)
	}
}

func TestAFailingDestinationDeadLettersAfterMaxAttemptsWithGrowingJitteredBackoff(t *testing.T) {
	r, rcv := webhookRig(t, func(c *notify.Config) { c.MaxAttempts = 3; c.Backoff = 10 * time.Second })
	reqs0, _, _ := rcv.Stats()
	rcv.Fail(notifytest.Fault{Status: http.StatusServiceUnavailable})
	r.alert("doomed")
	var waits []time.Duration
	for range 3 {
		r.drain()
		d := r.deliveries()[0]
		waits = append(waits, d.NextAt.Sub(r.clock.Now()))
		r.clock.Advance(time.Hour)
	}
	r.drain()
	d := r.deliveries()[0]
	if d.State != polybot.DeliveryDead || d.Attempts != 3 || !strings.HasPrefix(d.LastError, "gave up after 3 attempts: HTTP 503") {
		t.Fatalf("after 3 failures: %+v", d)
	}
	if reqs, _, _ := rcv.Stats(); reqs-reqs0 != 3 {
		t.Errorf("the receiver saw %d requests, want 3", reqs-reqs0)
	}
	// Backoff 10s then 20s, each less up to half.
	if waits[0] < 5*time.Second || waits[0] > 10*time.Second || waits[1] < 10*time.Second || waits[1] > 20*time.Second {
		t.Errorf("waits %v, want within [5s,10s] and [10s,20s]", waits[:2])
	}
	// A 4xx the receiver means (400) is not retried at all.
	rcv.Fail()
	r2, rcv2 := webhookRig(t, nil)
	rcv2.Fail(notifytest.Fault{Status: http.StatusBadRequest})
	r2.alert("refused")
	r2.drain()
	if d := r2.deliveries()[0]; d.State != polybot.DeliveryDead || d.Attempts != 1 || !strings.HasPrefix(d.LastError, "refused (not retried): HTTP 400") {
		t.Errorf("after a 400: %+v", d)
	}
}

func TestEachDestinationIsRateLimitedWithoutSpendingAttempts(t *testing.T) {
	r, _ := webhookRig(t, func(c *notify.Config) { c.Rate, c.Burst = 1, 2 })
	r.clock.Advance(time.Minute) // the test message took a token; refill
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		r.alert(id)
	}
	r.drain()
	sent, held := 0, 0
	for _, d := range r.deliveries() {
		switch {
		case d.State == polybot.DeliveryDelivered:
			sent++
		case d.State == polybot.DeliveryPending && d.Attempts == 0 && d.NextAt.After(r.clock.Now()):
			held++
		}
	}
	if sent != 2 || held != 3 {
		t.Errorf("sent %d, held back %d; want the burst of 2 sent and 3 rescheduled", sent, held)
	}
}

func TestOpportunitiesAreDigestedAndBotAlertsSentOnceADay(t *testing.T) {
	r, rcv := webhookRig(t, func(c *notify.Config) { c.DigestWindow = 40 * time.Millisecond; c.Poll = 10 * time.Millisecond })
	r.tenant(func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		c.NotifyOnOpportunity = true
		return tx.UpdateConfig(c)
	})
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { _ = r.d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := range 100 {
		r.d.Opportunity(r.user, &polybot.Opportunity{ID: "opp-" + string(rune('a'+i%26)), Strategy: "single_platform",
			ProfitPct: polybot.NewDecimal(int64(i%26), 1), NetEdge: polybot.MustDecimal("0.01"), Size: polybot.MustDecimal("5")})
	}
	r.d.BotState(r.user, polybot.BotHalted, "trading is halted for this account")
	r.d.BotState(r.user, polybot.BotHalted, "trading is halted for this account")
	r.clock.Advance(time.Minute) // the digest window has passed
	deadline := time.Now().Add(10 * time.Second)
	var ds []*polybot.NotifyDelivery
	for {
		ds = r.deliveries()
		delivered := 0
		for _, d := range ds {
			if d.State == polybot.DeliveryDelivered {
				delivered++
			}
		}
		if delivered >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
		r.clock.Advance(time.Minute) // the hooks run on their own goroutine: keep the window passing
	}
	byType := map[string]*polybot.NotifyDelivery{}
	for _, d := range ds {
		if byType[d.Event] != nil {
			t.Errorf("two %s deliveries", d.Event)
		}
		byType[d.Event] = d
	}
	opp, halt := byType[polybot.NotifyOpportunity], byType[polybot.NotifyBotHalted]
	if opp == nil || halt == nil || len(ds) != 2 {
		t.Fatalf("deliveries %v; want one digest and one halt alert", ds)
	}
	body := rcv.Body(opp.Key)
	if !bytes.Contains(body, []byte(`"title":"100 opportunities since 12:3`)) || !bytes.Contains(body, []byte("single_platform: 2.50% net")) {
		t.Errorf("the digest: %s", body)
	}
}
