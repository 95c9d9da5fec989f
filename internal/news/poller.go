package news

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/egress"
)

// Poller defaults.
const (
	DefaultUserAgent   = "PolyBot/1 (news poller)"
	DefaultTimeout     = 20 * time.Second
	DefaultBackoffBase = 15 * time.Second
	DefaultBackoffMax  = 15 * time.Minute
	// MaxRetryAfter bounds how long a server's Retry-After is honoured.
	MaxRetryAfter = time.Hour
)

// Poller is the NewsSource of a set of RSS and Atom feeds. Each enabled
// feed is polled at its own Every with a conditional GET (If-None-Match
// with the last ETag, If-Modified-Since with the last Last-Modified; a 304
// delivers nothing). A failed poll (network, non-2xx, unreadable document)
// is retried after an exponential backoff with jitter, from BackoffBase
// doubling to BackoffMax, and never sooner than a 429's or 503's
// Retry-After (up to MaxRetryAfter); a success resets it.
//
// A feed's first 200 answer in a run is its backlog: the items it lists
// are remembered and not delivered, except those published after the feed
// started polling, so a restart never delivers old news as new. After that
// an item is delivered when the previous answer did not list it; the
// Pipeline's Deduper removes what is left of repeats.
//
// Set the fields before Run; SetFeeds may be called at any time.
type Poller struct {
	// Client sends the requests; nil: one whose dialer refuses addresses
	// that are not public unless AllowPrivate (a user's feed must not reach
	// the platform's own network).
	Client       *http.Client
	AllowPrivate bool
	UserAgent    string
	Timeout      time.Duration // per request
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	// Now and After are the clock: the time a headline is received, and
	// the wait between polls. nil: the wall clock.
	Now   polybot.Clock
	After func(time.Duration) <-chan time.Time
	// OnValidators, when set, is called after a feed's ETag or
	// Last-Modified changed (and its items were delivered), so the caller
	// can store them for the next run.
	OnValidators func(feedID, etag, lastModified string)
	Logger       *slog.Logger

	mu      sync.Mutex
	feeds   map[string]polybot.NewsFeed
	running map[string]*feedRun
	launch  func(polybot.NewsFeed) // set while Run runs
	stopped func(feedID string)    // tests: a feed's goroutine ended
}

// feedRun is one feed's polling goroutine and its state.
type feedRun struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	feed   polybot.NewsFeed // current config (Every, Name may change)
}

func (r *feedRun) config() polybot.NewsFeed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.feed
}

// SetFeeds replaces the feed list. Feeds that are new or enabled start
// polling, feeds that are gone or disabled stop, a feed whose URL changed
// starts afresh (with the validators the list gives it), and other changes
// (name, interval) apply from the next poll.
func (p *Poller) SetFeeds(feeds []polybot.NewsFeed) {
	m := make(map[string]polybot.NewsFeed, len(feeds))
	for _, f := range feeds {
		if f.Every <= 0 {
			f.Every = polybot.DefaultFeedInterval
		}
		m[f.ID] = f
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.feeds = m
	p.reconcileLocked()
}

func (p *Poller) reconcileLocked() {
	if p.launch == nil {
		return
	}
	for id, r := range p.running {
		f, ok := p.feeds[id]
		if !ok || !f.Enabled || f.URL != r.config().URL {
			r.cancel()
			delete(p.running, id)
			continue
		}
		r.mu.Lock()
		r.feed.Name, r.feed.Every = f.Name, f.Every
		r.mu.Unlock()
	}
	for id, f := range p.feeds {
		if _, ok := p.running[id]; !ok && f.Enabled {
			p.launch(f)
		}
	}
}

// Run polls the feeds until ctx ends, handing new headlines to sink; it
// returns nil then. One Run at a time.
func (p *Poller) Run(ctx context.Context, sink func(polybot.Headline)) error {
	cfg := p.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	p.mu.Lock()
	if p.launch != nil {
		p.mu.Unlock()
		return errors.New("news: Poller.Run is already running")
	}
	p.running = map[string]*feedRun{}
	p.launch = func(f polybot.NewsFeed) {
		fctx, fcancel := context.WithCancel(ctx)
		r := &feedRun{cancel: fcancel, feed: f}
		p.running[f.ID] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg.poll(fctx, r, sink)
			if p.stopped != nil {
				p.stopped(f.ID)
			}
		}()
	}
	p.reconcileLocked()
	p.mu.Unlock()

	<-ctx.Done()
	p.mu.Lock()
	for _, r := range p.running {
		r.cancel()
	}
	p.launch, p.running = nil, nil
	p.mu.Unlock()
	wg.Wait()
	return nil
}

// pollConfig is a Poller's settings with the defaults filled in.
type pollConfig struct {
	client       *http.Client
	userAgent    string
	timeout      time.Duration
	base, max    time.Duration
	now          polybot.Clock
	after        func(time.Duration) <-chan time.Time
	onValidators func(feedID, etag, lastModified string)
	log          *slog.Logger
}

