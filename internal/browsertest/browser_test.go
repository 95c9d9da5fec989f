package browsertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestWebUI starts one server and one browser and runs every browser flow
// against them, in parallel tabs, each in its own browser context (its own
// cookie jar) and within its own time bound.
func TestWebUI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	trackSources(t)
	start := time.Now()
	browser := startBrowser(t)
	srv := startServer(t)
	t.Logf("server %s and browser up in %v", srv.URL, time.Since(start).Round(time.Millisecond))

	flows := []struct {
		name string
		fn   func(*testing.T, context.Context, *server)
	}{
		{"DashboardShowsBotTradeAndPnL", testDashboard},
		{"SignUpAndOnboardWithSimulatorKeys", testSignUpAndOnboarding},
		{"ConfigFieldErrorThenSaveAndApply", testConfig},
		{"APIKeyNeverInDOMAndDeleteConfirms", testAPIKeys},
		{"CreateCopyAndRevokeAnAPIToken", testTokens},
		{"UsersCannotOpenEachOthersPages", testIsolation},
		{"LogOutLocksProtectedPages", testLogout},
		{"AdminPageAndCSPProbe", testAdmin},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			f.fn(t, browser, srv)
			t.Logf("%s took %v", f.name, time.Since(began).Round(time.Millisecond))
		})
	}
}

// ------------------------------------------------------------- helpers

var emailSeq atomic.Int64

// newEmail is an address no other test uses.
func newEmail(who string) string {
	return fmt.Sprintf("%s-%d-%d@example.com", who, time.Now().UnixNano()%1e6, emailSeq.Add(1))
}

// logIn signs in through the login form, starting from a protected page,
// and waits until the browser is back on that page.
func (tb *tab) logIn(email, password, page string) {
	tb.t.Helper()
	tb.open(page)
	tb.waitPage("/login")
	tb.fill("login-form-email", email)
	tb.fill("login-form-password", password)
	tb.click("login-submit")
	tb.waitPage(page)
}

// logInWithKeyboard signs in from a protected page with the keyboard
// only: type the email, Tab to the password, Enter to submit.
func (tb *tab) logInWithKeyboard(email, password, page string) {
	tb.t.Helper()
	tb.open(page)
	tb.waitPage("/login")
	tb.click("login-form-email")
	tb.do("type the email", chromedp.KeyEvent(email))
	tb.do("Tab", chromedp.KeyEvent("\t"))
	if f := eval[string](tb, `document.activeElement ? document.activeElement.id : ''`); f != "login-form-password" {
		tb.fatalf("Tab from the email field went to %q, want the password field", f)
	}
	tb.do("type the password and press Enter", chromedp.KeyEvent(password+"\r"))
	tb.waitPage(page)
}

// signUpAPI creates an account from the sign-up page's origin with the
// API the page's form uses; the browser context is then signed in. It
// returns the new user's id.
func (tb *tab) signUpAPI(email, password, name string) string {
	tb.t.Helper()
	tb.open("/signup")
	r := tb.fetchAPI("POST", "/api/v1/auth/signup", map[string]string{"email": email, "password": password, "display_name": name})
	if r.Status != http.StatusCreated {
		tb.fatalf("sign up %s: %d %s", email, r.Status, r.Body)
	}
	var resp struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(r.Body), &resp); err != nil || resp.User.ID == "" {
		tb.fatalf("sign-up answer %s: %v", r.Body, err)
	}
	return resp.User.ID
}

// onboardAPI completes onboarding through the API the wizard's last step
// uses: a new account's bot starts then, not at sign-up.
func (tb *tab) onboardAPI() {
	tb.t.Helper()
	r := tb.fetchAPI("PATCH", "/api/v1/profile", map[string]any{"accept_terms": true, "onboarding_completed": true})
	if r.Status != http.StatusOK {
		tb.fatalf("onboarding: %d %s", r.Status, r.Body)
	}
}

// clickLabel clicks the label of an input (styled radios and checkboxes
// may hide the input itself).
func (tb *tab) clickLabel(forID string) {
	tb.t.Helper()
	tb.clickCSS(fmt.Sprintf(`label[for=%q]`, forID))
}

// fieldErrorNextToField checks that the API's field error for field is
// shown in the field's own error slot, inside the same field block and
// just below the input, and that the input is marked invalid.
func (tb *tab) fieldErrorNextToField(form, field, want string) {
	tb.t.Helper()
	input, slot := form+"-"+field, form+"-"+field+"-error"
	tb.waitFor("the "+field+" field error", fmt.Sprintf(`document.getElementById(%q).textContent.trim() !== ''`, slot))
	type placement struct {
		Text     string  `json:"text"`
		Invalid  string  `json:"invalid"`
		Same     bool    `json:"same"`
		Gap      float64 `json:"gap"`
		Visible  bool    `json:"visible"`
		Describe string  `json:"describe"`
	}
	got := eval[placement](tb, fmt.Sprintf(`(function(){
  var i = document.getElementById(%q), e = document.getElementById(%q);
  var ir = i.getBoundingClientRect(), er = e.getBoundingClientRect();
  return {text: e.textContent.trim(), invalid: i.getAttribute('aria-invalid') || '',
          same: !!i.closest('.field') && i.closest('.field') === e.closest('.field'),
          gap: er.top - ir.bottom, visible: er.width > 0 && er.height > 0,
          describe: i.getAttribute('aria-describedby') || ''};
})()`, input, slot))
	if !strings.Contains(got.Text, want) {
		tb.fatalf("field error of %s = %q, want it to say %q", field, got.Text, want)
	}
	if got.Invalid != "true" {
		tb.t.Errorf("%s: input #%s has aria-invalid=%q after a field error, want true", tb.name, input, got.Invalid)
	}
	if !got.Same || !got.Visible || got.Gap < -2 || got.Gap > 80 {
		tb.t.Errorf("%s: the error of %s is not next to its field (same block %v, visible %v, %.0fpx below the input)", tb.name, field, got.Same, got.Visible, got.Gap)
	}
	if !strings.Contains(got.Describe, slot) {
		tb.t.Errorf("%s: #%s is not described by its error #%s (aria-describedby %q)", tb.name, input, slot, got.Describe)
	}
}

