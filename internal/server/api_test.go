package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// apiCase is one row of a declarative API test: a request and what must come back.
type apiCase struct {
	name   string
	method string
	path   string
	body   any
	status int
	field  string // for 4xx: the field the error must name
	want   string // a fragment the body must contain
}

func runCases(t *testing.T, c *client, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.Status, tc.status, r.Body)
			}
			if tc.field != "" {
				if _, ok := r.Fields(t)[tc.field]; !ok {
					t.Errorf("error fields %s do not name %q", r.Body, tc.field)
				}
			}
			if tc.want != "" && !strings.Contains(string(r.Body), tc.want) {
				t.Errorf("body %s lacks %q", r.Body, tc.want)
			}
		})
	}
}

func TestSignupAndLoginRejectBadInput(t *testing.T) {
	env := newEnv(t, nil)
	env.client().signup("taken@example.com")
	runCases(t, env.client(), []apiCase{
		{"bad email", "POST", "/api/v1/auth/signup", map[string]string{"email": "nope", "password": "long enough pw"}, 400, "email", ""},
		{"short password", "POST", "/api/v1/auth/signup", map[string]string{"email": "a@example.com", "password": "short"}, 400, "password", ""},
		{"malformed json", "POST", "/api/v1/auth/signup", `{"email":`, 400, "body", ""},
		{"unknown field", "POST", "/api/v1/auth/signup", `{"email":"a@example.com","password":"long enough pw","admin":true}`, 400, "admin", ""},
		{"wrong type", "POST", "/api/v1/auth/signup", `{"email":5,"password":"long enough pw"}`, 400, "email", ""},
		{"email taken", "POST", "/api/v1/auth/signup", map[string]string{"email": "TAKEN@example.com", "password": "long enough pw"}, 409, "email", ""},
		{"oversized body", "POST", "/api/v1/auth/signup", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "body", ""},
		{"login wrong password", "POST", "/api/v1/auth/login", map[string]string{"email": "taken@example.com", "password": "wrong password!"}, 401, "", "invalid email or password"},
		{"login unknown email", "POST", "/api/v1/auth/login", map[string]string{"email": "ghost@example.com", "password": "wrong password!"}, 401, "", "invalid email or password"},
		{"login missing password", "POST", "/api/v1/auth/login", map[string]string{"email": "taken@example.com"}, 400, "password", ""},
		{"login right password", "POST", "/api/v1/auth/login", map[string]string{"email": "taken@example.com", "password": "correct horse battery"}, 200, "", "csrf_token"},
		{"no such route", "GET", "/api/v1/nope", nil, 404, "", `"code":"not_found"`},
		{"wrong method", "DELETE", "/api/v1/config", nil, 405, "", ""},
	})
}

