package polybot

import (
	"fmt"
	"time"
)

// Mark is an instrument's last good price: its best bid, and when the book
// showed it. A book that is not live now (reconnecting, resynchronising)
// keeps its last good mark, flagged Stale: a hedged position is never
// valued at zero because a socket dropped.
type Mark struct {
	Price Decimal   `json:"price"`
	At    time.Time `json:"at"`
	Stale bool      `json:"stale"`
}

// Valuer prices holdings for the risk gate and the P&L reports.
type Valuer interface {
	// Mark is inst's last good mark; false only if its book was never seen.
	Mark(inst Instrument) (Mark, bool)
	// Fees is the venues' fee model: an unmatched holding is worth its bid
	// less the fee of selling it.
	Fees() FeeModel
	// Hedges are the registry entries whose legs make complete sets: the
	// matched pairs, outcome sets and relations (only approved ones count).
	Hedges() Hedges
}

// Risk rejection reasons, in Error.Fields["risk"].
const (
	RiskHalted       = "halted"
	RiskReducingOnly = "reducing_only"
	RiskTradeSize    = "max_trade_size"
	RiskDailyLoss    = "max_daily_loss"
	RiskPositions    = "max_positions"
	RiskQuota        = "monthly_trade_limit"
)

func riskError(code, reason, msg string) error {
	return &Error{Code: code, Message: msg, Fields: map[string]string{"risk": reason}}
}

// RiskReason returns the risk check that refused an intent, or "".
func RiskReason(err error) string { return ErrorFields(err)["risk"] }

// SubmitIntent is the risk gate. In the caller's tenant transaction it
// locks the tenant, opens the trading day if it is new, checks the halt
// states (global and tenant), the trade size, the daily loss (see
// TodayRisk), the number of positions and, for live orders, the monthly
// trade quota; only if all pass does it persist the intent (state pending).
// Any error — a refusal or a failure to check — leaves nothing persisted
// once the caller rolls back, and the caller must then send nothing: the
// gate fails closed. Refusals are EFORBIDDEN or EQUOTA with the check in
// Fields["risk"].
//
// A risk-reducing intent (Reduce: an unwind, or the sale of a naked leg)
// must sell no more than is held; it is then never refused by a halt, the
// daily loss or the quota — a user is never trapped in risk — and a live
// one still counts in the month's usage.
func SubmitIntent(tx TenantTx, in *Intent, v Valuer) error {
	if err := tx.LockTenant(); err != nil {
		return err
	}
	p, err := tx.Profile()
	if err != nil {
		return err
	}
	c, err := tx.Config()
	if err != nil {
		return err
	}
	global, err := tx.GlobalHalt()
	if err != nil {
		return err
	}
	halt, err := tx.HaltState()
	if err != nil {
		return err
	}
	// The lease first: a worker that lost the tenant sends nothing, not
	// even an unwind (the lease's new holder reconciles and unwinds).
	if err := checkLease(tx, in, tx.Now()); err != nil {
		return err
	}
	holding, err := tx.Holding(in.Instrument, in.Mode)
	if ErrorCode(err) == ENOTFOUND {
		holding, err = &Holding{Instrument: in.Instrument, Mode: in.Mode}, nil
	}
	if err != nil {
		return err
	}
	reducing := in.Side == Sell && !in.Size.GreaterThan(holding.Size)
	if in.Reduce && in.Side == Buy {
		// A venue that takes no sells (VenueFacts.Sell == BuyOpposite):
		// buying the opposite contract closes the one held.
		var why string
		if reducing, why, err = closesOpposite(tx, in, holding); err != nil {
			return err
		}
		if !reducing {
			return riskError(EINVALID, RiskReducingOnly, "a risk-reducing buy "+why)
		}
	}
	if in.Reduce && !reducing {
		return riskError(EINVALID, RiskReducingOnly, fmt.Sprintf("a risk-reducing order must sell at most the %s held", holding.Size))
	}
	if !in.Reduce {
		switch {
		case global == HaltHalted || halt == HaltHalted:
			return riskError(EFORBIDDEN, RiskHalted, "Trading is halted: no new orders are sent.")
		case (global == HaltReducingOnly || halt == HaltReducingOnly) && !reducing:
			return riskError(EFORBIDDEN, RiskReducingOnly, "Reducing-only: only orders that reduce a position are sent.")
		}
	}
	if !reducing {
		maxSize := c.MaxTradeSizeUSD.Min(p.MaxTradeSizeUSD)
		if in.Notional().GreaterThan(maxSize) {
			return riskError(EFORBIDDEN, RiskTradeSize, fmt.Sprintf("This order's %s is more than your %s max trade size.", FormatUSD(in.Notional()), FormatUSD(maxSize)))
		}
		day, err := TodayRisk(tx, c, p, in.Mode, v, true)
		if err != nil {
			return err
		}
		if day.Refused() {
			return riskError(EFORBIDDEN, RiskDailyLoss, day.Message())
		}
		if holding.Size.IsZero() {
			hs, err := tx.Holdings()
			if err != nil {
				return err
			}
			open, err := openPositions(tx, hs, in.Mode)
			if err != nil {
				return err
			}
			if !open[in.Instrument.Key()] && len(open) >= p.MaxPositions {
				return riskError(EFORBIDDEN, RiskPositions, fmt.Sprintf("You already hold %d open positions, your plan's limit.", len(open)))
			}
		}
	}
	if in.Mode == Live {
		count := tx.IncrementTrades
		if in.Reduce {
			count = tx.CountTrade
		}
		if _, err := count(); err != nil {
			if ErrorCode(err) == EQUOTA {
				return riskError(EQUOTA, RiskQuota, ErrorMessage(err))
			}
			return err
		}
	}
	if in.State == "" {
		in.State = IntentPending
	}
	in.UserID = tx.Tenant()
	return tx.InsertIntent(in)
}

