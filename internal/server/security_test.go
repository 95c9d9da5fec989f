package server_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/server"
)

// login signs an existing account in on this client.
func (c *client) login(email, password string) *client {
	c.env.t.Helper()
	r := c.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password})
	expectStatus(c.env.t, r, http.StatusOK)
	var s struct {
		User polybot.User `json:"user"`
		CSRF string       `json:"csrf_token"`
	}
	r.JSON(c.env.t, &s)
	c.csrf, c.user = s.CSRF, s.User
	return c
}

type sessionInfo struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
}

func (c *client) sessions() []sessionInfo {
	c.env.t.Helper()
	r := c.do("GET", "/api/v1/auth/sessions", nil)
	expectStatus(c.env.t, r, 200)
	var out struct {
		Sessions []sessionInfo `json:"sessions"`
	}
	r.JSON(c.env.t, &out)
	return out.Sessions
}

func TestPasswordRulesCountCharactersAndRefuseCommonPasswords(t *testing.T) {
	env := newEnv(t, nil)
	runCases(t, env.client(), []apiCase{
		{"11 characters in 22 bytes", "POST", "/api/v1/auth/signup", map[string]string{"email": "p1@example.com", "password": strings.Repeat("é", 11)}, 400, "password", "at least 12 characters"},
		{"a common password", "POST", "/api/v1/auth/signup", map[string]string{"email": "p2@example.com", "password": "password1234"}, 400, "password", "too easy to guess"},
		{"a keyboard walk", "POST", "/api/v1/auth/signup", map[string]string{"email": "p3@example.com", "password": "qwertyuiop12"}, 400, "password", "too easy to guess"},
		{"the email itself", "POST", "/api/v1/auth/signup", map[string]string{"email": "mallory.jones@example.com", "password": "mallory.jones"}, 400, "password", "too easy to guess"},
		{"12 characters, not common", "POST", "/api/v1/auth/signup", map[string]string{"email": "p4@example.com", "password": "ŝtorm-lamp-91"}, 201, "", ""},
	})
}

func TestChangePasswordSignsOutOtherSessions(t *testing.T) {
	env := newEnv(t, nil)
	here := env.client().signup("changer@example.com")
	there := env.client().login("changer@example.com", "correct horse battery")
	runCases(t, here, []apiCase{
		{"wrong current password", "PUT", "/api/v1/auth/password", map[string]string{"current_password": "not it at all", "new_password": "violet orbit staple lamp"}, 400, "current_password", ""},
		{"weak new password", "PUT", "/api/v1/auth/password", map[string]string{"current_password": "correct horse battery", "new_password": "password1234"}, 400, "new_password", ""},
		{"short new password", "PUT", "/api/v1/auth/password", map[string]string{"current_password": "correct horse battery", "new_password": "short"}, 400, "new_password", ""},
	})
	expectStatus(t, there.do("GET", "/api/v1/profile", nil), 200) // nothing changed yet
	r := here.do("PUT", "/api/v1/auth/password", map[string]string{"current_password": "correct horse battery", "new_password": "violet orbit staple lamp"})
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.Body), `"other_sessions_signed_out":1`) {
		t.Fatalf("response %s", r.Body)
	}
	expectStatus(t, there.do("GET", "/api/v1/profile", nil), 401)
	expectStatus(t, here.do("GET", "/api/v1/profile", nil), 200)
	expectStatus(t, env.client().do("POST", "/api/v1/auth/login", map[string]string{"email": "changer@example.com", "password": "correct horse battery"}), 401)
	env.client().login("changer@example.com", "violet orbit staple lamp")
}

