package web

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// Billing is the plan page's billing section: whether online payments are
// on, the subscription, the payment history and recent plan changes.
type Billing struct {
	Enabled  bool
	Account  *polybot.BillingAccount
	Invoices []*polybot.Invoice
	Notices  []Notice
	Plans    map[string]bool // tiers sold online (with a price)
}

// Notice is a plan change the user is told about.
type Notice struct {
	At   time.Time
	Text string
}

// BillingNoticeOf turns a billing audit entry (a plan change or a config
// cut to fit the plan) into a notice.
func BillingNoticeOf(e *polybot.AuditEntry) (Notice, bool) {
	if e.Action != polybot.AuditBillingTier && e.Action != polybot.AuditBillingClamp {
		return Notice{}, false
	}
	var d struct {
		Message string   `json:"message"`
		Changes []string `json:"changes"`
		Clamped []string `json:"config_changes"`
	}
	if json.Unmarshal([]byte(e.Details), &d) != nil || d.Message == "" {
		return Notice{}, false
	}
	text := d.Message
	if ch := append(d.Changes, d.Clamped...); len(ch) > 0 && e.Action == polybot.AuditBillingClamp {
		text += " " + capitalize(strings.Join(ch, "; ")) + "."
	}
	return Notice{At: e.CreatedAt, Text: text}, true
}

// Subscribed reports whether a subscription (running or ended) is known.
func (b Billing) Subscribed() bool { return b.Account.Subscribed() }

// HasCustomer reports whether the provider knows the user (the portal works).
func (b Billing) HasCustomer() bool { return b.Account != nil && b.Account.CustomerID != "" }

// StatusLabel is the subscription's status in words.
func (b Billing) StatusLabel() string {
	a := b.Account
	if !a.Subscribed() {
		return "No subscription"
	}
	switch {
	case a.Status == polybot.SubActive && a.CancelAtPeriodEnd:
		return "Active, ends at the end of the period"
	case a.Status == polybot.SubPastDue || a.Status == polybot.SubUnpaid:
		return "Payment failed"
	}
	return capitalize(strings.ReplaceAll(a.Status, "_", " "))
}

// RenewalLabel says what happens at the period's end: "Renews on",
// "Ends on" or "Moves to <tier> on".
func (b Billing) RenewalLabel() string {
	a := b.Account
	switch {
	case !a.Subscribed():
		return ""
	case a.CancelAtPeriodEnd || a.Status == polybot.SubCanceled:
		return "Ends on"
	case a.HoldTier != "" && a.HoldTier != a.Tier:
		return "Moves to " + capitalize(a.Tier) + " on"
	}
	return "Renews on"
}

// GraceLabel names the profile's expiry while a failed payment's grace
// period runs ("" otherwise: the renewal or end date says it all).
func (b Billing) GraceLabel() string {
	if a := b.Account; a.Subscribed() && (a.Status == polybot.SubPastDue || a.Status == polybot.SubUnpaid) {
		return "Plan kept until"
	}
	return ""
}

// InvoiceStatusLabel is an invoice's status in words.
func InvoiceStatusLabel(i *polybot.Invoice) string {
	if i.Unpaid() {
		return "Payment failed"
	}
	return capitalize(i.Status)
}

// AdminBilling is the admin's tier → price map.
type AdminBilling struct {
	Enabled bool
	Prices  []AdminPrice
}

// AdminPrice is one paid tier and its price id ("" when not sold online).
type AdminPrice struct {
	Tier        string
	DisplayName string
	PriceID     string
}

// NewAdminBilling lists the paid tiers with their prices.
func NewAdminBilling(enabled bool, tiers []*polybot.Tier, prices map[string]string) AdminBilling {
	b := AdminBilling{Enabled: enabled}
	for _, t := range tiers {
		if t.Name != polybot.TierFree {
			b.Prices = append(b.Prices, AdminPrice{Tier: t.Name, DisplayName: t.DisplayName, PriceID: prices[t.Name]})
		}
	}
	return b
}
