package postgres

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/polybot/polybot"
)

// tenantTx is a transaction as one tenant. Row-level security confines it
// to the tenant's rows; every query also names the tenant, so a mistake in
// either alone leaks nothing.
type tenantTx struct {
	*txn
	tenant polybot.ID
}

var _ polybot.TenantTx = (*tenantTx)(nil)

func (t *tenantTx) Tenant() polybot.ID { return t.tenant }

const userColumns = `id, email, password_hash, role, disabled, created_at`

// userDest returns the scan destinations for userColumns and a function
// that finishes the user once scanned.
func userDest(u *polybot.User) ([]any, func()) {
	var role string
	return []any{(*[16]byte)(&u.ID), &u.Email, &u.PasswordHash, &role, &u.Disabled, &u.CreatedAt}, func() {
		u.Role = polybot.Role(role)
		u.CreatedAt = u.CreatedAt.UTC()
	}
}

func (t *tenantTx) User() (*polybot.User, error) {
	u := &polybot.User{}
	dest, finish := userDest(u)
	if err := t.queryRow(`SELECT `+userColumns+` FROM polybot_users WHERE id = $1`, []any{uid(t.tenant)}, dest...); err != nil {
		return nil, mapErr(err, "user")
	}
	finish()
	return u, nil
}

const profileColumns = `p.id, coalesce(p.display_name, ''), coalesce(p.email, ''), p.subscription_tier,
	p.subscription_expires_at, p.monthly_trade_limit, p.trades_this_month, p.quota_month,
	p.max_trade_size_usd::text, p.max_daily_loss_usd::text, p.max_positions, p.features_enabled::text,
	p.created_at, p.updated_at, p.last_active_at, p.onboarding_completed, p.accepted_terms_at`

// profileDest returns the scan destinations for profileColumns and a
// function that finishes the profile once scanned.
func profileDest(p *polybot.Profile) ([]any, func() error) {
	var tradeSize, dailyLoss, features string
	dest := []any{(*[16]byte)(&p.ID), &p.DisplayName, &p.Email, &p.SubscriptionTier,
		&p.SubscriptionExpiresAt, &p.MonthlyTradeLimit, &p.TradesThisMonth, &p.QuotaMonth,
		&tradeSize, &dailyLoss, &p.MaxPositions, &features,
		&p.CreatedAt, &p.UpdatedAt, &p.LastActiveAt, &p.OnboardingCompleted, &p.AcceptedTermsAt}
	return dest, func() error {
		var err error
		if p.MaxTradeSizeUSD, err = polybot.ParseDecimal(tradeSize); err != nil {
			return err
		}
		if p.MaxDailyLossUSD, err = polybot.ParseDecimal(dailyLoss); err != nil {
			return err
		}
		if p.Features, err = polybot.UnmarshalFeatures(features); err != nil {
			return err
		}
		p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
		p.SubscriptionExpiresAt = utcPtr(p.SubscriptionExpiresAt)
		p.LastActiveAt = utcPtr(p.LastActiveAt)
		p.AcceptedTermsAt = utcPtr(p.AcceptedTermsAt)
		return nil
	}
}

func (t *tenantTx) Profile() (*polybot.Profile, error) {
	p := &polybot.Profile{}
	dest, finish := profileDest(p)
	err := t.queryRow(`SELECT `+profileColumns+` FROM polybot_user_profiles p WHERE p.id = $1`, []any{uid(t.tenant)}, dest...)
	if err == nil {
		err = finish()
	}
	if err != nil {
		return nil, mapErr(err, "profile")
	}
	return p, nil
}

func (t *tenantTx) UpdateProfile(p *polybot.Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	n, err := t.exec(`UPDATE polybot_user_profiles
		SET display_name = $2, onboarding_completed = $3, accepted_terms_at = $4, updated_at = $5
		WHERE id = $1`,
		uid(t.tenant), p.DisplayName, p.OnboardingCompleted, utcPtr(p.AcceptedTermsAt), t.now)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return mapErr(err, "profile")
	}
	p.UpdatedAt = t.now
	return nil
}

func (t *tenantTx) TouchLastActive() error {
	n, err := t.exec(`UPDATE polybot_user_profiles SET last_active_at = $2 WHERE id = $1`, uid(t.tenant), t.now)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, "profile")
}

