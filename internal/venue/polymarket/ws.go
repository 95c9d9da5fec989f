package polymarket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/polybot/polybot"
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

// ErrMalformed marks a message the decoder could not parse.
var ErrMalformed = errors.New("polymarket: malformed message")

// Decode parses one WebSocket text message: a single event object, an array
// of them (the venue sends the first snapshots as an array) or the heartbeat
// "PONG", which yields no event. Unknown event types are skipped.
func (d *Decoder) Decode(msg []byte, received time.Time) ([]polybot.BookEvent, error) {
	d.events = d.events[:0]
	d.levels = d.levels[:0]
	d.changes = d.changes[:0]
	i := skipWS(msg, 0)
	if i == len(msg) {
		return nil, nil
	}
	switch msg[i] {
	case '{':
		if _, err := d.decodeObject(msg, i, received); err != nil {
			return nil, err
		}
	case '[':
		i = skipWS(msg, i+1)
		if i < len(msg) && msg[i] == ']' {
			return nil, nil
		}
		for {
			var err error
			if i, err = d.decodeObject(msg, i, received); err != nil {
				return nil, err
			}
			i = skipWS(msg, i)
			if i >= len(msg) {
				return nil, ErrMalformed
			}
			if msg[i] == ']' {
				break
			}
			if msg[i] != ',' {
				return nil, ErrMalformed
			}
			i = skipWS(msg, i+1)
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
	it := objIter{b: msg, i: i}
	for it.next() {
		switch string(it.key) {
		case "bids", "buys", "asks", "sells":
			if bookEvent < 0 {
				bookEvent = len(d.events)
				d.events = append(d.events, polybot.BookEvent{Kind: polybot.BookSnapshot})
			}
			k := it.key[0]
			end, err := d.levelsAt(msg, it.i, bookEvent, k == 'b')
			if err != nil {
				return 0, err
			}
			it.i = end
		case "price_changes":
			end, err := d.priceChangesAt(msg, it.i, firstEvent)
			if err != nil {
				return 0, err
			}
			it.i, sawChanges = end, true
		case "event_type":
			f.eventType = unquote(it.value())
		case "asset_id":
			f.assetID = unquote(it.value())
		case "market":
			f.market = unquote(it.value())
		case "timestamp":
			f.timestamp = unquote(it.value())
		case "tick_size":
			f.tickSize, f.hasTick = unquote(it.value()), true
		case "price":
			f.price = unquote(it.value())
		case "size":
			f.size = unquote(it.value())
		case "side":
			f.side = unquote(it.value())
		case "new_tick_size":
			f.newTickSize = unquote(it.value())
		default:
			it.value()
		}
	}
	if it.err != nil {
		return 0, it.err
	}
	end := it.i
	ts := parseMillisBytes(f.timestamp)
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
			ev.TickSize, err = parseDec(f.tickSize)
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
		if tick, err = parseDec(f.newTickSize); err == nil {
			ev := d.newEvent(polybot.BookTickSize, f.assetID, f.market, ts, received)
			ev.TickSize = tick
		}
	case EventLastTradePrice:
		drop()
		var p, s polybot.Decimal
		if p, err = parseDec(f.price); err != nil {
			break
		}
		if s, err = parseDec(f.size); err != nil {
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

// levelsAt parses the array of {"price","size"} objects at msg[i] into
// changes of event ev and returns the index after it.
func (d *Decoder) levelsAt(msg []byte, i, ev int, bid bool) (int, error) {
	arr := arrIter{b: msg, i: i}
	for arr.next() {
		var p, s []byte
		it := objIter{b: msg, i: arr.i}
		for it.next() {
			switch string(it.key) {
			case "price":
				p = unquote(it.value())
			case "size":
				s = unquote(it.value())
			default:
				it.value()
			}
		}
		if it.err != nil {
			return 0, it.err
		}
		arr.i = it.i
		price, err := parseDec(p)
		if err != nil {
			return 0, err
		}
		size, err := parseDec(s)
		if err != nil {
			return 0, err
		}
		d.changes = append(d.changes, change{event: ev, bid: bid, level: polybot.Level{Price: price, Size: size}})
	}
	return arr.i, arr.err
}

// priceChangesAt parses a price_changes array at msg[i]: one delta event per
// asset (events from index first on), in the order the assets appear.
func (d *Decoder) priceChangesAt(msg []byte, i, first int) (int, error) {
	arr := arrIter{b: msg, i: i}
	for arr.next() {
		var asset, price, size, side []byte
		it := objIter{b: msg, i: arr.i}
		for it.next() {
			switch string(it.key) {
			case "asset_id":
				asset = unquote(it.value())
			case "price":
				price = unquote(it.value())
			case "size":
				size = unquote(it.value())
			case "side":
				side = unquote(it.value())
			default:
				it.value()
			}
		}
		if it.err != nil {
			return 0, it.err
		}
		arr.i = it.i
		p, err := parseDec(price)
		if err != nil {
			return 0, err
		}
		s, err := parseDec(size)
		if err != nil {
			return 0, err
		}
		ev := -1
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
	return arr.i, arr.err
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

// ---- a minimal JSON scanner for the venue's flat messages ----

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the closing quote of the string that
// starts at b[i] == '"'.
func scanString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, ErrMalformed
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// skipValue returns the index after the JSON value that starts at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrMalformed
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, ErrMalformed
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return 0, ErrMalformed
		}
		return j, nil
	}
}

// objIter walks the keys of the JSON object at b[i]. next leaves i at the
// start of the key's value; the caller then calls value (which skips it and
// returns its raw bytes) or parses it and sets i past it. After the loop, i
// is the index after the object and err says whether it was well formed.
type objIter struct {
	b       []byte
	i       int
	started bool
	done    bool
	key     []byte
	err     error
}

func (it *objIter) next() bool {
	if it.done {
		return false
	}
	b := it.b
	i := skipWS(b, it.i)
	if !it.started {
		it.started = true
		if i >= len(b) || b[i] != '{' {
			return it.fail()
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			it.i, it.done = i+1, true
			return false
		}
	} else {
		if i >= len(b) {
			return it.fail()
		}
		if b[i] == '}' {
			it.i, it.done = i+1, true
			return false
		}
		if b[i] != ',' {
			return it.fail()
		}
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return it.fail()
	}
	kend, err := scanString(b, i)
	if err != nil {
		return it.fail()
	}
	it.key = b[i+1 : kend-1]
	i = skipWS(b, kend)
	if i >= len(b) || b[i] != ':' {
		return it.fail()
	}
	it.i = skipWS(b, i+1)
	return true
}

// value skips the current value and returns its raw bytes.
func (it *objIter) value() []byte {
	end, err := skipValue(it.b, it.i)
	if err != nil {
		it.fail()
		return nil
	}
	v := it.b[it.i:end]
	it.i = end
	return v
}

func (it *objIter) fail() bool {
	it.done, it.err = true, ErrMalformed
	return false
}

// arrIter walks the elements of the JSON array at b[i] (null is empty). next
// leaves i at the start of an element; the caller parses it and sets i past
// it, or calls value.
type arrIter struct {
	b       []byte
	i       int
	started bool
	done    bool
	err     error
}

func (it *arrIter) next() bool {
	if it.done {
		return false
	}
	b := it.b
	i := skipWS(b, it.i)
	if !it.started {
		it.started = true
		if i+4 <= len(b) && string(b[i:i+4]) == "null" {
			it.i, it.done = i+4, true
			return false
		}
		if i >= len(b) || b[i] != '[' {
			return it.fail()
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			it.i, it.done = i+1, true
			return false
		}
	} else {
		if i >= len(b) {
			return it.fail()
		}
		if b[i] == ']' {
			it.i, it.done = i+1, true
			return false
		}
		if b[i] != ',' {
			return it.fail()
		}
		i = skipWS(b, i+1)
	}
	it.i = i
	return true
}

func (it *arrIter) fail() bool {
	it.done, it.err = true, ErrMalformed
	return false
}

// unquote strips the quotes of a string value (escapes are kept raw: the
// fields read here never contain any).
func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// parseDec parses a plain decimal ("0.5", ".48", "1200.25") exactly into a
// Decimal without allocating. More than six fractional digits other than
// trailing zeros, exponents and signs other than a leading '-' are refused.
func parseDec(b []byte) (polybot.Decimal, error) {
	if len(b) == 0 || len(b) > 24 {
		return polybot.Zero, fmt.Errorf("%w: bad decimal %q", ErrMalformed, b)
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
	}
	var v int64
	digits, frac := 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if frac >= 0 {
				if frac == polybot.DecimalPlaces {
					if c != '0' {
						return polybot.Zero, fmt.Errorf("%w: more than 6 decimals in %q", ErrMalformed, b)
					}
					continue
				}
				frac++
			}
			if v > (1<<62)/10 {
				return polybot.Zero, fmt.Errorf("%w: decimal out of range %q", ErrMalformed, b)
			}
			v = v*10 + int64(c-'0')
			digits++
		case c == '.' && frac < 0:
			frac = 0
		default:
			return polybot.Zero, fmt.Errorf("%w: bad decimal %q", ErrMalformed, b)
		}
	}
	if digits == 0 {
		return polybot.Zero, fmt.Errorf("%w: bad decimal %q", ErrMalformed, b)
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < polybot.DecimalPlaces; frac++ {
		if v > (1<<62)/10 {
			return polybot.Zero, fmt.Errorf("%w: decimal out of range %q", ErrMalformed, b)
		}
		v *= 10
	}
	if neg {
		v = -v
	}
	return polybot.DecimalFromMicros(v), nil
}

func parseMillisBytes(b []byte) time.Time {
	var n int64
	if len(b) == 0 || len(b) > 19 {
		return time.Time{}
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return time.Time{}
		}
		n = n*10 + int64(c-'0')
	}
	if n == 0 {
		return time.Time{}
	}
	if n < 1e11 {
		return time.Unix(n, 0)
	}
	return time.UnixMilli(n)
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

// backoff is exponential reconnect delay with a ceiling.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur *= 2
		if b.cur > b.max {
			b.cur = b.max
		}
	}
	// ±25 % jitter without a shared random source: derived from the clock.
	j := time.Duration(time.Now().UnixNano()%int64(b.cur/2+1)) - b.cur/4
	return b.cur + j
}

func (b *backoff) reset() { b.cur = 0 }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