// workingStates are the states of an intent whose order may still open a
// position: not yet sent, resting, or sent with the outcome unknown.
var workingStates = []string{IntentPending, IntentOpen, IntentUnknown}

// maxWorkingIntents is how many working intents openPositions reads; with
// more, the gate refuses rather than count from a partial list.
const maxWorkingIntents = 1000

// openPositions returns the instruments (by Key) in which the tenant holds a
// position in mode, or has a buy intent in a working state. A position
// counts from the moment its opening intent is persisted, not only once it
// fills: otherwise intents submitted before the first fill (concurrent
// runners, or simply a fast loop) would each see the same count and
// together exceed the limit. The tenant lock makes read-then-insert atomic.
func openPositions(tx TenantTx, hs []*Holding, mode ExecMode) (map[string]bool, error) {
	open := map[string]bool{}
	for _, h := range hs {
		if h.Mode == mode && h.Size.Sign() > 0 {
			open[h.Instrument.Key()] = true
		}
	}
	working, err := tx.Intents(workingStates, time.Time{}, maxWorkingIntents)
	if err != nil {
		return nil, err
	}
	if len(working) >= maxWorkingIntents {
		return nil, riskError(EFORBIDDEN, RiskPositions, fmt.Sprintf("%d or more working orders; reconcile them before opening a position", maxWorkingIntents))
	}
	for _, w := range working {
		if w.Mode == mode && w.Side == Buy {
			open[w.Instrument.Key()] = true
		}
	}
	return open, nil
}

