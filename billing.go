package polybot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Billing: paid tiers sold as subscriptions by a payment provider (Stripe,
// internal/stripe). The provider's webhooks are turned into the domain
// values below; the rules that decide what a user is entitled to live here,
// so they can be tested without the provider and every store keeps the
// same state.
//
// Out-of-order and replayed deliveries end in the same state because every
// write is a merge that depends only on the objects' own fields (their
// status, periods and the provider's event times), never on arrival order:
// SubscriptionNewer and InvoiceNewer pick the same winner either way.

// Audit actions of billing.
const (
	AuditBillingTier    = "billing.tier"           // the entitlement moved the profile to another tier or expiry
	AuditBillingClamp   = "billing.config_clamped" // the config was cut down to the new plan
	AuditBillingPrice   = "admin.billing_price"    // an admin mapped a tier to a price
	AuditBillingPortal  = "billing.portal"         // a user opened the provider's portal
	AuditBillingChange  = "billing.change"         // a user changed an existing subscription
	AuditBillingConnect = "billing.customer"       // a user was bound to a provider customer
)

// DefaultBillingGrace is how long a failed payment keeps the paid tier.
const DefaultBillingGrace = 7 * 24 * time.Hour

// Subscription statuses, as the provider names them.
const (
	SubActive            = "active"
	SubTrialing          = "trialing"
	SubPastDue           = "past_due"
	SubUnpaid            = "unpaid"
	SubCanceled          = "canceled"
	SubIncomplete        = "incomplete"
	SubIncompleteExpired = "incomplete_expired"
	SubPaused            = "paused"
)

// BillingAccount is a user's side of billing: the provider's customer (one
// per user, created once and reused) and the latest state of the user's
// subscription. The customer id is bound to the tenant: it is unique, and a
// webhook finds its tenant by it.
type BillingAccount struct {
	UserID     ID     `json:"user_id"`
	CustomerID string `json:"customer_id"`
	// The subscription, as of the newest state applied (SubscriptionNewer).
	SubscriptionID    string     `json:"subscription_id"`
	Status            string     `json:"status"`
	PriceID           string     `json:"price_id"`
	Tier              string     `json:"tier"` // the tier PriceID is mapped to ("" unknown)
	PeriodStart       *time.Time `json:"current_period_start"`
	PeriodEnd         *time.Time `json:"current_period_end"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	// HoldTier is the tier a downgrade keeps until HoldUntil (the end of
	// the period it was made in); the provider's subscription metadata
	// carries it.
	HoldTier   string     `json:"hold_tier,omitempty"`
	HoldUntil  *time.Time `json:"hold_until,omitempty"`
	SubCreated *time.Time `json:"subscription_created,omitempty"`
	// Version is the provider's time of the event whose state this is.
	Version   *time.Time `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Subscribed reports whether a is managed by a subscription.
func (a *BillingAccount) Subscribed() bool { return a != nil && a.SubscriptionID != "" }

// Invoice is one of a user's invoices, kept from webhooks for the payment
// history.
type Invoice struct {
	ID             string     `json:"id"`
	UserID         ID         `json:"user_id"`
	SubscriptionID string     `json:"subscription_id"`
	Number         string     `json:"number"`
	Status         string     `json:"status"` // draft, open, paid, uncollectible, void
	AmountDue      Decimal    `json:"amount_due"`
	AmountPaid     Decimal    `json:"amount_paid"`
	Currency       string     `json:"currency"`
	HostedURL      string     `json:"hosted_invoice_url"`
	PeriodStart    *time.Time `json:"period_start"`
	PeriodEnd      *time.Time `json:"period_end"`
	Created        time.Time  `json:"created"`
	// FailedAt is the earliest failed payment attempt seen (nil: none).
	FailedAt  *time.Time `json:"payment_failed_at"`
	Version   *time.Time `json:"-"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// BillingPrice maps a paid tier to the provider's price.
type BillingPrice struct {
	Tier      string    `json:"tier"`
	PriceID   string    `json:"price_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks an admin's mapping.
func (p *BillingPrice) Validate() error {
	v := Validation{}
	if !validTierName(p.Tier) {
		v.Add("tier", "must be a tier name")
	} else if p.Tier == TierFree {
		v.Add("tier", "the free tier has no price")
	}
	if p.PriceID != "" && !validProviderID(p.PriceID) {
		v.Add("price_id", "must be a price id such as price_1Abc… (letters, digits, '_' and '-', at most 255)")
	}
	return v.Err()
}

// validProviderID accepts the provider's object ids.
func validProviderID(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CheckProviderID checks a provider object id named field.
func CheckProviderID(field, s string) error {
	if !validProviderID(s) {
		return FieldError(field, "must be a provider id (letters, digits, '_' and '-', at most 255)")
	}
	return nil
}

// subStatusRank orders the statuses of one subscription at one instant: a
// tie between two states of equal time goes to the higher rank.
var subStatusRank = map[string]int{SubIncomplete: 1, SubTrialing: 2, SubActive: 3, SubPaused: 4, SubPastDue: 5,
	SubUnpaid: 6, SubIncompleteExpired: 7, SubCanceled: 8}

func subTerminal(status string) bool { return status == SubCanceled || status == SubIncompleteExpired }

// SubscriptionNewer reports whether next is a newer state than cur (the
// account's stored state): a later subscription of the user, or for the
// same subscription an ended one over a live one, a later period, a later
// event, and at equal times the higher status (then the greater of the
// states' canonical text), so any order of delivery keeps the same one.
func SubscriptionNewer(cur, next *BillingAccount) bool {
	if !cur.Subscribed() {
		return next.Subscribed()
	}
	if next.SubscriptionID != cur.SubscriptionID {
		if c := cmpTimes(next.SubCreated, cur.SubCreated); c != 0 {
			return c > 0
		}
		return next.SubscriptionID > cur.SubscriptionID
	}
	if subTerminal(cur.Status) != subTerminal(next.Status) {
		return subTerminal(next.Status)
	}
	if c := cmpTimes(next.PeriodStart, cur.PeriodStart); c != 0 {
		return c > 0
	}
	if c := cmpTimes(next.Version, cur.Version); c != 0 {
		return c > 0
	}
	if a, b := subStatusRank[next.Status], subStatusRank[cur.Status]; a != b {
		return a > b
	}
	return next.stateKey() > cur.stateKey()
}

func (a *BillingAccount) stateKey() string {
	return fmt.Sprintf("%s|%s|%t|%s|%s|%v|%v", a.PriceID, a.Tier, a.CancelAtPeriodEnd, a.HoldTier, a.Status,
		unixOr(a.PeriodEnd), unixOr(a.HoldUntil))
}

func unixOr(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMicro()
}

// cmpTimes compares two optional times; nil is earliest.
func cmpTimes(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

// invoiceRank: a settled invoice never goes back to open.
var invoiceRank = map[string]int{"draft": 1, "open": 2, "uncollectible": 3, "void": 4, "paid": 5}

// MergeInvoice returns what to store when next arrives for an invoice
// stored as cur (nil: not seen yet): the newer state by status rank, then
// event time, with FailedAt the earliest failure either saw.
func MergeInvoice(cur, next *Invoice) *Invoice {
	if cur == nil {
		return next
	}
	win := cur
	if a, b := invoiceRank[next.Status], invoiceRank[cur.Status]; a > b || a == b && cmpTimes(next.Version, cur.Version) > 0 {
		win = next
	}
	out := *win
	out.FailedAt = cur.FailedAt
	if cmpTimes(next.FailedAt, out.FailedAt) != 0 && (out.FailedAt == nil || next.FailedAt != nil && next.FailedAt.Before(*out.FailedAt)) {
		out.FailedAt = next.FailedAt
	}
	return &out
}

// Unpaid reports whether an invoice's payment failed and it is still owed.
func (i *Invoice) Unpaid() bool {
	return i.FailedAt != nil && (i.Status == "open" || i.Status == "uncollectible")
}

// PaymentFailedSince is the earliest failed payment of sub's invoices that
// are still owed (nil: none).
func PaymentFailedSince(sub string, invs []*Invoice) *time.Time {
	var out *time.Time
	for _, i := range invs {
		if i.SubscriptionID == sub && i.Unpaid() && (out == nil || i.FailedAt.Before(*out)) {
			out = i.FailedAt
		}
	}
	return out
}

// Entitlement is what a subscription grants at one instant.
type Entitlement struct {
	Tier      string     `json:"tier"`
	ExpiresAt *time.Time `json:"expires_at"` // nil: does not expire (free)
	Reason    string     `json:"reason"`
}

// Entitle decides the tier and expiry a's subscription grants at now:
//   - active or trialing: the paid tier until the period's end, renewing
//     (expiry the period's end plus grace, so a late renewal does not
//     stop the bot); with cancel_at_period_end, until the period's end;
//   - a downgrade keeps the higher tier until the end of its period;
//   - a failed payment (an unpaid invoice, or past_due/unpaid) keeps the
//     paid tier for grace after the first failure, then free;
//   - canceled: the paid tier until the period's end, then free;
//   - anything else (incomplete, paused, an unmapped price): free.
//
// It returns ok false for an account no subscription manages: its tier is
// the admin's to set.
func Entitle(a *BillingAccount, failedSince *time.Time, now time.Time, grace time.Duration) (Entitlement, bool) {
	if !a.Subscribed() {
		return Entitlement{}, false
	}
	free := func(why string) (Entitlement, bool) { return Entitlement{Tier: TierFree, Reason: why}, true }
	paid, until := a.Tier, a.PeriodEnd
	if a.HoldTier != "" && a.HoldUntil != nil && now.Before(*a.HoldUntil) {
		paid, until = a.HoldTier, a.HoldUntil
	}
	if paid == "" || paid == TierFree {
		return free("the subscription's price is not mapped to a paid plan")
	}
	inGrace := func(since time.Time) (Entitlement, bool) {
		end := since.Add(grace)
		if now.Before(end) {
			return Entitlement{Tier: paid, ExpiresAt: &end, Reason: "payment failed; the plan is kept until " + end.UTC().Format("2006-01-02 15:04 UTC")}, true
		}
		return free("payment failed and the grace period ended")
	}
	switch a.Status {
	case SubActive, SubTrialing, SubPastDue, SubUnpaid:
		if failedSince != nil {
			return inGrace(*failedSince)
		}
		if a.Status == SubPastDue || a.Status == SubUnpaid {
			since := now
			if a.PeriodStart != nil {
				since = *a.PeriodStart
			}
			return inGrace(since)
		}
		if until == nil {
			return Entitlement{Tier: paid, Reason: "active"}, true
		}
		if a.CancelAtPeriodEnd {
			if now.Before(*until) {
				e := *until
				return Entitlement{Tier: paid, ExpiresAt: &e, Reason: "cancels at the end of the period"}, true
			}
			return free("canceled at the end of the period")
		}
		e := until.Add(grace)
		return Entitlement{Tier: paid, ExpiresAt: &e, Reason: "the subscription is active and renews at the end of the period"}, true
	case SubCanceled, SubIncompleteExpired:
		if until != nil && now.Before(*until) {
			e := *until
			return Entitlement{Tier: paid, ExpiresAt: &e, Reason: "canceled; the plan is kept until the end of the period"}, true
		}
		return free("the subscription ended")
	}
	return free("the subscription is " + strings.ReplaceAll(a.Status, "_", " "))
}

// ClampConfig cuts c down to p's limits and features and says, one line a
// field, what it changed (nil: nothing).
func ClampConfig(c *Config, p *Profile) []string {
	var out []string
	money := func(field string, v *Decimal, limit Decimal) {
		if v.GreaterThan(limit) && limit.Sign() > 0 {
			out = append(out, fmt.Sprintf("%s lowered from %s to the plan's %s", field, v.String(), limit.String()))
			*v = limit
		}
	}
	money("max_trade_size_usd", &c.MaxTradeSizeUSD, p.MaxTradeSizeUSD)
	money("max_daily_loss_usd", &c.MaxDailyLossUSD, p.MaxDailyLossUSD)
	flag := func(field string, on *bool, allowed bool) {
		if *on && !allowed {
			out = append(out, field+" turned off (not in the "+p.SubscriptionTier+" plan)")
			*on = false
		}
	}
	flag("enable_copy_trading", &c.EnableCopyTrading, p.Features.CopyTrading)
	flag("enable_single_platform_arb", &c.EnableSinglePlatformArb, p.Features.SinglePlatform)
	flag("enable_cross_platform_arb", &c.EnableCrossPlatformArb, p.Features.CrossPlatform)
	flag("enable_overlapping_arb", &c.EnableOverlappingArb, p.Features.OverlappingArb)
	flag("enable_news_arbitrage", &c.EnableNewsArbitrage, p.Features.NewsArbitrage)
	return out
}

// Checkout is where to send a user to pay (the provider's hosted page).
type Checkout struct {
	URL string `json:"url"`
}

// BillingPreview is what a plan change would cost now (the provider's
// upcoming-invoice preview, prorations included).
type BillingPreview struct {
	Tier      string     `json:"tier"`
	AmountDue Decimal    `json:"amount_due"`
	Currency  string     `json:"currency"`
	PeriodEnd *time.Time `json:"period_end"`
	// When: "now" (an upgrade, charged at once, prorated), "period_end" (a
	// downgrade or cancellation) or "checkout" (a first subscription).
	When string `json:"when"`
}

// BillingProvider is the payment provider: everything billing asks of it.
// internal/stripe implements it; the server holds nil when billing is off.
type BillingProvider interface {
	// CreateCustomer creates the provider's customer for user.
	CreateCustomer(ctx context.Context, user ID, email string) (string, error)
	// Checkout opens a subscription checkout for price.
	Checkout(ctx context.Context, user ID, customer, price, successURL, cancelURL string) (*Checkout, error)
	// Portal opens the customer's billing portal.
	Portal(ctx context.Context, customer, returnURL string) (string, error)
	// Preview prices moving a's subscription (or a new one) to price.
	Preview(ctx context.Context, a *BillingAccount, price string) (*BillingPreview, error)
	// ChangePrice moves a's subscription to price: at once for an upgrade,
	// keeping holdTier until the period's end for a downgrade (holdTier "").
	ChangePrice(ctx context.Context, a *BillingAccount, price, holdTier string) error
	// CancelAtPeriodEnd sets (or clears) the cancellation at the period's end.
	CancelAtPeriodEnd(ctx context.Context, a *BillingAccount, cancel bool) error
	// ParseEvent verifies a webhook delivery's signature (a bad or stale
	// one is EINVALID) and decodes its event.
	ParseEvent(payload []byte, signature string) (*BillingEvent, error)
}

// CheckBillingPrice is what AdminTx.PutBillingPrice checks before it
// writes, on every store: p is valid, its tier exists (EINVALID naming
// tier), and its price is no other tier's (ECONFLICT naming price_id).
func CheckBillingPrice(tx AdminTx, p *BillingPrice) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := tx.Tier(p.Tier); ErrorCode(err) == ENOTFOUND {
		return FieldError("tier", "no such tier")
	} else if err != nil {
		return err
	}
	prices, err := tx.BillingPrices()
	if err != nil {
		return err
	}
	for _, o := range prices {
		if p.PriceID != "" && o.PriceID == p.PriceID && o.Tier != p.Tier {
			return ErrPriceTaken(o.Tier)
		}
	}
	return nil
}

// ErrPriceTaken is PutBillingPrice's conflict: the price is another tier's.
func ErrPriceTaken(tier string) *Error {
	msg := "is already the price of the " + tier + " tier"
	return &Error{Code: ECONFLICT, Message: "price_id " + msg, Fields: map[string]string{"price_id": msg}}
}

// Validate checks what a store is asked to keep of an account.
func (a *BillingAccount) Validate() error {
	v := Validation{}
	if a.UserID.IsZero() {
		v.Add("user_id", "is required")
	}
	if !validProviderID(a.CustomerID) {
		v.Add("customer_id", "must be a provider id")
	}
	if a.SubscriptionID != "" && !validProviderID(a.SubscriptionID) {
		v.Add("subscription_id", "must be a provider id")
	}
	if a.PriceID != "" && !validProviderID(a.PriceID) {
		v.Add("price_id", "must be a provider id")
	}
	v.checkText("status", a.Status, 32)
	v.checkText("tier", a.Tier, 32)
	v.checkText("hold_tier", a.HoldTier, 32)
	return v.Err()
}

// Validate checks what a store is asked to keep of an invoice.
func (i *Invoice) Validate() error {
	v := Validation{}
	if !validProviderID(i.ID) {
		v.Add("id", "must be a provider id")
	}
	if i.UserID.IsZero() {
		v.Add("user_id", "is required")
	}
	if i.SubscriptionID != "" && !validProviderID(i.SubscriptionID) {
		v.Add("subscription_id", "must be a provider id")
	}
	if _, ok := invoiceRank[i.Status]; !ok {
		v.Add("status", "must be draft, open, paid, uncollectible or void")
	}
	v.checkText("number", i.Number, 64)
	v.checkText("currency", i.Currency, 8)
	v.checkText("hosted_invoice_url", i.HostedURL, 2048)
	if i.HostedURL != "" && !strings.HasPrefix(i.HostedURL, "https://") && !strings.HasPrefix(i.HostedURL, "http://") {
		v.Add("hosted_invoice_url", "must be an http(s) URL")
	}
	return v.Err()
}

// AuditBillingEvent records a provider event applied to a user.
const AuditBillingEvent = "billing.event"

// Billing event types billing acts on (the provider's names).
const (
	EventCheckoutCompleted   = "checkout.session.completed"
	EventSubscriptionCreated = "customer.subscription.created"
	EventSubscriptionUpdated = "customer.subscription.updated"
	EventSubscriptionDeleted = "customer.subscription.deleted"
	EventInvoicePaid         = "invoice.paid"
	EventInvoiceFailed       = "invoice.payment_failed"
)

// BillingEvent is a provider webhook event, verified and decoded by the
// provider's adapter.
type BillingEvent struct {
	ID      string
	Type    string
	Created time.Time
	// Customer is the provider customer the event is about; User the user
	// the provider was told at checkout (NilID when it says none).
	Customer string
	User     ID
	// Subscription is a subscription event's state (its UserID,
	// CustomerID and Tier are filled in when applied); Invoice an invoice
	// event's invoice.
	Subscription *BillingAccount
	Invoice      *Invoice
}

// Known reports whether billing acts on the event's type.
func (ev *BillingEvent) Known() bool {
	switch ev.Type {
	case EventCheckoutCompleted, EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted,
		EventInvoicePaid, EventInvoiceFailed:
		return true
	}
	return false
}

// ApplyBillingEvent applies ev at most once, in one transaction on the
// service path: it records the event id, finds the user by the customer
// (binding it on checkout to the user the checkout named), merges the
// subscription state or the invoice, and audits it. It returns the user
// concerned (NilID for an event about no user of ours, or of a type
// billing ignores) and whether the event was new. Call SettleBilling
// afterwards for the user's entitlement.
func ApplyBillingEvent(ctx context.Context, s Store, ev *BillingEvent) (ID, bool, error) {
	var owner ID
	fresh := false
	err := s.Admin(ctx, func(tx AdminTx) error {
		var err error
		if fresh, err = tx.MarkBillingEvent(ev.ID, ev.Type); err != nil || !fresh || !ev.Known() || ev.Customer == "" {
			return err
		}
		owner, err = tx.BillingOwner(ev.Customer)
		if ErrorCode(err) == ENOTFOUND && !ev.User.IsZero() {
			// A customer we did not create: bind it to the user the
			// checkout named, unless that user has one already.
			if _, err := tx.UserByID(ev.User); err != nil {
				owner = NilID
				return nil
			}
			if _, err := tx.BillingAccountOf(ev.User); ErrorCode(err) != ENOTFOUND {
				owner = NilID
				return err
			}
			owner = ev.User
			err = tx.PutBillingAccount(&BillingAccount{UserID: owner, CustomerID: ev.Customer})
		}
		if err != nil {
			owner = NilID
			if ErrorCode(err) == ENOTFOUND {
				return nil // not one of ours
			}
			return err
		}
		acct, err := tx.BillingAccountOf(owner)
		if err != nil {
			return err
		}
		if sub := ev.Subscription; sub != nil {
			next := *sub
			next.UserID, next.CustomerID, next.CreatedAt = owner, acct.CustomerID, acct.CreatedAt
			next.Version = &ev.Created
			prices, err := tx.BillingPrices()
			if err != nil {
				return err
			}
			next.Tier = ""
			for _, p := range prices {
				if p.PriceID == next.PriceID {
					next.Tier = p.Tier
				}
			}
			if SubscriptionNewer(acct, &next) {
				if err := tx.PutBillingAccount(&next); err != nil {
					return err
				}
			}
		}
		if inv := ev.Invoice; inv != nil {
			in := *inv
			in.UserID, in.Version = owner, &ev.Created
			if ev.Type == EventInvoiceFailed {
				in.FailedAt = &ev.Created
			}
			cur, err := tx.Invoice(in.ID)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return err
			}
			if err := tx.PutInvoice(MergeInvoice(cur, &in)); err != nil {
				return err
			}
		}
		d, _ := json.Marshal(map[string]string{"event": ev.ID, "type": ev.Type})
		return tx.AppendAudit(&AuditEntry{UserID: &owner, Actor: "system", Action: AuditBillingEvent, Target: "billing",
			Details: string(d), CreatedAt: tx.Now()})
	})
	return owner, fresh, err
}

// BillingChange is what SettleBilling changed for a user.
type BillingChange struct {
	From      string     `json:"from"`
	To        string     `json:"to"`
	ExpiresAt *time.Time `json:"expires_at"`
	Reason    string     `json:"reason"`
	Message   string     `json:"message"`
	Clamped   []string   `json:"config_changes,omitempty"`
}

// SettleBilling brings user's profile in line with its subscription at
// the store's now: the tier (with its limits) and subscription_expires_at
// Entitle decides, audited; then, when the tier changed, the config cut
// down to the new plan (ClampConfig), audited with a message for the user.
// It is idempotent: the webhook handler and the periodic sweep both call
// it. It returns nil when nothing changed; the caller reloads the bot.
func SettleBilling(ctx context.Context, s Store, user ID, grace time.Duration) (*BillingChange, error) {
	var ch *BillingChange
	err := s.TenantView(ctx, user, func(tx TenantTx) error {
		acct, err := tx.BillingAccount()
		if ErrorCode(err) == ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		invs, err := tx.Invoices(NewsPageLimit(0))
		if err != nil {
			return err
		}
		ent, ok := Entitle(acct, PaymentFailedSince(acct.SubscriptionID, invs), tx.Now(), grace)
		if !ok || ent.Tier == p.SubscriptionTier && cmpTimes(ent.ExpiresAt, p.SubscriptionExpiresAt) == 0 {
			return nil
		}
		ch = &BillingChange{From: p.SubscriptionTier, To: ent.Tier, ExpiresAt: ent.ExpiresAt, Reason: ent.Reason}
		return nil
	})
	if err != nil || ch == nil {
		return nil, err
	}
	err = s.Admin(ctx, func(tx AdminTx) error {
		if err := tx.SetUserSubscription(user, ch.To, ch.ExpiresAt); err != nil {
			return err
		}
		name := func(tier string) string {
			if t, err := tx.Tier(tier); err == nil {
				return t.DisplayName
			}
			return tier
		}
		if ch.From == ch.To {
			ch.Message = fmt.Sprintf("Your %s plan: %s.", name(ch.To), ch.Reason)
		} else {
			ch.Message = fmt.Sprintf("Your plan changed from %s to %s: %s.", name(ch.From), name(ch.To), ch.Reason)
		}
		d, _ := json.Marshal(ch)
		return tx.AppendAudit(&AuditEntry{UserID: &user, Actor: "system", Action: AuditBillingTier, Target: "profile",
			Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return ch, err
	}
	err = s.Tenant(ctx, user, func(tx TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		c, err := tx.Config()
		if err != nil {
			return err
		}
		text := ch.Message
		if ch.From != ch.To {
			if ch.Clamped = ClampConfig(c, p); len(ch.Clamped) > 0 {
				if err := tx.UpdateConfig(c); err != nil {
					return err
				}
				d, _ := json.Marshal(map[string]any{"message": "Your settings were changed to fit the " + p.SubscriptionTier + " plan.",
					"changes": ch.Clamped})
				if err := tx.AppendAudit(&AuditEntry{Actor: "system", Action: AuditBillingClamp, Target: "config", Details: string(d),
					CreatedAt: tx.Now()}); err != nil {
					return err
				}
				text += " Your settings were changed to fit it: " + strings.Join(ch.Clamped, "; ") + "."
			}
		}
		// The user is told, in the transaction that made the change (once
		// per change: the key is the change itself).
		expires := ""
		if ch.ExpiresAt != nil {
			expires = ch.ExpiresAt.UTC().Format(time.RFC3339)
		}
		_, err = Notify(tx, c, BillingNotice(NotifyKey(strings.Join([]string{ch.From, ch.To, expires, ch.Reason}, "|"), "plan"), "Your PolyBot plan", text, tx.Now()))
		return err
	})
	return ch, err
}
