package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/polybot/polybot"
)

// Trading state: halt states, the bot switch, order intents, fills,
// holdings, daily P&L and the matched-market registry (migration 0002).
//
// Money columns are exact TEXT; sums (daily P&L, P&L by strategy) are
// computed in Go with polybot.Decimal, never with SQLite's floating-point
// arithmetic. The single write connection serialises writers, so a
// read-modify-write inside one write transaction cannot race.

// --- encodings (the same text as internal/postgres stores) ---

func sideText(s polybot.Side) string { return s.String() }

func parseSide(s string) (polybot.Side, error) {
	switch s {
	case "BUY":
		return polybot.Buy, nil
	case "SELL":
		return polybot.Sell, nil
	}
	return 0, fmt.Errorf("sqlite: unknown side %q", s)
}

func outcomeText(o polybot.Outcome) string { return o.String() }

func parseOutcome(s string) (polybot.Outcome, error) {
	switch s {
	case "YES":
		return polybot.Yes, nil
	case "NO":
		return polybot.No, nil
	}
	return 0, fmt.Errorf("sqlite: unknown outcome %q", s)
}

// instrumentCols scans venue, market, token, outcome into i.
type instrumentCols struct {
	i       *polybot.Instrument
	outcome string
}

func (c *instrumentCols) dest() []any {
	return []any{&c.i.Venue, &c.i.Market, &c.i.Token, &c.outcome}
}

func (c *instrumentCols) finish() (err error) {
	c.i.Outcome, err = parseOutcome(c.outcome)
	return err
}

// --- halt states and the bot switch ---

// LockTenant only checks that it runs in a write transaction and that the
// tenant exists (as PostgreSQL's row lock does): the single write connection
// already serialises every write transaction.
func (t *tenantTx) LockTenant() error {
	if err := t.writable(); err != nil {
		return err
	}
	var one int
	return dbError(t.queryRow(`SELECT 1 FROM polybot_user_profiles WHERE id = ?`, t.tenant).Scan(&one), "profile")
}

const qGlobalHalt = `SELECT value FROM polybot_settings WHERE key = 'global_halt'`

func globalHalt(t *tx) (string, error) {
	var v string
	if err := t.queryRow(qGlobalHalt).Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", polybot.Internal(errors.New("sqlite: the global_halt setting is missing"))
		}
		return "", dbError(err, "setting")
	}
	return v, nil
}

func (t *tenantTx) GlobalHalt() (string, error) { return globalHalt(t.tx) }

// HaltState is the stricter of the tenant's own state and the one an admin
// set for it (AdminTx.SetUserHalt).
func (t *tenantTx) HaltState() (string, error) {
	var own, admin string
	err := t.queryRow(`SELECT halt_state, admin_halt_state FROM polybot_user_profiles WHERE id = ?`, t.tenant).Scan(&own, &admin)
	if err != nil {
		return "", dbError(err, "profile")
	}
	return polybot.StricterHalt(own, admin), nil
}

// SetHaltState sets the tenant's own halt state; an admin's stays in force.
func (t *tenantTx) SetHaltState(state string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckHalt(state); err != nil {
		return err
	}
	return t.updateProfile(`UPDATE polybot_user_profiles SET halt_state = ?, updated_at = ? WHERE id = ?`,
		state, micros(t.now), t.tenant)
}

func (t *tenantTx) BotEnabled() (bool, error) {
	var on bool
	if err := t.queryRow(`SELECT bot_enabled FROM polybot_user_profiles WHERE id = ?`, t.tenant).Scan(&on); err != nil {
		return false, dbError(err, "profile")
	}
	return on, nil
}

func (t *tenantTx) SetBotEnabled(on bool) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.updateProfile(`UPDATE polybot_user_profiles SET bot_enabled = ?, updated_at = ? WHERE id = ?`,
		on, micros(t.now), t.tenant)
}

func (t *tenantTx) updateProfile(q string, args ...any) error {
	ok, err := t.affected(q, args...)
	if err != nil {
		return dbError(err, "profile")
	}
	if !ok {
		return polybot.NotFound("profile")
	}
	return nil
}

// --- intents ---

const intentCols = `id, opportunity_id, strategy, leg, mode, venue, market, token, outcome, side, price, size,
	tif, state, venue_order_id, filled, fees, error, created_at, updated_at, lease_epoch`

