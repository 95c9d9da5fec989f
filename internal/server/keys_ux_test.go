package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/server"
)

var (
	rsaOnce sync.Once
	rsaPEM  string
)

// testRSAKey is an RSA private key in PKCS#1 PEM, made once per test binary.
func testRSAKey(t testing.TB) string {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		rsaPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	})
	return rsaPEM
}

// pemLine is a line from the middle of a PEM block: enough to recognise it.
func pemLine(p string) string {
	lines := strings.Split(strings.TrimSpace(p), "\n")
	return lines[len(lines)/2]
}

const (
	goodUUID   = "5e1f0c3a-1234-4abc-8def-0123456789ab"
	goodWallet = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
)

// A key of the wrong shape is refused with a 400 naming the field, and
// nothing is stored: not even a key marked invalid.
func testSecretFormatIsCheckedBeforeStoring(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	c := env.client().signup("format@example.com")
	pemKey := testRSAKey(t)
	ecKey := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\nAwEHoUQDQgAEPR3tU2Fta9ktY+6P9G0cWO+0kETA6SFs38GecTyudlHz6xvCdz8q\nEKTcWGekdmdDPsHloRNtsiCa697B2O9IFA==\n-----END EC PRIVATE KEY-----\n"
	cases := []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"kalshi: key id not a UUID", map[string]any{"platform": "kalshi", "api_key": "hello", "private_key": pemKey}, 400, "api_key"},
		{"kalshi: private key not PEM", map[string]any{"platform": "kalshi", "api_key": goodUUID, "private_key": "hello"}, 400, "private_key"},
		{"kalshi: PEM but not RSA", map[string]any{"platform": "kalshi", "api_key": goodUUID, "private_key": ecKey}, 400, "private_key"},
		{"kalshi: key id missing", map[string]any{"platform": "kalshi", "private_key": pemKey}, 400, "api_key"},
		{"kalshi: good", map[string]any{"platform": "kalshi", "api_key": goodUUID, "private_key": pemKey}, 201, ""},
		{"polymarket: hello", map[string]any{"platform": "polymarket", "private_key": "hello"}, 400, "private_key"},
		{"polymarket: 31 bytes", map[string]any{"platform": "polymarket", "private_key": "0x" + strings.Repeat("ab", 31)}, 400, "private_key"},
		{"polymarket: zero key", map[string]any{"platform": "polymarket", "private_key": "0x" + strings.Repeat("00", 32)}, 400, "private_key"},
		{"polymarket: L2 key without secret", map[string]any{"platform": "polymarket", "private_key": goodWallet, "api_key": goodUUID, "passphrase": "p"}, 400, "api_secret"},
		{"polymarket: L2 key not a UUID", map[string]any{"platform": "polymarket", "private_key": goodWallet, "api_key": "k", "api_secret": "c2VjcmV0", "passphrase": "p"}, 400, "api_key"},
		{"polymarket: L2 secret not base64", map[string]any{"platform": "polymarket", "private_key": goodWallet, "api_key": goodUUID, "api_secret": "not base64!", "passphrase": "p"}, 400, "api_secret"},
		{"polymarket: wallet key without 0x, with a stray newline", map[string]any{"platform": "polymarket", "is_paper": false, "private_key": strings.TrimPrefix(goodWallet, "0x") + "\n"}, 201, ""},
		{"polymarket: wallet key and L2", map[string]any{"platform": "polymarket", "private_key": goodWallet, "api_key": goodUUID, "api_secret": "c2VjcmV0LXNlY3JldA==", "passphrase": "p"}, 201, ""},
		{"alpaca: secret missing", map[string]any{"platform": "alpaca", "api_key": "AK"}, 400, "api_secret"},
		{"too long", map[string]any{"platform": "alpaca", "api_key": strings.Repeat("A", 600), "api_secret": "S"}, 400, "api_key"},
	}
	stored := 0
	for _, tc := range cases {
		r := c.do("POST", "/api/v1/secrets", tc.body)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
			continue
		}
		if tc.status == 201 {
			stored++
			continue
		}
		f := r.Fields(t)
		if f[tc.field] == "" {
			t.Errorf("%s: the error does not name %s: %s", tc.name, tc.field, r.Body)
		}
		if strings.Contains(string(r.Body), "hello") || strings.Contains(string(r.Body), "MHcCAQEE") {
			t.Errorf("%s: the error echoes the value: %s", tc.name, r.Body)
		}
	}
	var list struct {
		Secrets []polybot.SecretMeta `json:"secrets"`
	}
	c.do("GET", "/api/v1/secrets", nil).JSON(t, &list)
	if len(list.Secrets) != 3 || stored != 3 {
		t.Errorf("stored keys %+v after %d good saves; the refused ones must not be stored", list.Secrets, stored)
	}
}