// DayRisk is a tenant's trading day as the daily-loss limit sees it, in
// one mode: what the trader's book was worth when the day opened, the cash
// the day's fills moved, and what the book is worth now.
//
//	PnL  = CashFlow + Value − OpenValue
//	Loss = max(0, −PnL)
//
// Value nets complete sets first (each worth $1 at resolution) and marks
// only the unmatched remainder, at its last good bid less the exit fee
// (see Value). A book made only of complete sets is never a loss.
type DayRisk struct {
	Day       string    `json:"day"`      // the tenant's trading day, 2006-01-02
	Timezone  string    `json:"timezone"` // the tenant's trading time zone
	ResetsAt  time.Time `json:"resets_at"`
	Mode      ExecMode  `json:"mode"`
	Realized  Decimal   `json:"realized"`  // realised P&L of the day's sells
	Fees      Decimal   `json:"fees"`      // fees paid today
	CashFlow  Decimal   `json:"cash_flow"` // sells − buys − fees, today
	OpenValue Decimal   `json:"open_value"`
	Value     Decimal   `json:"value"`
	PnL       Decimal   `json:"pnl"`
	Loss      Decimal   `json:"loss"`
	Limit     Decimal   `json:"limit"`
	Opened    bool      `json:"opened"` // false: nothing happened yet today
	// OldestMark is the age of the oldest mark used, and StaleMarks how
	// many came from books that are not live now.
	OldestMark *time.Time `json:"oldest_mark,omitempty"`
	StaleMarks int        `json:"stale_marks"`
	Unpriced   int        `json:"unpriced"` // holdings never priced: valued at cost
	// Summary says it in words, as the dashboard shows it.
	Summary string `json:"summary"`
}

// Refused reports whether today's loss has reached the limit.
func (d *DayRisk) Refused() bool { return d.Limit.Sign() > 0 && !d.Loss.LessThan(d.Limit) }

// Message is the plain-words refusal a user sees.
func (d *DayRisk) Message() string {
	return fmt.Sprintf("Today's loss %s reached your %s daily limit. Trading resumes at %s %s, or when you raise the limit.",
		FormatUSD(d.Loss), FormatUSD(d.Limit), d.ResetsAt.In(zoneOr(d.Timezone)).Format("15:04"), zoneLabel(d.Timezone))
}

func zoneOr(name string) *time.Location {
	l, err := LoadTimezone(name)
	if err != nil {
		return time.UTC
	}
	return l
}

func zoneLabel(name string) string {
	if name == "" {
		return "UTC"
	}
	return name
}

// TodayRisk computes the tenant's trading day in mode. With open (a write
// transaction), a day that has not opened yet is opened now: its opening
// value is what the book is worth at this first check. In a view, an
// unopened day reports zero P&L.
func TodayRisk(tx TenantTx, c *Config, p *Profile, mode ExecMode, v Valuer, open bool) (*DayRisk, error) {
	return DayRiskOf(tx, c, p, mode, v, open, c.TradingDay(tx.Now()))
}

// DayRiskOf is TodayRisk for the trading day day (2006-01-02): the daily
// summary reports the day just ended with it, its holdings valued now.
func DayRiskOf(tx TenantTx, c *Config, p *Profile, mode ExecMode, v Valuer, open bool, day string) (*DayRisk, error) {
	now := tx.Now()
	d := &DayRisk{Day: day, Timezone: zoneLabel(c.Timezone), ResetsAt: c.NextDayStart(now), Mode: mode}
	d.Limit = c.MaxDailyLossUSD
	if p != nil {
		d.Limit = d.Limit.Min(p.MaxDailyLossUSD)
	}
	hs, err := tx.Holdings()
	if err != nil {
		return nil, err
	}
	val := Value(hs, mode, v)
	d.Value = val.Value
	d.StaleMarks, d.Unpriced, d.OldestMark = val.StaleMarks, val.Unpriced, val.OldestMark
	row, err := tx.DailyPnL(d.Day, mode)
	if err != nil {
		return nil, err
	}
	if !row.Opened && open {
		if err := tx.OpenDailyPnL(d.Day, mode, val.Value); err != nil {
			return nil, err
		}
		row.Opened, row.OpenValue = true, val.Value
	}
	d.Realized, d.Fees, d.CashFlow, d.Opened = row.Realized, row.Fees, row.CashFlow, row.Opened
	d.OpenValue = row.OpenValue
	if !row.Opened {
		d.OpenValue = val.Value.Sub(row.CashFlow)
	}
	d.PnL = d.CashFlow.Add(d.Value).Sub(d.OpenValue)
	if d.PnL.Sign() < 0 {
		d.Loss = d.PnL.Neg()
	}
	d.Summary = fmt.Sprintf("%s of your %s daily limit; the day resets at %s %s", FormatUSD(d.Loss), FormatUSD(d.Limit),
		d.ResetsAt.In(zoneOr(d.Timezone)).Format("15:04"), d.Timezone)
	if d.StaleMarks > 0 {
		d.Summary += fmt.Sprintf(" (%d position(s) at their last price: the book is reconnecting)", d.StaleMarks)
	}
	return d, nil
}

