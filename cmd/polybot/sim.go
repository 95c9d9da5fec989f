package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venue/alpaca"
	alpacasim "github.com/polybot/polybot/internal/venuesim/alpaca"
	"github.com/polybot/polybot/internal/venuesim/fault"
	ibkrsim "github.com/polybot/polybot/internal/venuesim/ibkr"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
	simnews "github.com/polybot/polybot/internal/venuesim/news"
	pmsim "github.com/polybot/polybot/internal/venuesim/polymarket"
)

// simFlags configure the venue simulators, for `polybot sim` (and later
// `serve --sim`).
type simFlags struct {
	pmAddr, kalshiAddr string
	replay             string
	speed              float64
	loop               bool
	synthMarkets       int
	synthRate          int
	pmBalance          string
	kalshiBalance      string
	kalshiAccounts     multiFlag
	kalshiDemoKey      string
	latency            time.Duration
	error5xxEvery      int
	rateLimitEvery     int
	retryAfter         time.Duration
	dropSocketsEvery   time.Duration
	pmFeeRate          string
	pmFeeExponent      int
	events             string
	news               string
	newsAddr           string
	newsWebhook        string
	newsWebhookSecret  string
	leaders            string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (f *simFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.pmAddr, "polymarket-addr", pmsim.DefaultAddr, "Polymarket simulator listen address (127.0.0.1:0 picks a free port)")
	fs.StringVar(&f.kalshiAddr, "kalshi-addr", kalshisim.DefaultAddr, "Kalshi simulator listen address (127.0.0.1:0 picks a free port)")
	fs.StringVar(&f.replay, "replay", "fed", `market data to replay: "fed" (the built-in Fed Dec 2025 recording, both venues), a .csv cross-venue or .jsonl Polymarket book recording, or "none"`)
	fs.Float64Var(&f.speed, "speed", 36000, "replay speed factor: 36000 plays ten hours of the market a second (1 = real time; 0 = as fast as possible)")
	fs.BoolVar(&f.loop, "loop", true, "start the replay again when it ends")
	fs.IntVar(&f.synthMarkets, "synthetic-markets", 0, "also run a synthetic load feed with this many markets per venue")
	fs.IntVar(&f.synthRate, "synthetic-rate", 100, "synthetic book updates per second per venue")
	fs.StringVar(&f.pmBalance, "polymarket-balance", "10000", "USDC each Polymarket wallet is funded with on first sign-in")
	fs.StringVar(&f.kalshiBalance, "kalshi-balance", "10000", "dollars each registered Kalshi account starts with")
	fs.Var(&f.kalshiAccounts, "kalshi-account", "register a Kalshi API key: KEY_ID=PUBLIC_KEY.pem (repeatable)")
	fs.StringVar(&f.kalshiDemoKey, "kalshi-demo-key", "", "generate a demo Kalshi key pair, save the private key (PEM, 0600) at this path and register it")
	fs.StringVar(&f.pmFeeRate, "polymarket-fee-rate", "0", "fee schedule rate of the Polymarket markets the replay lists (taker fee C × rate × (P × (1−P))^exponent); 0 is fee-free, as the Fed Dec 2025 market was")
	fs.IntVar(&f.pmFeeExponent, "polymarket-fee-exponent", 1, "fee schedule exponent of those markets")
	fs.StringVar(&f.events, "events", "fed-jul2026,cpi-jul2026", `multi-outcome events the simulators serve and replay (paced by --speed and --loop), a comma-separated list of: "fed-jul2026" (the real five-outcome Fed July 2026 decision, Polymarket US), "cpi-jul2026" (the real CPI July 2026 threshold ladder, Polymarket US), "demo" (a SYNTHETIC, made-up four-outcome Fed-decision-like event on each venue whose prices now and then sum below $1); or "none"`)
	fs.StringVar(&f.news, "news", "auto", `headlines the news feed replays in step with the market replay (same --speed and --loop, anchored at the recording's first row): "auto" (the built-in real headlines of 17-21 Nov 2025 when --replay is fed, else none), "fed" (those headlines), a .jsonl headlines file (one {"published","title","link","source","source_note"} a line), or "none"`)
	fs.StringVar(&f.leaders, "leaders", "real", `leader wallets whose trades the Polymarket simulator plays (Data API /trades and /activity, taking liquidity from the books), in step with the replay (--speed): "real" (a real recorded wallet's ten trades in one NHL market, with that market listed and books made up around the recorded prices), or "none"`)
	fs.StringVar(&f.newsAddr, "news-addr", "127.0.0.1:0", "news feed listen address (127.0.0.1:0 picks a free port; the RSS URL is printed)")
	fs.StringVar(&f.newsWebhook, "news-webhook", "", "also POST each headline as it appears to this URL, signed (X-PolyBot-Timestamp, X-PolyBot-Signature: hex HMAC-SHA256 of timestamp.body)")
	fs.StringVar(&f.newsWebhookSecret, "news-webhook-secret-file", "", "file holding the --news-webhook signing secret")
	fs.DurationVar(&f.latency, "latency", 0, "fault: delay every REST answer of every simulator by this much")
	fs.IntVar(&f.error5xxEvery, "fail-every", 0, "fault: answer every Nth REST call of each simulator with 503")
	fs.IntVar(&f.rateLimitEvery, "rate-limit-every", 0, "fault: answer every Nth REST call of each simulator with 429 and Retry-After")
	fs.DurationVar(&f.retryAfter, "retry-after", 2*time.Second, "fault: the Retry-After of --rate-limit-every's answers")
	fs.DurationVar(&f.dropSocketsEvery, "drop-websockets-every", 0, "fault: close every simulator's WebSocket connections at this interval")
}

