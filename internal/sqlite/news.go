package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/polybot/polybot"
)

// News arbitrage (migration 0006): a tenant's rules, feeds, webhooks,
// headlines and fires, and the platform's feeds and headlines. The rules
// are the root package's (NewsRule.ValidateStored and the like); this file
// only stores them. Every tenant statement names the tenant.

// --- rules ---

const newsRuleCols = `id, name, enabled, all_of, any_of, none_of, regex, sources, mode, pairs, markets, outcome,
	max_price, max_size, window_seconds, cooldown_seconds, threshold, take_profit, stop_loss, time_stop_seconds,
	equity, hedge, created_at, updated_at`

func scanNewsRule(s scanner) (*polybot.NewsRule, error) {
	var r polybot.NewsRule
	var allOf, anyOf, noneOf, sources, pairs, markets, outcome, equity, hedge string
	var window, cooldown, timeStop int64
	err := s.Scan(&r.ID, &r.Name, &r.Enabled, &allOf, &anyOf, &noneOf, &r.Regex, &sources, &r.Mode, &pairs, &markets,
		&outcome, &r.MaxPrice, &r.MaxSize, &window, &cooldown, &r.Threshold, &r.TakeProfit, &r.StopLoss, &timeStop,
		&equity, &hedge, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	if err != nil {
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
	if r.Outcome, err = parseOutcome(outcome); err != nil {
		return nil, err
	}
	r.Window, r.Cooldown, r.TimeStop = time.Duration(window)*time.Second, time.Duration(cooldown)*time.Second, time.Duration(timeStop)*time.Second
	return &r, nil
}

// jsonList is the stored form of a list: a JSON array, never null.
func jsonList[T any](l []T) (string, error) {
	if l == nil {
		l = []T{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func (t *tenantTx) NewsRules() ([]*polybot.NewsRule, error) {
	out, err := collect(t.tx, "news rule", scanNewsRule,
		`SELECT `+newsRuleCols+` FROM polybot_news_rules WHERE user_id = ? ORDER BY id`, t.tenant)
	for _, r := range out {
		r.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) NewsRule(id string) (*polybot.NewsRule, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return nil, err
	}
	r, err := one(t.tx, "news rule", scanNewsRule,
		`SELECT `+newsRuleCols+` FROM polybot_news_rules WHERE user_id = ? AND id = ?`, t.tenant, id)
	if err != nil {
		return nil, err
	}
	r.UserID = t.tenant
	return r, nil
}

// PutNewsRule creates or updates r: CreatedAt is kept on update, UpdatedAt
// is Now.
func (t *tenantTx) PutNewsRule(r *polybot.NewsRule) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := r.ValidateStored(); err != nil {
		return err
	}
	var lists [6]string
	for i, l := range []any{r.AllOf, r.AnyOf, r.NoneOf, r.Sources, r.Pairs, r.Markets} {
		var err error
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
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_news_rules (user_id, `+newsRuleCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, id) DO UPDATE SET name = excluded.name, enabled = excluded.enabled,
			all_of = excluded.all_of, any_of = excluded.any_of, none_of = excluded.none_of, regex = excluded.regex,
			sources = excluded.sources, mode = excluded.mode, pairs = excluded.pairs, markets = excluded.markets,
			outcome = excluded.outcome, max_price = excluded.max_price, max_size = excluded.max_size,
			window_seconds = excluded.window_seconds, cooldown_seconds = excluded.cooldown_seconds,
			threshold = excluded.threshold, take_profit = excluded.take_profit, stop_loss = excluded.stop_loss,
			time_stop_seconds = excluded.time_stop_seconds, equity = excluded.equity, hedge = excluded.hedge,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		t.tenant, r.ID, r.Name, r.Enabled, lists[0], lists[1], lists[2], r.Regex, lists[3], r.Mode, lists[4], lists[5],
		outcomeText(r.Outcome), r.MaxPrice, r.MaxSize, int64(r.Window/time.Second), int64(r.Cooldown/time.Second),
		r.Threshold, r.TakeProfit, r.StopLoss, int64(r.TimeStop/time.Second), equity, hedge, micros(t.now), micros(t.now)).
		Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "news rule")
	}
	r.UserID, r.CreatedAt, r.UpdatedAt = t.tenant, created, t.now
	return nil
}

func (t *tenantTx) DeleteNewsRule(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	return t.deleteOne("news rule", `DELETE FROM polybot_news_rules WHERE user_id = ? AND id = ?`, t.tenant, id)
}

// deleteOne runs a write that must touch a row (ENOTFOUND otherwise).
func (t *tx) deleteOne(what, q string, args ...any) error {
	ok, err := t.affected(q, args...)
	if err != nil {
		return dbError(err, what)
	}
	if !ok {
		return polybot.NotFound(what)
	}
	return nil
}

// --- feeds ---

const newsFeedCols = `id, user_id, name, url, every_seconds, enabled, etag, last_modified, created_at, updated_at`

func scanNewsFeed(s scanner) (*polybot.NewsFeed, error) {
	var f polybot.NewsFeed
	var user *string
	var every int64
	err := s.Scan(&f.ID, &user, &f.Name, &f.URL, &every, &f.Enabled, &f.ETag, &f.LastModified,
		timeCol{&f.CreatedAt}, timeCol{&f.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if user != nil {
		if f.UserID, err = polybot.ParseID(*user); err != nil {
			return nil, err
		}
	}
	f.Every = time.Duration(every) * time.Second
	return &f, nil
}

// ownerArg is the stored owner of a feed: NULL for the platform.
func ownerArg(owner polybot.ID) any {
	if owner.IsZero() {
		return nil
	}
	return owner
}

func (t *tx) newsFeeds(owner polybot.ID) ([]*polybot.NewsFeed, error) {
	return collect(t, "news feed", scanNewsFeed,
		`SELECT `+newsFeedCols+` FROM polybot_news_feeds WHERE user_id IS ? ORDER BY id`, ownerArg(owner))
}

// putNewsFeed creates or updates owner's feed: an update keeps CreatedAt
// and the validators; an id another owner holds is ECONFLICT.
func (t *tx) putNewsFeed(owner polybot.ID, f *polybot.NewsFeed) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := f.ValidateStored(); err != nil {
		return err
	}
	every := int64(f.Every / time.Second)
	var created time.Time
	var etag, lastModified string
	err := t.queryRow(`UPDATE polybot_news_feeds SET name = ?, url = ?, every_seconds = ?, enabled = ?, updated_at = ?
		WHERE id = ? AND user_id IS ?
		RETURNING created_at, etag, last_modified`,
		f.Name, f.URL, every, f.Enabled, micros(t.now), f.ID, ownerArg(owner)).Scan(timeCol{&created}, &etag, &lastModified)
	if err == nil {
		f.UserID, f.CreatedAt, f.UpdatedAt, f.ETag, f.LastModified = owner, created, t.now, etag, lastModified
		return nil
	}
	if polybot.ErrorCode(dbError(err, "news feed")) != polybot.ENOTFOUND {
		return dbError(err, "news feed")
	}
	if _, err := t.exec(`INSERT INTO polybot_news_feeds (`+newsFeedCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, ownerArg(owner), f.Name, f.URL, every, f.Enabled, f.ETag, f.LastModified, micros(t.now), micros(t.now)); err != nil {
		return dbError(err, "news feed")
	}
	f.UserID, f.CreatedAt, f.UpdatedAt = owner, t.now, t.now
	return nil
}

func (t *tx) deleteNewsFeed(owner polybot.ID, id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	return t.deleteOne("news feed", `DELETE FROM polybot_news_feeds WHERE id = ? AND user_id IS ?`, id, ownerArg(owner))
}

func (t *tx) setFeedValidators(owner polybot.ID, id, etag, lastModified string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	if err := polybot.CheckFeedValidators(etag, lastModified); err != nil {
		return err
	}
	return t.deleteOne("news feed", `UPDATE polybot_news_feeds SET etag = ?, last_modified = ? WHERE id = ? AND user_id IS ?`,
		etag, lastModified, id, ownerArg(owner))
}

func (t *tenantTx) NewsFeeds() ([]*polybot.NewsFeed, error) { return t.newsFeeds(t.tenant) }

func (t *tenantTx) PutNewsFeed(f *polybot.NewsFeed) error { return t.putNewsFeed(t.tenant, f) }

func (t *tenantTx) DeleteNewsFeed(id string) error { return t.deleteNewsFeed(t.tenant, id) }

func (t *tenantTx) SetFeedValidators(id, etag, lastModified string) error {
	return t.setFeedValidators(t.tenant, id, etag, lastModified)
}

func (a *adminTx) NewsFeeds() ([]*polybot.NewsFeed, error) { return a.newsFeeds(polybot.NilID) }

func (a *adminTx) PutNewsFeed(f *polybot.NewsFeed) error { return a.putNewsFeed(polybot.NilID, f) }

func (a *adminTx) DeleteNewsFeed(id string) error { return a.deleteNewsFeed(polybot.NilID, id) }

func (a *adminTx) SetFeedValidators(id, etag, lastModified string) error {
	return a.setFeedValidators(polybot.NilID, id, etag, lastModified)
}

func (a *adminTx) EnabledNewsFeeds() ([]*polybot.NewsFeed, error) {
	return collect(a.tx, "news feed", scanNewsFeed,
		`SELECT `+newsFeedCols+` FROM polybot_news_feeds WHERE enabled = 1 ORDER BY id`)
}

// --- webhooks ---

const newsHookCols = `id, user_id, name, secret, created_at`

func scanNewsHook(s scanner) (*polybot.NewsHook, error) {
	var h polybot.NewsHook
	if err := s.Scan(&h.ID, &h.UserID, &h.Name, &h.Sealed, timeCol{&h.CreatedAt}); err != nil {
		return nil, err
	}
	return &h, nil
}

func (t *tenantTx) NewsHooks() ([]*polybot.NewsHook, error) {
	return collect(t.tx, "news hook", scanNewsHook,
		`SELECT `+newsHookCols+` FROM polybot_news_hooks WHERE user_id = ? ORDER BY id`, t.tenant)
}

func (t *tenantTx) NewsHook(id string) (*polybot.NewsHook, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return nil, err
	}
	return one(t.tx, "news hook", scanNewsHook,
		`SELECT `+newsHookCols+` FROM polybot_news_hooks WHERE user_id = ? AND id = ?`, t.tenant, id)
}

// PutNewsHook creates h, or replaces its name and secret (CreatedAt kept);
// an id another tenant holds is ECONFLICT.
func (t *tenantTx) PutNewsHook(h *polybot.NewsHook) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	var created time.Time
	err := t.queryRow(`UPDATE polybot_news_hooks SET name = ?, secret = ? WHERE id = ? AND user_id = ? RETURNING created_at`,
		h.Name, h.Sealed, h.ID, t.tenant).Scan(timeCol{&created})
	if err == nil {
		h.UserID, h.CreatedAt = t.tenant, created
		return nil
	}
	if polybot.ErrorCode(dbError(err, "news hook")) != polybot.ENOTFOUND {
		return dbError(err, "news hook")
	}
	if _, err := t.exec(`INSERT INTO polybot_news_hooks (`+newsHookCols+`) VALUES (?, ?, ?, ?, ?)`,
		h.ID, t.tenant, h.Name, h.Sealed, micros(t.now)); err != nil {
		return dbError(err, "news hook")
	}
	h.UserID, h.CreatedAt = t.tenant, t.now
	return nil
}

func (t *tenantTx) DeleteNewsHook(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckNewsID(id); err != nil {
		return err
	}
	return t.deleteOne("news hook", `DELETE FROM polybot_news_hooks WHERE user_id = ? AND id = ?`, t.tenant, id)
}

func (a *adminTx) NewsHookOwner(id string) (polybot.ID, error) {
	if err := polybot.CheckNewsID(id); err != nil {
		return polybot.NilID, err
	}
	var owner polybot.ID
	if err := a.queryRow(`SELECT user_id FROM polybot_news_hooks WHERE id = ?`, id).Scan(&owner); err != nil {
		return polybot.NilID, dbError(err, "news hook")
	}
	return owner, nil
}

// --- headlines ---

const headlineCols = `id, source, source_name, title, link, published, received`

func scanHeadline(s scanner) (*polybot.Headline, error) {
	var h polybot.Headline
	var published *time.Time
	if err := s.Scan(&h.ID, &h.Source, &h.SourceName, &h.Title, &h.Link, nullTimeCol{&published}, timeCol{&h.Received}); err != nil {
		return nil, err
	}
	if published != nil {
		h.Published = *published
	}
	return &h, nil
}

// putHeadline stores h for owner (NilID: the platform), unless owner
// already holds its id.
func (t *tx) putHeadline(owner polybot.ID, h *polybot.Headline) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := h.ValidateStored(); err != nil {
		return err
	}
	h.Received = orNow(h.Received, t.now)
	var published any
	if !h.Published.IsZero() {
		h.Published = norm(h.Published)
		published = micros(h.Published)
	}
	_, err := t.exec(`INSERT INTO polybot_news_headlines (user_id, `+headlineCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		ownerArg(owner), h.ID, h.Source, h.SourceName, h.Title, h.Link, published, micros(h.Received))
	return dbError(err, "headline")
}

// headlines lists the platform's headlines, and tenant's too unless it is
// NilID, received before before (zero: no bound), newest first.
func (t *tx) headlines(tenant polybot.ID, before time.Time, limit int) ([]*polybot.Headline, error) {
	bound := int64(1<<63 - 1)
	if !before.IsZero() {
		bound = micros(norm(before))
	}
	if tenant.IsZero() {
		return collect(t, "headline", scanHeadline, `SELECT `+headlineCols+` FROM polybot_news_headlines
			WHERE user_id IS NULL AND received < ? ORDER BY received DESC, seq DESC LIMIT ?`, bound, polybot.NewsPageLimit(limit))
	}
	return collect(t, "headline", scanHeadline, `SELECT `+headlineCols+` FROM polybot_news_headlines
		WHERE (user_id IS NULL OR user_id = ?) AND received < ? ORDER BY received DESC, seq DESC LIMIT ?`,
		tenant, bound, polybot.NewsPageLimit(limit))
}

func (t *tenantTx) PutHeadline(h *polybot.Headline) error { return t.putHeadline(t.tenant, h) }

func (t *tenantTx) Headlines(before time.Time, limit int) ([]*polybot.Headline, error) {
	return t.headlines(t.tenant, before, limit)
}

func (a *adminTx) PutHeadline(h *polybot.Headline) error { return a.putHeadline(polybot.NilID, h) }

func (a *adminTx) Headlines(before time.Time, limit int) ([]*polybot.Headline, error) {
	return a.headlines(polybot.NilID, before, limit)
}

// --- fires ---

const newsFireCols = `rule_id, headline_id, at, action, opportunity_id, latency_micros, error`

func scanNewsFire(s scanner) (*polybot.NewsFire, error) {
	var f polybot.NewsFire
	if err := s.Scan(&f.RuleID, &f.HeadlineID, timeCol{&f.At}, &f.Action, &f.OpportunityID, &f.LatencyMicros, &f.Error); err != nil {
		return nil, err
	}
	return &f, nil
}

func (t *tenantTx) PutNewsFire(f *polybot.NewsFire) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	f.At = orNow(f.At, t.now)
	_, err := t.exec(`INSERT INTO polybot_news_fires (user_id, `+newsFireCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.tenant, f.RuleID, f.HeadlineID, micros(f.At), f.Action, f.OpportunityID, f.LatencyMicros, f.Error)
	return dbError(err, "news fire")
}

func (t *tenantTx) NewsFires(limit int) ([]*polybot.NewsFire, error) {
	return collect(t.tx, "news fire", scanNewsFire, `SELECT `+newsFireCols+` FROM polybot_news_fires
		WHERE user_id = ? ORDER BY at DESC, seq DESC LIMIT ?`, t.tenant, polybot.NewsPageLimit(limit))
}
