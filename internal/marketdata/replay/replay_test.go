package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

const testdata = "../../../testdata"

func open(t testing.TB, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// rawLines decodes each line of a testdata JSONL file into a generic map,
// independently of the readers under test.
func rawLines(t *testing.T, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(open(t, name))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("not a number: %q", s)
	}
	return r
}

func decRat(d polybot.Decimal) *big.Rat { return big.NewRat(d.Micros(), 1_000_000) }

func sameNumber(t *testing.T, what string, got polybot.Decimal, want *big.Rat) {
	t.Helper()
	if decRat(got).Cmp(want) != 0 {
		t.Errorf("%s = %s, want %s", what, got, want.FloatString(6))
	}
}

// best returns the best price (max for bids, min for asks) of raw levels and
// the size there, or nil when there are none.
func best(t *testing.T, raw any, max bool) (price, size *big.Rat) {
	for _, x := range raw.([]any) {
		l := x.(map[string]any)
		p, s := rat(t, l["price"].(string)), rat(t, l["size"].(string))
		if price == nil || (max && p.Cmp(price) > 0) || (!max && p.Cmp(price) < 0) {
			price, size = p, s
		}
	}
	return price, size
}

func TestPolymarketBookReplayReproducesEachBestBidAndAsk(t *testing.T) {
	evs, err := ReadPolymarketBooks(open(t, "polymarket/ws_book.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawLines(t, "polymarket/ws_book.jsonl")
	if len(evs) != len(raw) || len(raw) != 10 {
		t.Fatalf("%d events for %d messages", len(evs), len(raw))
	}
	for i, m := range raw {
		ev := evs[i]
		b := marketdata.NewBook(ev.Instrument)
		b.Apply(&ev)
		name := fmt.Sprintf("message %d (%s…)", i+1, m["asset_id"].(string)[:12])
		if ev.Instrument.Token != m["asset_id"] || ev.Instrument.Market != m["market"] || ev.Kind != polybot.BookSnapshot {
			t.Errorf("%s: instrument %+v", name, ev.Instrument)
		}
		sameNumber(t, name+" tick size", b.TickSize, rat(t, m["tick_size"].(string)))
		ms := rat(t, m["timestamp"].(string)).Num().Int64()
		if !ev.Time.Equal(time.UnixMilli(ms)) {
			t.Errorf("%s: time %s", name, ev.Time)
		}
		for _, side := range []struct {
			key string
			max bool
			got func() (polybot.Level, bool)
		}{{"bids", true, b.BestBid}, {"asks", false, b.BestAsk}} {
			wp, ws := best(t, m[side.key], side.max)
			got, ok := side.got()
			if wp == nil {
				if ok {
					t.Errorf("%s: best of empty %s = %v", name, side.key, got)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: no best %s, want %s", name, side.key, wp.FloatString(6))
				continue
			}
			sameNumber(t, name+" best "+side.key+" price", got.Price, wp)
			sameNumber(t, name+" best "+side.key+" size", got.Size, ws)
		}
		if len(b.Bids) != len(m["bids"].([]any)) || len(b.Asks) != len(m["asks"].([]any)) {
			t.Errorf("%s: %d/%d levels, want %d/%d", name, len(b.Bids), len(b.Asks), len(m["bids"].([]any)), len(m["asks"].([]any)))
		}
	}
}

func TestPolymarketTradesReadAsTradeEvents(t *testing.T) {
	evs, err := ReadPolymarketTrades(open(t, "polymarket/ws_last_trade_price.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawLines(t, "polymarket/ws_last_trade_price.jsonl")
	if len(evs) != len(raw) || len(raw) != 10 {
		t.Fatalf("%d events for %d messages", len(evs), len(raw))
	}
	for i, m := range raw {
		ev := evs[i]
		if ev.Kind != polybot.BookTrade || ev.Instrument.Token != m["asset_id"] || ev.TradeSide.String() != m["side"] {
			t.Errorf("message %d: %+v", i+1, ev)
		}
		sameNumber(t, "price", ev.TradePrice, rat(t, m["price"].(string)))
		sameNumber(t, "size", ev.TradeSize, rat(t, m["size"].(string)))
		if ms := rat(t, m["timestamp"].(string)).Num().Int64(); ev.Time.UnixMilli() != ms {
			t.Errorf("message %d: time %s", i+1, ev.Time)
		}
	}
}

func TestKalshiTickersReadAsTopOfBookSnapshots(t *testing.T) {
	evs, err := ReadKalshiTickers(open(t, "kalshi/ws_ticker.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawLines(t, "kalshi/ws_ticker.jsonl")
	if len(evs) != len(raw) || len(raw) != 10 {
		t.Fatalf("%d events for %d messages", len(evs), len(raw))
	}
	for i, env := range raw {
		m := env["msg"].(map[string]any)
		ev := evs[i]
		if ev.Kind != polybot.BookSnapshot || ev.Instrument.Market != m["market_ticker"] || ev.Instrument.Outcome != polybot.Yes ||
			ev.Time.Unix() != int64(m["ts"].(float64)) {
			t.Errorf("message %d: %+v", i+1, ev)
		}
		for _, side := range []struct {
			levels      []polybot.Level
			price, size string
		}{{ev.Bids, "yes_bid_dollars", "yes_bid_size_fp"}, {ev.Asks, "yes_ask_dollars", "yes_ask_size_fp"}} {
			p, s := rat(t, m[side.price].(string)), rat(t, m[side.size].(string))
			if s.Sign() == 0 {
				if len(side.levels) != 0 {
					t.Errorf("message %d: a level with no size: %v", i+1, side.levels)
				}
				continue
			}
			if len(side.levels) != 1 {
				t.Errorf("message %d %s: levels %v", i+1, side.price, side.levels)
				continue
			}
			sameNumber(t, side.price, side.levels[0].Price, p)
			sameNumber(t, side.size, side.levels[0].Size, s)
		}
	}
}

func TestKalshiTradesReadAsYesTradeEvents(t *testing.T) {
	evs, err := ReadKalshiTrades(open(t, "kalshi/ws_trade.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawLines(t, "kalshi/ws_trade.jsonl")
	if len(evs) != len(raw) || len(raw) != 10 {
		t.Fatalf("%d events for %d messages", len(evs), len(raw))
	}
	for i, env := range raw {
		m := env["msg"].(map[string]any)
		ev := evs[i]
		wantSide := map[string]polybot.Side{"yes": polybot.Buy, "no": polybot.Sell}[m["taker_side"].(string)]
		if ev.Kind != polybot.BookTrade || ev.Instrument.Market != m["market_ticker"] || ev.TradeSide != wantSide {
			t.Errorf("message %d: %+v", i+1, ev)
		}
		sameNumber(t, "price", ev.TradePrice, rat(t, m["yes_price_dollars"].(string)))
		sameNumber(t, "count", ev.TradeSize, rat(t, m["count_fp"].(string)))
	}
}

func TestCrossVenueReplayDerivesAsksAndSkipsTheIncompleteRow(t *testing.T) {
	evs, skipped, err := ReadCrossVenue(bytes.NewReader(FedDec2025HoldCSV), FedDec2025Hold)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0].Line != 919 || skipped[0].Reason != "empty poly_best_bid_no" {
		t.Errorf("skipped %+v", skipped)
	}
	rows, err := csv.NewReader(bytes.NewReader(FedDec2025HoldCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var complete [][]string
	for _, r := range rows[1:] {
		if !strings.Contains(strings.Join(r, ",")+",", ",,") {
			complete = append(complete, r)
		}
	}
	if len(complete) != 1005 || len(evs) != 4*len(complete) {
		t.Fatalf("%d events for %d complete rows", len(evs), len(complete))
	}
	insts := FedDec2025Hold.Instruments()
	one := big.NewRat(1, 1)
	ask := func(bid string) *big.Rat { return new(big.Rat).Sub(one, rat(t, bid)) }
	for n, r := range complete {
		// Per instrument: bid price/size columns, and the columns its ask
		// derives from.
		want := [4][4]string{
			{r[1], r[3], r[2], r[4]},
			{r[2], r[4], r[1], r[3]},
			{r[5], r[7], r[6], r[8]},
			{r[6], r[8], r[5], r[7]},
		}
		for k := range 4 {
			ev := evs[4*n+k]
			if ev.Instrument != insts[k] || ev.Time.UnixMilli() != rat(t, r[0]).Num().Int64() {
				t.Fatalf("row %d event %d: %+v", n, k, ev)
			}
			if n > 0 && ev.Time.Before(evs[4*(n-1)].Time) {
				t.Fatalf("row %d out of time order", n)
			}
			if len(ev.Bids) != 1 || len(ev.Asks) != 1 {
				t.Fatalf("row %d event %d: levels %v %v", n, k, ev.Bids, ev.Asks)
			}
			sameNumber(t, "bid", ev.Bids[0].Price, rat(t, want[k][0]))
			sameNumber(t, "bid size", ev.Bids[0].Size, rat(t, want[k][1]))
			sameNumber(t, "ask", ev.Asks[0].Price, ask(want[k][2]))
			sameNumber(t, "ask size", ev.Asks[0].Size, rat(t, want[k][3]))
		}
	}
}

func TestCrossVenueReaderSortsRowsAndReportsBadOnes(t *testing.T) {
	head := "timestamp_ms,poly_best_bid_yes,poly_best_bid_no,poly_depth_best_yes,poly_depth_best_no,kalshi_best_bid_yes,kalshi_best_bid_no,kalshi_depth_best_yes,kalshi_depth_best_no\n"
	tests := []struct {
		name        string
		body        string
		wantTimes   string
		wantSkipped string
		wantErr     bool
	}{
		{"rows out of order come out in time order",
			"2000,0.5,0.49,1,1,0.5,0.48,1,1\n1000,0.4,0.59,1,1,0.4,0.58,1,1\n", "1000 2000", "", false},
		{"an empty field skips its row",
			"1000,0.5,,1,1,0.5,0.48,1,1\n2000,0.5,0.49,1,1,0.5,0.48,1,1\n", "2000", "2:empty poly_best_bid_no", false},
		{"an unparsable price skips its row",
			"1000,0.5,0.49,1,1,abc,0.48,1,1\n", "", `2:bad kalshi_best_bid_yes "abc"`, false},
		{"a wrong header is an error", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := head + tt.body
			if tt.wantErr {
				in = "time,a,b\n"
			}
			evs, skipped, err := ReadCrossVenue(strings.NewReader(in), FedDec2025Hold)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			var times []string
			for i := 0; i < len(evs); i += 4 {
				times = append(times, fmt.Sprint(evs[i].Time.UnixMilli()))
			}
			var sk []string
			for _, s := range skipped {
				sk = append(sk, fmt.Sprintf("%d:%s", s.Line, s.Reason))
			}
			if strings.Join(times, " ") != tt.wantTimes || strings.Join(sk, ";") != tt.wantSkipped {
				t.Errorf("times %v skipped %v", times, sk)
			}
		})
	}
}

// fakeClock advances by exactly what the replay waits for.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestPlayPacesBySpeedFactorOrRunsFlatOut(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []polybot.BookEvent{{Time: t0}, {Time: t0.Add(2 * time.Second)}, {Time: t0.Add(2 * time.Second)}, {Time: t0.Add(10 * time.Second)}}
	tests := []struct {
		name      string
		speed     float64
		wantWaits []time.Duration
	}{
		{"as fast as possible", 0, nil},
		{"real time", 1, []time.Duration{2 * time.Second, 8 * time.Second}},
		{"four times faster", 4, []time.Duration{500 * time.Millisecond, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			var got []polybot.BookEvent
			if err := Play(context.Background(), Events(evs), Options{Speed: tt.speed, Clock: c}, func(ev polybot.BookEvent) { got = append(got, ev) }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(evs) {
				t.Fatalf("%d events", len(got))
			}
			if !reflect.DeepEqual(c.waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", c.waits, tt.wantWaits)
			}
			if tt.speed > 0 && !got[3].Received.Equal(got[0].Received.Add(time.Duration(float64(10*time.Second)/tt.speed))) {
				t.Errorf("last received %s", got[3].Received)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Play(ctx, Events(evs), Options{}, func(polybot.BookEvent) {}); err != context.Canceled {
		t.Errorf("cancelled play: %v", err)
	}
}

func TestSyntheticIsDeterministicAndWellFormed(t *testing.T) {
	cfg := SyntheticConfig{Markets: 5, UpdatesPerSecond: 1000, Levels: 8, Seed: 42, Count: 5000}
	a, b := NewSynthetic(cfg), NewSynthetic(cfg)
	books := map[string]*marketdata.Book{}
	for n := 0; ; n++ {
		x, ok := a.Next()
		y, _ := b.Next()
		if !ok {
			if n != 5000 {
				t.Errorf("%d events, want 5000", n)
			}
			break
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("event %d differs for the same seed", n)
		}
		if got := x.Time.Sub(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); got != time.Duration(n)*time.Millisecond {
			t.Fatalf("event %d at %s, want %dms", n, got, n)
		}
		if (n < 5) != (x.Kind == polybot.BookSnapshot) {
			t.Fatalf("event %d kind %d", n, x.Kind)
		}
		bk := books[x.Instrument.Key()]
		if bk == nil {
			bk = marketdata.NewBook(x.Instrument)
			books[x.Instrument.Key()] = bk
		}
		if x.Kind == polybot.BookDelta && x.Seq != bk.Seq+1 {
			t.Fatalf("event %d seq %d after %d", n, x.Seq, bk.Seq)
		}
		bk.Apply(&x)
		if bk.Crossed() {
			t.Fatalf("event %d crossed the book", n)
		}
	}
	if len(books) != 5 {
		t.Errorf("%d markets", len(books))
	}
	c, _ := NewSynthetic(SyntheticConfig{Seed: 43, Markets: 5}).Next()
	d, _ := NewSynthetic(SyntheticConfig{Seed: 42, Markets: 5}).Next()
	if reflect.DeepEqual(c, d) {
		t.Error("different seeds gave the same snapshot")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHubOverASyntheticFeedMatchesTheBooksItGenerates(t *testing.T) {
	cfg := SyntheticConfig{Markets: 4, Seed: 7, Count: 3000}
	gen := NewSynthetic(cfg)
	// The expected books, built straight from an identical generator.
	want := map[string]*marketdata.Book{}
	ref := NewSynthetic(cfg)
	for ev, ok := ref.Next(); ok; ev, ok = ref.Next() {
		if want[ev.Instrument.Key()] == nil {
			want[ev.Instrument.Key()] = marketdata.NewBook(ev.Instrument)
		}
		want[ev.Instrument.Key()].Apply(&ev)
	}
	feed := NewFeed(polybot.Polymarket, gen, Options{})
	h := marketdata.NewHub(feed, marketdata.HubConfig{})
	sub, err := h.Subscribe(context.Background(), gen.Instruments()...)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	waitFor(t, "the replay to finish", func() bool {
		for _, inst := range gen.Instruments() {
			if v, err := h.View(inst); err != nil || v.Seq != want[inst.Key()].Seq {
				return false
			}
		}
		return true
	})
	for _, inst := range gen.Instruments() {
		v, err := h.View(inst)
		if err != nil {
			t.Fatal(err)
		}
		w := want[inst.Key()]
		if !reflect.DeepEqual(v.Bids, w.Bids) || !reflect.DeepEqual(v.Asks, w.Asks) || v.Seq != w.Seq {
			t.Errorf("%s: hub book differs from the generated one", inst.Key())
		}
	}
	if st := h.Stats(); st.Resyncs != 0 || st.Gaps != 0 || st.Crossed != 0 {
		t.Errorf("stats %+v", st)
	}
	// A resync is answered with a snapshot of the current book.
	inst := gen.Instruments()[0]
	v0, _ := h.View(inst)
	if err := feed.Resync(inst); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resync snapshot", func() bool { v, err := h.View(inst); return err == nil && v.Version > v0.Version })
	if v, _ := h.View(inst); !reflect.DeepEqual(v.Bids, want[inst.Key()].Bids) || v.Seq != v0.Seq {
		t.Errorf("after resync: %+v", v)
	}
}

func TestFeedSendsOnlySubscribedInstrumentsAndSnapshotsLateSubscribers(t *testing.T) {
	evs, err := ReadPolymarketBooks(open(t, "polymarket/ws_book.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	feed := NewFeed(polybot.Polymarket, Events(evs), Options{})
	var mu sync.Mutex
	var got []string
	sink := func(ev polybot.BookEvent) {
		mu.Lock()
		got = append(got, ev.Instrument.Token[:6])
		mu.Unlock()
	}
	feed.Subscribe(context.Background(), evs[3].Instrument)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx, sink)
	waitFor(t, "the subscribed book", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	feed.Subscribe(context.Background(), evs[0].Instrument) // already replayed: a snapshot follows
	waitFor(t, "the late snapshot", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[162750 555584]" {
		t.Errorf("sent %v", got)
	}
}

func BenchmarkSyntheticNext(b *testing.B) {
	g := NewSynthetic(SyntheticConfig{Markets: 100, Seed: 1})
	b.ReportAllocs()
	for range b.N {
		g.Next()
	}
}