func TestSessionsListRevokeAndSignOutEverywhere(t *testing.T) {
	env := newEnv(t, nil)
	a1 := env.client().signup("sessions@example.com")
	a2 := env.client().login("sessions@example.com", "correct horse battery")
	a3 := env.client().login("sessions@example.com", "correct horse battery")
	other := env.client().signup("someone-else@example.com")
	list := a1.sessions()
	if len(list) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(list))
	}
	current := 0
	for _, s := range list {
		if s.Current {
			current++
		}
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current, want 1: %+v", current, list)
	}
	var a2id string
	for _, s := range a2.sessions() {
		if s.Current {
			a2id = s.ID
		}
	}
	// Another user cannot revoke it, and does not learn that it exists.
	expectStatus(t, other.do("DELETE", "/api/v1/auth/sessions/"+a2id, nil), 404)
	expectStatus(t, a2.do("GET", "/api/v1/profile", nil), 200)
	expectStatus(t, a1.do("DELETE", "/api/v1/auth/sessions/"+a2id, nil), 204)
	expectStatus(t, a2.do("GET", "/api/v1/profile", nil), 401)
	expectStatus(t, a1.do("DELETE", "/api/v1/auth/sessions/nope", nil), 404)
	if n := len(a1.sessions()); n != 2 {
		t.Fatalf("%d sessions after revoking one, want 2", n)
	}
	r := a1.do("DELETE", "/api/v1/auth/sessions", nil)
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.Body), `"signed_out":2`) {
		t.Fatalf("sign out everywhere: %s", r.Body)
	}
	expectStatus(t, a1.do("GET", "/api/v1/profile", nil), 401)
	expectStatus(t, a3.do("GET", "/api/v1/profile", nil), 401)
	expectStatus(t, other.do("GET", "/api/v1/profile", nil), 200)
}

func TestSessionsEndAfterTheirAbsoluteLifetimeHoweverActive(t *testing.T) {
	var offset atomic.Int64 // how far the server's clock is ahead of the store's
	env := newEnvWith(t, nil, func(c *server.Config) {
		c.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		c.SessionTTL = 14 * 24 * time.Hour
		c.SessionMaxAge = 30 * 24 * time.Hour
	})
	c := env.client().signup("lifetime@example.com")
	// Active every day for 29 days: the idle expiry keeps sliding...
	offset.Store(int64(29 * 24 * time.Hour))
	expectStatus(t, c.do("GET", "/api/v1/profile", nil), 200)
	// ...but not past 30 days after sign-in.
	offset.Store(int64(30*24*time.Hour + time.Second))
	r := c.do("GET", "/api/v1/profile", nil)
	expectStatus(t, r, 401)
	if !strings.Contains(string(r.Body), "sign in again") {
		t.Fatalf("body %s", r.Body)
	}
	offset.Store(0)
	expectStatus(t, c.do("GET", "/api/v1/profile", nil), 401) // and it stays ended
}

func TestHSTSIsSentWhenCookiesAreSecure(t *testing.T) {
	for _, secure := range []bool{true, false} {
		env := newEnvWith(t, nil, func(c *server.Config) { c.SecureCookies = secure })
		got := env.client().do("GET", "/healthz", nil).Header.Get("Strict-Transport-Security")
		if secure && !strings.Contains(got, "max-age=") || !secure && got != "" {
			t.Errorf("SecureCookies=%v: Strict-Transport-Security = %q", secure, got)
		}
	}
}

func TestAccountPageShowsPasswordFormAndSessions(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("account-page@example.com")
	env.client().login("account-page@example.com", "correct horse battery")
	r := c.page("/account")
	expectStatus(t, r, 200)
	expectContains(t, "/account", r, `id="password-form"`, `data-api="PUT /api/v1/auth/password"`, `id="password-form-current_password"`,
		`id="password-form-new_password-error"`, `data-action="sign-out-everywhere"`, `id="session-current"`, `id="nav-account" aria-current="page"`)
	if n := strings.Count(string(r.Body), `class="session-row"`); n != 2 {
		t.Fatalf("%d session rows, want 2", n)
	}
	if strings.Count(string(r.Body), `data-current="true"`) != 2 { // the row and its button
		t.Fatalf("the current session is not marked once:\n%s", r.Body)
	}
	// Signed out, the page sends the browser to log in.
	expectStatus(t, env.client().page("/account"), http.StatusSeeOther)
}
