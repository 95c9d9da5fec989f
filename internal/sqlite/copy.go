package sqlite

import (
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// Copy trading (migration 0007): a tenant's leaders with their cursors,
// the records of what the bot did with each leader trade, the P&L of a
// leader's copies, and the service path's list of followed wallets. The
// rules are the root package's (Leader.ValidateStored, CopyRecord.Validate,
// SumCopyPnL); this file only stores them. Every tenant statement names
// the tenant.

const leaderCols = `id, address, label, enabled, mode, multiplier, fixed_usd, balance_pct, max_trade_usd,
	max_market_usd, max_day_usd, min_leader_usd, price_guard, max_age_seconds, created_at, updated_at`

func scanLeader(s scanner) (*polybot.Leader, error) {
	var l polybot.Leader
	var maxAge int64
	err := s.Scan(&l.ID, &l.Address, &l.Label, &l.Enabled, &l.Mode, &l.Multiplier, &l.FixedUSD, &l.BalancePct,
		&l.MaxTradeUSD, &l.MaxMarketUSD, &l.MaxDayUSD, &l.MinLeaderUSD, &l.PriceGuard, &maxAge,
		timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt})
	if err != nil {
		return nil, err
	}
	l.MaxAge = time.Duration(maxAge) * time.Second
	return &l, nil
}

func (t *tenantTx) Leaders() ([]*polybot.Leader, error) {
	out, err := collect(t.tx, "leader", scanLeader,
		`SELECT `+leaderCols+` FROM polybot_copy_leaders WHERE user_id = ? ORDER BY id`, t.tenant)
	for _, l := range out {
		l.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) Leader(id string) (*polybot.Leader, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return nil, err
	}
	l, err := one(t.tx, "leader", scanLeader,
		`SELECT `+leaderCols+` FROM polybot_copy_leaders WHERE user_id = ? AND id = ?`, t.tenant, id)
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
	if err := t.writable(); err != nil {
		return err
	}
	if err := l.ValidateStored(); err != nil {
		return err
	}
	var other string
	err := t.queryRow(`SELECT id FROM polybot_copy_leaders WHERE user_id = ? AND address = ? AND id <> ?`,
		t.tenant, l.Address, l.ID).Scan(&other)
	if err == nil {
		return polybot.ErrLeaderAddressTaken(other)
	}
	if polybot.ErrorCode(dbError(err, "leader")) != polybot.ENOTFOUND {
		return dbError(err, "leader")
	}
	var n int
	var exists bool
	if err := t.queryRow(`SELECT count(*), ifnull(max(id = ?), 0) FROM polybot_copy_leaders WHERE user_id = ?`,
		l.ID, t.tenant).Scan(&n, &exists); err != nil {
		return dbError(err, "leader")
	}
	if !exists && n >= polybot.MaxLeaders {
		return polybot.ErrTooManyLeaders()
	}
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_copy_leaders (user_id, `+leaderCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, id) DO UPDATE SET label = excluded.label, enabled = excluded.enabled,
			mode = excluded.mode, multiplier = excluded.multiplier, fixed_usd = excluded.fixed_usd,
			balance_pct = excluded.balance_pct, max_trade_usd = excluded.max_trade_usd,
			max_market_usd = excluded.max_market_usd, max_day_usd = excluded.max_day_usd,
			min_leader_usd = excluded.min_leader_usd, price_guard = excluded.price_guard,
			max_age_seconds = excluded.max_age_seconds, updated_at = excluded.updated_at,
			cursor_at = CASE WHEN address = excluded.address THEN cursor_at END,
			cursor_key = CASE WHEN address = excluded.address THEN cursor_key ELSE '' END,
			address = excluded.address
		RETURNING created_at`,
		t.tenant, l.ID, l.Address, l.Label, l.Enabled, l.Mode, l.Multiplier, l.FixedUSD, l.BalancePct,
		l.MaxTradeUSD, l.MaxMarketUSD, l.MaxDayUSD, l.MinLeaderUSD, l.PriceGuard, int64(l.MaxAge/time.Second),
		micros(t.now), micros(t.now)).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "leader")
	}
	l.UserID, l.CreatedAt, l.UpdatedAt = t.tenant, created, t.now
	return nil
}

func (t *tenantTx) DeleteLeader(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	return t.deleteOne("leader", `DELETE FROM polybot_copy_leaders WHERE user_id = ? AND id = ?`, t.tenant, id)
}

func (t *tenantTx) LeaderCursor(leaderID string) (time.Time, string, error) {
	if err := polybot.CheckNewsID(leaderID); err != nil {
		return time.Time{}, "", err
	}
	var at *time.Time
	var key string
	err := t.queryRow(`SELECT cursor_at, cursor_key FROM polybot_copy_leaders WHERE user_id = ? AND id = ?`,
		t.tenant, leaderID).Scan(nullTimeCol{&at}, &key)
	if err != nil {
		return time.Time{}, "", dbError(err, "leader")
	}
	if at == nil {
		return time.Time{}, key, nil
	}
	return *at, key, nil
}

