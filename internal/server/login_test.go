package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/server"
)

// settableClock is a clock tests move by hand.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// behindProxy is a server whose loopback peer (the test client) is a
// trusted reverse proxy, with a login limiter on a clock the test moves.
func behindProxy(t *testing.T) (*testEnv, *settableClock) {
	clk := &settableClock{t: time.Now()}
	env := newEnvWith(t, nil, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		c.Limiter = auth.NewLoginLimiter(auth.LimiterConfig{Clock: clk.Now})
	})
	return env, clk
}

// loginFrom posts a login as if the proxy had seen it come from xff.
func loginFrom(t *testing.T, env *testEnv, xff, email, password string) (int, http.Header) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequest("POST", env.URL+"/api/v1/auth/login", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header
}

const rightPassword = "correct horse battery"

func TestLoginWithTheRightPasswordFromAnotherAddressWorksDuringAGuessingAttack(t *testing.T) {
	env, _ := behindProxy(t)
	env.client().signup("victim@example.com")
	const attacker, owner = "203.0.113.7", "198.51.100.9"
	for i := range 5 {
		if st, _ := loginFrom(t, env, attacker, "victim@example.com", "guess "+strings.Repeat("x", i)); st != 401 {
			t.Fatalf("guess %d: status %d, want 401", i, st)
		}
	}
	st, h := loginFrom(t, env, attacker, "victim@example.com", "guess 6")
	if st != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("the attacker's sixth guess: status %d Retry-After %q, want 429 with Retry-After", st, h.Get("Retry-After"))
	}
	if st, _ := loginFrom(t, env, owner, "victim@example.com", rightPassword); st != 200 {
		t.Fatalf("the owner from another address: status %d, want 200", st)
	}
}

func TestLoginDelaysGrowPerEmailAndAddress(t *testing.T) {
	env, clk := behindProxy(t)
	env.client().signup("victim@example.com")
	const attacker = "203.0.113.7"
	for range 5 {
		loginFrom(t, env, attacker, "victim@example.com", "wrong password!")
	}
	for _, want := range []string{"1", "2", "4"} {
		st, h := loginFrom(t, env, attacker, "victim@example.com", "wrong password!")
		if st != 429 || h.Get("Retry-After") != want {
			t.Fatalf("status %d Retry-After %q, want 429 after %s s", st, h.Get("Retry-After"), want)
		}
		d, _ := time.ParseDuration(want + "s")
		clk.Advance(d)
		if st, _ := loginFrom(t, env, attacker, "victim@example.com", "wrong password!"); st != 401 {
			t.Fatalf("after waiting %s s: status %d, want 401", want, st)
		}
	}
}

func TestLoginFailuresAtManyAccountsOnlySlowAnAddress(t *testing.T) {
	env, clk := behindProxy(t)
	env.client().signup("owner@example.com")
	const shared = "203.0.113.50" // one NAT, many users
	for i := range 20 {
		loginFrom(t, env, shared, "user"+strings.Repeat("x", i)+"@example.com", "wrong password!")
	}
	st, h := loginFrom(t, env, shared, "owner@example.com", rightPassword)
	if st != 429 || h.Get("Retry-After") != "1" {
		t.Fatalf("status %d Retry-After %q, want a one-second slow-down", st, h.Get("Retry-After"))
	}
	clk.Advance(time.Second)
	if st, _ := loginFrom(t, env, shared, "owner@example.com", rightPassword); st != 200 {
		t.Fatalf("the owner behind the shared address a second later: status %d, want 200", st)
	}
}

func TestLoginLimitIgnoresXForwardedForFromAnUntrustedPeer(t *testing.T) {
	env := newEnv(t, nil) // no trusted proxies: the loopback peer is the client
	env.client().signup("victim@example.com")
	for i := range 5 {
		loginFrom(t, env, "198.51.100."+string(rune('1'+i)), "victim@example.com", "wrong password!")
	}
	if st, _ := loginFrom(t, env, "192.0.2.200", "victim@example.com", rightPassword); st != 429 {
		t.Fatalf("a spoofed X-Forwarded-For escaped the limit: status %d, want 429", st)
	}
}

func TestLoginLimitIgnoresAddressesTheClientPrependsBehindAProxy(t *testing.T) {
	env, _ := behindProxy(t)
	env.client().signup("victim@example.com")
	// The proxy appends the real peer; whatever the client sent stays left of it.
	for i := range 5 {
		loginFrom(t, env, "10.0.0."+string(rune('1'+i))+", 203.0.113.7", "victim@example.com", "wrong password!")
	}
	if st, _ := loginFrom(t, env, "192.0.2.200, 203.0.113.7", "victim@example.com", "wrong password!"); st != 429 {
		t.Fatalf("a prepended X-Forwarded-For entry escaped the limit: status %d, want 429", st)
	}
}