func scanIntent(s scanner) (*polybot.Intent, error) {
	var in polybot.Intent
	inst := instrumentCols{i: &in.Instrument}
	var side string
	dest := []any{&in.ID, &in.OpportunityID, &in.Strategy, &in.Leg, &in.Mode}
	dest = append(dest, inst.dest()...)
	dest = append(dest, &side, &in.Price, &in.Size, &in.TIF, &in.State, &in.VenueOrderID, &in.Filled, &in.Fees,
		&in.Error, timeCol{&in.CreatedAt}, timeCol{&in.UpdatedAt}, &in.Epoch)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if err := inst.finish(); err != nil {
		return nil, err
	}
	var err error
	if in.Side, err = parseSide(side); err != nil {
		return nil, err
	}
	return &in, nil
}

// InsertIntent stores i for the tenant. A duplicate client order id is
// ECONFLICT and leaves the transaction usable.
func (t *tenantTx) InsertIntent(i *polybot.Intent) error {
	if err := t.writable(); err != nil {
		return err
	}
	if i.State == "" {
		i.State = polybot.IntentPending
	}
	if err := i.Validate(); err != nil {
		return err
	}
	created := orNow(i.CreatedAt, t.now)
	ok, err := t.affected(`INSERT INTO polybot_order_intents (user_id, `+intentCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, id) DO NOTHING`,
		t.tenant, i.ID, i.OpportunityID, i.Strategy, i.Leg, string(i.Mode),
		string(i.Instrument.Venue), i.Instrument.Market, i.Instrument.Token, outcomeText(i.Instrument.Outcome),
		sideText(i.Side), i.Price, i.Size, string(i.TIF), i.State, i.VenueOrderID, i.Filled, i.Fees, i.Error,
		micros(created), micros(t.now), i.Epoch)
	if err != nil {
		return dbError(err, "intent")
	}
	if !ok {
		return polybot.Errorf(polybot.ECONFLICT, "an intent with this client order id already exists")
	}
	i.UserID, i.CreatedAt, i.UpdatedAt = t.tenant, created, t.now
	return nil
}

// UpdateIntent stores i's state, venue order id, filled size, fees and
// error; the rest of the intent is immutable.
func (t *tenantTx) UpdateIntent(i *polybot.Intent) error {
	if err := t.writable(); err != nil {
		return err
	}
	if !polybot.ValidIntentState(i.State) {
		return polybot.FieldError("state", "is not an intent state")
	}
	var created time.Time
	err := t.queryRow(`UPDATE polybot_order_intents
		SET state = ?, venue_order_id = ?, filled = ?, fees = ?, error = ?, updated_at = ?
		WHERE user_id = ? AND id = ?
		RETURNING created_at`,
		i.State, i.VenueOrderID, i.Filled, i.Fees, i.Error, micros(t.now), t.tenant, i.ID).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "intent")
	}
	i.UserID, i.CreatedAt, i.UpdatedAt = t.tenant, created, t.now
	return nil
}

func (t *tenantTx) Intent(id string) (*polybot.Intent, error) {
	in, err := one(t.tx, "intent", scanIntent,
		`SELECT `+intentCols+` FROM polybot_order_intents WHERE user_id = ? AND id = ?`, t.tenant, id)
	if err != nil {
		return nil, err
	}
	in.UserID = t.tenant
	return in, nil
}

// Intents lists the tenant's intents in states (none: all) created before
// before (zero: no bound), newest first.
func (t *tenantTx) Intents(states []string, before time.Time, limit int) ([]*polybot.Intent, error) {
	return t.FindIntents(polybot.IntentFilter{States: states, Before: before, Limit: limit})
}

func (t *tenantTx) FindIntents(f polybot.IntentFilter) ([]*polybot.Intent, error) {
	states := ""
	if len(f.States) > 0 {
		b, err := json.Marshal(f.States)
		if err != nil {
			return nil, polybot.Internal(err)
		}
		states = string(b)
	}
	bound := func(t time.Time, def int64) int64 {
		if t.IsZero() {
			return def
		}
		return micros(norm(t))
	}
	const never = int64(1<<63 - 1)
	before := min(bound(f.Before, never), bound(f.To, never))
	out, err := collect(t.tx, "intent", scanIntent, `SELECT `+intentCols+` FROM polybot_order_intents
		WHERE user_id = ?1 AND created_at < ?2 AND created_at >= ?3
		  AND (?4 = '' OR state IN (SELECT value FROM json_each(?4)))
		  AND (?5 = '' OR strategy = ?5) AND (?6 = '' OR venue = ?6) AND (?7 = '' OR mode = ?7)
		  AND (?8 = '' OR market = ?8 OR token = ?8) AND (?10 = '' OR opportunity_id = ?10)
		ORDER BY created_at DESC, id DESC
		LIMIT ?9`, t.tenant, before, bound(f.From, 0), states, f.Strategy, string(f.Venue), string(f.Mode), f.Market, pageLimit(f.Limit),
		f.Opportunity)
	for _, in := range out {
		in.UserID = t.tenant
	}
	return out, err
}

// --- fills ---

const fillCols = `venue, trade_id, client_order_id, strategy, mode, market, token, outcome, side, price, size,
	fee, realized_pnl, filled_at`

func scanFill(s scanner) (*polybot.TradeFill, error) {
	var f polybot.TradeFill
	var outcome, side string
	err := s.Scan(&f.Venue, &f.TradeID, &f.ClientOrderID, &f.Strategy, &f.Mode, &f.Instrument.Market,
		&f.Instrument.Token, &outcome, &side, &f.Price, &f.Size, &f.Fee, &f.RealizedPnL, timeCol{&f.Time})
	if err != nil {
		return nil, err
	}
	f.Instrument.Venue = f.Venue
	if f.Instrument.Outcome, err = parseOutcome(outcome); err != nil {
		return nil, err
	}
	if f.Side, err = parseSide(side); err != nil {
		return nil, err
	}
	return &f, nil
}

// InsertFill records f for the tenant. Its venue is f.Venue, or the
// instrument's when f.Venue is empty. A (venue, trade id) seen before is
// ECONFLICT and leaves the transaction usable.
func (t *tenantTx) InsertFill(f *polybot.TradeFill) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	at := orNow(f.Time, t.now)
	ok, err := t.affected(`INSERT INTO polybot_fills (user_id, `+fillCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, venue, trade_id) DO NOTHING`,
		t.tenant, string(f.Venue), f.TradeID, f.ClientOrderID, f.Strategy, string(f.Mode), f.Instrument.Market,
		f.Instrument.Token, outcomeText(f.Instrument.Outcome), sideText(f.Side), f.Price, f.Size, f.Fee,
		f.RealizedPnL, micros(at))
	if err != nil {
		return dbError(err, "fill")
	}
	if !ok {
		return polybot.Errorf(polybot.ECONFLICT, "this fill was already recorded")
	}
	f.UserID, f.Time = t.tenant, at
	return nil
}

