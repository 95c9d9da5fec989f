package replay

import (
	"bytes"
	_ "embed"
	"io"

	"github.com/polybot/polybot"
)

// CPIJul2026CSV is the real recording of a threshold ladder: every rung of
// "CPI YoY in July" 2026 on Polymarket US, from 2 August to the release on
// 12 August (recordings/polymarketus_cpi_jul2026.csv; source, licence and
// trimming in testdata/README.md and the README beside it), built into the
// binary so that replays can run the implication strategy on it.
//
//go:embed recordings/polymarketus_cpi_jul2026.csv
var CPIJul2026CSV []byte

// CPIJul2026 parses the built-in CPIJul2026CSV.
func CPIJul2026() (*EventRecording, error) {
	return ReadCPIJul2026(bytes.NewReader(CPIJul2026CSV))
}

// ReadCPIJul2026 reads a quote sweep of the July 2026 CPI ladder (the
// format of CPIJul2026CSV) as an EventRecording of its eleven rungs. See
// readSweep for what each row becomes. The rungs are traded through
// CPIJul2026Implications, not as a set.
func ReadCPIJul2026(r io.Reader) (*EventRecording, error) {
	return readSweep(r, cpiJul2026Set())
}

const cpiJul2026Event = "cpic-uscpi-july-yoy-2026-08-12"

// cpiJul2026Rungs are the ladder's thresholds in rising order, as the slugs
// spell them (gt3pt4pct: greater than 3.4%). The recorded window holds
// these eleven; the event also listed gt4pt2pct, quoted only until 17 July
// and so not in the file.
var cpiJul2026Rungs = []struct{ suffix, label string }{
	{"gt2pt9pct", "above 2.9%"},
	{"gt3pt0pct", "above 3.0%"},
	{"gt3pt1pct", "above 3.1%"},
	{"gt3pt2pct", "above 3.2%"},
	{"gt3pt3pct", "above 3.3%"},
	{"gt3pt4pct", "above 3.4%"},
	{"gt3pt5pct", "above 3.5%"},
	{"gt3pt6pct", "above 3.6%"},
	{"gt3pt7pct", "above 3.7%"},
	{"gt3pt8pct", "above 3.8%"},
	{"gt3pt9pct", "above 3.9%"},
}

func cpiJul2026Market(suffix string) polybot.BinaryMarket {
	return polymarketUSMarket(cpiJul2026Event + "-" + suffix)
}

// cpiJul2026Set is the ladder as Polymarket US lists it: one market group,
// "CPI YoY in July", of binary markets "CPI above X%", in rising threshold
// order.
//
// Not exhaustive, and not exclusive either: the rungs are nested (a print
// above 3.3% is above every lower threshold too, so several rungs resolve
// YES together; the last polls price 2.9% to 3.3% at a 0.99 bid), so
// neither buying every YES nor every NO is a hedged set. OutcomeSet is
// only the container of the recording's markets here; Exhaustive false
// keeps the set from ever trading as a rebalancing set, approved or not.
// The ladder trades through its implications (CPIJul2026Implications).
func cpiJul2026Set() polybot.OutcomeSet {
	s := polybot.OutcomeSet{
		ID:         "polymarketus-cpi-jul2026",
		Name:       "CPI YoY in July 2026, threshold ladder (Polymarket US)",
		Venue:      polybot.Polymarket,
		Event:      cpiJul2026Event,
		Exhaustive: false,
		ResolutionNotes: "Polymarket US market group \"CPI YoY in July\": one market per threshold, each YES when " +
			"the US CPI year-on-year change for July 2026 (released 12 August 2026, 08:30 ET) is above it. " +
			"The recording has no rules text: thresholds and \"above\" are read from the slugs (gtXptYpct). " +
			"A ladder, not a partition: the rungs are nested, so several resolve YES together. Its last polls " +
			"(from 08:37 ET on 12 August) price above 2.9% to above 3.3% at a 0.99 bid and above 3.4% to " +
			"above 3.9% at a 0.01 ask.",
	}
	for _, r := range cpiJul2026Rungs {
		s.Outcomes = append(s.Outcomes, polybot.SetOutcome{Label: r.label, Markets: []polybot.BinaryMarket{cpiJul2026Market(r.suffix)}})
	}
	return s
}

// CPIJul2026Implications are the ladder's implications: for every pair of
// rungs, the higher threshold A implies the lower B (a print above 3.5% is
// above 3.2%), so YES on B plus NO on A pays at least $1. All 55 pairs are
// listed, not only the 10 adjacent ones: transitivity makes the far pairs
// true, but their prices are their own (a rung between A and B with a wide
// spread hides a far pair's edge from both adjacent pairs; the recording
// has such polls), and recordings/polymarketus_cpi_jul2026_count.py counts
// the same 55. Ordered by B, then A, both rising; IDs are
// "polymarketus-cpi-jul2026-<A suffix>-<B suffix>". None is approved:
// callers approve after reading the rules.
func CPIJul2026Implications() []*polybot.Relation {
	var rels []*polybot.Relation
	for i, b := range cpiJul2026Rungs {
		for _, a := range cpiJul2026Rungs[i+1:] {
			rels = append(rels, &polybot.Relation{
				ID:   "polymarketus-cpi-jul2026-" + a.suffix + "-" + b.suffix,
				Name: "CPI YoY July 2026 " + a.label + " implies " + b.label + " (Polymarket US)",
				Kind: polybot.RelationImplies,
				A:    cpiJul2026Market(a.suffix),
				B:    cpiJul2026Market(b.suffix),
				ResolutionNotes: "Two rungs of the Polymarket US ladder \"CPI YoY in July\" (" + cpiJul2026Event +
					"), one print of July 2026 US CPI year on year: " + a.label + " implies " + b.label +
					". Read from the slugs (both \"gt\", greater than); confirm both rules name the same " +
					"release and the same rounding before approving.",
			})
		}
	}
	return rels
}
