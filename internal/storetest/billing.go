package storetest

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// Billing fixture: each tenant has a provider customer, a subscription and
// two invoices, all carrying its tag.

func billingAccount(user polybot.ID, tag string, now time.Time) *polybot.BillingAccount {
	start, end, created := now.Add(-24*time.Hour).Truncate(time.Second), now.Add(29*24*time.Hour).Truncate(time.Second), now.Add(-48*time.Hour).Truncate(time.Second)
	return &polybot.BillingAccount{UserID: user, CustomerID: "cus_" + tag, SubscriptionID: "sub_" + tag,
		Status: polybot.SubActive, PriceID: "price_" + tag, Tier: polybot.TierBasic, PeriodStart: &start, PeriodEnd: &end,
		SubCreated: &created, Version: &start}
}

func invoice(user polybot.ID, id, tag string, created time.Time, status string) *polybot.Invoice {
	created = created.Truncate(time.Second)
	return &polybot.Invoice{ID: id, UserID: user, SubscriptionID: "sub_" + tag, Number: "INV-" + id, Status: status,
		AmountDue: tagAmount(tag).MulInt(10), AmountPaid: tagAmount(tag).MulInt(10), Currency: "usd",
		HostedURL: "https://invoice.stripe.com/i/" + id, Created: created, Version: &created}
}

func (e *env) seedBilling(f *tenantFixture) {
	e.t.Helper()
	e.mustAdmin(func(tx polybot.AdminTx) error {
		if err := tx.PutBillingAccount(billingAccount(f.user.ID, f.tag, tx.Now())); err != nil {
			return err
		}
		for i, id := range []string{"in_1_" + f.tag, "in_2_" + f.tag} {
			if err := tx.PutInvoice(invoice(f.user.ID, id, f.tag, tx.Now().Add(time.Duration(i-2)*time.Hour), "paid")); err != nil {
				return err
			}
		}
		return nil
	})
}

func billingState(tx polybot.TenantTx, s *tenantState, keep func(string, error)) {
	var err error
	s.Billing, err = tx.BillingAccount()
	keep("BillingAccount", err)
	s.Invoices, err = tx.Invoices(1000)
	keep("Invoices", err)
}

func billingIsolationCases() []isoCase {
	return []isoCase{
		{method: "BillingAccount", does: "returns A's customer and subscription", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				a, err := tx.BillingAccount()
				if err == nil && (a.UserID != f.A() || a.CustomerID != "cus_a" || a.SubscriptionID != "sub_a") {
					t.Errorf("BillingAccount() = %+v, want A's", a)
				}
				return err
			}},
		{method: "Invoices", does: "lists only A's invoices, newest first", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.Invoices(0)
				if err == nil && (len(all) != 2 || all[0].ID != "in_2_a" || all[1].ID != "in_1_a" || all[0].UserID != f.A()) {
					t.Errorf("Invoices() = %+v, want A's two, newest first", all)
				}
				return err
			}},
	}
}

