// Package replay owns PolyBot's recorded and synthetic market data: readers
// that turn the recordings in testdata (Polymarket and Kalshi WebSocket
// captures, the cross-venue CSV) and the built-in recordings (the Fed's
// December 2025 hold on both venues; every outcome of the Fed's July 2026
// decision and the CPI July 2026 threshold ladder on Polymarket US, as
// EventRecordings) into normalised polybot.BookEvent values, Play and
// Feed, which replay events as fast as possible or paced by a speed factor
// on an injectable clock, Synthetic, a deterministic load generator,
// SyntheticEvent, a made-up multi-outcome event for demos, and
// ReadHeadlines, which reads a file of real timestamped headlines (the
// news around the Fed recording's move is built in: FedNov2025Headlines)
// for the simulator's news feed and for replays.
//
// The readers decode only what the recordings hold, for replays and tests;
// live decoding of a venue's wire protocol belongs to its connector
// (internal/venue/<name>). Prices and sizes are parsed exactly into
// polybot.Decimal. The package may import marketdata (for Book) but must
// not import a connector, a simulator, a store or the server.
package replay

import (
	"bufio"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/polybot/polybot"
)

// eachLine calls fn with every non-empty line of r and its 1-based number.
func eachLine(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(n, sc.Bytes()); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

type pmLevel struct {
	Price polybot.Decimal `json:"price"`
	Size  polybot.Decimal `json:"size"`
}

type pmBook struct {
	EventType string          `json:"event_type"`
	AssetID   string          `json:"asset_id"`
	Market    string          `json:"market"`
	Bids      []pmLevel       `json:"bids"`
	Asks      []pmLevel       `json:"asks"`
	TickSize  polybot.Decimal `json:"tick_size"`
	Timestamp string          `json:"timestamp"`
}

func msTime(s string) (time.Time, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

func pmLevels(ls []pmLevel) []polybot.Level {
	out := make([]polybot.Level, len(ls))
	for i, l := range ls {
		out[i] = polybot.Level{Price: l.Price, Size: l.Size}
	}
	return out
}

// ReadPolymarketBooks reads market-channel `book` messages, one JSON object
// a line, as BookSnapshot events. Levels keep the message's order (a Book
// sorts them). The instrument is the token (asset_id) with its market
// (condition id); the message does not say which outcome the token is, so
// Outcome is left Yes.
func ReadPolymarketBooks(r io.Reader) ([]polybot.BookEvent, error) {
	var out []polybot.BookEvent
	err := eachLine(r, func(_ int, line []byte) error {
		var m pmBook
		if err := json.Unmarshal(line, &m); err != nil {
			return err
		}
		if m.EventType != "book" {
			return fmt.Errorf("event_type %q, want book", m.EventType)
		}
		t, err := msTime(m.Timestamp)
		if err != nil {
			return err
		}
		out = append(out, polybot.BookEvent{
			Kind:       polybot.BookSnapshot,
			Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: m.Market, Token: m.AssetID},
			Bids:       pmLevels(m.Bids), Asks: pmLevels(m.Asks),
			TickSize: m.TickSize, Time: t,
		})
		return nil
	})
	return out, err
}

type pmTrade struct {
	EventType string          `json:"event_type"`
	AssetID   string          `json:"asset_id"`
	Market    string          `json:"market"`
	Price     polybot.Decimal `json:"price"`
	Size      polybot.Decimal `json:"size"`
	Side      string          `json:"side"`
	Timestamp string          `json:"timestamp"`
}

func parseSide(s string) (polybot.Side, error) {
	switch s {
	case "BUY", "buy", "yes":
		return polybot.Buy, nil
	case "SELL", "sell", "no":
		return polybot.Sell, nil
	}
	return 0, fmt.Errorf("side %q", s)
}

// ReadPolymarketTrades reads `last_trade_price` messages as BookTrade
// events: TradeSide is the taker's side.
func ReadPolymarketTrades(r io.Reader) ([]polybot.BookEvent, error) {
	var out []polybot.BookEvent
	err := eachLine(r, func(_ int, line []byte) error {
		var m pmTrade
		if err := json.Unmarshal(line, &m); err != nil {
			return err
		}
		if m.EventType != "last_trade_price" {
			return fmt.Errorf("event_type %q, want last_trade_price", m.EventType)
		}
		t, err := msTime(m.Timestamp)
		if err != nil {
			return err
		}
		side, err := parseSide(m.Side)
		if err != nil {
			return err
		}
		out = append(out, polybot.BookEvent{
			Kind:       polybot.BookTrade,
			Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: m.Market, Token: m.AssetID},
			TradePrice: m.Price, TradeSize: m.Size, TradeSide: side, Time: t,
		})
		return nil
	})
	return out, err
}

