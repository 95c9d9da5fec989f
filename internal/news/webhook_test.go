package news

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestSignWebhookIsHMACSHA256OfTimestampDotBody(t *testing.T) {
	// Worked outside this code: echo -n '1763728200.{"title":"x"}' |
	// openssl dgst -sha256 -hmac whsec_test
	const want = "af52fa1993a95fab24f0290d576d61864912107f1ec9162408bcc4d460868537"
	if got := SignWebhook([]byte("whsec_test"), "1763728200", []byte(`{"title":"x"}`)); got != want {
		t.Fatalf("SignWebhook = %s, want %s", got, want)
	}
}

func TestVerifyWebhookAcceptsGoodAndRefusesBadStaleFutureAndReplayed(t *testing.T) {
	secret := []byte("whsec_3f9a1c")
	now := time.Date(2025, 11, 21, 12, 31, 0, 0, time.UTC)
	body := []byte(`{"title":"Governor backs a near-term cut","link":"https://news.example.com/g"}`)
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	sign := func(ts string, body []byte) string { return SignWebhook(secret, ts, body) }

	for _, tc := range []struct {
		name      string
		timestamp string
		signature string
		body      []byte
		code      string
	}{
		{"good", ts(0), sign(ts(0), body), body, ""},
		{"good with sha256= prefix", ts(-time.Second), "sha256=" + sign(ts(-time.Second), body), body, ""},
		{"good, upper-case hex", ts(-2 * time.Second), strings.ToUpper(sign(ts(-2*time.Second), body)), body, ""},
		{"good at the edge of the window", ts(-WebhookTolerance), sign(ts(-WebhookTolerance), body), body, ""},
		{"good a little in the future", ts(WebhookTolerance), sign(ts(WebhookTolerance), body), body, ""},
		{"wrong secret", ts(-3 * time.Second), SignWebhook([]byte("whsec_other"), ts(-3*time.Second), body), body, polybot.EUNAUTHORIZED},
		{"body changed", ts(-4 * time.Second), sign(ts(-4*time.Second), body), []byte(`{"title":"Governor rules out a cut"}`), polybot.EUNAUTHORIZED},
		{"timestamp changed", ts(-5 * time.Second), sign(ts(-6*time.Second), body), body, polybot.EUNAUTHORIZED},
		{"stale", ts(-WebhookTolerance - time.Second), sign(ts(-WebhookTolerance-time.Second), body), body, polybot.EUNAUTHORIZED},
		{"future", ts(WebhookTolerance + time.Second), sign(ts(WebhookTolerance+time.Second), body), body, polybot.EUNAUTHORIZED},
		{"no signature", ts(0), "", body, polybot.EUNAUTHORIZED},
		{"not hex", ts(0), strings.Repeat("z", 64), body, polybot.EUNAUTHORIZED},
		{"short", ts(0), sign(ts(0), body)[:40], body, polybot.EUNAUTHORIZED},
		{"no timestamp", "", sign("", body), body, polybot.EUNAUTHORIZED},
		{"timestamp not seconds", now.Format(time.RFC3339), sign(now.Format(time.RFC3339), body), body, polybot.EUNAUTHORIZED},
		{"signed timestamp", "+" + ts(0), sign("+"+ts(0), body), body, polybot.EUNAUTHORIZED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(secret, tc.timestamp, tc.signature, tc.body, now, NewMemoryReplayCache(0))
			if polybot.ErrorCode(err) != tc.code {
				t.Fatalf("code %q, want %q (%v)", polybot.ErrorCode(err), tc.code, err)
			}
		})
	}

	t.Run("replayed", func(t *testing.T) {
		seen := NewMemoryReplayCache(0)
		ts0, sig := ts(-10*time.Second), sign(ts(-10*time.Second), body)
		if err := VerifyWebhook(secret, ts0, sig, body, now, seen); err != nil {
			t.Fatal(err)
		}
		err := VerifyWebhook(secret, ts0, "sha256="+sig, body, now.Add(time.Minute), seen)
		if polybot.ErrorCode(err) != polybot.ECONFLICT {
			t.Fatalf("replay: %v, want ECONFLICT", err)
		}
		// The same body at a new timestamp is a new delivery.
		if err := VerifyWebhook(secret, ts(0), sign(ts(0), body), body, now.Add(time.Minute), seen); err != nil {
			t.Fatalf("a new delivery of the same body: %v", err)
		}
		// Once the window has passed the replay is stale, not accepted.
		err = VerifyWebhook(secret, ts0, sig, body, now.Add(WebhookTolerance), seen)
		if polybot.ErrorCode(err) != polybot.EUNAUTHORIZED {
			t.Fatalf("a replay after the window: %v, want EUNAUTHORIZED", err)
		}
	})

	t.Run("a bad signature does not touch the cache", func(t *testing.T) {
		seen := NewMemoryReplayCache(0)
		_ = VerifyWebhook(secret, ts(0), strings.Repeat("0", 64), body, now, seen)
		if seen.Len() != 0 {
			t.Fatalf("cache holds %d keys after a forged delivery", seen.Len())
		}
	})

	t.Run("no secret or no cache never verifies", func(t *testing.T) {
		if err := VerifyWebhook(nil, ts(0), SignWebhook(nil, ts(0), body), body, now, NewMemoryReplayCache(0)); polybot.ErrorCode(err) != polybot.EINTERNAL {
			t.Fatalf("empty secret: %v", err)
		}
		if err := VerifyWebhook(secret, ts(0), sign(ts(0), body), body, now, nil); polybot.ErrorCode(err) != polybot.EINTERNAL {
			t.Fatalf("nil cache: %v", err)
		}
	})
}