// kalshiKey makes an RSA key pair and registers its public half with the
// Kalshi simulator under keyID, as a user registers a key on kalshi.com.
// It returns the private key PEM.
func kalshiKey(t *testing.T, srv *server, keyID string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	body, _ := json.Marshal(map[string]string{"key_id": keyID, "public_key_pem": pubPEM, "balance_dollars": "5000"})
	res, err := http.Post(srv.KalshiAdmin+"/accounts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("register the Kalshi key with the simulator: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("register the Kalshi key with the simulator: %s", res.Status)
	}
	return privPEM
}

// walletKey is a random Polymarket wallet key (the simulator takes any).
func walletKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "0x" + hex.EncodeToString(b)
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// slotValid is the condition "the stored key of platform/mode shows as valid".
func slotValid(platform, mode string) string { return slotStatus(platform, mode, "valid") }

// slotStatus waits for a stored key shown with its fingerprint and the given
// validation status.
func slotStatus(platform, mode, status string) string {
	return fmt.Sprintf(`(function(){var s=document.getElementById('key-%[1]s-%[2]s');
  var st=document.getElementById('key-%[1]s-%[2]s-status');
  return s && !s.hidden && s.dataset.stored==='true' && st && st.dataset.status==='%[3]s' && st.textContent.trim()!=='' &&
    document.getElementById('key-%[1]s-%[2]s-fingerprint').textContent.trim()!==''})()`, platform, mode, status)
}

type secretMeta struct {
	Platform         string  `json:"platform"`
	Paper            bool    `json:"is_paper"`
	Fingerprint      string  `json:"fingerprint"`
	ValidationStatus string  `json:"validation_status"`
	LastValidatedAt  *string `json:"last_validated_at"`
}

type profileResponse struct {
	Profile struct {
		OnboardingCompleted bool    `json:"onboarding_completed"`
		AcceptedTermsAt     *string `json:"accepted_terms_at"`
		DisplayName         string  `json:"display_name"`
		SubscriptionTier    string  `json:"subscription_tier"`
	} `json:"profile"`
}

type secretList struct {
	Secrets []secretMeta `json:"secrets"`
}

// ------------------------------------------------------------------ 1