type kEnvelope struct {
	Type string          `json:"type"`
	Msg  json.RawMessage `json:"msg"`
}

type kTicker struct {
	Ticker      string          `json:"market_ticker"`
	YesBid      polybot.Decimal `json:"yes_bid_dollars"`
	YesAsk      polybot.Decimal `json:"yes_ask_dollars"`
	YesBidSize  polybot.Decimal `json:"yes_bid_size_fp"`
	YesAskSize  polybot.Decimal `json:"yes_ask_size_fp"`
	TimeSeconds int64           `json:"ts"`
}

func kalshiYes(ticker string) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes}
}

// topLevel returns a one-level side, or none when the price or size is not
// positive (Kalshi reports "no ask" as 1.00 with size 0).
func topLevel(price, size polybot.Decimal) []polybot.Level {
	if price.Sign() <= 0 || size.Sign() <= 0 {
		return nil
	}
	return []polybot.Level{{Price: price, Size: size}}
}

// ReadKalshiTickers reads WebSocket `ticker` messages as top-of-book
// BookSnapshot events of the market's YES side (a ticker carries only the
// best bid and ask): the book they make has at most one level a side.
func ReadKalshiTickers(r io.Reader) ([]polybot.BookEvent, error) {
	var out []polybot.BookEvent
	err := eachLine(r, func(_ int, line []byte) error {
		var env kEnvelope
		if err := json.Unmarshal(line, &env); err != nil {
			return err
		}
		if env.Type != "ticker" {
			return fmt.Errorf("type %q, want ticker", env.Type)
		}
		var m kTicker
		if err := json.Unmarshal(env.Msg, &m); err != nil {
			return err
		}
		out = append(out, polybot.BookEvent{
			Kind: polybot.BookSnapshot, Instrument: kalshiYes(m.Ticker),
			Bids: topLevel(m.YesBid, m.YesBidSize), Asks: topLevel(m.YesAsk, m.YesAskSize),
			Time: time.Unix(m.TimeSeconds, 0).UTC(),
		})
		return nil
	})
	return out, err
}

type kTrade struct {
	Ticker      string          `json:"market_ticker"`
	YesPrice    polybot.Decimal `json:"yes_price_dollars"`
	Count       polybot.Decimal `json:"count_fp"`
	TakerSide   string          `json:"taker_side"`
	TimeSeconds int64           `json:"ts"`
}

// ReadKalshiTrades reads WebSocket `trade` messages as BookTrade events on
// the market's YES side, at the YES price. A taker buying YES is a Buy; a
// taker buying NO sells YES, a Sell. The venue's seq (per subscription, not
// per market) is not carried.
func ReadKalshiTrades(r io.Reader) ([]polybot.BookEvent, error) {
	var out []polybot.BookEvent
	err := eachLine(r, func(_ int, line []byte) error {
		var env kEnvelope
		if err := json.Unmarshal(line, &env); err != nil {
			return err
		}
		if env.Type != "trade" {
			return fmt.Errorf("type %q, want trade", env.Type)
		}
		var m kTrade
		if err := json.Unmarshal(env.Msg, &m); err != nil {
			return err
		}
		side, err := parseSide(m.TakerSide)
		if err != nil {
			return err
		}
		out = append(out, polybot.BookEvent{
			Kind: polybot.BookTrade, Instrument: kalshiYes(m.Ticker),
			TradePrice: m.YesPrice, TradeSize: m.Count, TradeSide: side,
			Time: time.Unix(m.TimeSeconds, 0).UTC(),
		})
		return nil
	})
	return out, err
}

// CrossVenueMarket names one event on both venues.
type CrossVenueMarket struct {
	PolymarketYesToken string
	PolymarketNoToken  string
	KalshiTicker       string
}

// FedDec2025HoldCSV is the real cross-venue recording of the Fed's December
// 2025 "no change" decision (recordings/fed_dec2025_hold.csv; source and
// licence in testdata/README.md), built into the binary so that the
// simulators and `polybot replay` can play it anywhere.
//
//go:embed recordings/fed_dec2025_hold.csv
var FedDec2025HoldCSV []byte

