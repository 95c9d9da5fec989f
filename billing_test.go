package polybot

import (
	"testing"
	"time"
)

func hour(h int) *time.Time {
	t := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
	return &t
}

func TestEntitleFollowsTheSubscriptionsOwnDates(t *testing.T) {
	const grace = 72 * time.Hour
	// A pro subscription for the 30 days from hour 0 to hour 720.
	sub := func(mod func(a *BillingAccount)) *BillingAccount {
		a := &BillingAccount{CustomerID: "cus_1", SubscriptionID: "sub_1", Status: SubActive, PriceID: "price_pro", Tier: TierPro,
			PeriodStart: hour(0), PeriodEnd: hour(720)}
		if mod != nil {
			mod(a)
		}
		return a
	}
	for _, c := range []struct {
		name    string
		a       *BillingAccount
		failed  *time.Time
		now     int
		tier    string
		expires *time.Time // nil: none
	}{
		{"active: paid until the period's end plus grace", sub(nil), nil, 100, TierPro, hour(720 + 72)},
		{"cancel at period end, before the end", sub(func(a *BillingAccount) { a.CancelAtPeriodEnd = true }), nil, 719, TierPro, hour(720)},
		{"cancel at period end, after the end", sub(func(a *BillingAccount) { a.CancelAtPeriodEnd = true }), nil, 720, TierFree, nil},
		{"canceled at once: kept until the period's end", sub(func(a *BillingAccount) { a.Status = SubCanceled }), nil, 300, TierPro, hour(720)},
		{"canceled and over", sub(func(a *BillingAccount) { a.Status = SubCanceled }), nil, 721, TierFree, nil},
		{"payment failed at hour 10: grace to hour 82", sub(func(a *BillingAccount) { a.Status = SubPastDue }), hour(10), 81, TierPro, hour(82)},
		{"payment failed at hour 10: free from hour 82", sub(func(a *BillingAccount) { a.Status = SubPastDue }), hour(10), 82, TierFree, nil},
		{"an unpaid invoice counts even while Stripe still says active", sub(nil), hour(10), 100, TierFree, nil},
		{"past_due with no failed invoice seen: grace from the period's start", sub(func(a *BillingAccount) { a.Status = SubPastDue }), nil, 71, TierPro, hour(72)},
		{"downgraded to basic: pro kept until the hold ends", sub(func(a *BillingAccount) {
			a.PriceID, a.Tier, a.HoldTier, a.HoldUntil = "price_basic", TierBasic, TierPro, hour(720)
		}), nil, 700, TierPro, hour(720 + 72)},
		{"downgraded to basic: basic after the hold", sub(func(a *BillingAccount) {
			a.PriceID, a.Tier, a.HoldTier, a.HoldUntil, a.PeriodStart, a.PeriodEnd = "price_basic", TierBasic, TierPro, hour(720), hour(720), hour(1440)
		}), nil, 721, TierBasic, hour(1440 + 72)},
		{"incomplete: free", sub(func(a *BillingAccount) { a.Status = SubIncomplete }), nil, 1, TierFree, nil},
		{"a price no tier has: free", sub(func(a *BillingAccount) { a.Tier = "" }), nil, 1, TierFree, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok := Entitle(c.a, c.failed, *hour(c.now), grace)
			if !ok || e.Tier != c.tier || cmpTimes(e.ExpiresAt, c.expires) != 0 {
				t.Errorf("Entitle = %+v (%v), want %s expiring %v", e, ok, c.tier, c.expires)
			}
		})
	}
	if _, ok := Entitle(&BillingAccount{CustomerID: "cus_1"}, nil, *hour(0), grace); ok {
		t.Error("an account with no subscription is entitled to something; its tier is the admin's")
	}
}