// testSignUpAndOnboarding: a newcomer on serve --sim opens the site, signs
// up (a field error first, inline), accepts the terms, sees what the plan
// includes, connects Polymarket and Kalshi with "Generate simulator keys"
// alone (a key of the wrong format refused first), resumes after a reload,
// picks a risk preset derived from the plan and finishes on the dashboard.
func testSignUpAndOnboarding(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "newcomer", 150*time.Second)
	email, password := newEmail("newcomer"), "correct-horse-battery"

	tb.open("/")
	tb.waitPage("/login")
	tb.screenshot("login")
	tb.click("signup-link")
	tb.waitPage("/signup")
	tb.screenshot("signup")

	tb.fill("signup-form-display_name", "Nova Newcomer")
	tb.fill("signup-form-email", email)
	tb.fill("signup-form-password", "short")
	tb.click("signup-submit")
	tb.fieldErrorNextToField("signup-form", "password", "at least 12 characters")
	if p := eval[string](tb, `location.pathname`); p != "/signup" {
		tb.fatalf("a rejected sign-up left the page for %s", p)
	}
	tb.fill("signup-form-password", password)
	tb.click("signup-submit")
	tb.waitPage("/onboarding")

	// 1. Terms. Every page says this is the simulator.
	tb.waitFor("the welcome step", `document.getElementById('onboarding-step-1') && document.getElementById('terms-form')`)
	if b := tb.text("#sim-banner"); !strings.Contains(b, "Simulator: no real money") {
		t.Errorf("serve --sim shows no simulator banner (%q)", b)
	}
	tb.screenshot("onboarding-1-terms")
	tb.click("terms-form-accept_terms")
	tb.click("onboarding-next-1")
	tb.waitPage("/onboarding?step=2")

	// 2. The plan first: its limits and strategies, and who sets plans.
	tb.waitFor("the plan step", `document.getElementById('onboarding-step-2') && document.getElementById('onboarding-plan-limits')`)
	if cur := tb.text("#onboarding-current-tier"); cur != "Free" {
		t.Errorf("the plan step names the plan %q, want Free", cur)
	}
	if lim := tb.text("#onboarding-plan-limits"); !strings.Contains(lim, "$50.00") || !strings.Contains(lim, "$100.00") {
		t.Errorf("the plan step's limits read %q, want the free plan's $50.00 trades and $100.00 daily loss", lim)
	}
	if st := tb.text("#onboarding-plan-strategies"); !strings.Contains(st, "Not included: Cross-platform arbitrage") {
		t.Errorf("the plan step does not say cross-platform arbitrage is not included: %q", st)
	}
	if a := tb.text("#onboarding-plan-admin"); !strings.Contains(a, "administrator") {
		t.Errorf("the plan step does not say who sets plans: %q", a)
	}
	tb.screenshot("onboarding-2-plan")
	tb.click("onboarding-next-2")
	tb.waitPage("/onboarding?step=3")

	// 3. Platforms: Polymarket first. A key of the wrong format is refused
	// before it is stored, next to its field, and what was typed stays.
	tb.waitFor("the Polymarket panel", `document.getElementById('wizard-polymarket') && !document.getElementById('wizard-polymarket').hidden`)
	tb.fill("key-form-polymarket-private_key", "hello")
	tb.click("key-form-polymarket-submit")
	tb.fieldErrorNextToField("key-form-polymarket", "private_key", "64 hex digits")
	if v := eval[string](tb, `document.getElementById('key-form-polymarket-private_key').value`); v != "hello" {
		t.Errorf("after a refused save the input holds %q, want what was typed", v)
	}
	if n := len(apiJSON[secretList](tb, "GET", "/api/v1/secrets", nil).Secrets); n != 0 {
		t.Errorf("a refused key was stored (%d keys)", n)
	}
	// The simulator makes a working key: no hex strings to guess.
	tb.click("sim-keys-polymarket-generate")
	tb.waitFor("the generated Polymarket key validated", slotValid("polymarket", "paper"))
	tb.waitFor("the Polymarket card connected", `document.getElementById('key-card-polymarket-state').dataset.state === 'valid'`)
	tb.waitFor("the old error cleared", `document.getElementById('key-form-polymarket-private_key-error').textContent.trim() === '' &&
		!document.getElementById('key-form-polymarket-private_key').hasAttribute('aria-invalid')`)

	// Resumable: back to /onboarding, the wizard continues with Kalshi.
	tb.open("/onboarding")
	tb.waitFor("the wizard resumed at Kalshi", `document.getElementById('onboarding-step-3') &&
		document.getElementById('platform-wizard').dataset.panel === 'kalshi' && !document.getElementById('wizard-kalshi').hidden`)
	tb.click("sim-keys-kalshi-generate")
	tb.waitFor("the generated Kalshi key validated", slotValid("kalshi", "paper"))
	tb.waitFor("the Kalshi card connected", `document.getElementById('key-card-kalshi-state').dataset.state === 'valid'`)
	if st := tb.text("#key-kalshi-paper-status"); !strings.EqualFold(st, "valid") {
		t.Errorf("Kalshi key status reads %q, want Valid", st)
	}
	if v := tb.text("#key-kalshi-paper-validated"); v == "" || v == "never" {
		t.Errorf("Kalshi key shows no last-validated time (%q)", v)
	}
	if v := tb.text("#sim-keys-kalshi-error"); v != "" {
		t.Errorf("generating the Kalshi key reports %q", v)
	}
	if pem := eval[bool](tb, `document.documentElement.outerHTML.indexOf('PRIVATE KEY-----') >= 0 && document.documentElement.outerHTML.indexOf('MII') >= 0`); pem {
		t.Errorf("a generated private key is in the page")
	}
	tb.screenshot("onboarding-3-platforms")
	tb.click("wizard-kalshi-next")
	tb.waitFor("the brokers panel", `!document.getElementById('wizard-brokers').hidden`)
	// The optional brokers step connects Alpaca: a key ID and secret, paper
	// or live, checked with Alpaca's account call. A key Alpaca refuses is
	// stored as invalid, the reason next to the key ID; the simulator makes
	// a working paper key.
	tb.waitFor("the Alpaca card offers simulator keys and paper or live", `!!document.getElementById('sim-keys-alpaca-generate') &&
		!!document.getElementById('key-form-alpaca-paper-true') && !!document.getElementById('key-form-alpaca-paper-false')`)
	tb.fill("key-form-alpaca-api_key", "PKNOTAKEY")
	tb.fill("key-form-alpaca-api_secret", "not-the-secret")
	tb.click("key-form-alpaca-submit")
	tb.waitFor("the refused Alpaca key", slotStatus("alpaca", "paper", "invalid"))
	tb.fieldErrorNextToField("key-form-alpaca", "api_key", "Alpaca did not accept")
	tb.click("sim-keys-alpaca-generate")
	tb.waitFor("the generated Alpaca key validated", slotValid("alpaca", "paper"))
	tb.waitFor("the Alpaca card connected", `document.getElementById('key-card-alpaca-state').dataset.state === 'valid'`)
	if v := tb.text("#sim-keys-alpaca-error"); v != "" {
		t.Errorf("generating the Alpaca key reports %q", v)
	}
	tb.screenshot("onboarding-3-brokers")
	tb.click("onboarding-next-3")
	tb.waitPage("/onboarding?step=4")

	// 4. Risk and strategies: presets are shares of the free plan's limits
	// ($50 trades, $100 daily loss), so "Aggressive" is the largest.
	tb.waitFor("the config step", `document.getElementById('initial-config-form')`)
	presets := eval[map[string]string](tb, `(function(){var o={};document.querySelectorAll('input[name="preset"]').forEach(function(r){
		o[r.value]=r.dataset.max_trade_size_usd+'/'+r.dataset.max_daily_loss_usd;});return o;})()`)
	for name, want := range map[string]string{"conservative": "10.00/20.00", "balanced": "25.00/50.00", "aggressive": "50.00/100.00"} {
		if presets[name] != want {
			t.Errorf("the %s preset offers %q (trade/daily loss), want %s", name, presets[name], want)
		}
	}
	tb.clickLabel("risk-preset-conservative")
	tb.waitFor("the preset filled in", `parseFloat(document.getElementById('initial-config-form-min_profit_pct').value) === 2 &&
		parseFloat(document.getElementById('initial-config-form-max_trade_size_usd').value) === 10`)
	tb.waitFor("single-platform arbitrage on", `document.getElementById('initial-config-form-enable_single_platform_arb').checked`)
	tb.screenshot("onboarding-4-risk")
	// The newcomer goes for the plan's full limits and a 0.5% edge, so that
	// the bot trades the simulators' replay soon.
	tb.clickLabel("risk-preset-aggressive")
	tb.waitFor("the aggressive preset filled in", `parseFloat(document.getElementById('initial-config-form-min_profit_pct').value) === 0.5 &&
		parseFloat(document.getElementById('initial-config-form-max_trade_size_usd').value) === 50`)
	tb.click("onboarding-finish")
	tb.waitPage("/dashboard")
	tb.waitFor("the dashboard", `document.getElementById('bot-card') && !document.getElementById('onboarding-banner')`)

	// Stored: terms, completion, the config and both validated keys.
	prof := apiJSON[profileResponse](tb, "GET", "/api/v1/profile", nil)
	if !prof.Profile.OnboardingCompleted || prof.Profile.AcceptedTermsAt == nil || prof.Profile.DisplayName != "Nova Newcomer" {
		t.Errorf("profile after onboarding: %+v", prof.Profile)
	}
	cfg := apiJSON[map[string]any](tb, "GET", "/api/v1/config", nil)
	if !sameDecimal(cfg["min_profit_pct"], "0.5") || !sameDecimal(cfg["max_trade_size_usd"], "50") || cfg["enable_single_platform_arb"] != true {
		t.Errorf("config after onboarding: min_profit_pct %v, max_trade_size_usd %v, single-platform %v",
			cfg["min_profit_pct"], cfg["max_trade_size_usd"], cfg["enable_single_platform_arb"])
	}
	secrets := apiJSON[secretList](tb, "GET", "/api/v1/secrets", nil)
	valid := map[string]bool{}
	for _, s := range secrets.Secrets {
		valid[s.Platform] = s.ValidationStatus == "valid"
	}
	if !valid["polymarket"] || !valid["kalshi"] {
		t.Errorf("stored keys after onboarding: %+v", secrets.Secrets)
	}
	// Finished: /onboarding goes to the dashboard, the Setup link is gone.
	tb.open("/onboarding")
	tb.waitPage("/dashboard")
	if eval[bool](tb, `!!document.getElementById('nav-onboarding')`) {
		t.Errorf("the Setup link is still in the menu after onboarding")
	}
	// The free plan's single-platform arbitrage finds only phantom edges in
	// the replay (the pre-flight check calls them off: "Not sent: the book
	// moved"); an administrator moves the newcomer to Basic, and the
	// newcomer switches cross-platform arbitrage on.
	type idOnly struct {
		Profile struct {
			ID string `json:"id"`
		} `json:"profile"`
	}
	me := apiJSON[idOnly](tb, "GET", "/api/v1/profile", nil)
	admin := newTab(t, browser, srv, "admin-sets-plan", 60*time.Second)
	admin.logIn(srv.AdminEmail, srv.AdminPass, "/admin")
	apiJSON[map[string]any](admin, "PUT", "/api/v1/admin/users/"+me.Profile.ID+"/tier", map[string]string{"tier": "basic"})
	apiJSON[map[string]any](tb, "PUT", "/api/v1/config", map[string]any{"enable_cross_platform_arb": true})
	tb.open("/dashboard")
	// The newcomer's own bot trades in dry-run, and the Orders page says
	// what became of each order — all in the browser, no curl.
	tb.waitFor("the newcomer's bot running in dry-run", `document.getElementById('bot-state').dataset.state === 'running' &&
		document.getElementById('bot-mode').dataset.mode === 'dry_run'`)
	tb.waitFor("a dry-run trade of the newcomer's own", `document.querySelector('#trades tbody tr.trade-row')`)
	tb.click("counter-orders-link")
	tb.waitFor("the newcomer's orders with reasons", `document.body.dataset.page === 'orders' &&
		Array.prototype.some.call(document.querySelectorAll('#orders-table tbody tr.order-row .order-reason'),
			function (td) { return /Filled|Not sent|Partly filled|Refused|Cancelled/.test(td.textContent); })`)
}