// SetLeaderCursor moves the cursor forward; an older time is ignored.
func (t *tenantTx) SetLeaderCursor(leaderID string, at time.Time, lastKey string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckLeaderCursor(leaderID, at, lastKey); err != nil {
		return err
	}
	if _, _, err := t.LeaderCursor(leaderID); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE polybot_copy_leaders SET cursor_at = ?, cursor_key = ?
		WHERE user_id = ? AND id = ? AND (cursor_at IS NULL OR cursor_at <= ?)`,
		micros(norm(at)), lastKey, t.tenant, leaderID, micros(norm(at)))
	return dbError(err, "leader")
}

const copyRecordCols = `leader_id, trade_key, leader_side, leader_price, leader_size, leader_time, venue, market, token,
	outcome, title, action, reason, opportunity_id, size, price, at`

func scanCopyRecord(s scanner) (*polybot.CopyRecord, error) {
	var c polybot.CopyRecord
	var side, venue, outcome string
	err := s.Scan(&c.LeaderID, &c.TradeKey, &side, &c.LeaderPrice, &c.LeaderSize, timeCol{&c.LeaderTime}, &venue,
		&c.Instrument.Market, &c.Instrument.Token, &outcome, &c.Title, &c.Action, &c.Reason, &c.OpportunityID,
		&c.Size, &c.Price, timeCol{&c.At})
	if err != nil {
		return nil, err
	}
	if c.LeaderSide, err = parseSide(side); err != nil {
		return nil, err
	}
	if c.Instrument.Outcome, err = parseOutcome(outcome); err != nil {
		return nil, err
	}
	c.Instrument.Venue = polybot.Platform(venue)
	return &c, nil
}

// PutCopyRecord stores c unless the leader's trade is recorded already.
func (t *tenantTx) PutCopyRecord(c *polybot.CopyRecord) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if _, _, err := t.LeaderCursor(c.LeaderID); err != nil {
		return err
	}
	c.At = norm(orNow(c.At, t.now))
	c.LeaderTime = norm(c.LeaderTime)
	_, err := t.exec(`INSERT INTO polybot_copy_records (user_id, `+copyRecordCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, leader_id, trade_key) DO NOTHING`,
		t.tenant, c.LeaderID, c.TradeKey, sideText(c.LeaderSide), c.LeaderPrice, c.LeaderSize, micros(c.LeaderTime),
		string(c.Instrument.Venue), c.Instrument.Market, c.Instrument.Token, outcomeText(c.Instrument.Outcome), c.Title,
		c.Action, c.Reason, c.OpportunityID, c.Size, c.Price, micros(c.At))
	return dbError(err, "copy record")
}

func (t *tenantTx) CopyRecords(leaderID string, limit int) ([]*polybot.CopyRecord, error) {
	if err := polybot.CheckText("leader_id", leaderID, 0); err != nil {
		return nil, err
	}
	return collect(t.tx, "copy record", scanCopyRecord, `SELECT `+copyRecordCols+` FROM polybot_copy_records
		WHERE user_id = ?1 AND (?2 = '' OR leader_id = ?2) ORDER BY at DESC, seq DESC LIMIT ?3`,
		t.tenant, leaderID, polybot.NewsPageLimit(limit))
}

func (t *tenantTx) CopyPnL(leaderID string) (*polybot.CopyPnL, error) {
	if _, _, err := t.LeaderCursor(leaderID); err != nil {
		return nil, err
	}
	prefix := "copy-" + leaderID + "-"
	rows, err := t.query(`SELECT i.opportunity_id, `+prefixed("f.", fillCols)+`
		FROM polybot_fills f JOIN polybot_order_intents i ON i.user_id = f.user_id AND i.id = f.client_order_id
		WHERE f.user_id = ? AND f.strategy = ? AND substr(i.opportunity_id, 1, length(?)) = ?
		ORDER BY f.seq`, t.tenant, polybot.StrategyCopy, prefix, prefix)
	if err != nil {
		return nil, dbError(err, "fill")
	}
	defer rows.Close()
	var fills []polybot.CopyFill
	for rows.Next() {
		var opp string
		var f *polybot.TradeFill
		f, err := scanFill(prefixScanner{rows, &opp})
		if err != nil {
			return nil, dbError(err, "fill")
		}
		fills = append(fills, polybot.CopyFill{Fill: f, Opportunity: opp})
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "fill")
	}
	return polybot.SumCopyPnL(leaderID, fills), nil
}

// prefixScanner scans one leading column into first, then the rest as
// the wrapped scanner's caller asks.
type prefixScanner struct {
	s     scanner
	first any
}

func (p prefixScanner) Scan(dest ...any) error { return p.s.Scan(append([]any{p.first}, dest...)...) }

func (a *adminTx) FollowedWallets() ([]polybot.FollowedWallet, error) {
	rows, err := a.query(`SELECT address, user_id, id FROM polybot_copy_leaders WHERE enabled = 1
		ORDER BY address, user_id, id`)
	if err != nil {
		return nil, dbError(err, "leader")
	}
	defer rows.Close()
	var addrs []string
	var followers []polybot.WalletFollower
	for rows.Next() {
		var addr string
		var f polybot.WalletFollower
		if err := rows.Scan(&addr, &f.UserID, &f.LeaderID); err != nil {
			return nil, dbError(err, "leader")
		}
		addrs, followers = append(addrs, addr), append(followers, f)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "leader")
	}
	return polybot.GroupFollowers(addrs, followers), nil
}

// prefixed qualifies every column of a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
