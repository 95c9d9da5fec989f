package alpaca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/polybot/polybot"
)

// Market data: a polybot.MarketFeed on the SDK's stock stream
// (marketdata/stream.StocksClient), quotes only. A quote is Alpaca's best
// bid and best offer, so each becomes a BookSnapshot of one level a side:
// the book is the top of book, replaced whole by every quote. The stream
// sends a quote only on change, so on every subscription, (re)connection
// and Resync the feed also reads the symbols' latest quotes from the
// Market Data API (GET /v2/stocks/quotes/latest, through the SDK's
// marketdata client): a book exists at once, in market hours or not. A
// snapshot older than the newest quote already delivered is dropped. When
// the socket drops, every subscribed book is invalidated until its next
// quote; the SDK reconnects and resubscribes, and the latest quotes are
// read again.
//
// Prices: the SDK hands quotes over as float64 (msgpack floats on the
// wire). They are converted once, here, with strconv.FormatFloat(f, 'f',
// -1, 64): the shortest decimal that reads back as the same float64.
// Alpaca quotes US equities in cents at $1 and above and in hundredths of
// a cent below (at most 4 places, and never more than 15 significant
// digits), and every decimal of at most 15 significant digits survives
// the trip decimal → nearest float64 → shortest round-trip decimal
// unchanged, so the polybot.Decimal is the venue's exact price. No
// arithmetic is ever done on the float. Sizes are the stream's uint32,
// read as shares.

// Stream base URLs and feeds.
const (
	StreamBaseURL = "https://stream.data.alpaca.markets/v2"
	// DataBaseURL is the Market Data API's REST base (latest quotes).
	DataBaseURL = "https://data.alpaca.markets"
	// FeedIEX is the free feed every account has; FeedSIP needs a
	// subscription.
	FeedIEX = "iex"
	FeedSIP = "sip"
)

// FeedConfig configures a market-data feed (the platform's own key: any
// Alpaca account's key id and secret read the stream).
type FeedConfig struct {
	KeyID, SecretKey string
	// BaseURL is the stream base, without the feed ("" means
	// StreamBaseURL); Feed is iex (default) or sip.
	BaseURL string
	Feed    string
	// DataURL is the Market Data API's REST base ("" means DataBaseURL).
	DataURL string
	Logger  *slog.Logger
	// Backoff is the first wait after the SDK gives up reconnecting
	// (doubling to 30 s); 0 means 500 ms.
	Backoff time.Duration
}

// Feed is Alpaca's quote stream as a polybot.MarketFeed.
type Feed struct {
	cfg FeedConfig
	log *slog.Logger

	rest *marketdata.Client

	mu      sync.Mutex
	want    map[string]bool      // symbols subscribed by the hub
	changed chan struct{}        // want changed, a resync asked, a reconnect: Run applies it
	resync  map[string]bool      // symbols whose latest quote Run reads again
	fresh   bool                 // the stream (re)connected: read every symbol's latest quote
	last    map[string]time.Time // the newest quote delivered per symbol
	sink    func(polybot.BookEvent)
}

var _ polybot.MarketFeed = (*Feed)(nil)