// faults is the standing fault plan the fault flags set, the same for every
// simulator (each counts its own calls).
func (f *simFlags) faults() fault.Config {
	return fault.Config{Latency: f.latency, FailEvery: f.error5xxEvery, RateLimitEvery: f.rateLimitEvery,
		RetryAfter: f.retryAfter, DropSocketsEvery: f.dropSocketsEvery}
}

// leaderLoop is the pause between cycles of a looping leader replay.
const leaderLoop = 20 * time.Second

// namedEvents are the recordings --events names, each a list of
// EventRecordings (one per venue the event is on).
var namedEvents = map[string]func() []*replay.EventRecording{
	"fed-jul2026": func() []*replay.EventRecording { return []*replay.EventRecording{mustRecording(replay.FedJul2026())} },
	"cpi-jul2026": func() []*replay.EventRecording { return []*replay.EventRecording{mustRecording(replay.CPIJul2026())} },
	"demo": func() []*replay.EventRecording {
		return []*replay.EventRecording{replay.SyntheticEvent(polybot.Polymarket), replay.SyntheticEvent(polybot.Kalshi)}
	},
}

// mustRecording is a built-in recording, which its package's tests read.
func mustRecording(rec *replay.EventRecording, err error) *replay.EventRecording {
	if err != nil {
		panic("built-in recording: " + err.Error())
	}
	return rec
}

// eventRecordings reads --events: "none" (or nothing), or names of
// namedEvents.
func eventRecordings(list string) ([]*replay.EventRecording, error) {
	if l := strings.TrimSpace(list); l == "none" || l == "" {
		return nil, nil
	}
	var out []*replay.EventRecording
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		recs, ok := namedEvents[name]
		if !ok || seen[name] {
			return nil, usageError(fmt.Sprintf("--events %q: want a comma-separated list of distinct names from: cpi-jul2026, demo, fed-jul2026; or none", list))
		}
		seen[name] = true
		out = append(out, recs()...)
	}
	return out, nil
}

// The simulators' equity: TLT (the iShares 20+ Year Treasury Bond ETF, a
// rate-sensitive ETF) around $89, a made-up walk.
const simEquitySymbol = "TLT"

var simEquityStart = polybot.MustDecimal("89.00")

// sims are running simulators.
type sims struct {
	pm      *pmsim.Server
	kalshi  *kalshisim.Server
	pmURLs  pmsim.URLs
	kURLs   kalshisim.URLs
	demoKey *kalshisim.DemoKey
	events  []*replay.EventRecording
	// news is the news feed (nil with --news none); newsURL its RSS URL,
	// for serve --sim to register as a platform feed.
	news      *simnews.Server
	alpaca    *alpacasim.Server
	alpacaURL string
	ibkr      *ibkrsim.Server
	ibkrURL   string // the gateway's base URL (without /v1/api)
	newsURL   string
	headlines int
	leaders   []string // one line a leader wallet
	wallets   []string // the leader wallets' addresses
	closeAll  func()
}

