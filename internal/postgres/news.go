package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// News arbitrage (migration 0007): a tenant's rules, feeds, webhooks,
// headlines and fires, and the platform's feeds and headlines. The rules
// are the root package's (NewsRule.ValidateStored and the like); this file
// only stores them, as internal/sqlite does. A tenant never writes these
// tables itself: its transaction writes them as polybot_tenant_app (see
// txn.as), whose policies bind every row to the tenant's claims.

// asApp makes the statements run until the returned function is called
// run as polybot_tenant_app when tenant is set (a tenant transaction), and
// as the transaction's own role otherwise (the service path).
func (t *txn) asApp(tenant bool) func() {
	if !tenant {
		return func() {}
	}
	t.as = TenantAppRole
	return func() { t.as = "" }
}

// ownerParam is the stored owner of a feed or a headline: NULL for the
// platform.
func ownerParam(owner polybot.ID) any {
	if owner.IsZero() {
		return nil
	}
	return uid(owner)
}

// jsonList is the stored form of a list: a JSON array, never null.
func jsonList[T any](l []T) (string, error) {
	if l == nil {
		l = []T{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// --- rules ---

const newsRuleColumns = `id, name, enabled, all_of, any_of, none_of, regex, sources, mode, pairs, markets, outcome,
	max_price, max_size, window_seconds, cooldown_seconds, threshold, take_profit, stop_loss, time_stop_seconds,
	equity, hedge, created_at, updated_at`

const newsRuleSelect = `SELECT id, name, enabled, all_of::text, any_of::text, none_of::text, regex, sources::text, mode,
	pairs::text, markets::text, outcome, max_price::text, max_size::text, window_seconds, cooldown_seconds,
	threshold::text, take_profit::text, stop_loss::text, time_stop_seconds, equity::text, hedge::text, created_at, updated_at
	FROM polybot_news_rules`

func scanNewsRule(row pgx.Rows) (*polybot.NewsRule, error) {
	r := &polybot.NewsRule{}
	var allOf, anyOf, noneOf, sources, pairs, markets, outcome, equity, hedge string
	var maxPrice, maxSize, threshold, takeProfit, stopLoss string
	var window, cooldown, timeStop int64
	if err := row.Scan(&r.ID, &r.Name, &r.Enabled, &allOf, &anyOf, &noneOf, &r.Regex, &sources, &r.Mode, &pairs, &markets,
		&outcome, &maxPrice, &maxSize, &window, &cooldown, &threshold, &takeProfit, &stopLoss, &timeStop,
		&equity, &hedge, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	if err := r.SetEquityColumns(equity, hedge); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		col string
		dst any
	}{{allOf, &r.AllOf}, {anyOf, &r.AnyOf}, {noneOf, &r.NoneOf}, {sources, &r.Sources}, {pairs, &r.Pairs}, {markets, &r.Markets}} {
		if err := json.Unmarshal([]byte(l.col), l.dst); err != nil {
			return nil, fmt.Errorf("news rule %s: %w", r.ID, err)
		}
	}
	var err error
	if r.Outcome, err = parseOutcome(outcome); err != nil {
		return nil, err
	}
	if err := decimals(&maxPrice, &r.MaxPrice, &maxSize, &r.MaxSize, &threshold, &r.Threshold,
		&takeProfit, &r.TakeProfit, &stopLoss, &r.StopLoss); err != nil {
		return nil, err
	}
	r.Window, r.Cooldown, r.TimeStop = time.Duration(window)*time.Second, time.Duration(cooldown)*time.Second, time.Duration(timeStop)*time.Second
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

func (t *tenantTx) NewsRules() ([]*polybot.NewsRule, error) {
	out, err := collectRows(t.txn, "news rule", scanNewsRule, newsRuleSelect+` WHERE user_id = $1 ORDER BY id`, uid(t.tenant))
	for _, r := range out {
		r.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) NewsRule(id string) (*polybot.NewsRule, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return nil, err
	}
	r, err := oneRow(t.txn, "news rule", scanNewsRule, newsRuleSelect+` WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
	if err != nil {
		return nil, err
	}
	r.UserID = t.tenant
	return r, nil
}

// PutNewsRule creates or updates r: CreatedAt is kept on update, UpdatedAt
// is Now.
func (t *tenantTx) PutNewsRule(r *polybot.NewsRule) error {
	if err := r.ValidateStored(); err != nil {
		return err
	}
	var lists [6]string
	var err error
	for i, l := range []any{r.AllOf, r.AnyOf, r.NoneOf, r.Sources, r.Pairs, r.Markets} {
		switch v := l.(type) {
		case []string:
			lists[i], err = jsonList(v)
		case []polybot.BinaryMarket:
			lists[i], err = jsonList(v)
		}
		if err != nil {
			return polybot.Internal(err)
		}
	}
	equity, hedge, err := r.EquityColumns()
	if err != nil {
		return polybot.Internal(err)
	}
	defer t.asApp(true)()
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_news_rules (user_id, `+newsRuleColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $24)
		ON CONFLICT (user_id, id) DO UPDATE SET name = excluded.name, enabled = excluded.enabled,
			all_of = excluded.all_of, any_of = excluded.any_of, none_of = excluded.none_of, regex = excluded.regex,
			sources = excluded.sources, mode = excluded.mode, pairs = excluded.pairs, markets = excluded.markets,
			outcome = excluded.outcome, max_price = excluded.max_price, max_size = excluded.max_size,
			window_seconds = excluded.window_seconds, cooldown_seconds = excluded.cooldown_seconds,
			threshold = excluded.threshold, take_profit = excluded.take_profit, stop_loss = excluded.stop_loss,
			time_stop_seconds = excluded.time_stop_seconds, equity = excluded.equity, hedge = excluded.hedge,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		[]any{uid(t.tenant), r.ID, r.Name, r.Enabled, lists[0], lists[1], lists[2], r.Regex, lists[3], r.Mode, lists[4], lists[5],
			r.Outcome.String(), r.MaxPrice.String(), r.MaxSize.String(), int64(r.Window / time.Second), int64(r.Cooldown / time.Second),
			r.Threshold.String(), r.TakeProfit.String(), r.StopLoss.String(), int64(r.TimeStop / time.Second), equity, hedge, t.now},
		&created)
	if err != nil {
		return mapErr(err, "news rule")
	}
	r.UserID, r.CreatedAt, r.UpdatedAt = t.tenant, created.UTC(), t.now
	return nil
}

func (t *tenantTx) DeleteNewsRule(id string) error {
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	defer t.asApp(true)()
	return t.changeOne("news rule", `DELETE FROM polybot_news_rules WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
}

// changeOne runs a write that must touch a row (ENOTFOUND otherwise).
func (t *txn) changeOne(what, sql string, args ...any) error {
	n, err := t.exec(sql, args...)
	if err == nil && n == 0 {
		err = pgx.ErrNoRows
	}
	return mapErr(err, what)
}

// --- feeds ---

const newsFeedColumns = `id, user_id, name, url, every_seconds, enabled, etag, last_modified, created_at, updated_at`

func scanNewsFeed(row pgx.Rows) (*polybot.NewsFeed, error) {
	f := &polybot.NewsFeed{}
	var user *[16]byte
	var every int64
	if err := row.Scan(&f.ID, &user, &f.Name, &f.URL, &every, &f.Enabled, &f.ETag, &f.LastModified,
		&f.CreatedAt, &f.UpdatedAt); err != nil {
		return nil, err
	}
	if user != nil {
		f.UserID = *user
	}
	f.Every = time.Duration(every) * time.Second
	f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	return f, nil
}

func (t *txn) newsFeeds(owner polybot.ID) ([]*polybot.NewsFeed, error) {
	return collectRows(t, "news feed", scanNewsFeed, `SELECT `+newsFeedColumns+` FROM polybot_news_feeds
		WHERE user_id IS NOT DISTINCT FROM $1 ORDER BY id`, ownerParam(owner))
}

// putNewsFeed creates or updates owner's feed: an update keeps CreatedAt
// and the validators; an id another owner holds is ECONFLICT.
func (t *txn) putNewsFeed(owner polybot.ID, f *polybot.NewsFeed) error {
	if err := f.ValidateStored(); err != nil {
		return err
	}
	defer t.asApp(!owner.IsZero())()
	every := int64(f.Every / time.Second)
	var created time.Time
	var etag, lastModified string
	err := t.queryRow(`UPDATE polybot_news_feeds SET name = $3, url = $4, every_seconds = $5, enabled = $6, updated_at = $7
		WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2
		RETURNING created_at, etag, last_modified`,
		[]any{f.ID, ownerParam(owner), f.Name, f.URL, every, f.Enabled, t.now}, &created, &etag, &lastModified)
	if err == nil {
		f.UserID, f.CreatedAt, f.UpdatedAt, f.ETag, f.LastModified = owner, created.UTC(), t.now, etag, lastModified
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return mapErr(err, "news feed")
	}
	if _, err := t.exec(`INSERT INTO polybot_news_feeds (`+newsFeedColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
		f.ID, ownerParam(owner), f.Name, f.URL, every, f.Enabled, f.ETag, f.LastModified, t.now); err != nil {
		return mapErr(err, "news feed")
	}
	f.UserID, f.CreatedAt, f.UpdatedAt = owner, t.now, t.now
	return nil
}

func (t *txn) deleteNewsFeed(owner polybot.ID, id string) error {
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	defer t.asApp(!owner.IsZero())()
	return t.changeOne("news feed", `DELETE FROM polybot_news_feeds WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2`,
		id, ownerParam(owner))
}

func (t *txn) setFeedValidators(owner polybot.ID, id, etag, lastModified string) error {
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	if err := polybot.CheckFeedValidators(etag, lastModified); err != nil {
		return err
	}
	defer t.asApp(!owner.IsZero())()
	return t.changeOne("news feed", `UPDATE polybot_news_feeds SET etag = $3, last_modified = $4
		WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2`, id, ownerParam(owner), etag, lastModified)
}

func (t *tenantTx) NewsFeeds() ([]*polybot.NewsFeed, error) { return t.newsFeeds(t.tenant) }

func (t *tenantTx) PutNewsFeed(f *polybot.NewsFeed) error { return t.putNewsFeed(t.tenant, f) }

func (t *tenantTx) DeleteNewsFeed(id string) error { return t.deleteNewsFeed(t.tenant, id) }

func (t *tenantTx) SetFeedValidators(id, etag, lastModified string) error {
	return t.setFeedValidators(t.tenant, id, etag, lastModified)
}

func (t *adminTx) NewsFeeds() ([]*polybot.NewsFeed, error) { return t.newsFeeds(polybot.NilID) }

func (t *adminTx) PutNewsFeed(f *polybot.NewsFeed) error { return t.putNewsFeed(polybot.NilID, f) }

func (t *adminTx) DeleteNewsFeed(id string) error { return t.deleteNewsFeed(polybot.NilID, id) }

func (t *adminTx) SetFeedValidators(id, etag, lastModified string) error {
	return t.setFeedValidators(polybot.NilID, id, etag, lastModified)
}

func (t *adminTx) EnabledNewsFeeds() ([]*polybot.NewsFeed, error) {
	return collectRows(t.txn, "news feed", scanNewsFeed, `SELECT `+newsFeedColumns+` FROM polybot_news_feeds
		WHERE enabled ORDER BY id`)
}

// --- webhooks ---

const newsHookColumns = `id, user_id, name, secret, created_at`

func scanNewsHook(row pgx.Rows) (*polybot.NewsHook, error) {
	h := &polybot.NewsHook{}
	if err := row.Scan(&h.ID, (*[16]byte)(&h.UserID), &h.Name, &h.Sealed, &h.CreatedAt); err != nil {
		return nil, err
	}
	h.CreatedAt = h.CreatedAt.UTC()
	return h, nil
}

func (t *tenantTx) NewsHooks() ([]*polybot.NewsHook, error) {
	return collectRows(t.txn, "news hook", scanNewsHook, `SELECT `+newsHookColumns+` FROM polybot_news_hooks
		WHERE user_id = $1 ORDER BY id`, uid(t.tenant))
}

func (t *tenantTx) NewsHook(id string) (*polybot.NewsHook, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return nil, err
	}
	return oneRow(t.txn, "news hook", scanNewsHook, `SELECT `+newsHookColumns+` FROM polybot_news_hooks
		WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
}

// PutNewsHook creates h, or replaces its name and secret (CreatedAt kept);
// an id another tenant holds is ECONFLICT.
func (t *tenantTx) PutNewsHook(h *polybot.NewsHook) error {
	if err := h.Validate(); err != nil {
		return err
	}
	defer t.asApp(true)()
	var created time.Time
	err := t.queryRow(`UPDATE polybot_news_hooks SET name = $3, secret = $4 WHERE id = $1 AND user_id = $2 RETURNING created_at`,
		[]any{h.ID, uid(t.tenant), h.Name, h.Sealed}, &created)
	if err == nil {
		h.UserID, h.CreatedAt = t.tenant, created.UTC()
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return mapErr(err, "news hook")
	}
	if _, err := t.exec(`INSERT INTO polybot_news_hooks (`+newsHookColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		h.ID, uid(t.tenant), h.Name, h.Sealed, t.now); err != nil {
		return mapErr(err, "news hook")
	}
	h.UserID, h.CreatedAt = t.tenant, t.now
	return nil
}

func (t *tenantTx) DeleteNewsHook(id string) error {
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	defer t.asApp(true)()
	return t.changeOne("news hook", `DELETE FROM polybot_news_hooks WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
}

// NewsHookOwner reads only the hook's owner: the service role may read
// nothing else of a hook.
func (t *adminTx) NewsHookOwner(id string) (polybot.ID, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return polybot.NilID, err
	}
	var owner polybot.ID
	err := t.queryRow(`SELECT user_id FROM polybot_news_hooks WHERE id = $1`, []any{id}, (*[16]byte)(&owner))
	if err != nil {
		return polybot.NilID, mapErr(err, "news hook")
	}
	return owner, nil
}

// --- headlines ---

const headlineColumns = `id, source, source_name, title, link, published, received`

func scanHeadline(row pgx.Rows) (*polybot.Headline, error) {
	h := &polybot.Headline{}
	var published *time.Time
	if err := row.Scan(&h.ID, &h.Source, &h.SourceName, &h.Title, &h.Link, &published, &h.Received); err != nil {
		return nil, err
	}
	if published != nil {
		h.Published = published.UTC()
	}
	h.Received = h.Received.UTC()
	return h, nil
}

// putHeadline stores h for owner (NilID: the platform), unless owner
// already holds its id.
func (t *txn) putHeadline(owner polybot.ID, h *polybot.Headline) error {
	if err := h.ValidateStored(); err != nil {
		return err
	}
	if h.Received.IsZero() {
		h.Received = t.now
	}
	h.Received = h.Received.UTC().Truncate(time.Microsecond)
	var published *time.Time
	if !h.Published.IsZero() {
		h.Published = h.Published.UTC().Truncate(time.Microsecond)
		published = &h.Published
	}
	defer t.asApp(!owner.IsZero())()
	_, err := t.exec(`INSERT INTO polybot_news_headlines (user_id, `+headlineColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id, id) DO NOTHING`,
		ownerParam(owner), h.ID, h.Source, h.SourceName, h.Title, h.Link, published, h.Received)
	return mapErr(err, "headline")
}

// headlines lists the platform's headlines, and tenant's too unless it is
// NilID, received before before (zero: no bound), newest first.
func (t *txn) headlines(tenant polybot.ID, before time.Time, limit int) ([]*polybot.Headline, error) {
	var bound *time.Time
	if !before.IsZero() {
		b := before.UTC()
		bound = &b
	}
	if tenant.IsZero() {
		return collectRows(t, "headline", scanHeadline, `SELECT `+headlineColumns+` FROM polybot_news_headlines
			WHERE user_id IS NULL AND ($1::timestamptz IS NULL OR received < $1)
			ORDER BY received DESC, seq DESC LIMIT $2`, bound, polybot.NewsPageLimit(limit))
	}
	return collectRows(t, "headline", scanHeadline, `SELECT `+headlineColumns+` FROM polybot_news_headlines
		WHERE (user_id IS NULL OR user_id = $1) AND ($2::timestamptz IS NULL OR received < $2)
		ORDER BY received DESC, seq DESC LIMIT $3`, uid(tenant), bound, polybot.NewsPageLimit(limit))
}

func (t *tenantTx) PutHeadline(h *polybot.Headline) error { return t.putHeadline(t.tenant, h) }

func (t *tenantTx) Headlines(before time.Time, limit int) ([]*polybot.Headline, error) {
	return t.headlines(t.tenant, before, limit)
}

func (t *adminTx) PutHeadline(h *polybot.Headline) error { return t.putHeadline(polybot.NilID, h) }

func (t *adminTx) Headlines(before time.Time, limit int) ([]*polybot.Headline, error) {
	return t.headlines(polybot.NilID, before, limit)
}

// --- fires ---

const newsFireColumns = `rule_id, headline_id, at, action, opportunity_id, latency_micros, error`

func scanNewsFire(row pgx.Rows) (*polybot.NewsFire, error) {
	f := &polybot.NewsFire{}
	if err := row.Scan(&f.RuleID, &f.HeadlineID, &f.At, &f.Action, &f.OpportunityID, &f.LatencyMicros, &f.Error); err != nil {
		return nil, err
	}
	f.At = f.At.UTC()
	return f, nil
}

func (t *tenantTx) PutNewsFire(f *polybot.NewsFire) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.At.IsZero() {
		f.At = t.now
	}
	f.At = f.At.UTC().Truncate(time.Microsecond)
	defer t.asApp(true)()
	_, err := t.exec(`INSERT INTO polybot_news_fires (user_id, `+newsFireColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		uid(t.tenant), f.RuleID, f.HeadlineID, f.At, f.Action, f.OpportunityID, f.LatencyMicros, f.Error)
	return mapErr(err, "news fire")
}

func (t *tenantTx) NewsFires(limit int) ([]*polybot.NewsFire, error) {
	return collectRows(t.txn, "news fire", scanNewsFire, `SELECT `+newsFireColumns+` FROM polybot_news_fires
		WHERE user_id = $1 ORDER BY at DESC, seq DESC LIMIT $2`, uid(t.tenant), polybot.NewsPageLimit(limit))
}
