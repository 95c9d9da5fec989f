package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
)

// canaries are known secret values pushed through the API; none may appear
// anywhere afterwards, in any encoding. Each has the shape its field needs
// (keys of the wrong shape are refused before they are stored); the RSA
// key's canary is a line of its PEM body (canaryPEM).
var canaries = []string{
	"ca4a21e5-5f1e-4d3c-8b5a-697800000001",                               // Polymarket L2 API key / Kalshi key ID
	"Q0FOQVJZLWFwaS1zZWNyZXQtMGE5YjhjN2Q2ZTVm",                           // L2 API secret (base64)
	"0xca4a21e5ca4a21e5ca4a21e5ca4a21e5ca4a21e5ca4a21e5ca4a21e511223344", // wallet key
	"CANARY-passphrase-deadbeefcafe",
	"ca4a21e5-9988-4776-8655-000000000002", // rotated Kalshi key ID
	"CANARY-password-horse-staple",
}

func encodings(s string) map[string]string {
	b := []byte(s)
	return map[string]string{
		"plain":     s,
		"base64":    base64.StdEncoding.EncodeToString(b),
		"base64raw": base64.RawStdEncoding.EncodeToString(b),
		"base64url": base64.RawURLEncoding.EncodeToString(b),
		"hex":       hex.EncodeToString(b),
		"HEX":       strings.ToUpper(hex.EncodeToString(b)),
	}
}

func testCanarySecretsNeverLeak(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	c := env.client()
	r := c.do("POST", "/api/v1/auth/signup", map[string]string{"email": "canary@example.com", "password": canaries[5]})
	expectStatus(t, r, 201)
	var s struct {
		User polybot.User `json:"user"`
		CSRF string       `json:"csrf_token"`
	}
	r.JSON(t, &s)
	c.csrf, c.user = s.CSRF, s.User

	// Wrong and right logins.
	other := env.client()
	expectStatus(t, other.do("POST", "/api/v1/auth/login", map[string]string{"email": "canary@example.com", "password": canaries[5] + "x"}), 401)
	expectStatus(t, other.do("POST", "/api/v1/auth/login", map[string]string{"email": "canary@example.com", "password": canaries[5]}), 200)

	full := map[string]any{"platform": "polymarket", "is_paper": false, "api_key": canaries[0], "api_secret": canaries[1], "private_key": canaries[2], "passphrase": canaries[3]}
	expectStatus(t, c.do("POST", "/api/v1/secrets", full), 201)
	rsaKey := testRSAKey(t)
	expectStatus(t, c.do("POST", "/api/v1/secrets", map[string]any{"platform": "kalshi", "api_key": canaries[0], "private_key": rsaKey}), 201)
	// Rotation.
	expectStatus(t, c.do("POST", "/api/v1/secrets", map[string]any{"platform": "kalshi", "api_key": canaries[4], "private_key": rsaKey}), 200)
	// A key of the wrong shape is refused, and not echoed.
	if r := c.do("POST", "/api/v1/secrets", map[string]any{"platform": "kalshi", "api_key": canaries[0], "private_key": canaries[3]}); r.Status != 400 {
		t.Errorf("a Kalshi key that is no PEM: %d", r.Status)
	}
	// Bad requests that carry secrets must not echo them.
	bad := []map[string]any{
		{"platform": "nowhere", "api_key": canaries[0]},
		{"platform": "kalshi", "api_key": canaries[0], "api_kee": canaries[1]},
		{"platform": "kalshi", "api_key": 5, "private_key": canaries[2]},
		{"platform": "kalshi", "is_paper": "yes", "private_key": canaries[2]},
	}
	for _, b := range bad {
		if r := c.do("POST", "/api/v1/secrets", b); r.Status != 400 {
			t.Errorf("bad secret request %v: %d", b["platform"], r.Status)
		}
	}
	c.do("POST", "/api/v1/secrets", `{"platform":"kalshi","api_key":"`+canaries[0]+`"`) // malformed JSON
	expectStatus(t, c.do("GET", "/api/v1/secrets", nil), 200)
	expectStatus(t, c.do("GET", "/api/user/secrets", nil), 200)
	expectStatus(t, c.do("GET", "/api/v1/audit", nil), 200)

	// The runner's path: decrypt every field (each writes an audit row).
	box := secrets.NewBox(env.Keys, 0)
	err := env.Store.Tenant(context.Background(), c.user.ID, func(tx polybot.TenantTx) error {
		sec, err := tx.Secret(polybot.Polymarket, false)
		if err != nil {
			return err
		}
		for i, f := range []string{polybot.FieldAPIKey, polybot.FieldAPISecret, polybot.FieldPrivateKey, polybot.FieldPassphrase} {
			got, err := box.Open(context.Background(), tx, sec, f, "canary test")
			if err != nil {
				return err
			}
			if string(got) != canaries[i] {
				t.Errorf("field %s decrypted to the wrong value", f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	audit := c.do("GET", "/api/v1/audit", nil)
	if strings.Count(string(audit.Body), polybot.AuditSecretDecrypt) != 4 {
		t.Errorf("want 4 decrypt audit rows: %s", audit.Body)
	}
	expectStatus(t, c.do("DELETE", "/api/v1/secrets/kalshi?paper=true", nil), 204)

	places := map[string][]byte{
		"logs":           []byte(env.Logs.String()),
		"response body":  []byte(env.bodies.String()),
		"database files": env.Raw(),
	}
	if len(places["logs"]) == 0 || len(places["database files"]) == 0 {
		t.Fatal("nothing captured to scan")
	}
	for where, data := range places {
		for _, cn := range append(canaries[:len(canaries):len(canaries)], pemLine(rsaKey)) {
			for enc, v := range encodings(cn) {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("%s contain canary %q (%s)", where, cn[:14], enc)
				}
			}
		}
	}
}

func TestCanarySecretsNeverLeakSQLite(t *testing.T) { testCanarySecretsNeverLeak(t, openSQLite) }
