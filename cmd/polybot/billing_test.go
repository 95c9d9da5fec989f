package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/stripe/stripemock"
)

// Without Stripe keys `serve --sim` says billing is off, on its console,
// in the API and on the plan page, and the product still works: the demo
// user's bot runs.
func TestServeSimWithoutStripeKeysSaysBillingIsOff(t *testing.T) {
	url, lines := startServeLines(t, t.TempDir(), nil, "--sim")
	if !strings.Contains(strings.Join(lines, "\n"), "Billing is off (no Stripe keys)") {
		t.Errorf("serve printed %q, want a line saying billing is off", lines)
	}
	var email, password string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "Demo user: "); ok {
			if f := strings.Fields(rest); len(f) >= 3 {
				email, password = f[0], f[2]
			}
		}
	}
	c := newE2EClient(t, url)
	if st, body := c.do("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"`+password+`"}`); st != 200 {
		t.Fatalf("demo login: %d %s", st, body)
	}
	if st, body := c.do("GET", "/api/v1/billing", ""); st != 200 || !strings.Contains(body, `"enabled":false`) || !strings.Contains(body, "Billing is off") {
		t.Errorf("GET /api/v1/billing = %d %s, want billing off", st, body)
	}
	if st, body := c.do("GET", "/plan", ""); st != 200 || !strings.Contains(body, "Billing is off") {
		t.Errorf("GET /plan = %d, want a page saying billing is off", st)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, bot := c.do("GET", "/api/v1/bot", "")
		if strings.Contains(bot, `"state":"running"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo bot is not running: %s", bot)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestServeTurnsBillingOnWithStripeKeys(t *testing.T) {
	env := map[string]string{"POLYBOT_STRIPE_SECRET_KEY": "sk_test_polybotServe1", "POLYBOT_STRIPE_WEBHOOK_SECRET": "whsec_serve_1"}
	url, lines := startServeLines(t, t.TempDir(), env, "--venues", "off", "--stripe-api-url", stripemock.Start(t))
	if !strings.Contains(strings.Join(lines, "\n"), "Billing is on") {
		t.Errorf("serve printed %q, want billing on", lines)
	}
	c := newE2EClient(t, url)
	if st, body := c.do("POST", "/api/v1/auth/signup", `{"email":"payer@example.com","password":"correct horse battery"}`); st != 201 {
		t.Fatalf("signup: %d %s", st, body)
	}
	if _, body := c.do("GET", "/api/v1/billing", ""); !strings.Contains(body, `"enabled":true`) {
		t.Errorf("GET /api/v1/billing = %s, want billing on", body)
	}
}

func TestServeRefusesHalfAStripeConfiguration(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"POLYBOT_STRIPE_SECRET_KEY": "sk_test_half_canary"}[k]
	}
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--venues", "off"},
		getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "POLYBOT_STRIPE_WEBHOOK_SECRET") || strings.Contains(err.Error(), "sk_test_half_canary") {
		t.Fatalf("serve with only a key returned %v, want an error naming the missing webhook secret and not the key", err)
	}
}
