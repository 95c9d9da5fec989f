package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// adminTx is a transaction on the service path (role polybot_service, no
// claims). Its policies let it see every tenant's rows in the tables it has
// privileges on; it has none on secrets.
type adminTx struct{ *txn }

var _ polybot.AdminTx = (*adminTx)(nil)

func (t *adminTx) CreateUser(u *polybot.User, p *polybot.Profile, c *polybot.Config) error {
	if u.ID.IsZero() {
		u.ID = polybot.NewID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = t.now
	}
	if err := polybot.CheckNewAccount(u, p, c); err != nil {
		return err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	if p == nil {
		tier, err := t.Tier(polybot.TierFree)
		if err != nil {
			return err
		}
		p = polybot.NewProfile(u.ID, u.Email, tier, u.CreatedAt)
	}
	if c == nil {
		c = polybot.DefaultConfig(u.ID, u.CreatedAt)
	}
	if _, err := t.exec(`INSERT INTO polybot_users (id, email, password_hash, role, disabled, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, uid(u.ID), u.Email, u.PasswordHash, string(u.Role), u.Disabled, u.CreatedAt); err != nil {
		if polybot.ErrorCode(mapErr(err, "")) == polybot.ECONFLICT {
			return &polybot.Error{Code: polybot.ECONFLICT, Message: "a user with this email already exists", Fields: map[string]string{"email": "is already registered"}}
		}
		return mapErr(err, "user")
	}

	p.ID = u.ID
	if p.CreatedAt.IsZero() {
		p.CreatedAt = t.now
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	if p.QuotaMonth == "" {
		p.QuotaMonth = polybot.QuotaMonth(t.now)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if _, err := t.exec(`INSERT INTO polybot_user_profiles (id, display_name, email, subscription_tier,
			subscription_expires_at, monthly_trade_limit, trades_this_month, quota_month,
			max_trade_size_usd, max_daily_loss_usd, max_positions, features_enabled,
			created_at, updated_at, last_active_at, onboarding_completed, accepted_terms_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		uid(p.ID), p.DisplayName, p.Email, p.SubscriptionTier,
		utcPtr(p.SubscriptionExpiresAt), p.MonthlyTradeLimit, p.TradesThisMonth, p.QuotaMonth,
		p.MaxTradeSizeUSD.String(), p.MaxDailyLossUSD.String(), p.MaxPositions, polybot.MarshalFeatures(p.Features),
		p.CreatedAt, p.UpdatedAt, utcPtr(p.LastActiveAt), p.OnboardingCompleted, utcPtr(p.AcceptedTermsAt)); err != nil {
		return mapErr(err, "profile")
	}

	c.UserID = u.ID
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.NotificationChannels = nonNil(c.NotificationChannels)
	channels, err := jsonText(c.NotificationChannels)
	if err != nil {
		return polybot.Internal(err)
	}
	advanced := string(c.AdvancedConfig)
	if advanced == "" {
		advanced = "{}"
	}
	if _, err := t.exec(`INSERT INTO polybot_user_config (user_id, dry_run, min_profit_pct, max_trade_size_usd, max_daily_loss_usd,
			enable_copy_trading, enable_single_platform_arb, enable_cross_platform_arb, enable_overlapping_arb, enable_news_arbitrage,
			enable_polymarket, enable_kalshi, enable_alpaca, enable_ibkr,
			notify_on_trade, notify_on_opportunity, notify_daily_summary, notification_channels, advanced_config,
			created_at, updated_at, timezone)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		uid(c.UserID), c.DryRun, c.MinProfitPct.String(), c.MaxTradeSizeUSD.String(), c.MaxDailyLossUSD.String(),
		c.EnableCopyTrading, c.EnableSinglePlatformArb, c.EnableCrossPlatformArb, c.EnableOverlappingArb, c.EnableNewsArbitrage,
		c.EnablePolymarket, c.EnableKalshi, c.EnableAlpaca, c.EnableIBKR,
		c.NotifyOnTrade, c.NotifyOnOpportunity, c.NotifyDailySummary, channels, advanced,
		c.CreatedAt, c.UpdatedAt, timezoneOr(c.Timezone)); err != nil {
		return mapErr(err, "config")
	}
	return nil
}

func (t *adminTx) UserByID(id polybot.ID) (*polybot.User, error) {
	return t.user(`SELECT `+userColumns+` FROM polybot_users WHERE id = $1`, uid(id))
}

func (t *adminTx) UserByEmail(email string) (*polybot.User, error) {
	return t.user(`SELECT `+userColumns+` FROM polybot_users WHERE email = $1`, email)
}

func (t *adminTx) user(sql string, arg any) (*polybot.User, error) {
	u := &polybot.User{}
	dest, finish := userDest(u)
	if err := t.queryRow(sql, []any{arg}, dest...); err != nil {
		return nil, mapErr(err, "user")
	}
	finish()
	return u, nil
}

// Users pages through users in order of creation. The cursor is the email
// of the last user of the previous page.
func (t *adminTx) Users(after string, limit int) ([]*polybot.UserSummary, error) {
	if err := polybot.CheckText("after", after, 254); err != nil {
		return nil, err
	}
	out := []*polybot.UserSummary{}
	_, err := t.query(`SELECT u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at, `+profileColumns+`
		FROM polybot_users u JOIN polybot_user_profiles p ON p.id = u.id
		WHERE $1 = '' OR (u.created_at, u.id) > (SELECT c.created_at, c.id FROM polybot_users c WHERE c.email = $1)
		ORDER BY u.created_at, u.id
		LIMIT $2`, []any{after, clampLimit(limit)}, func(r pgx.Rows) error {
		s := &polybot.UserSummary{}
		udest, ufinish := userDest(&s.User)
		pdest, pfinish := profileDest(&s.Profile)
		if err := r.Scan(append(udest, pdest...)...); err != nil {
			return err
		}
		ufinish()
		if err := pfinish(); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return out, nil
}

func (t *adminTx) SetUserRole(id polybot.ID, role polybot.Role) error {
	if !role.Valid() {
		return polybot.FieldError("role", "must be user or admin")
	}
	return t.updateOne("user", `UPDATE polybot_users SET role = $2 WHERE id = $1`, uid(id), string(role))
}

func (t *adminTx) SetUserDisabled(id polybot.ID, disabled bool) error {
	return t.updateOne("user", `UPDATE polybot_users SET disabled = $2 WHERE id = $1`, uid(id), disabled)
}

func (t *adminTx) SetUserTier(id polybot.ID, tier string) error {
	n, err := t.exec(`UPDATE polybot_user_profiles p SET
			subscription_tier = tr.name,
			monthly_trade_limit = tr.monthly_trade_limit,
			max_trade_size_usd = tr.max_trade_size_usd,
			max_daily_loss_usd = tr.max_daily_loss_usd,
			max_positions = tr.max_positions,
			features_enabled = tr.features,
			updated_at = $3
		FROM polybot_tiers tr
		WHERE p.id = $1 AND tr.name = $2`, uid(id), tier, t.now)
	if err != nil {
		return mapErr(err, "profile")
	}
	if n == 1 {
		return nil
	}
	if _, err := t.Tier(tier); err != nil {
		return err
	}
	return polybot.NotFound("user")
}

const tierColumns = `name, display_name, price_usd_monthly::text, monthly_trade_limit,
	max_trade_size_usd::text, max_daily_loss_usd::text, max_positions, features::text, updated_at`

func scanTier(r pgx.Rows) (*polybot.Tier, error) {
	tr := &polybot.Tier{}
	var price, tradeSize, dailyLoss, features string
	err := r.Scan(&tr.Name, &tr.DisplayName, &price, &tr.MonthlyTradeLimit, &tradeSize, &dailyLoss, &tr.MaxPositions, &features, &tr.UpdatedAt)
	if err == nil {
		tr.PriceUSDMonthly, err = polybot.ParseDecimal(price)
	}
	if err == nil {
		tr.MaxTradeSizeUSD, err = polybot.ParseDecimal(tradeSize)
	}
	if err == nil {
		tr.MaxDailyLossUSD, err = polybot.ParseDecimal(dailyLoss)
	}
	if err == nil {
		tr.Features, err = polybot.UnmarshalFeatures(features)
	}
	tr.UpdatedAt = tr.UpdatedAt.UTC()
	return tr, err
}

func (t *adminTx) Tiers() ([]*polybot.Tier, error) {
	out := []*polybot.Tier{}
	_, err := t.query(`SELECT `+tierColumns+` FROM polybot_tiers ORDER BY price_usd_monthly, name`, nil, func(r pgx.Rows) error {
		tr, err := scanTier(r)
		if err == nil {
			out = append(out, tr)
		}
		return err
	})
	if err != nil {
		return nil, mapErr(err, "tier")
	}
	return out, nil
}

func (t *adminTx) Tier(name string) (*polybot.Tier, error) {
	if err := polybot.CheckTierName(name); err != nil {
		return nil, err
	}
	var tr *polybot.Tier
	_, err := t.query(`SELECT `+tierColumns+` FROM polybot_tiers WHERE name = $1`, []any{name}, func(r pgx.Rows) (err error) {
		tr, err = scanTier(r)
		return err
	})
	if err == nil && tr == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "tier")
	}
	return tr, nil
}

// PutTier upserts a tier and copies its limits onto every profile on it,
// in the same transaction.
func (t *adminTx) PutTier(tr *polybot.Tier) error {
	if err := tr.Validate(); err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO polybot_tiers AS tr (name, display_name, price_usd_monthly, monthly_trade_limit,
			max_trade_size_usd, max_daily_loss_usd, max_positions, features, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (name) DO UPDATE SET
			display_name = excluded.display_name,
			price_usd_monthly = excluded.price_usd_monthly,
			monthly_trade_limit = excluded.monthly_trade_limit,
			max_trade_size_usd = excluded.max_trade_size_usd,
			max_daily_loss_usd = excluded.max_daily_loss_usd,
			max_positions = excluded.max_positions,
			features = excluded.features,
			updated_at = excluded.updated_at`,
		tr.Name, tr.DisplayName, tr.PriceUSDMonthly.String(), tr.MonthlyTradeLimit,
		tr.MaxTradeSizeUSD.String(), tr.MaxDailyLossUSD.String(), tr.MaxPositions, polybot.MarshalFeatures(tr.Features), t.now); err != nil {
		return mapErr(err, "tier")
	}
	tr.UpdatedAt = t.now
	if _, err := t.exec(`UPDATE polybot_user_profiles p SET
			monthly_trade_limit = tr.monthly_trade_limit,
			max_trade_size_usd = tr.max_trade_size_usd,
			max_daily_loss_usd = tr.max_daily_loss_usd,
			max_positions = tr.max_positions,
			features_enabled = tr.features,
			updated_at = $2
		FROM polybot_tiers tr
		WHERE tr.name = $1 AND p.subscription_tier = tr.name`, tr.Name, t.now); err != nil {
		return mapErr(err, "profile")
	}
	return nil
}

// sessionDest returns the scan destinations for a session's id, user_id,
// csrf_token, created_at, expires_at and last_seen_at, and a function that
// finishes the session once scanned.
func sessionDest(s *polybot.Session) ([]any, func()) {
	return []any{&s.ID, (*[16]byte)(&s.UserID), &s.CSRFToken, &s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt}, func() {
		s.CreatedAt, s.ExpiresAt, s.LastSeenAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), s.LastSeenAt.UTC()
	}
}

func (t *adminTx) SessionByID(id string) (*polybot.Session, error) {
	s := &polybot.Session{}
	dest, finish := sessionDest(s)
	err := t.queryRow(`SELECT id, user_id, csrf_token, created_at, expires_at, last_seen_at
		FROM polybot_sessions WHERE id = $1 AND expires_at > $2`, []any{id, t.now}, dest...)
	if err != nil {
		return nil, mapErr(err, "session")
	}
	finish()
	return s, nil
}

// SessionUser is SessionByID and UserByID in one query: in a transaction
// that has run nothing yet it travels in the batch with BEGIN, so the whole
// look-up costs that batch and COMMIT. polybot_service reads both tables
// through their service_all policies.
func (t *adminTx) SessionUser(id string) (*polybot.Session, *polybot.User, error) {
	s, u := &polybot.Session{}, &polybot.User{}
	sdest, sfinish := sessionDest(s)
	udest, ufinish := userDest(u)
	err := t.queryRow(`SELECT s.id, s.user_id, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at,
			u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at
		FROM polybot_sessions s JOIN polybot_users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.expires_at > $2`, []any{id, t.now}, append(sdest, udest...)...)
	if err != nil {
		return nil, nil, mapErr(err, "session")
	}
	sfinish()
	ufinish()
	return s, u, nil
}

func (t *adminTx) TouchSession(id string, seen, expires time.Time) error {
	return t.updateOne("session", `UPDATE polybot_sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1`,
		id, seen.UTC(), expires.UTC())
}

func (t *adminTx) UserSessions(user polybot.ID) ([]*polybot.Session, error) {
	out := []*polybot.Session{}
	_, err := t.query(`SELECT id, user_id, csrf_token, created_at, expires_at, last_seen_at
		FROM polybot_sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC`,
		[]any{uid(user), t.now}, func(r pgx.Rows) error {
			s := &polybot.Session{}
			dest, finish := sessionDest(s)
			if err := r.Scan(dest...); err != nil {
				return err
			}
			finish()
			out = append(out, s)
			return nil
		})
	if err != nil {
		return nil, mapErr(err, "session")
	}
	return out, nil
}

func (t *adminTx) DeleteUserSessions(user polybot.ID, except string) (int, error) {
	n, err := t.exec(`DELETE FROM polybot_sessions WHERE user_id = $1 AND id <> $2`, uid(user), except)
	return int(n), mapErr(err, "session")
}

func (t *adminTx) SetUserPassword(id polybot.ID, hash string) error {
	if hash == "" {
		return polybot.FieldError("password", "is required")
	}
	return t.updateOne("user", `UPDATE polybot_users SET password_hash = $2 WHERE id = $1`, uid(id), hash)
}

func (t *adminTx) DeleteExpiredSessions() (int, error) {
	n, err := t.exec(`DELETE FROM polybot_sessions WHERE expires_at <= $1`, t.now)
	return int(n), mapErr(err, "session")
}

func (t *adminTx) APITokenByHash(hash string) (*polybot.APIToken, error) {
	var k *polybot.APIToken
	_, err := t.query(`SELECT `+apiTokenColumns+` FROM polybot_api_tokens
		WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)`, []any{hash, t.now}, func(r pgx.Rows) error {
		k = &polybot.APIToken{}
		return scanAPIToken(r, k)
	})
	if err == nil && k == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "API token")
	}
	return k, nil
}

