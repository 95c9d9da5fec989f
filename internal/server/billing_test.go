package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
	"github.com/polybot/polybot/internal/storetest"
	"github.com/polybot/polybot/internal/stripe"
	"github.com/polybot/polybot/internal/stripe/stripemock"
	"github.com/polybot/polybot/internal/web"
)

const (
	billingKey    = "sk_test_polybotServer7d2"
	billingSecret = "whsec_polybot_server_7d2"
)

// reloads is a bot manager that only records reloads (the billing paths
// call nothing else).
type reloads struct {
	polybot.BotManager
	mu  sync.Mutex
	ids []polybot.ID
}

func (r *reloads) Reload(_ context.Context, id polybot.ID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return nil
}

func (r *reloads) count(id polybot.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.ids {
		if x == id {
			n++
		}
	}
	return n
}

// billingEnv is a server with Stripe (stripe-mock) on a settable clock.
type billingEnv struct {
	*testEnv
	clock *storetest.Clock
	t0    time.Time // the clock's start
	bots  *reloads
}

func newBillingEnv(t *testing.T, open storeOpener, grace time.Duration) *billingEnv {
	t.Helper()
	sc, err := stripe.New(stripe.Config{Keys: stripe.Keys{SecretKey: billingKey, WebhookSecret: billingSecret}, URL: stripemock.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	bots := &reloads{}
	ui, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvAt(t, open, clock.Now, func(c *server.Config) {
		c.Billing, c.BillingGrace, c.Bots, c.Web = sc, grace, bots, ui
	})
	return &billingEnv{testEnv: e, clock: clock, t0: clock.Now(), bots: bots}
}

// deliver posts a signed event to the webhook and returns the response.
func (e *billingEnv) deliver(c *client, payload []byte) response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/billing/webhook", strings.NewReader(string(payload)))
	req.Header.Set(server.StripeSignatureHeader, stripemock.Sign(payload, billingSecret, time.Now()))
	res, err := c.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Body: b, Header: res.Header}
}

// billingSnapshot is what a user's billing ends in.
type billingSnapshot struct {
	Tier     string
	Expires  string
	Status   string
	Cancel   bool
	Invoices []string // id amount status
	MaxTrade string
	Copy     bool
}

// snapshot reads the user's state; Expires is written as the time after
// the clock's start (runs on different days compare equal).
func (e *billingEnv) snapshot(id polybot.ID) billingSnapshot {
	e.t.Helper()
	var s billingSnapshot
	err := e.Store.TenantView(context.Background(), id, func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		s.Tier = p.SubscriptionTier
		if p.SubscriptionExpiresAt != nil {
			s.Expires = p.SubscriptionExpiresAt.Sub(e.t0).String()
		}
		if a, err := tx.BillingAccount(); err == nil {
			s.Status, s.Cancel = a.Status, a.CancelAtPeriodEnd
		}
		invs, err := tx.Invoices(0)
		for _, i := range invs {
			s.Invoices = append(s.Invoices, i.ID+" "+polybot.FormatUSD(i.AmountDue)+" "+i.Status)
		}
		c, err2 := tx.Config()
		if err2 != nil {
			return err2
		}
		s.MaxTrade, s.Copy = polybot.FormatUSD(c.MaxTradeSizeUSD), c.EnableCopyTrading
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// setupBuyer maps basic and pro to prices, signs a user up and starts an
// upgrade to pro: the answer is Stripe's Checkout URL. It returns the
// user and the customer stripe-mock made.
func (e *billingEnv) setupBuyer(t *testing.T, email string) (*client, string) {
	t.Helper()
	admin := e.client().signup("admin-" + email).makeAdmin()
	for tier, price := range map[string]string{polybot.TierBasic: "price_basic", polybot.TierPro: "price_pro"} {
		expectStatus(t, admin.do("PUT", "/api/v1/admin/billing/prices/"+tier, map[string]string{"price_id": price}), http.StatusOK)
	}
	u := e.client().signup(email)
	expectStatus(t, u.do("PUT", "/api/v1/admin/billing/prices/pro", map[string]string{"price_id": "price_x"}), http.StatusForbidden)

	var pv polybot.BillingPreview
	r := u.do("POST", "/api/v1/billing/preview", map[string]string{"tier": "pro"})
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &pv)
	if pv.When != "checkout" || pv.AmountDue.Sign() <= 0 {
		t.Errorf("preview of a first subscription = %+v, want an amount at checkout", pv)
	}
	var co struct {
		URL string `json:"checkout_url"`
	}
	r = u.do("POST", "/api/v1/billing/change", map[string]string{"tier": "pro"})
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &co)
	if !strings.HasPrefix(co.URL, "https://checkout.stripe.com/") {
		t.Fatalf("upgrade answered %s, want a Stripe Checkout URL", r.Body)
	}
	var st struct {
		Account *polybot.BillingAccount `json:"account"`
	}
	u.do("GET", "/api/v1/billing", nil).JSON(t, &st)
	if st.Account == nil || !strings.HasPrefix(st.Account.CustomerID, "cus_") {
		t.Fatalf("after checkout the account is %+v, want a customer", st.Account)
	}
	// The customer is created once and reused.
	expectStatus(t, u.do("POST", "/api/v1/billing/change", map[string]string{"tier": "basic"}), http.StatusOK)
	var again struct {
		Account *polybot.BillingAccount `json:"account"`
	}
	u.do("GET", "/api/v1/billing", nil).JSON(t, &again)
	if again.Account.CustomerID != st.Account.CustomerID {
		t.Errorf("a second checkout made customer %s, want %s reused", again.Account.CustomerID, st.Account.CustomerID)
	}
	expectStatus(t, u.do("POST", "/api/v1/billing/change", map[string]string{"tier": "enterprise"}), http.StatusBadRequest)
	return u, st.Account.CustomerID
}

