package news

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// fakeClock is a replay.Clock the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Set moves the clock to t and wakes every waiter due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

var wallStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newClock() *fakeClock { return &fakeClock{now: wallStart} }

// fedSpan is the Fed recording's first and last row time, read from the
// CSV's first column directly.
func fedSpan(t *testing.T) (first, last time.Time) {
	t.Helper()
	evs, _, err := replay.ReadCrossVenue(strings.NewReader(string(replay.FedDec2025HoldCSV)), replay.FedDec2025Hold)
	if err != nil {
		t.Fatal(err)
	}
	return evs[0].Time, evs[len(evs)-1].Time
}

func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	u, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

// feed is the RSS as a reader decodes it, independently of the server's
// types.
type feed struct {
	Version string `xml:"version,attr"`
	Items   []struct {
		Title    string `xml:"title"`
		Link     string `xml:"link"`
		GUID     string `xml:"guid"`
		PubDate  string `xml:"pubDate"`
		Source   string `xml:"source"`
		Recorded string `xml:"urn:polybot:sim-news recorded"`
	} `xml:"channel>item"`
}

func get(t *testing.T, u string, hdr map[string]string) (*http.Response, feed) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var f feed
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/rss+xml") {
			t.Fatalf("content type %q", ct)
		}
		if err := xml.Unmarshal(body, &f); err != nil || f.Version != "2.0" {
			t.Fatalf("not RSS 2.0 (%v): %s", err, body)
		}
	}
	return resp, f
}

// At --speed 36000 the real Fed headlines appear when the market replay
// reaches their time: start + (T − first row) / 36000. The offsets are
// worked by hand from the row and headline times (e.g. Williams, MNI,
// 2025-11-21T12:37:39Z − 2025-11-16T06:01:20.028Z = 455,778.972 s, / 36000
// = 12.660527 s), the cycle from the last row (2025-12-07T04:30:42.763Z:
// 1,808,962.735 s, / 36000 = 50.248964861 s).
func TestFedHeadlinesAppearWhenTheMarketReplayReachesTheirTime(t *testing.T) {
	hs, err := replay.FedNov2025Headlines()
	if err != nil {
		t.Fatal(err)
	}
	first, last := fedSpan(t)
	clk := newClock()
	_, u := start(t, Config{Headlines: hs, Anchor: first, End: last, Speed: 36000, Loop: true, Clock: clk})
	const cycle = 50248964861 * time.Nanosecond
	tests := []struct {
		after  time.Duration
		n      int
		newest string
	}{
		{0, 0, ""},
		{3936110332 * time.Nanosecond, 0, ""},
		{3936110333 * time.Nanosecond, 1, "Fed's Waller: Firms have begun speaking more about plans for layoffs"},
		{12660526999 * time.Nanosecond, 6, "September US Nonfarm Payrolls Rise More Than Expected After Downward Revisions, Unemployment Rate Up"},
		{12660527000 * time.Nanosecond, 7, "MNI BRIEF: Fed's Williams: Room For A Further Adjustment"},
		{12772777000 * time.Nanosecond, 8, "Traders' bets shift towards a Fed rate cut in December"},
		{13534443666 * time.Nanosecond, 12, "US Equity Markets Close Higher After Comments on Rate Cut by New York Fed President John Williams"},
		{cycle - 1, 12, "US Equity Markets Close Higher After Comments on Rate Cut by New York Fed President John Williams"},
		{cycle + 3936110333*time.Nanosecond, 13, "Fed's Waller: Firms have begun speaking more about plans for layoffs (replay cycle 1)"},
	}
	for _, tc := range tests {
		clk.Set(wallStart.Add(tc.after))
		resp, f := get(t, u, nil)
		if resp.StatusCode != http.StatusOK || len(f.Items) != tc.n {
			t.Fatalf("+%s: %s, %d items, want %d", tc.after, resp.Status, len(f.Items), tc.n)
		}
		if tc.n == 0 {
			continue
		}
		it := f.Items[0]
		if it.Title != tc.newest {
			t.Errorf("+%s: newest %q, want %q", tc.after, it.Title, tc.newest)
		}
		pub, err := time.Parse(time.RFC1123Z, it.PubDate)
		rec, err2 := time.Parse(time.RFC3339, it.Recorded)
		if err != nil || err2 != nil || pub.After(clk.Now()) || it.GUID == "" || it.Source == "" {
			t.Errorf("+%s: item %+v (%v %v)", tc.after, it, err, err2)
		}
		if rec.Before(first) || rec.After(last) {
			t.Errorf("+%s: recorded %s outside the recording", tc.after, rec)
		}
	}
}

