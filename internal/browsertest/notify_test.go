package browsertest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/notify/notifytest"
)

// TestNotificationsWebUI: a user opens Notifications from the navigation,
// adds a webhook (a plain-http URL elsewhere is refused next to the field),
// sees its signing secret once, sends a test that the receiver verifies
// (the destination turns Verified), turns one event type off (it stays off
// after a reload), asks for today's summary, and watches the delivery log
// show it delivered. The receiver checks every signature.
func TestNotificationsWebUI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	trackSources(t)
	browser := startBrowser(t)
	srv := startServer(t)
	rcv := notifytest.NewReceiver(t)
	tb := newTab(t, browser, srv, "notifications", 120*time.Second)
	tb.signUpAPI(newEmail("notify"), "notify-password-123", "Nora Notify")
	tb.open("/dashboard")
	tb.click("nav-notifications")
	tb.waitPage("/notifications")

	eval[bool](tb, `(function(){var s=document.getElementById('notify-add-form-channel'); s.value='webhook'; s.dispatchEvent(new Event('change', {bubbles: true})); return true})()`)
	tb.fill("notify-add-form-name", "My system")
	tb.fill("notify-add-form-url", "http://example.com/hook")
	tb.click("notify-add")
	tb.waitFor("the URL's field error", `document.getElementById('notify-add-form-url-error').textContent.includes('https')`)

	tb.fill("notify-add-form-url", rcv.URL+"/hook")
	tb.click("notify-add")
	tb.waitFor("the signing secret, once", `!document.getElementById('notify-secret-once').hidden`)
	secret := eval[string](tb, `document.getElementById('notify-secret-once-value').value`)
	if !strings.HasPrefix(secret, "whsec_") {
		tb.fatalf("secret shown: %q", secret)
	}
	rcv.SetSecret(secret)
	tb.open("/notifications")
	var list struct {
		Destinations []struct{ ID string }
	}
	if r := tb.fetchAPI("GET", "/api/v1/notifications/destinations", nil); json.Unmarshal([]byte(r.Body), &list) != nil || len(list.Destinations) != 1 {
		tb.fatalf("destinations: %+v", r)
	}
	id := list.Destinations[0].ID
	if eval[bool](tb, fmt.Sprintf(`document.body.innerHTML.includes(%q)`, secret)) {
		tb.fatalf("the secret is on the page after a reload")
	}
	if got := tb.text("#dest-" + id + "-status"); got != "Not verified" {
		tb.fatalf("status before the test: %q", got)
	}

	tb.click("dest-" + id + "-test")
	tb.waitFor("verified after the signed test", fmt.Sprintf(`(function(){var e=document.getElementById('dest-%s-status'); return e && e.textContent.trim()==='Verified'})()`, id))

	tb.click("dest-" + id + "-event-opportunity") // untick
	eval[bool](tb, `window.notifyBeforeSave = true`)
	tb.click("dest-" + id + "-save")
	tb.waitFor("the page reloaded after the save", `!window.notifyBeforeSave && document.readyState==='complete'`)
	tb.open("/notifications")
	if eval[bool](tb, fmt.Sprintf(`document.getElementById('dest-%s-event-opportunity').checked`, id)) ||
		!eval[bool](tb, fmt.Sprintf(`document.getElementById('dest-%s-event-trade').checked`, id)) {
		tb.fatalf("after a reload the events are not as saved")
	}

	tb.click("notify-summary-now")
	tb.waitFor("queued", `document.getElementById('notify-events-status').textContent==='Queued.'`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		tb.open("/notifications")
		if eval[bool](tb, `!!document.querySelector('#notify-log-table tr[data-state="delivered"]')`) {
			break
		}
		if time.Now().After(deadline) {
			tb.fatalf("the summary never shows delivered in the log")
		}
		time.Sleep(300 * time.Millisecond)
	}
	tb.screenshot("notifications")
	_, byKey, bad := rcv.Stats()
	if len(byKey) != 2 || len(bad) != 0 {
		t.Errorf("the receiver took %d deliveries (want the test and the summary), refused %v", len(byKey), bad)
	}
	tb.assertClean()
}
