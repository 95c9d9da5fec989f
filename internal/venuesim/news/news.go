// Package news is the simulators' news source. A Server replays real,
// timestamped headlines (replay.ReadHeadlines; the Fed November 2025 file is
// built in) in step with a market replay: a headline published at recording
// time T becomes visible at
//
//	start + (T − Anchor) / Speed
//
// where start is when the server started and Anchor the recording's first
// timestamp, the same pacing replay.Play gives the recording's books (so at
// --speed 36000 a headline shows in the half hour of the market it moved).
// It serves them as an RSS 2.0 feed (GET /news/rss, newest first, with an
// ETag and a Last-Modified, answering 304 Not Modified to a matching
// If-None-Match or an If-Modified-Since no older than the newest item), and
// optionally POSTs each one to a webhook as it appears, signed as PolyBot's
// news webhooks are: X-PolyBot-Timestamp (Unix seconds) and
// X-PolyBot-Signature, the hex HMAC-SHA256 of timestamp + "." + body under
// the shared secret (Sign), body {"title","link","published"}.
//
// Looping. When Loop is set the feed loops as the market replay does: each
// cycle lasts (End − Anchor) / Speed and publishes every headline again.
// Cycle 0 publishes the headlines as they were; cycle N ≥ 1 publishes each
// as a new item, so that PolyBot's de-duplication (on the normalised title
// and the normalised link, polybot.Headline.Keys) sees it once per cycle:
// its guid ends in "/cycle-N", its link gets the query parameter cycle=N
// (a fragment would not do: NormalizeLink drops it) and its title the
// suffix " (replay cycle N)". Speed 0 (as fast as possible) shows every
// headline at once and does not loop.
//
// Times. An item's pubDate, and the webhook body's published, are the wall
// time it became visible, as a live feed's would be; the real publication
// time is in the item's <recorded xmlns="urn:polybot:sim-news"> element.
//
// The package owns no state beyond its schedule; it may import the root
// package and internal/marketdata/replay, and must not import a connector,
// the engine, a store or the server.
package news

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// FeedPath is where the RSS feed is served.
const FeedPath = "/news/rss"

// Webhook headers.
const (
	TimestampHeader = "X-PolyBot-Timestamp"
	SignatureHeader = "X-PolyBot-Signature"
)

// DefaultMaxItems is how many items the feed lists unless told.
const DefaultMaxItems = 50

// recordedNS is the namespace of the item element carrying the real
// publication time.
const recordedNS = "urn:polybot:sim-news"

// Webhook says where to POST each headline as it appears.
type Webhook struct {
	URL    string
	Secret []byte
	// Client defaults to one with a 10 s timeout.
	Client *http.Client
}

// Config configures a Server.
type Config struct {
	// Addr is the listen address; "" picks a free loopback port.
	Addr string
	// Headlines to replay (any order; Published is the recording time).
	Headlines []polybot.Headline
	// Anchor is the recording time the market replay starts at (its first
	// event's time); zero means the first headline's time. A headline
	// before it is visible from the start of each cycle.
	Anchor time.Time
	// End is the recording's last event time: a cycle lasts End − Anchor
	// (over Speed). Zero means the last headline's time. With Loop, no
	// headline may be after it.
	End time.Time
	// Speed and Loop are the market replay's (replay.Options.Speed and the
	// simulators' loop flag).
	Speed float64
	Loop  bool
	// MaxItems is how many items the feed lists, newest first
	// (DefaultMaxItems when 0).
	MaxItems int
	// Clock defaults to the wall clock; tests pass a fake.
	Clock   replay.Clock
	Webhook *Webhook
	Log     *slog.Logger
}

type entry struct {
	h   polybot.Headline
	off time.Duration // after the cycle's start
}

