package web

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// Page is what every view renders: the common frame and the view's own Data.
type Page struct {
	Title string
	Nav   string // the active navigation item
	CSRF  string // the session's CSRF token, for the <meta> tag and hidden fields
	User  *Viewer
	Data  any
	// Sim is set when the venues are the built-in simulators (serve
	// --sim): every page shows a banner saying no real money is at stake.
	Sim bool

	View  string // set by Render
	Nonce string // set by Render: the CSP nonce of this response
}

// Viewer is the signed-in user as the frame shows them.
type Viewer struct {
	ID          polybot.ID
	Email       string
	DisplayName string
	Admin       bool
	Onboarded   bool
}

// Name is what the header calls the user.
func (v *Viewer) Name() string {
	if v.DisplayName != "" {
		return v.DisplayName
	}
	return v.Email
}

// AuthData is the login and sign-up pages' data.
type AuthData struct {
	Next string // where to go after signing in (a local path)
}

// ErrorData is the error page's data.
type ErrorData struct {
	Status  int
	Heading string
	Message string
}

// --- dashboard ---

// DashboardData is the dashboard's data.
type DashboardData struct {
	Bot        BotView
	Chart      Chart
	ByStrategy []*polybot.StrategyPnL
	// Net is realised + locked-in + unrealised, per mode: the figure
	// GET /api/v1/pnl reports as net.total.
	NetDryRun polybot.Decimal
	NetLive   polybot.Decimal
	// Locked is the P&L of complete sets held (YES + NO of one event): it
	// is known now, though realised only at resolution.
	LockedDryRun polybot.Decimal
	LockedLive   polybot.Decimal
	Locked       []LockedRow
	Positions    []PositionRow
	Trades       []TradeRow
	// OlderTrades is the Trades page after the last trade shown, "" when
	// every trade is shown.
	OlderTrades   string
	Opportunities []OpportunityRow
	// Labels names instruments for the page's script: Polymarket token or
	// Kalshi ticker → the registry's market name.
	Labels    map[string]string
	Onboarded bool
}

// BotView is the bot's status, or Available false when no bot manager runs.
type BotView struct {
	Available bool
	polybot.BotStatus
}

// Running reports whether a stop makes sense.
func (b BotView) Running() bool {
	return b.State == polybot.BotRunning || b.State == polybot.BotHalted || b.State == polybot.BotStarting || b.State == polybot.BotRefused
}

// LockedRow is a complete set held, with its legs.
type LockedRow struct {
	Label  string
	Kind   string // SetKindLabel
	Legs   string // every leg, "Kalshi No change YES + …"
	Mode   polybot.ExecMode
	Sets   polybot.Decimal
	Payout polybot.Decimal // per set at resolution
	Cost   polybot.Decimal // per set, fees included
	Edge   polybot.Decimal
}

// PositionRow is an open position.
type PositionRow struct {
	Key        string
	Label      string
	Venue      polybot.Platform
	Outcome    string
	Mode       polybot.ExecMode
	Size       polybot.Decimal
	InSets     polybot.Decimal // part of complete sets (hedged)
	AvgPrice   polybot.Decimal
	Mark       *polybot.Decimal
	Unrealized *polybot.Decimal // of the rest only
}

// TradeRow is a recorded fill.
type TradeRow struct {
	TradeID  string
	Time     time.Time
	Label    string
	Venue    polybot.Platform
	Outcome  string
	Side     string
	Strategy string
	Mode     polybot.ExecMode
	Price    polybot.Decimal
	Size     polybot.Decimal
	Fee      polybot.Decimal
	Realized polybot.Decimal
}

// OpportunityRow is an opportunity the tenant's config wants.
type OpportunityRow struct {
	ID         string
	Market     string
	Strategy   string
	Legs       string
	Size       polybot.Decimal
	Cost       polybot.Decimal
	NetEdge    polybot.Decimal
	ProfitPct  polybot.Decimal
	DetectedAt time.Time
}

// Labeler names instruments after the matched-market registry.
type Labeler map[string]string