// pemBody is a line from the middle of a PEM block: enough to recognise
// the key anywhere.
func pemBody(p string) string {
	lines := strings.Split(strings.TrimSpace(p), "\n")
	return lines[len(lines)/2]
}

// ------------------------------------------------------------------ 2

// testDashboard: the printed demo user logs in; its dry-run bot's status,
// a trade and the P&L chart with data appear, and the page follows the
// live stream.
func testDashboard(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "demo", 75*time.Second)
	tb.logInWithKeyboard(srv.DemoEmail, srv.DemoPassword, "/dashboard")

	tb.waitFor("the bot running in dry-run", `document.getElementById('bot-state').dataset.state === 'running' &&
		document.getElementById('bot-mode').dataset.mode === 'dry_run'`)
	tb.waitFor("the live stream connected", `document.getElementById('live-indicator').dataset.live === 'on'`)
	tb.waitFor("a trade row", `document.querySelector('#trades tbody tr.trade-row')`)
	tb.waitFor("the P&L chart with data", `(function(){
		var svg = document.getElementById('pnl-chart');
		if (!svg || svg.dataset.empty !== 'false') { return false; }
		var lines = svg.querySelectorAll('.chart-lines polyline');
		return lines.length > 0 && Array.prototype.some.call(lines, function (l) {
			return (l.getAttribute('points') || '').trim().split(/\s+/).length >= 2; });
	})()`)
	tb.waitFor("the P&L legend and table", `document.querySelector('#pnl-legend li') && document.querySelector('#pnl-by-strategy tbody tr[data-strategy]')`)

	row := tb.text("#trades tbody tr.trade-row")
	if !strings.Contains(row, "dry-run") {
		t.Errorf("trade row %q does not say dry-run", row)
	}
	if st := tb.text("#bot-state"); !strings.EqualFold(st, "running") {
		t.Errorf("bot status reads %q", st)
	}

	// Live: the page updates from the stream without a reload.
	marker := eval[string](tb, `(window.__polybotNoReload = 'same-document-' + Math.random())`)
	fills := eval[string](tb, `document.querySelector('#bot-counters [data-counter="fills"]').textContent.trim()`)
	tb.waitFor("a live update (a new trade, opportunity or counter) without reloading", fmt.Sprintf(`window.__polybotNoReload === %q && (
		document.querySelector('#trades tbody tr.is-new, #opportunities tbody tr.is-new') ||
		document.querySelector('#bot-counters [data-counter="fills"]').textContent.trim() !== %q)`, marker, fills))

	testPnLChart(t, tb)
	testRecentTrades(t, tb)

	tb.screenshot("dashboard")
	tb.darkTheme(true)
	tb.screenshot("dashboard-dark")
	tb.darkTheme(false)

	// Orders: every order with what became of it, from the counter's link.
	tb.click("counter-orders-link")
	tb.waitFor("the orders page with a filled order", `document.body.dataset.page === 'orders' &&
		document.querySelector('#orders-table tbody tr.order-row[data-state="filled"]')`)
	if reason := tb.text(`#orders-table tbody tr.order-row[data-state="filled"] .order-reason`); !strings.Contains(reason, "Filled") {
		t.Errorf("a filled order reads %q", reason)
	}
	tb.screenshot("orders")
	// On a phone the nav folds behind the Menu button, and opens from it.
	tb.setViewport(phone)
	tb.settle()
	if eval[bool](tb, `getComputedStyle(document.getElementById('main-nav')).display !== 'none'`) {
		t.Error("on a phone the nav shows before the Menu button is pressed")
	}
	tb.click("nav-toggle")
	tb.waitFor("the nav open from the Menu button", `getComputedStyle(document.getElementById('main-nav')).display !== 'none' &&
		document.getElementById('nav-toggle').getAttribute('aria-expanded') === 'true'`)
	tb.setViewport(desktop)
}

// moneyLabel is money as the chart labels it: "$1,234.50", "-$0.25".
var moneyLabel = regexp.MustCompile(`^-?\$\d{1,3}(,\d{3})*\.\d{2}$`)

