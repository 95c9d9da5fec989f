package polybot

import (
	"encoding/json"
	"time"
)

// Tier names shipped by default. Tiers are data (polybot_tiers): an admin can
// change their limits and features, and add more.
const (
	TierFree       = "free"
	TierBasic      = "basic"
	TierPro        = "pro"
	TierEnterprise = "enterprise"
)

// Features are the strategies a tier (and so a profile) enables, and how
// its bots run. The JSON keys are the seed's features_enabled keys, plus
// own_process.
type Features struct {
	CopyTrading    bool `json:"copy_trading"`
	NewsArbitrage  bool `json:"news_arbitrage"`
	CrossPlatform  bool `json:"cross_platform"`
	SinglePlatform bool `json:"single_platform"`
	OverlappingArb bool `json:"overlapping_arb"`
	// OwnProcess runs the tenant's bot in a process of its own, under
	// memory and CPU limits, on a worker of a split deployment (Tier 2:
	// serve --role worker starts `polybot runner` for it). Elsewhere
	// (serve --role all) it changes nothing.
	OwnProcess bool `json:"own_process"`
}

// Tier is a subscription level: the limits and features it grants.
type Tier struct {
	Name              string    `json:"name"`
	DisplayName       string    `json:"display_name"`
	PriceUSDMonthly   Decimal   `json:"price_usd_monthly"`
	MonthlyTradeLimit int       `json:"monthly_trade_limit"`
	MaxTradeSizeUSD   Decimal   `json:"max_trade_size_usd"`
	MaxDailyLossUSD   Decimal   `json:"max_daily_loss_usd"`
	MaxPositions      int       `json:"max_positions"`
	Features          Features  `json:"features"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// DefaultTiers are the tiers a new database starts with. The free tier carries
// the seed's profile defaults (100 trades a month, $50 trades, $100 daily loss,
// 5 positions, single-platform and news arbitrage).
func DefaultTiers() []Tier {
	return []Tier{
		{Name: TierFree, DisplayName: "Free", PriceUSDMonthly: Zero, MonthlyTradeLimit: 100,
			MaxTradeSizeUSD: NewDecimal(50, 0), MaxDailyLossUSD: NewDecimal(100, 0), MaxPositions: 5,
			Features: Features{NewsArbitrage: true, SinglePlatform: true}},
		{Name: TierBasic, DisplayName: "Basic", PriceUSDMonthly: NewDecimal(29, 0), MonthlyTradeLimit: 1000,
			MaxTradeSizeUSD: NewDecimal(250, 0), MaxDailyLossUSD: NewDecimal(500, 0), MaxPositions: 15,
			Features: Features{NewsArbitrage: true, SinglePlatform: true, CrossPlatform: true}},
		{Name: TierPro, DisplayName: "Pro", PriceUSDMonthly: NewDecimal(99, 0), MonthlyTradeLimit: 10000,
			MaxTradeSizeUSD: NewDecimal(1000, 0), MaxDailyLossUSD: NewDecimal(2500, 0), MaxPositions: 50,
			Features: Features{NewsArbitrage: true, SinglePlatform: true, CrossPlatform: true, OverlappingArb: true, CopyTrading: true}},
		{Name: TierEnterprise, DisplayName: "Enterprise", PriceUSDMonthly: NewDecimal(499, 0), MonthlyTradeLimit: 1000000,
			MaxTradeSizeUSD: NewDecimal(10000, 0), MaxDailyLossUSD: NewDecimal(25000, 0), MaxPositions: 500,
			Features: Features{NewsArbitrage: true, SinglePlatform: true, CrossPlatform: true, OverlappingArb: true, CopyTrading: true}},
	}
}

// Validate checks an admin's tier edit.
func (t *Tier) Validate() error {
	v := Validation{}
	if !validTierName(t.Name) {
		v.Add("name", "must be 1-32 lowercase letters, digits, '-' or '_'")
	}
	v.checkText("display_name", t.DisplayName, 64)
	if t.PriceUSDMonthly.Sign() < 0 {
		v.Add("price_usd_monthly", "must not be negative")
	}
	v.checkCount("monthly_trade_limit", t.MonthlyTradeLimit)
	if t.MaxTradeSizeUSD.Sign() < 0 {
		v.Add("max_trade_size_usd", "must not be negative")
	}
	if t.MaxDailyLossUSD.Sign() < 0 {
		v.Add("max_daily_loss_usd", "must not be negative")
	}
	v.checkCount("max_positions", t.MaxPositions)
	return v.Err()
}

func validTierName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Profile is a tenant's subscription, effective limits and onboarding state
// (the seed's polybot_user_profiles). Limits are copied from the tier when the
// tier is set or edited, so the risk gate reads one row.
type Profile struct {
	ID                    ID         `json:"id"`
	DisplayName           string     `json:"display_name"`
	Email                 string     `json:"email"`
	SubscriptionTier      string     `json:"subscription_tier"`
	SubscriptionExpiresAt *time.Time `json:"subscription_expires_at"`
	MonthlyTradeLimit     int        `json:"monthly_trade_limit"`
	TradesThisMonth       int        `json:"trades_this_month"`
	QuotaMonth            string     `json:"quota_month"`
	MaxTradeSizeUSD       Decimal    `json:"max_trade_size_usd"`
	MaxDailyLossUSD       Decimal    `json:"max_daily_loss_usd"`
	MaxPositions          int        `json:"max_positions"`
	Features              Features   `json:"features_enabled"`
	CreatedAt             time.Time  `json:"created_at"`
	UpdatedAt             time.Time  `json:"updated_at"`
	LastActiveAt          *time.Time `json:"last_active_at"`
	OnboardingCompleted   bool       `json:"onboarding_completed"`
	AcceptedTermsAt       *time.Time `json:"accepted_terms_at"`
}

// NewProfile returns the profile of a new user on tier t.
func NewProfile(id ID, email string, t *Tier, now time.Time) *Profile {
	p := &Profile{ID: id, Email: email, CreatedAt: now, UpdatedAt: now, QuotaMonth: QuotaMonth(now)}
	p.ApplyTier(t)
	return p
}

// ApplyTier copies t's limits and features onto p.
func (p *Profile) ApplyTier(t *Tier) {
	p.SubscriptionTier = t.Name
	p.MonthlyTradeLimit = t.MonthlyTradeLimit
	p.MaxTradeSizeUSD = t.MaxTradeSizeUSD
	p.MaxDailyLossUSD = t.MaxDailyLossUSD
	p.MaxPositions = t.MaxPositions
	p.Features = t.Features
}

// TradesUsed returns the trades counted in the month of now: a counter left
// from an earlier month counts as zero.
func (p *Profile) TradesUsed(now time.Time) int {
	if p.QuotaMonth != QuotaMonth(now) {
		return 0
	}
	return p.TradesThisMonth
}

// QuotaMonth is the quota period containing t: its UTC year and month, "2006-01".
func QuotaMonth(t time.Time) string { return t.UTC().Format("2006-01") }

// Quota is the result of a conditional increment of the monthly trade counter.
type Quota struct {
	Month string `json:"month"`
	Used  int    `json:"used"`
	Limit int    `json:"limit"`
}

// MarshalFeatures and UnmarshalFeatures keep the stored JSON shape in one place.
func MarshalFeatures(f Features) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// UnmarshalFeatures parses the stored features_enabled JSON.
func UnmarshalFeatures(s string) (Features, error) {
	var f Features
	err := json.Unmarshal([]byte(s), &f)
	return f, err
}
