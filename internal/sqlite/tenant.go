package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/polybot/polybot"
)

// tenantTx is a transaction scoped to one tenant. Every statement filters on
// tenant; UserID fields of the structs it is given are overwritten, never
// trusted.
type tenantTx struct {
	*tx
	tenant polybot.ID
}

func (t *tenantTx) Tenant() polybot.ID { return t.tenant }

const qUserByID = `SELECT ` + userCols + ` FROM polybot_users WHERE id = ?`

func (t *tenantTx) User() (*polybot.User, error) {
	return one(t.tx, "user", scanUser, qUserByID, t.tenant)
}

const qProfile = `SELECT ` + profileCols + ` FROM polybot_user_profiles WHERE id = ?`

func (t *tenantTx) Profile() (*polybot.Profile, error) {
	return one(t.tx, "profile", scanProfile, qProfile, t.tenant)
}

func (t *tenantTx) UpdateProfile(p *polybot.Profile) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	p.AcceptedTermsAt = normPtr(p.AcceptedTermsAt)
	ok, err := t.affected(`UPDATE polybot_user_profiles
		SET display_name = ?, onboarding_completed = ?, accepted_terms_at = ?, updated_at = ?
		WHERE id = ?`,
		p.DisplayName, p.OnboardingCompleted, nullMicros(p.AcceptedTermsAt), micros(t.now), t.tenant)
	if err != nil {
		return dbError(err, "profile")
	}
	if !ok {
		return polybot.NotFound("profile")
	}
	p.ID, p.UpdatedAt = t.tenant, t.now
	return nil
}

func (t *tenantTx) TouchLastActive() error {
	if err := t.writable(); err != nil {
		return err
	}
	ok, err := t.affected(`UPDATE polybot_user_profiles SET last_active_at = ? WHERE id = ?`, micros(t.now), t.tenant)
	if err != nil {
		return dbError(err, "profile")
	}
	if !ok {
		return polybot.NotFound("profile")
	}
	return nil
}

const qConfig = `SELECT ` + configCols + ` FROM polybot_user_config WHERE user_id = ?`

func (t *tenantTx) Config() (*polybot.Config, error) {
	return one(t.tx, "config", scanConfig, qConfig, t.tenant)
}

func (t *tenantTx) UpdateConfig(c *polybot.Config) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := c.CheckStorable(); err != nil {
		return err
	}
	args := append(configArgs(c), micros(t.now), t.tenant)
	var created time.Time
	err := t.queryRow(`UPDATE polybot_user_config SET
		dry_run = ?, min_profit_pct = ?, max_trade_size_usd = ?, max_daily_loss_usd = ?,
		enable_copy_trading = ?, enable_single_platform_arb = ?, enable_cross_platform_arb = ?, enable_overlapping_arb = ?,
		enable_news_arbitrage = ?, enable_polymarket = ?, enable_kalshi = ?, enable_alpaca = ?, enable_ibkr = ?,
		notify_on_trade = ?, notify_on_opportunity = ?, notify_daily_summary = ?, notification_channels = ?,
		advanced_config = ?, timezone = ?, updated_at = ?
		WHERE user_id = ?
		RETURNING created_at`, args...).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "config")
	}
	c.UserID, c.CreatedAt, c.UpdatedAt = t.tenant, created, t.now
	return nil
}

func (t *tenantTx) Secrets() ([]*polybot.Secret, error) {
	return collect(t.tx, "secret", scanSecret,
		`SELECT `+secretCols+` FROM polybot_user_secrets WHERE user_id = ? ORDER BY platform, is_paper`, t.tenant)
}

func (t *tenantTx) Secret(platform polybot.Platform, paper bool) (*polybot.Secret, error) {
	return one(t.tx, "secret", scanSecret,
		`SELECT `+secretCols+` FROM polybot_user_secrets WHERE user_id = ? AND platform = ? AND is_paper = ?`,
		t.tenant, platform, paper)
}