// testPnLChart: the chart has a money axis and a time axis with several
// ticks, reads values on hover and from the keyboard, redraws for a range
// without reloading, and its legend hides and shows a series.
func testPnLChart(t *testing.T, tb *tab) {
	t.Helper()
	tb.waitFor("the chart redrawn by the script, with axes", `document.querySelectorAll('#pnl-chart .tick-y').length >= 3 &&
		document.querySelectorAll('#pnl-chart .tick-x').length >= 2 && document.querySelector('#pnl-chart .chart-hit') &&
		/^Time \(/.test(document.getElementById('pnl-chart-xtitle').textContent)`)
	for _, l := range eval[[]string](tb, `Array.prototype.map.call(document.querySelectorAll('#pnl-chart .tick-y'), function (e) { return e.textContent; })`) {
		if !moneyLabel.MatchString(l) {
			t.Errorf("a money tick reads %q", l)
		}
	}

	// Hover: a real mouse over the plot shows a crosshair and each series' value.
	pt := eval[[]float64](tb, `(function(){ var s = document.getElementById('pnl-chart'); s.scrollIntoView({block: 'center'});
		var r = s.getBoundingClientRect(); return [r.left + r.width * 0.8, r.top + r.height * 0.4]; })()`)
	tb.do("move the mouse over the chart", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pt[0], pt[1]))
	tb.waitFor("values on hover", `(function(){ var g = document.querySelector('#pnl-chart .chart-hover');
		return g && !g.hasAttribute('hidden') && g.querySelector('.crosshair') && g.querySelectorAll('.tip-text').length >= 2 &&
			/\$\d/.test(g.textContent) && /\$\d/.test(document.getElementById('pnl-chart-readout').textContent); })()`)
	if r := tb.text("#pnl-chart-readout"); !strings.Contains(r, "UTC") || !strings.Contains(r, ":") {
		t.Errorf("the hover readout says %q", r)
	}
	// Keyboard: focus the chart, Home goes to the first point.
	eval[chromedp.Void](tb, `document.getElementById('pnl-chart').focus()`)
	last := eval[string](tb, `document.getElementById('pnl-chart-readout').dataset.at || ''`)
	tb.do("Home", chromedp.KeyEvent(kb.Home))
	tb.waitFor("the first point read from the keyboard", fmt.Sprintf(`(function(){ var at = document.getElementById('pnl-chart-readout').dataset.at;
		return at && new Date(at).getTime() <= new Date(%q).getTime(); })()`, last))
	tb.screenshot("dashboard-chart-focus") // the tooltip stays while the chart has focus

	// Range: 1 h redraws from the same series, in place.
	marker := eval[string](tb, `(window.__polybotChart = 'chart-' + Math.random())`)
	before := eval[string](tb, `Array.prototype.map.call(document.querySelectorAll('#pnl-chart .chart-lines polyline'), function (l) { return l.getAttribute('points'); }).join('|')`)
	tb.click("pnl-range-1h")
	tb.waitFor("the 1 h range drawn without a reload", fmt.Sprintf(`window.__polybotChart === %q &&
		document.getElementById('pnl-chart').dataset.range === '1h' && document.getElementById('pnl-range-1h').getAttribute('aria-pressed') === 'true' &&
		document.getElementById('pnl-range-all').getAttribute('aria-pressed') === 'false' && location.search === '?range=1h' &&
		Array.prototype.map.call(document.querySelectorAll('#pnl-chart .chart-lines polyline'), function (l) { return l.getAttribute('points'); }).join('|') !== %q`, marker, before))
	tb.click("pnl-range-all")
	tb.waitFor("the whole range again", `document.getElementById('pnl-chart').dataset.range === 'all' && location.search === ''`)

	// Legend: with two series or more, one can be hidden and shown again.
	// The demo keeps trading (new series appear, the legend is redrawn), so
	// the series is named, clicked in the same script that finds it, and
	// followed by its own line, not by a count.
	if n := eval[int](tb, `document.querySelectorAll('#pnl-legend button[data-strategy]').length`); n >= 2 {
		key := eval[string](tb, `document.querySelector('#pnl-legend button[data-strategy]').dataset.strategy`)
		sel := fmt.Sprintf(`#pnl-legend button[data-strategy=%q]`, key)
		line := fmt.Sprintf(`#pnl-chart .chart-lines polyline[data-strategy=%q]`, key)
		eval[bool](tb, fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))
		tb.waitFor("a series hidden from the legend", fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-pressed') === 'false' &&
			!document.querySelector(%q)`, sel, line))
		eval[bool](tb, fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))
		tb.waitFor("the series shown again", fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-pressed') === 'true' &&
			!!document.querySelector(%q)`, sel, line))
	}
}

// testRecentTrades: the dashboard links to the Trades page, whose filter
// narrows the list.
func testRecentTrades(t *testing.T, tb *tab) {
	t.Helper()
	tb.click("trades-all-link")
	tb.waitFor("the trades page with a trade", `document.body.dataset.page === 'trades' && document.querySelector('#trades-table tbody tr.trade-row')`)
	venue := eval[string](tb, `(function(){ var s = document.getElementById('tf-venue'); s.value = 'kalshi'; return s.value; })()`)
	tb.click("trades-apply")
	tb.waitFor("the trades filtered by venue", fmt.Sprintf(`location.search.indexOf('venue=%s') >= 0 && document.readyState === 'complete' &&
		(document.querySelector('#trades-table tbody tr.trade-row') || document.querySelector('#trades-table tbody tr.empty-row'))`, venue))
	for _, v := range eval[[]string](tb, `Array.prototype.map.call(document.querySelectorAll('#trades-table tbody tr.trade-row td:nth-child(3)'), function (td) { return td.textContent.trim(); })`) {
		if v != "Kalshi" {
			t.Errorf("the Kalshi filter shows a %s trade", v)
		}
	}
	tb.screenshot("trades")
	tb.open("/dashboard")
	tb.waitFor("back on the dashboard", `document.body.dataset.page === 'dashboard' && document.documentElement.dataset.js === 'ready'`)
}

// ------------------------------------------------------------------ 3

