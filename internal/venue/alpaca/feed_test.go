package alpaca_test

// The market-data feed against the simulator's stream, over real loopback
// sockets, through the SDK's StocksClient (msgpack over WebSocket).

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/alpaca"
)

// TestPriceOfIsTheVenuesExactDecimal checks the float64 boundary: the
// venue's cent and sub-dollar 4-place prices, as the nearest float64 the
// wire carries, come back as exactly the decimal that was quoted.
func TestPriceOfIsTheVenuesExactDecimal(t *testing.T) {
	tenth, fifth := 0.1, 0.2
	tests := []struct {
		f    float64
		want string
	}{
		{89.13, "89.13"},
		{0.1234, "0.1234"},
		{0.0001, "0.0001"},
		{1234.56, "1234.56"},
		{99999.99, "99999.99"},
		{tenth + fifth, ""}, // 0.30000000000000004: not a venue price, refused rather than rounded
		{500, "500"},
	}
	for _, tt := range tests {
		got, err := alpaca.PriceOf(tt.f)
		if tt.want == "" {
			if err == nil {
				t.Errorf("PriceOf(%v) = %s, want an error", tt.f, got)
			}
			continue
		}
		if err != nil || got != d(tt.want) {
			t.Errorf("PriceOf(%v) = %s, %v; want %s", tt.f, got, err, tt.want)
		}
	}
}

type feedRun struct {
	feed   *alpaca.Feed
	events chan polybot.BookEvent
	done   chan error
}