func TestSubscriptionStatesMergeTheSameInAnyOrder(t *testing.T) {
	base := func(mod func(a *BillingAccount)) *BillingAccount {
		a := &BillingAccount{SubscriptionID: "sub_1", Status: SubActive, PriceID: "price_pro", PeriodStart: hour(0), PeriodEnd: hour(720),
			SubCreated: hour(0), Version: hour(1)}
		mod(a)
		return a
	}
	states := []*BillingAccount{
		base(func(a *BillingAccount) { a.Status = SubIncomplete; a.Version = hour(0) }),
		base(func(a *BillingAccount) {}),
		base(func(a *BillingAccount) { a.CancelAtPeriodEnd = true; a.Version = hour(5) }),
		base(func(a *BillingAccount) { a.CancelAtPeriodEnd = false; a.Version = hour(5) }), // same second: a tie
		base(func(a *BillingAccount) { a.PeriodStart, a.PeriodEnd, a.Version = hour(720), hour(1440), hour(720) }),
		base(func(a *BillingAccount) { a.Status = SubCanceled; a.Version = hour(700) }), // ended: never comes back
	}
	// Every permutation of the six ends on the same state.
	var want string
	var permute func(k int)
	perm := make([]int, len(states))
	for i := range perm {
		perm[i] = i
	}
	n := 0
	permute = func(k int) {
		if k == len(perm) {
			cur := &BillingAccount{CustomerID: "cus_1"}
			for _, i := range perm {
				if next := states[i]; SubscriptionNewer(cur, next) {
					cur = next
				}
			}
			got := cur.stateKey()
			if want == "" {
				want = got
			} else if got != want {
				t.Fatalf("order %v ends in %s, another in %s", perm, got, want)
			}
			n++
			return
		}
		for i := k; i < len(perm); i++ {
			perm[k], perm[i] = perm[i], perm[k]
			permute(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	permute(0)
	if n != 720 || want != states[5].stateKey() {
		t.Errorf("%d orders end in %s, want 720 ending canceled (%s)", n, want, states[5].stateKey())
	}
}

func TestInvoicesMergeToTheSettledStateAndTheFirstFailure(t *testing.T) {
	open := &Invoice{ID: "in_1", Status: "open", FailedAt: hour(10), Version: hour(10)}
	open2 := &Invoice{ID: "in_1", Status: "open", FailedAt: hour(20), Version: hour(20)}
	paid := &Invoice{ID: "in_1", Status: "paid", Version: hour(15)}
	for _, order := range [][]*Invoice{{open, open2, paid}, {paid, open2, open}, {open2, paid, open}} {
		var cur *Invoice
		for _, i := range order {
			cur = MergeInvoice(cur, i)
		}
		if cur.Status != "paid" || cmpTimes(cur.FailedAt, hour(10)) != 0 || cur.Unpaid() {
			t.Errorf("merged %+v, want paid with the first failure at hour 10 kept", cur)
		}
	}
	if got := PaymentFailedSince("sub_1", []*Invoice{
		{SubscriptionID: "sub_1", Status: "open", FailedAt: hour(30)},
		{SubscriptionID: "sub_1", Status: "paid", FailedAt: hour(5)},
		{SubscriptionID: "sub_2", Status: "open", FailedAt: hour(1)},
		{SubscriptionID: "sub_1", Status: "uncollectible", FailedAt: hour(20)},
	}); cmpTimes(got, hour(20)) != 0 {
		t.Errorf("PaymentFailedSince = %v, want hour 20 (sub_1's oldest still owed)", got)
	}
}

func TestClampConfigCutsToThePlanAndSaysWhat(t *testing.T) {
	tiers := DefaultTiers()
	free := NewProfile(NewID(), "a@example.com", &tiers[0], *hour(0))
	c := DefaultConfig(free.ID, *hour(0))
	c.MaxTradeSizeUSD, c.MaxDailyLossUSD, c.EnableCopyTrading, c.EnableCrossPlatformArb = MustDecimal("800"), MustDecimal("90"), true, true
	got := ClampConfig(c, free)
	if len(got) != 3 || c.MaxTradeSizeUSD.Cmp(MustDecimal("50")) != 0 || c.MaxDailyLossUSD.Cmp(MustDecimal("90")) != 0 ||
		c.EnableCopyTrading || c.EnableCrossPlatformArb || !c.EnableSinglePlatformArb {
		t.Errorf("ClampConfig changed %v to %+v", got, c)
	}
	if err := c.Validate(free); err != nil {
		t.Errorf("the clamped config does not pass the plan's checks: %v", err)
	}
	if again := ClampConfig(c, free); again != nil {
		t.Errorf("a second clamp changed %v", again)
	}
}