// shuffledTwice is every event twice, in an order drawn from seed.
func shuffledTwice(events [][]byte, seed uint64) [][]byte {
	all := append(append([][]byte{}, events...), events...)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all
}

func TestBillingWebhooksReplayedAndReorderedEndInOneStateSQLite(t *testing.T) {
	testBillingWebhooksReplayedAndReordered(t, openSQLite)
}

func TestBillingWebhooksReplayedAndReorderedEndInOneStatePostgres(t *testing.T) {
	testBillingWebhooksReplayedAndReordered(t, openPostgres)
}

// testBillingWebhooksReplayedAndReordered: a user buys Pro, pays the
// first invoice, then cancels at the period's end. Whatever the order and
// however often the events arrive, the user ends on Pro until the period's
// end with one paid invoice; at the period's end the plan becomes Free and
// the config is cut down to it, without any further event.
func testBillingWebhooksReplayedAndReordered(t *testing.T, open storeOpener) {
	var want billingSnapshot
	// Runs: in order; shuffled twice (two seeds); all at once (Stripe
	// delivers concurrently).
	for run, seed := range []uint64{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("order %d", run), func(t *testing.T) {
			e := newBillingEnv(t, open, 72*time.Hour)
			u, cus := e.setupBuyer(t, fmt.Sprintf("buyer%d@example.com", run))
			t0 := e.clock.Now()
			end := t0.Add(30 * 24 * time.Hour)
			meta := map[string]string{"polybot_user": u.user.ID.String()}
			events := [][]byte{
				stripemock.Event("evt_co", "checkout.session.completed", t0, stripemock.CheckoutCompleted("cs_1", cus, "sub_1", u.user.ID.String())),
				stripemock.Event("evt_created", "customer.subscription.created", t0,
					stripemock.Subscription("sub_1", cus, "price_pro", "active", t0, t0, end, false, meta)),
				stripemock.Event("evt_paid", "invoice.paid", t0.Add(time.Second), stripemock.Invoice("in_1", cus, "sub_1", "paid", 9900, 9900, t0)),
				stripemock.Event("evt_cancel", "customer.subscription.updated", t0.Add(time.Hour),
					stripemock.Subscription("sub_1", cus, "price_pro", "active", t0, t0, end, true, meta)),
				stripemock.Event("evt_customer", "customer.updated", t0.Add(2*time.Hour), map[string]any{"id": cus, "object": "customer"}),
			}
			order := events
			if seed != 0 {
				order = shuffledTwice(events, seed)
			}
			if run == 3 {
				var wg sync.WaitGroup
				status := make(chan int, len(order))
				for _, p := range order {
					wg.Go(func() {
						req, _ := http.NewRequest("POST", e.URL+"/api/v1/billing/webhook", strings.NewReader(string(p)))
						req.Header.Set(server.StripeSignatureHeader, stripemock.Sign(p, billingSecret, time.Now()))
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							status <- 0
							return
						}
						res.Body.Close()
						status <- res.StatusCode
					})
				}
				wg.Wait()
				close(status)
				for st := range status {
					if st != http.StatusOK {
						t.Errorf("a concurrent delivery answered %d", st)
					}
				}
			} else {
				for _, p := range order {
					expectStatus(t, e.deliver(u, p), http.StatusOK)
				}
			}
			got := e.snapshot(u.user.ID)
			wantNow := billingSnapshot{Tier: polybot.TierPro, Expires: end.Sub(t0).String(), Status: "active", Cancel: true,
				Invoices: []string{"in_1 $99.00 paid"}, MaxTrade: "$50.00", Copy: false}
			wantEqualJSON(t, "state after the events", wantNow, got)
			if run == 0 {
				want = got
			} else if want.Tier != "" { // (run 0 ran: not filtered out by -run)
				wantEqualJSON(t, "state against in-order delivery", want, got)
			}
			if e.bots.count(u.user.ID) == 0 {
				t.Error("the tier changed but the bot was never reloaded")
			}

			// On Pro the user raises the limits and turns copy trading on.
			expectStatus(t, u.do("PUT", "/api/v1/config", map[string]any{"max_trade_size_usd": "800", "enable_copy_trading": true}), http.StatusOK)
			var page strings.Builder
			page.Write(u.page("/plan").Body)
			for _, s := range []string{"Payment history", "in_1", "$99.00", "Ends on", "Manage billing", "https://invoice.stripe.com/i/in_1"} {
				if !strings.Contains(page.String(), s) {
					t.Errorf("the plan page lacks %q", s)
				}
			}

			// Before the period's end nothing changes; after it, the sweep
			// moves the user to Free with no event at all.
			e.clock.Set(end.Add(-time.Minute))
			if n, err := e.Server.SweepBilling(context.Background()); err != nil || n != 0 {
				t.Fatalf("sweep before the end changed %d users (%v), want none", n, err)
			}
			reloadsBefore := e.bots.count(u.user.ID)
			e.clock.Set(end.Add(time.Minute))
			if n, err := e.Server.SweepBilling(context.Background()); err != nil || n != 1 {
				t.Fatalf("sweep after the end changed %d users (%v), want 1", n, err)
			}
			after := e.snapshot(u.user.ID)
			wantEqualJSON(t, "state after the period's end", billingSnapshot{Tier: polybot.TierFree, Status: "active", Cancel: true,
				Invoices: []string{"in_1 $99.00 paid"}, MaxTrade: "$50.00", Copy: false}, after)
			if e.bots.count(u.user.ID) != reloadsBefore+1 {
				t.Error("the move to Free did not reload the bot")
			}
			// Stripe's deletion arrives later, twice: nothing more changes.
			del := stripemock.Event("evt_deleted", "customer.subscription.deleted", end,
				stripemock.Subscription("sub_1", cus, "price_pro", "canceled", t0, t0, end, true, meta))
			expectStatus(t, e.deliver(u, del), http.StatusOK)
			expectStatus(t, e.deliver(u, del), http.StatusOK)
			if s := e.snapshot(u.user.ID); s.Tier != polybot.TierFree || s.Status != "canceled" || s.Expires != "" {
				t.Errorf("after the deletion: %+v, want free, canceled, no expiry", s)
			}
			var notices []string
			_ = e.Store.TenantView(context.Background(), u.user.ID, func(tx polybot.TenantTx) error {
				trail, err := tx.AuditTrail(0, 100)
				for _, a := range trail {
					if strings.HasPrefix(a.Action, "billing.") {
						notices = append(notices, a.Action+" "+a.Details)
					}
				}
				return err
			})
			joined := strings.Join(notices, "\n")
			for _, s := range []string{"from Pro to Free", "max_trade_size_usd lowered from 800", "to the plan's 50", "enable_copy_trading turned off", "billing.event"} {
				if !strings.Contains(joined, s) {
					t.Errorf("the audit trail lacks %q:\n%s", s, joined)
				}
			}
		})
	}
}

