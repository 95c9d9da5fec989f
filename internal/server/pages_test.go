package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
	"github.com/polybot/polybot/internal/web"
)

// newWebEnv is a test server with the web UI mounted.
func newWebEnv(t *testing.T, adjust func(*server.Config)) *testEnv {
	t.Helper()
	ui, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, nil, func(c *server.Config) {
		c.Web = ui
		if adjust != nil {
			adjust(c)
		}
	})
}

// page GETs a page as a browser would, without following redirects.
func (c *client) page(path string) response {
	c.env.t.Helper()
	return c.browser("GET", path, nil)
}

func (c *client) browser(method, path string, form url.Values) response {
	c.env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.env.URL+path, body)
	if err != nil {
		c.env.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	hc := &http.Client{Jar: c.hc.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Body: b, Header: res.Header}
}

var (
	scriptTags = regexp.MustCompile(`<script\b[^>]*>`)
	nonceOf    = regexp.MustCompile(`\bnonce="([^"]+)"`)
	cspNonceOf = regexp.MustCompile(`'nonce-([^']+)'`)
	assetURLs  = regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
)

// expectSecurePage checks an HTML page: a strict CSP whose nonce every
// script carries, no inline styles or handlers, nothing from another host.
func expectSecurePage(t *testing.T, path string, r response) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("%s: CSP %q allows unsafe sources", path, csp)
	}
	m := cspNonceOf.FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("%s: CSP %q has no nonce", path, csp)
	}
	body := string(r.Body)
	tags := scriptTags.FindAllString(body, -1)
	if len(tags) < 2 {
		t.Errorf("%s: %d script tags", path, len(tags))
	}
	for _, tag := range tags {
		if n := nonceOf.FindStringSubmatch(tag); n == nil || n[1] != m[1] {
			t.Errorf("%s: %s lacks the CSP nonce %s", path, tag, m[1])
		}
	}
	if regexp.MustCompile(`\sstyle=|<style`).MatchString(body) {
		t.Errorf("%s: inline style", path)
	}
	if regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Errorf("%s: inline event handler", path)
	}
	if regexp.MustCompile(`(?:src|action)="(?:https?:)?//`).MatchString(body) || regexp.MustCompile(`<link\b[^>]*href="(?:https?:)?//`).MatchString(body) {
		t.Errorf("%s: loads something from another host", path)
	}
	// A link to another host (a headline's story) opens without a referrer
	// or a handle on this page.
	for _, a := range regexp.MustCompile(`<a\b[^>]*href="(?:https?:)?//[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(a, `rel="noopener noreferrer nofollow"`) {
			t.Errorf("%s: %s links to another host without rel=noopener noreferrer nofollow", path, a)
		}
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", path, r.Header.Get("Cache-Control"))
	}
}

func expectContains(t *testing.T, path string, r response, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(string(r.Body), f) {
			t.Errorf("%s lacks %q", path, f)
		}
	}
}

// userPages are every signed-in page and an element each must show.
var userPages = []struct{ path, marker string }{
	{"/onboarding", `id="onboarding-step-1"`},
	{"/onboarding?step=1", `id="terms-form"`},
	{"/dashboard", `id="pnl-chart"`},
	{"/orders", `id="orders-table"`},
	{"/trades", `id="trades-table"`},
	{"/keys", `id="key-card-kalshi"`},
	{"/tokens", `id="token-form-name"`},
	{"/config", `id="config-form-max_trade_size_usd"`},
	{"/plan", `id="usage-bar"`},
	{"/news", `id="rule-form-name"`},
	{"/copy", `id="leader-form-address"`},
	{"/notifications", `id="notify-add-form-channel"`},
}

func TestEveryPageRendersForASignedInUser(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("pages@example.com")
	for _, p := range userPages {
		r := c.page(p.path)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", p.path, r.Status, r.Body)
		}
		expectSecurePage(t, p.path, r)
		expectContains(t, p.path, r, p.marker, `<meta name="csrf-token" content="`+c.csrf+`">`, `id="logout-form"`, `name="csrf_token" value="`+c.csrf+`"`)
	}
	for _, p := range []string{"/onboarding?step=2", "/onboarding?step=3", "/onboarding?step=4"} {
		// The terms come first: the other steps wait for them.
		expectContains(t, p, c.page(p), `id="onboarding-step-1"`)
	}
	expectStatus(t, c.do("PATCH", "/api/v1/profile", map[string]bool{"accept_terms": true}), 200)
	for p, marker := range map[string]string{"/onboarding?step=2": `id="onboarding-plan-limits"`, "/onboarding?step=3": `id="key-form-polymarket"`, "/onboarding?step=4": `id="initial-config-form"`} {
		r := c.page(p)
		expectStatus(t, r, 200)
		expectSecurePage(t, p, r)
		expectContains(t, p, r, marker)
	}
	expectStatus(t, c.page("/onboarding?step=9"), 404)
}

func TestPagesRedirectToLoginWhenSignedOut(t *testing.T) {
	env := newWebEnv(t, nil)
	anon := env.client()
	for _, p := range append(userPages, struct{ path, marker string }{"/admin", ""}) {
		r := anon.page(p.path)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("GET %s signed out: %d", p.path, r.Status)
		}
		if loc := r.Header.Get("Location"); loc != "/login?next="+url.QueryEscape(p.path) {
			t.Errorf("GET %s signed out → %s", p.path, loc)
		}
	}
	if loc := anon.page("/").Header.Get("Location"); loc != "/login" {
		t.Errorf("/ signed out → %s", loc)
	}
	// A bearer token is for the API, not for pages.
	c := env.client().signup("bearer@example.com")
	var tok struct {
		Token string `json:"token"`
	}
	c.do("POST", "/api/v1/tokens", map[string]any{"name": "cli"}).JSON(t, &tok)
	b := env.client()
	b.bearer = tok.Token
	expectStatus(t, b.do("GET", "/api/v1/profile", nil), 200)
	if r := b.page("/dashboard"); r.Status != http.StatusSeeOther {
		t.Errorf("a bearer token opened the dashboard: %d", r.Status)
	}
	for _, p := range []string{"/login", "/signup", "/login?next=/keys"} {
		r := anon.page(p)
		expectStatus(t, r, 200)
		expectSecurePage(t, p, r)
	}
	expectContains(t, "/login", anon.page("/login?next=/keys"), `data-next="/keys"`)
	// An off-site next is dropped.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		if r := anon.page("/login?next=" + url.QueryEscape(next)); strings.Contains(string(r.Body), "evil.example") {
			t.Errorf("next=%s reached the page", next)
		}
	}
}

func TestSignedInUsersAreSentOnFromHomeLoginAndSignup(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("home@example.com")
	if loc := c.page("/").Header.Get("Location"); loc != "/onboarding" {
		t.Errorf("/ before onboarding → %q", loc)
	}
	expectStatus(t, c.do("PATCH", "/api/v1/profile", map[string]bool{"accept_terms": true, "onboarding_completed": true}), 200)
	if loc := c.page("/").Header.Get("Location"); loc != "/dashboard" {
		t.Errorf("/ after onboarding → %q", loc)
	}
	if loc := c.page("/onboarding").Header.Get("Location"); loc != "/dashboard" {
		t.Errorf("/onboarding once finished → %q", loc)
	}
	expectStatus(t, c.page("/onboarding?step=4"), 200) // still reachable on purpose
	if loc := c.page("/login?next=/config").Header.Get("Location"); loc != "/config" {
		t.Errorf("/login signed in → %q", loc)
	}
	if loc := c.page("/signup").Header.Get("Location"); loc != "/" {
		t.Errorf("/signup signed in → %q", loc)
	}
}

func TestAdminPageIsForAdminsOnly(t *testing.T) {
	env := newWebEnv(t, nil)
	u := env.client().signup("plain@example.com")
	r := u.page("/admin")
	expectStatus(t, r, http.StatusForbidden)
	expectSecurePage(t, "/admin", r)
	if strings.Contains(string(r.Body), "users-table") {
		t.Error("the 403 page shows the user list")
	}
	if strings.Contains(string(u.page("/dashboard").Body), `id="nav-admin"`) {
		t.Error("a user's navigation links to the admin page")
	}
	a := env.client().signup("boss@example.com").makeAdmin()
	r = a.page("/admin")
	expectStatus(t, r, 200)
	expectSecurePage(t, "/admin", r)
	expectContains(t, "/admin", r, `id="users-table"`, "plain@example.com", `id="user-`+u.user.ID.String()+`-tier"`,
		`id="halt-form"`, `id="global-halt-state" data-state="active"`, `id="pair-fed-dec2025-hold-reject"`, `id="nav-admin"`)
}

func TestPagesShowOnlyTheTenantsOwnData(t *testing.T) {
	env := newWebEnv(t, nil)
	a := env.client().signup("own-a@example.com")
	b := env.client().signup("own-b@example.com")
	recordTrade(t, env, a.user.ID, "pb-own-a1", "0.40", "10", polybot.Buy)
	wallet := "0x" + strings.Repeat("ab", 32)
	var meta struct {
		Fingerprint string `json:"fingerprint"`
	}
	r := a.do("POST", "/api/v1/secrets", map[string]any{"platform": "polymarket", "private_key": wallet})
	expectStatus(t, r, http.StatusCreated)
	r.JSON(t, &meta)

	dash := a.page("/dashboard")
	expectContains(t, "A's dashboard", dash, `data-trade-id="t-pb-own-a1"`, `class="position-row"`, "Fed decision December 2025")
	keys := a.page("/keys")
	expectContains(t, "A's keys", keys, meta.Fingerprint, `id="key-polymarket-paper" data-platform="polymarket" data-paper="true" data-stored="true"`)
	if strings.Contains(string(keys.Body), strings.Repeat("ab", 32)) {
		t.Fatal("the keys page shows the key itself")
	}
	for _, p := range []string{"/dashboard", "/keys", "/config", "/plan", "/onboarding"} {
		body := string(b.page(p).Body)
		for _, leak := range []string{"pb-own-a1", meta.Fingerprint, "own-a@example.com", a.user.ID.String()} {
			if strings.Contains(body, leak) {
				t.Errorf("B's %s shows A's %q", p, leak)
			}
		}
	}
}

func TestDashboardShowsLockedInSets(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("locked@example.com")
	for i, o := range []polybot.Outcome{polybot.Yes, polybot.No} {
		inst := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFEDDECISION-25DEC-H0", Outcome: o}
		id := fmt.Sprintf("pb-lock-%d", i)
		err := env.Store.Tenant(context.Background(), c.user.ID, func(tx polybot.TenantTx) error {
			in := &polybot.Intent{ID: id, OpportunityID: "opp-lock", Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun,
				Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.45"), Size: polybot.MustDecimal("10"), TIF: polybot.FOK}
			if err := polybot.SubmitIntent(tx, in, nil); err != nil {
				return err
			}
			_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "t-" + id, ClientOrderID: id,
				Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Instrument: inst, Side: polybot.Buy,
				Price: polybot.MustDecimal("0.45"), Size: polybot.MustDecimal("10"), Time: time.Now()}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// 10 sets bought at 0.45 + 0.45 pay $10 at resolution: $1.00 locked in.
	expectContains(t, "/dashboard", c.page("/dashboard"), `id="pnl-locked-dry_run" class="num pos">$1.00<`,
		`<tr class="locked-row"><td>Fed decision December 2025: no change<div class="muted small set-legs">Matched pair: Kalshi YES &#43; Kalshi NO</div></td><td>dry-run</td><td class="num">10</td><td class="num">1.00</td><td class="num">0.90</td><td class="num pos">$1.00</td></tr>`,
		// Both legs are wholly in the set: nothing unhedged, no unrealised P&L to contradict the locked-in figure.
		`<td class="num">10</td><td class="num">10</td><td class="num opt">0.45</td><td class="num">—</td><td class="num zero">$0.00</td>`)
}

