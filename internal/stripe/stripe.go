// Package stripe is PolyBot's payment provider on Stripe, through the
// official stripe-go (v82): customers, subscription Checkout Sessions, the
// Customer Portal, upcoming-invoice previews, plan changes, and webhook
// events verified with the endpoint secret and decoded into
// polybot.BillingEvent. It implements polybot.BillingProvider.
//
// The secret key and the webhook secret live only in this package's
// values: they are never logged, put in an error or returned (Client's
// String, GoString and LogValue redact them). Tests talk to stripe-mock over
// loopback (Config.URL).
//
// It imports the root package and stripe-go only; no store, no server.
package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/polybot/polybot"
)

// Metadata keys PolyBot puts on Stripe objects.
const (
	metaUser      = "polybot_user"
	metaHoldTier  = "polybot_hold_tier"
	metaHoldUntil = "polybot_hold_until"
)

// Keys are the Stripe secrets.
type Keys struct {
	SecretKey     string
	WebhookSecret string
}

// Environment variables KeysFromEnv reads; each has a _FILE variant naming
// a file that holds the value.
const (
	EnvSecretKey     = "POLYBOT_STRIPE_SECRET_KEY"
	EnvWebhookSecret = "POLYBOT_STRIPE_WEBHOOK_SECRET"
)

// KeysFromEnv reads the keys from the environment: NAME, or the file
// NAME_FILE names (surrounding space trimmed). Both empty: billing is off
// (ok false). One without the other is an error that names the variable,
// never its value.
func KeysFromEnv(getenv func(string) string) (Keys, bool, error) {
	read := func(name string) (string, error) {
		v := getenv(name)
		if f := getenv(name + "_FILE"); f != "" {
			if v != "" {
				return "", fmt.Errorf("set %s or %s_FILE, not both", name, name)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("%s_FILE: cannot read the file it names", name)
			}
			v = string(b)
		}
		return strings.TrimSpace(v), nil
	}
	var k Keys
	var err error
	if k.SecretKey, err = read(EnvSecretKey); err != nil {
		return Keys{}, false, err
	}
	if k.WebhookSecret, err = read(EnvWebhookSecret); err != nil {
		return Keys{}, false, err
	}
	switch {
	case k.SecretKey == "" && k.WebhookSecret == "":
		return Keys{}, false, nil
	case k.SecretKey == "":
		return Keys{}, false, fmt.Errorf("%s is not set (needed with %s)", EnvSecretKey, EnvWebhookSecret)
	case k.WebhookSecret == "":
		return Keys{}, false, fmt.Errorf("%s is not set (needed with %s)", EnvWebhookSecret, EnvSecretKey)
	}
	return k, true, nil
}

// Config configures a Client.
type Config struct {
	Keys Keys
	// URL is the API's base URL; empty: Stripe's (api.stripe.com). Tests
	// point it at stripe-mock.
	URL        string
	HTTPClient *http.Client
	// Tolerance is how old a webhook signature may be (default 5 minutes).
	Tolerance time.Duration
	Logger    *slog.Logger
}

// Client is polybot.BillingProvider on Stripe.
type Client struct {
	sc        *stripego.Client
	key       string
	whSecret  string
	tolerance time.Duration
	log       *slog.Logger
}

var _ polybot.BillingProvider = (*Client)(nil)

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Keys.SecretKey == "" || cfg.Keys.WebhookSecret == "" {
		return nil, errors.New("stripe: the secret key and the webhook secret are both required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = webhook.DefaultTolerance
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	retries := int64(2)
	bc := &stripego.BackendConfig{HTTPClient: cfg.HTTPClient, MaxNetworkRetries: &retries,
		LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull}}
	if cfg.URL != "" {
		bc.URL = stripego.String(strings.TrimRight(cfg.URL, "/"))
	}
	b := stripego.GetBackendWithConfig(stripego.APIBackend, bc)
	sc := stripego.NewClient(cfg.Keys.SecretKey, stripego.WithBackends(&stripego.Backends{API: b, Connect: b, Uploads: b, MeterEvents: b}))
	return &Client{sc: sc, key: cfg.Keys.SecretKey, whSecret: cfg.Keys.WebhookSecret, tolerance: cfg.Tolerance, log: cfg.Logger}, nil
}

