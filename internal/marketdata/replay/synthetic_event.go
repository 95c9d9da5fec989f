package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/polybot/polybot"
)

// SyntheticEventSteps, SyntheticEventInterval and SyntheticEventStart
// shape SyntheticEvent: a book of every outcome every hour for two weeks.
const (
	SyntheticEventSteps    = 336
	SyntheticEventInterval = time.Hour
)

// SyntheticEventStart is the time of SyntheticEvent's first books.
var SyntheticEventStart = time.Date(2025, 11, 26, 0, 0, 0, 0, time.UTC)

// syntheticOutcomes are SyntheticEvent's outcomes: a Fed-decision-like
// event whose favourite moves from "No change" to "Cut 25 bps", with
// fair prices in cents at the first and the last step.
var syntheticOutcomes = []struct {
	key, label string
	first, end int64
}{
	{"C50", "Cut 50+ bps", 6, 2},
	{"C25", "Cut 25 bps", 30, 88},
	{"H0", "No change", 58, 8},
	{"H25", "Hike", 6, 2},
}

// SyntheticEvent is a SYNTHETIC recording, made up here and not recorded
// from any venue: a four-outcome, Fed-decision-like event on venue
// (polybot.Kalshi, or Polymarket for any other), for demos (`polybot sim
// --events demo`) and tests. Its set is exhaustive (the four outcomes
// cover every decision) but not approved, and its name says it is
// synthetic.
//
// Every SyntheticEventInterval each outcome's YES and NO books are
// snapshot, two levels a side, one cent apart, YES and NO of one outcome
// consistent (a NO bid at 1 − each YES ask, and the other way round).
// Normally each YES quote is its fair price ± 1 cent, so the YES asks sum
// to $1.04 and the bids to $0.96: nothing to arbitrage. About one step in
// ten the favourite's quotes drop until the YES asks sum to $0.97–$0.99 (a
// long rebalancing set: buy every YES for less than the $1 it pays), and
// about one in twenty they rise until the YES bids sum to $1.01–$1.03 (a
// short set: every NO for less than the n − 1 dollars it pays). The same
// seed gives the same prices on both venues.
func SyntheticEvent(venue polybot.Platform) *EventRecording {
	if venue != polybot.Kalshi {
		venue = polybot.Polymarket
	}
	rec := &EventRecording{Set: polybot.OutcomeSet{
		ID: "synthetic-fed-demo-" + string(venue), Name: "SYNTHETIC demo: Fed decision (made-up prices)",
		Venue: venue, Exhaustive: true,
		ResolutionNotes: "Synthetic demo data made up by replay.SyntheticEvent, not recorded from a venue. " +
			"The four outcomes (cut 50 bps or more, cut 25 bps, no change, hike) cover every decision.",
	}}
	const eventTicker = "SYNTHFED-DEMO"
	negRiskID := "0x" + hexHash("synthetic-event/fed-demo")
	rec.Set.Event = eventTicker
	if venue == polybot.Polymarket {
		rec.Set.Event = negRiskID
	}
	for _, o := range syntheticOutcomes {
		var m polybot.BinaryMarket
		if venue == polybot.Kalshi {
			t := eventTicker + "-" + o.key
			m = polybot.BinaryMarket{Yes: polybot.Instrument{Venue: venue, Market: t, Outcome: polybot.Yes},
				No: polybot.Instrument{Venue: venue, Market: t, Outcome: polybot.No}}
		} else {
			cond := "0x" + hexHash("synthetic-event/fed-demo/"+o.key)
			m = polybot.BinaryMarket{
				Yes: polybot.Instrument{Venue: venue, Market: cond, Token: decimalHash("synthetic-event/fed-demo/" + o.key + "/yes"), Outcome: polybot.Yes},
				No:  polybot.Instrument{Venue: venue, Market: cond, Token: decimalHash("synthetic-event/fed-demo/" + o.key + "/no"), Outcome: polybot.No}}
		}
		rec.Set.Outcomes = append(rec.Set.Outcomes, polybot.SetOutcome{Label: o.label, Markets: []polybot.BinaryMarket{m}})
	}

	rng := rand.New(rand.NewPCG(2025, 12))
	n := len(syntheticOutcomes)
	tick := polybot.NewDecimal(1, 2)
	cents := func(c int64) polybot.Decimal { return polybot.NewDecimal(c, 2) }
	for step := range SyntheticEventSteps {
		at := SyntheticEventStart.Add(time.Duration(step) * SyntheticEventInterval)
		fair := syntheticFair(step, rng)
		bid, ask := make([]int64, n), make([]int64, n)
		for i, f := range fair {
			bid[i], ask[i] = f-1, f+1
		}
		fav := 0
		for i := range fair {
			if fair[i] > fair[fav] {
				fav = i
			}
		}
		switch r := rng.IntN(20); {
		case r < 2: // long: the YES asks sum to 97–99 cents
			ask[fav] -= int64(n) + 1 + rng.Int64N(3)
			bid[fav] = ask[fav] - 2
		case r == 2: // short: the YES bids sum to 101–103 cents
			if b := bid[fav] + int64(n) + 1 + rng.Int64N(3); b+2 <= 99 {
				bid[fav], ask[fav] = b, b+2
			}
		}
		for i, o := range rec.Set.Outcomes {
			var yesBids, yesAsks []polybot.Level
			for k := int64(0); k < 2; k++ {
				size := polybot.NewDecimal(50+rng.Int64N(450), 0)
				if k == 1 {
					size = polybot.NewDecimal(500+rng.Int64N(1500), 0)
				}
				if p := bid[i] - k; p >= 1 {
					yesBids = append(yesBids, polybot.Level{Price: cents(p), Size: size})
				}
				if p := ask[i] + k; p <= 99 {
					yesAsks = append(yesAsks, polybot.Level{Price: cents(p), Size: size})
				}
			}
			m := o.Markets[0]
			rec.Events = append(rec.Events,
				polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: m.Yes, Bids: yesBids, Asks: yesAsks, TickSize: tick, Time: at},
				polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: m.No, Bids: complement(yesAsks), Asks: complement(yesBids), TickSize: tick, Time: at})
		}
	}
	return rec
}

// syntheticFair is the fair price of each outcome at step, in cents,
// summing to 100: the straight line from first to end, a cent moved
// between two outcomes now and then, none below 3 cents.
func syntheticFair(step int, rng *rand.Rand) []int64 {
	last := int64(SyntheticEventSteps - 1)
	s := int64(step)
	fair := make([]int64, len(syntheticOutcomes))
	sum := int64(0)
	for i, o := range syntheticOutcomes {
		fair[i] = (o.first*(last-s) + o.end*s) / last
		sum += fair[i]
	}
	if a, b := rng.IntN(len(fair)), rng.IntN(len(fair)); a != b {
		fair[a]++
		fair[b]--
	}
	top := 0
	for i := range fair {
		if fair[i] < 3 {
			sum += 3 - fair[i]
			fair[i] = 3
		}
		if fair[i] > fair[top] {
			top = i
		}
	}
	fair[top] += 100 - sum
	return fair
}

// complement is the other outcome's side of levels: a level at p is one
// at 1 − p, best first.
func complement(levels []polybot.Level) []polybot.Level {
	out := make([]polybot.Level, len(levels))
	for i, l := range levels {
		out[i] = polybot.Level{Price: polybot.One.Sub(l.Price), Size: l.Size}
	}
	return out
}

func hexHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// decimalHash is a token id (a decimal uint256) derived from s.
func decimalHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return new(big.Int).SetBytes(h[:]).String()
}
