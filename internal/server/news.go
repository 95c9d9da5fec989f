package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/web"
)

// News arbitrage's API: a user's rules (with "test this rule", a replay of
// the latest headlines), own feeds and signed webhooks, the headlines and
// rule fires the user may see; the platform's feeds for admins; and the
// inbound webhook, which needs no session: a delivery is signed with the
// hook's secret. Every change is audited in its transaction.

// NewsIntake checks and parses signed webhook deliveries and hands their
// headlines on; cmd wires it to internal/news.
type NewsIntake interface {
	// VerifyAndParse checks sig, the hex HMAC-SHA256 under secret of ts +
	// "." + body, and parses the body's headlines. A bad, missing or stale
	// signature is an EUNAUTHORIZED error (any error that is not a
	// *polybot.Error is taken as one); a well-signed body that does not
	// parse is EINVALID naming the field. The server has already checked
	// that ts is Unix seconds within ±5 minutes of now, and refuses a
	// signature it has seen before.
	VerifyAndParse(secret []byte, ts, sig string, body []byte, now time.Time) ([]polybot.Headline, error)
	// Deliver hands a hook's headlines, each with its Source (the hook's
	// id), SourceName and Received set, to the pipeline that stores them
	// as the tenant's own (TenantTx.PutHeadline), de-duplicates them and
	// runs the tenant's rules: in one process its own news desk; on an api
	// node (serve --role api) the message bus, to the worker that runs the
	// tenant. It must not block for long: the sender waits for the answer.
	// An error means the headlines could not be handed on (EUNAVAILABLE:
	// the bus is down): the server answers it (503) and forgets the
	// delivery's signature, so the sender may send the same delivery
	// again. Handing on a headline twice must not act on it twice.
	Deliver(ctx context.Context, tenant polybot.ID, hs []polybot.Headline) error
}

// Webhook delivery headers.
const (
	HookTimestampHeader = "X-PolyBot-Timestamp"
	HookSignatureHeader = "X-PolyBot-Signature"
)

// HookTolerance is how far a delivery's timestamp may be from the
// server's clock.
const HookTolerance = 5 * time.Minute

// DefaultHookRate limits inbound webhook deliveries per client address.
var DefaultHookRate = Rate{Every: 100 * time.Millisecond, Burst: 60} // 60 at once, then 10 a second

// Bounds on the news lists the API returns.
const (
	defaultNewsPage = 50
	maxNewsPage     = 500
)

// newsID is a fresh id for a user's rule, feed or hook: kind, "-" and 16
// random hex digits.
func newsID(kind string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return kind + "-" + hex.EncodeToString(b)
}

// newHookSecret is a fresh signing secret: "pbwh_" and 32 random bytes,
// base64url. The HMAC key is the whole string's bytes.
func newHookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "pbwh_" + base64.RawURLEncoding.EncodeToString(b)
}

// HookPath is the URL path a hook's deliveries are posted to.
func HookPath(id string) string { return "/api/v1/news/hooks/" + id }

// --- views ---

// newsRuleView is a rule as the API shows it: durations in seconds, the
// outcome as "YES" or "NO", term lists never null.
type newsRuleView struct {
	*polybot.NewsRule
	Outcome         string `json:"outcome"`
	WindowSeconds   int64  `json:"window_seconds"`
	CooldownSeconds int64  `json:"cooldown_seconds"`
	TimeStopSeconds int64  `json:"time_stop_seconds"`
	// Does says what the rule does when it fires.
	Does string `json:"does"`
}

func ruleView(r *polybot.NewsRule) newsRuleView {
	c := *r
	for _, l := range []*[]string{&c.AllOf, &c.AnyOf, &c.NoneOf} {
		if *l == nil {
			*l = []string{}
		}
	}
	return newsRuleView{NewsRule: &c, Outcome: r.Outcome.String(), WindowSeconds: int64(r.Window / time.Second),
		CooldownSeconds: int64(r.Cooldown / time.Second), TimeStopSeconds: int64(r.TimeStop / time.Second), Does: r.Describe()}
}

// headlineView is a headline with published null when the source did not
// date it.
type headlineView struct {
	polybot.Headline
	Published *time.Time `json:"published"`
}

func headlineViewOf(h polybot.Headline) headlineView {
	v := headlineView{Headline: h}
	if !h.Published.IsZero() {
		p := h.Published
		v.Published = &p
	}
	return v
}

