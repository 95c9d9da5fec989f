package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// Billing (migration 0009): the tier → price map, each user's provider
// customer and subscription state, invoices and the provider events
// applied, as internal/sqlite stores them. The merge rules are the root
// package's. A tenant reads its own rows under RLS; the service path
// writes them all.

const billingAccountSelect = `SELECT user_id, customer_id, subscription_id, status, price_id, tier, period_start,
	period_end, cancel_at_period_end, hold_tier, hold_until, sub_created, version, created_at, updated_at
	FROM polybot_billing_accounts`

func scanBillingAccount(r pgx.Rows) (*polybot.BillingAccount, error) {
	var a polybot.BillingAccount
	if err := r.Scan((*[16]byte)(&a.UserID), &a.CustomerID, &a.SubscriptionID, &a.Status, &a.PriceID, &a.Tier,
		&a.PeriodStart, &a.PeriodEnd, &a.CancelAtPeriodEnd, &a.HoldTier, &a.HoldUntil, &a.SubCreated, &a.Version,
		&a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.PeriodStart, a.PeriodEnd, a.HoldUntil, a.SubCreated, a.Version =
		utcPtr(a.PeriodStart), utcPtr(a.PeriodEnd), utcPtr(a.HoldUntil), utcPtr(a.SubCreated), utcPtr(a.Version)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

const invoiceSelect = `SELECT id, user_id, subscription_id, number, status, amount_due::text, amount_paid::text,
	currency, hosted_url, period_start, period_end, created, failed_at, version, updated_at FROM polybot_billing_invoices`

func scanInvoice(r pgx.Rows) (*polybot.Invoice, error) {
	var i polybot.Invoice
	var due, paid string
	if err := r.Scan(&i.ID, (*[16]byte)(&i.UserID), &i.SubscriptionID, &i.Number, &i.Status, &due, &paid, &i.Currency,
		&i.HostedURL, &i.PeriodStart, &i.PeriodEnd, &i.Created, &i.FailedAt, &i.Version, &i.UpdatedAt); err != nil {
		return nil, err
	}
	if err := decimals(&due, &i.AmountDue, &paid, &i.AmountPaid); err != nil {
		return nil, err
	}
	i.PeriodStart, i.PeriodEnd, i.FailedAt, i.Version = utcPtr(i.PeriodStart), utcPtr(i.PeriodEnd), utcPtr(i.FailedAt), utcPtr(i.Version)
	i.Created, i.UpdatedAt = i.Created.UTC(), i.UpdatedAt.UTC()
	return &i, nil
}

func (t *tenantTx) BillingAccount() (*polybot.BillingAccount, error) {
	return oneRow(t.txn, "billing account", scanBillingAccount, billingAccountSelect+` WHERE user_id = $1`, uid(t.tenant))
}

func (t *tenantTx) Invoices(limit int) ([]*polybot.Invoice, error) {
	return collectRows(t.txn, "invoice", scanInvoice, invoiceSelect+` WHERE user_id = $1 ORDER BY created DESC, id DESC LIMIT $2`,
		uid(t.tenant), polybot.NewsPageLimit(limit))
}

func (t *adminTx) BillingPrices() ([]*polybot.BillingPrice, error) {
	return collectRows(t.txn, "billing price", func(r pgx.Rows) (*polybot.BillingPrice, error) {
		var p polybot.BillingPrice
		if err := r.Scan(&p.Tier, &p.PriceID, &p.UpdatedAt); err != nil {
			return nil, err
		}
		p.UpdatedAt = p.UpdatedAt.UTC()
		return &p, nil
	}, `SELECT tier, price_id, updated_at FROM polybot_billing_prices ORDER BY tier`)
}

func (t *adminTx) PutBillingPrice(p *polybot.BillingPrice) error {
	if err := polybot.CheckBillingPrice(t, p); err != nil {
		return err
	}
	p.UpdatedAt = t.now
	if p.PriceID == "" {
		_, err := t.exec(`DELETE FROM polybot_billing_prices WHERE tier = $1`, p.Tier)
		return mapErr(err, "billing price")
	}
	_, err := t.exec(`INSERT INTO polybot_billing_prices (tier, price_id, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (tier) DO UPDATE SET price_id = excluded.price_id, updated_at = excluded.updated_at`,
		p.Tier, p.PriceID, t.now)
	return mapErr(err, "billing price")
}

// BillingAccountOf, in a read-write transaction, also locks the row until
// the transaction ends: webhook deliveries for one user, which Stripe
// sends concurrently, merge one after the other (SQLite's single writer
// does that by itself).
func (t *adminTx) BillingAccountOf(user polybot.ID) (*polybot.BillingAccount, error) {
	q := billingAccountSelect + ` WHERE user_id = $1`
	if t.opts.AccessMode != pgx.ReadOnly {
		q += ` FOR UPDATE`
	}
	return oneRow(t.txn, "billing account", scanBillingAccount, q, uid(user))
}

func (t *adminTx) BillingOwner(customerID string) (polybot.ID, error) {
	if err := polybot.CheckProviderID("customer_id", customerID); err != nil {
		return polybot.NilID, err
	}
	var id polybot.ID
	err := t.queryRow(`SELECT user_id FROM polybot_billing_accounts WHERE customer_id = $1`, []any{customerID}, (*[16]byte)(&id))
	return id, mapErr(err, "billing customer")
}

func (t *adminTx) PutBillingAccount(b *polybot.BillingAccount) error {
	if err := b.Validate(); err != nil {
		return err
	}
	var owner polybot.ID
	err := t.queryRow(`SELECT user_id FROM polybot_billing_accounts WHERE customer_id = $1 AND user_id <> $2`,
		[]any{b.CustomerID, uid(b.UserID)}, (*[16]byte)(&owner))
	if err == nil {
		return polybot.Errorf(polybot.ECONFLICT, "billing customer already exists")
	} else if err != pgx.ErrNoRows {
		return mapErr(err, "billing customer")
	}
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_billing_accounts (user_id, customer_id, subscription_id, status, price_id,
			tier, period_start, period_end, cancel_at_period_end, hold_tier, hold_until, sub_created, version,
			created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
		ON CONFLICT (user_id) DO UPDATE SET customer_id = excluded.customer_id,
			subscription_id = excluded.subscription_id, status = excluded.status, price_id = excluded.price_id,
			tier = excluded.tier, period_start = excluded.period_start, period_end = excluded.period_end,
			cancel_at_period_end = excluded.cancel_at_period_end, hold_tier = excluded.hold_tier,
			hold_until = excluded.hold_until, sub_created = excluded.sub_created, version = excluded.version,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		[]any{uid(b.UserID), b.CustomerID, b.SubscriptionID, b.Status, b.PriceID, b.Tier, b.PeriodStart, b.PeriodEnd,
			b.CancelAtPeriodEnd, b.HoldTier, b.HoldUntil, b.SubCreated, b.Version, t.now}, &created)
	if err != nil {
		return mapErr(err, "billing customer")
	}
	b.CreatedAt, b.UpdatedAt = created.UTC(), t.now
	return nil
}

func (t *adminTx) BilledUserIDs() ([]polybot.ID, error) {
	out := []polybot.ID{}
	_, err := t.query(`SELECT user_id FROM polybot_billing_accounts WHERE subscription_id <> '' ORDER BY user_id`, nil,
		func(r pgx.Rows) error {
			var id polybot.ID
			if err := r.Scan((*[16]byte)(&id)); err != nil {
				return err
			}
			out = append(out, id)
			return nil
		})
	return out, mapErr(err, "billing account")
}

func (t *adminTx) MarkBillingEvent(id, kind string) (bool, error) {
	if err := polybot.CheckProviderID("id", id); err != nil {
		return false, err
	}
	n, err := t.exec(`INSERT INTO polybot_billing_events (id, kind, processed_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, id, kind, t.now)
	return n == 1, mapErr(err, "billing event")
}

func (t *adminTx) Invoice(id string) (*polybot.Invoice, error) {
	if err := polybot.CheckProviderID("id", id); err != nil {
		return nil, err
	}
	return oneRow(t.txn, "invoice", scanInvoice, invoiceSelect+` WHERE id = $1`, id)
}

func (t *adminTx) PutInvoice(i *polybot.Invoice) error {
	if err := i.Validate(); err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO polybot_billing_invoices (id, user_id, subscription_id, number, status, amount_due,
			amount_paid, currency, hosted_url, period_start, period_end, created, failed_at, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (id) DO UPDATE SET subscription_id = excluded.subscription_id, number = excluded.number,
			status = excluded.status, amount_due = excluded.amount_due, amount_paid = excluded.amount_paid,
			currency = excluded.currency, hosted_url = excluded.hosted_url, period_start = excluded.period_start,
			period_end = excluded.period_end, created = excluded.created, failed_at = excluded.failed_at,
			version = excluded.version, updated_at = excluded.updated_at
		WHERE polybot_billing_invoices.user_id = excluded.user_id`,
		i.ID, uid(i.UserID), i.SubscriptionID, i.Number, i.Status, i.AmountDue.String(), i.AmountPaid.String(),
		i.Currency, i.HostedURL, i.PeriodStart, i.PeriodEnd, i.Created, i.FailedAt, i.Version, t.now)
	if err != nil {
		return mapErr(err, "invoice")
	}
	if n == 0 {
		return polybot.Errorf(polybot.ECONFLICT, "invoice already exists")
	}
	i.UpdatedAt = t.now
	return nil
}

func (t *adminTx) SetUserSubscription(id polybot.ID, tier string, expires *time.Time) error {
	if err := t.SetUserTier(id, tier); err != nil {
		return err
	}
	return t.updateOne("user", `UPDATE polybot_user_profiles SET subscription_expires_at = $2 WHERE id = $1`, uid(id), expires)
}
