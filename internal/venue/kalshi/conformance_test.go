package kalshi_test

// The connector conformance suite: the connector against the simulator, over
// real loopback HTTP and WebSocket sockets.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/venue/kalshi"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
	"github.com/polybot/polybot/internal/venuetest"
)

const ticker = kalshisim.FedTicker

var (
	keyOnce sync.Once
	keys    [2]*rsa.PrivateKey
)

// testKeys returns two RSA keys, made once per run: the tenant's, and a
// forger's (which is also the venue's second account's).
func testKeys(t *testing.T) (good, forged *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		for i := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}
	})
	return keys[0], keys[1]
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8PEM(t *testing.T, k *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
}

func publicPEM(t *testing.T, k *rsa.PrivateKey) string {
	b, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: b}))
}

type env struct {
	sim   *kalshisim.Server
	urls  kalshisim.URLs
	keyID string
	key   *rsa.PrivateKey
}

func startSim(t *testing.T) *env {
	t.Helper()
	good, second := testKeys(t)
	sim, err := kalshisim.New(kalshisim.Config{Accounts: []kalshisim.AccountConfig{
		{KeyID: "tenant-key", PublicKeyPEM: publicPEM(t, good), Balance: polybot.MustDecimal("1000")},
		{KeyID: "second-key", PublicKeyPEM: publicPEM(t, second), Balance: polybot.MustDecimal("1000")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, sim.Start, sim.Close)
	return &env{sim: sim, urls: urls, keyID: "tenant-key", key: good}
}

func (e *env) exchange(t *testing.T, mod func(*kalshi.ExchangeConfig)) *kalshi.Exchange {
	t.Helper()
	cfg := kalshi.ExchangeConfig{BaseURL: e.urls.REST, KeyID: e.keyID, PrivateKeyPEM: pkcs1PEM(e.key)}
	if mod != nil {
		mod(&cfg)
	}
	x, err := kalshi.NewExchange(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// books is a feed sink that keeps a marketdata.Book per instrument.
type books struct {
	mu    sync.Mutex
	books map[string]*marketdata.Book
	fills []polybot.Fill
}

func (b *books) sink(ev polybot.BookEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.books == nil {
		b.books = map[string]*marketdata.Book{}
	}
	bk := b.books[ev.Instrument.Key()]
	if bk == nil {
		bk = marketdata.NewBook(ev.Instrument)
		b.books[ev.Instrument.Key()] = bk
	}
	bk.Apply(&ev)
}

func (b *books) onFill(f polybot.Fill) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fills = append(b.fills, f)
}

func (b *books) book(in polybot.Instrument) *marketdata.Book {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bk := b.books[in.Key()]; bk != nil {
		return bk.Clone()
	}
	return marketdata.NewBook(in)
}

func (b *books) fillCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.fills)
}

// feed returns a feed (trades on, fills to onFill) on the tenant's key,
// reconnecting quickly.
func (e *env) feed(t *testing.T, onFill func(polybot.Fill)) *kalshi.Feed {
	t.Helper()
	f, err := kalshi.NewFeed(kalshi.FeedConfig{URL: e.urls.WS, Signer: kalshi.NewSigner(e.keyID, kalshi.NewPrivateKey(e.key), nil),
		Trades: true, OnFill: onFill, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// runFeed starts a feed subscribed to both instruments of ticker.
func (e *env) runFeed(t *testing.T) (*kalshi.Feed, *books) {
	t.Helper()
	b := &books{}
	f := e.feed(t, b.onFill)
	yes, no := kalshi.Instruments(ticker)
	if err := f.Subscribe(context.Background(), yes, no); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx, b.sink) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, b
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func lv(p, s string) polybot.Level {
	return polybot.Level{Price: polybot.MustDecimal(p), Size: polybot.MustDecimal(s)}
}

// simBooks are the simulator's books in PolyBot's terms, read over REST.
func (e *env) simBooks(t *testing.T) (yes, no polybot.BookEvent) {
	t.Helper()
	c, err := kalshi.NewClient(e.urls.REST, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := c.Orderbook(context.Background(), ticker, 0)
	if err != nil {
		t.Fatal(err)
	}
	return kalshi.BookEvents(ticker, ob, time.Now())
}

func (e *env) booksMatch(t *testing.T, b *books) func() bool {
	return func() bool {
		sy, sn := e.simBooks(t)
		y, n := b.book(sy.Instrument), b.book(sn.Instrument)
		return slices.Equal(y.Bids, sy.Bids) && slices.Equal(y.Asks, sy.Asks) && slices.Equal(n.Bids, sn.Bids) && slices.Equal(n.Asks, sn.Asks)
	}
}

func TestConformanceAuthAcceptedAndForgedAuthRejected(t *testing.T) {
	e := startSim(t)
	ctx := context.Background()
	if err := e.exchange(t, nil).ValidateCredentials(ctx); err != nil {
		t.Fatalf("valid PKCS#1 key refused: %v", err)
	}
	if err := e.exchange(t, func(c *kalshi.ExchangeConfig) { c.PrivateKeyPEM = pkcs8PEM(t, e.key) }).ValidateCredentials(ctx); err != nil {
		t.Fatalf("valid PKCS#8 key refused: %v", err)
	}
	_, forger := testKeys(t)
	cases := []struct {
		name     string
		mod      func(*kalshi.ExchangeConfig)
		wantCode string
		wantMsg  string
	}{
		{"a signature by another key", func(c *kalshi.ExchangeConfig) { c.PrivateKeyPEM = pkcs1PEM(forger) }, "authentication_error", "INCORRECT_API_KEY_SIGNATURE"},
		{"an unknown key id", func(c *kalshi.ExchangeConfig) { c.KeyID = "nobody" }, "authentication_error", "NOT_FOUND"},
		{"a stale timestamp", func(c *kalshi.ExchangeConfig) {
			c.Now = func() time.Time { return time.Now().Add(-5 * time.Minute) }
		}, "header_timestamp_expired", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.exchange(t, tc.mod).ValidateCredentials(ctx)
			var ve *polybot.VenueError
			if !errors.As(err, &ve) || ve.Status != http.StatusUnauthorized || ve.Code != tc.wantCode {
				t.Fatalf("err = %v, want a 401 %s", err, tc.wantCode)
			}
			if tc.wantMsg != "" && !contains(ve.Message, tc.wantMsg) {
				t.Fatalf("message %q lacks %q", ve.Message, tc.wantMsg)
			}
			if errors.Is(err, polybot.ErrOutcomeUnknown) {
				t.Fatal("a refused read must not be an unknown outcome")
			}
		})
	}
	t.Run("a forged WebSocket handshake", func(t *testing.T) {
		f, err := kalshi.NewFeed(kalshi.FeedConfig{URL: e.urls.WS, Signer: kalshi.NewSigner(e.keyID, kalshi.NewPrivateKey(forger), nil),
			MinBackoff: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_ = f.Run(ctx, func(polybot.BookEvent) {})
		if f.Stats().Connects != 0 {
			t.Fatal("the simulator accepted a forged handshake")
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestConformanceBookMatchesSimulatorIncludingNoSide(t *testing.T) {
	e := startSim(t)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.50", "4024"), lv("0.49", "100")},
		[]polybot.Level{lv("0.48", "26176"), lv("0.47", "12.5")}); err != nil {
		t.Fatal(err)
	}
	_, b := e.runFeed(t)
	eventually(t, "the feed's books match the simulator's", e.booksMatch(t, b))
	yes, no := kalshi.Instruments(ticker)
	y, n := b.book(yes), b.book(no)
	// A NO bid at 0.48 is a YES ask at 0.52; a YES bid at 0.50 a NO ask at 0.50.
	if ask, _ := y.BestAsk(); ask != lv("0.52", "26176") {
		t.Fatalf("YES best ask = %v, want 0.52 × 26176", ask)
	}
	if ask, _ := n.BestAsk(); ask != lv("0.50", "4024") {
		t.Fatalf("NO best ask = %v, want 0.50 × 4024", ask)
	}
	if bid, _ := n.BestBid(); bid != lv("0.48", "26176") {
		t.Fatalf("NO best bid = %v, want 0.48 × 26176", bid)
	}
	// Deltas: a level changes, one goes, one comes.
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.50", "10"), lv("0.51", "7")},
		[]polybot.Level{lv("0.47", "12.5")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deltas reach the feed's books", e.booksMatch(t, b))
	if y, _ := b.book(yes).BestBid(); y != lv("0.51", "7") {
		t.Fatalf("YES best bid after deltas = %v", y)
	}
}

func TestConformanceOrderPartiallyFilledFilledAndCancelled(t *testing.T) {
	e := startSim(t)
	ctx := context.Background()
	x := e.exchange(t, nil)
	_, b := e.runFeed(t)
	// Five contracts offered: a NO bid at 0.45 is a YES ask at 0.55.
	if err := e.sim.SetBook(ticker, nil, []polybot.Level{lv("0.45", "5")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the feed has the book", e.booksMatch(t, b))
	yes, no := kalshi.Instruments(ticker)

	st, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "coid-buy-yes", Instrument: yes, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.55"), Size: polybot.MustDecimal("10"), TIF: polybot.GTC})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderPartial || st.Filled != polybot.MustDecimal("5") || st.VenueOrderID == "" {
		t.Fatalf("after placing: %+v, want partially filled 5 of 10", st)
	}
	eventually(t, "the fill arrives on the WebSocket", func() bool { return b.fillCount() >= 1 })
	b.mu.Lock()
	f := b.fills[0]
	b.mu.Unlock()
	if f.Instrument != yes || f.Side != polybot.Buy || f.Price != polybot.MustDecimal("0.55") || f.Size != polybot.MustDecimal("5") ||
		f.ClientOrderID != "coid-buy-yes" || f.Maker || f.Fee != polybot.MustDecimal("0.09") {
		t.Fatalf("WS fill = %+v, want a taker buy of 5 YES at 0.55 with a 0.09 fee", f)
	}

	// More liquidity arrives at 0.55 and trades with the resting rest.
	if err := e.sim.SetBook(ticker, nil, []polybot.Level{lv("0.45", "5")}); err != nil {
		t.Fatal(err)
	}
	st, err = x.Order(ctx, "coid-buy-yes")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderFilled || st.Filled != polybot.MustDecimal("10") || st.Instrument != yes || st.Side != polybot.Buy {
		t.Fatalf("after the second fill: %+v, want filled 10", st)
	}
	eventually(t, "the maker fill arrives on the WebSocket", func() bool { return b.fillCount() >= 2 })

	// A NO bid that rests, then is cancelled.
	st, err = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "coid-buy-no", Instrument: no, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.30"), Size: polybot.MustDecimal("4"), TIF: polybot.GTC})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderOpen || st.Instrument != no {
		t.Fatalf("resting NO order: %+v", st)
	}
	eventually(t, "the resting NO bid shows in the feed's book", func() bool {
		bid, ok := b.book(no).BestBid()
		return ok && bid == lv("0.30", "4")
	})
	open, err := x.OpenOrders(ctx)
	if err != nil || len(open) != 1 || open[0].ClientOrderID != "coid-buy-no" || open[0].Instrument != no ||
		open[0].Price != polybot.MustDecimal("0.30") || open[0].Side != polybot.Buy {
		t.Fatalf("open orders = %+v, %v", open, err)
	}
	if err := x.CancelOrder(ctx, "coid-buy-no"); err != nil {
		t.Fatal(err)
	}
	if st, err = x.Order(ctx, "coid-buy-no"); err != nil || st.State != polybot.OrderCancelled {
		t.Fatalf("after cancel: %+v, %v", st, err)
	}
	if err := x.CancelOrder(ctx, "coid-buy-no"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("cancelling twice: %v, want not found", err)
	}
	if _, err := x.Order(ctx, "never-sent"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("unknown client order id: %v, want not found", err)
	}

	// Money: 10 × 0.55 paid, a taker fee of ceil(0.07 × 5 × 0.55 × 0.45) =
	// 0.09, and no maker fee on a quadratic series.
	bal, err := x.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bal.Available != polybot.MustDecimal("994.41") {
		t.Fatalf("balance = %+v, want 994.41 available", bal)
	}
	pos, err := x.Positions(ctx)
	if err != nil || len(pos) != 1 || pos[0].Instrument != yes || pos[0].Size != polybot.MustDecimal("10") ||
		pos[0].AvgPrice != polybot.MustDecimal("0.55") {
		t.Fatalf("positions = %+v, %v", pos, err)
	}
	fills, err := x.Fills(ctx, time.Time{})
	if err != nil || len(fills) != 2 {
		t.Fatalf("fills = %+v, %v", fills, err)
	}
	for _, f := range fills {
		if f.ClientOrderID != "coid-buy-yes" || f.Instrument != yes || f.Side != polybot.Buy || f.Size != polybot.MustDecimal("5") {
			t.Fatalf("REST fill = %+v", f)
		}
	}
}

func TestConformanceLegacyRouteBuysNoInItsOwnTerms(t *testing.T) {
	e := startSim(t)
	ctx := context.Background()
	x := e.exchange(t, func(c *kalshi.ExchangeConfig) { c.Legacy = true })
	// A YES bid at 0.62 is what a NO buyer at 0.38 trades with.
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.62", "3")}, nil); err != nil {
		t.Fatal(err)
	}
	_, no := kalshi.Instruments(ticker)
	st, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "legacy-no", Instrument: no, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.38"), Size: polybot.MustDecimal("3"), TIF: polybot.FAK})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderFilled || st.Instrument != no || st.Price != polybot.MustDecimal("0.38") {
		t.Fatalf("legacy NO buy: %+v", st)
	}
	// A fresh exchange (no memory of the intent) reads the legacy side/action.
	o, err := e.exchange(t, nil).Order(ctx, "legacy-no")
	if err != nil || o.Instrument != no || o.Side != polybot.Buy || o.Price != polybot.MustDecimal("0.38") {
		t.Fatalf("legacy order read back: %+v, %v", o, err)
	}
	pos, err := x.Positions(ctx)
	if err != nil || len(pos) != 1 || pos[0].Instrument != no || pos[0].Size != polybot.MustDecimal("3") {
		t.Fatalf("positions = %+v, %v", pos, err)
	}
}

func TestConformanceSeqGapResyncsNeverAWrongBook(t *testing.T) {
	e := startSim(t)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.40", "10")}, []polybot.Level{lv("0.50", "10")}); err != nil {
		t.Fatal(err)
	}
	f, b := e.runFeed(t)
	eventually(t, "the first snapshot", e.booksMatch(t, b))
	e.sim.SkipSeq(ticker)
	if err := e.sim.SetBook(ticker, []polybot.Level{lv("0.41", "3")}, []polybot.Level{lv("0.50", "10")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a gap is seen and resynced", func() bool { s := f.Stats(); return s.Gaps >= 1 && s.Resyncs >= 1 && s.Snapshots >= 2 })
	eventually(t, "the book matches after the resync", e.booksMatch(t, b))
	yes, _ := kalshi.Instruments(ticker)
	if bid, _ := b.book(yes).BestBid(); bid != lv("0.41", "3") {
		t.Fatalf("YES best bid after resync = %v", bid)
	}
}

func TestMarketFeeScheduleIsReadFromTheSeriesOverTheWire(t *testing.T) {
	e := startSim(t)
	if err := e.sim.AddSeries(kalshisim.SeriesConfig{Ticker: "KXHALF", FeeType: "quadratic_with_maker_fees", FeeMultiplier: polybot.MustDecimal("0.5")}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.AddMarket(kalshisim.MarketConfig{Ticker: "KXHALF-26JAN-T1", EventTicker: "KXHALF-26JAN", SeriesTicker: "KXHALF"}); err != nil {
		t.Fatal(err)
	}
	x := e.exchange(t, nil)
	ctx := context.Background()
	got, err := x.Client().MarketFeeSchedule(ctx, "KXHALF-26JAN-T1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "quadratic_with_maker_fees" || got.Multiplier != polybot.MustDecimal("0.5") {
		t.Fatalf("schedule %+v", got)
	}
	// 100 at 0.50: ceil(0.07 × 0.5 × 100 × 0.25) = ceil(0.875) = $0.88.
	if f := got.TakerFee(polybot.MustDecimal("0.5"), polybot.MustDecimal("100")); f != polybot.MustDecimal("0.88") {
		t.Fatalf("fee %s", f)
	}
	fed, err := x.Client().MarketFeeSchedule(ctx, ticker)
	if err != nil || fed.Type != "quadratic" || !fed.Multiplier.IsZero() && fed.Multiplier != polybot.One {
		t.Fatalf("fed schedule %+v, %v", fed, err)
	}
}

// TestVenueConformance runs the shared suite (internal/venuetest) on the
// YES side of the Fed market.
func TestVenueConformance(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) *venuetest.Venue {
		e := startSim(t)
		yes, _ := kalshi.Instruments(ticker)
		_, second := testKeys(t)
		return &venuetest.Venue{
			Instrument: yes,
			Exchange: func(t *testing.T, o venuetest.ExchangeOptions) polybot.Exchange {
				return e.exchange(t, func(c *kalshi.ExchangeConfig) {
					if o.Account == 1 {
						c.KeyID, c.PrivateKeyPEM = "second-key", pkcs1PEM(second)
					}
					if o.BadCredentials {
						c.PrivateKeyPEM = pkcs1PEM(second) // tenant-key's id, signed by another key
					}
					c.HTTPClient = o.HTTPClient()
				})
			},
			Cash: polybot.MustDecimal("1000"),
			// Quadratic series: ceil(0.07 × 6 × 0.40 × 0.60) = ceil(0.1008) = $0.11.
			TakerFee: polybot.MustDecimal("0.11"),
			// YES asks are NO bids at 1 − price.
			SetBook: func(t *testing.T, bids, asks []polybot.Level) {
				if err := e.sim.SetBook(ticker, bids, oneMinus(asks)); err != nil {
					t.Fatal(err)
				}
			},
			Faults: e.sim.Faults(),
			Feed: func(t *testing.T) polybot.MarketFeed {
				return e.feed(t, nil)
			},
			VenueSubscriptions: func() int { return e.sim.Subscriptions("orderbook_delta", ticker) },
		}
	})
}