func (t *tenantTx) PutSecret(s *polybot.Secret) error {
	if err := t.writable(); err != nil {
		return err
	}
	if s.Platform == "" {
		return polybot.FieldError("platform", "is required")
	}
	var sealed [4]any
	for f := range s.Sealed {
		if !isSealedField(f) {
			return polybot.FieldError("sealed", fmt.Sprintf("unknown secret field %q", f))
		}
	}
	for i, f := range sealedFields {
		if v := s.Sealed[f]; v != "" {
			sealed[i] = v
		}
	}
	var additional any
	if len(s.AdditionalConfig) > 0 {
		additional = string(s.AdditionalConfig)
	}
	if s.ValidationStatus == "" {
		s.ValidationStatus = polybot.ValidationPending
	}
	s.LastValidatedAt = normPtr(s.LastValidatedAt)
	var id int64
	var created time.Time
	err := t.queryRow(`INSERT INTO polybot_user_secrets (user_id, platform, is_paper, is_active,
			api_key_encrypted, api_secret_encrypted, private_key_encrypted, passphrase_encrypted,
			additional_config, fingerprint, validation_status, last_validated_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
		RETURNING id, created_at`,
		t.tenant, s.Platform, s.Paper, s.Active, sealed[0], sealed[1], sealed[2], sealed[3],
		additional, s.Fingerprint, s.ValidationStatus, nullMicros(s.LastValidatedAt), micros(t.now), micros(t.now),
	).Scan(&id, timeCol{&created})
	if err != nil {
		return dbError(err, "secret")
	}
	s.ID, s.UserID, s.CreatedAt, s.UpdatedAt = id, t.tenant, created, t.now
	return nil
}

func isSealedField(f string) bool {
	for _, g := range sealedFields {
		if f == g {
			return true
		}
	}
	return false
}

var validationStatuses = map[string]bool{
	polybot.ValidationPending: true, polybot.ValidationValid: true,
	polybot.ValidationInvalid: true, polybot.ValidationExpired: true,
}

func (t *tenantTx) SetSecretValidation(platform polybot.Platform, paper bool, status string, at time.Time) error {
	if err := t.writable(); err != nil {
		return err
	}
	if !validationStatuses[status] {
		return polybot.FieldError("validation_status", "is not a known status")
	}
	ok, err := t.affected(`UPDATE polybot_user_secrets SET validation_status = ?, last_validated_at = ?, updated_at = ?
		WHERE user_id = ? AND platform = ? AND is_paper = ?`,
		status, micros(norm(at)), micros(t.now), t.tenant, platform, paper)
	if err != nil {
		return dbError(err, "secret")
	}
	if !ok {
		return polybot.NotFound("secret")
	}
	return nil
}

func (t *tenantTx) DeleteSecret(platform polybot.Platform, paper bool) error {
	if err := t.writable(); err != nil {
		return err
	}
	ok, err := t.affected(`DELETE FROM polybot_user_secrets WHERE user_id = ? AND platform = ? AND is_paper = ?`,
		t.tenant, platform, paper)
	if err != nil {
		return dbError(err, "secret")
	}
	if !ok {
		return polybot.NotFound("secret")
	}
	return nil
}

func (t *tenantTx) DataKey() (*polybot.DataKey, error) {
	return one(t.tx, "data key", scanDataKey,
		`SELECT `+dataKeyCols+` FROM polybot_user_data_keys WHERE user_id = ?`, t.tenant)
}

func (t *tenantTx) CreateDataKey(k *polybot.DataKey) error {
	if err := t.writable(); err != nil {
		return err
	}
	if len(k.Wrapped) == 0 {
		return polybot.FieldError("wrapped", "is required")
	}
	k.CreatedAt = orNow(k.CreatedAt, t.now)
	if k.RotatedAt.IsZero() {
		k.RotatedAt = k.CreatedAt
	}
	k.RotatedAt = norm(k.RotatedAt)
	_, err := t.exec(`INSERT INTO polybot_user_data_keys (`+dataKeyCols+`) VALUES (?, ?, ?, ?, ?)`,
		t.tenant, k.MasterKeyID, k.Wrapped, micros(k.CreatedAt), micros(k.RotatedAt))
	if err != nil {
		return dbError(err, "data key")
	}
	k.UserID = t.tenant
	return nil
}

func (t *tenantTx) CreateSession(s *polybot.Session) error {
	if err := t.writable(); err != nil {
		return err
	}
	if s.ID == "" {
		return polybot.FieldError("id", "is required")
	}
	s.CreatedAt = orNow(s.CreatedAt, t.now)
	s.LastSeenAt = orNow(s.LastSeenAt, t.now)
	s.ExpiresAt = norm(s.ExpiresAt)
	_, err := t.exec(`INSERT INTO polybot_sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, t.tenant, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt), micros(s.LastSeenAt))
	if err != nil {
		return dbError(err, "session")
	}
	s.UserID = t.tenant
	return nil
}

func (t *tenantTx) DeleteSession(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	ok, err := t.affected(`DELETE FROM polybot_sessions WHERE id = ? AND user_id = ?`, id, t.tenant)
	if err != nil {
		return dbError(err, "session")
	}
	if !ok {
		return polybot.NotFound("session")
	}
	return nil
}

func (t *tenantTx) APITokens() ([]*polybot.APIToken, error) {
	return collect(t.tx, "API token", scanToken,
		`SELECT `+tokenCols+` FROM polybot_api_tokens WHERE user_id = ? ORDER BY created_at, id`, t.tenant)
}

func (t *tenantTx) CreateAPIToken(k *polybot.APIToken) error {
	if err := t.writable(); err != nil {
		return err
	}
	if k.Hash == "" {
		return polybot.FieldError("token_hash", "is required")
	}
	if err := k.Validate(); err != nil {
		return err
	}
	if k.ID.IsZero() {
		k.ID = polybot.NewID()
	}
	k.CreatedAt = orNow(k.CreatedAt, t.now)
	k.LastUsedAt, k.ExpiresAt = normPtr(k.LastUsedAt), normPtr(k.ExpiresAt)
	_, err := t.exec(`INSERT INTO polybot_api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, t.tenant, k.Name, k.Hash, k.Prefix, micros(k.CreatedAt), nullMicros(k.LastUsedAt), nullMicros(k.ExpiresAt))
	if err != nil {
		return dbError(err, "API token")
	}
	k.UserID = t.tenant
	return nil
}

