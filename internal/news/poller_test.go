package news

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// fakeClock is the poller's clock in tests: After records each wait the
// poller asks for, and the test decides when it ends. A poll delivers its
// headlines before it asks to wait, so once a wait is seen, everything
// that poll delivered has been delivered.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: make(chan fakeWait, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- fakeWait{d, ch}
	return ch
}

// wait returns the next wait the poller asks for.
func (c *fakeClock) wait(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the poller never asked to wait")
		return fakeWait{}
	}
}

// end lets the wait w pass: the clock moves on by its duration.
func (c *fakeClock) end(w fakeWait) {
	c.mu.Lock()
	c.now = c.now.Add(w.d)
	now := c.now
	c.mu.Unlock()
	w.fire <- now
}

// feedServer serves one feed; the test sets each answer.
type feedServer struct {
	*httptest.Server
	mu     sync.Mutex
	answer func(w http.ResponseWriter, r *http.Request)
	reqs   chan *http.Request
}

func newFeedServer(t *testing.T) *feedServer {
	s := &feedServer{reqs: make(chan *http.Request, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reqs <- r
		s.mu.Lock()
		a := s.answer
		s.mu.Unlock()
		a(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(a func(w http.ResponseWriter, r *http.Request)) {
	s.mu.Lock()
	s.answer = a
	s.mu.Unlock()
}

func (s *feedServer) req(t *testing.T) *http.Request {
	t.Helper()
	select {
	case r := <-s.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the feed server")
		return nil
	}
}

func rssOf(items ...string) string {
	return `<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>` + strings.Join(items, "") + `</channel></rss>`
}

func rssItem(title, link string, published time.Time) string {
	return fmt.Sprintf("<item><title>%s</title><link>%s</link><pubDate>%s</pubDate></item>", title, link, published.Format(time.RFC1123Z))
}

func status(code int, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
	}
}

func feedBody(body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, body)
	}
}

// pollerHarness runs a Poller against httptest servers with a fake clock.
type pollerHarness struct {
	p          *Poller
	clock      *fakeClock
	got        chan polybot.Headline
	validators chan [3]string
	stopped    chan string
	done       chan error
}

var t0 = time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)