// NewLabeler names what the registries know: a matched pair's tokens and
// ticker by the pair's name; an outcome set by its name and each outcome's
// markets as "set: outcome"; a relation by its name, and its markets (when
// no set names them) as "relation (if)" for A and "relation (then)" for B.
func NewLabeler(h polybot.Hedges) Labeler {
	l := Labeler{}
	for _, p := range h.Pairs {
		l[p.ID] = p.Name
		for _, leg := range p.Legs {
			// A contract's own id where the venue lists one (a token, a
			// conid), else the market (a Kalshi ticker).
			for _, k := range []string{leg.Yes, leg.No} {
				if k != "" {
					l[k] = p.Name
				}
			}
			if leg.Yes == "" && leg.Market != "" {
				l[leg.Market] = p.Name
			}
		}
	}
	market := func(m polybot.BinaryMarket, name string) {
		for _, in := range []polybot.Instrument{m.Yes, m.No} {
			k := in.Market
			if in.Token != "" {
				k = in.Token
			}
			if _, known := l[k]; !known && k != "" {
				l[k] = name
			}
		}
	}
	for _, s := range h.Sets {
		l[s.ID] = s.Name
		for _, o := range s.Outcomes {
			for _, m := range o.Markets {
				market(m, s.Name+": "+o.Label)
			}
		}
	}
	for _, r := range h.Relations {
		l[r.ID] = r.Name
		if r.Kind == polybot.RelationImplies {
			market(r.A, r.Name+" (if)")
			market(r.B, r.Name+" (then)")
		}
	}
	return l
}

// LegName names one leg of a set called set: its instrument's label
// without the set's name in front (the set is named once, beside its
// legs), its outcome and its venue.
func (l Labeler) LegName(set string, in polybot.Instrument) string {
	label := l.Label(in)
	if rest, ok := strings.CutPrefix(label, set+": "); ok && set != "" {
		label = rest
	}
	if label == set {
		return polybot.PlatformName(in.Venue) + " " + in.Outcome.String()
	}
	return polybot.PlatformName(in.Venue) + " " + label + " " + in.Outcome.String()
}

// OutcomeOf is what an instrument pays on, as the tables show it: YES or
// NO for a contract, "share" for a stock or ETF (which pays on no outcome).
func OutcomeOf(in polybot.Instrument) string {
	if polybot.PricedPerShare(in) {
		return "share"
	}
	return in.Outcome.String()
}

// Label names an instrument: the registry's market name when known, else
// the Kalshi ticker or a shortened Polymarket token.
func (l Labeler) Label(in polybot.Instrument) string {
	key := in.Market
	if in.Token != "" {
		key = in.Token
	}
	if name, ok := l[key]; ok {
		return name
	}
	if in.Token != "" {
		return "token " + short(in.Token)
	}
	return in.Market
}

// Name names a market key (a registry pair id, a Polymarket token or a
// Kalshi ticker) after the registry when it can.
func (l Labeler) Name(key string) string {
	if name, ok := l[key]; ok {
		return name
	}
	if len(key) > 20 {
		return "token " + short(key)
	}
	return key
}

// NewTradeRow converts a fill.
func (l Labeler) NewTradeRow(f *polybot.TradeFill) TradeRow {
	return TradeRow{TradeID: f.TradeID, Time: f.Time, Label: l.Label(f.Instrument), Venue: f.Venue, Outcome: OutcomeOf(f.Instrument),
		Side: f.Side.String(), Strategy: f.Strategy, Mode: f.Mode, Price: f.Price, Size: f.Size, Fee: f.Fee, Realized: f.RealizedPnL}
}

// NewOpportunityRow converts an opportunity. An overlapping opportunity
// is named after its outcome set or relation and lists every leg by its
// outcome; the others are one market, their legs named by venue.
func (l Labeler) NewOpportunityRow(o polybot.Opportunity) OpportunityRow {
	market, legs := "", ""
	overlap := o.Strategy == polybot.StrategyOverlapping
	if overlap {
		market = l.Name(o.PairID)
	} else if len(o.Legs) > 0 {
		market = l.Label(o.Legs[0].Instrument)
	}
	for i, leg := range o.Legs {
		if i > 0 {
			legs += " + "
		}
		if overlap {
			legs += l.LegName(market, leg.Instrument) + " @ " + leg.Price.String()
		} else {
			legs += polybot.PlatformName(leg.Instrument.Venue) + " " + OutcomeOf(leg.Instrument) + " @ " + leg.Price.String()
		}
	}
	return OpportunityRow{ID: o.ID, Market: market, Strategy: o.Strategy, Legs: legs, Size: o.Size, Cost: o.Cost, NetEdge: o.NetEdge, ProfitPct: o.ProfitPct, DetectedAt: o.DetectedAt}
}

