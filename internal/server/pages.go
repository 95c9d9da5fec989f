package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/web"
)

// Pages of the web UI. They are read-only views of the caller's own tenant:
// no page takes a user id from the URL (the admin page, for admins only,
// lists every user). Everything a page changes goes through the JSON API,
// called by the page's script with the session's CSRF token; the one form
// posted natively, log-out, carries the token in a hidden field.

// csrfField is the hidden form field a natively posted form carries.
const csrfField = "csrf_token"

// pageEndpoint wraps a page route: panic recovery, body limit, session-only
// authentication (API bearer tokens do not open pages), the admin check,
// and errors rendered as HTML.
func (s *Server) pageEndpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sw, ok := w.(*statusWriter); ok {
			start := time.Now()
			defer func() { s.metrics.observe(rt.pattern, sw.status, time.Since(start)) }()
		}
		defer s.recoverPage(w, r)
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if rt.access == asset {
			_ = rt.h(w, r, nil)
			return
		}
		id, err := s.pageIdentity(w, r)
		if err != nil {
			if rt.access == pagePublic {
				id = nil // an expired or disabled session browses as signed out
			} else if polybot.ErrorCode(err) == polybot.EUNAUTHORIZED {
				redirectToLogin(w, r)
				return
			} else {
				s.pageError(w, r, nil, err)
				return
			}
		}
		if rt.access == pageAdmin && id.user.Role != polybot.RoleAdmin {
			s.pageError(w, r, id, polybot.Errorf(polybot.EFORBIDDEN, "This page is for administrators."))
			return
		}
		if err := rt.h(w, r, id); err != nil {
			s.pageError(w, r, id, err)
		}
	})
}

// pageIdentity resolves the caller from the session cookie alone.
func (s *Server) pageIdentity(w http.ResponseWriter, r *http.Request) (*identity, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errUnauthenticated
	}
	return s.authSession(w, r, c.Value)
}

func redirectToLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns next if it is a path on this site, else "".
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsAny(next, "\r\n") {
		return ""
	}
	return next
}

// wantsPage reports whether an unmatched request looks like a browser
// asking for a page (not an API client).
func wantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") || p == "/metrics" || p == "/healthz" || p == "/readyz" {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// pageError renders err as an HTML error page with the error's status.
// Internal errors are logged and shown as "internal error" only.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, id *identity, err error) {
	code := polybot.ErrorCode(err)
	if code == polybot.EINTERNAL || code == polybot.EUNAVAILABLE {
		s.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	status := statusOf(code)
	d := web.ErrorData{Status: status, Message: polybot.ErrorMessage(err)}
	switch status {
	case http.StatusNotFound:
		d.Heading = "Page not found"
	case http.StatusForbidden:
		d.Heading = "Not allowed"
	case http.StatusBadRequest:
		d.Heading = "That request was not valid"
	case http.StatusServiceUnavailable:
		d.Heading = "Temporarily unavailable"
	default:
		d.Heading = "Something went wrong"
	}
	if status >= 500 {
		d.Message = "PolyBot could not show this page. Please try again in a moment."
	}
	p := &web.Page{Title: d.Heading, Data: d, Sim: s.cfg.Sim}
	if id != nil {
		p.User, p.CSRF = viewer(id, nil), csrfOf(id)
	}
	if rerr := s.cfg.Web.Render(w, status, "error", p); rerr != nil {
		s.log.Error("render error page", "err", rerr)
		http.Error(w, http.StatusText(status), status)
	}
}

// recoverPage turns a page handler's panic into a logged 500 page.
func (s *Server) recoverPage(w http.ResponseWriter, r *http.Request) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.Error("page panic", "method", r.Method, "path", r.URL.Path, "panic_type", fmt.Sprintf("%T", v))
		s.pageError(w, r, nil, polybot.Internal(errors.New("panic")))
	}
}

func csrfOf(id *identity) string {
	if id == nil || id.session == nil {
		return ""
	}
	return id.session.CSRFToken
}

// viewer is the frame's view of the caller; p may be nil (then the
// onboarding link is not shown).
func viewer(id *identity, p *polybot.Profile) *web.Viewer {
	v := &web.Viewer{ID: id.user.ID, Email: id.user.Email, Admin: id.user.Role == polybot.RoleAdmin, Onboarded: true}
	if p != nil {
		v.DisplayName, v.Onboarded = p.DisplayName, p.OnboardingCompleted
	}
	return v
}

// render renders a signed-in user's page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, id *identity, p *polybot.Profile, view, title string, data any) error {
	page := &web.Page{Title: title, Nav: view, CSRF: csrfOf(id), User: viewer(id, p), Data: data, Sim: s.cfg.Sim}
	if err := s.cfg.Web.Render(w, http.StatusOK, view, page); err != nil {
		return polybot.Internal(err)
	}
	return nil
}

