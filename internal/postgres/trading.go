package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// Trading state: halt states, the bot switch, order intents, fills,
// holdings, daily P&L and the matched-market registry (migration 0002).
//
// Money travels as text and is stored as NUMERIC(19,6), so every
// polybot.Decimal round-trips exactly and sums are exact. Inserts that may
// meet a duplicate (intents, fills) use ON CONFLICT DO NOTHING and report
// ECONFLICT from the row count, so the transaction stays usable: RecordFill
// goes on after a duplicate fill.

// --- encodings (the same text as internal/sqlite stores) ---

func parseSide(s string) (polybot.Side, error) {
	switch s {
	case "BUY":
		return polybot.Buy, nil
	case "SELL":
		return polybot.Sell, nil
	}
	return 0, fmt.Errorf("postgres: unknown side %q", s)
}

func parseOutcome(s string) (polybot.Outcome, error) {
	switch s {
	case "YES":
		return polybot.Yes, nil
	case "NO":
		return polybot.No, nil
	}
	return 0, fmt.Errorf("postgres: unknown outcome %q", s)
}

// decimals parses text columns into Decimals: pairs of source and target.
func decimals(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		v, err := polybot.ParseDecimal(*pairs[i].(*string))
		if err != nil {
			return err
		}
		*pairs[i+1].(*polybot.Decimal) = v
	}
	return nil
}

// --- halt states and the bot switch ---

// LockTenant locks the tenant's profile row until the transaction ends, so
// that the tenant's risk-gated writes run one at a time. In a view it fails
// (PostgreSQL refuses FOR UPDATE in a read-only transaction).
func (t *tenantTx) LockTenant() error {
	var one int
	err := t.queryRow(`SELECT 1 FROM polybot_user_profiles WHERE id = $1 FOR UPDATE`, []any{uid(t.tenant)}, &one)
	return mapErr(err, "profile")
}

func globalHalt(t *txn) (string, error) {
	var v string
	err := t.queryRow(`SELECT value FROM polybot_settings WHERE key = 'global_halt'`, nil, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", polybot.Internal(errors.New("postgres: the global_halt setting is missing"))
	}
	return v, mapErr(err, "setting")
}

func (t *tenantTx) GlobalHalt() (string, error) { return globalHalt(t.txn) }

// HaltState is the stricter of the tenant's own state and the one an admin
// set for it (AdminTx.SetUserHalt).
func (t *tenantTx) HaltState() (string, error) {
	var own, admin string
	err := t.queryRow(`SELECT halt_state, admin_halt_state FROM polybot_user_profiles WHERE id = $1`,
		[]any{uid(t.tenant)}, &own, &admin)
	if err != nil {
		return "", mapErr(err, "profile")
	}
	return polybot.StricterHalt(own, admin), nil
}

// SetHaltState sets the tenant's own halt state; an admin's stays in force.
func (t *tenantTx) SetHaltState(state string) error {
	if err := polybot.CheckHalt(state); err != nil {
		return err
	}
	return t.updateProfile(`UPDATE polybot_user_profiles SET halt_state = $2, updated_at = $3 WHERE id = $1`,
		uid(t.tenant), state, t.now)
}

func (t *tenantTx) BotEnabled() (bool, error) {
	var on bool
	err := t.queryRow(`SELECT bot_enabled FROM polybot_user_profiles WHERE id = $1`, []any{uid(t.tenant)}, &on)
	return on, mapErr(err, "profile")
}

func (t *tenantTx) SetBotEnabled(on bool) error {
	return t.updateProfile(`UPDATE polybot_user_profiles SET bot_enabled = $2, updated_at = $3 WHERE id = $1`,
		uid(t.tenant), on, t.now)
}

func (t *tenantTx) updateProfile(sql string, args ...any) error {
	n, err := t.exec(sql, args...)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, "profile")
}

// --- intents ---

const intentColumns = `id, opportunity_id, strategy, leg, mode, venue, market, token, outcome, side,
	price::text, size::text, tif, state, venue_order_id, filled::text, fees::text, error, created_at, updated_at, lease_epoch`