// NewLockedRow converts a complete set held: named after its market, pair,
// outcome set or relation, with its kind and every leg.
func (l Labeler) NewLockedRow(s polybot.LockedSet) LockedRow {
	name := l.Name(s.Market)
	legs := make([]string, len(s.Legs))
	for i, in := range s.Legs {
		legs[i] = l.LegName(name, in)
	}
	return LockedRow{Label: name, Kind: SetKindLabel(s.Kind), Legs: strings.Join(legs, " + "), Mode: s.Mode, Sets: s.Sets,
		Payout: s.Payout, Cost: s.Cost, Edge: s.Edge}
}

// SetKindLabel names a complete set's kind for people.
func SetKindLabel(kind string) string {
	switch kind {
	case polybot.SetMarket:
		return "YES + NO"
	case polybot.SetPair:
		return "Matched pair"
	case polybot.SetRebalanceLong:
		return "Every outcome YES"
	case polybot.SetRebalanceShort:
		return "Every outcome NO"
	case polybot.SetImplication:
		return "Implication"
	}
	return kind
}

// --- API keys ---

// KeyCard is one platform on the API keys page and in the onboarding wizard.
type KeyCard struct {
	Platform    polybot.Platform
	Name        string
	Description string
	Optional    bool // a broker: the wizard may skip it
	Fields      []KeyField
	Slots       []KeySlot // paper, then live
}

// KeyField is one credential input of a platform's form.
type KeyField struct {
	Name     string // the API's field name: api_key, api_secret, private_key, passphrase
	Label    string
	Hint     string
	Textarea bool
	Secret   bool // a password input
	Required bool
}

// KeySlot is the stored key of one mode, if any: metadata only, never a value.
type KeySlot struct {
	Paper  bool
	Stored bool
	Meta   polybot.SecretMeta
}

// Mode is "paper" or "live".
func (s KeySlot) Mode() string {
	if s.Paper {
		return "paper"
	}
	return "live"
}

// HasOptional reports whether the platform has optional credential fields.
func (c KeyCard) HasOptional() bool {
	for _, f := range c.Fields {
		if !f.Required {
			return true
		}
	}
	return false
}

// OptionalLabel names the group of optional fields.
func (c KeyCard) OptionalLabel() string {
	if c.Platform == polybot.Polymarket {
		return "L2 API credentials (optional)"
	}
	return "More settings (optional)"
}

// Connected reports whether the card holds any key.
func (c KeyCard) Connected() bool {
	for _, s := range c.Slots {
		if s.Stored {
			return true
		}
	}
	return false
}

// Valid reports whether any stored key validated.
func (c KeyCard) Valid() bool {
	for _, s := range c.Slots {
		if s.Stored && s.Meta.ValidationStatus == polybot.ValidationValid {
			return true
		}
	}
	return false
}

