package polybot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Notifications: a tenant's destinations (email, Telegram, Discord, signed
// webhooks), the events that reach them, and the outbox of deliveries.
// Notify writes deliveries in the caller's transaction, so a trade and its
// notification commit together; internal/notify delivers them.

// Notification channels (Config.NotificationChannels names them too).
const (
	ChannelEmail    = "email"
	ChannelTelegram = "telegram"
	ChannelDiscord  = "discord"
	ChannelWebhook  = "webhook"
)

// Notification event types.
const (
	NotifyTrade         = "trade"
	NotifyOpportunity   = "opportunity"
	NotifyDailySummary  = "daily_summary"
	NotifyBotRefused    = "bot.refused"
	NotifyBotHalted     = "bot.halted"
	NotifyUnwindFailed  = "unwind.failed"
	NotifyNakedPosition = "position.naked"
	NotifyBilling       = "billing"
	NotifyTest          = "test"
)

// NotifyEvents lists the event types a destination can choose, in the
// order the settings page shows them.
var NotifyEvents = []string{NotifyTrade, NotifyOpportunity, NotifyDailySummary, NotifyBotRefused, NotifyBotHalted,
	NotifyUnwindFailed, NotifyNakedPosition, NotifyBilling}

// AlwaysNotified reports whether an event type is sent whatever the
// config's notify_on_* switches say (a destination may still leave it out).
func AlwaysNotified(typ string) bool {
	switch typ {
	case NotifyTrade, NotifyOpportunity, NotifyDailySummary:
		return false
	}
	return true
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Sealed fields of a destination.
const (
	NotifyFieldBotToken = "bot_token"      // Telegram
	NotifyFieldURL      = "url"            // Discord and webhooks: the URL carries a token
	NotifyFieldSigning  = "signing_secret" // webhooks
)

// MaxNotifyDestinations is how many destinations a tenant may have.
const MaxNotifyDestinations = 20

// NotifyEvent is one happening worth telling a user: the payload of every
// delivery made for it. ID is stable (the same happening has the same id),
// so enqueuing it twice queues it once.
type NotifyEvent struct {
	ID    string          `json:"id"`
	Type  string          `json:"type"`
	At    time.Time       `json:"created_at"`
	Title string          `json:"title"`
	Text  string          `json:"text"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// NotifyDestination is where a tenant's notifications go. Secrets (a bot
// token, a webhook URL with its token, a signing secret) are sealed under
// the tenant's data key and never leave the server; Target is what may be
// shown.
type NotifyDestination struct {
	ID      string `json:"id"`
	UserID  ID     `json:"-"`
	Channel string `json:"channel"`
	Name    string `json:"name"`
	// Target is the shown address: an email address, a Telegram chat id,
	// a URL's scheme and host.
	Target string `json:"target"`
	// Events the destination takes (empty: every type).
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	// VerifyHash is the SHA-256 (hex) of the pending confirmation code.
	VerifyHash string            `json:"-"`
	VerifiedAt *time.Time        `json:"verified_at"`
	Sealed     map[string]string `json:"-"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// Verified reports whether the destination was confirmed.
func (d *NotifyDestination) Verified() bool { return d.VerifiedAt != nil }

// Wants reports whether the destination takes events of typ.
func (d *NotifyDestination) Wants(typ string) bool {
	return len(d.Events) == 0 || slices.Contains(d.Events, typ)
}

// Validate checks a destination before it is stored.
func (d *NotifyDestination) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", d.ID, 64)
	v.checkRequiredText("name", d.Name, 100)
	if !slices.Contains([]string{ChannelEmail, ChannelTelegram, ChannelDiscord, ChannelWebhook}, d.Channel) {
		v.Add("channel", "must be one of email, telegram, discord, webhook")
	}
	v.checkRequiredText("target", d.Target, 320)
	checkNotifyEvents(v, d.Events)
	v.checkText("verify_hash", d.VerifyHash, 64)
	for k, s := range d.Sealed {
		if k != NotifyFieldBotToken && k != NotifyFieldURL && k != NotifyFieldSigning {
			v.Add("sealed", "unknown field "+truncate(k, 32))
		}
		v.checkText("sealed", s, 8192)
	}
	return v.Err()
}

func checkNotifyEvents(v Validation, events []string) {
	for i, e := range events {
		if !slices.Contains(NotifyEvents, e) {
			v.Add("events", fmt.Sprintf("unknown event %q (want some of %s)", truncate(e, 32), strings.Join(NotifyEvents, ", ")))
		} else if slices.Contains(events[:i], e) {
			v.Add("events", fmt.Sprintf("event %q is listed twice", e))
		}
	}
}

// CheckNotifyEvents checks a list of event types (field "events").
func CheckNotifyEvents(events []string) error {
	v := Validation{}
	checkNotifyEvents(v, events)
	return v.Err()
}

// NotifyDestinationInput is what a user sends to add a destination: the
// channel's address (email, chat_id + bot_token, url) and the events.
type NotifyDestinationInput struct {
	Channel  string   `json:"channel"`
	Name     string   `json:"name"`
	Email    string   `json:"email,omitempty"`
	ChatID   string   `json:"chat_id,omitempty"`
	BotToken string   `json:"bot_token,omitempty"`
	URL      string   `json:"url,omitempty"`
	Events   []string `json:"events,omitempty"`
}

// Validate checks the input, naming the field at fault, and returns the
// destination's shown target.
func (in *NotifyDestinationInput) Validate() (string, error) {
	v := Validation{}
	v.checkRequiredText("name", in.Name, 100)
	checkNotifyEvents(v, in.Events)
	target := ""
	switch in.Channel {
	case ChannelEmail:
		a, err := mail.ParseAddress(in.Email)
		if in.Email == "" || err != nil || a.Address != strings.TrimSpace(in.Email) || len(in.Email) > 254 {
			v.Add("email", "must be an email address such as you@example.com")
		}
		target = strings.TrimSpace(in.Email)
	case ChannelTelegram:
		if !telegramChat(in.ChatID) {
			v.Add("chat_id", "must be a Telegram chat id (a number, or @channelname)")
		}
		if !telegramToken(in.BotToken) {
			v.Add("bot_token", "must be a Telegram bot token such as 123456:ABC-DEF…")
		}
		target = "chat " + in.ChatID
	case ChannelDiscord, ChannelWebhook:
		u, err := url.Parse(in.URL)
		switch {
		case in.URL == "" || err != nil || u.Host == "" || len(in.URL) > 2048 || TextError(in.URL, 0) != "":
			v.Add("url", "must be an absolute https:// URL")
		case u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname())):
			v.Add("url", "must use https (http only to a loopback address)")
		default:
			target = u.Scheme + "://" + u.Host
		}
	default:
		v.Add("channel", "must be one of email, telegram, discord, webhook")
	}
	return target, v.Err()
}

func loopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

func telegramChat(s string) bool {
	if strings.HasPrefix(s, "@") {
		return len(s) >= 2 && len(s) <= 64 && strings.Trim(s[1:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
	}
	t := strings.TrimPrefix(s, "-")
	return t != "" && len(t) <= 20 && strings.Trim(t, "0123456789") == ""
}

func telegramToken(s string) bool {
	id, secret, ok := strings.Cut(s, ":")
	return ok && id != "" && len(id) <= 20 && strings.Trim(id, "0123456789") == "" && len(secret) >= 20 && len(secret) <= 100 &&
		strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
}

// NotifyDelivery is one message in the outbox: an event for one
// destination. Key is its idempotency key, sent with every attempt.
type NotifyDelivery struct {
	ID            int64           `json:"id"`
	UserID        ID              `json:"-"`
	DestinationID string          `json:"destination_id"`
	Channel       string          `json:"channel"`
	Key           string          `json:"idempotency_key"`
	EventID       string          `json:"event_id"`
	Event         string          `json:"event"`
	Payload       json.RawMessage `json:"payload"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	NextAt        time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	DeliveredAt   *time.Time      `json:"delivered_at"`
}

// Validate checks a delivery before it is stored.
func (d *NotifyDelivery) Validate() error {
	v := Validation{}
	v.checkRequiredText("destination_id", d.DestinationID, 64)
	v.checkRequiredText("idempotency_key", d.Key, 64)
	v.checkRequiredText("event_id", d.EventID, 200)
	v.checkRequiredText("event", d.Event, 64)
	v.checkText("last_error", d.LastError, 0)
	v.checkCount("attempts", d.Attempts)
	checkDeliveryState(v, d.State)
	if !json.Valid(d.Payload) {
		v.Add("payload", "must be JSON")
	} else if msg := JSONTextError(d.Payload); msg != "" {
		v.Add("payload", msg)
	}
	return v.Err()
}

func checkDeliveryState(v Validation, s string) {
	if s != DeliveryPending && s != DeliveryDelivered && s != DeliveryDead {
		v.Add("state", "must be pending, delivered or dead")
	}
}

// NotifyDeliveryFilter selects deliveries: of one destination and in one
// state ("" any), with ID < Before (0: no bound), newest first, at most
// Limit (100 when <= 0, 1000 at most).
type NotifyDeliveryFilter struct {
	DestinationID string
	State         string
	Before        int64
	Limit         int
}

// Validate checks the filter, naming the query parameter at fault.
func (f *NotifyDeliveryFilter) Validate() error {
	v := Validation{}
	v.checkText("destination", f.DestinationID, 64)
	if f.State != "" {
		checkDeliveryState(v, f.State)
	}
	if f.Before < 0 {
		v.Add("before", "must not be negative")
	}
	if f.Limit < 0 || f.Limit > 1000 {
		v.Add("limit", "must be 0-1000")
	}
	return v.Err()
}

// NotifyDue names a delivery due now: the dispatcher reads the rest in
// the tenant's own transaction.
type NotifyDue struct {
	UserID ID
	ID     int64
}

// NotifyKey is the idempotency key of event eventID for destination dest:
// the same on every attempt and after a restart.
func NotifyKey(eventID, dest string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + dest))
	return "ntf_" + hex.EncodeToString(h[:16])
}

// Notify writes e to the outbox in tx: one delivery for every enabled,
// verified destination that takes e's type and whose channel the config
// lists (events AlwaysNotified reach every such destination). Trades,
// opportunities and summaries are sent only when the config's switch is
// on. An event already queued is queued once. It returns how many
// deliveries it queued.
func Notify(tx TenantTx, c *Config, e *NotifyEvent) (int, error) {
	switch {
	case e.Type == NotifyTrade && !c.NotifyOnTrade,
		e.Type == NotifyOpportunity && !c.NotifyOnOpportunity,
		e.Type == NotifyDailySummary && !c.NotifyDailySummary:
		return 0, nil
	}
	ds, err := tx.NotifyDestinations()
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	if e.At.IsZero() {
		e.At = tx.Now()
	}
	var payload []byte
	n := 0
	for _, d := range ds {
		if !d.Enabled || !d.Verified() || !d.Wants(e.Type) ||
			(!AlwaysNotified(e.Type) && !slices.Contains(c.NotificationChannels, d.Channel)) {
			continue
		}
		if payload == nil {
			if payload, err = json.Marshal(e); err != nil {
				return n, Internal(err)
			}
		}
		added, err := tx.InsertNotifyDelivery(&NotifyDelivery{DestinationID: d.ID, Channel: d.Channel,
			Key: NotifyKey(e.ID, d.ID), EventID: e.ID, Event: e.Type, Payload: payload, State: DeliveryPending, NextAt: tx.Now()})
		if err != nil {
			return n, err
		}
		if added {
			n++
		}
	}
	return n, nil
}

// TradeEvent is the notification of a fill.
func TradeEvent(f *TradeFill) *NotifyEvent {
	data, _ := json.Marshal(map[string]any{"venue": f.Venue, "trade_id": f.TradeID, "market": f.Instrument.Market,
		"token": f.Instrument.Token, "outcome": f.Instrument.Outcome.String(), "side": f.Side.String(), "price": f.Price, "size": f.Size, "fee": f.Fee, "mode": f.Mode, "strategy": f.Strategy,
		"realized_pnl": f.RealizedPnL, "client_order_id": f.ClientOrderID})
	mode := ""
	if f.Mode != Live {
		mode = " (" + string(f.Mode) + ")"
	}
	return &NotifyEvent{ID: "trade:" + string(f.Venue) + ":" + f.TradeID, Type: NotifyTrade, At: f.Time,
		Title: fmt.Sprintf("Trade: %s %s %s %s at %s%s", f.Side.String(), f.Size, f.Instrument.Market,
			f.Instrument.Outcome, f.Price, mode),
		Text: fmt.Sprintf("%s %s contracts of %s (%s) on %s at %s; fee %s; strategy %s.",
			titleWord(strings.ToLower(f.Side.String())), f.Size, f.Instrument.Market, f.Instrument.Outcome, f.Venue, f.Price, FormatUSD(f.Fee), f.Strategy),
		Data: data}
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// AlertEvent is an event of one of the always-sent types (bot refused or
// halted, unwind failure, naked position, billing). key makes its id: the
// same key is one notification.
func AlertEvent(typ, key, title, text string, at time.Time) *NotifyEvent {
	return &NotifyEvent{ID: typ + ":" + key, Type: typ, At: at, Title: title, Text: text}
}

// DaySummary is one mode of a tenant's trading day as the daily summary
// reports it: the day's risk as the dashboard and the risk gate compute it
// (DayRiskOf), the fills of the day, and the month's trade quota.
type DaySummary struct {
	Day        string   `json:"day"`
	Mode       ExecMode `json:"mode"`
	PnL        Decimal  `json:"pnl"`
	Realized   Decimal  `json:"realized"`
	Fees       Decimal  `json:"fees"`
	Trades     int      `json:"trades"`
	QuotaUsed  int      `json:"quota_used"`
	QuotaLimit int      `json:"quota_limit"`
	QuotaMonth string   `json:"quota_month"`
}

// SummarizeDay summarises the tenant's trading day day in the config's
// mode, and in the other mode too if it traded then.
func SummarizeDay(tx TenantTx, c *Config, day string, v Valuer) ([]DaySummary, error) {
	p, err := tx.Profile()
	if err != nil {
		return nil, err
	}
	start, err := time.ParseInLocation("2006-01-02", day, c.Location())
	if err != nil {
		return nil, FieldError("day", "must be a date such as 2030-01-15")
	}
	end := start.AddDate(0, 0, 1)
	counts := map[ExecMode]int{}
	before := end
	for page := 0; page < 100; page++ {
		fs, err := tx.FindFills(FillFilter{Before: before, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !f.Time.Before(start) {
				counts[f.Mode]++
			}
		}
		if len(fs) < 1000 || fs[len(fs)-1].Time.Before(start) {
			break
		}
		before = fs[len(fs)-1].Time
	}
	own := Live
	if c.DryRun {
		own = DryRun
	}
	var out []DaySummary
	for _, mode := range []ExecMode{DryRun, Live} {
		if mode != own && counts[mode] == 0 {
			continue
		}
		r, err := DayRiskOf(tx, c, p, mode, v, false, day)
		if err != nil {
			return nil, err
		}
		out = append(out, DaySummary{Day: day, Mode: mode, PnL: r.PnL, Realized: r.Realized, Fees: r.Fees, Trades: counts[mode],
			QuotaUsed: p.TradesThisMonth, QuotaLimit: p.MonthlyTradeLimit, QuotaMonth: p.QuotaMonth})
	}
	return out, nil
}

// SummaryEvent is the daily summary notification of day.
func SummaryEvent(day string, sums []DaySummary, at time.Time) *NotifyEvent {
	data, _ := json.Marshal(map[string]any{"day": day, "modes": sums})
	var b strings.Builder
	for _, s := range sums {
		fmt.Fprintf(&b, "%s: P&L %s (realised %s), %d trade(s), fees %s. ", modeLabel(s.Mode), FormatUSD(s.PnL),
			FormatUSD(s.Realized), s.Trades, FormatUSD(s.Fees))
	}
	if len(sums) > 0 {
		fmt.Fprintf(&b, "Live trades this month: %d of %d.", sums[0].QuotaUsed, sums[0].QuotaLimit)
	}
	return &NotifyEvent{ID: "summary:" + day, Type: NotifyDailySummary, At: at, Title: "Daily summary for " + day,
		Text: strings.TrimSpace(b.String()), Data: data}
}

func modeLabel(m ExecMode) string {
	if m == DryRun {
		return "Dry run"
	}
	return "Live"
}

// NotifyHook hears what the engine sees that no transaction of its own
// records: opportunities (digested, not sent one by one) and the bot's
// refusals and halts. Its methods must return at once.
type NotifyHook interface {
	Opportunity(tenant ID, o *Opportunity)
	BotState(tenant ID, state, reason string)
}

// NotifyDestinationPatch is what a user may change of a destination.
type NotifyDestinationPatch struct {
	Name    *string   `json:"name,omitempty"`
	Enabled *bool     `json:"enabled,omitempty"`
	Events  *[]string `json:"events,omitempty"`
}

// Validate checks the patch, naming the field at fault.
func (p *NotifyDestinationPatch) Validate() error {
	v := Validation{}
	if p.Name != nil {
		v.checkRequiredText("name", *p.Name, 100)
	}
	if p.Events != nil {
		checkNotifyEvents(v, *p.Events)
	}
	return v.Err()
}

// BillingNotice is a billing notification (a payment failed, a plan
// changed, a subscription ends): the billing code queues it with Notify
// in the transaction that records the billing event, keyed by the
// provider's event id so a webhook seen twice notifies once.
func BillingNotice(providerEventID, title, text string, at time.Time) *NotifyEvent {
	return AlertEvent(NotifyBilling, providerEventID, title, text, at)
}