func TestSecretFormatIsCheckedBeforeStoringSQLite(t *testing.T) {
	testSecretFormatIsCheckedBeforeStoring(t, openSQLite)
}

func TestSecretFormatIsCheckedBeforeStoringPostgres(t *testing.T) {
	testSecretFormatIsCheckedBeforeStoring(t, openPostgres)
}

// fakeSimulator makes key material as serve --sim does, without a simulator.
func fakeSimulator(t testing.TB) func(context.Context, polybot.Platform) (map[string]string, error) {
	return func(_ context.Context, p polybot.Platform) (map[string]string, error) {
		switch p {
		case polybot.Kalshi:
			return map[string]string{polybot.FieldAPIKey: goodUUID, polybot.FieldPrivateKey: testRSAKey(t)}, nil
		case polybot.Polymarket:
			return map[string]string{polybot.FieldPrivateKey: goodWallet, polybot.FieldAPIKey: goodUUID,
				polybot.FieldAPISecret: "c2VjcmV0LXNlY3JldA==", polybot.FieldPassphrase: "pass"}, nil
		case polybot.Alpaca:
			return map[string]string{polybot.FieldAPIKey: "PKSIMTEST", polybot.FieldAPISecret: "alpaca-secret"}, nil
		case polybot.IBKR:
			return map[string]string{polybot.FieldAPIKey: "DUSIM0001", polybot.FieldAPISecret: "http://127.0.0.1:8424"}, nil
		}
		return nil, errors.New("no simulator")
	}
}

