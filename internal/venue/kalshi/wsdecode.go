package kalshi

import (
	"errors"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// The hot WebSocket messages are read by hand with the shared scanner
// (internal/venue/wire): in place, strings as sub-slices of the frame (valid
// until the next read), numbers and fixed-point strings without allocating,
// unknown fields skipped, in any order.

// envelope is the outer frame: {"type", "id", "sid", "seq", "msg"}.
type envelope struct {
	Type []byte
	ID   int64
	Sid  int64
	Seq  int64
	Msg  []byte // the raw msg value (object or array)
}

// deltaMsg is the msg of an orderbook_delta.
type deltaMsg struct {
	Ticker        []byte
	Price         polybot.Decimal
	Delta         polybot.Decimal
	Side          byte // 'y' or 'n'
	TsMs          int64
	ClientOrderID []byte
}

func decodeEnvelope(b []byte, env *envelope) error {
	*env = envelope{}
	var err error
	it := wire.ObjectAt(b, 0)
	for it.Next() && err == nil {
		switch string(it.Key()) {
		case "type":
			env.Type = it.Text()
		case "id":
			env.ID, err = it.Int()
		case "sid":
			env.Sid, err = it.Int()
		case "seq":
			env.Seq, err = it.Int()
		case "msg":
			env.Msg = it.Value()
		default:
			it.Skip()
		}
	}
	if err != nil {
		return err
	}
	return it.Err()
}

var errDelta = errors.New("kalshi: orderbook_delta lacks market_ticker, side, price_dollars or delta_fp, or has a negative price")

func decodeDelta(b []byte, d *deltaMsg) error {
	*d = deltaMsg{}
	seenPrice, seenDelta := false, false
	var err error
	it := wire.ObjectAt(b, 0)
	for it.Next() && err == nil {
		switch string(it.Key()) {
		case "market_ticker":
			d.Ticker = it.Text()
		case "price_dollars":
			d.Price, err = it.Decimal()
			seenPrice = true
		case "delta_fp":
			d.Delta, err = it.Decimal()
			seenDelta = true
		case "side":
			switch string(it.Text()) {
			case "yes":
				d.Side = 'y'
			case "no":
				d.Side = 'n'
			default:
				err = wire.ErrMalformed
			}
		case "ts_ms":
			d.TsMs, err = it.Int()
		case "client_order_id":
			d.ClientOrderID = it.Text()
		default:
			it.Skip()
		}
	}
	if err != nil {
		return err
	}
	if it.Err() != nil {
		return it.Err()
	}
	if len(d.Ticker) == 0 || d.Side == 0 || !seenPrice || !seenDelta || d.Price.Sign() < 0 {
		return errDelta
	}
	return nil
}