func TestMemoryReplayCacheRefusesWhenFullUntilKeysExpire(t *testing.T) {
	now := time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)
	c := NewMemoryReplayCache(2)
	if err := c.Add("a", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("b", now, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("c", now, now.Add(time.Minute)); polybot.ErrorCode(err) != polybot.ERATELIMIT {
		t.Fatalf("full cache: %v, want ERATELIMIT", err)
	}
	if err := c.Add("a", now.Add(30*time.Second), now.Add(time.Minute)); polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("a again: %v, want ECONFLICT", err)
	}
	// a expires: there is room for c, and a may be added again.
	later := now.Add(time.Minute)
	if err := c.Add("c", later, later.Add(time.Minute)); err != nil {
		t.Fatalf("c after a expired: %v", err)
	}
	if c.Len() != 2 {
		t.Fatalf("holds %d keys, want b and c", c.Len())
	}
	if err := c.Add("b", later, later.Add(time.Minute)); polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("b before it expires: %v, want ECONFLICT", err)
	}
}

func TestParseWebhookReadsOneOrAListAndNamesBadFields(t *testing.T) {
	received := time.Date(2025, 11, 21, 12, 31, 5, 0, time.UTC)
	many := `{"headlines":[` + strings.TrimSuffix(strings.Repeat(`{"title":"t"},`, MaxWebhookHeadlines+1), ",") + `]}`
	for _, tc := range []struct {
		name   string
		body   string
		titles []string
		code   string
		field  string
	}{
		{"one", `{"title":"Governor backs a near-term cut","link":"https://news.example.com/g","published":"2025-11-21T12:30:00Z"}`, []string{"Governor backs a near-term cut"}, "", ""},
		{"a list", `{"headlines":[{"title":"First"},{"title":" Second\n story ","link":"http://news.example.com/2"}]}`, []string{"First", "Second story"}, "", ""},
		{"unknown fields ignored", `{"title":"Extra","summary":"more","id":7}`, []string{"Extra"}, "", ""},
		{"both", `{"title":"x","headlines":[{"title":"y"}]}`, nil, polybot.EINVALID, "headlines"},
		{"neither", `{"link":"https://news.example.com/"}`, nil, polybot.EINVALID, "title"},
		{"empty list", `{"headlines":[]}`, nil, polybot.EINVALID, "headlines"},
		{"too many", many, nil, polybot.EINVALID, "headlines"},
		{"blank title", `{"title":"   "}`, nil, polybot.EINVALID, "title"},
		{"title missing in a list", `{"headlines":[{"title":"ok"},{"link":"https://news.example.com/x"}]}`, nil, polybot.EINVALID, "headlines[1].title"},
		{"bad link", `{"headlines":[{"title":"ok","link":"ftp://news.example.com/x"}]}`, nil, polybot.EINVALID, "headlines[0].link"},
		{"bad time", `{"title":"ok","published":"21 Nov 2025"}`, nil, polybot.EINVALID, "published"},
		{"NUL in the title", `{"title":"a\u0000b"}`, nil, polybot.EINVALID, "title"},
		{"title too long", `{"title":"` + strings.Repeat("x", polybot.MaxHeadlineTitle+1) + `"}`, nil, polybot.EINVALID, "title"},
		{"not JSON", `title=x`, nil, polybot.EINVALID, "body"},
		{"wrong type", `{"title":7}`, nil, polybot.EINVALID, "body"},
		{"two objects", `{"title":"a"}{"title":"b"}`, nil, polybot.EINVALID, "body"},
		{"over the limit", `{"title":"` + strings.Repeat("x", MaxWebhookBody) + `"}`, nil, polybot.ETOOLARGE, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ParseWebhook([]byte(tc.body), "hook-1", "My wire", received)
			if polybot.ErrorCode(err) != tc.code {
				t.Fatalf("code %q, want %q (%v)", polybot.ErrorCode(err), tc.code, err)
			}
			if tc.field != "" {
				if _, ok := polybot.ErrorFields(err)[tc.field]; !ok {
					t.Fatalf("fields %v, want %q named", polybot.ErrorFields(err), tc.field)
				}
			}
			if len(hs) != len(tc.titles) {
				t.Fatalf("%d headlines, want %d", len(hs), len(tc.titles))
			}
			for i, h := range hs {
				if h.Title != tc.titles[i] || h.Source != "hook-1" || h.SourceName != "My wire" || !h.Received.Equal(received) || h.ID == "" {
					t.Errorf("headline %d: %+v", i, h)
				}
			}
		})
	}
	hs, _ := ParseWebhook([]byte(`{"title":"t","published":"2025-11-21T07:30:00-05:00"}`), "h", "n", received)
	if want := time.Date(2025, 11, 21, 12, 30, 0, 0, time.UTC); !hs[0].Published.Equal(want) || hs[0].Published.Location() != time.UTC {
		t.Fatalf("published %v, want %v in UTC", hs[0].Published, want)
	}
}
