package polybot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Strategy names, as used in intents, P&L and metrics.
const (
	StrategySinglePlatform = "single_platform"
	StrategyCrossPlatform  = "cross_platform"
	StrategyOverlapping    = "overlapping_arb"
	StrategyNews           = "news_arbitrage"
	StrategyCopy           = "copy_trading"
)

// Enabled reports whether c (and the plan behind it, f) lets strategy run.
// A strategy the plan lacks is off even if an old config still has it on.
func (c *Config) Enabled(strategy string, f Features) bool {
	switch strategy {
	case StrategySinglePlatform:
		return c.EnableSinglePlatformArb && f.SinglePlatform
	case StrategyCrossPlatform:
		return c.EnableCrossPlatformArb && f.CrossPlatform
	case StrategyOverlapping:
		return c.EnableOverlappingArb && f.OverlappingArb
	case StrategyNews:
		return c.EnableNewsArbitrage && f.NewsArbitrage
	case StrategyCopy:
		return c.EnableCopyTrading && f.CopyTrading
	}
	return false
}

// PlatformEnabled reports whether c trades on p: the switch named by
// VenueOf(p).ConfigField.
func (c *Config) PlatformEnabled(p Platform) bool {
	switch p {
	case Polymarket:
		return c.EnablePolymarket
	case Kalshi:
		return c.EnableKalshi
	case Alpaca:
		return c.EnableAlpaca
	case IBKR:
		return c.EnableIBKR
	}
	return false
}

// Leg is one order of an opportunity: buy Size of Instrument at up to Price.
type Leg struct {
	Instrument Instrument `json:"instrument"`
	Side       Side       `json:"side"`
	Price      Decimal    `json:"price"`     // limit price (the best ask taken)
	Available  Decimal    `json:"available"` // size visible at Price
	Fee        Decimal    `json:"fee"`       // fee per contract at Price
	QuoteTime  time.Time  `json:"quote_time"`
}

// Opportunity is an arbitrage found by a strategy on the shared books, once
// per book update, before any tenant sizes it. Prices and edges are per set
// (one contract of every leg), which pays exactly $1 at resolution.
type Opportunity struct {
	ID         string    `json:"id"`
	Strategy   string    `json:"strategy"`
	Legs       []Leg     `json:"legs"`
	Size       Decimal   `json:"size"`       // sets fillable: the thinnest leg
	Cost       Decimal   `json:"cost"`       // per set, prices plus fees
	GrossEdge  Decimal   `json:"gross_edge"` // per set: 1 − Σ prices
	Fees       Decimal   `json:"fees"`       // per set
	NetEdge    Decimal   `json:"net_edge"`   // per set: GrossEdge − Fees
	ProfitPct  Decimal   `json:"profit_pct"` // NetEdge / Cost × 100
	PairID     string    `json:"pair_id,omitempty"`
	DetectedAt time.Time `json:"detected_at"`
	// News arbitrage only (PairID is then the rule's id): Direct marks a
	// direct rule's buy, which has no edge to measure (the rule's max price
	// bounds it); Target is the price a lag trade expects to sell at.
	Direct bool    `json:"direct,omitempty"`
	Target Decimal `json:"target,omitempty"`
}

// Venues lists the distinct venues of o's legs.
func (o *Opportunity) Venues() []Platform {
	var out []Platform
	for _, l := range o.Legs {
		seen := false
		for _, p := range out {
			seen = seen || p == l.Instrument.Venue
		}
		if !seen {
			out = append(out, l.Instrument.Venue)
		}
	}
	return out
}

// PairLeg is one side of a matched pair: a binary market on one venue.
// Market is the venue's market (a Polymarket condition id, a Kalshi
// ticker, an IBKR ForecastEx market); Yes and No are the two contracts'
// own ids where the venue lists them apart (Polymarket token ids, IBKR
// contract ids) and empty where one market trades both outcomes (Kalshi).
type PairLeg struct {
	Venue  Platform `json:"venue"`
	Market string   `json:"market,omitempty"`
	Yes    string   `json:"yes,omitempty"`
	No     string   `json:"no,omitempty"`
}

// PolymarketLeg is a Polymarket market as a pair's leg (condition id may
// be empty; the two token ids may not).
func PolymarketLeg(conditionID, yesToken, noToken string) PairLeg {
	return PairLeg{Venue: Polymarket, Market: conditionID, Yes: yesToken, No: noToken}
}

