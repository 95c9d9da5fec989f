package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// A subscription that ends moves a running bot to the free plan's limits
// through the reload path: no restart, and the new limits hold as soon as
// Reload returns.
func TestBillingChangesARunningBotsLimitsWithoutARestart(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierPro, func(c *polybot.Config) {
		c.EnableCrossPlatformArb, c.MaxTradeSizeUSD, c.MaxDailyLossUSD = true, d("800"), d("2000")
	})
	m := r.start(Config{Universe: pmUniverse()})
	r.waitRunning(id)
	ctx := context.Background()
	before := m.Status(ctx, id)
	if !slices.Contains(before.Strategies, polybot.StrategyCrossPlatform) {
		t.Fatalf("on pro the bot runs %v, want cross-platform among them", before.Strategies)
	}
	if got := m.lookup(id).snap.Load().maxTrade(); got.Cmp(d("800")) != 0 {
		t.Fatalf("on pro the bot's largest trade is %s, want the config's 800", got)
	}

	// The subscription was canceled and its period ended an hour ago.
	now := time.Now().UTC()
	start, end := now.Add(-31*24*time.Hour), now.Add(-time.Hour)
	if err := r.db.Admin(ctx, func(tx polybot.AdminTx) error {
		return tx.PutBillingAccount(&polybot.BillingAccount{UserID: id, CustomerID: "cus_engine", SubscriptionID: "sub_engine",
			Status: polybot.SubCanceled, PriceID: "price_pro", Tier: polybot.TierPro, PeriodStart: &start, PeriodEnd: &end})
	}); err != nil {
		t.Fatal(err)
	}
	// The user has a verified webhook destination for billing events.
	verified := time.Now()
	r.tenantTx(id, func(tx polybot.TenantTx) error {
		return tx.PutNotifyDestination(&polybot.NotifyDestination{ID: "hook", Channel: polybot.ChannelWebhook, Name: "Hook",
			Target: "https://hooks.example.com", Events: []string{polybot.NotifyBilling}, Enabled: true, VerifiedAt: &verified,
			Sealed: map[string]string{polybot.NotifyFieldURL: "sealed-url", polybot.NotifyFieldSigning: "sealed-secret"}})
	})
	ch, err := polybot.SettleBilling(ctx, r.db, id, time.Hour)
	if err != nil || ch == nil || ch.To != polybot.TierFree {
		t.Fatalf("SettleBilling = %+v, %v; want a move to free", ch, err)
	}
	// Told once: the change's notice is queued with it, and settling again
	// changes and queues nothing.
	if again, err := polybot.SettleBilling(ctx, r.db, id, time.Hour); err != nil || again != nil {
		t.Fatalf("settling again = %+v, %v; want nothing", again, err)
	}
	var queued []*polybot.NotifyDelivery
	r.tenantView(id, func(tx polybot.TenantTx) (err error) {
		queued, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{Limit: 10})
		return err
	})
	if len(queued) != 1 || queued[0].Event != polybot.NotifyBilling || !strings.Contains(string(queued[0].Payload), "max_trade_size_usd") {
		t.Fatalf("queued notifications %+v, want one billing notice naming the lowered limit", queued)
	}
	if err := m.Reload(ctx, id); err != nil {
		t.Fatal(err)
	}
	after := m.Status(ctx, id)
	s := m.lookup(id).snap.Load()
	if got := s.maxTrade(); got.Cmp(d("50")) != 0 {
		t.Errorf("after the move the bot's largest trade is %s, want the free plan's 50", got)
	}
	if s.profile.SubscriptionTier != polybot.TierFree || s.profile.MaxPositions != 5 {
		t.Errorf("the bot runs with profile %+v, want free's limits", s.profile)
	}
	if slices.Contains(after.Strategies, polybot.StrategyCrossPlatform) {
		t.Errorf("on free the bot still runs %v", after.Strategies)
	}
	if after.State != before.State || after.Counters.Restarts != 0 || after.StartedAt == nil || !after.StartedAt.Equal(*before.StartedAt) {
		t.Errorf("status after %+v (before %+v): the bot must keep running without a restart", after, before)
	}
}