type newsFeedView struct {
	*polybot.NewsFeed
	EverySeconds int64 `json:"every_seconds"`
}

func feedView(f *polybot.NewsFeed) newsFeedView {
	return newsFeedView{NewsFeed: f, EverySeconds: int64(f.Every / time.Second)}
}

type newsHookView struct {
	*polybot.NewsHook
	URL string `json:"url"` // the path deliveries are posted to
}

// newsFireView is a fire with the names the user knows it by.
type newsFireView struct {
	*polybot.NewsFire
	RuleName      string `json:"rule_name"`
	HeadlineTitle string `json:"headline_title"`
	HeadlineLink  string `json:"headline_link"`
}

// newsHitView is a replayed match.
type newsHitView struct {
	polybot.NewsRuleHit
	Headline headlineView `json:"headline"`
}

// --- rules ---

func (s *Server) handleNewsRules(w http.ResponseWriter, r *http.Request, id *identity) error {
	var rules []*polybot.NewsRule
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		rules, err = tx.NewsRules()
		return err
	})
	if err != nil {
		return err
	}
	out := make([]newsRuleView, len(rules))
	for i, x := range rules {
		out[i] = ruleView(x)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"rules": out})
}

func (s *Server) handleNewsRule(w http.ResponseWriter, r *http.Request, id *identity) error {
	rid := r.PathValue("id")
	if err := polybot.CheckNewsID(rid); err != nil {
		return err
	}
	var rule *polybot.NewsRule
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		rule, err = tx.NewsRule(rid)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ruleView(rule))
}

// tooMany is the EFORBIDDEN of a per-user cap.
func tooMany(field, what string, limit int) error {
	return &polybot.Error{Code: polybot.EFORBIDDEN,
		Message: "you have " + strconv.Itoa(limit) + " " + what + ", the most allowed; delete one first",
		Fields:  map[string]string{field: "at most " + strconv.Itoa(limit)}}
}

func ruleAudit(r *polybot.NewsRule) string {
	d, _ := json.Marshal(map[string]any{"id": r.ID, "name": r.Name, "enabled": r.Enabled, "mode": r.Mode})
	return string(d)
}

// handleCreateNewsRule stores a new rule under the body's id, or a fresh
// one (ECONFLICT if the id is taken: PUT changes a rule).
func (s *Server) handleCreateNewsRule(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rule, err := parseNewsRule(body, newsID("rule"))
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		all, err := tx.NewsRules()
		if err != nil {
			return err
		}
		if len(all) >= polybot.MaxNewsRules {
			return tooMany("rules", "news rules", polybot.MaxNewsRules)
		}
		for _, x := range all {
			if x.ID == rule.ID {
				return &polybot.Error{Code: polybot.ECONFLICT, Message: "a rule with this id exists; PUT /api/v1/news/rules/{id} changes it",
					Fields: map[string]string{"id": "is taken"}}
			}
		}
		if err := tx.PutNewsRule(rule); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.rule_create", Target: "news_rule:" + rule.ID,
			Details: ruleAudit(rule), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, http.StatusCreated, ruleView(rule))
}

// handlePutNewsRule creates or replaces the rule the path names; a body
// without "enabled" keeps a stored rule's switch.
func (s *Server) handlePutNewsRule(w http.ResponseWriter, r *http.Request, id *identity) error {
	rid := r.PathValue("id")
	if err := polybot.CheckNewsID(rid); err != nil {
		return err
	}
	in, err := readRequest[newsRuleBody](r)
	if err != nil {
		return err
	}
	if in.ID != "" && in.ID != rid {
		return polybot.FieldError("id", "must be the id in the path (or left out)")
	}
	in.ID = rid
	rule, err := in.rule(true)
	if err != nil {
		return err
	}
	status := http.StatusOK
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		old, err := tx.NewsRule(rid)
		switch {
		case polybot.ErrorCode(err) == polybot.ENOTFOUND:
			status = http.StatusCreated
			all, err := tx.NewsRules()
			if err != nil {
				return err
			}
			if len(all) >= polybot.MaxNewsRules {
				return tooMany("rules", "news rules", polybot.MaxNewsRules)
			}
		case err != nil:
			return err
		case in.Enabled == nil:
			rule.Enabled = old.Enabled
		}
		if err := tx.PutNewsRule(rule); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.rule_put", Target: "news_rule:" + rule.ID,
			Details: ruleAudit(rule), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, status, ruleView(rule))
}

