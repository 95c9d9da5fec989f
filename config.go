package polybot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // every deployment knows every zone, with or without a system zoneinfo
)

// Config is a tenant's bot configuration: every field of the seed's
// polybot_user_config, with its defaults (see DefaultConfig).
type Config struct {
	UserID ID `json:"user_id"`

	// Trading
	DryRun          bool    `json:"dry_run"`
	MinProfitPct    Decimal `json:"min_profit_pct"`
	MaxTradeSizeUSD Decimal `json:"max_trade_size_usd"`
	MaxDailyLossUSD Decimal `json:"max_daily_loss_usd"`
	// Timezone is the IANA time zone whose midnight starts the tenant's
	// trading day (the daily-loss window and the daily P&L). Default UTC.
	Timezone string `json:"timezone"`

	// Strategy toggles
	EnableCopyTrading       bool `json:"enable_copy_trading"`
	EnableSinglePlatformArb bool `json:"enable_single_platform_arb"`
	EnableCrossPlatformArb  bool `json:"enable_cross_platform_arb"`
	EnableOverlappingArb    bool `json:"enable_overlapping_arb"`
	EnableNewsArbitrage     bool `json:"enable_news_arbitrage"`

	// Platform toggles
	EnablePolymarket bool `json:"enable_polymarket"`
	EnableKalshi     bool `json:"enable_kalshi"`
	EnableAlpaca     bool `json:"enable_alpaca"`
	EnableIBKR       bool `json:"enable_ibkr"`

	// Notifications
	NotifyOnTrade        bool     `json:"notify_on_trade"`
	NotifyOnOpportunity  bool     `json:"notify_on_opportunity"`
	NotifyDailySummary   bool     `json:"notify_daily_summary"`
	NotificationChannels []string `json:"notification_channels"`

	// AdvancedConfig is a free-form JSON object for strategy tuning.
	AdvancedConfig json.RawMessage `json:"advanced_config"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DefaultConfig returns the seed's defaults for a new tenant.
func DefaultConfig(user ID, now time.Time) *Config {
	return &Config{
		UserID:                  user,
		DryRun:                  true,
		MinProfitPct:            NewDecimal(1, 0),
		MaxTradeSizeUSD:         NewDecimal(50, 0),
		MaxDailyLossUSD:         NewDecimal(100, 0),
		Timezone:                "UTC",
		EnableSinglePlatformArb: true,
		EnableNewsArbitrage:     true,
		EnablePolymarket:        true,
		EnableKalshi:            true,
		NotifyOnTrade:           true,
		NotifyDailySummary:      true,
		NotificationChannels:    []string{"email"},
		AdvancedConfig:          json.RawMessage(`{}`),
		CreatedAt:               now,
		UpdatedAt:               now,
	}
}

// NotificationChannels a user may choose.
var NotificationChannels = []string{ChannelEmail, ChannelTelegram, ChannelDiscord, ChannelWebhook}

// MaxAdvancedConfigBytes bounds advanced_config.
const MaxAdvancedConfigBytes = 16 << 10

// Validate checks c against itself and against the tenant's profile: limits
// may not exceed the plan's, and strategies the plan lacks may not be enabled.
func (c *Config) Validate(p *Profile) error { return c.validate(p, nil) }

// validate is Validate with the plan checks limited to the touched fields
// (nil: all). A user whose plan shrank keeps the old settings, which the
// risk gate caps, and can still change unrelated fields.
func (c *Config) validate(p *Profile, touched map[string]json.RawMessage) error {
	v := Validation{}
	if touched != nil && p != nil {
		cp := *p
		for _, f := range []string{"max_trade_size_usd", "max_daily_loss_usd"} {
			if _, ok := touched[f]; !ok {
				switch f {
				case "max_trade_size_usd":
					cp.MaxTradeSizeUSD = maxDecimal(cp.MaxTradeSizeUSD, c.MaxTradeSizeUSD)
				case "max_daily_loss_usd":
					cp.MaxDailyLossUSD = maxDecimal(cp.MaxDailyLossUSD, c.MaxDailyLossUSD)
				}
			}
		}
		p = &cp
	}
	hundred := NewDecimal(100, 0)
	if c.MinProfitPct.Sign() < 0 || c.MinProfitPct.GreaterThan(hundred) {
		v.Add("min_profit_pct", "must be between 0 and 100")
	} else if c.MinProfitPct.Places() > 4 {
		v.Add("min_profit_pct", "must have at most 4 decimal places")
	}
	checkMoney := func(field string, d, limit Decimal) {
		switch {
		case d.Sign() <= 0:
			v.Add(field, "must be greater than 0")
		case d.Places() > 2:
			v.Add(field, "must have at most 2 decimal places")
		case d.GreaterThan(NewDecimal(99999999, 0)):
			v.Add(field, "must be at most 99999999.99")
		case p != nil && d.GreaterThan(limit):
			v.Add(field, fmt.Sprintf("must not exceed your plan's limit of %s", limit))
		}
	}
	var tradeCap, lossCap Decimal
	if p != nil {
		tradeCap, lossCap = p.MaxTradeSizeUSD, p.MaxDailyLossUSD
	}
	checkMoney("max_trade_size_usd", c.MaxTradeSizeUSD, tradeCap)
	checkMoney("max_daily_loss_usd", c.MaxDailyLossUSD, lossCap)
	if p != nil {
		plan := func(field string, on, allowed bool) {
			if _, ok := touched[field]; touched != nil && !ok {
				return
			}
			if on && !allowed {
				v.Add(field, fmt.Sprintf("is not included in the %s plan", p.SubscriptionTier))
			}
		}
		plan("enable_copy_trading", c.EnableCopyTrading, p.Features.CopyTrading)
		plan("enable_single_platform_arb", c.EnableSinglePlatformArb, p.Features.SinglePlatform)
		plan("enable_cross_platform_arb", c.EnableCrossPlatformArb, p.Features.CrossPlatform)
		plan("enable_overlapping_arb", c.EnableOverlappingArb, p.Features.OverlappingArb)
		plan("enable_news_arbitrage", c.EnableNewsArbitrage, p.Features.NewsArbitrage)
	}
	if _, err := LoadTimezone(c.Timezone); err != nil {
		v.Add("timezone", "must be an IANA time zone such as UTC or America/New_York")
	}
	seen := map[string]bool{}
	for _, ch := range c.NotificationChannels {
		if !contains(NotificationChannels, ch) {
			v.Add("notification_channels", fmt.Sprintf("unknown channel %q (want one of %s)", truncate(ch, 32), strings.Join(NotificationChannels, ", ")))
		} else if seen[ch] {
			v.Add("notification_channels", fmt.Sprintf("channel %q is listed twice", ch))
		}
		seen[ch] = true
	}
	if len(c.AdvancedConfig) > MaxAdvancedConfigBytes {
		v.Add("advanced_config", fmt.Sprintf("must be at most %d bytes", MaxAdvancedConfigBytes))
	} else if len(c.AdvancedConfig) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(c.AdvancedConfig, &obj); err != nil || obj == nil {
			v.Add("advanced_config", "must be a JSON object")
		} else if msg := JSONTextError(c.AdvancedConfig); msg != "" {
			v.Add("advanced_config", msg)
		}
	}
	return v.Err()
}

// configFields lists the JSON names a PUT may set.
var configFields = func() map[string]bool {
	m := map[string]bool{}
	b, _ := json.Marshal(DefaultConfig(NilID, time.Time{}))
	var all map[string]json.RawMessage
	_ = json.Unmarshal(b, &all)
	for k := range all {
		m[k] = true
	}
	delete(m, "user_id")
	delete(m, "created_at")
	delete(m, "updated_at")
	return m
}()

// ConfigFieldNames returns the settable config fields, sorted.
func ConfigFieldNames() []string {
	out := make([]string, 0, len(configFields))
	for k := range configFields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ApplyPatch applies a JSON object of config fields onto a copy of c and
// returns it. Unknown or read-only fields, wrong types and bad values are
// rejected with a field error; c itself is never changed.
func (c *Config) ApplyPatch(body []byte, p *Profile) (*Config, error) {
	var patch map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&patch); err != nil || patch == nil {
		return nil, &Error{Code: EINVALID, Message: "request body must be a JSON object", Fields: map[string]string{"body": "malformed JSON object"}}
	}
	if dec.More() {
		return nil, &Error{Code: EINVALID, Message: "request body must hold one JSON object", Fields: map[string]string{"body": "trailing data after the JSON object"}}
	}
	v := Validation{}
	for k, raw := range patch {
		if !configFields[k] {
			if k == "user_id" || k == "created_at" || k == "updated_at" {
				v.Add(k, "is read-only")
			} else {
				v.Add(truncate(k, 64), "is not a config field")
			}
			continue
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			v.Add(k, "must not be null")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	next := *c
	next.NotificationChannels = append([]string(nil), c.NotificationChannels...)
	// Decode each field alone so that a type error names its field.
	b, _ := json.Marshal(&next)
	var cur map[string]json.RawMessage
	_ = json.Unmarshal(b, &cur)
	for k, raw := range patch {
		cur[k] = raw
		one, _ := json.Marshal(map[string]json.RawMessage{k: raw})
		var probe Config
		if err := json.Unmarshal(one, &probe); err != nil {
			v.Add(k, describeTypeError(err))
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	merged, _ := json.Marshal(cur)
	var out Config
	if err := json.Unmarshal(merged, &out); err != nil {
		return nil, Internal(err)
	}
	out.UserID, out.CreatedAt, out.UpdatedAt = c.UserID, c.CreatedAt, c.UpdatedAt
	if out.NotificationChannels == nil {
		out.NotificationChannels = []string{}
	}
	if err := out.validate(p, patch); err != nil {
		return nil, err
	}
	return &out, nil
}

func maxDecimal(a, b Decimal) Decimal {
	if a.LessThan(b) {
		return b
	}
	return a
}

func describeTypeError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "must be a " + jsonKind(te.Type.Kind().String())
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "decimal places"):
		return "must have at most 6 decimal places"
	case strings.Contains(msg, "out of range"):
		return "is out of range"
	case strings.Contains(msg, "decimal"):
		return "must be a decimal number"
	}
	return "has the wrong type"
}

func jsonKind(k string) string {
	switch k {
	case "bool":
		return "boolean"
	case "slice":
		return "list of strings"
	case "string":
		return "string"
	}
	return k
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// zones caches loaded time zones: LoadLocation reads and parses zone data.
var zones sync.Map // name → *time.Location

// LoadTimezone returns the IANA time zone name ("" is UTC). A name that is
// not a zone, or "Local" (the server's, not the tenant's), is an error.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if len(name) > 64 || name == "Local" || strings.ContainsAny(name, "\x00\\") || strings.Contains(name, "..") {
		return nil, FieldError("timezone", "is not a time zone")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, FieldError("timezone", "is not a time zone")
	}
	zones.Store(name, loc)
	return loc, nil
}

// Location is the tenant's trading time zone; an unknown stored name falls
// back to UTC (Validate never lets one in).
func (c *Config) Location() *time.Location {
	loc, err := LoadTimezone(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// TradingDay is the tenant's trading day containing t: its date in the
// tenant's time zone, "2006-01-02".
func (c *Config) TradingDay(t time.Time) string { return t.In(c.Location()).Format("2006-01-02") }

// NextDayStart is when the trading day containing t ends: the next midnight
// in the tenant's time zone.
func (c *Config) NextDayStart(t time.Time) time.Time {
	l := t.In(c.Location())
	y, m, d := l.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, l.Location())
}
