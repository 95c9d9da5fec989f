package kalshi

// Benchmarks of the hot path: decoding an orderbook_delta frame into
// BookEvents for both instruments and applying them to marketdata books.
//
//	go test -run '^$' -bench 'Kalshi' -benchmem ./internal/venue/kalshi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

const benchTicker = "KXFEDDECISION-25DEC-H0"

// benchFrames returns n real-shaped delta frames with consecutive seqs
// (from 2): each level gains 5 contracts and then loses them again, so the
// book stays valid however often the frames are cycled.
func benchFrames(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		side := "yes"
		if (i/2)%2 == 1 {
			side = "no"
		}
		delta := "5.00"
		if i%2 == 1 {
			delta = "-5.00"
		}
		price := fmt.Sprintf("0.%02d00", 20+(i/4)%20)
		out[i] = fmt.Appendf(nil, `{"type":"orderbook_delta","sid":7,"seq":%d,"msg":{"market_ticker":"%s","market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","price_dollars":"%s","delta_fp":"%s","side":"%s","ts":"2025-12-01T15:04:05Z","ts_ms":1764601445000}}`,
			i+2, benchTicker, price, delta, side)
	}
	return out
}

// benchFeed is a feed with one live market of 20 levels a side, and the
// sink that applies its events to a YES and a NO book.
func benchFeed() (*Feed, *feedMarket, func(polybot.BookEvent)) {
	f := &Feed{cfg: FeedConfig{Now: time.Now}, log: slog.New(slog.DiscardHandler), markets: map[string]*feedMarket{},
		bySid: map[int64]subRef{}, pending: map[int64]*pendingCmd{}, kick: make(chan struct{}, 1)}
	m := &feedMarket{ticker: benchTicker, book: newLadders(), wantYes: true, wantNo: true, valid: true, lastSeq: 1, bookSid: 7}
	m.yesInst, m.noInst = Instruments(benchTicker)
	var yes, no [][2]polybot.Decimal
	for i := range 20 {
		yes = append(yes, [2]polybot.Decimal{polybot.NewDecimal(int64(20+i), 2), polybot.NewDecimal(int64(100+i), 0)})
		no = append(no, [2]polybot.Decimal{polybot.NewDecimal(int64(20+i), 2), polybot.NewDecimal(int64(200+i), 0)})
	}
	m.book.reset(yes, no)
	f.markets[benchTicker] = m
	f.bySid[7] = subRef{m: m, channel: "orderbook_delta"}
	ys, ns := m.book.snapshotEvents(benchTicker, 1, time.Now(), time.Now())
	yb, nb := marketdata.NewBook(m.yesInst), marketdata.NewBook(m.noInst)
	yb.Apply(&ys)
	nb.Apply(&ns)
	sink := func(ev polybot.BookEvent) {
		if ev.Instrument.Outcome == polybot.No {
			nb.Apply(&ev)
		} else {
			yb.Apply(&ev)
		}
	}
	return f, m, sink
}

func BenchmarkDecodeApplyKalshiDelta(b *testing.B) {
	frames := benchFrames(1024)
	f, m, sink := benchFeed()
	var bytesIn int64
	for _, fr := range frames {
		bytesIn += int64(len(fr))
	}
	b.SetBytes(bytesIn / int64(len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		j := i % len(frames)
		if j == 0 {
			m.lastSeq = 1
		}
		f.handle(frames[j], sink)
	}
	own := time.Since(start)
	b.StopTimer()
	if f.stats.gaps.Load() != 0 || f.stats.deltas.Load() != int64(b.N) {
		b.Fatalf("deltas %d, gaps %d: the benchmark lost its book", f.stats.deltas.Load(), f.stats.gaps.Load())
	}
	// The same bytes through encoding/json into a map, for the ratio.
	n := min(b.N, 200_000)
	start = time.Now()
	for i := 0; i < n; i++ {
		var v map[string]any
		if err := json.Unmarshal(frames[i%len(frames)], &v); err != nil {
			b.Fatal(err)
		}
	}
	mapNs := float64(time.Since(start).Nanoseconds()) / float64(n)
	ownNs := float64(own.Nanoseconds()) / float64(b.N)
	b.ReportMetric(mapNs, "map-ns/op")
	b.ReportMetric(mapNs/ownNs, "x-vs-map")
}

// BenchmarkDecodeKalshiDeltaStdJSONMap is the baseline: encoding/json into
// map[string]any, with no book work at all.
func BenchmarkDecodeKalshiDeltaStdJSONMap(b *testing.B) {
	frames := benchFrames(1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var v map[string]any
		if err := json.Unmarshal(frames[i%len(frames)], &v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchFramesKeepTheBookValidAcrossCycles(t *testing.T) {
	frames := benchFrames(64)
	f, m, sink := benchFeed()
	for round := range 3 {
		m.lastSeq = 1
		for _, fr := range frames {
			f.handle(fr, sink)
		}
		if g := f.stats.gaps.Load(); g != 0 {
			t.Fatalf("round %d: %d gaps", round, g)
		}
	}
	if f.stats.deltas.Load() != int64(3*len(frames)) {
		t.Fatalf("deltas = %d", f.stats.deltas.Load())
	}
}