func startPoller(t *testing.T, feeds []polybot.NewsFeed, tune func(*Poller)) *pollerHarness {
	t.Helper()
	h := &pollerHarness{
		clock:      newFakeClock(t0),
		got:        make(chan polybot.Headline, 100),
		validators: make(chan [3]string, 100),
		stopped:    make(chan string, 10),
		done:       make(chan error, 1),
	}
	h.p = &Poller{
		AllowPrivate: true,
		BackoffBase:  10 * time.Second,
		BackoffMax:   15 * time.Minute,
		Now:          h.clock.Now,
		After:        h.clock.After,
		OnValidators: func(id, etag, lm string) { h.validators <- [3]string{id, etag, lm} },
		stopped:      func(id string) { h.stopped <- id },
	}
	if tune != nil {
		tune(h.p)
	}
	h.p.SetFeeds(feeds)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- h.p.Run(ctx, func(hl polybot.Headline) { h.got <- hl }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return h
}

// delivered drains the headlines delivered so far (call it after a wait
// was seen: the poll that preceded it has delivered everything).
func (h *pollerHarness) delivered() []string {
	var titles []string
	for {
		select {
		case hl := <-h.got:
			titles = append(titles, hl.Title)
		default:
			return titles
		}
	}
}

func (h *pollerHarness) validatorsSeen() [][3]string {
	var out [][3]string
	for {
		select {
		case v := <-h.validators:
			out = append(out, v)
		default:
			return out
		}
	}
}

func feedAt(id, url string) polybot.NewsFeed {
	return polybot.NewsFeed{ID: id, Name: "Feed " + id, URL: url, Every: time.Minute, Enabled: true}
}

func TestPollerSendsETagBackAndA304DeliversNothing(t *testing.T) {
	srv := newFeedServer(t)
	old := rssItem("Markets open flat", "https://news.example.com/flat", t0.Add(-time.Hour))
	srv.set(feedBody(rssOf(old), "ETag", `"v1"`))
	h := startPoller(t, []polybot.NewsFeed{feedAt("wire", srv.URL)}, nil)

	r := srv.req(t)
	if r.Header.Get("If-None-Match") != "" || !strings.HasPrefix(r.Header.Get("User-Agent"), "PolyBot/") {
		t.Fatalf("first request: If-None-Match %q, User-Agent %q", r.Header.Get("If-None-Match"), r.Header.Get("User-Agent"))
	}
	w := h.clock.wait(t)
	if w.d != time.Minute {
		t.Fatalf("waits %v after a success, want the feed's minute", w.d)
	}
	if got := h.delivered(); len(got) != 0 {
		t.Fatalf("the first answer is the backlog, yet %q was delivered", got)
	}
	if v := h.validatorsSeen(); len(v) != 1 || v[0] != [3]string{"wire", `"v1"`, ""} {
		t.Fatalf("validators %v, want wire's ETag v1", v)
	}

	// Unchanged: the poller asks with the ETag and gets a 304.
	srv.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		feedBody(rssOf(old), "ETag", `"v1"`)(w, r)
	})
	h.clock.end(w)
	if r := srv.req(t); r.Header.Get("If-None-Match") != `"v1"` {
		t.Fatalf("second request's If-None-Match %q, want \"v1\"", r.Header.Get("If-None-Match"))
	}
	w = h.clock.wait(t)
	if got := h.delivered(); len(got) != 0 || w.d != time.Minute {
		t.Fatalf("after a 304: delivered %q, then waits %v", got, w.d)
	}
	if v := h.validatorsSeen(); len(v) != 0 {
		t.Fatalf("a 304 with the same validators reported %v", v)
	}

	// Changed: a new item is delivered, the listed one is not, the new ETag is kept.
	srv.set(feedBody(rssOf(rssItem("Central bank signals a December cut", "https://news.example.com/cut", t0.Add(2*time.Minute)), old), "ETag", `"v2"`))
	h.clock.end(w)
	srv.req(t)
	w = h.clock.wait(t)
	if got := h.delivered(); len(got) != 1 || got[0] != "Central bank signals a December cut" {
		t.Fatalf("delivered %q, want only the new headline", got)
	}
	if v := h.validatorsSeen(); len(v) != 1 || v[0] != [3]string{"wire", `"v2"`, ""} {
		t.Fatalf("validators %v, want wire's ETag v2", v)
	}
	h.clock.end(w)
	if r := srv.req(t); r.Header.Get("If-None-Match") != `"v2"` {
		t.Fatalf("If-None-Match %q after the change, want \"v2\"", r.Header.Get("If-None-Match"))
	}
}

func TestPollerSendsLastModifiedBackAndStartsFromStoredValidators(t *testing.T) {
	const lm1 = "Fri, 21 Nov 2025 11:00:00 GMT"
	const lm2 = "Fri, 21 Nov 2025 12:01:00 GMT"
	srv := newFeedServer(t)
	srv.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Modified-Since") == lm1 {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	f := feedAt("ledger", srv.URL)
	f.LastModified = lm1 // stored by the last run
	h := startPoller(t, []polybot.NewsFeed{f}, nil)

	if r := srv.req(t); r.Header.Get("If-Modified-Since") != lm1 || r.Header.Get("If-None-Match") != "" {
		t.Fatalf("first request: If-Modified-Since %q, If-None-Match %q", r.Header.Get("If-Modified-Since"), r.Header.Get("If-None-Match"))
	}
	w := h.clock.wait(t)
	if w.d != time.Minute || len(h.delivered()) != 0 || len(h.validatorsSeen()) != 0 {
		t.Fatalf("after a 304 on the stored validator: wait %v", w.d)
	}

	// Published since the poller started: delivered even in the first 200.
	srv.set(feedBody(rssOf(
		rssItem("Payrolls beat forecasts", "https://news.example.com/payrolls", t0.Add(30*time.Second)),
		rssItem("Yesterday's close", "https://news.example.com/close", t0.Add(-20*time.Hour)),
	), "Last-Modified", lm2))
	h.clock.end(w)
	srv.req(t)
	w = h.clock.wait(t)
	if got := h.delivered(); len(got) != 1 || got[0] != "Payrolls beat forecasts" {
		t.Fatalf("delivered %q, want only what was published since the start", got)
	}
	if v := h.validatorsSeen(); len(v) != 1 || v[0] != [3]string{"ledger", "", lm2} {
		t.Fatalf("validators %v, want ledger's Last-Modified %q", v, lm2)
	}
	h.clock.end(w)
	if r := srv.req(t); r.Header.Get("If-Modified-Since") != lm2 {
		t.Fatalf("If-Modified-Since %q, want %q", r.Header.Get("If-Modified-Since"), lm2)
	}
}