// KalshiLeg is a Kalshi market as a pair's leg.
func KalshiLeg(ticker string) PairLeg { return PairLeg{Venue: Kalshi, Market: ticker} }

// LegOf is the pair leg of a binary market.
func LegOf(m BinaryMarket) PairLeg {
	return PairLeg{Venue: m.Yes.Venue, Market: m.Yes.Market, Yes: m.Yes.Token, No: m.No.Token}
}

// Binary is the leg's two instruments.
func (l PairLeg) Binary() BinaryMarket {
	return BinaryMarket{
		Yes: Instrument{Venue: l.Venue, Market: l.Market, Token: l.Yes, Outcome: Yes},
		No:  Instrument{Venue: l.Venue, Market: l.Market, Token: l.No, Outcome: No},
	}
}

// PairVenues are the venues a pair's legs may be on: the prediction
// venues (an equity has no YES and NO).
var PairVenues = []Platform{Polymarket, Kalshi, IBKR}

// check adds what is wrong with the leg to v under field (legs[i]).
func (l PairLeg) check(v Validation, field string) {
	switch l.Venue {
	case Polymarket, IBKR:
		// Both list YES and NO as contracts of their own.
		v.checkText(field+".market", l.Market, 128)
		v.checkRequiredText(field+".yes", l.Yes, 128)
		v.checkRequiredText(field+".no", l.No, 128)
		if l.Yes != "" && l.Yes == l.No {
			v.Add(field+".no", "must differ from yes")
		}
	case Kalshi:
		v.checkRequiredText(field+".market", l.Market, 128)
		if l.Yes != "" || l.No != "" {
			v.Add(field+".yes", "must be empty for kalshi: a Kalshi market trades both outcomes")
		}
	default:
		v.Add(field+".venue", "must be polymarket, kalshi or ibkr")
	}
}

// MarketPair is an entry of the matched-market registry: the same event on
// two venues (any two of Polymarket, Kalshi and IBKR ForecastEx), which
// cross-platform arbitrage may trade only once an admin has approved it
// after reading both venues' resolution rules.
type MarketPair struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Legs            [2]PairLeg `json:"legs"`
	ResolutionNotes string     `json:"resolution_notes"`
	Approved        bool       `json:"approved"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// Markets is the pair's two markets, in the order of its legs.
func (m *MarketPair) Markets() (a, b BinaryMarket) { return m.Legs[0].Binary(), m.Legs[1].Binary() }

// Leg is the pair's leg on venue p, if it has one.
func (m *MarketPair) Leg(p Platform) (PairLeg, bool) {
	for _, l := range m.Legs {
		if l.Venue == p {
			return l, true
		}
	}
	return PairLeg{}, false
}

// Validate checks an admin's registry entry; a complaint about a leg names
// it legs[0] or legs[1].
func (m *MarketPair) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", m.ID, 64)
	v.checkRequiredText("name", m.Name, 200)
	for i, l := range m.Legs {
		l.check(v, "legs["+strconv.Itoa(i)+"]")
	}
	if m.Legs[0].Venue != "" && m.Legs[0].Venue == m.Legs[1].Venue {
		v.Add("legs[1].venue", "must differ from legs[0]'s: a pair matches one event on two venues")
	}
	v.checkText("resolution_notes", m.ResolutionNotes, 4000)
	return v.Err()
}

// ExecMode is how a tenant's orders are executed.
type ExecMode string

const (
	DryRun ExecMode = "dry_run" // simulated fills against the hub's books
	Live   ExecMode = "live"    // the venue, with the tenant's own keys
)

// Intent states.
const (
	IntentPending   = "pending"   // persisted, not yet sent
	IntentOpen      = "open"      // accepted by the venue, resting
	IntentFilled    = "filled"    // fully filled
	IntentPartial   = "partial"   // partly filled, rest cancelled or resting
	IntentCancelled = "cancelled" // cancelled with nothing filled
	IntentRejected  = "rejected"  // refused by the venue or the risk gate after persisting
	IntentUnknown   = "unknown"   // sent, outcome not known: reconcile by query, never resend
)

// Intent is an order a tenant's runner decided to send, persisted before
// it is sent. ID is the client order id, derived from the decision
// (IntentID), so the same decision always yields the same id.
type Intent struct {
	ID            string      `json:"client_order_id"`
	UserID        ID          `json:"-"`
	OpportunityID string      `json:"opportunity_id"`
	Strategy      string      `json:"strategy"`
	Leg           int         `json:"leg"`
	Mode          ExecMode    `json:"mode"`
	Instrument    Instrument  `json:"instrument"`
	Side          Side        `json:"side"`
	Price         Decimal     `json:"price"`
	Size          Decimal     `json:"size"`
	TIF           TimeInForce `json:"tif"`
	// Reduce marks a risk-reducing order (an unwind, the sale of a naked
	// leg): the gate lets it through halts, the daily loss and the quota.
	Reduce bool `json:"reduce,omitempty"`
	// Against, on a risk-reducing buy at a venue that takes no sells, is
	// the held contract the buy closes (the same market's other outcome);
	// the gate checks it and it is not stored.
	Against Instrument `json:"-"`
	// Epoch is the epoch of the lease the intent was made under (see
	// Lease); 0 in a single process, which takes no lease.
	Epoch        int64     `json:"epoch,omitempty"`
	State        string    `json:"state"`
	VenueOrderID string    `json:"venue_order_id"`
	Filled       Decimal   `json:"filled"`
	Fees         Decimal   `json:"fees"`
	Error        string    `json:"error,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// UnwindLeg offsets the Leg number of an unwind intent: leg i of an