// String and LogValue keep the keys out of any print or log.
func (c *Client) String() string { return "stripe.Client{keys redacted}" }

// GoString keeps %#v from printing the fields.
func (c *Client) GoString() string { return c.String() }

// LogValue implements slog.LogValuer.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// fail is what a failed Stripe call becomes. The user sees that the
// payment provider refused or did not answer; the log gets Stripe's error
// with the secret key cut out (an API double, or an API, may echo the
// Authorization header back).
func (c *Client) fail(what string, err error) error {
	cause := redacted{strings.ReplaceAll(err.Error(), c.key, "[redacted]")}
	var se *stripego.Error
	if errors.As(err, &se) {
		switch {
		case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
			return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "the payment provider refused this server's credentials (" + what + ")", Err: cause}
		case se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests:
			msg := strings.ReplaceAll(se.Msg, c.key, "[redacted]")
			return &polybot.Error{Code: polybot.EINVALID, Message: "the payment provider refused to " + what + ": " + msg, Err: cause}
		}
	}
	return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "the payment provider did not answer (" + what + "); try again", Err: cause}
}

// redacted is an error's text with the secrets taken out.
type redacted struct{ s string }

func (r redacted) Error() string { return r.s }

// CreateCustomer creates the user's Stripe customer. The idempotency key
// is the user's, so a retried call never makes a second customer.
func (c *Client) CreateCustomer(ctx context.Context, user polybot.ID, email string) (string, error) {
	p := &stripego.CustomerCreateParams{Email: stripego.String(email), Metadata: map[string]string{metaUser: user.String()}}
	p.SetIdempotencyKey("polybot-customer-" + user.String())
	cus, err := c.sc.V1Customers.Create(ctx, p)
	if err != nil {
		return "", c.fail("create the customer", err)
	}
	return cus.ID, nil
}

// Checkout opens a subscription Checkout Session for price.
func (c *Client) Checkout(ctx context.Context, user polybot.ID, customer, price, successURL, cancelURL string) (*polybot.Checkout, error) {
	p := &stripego.CheckoutSessionCreateParams{
		Mode:              stripego.String(string(stripego.CheckoutSessionModeSubscription)),
		Customer:          stripego.String(customer),
		ClientReferenceID: stripego.String(user.String()),
		LineItems:         []*stripego.CheckoutSessionCreateLineItemParams{{Price: stripego.String(price), Quantity: stripego.Int64(1)}},
		SuccessURL:        stripego.String(successURL),
		CancelURL:         stripego.String(cancelURL),
		SubscriptionData:  &stripego.CheckoutSessionCreateSubscriptionDataParams{Metadata: map[string]string{metaUser: user.String()}},
	}
	s, err := c.sc.V1CheckoutSessions.Create(ctx, p)
	if err != nil {
		return nil, c.fail("open checkout", err)
	}
	if s.URL == "" {
		return nil, &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "the payment provider gave no checkout page"}
	}
	return &polybot.Checkout{URL: s.URL}, nil
}

// Portal opens the Customer Portal (card, cancellation, invoices).
func (c *Client) Portal(ctx context.Context, customer, returnURL string) (string, error) {
	s, err := c.sc.V1BillingPortalSessions.Create(ctx, &stripego.BillingPortalSessionCreateParams{
		Customer: stripego.String(customer), ReturnURL: stripego.String(returnURL)})
	if err != nil {
		return "", c.fail("open the billing portal", err)
	}
	return s.URL, nil
}

// item returns the subscription's first item (PolyBot subscriptions have one).
func (c *Client) item(ctx context.Context, sub string) (*stripego.SubscriptionItem, error) {
	s, err := c.sc.V1Subscriptions.Retrieve(ctx, sub, nil)
	if err != nil {
		return nil, c.fail("read the subscription", err)
	}
	if s.Items == nil || len(s.Items.Data) == 0 {
		return nil, &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "the subscription has no item"}
	}
	return s.Items.Data[0], nil
}