// Simulator keys exist only under --sim; there they are stored sealed, as
// any key, audited with their source, and never shown.
func testSimulatorKeys(t *testing.T, open storeOpener) {
	plain := newEnv(t, open)
	c := plain.client().signup("real@example.com")
	r := c.do("POST", "/api/v1/secrets/kalshi/simulator", nil)
	expectStatus(t, r, http.StatusNotFound)
	if !strings.Contains(string(r.Body), "--sim") {
		t.Errorf("404 outside --sim does not say why: %s", r.Body)
	}

	sim := newEnvWith(t, open, func(cfg *server.Config) { cfg.Sim, cfg.SimulatorKeys = true, fakeSimulator(t) })
	u := sim.client().signup("sim@example.com")
	runCases(t, u, []apiCase{
		{"kalshi", "POST", "/api/v1/secrets/kalshi/simulator", nil, 201, "", `"fields":["api_key","private_key"]`},
		{"kalshi again replaces it", "POST", "/api/v1/secrets/kalshi/simulator", map[string]any{}, 200, "", `"is_paper":true`},
		{"polymarket live", "POST", "/api/v1/secrets/polymarket/simulator", map[string]any{"is_paper": false}, 201, "", `"fields":["api_key","api_secret","private_key","passphrase"]`},
		{"alpaca", "POST", "/api/v1/secrets/alpaca/simulator", nil, 201, "", `"fields":["api_key","api_secret"]`},
		{"ibkr: an account and the gateway's URL", "POST", "/api/v1/secrets/ibkr/simulator", nil, 201, "", `"fields":["api_key","api_secret"]`},
		{"unknown platform", "POST", "/api/v1/secrets/ftx/simulator", nil, 400, "platform", ""},
		{"bad body", "POST", "/api/v1/secrets/kalshi/simulator", `{"is_paper":"yes"}`, 400, "", ""},
		{"listed", "GET", "/api/v1/secrets", nil, 200, "", `"platform":"polymarket"`},
		{"audited with its source", "GET", "/api/v1/audit", nil, 200, "", `\"source\":\"simulator\"`},
	})
	if strings.Contains(sim.bodies.String(), goodUUID) || strings.Contains(sim.bodies.String(), pemLine(testRSAKey(t))) {
		t.Error("a response shows a generated key")
	}
	// Sealed: what is stored opens to what the generator made.
	err := sim.Store.Tenant(context.Background(), u.user.ID, func(tx polybot.TenantTx) error {
		sec, err := tx.Secret(polybot.Kalshi, true)
		if err != nil {
			return err
		}
		got, err := secrets.NewBox(sim.Keys, 0).Open(context.Background(), tx, sec, polybot.FieldAPIKey, "test")
		if err == nil && string(got) != goodUUID {
			t.Errorf("stored key id %q", got)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if raw := sim.Raw(); strings.Contains(string(raw), goodUUID) || strings.Contains(string(raw), pemLine(testRSAKey(t))) {
		t.Error("a generated key is in the database in clear")
	}
}

func TestSimulatorKeysOnlyUnderSimSQLite(t *testing.T)   { testSimulatorKeys(t, openSQLite) }
func TestSimulatorKeysOnlyUnderSimPostgres(t *testing.T) { testSimulatorKeys(t, openPostgres) }

// A venue's refusal reads as plain words naming the field, and a later
// valid check clears it.
func TestValidateSecretPutsVenueRefusalsInPlainWords(t *testing.T) {
	var venueErr error
	env := newEnvWith(t, nil, func(cfg *server.Config) {
		cfg.CheckCredentials = func(context.Context, polybot.ID, polybot.Platform, bool, secrets.Plaintext, json.RawMessage) error {
			return venueErr
		}
	})
	c := env.client().signup("plain@example.com")
	expectStatus(t, c.do("POST", "/api/v1/secrets", map[string]any{"platform": "kalshi", "api_key": goodUUID, "private_key": testRSAKey(t)}), 201)
	expectStatus(t, c.do("POST", "/api/v1/secrets", map[string]any{"platform": "polymarket", "private_key": goodWallet}), 201)
	cases := []struct {
		platform string
		err      error
		field    string
		want     string
	}{
		{"kalshi", &polybot.VenueError{Venue: polybot.Kalshi, Status: 401, Code: "authentication_error", Message: "authentication error: NOT_FOUND"},
			"api_key", "Kalshi does not know this API key ID. Check that you copied it from the right account (demo or live)."},
		{"kalshi", &polybot.VenueError{Venue: polybot.Kalshi, Status: 401, Code: "authentication_error", Message: "authentication error: INCORRECT_API_KEY_SIGNATURE"},
			"private_key", "this private key does not belong to this API key ID"},
		{"polymarket", &polybot.VenueError{Venue: polybot.Polymarket, Status: 401, Message: "Invalid L1 Request headers"},
			"private_key", "Polymarket did not accept this wallet key"},
		{"kalshi", nil, "", ""},
	}
	for _, tc := range cases {
		venueErr = tc.err
		var v struct {
			Valid  bool               `json:"valid"`
			Fields map[string]string  `json:"fields"`
			Secret polybot.SecretMeta `json:"secret"`
		}
		r := c.do("POST", "/api/v1/secrets/"+tc.platform+"/validate?paper=true", nil)
		expectStatus(t, r, 200)
		r.JSON(t, &v)
		if tc.err == nil {
			if !v.Valid || len(v.Fields) != 0 || v.Secret.ValidationStatus != polybot.ValidationValid {
				t.Errorf("a key the venue accepts: %s (the old error must be gone)", r.Body)
			}
			continue
		}
		if v.Valid || !strings.Contains(v.Fields[tc.field], tc.want) || strings.Contains(string(r.Body), "NOT_FOUND") {
			t.Errorf("%s refusal %v: %s, want %s to say %q", tc.platform, tc.err, r.Body, tc.field, tc.want)
		}
	}
	// A venue that cannot be reached is not a refusal.
	venueErr = &polybot.VenueError{Venue: polybot.Kalshi, Status: 503}
	expectStatus(t, c.do("POST", "/api/v1/secrets/kalshi/validate?paper=true", nil), http.StatusServiceUnavailable)
}

// Tokens: expiry is optional and validated; a revoked or expired token is
// refused with 401; the list never shows a token.
func testAPITokenLifecycle(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	c := env.client().signup("tokens@example.com")
	runCases(t, c, []apiCase{
		{"name required", "POST", "/api/v1/tokens", map[string]any{"name": "  "}, 400, "name", ""},
		{"name too long", "POST", "/api/v1/tokens", map[string]any{"name": strings.Repeat("n", 65)}, 400, "name", ""},
		{"negative expiry", "POST", "/api/v1/tokens", map[string]any{"name": "x", "expires_in_days": -1}, 400, "expires_in_days", ""},
		{"expiry over a year", "POST", "/api/v1/tokens", map[string]any{"name": "x", "expires_in_days": 367}, 400, "expires_in_days", ""},
		{"expiry not a number", "POST", "/api/v1/tokens", `{"name":"x","expires_in_days":"30"}`, 400, "", ""},
		{"never expires", "POST", "/api/v1/tokens", map[string]any{"name": "forever"}, 201, "", `"expires_at":null`},
	})
	var created struct {
		Token    string           `json:"token"`
		APIToken polybot.APIToken `json:"api_token"`
	}
	r := c.do("POST", "/api/v1/tokens", map[string]any{"name": "report", "expires_in_days": 30})
	expectStatus(t, r, 201)
	r.JSON(t, &created)
	if created.APIToken.ExpiresAt == nil || created.APIToken.ExpiresAt.Sub(created.APIToken.CreatedAt) != 30*24*time.Hour {
		t.Errorf("30-day token: created %v expires %v", created.APIToken.CreatedAt, created.APIToken.ExpiresAt)
	}
	if !strings.HasPrefix(created.Token, created.APIToken.Prefix) {
		t.Errorf("prefix %q is not the token's start", created.APIToken.Prefix)
	}
	bot := env.client()
	bot.bearer = created.Token
	expectStatus(t, bot.do("GET", "/api/v1/profile", nil), 200)
	var list struct {
		Tokens []polybot.APIToken `json:"tokens"`
	}
	lr := c.do("GET", "/api/v1/tokens", nil)
	lr.JSON(t, &list)
	if strings.Contains(string(lr.Body), created.Token) || len(list.Tokens) != 2 {
		t.Fatalf("token list: %s", lr.Body)
	}
	for _, tk := range list.Tokens {
		if tk.ID == created.APIToken.ID && tk.LastUsedAt == nil {
			t.Errorf("the used token shows no last use: %+v", tk)
		}
	}
	// Another user cannot revoke it.
	other := env.client().signup("other@example.com")
	expectStatus(t, other.do("DELETE", "/api/v1/tokens/"+created.APIToken.ID.String(), nil), 404)
	expectStatus(t, bot.do("GET", "/api/v1/profile", nil), 200)
	// Revoked: 401 at once.
	expectStatus(t, c.do("DELETE", "/api/v1/tokens/"+created.APIToken.ID.String(), nil), 204)
	expectStatus(t, bot.do("GET", "/api/v1/profile", nil), 401)
	expectStatus(t, bot.do("PUT", "/api/v1/config", `{"notify_on_trade": false}`), 401)
}

func TestAPITokenLifecycleSQLite(t *testing.T)   { testAPITokenLifecycle(t, openSQLite) }
func TestAPITokenLifecyclePostgres(t *testing.T) { testAPITokenLifecycle(t, openPostgres) }

// The simulator banner is on every page under --sim (signed in or not), and
// on none otherwise; the keys page offers simulator keys only then.
func TestSimulatorBannerOnEveryPageUnderSim(t *testing.T) {
	for _, sim := range []bool{false, true} {
		env := newWebEnv(t, func(cfg *server.Config) {
			if sim {
				cfg.Sim, cfg.SimulatorKeys = true, fakeSimulator(t)
			}
		})
		anon := env.client()
		c := env.client().signup("banner@example.com")
		expectStatus(t, c.do("PATCH", "/api/v1/profile", map[string]bool{"accept_terms": true}), 200)
		pages := map[*client][]string{anon: {"/login", "/signup", "/no-such-page"},
			c: {"/dashboard", "/keys", "/tokens", "/config", "/plan", "/onboarding?step=1", "/onboarding?step=2", "/onboarding?step=3", "/onboarding?step=4"}}
		for who, paths := range pages {
			for _, p := range paths {
				r := who.browser("GET", p, nil)
				if got := strings.Contains(string(r.Body), "Simulator: no real money"); got != sim {
					t.Errorf("sim=%v: %s shows the simulator banner: %v", sim, p, got)
				}
			}
		}
		for p, ids := range map[string][]string{
			"/keys":              {`id="sim-keys-polymarket-generate"`, `id="sim-keys-kalshi-generate"`, `id="sim-keys-alpaca-generate"`},
			"/onboarding?step=3": {`id="sim-keys-polymarket-generate"`, `id="sim-keys-kalshi-generate"`},
		} {
			body := string(c.page(p).Body)
			for _, id := range ids {
				if strings.Contains(body, id) != sim {
					t.Errorf("sim=%v: %s has %s: %v", sim, p, id, !sim)
				}
			}
		}
	}
}

// The plan step comes before the platforms: it shows the plan's limits
// and strategies and says who sets plans; the presets follow the plan.
func TestOnboardingShowsThePlanFirstAndPresetsFollowIt(t *testing.T) {
	env := newWebEnv(t, nil)
	c := env.client().signup("order@example.com")
	expectStatus(t, c.do("PATCH", "/api/v1/profile", map[string]bool{"accept_terms": true}), 200)
	r := c.page("/onboarding")
	expectStatus(t, r, 200)
	expectContains(t, "resumed onboarding", r, `id="onboarding-step-2"`, "Your plan", "$50.00", "$100.00",
		"administrator", `id="onboarding-one-venue"`, "Not included: </span>Cross-platform arbitrage")
	step4 := c.page("/onboarding?step=4")
	expectContains(t, "risk step", step4, `data-max_trade_size_usd="50.00"`, `data-max_trade_size_usd="25.00"`, `data-max_trade_size_usd="10.00"`)
	if strings.Contains(string(step4.Body), `data-max_trade_size_usd="250.00"`) {
		t.Error("the aggressive preset promises more than the free plan allows")
	}
}