func TestLogoutFormNeedsTheSessionsCSRFToken(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("bye@example.com")
	for name, form := range map[string]url.Values{"no token": {}, "wrong token": {"csrf_token": {"nope"}}} {
		r := c.browser("POST", "/logout", form)
		if r.Status != http.StatusForbidden {
			t.Errorf("%s: %d", name, r.Status)
		}
	}
	expectStatus(t, c.do("GET", "/api/v1/auth/session", nil), 200)
	r := c.browser("POST", "/logout", url.Values{"csrf_token": {c.csrf}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d → %s", r.Status, r.Header.Get("Location"))
	}
	expectStatus(t, c.do("GET", "/api/v1/auth/session", nil), 401)
	if loc := c.page("/dashboard").Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
		t.Errorf("after logout the dashboard → %q", loc)
	}
}

func TestPageAssetsAreHashedAndServedWithLongCaching(t *testing.T) {
	env := newWebEnv(t, nil)
	body := string(env.client().page("/login").Body)
	urls := assetURLs.FindAllStringSubmatch(body, -1)
	if len(urls) < 4 {
		t.Fatalf("asset URLs %v", urls)
	}
	hashed := regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{12}\.[a-z]+$`)
	for _, m := range urls {
		if !hashed.MatchString(m[1]) {
			t.Errorf("%s is not content-hashed", m[1])
		}
		r := env.client().page(m[1])
		expectStatus(t, r, 200)
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("%s: Cache-Control %q", m[1], cc)
		}
	}
	expectStatus(t, env.client().page("/static/app.css"), 404)
}

func TestUnknownPathsAre404InTheirOwnLanguage(t *testing.T) {
	env := newWebEnv(t, nil)
	r := env.client().page("/no-such-page")
	expectStatus(t, r, 404)
	expectSecurePage(t, "/no-such-page", r)
	r = env.client().do("GET", "/api/v1/no-such-route", nil)
	expectStatus(t, r, 404)
	if !strings.Contains(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API 404 is %s", r.Header.Get("Content-Type"))
	}
	// Without the UI the server is the API alone.
	api := newEnv(t, nil)
	expectStatus(t, api.client().page("/login"), 404)
}

func TestAPIStillAnswersAsBeforeWithTheUIMounted(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("api-too@example.com")
	runCases(t, c, []apiCase{
		{"config", "GET", "/api/v1/config", nil, 200, "", `"dry_run":true`},
		{"bad config", "PUT", "/api/v1/config", map[string]any{"max_trade_size_usd": "-1"}, 400, "max_trade_size_usd", ""},
		{"pnl", "GET", "/api/v1/pnl", nil, 200, "", `"series":[]`},
		{"healthz", "GET", "/healthz", nil, 200, "", "ok"},
	})
}

// fakeBots is a bot manager that reports one running bot and one opportunity.
type fakeBots struct {
	mu      sync.Mutex
	running map[polybot.ID]bool
}

func (f *fakeBots) set(id polybot.ID, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[id] = on
}
func (f *fakeBots) Start(_ context.Context, id polybot.ID) error  { f.set(id, true); return nil }
func (f *fakeBots) Stop(_ context.Context, id polybot.ID) error   { f.set(id, false); return nil }
func (f *fakeBots) Reload(_ context.Context, id polybot.ID) error { return nil }
func (f *fakeBots) Status(_ context.Context, id polybot.ID) polybot.BotStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := polybot.BotStatus{State: polybot.BotStopped, Mode: polybot.DryRun, Strategies: []string{}, Platforms: []polybot.Platform{}}
	if f.running[id] {
		st.State, st.Strategies, st.Counters.Fills = polybot.BotRunning, []string{polybot.StrategyCrossPlatform}, 7
	}
	return st
}
func (f *fakeBots) Opportunities(_ context.Context, id polybot.ID, limit int) []polybot.Opportunity {
	return []polybot.Opportunity{{ID: "op-fake-1", Strategy: polybot.StrategyCrossPlatform, Size: polybot.MustDecimal("10"),
		Cost: polybot.MustDecimal("0.97"), NetEdge: polybot.MustDecimal("0.03"), ProfitPct: polybot.MustDecimal("3.092783"), DetectedAt: time.Now(),
		Legs: []polybot.Leg{{Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "KX", Outcome: polybot.No}, Price: polybot.MustDecimal("0.5")}}}}
}
func (f *fakeBots) Subscribe(polybot.ID) (<-chan polybot.Event, func()) {
	ch := make(chan polybot.Event)
	return ch, func() {}
}

func TestDashboardShowsTheBotAndItsOpportunities(t *testing.T) {
	bots := &fakeBots{running: map[polybot.ID]bool{}}
	env := newWebEnv(t, func(c *server.Config) { c.Bots = bots })
	c := env.client().signup("bot-owner@example.com")
	c.onboard()
	r := c.page("/dashboard")
	expectStatus(t, r, 200)
	expectContains(t, "/dashboard", r, `id="bot-state" data-state="running"`, `data-counter="fills">7<`, `id="bot-start" data-action="bot-start" disabled`,
		`data-opportunity-id="op-fake-1"`, "3.09%", `data-available="true"`)
	expectStatus(t, c.do("POST", "/api/v1/bot/stop", nil), 200)
	expectContains(t, "/dashboard", c.page("/dashboard"), `id="bot-state" data-state="stopped"`, `id="bot-stop" data-action="bot-stop" disabled`)
	// Without a bot manager the dashboard says so instead of failing.
	plain := newWebEnv(t, nil).client().signup("no-bots@example.com")
	expectContains(t, "/dashboard", plain.page("/dashboard"), `data-available="false"`, "not running on this server")
}

func TestOrdersPageSaysWhatBecameOfEachOrderAndFilters(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("orders@example.com")
	k := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFEDDECISION-25DEC-H0", Outcome: polybot.Yes}
	p := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xabc", Token: "111", Outcome: polybot.No}
	err := env.Store.Tenant(context.Background(), c.user.ID, func(tx polybot.TenantTx) error {
		for _, in := range []*polybot.Intent{
			{ID: "pb-moved", State: polybot.IntentCancelled, Error: "not sent: the book moved: kalshi shows 3 at 0.45, not 10", Instrument: k},
			{ID: "pb-refused", State: polybot.IntentRejected, Error: "refused: Today's loss $112.40 reached your $100.00 daily limit.", Instrument: k},
			{ID: "pb-filled", State: polybot.IntentFilled, Filled: polybot.MustDecimal("10"), Instrument: p},
			{ID: "pb-unwind", State: polybot.IntentFilled, Filled: polybot.MustDecimal("10"), Instrument: k, Leg: polybot.UnwindLeg, Side: polybot.Sell},
		} {
			in.OpportunityID, in.Strategy, in.Mode, in.TIF = "opp", polybot.StrategyCrossPlatform, polybot.DryRun, polybot.FOK
			in.Price, in.Size = polybot.MustDecimal("0.45"), polybot.MustDecimal("10")
			if err := tx.InsertIntent(in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := c.page("/orders")
	expectStatus(t, r, 200)
	expectSecurePage(t, "/orders", r)
	expectContains(t, "/orders", r, "Not sent: the book moved: kalshi shows 3 at 0.45, not 10",
		"Refused by your limits: Today&#39;s loss $112.40 reached your $100.00 daily limit.",
		"Filled 10.00 at up to 0.45", "Unwind: Filled 10.00", `href="/api/v1/orders?format=csv"`)
	r = c.page("/orders?venue=polymarket")
	expectContains(t, "/orders?venue=polymarket", r, `data-order-id="pb-filled"`, `href="/api/v1/orders?format=csv&amp;venue=polymarket"`)
	if strings.Contains(string(r.Body), `data-order-id="pb-moved"`) {
		t.Error("the venue filter let a Kalshi order through")
	}
	r = c.page("/orders?state=rejected&market=KXFEDDECISION-25DEC-H0")
	expectContains(t, "/orders?state=rejected", r, `data-order-id="pb-refused"`)
	if strings.Contains(string(r.Body), `data-order-id="pb-moved"`) {
		t.Error("the state filter let a cancelled order through")
	}
	if r := c.page("/orders?from=yesterday"); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "from") {
		t.Errorf("a bad date: %d %s", r.Status, r.Body)
	}
	// Paging: 3 rows a page, then the rest.
	r = c.page("/orders?limit=3")
	expectContains(t, "/orders?limit=3", r, `id="orders-next"`)
	// One opportunity's orders (where a news rule's fire links).
	err = env.Store.Tenant(context.Background(), c.user.ID, func(tx polybot.TenantTx) error {
		return tx.InsertIntent(&polybot.Intent{ID: "pb-news", OpportunityID: "opp-news-1", Strategy: polybot.StrategyNews, Mode: polybot.DryRun,
			TIF: polybot.FOK, Instrument: k, Price: polybot.MustDecimal("0.38"), Size: polybot.MustDecimal("5"), State: polybot.IntentFilled,
			Filled: polybot.MustDecimal("5")})
	})
	if err != nil {
		t.Fatal(err)
	}
	r = c.page("/orders?opportunity=opp-news-1")
	expectContains(t, "/orders?opportunity=opp-news-1", r, `data-order-id="pb-news"`, `id="orders-opportunity"`,
		`<input type="hidden" name="opportunity" value="opp-news-1">`)
	if strings.Contains(string(r.Body), `data-order-id="pb-moved"`) {
		t.Error("the opportunity filter let another opportunity's order through")
	}
	r = c.do("GET", "/api/v1/orders?opportunity=opp-news-1", nil)
	expectContains(t, "GET /api/v1/orders?opportunity=opp-news-1", r, `"client_order_id":"pb-news"`)
	if strings.Contains(string(r.Body), "pb-moved") {
		t.Error("GET /api/v1/orders?opportunity= let another opportunity's order through")
	}
	if r := c.do("GET", "/api/v1/orders?opportunity=a%00b", nil); r.Status != 400 || r.Fields(t)["opportunity"] == "" {
		t.Errorf("a NUL in the opportunity filter: %d %s", r.Status, r.Body)
	}
}

func TestTradesPageFiltersAndPagesAndTheDashboardLinksToIt(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("trades-page@example.com")
	k := polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFEDDECISION-25DEC-H0", Outcome: polybot.Yes}
	p := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xabc", Token: "111", Outcome: polybot.No}
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	err := env.Store.Tenant(context.Background(), c.user.ID, func(tx polybot.TenantTx) error {
		for i := range 25 {
			inst := k
			if i%5 == 0 {
				inst = p
			}
			if err := tx.InsertFill(&polybot.TradeFill{Venue: inst.Venue, TradeID: fmt.Sprintf("tr-%02d", i), Strategy: polybot.StrategyCrossPlatform,
				Mode: polybot.DryRun, Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.45"), Size: polybot.MustDecimal("10"),
				Time: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The dashboard shows the 20 newest and links to the older ones.
	r := c.page("/dashboard")
	expectContains(t, "/dashboard", r, `data-trade-id="tr-24"`, `data-trade-id="tr-05"`, `id="trades-all-link"`,
		`id="trades-older" href="/trades?before=2026-11-30T12%3A05%3A00Z"`)
	if strings.Contains(string(r.Body), `data-trade-id="tr-04"`) {
		t.Error("the dashboard shows more than 20 trades")
	}
	r = c.page("/trades?before=2026-11-30T12:05:00Z")
	expectStatus(t, r, 200)
	expectSecurePage(t, "/trades", r)
	expectContains(t, "/trades?before=…", r, `data-trade-id="tr-04"`, `data-trade-id="tr-00"`)
	if strings.Contains(string(r.Body), `data-trade-id="tr-05"`) || strings.Contains(string(r.Body), `id="trades-next"`) {
		t.Error("the older page repeats a newer trade or offers a page after the last")
	}
	r = c.page("/trades?venue=polymarket")
	expectContains(t, "/trades?venue=polymarket", r, `data-trade-id="tr-20"`, `data-trade-id="tr-00"`, `<option value="polymarket" selected>`)
	if strings.Contains(string(r.Body), `data-trade-id="tr-01"`) {
		t.Error("the venue filter let a Kalshi trade through")
	}
	r = c.page("/trades?venue=kalshi&limit=3")
	expectContains(t, "/trades?venue=kalshi&limit=3", r, `data-trade-id="tr-24"`, `data-trade-id="tr-22"`,
		`id="trades-next" href="/trades?before=2026-11-30T12%3A22%3A00Z&amp;limit=3&amp;venue=kalshi"`)
	if r := c.page("/trades?mode=paper"); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "mode") {
		t.Errorf("a bad mode: %d %s", r.Status, r.Body)
	}
}

func TestDashboardDrawsTheChartOverTheRangeAsked(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("chart-range@example.com")
	recordTrade(t, env, c.user.ID, "pb-r1", "0.40", "10", polybot.Buy)
	r := c.page("/dashboard?range=1h")
	expectStatus(t, r, 200)
	expectContains(t, "/dashboard?range=1h", r, `data-range="1h" aria-pressed="true"`, `data-range="all" aria-pressed="false"`,
		`id="pnl-chart" class="chart"`, `data-range="1h">`, `>Time (UTC)</text>`, `>P&amp;L (USD)</text>`, `>$0.00</text>`)
	// Anything else is the whole history.
	expectContains(t, "/dashboard?range=2y", c.page("/dashboard?range=2y"), `data-range="all" aria-pressed="true"`)
}
