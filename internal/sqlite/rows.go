package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/polybot/polybot"
)

// Column lists and the scanners that read them, shared by tenant and admin
// transactions.

const userCols = `id, email, password_hash, role, disabled, created_at`

func scanUser(s scanner) (*polybot.User, error) {
	var u polybot.User
	if err := s.Scan(userDest(&u)...); err != nil {
		return nil, err
	}
	return &u, nil
}

// userDest are the scan destinations of userCols.
func userDest(u *polybot.User) []any {
	return []any{&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Disabled, timeCol{&u.CreatedAt}}
}

const profileCols = `id, display_name, email, subscription_tier, subscription_expires_at, monthly_trade_limit,
	trades_this_month, quota_month, max_trade_size_usd, max_daily_loss_usd, max_positions, features_enabled,
	created_at, updated_at, last_active_at, onboarding_completed, accepted_terms_at`

func scanProfile(s scanner) (*polybot.Profile, error) {
	var p polybot.Profile
	var features string
	err := s.Scan(&p.ID, &p.DisplayName, &p.Email, &p.SubscriptionTier, nullTimeCol{&p.SubscriptionExpiresAt},
		&p.MonthlyTradeLimit, &p.TradesThisMonth, &p.QuotaMonth, &p.MaxTradeSizeUSD, &p.MaxDailyLossUSD,
		&p.MaxPositions, &features, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, nullTimeCol{&p.LastActiveAt},
		&p.OnboardingCompleted, nullTimeCol{&p.AcceptedTermsAt})
	if err != nil {
		return nil, err
	}
	if p.Features, err = polybot.UnmarshalFeatures(features); err != nil {
		return nil, fmt.Errorf("profile features_enabled: %w", err)
	}
	return &p, nil
}

const configCols = `user_id, dry_run, min_profit_pct, max_trade_size_usd, max_daily_loss_usd,
	enable_copy_trading, enable_single_platform_arb, enable_cross_platform_arb, enable_overlapping_arb,
	enable_news_arbitrage, enable_polymarket, enable_kalshi, enable_alpaca, enable_ibkr,
	notify_on_trade, notify_on_opportunity, notify_daily_summary, notification_channels,
	advanced_config, timezone, created_at, updated_at`