func scanIntent(r pgx.Rows) (*polybot.Intent, error) {
	in := &polybot.Intent{}
	var mode, venue, outcome, side, tif, price, size, filled, fees string
	err := r.Scan(&in.ID, &in.OpportunityID, &in.Strategy, &in.Leg, &mode, &venue, &in.Instrument.Market,
		&in.Instrument.Token, &outcome, &side, &price, &size, &tif, &in.State, &in.VenueOrderID, &filled, &fees,
		&in.Error, &in.CreatedAt, &in.UpdatedAt, &in.Epoch)
	if err == nil {
		err = decimals(&price, &in.Price, &size, &in.Size, &filled, &in.Filled, &fees, &in.Fees)
	}
	if err == nil {
		in.Instrument.Outcome, err = parseOutcome(outcome)
	}
	if err == nil {
		in.Side, err = parseSide(side)
	}
	if err != nil {
		return nil, err
	}
	in.Mode, in.Instrument.Venue, in.TIF = polybot.ExecMode(mode), polybot.Platform(venue), polybot.TimeInForce(tif)
	in.CreatedAt, in.UpdatedAt = in.CreatedAt.UTC(), in.UpdatedAt.UTC()
	return in, nil
}

// InsertIntent stores i for the tenant. A duplicate client order id is
// ECONFLICT and leaves the transaction usable.
func (t *tenantTx) InsertIntent(i *polybot.Intent) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	if i.State == "" {
		i.State = polybot.IntentPending
	}
	if err := i.Validate(); err != nil {
		return err
	}
	created := t.now
	if !i.CreatedAt.IsZero() {
		created = i.CreatedAt.UTC().Truncate(time.Microsecond)
	}
	n, err := t.exec(`INSERT INTO polybot_order_intents (user_id, id, opportunity_id, strategy, leg, mode,
			venue, market, token, outcome, side, price, size, tif, state, venue_order_id, filled, fees, error,
			created_at, updated_at, lease_epoch)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
		ON CONFLICT (user_id, id) DO NOTHING`,
		uid(t.tenant), i.ID, i.OpportunityID, i.Strategy, i.Leg, string(i.Mode),
		string(i.Instrument.Venue), i.Instrument.Market, i.Instrument.Token, i.Instrument.Outcome.String(),
		i.Side.String(), i.Price.String(), i.Size.String(), string(i.TIF), i.State, i.VenueOrderID,
		i.Filled.String(), i.Fees.String(), i.Error, created, t.now, i.Epoch)
	if err != nil {
		return mapErr(err, "intent")
	}
	if n == 0 {
		return polybot.Errorf(polybot.ECONFLICT, "an intent with this client order id already exists")
	}
	i.UserID, i.CreatedAt, i.UpdatedAt = t.tenant, created, t.now
	return nil
}

// UpdateIntent stores i's state, venue order id, filled size, fees and
// error; the rest of the intent is immutable.
func (t *tenantTx) UpdateIntent(i *polybot.Intent) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	if !polybot.ValidIntentState(i.State) {
		return polybot.FieldError("state", "is not an intent state")
	}
	var created time.Time
	err := t.queryRow(`UPDATE polybot_order_intents
		SET state = $3, venue_order_id = $4, filled = $5, fees = $6, error = $7, updated_at = $8
		WHERE user_id = $1 AND id = $2
		RETURNING created_at`,
		[]any{uid(t.tenant), i.ID, i.State, i.VenueOrderID, i.Filled.String(), i.Fees.String(), i.Error, t.now},
		&created)
	if err != nil {
		return mapErr(err, "intent")
	}
	i.UserID, i.CreatedAt, i.UpdatedAt = t.tenant, created.UTC(), t.now
	return nil
}

func (t *tenantTx) Intent(id string) (*polybot.Intent, error) {
	var in *polybot.Intent
	_, err := t.query(`SELECT `+intentColumns+` FROM polybot_order_intents WHERE user_id = $1 AND id = $2`,
		[]any{uid(t.tenant), id}, func(r pgx.Rows) (err error) {
			in, err = scanIntent(r)
			return err
		})
	if err == nil && in == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "intent")
	}
	in.UserID = t.tenant
	return in, nil
}

// Intents lists the tenant's intents in states (none: all) created before
// before (zero: no bound), newest first, at most limit (1..1000, 100 when
// not positive).
func (t *tenantTx) Intents(states []string, before time.Time, limit int) ([]*polybot.Intent, error) {
	return t.FindIntents(polybot.IntentFilter{States: states, Before: before, Limit: limit})
}