func runFeed(t *testing.T, base, key, secret string) *feedRun {
	t.Helper()
	f, err := alpaca.NewFeed(alpaca.FeedConfig{KeyID: key, SecretKey: secret, BaseURL: base + "/v2", DataURL: base, Backoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &feedRun{feed: f, events: make(chan polybot.BookEvent, 64), done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx, func(e polybot.BookEvent) { r.events <- e }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// next waits for the next event of kind for the symbol.
func (r *feedRun) next(t *testing.T, kind polybot.BookEventKind, symbol string) polybot.BookEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.events:
			if e.Kind == kind && e.Instrument.Market == symbol {
				return e
			}
		case err := <-r.done:
			t.Fatalf("Run returned %v while waiting", err)
		case <-deadline:
			t.Fatalf("no %v event for %s within 10 s", kind, symbol)
		}
	}
}

func lv(p, s string) []polybot.Level { return []polybot.Level{{Price: d(p), Size: d(s)}} }

func sameBook(t *testing.T, e polybot.BookEvent, bidP, bidS, askP, askS string) {
	t.Helper()
	if e.Instrument != (polybot.Instrument{Venue: polybot.Alpaca, Market: e.Instrument.Market}) {
		t.Errorf("instrument = %+v", e.Instrument)
	}
	if len(e.Bids) != 1 || len(e.Asks) != 1 || e.Bids[0] != lv(bidP, bidS)[0] || e.Asks[0] != lv(askP, askS)[0] {
		t.Fatalf("book = bids %v asks %v, want %s×%s / %s×%s", e.Bids, e.Asks, bidP, bidS, askP, askS)
	}
}

// waitClients waits until the simulator has n authenticated stream clients.
func waitClients(t *testing.T, n int, count func() int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); count() != n; {
		if time.Now().After(end) {
			t.Fatalf("stream clients = %d, want %d", count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFeedDeliversQuotesAsTopOfBookSnapshotsAndRecoversADroppedSocket(t *testing.T) {
	sim, base := startSim(t)
	r := runFeed(t, base, "PKTEST", "secret")
	tlt := alpaca.Instrument("TLT")
	if err := r.feed.Subscribe(context.Background(), tlt, alpaca.Instrument("PENNY")); err != nil {
		t.Fatal(err)
	}
	waitClients(t, 1, sim.StreamClients)
	// The subscription is applied on Run's goroutine; a book set before it
	// lands would be missed (Alpaca sends no quote on subscribe), so set
	// books until the first quote shows.
	deadline := time.Now().Add(10 * time.Second)
	var e polybot.BookEvent
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatal("no quote for TLT")
		}
		if err := sim.SetBook("TLT", lv("89.12", "300"), lv("89.13", "200")); err != nil {
			t.Fatal(err)
		}
		select {
		case e = <-r.events:
			got = e.Kind == polybot.BookSnapshot && e.Instrument == tlt
		case <-time.After(100 * time.Millisecond):
			_ = sim.SetBook("TLT", lv("89.11", "300"), lv("89.13", "200")) // change it, so the next set quotes again
		}
	}
	sameBook(t, e, "89.12", "300", "89.13", "200")
	if e.Time.IsZero() || e.Received.IsZero() {
		t.Errorf("times = %v / %v, want the venue's and ours", e.Time, e.Received)
	}

	// An update replaces the whole top of book; sub-dollar prices keep
	// their four places.
	if err := sim.SetBook("TLT", lv("89.15", "100"), lv("89.17", "400")); err != nil {
		t.Fatal(err)
	}
	sameBook(t, r.next(t, polybot.BookSnapshot, "TLT"), "89.15", "100", "89.17", "400")
	if err := sim.SetBook("PENNY", lv("0.1234", "5000"), lv("0.1236", "7000")); err != nil {
		t.Fatal(err)
	}
	sameBook(t, r.next(t, polybot.BookSnapshot, "PENNY"), "0.1234", "5000", "0.1236", "7000")

	// A dropped socket invalidates the books; the SDK reconnects and
	// resubscribes, the latest quote comes at once as a fresh snapshot (the
	// book as it stands), and changes flow again.
	sim.DropStreams()
	r.next(t, polybot.BookInvalidate, "TLT")
	waitClients(t, 1, sim.StreamClients)
	sameBook(t, r.next(t, polybot.BookSnapshot, "TLT"), "89.15", "100", "89.17", "400")
	if err := sim.SetBook("TLT", lv("89.20", "100"), lv("89.21", "100")); err != nil {
		t.Fatal(err)
	}
	sameBook(t, r.next(t, polybot.BookSnapshot, "TLT"), "89.20", "100", "89.21", "100")
}

func TestFeedRefusedKeyEndsRun(t *testing.T) {
	_, base := startSim(t)
	f, err := alpaca.NewFeed(alpaca.FeedConfig{KeyID: "PKTEST", SecretKey: "wrong", BaseURL: base + "/v2"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = f.Run(ctx, func(polybot.BookEvent) {})
	if !errors.Is(err, alpaca.ErrBadKey) {
		t.Fatalf("Run = %v, want ErrBadKey", err)
	}
}

func TestNewFeedNamesTheMissingKeyFields(t *testing.T) {
	_, err := alpaca.NewFeed(alpaca.FeedConfig{})
	f := polybot.ErrorFields(err)
	if f[polybot.FieldAPIKey] == "" || f[polybot.FieldAPISecret] == "" {
		t.Fatalf("fields = %v", f)
	}
	if err := (&alpaca.Feed{}).Subscribe(context.Background(), polybot.Instrument{Venue: polybot.Kalshi, Market: "X"}); err == nil {
		t.Error("a Kalshi instrument was accepted")
	}
}

// The stream quotes only on change: a subscription, and a Resync, read the
// latest quote from the Market Data API, so a book set before the
// subscription is there at once.
func TestFeedReadsTheLatestQuoteOnSubscribeAndResync(t *testing.T) {
	sim, base := startSim(t)
	if err := sim.SetBook("TLT", lv("89.12", "300"), lv("89.13", "200")); err != nil {
		t.Fatal(err)
	}
	r := runFeed(t, base, "PKTEST", "secret")
	tlt := alpaca.Instrument("TLT")
	if err := r.feed.Subscribe(context.Background(), tlt); err != nil {
		t.Fatal(err)
	}
	sameBook(t, r.next(t, polybot.BookSnapshot, "TLT"), "89.12", "300", "89.13", "200")
	if err := r.feed.Resync(tlt); err != nil {
		t.Fatal(err)
	}
	sameBook(t, r.next(t, polybot.BookSnapshot, "TLT"), "89.12", "300", "89.13", "200")
}
