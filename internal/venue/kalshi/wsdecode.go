package kalshi

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/polybot/polybot"
)

// A hand-written decoder for the hot WebSocket messages. It reads the frame
// in place: strings come back as sub-slices of the frame (valid until the
// next read), numbers and fixed-point strings are parsed without allocating,
// and unknown fields are skipped, in any order.

var errJSON = errors.New("kalshi: malformed websocket message")

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
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errJSON
	}
	i++
	for {
		i = skipWS(b, i)
		if i < len(b) && b[i] == '}' {
			return nil
		}
		key, j, err := readString(b, i)
		if err != nil {
			return err
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return errJSON
		}
		i = skipWS(b, i+1)
		switch string(key) {
		case "type":
			env.Type, i, err = readString(b, i)
		case "id":
			env.ID, i, err = readInt(b, i)
		case "sid":
			env.Sid, i, err = readInt(b, i)
		case "seq":
			env.Seq, i, err = readInt(b, i)
		case "msg":
			start := i
			i, err = skipValue(b, i)
			if err == nil {
				env.Msg = b[start:i]
			}
		default:
			i, err = skipValue(b, i)
		}
		if err != nil {
			return err
		}
		if i, err = nextMember(b, i); err != nil {
			if err == errEnd {
				return nil
			}
			return err
		}
	}
}

func decodeDelta(b []byte, d *deltaMsg) error {
	*d = deltaMsg{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errJSON
	}
	i++
	seenPrice, seenDelta := false, false
	for {
		i = skipWS(b, i)
		if i < len(b) && b[i] == '}' {
			break
		}
		key, j, err := readString(b, i)
		if err != nil {
			return err
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return errJSON
		}
		i = skipWS(b, i+1)
		var s []byte
		switch string(key) {
		case "market_ticker":
			d.Ticker, i, err = readString(b, i)
		case "price_dollars":
			if s, i, err = readString(b, i); err == nil {
				d.Price, err = parseFixed(s)
				seenPrice = true
			}
		case "delta_fp":
			if s, i, err = readString(b, i); err == nil {
				d.Delta, err = parseFixed(s)
				seenDelta = true
			}
		case "side":
			if s, i, err = readString(b, i); err == nil {
				switch string(s) {
				case "yes":
					d.Side = 'y'
				case "no":
					d.Side = 'n'
				default:
					err = errJSON
				}
			}
		case "ts_ms":
			d.TsMs, i, err = readInt(b, i)
		case "client_order_id":
			if i < len(b) && b[i] == 'n' {
				i, err = skipValue(b, i)
			} else {
				d.ClientOrderID, i, err = readString(b, i)
			}
		default:
			i, err = skipValue(b, i)
		}
		if err != nil {
			return err
		}
		if i, err = nextMember(b, i); err != nil {
			if err == errEnd {
				break
			}
			return err
		}
	}
	if len(d.Ticker) == 0 || d.Side == 0 || !seenPrice || !seenDelta {
		return errors.New("kalshi: orderbook_delta lacks market_ticker, side, price_dollars or delta_fp")
	}
	return nil
}

var errEnd = errors.New("end of object")

// nextMember consumes the comma between members, or reports errEnd at '}'.
func nextMember(b []byte, i int) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return i, errJSON
	}
	switch b[i] {
	case ',':
		return i + 1, nil
	case '}':
		return i + 1, errEnd
	}
	return i, errJSON
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// readString returns the raw contents of the string at b[i]. Escaped strings
// (rare in this feed) are unquoted into a new slice.
func readString(b []byte, i int) ([]byte, int, error) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, errJSON
	}
	start := i + 1
	q := bytes.IndexByte(b[start:], '"')
	if q < 0 {
		return nil, len(b), errJSON
	}
	q += start
	if bytes.IndexByte(b[start:q], '\\') < 0 {
		return b[start:q], q + 1, nil
	}
	// Escapes: find the real closing quote, then unquote.
	for j := start; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			s, err := strconv.Unquote(string(b[i : j+1]))
			if err != nil {
				return nil, j, errJSON
			}
			return []byte(s), j + 1, nil
		}
	}
	return nil, len(b), errJSON
}

// readInt reads a JSON integer (a fractional part is rejected).
func readInt(b []byte, i int) (int64, int, error) {
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if n > (1<<62)/10 {
			return 0, i, errJSON
		}
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == start || (i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
		return 0, i, errJSON
	}
	if neg {
		n = -n
	}
	return n, i, nil
}

// skipValue returns the index just past the JSON value at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errJSON
	}
	switch c := b[i]; {
	case c == '"':
		_, j, err := readString(b, i)
		return j, err
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, k, err := readString(b, j)
				if err != nil {
					return k, err
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return len(b), errJSON
	default:
		j := i
		for j < len(b) && !isDelim(b[j]) {
			j++
		}
		if j == i {
			return j, errJSON
		}
		return j, nil
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\n', '\r', '\t':
		return true
	}
	return false
}