func (s *Server) handleDeleteNewsRule(w http.ResponseWriter, r *http.Request, id *identity) error {
	rid := r.PathValue("id")
	if err := polybot.CheckNewsID(rid); err != nil {
		return err
	}
	err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteNewsRule(rid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.rule_delete", Target: "news_rule:" + rid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTestNewsRule replays the latest n headlines the user can see
// through a rule that need not be saved: which would have fired, and what
// they would have done (polybot.ReplayNewsRule).
func (s *Server) handleTestNewsRule(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rule, n, err := parseNewsRuleTest(body)
	if err != nil {
		return err
	}
	return s.replayRule(w, r, id, rule, n)
}

func (s *Server) handleTestSavedNewsRule(w http.ResponseWriter, r *http.Request, id *identity) error {
	rid := r.PathValue("id")
	if err := polybot.CheckNewsID(rid); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in := &newsRuleTestSavedRequest{}
	if len(body) > 0 {
		if in, err = decodeRequest[newsRuleTestSavedRequest](body); err != nil {
			return err
		}
	} else if err := in.validate(); err != nil {
		return err
	}
	var rule *polybot.NewsRule
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		rule, err = tx.NewsRule(rid)
		return err
	})
	if err != nil {
		return err
	}
	return s.replayRule(w, r, id, rule, in.N)
}

func (s *Server) replayRule(w http.ResponseWriter, r *http.Request, id *identity, rule *polybot.NewsRule, n int) error {
	var hs []*polybot.Headline
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		hs, err = tx.Headlines(time.Time{}, n)
		return err
	})
	if err != nil {
		return err
	}
	hits := polybot.ReplayNewsRule(rule, hs)
	out := make([]newsHitView, len(hits))
	fired := 0
	for i, h := range hits {
		out[i] = newsHitView{NewsRuleHit: h, Headline: headlineViewOf(h.Headline)}
		if h.Fired {
			fired++
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"rule": ruleView(rule), "replayed": len(hs), "fired": fired, "hits": out})
}

// --- headlines and fires ---

// newsPage reads ?limit= (default 50, at most 500).
func newsPage(r *http.Request) (int, error) {
	_, limit, err := pageParams(r, "", defaultNewsPage, maxNewsPage)
	return limit, err
}

func (s *Server) handleHeadlines(w http.ResponseWriter, r *http.Request, id *identity) error {
	limit, err := newsPage(r)
	if err != nil {
		return err
	}
	var before time.Time
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return polybot.FieldError("before", "must be an RFC 3339 time")
		}
	}
	var hs []*polybot.Headline
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		hs, err = tx.Headlines(before, limit)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]headlineView, len(hs))
	for i, h := range hs {
		out[i] = headlineViewOf(*h)
	}
	resp := map[string]any{"headlines": out}
	if len(hs) == limit {
		resp["next"] = hs[len(hs)-1].Received.Format(time.RFC3339Nano)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// newsFires reads the tenant's latest fires with the names of their rules
// and headlines.
func newsFires(tx polybot.TenantTx, limit int) ([]newsFireView, error) {
	fires, err := tx.NewsFires(limit)
	if err != nil {
		return nil, err
	}
	rules, err := tx.NewsRules()
	if err != nil {
		return nil, err
	}
	hs, err := tx.Headlines(time.Time{}, 1000)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, x := range rules {
		names[x.ID] = x.Name
	}
	byID := map[string]*polybot.Headline{}
	for _, h := range hs {
		if byID[h.ID] == nil {
			byID[h.ID] = h
		}
	}
	out := make([]newsFireView, len(fires))
	for i, f := range fires {
		out[i] = newsFireView{NewsFire: f, RuleName: names[f.RuleID]}
		if h := byID[f.HeadlineID]; h != nil {
			out[i].HeadlineTitle, out[i].HeadlineLink = h.Title, h.Link
		}
	}
	return out, nil
}

func (s *Server) handleNewsFires(w http.ResponseWriter, r *http.Request, id *identity) error {
	limit, err := newsPage(r)
	if err != nil {
		return err
	}
	var out []newsFireView
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		out, err = newsFires(tx, limit)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"fires": out})
}

// --- a user's own feeds ---

func feedAudit(f *polybot.NewsFeed) string {
	d, _ := json.Marshal(map[string]any{"id": f.ID, "name": f.Name, "url": f.URL, "every_seconds": int64(f.Every / time.Second), "enabled": f.Enabled})
	return string(d)
}