func (f *simFlags) start(ctx context.Context, log *slog.Logger) (*sims, error) {
	pmBal, err := polybot.ParseDecimal(f.pmBalance)
	if err != nil || pmBal.Sign() < 0 {
		return nil, usageError("--polymarket-balance: must be a non-negative decimal")
	}
	kBal, err := polybot.ParseDecimal(f.kalshiBalance)
	if err != nil || kBal.Sign() < 0 {
		return nil, usageError("--kalshi-balance: must be a non-negative decimal")
	}
	if f.speed < 0 {
		return nil, usageError("--speed: must not be negative")
	}
	opts := replay.Options{Speed: f.speed}
	rate, err := polybot.ParseDecimal(f.pmFeeRate)
	if err != nil {
		return nil, usageError("--polymarket-fee-rate: must be a decimal")
	}
	pmFees, err := fee.NewPolymarketSchedule(rate, polybot.NewDecimal(int64(f.pmFeeExponent), 0))
	if err != nil {
		return nil, usageError(fmt.Sprintf("--polymarket-fee-rate %s --polymarket-fee-exponent %d: %v", f.pmFeeRate, f.pmFeeExponent, err))
	}

	var accounts []kalshisim.AccountConfig
	for _, a := range f.kalshiAccounts {
		id, path, ok := strings.Cut(a, "=")
		if !ok || id == "" || path == "" {
			return nil, usageError(fmt.Sprintf("--kalshi-account %q: want KEY_ID=PUBLIC_KEY.pem", a))
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--kalshi-account %s: %w", id, err)
		}
		accounts = append(accounts, kalshisim.AccountConfig{KeyID: id, PublicKeyPEM: string(pem), Balance: kBal})
	}
	s := &sims{}
	if f.kalshiDemoKey != "" {
		dk, err := kalshisim.GenerateDemoKey(f.kalshiDemoKey)
		if err != nil {
			return nil, fmt.Errorf("--kalshi-demo-key: %w", err)
		}
		s.demoKey = &dk
		accounts = append(accounts, kalshisim.AccountConfig{KeyID: dk.KeyID, PublicKeyPEM: dk.PublicKeyPEM, Balance: kBal})
	}

	if f.latency < 0 || f.error5xxEvery < 0 || f.rateLimitEvery < 0 || f.retryAfter < 0 || f.dropSocketsEvery < 0 {
		return nil, usageError("--latency, --fail-every, --rate-limit-every, --retry-after, --drop-websockets-every: must not be negative")
	}
	faults := f.faults()
	pmCfg := pmsim.Config{Addr: f.pmAddr, StartingBalance: pmBal, Log: log, FeedFeeSchedule: pmFees, Faults: faults}
	kCfg := kalshisim.Config{Addr: f.kalshiAddr, Accounts: accounts, Faults: faults, Logger: log}
	var recorded []polybot.BookEvent // the replayed recording, for the news feed's anchor
	switch r := f.replay; {
	case r == "none":
	case r == "fed" || strings.EqualFold(filepath.Ext(r), ".csv"):
		data := replay.FedDec2025HoldCSV
		if r != "fed" {
			if data, err = os.ReadFile(r); err != nil {
				return nil, fmt.Errorf("--replay: %w", err)
			}
		}
		src, err := pmsim.ReplayCrossVenue(bytes.NewReader(data), opts, f.loop)
		if err != nil {
			return nil, fmt.Errorf("--replay %s: %w", r, err)
		}
		pmCfg.Feeds = append(pmCfg.Feeds, src)
		kCfg.Replay = &kalshisim.ReplayConfig{Data: data, Speed: f.speed, Loop: f.loop}
		recorded, _, _ = replay.ReadCrossVenue(bytes.NewReader(data), replay.FedDec2025Hold) // read above
	case strings.EqualFold(filepath.Ext(r), ".jsonl"):
		src, err := pmsim.ReplayFile(r, opts, f.loop)
		if err != nil {
			return nil, fmt.Errorf("--replay: %w", err)
		}
		pmCfg.Feeds = append(pmCfg.Feeds, src)
		if fh, err := os.Open(r); err == nil {
			recorded, _ = replay.ReadPolymarketBooks(fh) // read above
			fh.Close()
		}
	default:
		return nil, usageError(fmt.Sprintf("--replay %q: want fed, none, or a .csv or .jsonl recording", r))
	}
	newsCfg, err := f.newsConfig(recorded, log)
	if err != nil {
		return nil, err
	}
	if s.events, err = eventRecordings(f.events); err != nil {
		return nil, err
	}
	pmCfg.EventSpeed, pmCfg.EventLoop = f.speed, f.loop
	kCfg.EventSpeed, kCfg.EventLoop = f.speed, f.loop
	for _, rec := range s.events {
		switch rec.Set.Venue {
		case polybot.Polymarket:
			pmCfg.Events = append(pmCfg.Events, rec)
		case polybot.Kalshi:
			kCfg.Events = append(kCfg.Events, rec)
		}
	}
	if f.synthMarkets > 0 {
		if f.synthRate <= 0 {
			return nil, usageError("--synthetic-rate: must be positive")
		}
		pmCfg.Feeds = append(pmCfg.Feeds, pmsim.Synthetic(replay.SyntheticConfig{Markets: f.synthMarkets, UpdatesPerSecond: f.synthRate, Seed: 1}))
		kCfg.Synthetic = &kalshisim.SyntheticConfig{Markets: f.synthMarkets, UpdatesPerSecond: f.synthRate, Seed: 1}
	}

	var leaderBooks []polybot.BookEvent
	switch f.leaders {
	case "none":
	case "real", "":
		l, m, books, err := pmsim.RealLeader()
		if err != nil {
			return nil, fmt.Errorf("--leaders real: %w", err)
		}
		pmCfg.Markets = append(pmCfg.Markets, m)
		l.Books = books
		pmCfg.Leaders = append(pmCfg.Leaders, l)
		pmCfg.LeaderSpeed = f.speed
		if f.loop {
			pmCfg.LeaderLoop = leaderLoop // the wallet trades again every half minute or so, as a live one would
		}
		leaderBooks = books
		s.leaders = append(s.leaders, fmt.Sprintf("%s trades=%d market=%s", l.Address, len(l.Trades), m.Slug))
		s.wallets = append(s.wallets, l.Address)
	default:
		return nil, usageError(fmt.Sprintf("--leaders %q: want real or none", f.leaders))
	}
	if s.pm, err = pmsim.New(pmCfg); err != nil {
		return nil, err
	}
	for _, ev := range leaderBooks {
		if err := s.pm.Apply(ev); err != nil {
			return nil, fmt.Errorf("--leaders: %w", err)
		}
	}
	if s.kalshi, err = kalshisim.New(kCfg); err != nil {
		return nil, err
	}
	if s.pmURLs, err = s.pm.Start(ctx, ""); err != nil {
		return nil, fmt.Errorf("--polymarket-addr %s: %w", f.pmAddr, err)
	}
	if s.kURLs, err = s.kalshi.Start(ctx, ""); err != nil {
		s.pm.Close()
		return nil, fmt.Errorf("--kalshi-addr %s: %w", f.kalshiAddr, err)
	}
	// The Alpaca simulator (equities): accounts are made by "Generate
	// simulator keys"; TLT quotes a SYNTHETIC walk (see
	// alpacasim.SyntheticWalk), one step a second, on its stream.
	if s.alpaca, err = alpacasim.New(alpacasim.Config{Faults: faults, Logger: log}); err == nil {
		s.alpacaURL, err = s.alpaca.Start(ctx, "127.0.0.1:0")
	}
	if err == nil {
		go func() {
			if err := s.alpaca.PlayQuotes(ctx, simEquitySymbol, time.Second, alpacasim.SyntheticWalk(simEquityStart, 3600, 1)); err != nil {
				log.Error("alpaca simulator: replaying quotes", "err", err)
			}
		}()
	}
	if err != nil {
		s.kalshi.Close()
		s.pm.Close()
		return nil, fmt.Errorf("alpaca simulator: %w", err)
	}
	// The IBKR Client Portal gateway simulator: ForecastEx's Fed funds
	// market and SPY. No ForecastEx recording exists (see
	// internal/marketdata/replay/recordings/README.md), so its books are
	// the simulator's own synthetic quotes; accounts are made by "Generate
	// simulator keys".
	if s.ibkr, err = ibkrsim.New(ibkrsim.Config{Faults: faults, Logger: log, Books: ibkrsim.SyntheticFedBooks()}); err == nil {
		s.ibkrURL, err = s.ibkr.Start(ctx, "127.0.0.1:0")
	}
	if err != nil {
		s.alpaca.Close()
		s.kalshi.Close()
		s.pm.Close()
		return nil, fmt.Errorf("ibkr simulator: %w", err)
	}
	// The news feed starts right after the venues, so its schedule starts
	// with their replays.
	if newsCfg != nil {
		if s.news, err = simnews.New(*newsCfg); err == nil {
			s.newsURL, err = s.news.Start(ctx)
		}
		if err != nil {
			s.ibkr.Close()
			s.alpaca.Close()
			s.kalshi.Close()
			s.pm.Close()
			return nil, fmt.Errorf("--news %s: %w", f.news, err)
		}
		s.headlines = len(newsCfg.Headlines)
	}
	s.closeAll = func() {
		if s.news != nil {
			s.news.Close()
		}
		s.ibkr.Close()
		s.alpaca.Close()
		s.kalshi.Close()
		s.pm.Close()
	}
	return s, nil
}

