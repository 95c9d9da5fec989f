// Package stripemock is a test helper: it starts stripe-mock (Stripe's
// official API double, `go install github.com/stripe/stripe-mock@v0.203.0`)
// on a loopback port for one test, and builds webhook events signed the
// way Stripe signs them (stripe-go's webhook.GenerateTestSignedPayload).
//
// Without the stripe-mock binary a test is skipped, or fails when
// POLYBOT_REQUIRE_STRIPE=1 (as .ci/run sets). It imports stripe-go's
// webhook package only; no package of this module.
package stripemock

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Binary finds stripe-mock: on PATH, else in $GOBIN or $GOPATH/bin (or
// ~/go/bin). "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(string(trimNL(out))) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "stripe-mock")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Start runs stripe-mock on a free loopback port until t ends and returns
// its base URL (http://127.0.0.1:port).
func Start(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "stripe-mock is not installed (go install github.com/stripe/stripe-mock@v0.203.0)"
		if os.Getenv("POLYBOT_REQUIRE_STRIPE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Both listeners get a port of their own: left alone, the HTTPS one
	// takes :12112, and a second stripe-mock on the machine would exit.
	addr, tlsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "-http-addr", addr, "-https-addr", tlsAddr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Event is a Stripe event's JSON: id, type, created and data.object.
func Event(id, typ string, created time.Time, object any) []byte {
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": created.Unix(),
		"api_version": stripego.APIVersion, "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": object}})
	if err != nil {
		panic(err)
	}
	return b
}

// Sign returns the Stripe-Signature header of payload signed with secret at t.
func Sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// Subscription is a subscription object with one item on price.
func Subscription(id, customer, price, status string, created, start, end time.Time, cancelAtEnd bool, metadata map[string]string) map[string]any {
	if metadata == nil {
		metadata = map[string]string{}
	}
	return map[string]any{"id": id, "object": "subscription", "customer": customer, "status": status,
		"created": created.Unix(), "cancel_at_period_end": cancelAtEnd, "metadata": metadata,
		"items": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": "si_" + id, "object": "subscription_item", "current_period_start": start.Unix(), "current_period_end": end.Unix(),
			"price": map[string]any{"id": price, "object": "price"}}}}}
}

// Invoice is an invoice object of subscription sub; amounts in cents.
func Invoice(id, customer, sub, status string, due, paid int64, created time.Time) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": customer, "status": status, "number": "INV-" + id,
		"amount_due": due, "amount_paid": paid, "currency": "usd", "created": created.Unix(),
		"hosted_invoice_url": "https://invoice.stripe.com/i/" + id,
		"parent":             map[string]any{"type": "subscription_details", "subscription_details": map[string]any{"subscription": sub}}}
}

// CheckoutCompleted is a completed subscription Checkout Session.
func CheckoutCompleted(id, customer, sub, user string) map[string]any {
	return map[string]any{"id": id, "object": "checkout.session", "mode": "subscription", "status": "complete",
		"customer": customer, "subscription": sub, "client_reference_id": user}
}
