package polybot

import (
	"context"
	"time"
)

// Bot states shown to the user.
const (
	BotRunning  = "running"  // trading (dry-run or live)
	BotStopped  = "stopped"  // the user (or an admin) stopped it
	BotHalted   = "halted"   // running, but a halt state forbids new orders
	BotRefused  = "refused"  // the subscription or limits forbid trading; Reason says why
	BotStarting = "starting" // loading, or waiting to restart after a failure (backoff)
)

// BotCounters count what a tenant's bot has done since it started.
type BotCounters struct {
	Opportunities int64 `json:"opportunities"`
	Intents       int64 `json:"intents"`
	Fills         int64 `json:"fills"`
	Rejected      int64 `json:"rejected"`
	Unwinds       int64 `json:"unwinds"`
	Errors        int64 `json:"errors"`
	Restarts      int64 `json:"restarts"`
}

// BotStatus is a tenant's bot as GET /api/v1/bot shows it.
type BotStatus struct {
	State      string      `json:"state"`
	Reason     string      `json:"reason,omitempty"`
	Mode       ExecMode    `json:"mode"`
	Strategies []string    `json:"strategies"`
	Platforms  []Platform  `json:"platforms"`
	LastError  string      `json:"last_error,omitempty"`
	Counters   BotCounters `json:"counters"`
	StartedAt  *time.Time  `json:"started_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	ConfigAt   time.Time   `json:"config_updated_at"` // the config version the bot runs with
	// Today is the tenant's trading day in the bot's mode: today's loss,
	// the daily limit and when the day resets (the server fills it in).
	Today *DayRisk `json:"today,omitempty"`
}

// Event is a live update for one tenant (the SSE stream).
type Event struct {
	Type string    `json:"type"` // status, opportunity, intent, fill, pnl
	Time time.Time `json:"time"`
	Data any       `json:"data"`
}

// BotManager runs tenants' bots. The server controls it; the engine
// implements it.
type BotManager interface {
	// Start marks the tenant's bot wanted and starts it; Stop stops it and
	// marks it unwanted (both persist across restarts).
	Start(ctx context.Context, tenant ID) error
	Stop(ctx context.Context, tenant ID) error
	// Reload makes a running bot pick up its stored config and secrets now,
	// without a restart.
	Reload(ctx context.Context, tenant ID) error
	// Status and Opportunities take the caller's context: in cluster mode
	// they ask the worker that holds the tenant.
	Status(ctx context.Context, tenant ID) BotStatus
	// Opportunities are the recent opportunities this tenant's config wants,
	// newest first.
	Opportunities(ctx context.Context, tenant ID, limit int) []Opportunity
	// Subscribe streams the tenant's events until cancel is called.
	Subscribe(tenant ID) (events <-chan Event, cancel func())
}