// A poll that echoes the validators gets 304 until an item appears, then
// 200 with the new item; an item appearing in the same second as the
// previous one is never hidden by If-Modified-Since's whole seconds.
func TestPollGets304UntilAHeadlineAppears(t *testing.T) {
	rec := time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)
	hs := []polybot.Headline{
		{Title: "one", Link: "https://example.com/1", SourceName: "S", Published: rec.Add(1200 * time.Millisecond)},
		{Title: "two", Link: "https://example.com/2", SourceName: "S", Published: rec.Add(1700 * time.Millisecond)},
		{Title: "three", Link: "https://example.com/3", SourceName: "S", Published: rec.Add(5 * time.Second)},
	}
	clk := newClock()
	_, u := start(t, Config{Headlines: hs, Anchor: rec, Speed: 1, Clock: clk})

	steps := []struct {
		at        time.Duration // after start
		useETag   bool          // echo the last 200's ETag, else its Last-Modified
		status    int
		wantItems int
	}{
		{at: 1300 * time.Millisecond, status: 200, wantItems: 1}, // first poll: no validators
		{at: 1400 * time.Millisecond, useETag: true, status: 304},
		{at: 1400 * time.Millisecond, status: 200, wantItems: 1}, // Last-Modified was rounded down to now: one 200 too many
		{at: 1800 * time.Millisecond, status: 200, wantItems: 2}, // "two", same second as "one": not hidden
		{at: 2500 * time.Millisecond, status: 200, wantItems: 2}, // that Last-Modified was :01 again (:02 was still ahead)
		{at: 3000 * time.Millisecond, status: 304},               // now :02, past "two"
		{at: 4900 * time.Millisecond, useETag: true, status: 304},
		{at: 5000 * time.Millisecond, useETag: true, status: 200, wantItems: 3},
		{at: 6000 * time.Millisecond, status: 304},
	}
	var etag, lm string
	for i, st := range steps {
		clk.Set(wallStart.Add(st.at))
		hdr := map[string]string{}
		if i > 0 {
			if st.useETag {
				hdr["If-None-Match"] = etag
			} else {
				hdr["If-Modified-Since"] = lm
			}
		}
		resp, f := get(t, u, hdr)
		if resp.StatusCode != st.status {
			t.Fatalf("step %d (+%s, %v): %s, want %d", i, st.at, hdr, resp.Status, st.status)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
			t.Fatalf("step %d: validators missing: %v", i, resp.Header)
		}
		if st.status == http.StatusOK {
			if len(f.Items) != st.wantItems {
				t.Fatalf("step %d: %d items, want %d", i, len(f.Items), st.wantItems)
			}
			etag, lm = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		} else if resp.Header.Get("ETag") != etag {
			t.Errorf("step %d: 304 with ETag %s, want %s", i, resp.Header.Get("ETag"), etag)
		}
	}
}

