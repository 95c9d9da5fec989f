package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// Copy trading (migration 0008): a tenant's leaders with their cursors,
// the records of what the bot did with each leader trade, the P&L of a
// leader's copies, and the service path's list of followed wallets. The
// rules are the root package's (Leader.ValidateStored, CopyRecord.Validate,
// SumCopyPnL); this file only stores them, as internal/sqlite does. A
// tenant writes through polybot_tenant_app (txn.asApp).

const leaderColumns = `id, address, label, enabled, mode, multiplier, fixed_usd, balance_pct, max_trade_usd,
	max_market_usd, max_day_usd, min_leader_usd, price_guard, max_age_seconds, created_at, updated_at`

const leaderSelect = `SELECT id, address, label, enabled, mode, multiplier::text, fixed_usd::text, balance_pct::text,
	max_trade_usd::text, max_market_usd::text, max_day_usd::text, min_leader_usd::text, price_guard::text,
	max_age_seconds, created_at, updated_at FROM polybot_copy_leaders`

func scanLeader(row pgx.Rows) (*polybot.Leader, error) {
	l := &polybot.Leader{}
	var mult, fixed, pct, maxTrade, maxMarket, maxDay, minLeader, guard string
	var maxAge int64
	if err := row.Scan(&l.ID, &l.Address, &l.Label, &l.Enabled, &l.Mode, &mult, &fixed, &pct, &maxTrade, &maxMarket,
		&maxDay, &minLeader, &guard, &maxAge, &l.CreatedAt, &l.UpdatedAt); err != nil {
		return nil, err
	}
	if err := decimals(&mult, &l.Multiplier, &fixed, &l.FixedUSD, &pct, &l.BalancePct, &maxTrade, &l.MaxTradeUSD,
		&maxMarket, &l.MaxMarketUSD, &maxDay, &l.MaxDayUSD, &minLeader, &l.MinLeaderUSD, &guard, &l.PriceGuard); err != nil {
		return nil, err
	}
	l.MaxAge = time.Duration(maxAge) * time.Second
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

func (t *tenantTx) Leaders() ([]*polybot.Leader, error) {
	out, err := collectRows(t.txn, "leader", scanLeader, leaderSelect+` WHERE user_id = $1 ORDER BY id`, uid(t.tenant))
	for _, l := range out {
		l.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) Leader(id string) (*polybot.Leader, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return nil, err
	}
	l, err := oneRow(t.txn, "leader", scanLeader, leaderSelect+` WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
	if err != nil {
		return nil, err
	}
	l.UserID = t.tenant
	return l, nil
}

// PutLeader creates or updates l: CreatedAt kept, UpdatedAt Now; an
// address another of the tenant's leaders follows is ECONFLICT naming
// address; a new leader past MaxLeaders is refused; a changed address
// clears the cursor.
func (t *tenantTx) PutLeader(l *polybot.Leader) error {
	if err := l.ValidateStored(); err != nil {
		return err
	}
	defer t.asApp(true)()
	var other string
	err := t.queryRow(`SELECT id FROM polybot_copy_leaders WHERE user_id = $1 AND address = $2 AND id <> $3`,
		[]any{uid(t.tenant), l.Address, l.ID}, &other)
	if err == nil {
		return polybot.ErrLeaderAddressTaken(other)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return mapErr(err, "leader")
	}
	var n int
	var exists bool
	if err := t.queryRow(`SELECT count(*), coalesce(bool_or(id = $2), false) FROM polybot_copy_leaders WHERE user_id = $1`,
		[]any{uid(t.tenant), l.ID}, &n, &exists); err != nil {
		return mapErr(err, "leader")
	}
	if !exists && n >= polybot.MaxLeaders {
		return polybot.ErrTooManyLeaders()
	}
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_copy_leaders AS l (user_id, `+leaderColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
		ON CONFLICT (user_id, id) DO UPDATE SET label = excluded.label, enabled = excluded.enabled,
			mode = excluded.mode, multiplier = excluded.multiplier, fixed_usd = excluded.fixed_usd,
			balance_pct = excluded.balance_pct, max_trade_usd = excluded.max_trade_usd,
			max_market_usd = excluded.max_market_usd, max_day_usd = excluded.max_day_usd,
			min_leader_usd = excluded.min_leader_usd, price_guard = excluded.price_guard,
			max_age_seconds = excluded.max_age_seconds, updated_at = excluded.updated_at,
			cursor_at = CASE WHEN l.address = excluded.address THEN l.cursor_at END,
			cursor_key = CASE WHEN l.address = excluded.address THEN l.cursor_key ELSE '' END,
			address = excluded.address
		RETURNING created_at`,
		[]any{uid(t.tenant), l.ID, l.Address, l.Label, l.Enabled, l.Mode, l.Multiplier.String(), l.FixedUSD.String(),
			l.BalancePct.String(), l.MaxTradeUSD.String(), l.MaxMarketUSD.String(), l.MaxDayUSD.String(),
			l.MinLeaderUSD.String(), l.PriceGuard.String(), int64(l.MaxAge / time.Second), t.now},
		&created)
	if err != nil {
		return mapErr(err, "leader")
	}
	l.UserID, l.CreatedAt, l.UpdatedAt = t.tenant, created.UTC(), t.now
	return nil
}

func (t *tenantTx) DeleteLeader(id string) error {
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	defer t.asApp(true)()
	return t.changeOne("leader", `DELETE FROM polybot_copy_leaders WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
}

func (t *tenantTx) LeaderCursor(leaderID string) (time.Time, string, error) {
	if err := polybot.CheckNewsID(leaderID); err != nil {
		return time.Time{}, "", err
	}
	var at *time.Time
	var key string
	if err := t.queryRow(`SELECT cursor_at, cursor_key FROM polybot_copy_leaders WHERE user_id = $1 AND id = $2`,
		[]any{uid(t.tenant), leaderID}, &at, &key); err != nil {
		return time.Time{}, "", mapErr(err, "leader")
	}
	if at == nil {
		return time.Time{}, key, nil
	}
	return at.UTC(), key, nil
}

// SetLeaderCursor moves the cursor forward; an older time is ignored.
func (t *tenantTx) SetLeaderCursor(leaderID string, at time.Time, lastKey string) error {
	if err := polybot.CheckLeaderCursor(leaderID, at, lastKey); err != nil {
		return err
	}
	if _, _, err := t.LeaderCursor(leaderID); err != nil {
		return err
	}
	defer t.asApp(true)()
	_, err := t.exec(`UPDATE polybot_copy_leaders SET cursor_at = $3, cursor_key = $4
		WHERE user_id = $1 AND id = $2 AND (cursor_at IS NULL OR cursor_at <= $3)`,
		uid(t.tenant), leaderID, at.UTC().Truncate(time.Microsecond), lastKey)
	return mapErr(err, "leader")
}

const copyRecordColumns = `leader_id, trade_key, leader_side, leader_price, leader_size, leader_time, venue, market,
	token, outcome, title, action, reason, opportunity_id, size, price, at`

const copyRecordSelect = `SELECT leader_id, trade_key, leader_side, leader_price::text, leader_size::text, leader_time,
	venue, market, token, outcome, title, action, reason, opportunity_id, size::text, price::text, at
	FROM polybot_copy_records`

func scanCopyRecord(row pgx.Rows) (*polybot.CopyRecord, error) {
	c := &polybot.CopyRecord{}
	var side, price, size, ourSize, ourPrice, venue, outcome string
	if err := row.Scan(&c.LeaderID, &c.TradeKey, &side, &price, &size, &c.LeaderTime, &venue, &c.Instrument.Market,
		&c.Instrument.Token, &outcome, &c.Title, &c.Action, &c.Reason, &c.OpportunityID, &ourSize, &ourPrice, &c.At); err != nil {
		return nil, err
	}
	err := decimals(&price, &c.LeaderPrice, &size, &c.LeaderSize, &ourSize, &c.Size, &ourPrice, &c.Price)
	if err == nil {
		c.LeaderSide, err = parseSide(side)
	}
	if err == nil {
		c.Instrument.Outcome, err = parseOutcome(outcome)
	}
	if err != nil {
		return nil, err
	}
	c.Instrument.Venue = polybot.Platform(venue)
	c.LeaderTime, c.At = c.LeaderTime.UTC(), c.At.UTC()
	return c, nil
}

// PutCopyRecord stores c unless the leader's trade is recorded already.
func (t *tenantTx) PutCopyRecord(c *polybot.CopyRecord) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if _, _, err := t.LeaderCursor(c.LeaderID); err != nil {
		return err
	}
	if c.At.IsZero() {
		c.At = t.now
	}
	c.At, c.LeaderTime = c.At.UTC().Truncate(time.Microsecond), c.LeaderTime.UTC().Truncate(time.Microsecond)
	defer t.asApp(true)()
	_, err := t.exec(`INSERT INTO polybot_copy_records (user_id, `+copyRecordColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		ON CONFLICT (user_id, leader_id, trade_key) DO NOTHING`,
		uid(t.tenant), c.LeaderID, c.TradeKey, c.LeaderSide.String(), c.LeaderPrice.String(), c.LeaderSize.String(),
		c.LeaderTime, string(c.Instrument.Venue), c.Instrument.Market, c.Instrument.Token, c.Instrument.Outcome.String(),
		c.Title, c.Action, c.Reason, c.OpportunityID, c.Size.String(), c.Price.String(), c.At)
	return mapErr(err, "copy record")
}

func (t *tenantTx) CopyRecords(leaderID string, limit int) ([]*polybot.CopyRecord, error) {
	if err := polybot.CheckText("leader_id", leaderID, 0); err != nil {
		return nil, err
	}
	return collectRows(t.txn, "copy record", scanCopyRecord, copyRecordSelect+`
		WHERE user_id = $1 AND ($2 = '' OR leader_id = $2) ORDER BY at DESC, seq DESC LIMIT $3`,
		uid(t.tenant), leaderID, polybot.NewsPageLimit(limit))
}

func (t *tenantTx) CopyPnL(leaderID string) (*polybot.CopyPnL, error) {
	if _, _, err := t.LeaderCursor(leaderID); err != nil {
		return nil, err
	}
	var fills []polybot.CopyFill
	_, err := t.query(`SELECT i.opportunity_id, f.venue, f.trade_id, f.client_order_id, f.strategy, f.mode, f.market,
			f.token, f.outcome, f.side, f.price::text, f.size::text, f.fee::text, f.realized_pnl::text, f.filled_at
		FROM polybot_fills f JOIN polybot_order_intents i ON i.user_id = f.user_id AND i.id = f.client_order_id
		WHERE f.user_id = $1 AND f.strategy = $2 AND starts_with(i.opportunity_id, $3)
		ORDER BY f.seq`, []any{uid(t.tenant), polybot.StrategyCopy, "copy-" + leaderID + "-"},
		func(r pgx.Rows) error {
			var opp string
			f, err := scanFill(prefixRow{r, &opp})
			if err == nil {
				fills = append(fills, polybot.CopyFill{Fill: f, Opportunity: opp})
			}
			return err
		})
	if err != nil {
		return nil, mapErr(err, "fill")
	}
	return polybot.SumCopyPnL(leaderID, fills), nil
}

// prefixRow scans one leading column into first, then the rest as the
// caller asks.
type prefixRow struct {
	pgx.Rows
	first any
}

func (p prefixRow) Scan(dest ...any) error { return p.Rows.Scan(append([]any{p.first}, dest...)...) }

func (t *adminTx) FollowedWallets() ([]polybot.FollowedWallet, error) {
	var addrs []string
	var followers []polybot.WalletFollower
	_, err := t.query(`SELECT address, user_id, id FROM polybot_copy_leaders WHERE enabled
		ORDER BY address, user_id, id`, nil, func(r pgx.Rows) error {
		var addr string
		var user [16]byte
		var id string
		if err := r.Scan(&addr, &user, &id); err != nil {
			return err
		}
		addrs, followers = append(addrs, addr), append(followers, polybot.WalletFollower{UserID: user, LeaderID: id})
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "leader")
	}
	return polybot.GroupFollowers(addrs, followers), nil
}