// FedDec2025Hold is the event of FedDec2025HoldCSV:
// the Fed's December 2025 "no change" decision.
var FedDec2025Hold = CrossVenueMarket{
	PolymarketYesToken: "80746058984644290629624903019922696017323803605256698757445938534814122585786",
	PolymarketNoToken:  "85970682092909806158465981896969493051954703765750954325716965011253694472992",
	KalshiTicker:       "KXFEDDECISION-25DEC-H0",
}

// Instruments returns the four instruments, in the order ReadCrossVenue
// emits them for each row: Polymarket YES, Polymarket NO, Kalshi YES,
// Kalshi NO.
func (m CrossVenueMarket) Instruments() [4]polybot.Instrument {
	return [4]polybot.Instrument{
		{Venue: polybot.Polymarket, Token: m.PolymarketYesToken, Outcome: polybot.Yes},
		{Venue: polybot.Polymarket, Token: m.PolymarketNoToken, Outcome: polybot.No},
		{Venue: polybot.Kalshi, Market: m.KalshiTicker, Outcome: polybot.Yes},
		{Venue: polybot.Kalshi, Market: m.KalshiTicker, Outcome: polybot.No},
	}
}

// SkippedRow is an input row a reader could not use, and why.
type SkippedRow struct {
	Line   int // 1-based, the header being line 1
	Reason string
}

var crossVenueHeader = []string{
	"timestamp_ms", "poly_best_bid_yes", "poly_best_bid_no", "poly_depth_best_yes", "poly_depth_best_no",
	"kalshi_best_bid_yes", "kalshi_best_bid_no", "kalshi_depth_best_yes", "kalshi_depth_best_no",
}

// ReadCrossVenue reads the cross-venue best-bid CSV into time-ordered
// top-of-book BookSnapshot events: four per row (see
// CrossVenueMarket.Instruments), all at the row's time. Each outcome's ask
// is derived from the other outcome's bid on the same venue: best YES ask =
// 1 − best NO bid, at the NO bid's depth (and the other way round). A row
// with an empty or unparsable field is skipped whole and returned in
// skipped; a malformed header or timestamp column is an error.
func ReadCrossVenue(r io.Reader, m CrossVenueMarket) (events []polybot.BookEvent, skipped []SkippedRow, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(crossVenueHeader)
	head, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("cross-venue header: %w", err)
	}
	if !slices.Equal(head, crossVenueHeader) {
		return nil, nil, fmt.Errorf("cross-venue header %v, want %v", head, crossVenueHeader)
	}
	type row struct {
		t time.Time
		v [8]polybot.Decimal
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		t, err := msTime(rec[0])
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		var rw row
		rw.t = t
		bad := ""
		for i, f := range rec[1:] {
			if f == "" {
				bad = "empty " + crossVenueHeader[i+1]
				break
			}
			d, err := polybot.ParseDecimal(f)
			if err != nil || d.Sign() < 0 {
				bad = fmt.Sprintf("bad %s %q", crossVenueHeader[i+1], f)
				break
			}
			rw.v[i] = d
		}
		if bad != "" {
			skipped = append(skipped, SkippedRow{Line: line, Reason: bad})
			continue
		}
		rows = append(rows, rw)
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.t.Compare(b.t) })
	insts := m.Instruments()
	for _, rw := range rows {
		pYes, pNo, pYesN, pNoN := rw.v[0], rw.v[1], rw.v[2], rw.v[3]
		kYes, kNo, kYesN, kNoN := rw.v[4], rw.v[5], rw.v[6], rw.v[7]
		sides := [4][2][]polybot.Level{
			{topLevel(pYes, pYesN), topLevel(polybot.One.Sub(pNo), pNoN)},
			{topLevel(pNo, pNoN), topLevel(polybot.One.Sub(pYes), pYesN)},
			{topLevel(kYes, kYesN), topLevel(polybot.One.Sub(kNo), kNoN)},
			{topLevel(kNo, kNoN), topLevel(polybot.One.Sub(kYes), kYesN)},
		}
		for i, s := range sides {
			events = append(events, polybot.BookEvent{
				Kind: polybot.BookSnapshot, Instrument: insts[i], Bids: s[0], Asks: s[1], Time: rw.t,
			})
		}
	}
	return events, skipped, nil
}