// Server serves the feed and runs the webhook poster.
type Server struct {
	cfg     Config
	clock   replay.Clock
	log     *slog.Logger
	entries []entry       // by off
	period  time.Duration // 0: no loop

	mu      sync.Mutex
	start   time.Time
	started bool
	url     string
	srv     *http.Server
	tag     string
	ctx     context.Context // Start's, for a webhook set later
}

// New checks cfg and returns a Server, not yet listening.
func New(cfg Config) (*Server, error) {
	if len(cfg.Headlines) == 0 {
		return nil, errors.New("news: no headlines")
	}
	hs := slices.Clone(cfg.Headlines)
	slices.SortStableFunc(hs, func(a, b polybot.Headline) int { return a.Published.Compare(b.Published) })
	for i, h := range hs {
		if err := h.Validate(); err != nil {
			return nil, fmt.Errorf("news: headline %d: %w", i, err)
		}
		if h.Published.IsZero() {
			return nil, fmt.Errorf("news: headline %q has no time", h.Title)
		}
	}
	if cfg.Anchor.IsZero() {
		cfg.Anchor = hs[0].Published
	}
	if cfg.End.IsZero() {
		cfg.End = hs[len(hs)-1].Published
	}
	if cfg.End.Before(cfg.Anchor) {
		return nil, fmt.Errorf("news: end %s before anchor %s", cfg.End, cfg.Anchor)
	}
	if cfg.Speed < 0 {
		return nil, errors.New("news: negative speed")
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.Clock == nil {
		cfg.Clock = replay.WallClock
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if w := cfg.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("news: webhook URL %q: want an http(s) URL", w.URL)
		}
		if len(w.Secret) == 0 {
			return nil, errors.New("news: webhook secret is empty")
		}
		if w.Client == nil {
			cp := *w
			cp.Client = &http.Client{Timeout: 10 * time.Second}
			cfg.Webhook = &cp
		}
	}
	s := &Server{cfg: cfg, clock: cfg.Clock, log: cfg.Log.With("component", "news")}
	if cfg.Loop && cfg.Speed > 0 {
		s.period = scale(cfg.End.Sub(cfg.Anchor), cfg.Speed)
		if s.period <= 0 {
			return nil, errors.New("news: a looping feed needs a recording longer than an instant")
		}
	}
	for _, h := range hs {
		if cfg.Loop && h.Published.After(cfg.End) {
			return nil, fmt.Errorf("news: headline %q at %s is after the recording's end %s", h.Title, h.Published.Format(time.RFC3339), cfg.End.Format(time.RFC3339))
		}
		var off time.Duration
		if cfg.Speed > 0 && h.Published.After(cfg.Anchor) {
			off = scale(h.Published.Sub(cfg.Anchor), cfg.Speed)
		}
		s.entries = append(s.entries, entry{h: h, off: off})
	}
	return s, nil
}

// scale is replay.Play's pacing: a recording interval at speed.
func scale(d time.Duration, speed float64) time.Duration {
	return time.Duration(float64(d) / speed)
}

// Item is one headline as a cycle publishes it.
type Item struct {
	Title  string
	Link   string
	GUID   string
	Source string // who published it (Headline.SourceName)
	// Recorded is the real publication time; Visible the wall time the
	// item appeared.
	Recorded time.Time
	Visible  time.Time
	Cycle    int
}

func (s *Server) item(cycle, i int, start time.Time) Item {
	e := s.entries[i]
	it := Item{Title: e.h.Title, Link: e.h.Link, Source: e.h.SourceName, Recorded: e.h.Published, Cycle: cycle,
		Visible: start.Add(time.Duration(cycle)*s.period + e.off),
		GUID:    replay.SimNewsSource + "/" + e.h.ID + "/cycle-" + strconv.Itoa(cycle)}
	if cycle > 0 {
		it.Title += " (replay cycle " + strconv.Itoa(cycle) + ")"
		if u, err := url.Parse(it.Link); err == nil && it.Link != "" {
			if u.RawQuery != "" {
				u.RawQuery += "&"
			}
			u.RawQuery += "cycle=" + strconv.Itoa(cycle)
			it.Link = u.String()
		}
	}
	return it
}

