package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// newUUID is a random UUID-shaped id, as Kalshi's API key IDs are.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// bearerStatus calls the API with only a bearer token (no cookie) and
// returns the status.
func bearerStatus(t *testing.T, srv *server, token string) int {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+"/api/v1/profile", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// testTokens: a user makes an API token on the API tokens page (a field
// error first), sees it once with a copy button, finds it listed with its
// prefix and expiry, uses it from a script, and revokes it after a
// confirmation (Cancel keeps it); the revoked token gets 401.
func testTokens(t *testing.T, browser context.Context, srv *server) {
	tb := newTab(t, browser, srv, "tokens", 60*time.Second)
	tb.signUpAPI(newEmail("tokens"), "tokens-password-123", "Toni Tokens")
	tb.open("/keys")
	tb.click("nav-tokens")
	tb.waitPage("/tokens")
	tb.waitFor("the tokens page", `document.getElementById('token-form') && !document.getElementById('tokens-empty').hidden`)

	tb.click("token-create-submit")
	tb.fieldErrorNextToField("token-form", "name", "1-64 characters")
	tb.fill("token-form-name", "nightly report")
	tb.fill("token-form-expires_in_days", "7")
	tb.click("token-create-submit")
	tb.waitFor("the token shown once", `!document.getElementById('token-once').hidden && document.getElementById('token-once-value').value.indexOf('pbt_') === 0`)
	token := eval[string](tb, `document.getElementById('token-once-value').value`)
	if !eval[bool](tb, `!!document.getElementById('token-once-copy')`) {
		t.Errorf("no copy button beside the new token")
	}
	tb.waitFor("the token listed", `document.querySelectorAll('#tokens-table tr.token-row').length === 1 && document.getElementById('tokens-empty').hidden`)
	row := tb.text("#tokens-table tr.token-row")
	if !strings.Contains(row, "nightly report") || !strings.Contains(row, token[:8]) || strings.Contains(row, token) {
		t.Errorf("token row %q: want the name and prefix, never the token", row)
	}
	if exp := tb.text(`#tokens-table tr.token-row [data-key="expires"]`); exp == "" || exp == "never" {
		t.Errorf("the 7-day token shows expiry %q", exp)
	}
	tb.screenshot("tokens")
	tb.click("token-once-done")
	tb.waitFor("the token hidden", `document.getElementById('token-once').hidden && document.getElementById('token-once-value').value === ''`)

	// The script's view: the token works, and shows as used after a reload.
	if st := bearerStatus(t, srv, token); st != http.StatusOK {
		t.Fatalf("the new token gets %d", st)
	}
	tb.open("/tokens")
	tb.waitFor("the token listed after a reload", `document.querySelector('#tokens-table tr.token-row')`)
	if used := tb.text(`#tokens-table tr.token-row [data-key="last-used"]`); used == "" || used == "never" {
		t.Errorf("a used token shows last used %q", used)
	}
	if strings.Contains(tb.dom(), token) {
		tb.fatalf("the token is in the page after a reload")
	}
	id := eval[string](tb, `document.querySelector('#tokens-table tr.token-row').dataset.tokenId`)

	// Revoke asks first; Cancel keeps it.
	tb.click("token-" + id + "-revoke")
	tb.waitFor("the confirmation dialog", `document.getElementById('confirm-dialog').open`)
	if msg := tb.text("#confirm-message"); !strings.Contains(msg, "nightly report") {
		t.Errorf("confirmation message %q does not name the token", msg)
	}
	tb.click("confirm-cancel")
	tb.waitFor("the dialog closed", `!document.getElementById('confirm-dialog').open`)
	if st := bearerStatus(t, srv, token); st != http.StatusOK {
		t.Fatalf("after Cancel the token gets %d", st)
	}
	tb.click("token-" + id + "-revoke")
	tb.waitFor("the confirmation dialog again", `document.getElementById('confirm-dialog').open`)
	tb.click("confirm-ok")
	tb.waitFor("the token gone from the list", `!document.querySelector('#tokens-table tr.token-row') && !document.getElementById('tokens-empty').hidden`)
	if st := bearerStatus(t, srv, token); st != http.StatusUnauthorized {
		t.Errorf("a revoked token gets %d, want 401", st)
	}
}