// NewKeyCards builds one card per platform, in polybot.Platforms order,
// from the tenant's stored keys.
func NewKeyCards(metas []polybot.SecretMeta) []KeyCard {
	out := make([]KeyCard, 0, len(polybot.Platforms))
	for _, p := range polybot.Platforms {
		c := KeyCard{Platform: p, Name: polybot.PlatformName(p), Optional: polybot.VenueOf(p).Optional}
		switch p {
		case polybot.Polymarket:
			c.Description = "Prediction-market CLOB. Your wallet's private key signs orders; the L2 API credentials are optional (they are derived from the wallet key when left out)."
			c.Fields = []KeyField{
				{Name: polybot.FieldPrivateKey, Label: "Wallet private key", Hint: "64 hex digits, 0x optional.", Secret: true, Required: true},
				{Name: polybot.FieldAPIKey, Label: "L2 API key", Hint: "API key, secret and passphrase go together: all three or none.", Secret: true},
				{Name: polybot.FieldAPISecret, Label: "L2 API secret", Secret: true},
				{Name: polybot.FieldPassphrase, Label: "L2 passphrase", Secret: true},
			}
		case polybot.Kalshi:
			c.Description = "Regulated event exchange. Requests are signed with your API key's RSA private key."
			c.Fields = []KeyField{
				{Name: polybot.FieldAPIKey, Label: "API key ID", Hint: "The key ID Kalshi shows beside the key.", Required: true},
				{Name: polybot.FieldPrivateKey, Label: "RSA private key (PEM)", Hint: "PKCS#1 or PKCS#8, including the BEGIN and END lines.", Textarea: true, Required: true},
			}
		case polybot.Alpaca:
			c.Description = "Stocks and ETFs: the broker for news rules whose action, or hedge, is an equity order. Paper keys trade Alpaca's paper account; a key is checked with Alpaca's account call."
			c.Fields = []KeyField{
				{Name: polybot.FieldAPIKey, Label: "API key ID", Required: true},
				{Name: polybot.FieldAPISecret, Label: "API secret key", Secret: true, Required: true},
			}
		case polybot.IBKR:
			c.Description = "Interactive Brokers through the Client Portal gateway (optional): ForecastEx event contracts and stocks. Sign in through the gateway's own page; PolyBot needs its URL and your account ID."
			c.Fields = []KeyField{
				{Name: polybot.FieldAPIKey, Label: "Account ID", Hint: "Such as U1234567 (live) or DU1234567 (paper).", Required: true},
				{Name: polybot.FieldAPISecret, Label: "Gateway URL", Hint: "The Client Portal gateway's address, such as https://localhost:5000 beside a self-hosted PolyBot; a hosted PolyBot reaches public addresses only.", Required: true},
			}
		}
		for _, paper := range []bool{true, false} {
			slot := KeySlot{Paper: paper}
			for _, m := range metas {
				if m.Platform == p && m.Paper == paper {
					slot.Stored, slot.Meta = true, m
				}
			}
			c.Slots = append(c.Slots, slot)
		}
		out = append(out, c)
	}
	return out
}

// KeysData is the API keys page's data.
type KeysData struct {
	Cards []KeyCard
	// Sim: the venues are the built-in simulators, so Polymarket, Kalshi,
	// Alpaca and IBKR cards offer "Generate simulator keys".
	Sim bool
}

// Simulated reports whether the platform has a built-in simulator.
func (c KeyCard) Simulated() bool { return polybot.VenueOf(c.Platform).Simulated }

// --- API tokens ---

// TokenRow is one API token as the tokens page lists it: never the token.
type TokenRow struct {
	ID       polybot.ID
	Name     string
	Prefix   string
	Created  time.Time
	LastUsed *time.Time
	Expires  *time.Time
}

// TokensData is the API tokens page's data.
type TokensData struct {
	Tokens []TokenRow
}

// NewTokensData lists tokens, newest first as the store returns them.
func NewTokensData(toks []*polybot.APIToken) TokensData {
	d := TokensData{Tokens: []TokenRow{}}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, TokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Created: t.CreatedAt, LastUsed: t.LastUsedAt, Expires: t.ExpiresAt})
	}
	return d
}

// --- config ---

// Toggle is a boolean config field.
type Toggle struct {
	Field    string
	Label    string
	Hint     string
	On       bool
	Disabled bool
}

// DecimalField is a decimal config field.
type DecimalField struct {
	Field string
	Label string
	Hint  string
	Value string
	Unit  string
}

// ConfigView is every config field, grouped as the config page shows them.
type ConfigView struct {
	DryRun        Toggle
	Trading       []DecimalField
	Timezone      DecimalField
	Strategies    []Toggle
	Platforms     []Toggle
	Notifications []Toggle
	Channels      []Toggle // Field is the channel name
	Advanced      string
	UpdatedAt     time.Time
	Tier          string
}