// newsConfig reads --news and its webhook flags: nil for none. The feed
// replays at the market's --speed and --loop, anchored at the replayed
// recording's first and last event (recorded; the headlines' own span
// when nothing is replayed).
func (f *simFlags) newsConfig(recorded []polybot.BookEvent, log *slog.Logger) (*simnews.Config, error) {
	var hs []polybot.Headline
	var err error
	switch n := f.news; {
	case n == "none" || ((n == "auto" || n == "") && f.replay != "fed"):
		return nil, nil
	case n == "auto" || n == "" || n == "fed":
		hs, err = replay.FedNov2025Headlines()
	case strings.EqualFold(filepath.Ext(n), ".jsonl"):
		var fh *os.File
		if fh, err = os.Open(n); err == nil {
			hs, err = replay.ReadHeadlines(fh)
			fh.Close()
		}
		if err == nil && len(hs) == 0 {
			err = errors.New("no headlines in the file")
		}
	default:
		return nil, usageError(fmt.Sprintf("--news %q: want auto, fed, none, or a .jsonl headlines file", n))
	}
	if err != nil {
		return nil, fmt.Errorf("--news %s: %w", f.news, err)
	}
	cfg := &simnews.Config{Addr: f.newsAddr, Headlines: hs, Speed: f.speed, Loop: f.loop, Log: log}
	if len(recorded) > 0 {
		cfg.Anchor, cfg.End = recorded[0].Time, recorded[0].Time
		for _, ev := range recorded {
			if ev.Time.Before(cfg.Anchor) {
				cfg.Anchor = ev.Time
			}
			if ev.Time.After(cfg.End) {
				cfg.End = ev.Time
			}
		}
	}
	if f.newsWebhook != "" {
		if f.newsWebhookSecret == "" {
			return nil, usageError("--news-webhook: needs --news-webhook-secret-file")
		}
		secret, err := os.ReadFile(f.newsWebhookSecret)
		if err != nil {
			return nil, fmt.Errorf("--news-webhook-secret-file: %w", err)
		}
		if secret = bytes.TrimSpace(secret); len(secret) == 0 {
			return nil, usageError("--news-webhook-secret-file: the file is empty")
		}
		cfg.Webhook = &simnews.Webhook{URL: f.newsWebhook, Secret: secret}
	}
	return cfg, nil
}