func feedViews(feeds []*polybot.NewsFeed) []newsFeedView {
	out := make([]newsFeedView, len(feeds))
	for i, f := range feeds {
		out[i] = feedView(f)
	}
	return out
}

func (s *Server) handleNewsFeeds(w http.ResponseWriter, r *http.Request, id *identity) error {
	var feeds []*polybot.NewsFeed
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		feeds, err = tx.NewsFeeds()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"feeds": feedViews(feeds)})
}

func (s *Server) handleCreateNewsFeed(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	f, err := parseNewsFeed(body, newsID("feed"))
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		all, err := tx.NewsFeeds()
		if err != nil {
			return err
		}
		if len(all) >= polybot.MaxNewsFeeds {
			return tooMany("feeds", "news feeds", polybot.MaxNewsFeeds)
		}
		if err := tx.PutNewsFeed(f); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.feed_create", Target: "news_feed:" + f.ID,
			Details: feedAudit(f), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, http.StatusCreated, feedView(f))
}

func (s *Server) handleDeleteNewsFeed(w http.ResponseWriter, r *http.Request, id *identity) error {
	fid := r.PathValue("id")
	if err := polybot.CheckNewsID(fid); err != nil {
		return err
	}
	err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteNewsFeed(fid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.feed_delete", Target: "news_feed:" + fid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- the platform's feeds (admin) ---

func (s *Server) handleAdminNewsFeeds(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var feeds []*polybot.NewsFeed
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		feeds, err = tx.NewsFeeds()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"feeds": feedViews(feeds)})
}

func (s *Server) handleAdminPutNewsFeed(w http.ResponseWriter, r *http.Request, id *identity) error {
	fid := r.PathValue("id")
	if err := polybot.CheckNewsID(fid); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	f, err := parseNewsFeed(body, fid)
	if err != nil {
		return err
	}
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.PutNewsFeed(f); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.news_feed", Target: "news_feed:" + f.ID,
			Details: feedAudit(f), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, feedView(f))
}

func (s *Server) handleAdminDeleteNewsFeed(w http.ResponseWriter, r *http.Request, id *identity) error {
	fid := r.PathValue("id")
	if err := polybot.CheckNewsID(fid); err != nil {
		return err
	}
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.DeleteNewsFeed(fid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.news_feed_delete", Target: "news_feed:" + fid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- webhooks ---

func hookViews(hooks []*polybot.NewsHook) []newsHookView {
	out := make([]newsHookView, len(hooks))
	for i, h := range hooks {
		out[i] = newsHookView{NewsHook: h, URL: HookPath(h.ID)}
	}
	return out
}

func (s *Server) handleNewsHooks(w http.ResponseWriter, r *http.Request, id *identity) error {
	var hooks []*polybot.NewsHook
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		hooks, err = tx.NewsHooks()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"hooks": hookViews(hooks)})
}

type createHookResponse struct {
	Hook newsHookView `json:"hook"`
	// Secret is the signing secret, shown this once.
	Secret string `json:"secret"`
}

// handleCreateNewsHook makes a hook and its signing secret, sealed under
// the tenant's data key; the answer is the only time the secret is shown.
func (s *Server) handleCreateNewsHook(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[newsHookRequest](r)
	if err != nil {
		return err
	}
	if s.cfg.Secrets == nil {
		return polybot.Errorf(polybot.EUNAVAILABLE, "webhooks need the secrets box, which this server does not have")
	}
	secret := newHookSecret()
	h := &polybot.NewsHook{ID: newsID("hook"), Name: in.Name}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		all, err := tx.NewsHooks()
		if err != nil {
			return err
		}
		if len(all) >= polybot.MaxNewsHooks {
			return tooMany("hooks", "webhooks", polybot.MaxNewsHooks)
		}
		if h.Sealed, err = s.cfg.Secrets.SealNewsHook(r.Context(), tx, h.ID, []byte(secret)); err != nil {
			return err
		}
		if err := tx.PutNewsHook(h); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.hook_create", Target: "news_hook:" + h.ID,
			Details: `{"name":` + quote(h.Name) + `}`, CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, createHookResponse{Hook: newsHookView{NewsHook: h, URL: HookPath(h.ID)}, Secret: secret})
}

