package stripe_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/stripe"
	"github.com/polybot/polybot/internal/stripe/stripemock"
)

const (
	testKey    = "sk_test_polybotCanary5f1e"
	testSecret = "whsec_polybot_canary_9a7c"
)

func newClient(t *testing.T, url string) *stripe.Client {
	t.Helper()
	c, err := stripe.New(stripe.Config{Keys: stripe.Keys{SecretKey: testKey, WebhookSecret: testSecret}, URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUpgradeAgainstStripeMockProducesACheckoutURL(t *testing.T) {
	c := newClient(t, stripemock.Start(t))
	ctx := context.Background()
	user := polybot.NewID()
	cus, err := c.CreateCustomer(ctx, user, "buyer@example.com")
	if err != nil || !strings.HasPrefix(cus, "cus_") {
		t.Fatalf("CreateCustomer = %q, %v; want a cus_ id", cus, err)
	}
	co, err := c.Checkout(ctx, user, cus, "price_pro", "http://127.0.0.1/plan?checkout=success", "http://127.0.0.1/plan")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(co.URL, "https://checkout.stripe.com/") {
		t.Errorf("Checkout URL = %q, want Stripe's hosted checkout", co.URL)
	}
	portal, err := c.Portal(ctx, cus, "http://127.0.0.1/plan")
	if err != nil || !strings.HasPrefix(portal, "https://") {
		t.Errorf("Portal = %q, %v; want an https URL", portal, err)
	}
	// stripe-mock answers every preview with its fixture invoice: 1000
	// cents due, so $10.00 exactly.
	pv, err := c.Preview(ctx, &polybot.BillingAccount{CustomerID: cus}, "price_pro")
	if err != nil {
		t.Fatal(err)
	}
	if pv.AmountDue.Cmp(polybot.MustDecimal("10")) != 0 || pv.When != "checkout" {
		t.Errorf("Preview for a new subscription = %+v, want $10 at checkout", pv)
	}
	sub := &polybot.BillingAccount{CustomerID: cus, SubscriptionID: "sub_123", Status: polybot.SubActive}
	if pv, err = c.Preview(ctx, sub, "price_basic"); err != nil || pv.When != "now" {
		t.Errorf("Preview of a change = %+v, %v; want a prorated amount now", pv, err)
	}
	if err := c.ChangePrice(ctx, sub, "price_basic", polybot.TierPro); err != nil {
		t.Errorf("ChangePrice: %v", err)
	}
	if err := c.CancelAtPeriodEnd(ctx, sub, true); err != nil {
		t.Errorf("CancelAtPeriodEnd: %v", err)
	}
}

func TestARefusedKeyIsNeverEchoedInTheError(t *testing.T) {
	// stripe-mock refuses a key that does not look like one and echoes
	// the Authorization header back, as an API might.
	const odd = "sk_live_not+valid/for-the-mock"
	c, err := stripe.New(stripe.Config{Keys: stripe.Keys{SecretKey: odd, WebhookSecret: testSecret}, URL: stripemock.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateCustomer(context.Background(), polybot.NewID(), "x@example.com")
	if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("error %v, want EUNAVAILABLE (the server's credentials)", err)
	}
	if strings.Contains(err.Error(), odd) || strings.Contains(polybot.ErrorMessage(err), odd) {
		t.Errorf("the error shows the key: %v", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("the logged cause %v: want the echoed key replaced by [redacted] (is the double still echoing it?)", err)
	}
}

func TestAnUnreachableStripeIsUnavailableAndNamesNoKey(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1")
	_, err := c.CreateCustomer(context.Background(), polybot.NewID(), "x@example.com")
	if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("error %v, want EUNAVAILABLE", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("the error carries the secret key: %v", err)
	}
}

func TestWebhookSignatureIsVerified(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1")
	now := time.Now()
	payload := stripemock.Event("evt_1", "invoice.paid", now, stripemock.Invoice("in_1", "cus_1", "sub_1", "paid", 2999, 2999, now))
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"a good signature", stripemock.Sign(payload, testSecret, now), true},
		{"another secret's signature", stripemock.Sign(payload, "whsec_other", now), false},
		{"a stale signature (10 minutes old)", stripemock.Sign(payload, testSecret, now.Add(-10*time.Minute)), false},
		{"no signature", "", false},
		{"a tampered body", stripemock.Sign(bytes.Replace(payload, []byte("2999"), []byte("1"), 1), testSecret, now), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := c.ParseEvent(payload, tc.header)
			if tc.ok != (err == nil) {
				t.Fatalf("ParseEvent = %v, %v; want ok %v", ev, err, tc.ok)
			}
			if !tc.ok && polybot.ErrorCode(err) != polybot.EINVALID {
				t.Errorf("error code %q, want EINVALID", polybot.ErrorCode(err))
			}
		})
	}
}

func TestEventsDecodeIntoTheDomain(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	start, end := at, at.AddDate(0, 1, 0)
	user := polybot.NewID()
	parse := func(payload []byte) *polybot.BillingEvent {
		t.Helper()
		ev, err := c.ParseEvent(payload, stripemock.Sign(payload, testSecret, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}

	ev := parse(stripemock.Event("evt_sub", "customer.subscription.updated", at,
		stripemock.Subscription("sub_9", "cus_9", "price_pro", "active", at.Add(-time.Hour), start, end, true,
			map[string]string{"polybot_user": user.String(), "polybot_hold_tier": "enterprise", "polybot_hold_until": fmt.Sprint(end.Unix())})))
	s := ev.Subscription
	if ev.Customer != "cus_9" || ev.User != user || !ev.Created.Equal(at) || s == nil || s.SubscriptionID != "sub_9" ||
		s.PriceID != "price_pro" || s.Status != "active" || !s.CancelAtPeriodEnd || !s.PeriodStart.Equal(start) ||
		!s.PeriodEnd.Equal(end) || s.HoldTier != "enterprise" || !s.HoldUntil.Equal(end) {
		t.Errorf("subscription event = %+v / %+v", ev, s)
	}

	ev = parse(stripemock.Event("evt_inv", "invoice.payment_failed", at, stripemock.Invoice("in_9", "cus_9", "sub_9", "open", 2999, 0, at)))
	in := ev.Invoice
	if ev.Customer != "cus_9" || in == nil || in.ID != "in_9" || in.SubscriptionID != "sub_9" || in.AmountDue.String() != "29.99" ||
		!in.AmountPaid.IsZero() || in.Status != "open" || in.HostedURL != "https://invoice.stripe.com/i/in_9" || !in.Created.Equal(at) {
		t.Errorf("invoice event = %+v / %+v", ev, in)
	}

	ev = parse(stripemock.Event("evt_co", "checkout.session.completed", at, stripemock.CheckoutCompleted("cs_1", "cus_9", "sub_9", user.String())))
	if ev.Customer != "cus_9" || ev.User != user {
		t.Errorf("checkout event = %+v", ev)
	}

	ev = parse(stripemock.Event("evt_other", "charge.refunded", at, map[string]any{"id": "ch_1", "object": "charge"}))
	if ev.Known() || ev.Subscription != nil || ev.Invoice != nil || ev.Type != "charge.refunded" {
		t.Errorf("an unknown type decoded as %+v, want only its id and type", ev)
	}
}

func TestKeysComeFromTheEnvironmentOrAFileAndAreNeverShown(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "stripe.key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"none: billing is off", nil, false, ""},
		{"both", map[string]string{stripe.EnvSecretKey: testKey, stripe.EnvWebhookSecret: testSecret}, true, ""},
		{"the key from a file", map[string]string{stripe.EnvSecretKey + "_FILE": keyFile, stripe.EnvWebhookSecret: testSecret}, true, ""},
		{"a key without a webhook secret", map[string]string{stripe.EnvSecretKey: testKey}, false, stripe.EnvWebhookSecret},
		{"a webhook secret without a key", map[string]string{stripe.EnvWebhookSecret: testSecret}, false, stripe.EnvSecretKey},
		{"a missing file", map[string]string{stripe.EnvSecretKey + "_FILE": filepath.Join(dir, "nope"), stripe.EnvWebhookSecret: testSecret}, false, "_FILE"},
		{"both forms", map[string]string{stripe.EnvSecretKey: testKey, stripe.EnvSecretKey + "_FILE": keyFile}, false, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, on, err := stripe.KeysFromEnv(env(tc.env))
			if on != tc.on || (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("KeysFromEnv = %v, %v; want on %v, error naming %q", on, err, tc.on, tc.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testSecret)) {
				t.Errorf("the error shows a secret: %v", err)
			}
			if on && (k.SecretKey != testKey || k.WebhookSecret != testSecret) {
				t.Errorf("keys read wrong (trimmed file contents expected)")
			}
		})
	}
	c := newClient(t, "")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("client", "stripe", c)
	shown := fmt.Sprint(c) + fmt.Sprintf("%+v %#v", c, c) + logs.String()
	if strings.Contains(shown, testKey) || strings.Contains(shown, testSecret) {
		t.Errorf("printing or logging the client shows a key: %s", shown)
	}
}