// NewConfigView groups c for display; p supplies the plan's limits and
// features (a strategy the plan lacks is shown but cannot be switched on).
func NewConfigView(c *polybot.Config, p *polybot.Profile) ConfigView {
	v := ConfigView{UpdatedAt: c.UpdatedAt, Tier: p.SubscriptionTier}
	v.DryRun = Toggle{Field: "dry_run", Label: "Dry-run (paper) trading", On: c.DryRun,
		Hint: "On: orders are simulated against live books and no money moves. Off: the bot trades live with your keys."}
	v.Trading = []DecimalField{
		{Field: "min_profit_pct", Label: "Minimum profit", Unit: "%", Value: c.MinProfitPct.String(),
			Hint: "Trade only opportunities whose net edge, after fees, is at least this percentage of cost (0–100)."},
		{Field: "max_trade_size_usd", Label: "Maximum trade size", Unit: "USD", Value: c.MaxTradeSizeUSD.String(),
			Hint: "Your plan allows up to $" + Money(p.MaxTradeSizeUSD) + " per trade."},
		{Field: "max_daily_loss_usd", Label: "Maximum daily loss", Unit: "USD", Value: c.MaxDailyLossUSD.String(),
			Hint: "The bot stops opening trades for the day past this loss. Your plan allows up to $" + Money(p.MaxDailyLossUSD) + "."},
	}
	tz := c.Timezone
	if tz == "" {
		tz = "UTC"
	}
	v.Timezone = DecimalField{Field: "timezone", Label: "Trading day time zone", Value: tz,
		Hint: "An IANA time zone such as UTC or America/New_York. Your trading day, and with it the daily-loss limit, starts at midnight here."}
	v.Strategies = StrategyToggles(c, p)
	for _, pl := range polybot.Platforms {
		f := polybot.VenueOf(pl)
		v.Platforms = append(v.Platforms, Toggle{Field: f.ConfigField, Label: f.Label, On: c.PlatformEnabled(pl)})
	}
	v.Notifications = []Toggle{
		{Field: "notify_on_trade", Label: "Each trade", On: c.NotifyOnTrade},
		{Field: "notify_on_opportunity", Label: "Each opportunity", On: c.NotifyOnOpportunity},
		{Field: "notify_daily_summary", Label: "Daily summary", On: c.NotifyDailySummary},
	}
	for _, ch := range polybot.NotificationChannels {
		v.Channels = append(v.Channels, Toggle{Field: ch, Label: capitalize(ch), On: has(c.NotificationChannels, ch)})
	}
	v.Advanced = "{}"
	if len(c.AdvancedConfig) > 0 {
		var obj any
		if json.Unmarshal(c.AdvancedConfig, &obj) == nil {
			if b, err := json.MarshalIndent(obj, "", "  "); err == nil {
				v.Advanced = string(b)
			}
		}
	}
	return v
}

// StrategyToggles are the strategy switches, disabled where the plan lacks
// the strategy.
func StrategyToggles(c *polybot.Config, p *polybot.Profile) []Toggle {
	mk := func(field, strategy string, on, allowed bool, hint string) Toggle {
		t := Toggle{Field: field, Label: StrategyLabel(strategy), On: on, Hint: hint}
		if !allowed {
			t.Disabled = true
			t.Hint = "Not included in your " + p.SubscriptionTier + " plan. " + hint
		}
		return t
	}
	f := p.Features
	return []Toggle{
		mk("enable_single_platform_arb", polybot.StrategySinglePlatform, c.EnableSinglePlatformArb, f.SinglePlatform, "YES + NO on one venue for less than $1 after fees."),
		mk("enable_cross_platform_arb", polybot.StrategyCrossPlatform, c.EnableCrossPlatformArb, f.CrossPlatform, "The same event on two venues, opposite sides, for less than $1 after fees."),
		mk("enable_overlapping_arb", polybot.StrategyOverlapping, c.EnableOverlappingArb, f.OverlappingArb, "Every outcome of an exhaustive event for less than it pays (YES below $1 a set, or NO below n − 1), and approved implications (YES on B with NO on A below $1)."),
		mk("enable_news_arbitrage", polybot.StrategyNews, c.EnableNewsArbitrage, f.NewsArbitrage, "Headlines matched to markets by your rules (the News page): buy an outcome up to a price, or the venue that lags the other."),
		mk("enable_copy_trading", polybot.StrategyCopy, c.EnableCopyTrading, f.CopyTrading, "Mirror the Polymarket wallets you follow (the Copy trading page), sized and capped by your settings."),
	}
}

// ConfigData is the config page's data.
type ConfigData struct {
	Form ConfigView
}

// --- plan ---

// Feature is one strategy (or, last, the own process) a tier may enable.
type Feature struct {
	Key   string
	Label string
}

