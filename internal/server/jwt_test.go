package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/server"
)

const (
	jwtSecret = "super-secret-jwt-token-with-at-least-32-characters"
	jwtIssuer = "https://project.supabase.co/auth/v1"
)

func hs256(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	m := hmac.New(sha256.New, []byte(jwtSecret))
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestSupabaseTokensSignUsersInAndKeepThemApart(t *testing.T) {
	env := newEnvWith(t, nil, func(c *server.Config) {
		v, err := auth.NewVerifier(auth.VerifierConfig{HS256Secret: []byte(jwtSecret), Issuer: jwtIssuer})
		if err != nil {
			t.Fatal(err)
		}
		c.JWT = v
	})
	now := time.Now()
	claims := func(sub polybot.ID, role string) map[string]any {
		return map[string]any{"sub": sub.String(), "aud": "authenticated", "role": role, "iss": jwtIssuer,
			"email": "jwt-" + sub.String()[:8] + "@example.com", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	alice, bob := polybot.NewID(), polybot.NewID()
	a, b := env.client(), env.client()
	a.bearer, b.bearer = hs256(t, claims(alice, "authenticated")), hs256(t, claims(bob, "authenticated"))

	// First sight provisions the user on the free tier with the seed's defaults.
	r := a.do("GET", "/api/v1/profile", nil)
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.Body), alice.String()) || !strings.Contains(string(r.Body), `"subscription_tier":"free"`) {
		t.Fatalf("provisioned profile: %s", r.Body)
	}
	expectStatus(t, a.do("PUT", "/api/v1/config", `{"min_profit_pct": 3}`), 200)
	expectStatus(t, b.do("GET", "/api/v1/config", nil), 200)
	if r := b.do("GET", "/api/v1/config", nil); strings.Contains(string(r.Body), `"min_profit_pct":"3.00"`) {
		t.Fatal("bob sees alice's config")
	}

	bad := map[string]string{
		"service_role on a user route": hs256(t, claims(polybot.NewID(), "service_role")),
		"anon role":                    hs256(t, claims(polybot.NewID(), "anon")),
		"expired":                      hs256(t, map[string]any{"sub": alice.String(), "aud": "authenticated", "role": "authenticated", "iss": jwtIssuer, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}),
		"wrong issuer":                 hs256(t, map[string]any{"sub": alice.String(), "aud": "authenticated", "role": "authenticated", "iss": "https://evil.example/auth/v1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"anonymous sign-in":            hs256(t, map[string]any{"sub": polybot.NewID().String(), "aud": "authenticated", "role": "authenticated", "is_anonymous": true, "iss": jwtIssuer, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"alg none":                     base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + strings.Split(a.bearer, ".")[1] + ".",
		"tampered payload":             strings.Split(a.bearer, ".")[0] + "." + strings.Split(b.bearer, ".")[1] + "." + strings.Split(a.bearer, ".")[2],
	}
	for name, tok := range bad {
		c := env.client()
		c.bearer = tok
		r := c.do("GET", "/api/v1/config", nil)
		if r.Status != 401 && r.Status != 403 {
			t.Errorf("%s: status %d %s", name, r.Status, r.Body)
		}
	}
}
