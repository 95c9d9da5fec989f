package polybot

import (
	"fmt"
	"time"
)

// MarkFunc returns the current mark (best bid, what a position could be
// sold for) of an instrument, and whether one is known.
type MarkFunc func(Instrument) (Decimal, bool)

// Risk rejection reasons, in Error.Fields["risk"].
const (
	RiskHalted       = "halted"
	RiskReducingOnly = "reducing_only"
	RiskTradeSize    = "max_trade_size"
	RiskDailyLoss    = "max_daily_loss"
	RiskPositions    = "max_positions"
	RiskQuota        = "monthly_trade_limit"
	RiskUnpriced     = "unpriced_position"
)

func riskError(code, reason, msg string) error {
	return &Error{Code: code, Message: msg, Fields: map[string]string{"risk": reason}}
}

// RiskReason returns the risk check that refused an intent, or "".
func RiskReason(err error) string { return ErrorFields(err)["risk"] }

// SubmitIntent is the risk gate. In the caller's tenant transaction it
// locks the tenant, checks the halt states (global and tenant), the trade
// size, the daily loss (realised today plus the marked-to-market loss of open
// positions), the number of positions and, for live orders, the monthly trade
// quota; only if all pass does it persist the intent (state pending). Any
// error — a refusal or a failure to check — leaves nothing persisted once the
// caller rolls back, and the caller must then send nothing: the gate fails
// closed. Refusals are EFORBIDDEN or EQUOTA with the check in
// Fields["risk"].
func SubmitIntent(tx TenantTx, in *Intent, marks MarkFunc) error {
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
	holding, err := tx.Holding(in.Instrument, in.Mode)
	if ErrorCode(err) == ENOTFOUND {
		holding, err = &Holding{Instrument: in.Instrument, Mode: in.Mode}, nil
	}
	if err != nil {
		return err
	}
	reducing := in.Side == Sell && !in.Size.GreaterThan(holding.Size)
	switch {
	case global == HaltHalted || halt == HaltHalted:
		return riskError(EFORBIDDEN, RiskHalted, "trading is halted")
	case (global == HaltReducingOnly || halt == HaltReducingOnly) && !reducing:
		return riskError(EFORBIDDEN, RiskReducingOnly, "only orders that reduce a position are allowed")
	}
	if !reducing {
		maxSize := c.MaxTradeSizeUSD.Min(p.MaxTradeSizeUSD)
		if in.Notional().GreaterThan(maxSize) {
			return riskError(EFORBIDDEN, RiskTradeSize, fmt.Sprintf("order notional %s exceeds the max trade size %s", in.Notional(), maxSize))
		}
		hs, err := tx.Holdings()
		if err != nil {
			return err
		}
		if err := checkDailyLoss(tx, hs, in.Mode, c.MaxDailyLossUSD.Min(p.MaxDailyLossUSD), marks); err != nil {
			return err
		}
		if holding.Size.IsZero() {
			open, err := openPositions(tx, hs, in.Mode)
			if err != nil {
				return err
			}
			if !open[in.Instrument.Key()] && len(open) >= p.MaxPositions {
				return riskError(EFORBIDDEN, RiskPositions, fmt.Sprintf("already %d open positions (limit %d)", len(open), p.MaxPositions))
			}
		}
	}
	if in.Mode == Live {
		if _, err := tx.IncrementTrades(); err != nil {
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

// checkDailyLoss refuses new risk once today's realised loss plus the
// unrealised loss of open positions (hs) reaches limit. A position with no
// mark counts as lost in full: unknown is not zero.
func checkDailyLoss(tx TenantTx, hs []*Holding, mode ExecMode, limit Decimal, marks MarkFunc) error {
	d, err := tx.DailyPnL(Day(tx.Now()), mode)
	if err != nil {
		return err
	}
	loss := d.Realized.Neg()
	for _, h := range hs {
		if h.Mode != mode || h.Size.Sign() <= 0 {
			continue
		}
		mark, ok := Decimal{}, false
		if marks != nil {
			mark, ok = marks(h.Instrument)
		}
		if !ok {
			mark = Zero
		}
		if u := h.AvgPrice.Sub(mark).Mul(h.Size); u.Sign() > 0 {
			loss = loss.Add(u)
		}
	}
	if !loss.LessThan(limit) {
		return riskError(EFORBIDDEN, RiskDailyLoss, fmt.Sprintf("today's loss %s has reached the daily limit %s", loss, limit))
	}
	return nil
}

// RecordFill records a fill once: a fill already seen (same venue and trade
// id) changes nothing and returns false. A new fill updates the position,
// the day's P&L and the intent's filled size and fees, all in tx. It locks
// the tenant first, so concurrent fills (and the gate) never read the same
// position and overwrite each other's update.
func RecordFill(tx TenantTx, f *TradeFill) (bool, error) {
	if err := tx.LockTenant(); err != nil {
		return false, err
	}
	h, err := tx.Holding(f.Instrument, f.Mode)
	if ErrorCode(err) == ENOTFOUND {
		h, err = &Holding{Instrument: f.Instrument, Mode: f.Mode}, nil
	}
	if err != nil {
		return false, err
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
	if err := tx.AddDailyPnL(Day(f.Time), f.Mode, f.RealizedPnL, f.Fee); err != nil {
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
