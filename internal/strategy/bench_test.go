package strategy

import (
	"bytes"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// Each benchmark iteration is one book update: one detection over the
// books it touches.

func BenchmarkCrossPlatformNoEdge(b *testing.B) {
	d := detector(DefaultFees())
	books := CrossBooks{
		BYes: (&bk{ask: "0.52", size: "100", bid: "0.50"}).view(kYes), BNo: (&bk{ask: "0.50", size: "100", bid: "0.48"}).view(kNo),
		AYes: (&bk{ask: "0.51", size: "100", bid: "0.50"}).view(pmYes), ANo: (&bk{ask: "0.50", size: "100", bid: "0.49"}).view(pmNo),
	}
	pair := fedPair()
	b.ReportAllocs()
	for b.Loop() {
		if d.CrossPlatform(pair, books) != nil {
			b.Fatal("unexpected opportunity")
		}
	}
}

func BenchmarkCrossPlatformOpportunity(b *testing.B) {
	d := detector(DefaultFees())
	books := CrossBooks{
		BYes: (&bk{ask: "0.45", size: "100"}).view(kYes), BNo: (&bk{ask: "0.56", size: "100"}).view(kNo),
		AYes: (&bk{ask: "0.56", size: "100"}).view(pmYes), ANo: (&bk{ask: "0.52", size: "250"}).view(pmNo),
	}
	pair := fedPair()
	b.ReportAllocs()
	for b.Loop() {
		if d.CrossPlatform(pair, books) == nil {
			b.Fatal("no opportunity")
		}
	}
}

func BenchmarkSinglePlatformOpportunity(b *testing.B) {
	d := detector(pmRate("0.01"))
	yes, no := (&bk{ask: "0.48", size: "500"}).view(pmYes), (&bk{ask: "0.50", size: "300"}).view(pmNo)
	b.ReportAllocs()
	for b.Loop() {
		if d.SinglePlatform(yes, no) == nil {
			b.Fatal("no opportunity")
		}
	}
}

// BenchmarkFedRecordingUpdate runs every strategy over each row of the Fed
// recording in turn (cross-platform and single-platform on both venues), a
// realistic mix of books with and without an edge.
func BenchmarkFedRecordingUpdate(b *testing.B) {
	evs, _, err := replay.ReadCrossVenue(bytes.NewReader(replay.FedDec2025HoldCSV), replay.FedDec2025Hold)
	if err != nil {
		b.Fatal(err)
	}
	type row [4]*marketdata.View
	var rows []row
	for i := 0; i+4 <= len(evs); i += 4 {
		var r row
		for j := range 4 {
			ev := evs[i+j]
			r[j] = &marketdata.View{Instrument: ev.Instrument, Bids: ev.Bids, Asks: ev.Asks, Version: uint64(i + 1), Time: ev.Time}
		}
		rows = append(rows, r)
	}
	m := replay.FedDec2025Hold
	pair := &polybot.MarketPair{ID: "fed", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", m.PolymarketYesToken, m.PolymarketNoToken), polybot.KalshiLeg(m.KalshiTicker)}, Approved: true}
	var now time.Time
	d := New(Config{Now: func() time.Time { return now }})
	found := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := rows[i%len(rows)]
		i++
		now = r[0].Time
		if d.CrossPlatform(pair, CrossBooks{AYes: r[0], ANo: r[1], BYes: r[2], BNo: r[3]}) != nil {
			found++
		}
		d.SinglePlatform(r[0], r[1])
		d.SinglePlatform(r[2], r[3])
	}
	b.ReportMetric(float64(found)/float64(i), "opps/update")
}
