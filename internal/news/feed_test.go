package news

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// item is what a test expects of one parsed headline.
type wantItem struct {
	title, link string
	published   time.Time
}

func TestParseFeedReadsRSSAtomAndRDFIntoHeadlines(t *testing.T) {
	received := utc("2025-11-21T13:00:00Z")
	for _, tc := range []struct {
		file, url string
		want      []wantItem
	}{
		{"rss2.xml", "https://news.example.com/markets/rss", []wantItem{
			{`Central bank governor says room for a rate cut "in the near term"`, "https://news.example.com/markets/governor-rate-cut-near-term?utm_source=rss", utc("2025-11-21T12:31:04Z")},
			{"Treasury yields slide after jobs report; S&P 500 < record", "https://news.example.com/markets/yields-slide", utc("2025-11-21T12:05:00Z")},
			// guid as the link; EST is five hours behind UTC.
			{"Oil steadies as traders weigh supply data", "https://news.example.com/energy/oil-steadies", utc("2025-11-20T14:15:00Z")},
			// a relative link resolved against the feed; dc:date when no pubDate.
			{"Regional lender reports quarterly results", "https://news.example.com/banks/regional-lender-results", utc("2025-11-21T02:00:00Z")},
			// no title: skipped; a javascript: link dropped, an unreadable date zero.
			{"Commodity desk: weekly wrap", "", time.Time{}},
		}},
		{"atom.xml", "https://ledger.example.org/economy.atom", []wantItem{
			// rel=alternate text/html, not rel=self; published before updated.
			{"Policy maker backs December cut as labour market cools", "https://ledger.example.org/economy/policy-maker-backs-december-cut", utc("2025-11-21T12:32:10Z")},
			// type="html" title; a link without rel is the alternate; updated when no published.
			{"Futures price higher odds of easing & a softer dollar", "https://ledger.example.org/economy/futures-easing-odds", utc("2025-11-21T11:45:00Z")},
			{"Housing starts beat forecasts", "https://ledger.example.org/economy/housing-starts", utc("2025-11-20T15:00:00.25Z")},
		}},
		{"rdf.xml", "https://bulletin.example.net/rss", []wantItem{
			{"Statistics office revises third-quarter growth", "https://bulletin.example.net/2025/11/21/statement", utc("2025-11-21T10:00:00Z")},
		}},
		{"latin1.xml", "https://fr.example.com/rss", []wantItem{
			{"Banque centrale : décision “prévue” jeudi", "https://fr.example.com/banque", utc("2025-11-20T07:00:00Z")},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			feed := &polybot.NewsFeed{ID: "wire", Name: "Example Wire", URL: tc.url}
			hs, err := ParseFeed(feed, bytes.NewReader(body), received)
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) != len(tc.want) {
				t.Fatalf("got %d headlines, want %d: %+v", len(hs), len(tc.want), hs)
			}
			for i, w := range tc.want {
				h := hs[i]
				if h.Title != w.title || h.Link != w.link || !h.Published.Equal(w.published) {
					t.Errorf("headline %d = %q %q %v, want %q %q %v", i, h.Title, h.Link, h.Published, w.title, w.link, w.published)
				}
				if h.Source != "wire" || h.SourceName != "Example Wire" || !h.Received.Equal(received) {
					t.Errorf("headline %d source %q %q received %v", i, h.Source, h.SourceName, h.Received)
				}
				if tk, _ := h.Keys(); h.ID != "h-"+tk {
					t.Errorf("headline %d ID %q, want h-%s", i, h.ID, tk)
				}
				if err := h.Validate(); err != nil {
					t.Errorf("headline %d invalid: %v", i, err)
				}
			}
		})
	}
}