// opportunity is unwound by intents of leg UnwindLeg+i.
const UnwindLeg = 100

// ExitLeg offsets the Leg number of the intents that close a directional
// (news) position: attempt k is leg ExitLeg+k.
const ExitLeg = 200

// IntentReason says in plain words what became of an intent: the Orders
// page, its CSV export and GET /api/v1/orders all show this text.
func IntentReason(in *Intent) string {
	what := ""
	switch {
	case in.Leg >= ExitLeg:
		what = "Exit: "
	case in.Leg >= UnwindLeg:
		what = "Unwind: "
	}
	detail := strings.TrimSpace(in.Error)
	switch in.State {
	case IntentPending:
		return what + "Waiting to be sent"
	case IntentOpen:
		return what + "Resting at the venue"
	case IntentFilled:
		return what + "Filled " + in.Filled.String() + " at up to " + in.Price.String()
	case IntentPartial:
		s := what + "Partly filled: " + in.Filled.String() + " of " + in.Size.String()
		if detail != "" {
			s += " (" + detail + ")"
		}
		return s
	case IntentCancelled:
		if rest, ok := strings.CutPrefix(detail, "not sent: "); ok {
			return what + "Not sent: " + rest
		}
		if detail == "" {
			return what + "Cancelled with nothing filled"
		}
		return what + "Cancelled: " + detail
	case IntentRejected:
		if rest, ok := strings.CutPrefix(detail, "refused: "); ok {
			return what + "Refused by your limits: " + rest
		}
		if detail == "" {
			return what + "Rejected"
		}
		return what + "Rejected: " + detail
	case IntentUnknown:
		return what + "Outcome unknown: being resolved with the venue (never resent)"
	}
	return what + in.State
}

// Notional is the most the intent can cost: price × size.
func (i *Intent) Notional() Decimal { return i.Price.Mul(i.Size) }

// IntentID derives a client order id from a tenant, an opportunity and a
// leg: the same decision always gets the same id, so a retry after a crash
// finds the order instead of sending it twice. 32 hex characters fit every
// venue's client-id limit.
func IntentID(tenant ID, opportunityID string, leg int, attempt int) string {
	h := sha256.Sum256([]byte(tenant.String() + "|" + opportunityID + "|" + strconv.Itoa(leg) + "|" + strconv.Itoa(attempt)))
	return "pb" + hex.EncodeToString(h[:15])
}

// TradeFill is a fill recorded against a tenant's intent. (Venue, TradeID)
// is unique per tenant, so a fill seen twice is recorded once.
type TradeFill struct {
	Venue         Platform   `json:"venue"`
	TradeID       string     `json:"trade_id"`
	UserID        ID         `json:"-"`
	ClientOrderID string     `json:"client_order_id"`
	Strategy      string     `json:"strategy"`
	Mode          ExecMode   `json:"mode"`
	Instrument    Instrument `json:"instrument"`
	Side          Side       `json:"side"`
	Price         Decimal    `json:"price"`
	Size          Decimal    `json:"size"`
	Fee           Decimal    `json:"fee"`
	RealizedPnL   Decimal    `json:"realized_pnl"` // set when the fill reduces a position
	Time          time.Time  `json:"time"`
}