const configColumns = `user_id, dry_run, min_profit_pct::text, max_trade_size_usd::text, max_daily_loss_usd::text,
	enable_copy_trading, enable_single_platform_arb, enable_cross_platform_arb, enable_overlapping_arb, enable_news_arbitrage,
	enable_polymarket, enable_kalshi, enable_alpaca, enable_ibkr,
	notify_on_trade, notify_on_opportunity, notify_daily_summary, notification_channels::text, advanced_config::text,
	timezone, created_at, updated_at`

func (t *tenantTx) Config() (*polybot.Config, error) {
	c := &polybot.Config{}
	var minProfit, tradeSize, dailyLoss, channels, advanced string
	err := t.queryRow(`SELECT `+configColumns+` FROM polybot_user_config WHERE user_id = $1`, []any{uid(t.tenant)},
		(*[16]byte)(&c.UserID), &c.DryRun, &minProfit, &tradeSize, &dailyLoss,
		&c.EnableCopyTrading, &c.EnableSinglePlatformArb, &c.EnableCrossPlatformArb, &c.EnableOverlappingArb, &c.EnableNewsArbitrage,
		&c.EnablePolymarket, &c.EnableKalshi, &c.EnableAlpaca, &c.EnableIBKR,
		&c.NotifyOnTrade, &c.NotifyOnOpportunity, &c.NotifyDailySummary, &channels, &advanced,
		&c.Timezone, &c.CreatedAt, &c.UpdatedAt)
	if err == nil {
		if c.MinProfitPct, err = polybot.ParseDecimal(minProfit); err == nil {
			if c.MaxTradeSizeUSD, err = polybot.ParseDecimal(tradeSize); err == nil {
				c.MaxDailyLossUSD, err = polybot.ParseDecimal(dailyLoss)
			}
		}
	}
	if err == nil {
		err = json.Unmarshal([]byte(channels), &c.NotificationChannels)
	}
	if err != nil {
		return nil, mapErr(err, "config")
	}
	if c.NotificationChannels == nil {
		c.NotificationChannels = []string{}
	}
	c.AdvancedConfig = json.RawMessage(advanced)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

func (t *tenantTx) UpdateConfig(c *polybot.Config) error {
	if err := c.CheckStorable(); err != nil {
		return err
	}
	channels, err := json.Marshal(nonNil(c.NotificationChannels))
	if err != nil {
		return polybot.Internal(err)
	}
	advanced := string(c.AdvancedConfig)
	if len(c.AdvancedConfig) == 0 {
		advanced = "{}"
	}
	var created time.Time
	err = t.queryRow(`UPDATE polybot_user_config SET
			dry_run = $2, min_profit_pct = $3, max_trade_size_usd = $4, max_daily_loss_usd = $5,
			enable_copy_trading = $6, enable_single_platform_arb = $7, enable_cross_platform_arb = $8,
			enable_overlapping_arb = $9, enable_news_arbitrage = $10,
			enable_polymarket = $11, enable_kalshi = $12, enable_alpaca = $13, enable_ibkr = $14,
			notify_on_trade = $15, notify_on_opportunity = $16, notify_daily_summary = $17,
			notification_channels = $18, advanced_config = $19, updated_at = $20, timezone = $21
		WHERE user_id = $1
		RETURNING created_at`,
		[]any{uid(t.tenant), c.DryRun, c.MinProfitPct.String(), c.MaxTradeSizeUSD.String(), c.MaxDailyLossUSD.String(),
			c.EnableCopyTrading, c.EnableSinglePlatformArb, c.EnableCrossPlatformArb,
			c.EnableOverlappingArb, c.EnableNewsArbitrage,
			c.EnablePolymarket, c.EnableKalshi, c.EnableAlpaca, c.EnableIBKR,
			c.NotifyOnTrade, c.NotifyOnOpportunity, c.NotifyDailySummary,
			string(channels), advanced, t.now, timezoneOr(c.Timezone)},
		&created)
	if err != nil {
		return mapErr(err, "config")
	}
	c.UserID, c.CreatedAt, c.UpdatedAt = t.tenant, created.UTC(), t.now
	return nil
}

// timezoneOr stores "" as UTC.
func timezoneOr(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const secretColumns = `id, user_id, platform, is_paper, is_active,
	api_key_encrypted, api_secret_encrypted, private_key_encrypted, passphrase_encrypted,
	additional_config::text, fingerprint, validation_status, last_validated_at, created_at, updated_at`

func scanSecret(r pgx.Rows) (*polybot.Secret, error) {
	s := &polybot.Secret{}
	var platform string
	var sealed [4]pgtype.Text
	var additional pgtype.Text
	err := r.Scan(&s.ID, (*[16]byte)(&s.UserID), &platform, &s.Paper, &s.Active,
		&sealed[0], &sealed[1], &sealed[2], &sealed[3],
		&additional, &s.Fingerprint, &s.ValidationStatus, &s.LastValidatedAt, &s.CreatedAt, &s.UpdatedAt)
	if err != nil {
		return nil, err
	}
	s.Platform = polybot.Platform(platform)
	s.Sealed = map[string]string{}
	for i, f := range sealedFields {
		if sealed[i].Valid && sealed[i].String != "" {
			s.Sealed[f] = sealed[i].String
		}
	}
	if additional.Valid {
		s.AdditionalConfig = json.RawMessage(additional.String)
	}
	s.LastValidatedAt = utcPtr(s.LastValidatedAt)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}

// sealedFields are the secret fields in the order of their columns.
var sealedFields = [4]string{polybot.FieldAPIKey, polybot.FieldAPISecret, polybot.FieldPrivateKey, polybot.FieldPassphrase}

func (t *tenantTx) Secrets() ([]*polybot.Secret, error) {
	out := []*polybot.Secret{}
	_, err := t.query(`SELECT `+secretColumns+` FROM polybot_user_secrets WHERE user_id = $1 ORDER BY platform, is_paper`,
		[]any{uid(t.tenant)}, func(r pgx.Rows) error {
			s, err := scanSecret(r)
			if err == nil {
				out = append(out, s)
			}
			return err
		})
	if err != nil {
		return nil, mapErr(err, "secret")
	}
	return out, nil
}

func (t *tenantTx) Secret(platform polybot.Platform, paper bool) (*polybot.Secret, error) {
	var s *polybot.Secret
	_, err := t.query(`SELECT `+secretColumns+` FROM polybot_user_secrets WHERE user_id = $1 AND platform = $2 AND is_paper = $3`,
		[]any{uid(t.tenant), string(platform), paper}, func(r pgx.Rows) (err error) {
			s, err = scanSecret(r)
			return err
		})
	if err == nil && s == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "secret")
	}
	return s, nil
}