func (s *Server) handleDeleteNewsHook(w http.ResponseWriter, r *http.Request, id *identity) error {
	hid := r.PathValue("id")
	if err := polybot.CheckNewsID(hid); err != nil {
		return err
	}
	err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteNewsHook(hid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "news.hook_delete", Target: "news_hook:" + hid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var (
	errHookNotFound  = polybot.Errorf(polybot.ENOTFOUND, "no such webhook")
	errHookSignature = &polybot.Error{Code: polybot.EUNAUTHORIZED, Message: "bad or missing signature",
		Fields: map[string]string{HookSignatureHeader: "must be the hex HMAC-SHA256 of timestamp + \".\" + body under the hook's secret"}}
	errHookTimestamp = &polybot.Error{Code: polybot.EUNAUTHORIZED, Message: "stale or missing timestamp",
		Fields: map[string]string{HookTimestampHeader: "must be Unix seconds within 5 minutes of now"}}
	errHookReplayed = &polybot.Error{Code: polybot.EUNAUTHORIZED, Message: "this delivery was received before",
		Fields: map[string]string{HookSignatureHeader: "was used before"}}
)

// handleNewsHookDelivery takes a signed delivery to a hook: no session,
// rate-limited per client address, body bounded (MaxBodyBytes). Unknown
// hook: 404; bad, stale or replayed signature: 401; the intake unable to
// hand the headlines on (the message bus down): 503 with Retry-After, and
// the delivery may be sent again unchanged; accepted: 202 with how many
// headlines were handed on.
func (s *Server) handleNewsHookDelivery(w http.ResponseWriter, r *http.Request, _ *identity) error {
	received := s.now()
	if wait := s.hookLim.wait(clientIP(r)); wait > 0 {
		return limited("too many webhook deliveries from this address", wait)
	}
	if s.cfg.NewsIntake == nil || s.cfg.Secrets == nil {
		return polybot.Errorf(polybot.EUNAVAILABLE, "webhook deliveries are not taken by this server")
	}
	hid := r.PathValue("id")
	if polybot.CheckNewsID(hid) != nil || len(hid) > 64 {
		return errHookNotFound
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return readBodyError(err)
	}
	ts, sig := r.Header.Get(HookTimestampHeader), r.Header.Get(HookSignatureHeader)
	var tenant polybot.ID
	var disabled bool
	err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		if tenant, err = tx.NewsHookOwner(hid); err != nil {
			return err
		}
		u, err := tx.UserByID(tenant)
		if err != nil {
			return err
		}
		disabled = u.Disabled
		return nil
	})
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		return errHookNotFound
	} else if err != nil {
		return err
	}
	if disabled {
		return polybot.Errorf(polybot.EFORBIDDEN, "account disabled")
	}
	if err := checkHookTimestamp(ts, received); err != nil {
		return err
	}
	if sig == "" {
		return errHookSignature
	}
	var hook *polybot.NewsHook
	var secret []byte
	err = s.cfg.Store.TenantView(r.Context(), tenant, func(tx polybot.TenantTx) error {
		var err error
		if hook, err = tx.NewsHook(hid); err != nil {
			return err
		}
		secret, err = s.cfg.Secrets.OpenNewsHook(r.Context(), tx, hook)
		return err
	})
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		return errHookNotFound // deleted meanwhile
	} else if err != nil {
		return err
	}
	hs, err := s.cfg.NewsIntake.VerifyAndParse(secret, ts, sig, body, received)
	clear(secret)
	if err != nil {
		switch polybot.ErrorCode(err) {
		case polybot.EINVALID, polybot.ETOOLARGE:
			return err // well signed, badly formed
		}
		return errHookSignature
	}
	replayKey := hid + "\x00" + sig
	if err := s.hookReplays.check(replayKey, received); err != nil {
		return err
	}
	v := polybot.Validation{}
	for i := range hs {
		h := &hs[i]
		h.Source, h.SourceName, h.Received = hook.ID, hook.Name, received
		if err := h.Validate(); err != nil {
			for f, msg := range polybot.ErrorFields(err) {
				v.Add("headlines["+strconv.Itoa(i)+"]."+f, msg)
			}
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if len(hs) > 0 {
		if err := s.cfg.NewsIntake.Deliver(r.Context(), tenant, hs); err != nil {
			// Declined, not dropped: the same delivery may come again.
			s.hookReplays.forget(replayKey)
			if polybot.ErrorCode(err) == polybot.EUNAVAILABLE {
				w.Header().Set("Retry-After", "5")
			}
			return err
		}
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"accepted": len(hs)})
}

