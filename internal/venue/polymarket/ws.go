package polymarket

import (
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// Market-channel event types.
const (
	EventBook           = "book"
	EventPriceChange    = "price_change"
	EventTickSizeChange = "tick_size_change"
	EventLastTradePrice = "last_trade_price"
	// User-channel event types.
	EventOrder = "order"
	EventTrade = "trade"
)

// Decoder turns market-channel messages into polybot.BookEvents by hand,
// without encoding/json and, once warm, without allocating: the events and
// their Bids/Asks share buffers that the next Decode call reuses, so a
// caller that keeps an event past that must copy its slices. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	instruments map[string]polybot.Instrument // token id → instrument
	events      []polybot.BookEvent
	levels      []polybot.Level
	changes     []change
}

type change struct {
	event int // index in events
	bid   bool
	level polybot.Level
}

// NewDecoder returns a decoder with no known instruments. Tokens it has not
// been told about decode with Outcome Yes and the market id from the message.
func NewDecoder() *Decoder {
	return &Decoder{instruments: make(map[string]polybot.Instrument)}
}

// SetInstrument tells the decoder which instrument a token id stands for.
func (d *Decoder) SetInstrument(inst polybot.Instrument) {
	inst.Venue = polybot.Polymarket
	d.instruments[inst.Token] = inst
}

// ErrMalformed marks a message the decoder could not parse (it is
// wire.ErrMalformed, the shared scanner's error).
var ErrMalformed = wire.ErrMalformed

// Decode parses one WebSocket text message: a single event object, an array
// of them (the venue sends the first snapshots as an array) or the heartbeat
// "PONG", which yields no event. Unknown event types are skipped.
func (d *Decoder) Decode(msg []byte, received time.Time) ([]polybot.BookEvent, error) {
	d.events = d.events[:0]
	d.levels = d.levels[:0]
	d.changes = d.changes[:0]
	i := wire.SkipSpace(msg, 0)
	if i == len(msg) {
		return nil, nil
	}
	switch msg[i] {
	case '{':
		if _, err := d.decodeObject(msg, i, received); err != nil {
			return nil, err
		}
	case '[':
		arr := wire.ArrayAt(msg, i)
		for arr.Next() {
			end, err := d.decodeObject(msg, arr.At(), received)
			if err != nil {
				return nil, err
			}
			arr.Seek(end)
		}
		if arr.Err() != nil {
			return nil, arr.Err()
		}
	default:
		// "PONG" and other plain-text control answers.
		return nil, nil
	}
	d.finish()
	return d.events, nil
}

// fields are the spans of one event object that the decoder reads.
type fields struct {
	eventType, assetID, market, timestamp, tickSize []byte
	price, size, side, newTickSize                  []byte
	hasTick                                         bool
}

// decodeObject reads the event object at msg[i] in one pass. Level arrays
// (bids, asks, price_changes) are parsed in place as they are met, before the
// event type is known (the venue puts event_type last); if the type turns
// out to be another, what they produced is dropped.
func (d *Decoder) decodeObject(msg []byte, i int, received time.Time) (int, error) {
	var f fields
	firstEvent, firstChange := len(d.events), len(d.changes)
	bookEvent := -1 // index of the snapshot event the bids/asks belong to
	sawChanges := false
	it := wire.ObjectAt(msg, i)
	for it.Next() {
		switch key := it.Key(); string(key) {
		case "bids", "buys", "asks", "sells":
			if bookEvent < 0 {
				bookEvent = len(d.events)
				d.events = append(d.events, polybot.BookEvent{Kind: polybot.BookSnapshot})
			}
			end, err := d.levelsAt(msg, it.At(), bookEvent, true, key[0] == 'b')
			if err != nil {
				return 0, err
			}
			it.Seek(end)
		case "price_changes":
			end, err := d.levelsAt(msg, it.At(), firstEvent, false, false)
			if err != nil {
				return 0, err
			}
			it.Seek(end)
			sawChanges = true
		case "event_type":
			f.eventType = it.Text()
		case "asset_id":
			f.assetID = it.Text()
		case "market":
			f.market = it.Text()
		case "timestamp":
			f.timestamp = it.Text()
		case "tick_size":
			f.tickSize, f.hasTick = it.Text(), true
		case "price":
			f.price = it.Text()
		case "size":
			f.size = it.Text()
		case "side":
			f.side = it.Text()
		case "new_tick_size":
			f.newTickSize = it.Text()
		default:
			it.Skip()
		}
	}
	if it.Err() != nil {
		return 0, it.Err()
	}
	end := it.At()
	ts := wire.UnixTime(f.timestamp)
	drop := func() {
		d.events, d.changes = d.events[:firstEvent], d.changes[:firstChange]
	}
	var err error
	switch string(f.eventType) {
	case EventBook:
		if bookEvent < 0 {
			bookEvent = len(d.events)
			d.events = append(d.events, polybot.BookEvent{Kind: polybot.BookSnapshot})
		}
		ev := &d.events[bookEvent]
		ev.Instrument, ev.Time, ev.Received = d.instrument(f.assetID, f.market), ts, received
		if f.hasTick && len(f.tickSize) > 0 {
			ev.TickSize, err = wire.Decimal(f.tickSize)
		}
	case EventPriceChange:
		if !sawChanges {
			// The format before September 2025 (one asset, "changes") is gone.
			return 0, fmt.Errorf("%w: price_change without price_changes", ErrMalformed)
		}
		for j := firstEvent; j < len(d.events); j++ {
			ev := &d.events[j]
			if ev.Instrument.Market == "" && len(f.market) > 0 {
				ev.Instrument = d.instrument([]byte(ev.Instrument.Token), f.market)
			}
			ev.Time, ev.Received = ts, received
		}
	case EventTickSizeChange:
		drop()
		var tick polybot.Decimal
		if tick, err = wire.Decimal(f.newTickSize); err == nil {
			ev := d.newEvent(polybot.BookTickSize, f.assetID, f.market, ts, received)
			ev.TickSize = tick
		}
	case EventLastTradePrice:
		drop()
		var p, s polybot.Decimal
		if p, err = wire.Decimal(f.price); err != nil {
			break
		}
		if s, err = wire.Decimal(f.size); err != nil {
			break
		}
		ev := d.newEvent(polybot.BookTrade, f.assetID, f.market, ts, received)
		ev.TradePrice, ev.TradeSize = p, s
		ev.TradeSide = parseSide(f.side)
	default:
		drop()
	}
	return end, err
}

