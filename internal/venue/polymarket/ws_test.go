package polymarket

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

func dec(s string) polybot.Decimal { return polybot.MustDecimal(s) }

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The golden file was computed from ws_book.jsonl with Python's decimal
// module, independently of this decoder.
func TestReplayingRecordedBookMessagesReproducesEachBestBidAndAskExactly(t *testing.T) {
	msgs := readLines(t, "../../../testdata/polymarket/ws_book.jsonl")
	goldenRaw, err := os.ReadFile("../../../testdata/polymarket/ws_book.golden")
	if err != nil {
		t.Fatal(err)
	}
	var golden [][]string
	for _, l := range strings.Split(string(goldenRaw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			golden = append(golden, strings.Fields(l))
		}
	}
	if len(msgs) != 10 || len(golden) != len(msgs) {
		t.Fatalf("%d messages, %d golden rows", len(msgs), len(golden))
	}
	d := NewDecoder()
	for i, msg := range msgs {
		evs, err := d.Decode(msg, time.Now())
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(evs) != 1 || evs[0].Kind != polybot.BookSnapshot {
			t.Fatalf("message %d: want one snapshot, got %+v", i, evs)
		}
		ev := evs[0]
		g := golden[i]
		if !strings.HasPrefix(ev.Instrument.Token, g[0]) {
			t.Fatalf("message %d: token %s, golden %s", i, ev.Instrument.Token, g[0])
		}
		if !strings.HasPrefix(ev.Instrument.Market, "0x") || ev.Time.IsZero() {
			t.Errorf("message %d: market %q time %v", i, ev.Instrument.Market, ev.Time)
		}
		book := marketdata.NewBook(ev.Instrument)
		book.Apply(&ev)
		check := func(name string, l polybot.Level, ok bool, price, size string) {
			t.Helper()
			if price == "-" {
				if ok {
					t.Errorf("message %d: %s = %v, want none", i, name, l)
				}
				return
			}
			if !ok || l.Price != dec(price) || l.Size != dec(size) {
				t.Errorf("message %d: %s = %v %v (present %v), want %s × %s", i, name, l.Price, l.Size, ok, price, size)
			}
		}
		bid, okb := book.BestBid()
		ask, oka := book.BestAsk()
		check("best bid", bid, okb, g[1], g[2])
		check("best ask", ask, oka, g[3], g[4])
		if book.TickSize != dec(g[5]) {
			t.Errorf("message %d: tick %v, want %s", i, book.TickSize, g[5])
		}
		if n := len(ev.Bids); n != atoi(g[6]) {
			t.Errorf("message %d: %d bids, want %s", i, n, g[6])
		}
		if n := len(ev.Asks); n != atoi(g[7]) {
			t.Errorf("message %d: %d asks, want %s", i, n, g[7])
		}
		if book.Crossed() {
			t.Errorf("message %d: book crossed", i)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestRecordedLastTradePricesDecodeToTradeEvents(t *testing.T) {
	msgs := readLines(t, "../../../testdata/polymarket/ws_last_trade_price.jsonl")
	d := NewDecoder()
	for i, msg := range msgs {
		var want struct{ AssetID, Price, Size, Side string }
		var raw map[string]string
		if err := json.Unmarshal(msg, &raw); err != nil {
			t.Fatal(err)
		}
		want.AssetID, want.Price, want.Size, want.Side = raw["asset_id"], raw["price"], raw["size"], raw["side"]
		evs, err := d.Decode(msg, time.Now())
		if err != nil || len(evs) != 1 {
			t.Fatalf("message %d: %v %v", i, evs, err)
		}
		ev := evs[0]
		if ev.Kind != polybot.BookTrade || ev.Instrument.Token != want.AssetID ||
			ev.TradePrice != dec(want.Price) || ev.TradeSize != dec(want.Size) || ev.TradeSide.String() != want.Side {
			t.Errorf("message %d: got %+v, want %+v", i, ev, want)
		}
	}
}

const samplePriceChange = `{"market":"0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1","price_changes":[{"asset_id":"71321045679252212594626385532706912750332728571942532289631379312455583992563","price":"0.5","size":"200","side":"BUY","hash":"56621a121a47ed9333273e21c83b660cff37ae50","best_bid":"0.5","best_ask":"1"},{"asset_id":"52114319501245915516055106046884209969926127482827954674443846427813813222426","price":"0.5","size":"200","side":"SELL","hash":"1895759e4df7a796bf4f1c5a5950b748306923e2","best_bid":"0","best_ask":"0.5"}],"timestamp":"1757908892351","event_type":"price_change"}`

func TestDecodeMessages(t *testing.T) {
	yes := polybot.Instrument{Venue: polybot.Polymarket, Token: "71321045679252212594626385532706912750332728571942532289631379312455583992563", Outcome: polybot.Yes}
	no := polybot.Instrument{Venue: polybot.Polymarket, Token: "52114319501245915516055106046884209969926127482827954674443846427813813222426", Outcome: polybot.No}
	tests := []struct {
		name string
		msg  string
		want []polybot.BookEvent
		err  bool
	}{
		{
			name: "price_change splits into one delta per asset, bids from BUY and asks from SELL",
			msg:  samplePriceChange,
			want: []polybot.BookEvent{
				{Kind: polybot.BookDelta, Instrument: yes, Bids: []polybot.Level{{Price: dec("0.5"), Size: dec("200")}}, Asks: []polybot.Level{}},
				{Kind: polybot.BookDelta, Instrument: no, Bids: []polybot.Level{}, Asks: []polybot.Level{{Price: dec("0.5"), Size: dec("200")}}},
			},
		},
		{
			name: "price_change with two levels of one asset is one delta",
			msg:  `{"event_type":"price_change","market":"0xm","timestamp":"1","price_changes":[{"asset_id":"t1","price":"0.4","size":"0","side":"BUY"},{"asset_id":"t1","price":"0.41","size":"10.5","side":"BUY"},{"asset_id":"t1","price":"0.6","size":"3","side":"SELL"}]}`,
			want: []polybot.BookEvent{{Kind: polybot.BookDelta,
				Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: "0xm", Token: "t1"},
				Bids:       []polybot.Level{{Price: dec("0.4"), Size: dec("0")}, {Price: dec("0.41"), Size: dec("10.5")}},
				Asks:       []polybot.Level{{Price: dec("0.6"), Size: dec("3")}}}},
		},
		{
			name: "book with leading-dot prices as in the venue's docs",
			msg:  `{"event_type":"book","asset_id":"t2","market":"0xm","bids":[{"price":".48","size":"30"}],"asks":[{"price":".52","size":"25"}],"timestamp":"123456789000","hash":"0x0"}`,
			want: []polybot.BookEvent{{Kind: polybot.BookSnapshot,
				Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: "0xm", Token: "t2"},
				Bids:       []polybot.Level{{Price: dec("0.48"), Size: dec("30")}},
				Asks:       []polybot.Level{{Price: dec("0.52"), Size: dec("25")}}}},
		},
		{
			name: "an array of books is several snapshots",
			msg:  `[{"event_type":"book","asset_id":"a","market":"m","bids":[],"asks":[{"price":"0.9","size":"1"}]} , {"event_type":"book","asset_id":"b","market":"m","bids":[{"price":"0.1","size":"1"}],"asks":[]}]`,
			want: []polybot.BookEvent{
				{Kind: polybot.BookSnapshot, Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: "m", Token: "a"}, Bids: []polybot.Level{}, Asks: []polybot.Level{{Price: dec("0.9"), Size: dec("1")}}},
				{Kind: polybot.BookSnapshot, Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: "m", Token: "b"}, Bids: []polybot.Level{{Price: dec("0.1"), Size: dec("1")}}, Asks: []polybot.Level{}},
			},
		},
		{
			name: "tick_size_change sets the tick",
			msg:  `{"event_type":"tick_size_change","asset_id":"t3","market":"0xm","old_tick_size":"0.01","new_tick_size":"0.001","timestamp":"100000000000"}`,
			want: []polybot.BookEvent{{Kind: polybot.BookTickSize, Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: "0xm", Token: "t3"}, TickSize: dec("0.001")}},
		},
		{name: "PONG is no event", msg: `PONG`},
		{name: "an unknown event type is skipped", msg: `{"event_type":"best_bid_ask","asset_id":"x","best_bid":"0.1"}`},
		{name: "a price with seven decimals is refused", msg: `{"event_type":"price_change","market":"m","price_changes":[{"asset_id":"a","price":"0.1234567","size":"1","side":"BUY"}]}`, err: true},
		{name: "a truncated message is refused", msg: `{"event_type":"book","asset_id":"a","bids":[{"price":"0.1"`, err: true},
		{name: "a float-like exponent is refused", msg: `{"event_type":"book","asset_id":"a","bids":[{"price":"1e-2","size":"1"}],"asks":[]}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.SetInstrument(yes)
			d.SetInstrument(no)
			evs, err := d.Decode([]byte(tt.msg), time.Time{})
			if tt.err {
				if err == nil || !errors.Is(err, ErrMalformed) {
					t.Fatalf("want ErrMalformed, got %v (%+v)", err, evs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d", len(evs), evs, len(tt.want))
			}
			for i := range evs {
				got, want := evs[i], tt.want[i]
				got.Time = time.Time{}
				if got.Kind != want.Kind || got.Instrument.Token != want.Instrument.Token ||
					got.Instrument.Outcome != want.Instrument.Outcome || got.TickSize != want.TickSize ||
					!slices.Equal(got.Bids, want.Bids) || !slices.Equal(got.Asks, want.Asks) {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want)
				}
				if want.Instrument.Market != "" && got.Instrument.Market != want.Instrument.Market {
					t.Errorf("event %d: market %q, want %q", i, got.Instrument.Market, want.Instrument.Market)
				}
			}
		})
	}
}

func TestParseNumberRoundsVenueFloatsToSixPlacesExactly(t *testing.T) {
	for in, want := range map[string]string{
		"0.01": "0.01", "12.5": "12.5", "0.1234565": "0.123457", "0.12345649": "0.123456",
		"1e-3": "0.001", "-0.0000005": "-0.000001", `"7.25"`: "7.25", "100": "100",
	} {
		got, err := parseNumber(in)
		if err != nil || got != dec(want) {
			t.Errorf("%s: got %v %v, want %s", in, got, err, want)
		}
	}
}

// BenchmarkDecodeApplyPriceChange measures one price_change message (two
// deltas) decoded by hand and applied to two resting books, against
// encoding/json decoding the same bytes into map[string]any.
func BenchmarkDecodeApplyPriceChange(b *testing.B) {
	msg := []byte(samplePriceChange)
	d := NewDecoder()
	books := map[string]*marketdata.Book{}
	for _, tok := range []string{"71321045679252212594626385532706912750332728571942532289631379312455583992563", "52114319501245915516055106046884209969926127482827954674443846427813813222426"} {
		inst := polybot.Instrument{Venue: polybot.Polymarket, Token: tok}
		d.SetInstrument(inst)
		bk := marketdata.NewBook(inst)
		snap := polybot.BookEvent{Kind: polybot.BookSnapshot}
		for p := 1; p < 50; p++ {
			snap.Bids = append(snap.Bids, polybot.Level{Price: polybot.NewDecimal(int64(p), 2), Size: dec("100")})
			snap.Asks = append(snap.Asks, polybot.Level{Price: polybot.NewDecimal(int64(p+50), 2), Size: dec("100")})
		}
		bk.Apply(&snap)
		books[tok] = bk
	}
	now := time.Now()
	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		deltas := 0
		for b.Loop() {
			evs, err := d.Decode(msg, now)
			if err != nil {
				b.Fatal(err)
			}
			for i := range evs {
				books[evs[i].Instrument.Token].Apply(&evs[i])
				deltas++
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deltas), "ns/delta")
	})
	b.Run("encoding_json_map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(msg, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