func (t *tenantTx) FindIntents(f polybot.IntentFilter) ([]*polybot.Intent, error) {
	bound := func(x time.Time) *time.Time {
		if x.IsZero() {
			return nil
		}
		u := x.UTC()
		return &u
	}
	before := f.Before
	if before.IsZero() || (!f.To.IsZero() && f.To.Before(before)) {
		before = f.To
	}
	var states []string
	if len(f.States) > 0 {
		states = f.States
	}
	out := []*polybot.Intent{}
	_, err := t.query(`SELECT `+intentColumns+` FROM polybot_order_intents
		WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at < $2) AND ($3::timestamptz IS NULL OR created_at >= $3)
		  AND ($4::text[] IS NULL OR state = ANY ($4))
		  AND ($5 = '' OR strategy = $5) AND ($6 = '' OR venue = $6) AND ($7 = '' OR mode = $7)
		  AND ($8 = '' OR market = $8 OR token = $8) AND ($10 = '' OR opportunity_id = $10)
		ORDER BY created_at DESC, id DESC
		LIMIT $9`, []any{uid(t.tenant), bound(before), bound(f.From), states, f.Strategy, string(f.Venue), string(f.Mode), f.Market, clampLimit(f.Limit),
		f.Opportunity},
		func(r pgx.Rows) error {
			in, err := scanIntent(r)
			if err == nil {
				in.UserID = t.tenant
				out = append(out, in)
			}
			return err
		})
	if err != nil {
		return nil, mapErr(err, "intent")
	}
	return out, nil
}

// --- fills ---

const fillColumns = `venue, trade_id, client_order_id, strategy, mode, market, token, outcome, side,
	price::text, size::text, fee::text, realized_pnl::text, filled_at`

func scanFill(r pgx.Rows) (*polybot.TradeFill, error) {
	f := &polybot.TradeFill{}
	var venue, mode, outcome, side, price, size, fee, pnl string
	err := r.Scan(&venue, &f.TradeID, &f.ClientOrderID, &f.Strategy, &mode, &f.Instrument.Market, &f.Instrument.Token,
		&outcome, &side, &price, &size, &fee, &pnl, &f.Time)
	if err == nil {
		err = decimals(&price, &f.Price, &size, &f.Size, &fee, &f.Fee, &pnl, &f.RealizedPnL)
	}
	if err == nil {
		f.Instrument.Outcome, err = parseOutcome(outcome)
	}
	if err == nil {
		f.Side, err = parseSide(side)
	}
	if err != nil {
		return nil, err
	}
	f.Venue, f.Instrument.Venue, f.Mode = polybot.Platform(venue), polybot.Platform(venue), polybot.ExecMode(mode)
	f.Time = f.Time.UTC()
	return f, nil
}

// InsertFill records f for the tenant. Its venue is f.Venue, or the
// instrument's when f.Venue is empty. A (venue, trade id) seen before is
// ECONFLICT and leaves the transaction usable.
func (t *tenantTx) InsertFill(f *polybot.TradeFill) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	if err := f.Validate(); err != nil {
		return err
	}
	at := t.now
	if !f.Time.IsZero() {
		at = f.Time.UTC().Truncate(time.Microsecond)
	}
	n, err := t.exec(`INSERT INTO polybot_fills (user_id, venue, trade_id, client_order_id, strategy, mode,
			market, token, outcome, side, price, size, fee, realized_pnl, filled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (user_id, venue, trade_id) DO NOTHING`,
		uid(t.tenant), string(f.Venue), f.TradeID, f.ClientOrderID, f.Strategy, string(f.Mode),
		f.Instrument.Market, f.Instrument.Token, f.Instrument.Outcome.String(), f.Side.String(),
		f.Price.String(), f.Size.String(), f.Fee.String(), f.RealizedPnL.String(), at)
	if err != nil {
		return mapErr(err, "fill")
	}
	if n == 0 {
		return polybot.Errorf(polybot.ECONFLICT, "this fill was already recorded")
	}
	f.UserID, f.Time = t.tenant, at
	return nil
}

// Fills lists the tenant's fills before before (zero: no bound), newest
// first, at most limit (1..1000, 100 when not positive).
func (t *tenantTx) Fills(before time.Time, limit int) ([]*polybot.TradeFill, error) {
	return t.FindFills(polybot.FillFilter{Before: before, Limit: limit})
}