// Valuation is what a tenant's holdings in one mode are worth now.
type Valuation struct {
	Sets     []LockedSet     `json:"sets"`      // complete sets, each worth its payout at resolution
	SetValue Decimal         `json:"set_value"` // Σ sets × payout
	Open     []ValuedHolding `json:"open"`      // the unmatched remainder, marked
	Value    Decimal         `json:"value"`     // SetValue + Σ Open.Value
	// Locked is the edge of the complete sets: their payout less their cost
	// (fees included). Unrealized is the open remainder's value less its
	// cost (fees included). Both are net of every fee.
	Locked     Decimal    `json:"locked"`
	Unrealized Decimal    `json:"unrealized"`
	OldestMark *time.Time `json:"oldest_mark,omitempty"`
	StaleMarks int        `json:"stale_marks"`
	Unpriced   int        `json:"unpriced"`
}

// ValuedHolding is the unmatched part of a holding and its marked value.
type ValuedHolding struct {
	Instrument Instrument `json:"instrument"`
	Size       Decimal    `json:"size"`
	Cost       Decimal    `json:"cost"` // per contract, fees included
	Mark       *Mark      `json:"mark"` // nil: never priced; valued at cost
	ExitFee    Decimal    `json:"exit_fee"`
	Value      Decimal    `json:"value"` // Size × bid − ExitFee (never below zero)
}

// Value values holdings in mode: complete sets (see LockedSet: YES + NO of
// one market or across an approved pair, every outcome of an approved
// exhaustive set, both legs of an approved implication) are netted first
// and each is worth its payout (neither Polymarket nor Kalshi charges a fee
// at settlement); the unmatched
// remainder is marked at its last good bid less the fee of selling it. A
// holding whose book was never seen is valued at cost and counted in
// Unpriced; one whose book is not live keeps its last good mark, counted in
// StaleMarks. v may be nil (every holding at cost).
func Value(hs []*Holding, mode ExecMode, v Valuer) Valuation {
	var hedges Hedges
	var fees FeeModel = NoFees{}
	if v != nil {
		hedges = v.Hedges()
		if f := v.Fees(); f != nil {
			fees = f
		}
	}
	sets, rest := matchSets(hs, hedges, mode)
	out := Valuation{Sets: sets, Open: []ValuedHolding{}}
	for _, s := range sets {
		out.SetValue = out.SetValue.Add(s.Sets.Mul(s.Payout))
		out.Locked = out.Locked.Add(s.Edge)
	}
	out.Value = out.SetValue
	for _, h := range rest {
		vh := ValuedHolding{Instrument: h.Instrument, Size: h.Size, Cost: h.AvgPrice}
		price := h.AvgPrice
		if v != nil {
			if m, ok := v.Mark(h.Instrument); ok {
				mm := m
				vh.Mark, price = &mm, m.Price
				if m.Stale {
					out.StaleMarks++
				}
				if out.OldestMark == nil || m.At.Before(*out.OldestMark) {
					at := m.At
					out.OldestMark = &at
				}
			}
		}
		if vh.Mark == nil {
			out.Unpriced++
		} else {
			vh.ExitFee = fees.TakerFee(h.Instrument, price, h.Size)
		}
		vh.Value = price.Mul(h.Size).Sub(vh.ExitFee).Max(Zero)
		out.Value = out.Value.Add(vh.Value)
		out.Unrealized = out.Unrealized.Add(vh.Value.Sub(h.AvgPrice.Mul(h.Size)))
		out.Open = append(out.Open, vh)
	}
	return out
}