func (t *tenantTx) PutSecret(s *polybot.Secret) error {
	var sealed [4]any
	for i, f := range sealedFields {
		if v := s.Sealed[f]; v != "" {
			sealed[i] = v
		}
	}
	for f := range s.Sealed {
		if !isSealedField(f) {
			return polybot.FieldError("sealed", "unknown secret field "+f)
		}
	}
	var additional any
	if len(s.AdditionalConfig) > 0 {
		additional = string(s.AdditionalConfig)
	}
	status := s.ValidationStatus
	if status == "" {
		status = polybot.ValidationPending
	}
	err := t.queryRow(`INSERT INTO polybot_user_secrets AS s (user_id, platform, is_paper, is_active,
			api_key_encrypted, api_secret_encrypted, private_key_encrypted, passphrase_encrypted,
			additional_config, fingerprint, validation_status, last_validated_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
		ON CONFLICT (user_id, platform, is_paper) DO UPDATE SET
			is_active = excluded.is_active,
			api_key_encrypted = excluded.api_key_encrypted,
			api_secret_encrypted = excluded.api_secret_encrypted,
			private_key_encrypted = excluded.private_key_encrypted,
			passphrase_encrypted = excluded.passphrase_encrypted,
			additional_config = excluded.additional_config,
			fingerprint = excluded.fingerprint,
			validation_status = excluded.validation_status,
			last_validated_at = excluded.last_validated_at,
			updated_at = excluded.updated_at
		WHERE s.user_id = $1
		RETURNING id, created_at`,
		[]any{uid(t.tenant), string(s.Platform), s.Paper, s.Active,
			sealed[0], sealed[1], sealed[2], sealed[3],
			additional, s.Fingerprint, status, utcPtr(s.LastValidatedAt), t.now},
		&s.ID, &s.CreatedAt)
	if err != nil {
		return mapErr(err, "secret")
	}
	s.UserID, s.ValidationStatus = t.tenant, status
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), t.now
	return nil
}

func isSealedField(f string) bool {
	for _, s := range sealedFields {
		if s == f {
			return true
		}
	}
	return false
}