func (t *tenantTx) FindFills(f polybot.FillFilter) ([]*polybot.TradeFill, error) {
	var bound *time.Time
	if !f.Before.IsZero() {
		b := f.Before.UTC()
		bound = &b
	}
	out := []*polybot.TradeFill{}
	_, err := t.query(`SELECT `+fillColumns+` FROM polybot_fills
		WHERE user_id = $1 AND ($2::timestamptz IS NULL OR filled_at < $2)
		  AND ($3 = '' OR strategy = $3) AND ($4 = '' OR venue = $4) AND ($5 = '' OR mode = $5)
		  AND ($6 = '' OR market = $6 OR token = $6)
		ORDER BY filled_at DESC, seq DESC
		LIMIT $7`, []any{uid(t.tenant), bound, f.Strategy, string(f.Venue), string(f.Mode), f.Market, clampLimit(f.Limit)},
		func(r pgx.Rows) error {
			x, err := scanFill(r)
			if err == nil {
				x.UserID = t.tenant
				out = append(out, x)
			}
			return err
		})
	if err != nil {
		return nil, mapErr(err, "fill")
	}
	return out, nil
}

// PnLByStrategy sums the tenant's fills by strategy and mode, ordered by
// strategy then mode.
func (t *tenantTx) PnLByStrategy() ([]*polybot.StrategyPnL, error) {
	out := []*polybot.StrategyPnL{}
	_, err := t.query(`SELECT strategy, mode, sum(realized_pnl)::text, sum(fee)::text, count(*)
		FROM polybot_fills WHERE user_id = $1
		GROUP BY strategy, mode ORDER BY strategy, mode`, []any{uid(t.tenant)}, func(r pgx.Rows) error {
		s := &polybot.StrategyPnL{}
		var mode, realized, fees string
		if err := r.Scan(&s.Strategy, &mode, &realized, &fees, &s.Fills); err != nil {
			return err
		}
		if err := decimals(&realized, &s.Realized, &fees, &s.Fees); err != nil {
			return err
		}
		s.Mode = polybot.ExecMode(mode)
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "fill")
	}
	return out, nil
}

// --- holdings ---

const holdingColumns = `mode, venue, market, token, outcome, size::text, avg_price::text, realized_pnl::text, updated_at`

func scanHolding(r pgx.Rows) (*polybot.Holding, error) {
	h := &polybot.Holding{}
	var mode, venue, outcome, size, avg, pnl string
	err := r.Scan(&mode, &venue, &h.Instrument.Market, &h.Instrument.Token, &outcome, &size, &avg, &pnl, &h.UpdatedAt)
	if err == nil {
		err = decimals(&size, &h.Size, &avg, &h.AvgPrice, &pnl, &h.RealizedPnL)
	}
	if err == nil {
		h.Instrument.Outcome, err = parseOutcome(outcome)
	}
	if err != nil {
		return nil, err
	}
	h.Mode, h.Instrument.Venue, h.UpdatedAt = polybot.ExecMode(mode), polybot.Platform(venue), h.UpdatedAt.UTC()
	return h, nil
}

// Holding returns the tenant's position in inst (by inst.Key()) and mode.
func (t *tenantTx) Holding(inst polybot.Instrument, mode polybot.ExecMode) (*polybot.Holding, error) {
	var h *polybot.Holding
	_, err := t.query(`SELECT `+holdingColumns+` FROM polybot_holdings
		WHERE user_id = $1 AND mode = $2 AND instrument_key = $3`,
		[]any{uid(t.tenant), string(mode), inst.Key()}, func(r pgx.Rows) (err error) {
			h, err = scanHolding(r)
			return err
		})
	if err == nil && h == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "holding")
	}
	return h, nil
}

