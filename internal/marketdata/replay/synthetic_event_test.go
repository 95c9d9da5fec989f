package replay

import (
	"strings"
	"testing"

	"github.com/polybot/polybot"
)

func TestSyntheticEventIsAValidLabelledSetWhosePricesSometimesSumBelowADollar(t *testing.T) {
	for _, venue := range []polybot.Platform{polybot.Polymarket, polybot.Kalshi} {
		t.Run(string(venue), func(t *testing.T) {
			rec := SyntheticEvent(venue)
			if err := rec.Set.Validate(); err != nil {
				t.Fatal(err)
			}
			if rec.Set.Venue != venue || len(rec.Set.Outcomes) != 4 || !rec.Set.Exhaustive || rec.Set.Approved ||
				!strings.Contains(rec.Set.Name, "SYNTHETIC") {
				t.Fatalf("set %+v: want 4 exhaustive outcomes on %s, not approved, named SYNTHETIC", rec.Set, venue)
			}
			insts := rec.Instruments()
			if len(rec.Events) != SyntheticEventSteps*len(insts) {
				t.Fatalf("%d events, want %d snapshots", len(rec.Events), SyntheticEventSteps*len(insts))
			}
			long, short, plain := 0, 0, 0
			for step := range SyntheticEventSteps {
				evs := rec.Events[step*len(insts) : (step+1)*len(insts)]
				askSum, bidSum := polybot.Zero, polybot.Zero
				for i, ev := range evs {
					if ev.Kind != polybot.BookSnapshot || ev.Instrument != insts[i] || !ev.Time.Equal(evs[0].Time) {
						t.Fatalf("step %d event %d: %+v, want a snapshot of %v at the step's time", step, i, ev, insts[i])
					}
					if step > 0 && !ev.Time.After(rec.Events[step*len(insts)-1].Time) {
						t.Fatalf("step %d is not after the one before", step)
					}
					if len(ev.Bids) == 0 || len(ev.Asks) == 0 || !ev.Bids[0].Price.LessThan(ev.Asks[0].Price) {
						t.Fatalf("step %d %v: book %v / %v is empty or crossed", step, ev.Instrument, ev.Bids, ev.Asks)
					}
					if ev.Instrument.Outcome == polybot.Yes {
						askSum, bidSum = askSum.Add(ev.Asks[0].Price), bidSum.Add(ev.Bids[0].Price)
						no := evs[i+1]
						if no.Bids[0].Price != polybot.One.Sub(ev.Asks[0].Price) || no.Bids[0].Size != ev.Asks[0].Size ||
							no.Asks[0].Price != polybot.One.Sub(ev.Bids[0].Price) {
							t.Fatalf("step %d: NO book %v/%v is not the complement of YES %v/%v", step, no.Bids, no.Asks, ev.Bids, ev.Asks)
						}
					}
				}
				switch {
				case askSum.LessThan(polybot.One):
					long++
					if askSum.LessThan(polybot.MustDecimal("0.97")) {
						t.Fatalf("step %d: YES asks sum to %s, want 0.97-0.99", step, askSum)
					}
				case polybot.One.LessThan(bidSum):
					short++
					if polybot.MustDecimal("1.03").LessThan(bidSum) {
						t.Fatalf("step %d: YES bids sum to %s, want 1.01-1.03", step, bidSum)
					}
				default:
					plain++
					if askSum != polybot.MustDecimal("1.04") || bidSum != polybot.MustDecimal("0.96") {
						t.Fatalf("step %d: a plain step's YES asks sum to %s and bids to %s, want 1.04 and 0.96", step, askSum, bidSum)
					}
				}
			}
			// One step in ten long, one in twenty short (336 steps: about 34 and 17).
			if long < 15 || long > 60 || short < 5 || short > 35 {
				t.Fatalf("%d long and %d short steps of %d, want about 34 and 17", long, short, SyntheticEventSteps)
			}
			t.Logf("%s: %d long, %d short, %d plain steps", venue, long, short, plain)
		})
	}
	pm, k := SyntheticEvent(polybot.Polymarket), SyntheticEvent(polybot.Kalshi)
	for i := range pm.Events {
		if !levelsEqual(pm.Events[i].Bids, k.Events[i].Bids) || !levelsEqual(pm.Events[i].Asks, k.Events[i].Asks) {
			t.Fatalf("event %d differs between the venues", i)
		}
	}
}

func levelsEqual(a, b []polybot.Level) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