func scanConfig(s scanner) (*polybot.Config, error) {
	var c polybot.Config
	var channels, advanced string
	err := s.Scan(&c.UserID, &c.DryRun, &c.MinProfitPct, &c.MaxTradeSizeUSD, &c.MaxDailyLossUSD,
		&c.EnableCopyTrading, &c.EnableSinglePlatformArb, &c.EnableCrossPlatformArb, &c.EnableOverlappingArb,
		&c.EnableNewsArbitrage, &c.EnablePolymarket, &c.EnableKalshi, &c.EnableAlpaca, &c.EnableIBKR,
		&c.NotifyOnTrade, &c.NotifyOnOpportunity, &c.NotifyDailySummary, &channels,
		&advanced, &c.Timezone, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	if err != nil {
		return nil, err
	}
	c.NotificationChannels = []string{}
	if err := json.Unmarshal([]byte(channels), &c.NotificationChannels); err != nil {
		return nil, fmt.Errorf("config notification_channels: %w", err)
	}
	c.AdvancedConfig = json.RawMessage(advanced)
	return &c, nil
}

// configArgs are the stored values of c's settable fields, in the order of
// the UPDATE in UpdateConfig and the INSERT in CreateUser.
func configArgs(c *polybot.Config) []any {
	channels := c.NotificationChannels
	if channels == nil {
		channels = []string{}
	}
	ch, _ := json.Marshal(channels)
	advanced := string(c.AdvancedConfig)
	if advanced == "" {
		advanced = "{}"
	}
	return []any{c.DryRun, c.MinProfitPct, c.MaxTradeSizeUSD, c.MaxDailyLossUSD,
		c.EnableCopyTrading, c.EnableSinglePlatformArb, c.EnableCrossPlatformArb, c.EnableOverlappingArb,
		c.EnableNewsArbitrage, c.EnablePolymarket, c.EnableKalshi, c.EnableAlpaca, c.EnableIBKR,
		c.NotifyOnTrade, c.NotifyOnOpportunity, c.NotifyDailySummary, string(ch), advanced, timezoneOr(c.Timezone)}
}

// timezoneOr stores "" as UTC.
func timezoneOr(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

const secretCols = `id, user_id, platform, is_paper, is_active, api_key_encrypted, api_secret_encrypted,
	private_key_encrypted, passphrase_encrypted, additional_config, fingerprint, validation_status,
	last_validated_at, created_at, updated_at`

func scanSecret(s scanner) (*polybot.Secret, error) {
	var sec polybot.Secret
	var sealed [4]*string
	var additional *string
	err := s.Scan(&sec.ID, &sec.UserID, &sec.Platform, &sec.Paper, &sec.Active, &sealed[0], &sealed[1],
		&sealed[2], &sealed[3], &additional, &sec.Fingerprint, &sec.ValidationStatus,
		nullTimeCol{&sec.LastValidatedAt}, timeCol{&sec.CreatedAt}, timeCol{&sec.UpdatedAt})
	if err != nil {
		return nil, err
	}
	sec.Sealed = make(map[string]string, 4)
	for i, f := range sealedFields {
		if sealed[i] != nil && *sealed[i] != "" {
			sec.Sealed[f] = *sealed[i]
		}
	}
	if additional != nil {
		sec.AdditionalConfig = json.RawMessage(*additional)
	}
	return &sec, nil
}

// sealedFields are the secret fields in the column order of secretCols.
var sealedFields = [4]string{polybot.FieldAPIKey, polybot.FieldAPISecret, polybot.FieldPrivateKey, polybot.FieldPassphrase}

const dataKeyCols = `user_id, master_key_id, wrapped, created_at, rotated_at`

func scanDataKey(s scanner) (*polybot.DataKey, error) {
	var k polybot.DataKey
	if err := s.Scan(&k.UserID, &k.MasterKeyID, &k.Wrapped, timeCol{&k.CreatedAt}, timeCol{&k.RotatedAt}); err != nil {
		return nil, err
	}
	return &k, nil
}

const sessionCols = `id, user_id, csrf_token, created_at, expires_at, last_seen_at`

func scanSession(s scanner) (*polybot.Session, error) {
	var x polybot.Session
	if err := s.Scan(sessionDest(&x)...); err != nil {
		return nil, err
	}
	return &x, nil
}

// sessionDest are the scan destinations of sessionCols.
func sessionDest(x *polybot.Session) []any {
	return []any{&x.ID, &x.UserID, &x.CSRFToken, timeCol{&x.CreatedAt}, timeCol{&x.ExpiresAt}, timeCol{&x.LastSeenAt}}
}

const tokenCols = `id, user_id, name, token_hash, prefix, created_at, last_used_at, expires_at`

func scanToken(s scanner) (*polybot.APIToken, error) {
	var x polybot.APIToken
	if err := s.Scan(tokenDest(&x)...); err != nil {
		return nil, err
	}
	return &x, nil
}

// tokenDest are the scan destinations of tokenCols.
func tokenDest(x *polybot.APIToken) []any {
	return []any{&x.ID, &x.UserID, &x.Name, &x.Hash, &x.Prefix, timeCol{&x.CreatedAt},
		nullTimeCol{&x.LastUsedAt}, nullTimeCol{&x.ExpiresAt}}
}

const auditCols = `seq, user_id, actor, action, target, details, created_at, prev_hash, hash`

func scanAudit(s scanner) (*polybot.AuditEntry, error) {
	var e polybot.AuditEntry
	var user *string
	if err := s.Scan(&e.Seq, &user, &e.Actor, &e.Action, &e.Target, &e.Details, timeCol{&e.CreatedAt},
		&e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	if user != nil {
		id, err := polybot.ParseID(*user)
		if err != nil {
			return nil, err
		}
		e.UserID = &id
	}
	return &e, nil
}

const tierCols = `name, display_name, price_usd_monthly, monthly_trade_limit, max_trade_size_usd,
	max_daily_loss_usd, max_positions, features, updated_at`

func scanTier(s scanner) (*polybot.Tier, error) {
	var t polybot.Tier
	var features string
	err := s.Scan(&t.Name, &t.DisplayName, &t.PriceUSDMonthly, &t.MonthlyTradeLimit, &t.MaxTradeSizeUSD,
		&t.MaxDailyLossUSD, &t.MaxPositions, &features, timeCol{&t.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if t.Features, err = polybot.UnmarshalFeatures(features); err != nil {
		return nil, fmt.Errorf("tier features: %w", err)
	}
	return &t, nil
}

// collect reads every row of a query with scan.
func collect[T any](t *tx, what string, scan func(scanner) (*T, error), q string, args ...any) ([]*T, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbError(err, what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return out, nil
}

// one reads the single row of a query with scan (ENOTFOUND if none).
func one[T any](t *tx, what string, scan func(scanner) (*T, error), q string, args ...any) (*T, error) {
	v, err := scan(t.queryRow(q, args...))
	if err != nil {
		return nil, dbError(err, what)
	}
	return v, nil
}

// appendAudit seals e onto the chain and stores it. The write connection is
// serialised, so reading the head and moving it cannot race; the head's
// guarded UPDATE would catch it if it ever did.
func (t *tx) appendAudit(e *polybot.AuditEntry) error {
	if err := t.writable(); err != nil {
		return err
	}
	if e.Action == "" {
		return polybot.FieldError("action", "is required")
	}
	var seq int64
	var hash string
	if err := t.queryRow(`SELECT seq, hash FROM polybot_audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return polybot.Internal(fmt.Errorf("read audit head: %w", err))
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = t.now
	}
	if err := e.Seal(seq, hash, t.db.key()); err != nil {
		return err
	}
	var user any
	if e.UserID != nil {
		user = e.UserID.String()
	}
	if _, err := t.exec(`INSERT INTO polybot_audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, user, e.Actor, e.Action, e.Target, e.Details, micros(e.CreatedAt), e.PrevHash, e.Hash); err != nil {
		return polybot.Internal(fmt.Errorf("append audit entry %d: %w", e.Seq, err))
	}
	ok, err := t.affected(`UPDATE polybot_audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`, e.Seq, e.Hash, seq)
	if err != nil {
		return polybot.Internal(fmt.Errorf("move audit head to %d: %w", e.Seq, err))
	}
	if !ok {
		return polybot.Internal(fmt.Errorf("audit head moved during append of %d", e.Seq))
	}
	return nil
}

const auditKeyCols = `master_key_id, wrapped, created_at, rotated_at, resealed`

func scanAuditKey(s scanner) (*polybot.AuditKeyRecord, error) {
	var k polybot.AuditKeyRecord
	if err := s.Scan(&k.MasterKeyID, &k.Wrapped, timeCol{&k.CreatedAt}, timeCol{&k.RotatedAt}, &k.Resealed); err != nil {
		return nil, err
	}
	return &k, nil
}

// orNow is t normalised, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return norm(t)
}