// position says how far the schedule is at now: the current cycle and how
// many of its entries are visible (ok false before the start).
func (s *Server) position(now, start time.Time) (cycle, n int, ok bool) {
	if now.Before(start) {
		return 0, 0, false
	}
	el := now.Sub(start)
	if s.period > 0 {
		cycle = int(el / s.period)
		el -= time.Duration(cycle) * s.period
	}
	n = sort.Search(len(s.entries), func(i int) bool { return s.entries[i].off > el })
	return cycle, n, true
}

// Items are the items visible at now, newest first, at most MaxItems
// (none before Start).
func (s *Server) Items(now time.Time) []Item {
	s.mu.Lock()
	start, started := s.start, s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	cycle, n, ok := s.position(now, start)
	if !ok {
		return nil
	}
	var out []Item
	for c := cycle; c >= 0 && len(out) < s.cfg.MaxItems; c-- {
		k := len(s.entries)
		if c == cycle {
			k = n
		}
		for i := k - 1; i >= 0 && len(out) < s.cfg.MaxItems; i-- {
			out = append(out, s.item(c, i, start))
		}
	}
	return out
}

// Start listens (Config.Addr, or a free loopback port), starts the
// schedule now, serves until ctx ends or Close, starts the webhook poster
// if one is configured, and returns the feed's URL.
func (s *Server) Start(ctx context.Context) (string, error) {
	addr := s.cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("news: started twice")
	}
	s.start, s.started, s.ctx = s.clock.Now(), true, ctx
	s.tag = strconv.FormatInt(s.start.UnixNano(), 36)
	s.url = "http://" + ln.Addr().String() + FeedPath
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	srv, start := s.srv, s.start
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	if s.cfg.Webhook != nil {
		go s.post(ctx, start, time.Time{})
	}

	s.log.Info("news feed", "url", s.url, "headlines", len(s.entries), "speed", s.cfg.Speed, "loop", s.period > 0)
	return s.url, nil
}

// URL is the feed's URL ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops serving.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// routes is the whole route table.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FeedPath, s.handleRSS)
	return mux
}

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string    `xml:"title"`
	Link          string    `xml:"link"`
	Description   string    `xml:"description"`
	LastBuildDate string    `xml:"lastBuildDate"`
	Items         []rssItem `xml:"item"`
}

type rssGUID struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type rssSource struct {
	URL   string `xml:"url,attr"`
	Value string `xml:",chardata"`
}

type rssItem struct {
	Title    string     `xml:"title"`
	Link     string     `xml:"link,omitempty"`
	GUID     rssGUID    `xml:"guid"`
	PubDate  string     `xml:"pubDate"`
	Source   *rssSource `xml:"source,omitempty"`
	Recorded string     `xml:"urn:polybot:sim-news recorded"`
}

// validators are the feed's ETag and Last-Modified at now, and the time of
// its last change (the newest item's, or the start).
func (s *Server) validators(now time.Time, items []Item) (etag string, lastModified, lastChange time.Time) {
	s.mu.Lock()
	start, tag := s.start, s.tag
	s.mu.Unlock()
	cycle, n, _ := s.position(now, start)
	etag = fmt.Sprintf(`"%s-%d-%d"`, tag, cycle, n)
	lastChange = start
	if len(items) > 0 {
		lastChange = items[0].Visible
	}
	// Last-Modified has whole seconds. Rounding the last change up keeps a
	// later item, which appears after it, newer than any If-Modified-Since
	// a client echoes; when that second is not over yet, now rounded down
	// is sent instead (a client then gets one 200 too many, never a 304 too
	// many).
	lastModified = lastChange.Truncate(time.Second)
	if lastModified.Before(lastChange) {
		lastModified = lastModified.Add(time.Second)
	}
	if lastModified.After(now) {
		lastModified = now.Truncate(time.Second)
	}
	return etag, lastModified, lastChange
}

