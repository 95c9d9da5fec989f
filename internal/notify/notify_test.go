package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/notify/notifytest"
)

func TestSignatureIsHMACOfTimestampDotBodyAndVerifyChecksIt(t *testing.T) {
	secret, body := []byte("whsec_test"), []byte(`{"id":"x"}`)
	at := time.Unix(1_900_000_000, 0)
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("1900000000." + string(body)))
	want := "t=1900000000,v1=" + hex.EncodeToString(h.Sum(nil))
	if got := notify.Sign(secret, at, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	for _, c := range []struct {
		name   string
		header string
		secret string
		body   string
		now    time.Time
		ok     bool
	}{
		{"the signature as sent", want, "whsec_test", `{"id":"x"}`, at.Add(time.Minute), true},
		{"a second v1 (during a rotation) still matches", "t=1900000000,v1=00," + want[len("t=1900000000,"):], "whsec_test", `{"id":"x"}`, at, true},
		{"a changed body", want, "whsec_test", `{"id":"y"}`, at, false},
		{"another secret", want, "whsec_other", `{"id":"x"}`, at, false},
		{"too old", want, "whsec_test", `{"id":"x"}`, at.Add(6 * time.Minute), false},
		{"no timestamp", "v1=" + want[len("t=1900000000,v1="):], "whsec_test", `{"id":"x"}`, at, false},
		{"garbage", "nonsense", "whsec_test", `{"id":"x"}`, at, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := notify.Verify(c.header, []byte(c.secret), []byte(c.body), c.now, 5*time.Minute)
			if (err == nil) != c.ok {
				t.Errorf("Verify = %v, want ok %v", err, c.ok)
			}
		})
	}
}

var codeRE = regexp.MustCompile(`code is ([A-Z2-7]{8})|code ([A-Z2-7]{8})`)

func code(t *testing.T, text string) string {
	t.Helper()
	m := codeRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no confirmation code in %q", text)
	}
	return m[1] + m[2]
}

