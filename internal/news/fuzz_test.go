package news

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// FuzzParseFeed: any document is headlines or an error naming the feed,
// never a panic, and every headline is one the stores can hold.
func FuzzParseFeed(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div><b>x</b></div></title><link href="../a"/></entry></feed>`))
	feed := &polybot.NewsFeed{ID: "fuzz", Name: "Fuzz", URL: "https://news.example.com/feed/rss"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		hs, err := ParseFeed(feed, bytes.NewReader(doc), time.Unix(1763728200, 0))
		if err != nil {
			if code := polybot.ErrorCode(err); code != polybot.EINVALID && code != polybot.ETOOLARGE {
				t.Fatalf("error code %q: %v", code, err)
			}
			return
		}
		if len(hs) > MaxFeedItems {
			t.Fatalf("%d headlines", len(hs))
		}
		for _, h := range hs {
			if err := h.Validate(); err != nil {
				t.Fatalf("headline %+v: %v", h, err)
			}
		}
	})
}

// FuzzParseWebhook: any body is headlines or an EINVALID/ETOOLARGE error,
// and every headline is valid.
func FuzzParseWebhook(f *testing.F) {
	for _, s := range []string{
		`{"title":"Governor backs a cut","link":"https://news.example.com/g","published":"2025-11-21T12:30:00Z"}`,
		`{"headlines":[{"title":"a"},{"title":"b","link":"http://x.example.com/"}]}`,
		`{"title":"x","headlines":[]}`, `[]`, `null`, `{"title":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hs, err := ParseWebhook(body, "hook", "Hook", time.Unix(1763728200, 0))
		if err != nil {
			if code := polybot.ErrorCode(err); code != polybot.EINVALID && code != polybot.ETOOLARGE {
				t.Fatalf("error code %q: %v", code, err)
			}
			return
		}
		if len(hs) == 0 || len(hs) > MaxWebhookHeadlines {
			t.Fatalf("%d headlines without an error", len(hs))
		}
		for _, h := range hs {
			if err := h.Validate(); err != nil {
				t.Fatalf("headline %+v: %v", h, err)
			}
		}
	})
}