// notModified applies If-None-Match (which wins when present) and
// If-Modified-Since.
func notModified(r *http.Request, etag string, lastChange time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil {
			return !lastChange.After(t)
		}
	}
	return false
}

func (s *Server) handleRSS(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	items := s.Items(now)
	etag, lm, lastChange := s.validators(now, items)
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", lm.UTC().Format(http.TimeFormat))
	w.Header().Set("Cache-Control", "no-cache")
	if notModified(r, etag, lastChange) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	doc := rssDoc{Version: "2.0", Channel: rssChannel{
		Title:         "PolyBot simulator news",
		Link:          "http://" + r.Host + FeedPath,
		Description:   "Real headlines replayed in step with the simulators' market replay (polybot sim).",
		LastBuildDate: lm.UTC().Format(time.RFC1123Z),
	}}
	for _, it := range items {
		ri := rssItem{Title: it.Title, Link: it.Link, GUID: rssGUID{IsPermaLink: "false", Value: it.GUID},
			PubDate: it.Visible.UTC().Format(time.RFC1123Z), Recorded: it.Recorded.UTC().Format(time.RFC3339)}
		if it.Source != "" {
			ri.Source = &rssSource{URL: it.Link, Value: it.Source}
		}
		doc.Channel.Items = append(doc.Channel.Items, ri)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		s.log.Error("rss", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Write(buf.Bytes())
}

// Sign is a webhook's signature: the hex HMAC-SHA256 of timestamp + "." +
// body under secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// WebhookBody is what the poster sends.
type WebhookBody struct {
	Title     string    `json:"title"`
	Link      string    `json:"link"`
	Published time.Time `json:"published"` // when it became visible (wall time)
}

// SetWebhook starts posting to w (a webhook known only once the feed has
// started, such as `serve --sim`'s own endpoint): every item that becomes
// visible from now on. Call it after Start, once.
func (s *Server) SetWebhook(w Webhook) error {
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("news: webhook URL %q: want an http(s) URL", w.URL)
	}
	if len(w.Secret) == 0 {
		return errors.New("news: webhook secret is empty")
	}
	if w.Client == nil {
		w.Client = &http.Client{Timeout: 10 * time.Second}
	}
	s.mu.Lock()
	if !s.started || s.cfg.Webhook != nil {
		s.mu.Unlock()
		return errors.New("news: SetWebhook before Start, or a webhook is set already")
	}
	s.cfg.Webhook = &w
	ctx, start := s.ctx, s.start
	s.mu.Unlock()
	go s.post(ctx, start, s.clock.Now())
	return nil
}

// post sends every item visible from from on to the webhook when it
// becomes visible, in schedule order, until the schedule ends (no loop)
// or ctx does. A failed post is logged and not retried.
func (s *Server) post(ctx context.Context, start, from time.Time) {
	for cycle := 0; ; cycle++ {
		for i := range s.entries {
			it := s.item(cycle, i, start)
			if it.Visible.Before(from) {
				continue
			}
			if d := it.Visible.Sub(s.clock.Now()); d > 0 {
				select {
				case <-s.clock.After(d):
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			if err := s.send(ctx, it); err != nil {
				s.log.Warn("webhook post failed", "title", it.Title, "err", err)
			}
		}
		if s.period <= 0 {
			return
		}
	}
}

func (s *Server) send(ctx context.Context, it Item) error {
	s.mu.Lock()
	wh := s.cfg.Webhook
	s.mu.Unlock()
	body, err := json.Marshal(WebhookBody{Title: it.Title, Link: it.Link, Published: it.Visible.UTC()})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(wh.Secret, ts, body))
	resp, err := wh.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %s", resp.Status)
	}
	s.log.Debug("webhook posted", "title", it.Title, "cycle", it.Cycle)
	return nil
}
