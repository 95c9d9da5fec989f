package browsertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/stripe/stripemock"
)

// takeExternal returns and forgets the external requests that start with
// prefix (an expected navigation away, such as Stripe Checkout).
func (tb *tab) takeExternal(prefix string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var got, rest []string
	for _, u := range tb.external {
		if strings.HasPrefix(u, prefix) {
			got = append(got, u)
		} else {
			rest = append(rest, u)
		}
	}
	tb.external = rest
	return got
}

// TestBillingUpgradeInTheBrowser runs serve --sim with Stripe keys against
// stripe-mock (go test ./internal/browsertest/ -run Billing): an admin maps
// Pro to a Stripe Price on the Admin page; a user on the plan page chooses
// "Upgrade to Pro", sees the price Stripe previews, confirms, and the
// browser is sent to Stripe Checkout.
func TestBillingUpgradeInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	trackSources(t)
	mock := stripemock.Start(t)
	browser := startBrowser(t)
	const webhookSecret = "whsec_browser_1"
	srv := startServerWith(t, []string{"POLYBOT_STRIPE_SECRET_KEY=sk_test_polybotBrowser1", "POLYBOT_STRIPE_WEBHOOK_SECRET=" + webhookSecret},
		"--stripe-api-url", mock)

	admin := newTab(t, browser, srv, "billing-admin", 60*time.Second)
	admin.logIn(srv.AdminEmail, srv.AdminPass, "/admin")
	admin.waitFor("the price map", `document.getElementById('price-pro') && document.getElementById('admin-billing').dataset.enabled === 'true'`)
	admin.fill("price-pro", "price_pro_monthly")
	admin.click("price-pro-save")
	admin.waitFor("the price saved", `document.body.textContent.indexOf('sells as price_pro_monthly') >= 0`)
	admin.screenshot("admin-billing-prices")

	tb := newTab(t, browser, srv, "billing-upgrade", 90*time.Second)
	tb.signUpAPI(newEmail("payer"), "payer-password-123", "Pat Payer")
	tb.open("/plan")
	tb.waitFor("billing on", `document.getElementById('billing-on') && document.getElementById('plan-chooser').dataset.billing === 'on'`)
	if s := tb.text("#tier-pro-choose"); s != "Upgrade to Pro" {
		t.Errorf("the Pro button reads %q, want Upgrade to Pro", s)
	}
	if s := tb.text("#billing-no-invoices"); !strings.Contains(s, "No payments yet") {
		t.Errorf("payment history reads %q", s)
	}
	tb.click("tier-pro-choose")
	tb.waitFor("the preview in the confirmation", `document.getElementById('confirm-dialog').open`)
	// stripe-mock previews every invoice at 1000 cents.
	if msg := tb.text("#confirm-message"); !strings.Contains(msg, "$10.00") || !strings.Contains(msg, "Pro") {
		t.Errorf("the confirmation reads %q, want the previewed $10.00 for Pro", msg)
	}
	tb.screenshot("plan-upgrade-preview")
	tb.click("confirm-ok")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := tb.takeExternal("https://checkout.stripe.com/"); len(got) > 0 {
			t.Logf("sent to %s", got[0])
			break
		}
		if time.Now().After(deadline) {
			tb.fatalf("the browser was not sent to Stripe Checkout (message %q)", eval[string](tb, `(document.getElementById('tier-message')||{}).textContent || ''`))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Stripe tells the server the subscription started and was paid; the
	// plan page then shows the plan, its period, the payment and the
	// portal link.
	var st struct {
		Account struct {
			CustomerID string `json:"customer_id"`
		} `json:"account"`
	}
	tb.open("/plan") // back from the (unreachable) Stripe page
	if r := tb.fetchAPI("GET", "/api/v1/billing", nil); r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &st) != nil {
		tb.fatalf("GET /api/v1/billing: %d %s", r.Status, r.Body)
	}
	now := time.Now().UTC().Truncate(time.Second)
	end := now.Add(30 * 24 * time.Hour)
	cus := st.Account.CustomerID
	for _, ev := range [][]byte{
		stripemock.Event("evt_b1", "customer.subscription.created", now, stripemock.Subscription("sub_b1", cus, "price_pro_monthly", "active", now, now, end, false, nil)),
		stripemock.Event("evt_b2", "invoice.paid", now, stripemock.Invoice("in_b1", cus, "sub_b1", "paid", 9900, 9900, now)),
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/billing/webhook", bytes.NewReader(ev))
		req.Header.Set("Stripe-Signature", stripemock.Sign(ev, webhookSecret, time.Now()))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d", res.StatusCode)
		}
	}
	tb.open("/plan")
	tb.waitFor("the subscription", `document.getElementById('billing-status') && document.querySelector('#billing-invoices tbody tr')`)
	if s := tb.text("#plan-tier"); s != "Pro" {
		t.Errorf("the plan page names the plan %q, want Pro", s)
	}
	if s := tb.text("#billing-status"); s != "Active" {
		t.Errorf("subscription status %q", s)
	}
	if s := tb.text("#billing-renewal"); !strings.Contains(s, end.Format("2006-01-02")) {
		t.Errorf("renewal %q, want %s", s, end.Format("2006-01-02"))
	}
	if row := tb.text("#billing-invoices tbody tr"); !strings.Contains(row, "$99.00") || !strings.Contains(row, "Paid") || !strings.Contains(row, "View invoice") {
		t.Errorf("payment history row %q", row)
	}
	if s := tb.text("#tier-enterprise-not-sold"); !strings.Contains(s, "Not sold online") {
		t.Errorf("enterprise (no price) reads %q", s)
	}
	tb.screenshot("plan-billing")
	tb.click("billing-manage")
	deadline = time.Now().Add(20 * time.Second)
	for len(tb.takeExternal("https://")) == 0 {
		if time.Now().After(deadline) {
			tb.fatalf("Manage billing did not open Stripe's portal")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
