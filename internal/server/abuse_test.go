package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
)

func expectRetryAfter(t *testing.T, r response) {
	t.Helper()
	expectStatus(t, r, http.StatusTooManyRequests)
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds >= 1", r.Header.Get("Retry-After"))
	}
	if r.Fields(t) == nil || !strings.Contains(string(r.Body), `"code":"rate_limited"`) {
		t.Fatalf("body %s", r.Body)
	}
}

func TestSignupIsRateLimitedPerIP(t *testing.T) {
	env := newEnvWith(t, nil, func(c *server.Config) { c.SignupRate = server.Rate{Every: time.Hour, Burst: 2} })
	env.client().signup("s1@example.com")
	env.client().signup("s2@example.com")
	r := env.client().do("POST", "/api/v1/auth/signup", map[string]string{"email": "s3@example.com", "password": "correct horse battery"})
	expectRetryAfter(t, r)
	// Refused before anything was stored.
	err := env.Store.AdminView(context.Background(), func(tx polybot.AdminTx) error { _, err := tx.UserByEmail("s3@example.com"); return err })
	if polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("the refused sign-up made an account: %v", err)
	}
}

func TestLoginIsRateLimitedPerIP(t *testing.T) {
	env := newEnvWith(t, nil, func(c *server.Config) { c.LoginRate = server.Rate{Every: time.Hour, Burst: 3} })
	c := env.client()
	for i := range 3 {
		// Different accounts: the per-account limiter never sees a repeat.
		expectStatus(t, c.do("POST", "/api/v1/auth/login", map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "correct horse battery"}), 401)
	}
	expectRetryAfter(t, c.do("POST", "/api/v1/auth/login", map[string]string{"email": "nobody9@example.com", "password": "correct horse battery"}))
}

func TestAPIIsRateLimitedPerTenant(t *testing.T) {
	env := newEnvWith(t, nil, func(c *server.Config) { c.TenantRate = server.Rate{Every: time.Hour, Burst: 5} })
	a := env.client().signup("busy@example.com")
	b := env.client().signup("calm@example.com")
	for range 5 {
		expectStatus(t, a.do("GET", "/api/v1/config", nil), 200)
	}
	expectRetryAfter(t, a.do("GET", "/api/v1/config", nil))
	// A bearer token is the same tenant: the limit is the account's, not the credential's.
	expectRetryAfter(t, a.do("GET", "/api/v1/profile", nil))
	// Another tenant is not slowed by the busy one.
	expectStatus(t, b.do("GET", "/api/v1/config", nil), 200)
}

func TestAPITokensAreCappedPerUser(t *testing.T) {
	env := newEnvWith(t, nil, func(c *server.Config) { c.MaxAPITokens = 2 })
	c := env.client().signup("tokens@example.com")
	var first struct {
		APIToken struct {
			ID string `json:"id"`
		} `json:"api_token"`
	}
	r := c.do("POST", "/api/v1/tokens", map[string]any{"name": "one"})
	expectStatus(t, r, 201)
	r.JSON(t, &first)
	expectStatus(t, c.do("POST", "/api/v1/tokens", map[string]any{"name": "two"}), 201)
	r = c.do("POST", "/api/v1/tokens", map[string]any{"name": "three"})
	expectStatus(t, r, http.StatusForbidden)
	if _, ok := r.Fields(t)["tokens"]; !ok || !strings.Contains(string(r.Body), "2 active API tokens") {
		t.Fatalf("the refusal does not say why: %s", r.Body)
	}
	expectStatus(t, c.do("DELETE", "/api/v1/tokens/"+first.APIToken.ID, nil), 204)
	expectStatus(t, c.do("POST", "/api/v1/tokens", map[string]any{"name": "three"}), 201)
}

func TestNewAccountsBotStartsOnlyWhenOnboardingIsDone(t *testing.T) {
	bots := &fakeBots{running: map[polybot.ID]bool{}}
	env := newEnvWith(t, nil, func(c *server.Config) { c.Bots = bots })
	c := env.client().signup("newcomer@example.com")
	wanted := func() bool {
		var on bool
		err := env.Store.TenantView(context.Background(), c.user.ID, func(tx polybot.TenantTx) (err error) { on, err = tx.BotEnabled(); return })
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	if bots.Status(context.Background(), c.user.ID).State == polybot.BotRunning || wanted() {
		t.Fatal("the bot was started (or marked wanted, so a restart would start it) at sign-up")
	}
	var ids []polybot.ID
	if err := env.Store.AdminView(context.Background(), func(tx polybot.AdminTx) (err error) { ids, err = tx.BotUserIDs(); return }); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if id == c.user.ID {
			t.Fatal("BotUserIDs lists the new account: a restart would start its bot")
		}
	}
	expectStatus(t, c.do("PATCH", "/api/v1/profile", map[string]any{"accept_terms": true}), 200)
	if bots.Status(context.Background(), c.user.ID).State == polybot.BotRunning {
		t.Fatal("the bot started before onboarding was completed")
	}
	c.onboard()
	if bots.Status(context.Background(), c.user.ID).State != polybot.BotRunning {
		t.Fatal("the bot did not start when onboarding was completed")
	}
}
