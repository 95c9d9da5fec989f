package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/polybot/polybot"
)

// adminTx is a transaction on the service path: it sees every tenant.
type adminTx struct{ *tx }

// CreateUser inserts the user, its profile and its config under a savepoint,
// so that a failure leaves none of them behind even if the caller goes on
// with the transaction. A nil p gets the free tier's profile, a nil c the
// default config.
func (a *adminTx) CreateUser(u *polybot.User, p *polybot.Profile, c *polybot.Config) (err error) {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckNewAccount(u, p, c); err != nil {
		return err
	}
	if u.ID.IsZero() {
		u.ID = polybot.NewID()
	}
	u.CreatedAt = orNow(u.CreatedAt, a.now)
	if p == nil {
		tier, err := a.Tier(polybot.TierFree)
		if err != nil {
			return err
		}
		p = polybot.NewProfile(u.ID, u.Email, tier, a.now)
	}
	if c == nil {
		c = polybot.DefaultConfig(u.ID, a.now)
	}
	p.ID, c.UserID = u.ID, u.ID
	if p.Email == "" {
		p.Email = u.Email
	}
	if p.SubscriptionTier == "" {
		p.SubscriptionTier = polybot.TierFree
	}
	if p.QuotaMonth == "" {
		p.QuotaMonth = polybot.QuotaMonth(a.now)
	}
	p.CreatedAt, p.UpdatedAt = orNow(p.CreatedAt, a.now), orNow(p.UpdatedAt, a.now)
	p.SubscriptionExpiresAt, p.LastActiveAt, p.AcceptedTermsAt =
		normPtr(p.SubscriptionExpiresAt), normPtr(p.LastActiveAt), normPtr(p.AcceptedTermsAt)
	c.CreatedAt, c.UpdatedAt = orNow(c.CreatedAt, a.now), orNow(c.UpdatedAt, a.now)

	if _, err := a.exec(`SAVEPOINT polybot_create_user`); err != nil {
		return polybot.Internal(err)
	}
	defer func() {
		if err != nil {
			a.exec(`ROLLBACK TO polybot_create_user`)
		}
		if _, rerr := a.exec(`RELEASE polybot_create_user`); rerr != nil && err == nil {
			err = polybot.Internal(rerr)
		}
	}()
	_, err = a.exec(`INSERT INTO polybot_users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, u.Role, u.Disabled, micros(u.CreatedAt))
	if err != nil {
		if err = dbError(err, "user"); polybot.ErrorCode(err) == polybot.ECONFLICT {
			err = polybot.Errorf(polybot.ECONFLICT, "a user with this email already exists")
		}
		return err
	}
	_, err = a.exec(`INSERT INTO polybot_user_profiles (`+profileCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.DisplayName, p.Email, p.SubscriptionTier, nullMicros(p.SubscriptionExpiresAt), p.MonthlyTradeLimit,
		p.TradesThisMonth, p.QuotaMonth, p.MaxTradeSizeUSD, p.MaxDailyLossUSD, p.MaxPositions,
		polybot.MarshalFeatures(p.Features), micros(p.CreatedAt), micros(p.UpdatedAt), nullMicros(p.LastActiveAt),
		p.OnboardingCompleted, nullMicros(p.AcceptedTermsAt))
	if err != nil {
		return dbError(err, "profile")
	}
	args := append([]any{c.UserID}, configArgs(c)...)
	args = append(args, micros(c.CreatedAt), micros(c.UpdatedAt))
	_, err = a.exec(`INSERT INTO polybot_user_config (`+configCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return dbError(err, "config")
	}
	return nil
}

func (a *adminTx) UserByID(id polybot.ID) (*polybot.User, error) {
	return one(a.tx, "user", scanUser, qUserByID, id)
}

func (a *adminTx) UserByEmail(email string) (*polybot.User, error) {
	return one(a.tx, "user", scanUser, `SELECT `+userCols+` FROM polybot_users WHERE email = ?`, email)
}

// Users pages through users in creation order; after is the email of the
// last user of the previous page.
func (a *adminTx) Users(after string, limit int) ([]*polybot.UserSummary, error) {
	if err := polybot.CheckText("after", after, 254); err != nil {
		return nil, err
	}
	rows, err := a.query(`SELECT u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at,
			p.id, p.display_name, p.email, p.subscription_tier, p.subscription_expires_at, p.monthly_trade_limit,
			p.trades_this_month, p.quota_month, p.max_trade_size_usd, p.max_daily_loss_usd, p.max_positions,
			p.features_enabled, p.created_at, p.updated_at, p.last_active_at, p.onboarding_completed, p.accepted_terms_at
		FROM polybot_users u JOIN polybot_user_profiles p ON p.id = u.id
		WHERE ?1 = '' OR (u.created_at, u.email) > (SELECT created_at, email FROM polybot_users WHERE email = ?1)
		ORDER BY u.created_at, u.email
		LIMIT ?2`, after, pageLimit(limit))
	if err != nil {
		return nil, dbError(err, "user")
	}
	defer rows.Close()
	out := []*polybot.UserSummary{}
	for rows.Next() {
		var s polybot.UserSummary
		u, p := &s.User, &s.Profile
		var features string
		err := rows.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Disabled, timeCol{&u.CreatedAt},
			&p.ID, &p.DisplayName, &p.Email, &p.SubscriptionTier, nullTimeCol{&p.SubscriptionExpiresAt},
			&p.MonthlyTradeLimit, &p.TradesThisMonth, &p.QuotaMonth, &p.MaxTradeSizeUSD, &p.MaxDailyLossUSD,
			&p.MaxPositions, &features, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, nullTimeCol{&p.LastActiveAt},
			&p.OnboardingCompleted, nullTimeCol{&p.AcceptedTermsAt})
		if err != nil {
			return nil, dbError(err, "user")
		}
		if p.Features, err = polybot.UnmarshalFeatures(features); err != nil {
			return nil, polybot.Internal(err)
		}
		out = append(out, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "user")
	}
	return out, nil
}

func (a *adminTx) SetUserRole(id polybot.ID, role polybot.Role) error {
	if err := a.writable(); err != nil {
		return err
	}
	if !role.Valid() {
		return polybot.FieldError("role", "must be user or admin")
	}
	return a.updateOne("user", `UPDATE polybot_users SET role = ? WHERE id = ?`, role, id)
}

func (a *adminTx) SetUserDisabled(id polybot.ID, disabled bool) error {
	if err := a.writable(); err != nil {
		return err
	}
	return a.updateOne("user", `UPDATE polybot_users SET disabled = ? WHERE id = ?`, disabled, id)
}

func (a *adminTx) SetUserTier(id polybot.ID, tier string) error {
	if err := a.writable(); err != nil {
		return err
	}
	t, err := a.Tier(tier)
	if err != nil {
		return err
	}
	return a.updateOne("user", `UPDATE polybot_user_profiles SET subscription_tier = ?, monthly_trade_limit = ?,
			max_trade_size_usd = ?, max_daily_loss_usd = ?, max_positions = ?, features_enabled = ?, updated_at = ?
		WHERE id = ?`,
		t.Name, t.MonthlyTradeLimit, t.MaxTradeSizeUSD, t.MaxDailyLossUSD, t.MaxPositions,
		polybot.MarshalFeatures(t.Features), micros(a.now), id)
}

// updateOne runs a write that must touch a row (ENOTFOUND otherwise).
func (a *adminTx) updateOne(what, q string, args ...any) error {
	ok, err := a.affected(q, args...)
	if err != nil {
		return dbError(err, what)
	}
	if !ok {
		return polybot.NotFound(what)
	}
	return nil
}

// Tiers lists the tiers by monthly price, then name.
func (a *adminTx) Tiers() ([]*polybot.Tier, error) {
	ts, err := collect(a.tx, "tier", scanTier, `SELECT `+tierCols+` FROM polybot_tiers`)
	if err != nil {
		return nil, err
	}
	sort.Slice(ts, func(i, j int) bool {
		if c := ts[i].PriceUSDMonthly.Cmp(ts[j].PriceUSDMonthly); c != 0 {
			return c < 0
		}
		return ts[i].Name < ts[j].Name
	})
	return ts, nil
}

func (a *adminTx) Tier(name string) (*polybot.Tier, error) {
	if err := polybot.CheckTierName(name); err != nil {
		return nil, err
	}
	return one(a.tx, "tier", scanTier, `SELECT `+tierCols+` FROM polybot_tiers WHERE name = ?`, name)
}

// PutTier upserts t and copies its limits onto every profile on it.
func (a *adminTx) PutTier(t *polybot.Tier) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	features := polybot.MarshalFeatures(t.Features)
	_, err := a.exec(`INSERT INTO polybot_tiers (`+tierCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name,
			price_usd_monthly = excluded.price_usd_monthly, monthly_trade_limit = excluded.monthly_trade_limit,
			max_trade_size_usd = excluded.max_trade_size_usd, max_daily_loss_usd = excluded.max_daily_loss_usd,
			max_positions = excluded.max_positions, features = excluded.features, updated_at = excluded.updated_at`,
		t.Name, t.DisplayName, t.PriceUSDMonthly, t.MonthlyTradeLimit, t.MaxTradeSizeUSD, t.MaxDailyLossUSD,
		t.MaxPositions, features, micros(a.now))
	if err != nil {
		return dbError(err, "tier")
	}
	_, err = a.exec(`UPDATE polybot_user_profiles SET monthly_trade_limit = ?, max_trade_size_usd = ?,
			max_daily_loss_usd = ?, max_positions = ?, features_enabled = ?, updated_at = ?
		WHERE subscription_tier = ?`,
		t.MonthlyTradeLimit, t.MaxTradeSizeUSD, t.MaxDailyLossUSD, t.MaxPositions, features, micros(a.now), t.Name)
	if err != nil {
		return dbError(err, "profile")
	}
	t.UpdatedAt = a.now
	return nil
}

const qSessionByID = `SELECT ` + sessionCols + ` FROM polybot_sessions WHERE id = ? AND expires_at > ?`

func (a *adminTx) SessionByID(id string) (*polybot.Session, error) {
	return one(a.tx, "session", scanSession, qSessionByID, id, micros(a.now))
}

// qSessionUser is qSessionByID joined with the session's user: sessionCols
// then userCols, qualified.
const qSessionUser = `SELECT s.id, s.user_id, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at,
		u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at
	FROM polybot_sessions s JOIN polybot_users u ON u.id = s.user_id
	WHERE s.id = ? AND s.expires_at > ?`

// SessionUser is SessionByID and UserByID in one query.
func (a *adminTx) SessionUser(id string) (*polybot.Session, *polybot.User, error) {
	var s polybot.Session
	var u polybot.User
	if err := a.queryRow(qSessionUser, id, micros(a.now)).Scan(append(sessionDest(&s), userDest(&u)...)...); err != nil {
		return nil, nil, dbError(err, "session")
	}
	return &s, &u, nil
}

func (a *adminTx) TouchSession(id string, seen, expires time.Time) error {
	if err := a.writable(); err != nil {
		return err
	}
	return a.updateOne("session", `UPDATE polybot_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND expires_at > ?`,
		micros(norm(seen)), micros(norm(expires)), id, micros(a.now))
}

func (a *adminTx) UserSessions(user polybot.ID) ([]*polybot.Session, error) {
	return collect(a.tx, "session", scanSession, `SELECT `+sessionCols+` FROM polybot_sessions
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC`, user, micros(a.now))
}

func (a *adminTx) DeleteUserSessions(user polybot.ID, except string) (int, error) {
	if err := a.writable(); err != nil {
		return 0, err
	}
	res, err := a.exec(`DELETE FROM polybot_sessions WHERE user_id = ? AND id <> ?`, user, except)
	if err != nil {
		return 0, dbError(err, "session")
	}
	n, err := res.RowsAffected()
	return int(n), dbError(err, "session")
}

func (a *adminTx) SetUserPassword(id polybot.ID, hash string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if hash == "" {
		return polybot.FieldError("password", "is required")
	}
	return a.updateOne("user", `UPDATE polybot_users SET password_hash = ? WHERE id = ?`, hash, id)
}

func (a *adminTx) DeleteExpiredSessions() (int, error) {
	if err := a.writable(); err != nil {
		return 0, err
	}
	res, err := a.exec(`DELETE FROM polybot_sessions WHERE expires_at <= ?`, micros(a.now))
	if err != nil {
		return 0, dbError(err, "session")
	}
	n, err := res.RowsAffected()
	return int(n), dbError(err, "session")
}

const qAPITokenByHash = `SELECT ` + tokenCols + ` FROM polybot_api_tokens
	WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)`

func (a *adminTx) APITokenByHash(hash string) (*polybot.APIToken, error) {
	return one(a.tx, "API token", scanToken, qAPITokenByHash, hash, micros(a.now))
}

// qAPITokenUser is qAPITokenByHash joined with the token's user: tokenCols
// then userCols, qualified.
const qAPITokenUser = `SELECT t.id, t.user_id, t.name, t.token_hash, t.prefix, t.created_at, t.last_used_at, t.expires_at,
		u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at
	FROM polybot_api_tokens t JOIN polybot_users u ON u.id = t.user_id
	WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)`

// APITokenUser is APITokenByHash and UserByID in one query.
func (a *adminTx) APITokenUser(hash string) (*polybot.APIToken, *polybot.User, error) {
	var t polybot.APIToken
	var u polybot.User
	if err := a.queryRow(qAPITokenUser, hash, micros(a.now)).Scan(append(tokenDest(&t), userDest(&u)...)...); err != nil {
		return nil, nil, dbError(err, "API token")
	}
	return &t, &u, nil
}

func (a *adminTx) TouchAPIToken(id polybot.ID, at time.Time) error {
	if err := a.writable(); err != nil {
		return err
	}
	return a.updateOne("API token", `UPDATE polybot_api_tokens SET last_used_at = ? WHERE id = ?`, micros(norm(at)), id)
}

func (a *adminTx) DataKeys() ([]*polybot.DataKey, error) {
	return collect(a.tx, "data key", scanDataKey, `SELECT `+dataKeyCols+` FROM polybot_user_data_keys ORDER BY user_id`)
}

// ReplaceDataKey is a compare-and-swap on the wrapped key.
func (a *adminTx) ReplaceDataKey(k *polybot.DataKey, oldWrapped []byte) error {
	if err := a.writable(); err != nil {
		return err
	}
	if len(k.Wrapped) == 0 {
		return polybot.FieldError("wrapped", "is required")
	}
	k.RotatedAt = orNow(k.RotatedAt, a.now)
	var created time.Time
	err := a.queryRow(`UPDATE polybot_user_data_keys SET master_key_id = ?, wrapped = ?, rotated_at = ?
		WHERE user_id = ? AND wrapped = ?
		RETURNING created_at`, k.MasterKeyID, k.Wrapped, micros(k.RotatedAt), k.UserID, oldWrapped).Scan(timeCol{&created})
	if err == nil {
		k.CreatedAt = created
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return dbError(err, "data key")
	}
	var cur []byte
	err = a.queryRow(`SELECT wrapped FROM polybot_user_data_keys WHERE user_id = ?`, k.UserID).Scan(&cur)
	if err != nil {
		return dbError(err, "data key")
	}
	if !bytes.Equal(cur, oldWrapped) {
		return polybot.Errorf(polybot.ECONFLICT, "data key changed since it was read")
	}
	return polybot.Internal(errors.New("sqlite: data key swap matched nothing"))
}

func (a *adminTx) AppendAudit(e *polybot.AuditEntry) error { return a.appendAudit(e) }

func (a *adminTx) AuditEntries(after int64, limit int) ([]*polybot.AuditEntry, error) {
	return collect(a.tx, "audit entry", scanAudit,
		`SELECT `+auditCols+` FROM polybot_audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, pageLimit(limit))
}

func (a *adminTx) AuditHead() (int64, string, error) {
	var seq int64
	var hash string
	err := a.queryRow(`SELECT seq, hash FROM polybot_audit_head WHERE id = 1`).Scan(&seq, &hash)
	if err != nil {
		return 0, "", dbError(err, "audit head")
	}
	return seq, hash, nil
}

func (a *adminTx) ActiveUserIDs() ([]polybot.ID, error) {
	rows, err := a.query(`SELECT id FROM polybot_users WHERE disabled = 0 ORDER BY created_at, email`)
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

func (a *adminTx) AuditKey() (*polybot.AuditKeyRecord, error) {
	return one(a.tx, "audit key", scanAuditKey, `SELECT `+auditKeyCols+` FROM polybot_audit_key WHERE id = 1`)
}

// KeyAuditChain re-seals the whole chain under the store's audit key and
// stores k, in the caller's write transaction. The write connection is
// serialised, so no append can come between reading the chain and moving
// the head. Migration 0004's triggers allow the rewrite of prev_hash and
// hash only while polybot_audit_key is empty, that is, until this commits.
func (a *adminTx) KeyAuditChain(k *polybot.AuditKeyRecord) (int64, error) {
	if err := a.writable(); err != nil {
		return 0, err
	}
	key := a.db.key()
	if key == nil {
		return 0, polybot.ErrNoAuditKey()
	}
	if len(k.Wrapped) == 0 || k.MasterKeyID == "" {
		return 0, polybot.FieldError("wrapped", "is required")
	}
	if _, err := a.AuditKey(); err == nil {
		return 0, polybot.Errorf(polybot.ECONFLICT, "the audit chain is already keyed")
	} else if polybot.ErrorCode(err) != polybot.ENOTFOUND {
		return 0, err
	}
	headSeq, headHash, err := a.AuditHead()
	if err != nil {
		return 0, err
	}
	entries, err := polybot.ReadAuditChain(a)
	if err != nil {
		return 0, err
	}
	resealed, head, err := polybot.ResealAuditChain(entries, headSeq, headHash, key)
	if err != nil {
		return 0, err
	}
	for _, e := range resealed {
		if _, err := a.exec(`UPDATE polybot_audit_log SET prev_hash = ?, hash = ? WHERE seq = ?`, e.PrevHash, e.Hash, e.Seq); err != nil {
			return 0, polybot.Internal(fmt.Errorf("re-seal audit entry %d: %w", e.Seq, err))
		}
	}
	if len(resealed) > 0 {
		if _, err := a.exec(`UPDATE polybot_audit_head SET hash = ? WHERE id = 1 AND seq = ?`, head, headSeq); err != nil {
			return 0, polybot.Internal(fmt.Errorf("re-seal audit head: %w", err))
		}
	}
	k.CreatedAt, k.RotatedAt, k.Resealed = a.now, a.now, int64(len(resealed))
	if _, err := a.exec(`INSERT INTO polybot_audit_key (id, `+auditKeyCols+`) VALUES (1, ?, ?, ?, ?, ?)`,
		k.MasterKeyID, k.Wrapped, micros(k.CreatedAt), micros(k.RotatedAt), k.Resealed); err != nil {
		return 0, dbError(err, "audit key")
	}
	if err := a.appendAudit(polybot.AuditKeyedEntry(k, a.now)); err != nil {
		return 0, err
	}
	return k.Resealed, nil
}

// ReplaceAuditKey is a compare-and-swap on the wrapped audit key.
func (a *adminTx) ReplaceAuditKey(k *polybot.AuditKeyRecord, oldWrapped []byte) error {
	if err := a.writable(); err != nil {
		return err
	}
	if len(k.Wrapped) == 0 {
		return polybot.FieldError("wrapped", "is required")
	}
	k.RotatedAt = orNow(k.RotatedAt, a.now)
	ok, err := a.affected(`UPDATE polybot_audit_key SET master_key_id = ?, wrapped = ?, rotated_at = ? WHERE id = 1 AND wrapped = ?`,
		k.MasterKeyID, k.Wrapped, micros(k.RotatedAt), oldWrapped)
	if err != nil {
		return dbError(err, "audit key")
	}
	if !ok {
		if _, err := a.AuditKey(); err != nil {
			return err
		}
		return polybot.Errorf(polybot.ECONFLICT, "the audit key changed since it was read")
	}
	return nil
}