// PutHolding creates or replaces the tenant's position in h's instrument
// and mode.
func (t *tenantTx) PutHolding(h *polybot.Holding) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	if err := h.Validate(); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO polybot_holdings AS h (user_id, mode, instrument_key, venue, market, token, outcome,
			size, avg_price, realized_pnl, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (user_id, mode, instrument_key) DO UPDATE SET
			size = excluded.size, avg_price = excluded.avg_price,
			realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at
		WHERE h.user_id = $1`,
		uid(t.tenant), string(h.Mode), h.Instrument.Key(), string(h.Instrument.Venue), h.Instrument.Market,
		h.Instrument.Token, h.Instrument.Outcome.String(), h.Size.String(), h.AvgPrice.String(),
		h.RealizedPnL.String(), t.now)
	if err != nil {
		return mapErr(err, "holding")
	}
	h.UpdatedAt = t.now
	return nil
}

// Holdings lists every position the tenant ever held (closed ones too, at
// size zero), by mode and instrument.
func (t *tenantTx) Holdings() ([]*polybot.Holding, error) {
	out := []*polybot.Holding{}
	_, err := t.query(`SELECT `+holdingColumns+` FROM polybot_holdings WHERE user_id = $1 ORDER BY mode, instrument_key`,
		[]any{uid(t.tenant)}, func(r pgx.Rows) error {
			h, err := scanHolding(r)
			if err == nil {
				out = append(out, h)
			}
			return err
		})
	if err != nil {
		return nil, mapErr(err, "holding")
	}
	return out, nil
}

// --- daily P&L ---

// AddDailyPnL adds to the day's totals in one upsert (exact NUMERIC sums).
func (t *tenantTx) AddDailyPnL(day string, mode polybot.ExecMode, realized, fees, cash polybot.Decimal) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	if err := polybot.CheckDay(day); err != nil {
		return err
	}
	if err := polybot.CheckMode(mode); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO polybot_daily_pnl AS d (user_id, day, mode, realized, fees, cash_flow, updated_at)
		VALUES ($1, $2::text::date, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id, day, mode) DO UPDATE SET
			realized = d.realized + excluded.realized, fees = d.fees + excluded.fees,
			cash_flow = d.cash_flow + excluded.cash_flow, updated_at = excluded.updated_at
		WHERE d.user_id = $1`,
		uid(t.tenant), day, string(mode), realized.String(), fees.String(), cash.String(), t.now)
	return mapErr(err, "daily P&L")
}