// Fills lists the tenant's fills before before (zero: no bound), newest first.
func (t *tenantTx) Fills(before time.Time, limit int) ([]*polybot.TradeFill, error) {
	return t.FindFills(polybot.FillFilter{Before: before, Limit: limit})
}

func (t *tenantTx) FindFills(f polybot.FillFilter) ([]*polybot.TradeFill, error) {
	bound := int64(1<<63 - 1)
	if !f.Before.IsZero() {
		bound = micros(norm(f.Before))
	}
	out, err := collect(t.tx, "fill", scanFill, `SELECT `+fillCols+` FROM polybot_fills
		WHERE user_id = ?1 AND filled_at < ?2
		  AND (?3 = '' OR strategy = ?3) AND (?4 = '' OR venue = ?4) AND (?5 = '' OR mode = ?5)
		  AND (?6 = '' OR market = ?6 OR token = ?6)
		ORDER BY filled_at DESC, seq DESC
		LIMIT ?7`, t.tenant, bound, f.Strategy, string(f.Venue), string(f.Mode), f.Market, pageLimit(f.Limit))
	for _, x := range out {
		x.UserID = t.tenant
	}
	return out, err
}

// PnLByStrategy sums the tenant's fills by strategy and mode, ordered by
// strategy then mode. The sums are exact (polybot.Decimal, in Go).
func (t *tenantTx) PnLByStrategy() ([]*polybot.StrategyPnL, error) {
	rows, err := t.query(`SELECT strategy, mode, realized_pnl, fee FROM polybot_fills
		WHERE user_id = ? ORDER BY strategy, mode`, t.tenant)
	if err != nil {
		return nil, dbError(err, "fill")
	}
	defer rows.Close()
	out := []*polybot.StrategyPnL{}
	var cur *polybot.StrategyPnL
	for rows.Next() {
		var strategy string
		var mode polybot.ExecMode
		var realized, fee polybot.Decimal
		if err := rows.Scan(&strategy, &mode, &realized, &fee); err != nil {
			return nil, dbError(err, "fill")
		}
		if cur == nil || cur.Strategy != strategy || cur.Mode != mode {
			cur = &polybot.StrategyPnL{Strategy: strategy, Mode: mode}
			out = append(out, cur)
		}
		cur.Realized = cur.Realized.Add(realized)
		cur.Fees = cur.Fees.Add(fee)
		cur.Fills++
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "fill")
	}
	return out, nil
}