func (d *Decoder) newEvent(kind polybot.BookEventKind, asset, market []byte, ts, received time.Time) *polybot.BookEvent {
	d.events = append(d.events, polybot.BookEvent{Kind: kind, Instrument: d.instrument(asset, market),
		Time: ts, Received: received})
	return &d.events[len(d.events)-1]
}

// instrument finds the instrument of a token without allocating when the
// token is known.
func (d *Decoder) instrument(asset, market []byte) polybot.Instrument {
	if inst, ok := d.instruments[string(asset)]; ok {
		if inst.Market == "" && len(market) > 0 {
			inst.Market = string(market)
			d.instruments[inst.Token] = inst
		}
		return inst
	}
	return polybot.Instrument{Venue: polybot.Polymarket, Market: string(market), Token: string(asset)}
}

// levelsAt parses an array of levels at msg[i] and returns the index after
// it. In a book (bids, asks) the levels are {"price","size"} objects of
// event ev, bids or not as told. In price_changes (book false) each also
// has an "asset_id" and a "side": one delta event per asset, from event
// index ev on, in the order the assets appear.
func (d *Decoder) levelsAt(msg []byte, i, ev int, book, bid bool) (int, error) {
	first := ev
	arr := wire.ArrayAt(msg, i)
	for arr.Next() {
		var asset, price, size, side []byte
		it := arr.Object()
		for it.Next() {
			switch string(it.Key()) {
			case "asset_id":
				asset = it.Text()
			case "price":
				price = it.Text()
			case "size":
				size = it.Text()
			case "side":
				side = it.Text()
			default:
				it.Skip()
			}
		}
		arr.SeekPast(&it)
		if it.Err() != nil {
			return 0, it.Err()
		}
		p, err := wire.Decimal(price)
		if err != nil {
			return 0, err
		}
		s, err := wire.Decimal(size)
		if err != nil {
			return 0, err
		}
		if book {
			d.changes = append(d.changes, change{event: ev, bid: bid, level: polybot.Level{Price: p, Size: s}})
			continue
		}
		ev = -1
		for j := first; j < len(d.events); j++ {
			if string(asset) == d.events[j].Instrument.Token {
				ev = j
				break
			}
		}
		if ev < 0 {
			ev = len(d.events)
			d.events = append(d.events, polybot.BookEvent{Kind: polybot.BookDelta, Instrument: d.instrument(asset, nil)})
		}
		d.changes = append(d.changes, change{event: ev, bid: parseSide(side) == polybot.Buy,
			level: polybot.Level{Price: p, Size: s}})
	}
	return arr.At(), arr.Err()
}

// finish lays the collected levels out per event: each event's bids then
// asks, contiguous in one buffer sized up front so no slice moves.
func (d *Decoder) finish() {
	if cap(d.levels) < len(d.changes) {
		d.levels = make([]polybot.Level, 0, 2*len(d.changes))
	}
	for e := range d.events {
		start := len(d.levels)
		for _, c := range d.changes {
			if c.event == e && c.bid {
				d.levels = append(d.levels, c.level)
			}
		}
		mid := len(d.levels)
		for _, c := range d.changes {
			if c.event == e && !c.bid {
				d.levels = append(d.levels, c.level)
			}
		}
		ev := &d.events[e]
		if ev.Kind == polybot.BookSnapshot || ev.Kind == polybot.BookDelta {
			ev.Bids = d.levels[start:mid:mid]
			ev.Asks = d.levels[mid:len(d.levels):len(d.levels)]
		}
	}
}

func parseSide(b []byte) polybot.Side {
	if len(b) > 0 && (b[0] == 'S' || b[0] == 's') {
		return polybot.Sell
	}
	return polybot.Buy
}

// ---- connections ----

// readLimit bounds one WebSocket message; first snapshots of many books
// arrive as one array.
const readLimit = 32 << 20

// dialWS opens a channel connection.
func dialWS(ctx context.Context, url string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(readLimit)
	return c, nil
}

// pinger sends the venue's text heartbeat "PING" every interval until ctx
// ends or a write fails.
func pinger(ctx context.Context, c *websocket.Conn, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			wctx, cancel := context.WithTimeout(ctx, interval)
			err := c.Write(wctx, websocket.MessageText, []byte("PING"))
			cancel()
			if err != nil {
				return
			}
		}
	}
}
