package sqlite

import (
	"time"

	"github.com/polybot/polybot"
)

// Billing (migration 0008): the tier → price map, each user's provider
// customer and subscription state, invoices and the provider events
// applied. The merge rules are the root package's (SubscriptionNewer,
// MergeInvoice, Entitle); this file only stores. Tenants read their own
// rows; the service path writes them all.

const billingAccountCols = `user_id, customer_id, subscription_id, status, price_id, tier, period_start, period_end,
	cancel_at_period_end, hold_tier, hold_until, sub_created, version, created_at, updated_at`

func scanBillingAccount(s scanner) (*polybot.BillingAccount, error) {
	var a polybot.BillingAccount
	err := s.Scan(&a.UserID, &a.CustomerID, &a.SubscriptionID, &a.Status, &a.PriceID, &a.Tier,
		nullTimeCol{&a.PeriodStart}, nullTimeCol{&a.PeriodEnd}, &a.CancelAtPeriodEnd, &a.HoldTier,
		nullTimeCol{&a.HoldUntil}, nullTimeCol{&a.SubCreated}, nullTimeCol{&a.Version},
		timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return &a, err
}

const invoiceCols = `id, user_id, subscription_id, number, status, amount_due, amount_paid, currency, hosted_url,
	period_start, period_end, created, failed_at, version, updated_at`

func scanInvoice(s scanner) (*polybot.Invoice, error) {
	var i polybot.Invoice
	err := s.Scan(&i.ID, &i.UserID, &i.SubscriptionID, &i.Number, &i.Status, &i.AmountDue, &i.AmountPaid,
		&i.Currency, &i.HostedURL, nullTimeCol{&i.PeriodStart}, nullTimeCol{&i.PeriodEnd}, timeCol{&i.Created},
		nullTimeCol{&i.FailedAt}, nullTimeCol{&i.Version}, timeCol{&i.UpdatedAt})
	return &i, err
}

func (t *tenantTx) BillingAccount() (*polybot.BillingAccount, error) {
	return one(t.tx, "billing account", scanBillingAccount,
		`SELECT `+billingAccountCols+` FROM polybot_billing_accounts WHERE user_id = ?`, t.tenant)
}

func (t *tenantTx) Invoices(limit int) ([]*polybot.Invoice, error) {
	return collect(t.tx, "invoice", scanInvoice, `SELECT `+invoiceCols+` FROM polybot_billing_invoices
		WHERE user_id = ? ORDER BY created DESC, id DESC LIMIT ?`, t.tenant, polybot.NewsPageLimit(limit))
}

func (a *adminTx) BillingPrices() ([]*polybot.BillingPrice, error) {
	return collect(a.tx, "billing price", func(s scanner) (*polybot.BillingPrice, error) {
		var p polybot.BillingPrice
		return &p, s.Scan(&p.Tier, &p.PriceID, timeCol{&p.UpdatedAt})
	}, `SELECT tier, price_id, updated_at FROM polybot_billing_prices ORDER BY tier`)
}

func (a *adminTx) PutBillingPrice(p *polybot.BillingPrice) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckBillingPrice(a, p); err != nil {
		return err
	}
	p.UpdatedAt = a.now
	if p.PriceID == "" {
		_, err := a.exec(`DELETE FROM polybot_billing_prices WHERE tier = ?`, p.Tier)
		return dbError(err, "billing price")
	}
	_, err := a.exec(`INSERT INTO polybot_billing_prices (tier, price_id, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tier) DO UPDATE SET price_id = excluded.price_id, updated_at = excluded.updated_at`,
		p.Tier, p.PriceID, micros(a.now))
	return dbError(err, "billing price")
}

func (a *adminTx) BillingAccountOf(user polybot.ID) (*polybot.BillingAccount, error) {
	return one(a.tx, "billing account", scanBillingAccount,
		`SELECT `+billingAccountCols+` FROM polybot_billing_accounts WHERE user_id = ?`, user)
}

func (a *adminTx) BillingOwner(customerID string) (polybot.ID, error) {
	if err := polybot.CheckProviderID("customer_id", customerID); err != nil {
		return polybot.NilID, err
	}
	var id polybot.ID
	err := a.queryRow(`SELECT user_id FROM polybot_billing_accounts WHERE customer_id = ?`, customerID).Scan(&id)
	return id, dbError(err, "billing customer")
}