func (t *tenantTx) DeleteAPIToken(id polybot.ID) error {
	if err := t.writable(); err != nil {
		return err
	}
	ok, err := t.affected(`DELETE FROM polybot_api_tokens WHERE id = ? AND user_id = ?`, id, t.tenant)
	if err != nil {
		return dbError(err, "API token")
	}
	if !ok {
		return polybot.NotFound("API token")
	}
	return nil
}

func (t *tenantTx) AppendAudit(e *polybot.AuditEntry) error {
	id := t.tenant
	e.UserID = &id
	return t.appendAudit(e)
}

func (t *tenantTx) AuditTrail(before int64, limit int) ([]*polybot.AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return collect(t.tx, "audit entry", scanAudit,
		`SELECT `+auditCols+` FROM polybot_audit_log WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		t.tenant.String(), before, pageLimit(limit))
}

// pageLimit is the row limit of a page: limit, or 100 when it is not positive.
func pageLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return limit
}

// IncrementTrades is one conditional UPDATE: a counter from an earlier month
// counts as zero, and nothing is counted once the limit is reached.
func (t *tenantTx) IncrementTrades() (polybot.Quota, error) { return t.countTrade(false) }

// CountTrade counts one trade this month whatever the limit.
func (t *tenantTx) CountTrade() (polybot.Quota, error) { return t.countTrade(true) }

func (t *tenantTx) countTrade(pastLimit bool) (polybot.Quota, error) {
	if err := t.writable(); err != nil {
		return polybot.Quota{}, err
	}
	q := polybot.Quota{Month: polybot.QuotaMonth(t.now)}
	err := t.queryRow(`UPDATE polybot_user_profiles
		SET trades_this_month = CASE WHEN quota_month = ?1 THEN trades_this_month + 1 ELSE 1 END,
		    quota_month = ?1
		WHERE id = ?2
		  AND (?3 OR (CASE WHEN quota_month = ?1 THEN trades_this_month ELSE 0 END) < monthly_trade_limit)
		RETURNING trades_this_month, monthly_trade_limit`, q.Month, t.tenant, pastLimit).Scan(&q.Used, &q.Limit)
	if err == nil {
		return q, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return q, dbError(err, "profile")
	}
	cur, err := t.quota(q.Month)
	if err != nil {
		return q, err
	}
	return cur, polybot.Errorf(polybot.EQUOTA, "monthly trade limit of %d reached", cur.Limit)
}

// ReleaseTrade gives back one trade counted this month; with none counted it
// changes nothing.
func (t *tenantTx) ReleaseTrade() (polybot.Quota, error) {
	if err := t.writable(); err != nil {
		return polybot.Quota{}, err
	}
	q := polybot.Quota{Month: polybot.QuotaMonth(t.now)}
	err := t.queryRow(`UPDATE polybot_user_profiles
		SET trades_this_month = trades_this_month - 1
		WHERE id = ? AND quota_month = ? AND trades_this_month > 0
		RETURNING trades_this_month, monthly_trade_limit`, t.tenant, q.Month).Scan(&q.Used, &q.Limit)
	if err == nil {
		return q, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return q, dbError(err, "profile")
	}
	return t.quota(q.Month)
}

// quota reads the tenant's counter for month.
func (t *tenantTx) quota(month string) (polybot.Quota, error) {
	q := polybot.Quota{Month: month}
	var stored string
	err := t.queryRow(`SELECT trades_this_month, quota_month, monthly_trade_limit
		FROM polybot_user_profiles WHERE id = ?`, t.tenant).Scan(&q.Used, &stored, &q.Limit)
	if err != nil {
		return q, dbError(err, "profile")
	}
	if stored != month {
		q.Used = 0
	}
	return q, nil
}