// --- holdings ---

const holdingCols = `mode, venue, market, token, outcome, size, avg_price, realized_pnl, updated_at`

func scanHolding(s scanner) (*polybot.Holding, error) {
	var h polybot.Holding
	inst := instrumentCols{i: &h.Instrument}
	dest := append([]any{&h.Mode}, inst.dest()...)
	dest = append(dest, &h.Size, &h.AvgPrice, &h.RealizedPnL, timeCol{&h.UpdatedAt})
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if err := inst.finish(); err != nil {
		return nil, err
	}
	return &h, nil
}

// Holding returns the tenant's position in inst (by inst.Key()) and mode.
func (t *tenantTx) Holding(inst polybot.Instrument, mode polybot.ExecMode) (*polybot.Holding, error) {
	return one(t.tx, "holding", scanHolding, `SELECT `+holdingCols+` FROM polybot_holdings
		WHERE user_id = ? AND mode = ? AND instrument_key = ?`, t.tenant, string(mode), inst.Key())
}

// PutHolding creates or replaces the tenant's position in h's instrument
// and mode.
func (t *tenantTx) PutHolding(h *polybot.Holding) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO polybot_holdings (user_id, instrument_key, `+holdingCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, mode, instrument_key) DO UPDATE SET
			size = excluded.size, avg_price = excluded.avg_price,
			realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at`,
		t.tenant, h.Instrument.Key(), string(h.Mode), string(h.Instrument.Venue), h.Instrument.Market,
		h.Instrument.Token, outcomeText(h.Instrument.Outcome), h.Size, h.AvgPrice, h.RealizedPnL, micros(t.now))
	if err != nil {
		return dbError(err, "holding")
	}
	h.UpdatedAt = t.now
	return nil
}

// Holdings lists every position the tenant ever held (closed ones too, at
// size zero), by mode and instrument.
func (t *tenantTx) Holdings() ([]*polybot.Holding, error) {
	return collect(t.tx, "holding", scanHolding, `SELECT `+holdingCols+` FROM polybot_holdings
		WHERE user_id = ? ORDER BY mode, instrument_key`, t.tenant)
}

// --- daily P&L ---

// AddDailyPnL adds to the day's totals: read, add exactly in Go, write
// (the single writer makes the two steps atomic).
func (t *tenantTx) AddDailyPnL(day string, mode polybot.ExecMode, realized, fees, cash polybot.Decimal) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckDay(day); err != nil {
		return err
	}
	if err := polybot.CheckMode(mode); err != nil {
		return err
	}
	cur, err := t.DailyPnL(day, mode)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO polybot_daily_pnl (user_id, day, mode, realized, fees, cash_flow, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, day, mode) DO UPDATE SET
			realized = excluded.realized, fees = excluded.fees, cash_flow = excluded.cash_flow,
			updated_at = excluded.updated_at`,
		t.tenant, day, string(mode), cur.Realized.Add(realized), cur.Fees.Add(fees), cur.CashFlow.Add(cash), micros(t.now))
	return dbError(err, "daily P&L")
}

// OpenDailyPnL records the day's opening value once.
func (t *tenantTx) OpenDailyPnL(day string, mode polybot.ExecMode, value polybot.Decimal) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckDay(day); err != nil {
		return err
	}
	if err := polybot.CheckMode(mode); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO polybot_daily_pnl (user_id, day, mode, realized, fees, cash_flow, open_value, opened, updated_at)
		VALUES (?, ?, ?, '0', '0', '0', ?, 1, ?)
		ON CONFLICT (user_id, day, mode) DO UPDATE SET
			open_value = excluded.open_value, opened = 1, updated_at = excluded.updated_at
		WHERE polybot_daily_pnl.opened = 0`,
		t.tenant, day, string(mode), value, micros(t.now))
	return dbError(err, "daily P&L")
}

func (t *tenantTx) DailyPnL(day string, mode polybot.ExecMode) (*polybot.DailyPnL, error) {
	if err := polybot.CheckDay(day); err != nil {
		return nil, err
	}
	d := &polybot.DailyPnL{Day: day, Mode: mode}
	err := t.queryRow(`SELECT realized, fees, cash_flow, open_value, opened FROM polybot_daily_pnl
		WHERE user_id = ? AND day = ? AND mode = ?`,
		t.tenant, day, string(mode)).Scan(&d.Realized, &d.Fees, &d.CashFlow, &d.OpenValue, &d.Opened)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, dbError(err, "daily P&L")
	}
	return d, nil
}