// testConfig: a bad value shows the API's field error next to its field
// and is not saved; a good one is saved, applied by the running bot, and
// there after a reload. The plan page is looked at on the way.
func testConfig(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "config", 60*time.Second)
	tb.signUpAPI(newEmail("config"), "config-password-123", "Cora Config")
	tb.onboardAPI() // so the bot runs and can apply the config

	tb.open("/config")
	tb.waitFor("the config form", `document.getElementById('config-form-min_profit_pct')`)
	before := apiJSON[map[string]any](tb, "GET", "/api/v1/config", nil)
	tb.screenshot("config")

	tb.fill("config-form-min_profit_pct", "150")
	tb.click("config-save")
	tb.fieldErrorNextToField("config-form", "min_profit_pct", "between 0 and 100")
	tb.screenshot("config-field-error")
	if after := apiJSON[map[string]any](tb, "GET", "/api/v1/config", nil); after["min_profit_pct"] != before["min_profit_pct"] {
		t.Errorf("a rejected value was saved: min_profit_pct %v → %v", before["min_profit_pct"], after["min_profit_pct"])
	}

	tb.fill("config-form-min_profit_pct", "1.75")
	tb.fill("config-form-max_trade_size_usd", "40")
	tb.click("config-save")
	tb.waitFor("the save confirmed", `['saved', 'applied'].indexOf(document.getElementById('config-status').dataset.state) >= 0 &&
		document.getElementById('config-form-min_profit_pct-error').textContent.trim() === '' &&
		!document.getElementById('config-form-min_profit_pct').hasAttribute('aria-invalid')`)
	cfg := apiJSON[map[string]any](tb, "GET", "/api/v1/config", nil)
	if !sameDecimal(cfg["min_profit_pct"], "1.75") || !sameDecimal(cfg["max_trade_size_usd"], "40") {
		t.Fatalf("saved config: min_profit_pct %v, max_trade_size_usd %v", cfg["min_profit_pct"], cfg["max_trade_size_usd"])
	}
	// Applied: the running bot reports this config version.
	tb.waitFor("the bot running the new config", fmt.Sprintf(`fetch('/api/v1/bot', {headers: {Accept: 'application/json'}}).then(function (r) { return r.json(); })
		.then(function (b) { return b.config_updated_at && new Date(b.config_updated_at).getTime() >= new Date(%q).getTime(); })`, cfg["updated_at"]))
	tb.open("/config")
	if v := eval[string](tb, `document.getElementById('config-form-min_profit_pct').value`); !sameDecimal(v, "1.75") {
		t.Errorf("after a reload min_profit_pct shows %q, want 1.75", v)
	}
	if v := eval[string](tb, `document.getElementById('config-form-max_trade_size_usd').value`); !sameDecimal(v, "40") {
		t.Errorf("after a reload max_trade_size_usd shows %q, want 40", v)
	}

	// Plan and usage.
	tb.open("/plan")
	tb.waitFor("the plan page", `document.getElementById('plan-tier') && document.getElementById('usage-bar') && document.querySelector('#plan-features li')`)
	if tier := tb.text("#plan-tier"); tier == "" {
		t.Errorf("the plan page names no tier")
	}
	tb.screenshot("plan")
}

// ------------------------------------------------------------------ 4

// testAPIKeys: keys saved on the API keys page never appear in the DOM
// (markup, input values or text), only their fingerprint; deleting one
// asks first, and Cancel keeps it.
func testAPIKeys(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "keys", 60*time.Second)
	tb.signUpAPI(newEmail("keys"), "keys-password-1234", "Kim Keys")
	tb.open("/keys")
	tb.waitFor("the key cards", `document.getElementById('key-card-polymarket') && document.getElementById('key-card-kalshi')`)
	tb.screenshot("keys-empty")

	wallet, l2Key, l2Secret, l2Pass := walletKey(), newUUID(), randomHex(24), "pass-"+randomHex(10)
	tb.fill("key-form-polymarket-private_key", wallet)
	tb.openDetails("key-form-polymarket-optional") // the optional L2 credentials
	tb.fill("key-form-polymarket-api_key", l2Key)
	tb.fill("key-form-polymarket-api_secret", l2Secret)
	tb.fill("key-form-polymarket-passphrase", l2Pass)
	tb.click("key-form-polymarket-submit")
	// Made-up L2 credentials of the right shape: the key is stored, the
	// venue (the simulator) refuses them, and the page says so in plain
	// words next to the field, keeping what was typed to correct it.
	tb.waitFor("the Polymarket key saved and refused by the venue", slotStatus("polymarket", "paper", "invalid"))
	tb.fieldErrorNextToField("key-form-polymarket", "api_key", "Polymarket did not accept these L2 API credentials")
	if v := eval[string](tb, `document.getElementById('key-form-polymarket-private_key').value`); v != wallet {
		t.Errorf("after the venue refused the key the wallet input holds %d characters, want what was typed", len(v))
	}
	// Corrected (the L2 fields emptied, to be derived): valid, the form is
	// cleared and the old error is gone.
	eval[chromedp.Void](tb, `['api_key','api_secret','passphrase'].forEach(function(f){document.getElementById('key-form-polymarket-'+f).value='';})`)
	tb.click("key-form-polymarket-submit")
	tb.waitFor("the corrected Polymarket key valid", slotValid("polymarket", "paper"))
	tb.waitFor("the old error cleared", `document.getElementById('key-form-polymarket-api_key-error').textContent.trim() === '' &&
		document.getElementById('key-polymarket-paper-problems').textContent.trim() === '' &&
		document.getElementById('key-form-polymarket-private_key').value === ''`)

	// A Kalshi key ID of the wrong shape is refused before it is stored.
	keyID := newUUID()
	privPEM := kalshiKey(t, srv, keyID)
	tb.fill("key-form-kalshi-api_key", "hello")
	tb.fill("key-form-kalshi-private_key", privPEM)
	tb.click("key-form-kalshi-submit")
	tb.fieldErrorNextToField("key-form-kalshi", "api_key", "key ID Kalshi shows")
	tb.fill("key-form-kalshi-api_key", keyID)
	tb.click("key-form-kalshi-submit")
	tb.waitFor("the Kalshi key saved and valid", slotValid("kalshi", "paper"))

	secrets := []string{wallet, strings.TrimPrefix(wallet, "0x"), l2Key, l2Secret, l2Pass, pemBody(privPEM)}
	check := func(when string) {
		t.Helper()
		if leaked := containsAny(tb.dom(), secrets...); len(leaked) > 0 {
			tb.fatalf("%s: %d saved secret value(s) are in the DOM", when, len(leaked))
		}
		if r := tb.fetchAPI("GET", "/api/v1/secrets", nil); len(containsAny(r.Body, secrets...)) > 0 {
			tb.fatalf("%s: GET /api/v1/secrets returns a secret value", when)
		}
	}
	check("after saving")
	fp := tb.text("#key-polymarket-paper-fingerprint")
	if fp == "" || len(containsAny(fp, secrets...)) > 0 {
		t.Errorf("fingerprint %q", fp)
	}
	tb.open("/keys")
	tb.waitFor("the stored keys after a reload", slotValid("polymarket", "paper")+" && "+slotValid("kalshi", "paper"))
	check("after a reload")
	if got := tb.text("#key-polymarket-paper-fingerprint"); got != fp {
		t.Errorf("fingerprint after reload %q, before %q", got, fp)
	}
	tb.screenshot("keys")

	// Delete asks first; Cancel keeps the key.
	tb.click("key-polymarket-paper-delete")
	tb.waitFor("the confirmation dialog", `document.getElementById('confirm-dialog').open`)
	if msg := tb.text("#confirm-message"); !strings.Contains(strings.ToLower(msg), "delete") {
		t.Errorf("confirmation message %q", msg)
	}
	tb.screenshot("keys-delete-confirm")
	tb.click("confirm-cancel")
	tb.waitFor("the dialog closed", `!document.getElementById('confirm-dialog').open`)
	if !eval[bool](tb, `document.getElementById('key-polymarket-paper').dataset.stored === 'true'`) {
		tb.fatalf("Cancel deleted the key from the page")
	}
	if n := countPlatform(apiJSON[secretList](tb, "GET", "/api/v1/secrets", nil), "polymarket"); n != 1 {
		tb.fatalf("after Cancel the API lists %d Polymarket keys, want 1", n)
	}
	tb.click("key-polymarket-paper-delete")
	tb.waitFor("the confirmation dialog again", `document.getElementById('confirm-dialog').open`)
	tb.click("confirm-ok")
	tb.waitFor("the key gone from the page", `(function(){var s=document.getElementById('key-polymarket-paper');
		return s.hidden && s.dataset.stored === 'false' && document.getElementById('key-card-polymarket-state').dataset.state === 'none'})()`)
	list := apiJSON[secretList](tb, "GET", "/api/v1/secrets", nil)
	if n := countPlatform(list, "polymarket"); n != 0 {
		t.Errorf("after Delete the API still lists %d Polymarket keys", n)
	}
	if n := countPlatform(list, "kalshi"); n != 1 {
		t.Errorf("deleting the Polymarket key touched Kalshi's: %d left", n)
	}
	tb.open("/keys")
	tb.waitFor("the page after a reload", `document.getElementById('key-polymarket-paper')`)
	if eval[bool](tb, `!document.getElementById('key-polymarket-paper').hidden`) {
		t.Errorf("the deleted key is back after a reload")
	}
	check("after deleting")
}