func (a *adminTx) PutBillingAccount(b *polybot.BillingAccount) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := b.Validate(); err != nil {
		return err
	}
	var created time.Time
	err := a.queryRow(`INSERT INTO polybot_billing_accounts (`+billingAccountCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET customer_id = excluded.customer_id,
			subscription_id = excluded.subscription_id, status = excluded.status, price_id = excluded.price_id,
			tier = excluded.tier, period_start = excluded.period_start, period_end = excluded.period_end,
			cancel_at_period_end = excluded.cancel_at_period_end, hold_tier = excluded.hold_tier,
			hold_until = excluded.hold_until, sub_created = excluded.sub_created, version = excluded.version,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		b.UserID, b.CustomerID, b.SubscriptionID, b.Status, b.PriceID, b.Tier, nullMicros(b.PeriodStart),
		nullMicros(b.PeriodEnd), b.CancelAtPeriodEnd, b.HoldTier, nullMicros(b.HoldUntil), nullMicros(b.SubCreated),
		nullMicros(b.Version), micros(a.now), micros(a.now)).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "billing customer")
	}
	b.CreatedAt, b.UpdatedAt = created, a.now
	return nil
}

func (a *adminTx) BilledUserIDs() ([]polybot.ID, error) {
	ids, err := collect(a.tx, "billing account", func(s scanner) (*polybot.ID, error) {
		var id polybot.ID
		return &id, s.Scan(&id)
	}, `SELECT user_id FROM polybot_billing_accounts WHERE subscription_id <> '' ORDER BY user_id`)
	out := make([]polybot.ID, len(ids))
	for i, id := range ids {
		out[i] = *id
	}
	return out, err
}

func (a *adminTx) MarkBillingEvent(id, kind string) (bool, error) {
	if err := a.writable(); err != nil {
		return false, err
	}
	if err := polybot.CheckProviderID("id", id); err != nil {
		return false, err
	}
	ok, err := a.affected(`INSERT INTO polybot_billing_events (id, kind, processed_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, id, kind, micros(a.now))
	return ok, dbError(err, "billing event")
}

func (a *adminTx) Invoice(id string) (*polybot.Invoice, error) {
	if err := polybot.CheckProviderID("id", id); err != nil {
		return nil, err
	}
	return one(a.tx, "invoice", scanInvoice, `SELECT `+invoiceCols+` FROM polybot_billing_invoices WHERE id = ?`, id)
}

func (a *adminTx) PutInvoice(i *polybot.Invoice) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := i.Validate(); err != nil {
		return err
	}
	ok, err := a.affected(`INSERT INTO polybot_billing_invoices (`+invoiceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET subscription_id = excluded.subscription_id, number = excluded.number,
			status = excluded.status, amount_due = excluded.amount_due, amount_paid = excluded.amount_paid,
			currency = excluded.currency, hosted_url = excluded.hosted_url, period_start = excluded.period_start,
			period_end = excluded.period_end, created = excluded.created, failed_at = excluded.failed_at,
			version = excluded.version, updated_at = excluded.updated_at
		WHERE user_id = excluded.user_id`,
		i.ID, i.UserID, i.SubscriptionID, i.Number, i.Status, i.AmountDue, i.AmountPaid, i.Currency, i.HostedURL,
		nullMicros(i.PeriodStart), nullMicros(i.PeriodEnd), micros(i.Created), nullMicros(i.FailedAt),
		nullMicros(i.Version), micros(a.now))
	if err != nil {
		return dbError(err, "invoice")
	}
	if !ok {
		return polybot.Errorf(polybot.ECONFLICT, "invoice already exists")
	}
	i.UpdatedAt = a.now
	return nil
}

func (a *adminTx) SetUserSubscription(id polybot.ID, tier string, expires *time.Time) error {
	if err := a.SetUserTier(id, tier); err != nil {
		return err
	}
	return a.updateOne("user", `UPDATE polybot_user_profiles SET subscription_expires_at = ? WHERE id = ?`,
		nullMicros(expires), id)
}