// testBilling checks the price map, accounts, invoices, processed events
// and the profile's subscription on the service path.
func testBilling(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u, v := e.newUser("billing-u@example.com"), e.newUser("billing-v@example.com")

	t.Run("prices map paid tiers to one price each", func(t *testing.T) {
		e.mustAdmin(func(tx polybot.AdminTx) error {
			return tx.PutBillingPrice(&polybot.BillingPrice{Tier: polybot.TierBasic, PriceID: "price_basic"})
		})
		for _, c := range []struct {
			p     polybot.BillingPrice
			code  string
			field string
		}{
			{polybot.BillingPrice{Tier: polybot.TierPro, PriceID: "price_basic"}, polybot.ECONFLICT, "price_id"},
			{polybot.BillingPrice{Tier: "nosuch", PriceID: "price_x"}, polybot.EINVALID, "tier"},
			{polybot.BillingPrice{Tier: polybot.TierFree, PriceID: "price_free"}, polybot.EINVALID, "tier"},
			{polybot.BillingPrice{Tier: polybot.TierPro, PriceID: "price with spaces"}, polybot.EINVALID, "price_id"},
		} {
			err := e.admin(func(tx polybot.AdminTx) error { return tx.PutBillingPrice(&c.p) })
			wantCode(t, err, c.code, "PutBillingPrice "+c.p.Tier+" "+c.p.PriceID)
			if _, ok := polybot.ErrorFields(err)[c.field]; !ok {
				t.Errorf("PutBillingPrice %+v: fields %v, want %s named", c.p, polybot.ErrorFields(err), c.field)
			}
		}
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.PutBillingPrice(&polybot.BillingPrice{Tier: polybot.TierPro, PriceID: "price_pro"}); err != nil {
				return err
			}
			// Moving basic to a new price frees the old one.
			return tx.PutBillingPrice(&polybot.BillingPrice{Tier: polybot.TierBasic, PriceID: "price_basic2"})
		})
		var got []*polybot.BillingPrice
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { got, err = tx.BillingPrices(); return })
		if len(got) != 2 || got[0].Tier != polybot.TierBasic || got[0].PriceID != "price_basic2" || got[1].PriceID != "price_pro" {
			t.Fatalf("BillingPrices() = %+v, want basic→price_basic2, pro→price_pro", got)
		}
		e.mustAdmin(func(tx polybot.AdminTx) error {
			return tx.PutBillingPrice(&polybot.BillingPrice{Tier: polybot.TierPro})
		})
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { got, err = tx.BillingPrices(); return })
		if len(got) != 1 {
			t.Fatalf("BillingPrices() after removing pro = %+v, want basic only", got)
		}
	})

	t.Run("an account round-trips, its customer is bound to one user", func(t *testing.T) {
		err := e.adminView(func(tx polybot.AdminTx) error { _, err := tx.BillingAccountOf(u.ID); return err })
		wantCode(t, err, polybot.ENOTFOUND, "BillingAccountOf before any")
		err = e.tenantView(u.ID, func(tx polybot.TenantTx) error { _, err := tx.BillingAccount(); return err })
		wantCode(t, err, polybot.ENOTFOUND, "BillingAccount before any")

		a := billingAccount(u.ID, "u", e.clock.Now())
		a.CancelAtPeriodEnd, a.HoldTier, a.HoldUntil = true, polybot.TierPro, a.PeriodEnd
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutBillingAccount(a) })
		var got *polybot.BillingAccount
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.BillingAccount(); return })
		wantEqual(t, "BillingAccount", a, got)

		e.clock.Advance(time.Minute)
		b := *a
		b.Status, b.CancelAtPeriodEnd = polybot.SubPastDue, false
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutBillingAccount(&b) })
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { got, err = tx.BillingAccountOf(u.ID); return })
		if !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(e.clock.Now()) || got.Status != polybot.SubPastDue || got.CancelAtPeriodEnd {
			t.Errorf("after update = %+v, want created kept, updated now, past_due", got)
		}
		var owner polybot.ID
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { owner, err = tx.BillingOwner("cus_u"); return })
		if owner != u.ID {
			t.Errorf("BillingOwner(cus_u) = %s, want %s", owner, u.ID)
		}
		err = e.adminView(func(tx polybot.AdminTx) error { _, err := tx.BillingOwner("cus_nobody"); return err })
		wantCode(t, err, polybot.ENOTFOUND, "BillingOwner of an unknown customer")

		taken := billingAccount(v.ID, "u", e.clock.Now())
		err = e.admin(func(tx polybot.AdminTx) error { return tx.PutBillingAccount(taken) })
		wantCode(t, err, polybot.ECONFLICT, "PutBillingAccount with another user's customer")
		bad := billingAccount(v.ID, "v", e.clock.Now())
		bad.CustomerID = "cus v; drop"
		err = e.admin(func(tx polybot.AdminTx) error { return tx.PutBillingAccount(bad) })
		wantCode(t, err, polybot.EINVALID, "PutBillingAccount with a bad customer id")

		// v gets a customer but no subscription: not billed.
		e.mustAdmin(func(tx polybot.AdminTx) error {
			return tx.PutBillingAccount(&polybot.BillingAccount{UserID: v.ID, CustomerID: "cus_v"})
		})
		var ids []polybot.ID
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { ids, err = tx.BilledUserIDs(); return })
		wantEqual(t, "BilledUserIDs", []polybot.ID{u.ID}, ids)
	})

	t.Run("an event is marked once", func(t *testing.T) {
		for i, want := range []bool{true, false} {
			var fresh bool
			e.mustAdmin(func(tx polybot.AdminTx) (err error) {
				fresh, err = tx.MarkBillingEvent("evt_1", "invoice.paid")
				return
			})
			if fresh != want {
				t.Errorf("MarkBillingEvent #%d = %v, want %v", i+1, fresh, want)
			}
		}
		err := e.adminView(func(tx polybot.AdminTx) error { _, err := tx.MarkBillingEvent("evt_2", "x"); return err })
		if err == nil {
			t.Error("MarkBillingEvent in AdminView succeeded, want a refused write")
		}
	})

	t.Run("invoices keep exact amounts and belong to one user", func(t *testing.T) {
		i1 := invoice(u.ID, "in_u1", "u", e.clock.Now().Add(-time.Hour), "open")
		i1.AmountDue, i1.AmountPaid = polybot.MustDecimal("29.99"), polybot.Zero
		failed := e.clock.Now().Add(-30 * time.Minute).Truncate(time.Second)
		i1.FailedAt = &failed
		i2 := invoice(u.ID, "in_u2", "u", e.clock.Now(), "paid")
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.PutInvoice(i1); err != nil {
				return err
			}
			return tx.PutInvoice(i2)
		})
		var got []*polybot.Invoice
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.Invoices(10); return })
		wantEqual(t, "Invoices", []*polybot.Invoice{i2, i1}, got)
		var one *polybot.Invoice
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { one, err = tx.Invoice("in_u1"); return })
		if one.AmountDue.String() != "29.99" || one.FailedAt == nil || !one.FailedAt.Equal(failed) {
			t.Errorf("Invoice(in_u1) = %+v, want 29.99 due and the failure kept", one)
		}
		err := e.admin(func(tx polybot.AdminTx) error {
			return tx.PutInvoice(invoice(v.ID, "in_u1", "v", e.clock.Now(), "paid"))
		})
		wantCode(t, err, polybot.ECONFLICT, "PutInvoice of u's invoice for v")
		bad := invoice(u.ID, "in_u3", "u", e.clock.Now(), "refunded")
		err = e.admin(func(tx polybot.AdminTx) error { return tx.PutInvoice(bad) })
		wantCode(t, err, polybot.EINVALID, "PutInvoice with an unknown status")
		var vs []*polybot.Invoice
		e.mustTenantView(v.ID, func(tx polybot.TenantTx) (err error) { vs, err = tx.Invoices(10); return })
		if len(vs) != 0 {
			t.Errorf("v's invoices = %+v, want none", vs)
		}
	})

	t.Run("SetUserSubscription sets the tier's limits and the expiry", func(t *testing.T) {
		exp := e.clock.Now().Add(30 * 24 * time.Hour)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserSubscription(u.ID, polybot.TierPro, &exp) })
		p := e.profile(u.ID)
		if p.SubscriptionTier != polybot.TierPro || p.MaxPositions != 50 || p.SubscriptionExpiresAt == nil || !p.SubscriptionExpiresAt.Equal(exp) {
			t.Fatalf("profile = %+v, want pro (50 positions) expiring %v", p, exp)
		}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserSubscription(u.ID, polybot.TierFree, nil) })
		p = e.profile(u.ID)
		if p.SubscriptionTier != polybot.TierFree || p.MaxPositions != 5 || p.SubscriptionExpiresAt != nil {
			t.Fatalf("profile = %+v, want free with no expiry", p)
		}
		err := e.admin(func(tx polybot.AdminTx) error { return tx.SetUserSubscription(polybot.NewID(), polybot.TierPro, nil) })
		wantCode(t, err, polybot.ENOTFOUND, "SetUserSubscription of no user")
	})
}