func (t *tenantTx) SetSecretValidation(platform polybot.Platform, paper bool, status string, at time.Time) error {
	n, err := t.exec(`UPDATE polybot_user_secrets SET validation_status = $4, last_validated_at = $5, updated_at = $6
		WHERE user_id = $1 AND platform = $2 AND is_paper = $3`,
		uid(t.tenant), string(platform), paper, status, at.UTC(), t.now)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, "secret")
}

func (t *tenantTx) DeleteSecret(platform polybot.Platform, paper bool) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	n, err := t.exec(`DELETE FROM polybot_user_secrets WHERE user_id = $1 AND platform = $2 AND is_paper = $3`,
		uid(t.tenant), string(platform), paper)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, "secret")
}

const dataKeyColumns = `user_id, master_key_id, wrapped, created_at, rotated_at`

func scanDataKey(r pgx.Row, k *polybot.DataKey) error {
	if err := r.Scan((*[16]byte)(&k.UserID), &k.MasterKeyID, &k.Wrapped, &k.CreatedAt, &k.RotatedAt); err != nil {
		return err
	}
	k.CreatedAt, k.RotatedAt = k.CreatedAt.UTC(), k.RotatedAt.UTC()
	return nil
}

func (t *tenantTx) DataKey() (*polybot.DataKey, error) {
	var k *polybot.DataKey
	_, err := t.query(`SELECT `+dataKeyColumns+` FROM polybot_user_data_keys WHERE user_id = $1`, []any{uid(t.tenant)},
		func(r pgx.Rows) error {
			k = &polybot.DataKey{}
			return scanDataKey(r, k)
		})
	if err == nil && k == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return nil, mapErr(err, "data key")
	}
	return k, nil
}

func (t *tenantTx) CreateDataKey(k *polybot.DataKey) error {
	created, rotated := t.now, t.now
	if !k.CreatedAt.IsZero() {
		created = k.CreatedAt.UTC()
	}
	if !k.RotatedAt.IsZero() {
		rotated = k.RotatedAt.UTC()
	}
	if _, err := t.exec(`INSERT INTO polybot_user_data_keys (user_id, master_key_id, wrapped, created_at, rotated_at)
		VALUES ($1, $2, $3, $4, $5)`, uid(t.tenant), k.MasterKeyID, k.Wrapped, created, rotated); err != nil {
		return mapErr(err, "data key")
	}
	k.UserID, k.CreatedAt, k.RotatedAt = t.tenant, created, rotated
	return nil
}

func (t *tenantTx) CreateSession(s *polybot.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.now
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	if _, err := t.exec(`INSERT INTO polybot_sessions (id, user_id, csrf_token, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, s.ID, uid(t.tenant), s.CSRFToken, s.CreatedAt, s.ExpiresAt, s.LastSeenAt); err != nil {
		return mapErr(err, "session")
	}
	s.UserID = t.tenant
	return nil
}

func (t *tenantTx) DeleteSession(id string) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	n, err := t.exec(`DELETE FROM polybot_sessions WHERE id = $1 AND user_id = $2`, id, uid(t.tenant))
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, "session")
}

const apiTokenColumns = `id, user_id, name, token_hash, prefix, created_at, last_used_at, expires_at`

func scanAPIToken(r pgx.Row, k *polybot.APIToken) error {
	dest, finish := apiTokenDest(k)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	finish()
	return nil
}

// apiTokenDest returns the scan destinations for apiTokenColumns and a
// function that finishes the token once scanned.
func apiTokenDest(k *polybot.APIToken) ([]any, func()) {
	return []any{(*[16]byte)(&k.ID), (*[16]byte)(&k.UserID), &k.Name, &k.Hash, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt}, func() {
		k.CreatedAt = k.CreatedAt.UTC()
		k.LastUsedAt, k.ExpiresAt = utcPtr(k.LastUsedAt), utcPtr(k.ExpiresAt)
	}
}

func (t *tenantTx) APITokens() ([]*polybot.APIToken, error) {
	out := []*polybot.APIToken{}
	_, err := t.query(`SELECT `+apiTokenColumns+` FROM polybot_api_tokens WHERE user_id = $1 ORDER BY created_at, id`,
		[]any{uid(t.tenant)}, func(r pgx.Rows) error {
			k := &polybot.APIToken{}
			if err := scanAPIToken(r, k); err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	if err != nil {
		return nil, mapErr(err, "API token")
	}
	return out, nil
}

func (t *tenantTx) CreateAPIToken(k *polybot.APIToken) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if k.ID.IsZero() {
		k.ID = polybot.NewID()
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = t.now
	}
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt = k.CreatedAt.UTC(), utcPtr(k.ExpiresAt), utcPtr(k.LastUsedAt)
	if _, err := t.exec(`INSERT INTO polybot_api_tokens (id, user_id, name, token_hash, prefix, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		uid(k.ID), uid(t.tenant), k.Name, k.Hash, k.Prefix, k.CreatedAt, k.LastUsedAt, k.ExpiresAt); err != nil {
		return mapErr(err, "API token")
	}
	k.UserID = t.tenant
	return nil
}

func (t *tenantTx) DeleteAPIToken(id polybot.ID) error {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	n, err := t.exec(`DELETE FROM polybot_api_tokens WHERE id = $1 AND user_id = $2`, uid(id), uid(t.tenant))
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, "API token")
}