// print writes one line per venue: its name and base URLs.
func (s *sims) print(w io.Writer) {
	fmt.Fprintf(w, "polymarket clob=%s market_ws=%s user_ws=%s gamma=%s data=%s\n", s.pmURLs.CLOB, s.pmURLs.MarketWS, s.pmURLs.UserWS, s.pmURLs.Gamma, s.pmURLs.Data)
	fmt.Fprintf(w, "kalshi rest=%s ws=%s admin=%s\n", s.kURLs.REST, s.kURLs.WS, s.kURLs.Admin)
	fmt.Fprintf(w, "alpaca rest=%s stream=%s/v2/%s (%s: a synthetic walk, not real prices)\n", s.alpacaURL, s.alpacaURL, alpaca.FeedIEX, simEquitySymbol)
	fmt.Fprintf(w, "ibkr gateway=%s ws=%s\n", s.ibkrURL, "ws"+strings.TrimPrefix(s.ibkrURL, "http")+"/v1/api/ws")
	if len(s.events) > 0 {
		var pm, k []string
		for _, rec := range s.events {
			if rec.Set.Venue == polybot.Kalshi {
				k = append(k, rec.Set.Event)
			} else {
				pm = append(pm, rec.Set.ID)
			}
		}
		fmt.Fprintf(w, "events polymarket=%s kalshi=%s\n", strings.Join(pm, ","), strings.Join(k, ","))
	}
	if s.newsURL != "" {
		fmt.Fprintf(w, "news rss=%s headlines=%d\n", s.newsURL, s.headlines)
	}
	for _, l := range s.leaders {
		fmt.Fprintf(w, "leader polymarket=%s\n", l)
	}
}

func cmdSim(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sim")
	var f simFlags
	f.register(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	log, err := newLogger(e.stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	s, err := f.start(ctx, log)
	if err != nil {
		return err
	}
	defer s.closeAll()
	s.print(e.stdout)
	if s.demoKey != nil {
		fmt.Fprintf(e.stdout, "kalshi demo key id=%s private_key=%s\n", s.demoKey.KeyID, s.demoKey.PrivateKeyPath)
	}
	<-ctx.Done()
	return nil
}