// OpenDailyPnL records the day's opening value once.
func (t *tenantTx) OpenDailyPnL(day string, mode polybot.ExecMode, value polybot.Decimal) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	if err := polybot.CheckDay(day); err != nil {
		return err
	}
	if err := polybot.CheckMode(mode); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO polybot_daily_pnl AS d (user_id, day, mode, open_value, opened, updated_at)
		VALUES ($1, $2::text::date, $3, $4, true, $5)
		ON CONFLICT (user_id, day, mode) DO UPDATE SET
			open_value = excluded.open_value, opened = true, updated_at = excluded.updated_at
		WHERE d.user_id = $1 AND NOT d.opened`,
		uid(t.tenant), day, string(mode), value.String(), t.now)
	return mapErr(err, "daily P&L")
}

func (t *tenantTx) DailyPnL(day string, mode polybot.ExecMode) (*polybot.DailyPnL, error) {
	if err := polybot.CheckDay(day); err != nil {
		return nil, err
	}
	d := &polybot.DailyPnL{Day: day, Mode: mode}
	var realized, fees, cash, open string
	err := t.queryRow(`SELECT realized::text, fees::text, cash_flow::text, open_value::text, opened FROM polybot_daily_pnl
		WHERE user_id = $1 AND day = $2::text::date AND mode = $3`,
		[]any{uid(t.tenant), day, string(mode)}, &realized, &fees, &cash, &open, &d.Opened)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, nil
	}
	if err == nil {
		err = decimals(&realized, &d.Realized, &fees, &d.Fees, &cash, &d.CashFlow, &open, &d.OpenValue)
	}
	if err != nil {
		return nil, mapErr(err, "daily P&L")
	}
	return d, nil
}

// --- admin ---

// BotUserIDs lists users who are not disabled and whose bot switch is on.
func (t *adminTx) BotUserIDs() ([]polybot.ID, error) {
	out := []polybot.ID{}
	_, err := t.query(`SELECT u.id FROM polybot_users u JOIN polybot_user_profiles p ON p.id = u.id
		WHERE NOT u.disabled AND p.bot_enabled ORDER BY u.created_at, u.id`, nil, func(r pgx.Rows) error {
		var id polybot.ID
		if err := r.Scan((*[16]byte)(&id)); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return out, nil
}

func (t *adminTx) GlobalHalt() (string, error) { return globalHalt(t.txn) }

func (t *adminTx) SetGlobalHalt(state string) error {
	if err := polybot.CheckHalt(state); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO polybot_settings (key, value, updated_at) VALUES ('global_halt', $1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, state, t.now)
	return mapErr(err, "setting")
}

// SetUserHalt sets the admin's halt state for a tenant; the tenant's own
// SetHaltState cannot lift it.
func (t *adminTx) SetUserBotEnabled(id polybot.ID, on bool) error {
	return t.updateOne("user", `UPDATE polybot_user_profiles SET bot_enabled = $2, updated_at = $3 WHERE id = $1`,
		uid(id), on, t.now)
}

func (t *adminTx) SetUserHalt(id polybot.ID, state string) error {
	if err := polybot.CheckHalt(state); err != nil {
		return err
	}
	return t.updateOne("user", `UPDATE polybot_user_profiles SET admin_halt_state = $2, updated_at = $3 WHERE id = $1`,
		uid(id), state, t.now)
}

const marketPairColumns = `id, name, a_venue, a_market, a_yes, a_no, b_venue, b_market, b_yes, b_no,
	resolution_notes, approved, created_at, updated_at`

func scanMarketPair(r pgx.Rows) (*polybot.MarketPair, error) {
	m := &polybot.MarketPair{}
	if err := r.Scan(&m.ID, &m.Name, &m.Legs[0].Venue, &m.Legs[0].Market, &m.Legs[0].Yes, &m.Legs[0].No,
		&m.Legs[1].Venue, &m.Legs[1].Market, &m.Legs[1].Yes, &m.Legs[1].No,
		&m.ResolutionNotes, &m.Approved, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

func (t *adminTx) MarketPairs() ([]*polybot.MarketPair, error) {
	out := []*polybot.MarketPair{}
	_, err := t.query(`SELECT `+marketPairColumns+` FROM polybot_market_pairs ORDER BY id`, nil, func(r pgx.Rows) error {
		m, err := scanMarketPair(r)
		if err == nil {
			out = append(out, m)
		}
		return err
	})
	if err != nil {
		return nil, mapErr(err, "market pair")
	}
	return out, nil
}

func (t *adminTx) MarketPair(id string) (*polybot.MarketPair, error) {
	if err := polybot.CheckMarketPairID(id); err != nil {
		return nil, err
	}
	var m *polybot.MarketPair
	_, err := t.query(`SELECT `+marketPairColumns+` FROM polybot_market_pairs WHERE id = $1`, []any{id}, func(r pgx.Rows) (err error) {
		m, err = scanMarketPair(r)
		return err
	})
	if err == nil && m == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "market pair")
	}
	return m, nil
}

// PutMarketPair creates or updates m: CreatedAt is kept on update,
// UpdatedAt is Now.
func (t *adminTx) PutMarketPair(m *polybot.MarketPair) error {
	if err := m.Validate(); err != nil {
		return err
	}
	l0, l1 := m.Legs[0], m.Legs[1]
	var created time.Time
	err := t.queryRow(`INSERT INTO polybot_market_pairs (`+marketPairColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name,
			a_venue = excluded.a_venue, a_market = excluded.a_market, a_yes = excluded.a_yes, a_no = excluded.a_no,
			b_venue = excluded.b_venue, b_market = excluded.b_market, b_yes = excluded.b_yes, b_no = excluded.b_no,
			resolution_notes = excluded.resolution_notes,
			approved = excluded.approved, updated_at = excluded.updated_at
		RETURNING created_at`,
		[]any{m.ID, m.Name, l0.Venue, l0.Market, l0.Yes, l0.No, l1.Venue, l1.Market, l1.Yes, l1.No, m.ResolutionNotes,
			m.Approved, t.now}, &created)
	if err != nil {
		return mapErr(err, "market pair")
	}
	m.CreatedAt, m.UpdatedAt = created.UTC(), t.now
	return nil
}

func (t *adminTx) DeleteMarketPair(id string) error {
	if err := polybot.CheckMarketPairID(id); err != nil {
		return err
	}
	return t.updateOne("market pair", `DELETE FROM polybot_market_pairs WHERE id = $1`, id)
}