// Preview prices a change with Stripe's upcoming-invoice preview: for a
// subscriber, moving the subscription's item to price with prorations;
// otherwise a first invoice for price.
func (c *Client) Preview(ctx context.Context, a *polybot.BillingAccount, price string) (*polybot.BillingPreview, error) {
	p := &stripego.InvoiceCreatePreviewParams{Customer: stripego.String(a.CustomerID)}
	when := "checkout"
	if a.Subscribed() && a.Status != polybot.SubCanceled {
		it, err := c.item(ctx, a.SubscriptionID)
		if err != nil {
			return nil, err
		}
		p.Subscription = stripego.String(a.SubscriptionID)
		p.SubscriptionDetails = &stripego.InvoiceCreatePreviewSubscriptionDetailsParams{
			Items:             []*stripego.InvoiceCreatePreviewSubscriptionDetailsItemParams{{ID: stripego.String(it.ID), Price: stripego.String(price)}},
			ProrationBehavior: stripego.String("create_prorations")}
		when = "now"
	} else {
		p.SubscriptionDetails = &stripego.InvoiceCreatePreviewSubscriptionDetailsParams{
			Items: []*stripego.InvoiceCreatePreviewSubscriptionDetailsItemParams{{Price: stripego.String(price)}}}
	}
	inv, err := c.sc.V1Invoices.CreatePreview(ctx, p)
	if err != nil {
		return nil, c.fail("preview the invoice", err)
	}
	return &polybot.BillingPreview{AmountDue: cents(inv.AmountDue), Currency: string(inv.Currency), PeriodEnd: unixPtr(inv.PeriodEnd), When: when}, nil
}

// ChangePrice moves the subscription to price. An upgrade (holdTier "")
// applies at once and invoices the proration now; a downgrade changes the
// price without proration and records holdTier until the period's end in
// the subscription's metadata, which every later event carries.
func (c *Client) ChangePrice(ctx context.Context, a *polybot.BillingAccount, price, holdTier string) error {
	it, err := c.item(ctx, a.SubscriptionID)
	if err != nil {
		return err
	}
	p := &stripego.SubscriptionUpdateParams{
		Items:    []*stripego.SubscriptionUpdateItemParams{{ID: stripego.String(it.ID), Price: stripego.String(price)}},
		Metadata: map[string]string{metaHoldTier: "", metaHoldUntil: ""},
	}
	if holdTier == "" {
		p.ProrationBehavior = stripego.String("always_invoice")
	} else {
		p.ProrationBehavior = stripego.String("none")
		p.Metadata[metaHoldTier] = holdTier
		p.Metadata[metaHoldUntil] = strconv.FormatInt(it.CurrentPeriodEnd, 10)
	}
	if _, err := c.sc.V1Subscriptions.Update(ctx, a.SubscriptionID, p); err != nil {
		return c.fail("change the subscription", err)
	}
	return nil
}

// CancelAtPeriodEnd sets or clears the cancellation at the period's end.
func (c *Client) CancelAtPeriodEnd(ctx context.Context, a *polybot.BillingAccount, cancel bool) error {
	_, err := c.sc.V1Subscriptions.Update(ctx, a.SubscriptionID, &stripego.SubscriptionUpdateParams{CancelAtPeriodEnd: stripego.Bool(cancel)})
	if err != nil {
		return c.fail("cancel the subscription", err)
	}
	return nil
}

// ParseEvent verifies a webhook delivery's Stripe-Signature with the
// endpoint secret (a bad or stale signature is EINVALID, and nothing is
// decoded) and decodes the event. A type billing does not act on comes
// back with only its id, type and time.
func (c *Client) ParseEvent(payload []byte, signature string) (*polybot.BillingEvent, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, signature, c.whSecret,
		webhook.ConstructEventOptions{Tolerance: c.tolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return nil, &polybot.Error{Code: polybot.EINVALID, Message: "the webhook signature is not valid", Err: err}
	}
	return decodeEvent(&ev)
}