// RecordFill records a fill once: a fill already seen (same venue and trade
// id) changes nothing and returns false. A new fill updates the position,
// the trading day's P&L and cash flow (the day is opened first, valued by v,
// so the opening value never includes the fill) and the intent's filled
// size and fees, all in tx. It locks the tenant first, so concurrent fills
// (and the gate) never read the same position and overwrite each other's
// update. v may be nil: a day opened here is then valued at cost. The
// trade's notification is queued in the same transaction (see Notify).
func RecordFill(tx TenantTx, f *TradeFill, v Valuer) (bool, error) {
	if err := tx.LockTenant(); err != nil {
		return false, err
	}
	c, err := tx.Config()
	if err != nil {
		return false, err
	}
	h, err := tx.Holding(f.Instrument, f.Mode)
	if ErrorCode(err) == ENOTFOUND {
		h, err = &Holding{Instrument: f.Instrument, Mode: f.Mode}, nil
	}
	if err != nil {
		return false, err
	}
	day := c.TradingDay(f.Time)
	if day == c.TradingDay(tx.Now()) {
		if _, err := TodayRisk(tx, c, nil, f.Mode, v, true); err != nil {
			return false, err
		}
	}
	// A caller may preset RealizedPnL: the engine books an arbitrage's
	// locked-in edge on the fill that completes a set.
	f.RealizedPnL = f.RealizedPnL.Add(h.ApplyFill(f))
	f.UserID = tx.Tenant()
	if err := tx.InsertFill(f); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return false, nil
		}
		return false, err
	}
	if err := tx.PutHolding(h); err != nil {
		return false, err
	}
	if err := tx.AddDailyPnL(day, f.Mode, f.RealizedPnL, f.Fee, f.CashFlow()); err != nil {
		return false, err
	}
	if _, err := Notify(tx, c, TradeEvent(f)); err != nil {
		return false, err
	}
	if f.ClientOrderID != "" {
		in, err := tx.Intent(f.ClientOrderID)
		if err == nil {
			in.Filled = in.Filled.Add(f.Size)
			in.Fees = in.Fees.Add(f.Fee)
			if !in.Filled.LessThan(in.Size) {
				in.State = IntentFilled
			} else if in.State == IntentPending || in.State == IntentOpen || in.State == IntentUnknown {
				in.State = IntentPartial
			}
			if err := tx.UpdateIntent(in); err != nil {
				return false, err
			}
		} else if ErrorCode(err) != ENOTFOUND {
			return false, err
		}
	}
	return true, nil
}

// closesOpposite reports whether in, a risk-reducing buy, closes a held
// position on a venue without sells: in.Against is the held contract, the
// same market's other outcome, and the buy is no more than what is held
// of it beyond what is already held of in's own contract (so it completes
// sets and opens nothing). Otherwise it says why not.
func closesOpposite(tx TenantTx, in *Intent, own *Holding) (bool, string, error) {
	a, inst := in.Against, in.Instrument
	switch {
	case VenueOf(inst.Venue).Sell != BuyOpposite:
		return false, "is only for a venue that takes no sell orders", nil
	case a.Venue != inst.Venue || a.Market != inst.Market || a.Outcome != inst.Outcome.Opposite() || a.Key() == inst.Key():
		return false, "must name as against the held contract: the same market's other outcome", nil
	}
	held, err := tx.Holding(a, in.Mode)
	if ErrorCode(err) == ENOTFOUND {
		held, err = &Holding{Instrument: a, Mode: in.Mode}, nil
	}
	if err != nil {
		return false, "", err
	}
	if open := held.Size.Sub(own.Size); in.Size.GreaterThan(open) {
		return false, fmt.Sprintf("must buy at most the %s of %s held unmatched", open.Max(Zero), a.Outcome), nil
	}
	return true, "", nil
}