// CashFlow is what the fill moved in cash: a sale's proceeds, a purchase's
// cost (negative), fees always paid.
func (f *TradeFill) CashFlow() Decimal {
	gross := f.Price.Mul(f.Size)
	if f.Side == Buy {
		gross = gross.Neg()
	}
	return gross.Sub(f.Fee)
}

// Holding is a tenant's position in one instrument, in one mode.
type Holding struct {
	Instrument  Instrument `json:"instrument"`
	Mode        ExecMode   `json:"mode"`
	Size        Decimal    `json:"size"`      // contracts held (never negative: prediction markets are long-only per outcome)
	AvgPrice    Decimal    `json:"avg_price"` // average cost per contract, fees included
	RealizedPnL Decimal    `json:"realized_pnl"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// ApplyFill updates h by f and returns the P&L the fill realises: buys add
// to the position at cost (fees included); sells realise
// (price − avg) × size − fee.
func (h *Holding) ApplyFill(f *TradeFill) Decimal {
	if f.Side == Buy {
		cost := h.AvgPrice.Mul(h.Size).Add(f.Price.Mul(f.Size)).Add(f.Fee)
		h.Size = h.Size.Add(f.Size)
		if h.Size.Sign() > 0 {
			h.AvgPrice = cost.Div(h.Size)
		}
		return Zero
	}
	size := f.Size
	if size.GreaterThan(h.Size) {
		size = h.Size
	}
	pnl := f.Price.Sub(h.AvgPrice).Mul(size).Sub(f.Fee)
	h.Size = h.Size.Sub(size)
	if h.Size.IsZero() {
		h.AvgPrice = Zero
	}
	h.RealizedPnL = h.RealizedPnL.Add(pnl)
	return pnl
}

// Halt states, per tenant and global.
const (
	HaltActive       = "active"        // trading allowed
	HaltReducingOnly = "reducing_only" // only orders that shrink positions
	HaltHalted       = "halted"        // no new orders; cancels still work
)

// ValidHalt reports whether s is a halt state.
func ValidHalt(s string) bool { return s == HaltActive || s == HaltReducingOnly || s == HaltHalted }

// DailyPnL is a tenant's totals for one trading day (midnight to midnight
// in the tenant's time zone), in one mode.
type DailyPnL struct {
	Day      string   `json:"day"` // 2006-01-02
	Mode     ExecMode `json:"mode"`
	Realized Decimal  `json:"realized"`
	Fees     Decimal  `json:"fees"`
	// CashFlow is Σ sells − buys − fees of the day's fills.
	CashFlow Decimal `json:"cash_flow"`
	// OpenValue is the marked value of the holdings when the day opened
	// (its first risk check or fill); Opened says whether it has.
	OpenValue Decimal `json:"open_value"`
	Opened    bool    `json:"opened"`
}

// Day is the UTC day containing t, "2006-01-02".
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Field checks both stores apply to trading state before writing it.

// CheckMode checks an execution mode.
func CheckMode(m ExecMode) error {
	if m != DryRun && m != Live {
		return FieldError("mode", "must be dry_run or live")
	}
	return nil
}

// CheckSide checks an order side.
func CheckSide(s Side) error {
	if s != Buy && s != Sell {
		return FieldError("side", "must be buy or sell")
	}
	return nil
}

// CheckInstrument checks that an instrument names a venue, a market or
// token, and an outcome.
func CheckInstrument(i Instrument) error {
	switch {
	case i.Venue == "":
		return FieldError("instrument", "needs a venue")
	case i.Market == "" && i.Token == "":
		return FieldError("instrument", "needs a market or a token")
	case i.Outcome != Yes && i.Outcome != No:
		return FieldError("instrument", "outcome must be YES or NO")
	}
	return nil
}

// CheckHalt checks a halt state.
func CheckHalt(state string) error {
	if !ValidHalt(state) {
		return FieldError("halt_state", "must be active, reducing_only or halted")
	}
	return nil
}

// CheckDay checks a "2006-01-02" day.
func CheckDay(day string) error {
	if _, err := time.Parse("2006-01-02", day); err != nil {
		return FieldError("day", "must be a date, 2006-01-02")
	}
	return nil
}

// ValidIntentState reports whether s is an intent state.
func ValidIntentState(s string) bool {
	switch s {
	case IntentPending, IntentOpen, IntentFilled, IntentPartial, IntentCancelled, IntentRejected, IntentUnknown:
		return true
	}
	return false
}

// StricterHalt is the more restrictive of two halt states; anything
// unknown counts as halted (fail closed).
func StricterHalt(a, b string) string {
	rank := func(s string) int {
		switch s {
		case HaltActive:
			return 0
		case HaltReducingOnly:
			return 1
		}
		return 2
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// IntentFilter selects a tenant's intents (the Orders page, GET
// /api/v1/orders). Zero fields select everything; results are newest
// first, created before Before (the page cursor), at most Limit.
type IntentFilter struct {
	States   []string
	Strategy string
	Venue    Platform
	// Market matches an intent's market (Kalshi ticker, Polymarket
	// condition id) or token, exactly.
	Market string
	Mode   ExecMode
	// Opportunity matches an intent's opportunity id exactly: the orders
	// one opportunity (or one news rule's fire) sent.
	Opportunity string
	// From and To bound created_at: From ≤ created_at < To.
	From, To time.Time
	Before   time.Time
	Limit    int
}

// Validate checks a filter's values.
func (f *IntentFilter) Validate() error {
	v := Validation{}
	for _, s := range f.States {
		if !ValidIntentState(s) {
			v.Add("state", "must be one of pending, open, filled, partial, cancelled, rejected, unknown")
		}
	}
	if f.Mode != "" && CheckMode(f.Mode) != nil {
		v.Add("mode", "must be dry_run or live")
	}
	if _, err := ParsePlatform(string(f.Venue)); f.Venue != "" && err != nil {
		v.Add("venue", "is not a venue")
	}
	text := func(field, s string, max int) {
		switch {
		case len(s) > max:
			v.Add(field, fmt.Sprintf("must be at most %d characters", max))
		case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
			v.Add(field, "must be text (UTF-8, no NUL)")
		}
	}
	text("strategy", f.Strategy, 64)
	text("market", f.Market, 256)
	text("opportunity", f.Opportunity, 128)
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		v.Add("to", "must be after from")
	}
	return v.Err()
}

// FillFilter selects a tenant's fills (GET /api/v1/trades, the Trades
// page). Zero fields select everything; results are newest first, filled
// before Before (the page cursor), at most Limit.
type FillFilter struct {
	Strategy string
	Venue    Platform
	// Market matches a fill's market (Kalshi ticker, Polymarket condition
	// id) or token, exactly.
	Market string
	Mode   ExecMode
	Before time.Time
	Limit  int
}

// Validate checks a filter's values.
func (f *FillFilter) Validate() error {
	in := IntentFilter{Strategy: f.Strategy, Venue: f.Venue, Market: f.Market, Mode: f.Mode}
	return in.Validate()
}

// Validate checks an intent before a store writes it.
func (i *Intent) Validate() error {
	if i.ID == "" || len(i.ID) > 128 {
		return FieldError("client_order_id", "must be 1-128 characters")
	}
	if err := CheckMode(i.Mode); err != nil {
		return err
	}
	if err := CheckInstrument(i.Instrument); err != nil {
		return err
	}
	if err := CheckSide(i.Side); err != nil {
		return err
	}
	if !ValidIntentState(i.State) {
		return FieldError("state", "is not an intent state")
	}
	return nil
}

// Validate checks a fill before a store writes it. An empty Venue is taken
// from the instrument and the other way round; the two must agree.
func (f *TradeFill) Validate() error {
	if f.Venue == "" {
		f.Venue = f.Instrument.Venue
	}
	if f.Instrument.Venue == "" {
		f.Instrument.Venue = f.Venue
	}
	if f.Venue != f.Instrument.Venue {
		return FieldError("venue", "must be the instrument's venue")
	}
	if f.TradeID == "" {
		return FieldError("trade_id", "is required")
	}
	if err := CheckMode(f.Mode); err != nil {
		return err
	}
	if err := CheckInstrument(f.Instrument); err != nil {
		return err
	}
	return CheckSide(f.Side)
}

// Validate checks a position before a store writes it.
func (h *Holding) Validate() error {
	if err := CheckMode(h.Mode); err != nil {
		return err
	}
	if err := CheckInstrument(h.Instrument); err != nil {
		return err
	}
	if h.Size.Sign() < 0 {
		return FieldError("size", "must not be negative")
	}
	return nil
}