func TestEmailIsConfirmedThenCarriesTradesAndTheDailySummaryThroughMailpitOverSTARTTLS(t *testing.T) {
	mp := notifytest.StartMailpit(t, true)
	r := newRig(t, "", func(c *notify.Config) {
		c.Senders[polybot.ChannelEmail] = notify.NewEmail(notify.SMTPConfig{Addr: mp.SMTPAddr, From: "PolyBot <bot@polybot.test>", TLS: mp.TLSConfig()}, nil)
	})
	r.addUser("trader@example.com")
	dest, _, err := r.d.CreateDestination(r.ctx, r.user, &polybot.NotifyDestinationInput{Channel: polybot.ChannelEmail, Name: "Me", Email: "trader@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// Unverified, it gets nothing.
	r.fill("before", polybot.Buy, "0.40", "0.17")
	if len(r.deliveries()) != 0 {
		t.Fatalf("an unverified destination got deliveries: %v", r.deliveries())
	}
	if _, err := r.d.SendTest(r.ctx, r.user, dest.ID); err != nil {
		t.Fatal(err)
	}
	msgs := mp.Messages(t)
	if len(msgs) != 1 || msgs[0].To[0].Address != "trader@example.com" || msgs[0].From.Address != "bot@polybot.test" {
		t.Fatalf("after the test send Mailpit holds %+v, want one confirmation to trader@example.com from bot@polybot.test", msgs)
	}
	c := code(t, msgs[0].Text)
	if !strings.Contains(msgs[0].Text, "http://polybot.test/notifications/confirm?code="+c+"&d="+dest.ID) ||
		!strings.Contains(msgs[0].HTML, `href="http://polybot.test/notifications/confirm?code=`+c+`&amp;d=`+dest.ID+`"`) {
		t.Errorf("the confirmation lacks its link in text or HTML:\n%s\n%s", msgs[0].Text, msgs[0].HTML)
	}
	if _, err := r.d.Verify(r.ctx, r.user, dest.ID, "AAAAAAAA"); polybot.ErrorFields(err)["code"] == "" {
		t.Errorf("a wrong code: %v, want an error naming code", err)
	}
	if _, err := r.d.Verify(r.ctx, r.user, dest.ID, strings.ToLower(c)); err != nil {
		t.Fatal(err)
	}

	// A buy of 10 at 0.40 (fee 0.17), an hour later a sale of 10 at 0.50
	// (fee 0.18): realised (0.50 − 0.417) × 10 − 0.18 = 0.65.
	r.clock.Advance(time.Hour)
	r.fill("buy-1", polybot.Buy, "0.40", "0.17")
	r.clock.Advance(time.Hour)
	r.fill("sell-1", polybot.Sell, "0.50", "0.18")
	if n := r.drain(); n != 2 {
		t.Fatalf("drained %d, want the two trades", n)
	}
	msgs = mp.Messages(t)
	subjects := map[string]notifytest.Mail{}
	for _, m := range msgs {
		subjects[m.Subject] = m
	}
	buy, ok := subjects["PolyBot: Trade: BUY 10.00 KX-1 YES at 0.40 (dry_run)"]
	if !ok || !strings.Contains(buy.Text, "Buy 10.00 contracts of KX-1 (YES) on kalshi at 0.40; fee $0.17") ||
		!strings.Contains(buy.HTML, "<h2") || !strings.HasPrefix(buy.MessageID, "ntf_") {
		t.Errorf("the buy's email: %+v (all: %v)", buy, keys(subjects))
	}
	if _, ok := subjects["PolyBot: Trade: SELL 10.00 KX-1 YES at 0.50 (dry_run)"]; !ok {
		t.Errorf("no sale email among %v", keys(subjects))
	}

	// 23:59 in New York: no summary yet. 00:00:30: the 15th's.
	next := map[polybot.ID]time.Time{}
	r.clock.Set(time.Date(2030, 1, 16, 4, 59, 0, 0, time.UTC))
	if n := r.d.SummariesDue(r.ctx, next); n != 0 {
		t.Fatalf("at 23:59 New York %d summaries were queued", n)
	}
	r.clock.Set(time.Date(2030, 1, 16, 5, 0, 30, 0, time.UTC))
	if n := r.d.SummariesDue(r.ctx, next); n != 1 {
		t.Fatalf("at 00:00:30 New York %d summaries were queued, want 1", n)
	}
	if n := r.d.SummariesDue(r.ctx, next); n != 0 {
		t.Fatalf("a second check queued %d more", n)
	}
	if n := r.d.SummariesDue(r.ctx, map[polybot.ID]time.Time{}); n != 0 {
		t.Fatalf("a restarted scheduler queued %d more of the same day", n)
	}
	r.drain()
	var summary *notifytest.Mail
	for _, m := range mp.Messages(t) {
		if m.Subject == "PolyBot: Daily summary for 2030-01-15" {
			summary = &m
		}
	}
	if summary == nil {
		t.Fatal("no daily summary email")
	}
	// Worked by hand: P&L 0.65 (flat again), 2 trades (the unverified
	// "before" fill was at T0, also on the 15th: 3), fees 0.17 × 2 + 0.18.
	for _, want := range []string{"Dry run: P&L $0.65", "realised $0.65", "3 trade(s)", "fees $0.52", "Live trades this month: 0 of 100."} {
		if !strings.Contains(summary.Text, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.Text)
		}
	}
	for _, d := range r.deliveries() {
		if d.State != polybot.DeliveryDelivered || d.Attempts != 1 {
			t.Errorf("delivery %s: %s after %d attempts (%s)", d.Event, d.State, d.Attempts, d.LastError)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTelegramSendsACodeBeforeItIsOnAndNeverShowsTheToken(t *testing.T) {
	token := "123456:" + strings.Repeat("AbC-dEf_", 4)
	sim := notifytest.NewTelegramSim(t, token)
	r := newRig(t, "", func(c *notify.Config) {
		c.Senders[polybot.ChannelTelegram] = notify.NewTelegram(notify.HTTPConfig{AllowPrivate: true, TelegramBase: sim.URL})
	})
	r.addUser("tg@example.com")
	bad, _, err := r.d.CreateDestination(r.ctx, r.user, &polybot.NotifyDestinationInput{Channel: polybot.ChannelTelegram, Name: "wrong bot",
		ChatID: "42", BotToken: "999:" + strings.Repeat("x", 30)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.d.SendTest(r.ctx, r.user, bad.ID)
	if err == nil || !strings.Contains(err.Error(), "Telegram: Unauthorized") || strings.Contains(err.Error(), "xxxxxxxx") {
		t.Errorf("test to an unknown bot: %v, want Telegram's Unauthorized without the token", err)
	}
	dest, _, err := r.d.CreateDestination(r.ctx, r.user, &polybot.NotifyDestinationInput{Channel: polybot.ChannelTelegram, Name: "phone",
		ChatID: "-100200300", BotToken: token, Events: []string{polybot.NotifyTrade}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.SendTest(r.ctx, r.user, dest.ID); err != nil {
		t.Fatal(err)
	}
	msgs := sim.Messages()
	if len(msgs) != 1 || msgs[0].ChatID != "-100200300" {
		t.Fatalf("Telegram got %+v", msgs)
	}
	if _, err := r.d.Verify(r.ctx, r.user, dest.ID, code(t, msgs[0].Text)); err != nil {
		t.Fatal(err)
	}
	r.alert("not-a-trade") // the destination takes trades only
	r.fill("t1", polybot.Buy, "0.40", "0.17")
	r.drain()
	msgs = sim.Messages()
	if len(msgs) != 2 || !strings.HasPrefix(msgs[1].Text, "Trade: BUY 10.00 KX-1 YES at 0.40 (dry_run)\n\nBuy 10.00 contracts") {
		t.Fatalf("Telegram got %+v, want the confirmation and the trade", msgs)
	}
	for _, d := range r.deliveries() {
		if strings.Contains(d.LastError, token) {
			t.Errorf("a delivery's error shows the token: %s", d.LastError)
		}
	}
}

func TestDiscordIsVerifiedByItsTestAndHonoursRateLimits(t *testing.T) {
	sim := notifytest.NewDiscordSim(t)
	r := newRig(t, "", func(c *notify.Config) {
		c.Senders[polybot.ChannelDiscord] = notify.NewDiscord(notify.HTTPConfig{AllowPrivate: true})
	})
	r.addUser("discord@example.com")
	dest, _, err := r.d.CreateDestination(r.ctx, r.user, &polybot.NotifyDestinationInput{Channel: polybot.ChannelDiscord, Name: "server", URL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if dest.Target != sim.Server.URL || strings.Contains(dest.Target, "tok-") {
		t.Errorf("target %q shows more than the scheme and host", dest.Target)
	}
	got, err := r.d.SendTest(r.ctx, r.user, dest.ID)
	if err != nil || !got.Verified() {
		t.Fatalf("SendTest = %+v, %v; want verified", got, err)
	}
	r.alert("a1")
	sim.Fail(notifytest.Fault{Status: http.StatusTooManyRequests, Times: 1})
	r.drain()
	ds := r.deliveries()
	if len(ds) != 1 || ds[0].State != polybot.DeliveryPending || ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "HTTP 429") {
		t.Fatalf("after a 429: %+v", ds[0])
	}
	r.clock.Advance(2 * time.Minute)
	r.drain()
	msgs := sim.Messages()
	if len(msgs) != 2 || msgs[1].Title != "Halted a1" || msgs[1].Footer != ds[0].Key {
		t.Fatalf("Discord got %+v", msgs)
	}
}

func TestWebhooksAreSignedAndRotatingTheSecretSignsWithTheNewOne(t *testing.T) {
	rcv := notifytest.NewReceiver(t)
	r := newRig(t, "", func(c *notify.Config) {
		c.Senders[polybot.ChannelWebhook] = notify.NewWebhook(notify.HTTPConfig{AllowPrivate: true}, nil)
	})
	r.addUser("hook@example.com")
	dest, secret := r.webhook(rcv.URL)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	if _, err := r.d.SendTest(r.ctx, r.user, dest.ID); err == nil {
		t.Fatal("a test the receiver refused (it does not know the secret yet) verified the destination")
	}
	rcv.SetSecret(secret)
	if got, err := r.d.SendTest(r.ctx, r.user, dest.ID); err != nil || !got.Verified() {
		t.Fatalf("SendTest = %v", err)
	}
	r.tenant(func(tx polybot.TenantTx) error { // list webhooks among the channels for trades
		c, err := tx.Config()
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(c.NotificationChannels, ","), "webhook") {
			t.Errorf("verifying did not list the webhook channel: %v", c.NotificationChannels)
		}
		return nil
	})
	r.fill("t1", polybot.Buy, "0.40", "0.17")
	r.drain()
	ds := r.deliveries()
	var body struct {
		IdempotencyKey string `json:"idempotency_key"`
		Data           struct{ Price, Fee string }
	}
	if err := json.Unmarshal(rcv.Body(ds[0].Key), &body); err != nil || body.Data.Price != "0.40" || body.Data.Fee != "0.17" || body.IdempotencyKey != ds[0].Key {
		t.Fatalf("the trade's body: %s (%v)", rcv.Body(ds[0].Key), err)
	}
	newSecret, err := r.d.RotateSecret(r.ctx, r.user, dest.ID)
	if err != nil || newSecret == secret {
		t.Fatalf("RotateSecret = %q, %v", newSecret, err)
	}
	r.alert("after-rotation")
	r.drain()
	if _, _, bad := rcv.Stats(); len(bad) != 2 {
		t.Errorf("refused %v; want the first test and the one signed with the new secret", bad)
	}
	var dead *polybot.NotifyDelivery
	for _, d := range r.deliveries() {
		if d.State == polybot.DeliveryDead {
			dead = d
		}
	}
	if dead == nil || dead.Event != polybot.NotifyBotHalted || dead.LastError != "refused (not retried): HTTP 401 bad signature" {
		t.Fatalf("the delivery the receiver refused: %+v", dead)
	}
	// The integrator installs the new secret and asks for it again.
	rcv.SetSecret(newSecret)
	if _, err := r.d.Redeliver(r.ctx, r.user, dead.ID); err != nil {
		t.Fatal(err)
	}
	r.drain()
	_, byKey, _ := rcv.Stats()
	if byKey[dead.Key] != 1 {
		t.Errorf("the redelivered key arrived %d times", byKey[dead.Key])
	}
	if len(byKey) != 3 { // the verified test, the trade, the alert
		t.Errorf("accepted %v", byKey)
	}
	if _, err := r.d.RotateSecret(r.ctx, r.user, "dst_nope"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Errorf("rotating an unknown destination: %v", err)
	}
}