// wantEqualJSON compares two values by their %+v.
func wantEqualJSON(t *testing.T, what string, want, got any) {
	t.Helper()
	if fmt.Sprintf("%+v", want) != fmt.Sprintf("%+v", got) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestFailedPaymentKeepsThePlanForTheGracePeriodThenFree(t *testing.T) {
	grace := 72 * time.Hour
	e := newBillingEnv(t, openSQLite, grace)
	u, cus := e.setupBuyer(t, "late@example.com")
	t0 := e.clock.Now()
	end := t0.Add(30 * 24 * time.Hour)
	failedAt := t0.Add(time.Minute)
	events := [][]byte{
		stripemock.Event("evt_s1", "customer.subscription.created", t0, stripemock.Subscription("sub_2", cus, "price_basic", "active", t0, t0, end, false, nil)),
		stripemock.Event("evt_f1", "invoice.payment_failed", failedAt, stripemock.Invoice("in_2", cus, "sub_2", "open", 2900, 0, t0)),
		stripemock.Event("evt_s2", "customer.subscription.updated", failedAt, stripemock.Subscription("sub_2", cus, "price_basic", "past_due", t0, t0, end, false, nil)),
	}
	for _, p := range shuffledTwice(events, 7) {
		expectStatus(t, e.deliver(u, p), http.StatusOK)
	}
	got := e.snapshot(u.user.ID)
	wantEqualJSON(t, "during the grace period", billingSnapshot{Tier: polybot.TierBasic, Expires: failedAt.Add(grace).Sub(t0).String(),
		Status: "past_due", Invoices: []string{"in_2 $29.00 open"}, MaxTrade: "$50.00"}, got)
	page := string(u.page("/plan").Body)
	if !strings.Contains(page, "Payment failed") {
		t.Error("the plan page does not say the payment failed")
	}
	e.clock.Set(failedAt.Add(grace + time.Second))
	if _, err := e.Server.SweepBilling(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.snapshot(u.user.ID); s.Tier != polybot.TierFree || s.Expires != "" {
		t.Fatalf("after the grace period: %+v, want free", s)
	}
	// The card works after all: the invoice is paid and the plan is back.
	for _, p := range [][]byte{
		stripemock.Event("evt_s3", "customer.subscription.updated", failedAt.Add(grace+time.Hour), stripemock.Subscription("sub_2", cus, "price_basic", "active", t0, t0, end, false, nil)),
		stripemock.Event("evt_p2", "invoice.paid", failedAt.Add(grace+time.Hour), stripemock.Invoice("in_2", cus, "sub_2", "paid", 2900, 2900, t0)),
	} {
		expectStatus(t, e.deliver(u, p), http.StatusOK)
	}
	if s := e.snapshot(u.user.ID); s.Tier != polybot.TierBasic || s.Expires != end.Add(grace).Sub(t0).String() {
		t.Fatalf("after the late payment: %+v, want basic renewing", s)
	}
}

func TestBillingWebhookRefusesBadSignaturesAndIgnoresUnknownTypes(t *testing.T) {
	e := newBillingEnv(t, openSQLite, 0)
	u, cus := e.setupBuyer(t, "sig@example.com")
	t0 := e.clock.Now()
	sub := stripemock.Event("evt_sig", "customer.subscription.created", t0,
		stripemock.Subscription("sub_3", cus, "price_pro", "active", t0, t0, t0.Add(720*time.Hour), false, nil))
	before := e.snapshot(u.user.ID)
	for name, header := range map[string]string{
		"another secret": stripemock.Sign(sub, "whsec_wrong", time.Now()),
		"stale":          stripemock.Sign(sub, billingSecret, time.Now().Add(-time.Hour)),
		"missing":        "",
		"garbage":        "t=1,v1=00",
	} {
		req, _ := http.NewRequest("POST", e.URL+"/api/v1/billing/webhook", strings.NewReader(string(sub)))
		if header != "" {
			req.Header.Set(server.StripeSignatureHeader, header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s signature: status %d, want 400", name, res.StatusCode)
		}
	}
	wantEqualJSON(t, "state after bad signatures", before, e.snapshot(u.user.ID))
	// The same event, signed, is still new: the refusals recorded nothing.
	var out struct{ Duplicate, Ignored bool }
	r := e.deliver(u, sub)
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &out)
	if out.Duplicate || out.Ignored || e.snapshot(u.user.ID).Tier != polybot.TierPro {
		t.Errorf("the signed event answered %s, want it applied (pro)", r.Body)
	}

	unknown := stripemock.Event("evt_unknown", "payment_intent.succeeded", t0, map[string]any{"id": "pi_1", "object": "payment_intent", "customer": cus})
	r = e.deliver(u, unknown)
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &out)
	if !out.Ignored {
		t.Errorf("an unknown event type answered %s, want ignored", r.Body)
	}
	after := e.snapshot(u.user.ID)
	if after.Tier != polybot.TierPro || len(after.Invoices) != 0 {
		t.Errorf("an unknown event changed the state: %+v", after)
	}
}

func TestPlanChangesGoThroughStripe(t *testing.T) {
	e := newBillingEnv(t, openSQLite, 0)
	u, cus := e.setupBuyer(t, "changer@example.com")
	t0 := e.clock.Now()
	expectStatus(t, e.deliver(u, stripemock.Event("evt_c1", "customer.subscription.created", t0,
		stripemock.Subscription("sub_4", cus, "price_pro", "active", t0, t0, t0.Add(720*time.Hour), false, nil))), http.StatusOK)
	var pv polybot.BillingPreview
	r := u.do("POST", "/api/v1/billing/preview", map[string]string{"tier": "basic"})
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &pv)
	if pv.When != "period_end" || !pv.AmountDue.IsZero() {
		t.Errorf("a downgrade's preview = %+v, want nothing now, at the period's end", pv)
	}
	var msg struct{ Message string }
	r = u.do("POST", "/api/v1/billing/change", map[string]string{"tier": "basic"})
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &msg)
	if !strings.Contains(msg.Message, "end of the current period") {
		t.Errorf("downgrade answered %q", msg.Message)
	}
	r = u.do("POST", "/api/v1/billing/change", map[string]string{"tier": "free"})
	expectStatus(t, r, http.StatusOK)
	var portal struct{ URL string }
	r = u.do("POST", "/api/v1/billing/portal", nil)
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &portal)
	if !strings.HasPrefix(portal.URL, "https://") {
		t.Errorf("portal answered %s", r.Body)
	}
	expectStatus(t, u.do("POST", "/api/v1/billing/change", map[string]string{"tier": "nosuch"}), http.StatusBadRequest)
	expectStatus(t, u.do("POST", "/api/v1/billing/change", map[string]string{}), http.StatusBadRequest)
	if strings.Contains(e.bodies.String(), billingKey) || strings.Contains(e.Logs.String(), billingKey) ||
		strings.Contains(e.bodies.String(), billingSecret) || strings.Contains(e.Logs.String(), billingSecret) {
		t.Error("a Stripe key appears in a response or the log")
	}
}

