package server_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/notify/notifytest"
	"github.com/polybot/polybot/internal/server"
)

// testNotifyAPI drives the notifications API on whichever store open
// makes: every bad input a 4xx naming its field, a webhook registered for
// chosen events, verified by its signed test, a trade delivered, the log
// listed, a redelivery under the same key, the secret rotated; secrets
// never in a response (but the signing secret once), the logs or the
// database; another user sees none of it.
func testNotifyAPI(t *testing.T, open storeOpener) {
	rcv := notifytest.NewReceiver(t)
	token := "123456:" + strings.Repeat("SecretBotToken_", 2)
	tg := notifytest.NewTelegramSim(t, token)
	var d *notify.Dispatcher
	env := newEnvWith(t, open, func(c *server.Config) {
		d = notify.New(notify.Config{Store: c.Store, Box: c.Secrets, Senders: map[string]notify.Sender{
			polybot.ChannelWebhook:  notify.NewWebhook(notify.HTTPConfig{AllowPrivate: true}, nil),
			polybot.ChannelTelegram: notify.NewTelegram(notify.HTTPConfig{AllowPrivate: true, TelegramBase: tg.URL}),
		}})
		c.Notify = d
	})
	a := env.client().signup("notify-a@example.com")
	b := env.client().signup("notify-b@example.com")
	hook := map[string]any{"channel": "webhook", "name": "My system", "url": rcv.URL + "/hooks/polybot", "events": []string{"trade", "bot.halted"}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for x, y := range hook {
			m[x] = y
		}
		m[k] = v
		return m
	}
	runCases(t, a, []apiCase{
		{"no destinations yet", "GET", "/api/v1/notifications/destinations", nil, 200, "", `{"destinations":[]}`},
		{"an unknown channel", "POST", "/api/v1/notifications/destinations", with("channel", "sms"), 400, "channel", ""},
		{"no name", "POST", "/api/v1/notifications/destinations", with("name", ""), 400, "name", ""},
		{"a name with a NUL", "POST", "/api/v1/notifications/destinations", with("name", "a\x00b"), 400, "name", ""},
		{"a plain-http URL elsewhere than loopback", "POST", "/api/v1/notifications/destinations", with("url", "http://example.com/x"), 400, "url", ""},
		{"no URL", "POST", "/api/v1/notifications/destinations", with("url", ""), 400, "url", ""},
		{"an unknown event", "POST", "/api/v1/notifications/destinations", with("events", []string{"trade", "weather"}), 400, "events", ""},
		{"an event twice", "POST", "/api/v1/notifications/destinations", with("events", []string{"trade", "trade"}), 400, "events", ""},
		{"an unknown field", "POST", "/api/v1/notifications/destinations", with("colour", "red"), 400, "colour", ""},
		{"a bad email", "POST", "/api/v1/notifications/destinations", map[string]any{"channel": "email", "name": "me", "email": "not an address"}, 400, "email", ""},
		{"a Telegram chat that is no chat id", "POST", "/api/v1/notifications/destinations", map[string]any{"channel": "telegram", "name": "me", "chat_id": "x y", "bot_token": token}, 400, "chat_id", ""},
		{"a Telegram token that is no token", "POST", "/api/v1/notifications/destinations", map[string]any{"channel": "telegram", "name": "me", "chat_id": "42", "bot_token": "hunter2"}, 400, "bot_token", ""},
		{"a bad state filter", "GET", "/api/v1/notifications/deliveries?state=lost", nil, 400, "state", ""},
		{"a bad limit", "GET", "/api/v1/notifications/deliveries?limit=lots", nil, 400, "limit", ""},
		{"a limit too large", "GET", "/api/v1/notifications/deliveries?limit=5000", nil, 400, "limit", ""},
		{"a bad delivery id", "POST", "/api/v1/notifications/deliveries/abc/redeliver", nil, 400, "id", ""},
		{"an unknown delivery", "POST", "/api/v1/notifications/deliveries/999999/redeliver", nil, 404, "", ""},
		{"an unknown destination", "PATCH", "/api/v1/notifications/destinations/dst_nope", map[string]any{"enabled": false}, 404, "", ""},
		{"a patch naming a bad event", "PATCH", "/api/v1/notifications/destinations/dst_nope", map[string]any{"events": []string{"x"}}, 400, "events", ""},
		{"verify without a code", "POST", "/api/v1/notifications/destinations/dst_nope/verify", map[string]any{"code": ""}, 400, "code", ""},
		{"rotate an unknown destination", "POST", "/api/v1/notifications/destinations/dst_nope/rotate-secret", nil, 404, "", ""},
		{"test an unknown destination", "POST", "/api/v1/notifications/destinations/dst_nope/test", nil, 404, "", ""},
	})

	var created struct {
		Destination   polybot.NotifyDestination `json:"destination"`
		SigningSecret string                    `json:"signing_secret"`
	}
	r := a.do("POST", "/api/v1/notifications/destinations", hook)
	expectStatus(t, r, 201)
	r.JSON(t, &created)
	id, secret := created.Destination.ID, created.SigningSecret
	if !strings.HasPrefix(secret, "whsec_") || created.Destination.Target != rcv.URL || created.Destination.Verified() {
		t.Fatalf("created %s", r.Body)
	}
	rcv.SetSecret(secret)
	runCases(t, b, []apiCase{
		{"B does not see A's destination", "GET", "/api/v1/notifications/destinations", nil, 200, "", `{"destinations":[]}`},
		{"B cannot test it", "POST", "/api/v1/notifications/destinations/" + id + "/test", nil, 404, "", ""},
		{"B cannot rotate it", "POST", "/api/v1/notifications/destinations/" + id + "/rotate-secret", nil, 404, "", ""},
		{"B cannot delete it", "DELETE", "/api/v1/notifications/destinations/" + id, nil, 404, "", ""},
	})
	runCases(t, a, []apiCase{
		{"the signed test verifies it", "POST", "/api/v1/notifications/destinations/" + id + "/test", nil, 200, "", `"sent":true`},
		{"it lists as verified", "GET", "/api/v1/notifications/destinations", nil, 200, "", `"verified_at":"`},
	})
	ctx := context.Background()
	if err := env.Store.Tenant(ctx, a.user.ID, func(tx polybot.TenantTx) error {
		_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "api-1", Strategy: polybot.StrategySinglePlatform,
			Mode: polybot.DryRun, Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-API", Outcome: polybot.No}, Side: polybot.Buy,
			Price: polybot.MustDecimal("0.25"), Size: polybot.MustDecimal("4"), Fee: polybot.MustDecimal("0.05"), Time: tx.Now()}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var log struct{ Deliveries []polybot.NotifyDelivery }
	r = a.do("GET", "/api/v1/notifications/deliveries?state=delivered&destination="+id, nil)
	expectStatus(t, r, 200)
	r.JSON(t, &log)
	if len(log.Deliveries) != 1 || log.Deliveries[0].Event != "trade" || log.Deliveries[0].Attempts != 1 {
		t.Fatalf("deliveries %s", r.Body)
	}
	key := log.Deliveries[0].Key
	runCases(t, b, []apiCase{
		{"B sees no deliveries", "GET", "/api/v1/notifications/deliveries", nil, 200, "", `{"deliveries":[]}`},
		{"B cannot redeliver A's", "POST", "/api/v1/notifications/deliveries/" + strconv.FormatInt(log.Deliveries[0].ID, 10) + "/redeliver", nil, 404, "", ""},
	})
	runCases(t, a, []apiCase{
		{"redeliver", "POST", "/api/v1/notifications/deliveries/" + strconv.FormatInt(log.Deliveries[0].ID, 10) + "/redeliver", nil, 200, "", `"state":"pending"`},
	})
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, byKey, bad := rcv.Stats(); byKey[key] != 2 || len(bad) != 0 {
		t.Errorf("the redelivered trade's key arrived %d times (want twice, the same key), refused %v", byKey[key], bad)
	}
	r = a.do("POST", "/api/v1/notifications/destinations/"+id+"/rotate-secret", nil)
	expectStatus(t, r, 200)
	var rotated struct {
		SigningSecret string `json:"signing_secret"`
	}
	r.JSON(t, &rotated)
	if rotated.SigningSecret == secret || !strings.HasPrefix(rotated.SigningSecret, "whsec_") {
		t.Errorf("rotated to %q", rotated.SigningSecret)
	}
	runCases(t, a, []apiCase{
		{"turn it off and take trades only", "PATCH", "/api/v1/notifications/destinations/" + id, map[string]any{"enabled": false, "events": []string{"trade"}}, 200, "", `"enabled":false`},
	})

	// Telegram: the token is sealed; no response, log or byte of the
	// database shows it.
	r = a.do("POST", "/api/v1/notifications/destinations", map[string]any{"channel": "telegram", "name": "phone", "chat_id": "42", "bot_token": token})
	expectStatus(t, r, 201)
	var tgDest struct{ Destination polybot.NotifyDestination }
	r.JSON(t, &tgDest)
	runCases(t, a, []apiCase{
		{"the Telegram test carries a code", "POST", "/api/v1/notifications/destinations/" + tgDest.Destination.ID + "/test", nil, 200, "", `"verified_at":null`},
		{"a wrong code", "POST", "/api/v1/notifications/destinations/" + tgDest.Destination.ID + "/verify", map[string]any{"code": "AAAAAAAA"}, 400, "code", ""},
	})
	msgs := tg.Messages()
	if len(msgs) != 1 {
		t.Fatalf("telegram got %v", msgs)
	}
	i := strings.Index(msgs[0].Text, "code is ")
	code := msgs[0].Text[i+8 : i+16]
	runCases(t, a, []apiCase{
		{"the right code", "POST", "/api/v1/notifications/destinations/" + tgDest.Destination.ID + "/verify", map[string]any{"code": code}, 200, "", `"verified_at":"`},
		{"delete the webhook", "DELETE", "/api/v1/notifications/destinations/" + id, nil, 204, "", ""},
		{"its deliveries went with it", "GET", "/api/v1/notifications/deliveries?destination=" + id, nil, 200, "", `{"deliveries":[]}`},
	})
	for what, b := range map[string][]byte{"responses": []byte(env.bodies.String()), "logs": []byte(env.Logs.String()), "database": env.Raw()} {
		for _, s := range []string{token, "/hooks/polybot", rotated.SigningSecret} {
			if bytes.Contains(b, []byte(s)) && !(what == "responses" && s == rotated.SigningSecret) {
				t.Errorf("the %s hold the secret %q", what, s)
			}
		}
	}
	if bytes.Count([]byte(env.bodies.String()), []byte(secret)) != 1 {
		t.Errorf("the first signing secret appears %d times in responses, want once", bytes.Count([]byte(env.bodies.String()), []byte(secret)))
	}
}

func TestNotifyAPISQLite(t *testing.T)   { testNotifyAPI(t, openSQLite) }
func TestNotifyAPIPostgres(t *testing.T) { testNotifyAPI(t, openPostgres) }

func TestNotifyRoutesAreUnavailableWithoutANotifier(t *testing.T) {
	a := newEnv(t, nil).client().signup("no-notify@example.com")
	runCases(t, a, []apiCase{
		{"create", "POST", "/api/v1/notifications/destinations", map[string]any{"channel": "email", "name": "me", "email": "me@example.com"}, 503, "", ""},
		{"the list still answers", "GET", "/api/v1/notifications/destinations", nil, 200, "", `{"destinations":[]}`},
	})
}

// An email's confirmation link, opened while signed in, verifies the
// destination; a wrong code says so and verifies nothing. Both show the
// Notifications page.
func TestTheConfirmationLinkVerifiesADestination(t *testing.T) {
	token := "123456:" + strings.Repeat("LinkBotToken_", 2)
	tg := notifytest.NewTelegramSim(t, token)
	env := newWebEnv(t, func(c *server.Config) {
		c.Notify = notify.New(notify.Config{Store: c.Store, Box: c.Secrets, Senders: map[string]notify.Sender{
			polybot.ChannelTelegram: notify.NewTelegram(notify.HTTPConfig{AllowPrivate: true, TelegramBase: tg.URL})}})
	})
	a := env.client().signup("confirm@example.com")
	r := a.do("POST", "/api/v1/notifications/destinations", map[string]any{"channel": "telegram", "name": "phone", "chat_id": "7", "bot_token": token})
	expectStatus(t, r, 201)
	var created struct{ Destination polybot.NotifyDestination }
	r.JSON(t, &created)
	id := created.Destination.ID
	expectStatus(t, a.do("POST", "/api/v1/notifications/destinations/"+id+"/test", nil), 200)
	text := tg.Messages()[0].Text
	code := text[strings.Index(text, "code is ")+8:][:8]

	wrong := a.page("/notifications/confirm?d=" + id + "&code=AAAAAAAA")
	expectContains(t, "a wrong code", wrong, "This link did not confirm anything", `id="dest-`+id+`-status">Awaiting code`)
	right := a.page("/notifications/confirm?d=" + id + "&code=" + code)
	expectContains(t, "the right code", right, "Confirmed: notifications will reach this address.", `id="dest-`+id+`-status">Verified`)
	if b := env.client().signup("other@example.com"); b.page("/notifications/confirm?d="+id+"&code="+code).Status != 200 {
		t.Error("another user's visit to the link does not render the page")
	}
}