func TestPollerBacksOffAfter503AndRecovers(t *testing.T) {
	srv := newFeedServer(t)
	srv.set(status(http.StatusServiceUnavailable))
	h := startPoller(t, []polybot.NewsFeed{feedAt("wire", srv.URL)}, nil)
	base := h.p.BackoffBase

	inRange := func(w fakeWait, lo, hi time.Duration) {
		t.Helper()
		if w.d < lo || w.d > hi {
			t.Fatalf("waits %v, want %v to %v", w.d, lo, hi)
		}
	}
	srv.req(t)
	w := h.clock.wait(t)
	inRange(w, base/2, base) // first failure: base, less up to half
	h.clock.end(w)
	srv.req(t)
	w = h.clock.wait(t)
	inRange(w, base, 2*base) // second: doubled
	h.clock.end(w)
	srv.req(t)
	w = h.clock.wait(t)
	inRange(w, 2*base, 4*base)

	srv.set(feedBody(rssOf(rssItem("Service restored", "https://news.example.com/restored", t0.Add(time.Hour)))))
	h.clock.end(w)
	srv.req(t)
	w = h.clock.wait(t)
	if w.d != time.Minute {
		t.Fatalf("after recovering waits %v, want the feed's minute", w.d)
	}
	if got := h.delivered(); len(got) != 1 {
		t.Fatalf("delivered %q after recovering", got)
	}

	srv.set(status(http.StatusBadGateway))
	h.clock.end(w)
	srv.req(t)
	inRange(h.clock.wait(t), base/2, base) // the backoff starts over
}

func TestPollerHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		want   time.Duration
	}{
		{"429 in seconds", status(http.StatusTooManyRequests, "Retry-After", "120"), 120 * time.Second},
		{"503 as a date", status(http.StatusServiceUnavailable, "Retry-After", t0.Add(90*time.Second).Format(http.TimeFormat)), 90 * time.Second},
		{"beyond an hour: an hour", status(http.StatusTooManyRequests, "Retry-After", "86400"), MaxRetryAfter},
		{"shorter than the backoff: the backoff", status(http.StatusTooManyRequests, "Retry-After", "1"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFeedServer(t)
			srv.set(tc.answer)
			h := startPoller(t, []polybot.NewsFeed{feedAt("wire", srv.URL)}, nil)
			srv.req(t)
			w := h.clock.wait(t)
			if tc.want == 0 {
				if w.d < h.p.BackoffBase/2 || w.d > h.p.BackoffBase {
					t.Fatalf("waits %v, want the first backoff", w.d)
				}
				return
			}
			if w.d != tc.want {
				t.Fatalf("waits %v, want %v", w.d, tc.want)
			}
		})
	}
}