func (t *tenantTx) AppendAudit(e *polybot.AuditEntry) error {
	t.as = TenantAppRole // only the application appends: a tenant's SQL session cannot forge entries
	defer func() { t.as = "" }()
	id := t.tenant
	e.UserID = &id
	return appendAudit(t.txn, e)
}

func (t *tenantTx) AuditTrail(before int64, limit int) ([]*polybot.AuditEntry, error) {
	out := []*polybot.AuditEntry{}
	_, err := t.query(`SELECT `+auditColumns+` FROM polybot_audit_log
		WHERE user_id = $1 AND ($2::bigint = 0 OR seq < $2)
		ORDER BY seq DESC LIMIT $3`, []any{uid(t.tenant), before, clampLimit(limit)}, func(r pgx.Rows) error {
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

// IncrementTrades counts a trade in one conditional UPDATE: the row lock and
// READ COMMITTED's re-check of the WHERE clause on the locked row make the
// check and the increment one atomic step under any concurrency.
func (t *tenantTx) IncrementTrades() (polybot.Quota, error) { return t.countTrade(false) }

// CountTrade counts one trade this month whatever the limit.
func (t *tenantTx) CountTrade() (polybot.Quota, error) { return t.countTrade(true) }

func (t *tenantTx) countTrade(pastLimit bool) (polybot.Quota, error) {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	month := polybot.QuotaMonth(t.now)
	q := polybot.Quota{Month: month}
	err := t.queryRow(`UPDATE polybot_user_profiles SET
			trades_this_month = CASE WHEN quota_month = $2 THEN trades_this_month + 1 ELSE 1 END,
			quota_month = $2
		WHERE id = $1 AND ($3 OR (CASE WHEN quota_month = $2 THEN trades_this_month ELSE 0 END) < monthly_trade_limit)
		RETURNING trades_this_month, monthly_trade_limit`, []any{uid(t.tenant), month, pastLimit}, &q.Used, &q.Limit)
	if err == nil {
		return q, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return q, mapErr(err, "profile")
	}
	// Nothing counted: the quota is used up, or there is no profile.
	if err := t.queryRow(`SELECT CASE WHEN quota_month = $2 THEN trades_this_month ELSE 0 END, monthly_trade_limit
		FROM polybot_user_profiles WHERE id = $1`, []any{uid(t.tenant), month}, &q.Used, &q.Limit); err != nil {
		return q, mapErr(err, "profile")
	}
	return q, polybot.Errorf(polybot.EQUOTA, "monthly trade quota of %d used up for %s", q.Limit, month)
}

func (t *tenantTx) ReleaseTrade() (polybot.Quota, error) {
	t.as = TenantAppRole // written by the application, never by the tenant role (see txn.as)
	defer func() { t.as = "" }()
	month := polybot.QuotaMonth(t.now)
	q := polybot.Quota{Month: month}
	err := t.queryRow(`UPDATE polybot_user_profiles SET
			trades_this_month = CASE WHEN quota_month = $2 THEN greatest(trades_this_month - 1, 0) ELSE 0 END,
			quota_month = $2
		WHERE id = $1
		RETURNING trades_this_month, monthly_trade_limit`, []any{uid(t.tenant), month}, &q.Used, &q.Limit)
	return q, mapErr(err, "profile")
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}