func countPlatform(l secretList, platform string) int {
	n := 0
	for _, s := range l.Secrets {
		if s.Platform == platform {
			n++
		}
	}
	return n
}

// ------------------------------------------------------------------ 5

// testIsolation: user A, signed in beside user B, edits URLs towards B's
// data (page paths and queries carrying B's id, the admin pages, B's API
// resources). Every attempt is 403 or 404, or shows A's own data; nothing
// of B's ever reaches A's browser, and B's data is untouched.
func testIsolation(t *testing.T, browser context.Context, srv *server) {
	a := newTab(t, browser, srv, "user A", 60*time.Second)
	b := newTab(t, browser, srv, "user B", 60*time.Second)
	emailA, emailB := newEmail("alice"), newEmail("bob")
	a.signUpAPI(emailA, "alice-password-123", "Alice Anders")
	bID := b.signUpAPI(emailB, "bob-password-12345", "Bob Confidential")

	// B's data: a key, an API token, a distinctive config.
	b.open("/keys")
	stored := apiJSON[secretMeta](b, "POST", "/api/v1/secrets", map[string]any{"platform": "polymarket", "is_paper": true, "private_key": walletKey()})
	tok := apiJSON[struct {
		APIToken struct {
			ID string `json:"id"`
		} `json:"api_token"`
	}](b, "POST", "/api/v1/tokens", map[string]any{"name": "bob-secret-token", "expires_in_days": 30})
	apiJSON[map[string]any](b, "PUT", "/api/v1/config", map[string]any{"min_profit_pct": "3.33"})
	markers := []string{emailB, "Bob Confidential", stored.Fingerprint, "bob-secret-token", tok.APIToken.ID, "3.33"}

	noLeak := func(where, s string) {
		t.Helper()
		if leaked := containsAny(s, markers...); len(leaked) > 0 {
			t.Errorf("user A sees user B's data at %s: %q", where, leaked)
		}
	}

	// Pages whose path carries B's id, and the admin pages: 403 or 404.
	for _, p := range []string{
		"/admin", "/admin?user=" + bID, "/admin/users/" + bID,
		"/users/" + bID, "/user/" + bID, "/dashboard/" + bID, "/keys/" + bID, "/config/" + bID,
		"/plan/" + bID, "/onboarding/" + bID, "/profile/" + bID, "/api/v1/users/" + bID,
	} {
		st := a.open(p)
		if st != http.StatusForbidden && st != http.StatusNotFound {
			t.Errorf("user A opening %s got %d, want 403 or 404", p, st)
		}
		noLeak(p, a.dom())
		if p == "/dashboard/"+bID {
			a.screenshot("error-404")
		}
		if p == "/admin" {
			a.screenshot("error-403")
		}
	}
	// Pages given B's id as a query: A's own page (or an error), never B's.
	for _, p := range []string{"/dashboard", "/keys", "/config", "/plan", "/onboarding?step=2"} {
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		for _, q := range []string{"user=", "user_id=", "id=", "tenant="} {
			u := p + sep + q + url.QueryEscape(bID)
			st := a.open(u)
			noLeak(u, a.dom())
			if st == http.StatusOK {
				if who := eval[string](a, `(document.getElementById('whoami') || {}).title || ''`); who != emailA {
					t.Errorf("%s is shown to %q, want user A (%s)", u, who, emailA)
				}
			}
		}
	}

	// B's API resources, from A's signed-in page with A's CSRF token.
	a.open("/dashboard")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/admin/users", nil},
		{"GET", "/api/v1/admin/audit/verify", nil},
		{"PUT", "/api/v1/admin/users/" + bID + "/tier", map[string]string{"tier": "pro"}},
		{"PUT", "/api/v1/admin/users/" + bID + "/disabled", map[string]bool{"disabled": true}},
		{"PUT", "/api/v1/admin/users/" + bID + "/role", map[string]string{"role": "admin"}},
		{"PUT", "/api/v1/admin/users/" + bID + "/halt", map[string]string{"state": "halted"}},
		{"POST", "/reload/" + bID, nil},
		{"DELETE", "/api/v1/tokens/" + tok.APIToken.ID, nil},
		{"GET", "/api/v1/users/" + bID, nil},
	} {
		r := a.fetchAPI(c.method, c.path, c.body)
		if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
			t.Errorf("user A: %s %s got %d %s, want 403 or 404", c.method, c.path, r.Status, r.Body)
		}
		noLeak(c.method+" "+c.path, r.Body)
	}
	for _, p := range []string{"/api/v1/secrets", "/api/v1/config", "/api/v1/profile", "/api/v1/tokens", "/api/v1/trades", "/api/v1/audit"} {
		for _, q := range []string{"", "?user_id=" + bID, "?user=" + bID} {
			r := a.fetchAPI("GET", p+q, nil)
			noLeak("GET "+p+q, r.Body)
		}
	}
	if r := a.fetchAPI("DELETE", "/api/v1/secrets/polymarket?paper=true", nil); r.Status != http.StatusNotFound {
		t.Errorf("user A deleting a Polymarket key it does not have got %d, want 404", r.Status)
	}

	// B is untouched.
	if n := countPlatform(apiJSON[secretList](b, "GET", "/api/v1/secrets", nil), "polymarket"); n != 1 {
		t.Errorf("user B's key is gone")
	}
	if toks := b.fetchAPI("GET", "/api/v1/tokens", nil); !strings.Contains(toks.Body, tok.APIToken.ID) {
		t.Errorf("user B's token is gone: %s", toks.Body)
	}
	if prof := apiJSON[profileResponse](b, "GET", "/api/v1/profile", nil); prof.Profile.SubscriptionTier == "pro" {
		t.Errorf("user A changed user B's plan to %s", prof.Profile.SubscriptionTier)
	}
	if sess := b.fetchAPI("GET", "/api/v1/auth/session", nil); sess.Status != http.StatusOK || !strings.Contains(sess.Body, `"role":"user"`) {
		t.Errorf("user B's account after A's attempts: %d %s", sess.Status, sess.Body)
	}
	if cfg := apiJSON[map[string]any](b, "GET", "/api/v1/config", nil); !sameDecimal(cfg["min_profit_pct"], "3.33") {
		t.Errorf("user B's config changed: %v", cfg["min_profit_pct"])
	}
	b.open("/keys")
	b.waitFor("B's own key on B's page", slotValidOrStored("polymarket", "paper"))
}