func TestNotModifiedReadsTheConditionalHeaders(t *testing.T) {
	change := time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)
	tests := []struct {
		name string
		hdr  map[string]string
		want bool
	}{
		{"no headers", nil, false},
		{"matching etag", map[string]string{"If-None-Match": `"x-0-3"`}, true},
		{"weak matching etag in a list", map[string]string{"If-None-Match": `"old", W/"x-0-3"`}, true},
		{"star", map[string]string{"If-None-Match": "*"}, true},
		{"other etag, even with a fresh date", map[string]string{"If-None-Match": `"x-0-2"`, "If-Modified-Since": "Mon, 02 Mar 2026 09:00:10 GMT"}, false},
		{"date at the change", map[string]string{"If-Modified-Since": "Mon, 02 Mar 2026 09:00:10 GMT"}, true},
		{"date before the change", map[string]string{"If-Modified-Since": "Mon, 02 Mar 2026 09:00:09 GMT"}, false},
		{"unparsable date", map[string]string{"If-Modified-Since": "yesterday"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, FeedPath, nil)
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			if got := notModified(r, `"x-0-3"`, change); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// With --loop the feed starts over when the market replay does, and each
// new cycle's items are new to PolyBot's de-duplication: another guid, and
// both de-duplication keys (title and link) differ from cycle 0's.
func TestLoopRepublishesEveryHeadlineAsANewItem(t *testing.T) {
	rec := time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)
	hs := []polybot.Headline{
		{Title: "Fed's Williams: room for a cut", Link: "https://example.com/a?id=7", SourceName: "S", Published: rec.Add(10 * time.Second)},
		{Title: "Traders' bets shift", Link: "https://example.com/b", SourceName: "S", Published: rec.Add(20 * time.Second)},
	}
	clk := newClock()
	// 30 s of recording at speed 10: a 3 s cycle; items at +1 s and +2 s.
	_, u := start(t, Config{Headlines: hs, Anchor: rec, End: rec.Add(30 * time.Second), Speed: 10, Loop: true, Clock: clk})
	clk.Set(wallStart.Add(4500 * time.Millisecond)) // cycle 1, its first item only
	_, f := get(t, u, nil)
	want := []struct{ title, link, guidSuffix, pub string }{
		{"Fed's Williams: room for a cut (replay cycle 1)", "https://example.com/a?id=7&cycle=1", "/cycle-1", "Mon, 02 Mar 2026 09:00:04 +0000"},
		{"Traders' bets shift", "https://example.com/b", "/cycle-0", "Mon, 02 Mar 2026 09:00:02 +0000"},
		{"Fed's Williams: room for a cut", "https://example.com/a?id=7", "/cycle-0", "Mon, 02 Mar 2026 09:00:01 +0000"},
	}
	if len(f.Items) != len(want) {
		t.Fatalf("%d items: %+v", len(f.Items), f.Items)
	}
	for i, w := range want {
		it := f.Items[i]
		if it.Title != w.title || it.Link != w.link || !strings.HasSuffix(it.GUID, w.guidSuffix) || it.PubDate != w.pub {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
	h0 := polybot.Headline{Title: f.Items[2].Title, Link: f.Items[2].Link}
	h1 := polybot.Headline{Title: f.Items[0].Title, Link: f.Items[0].Link}
	t0, l0 := h0.Keys()
	t1, l1 := h1.Keys()
	if t0 == t1 || l0 == l1 || f.Items[0].GUID == f.Items[2].GUID {
		t.Errorf("cycle 1 is not new to de-duplication: title keys %s %s, link keys %s %s", t0, t1, l0, l1)
	}
	// Without --loop the feed ends with the recording.
	clk2 := newClock()
	_, u2 := start(t, Config{Headlines: hs, Anchor: rec, End: rec.Add(30 * time.Second), Speed: 10, Clock: clk2})
	clk2.Set(wallStart.Add(time.Hour))
	if _, f := get(t, u2, nil); len(f.Items) != 2 {
		t.Errorf("no loop: %d items after an hour, want 2", len(f.Items))
	}
}

// Speed 0 (as fast as possible) shows every headline at once.
func TestSpeedZeroShowsEverythingAtOnce(t *testing.T) {
	hs, err := replay.FedNov2025Headlines()
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	_, u := start(t, Config{Headlines: hs, Speed: 0, Loop: true, Clock: clk})
	if _, f := get(t, u, nil); len(f.Items) != len(hs) || f.Items[0].Title != hs[len(hs)-1].Title {
		t.Fatalf("%d items, newest %q", len(f.Items), f.Items[0].Title)
	}
}

// The poster sends each headline when it appears, never before, with a
// signature crypto/hmac verifies over timestamp + "." + body.
func TestWebhookPostsEachHeadlineSignedWhenItAppears(t *testing.T) {
	secret := []byte("s3cret-shared-with-the-hook")
	clk := newClock()
	type got struct {
		body WebhookBody
		raw  []byte
		ts   string
		sig  string
		at   time.Time
	}
	posts := make(chan got, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b WebhookBody
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("post %s %q: %v", r.Method, raw, err)
		}
		posts <- got{b, raw, r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), clk.Now()}
	}))
	defer hook.Close()
	rec := time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)
	hs := []polybot.Headline{
		{Title: "one", Link: "https://example.com/1", SourceName: "S", Published: rec.Add(10 * time.Second)},
		{Title: "two", Link: "https://example.com/2", SourceName: "S", Published: rec.Add(20 * time.Second)},
	}
	start(t, Config{Headlines: hs, Anchor: rec, End: rec.Add(30 * time.Second), Speed: 10, Loop: true, Clock: clk,
		Webhook: &Webhook{URL: hook.URL, Secret: secret}})

	wantTitles := []string{"one", "two", "one (replay cycle 1)"}
	wantAt := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, title := range wantTitles {
		clk.Set(wallStart.Add(wantAt[i]))
		var p got
		select {
		case p = <-posts:
		case <-time.After(10 * time.Second):
			t.Fatalf("post %d (%s) not received", i, title)
		}
		visible := wallStart.Add(wantAt[i])
		if p.body.Title != title || !p.body.Published.Equal(visible) || p.at.Before(visible) {
			t.Errorf("post %d: %+v at %s, want %q published and sent at %s", i, p.body, p.at, title, visible)
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(p.ts + "." + string(p.raw)))
		sig, err := hex.DecodeString(p.sig)
		if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
			t.Errorf("post %d: signature %q does not verify", i, p.sig)
		}
		if want := strconv.FormatInt(visible.Unix(), 10); p.ts != want {
			t.Errorf("post %d: timestamp %s, want the clock's Unix seconds %s", i, p.ts, want)
		}
		wrong := hmac.New(sha256.New, []byte("other"))
		wrong.Write([]byte(p.ts + "." + string(p.raw)))
		if hmac.Equal(sig, wrong.Sum(nil)) {
			t.Errorf("post %d: verifies under the wrong secret", i)
		}
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	rec := time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)
	one := []polybot.Headline{{Title: "one", Link: "https://example.com/1", Published: rec.Add(time.Minute)}}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no headlines", Config{Speed: 1}, "no headlines"},
		{"a headline without a title", Config{Headlines: []polybot.Headline{{Published: rec}}}, "title"},
		{"a headline without a time", Config{Headlines: []polybot.Headline{{Title: "t"}}}, "no time"},
		{"negative speed", Config{Headlines: one, Speed: -1}, "speed"},
		{"end before anchor", Config{Headlines: one, Anchor: rec, End: rec.Add(-time.Second)}, "before anchor"},
		{"loop with a headline after the end", Config{Headlines: one, Anchor: rec, End: rec.Add(time.Second), Speed: 1, Loop: true}, "after the recording's end"},
		{"loop over an instant", Config{Headlines: one, Speed: 1, Loop: true}, "longer than an instant"},
		{"webhook URL", Config{Headlines: one, Webhook: &Webhook{URL: "ftp://x", Secret: []byte("s")}}, "webhook URL"},
		{"webhook secret", Config{Headlines: one, Webhook: &Webhook{URL: "http://127.0.0.1:1/hook"}}, "secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// autoClock jumps to every deadline asked of it, so replay.Play runs at
// once while stamping each book with the wall time its pacing gives it.
type autoClock struct{ now time.Time }

func (c *autoClock) Now() time.Time { return c.now }
func (c *autoClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// In step with the market replay: replaying the Fed recording with
// replay.Play at the same speed from the same wall start, every book sent by
// the time a headline appears is one recorded by the headline's time, and
// every later book was recorded after it.
func TestHeadlinesKeepTheirPlaceAmongTheReplayedBooks(t *testing.T) {
	hs, err := replay.FedNov2025Headlines()
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := replay.ReadCrossVenue(strings.NewReader(string(replay.FedDec2025HoldCSV)), replay.FedDec2025Hold)
	if err != nil {
		t.Fatal(err)
	}
	for _, speed := range []float64{36000, 600, 1} {
		var books []polybot.BookEvent
		clk := &autoClock{now: wallStart}
		if err := replay.Play(context.Background(), replay.Events(evs), replay.Options{Speed: speed, Clock: clk}, func(ev polybot.BookEvent) {
			books = append(books, ev)
		}); err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{Headlines: hs, Anchor: evs[0].Time, End: evs[len(evs)-1].Time, Speed: speed, Loop: true, Clock: newClock()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range hs {
			it := s.item(0, i, wallStart)
			for _, b := range books {
				if sent, before := !b.Received.After(it.Visible), !b.Time.After(it.Recorded); sent != before {
					t.Fatalf("speed %g, %q (recorded %s, visible %s): book of %s sent at %s",
						speed, it.Title, it.Recorded, it.Visible, b.Time, b.Received)
				}
			}
		}
		// The next cycle starts when the replay's last book is sent.
		if got, want := s.item(1, 0, wallStart).Visible.Sub(s.item(0, 0, wallStart).Visible), books[len(books)-1].Received.Sub(wallStart); got != want {
			t.Errorf("speed %g: cycle %s, replay %s", speed, got, want)
		}
		s.Close()
	}
}