func (p *Poller) withDefaults() *pollConfig {
	c := &pollConfig{
		client: p.Client, userAgent: p.UserAgent, timeout: p.Timeout, base: p.BackoffBase, max: p.BackoffMax,
		now: p.Now, after: p.After, onValidators: p.OnValidators, log: p.Logger,
	}
	if c.client == nil {
		c.client = NewFeedClient(p.AllowPrivate)
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.base <= 0 {
		c.base = DefaultBackoffBase
	}
	if c.max <= 0 {
		c.max = DefaultBackoffMax
	}
	if c.now == nil {
		c.now = polybot.SystemClock
	}
	if c.after == nil {
		c.after = time.After
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// feedState is what one feed's goroutine remembers between polls.
type feedState struct {
	etag, lastModified string
	started            time.Time
	primed             bool                // the backlog answer was seen
	listed             map[string]struct{} // the items of the last 200 answer
}

// poll is one feed's loop: poll, then wait its interval or its backoff.
func (c *pollConfig) poll(ctx context.Context, r *feedRun, sink func(polybot.Headline)) {
	f := r.config()
	st := &feedState{etag: f.ETag, lastModified: f.LastModified, started: c.now()}
	failures := 0
	for {
		f := r.config()
		retryAfter, err := c.pollOnce(ctx, f, st, sink)
		if ctx.Err() != nil {
			return
		}
		wait := f.Every
		if err != nil {
			failures++
			wait = Backoff(c.base, c.max, failures, rand.Int64N)
			if retryAfter > wait {
				wait = min(retryAfter, MaxRetryAfter)
			}
			c.log.Warn("news feed poll failed", "feed", f.ID, "failures", failures, "retry_in", wait, "err", err)
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-c.after(wait):
		}
	}
}

// pollOnce polls f once and delivers what is new; on a 429 or 503
// retryAfter is the server's Retry-After.
func (c *pollConfig) pollOnce(ctx context.Context, f polybot.NewsFeed, st *feedState, sink func(polybot.Headline)) (retryAfter time.Duration, err error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("feed %s: %w", f.ID, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1")
	if st.etag != "" {
		req.Header.Set("If-None-Match", st.etag)
	}
	if st.lastModified != "" {
		req.Header.Set("If-Modified-Since", st.lastModified)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("feed %s: %w", f.ID, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		etag, lm := st.etag, st.lastModified
		if v := resp.Header.Get("ETag"); v != "" {
			etag = v
		}
		if v := resp.Header.Get("Last-Modified"); v != "" {
			lm = v
		}
		c.setValidators(ctx, f.ID, st, etag, lm)
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return RetryAfter(resp.Header.Get("Retry-After"), c.now()), fmt.Errorf("feed %s: HTTP %d", f.ID, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("feed %s: HTTP %d", f.ID, resp.StatusCode)
	}
	if resp.ContentLength > MaxFeedBody {
		return 0, fmt.Errorf("feed %s: body of %d bytes is over %d", f.ID, resp.ContentLength, MaxFeedBody)
	}
	hs, err := ParseFeed(&f, resp.Body, c.now())
	if err != nil {
		return 0, err
	}
	listed := make(map[string]struct{}, len(hs))
	n := 0
	for _, h := range hs {
		t, l := h.Keys()
		k := t + l
		listed[k] = struct{}{}
		if _, was := st.listed[k]; was {
			continue
		}
		if !st.primed && (h.Published.IsZero() || h.Published.Before(st.started)) {
			continue // backlog
		}
		if ctx.Err() != nil {
			return 0, nil
		}
		sink(h)
		n++
	}
	if !st.primed {
		c.log.Info("news feed backlog", "feed", f.ID, "items", len(hs), "delivered", n)
	}
	st.primed, st.listed = true, listed
	c.setValidators(ctx, f.ID, st, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"))
	return 0, nil
}

func (c *pollConfig) setValidators(ctx context.Context, feedID string, st *feedState, etag, lm string) {
	if etag == st.etag && lm == st.lastModified {
		return
	}
	st.etag, st.lastModified = etag, lm
	if c.onValidators != nil && ctx.Err() == nil {
		c.onValidators(feedID, etag, lm)
	}
}

// Backoff is the wait after the n-th failure in a row (n ≥ 1): base
// doubled n−1 times, at most max, less a random part of up to half
// ("equal jitter": between half and all of it). randN(k) returns a number
// in [0, k).
func Backoff(base, max time.Duration, n int, randN func(int64) int64) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	if half <= 0 {
		return d
	}
	return d - time.Duration(randN(int64(half)+1))
}

// RetryAfter reads a Retry-After header (seconds, or an HTTP date) as a
// wait from now; 0 when absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// NewFeedClient is the HTTP client a Poller uses by default: keep-alive,
// at most 5 redirects, and, unless allowPrivate, a dialer that refuses
// loopback, private, link-local, shared (CGNAT) and unspecified addresses,
// checked on the address actually dialled, so neither DNS nor a redirect
// can reach the platform's own network. It uses no proxy.
func NewFeedClient(allowPrivate bool) *http.Client {
	d := egress.Dialer(10*time.Second, allowPrivate)
	tr := &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		},
	}
}