func TestWithoutStripeKeysBillingIsOffAndNothingBreaks(t *testing.T) {
	e := newWebEnv(t, nil)
	u := e.client().signup("nobill@example.com")
	expectStatus(t, u.do("PATCH", "/api/v1/profile", map[string]any{"accept_terms": true}), http.StatusOK)
	var st struct {
		Enabled bool
		Message string
	}
	r := u.do("GET", "/api/v1/billing", nil)
	expectStatus(t, r, http.StatusOK)
	r.JSON(t, &st)
	if st.Enabled || !strings.Contains(st.Message, "Billing is off") {
		t.Errorf("GET /api/v1/billing = %s, want billing off, said plainly", r.Body)
	}
	for _, p := range []string{"/api/v1/billing/preview", "/api/v1/billing/change"} {
		r := u.do("POST", p, map[string]string{"tier": "pro"})
		expectStatus(t, r, http.StatusServiceUnavailable)
		if !strings.Contains(string(r.Body), "Billing is off") {
			t.Errorf("%s answered %s", p, r.Body)
		}
	}
	expectStatus(t, u.do("POST", "/api/v1/billing/webhook", "{}"), http.StatusServiceUnavailable)
	for _, p := range []string{"/plan", "/onboarding?step=2"} {
		r := u.page(p)
		expectStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), "Billing is off") {
			t.Errorf("%s does not say billing is off", p)
		}
	}
	admin := e.client().signup("nobill-admin@example.com").makeAdmin()
	expectStatus(t, admin.do("PUT", "/api/v1/admin/users/"+u.user.ID.String()+"/tier", map[string]string{"tier": "pro"}), http.StatusOK)
	r = admin.page("/admin")
	expectStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.Body), "admin-billing-off") {
		t.Error("the admin page does not say billing is off")
	}
	expectStatus(t, admin.do("PUT", "/api/v1/admin/billing/prices/pro", map[string]string{"price_id": "price_pro"}), http.StatusOK)
	for _, c := range []struct {
		path, price, field string
		status             int
	}{
		{"/api/v1/admin/billing/prices/pro", "price with spaces", "price_id", http.StatusBadRequest},
		{"/api/v1/admin/billing/prices/nosuch", "price_x", "tier", http.StatusBadRequest},
		{"/api/v1/admin/billing/prices/free", "price_free", "tier", http.StatusBadRequest},
		{"/api/v1/admin/billing/prices/basic", "price_pro", "price_id", http.StatusConflict},
	} {
		r := admin.do("PUT", c.path, map[string]string{"price_id": c.price})
		expectStatus(t, r, c.status)
		if _, ok := r.Fields(t)[c.field]; !ok {
			t.Errorf("PUT %s %q answered %s, want the field %s named", c.path, c.price, r.Body, c.field)
		}
	}
}