func TestParseFeedRefusesWhatIsNotAFeedNamingTheFeed(t *testing.T) {
	big := "<rss><channel>" + strings.Repeat("<!-- padding -->", MaxFeedBody/16+1) + "</channel></rss>"
	for _, tc := range []struct {
		name, body, code, msg string
	}{
		{"malformed", readTestdata(t, "malformed.xml"), polybot.EINVALID, "not well-formed XML at line 8"},
		{"html page", readTestdata(t, "page.html"), polybot.EINVALID, "not an RSS or Atom feed (the document is <html>)"},
		{"unknown charset", readTestdata(t, "koi8.xml"), polybot.EINVALID, `unsupported character encoding "KOI8-R"`},
		{"empty", "", polybot.EINVALID, "empty document"},
		{"truncated", `<rss version="2.0"><channel><item><title>Cut`, polybot.EINVALID, "not well-formed XML"},
		{"over 5 MiB", big, polybot.ETOOLARGE, "larger than 5 MiB"},
		{"undefined entity", `<rss><channel><item><title>a &bogus; b</title></item></channel></rss>`, polybot.EINVALID, "not well-formed XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feed := &polybot.NewsFeed{ID: "wire-7", Name: "Example Wire", URL: "https://news.example.com/rss"}
			hs, err := ParseFeed(feed, strings.NewReader(tc.body), time.Now())
			if err == nil {
				t.Fatalf("parsed %d headlines, want an error", len(hs))
			}
			if polybot.ErrorCode(err) != tc.code {
				t.Errorf("code %q, want %q (%v)", polybot.ErrorCode(err), tc.code, err)
			}
			msg := polybot.ErrorMessage(err)
			if !strings.Contains(msg, "feed wire-7 (Example Wire)") || !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want the feed named and %q", msg, tc.msg)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseFeedReadsAtMostMaxFeedItemsAndExactlyMaxFeedBody(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel>`)
	for i := range MaxFeedItems + 100 {
		fmt.Fprintf(&b, "<item><title>Headline number %d</title><link>https://news.example.com/%d</link></item>", i, i)
	}
	b.WriteString("</channel></rss>")
	feed := &polybot.NewsFeed{ID: "wire", Name: "Wire", URL: "https://news.example.com/rss"}
	hs, err := ParseFeed(feed, strings.NewReader(b.String()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != MaxFeedItems || hs[0].Title != "Headline number 0" || hs[MaxFeedItems-1].Title != fmt.Sprintf("Headline number %d", MaxFeedItems-1) {
		t.Fatalf("got %d headlines (first %q), want the first %d", len(hs), hs[0].Title, MaxFeedItems)
	}

	doc := `<rss><channel><item><title>Exactly at the limit</title></item>`
	end := "</channel></rss>"
	exact := doc + strings.Repeat(" ", MaxFeedBody-len(doc)-len(end)) + end
	if hs, err := ParseFeed(feed, strings.NewReader(exact), time.Now()); err != nil || len(hs) != 1 {
		t.Fatalf("a document of exactly %d bytes: %d headlines, %v", MaxFeedBody, len(hs), err)
	}
}

func TestParseFeedCutsLongTitles(t *testing.T) {
	long := strings.Repeat("é", polybot.MaxHeadlineTitle+50)
	doc := `<rss><channel><item><title>` + long + `</title></item></channel></rss>`
	hs, err := ParseFeed(&polybot.NewsFeed{ID: "w", Name: "W", URL: "https://x.example.com/"}, strings.NewReader(doc), time.Now())
	if err != nil || len(hs) != 1 {
		t.Fatalf("%d headlines, %v", len(hs), err)
	}
	if got := []rune(hs[0].Title); len(got) != polybot.MaxHeadlineTitle {
		t.Fatalf("title of %d characters, want %d", len(got), polybot.MaxHeadlineTitle)
	}
}

func TestParseDateReadsTheFormsFeedsUse(t *testing.T) {
	want := utc("2025-11-21T12:31:04Z")
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"Fri, 21 Nov 2025 12:31:04 +0000", want},                       // RFC 1123Z
		{"Fri, 21 Nov 2025 12:31:04 GMT", want},                         // RFC 1123
		{"Fri, 21 Nov 2025 07:31:04 EST", want},                         // named US zone
		{"Fri, 21 Nov 2025 04:31:04 PST", want},                         //
		{"Friday, 21 Nov 2025 12:31:04 UT", want},                       // long weekday, UT
		{"21 Nov 2025 12:31:04 +0000", want},                            // no weekday
		{"Fri, 21 Nov 25 12:31:04 +0000", want},                         // two-digit year (RFC 822)
		{"Fri, 21 Nov 2025 13:31:04 +0100", want},                       //
		{"Fri, 21 Nov 2025 13:31:04 +01:00", want},                      // colon in the offset
		{"Fri,  21  Nov 2025 12:31:04  +0000 (UTC)", want},              // comment zone, extra spaces
		{"Fri, 21 November 2025 12:31:04 +0000", want},                  // full month
		{"Fri, 21 Nov 2025 12:31:04", want},                             // no zone: UTC
		{"Fri, 21 Nov 2025 12:31 +0000", want.Add(-4 * time.Second)},    // no seconds
		{"Mon, 3 Nov 2025 09:00:00 +0000", utc("2025-11-03T09:00:00Z")}, // one-digit day
		{"2025-11-21T12:31:04Z", want},                                  // RFC 3339
		{"2025-11-21T07:31:04-05:00", want},                             //
		{"2025-11-21T12:31:04.5Z", want.Add(500 * time.Millisecond)},    //
		{"2025-11-21T12:31:04+0000", want},                              // ISO 8601 basic offset
		{"2025-11-21 12:31:04Z", want},                                  //
		{"2025-11-21T12:31:04", want},                                   // no zone: UTC
		{"2025-11-21", utc("2025-11-21T00:00:00Z")},                     //
		{"", time.Time{}},                                               //
		{"yesterday", time.Time{}},                                      //
		{"Fri, 32 Nov 2025 12:31:04 +0000", time.Time{}},                // no such day
	} {
		if got := ParseDate(tc.in); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %v, want %v in UTC", tc.in, got, tc.want)
		}
	}
}