// APITokenUser is APITokenByHash and UserByID in one query (see SessionUser).
func (t *adminTx) APITokenUser(hash string) (*polybot.APIToken, *polybot.User, error) {
	k, u := &polybot.APIToken{}, &polybot.User{}
	kdest, kfinish := apiTokenDest(k)
	udest, ufinish := userDest(u)
	err := t.queryRow(`SELECT k.id, k.user_id, k.name, k.token_hash, k.prefix, k.created_at, k.last_used_at, k.expires_at,
			u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at
		FROM polybot_api_tokens k JOIN polybot_users u ON u.id = k.user_id
		WHERE k.token_hash = $1 AND (k.expires_at IS NULL OR k.expires_at > $2)`, []any{hash, t.now}, append(kdest, udest...)...)
	if err != nil {
		return nil, nil, mapErr(err, "API token")
	}
	kfinish()
	ufinish()
	return k, u, nil
}

func (t *adminTx) TouchAPIToken(id polybot.ID, at time.Time) error {
	return t.updateOne("API token", `UPDATE polybot_api_tokens SET last_used_at = $2 WHERE id = $1`, uid(id), at.UTC())
}

func (t *adminTx) DataKeys() ([]*polybot.DataKey, error) {
	out := []*polybot.DataKey{}
	_, err := t.query(`SELECT `+dataKeyColumns+` FROM polybot_user_data_keys ORDER BY user_id`, nil, func(r pgx.Rows) error {
		k := &polybot.DataKey{}
		if err := scanDataKey(r, k); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "data key")
	}
	return out, nil
}

