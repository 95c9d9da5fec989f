package marketdata

import (
	"testing"

	"github.com/polybot/polybot"
)

func lv(p, s string) polybot.Level {
	return polybot.Level{Price: polybot.MustDecimal(p), Size: polybot.MustDecimal(s)}
}

func sideString(ls []polybot.Level) string {
	s := ""
	for _, l := range ls {
		s += l.Price.String() + "x" + l.Size.String() + " "
	}
	return s
}

func TestBookAppliesSnapshotsAndDeltas(t *testing.T) {
	b := NewBook(polybot.Instrument{Venue: polybot.Polymarket, Token: "1"})
	b.Apply(&polybot.BookEvent{Kind: polybot.BookSnapshot,
		Bids: []polybot.Level{lv("0.48", "10"), lv("0.50", "5"), lv("0.49", "0")},
		Asks: []polybot.Level{lv("0.53", "7"), lv("0.52", "3")}})
	tests := []struct {
		name       string
		bids, asks []polybot.Level
		wantBids   string
		wantAsks   string
	}{
		{"snapshot sorted, empty levels dropped", nil, nil, "0.50x5.00 0.48x10.00 ", "0.52x3.00 0.53x7.00 "},
		{"insert a better bid", []polybot.Level{lv("0.51", "2")}, nil, "0.51x2.00 0.50x5.00 0.48x10.00 ", "0.52x3.00 0.53x7.00 "},
		{"replace a size", []polybot.Level{lv("0.50", "8.5")}, nil, "0.51x2.00 0.50x8.50 0.48x10.00 ", "0.52x3.00 0.53x7.00 "},
		{"remove with zero", nil, []polybot.Level{lv("0.52", "0")}, "0.51x2.00 0.50x8.50 0.48x10.00 ", "0.53x7.00 "},
		{"removing a missing level is a no-op", []polybot.Level{lv("0.30", "0")}, nil, "0.51x2.00 0.50x8.50 0.48x10.00 ", "0.53x7.00 "},
		{"insert a worse ask at the end", nil, []polybot.Level{lv("0.99", "1")}, "0.51x2.00 0.50x8.50 0.48x10.00 ", "0.53x7.00 0.99x1.00 "},
	}
	for _, tt := range tests {
		b.Apply(&polybot.BookEvent{Kind: polybot.BookDelta, Bids: tt.bids, Asks: tt.asks})
		if got := sideString(b.Bids); got != tt.wantBids {
			t.Errorf("%s: bids %q, want %q", tt.name, got, tt.wantBids)
		}
		if got := sideString(b.Asks); got != tt.wantAsks {
			t.Errorf("%s: asks %q, want %q", tt.name, got, tt.wantAsks)
		}
	}
	if bid, _ := b.BestBid(); bid.Price.String() != "0.51" {
		t.Errorf("best bid %s", bid.Price)
	}
	if b.Crossed() {
		t.Error("book reported crossed")
	}
	b.Apply(&polybot.BookEvent{Kind: polybot.BookDelta, Bids: []polybot.Level{lv("0.60", "1")}})
	if !b.Crossed() {
		t.Error("crossed book not reported")
	}
}