func TestPollerRequestTimesOut(t *testing.T) {
	srv := newFeedServer(t)
	srv.set(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	h := startPoller(t, []polybot.NewsFeed{feedAt("slow", srv.URL)}, func(p *Poller) { p.Timeout = 50 * time.Millisecond })
	srv.req(t)
	if w := h.clock.wait(t); w.d > h.p.BackoffBase {
		t.Fatalf("after a timeout waits %v, want a backoff", w.d)
	}
}

func TestPollerRefusesPrivateAddressesByDefault(t *testing.T) {
	srv := newFeedServer(t)
	srv.set(feedBody(rssOf()))
	h := startPoller(t, []polybot.NewsFeed{feedAt("internal", srv.URL)}, func(p *Poller) { p.AllowPrivate = false })
	if w := h.clock.wait(t); w.d > h.p.BackoffBase {
		t.Fatalf("waits %v, want a backoff after the refused dial", w.d)
	}
	select {
	case r := <-srv.reqs:
		t.Fatalf("a request to a loopback address reached %s", r.URL)
	default:
	}

	// Which addresses are public: internal/egress's own table test.
}

func TestPollerFollowsFeedListChanges(t *testing.T) {
	a, b := newFeedServer(t), newFeedServer(t)
	a.set(feedBody(rssOf()))
	b.set(feedBody(rssOf()))
	off := feedAt("off", b.URL+"/off")
	off.Enabled = false
	h := startPoller(t, []polybot.NewsFeed{feedAt("a", a.URL), off}, nil)
	a.req(t)
	wa := h.clock.wait(t)

	// b added at run time; the disabled feed is still never polled.
	h.p.SetFeeds([]polybot.NewsFeed{feedAt("a", a.URL), feedAt("b", b.URL), off})
	if r := b.req(t); r.URL.Path != "/" {
		t.Fatalf("b polled at %s", r.URL.Path)
	}
	h.clock.wait(t)

	// a removed: its goroutine ends.
	h.p.SetFeeds([]polybot.NewsFeed{feedAt("b", b.URL)})
	select {
	case id := <-h.stopped:
		if id != "a" {
			t.Fatalf("%s stopped, want a", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a removed feed kept polling")
	}
	h.clock.end(wa) // its wait ending reaches nobody
	select {
	case r := <-a.reqs:
		t.Fatalf("a removed feed was polled: %s", r.URL)
	case r := <-b.reqs:
		t.Fatalf("b was polled before its wait ended: %s", r.URL)
	default:
	}

	// b's URL changes: it starts afresh at the new one.
	h.p.SetFeeds([]polybot.NewsFeed{feedAt("b", b.URL+"/moved")})
	if id := <-h.stopped; id != "b" {
		t.Fatalf("%s stopped, want b", id)
	}
	if r := b.req(t); r.URL.Path != "/moved" {
		t.Fatalf("b polled at %s, want /moved", r.URL.Path)
	}
}

func TestBackoffDoublesToItsCapWithJitter(t *testing.T) {
	least := func(int64) int64 { return 0 }      // no jitter taken off
	most := func(k int64) int64 { return k - 1 } // all the jitter taken off
	for _, tc := range []struct {
		n      int
		hi, lo time.Duration
	}{
		{1, 10 * time.Second, 5 * time.Second},
		{2, 20 * time.Second, 10 * time.Second},
		{4, 80 * time.Second, 40 * time.Second},
		{7, 640 * time.Second, 320 * time.Second},
		{8, 15 * time.Minute, 450 * time.Second}, // 1280 s capped at 900
		{60, 15 * time.Minute, 450 * time.Second},
	} {
		if got := Backoff(10*time.Second, 15*time.Minute, tc.n, least); got != tc.hi {
			t.Errorf("Backoff(n=%d) without jitter = %v, want %v", tc.n, got, tc.hi)
		}
		if got := Backoff(10*time.Second, 15*time.Minute, tc.n, most); got != tc.lo {
			t.Errorf("Backoff(n=%d) with the most jitter = %v, want %v", tc.n, got, tc.lo)
		}
	}
}

func TestRetryAfterReadsSecondsAndDates(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"30", 30 * time.Second}, {"soon", 0},
		{t0.Add(45 * time.Second).Format(http.TimeFormat), 45 * time.Second},
		{t0.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", MaxRetryAfter},
	} {
		if got := RetryAfter(tc.in, t0); got != tc.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