func (s *Server) profile(r *http.Request, id *identity) (*polybot.Profile, error) {
	var p *polybot.Profile
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		p, err = tx.Profile()
		return err
	})
	return p, err
}

func (s *Server) tiers(r *http.Request) ([]*polybot.Tier, error) {
	var out []*polybot.Tier
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		out, err = tx.Tiers()
		return err
	})
	return out, err
}

// --- public pages ---

func (s *Server) pageHome(w http.ResponseWriter, r *http.Request, id *identity) error {
	if id == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	p, err := s.profile(r, id)
	if err != nil {
		return err
	}
	target := "/dashboard"
	if !p.OnboardingCompleted {
		target = "/onboarding"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.authPage(w, r, id, "login", "Log in")
}

func (s *Server) pageSignup(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.authPage(w, r, id, "signup", "Sign up")
}

func (s *Server) authPage(w http.ResponseWriter, r *http.Request, id *identity, view, title string) error {
	next := safeNext(r.URL.Query().Get("next"))
	if id != nil {
		if next == "" {
			next = "/"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	if err := s.cfg.Web.Render(w, http.StatusOK, view, &web.Page{Title: title, Data: web.AuthData{Next: next}, Sim: s.cfg.Sim}); err != nil {
		return polybot.Internal(err)
	}
	return nil
}

// pageLogout is the one natively posted form: its CSRF token comes in a
// hidden field, and an Origin, when sent, must be this host.
func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request, id *identity) error {
	if err := r.ParseForm(); err != nil {
		return polybot.Errorf(polybot.EINVALID, "The form could not be read.")
	}
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return polybot.Errorf(polybot.EFORBIDDEN, "Cross-origin request refused.")
		}
	}
	if id.session == nil || !auth.TokenEqual(r.PostForm.Get(csrfField), id.session.CSRFToken) {
		return polybot.Errorf(polybot.EFORBIDDEN, "The form's security token did not match your session. Reload the page and try again.")
	}
	if err := s.endSession(w, r, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// --- signed-in pages ---

func (s *Server) pageOnboarding(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var c *polybot.Config
	var metas []polybot.SecretMeta
	var u usage
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		u = profileView(p, tx.Now()).Usage
		if c, err = tx.Config(); err != nil {
			return err
		}
		list, err := tx.Secrets()
		for _, sec := range list {
			metas = append(metas, sec.Meta())
		}
		return err
	})
	if err != nil {
		return err
	}
	step := web.NextOnboardingStep(p, c, metas)
	if q := r.URL.Query().Get("step"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > len(web.OnboardingSteps) {
			return polybot.Errorf(polybot.ENOTFOUND, "There is no such onboarding step.")
		}
		step = n
	} else if p.OnboardingCompleted {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return nil
	}
	if p.AcceptedTermsAt == nil {
		step = 1 // nothing else until the terms are accepted
	}
	tiers, err := s.tiers(r)
	if err != nil {
		return err
	}
	plan := web.NewPlanData(p, tiers, webUsage(u), id.user.Role == polybot.RoleAdmin)
	if plan.Billing, err = s.billingView(r.Context(), id.tenant()); err != nil {
		return err
	}
	d := web.NewOnboarding(step, p, c, metas, plan)
	d.Sim = s.simKeys()
	return s.render(w, r, id, p, "onboarding", "Set up", d)
}

func webUsage(u usage) web.Usage {
	return web.Usage{Month: u.Month, Used: u.Used, Limit: u.Limit, Remaining: u.Remaining}
}