// slotValidOrStored: the slot shows a stored key, validated or not.
func slotValidOrStored(platform, mode string) string {
	return fmt.Sprintf(`(function(){var s=document.getElementById('key-%s-%s'); return s && !s.hidden && s.dataset.stored==='true'})()`, platform, mode)
}

// ------------------------------------------------------------------ 6

// testLogout: the log-out button ends the session; every protected page
// then sends the browser to /login, and the old session cookie, put back,
// opens nothing.
func testLogout(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "logout", 45*time.Second)
	tb.signUpAPI(newEmail("leaver"), "leaver-password-123", "Lee Leaver")
	tb.open("/dashboard")
	tb.waitFor("the dashboard", `document.getElementById('logout-button')`)
	cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL}})
	if err != nil {
		tb.fatalf("read cookies: %v", err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "polybot_session" {
			session = c
		}
	}
	if session == nil {
		tb.fatalf("no session cookie after sign-up (cookies %d)", len(cookies.Cookies))
	}
	if !session.HTTPOnly {
		t.Errorf("the session cookie is readable from JavaScript (HttpOnly not set)")
	}

	tb.click("logout-button")
	tb.waitPage("/login")
	protected := []string{"/dashboard", "/keys", "/config", "/plan", "/news", "/copy", "/notifications", "/onboarding", "/admin"}
	for _, p := range protected {
		tb.open(p)
		tb.waitPage("/login")
		if next := eval[string](tb, `new URLSearchParams(location.search).get('next') || ''`); next != p {
			t.Errorf("after log-out %s went to /login with next=%q", p, next)
		}
	}
	if r := tb.fetchAPI("GET", "/api/v1/profile", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("after log-out GET /api/v1/profile = %d, want 401", r.Status)
	}
	// The old cookie, put back by hand, is dead on the server.
	if _, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{Name: session.Name, Value: session.Value,
		URL: srv.URL, Path: session.Path, HTTPOnly: new(session.HTTPOnly)}); err != nil {
		tb.fatalf("restore the old cookie: %v", err)
	}
	tb.open("/dashboard")
	tb.waitPage("/login")
	if r := tb.fetchAPI("GET", "/api/v1/profile", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the old session cookie still opens the API after log-out: %d", r.Status)
	}
}

// ------------------------------------------------------------------ admin

// testAdmin: an admin sees users, the kill switch and the registry; and
// the CSP probe itself is shown to work (an injected inline script is
// blocked and reported), so a clean run means something.
func testAdmin(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "admin", 45*time.Second)
	tb.logIn(srv.AdminEmail, srv.AdminPass, "/admin")
	tb.waitFor("the admin page", `document.getElementById('users-table') && document.getElementById('kill-switch') && document.getElementById('pairs-table')`)
	if !strings.Contains(tb.text("#users-table"), srv.DemoEmail) {
		t.Errorf("the admin's user list does not show the demo user %s", srv.DemoEmail)
	}
	tb.screenshot("admin")

	tb.mu.Lock()
	csp, docs := tb.cspSeen, tb.documents
	tb.mu.Unlock()
	if docs == 0 || csp == "" {
		tb.fatalf("no HTML response with a CSP was seen (%d documents)", docs)
	}
	script := ""
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
			script = d
		}
	}
	if script == "" || strings.Contains(script, "unsafe-inline") || strings.Contains(script, "unsafe-eval") || strings.Contains(script, "*") {
		t.Errorf("the CSP's script-src is not strict: %q (CSP %q)", script, csp)
	}
	tb.assertClean()
	// Self-check: an inline script without the nonce must be refused and seen.
	eval[chromedp.Void](tb, `(function(){ var s = document.createElement('script'); s.textContent = 'window.__injected = 1'; document.body.appendChild(s); })()`)
	// Wait for the report, then a moment more for its echoes (the console
	// and the browser log both carry it) before the watch is reset.
	var seen []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(seen) == 0; {
		time.Sleep(100 * time.Millisecond)
		seen = append(seen, tb.takeProblems()...)
	}
	time.Sleep(500 * time.Millisecond)
	seen = append(seen, tb.takeProblems()...)
	for _, p := range seen {
		if !strings.Contains(p, "CSP violation") {
			t.Errorf("admin: %s", p)
		}
	}
	if eval[bool](tb, `window.__injected === 1`) {
		t.Errorf("an inline script without the nonce ran: the CSP does not block it")
	}
	found := false
	for _, p := range seen {
		found = found || strings.Contains(p, "CSP violation")
	}
	if !found {
		t.Errorf("the test's CSP watch did not see a deliberate violation (saw %q): it cannot be trusted", seen)
	}
}