// checkHookTimestamp wants ts to be Unix seconds within HookTolerance of
// now.
func checkHookTimestamp(ts string, now time.Time) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts == "" || len(ts) > 12 {
		return errHookTimestamp
	}
	d := now.Sub(time.Unix(sec, 0))
	if d > HookTolerance || d < -HookTolerance {
		return errHookTimestamp
	}
	return nil
}

// replayGuard remembers the signatures of accepted deliveries for twice
// the timestamp tolerance (a delivery older than that fails the timestamp
// check anyway), so that none is accepted twice. It holds at most max
// entries; when full of live ones it refuses (fails closed).
type replayGuard struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time // key → when it may be forgotten
}

func newReplayGuard(max int) *replayGuard {
	return &replayGuard{max: max, seen: map[string]time.Time{}}
}

// check records key, or refuses it: seen before (401), or no room to
// remember it (429).
func (g *replayGuard) check(key string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if exp, ok := g.seen[key]; ok && now.Before(exp) {
		return errHookReplayed
	}
	if len(g.seen) >= g.max {
		for k, exp := range g.seen {
			if !now.Before(exp) {
				delete(g.seen, k)
			}
		}
		if len(g.seen) >= g.max {
			return limited("too many webhook deliveries to remember", time.Minute)
		}
	}
	g.seen[key] = now.Add(2 * HookTolerance)
	return nil
}

// forget drops key, a delivery that was declined after check recorded it.
func (g *replayGuard) forget(key string) {
	g.mu.Lock()
	delete(g.seen, key)
	g.mu.Unlock()
}

// maxRememberedDeliveries bounds the replay guard's memory (each entry is
// a hook id and a signature: about 20 MB when full).
const maxRememberedDeliveries = 100_000

// pageNews is the News page: the latest headlines and fires (the script
// refreshes both from the API), the rules with their editor, the user's
// webhooks and feeds.
func (s *Server) pageNews(w http.ResponseWriter, r *http.Request, id *identity) error {
	var pairs []*polybot.MarketPair
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		pairs, err = tx.MarketPairs()
		return err
	})
	if err != nil {
		return err
	}
	var p *polybot.Profile
	var c *polybot.Config
	var hs []*polybot.Headline
	var fires []newsFireView
	var rules []*polybot.NewsRule
	var hooks []*polybot.NewsHook
	var feeds []*polybot.NewsFeed
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		if c, err = tx.Config(); err != nil {
			return err
		}
		if hs, err = tx.Headlines(time.Time{}, defaultNewsPage); err != nil {
			return err
		}
		if fires, err = newsFires(tx, defaultNewsPage); err != nil {
			return err
		}
		if rules, err = tx.NewsRules(); err != nil {
			return err
		}
		if hooks, err = tx.NewsHooks(); err != nil {
			return err
		}
		feeds, err = tx.NewsFeeds()
		return err
	})
	if err != nil {
		return err
	}
	d := web.NewsData{Enabled: c.EnableNewsArbitrage, Sources: web.NewsSources(feeds, hooks, hs)}
	for _, h := range hs {
		d.Headlines = append(d.Headlines, web.NewHeadlineRow(h))
	}
	for _, f := range fires {
		d.Fires = append(d.Fires, web.FireRow{At: f.At, RuleID: f.RuleID, RuleName: f.RuleName, HeadlineTitle: f.HeadlineTitle,
			HeadlineLink: f.HeadlineLink, Action: f.Action, OpportunityID: f.OpportunityID, Error: f.Error, LatencyMicros: f.LatencyMicros})
	}
	for _, x := range rules {
		j, err := json.Marshal(ruleView(x))
		if err != nil {
			return polybot.Internal(err)
		}
		d.Rules = append(d.Rules, web.NewRuleRow(x, string(j)))
	}
	for _, h := range hooks {
		d.Hooks = append(d.Hooks, web.HookRow{ID: h.ID, Name: h.Name, URL: HookPath(h.ID), Created: h.CreatedAt})
	}
	for _, f := range feeds {
		d.Feeds = append(d.Feeds, web.NewFeedRow(f))
	}
	for _, m := range pairs {
		if m.Approved {
			d.Pairs = append(d.Pairs, web.Choice{Value: m.ID, Label: m.Name})
		}
	}
	return s.render(w, r, id, p, "news", "News", d)
}