// --- admin ---

// BotUserIDs lists users who are not disabled and whose bot switch is on.
func (a *adminTx) BotUserIDs() ([]polybot.ID, error) {
	rows, err := a.query(`SELECT u.id FROM polybot_users u JOIN polybot_user_profiles p ON p.id = u.id
		WHERE u.disabled = 0 AND p.bot_enabled = 1 ORDER BY u.created_at, u.email`)
	if err != nil {
		return nil, dbError(err, "user")
	}
	defer rows.Close()
	out := []polybot.ID{}
	for rows.Next() {
		var id polybot.ID
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err, "user")
		}
		out = append(out, id)
	}
	return out, dbError(rows.Err(), "user")
}

func (a *adminTx) GlobalHalt() (string, error) { return globalHalt(a.tx) }

func (a *adminTx) SetGlobalHalt(state string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckHalt(state); err != nil {
		return err
	}
	_, err := a.exec(`INSERT INTO polybot_settings (key, value, updated_at) VALUES ('global_halt', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, state, micros(a.now))
	return dbError(err, "setting")
}

// SetUserHalt sets the admin's halt state for a tenant; the tenant's own
// SetHaltState cannot lift it.
func (a *adminTx) SetUserBotEnabled(id polybot.ID, on bool) error {
	if err := a.writable(); err != nil {
		return err
	}
	return a.updateOne("user", `UPDATE polybot_user_profiles SET bot_enabled = ?, updated_at = ? WHERE id = ?`,
		on, micros(a.now), id)
}

func (a *adminTx) SetUserHalt(id polybot.ID, state string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckHalt(state); err != nil {
		return err
	}
	return a.updateOne("user", `UPDATE polybot_user_profiles SET admin_halt_state = ?, updated_at = ? WHERE id = ?`,
		state, micros(a.now), id)
}

const marketPairCols = `id, name, a_venue, a_market, a_yes, a_no, b_venue, b_market, b_yes, b_no,
	resolution_notes, approved, created_at, updated_at`

func scanMarketPair(s scanner) (*polybot.MarketPair, error) {
	var m polybot.MarketPair
	err := s.Scan(&m.ID, &m.Name, &m.Legs[0].Venue, &m.Legs[0].Market, &m.Legs[0].Yes, &m.Legs[0].No,
		&m.Legs[1].Venue, &m.Legs[1].Market, &m.Legs[1].Yes, &m.Legs[1].No,
		&m.ResolutionNotes, &m.Approved, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func (a *adminTx) MarketPairs() ([]*polybot.MarketPair, error) {
	return collect(a.tx, "market pair", scanMarketPair, `SELECT `+marketPairCols+` FROM polybot_market_pairs ORDER BY id`)
}

func (a *adminTx) MarketPair(id string) (*polybot.MarketPair, error) {
	if err := polybot.CheckMarketPairID(id); err != nil {
		return nil, err
	}
	return one(a.tx, "market pair", scanMarketPair, `SELECT `+marketPairCols+` FROM polybot_market_pairs WHERE id = ?`, id)
}

// PutMarketPair creates or updates m: CreatedAt is kept on update,
// UpdatedAt is Now.
func (a *adminTx) PutMarketPair(m *polybot.MarketPair) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	l0, l1 := m.Legs[0], m.Legs[1]
	var created time.Time
	err := a.queryRow(`INSERT INTO polybot_market_pairs (`+marketPairCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name,
			a_venue = excluded.a_venue, a_market = excluded.a_market, a_yes = excluded.a_yes, a_no = excluded.a_no,
			b_venue = excluded.b_venue, b_market = excluded.b_market, b_yes = excluded.b_yes, b_no = excluded.b_no,
			resolution_notes = excluded.resolution_notes,
			approved = excluded.approved, updated_at = excluded.updated_at
		RETURNING created_at`,
		m.ID, m.Name, l0.Venue, l0.Market, l0.Yes, l0.No, l1.Venue, l1.Market, l1.Yes, l1.No, m.ResolutionNotes, m.Approved,
		micros(a.now), micros(a.now)).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "market pair")
	}
	m.CreatedAt, m.UpdatedAt = created, a.now
	return nil
}

func (a *adminTx) DeleteMarketPair(id string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckMarketPairID(id); err != nil {
		return err
	}
	return a.updateOne("market pair", `DELETE FROM polybot_market_pairs WHERE id = ?`, id)
}
