package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/polybot/polybot/internal/server"
	"github.com/polybot/polybot/internal/stripe"
)

// wireBilling turns billing on when the Stripe keys are set
// (POLYBOT_STRIPE_SECRET_KEY and POLYBOT_STRIPE_WEBHOOK_SECRET, or their
// _FILE variants) and returns the line serve prints about it. Without
// keys billing is off: plans are set by an administrator.
func wireBilling(e *env, cfg *server.Config, apiURL, publicURL string, grace time.Duration, log *slog.Logger) (string, error) {
	if grace <= 0 {
		return "", usageError("--billing-grace must be positive")
	}
	cfg.BillingGrace, cfg.PublicURL = grace, publicURL
	keys, on, err := stripe.KeysFromEnv(e.getenv)
	if err != nil {
		return "", usageError("billing: " + err.Error())
	}
	if !on {
		log.Info("billing is off: no Stripe keys")
		return "Billing is off (no Stripe keys): plans are set by an administrator.", nil
	}
	c, err := stripe.New(stripe.Config{Keys: keys, URL: apiURL, Logger: log})
	if err != nil {
		return "", err
	}
	cfg.Billing = c
	where := "Stripe"
	if apiURL != "" {
		where = apiURL
	}
	log.Info("billing is on", "provider", where, "grace", grace)
	return fmt.Sprintf("Billing is on (%s); Stripe webhooks go to /api/v1/billing/webhook.", where), nil
}
