package engine

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/polybot/polybot"
)

// grantEncoder writes grant messages (grantMsg, the JSON a worker reads)
// for a gateway. The grants of one opportunity share it: its JSON and its
// legs' instruments are encoded once, and each grant adds only its own
// fields. encoding/json took about 7 µs a grant, and a route lends
// hundreds (BenchmarkGrantEncode). The output is byte for byte
// json.Marshal's (TestGrantEncoderMatchesEncodingJSON).
type grantEncoder struct {
	id    string    // the opportunity encoded (its ID and DetectedAt)
	at    time.Time //
	opp   []byte    // its JSON
	insts [][]byte  // its legs' instruments' JSON
}

// encode appends gr's message to buf.
func (e *grantEncoder) encode(buf []byte, gr *Grant) ([]byte, error) {
	o := &gr.Opportunity
	if e.opp == nil || e.id != o.ID || !e.at.Equal(o.DetectedAt) || len(e.insts) != len(o.Legs) {
		opp, err := json.Marshal(o)
		if err != nil {
			return buf, err
		}
		insts := make([][]byte, len(o.Legs))
		for i := range o.Legs {
			if insts[i], err = json.Marshal(o.Legs[i].Instrument); err != nil {
				return buf, err
			}
		}
		e.id, e.at, e.opp, e.insts = o.ID, o.DetectedAt, opp, insts
	}
	room := len(e.opp) + 320
	for _, inst := range e.insts {
		room += len(inst) + 64
	}
	buf = slices.Grow(buf, room)
	buf = append(buf, `{"grant":{"ID":`...)
	buf = strconv.AppendUint(buf, uint64(gr.ID), 10)
	if gr.Origin != "" {
		buf = append(buf, `,"Origin":`...)
		buf = appendJSONString(buf, gr.Origin)
	}
	buf = append(buf, `,"Tenant":"`...)
	buf = gr.Tenant.Append(buf)
	buf = append(buf, `","Opportunity":`...)
	buf = append(buf, e.opp...)
	buf = append(buf, `,"Group":`...)
	buf = strconv.AppendUint(buf, gr.Group, 10)
	buf = append(buf, `,"At":`...)
	buf = appendJSONTime(buf, gr.At)
	buf = append(buf, `,"Sets":`...)
	buf = appendJSONDecimal(buf, gr.Sets)
	buf = append(buf, `,"Legs":`...)
	if gr.Legs == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, l := range gr.Legs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"Instrument":`...)
			if i < len(e.insts) && l.Instrument == o.Legs[i].Instrument {
				buf = append(buf, e.insts[i]...)
			} else {
				inst, err := json.Marshal(l.Instrument)
				if err != nil {
					return buf, err
				}
				buf = append(buf, inst...)
			}
			buf = append(buf, `,"Price":`...)
			buf = appendJSONDecimal(buf, l.Price)
			buf = append(buf, `,"Size":`...)
			buf = appendJSONDecimal(buf, l.Size)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"Headline":`...)
	buf = appendJSONTime(buf, gr.Headline)
	buf = append(buf, `,"HeadlineID":`...)
	buf = appendJSONString(buf, gr.HeadlineID)
	return append(buf, "}}"...), nil
}

func appendJSONDecimal(buf []byte, d polybot.Decimal) []byte {
	buf = append(buf, '"')
	buf = d.Append(buf)
	return append(buf, '"')
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds,
// trailing zeros trimmed).
func appendJSONTime(buf []byte, t time.Time) []byte {
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

// appendJSONString quotes s as encoding/json does: printable ASCII that
// needs no escape is copied, anything else goes through json.Marshal.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(buf, q...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