// ReplaceDataKey is a compare-and-swap on the wrapped key.
func (t *adminTx) ReplaceDataKey(k *polybot.DataKey, oldWrapped []byte) error {
	rotated := t.now
	if !k.RotatedAt.IsZero() {
		rotated = k.RotatedAt.UTC()
	}
	var created time.Time
	err := t.queryRow(`UPDATE polybot_user_data_keys SET master_key_id = $2, wrapped = $3, rotated_at = $4
		WHERE user_id = $1 AND wrapped = $5
		RETURNING created_at`, []any{uid(k.UserID), k.MasterKeyID, k.Wrapped, rotated, oldWrapped}, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		var one int
		if err := t.queryRow(`SELECT 1 FROM polybot_user_data_keys WHERE user_id = $1`, []any{uid(k.UserID)}, &one); err != nil {
			return mapErr(err, "data key")
		}
		return polybot.Errorf(polybot.ECONFLICT, "the data key changed since it was read")
	}
	if err != nil {
		return mapErr(err, "data key")
	}
	k.CreatedAt, k.RotatedAt = created.UTC(), rotated
	return nil
}

func (t *adminTx) AppendAudit(e *polybot.AuditEntry) error { return appendAudit(t.txn, e) }

func (t *adminTx) AuditEntries(after int64, limit int) ([]*polybot.AuditEntry, error) {
	out := []*polybot.AuditEntry{}
	_, err := t.query(`SELECT `+auditColumns+` FROM polybot_audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
		[]any{after, clampLimit(limit)}, func(r pgx.Rows) error {
			e, err := scanAudit(r)
			if err == nil {
				out = append(out, e)
			}
			return err
		})
	if err != nil {
		return nil, mapErr(err, "audit entry")
	}
	return out, nil
}

func (t *adminTx) AuditHead() (int64, string, error) {
	var seq int64
	var hash string
	err := t.queryRow(`SELECT seq, hash FROM polybot_audit_head WHERE id = 1`, nil, &seq, &hash)
	return seq, hash, mapErr(err, "audit head")
}

func (t *adminTx) ActiveUserIDs() ([]polybot.ID, error) {
	out := []polybot.ID{}
	_, err := t.query(`SELECT id FROM polybot_users WHERE NOT disabled ORDER BY created_at, id`, nil, func(r pgx.Rows) error {
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

// updateOne runs an UPDATE that must touch exactly one row; none is ENOTFOUND.
func (t *adminTx) updateOne(what, sql string, args ...any) error {
	n, err := t.exec(sql, args...)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, what)
}
