package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/venue/ibkr"
)

// A tenant's IBKR gateway URL is called only at a public address, unless
// the operator allows private ones (a self-hosted PolyBot beside its own
// gateway): a loopback or metadata address is refused naming the field,
// before any request.
func TestATenantsIBKRGatewayMustBePublicUnlessAllowed(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		url   string
		allow bool
		ok    bool
	}{
		{"https://localhost:5000", false, false},
		{"https://127.0.0.1:5000", false, false},
		{"http://169.254.169.254", false, false},
		{"https://10.0.0.7:5000", false, false},
		{"https://localhost:5000", true, true},
		{"https://8.8.8.8:5000", false, true},
	} {
		creds := secrets.Plaintext{polybot.FieldAPIKey: []byte("DU1234567"), ibkr.FieldGatewayURL: []byte(tt.url)}
		x, err := realVenues().withIBKRPrivate(tt.allow).exchangeFor(ctx, nil, polybot.NewID(), polybot.IBKR, true, creds, nil, log)
		if tt.ok && (err != nil || x == nil) {
			t.Errorf("%s (allow %v): %v, want an exchange", tt.url, tt.allow, err)
		}
		if !tt.ok && (err == nil || polybot.ErrorFields(err)[ibkr.FieldGatewayURL] == "" || !strings.Contains(polybot.ErrorMessage(err)+polybot.ErrorFields(err)[ibkr.FieldGatewayURL], "public")) {
			t.Errorf("%s (allow %v): %v, want a refusal naming %s", tt.url, tt.allow, err, ibkr.FieldGatewayURL)
		}
	}
}