// NewFeed checks the key and returns a feed; Run connects.
func NewFeed(cfg FeedConfig) (*Feed, error) {
	if err := checkKey(cfg.KeyID, cfg.SecretKey, "alpaca market data"); err != nil {
		return nil, err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = StreamBaseURL
	}
	if cfg.Feed == "" {
		cfg.Feed = FeedIEX
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataURL == "" {
		cfg.DataURL = DataBaseURL
	}
	rest := marketdata.NewClient(marketdata.ClientOpts{APIKey: cfg.KeyID, APISecret: cfg.SecretKey, BaseURL: cfg.DataURL,
		Feed: marketdata.Feed(cfg.Feed), RetryLimit: 1, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	return &Feed{cfg: cfg, log: log.With("venue", "alpaca", "feed", cfg.Feed), rest: rest, want: map[string]bool{},
		changed: make(chan struct{}, 1), resync: map[string]bool{}, last: map[string]time.Time{}}, nil
}

// Platform implements polybot.MarketFeed.
func (f *Feed) Platform() polybot.Platform { return polybot.Alpaca }

// Instrument is the instrument of a symbol.
func Instrument(symbol string) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.Alpaca, Market: symbol}
}

// Subscribe implements polybot.MarketFeed. It never touches the network:
// Run applies the change on its own goroutine.
func (f *Feed) Subscribe(_ context.Context, insts ...polybot.Instrument) error {
	return f.change(true, insts)
}

// Unsubscribe implements polybot.MarketFeed.
func (f *Feed) Unsubscribe(insts ...polybot.Instrument) error { return f.change(false, insts) }

func (f *Feed) change(add bool, insts []polybot.Instrument) error {
	f.mu.Lock()
	for _, i := range insts {
		if i.Venue != polybot.Alpaca || i.Market == "" {
			f.mu.Unlock()
			return polybot.FieldError("instrument", "is not an Alpaca symbol: "+i.Key())
		}
		if add {
			f.want[i.Market] = true
		} else {
			delete(f.want, i.Market)
		}
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return nil
}

// Resync implements polybot.MarketFeed: every quote is a whole book, so
// the next one is the fresh snapshot; there is nothing to ask for.
// Resync implements polybot.MarketFeed: Run reads the symbol's latest
// quote again and delivers it as a fresh snapshot.
func (f *Feed) Resync(inst polybot.Instrument) error {
	f.mu.Lock()
	if f.want[inst.Market] {
		f.resync[inst.Market] = true
	}
	f.mu.Unlock()
	f.kick()
	return nil
}

func (f *Feed) kick() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// snapshots reads syms' latest quotes from the Market Data API and
// delivers each as a snapshot (a symbol with no quote keeps its book).
func (f *Feed) snapshots(syms []string) {
	if len(syms) == 0 {
		return
	}
	qs, err := f.rest.GetLatestQuotes(syms, marketdata.GetLatestQuoteRequest{})
	if err != nil {
		f.log.Warn("alpaca market data: latest quotes", "symbols", syms, "err", err)
		return
	}
	for _, sym := range syms {
		if q, ok := qs[sym]; ok {
			f.deliver(sym, q.Timestamp, q.BidPrice, q.BidSize, q.AskPrice, q.AskSize)
		}
	}
}

func (f *Feed) wanted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.want))
}

// ErrBadKey is what Run returns when Alpaca refuses the key (the stream's
// 402 "auth failed"): retrying cannot help.
var ErrBadKey = errors.New("alpaca market data: the key was refused (402 auth failed)")