// FeatureList is every feature, in display order.
var FeatureList = []Feature{
	{"single_platform", StrategyLabel(polybot.StrategySinglePlatform)},
	{"news_arbitrage", StrategyLabel(polybot.StrategyNews)},
	{"cross_platform", StrategyLabel(polybot.StrategyCrossPlatform)},
	{"overlapping_arb", StrategyLabel(polybot.StrategyOverlapping)},
	{"copy_trading", StrategyLabel(polybot.StrategyCopy)},
	{"own_process", "Your bot in a process of its own (on a scaled-out server)"},
}

// FeatureFlags lists f in FeatureList order.
func FeatureFlags(f polybot.Features) []bool {
	return []bool{f.SinglePlatform, f.NewsArbitrage, f.CrossPlatform, f.OverlappingArb, f.CopyTrading, f.OwnProcess}
}

// TierView is a tier as the plan page and onboarding show it.
type TierView struct {
	*polybot.Tier
	Flags   []bool // features, in FeatureList order
	Current bool
	// Upgrade: the tier costs more than the current one (the button says
	// "Upgrade", else "Downgrade").
	Upgrade bool
}

// Usage is the month's trades against the plan's limit.
type Usage struct {
	Month     string
	Used      int
	Limit     int
	Remaining int
}

// Percent is the share of the limit used, 0–100, in whole percent.
func (u Usage) Percent() int {
	if u.Limit <= 0 {
		if u.Used > 0 {
			return 100
		}
		return 0
	}
	p := u.Used * 100 / u.Limit
	return min(p, 100)
}

// PlanData is the plan page's data (and onboarding's last step).
type PlanData struct {
	Profile  *polybot.Profile
	Current  TierView
	Tiers    []TierView
	Features []Feature
	Usage    Usage
	Admin    bool // an admin can move their own account between tiers
	Billing  Billing
}

// NewPlanData builds the plan view.
func NewPlanData(p *polybot.Profile, tiers []*polybot.Tier, u Usage, admin bool) PlanData {
	d := PlanData{Profile: p, Features: FeatureList, Usage: u, Admin: admin}
	for _, t := range tiers {
		tv := TierView{Tier: t, Flags: FeatureFlags(t.Features), Current: t.Name == p.SubscriptionTier}
		if tv.Current {
			d.Current = tv
		}
		d.Tiers = append(d.Tiers, tv)
	}
	cur := polybot.Zero
	if d.Current.Tier != nil {
		cur = d.Current.PriceUSDMonthly
	}
	for i := range d.Tiers {
		d.Tiers[i].Upgrade = d.Tiers[i].PriceUSDMonthly.GreaterThan(cur)
	}
	if d.Current.Tier == nil {
		// The profile's tier was removed: show the limits the profile holds.
		d.Current = TierView{Tier: &polybot.Tier{Name: p.SubscriptionTier, DisplayName: capitalize(p.SubscriptionTier),
			MonthlyTradeLimit: p.MonthlyTradeLimit, MaxTradeSizeUSD: p.MaxTradeSizeUSD, MaxDailyLossUSD: p.MaxDailyLossUSD,
			MaxPositions: p.MaxPositions, Features: p.Features}, Flags: FeatureFlags(p.Features), Current: true}
	}
	return d
}

// --- onboarding ---

// Step is one onboarding step in the progress list.
type Step struct {
	N       int
	Name    string
	Done    bool
	Current bool
}

// RiskPreset is a starting point for the trading limits, capped at the plan's.
type RiskPreset struct {
	Name            string
	Label           string
	Description     string
	MinProfitPct    polybot.Decimal
	MaxTradeSizeUSD polybot.Decimal
	MaxDailyLossUSD polybot.Decimal
	Checked         bool
}