// dashboardTrades is how many recent trades the dashboard shows.
const dashboardTrades = 20

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var fills []*polybot.TradeFill
	var olderTrades string
	var hs []*polybot.Holding
	var rep *pnlReport
	hedges, err := s.hedges(r)
	pairs := hedges.Pairs
	if err != nil {
		return err
	}
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		if fills, olderTrades, err = findFillPage(tx, polybot.FillFilter{Limit: dashboardTrades}); err != nil {
			return err
		}
		if hs, err = tx.Holdings(); err != nil {
			return err
		}
		rep, err = loadPnL(tx, hedges, s.cfg.Valuer)
		return err
	})
	if err != nil {
		return err
	}
	if id.user.Role != polybot.RoleAdmin { // as GET /api/v1/market-pairs shows them
		approved := pairs[:0:0]
		for _, m := range pairs {
			if m.Approved {
				approved = append(approved, m)
			}
		}
		pairs = approved
	}
	labels := web.NewLabeler(hedges)
	d := web.DashboardData{ByStrategy: rep.ByStrategy, Labels: labels, Onboarded: p.OnboardingCompleted}
	d.NetDryRun, d.NetLive = rep.Net[polybot.DryRun].Total, rep.Net[polybot.Live].Total
	series := make([]web.PnLPoint, len(rep.Series))
	for i, pt := range rep.Series {
		series[i] = web.PnLPoint{Time: pt.Time, Strategy: pt.Strategy, Total: pt.Total}
	}
	d.Chart = web.NewChart(series, s.now(), web.ParseChartRange(r.URL.Query().Get("range")))
	d.LockedDryRun, d.LockedLive = rep.LockedTotal[polybot.DryRun], rep.LockedTotal[polybot.Live]
	for _, l := range rep.Locked {
		d.Locked = append(d.Locked, labels.NewLockedRow(l))
	}
	for _, pv := range s.positionViews(hs, hedges, false) {
		d.Positions = append(d.Positions, web.PositionRow{Key: pv.Instrument.Key() + "/" + string(pv.Mode), Label: labels.Label(pv.Instrument),
			Venue: pv.Instrument.Venue, Outcome: web.OutcomeOf(pv.Instrument), Mode: pv.Mode, Size: pv.Size, InSets: pv.InSets,
			AvgPrice: pv.AvgPrice, Mark: pv.Mark, Unrealized: pv.Unrealized})
	}
	for _, f := range fills {
		d.Trades = append(d.Trades, labels.NewTradeRow(f))
	}
	if olderTrades != "" {
		d.OlderTrades = "/trades?before=" + url.QueryEscape(olderTrades)
	}
	if s.cfg.Bots != nil {
		st, err := s.botStatus(r.Context(), s.cfg.Bots, id.tenant())
		if err != nil {
			return err
		}
		d.Bot = web.BotView{Available: true, BotStatus: st}
		for _, o := range s.cfg.Bots.Opportunities(r.Context(), id.tenant(), 20) {
			d.Opportunities = append(d.Opportunities, labels.NewOpportunityRow(o))
		}
	}
	return s.render(w, r, id, p, "dashboard", "Dashboard", d)
}

func (s *Server) pageKeys(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var metas []polybot.SecretMeta
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		list, err := tx.Secrets()
		for _, sec := range list {
			metas = append(metas, sec.Meta())
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.render(w, r, id, p, "keys", "API keys", web.KeysData{Cards: web.NewKeyCards(metas), Sim: s.simKeys()})
}

func (s *Server) pageConfig(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var c *polybot.Config
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		c, err = tx.Config()
		return err
	})
	if err != nil {
		return err
	}
	return s.render(w, r, id, p, "config", "Config", web.ConfigData{Form: web.NewConfigView(c, p)})
}

func (s *Server) pagePlan(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var u usage
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		u = profileView(p, tx.Now()).Usage
		return nil
	})
	if err != nil {
		return err
	}
	tiers, err := s.tiers(r)
	if err != nil {
		return err
	}
	d := web.NewPlanData(p, tiers, webUsage(u), id.user.Role == polybot.RoleAdmin)
	if d.Billing, err = s.billingView(r.Context(), id.tenant()); err != nil {
		return err
	}
	return s.render(w, r, id, p, "plan", "Plan and usage", d)
}

// adminPageSize is how many users the admin page lists at once.
const adminPageSize = 100

func (s *Server) pageAdmin(w http.ResponseWriter, r *http.Request, id *identity) error {
	p, err := s.profile(r, id)
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("after")
	var users []*polybot.UserSummary
	var halt string
	var pairs []*polybot.MarketPair
	var tiers []*polybot.Tier
	var sets []*polybot.OutcomeSet
	var rels []*polybot.Relation
	err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		if users, err = tx.Users(after, adminPageSize); err != nil {
			return err
		}
		if halt, err = tx.GlobalHalt(); err != nil {
			return err
		}
		if pairs, err = tx.MarketPairs(); err != nil {
			return err
		}
		if sets, err = tx.OutcomeSets(); err != nil {
			return err
		}
		if rels, err = tx.Relations(); err != nil {
			return err
		}
		tiers, err = tx.Tiers()
		return err
	})
	if err != nil {
		return err
	}
	d := web.AdminData{GlobalHalt: halt, HaltStates: []string{polybot.HaltActive, polybot.HaltReducingOnly, polybot.HaltHalted}}
	for _, t := range tiers {
		d.Tiers = append(d.Tiers, t.Name)
	}
	prices, err := s.billingPrices(r.Context())
	if err != nil {
		return err
	}
	d.Billing = web.NewAdminBilling(s.cfg.Billing != nil, tiers, prices)
	for _, u := range users {
		row := web.AdminUser{ID: u.User.ID, Email: u.User.Email, Name: u.Profile.DisplayName, Role: u.User.Role, Tier: u.Profile.SubscriptionTier,
			Disabled: u.User.Disabled, Onboarded: u.Profile.OnboardingCompleted, Created: u.User.CreatedAt, Self: u.User.ID == id.user.ID}
		if s.cfg.Bots != nil {
			st := s.cfg.Bots.Status(r.Context(), u.User.ID)
			row.BotState, row.BotReason = st.State, st.Reason
		}
		d.Users = append(d.Users, row)
	}
	if len(users) == adminPageSize {
		d.NextAfter = users[len(users)-1].User.Email
	}
	for _, m := range pairs {
		d.Pairs = append(d.Pairs, web.AdminPair{MarketPair: m})
	}
	d.Sets, d.Relations = web.NewAdminOverlap(sets, rels)
	return s.render(w, r, id, p, "admin", "Admin", d)
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request, _ *identity) error {
	s.cfg.Web.ServeStatic(w, r, r.PathValue("file"))
	return nil
}