func TestLoginIsRateLimitedPerEmail(t *testing.T) {
	env := newEnv(t, nil)
	env.client().signup("victim@example.com")
	c := env.client()
	for i := 0; i < 5; i++ {
		r := c.do("POST", "/api/v1/auth/login", map[string]string{"email": "victim@example.com", "password": "guess number " + string(rune('a'+i))})
		expectStatus(t, r, 401)
	}
	r := c.do("POST", "/api/v1/auth/login", map[string]string{"email": "victim@example.com", "password": "correct horse battery"})
	expectStatus(t, r, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestConfigRejectsBadInputAndKeepsWhatIsStored(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client().signup("trader@example.com")
	before := c.do("GET", "/api/v1/config", nil)
	expectStatus(t, before, 200)
	runCases(t, c, []apiCase{
		{"negative amount", "PUT", "/api/v1/config", `{"max_trade_size_usd": -5}`, 400, "max_trade_size_usd", ""},
		{"percentage out of range", "PUT", "/api/v1/config", `{"min_profit_pct": 150}`, 400, "min_profit_pct", ""},
		{"unknown field", "PUT", "/api/v1/config", `{"max_leverage": 5}`, 400, "max_leverage", ""},
		{"malformed json", "PUT", "/api/v1/config", `{"dry_run": tru`, 400, "body", ""},
		{"wrong type", "PUT", "/api/v1/config", `{"dry_run": "false"}`, 400, "dry_run", ""},
		{"over plan limit", "PUT", "/api/v1/config", `{"max_daily_loss_usd": "100.01"}`, 400, "max_daily_loss_usd", "plan"},
		{"strategy not in plan", "PUT", "/api/v1/config", `{"enable_cross_platform_arb": true}`, 400, "enable_cross_platform_arb", ""},
		{"bad channel", "PUT", "/api/v1/config", `{"notification_channels": ["sms"]}`, 400, "notification_channels", ""},
		{"oversized body", "PUT", "/api/v1/config", `{"advanced_config": {"x": "` + strings.Repeat("a", 80<<10) + `"}}`, 413, "body", ""},
		{"one good field in a bad body", "PUT", "/api/v1/config", `{"dry_run": false, "min_profit_pct": -1}`, 400, "min_profit_pct", ""},
	})
	after := c.do("GET", "/api/v1/config", nil)
	if string(after.Body) != string(before.Body) {
		t.Fatalf("rejected updates changed the stored config:\nbefore %s\nafter  %s", before.Body, after.Body)
	}
	r := c.do("PUT", "/api/v1/config", `{"dry_run": false, "min_profit_pct": "2.5", "max_trade_size_usd": 25}`)
	expectStatus(t, r, 200)
	for _, frag := range []string{`"dry_run":false`, `"min_profit_pct":"2.50"`, `"max_trade_size_usd":"25.00"`, `"max_daily_loss_usd":"100.00"`} {
		if !strings.Contains(string(r.Body), frag) {
			t.Errorf("updated config %s lacks %s", r.Body, frag)
		}
	}
	audit := c.do("GET", "/api/v1/audit", nil)
	if !strings.Contains(string(audit.Body), `config.update`) || !strings.Contains(string(audit.Body), `\"before\":true`) {
		t.Errorf("audit trail lacks the config change with before/after: %s", audit.Body)
	}
	// The seed's route is an alias.
	alias := c.do("GET", "/api/user/config", nil)
	expectStatus(t, alias, 200)
	if !strings.Contains(string(alias.Body), `"min_profit_pct":"2.50"`) {
		t.Errorf("alias returned %s", alias.Body)
	}
	expectStatus(t, c.do("PUT", "/api/user/config", `{"notify_on_opportunity": true}`), 200)
}

func TestCookieWritesNeedTheCSRFToken(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client().signup("csrf@example.com")
	token := c.csrf
	c.csrf = ""
	r := c.do("PUT", "/api/v1/config", `{"dry_run": true}`)
	expectStatus(t, r, 403)
	if _, ok := r.Fields(t)["X-CSRF-Token"]; !ok {
		t.Errorf("403 does not name the CSRF header: %s", r.Body)
	}
	c.csrf = "forged"
	expectStatus(t, c.do("PUT", "/api/v1/config", `{"dry_run": true}`), 403)
	c.csrf = token
	expectStatus(t, c.do("PUT", "/api/v1/config", `{"dry_run": true}`), 200)
	// Reads need no token.
	c.csrf = ""
	expectStatus(t, c.do("GET", "/api/v1/config", nil), 200)
}

func TestSecretsReturnMetadataOnly(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client().signup("keys@example.com")
	apiKey, privateKey := "5e1f0c3a-1234-4abc-8def-0123456789ab", testRSAKey(t)
	runCases(t, c, []apiCase{
		{"unknown platform", "POST", "/api/v1/secrets", map[string]any{"platform": "binance", "api_key": "x"}, 400, "platform", ""},
		{"no fields", "POST", "/api/v1/secrets", map[string]any{"platform": "kalshi"}, 400, "", ""},
		{"store kalshi paper", "POST", "/api/v1/secrets", map[string]any{"platform": "kalshi", "is_paper": true, "api_key": apiKey, "private_key": privateKey}, 201, "", `"fingerprint"`},
		{"rotate kalshi paper", "POST", "/api/v1/secrets", map[string]any{"platform": "kalshi", "is_paper": true, "api_key": "5e1f0c3a-1234-4abc-8def-0123456789ac", "private_key": privateKey}, 200, "", `"validation_status":"pending"`},
		{"store polymarket live via alias", "POST", "/api/user/secrets", map[string]any{"platform": "polymarket", "is_paper": false, "private_key": "0x" + strings.Repeat("ab", 32), "api_key": "0b0c0d0e-1234-4abc-8def-0123456789ab", "api_secret": "c2VjcmV0LXNlY3JldA==", "passphrase": "p", "additional_config": map[string]string{"wallet_address": "0x1234"}}, 201, "", `"wallet_address"`},
		{"list", "GET", "/api/v1/secrets", nil, 200, "", `"platform":"kalshi"`},
		{"delete needs paper flag", "DELETE", "/api/v1/secrets/kalshi", nil, 400, "paper", ""},
		{"delete bad paper flag", "DELETE", "/api/v1/secrets/kalshi?paper=maybe", nil, 400, "paper", ""},
		{"delete unknown platform", "DELETE", "/api/v1/secrets/ftx?paper=true", nil, 400, "platform", ""},
		{"delete", "DELETE", "/api/v1/secrets/kalshi?paper=true", nil, 204, "", ""},
		{"delete again", "DELETE", "/api/v1/secrets/kalshi?paper=true", nil, 404, "", ""},
	})
	if strings.Contains(env.bodies.String(), apiKey) || strings.Contains(env.bodies.String(), pemLine(privateKey)) {
		t.Fatal("a response body contains a secret value")
	}
}

func TestAPITokensAuthenticateUntilRevoked(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client().signup("bot@example.com")
	r := c.do("POST", "/api/v1/tokens", map[string]any{"name": "script"})
	expectStatus(t, r, 201)
	var created struct {
		Token    string `json:"token"`
		APIToken struct {
			ID string `json:"id"`
		} `json:"api_token"`
	}
	r.JSON(t, &created)
	bot := env.client()
	bot.bearer = created.Token
	expectStatus(t, bot.do("GET", "/api/v1/config", nil), 200)
	// Bearer writes need no CSRF token: no cookie is involved.
	expectStatus(t, bot.do("PUT", "/api/v1/config", `{"notify_on_trade": false}`), 200)
	list := c.do("GET", "/api/v1/tokens", nil)
	if strings.Contains(string(list.Body), created.Token) {
		t.Fatal("token list shows the token itself")
	}
	expectStatus(t, c.do("DELETE", "/api/v1/tokens/"+created.APIToken.ID, nil), 204)
	expectStatus(t, bot.do("GET", "/api/v1/config", nil), 401)
	bot.bearer = "pbt_forged"
	expectStatus(t, bot.do("GET", "/api/v1/config", nil), 401)
	runCases(t, c, []apiCase{
		{"token needs a name", "POST", "/api/v1/tokens", map[string]any{"name": ""}, 400, "name", ""},
		{"expiry out of range", "POST", "/api/v1/tokens", map[string]any{"name": "x", "expires_in_days": 9999}, 400, "expires_in_days", ""},
		{"delete unknown token", "DELETE", "/api/v1/tokens/not-a-uuid", nil, 404, "", ""},
	})
}

func TestLogoutEndsTheSession(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client().signup("bye@example.com")
	expectStatus(t, c.do("POST", "/api/v1/auth/logout", nil), 204)
	expectStatus(t, c.do("GET", "/api/v1/profile", nil), 401)
}

func TestProfileShowsPlanAndUsageAndOnboarding(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client().signup("plan@example.com")
	runCases(t, c, []apiCase{
		{"profile", "GET", "/api/v1/profile", nil, 200, "", `"trades_limit":100`},
		{"cannot finish onboarding before terms", "PATCH", "/api/v1/profile", map[string]any{"onboarding_completed": true}, 400, "onboarding_completed", ""},
		{"cannot un-accept terms", "PATCH", "/api/v1/profile", map[string]any{"accept_terms": false}, 400, "accept_terms", ""},
		{"accept terms", "PATCH", "/api/v1/profile", map[string]any{"accept_terms": true, "display_name": "Pat"}, 200, "", `"display_name":"Pat"`},
		{"finish onboarding", "PATCH", "/api/v1/profile", map[string]any{"onboarding_completed": true}, 200, "", `"onboarding_completed":true`},
		{"limits are admin-only", "PATCH", "/api/v1/profile", map[string]any{"monthly_trade_limit": 1000000}, 400, "monthly_trade_limit", ""},
		{"tiers are public", "GET", "/api/v1/tiers", nil, 200, "", `"enterprise"`},
	})
}

func TestAdminRoutesNeedTheAdminRole(t *testing.T) {
	env := newEnv(t, nil)
	u := env.client().signup("user@example.com")
	a := env.client().signup("admin@example.com").makeAdmin()
	uid := u.user.ID.String()
	runCases(t, u, []apiCase{
		{"user cannot list users", "GET", "/api/v1/admin/users", nil, 403, "", ""},
		{"user cannot change tiers", "PUT", "/api/v1/admin/users/" + uid + "/tier", map[string]string{"tier": "pro"}, 403, "", ""},
	})
	runCases(t, a, []apiCase{
		{"admin lists users", "GET", "/api/v1/admin/users", nil, 200, "", "user@example.com"},
		{"unknown tier", "PUT", "/api/v1/admin/users/" + uid + "/tier", map[string]string{"tier": "platinum"}, 400, "tier", ""},
		{"unknown user", "PUT", "/api/v1/admin/users/00000000-0000-4000-8000-000000000000/tier", map[string]string{"tier": "pro"}, 404, "", ""},
		{"set tier", "PUT", "/api/v1/admin/users/" + uid + "/tier", map[string]string{"tier": "pro"}, 200, "", ""},
		{"bad role", "PUT", "/api/v1/admin/users/" + uid + "/role", map[string]string{"role": "root"}, 400, "role", ""},
		{"edit tier", "PUT", "/api/v1/admin/tiers/pro", map[string]any{"display_name": "Pro", "monthly_trade_limit": 20000, "max_trade_size_usd": "1000", "max_daily_loss_usd": "2500", "max_positions": 50, "price_usd_monthly": "99", "features": map[string]bool{"single_platform": true, "cross_platform": true}}, 200, "", ""},
		{"tier with negative limit", "PUT", "/api/v1/admin/tiers/pro", map[string]any{"monthly_trade_limit": -1}, 400, "monthly_trade_limit", ""},
		{"audit verify", "GET", "/api/v1/admin/audit/verify", nil, 200, "", `"ok":true`},
	})
	r := u.do("GET", "/api/v1/profile", nil)
	if !strings.Contains(string(r.Body), `"subscription_tier":"pro"`) || !strings.Contains(string(r.Body), `"trades_limit":20000`) {
		t.Errorf("profile after tier change and tier edit: %s", r.Body)
	}
	// Now on pro, cross-platform may be enabled.
	expectStatus(t, u.do("PUT", "/api/v1/config", `{"enable_cross_platform_arb": true}`), 200)
	// A user's audit trail holds the admin action about them.
	if !strings.Contains(string(u.do("GET", "/api/v1/audit", nil).Body), "admin.set_tier") {
		t.Error("user's audit trail lacks the tier change")
	}
}

func TestUnauthenticatedRequestsAreRefused(t *testing.T) {
	env := newEnv(t, nil)
	anon := env.client()
	for _, p := range []string{"/api/v1/config", "/api/v1/profile", "/api/v1/secrets", "/api/v1/audit", "/api/v1/tokens", "/api/v1/admin/users"} {
		r := anon.do("GET", p, nil)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s: %d", p, r.Status)
		}
	}
	anon.bearer = "not-a-token"
	expectStatus(t, anon.do("GET", "/api/v1/config", nil), 401)
}