// RiskPresets are the conservative, balanced and aggressive presets derived
// from p's plan: aggressive uses the plan's whole trade size and daily loss
// limits, balanced half of them and conservative a fifth (whole dollars,
// at least $1), so each preset promises what the plan can give. The one
// matching c, if any, is checked.
func RiskPresets(c *polybot.Config, p *polybot.Profile) []RiskPreset {
	d := polybot.MustDecimal
	share := func(limit polybot.Decimal, frac string) polybot.Decimal {
		v := limit.Mul(d(frac)).Floor(d("1"))
		if v.Sign() <= 0 {
			v = d("1").Min(limit)
		}
		return v
	}
	ps := []RiskPreset{
		{Name: "conservative", Label: "Conservative", MinProfitPct: d("2"),
			MaxTradeSizeUSD: share(p.MaxTradeSizeUSD, "0.2"), MaxDailyLossUSD: share(p.MaxDailyLossUSD, "0.2")},
		{Name: "balanced", Label: "Balanced", MinProfitPct: d("1"),
			MaxTradeSizeUSD: share(p.MaxTradeSizeUSD, "0.5"), MaxDailyLossUSD: share(p.MaxDailyLossUSD, "0.5")},
		{Name: "aggressive", Label: "Aggressive", MinProfitPct: d("0.5"),
			MaxTradeSizeUSD: p.MaxTradeSizeUSD, MaxDailyLossUSD: p.MaxDailyLossUSD},
	}
	ps[0].Description = "Only clear edges (2% or more), a fifth of your plan's limits."
	ps[1].Description = "A 1% edge, half of your plan's limits."
	ps[2].Description = "Thinner edges (0.5%), the largest trades your " + capitalize(p.SubscriptionTier) + " plan allows."
	for i := range ps {
		ps[i].Checked = ps[i].MinProfitPct.Cmp(c.MinProfitPct) == 0 && ps[i].MaxTradeSizeUSD.Cmp(c.MaxTradeSizeUSD) == 0 &&
			ps[i].MaxDailyLossUSD.Cmp(c.MaxDailyLossUSD) == 0
	}
	return ps
}

// OnboardingData is the onboarding page's data.
type OnboardingData struct {
	Step          int
	Steps         []Step
	AcceptedTerms *time.Time
	Cards         []KeyCard
	Config        ConfigView
	Presets       []RiskPreset
	Plan          PlanData
	Panel         string // the wizard's first panel: polymarket, kalshi or brokers
	// Sim: the venues are the built-in simulators, so the platform step
	// offers "Generate simulator keys".
	Sim bool
	// OneVenue: the plan has no cross-platform strategy, so one venue is
	// enough to trade.
	OneVenue bool
}

// Onboarding steps, in order: the plan (its limits and strategies) comes
// before the platforms, so a user knows what they can trade before they
// connect anything.
const (
	StepWelcome   = 1
	StepPlan      = 2
	StepPlatforms = 3
	StepRisk      = 4
)

// OnboardingSteps names the four steps.
var OnboardingSteps = []string{"Welcome", "Your plan", "Connect platforms", "Risk and strategies"}

// --- admin ---

// AdminUser is a row of the admin's user list.
type AdminUser struct {
	ID        polybot.ID
	Email     string
	Name      string
	Role      polybot.Role
	Tier      string
	Disabled  bool
	Onboarded bool
	BotState  string
	BotReason string
	Created   time.Time
	Self      bool
}

// AdminPair is a row of the matched-market registry.
type AdminPair struct {
	*polybot.MarketPair
}

// JSON is the pair as PUT /api/v1/admin/market-pairs/{id} takes it.
func (p AdminPair) JSON() string {
	b, _ := json.Marshal(p.MarketPair)
	return string(b)
}

// AdminData is the admin page's data.
type AdminData struct {
	Users      []AdminUser
	NextAfter  string // cursor of the next page of users ("" when none)
	GlobalHalt string
	HaltStates []string
	Pairs      []AdminPair
	Tiers      []string
	// The overlap registry (see NewAdminOverlap).
	Sets      []AdminOutcomeSet
	Relations []AdminRelation
	Billing   AdminBilling
}

// NewOnboarding builds onboarding's data. step is the step to show (1–4).
func NewOnboarding(step int, p *polybot.Profile, c *polybot.Config, metas []polybot.SecretMeta, plan PlanData) OnboardingData {
	d := OnboardingData{Step: step, AcceptedTerms: p.AcceptedTermsAt, Cards: NewKeyCards(metas), Config: NewConfigView(c, p),
		Presets: RiskPresets(c, p), Plan: plan, OneVenue: !p.Features.CrossPlatform}
	next := NextOnboardingStep(p, c, metas)
	for i, name := range OnboardingSteps {
		n := i + 1
		d.Steps = append(d.Steps, Step{N: n, Name: name, Done: n < next || p.OnboardingCompleted, Current: n == step})
	}
	d.Panel = "brokers"
	for _, card := range d.Cards[:2] {
		if !card.Connected() {
			d.Panel = string(card.Platform)
			break
		}
	}
	return d
}