// Run implements polybot.MarketFeed: it connects, keeps the subscriptions
// in step with Subscribe and Unsubscribe, and delivers quotes to sink
// until ctx ends. The SDK reconnects a dropped socket itself (and
// resubscribes); when it gives up, Run starts a new client after a
// backoff. A refused key ends Run with ErrBadKey.
func (f *Feed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	f.mu.Lock()
	f.sink = sink
	f.mu.Unlock()
	wait := f.cfg.Backoff
	for {
		err := f.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, stream.ErrInvalidCredentials) {
			return ErrBadKey
		}
		f.log.Warn("alpaca market data: stream ended; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// session runs one SDK client until it terminates or ctx ends.
func (f *Feed) session(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	subs := f.wanted()
	onQuote := func(q stream.Quote) { f.quote(q) }
	c := stream.NewStocksClient(f.cfg.Feed,
		stream.WithCredentials(f.cfg.KeyID, f.cfg.SecretKey),
		stream.WithBaseURL(f.cfg.BaseURL),
		stream.WithQuotes(onQuote, subs...),
		stream.WithReconnectSettings(20, 250*time.Millisecond),
		stream.WithDisconnectCallback(f.invalidateAll),
		stream.WithConnectCallback(func() { f.mu.Lock(); f.fresh = true; f.mu.Unlock(); f.kick() }),
		stream.WithLogger(sdkLogger{f.log}),
	)
	if err := c.Connect(ctx); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, s := range subs {
		have[s] = true
	}
	for {
		// Bring the subscription in step with what the hub wants.
		want := f.wanted()
		var add, drop []string
		for _, s := range want {
			if !have[s] {
				add = append(add, s)
			}
		}
		for s := range have {
			if !slices.Contains(want, s) {
				drop = append(drop, s)
			}
		}
		if len(add) > 0 {
			if err := c.SubscribeToQuotes(onQuote, add...); err != nil {
				f.log.Warn("alpaca market data: subscribe", "symbols", add, "err", err)
			} else {
				for _, s := range add {
					have[s] = true
				}
				f.snapshots(add)
			}
		}
		// After a (re)connection every subscribed symbol, and any symbol
		// the hub asked to resync, is read again.
		f.mu.Lock()
		var again []string
		if f.fresh {
			again, f.fresh = slices.Sorted(maps.Keys(have)), false
		} else {
			for sym := range f.resync {
				if have[sym] {
					again = append(again, sym)
				}
			}
		}
		clear(f.resync)
		f.mu.Unlock()
		f.snapshots(again)
		if len(drop) > 0 {
			if err := c.UnsubscribeFromQuotes(drop...); err != nil {
				f.log.Warn("alpaca market data: unsubscribe", "symbols", drop, "err", err)
			} else {
				for _, s := range drop {
					delete(have, s)
				}
			}
		}
		retry := time.Duration(0)
		if len(f.wanted()) != len(have) {
			retry = time.Second // a change failed: try again soon
		}
		var tick <-chan time.Time
		if retry > 0 {
			tick = time.After(retry)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-c.Terminated():
			f.invalidateAll()
			if err == nil {
				err = errors.New("stream terminated")
			}
			return err
		case <-f.changed:
		case <-tick:
		}
	}
}

// quote turns one streamed quote into a top-of-book snapshot.
func (f *Feed) quote(q stream.Quote) {
	f.deliver(q.Symbol, q.Timestamp, q.BidPrice, q.BidSize, q.AskPrice, q.AskSize)
}

// deliver hands one quote to the sink as a snapshot, unless a newer one
// of the symbol went already or the hub no longer wants it.
func (f *Feed) deliver(sym string, at time.Time, bid float64, bidSize uint32, ask float64, askSize uint32) {
	f.mu.Lock()
	sink, want := f.sink, f.want[sym]
	stale := at.Before(f.last[sym])
	if sink != nil && want && !stale {
		f.last[sym] = at
	}
	f.mu.Unlock()
	if sink == nil || !want || stale {
		return
	}
	ev := polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: Instrument(sym), Time: at, Received: time.Now()}
	if l, ok := level(bid, bidSize); ok {
		ev.Bids = []polybot.Level{l}
	}
	if l, ok := level(ask, askSize); ok {
		ev.Asks = []polybot.Level{l}
	}
	sink(ev)
}

// level is one side of a quote; false when the side is empty (price or
// size zero) or the price is not a decimal PolyBot can hold.
func level(price float64, size uint32) (polybot.Level, bool) {
	if price <= 0 || size == 0 {
		return polybot.Level{}, false
	}
	p, err := PriceOf(price)
	if err != nil {
		return polybot.Level{}, false
	}
	return polybot.Level{Price: p, Size: polybot.NewDecimal(int64(size), 0)}, true
}

// PriceOf converts a price the SDK hands over as float64 into the exact
// decimal the venue quoted (see the comment at the top of this file).
func PriceOf(f float64) (polybot.Decimal, error) {
	d, err := polybot.ParseDecimal(strconv.FormatFloat(f, 'f', -1, 64))
	if err != nil {
		return polybot.Zero, fmt.Errorf("alpaca price %v: %w", f, err)
	}
	return d, nil
}

// invalidateAll marks every subscribed book unknown (the socket dropped).
func (f *Feed) invalidateAll() {
	f.mu.Lock()
	sink := f.sink
	clear(f.last) // the next snapshot is fresh, whatever its time
	f.mu.Unlock()
	syms := f.wanted()
	if sink == nil {
		return
	}
	now := time.Now()
	for _, s := range syms {
		sink(polybot.BookEvent{Kind: polybot.BookInvalidate, Instrument: Instrument(s), Received: now})
	}
}

// sdkLogger sends the SDK's log lines to slog.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Infof(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s sdkLogger) Warnf(format string, v ...any)  { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s sdkLogger) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