func decodeEvent(ev *stripego.Event) (*polybot.BillingEvent, error) {
	out := &polybot.BillingEvent{ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC()}
	if err := polybot.CheckProviderID("id", ev.ID); err != nil {
		return nil, err
	}
	if !out.Known() || ev.Data == nil {
		return out, nil
	}
	bad := func(err error) error {
		return &polybot.Error{Code: polybot.EINVALID, Message: "the event's object is not a " + out.Type + " object", Err: err}
	}
	switch out.Type {
	case polybot.EventCheckoutCompleted:
		var s stripego.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
			return nil, bad(err)
		}
		if s.Customer != nil {
			out.Customer = s.Customer.ID
		}
		out.User, _ = polybot.ParseID(s.ClientReferenceID)
	case polybot.EventSubscriptionCreated, polybot.EventSubscriptionUpdated, polybot.EventSubscriptionDeleted:
		var s stripego.Subscription
		if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
			return nil, bad(err)
		}
		if s.Customer != nil {
			out.Customer = s.Customer.ID
		}
		out.User, _ = polybot.ParseID(s.Metadata[metaUser])
		out.Subscription = subscriptionState(&s)
	case polybot.EventInvoicePaid, polybot.EventInvoiceFailed:
		var in stripego.Invoice
		if err := json.Unmarshal(ev.Data.Raw, &in); err != nil {
			return nil, bad(err)
		}
		if in.Customer != nil {
			out.Customer = in.Customer.ID
		}
		out.Invoice = invoiceOf(&in)
	}
	return out, nil
}

func subscriptionState(s *stripego.Subscription) *polybot.BillingAccount {
	a := &polybot.BillingAccount{SubscriptionID: s.ID, Status: string(s.Status), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		SubCreated: unixPtr(s.Created), HoldTier: s.Metadata[metaHoldTier]}
	if s.Items != nil && len(s.Items.Data) > 0 {
		it := s.Items.Data[0]
		if it.Price != nil {
			a.PriceID = it.Price.ID
		}
		a.PeriodStart, a.PeriodEnd = unixPtr(it.CurrentPeriodStart), unixPtr(it.CurrentPeriodEnd)
	}
	if s.CancelAt != 0 {
		// A cancellation on a set date: the plan ends then.
		a.CancelAtPeriodEnd = true
		if a.PeriodEnd == nil || s.CancelAt < a.PeriodEnd.Unix() {
			a.PeriodEnd = unixPtr(s.CancelAt)
		}
	}
	if a.HoldTier != "" {
		if n, err := strconv.ParseInt(s.Metadata[metaHoldUntil], 10, 64); err == nil {
			a.HoldUntil = unixPtr(n)
		} else {
			a.HoldTier = ""
		}
	}
	return a
}

func invoiceOf(in *stripego.Invoice) *polybot.Invoice {
	i := &polybot.Invoice{ID: in.ID, Number: in.Number, Status: string(in.Status), AmountDue: cents(in.AmountDue),
		AmountPaid: cents(in.AmountPaid), Currency: string(in.Currency), HostedURL: in.HostedInvoiceURL,
		PeriodStart: unixPtr(in.PeriodStart), PeriodEnd: unixPtr(in.PeriodEnd), Created: time.Unix(in.Created, 0).UTC()}
	if in.Parent != nil && in.Parent.SubscriptionDetails != nil && in.Parent.SubscriptionDetails.Subscription != nil {
		i.SubscriptionID = in.Parent.SubscriptionDetails.Subscription.ID
	}
	return i
}

// cents turns Stripe's integer minor units (cents for USD) into dollars,
// exactly.
func cents(n int64) polybot.Decimal { return polybot.NewDecimal(n, 2) }

func unixPtr(s int64) *time.Time {
	if s == 0 {
		return nil
	}
	t := time.Unix(s, 0).UTC()
	return &t
}