// pageOrders lists the tenant's orders (GET /api/v1/orders's filters and
// page cursor, as a plain GET form), with what became of each.
func (s *Server) pageOrders(w http.ResponseWriter, r *http.Request, id *identity) error {
	f, err := intentFilter(r)
	if err != nil {
		return err
	}
	hedges, err := s.hedges(r)
	pairs := hedges.Pairs
	if err != nil {
		return err
	}
	var p *polybot.Profile
	var ins []*polybot.Intent
	var next string
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		ins, next, err = findIntentPage(tx, f)
		return err
	})
	if err != nil {
		return err
	}
	labels := web.NewLabeler(hedges)
	q := r.URL.Query()
	d := web.OrdersData{Filter: web.OrdersFilter{State: q.Get("state"), Strategy: q.Get("strategy"), Venue: q.Get("venue"),
		Market: q.Get("market"), Mode: q.Get("mode"), From: q.Get("from"), To: q.Get("to"), Opportunity: q.Get("opportunity")},
		States: web.IntentStates, Strategies: []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform,
			polybot.StrategyOverlapping, polybot.StrategyNews, polybot.StrategyCopy}, Venues: polybot.Platforms}
	d.Markets = marketChoices(pairs)
	for _, in := range ins {
		d.Rows = append(d.Rows, labels.NewOrderRow(in))
	}
	csv := cloneQuery(q)
	csv.Set("format", "csv")
	d.CSV = "/api/v1/orders?" + csv.Encode()
	if next != "" {
		nq := cloneQuery(q)
		nq.Set("before", next)
		d.Next = "/orders?" + nq.Encode()
	}
	return s.render(w, r, id, p, "orders", "Orders", d)
}

// marketChoices are the approved pairs' markets, as a filter offers them.
func marketChoices(pairs []*polybot.MarketPair) []web.MarketChoice {
	var out []web.MarketChoice
	for _, m := range pairs {
		if !m.Approved {
			continue
		}
		for _, l := range m.Legs {
			if l.Market != "" {
				out = append(out, web.MarketChoice{Value: l.Market, Label: m.Name + " (" + polybot.PlatformName(l.Venue) + ")"})
			}
		}
	}
	return out
}

// pageTrades lists the tenant's fills (GET /api/v1/trades's filters and
// page cursor, as a plain GET form).
func (s *Server) pageTrades(w http.ResponseWriter, r *http.Request, id *identity) error {
	f, err := fillFilter(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("limit") == "" {
		f.Limit = 50
	}
	hedges, err := s.hedges(r)
	pairs := hedges.Pairs
	if err != nil {
		return err
	}
	var p *polybot.Profile
	var fills []*polybot.TradeFill
	var next string
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		fills, next, err = findFillPage(tx, f)
		return err
	})
	if err != nil {
		return err
	}
	labels := web.NewLabeler(hedges)
	q := r.URL.Query()
	d := web.TradesData{Filter: web.TradesFilter{Strategy: q.Get("strategy"), Venue: q.Get("venue"), Market: q.Get("market"), Mode: q.Get("mode")},
		Strategies: []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform, polybot.StrategyOverlapping,
			polybot.StrategyNews, polybot.StrategyCopy}, Venues: polybot.Platforms, Markets: marketChoices(pairs)}
	for _, x := range fills {
		d.Rows = append(d.Rows, labels.NewTradeRow(x))
	}
	if next != "" {
		nq := cloneQuery(q)
		nq.Set("before", next)
		d.Next = "/trades?" + nq.Encode()
	}
	return s.render(w, r, id, p, "trades", "Trades", d)
}

// cloneQuery copies a URL query without its empty values.
func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if v != "" {
				out.Add(k, v)
			}
		}
	}
	return out
}

func (s *Server) pageTokens(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var toks []*polybot.APIToken
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		toks, err = tx.APITokens()
		return err
	})
	if err != nil {
		return err
	}
	return s.render(w, r, id, p, "tokens", "API tokens", web.NewTokensData(toks))
}

// simKeys reports whether the pages may offer "Generate simulator keys".
func (s *Server) simKeys() bool { return s.cfg.Sim && s.cfg.SimulatorKeys != nil }
