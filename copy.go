package polybot

import (
	"fmt"
	"strings"
	"time"
)

// Copy trading (StrategyCopy): a user follows Polymarket wallets (proxy
// wallets, as public profiles show them) and the bot mirrors their trades,
// sized and capped by the user's own rules. This file holds the domain:
// leaders, their trades as the Data API reports them, the sizing and the
// guards.

// Copy sizing modes.
const (
	// CopyProportional buys Multiplier × the leader's notional.
	CopyProportional = "proportional"
	// CopyFixed buys FixedUSD worth on every copied trade.
	CopyFixed = "fixed"
	// CopyBalancePct buys BalancePct percent of the user's balance.
	CopyBalancePct = "balance_pct"
)

// Leader is a wallet a user follows, with the user's sizing and guards for
// its trades.
type Leader struct {
	ID      string `json:"id"`
	UserID  ID     `json:"-"`
	Address string `json:"address"` // the proxy wallet, 0x and 40 hex digits, lower case
	Label   string `json:"label"`
	Enabled bool   `json:"enabled"`

	Mode       string  `json:"mode"`        // CopyProportional, CopyFixed or CopyBalancePct
	Multiplier Decimal `json:"multiplier"`  // proportional
	FixedUSD   Decimal `json:"fixed_usd"`   // fixed
	BalancePct Decimal `json:"balance_pct"` // balance_pct, 0 < p ≤ 100

	// Caps, in dollars (0: none): one copy, everything held from this
	// leader in one market, and what this leader's copies may spend in a
	// day; MinLeaderUSD is the smallest leader trade worth following.
	MaxTradeUSD  Decimal `json:"max_trade_usd"`
	MaxMarketUSD Decimal `json:"max_market_usd"`
	MaxDayUSD    Decimal `json:"max_day_usd"`
	MinLeaderUSD Decimal `json:"min_leader_usd"`
	// PriceGuard is how far above the leader's fill (in price, 0.02 = 2
	// cents) the best ask may be for a buy to be copied.
	PriceGuard Decimal `json:"price_guard"`
	// MaxAge: a leader's trade older than this when seen is not copied.
	MaxAge time.Duration `json:"-"` // JSON: max_age_seconds

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Defaults and bounds of a leader's settings.
const (
	DefaultCopyMaxAge = time.Minute
	MaxCopyMaxAge     = time.Hour
	maxLeaderLabel    = 100
)

// NormalizeAddress is an Ethereum address in lower case, or "" when s is
// not 0x and 40 hex digits.
func NormalizeAddress(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 42 || !strings.HasPrefix(s, "0x") {
		return ""
	}
	for _, c := range s[2:] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return s
}

// Validate checks a leader, normalises its address and fills in the
// default staleness; every complaint names its JSON field.
func (l *Leader) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", l.ID, maxNewsIDChars)
	if a := NormalizeAddress(l.Address); a == "" {
		v.Add("address", "must be a wallet address: 0x and 40 hex digits")
	} else {
		l.Address = a
	}
	v.checkText("label", l.Label, maxLeaderLabel)
	positive := func(field string, d Decimal) {
		if d.Sign() <= 0 {
			v.Add(field, "must be positive")
		}
	}
	switch l.Mode {
	case CopyProportional:
		positive("multiplier", l.Multiplier)
		if l.Multiplier.GreaterThan(NewDecimal(100, 0)) {
			v.Add("multiplier", "must be at most 100")
		}
	case CopyFixed:
		positive("fixed_usd", l.FixedUSD)
	case CopyBalancePct:
		positive("balance_pct", l.BalancePct)
		if l.BalancePct.GreaterThan(NewDecimal(100, 0)) {
			v.Add("balance_pct", "must be at most 100")
		}
	default:
		v.Add("mode", "must be proportional, fixed or balance_pct")
	}
	for _, f := range []struct {
		name string
		d    Decimal
	}{{"max_trade_usd", l.MaxTradeUSD}, {"max_market_usd", l.MaxMarketUSD}, {"max_day_usd", l.MaxDayUSD}, {"min_leader_usd", l.MinLeaderUSD}} {
		if f.d.Sign() < 0 {
			v.Add(f.name, "must not be negative (0: no cap)")
		}
	}
	if l.PriceGuard.Sign() < 0 || !l.PriceGuard.LessThan(One) {
		v.Add("price_guard", "must be at least 0 and below 1")
	}
	if l.MaxAge == 0 {
		l.MaxAge = DefaultCopyMaxAge
	}
	if l.MaxAge < time.Second || l.MaxAge > MaxCopyMaxAge {
		v.Add("max_age_seconds", fmt.Sprintf("must be 1 to %d", int(MaxCopyMaxAge/time.Second)))
	}
	return v.Err()
}

// LeaderTrade is one trade of a followed wallet as the Polymarket Data API
// reports it (/trades, or /activity of type TRADE or REDEEM).
type LeaderTrade struct {
	Wallet      string     `json:"proxy_wallet"`
	Instrument  Instrument `json:"instrument"` // the token traded
	Side        Side       `json:"side"`
	Price       Decimal    `json:"price"`
	Size        Decimal    `json:"size"` // shares
	Time        time.Time  `json:"time"`
	TxHash      string     `json:"transaction_hash"`
	Redeem      bool       `json:"redeem,omitempty"` // a redemption (a resolved market paid out): an exit
	Title       string     `json:"title,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
	ConditionID string     `json:"condition_id,omitempty"`
}

// Key identifies a leader's trade for de-duplication: the transaction
// hash and the asset (one transaction may fill several tokens).
func (t *LeaderTrade) Key() string {
	return strings.ToLower(t.TxHash) + "/" + t.Instrument.Token
}

// Notional is what the leader's trade moved: price × size.
func (t *LeaderTrade) Notional() Decimal { return t.Price.Mul(t.Size) }
