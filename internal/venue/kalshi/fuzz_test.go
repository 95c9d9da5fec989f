package kalshi

import (
	"bytes"
	"testing"
)

// FuzzDecodeDelta drives the hand-written orderbook_delta decoder (the
// envelope, then its msg) with arbitrary frames: it must never panic, and a
// delta it accepts has a side, a ticker read in place from the frame, and
// nothing past the frame. The seeds in testdata/fuzz/FuzzDecodeDelta run in
// every `go test`; a longer search is
//
//	go test ./internal/venue/kalshi -run '^$' -fuzz FuzzDecodeDelta -fuzztime 60s
func FuzzDecodeDelta(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		var env envelope
		if err := decodeEnvelope(frame, &env); err != nil {
			return
		}
		if len(env.Msg) > 0 && !bytes.Contains(frame, env.Msg) {
			t.Fatalf("msg %q is not a span of the frame %q", env.Msg, frame)
		}
		var d deltaMsg
		if err := decodeDelta(env.Msg, &d); err != nil {
			return
		}
		if d.Side != 'y' && d.Side != 'n' {
			t.Fatalf("%q: accepted side %q", frame, d.Side)
		}
		if len(d.Ticker) == 0 || !bytes.Contains(env.Msg, d.Ticker) {
			t.Fatalf("%q: ticker %q is not read from the msg", frame, d.Ticker)
		}
		if d.Price.Sign() < 0 {
			t.Fatalf("%q: accepted a negative price %s", frame, d.Price)
		}
	})
}
