package polymarket

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// FuzzDecode drives the hand-written market-channel decoder (book and
// price_change events, single or in an array) with arbitrary messages: it
// must never panic, every event it yields is a Polymarket one, and the same
// decoder, reused, decodes the same message to the same events. The seeds
// in testdata/fuzz/FuzzDecode run in every `go test`; a longer search is
//
//	go test ./internal/venue/polymarket -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	at := time.Unix(1757908892, 0)
	d := NewDecoder()
	d.SetInstrument(polybot.Instrument{Token: "t1", Market: "0xm", Outcome: polybot.Yes})
	f.Fuzz(func(t *testing.T, msg []byte) {
		first, err := d.Decode(msg, at)
		if err != nil {
			return
		}
		n := len(first)
		summary := make([]polybot.Instrument, n)
		for i, ev := range first {
			if ev.Instrument.Venue != polybot.Polymarket {
				t.Fatalf("%q: event %d is for venue %q", msg, i, ev.Instrument.Venue)
			}
			summary[i] = ev.Instrument
		}
		again, err := d.Decode(msg, at)
		if err != nil || len(again) != n {
			t.Fatalf("%q: decoded %d events, then %d (%v)", msg, n, len(again), err)
		}
		for i, ev := range again {
			if ev.Instrument != summary[i] {
				t.Fatalf("%q: event %d was %+v, then %+v", msg, i, summary[i], ev.Instrument)
			}
		}
	})
}