// NextOnboardingStep is where a user resumes onboarding: the terms until
// accepted; then the plan until any key is stored; then the platform wizard
// until Polymarket and Kalshi both have a key; then risk and strategies
// (also once the config was saved: the sign-up default config has never
// been saved, updated == created).
func NextOnboardingStep(p *polybot.Profile, c *polybot.Config, metas []polybot.SecretMeta) int {
	if p.AcceptedTermsAt == nil {
		return StepWelcome
	}
	if c.UpdatedAt.After(c.CreatedAt) {
		return StepRisk
	}
	all := true // a key for every venue that is not optional
	for _, pl := range polybot.Platforms {
		all = all && (polybot.VenueOf(pl).Optional || slices.ContainsFunc(metas, func(m polybot.SecretMeta) bool { return m.Platform == pl }))
	}
	switch {
	case all:
		return StepRisk
	case len(metas) > 0:
		return StepPlatforms
	}
	return StepPlan
}

// --- trades ---

// TradesData is the Trades page: the tenant's fills that the filter
// selects, newest first.
type TradesData struct {
	Filter TradesFilter
	Rows   []TradeRow
	// Next is the URL of the next (older) page, "" on the last page.
	Next string
	// Choices for the filter's selects.
	Strategies []string
	Venues     []polybot.Platform
	Markets    []MarketChoice
}

// TradesFilter is the filter as the form shows it.
type TradesFilter struct {
	Strategy, Venue, Market, Mode string
}

// --- orders ---

// OrdersData is the Orders page: the tenant's intents that the filter
// selects, newest first, with what became of each in words.
type OrdersData struct {
	Filter OrdersFilter
	Rows   []OrderRow
	// Next is the URL of the next (older) page, "" on the last page; CSV
	// is the URL of the same selection as CSV.
	Next, CSV string
	// Choices for the filter's selects.
	States, Strategies []string
	Venues             []polybot.Platform
	Markets            []MarketChoice
}

// OrdersFilter is the filter as the form shows it.
type OrdersFilter struct {
	State, Strategy, Venue, Market, Mode, From, To string
	// Opportunity, when set, shows one opportunity's orders (a news
	// rule's fire links here).
	Opportunity string
}

// MarketChoice is a market the filter can select.
type MarketChoice struct {
	Value, Label string
}

// OrderRow is one intent.
type OrderRow struct {
	ID       string
	Time     time.Time
	Label    string
	Venue    polybot.Platform
	Outcome  string
	Side     string
	Strategy string
	Mode     polybot.ExecMode
	Price    polybot.Decimal
	Size     polybot.Decimal
	Filled   polybot.Decimal
	State    string
	Reason   string
	Unwind   bool
}

// NewOrderRow converts an intent.
func (l Labeler) NewOrderRow(in *polybot.Intent) OrderRow {
	return OrderRow{ID: in.ID, Time: in.CreatedAt, Label: l.Label(in.Instrument), Venue: in.Instrument.Venue,
		Outcome: OutcomeOf(in.Instrument), Side: in.Side.String(), Strategy: in.Strategy, Mode: in.Mode, Price: in.Price,
		Size: in.Size, Filled: in.Filled, State: in.State, Reason: polybot.IntentReason(in), Unwind: in.Leg >= polybot.UnwindLeg && in.Leg < polybot.ExitLeg}
}

// IntentStates lists the intent states for the Orders filter.
var IntentStates = []string{polybot.IntentFilled, polybot.IntentPartial, polybot.IntentOpen, polybot.IntentPending,
	polybot.IntentCancelled, polybot.IntentRejected, polybot.IntentUnknown}

// --- account and security ---

// SessionRow is one of the user's signed-in sessions.
type SessionRow struct {
	ID                               string
	CreatedAt, LastSeenAt, ExpiresAt time.Time
	Current                          bool
}

// AccountData is the account page's data: the password form (unless the
// account signs in through an identity provider) and the sessions.
type AccountData struct {
	HasPassword          bool
	IdleDays, MaxAgeDays int
	Sessions             []SessionRow
}
