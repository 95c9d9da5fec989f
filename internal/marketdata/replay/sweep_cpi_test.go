package replay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

const cpiJulPrefix = "cpic-uscpi-july-yoy-2026-08-12-"

func TestCPIJul2026IsAValidLadderNeitherExhaustiveNorApproved(t *testing.T) {
	rec, err := CPIJul2026()
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Set.Validate(); err != nil {
		t.Fatal(err)
	}
	s := rec.Set
	if s.ID != "polymarketus-cpi-jul2026" || s.Venue != polybot.Polymarket || s.Event != "cpic-uscpi-july-yoy-2026-08-12" ||
		s.Exhaustive || s.Approved || s.Tradable() {
		t.Errorf("set %+v", s)
	}
	// Even approved, a ladder never trades as a rebalancing set.
	s.Approved = true
	if s.Tradable() {
		t.Error("an approved ladder is tradable as a set")
	}
	var labels []string
	for _, o := range s.Outcomes {
		labels = append(labels, o.Label+"="+strings.TrimPrefix(o.Markets[0].Yes.Market, cpiJulPrefix))
	}
	want := "above 2.9%=gt2pt9pct above 3.0%=gt3pt0pct above 3.1%=gt3pt1pct above 3.2%=gt3pt2pct above 3.3%=gt3pt3pct " +
		"above 3.4%=gt3pt4pct above 3.5%=gt3pt5pct above 3.6%=gt3pt6pct above 3.7%=gt3pt7pct above 3.8%=gt3pt8pct above 3.9%=gt3pt9pct"
	if got := strings.Join(labels, " "); got != want {
		t.Errorf("outcomes %s", got)
	}
}

func TestCPIJul2026ReadsEveryRowAsYesAndNoTopOfBook(t *testing.T) {
	rec, err := CPIJul2026()
	if err != nil {
		t.Fatal(err)
	}
	// 347 polls (3,616 rows, one a market) are kept; none is bad.
	if len(rec.Skipped) != 0 || len(rec.Events) != 2*3616 {
		t.Fatalf("%d events, skipped %+v", len(rec.Events), rec.Skipped)
	}
	for i := 1; i < len(rec.Events); i++ {
		if rec.Events[i].Time.Before(rec.Events[i-1].Time) {
			t.Fatalf("event %d out of time order", i)
		}
	}
	// Hand-checked rows of the file; times are the naive ET stamps + 4 h.
	tests := []struct {
		name, utc, slug string
		yesBid, yesAsk  string // "" = no level
		noBid, noAsk    string
	}{
		// 1785672079000000,…-gt2pt9pct,0.89,0.98,2 (2 Aug 12:01:19 ET)
		{"first row: both sides quoted", "2026-08-02T16:01:19Z", "gt2pt9pct", "0.89", "0.98", "0.02", "0.11"},
		// 1786295662000000,…-gt3pt6pct,,0.01,2 (9 Aug 17:14:22 ET)
		{"no YES bid leaves NO without an ask", "2026-08-09T21:14:22Z", "gt3pt6pct", "", "0.01", "0.99", ""},
		// 1786523476000000,…-gt3pt4pct,,0.63,2 (12 Aug 08:31:16 ET, the first poll after the 08:30 release)
		{"the rung listed last, as the release hits", "2026-08-12T12:31:16Z", "gt3pt4pct", "", "0.63", "0.37", ""},
		// 1786523852000000,…-gt3pt3pct,0.99,,2 (12 Aug 08:37:32 ET)
		{"after the release: above 3.3% at 0.99 with no ask", "2026-08-12T12:37:32Z", "gt3pt3pct", "0.99", "", "", "0.01"},
		{"after the release: above 3.4% at a 0.01 ask with no bid", "2026-08-12T12:37:32Z", "gt3pt4pct", "", "0.01", "0.99", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tt.utc)
			var got []string
			for _, ev := range rec.Events {
				if ev.Time.Equal(at) && ev.Instrument.Market == cpiJulPrefix+tt.slug {
					got = append(got, fmt.Sprintf("%s %s/%s", ev.Instrument.Outcome, top(ev.Bids), top(ev.Asks)))
				}
			}
			want := []string{fmt.Sprintf("YES %s/%s", tt.yesBid, tt.yesAsk), fmt.Sprintf("NO %s/%s", tt.noBid, tt.noAsk)}
			if strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestCPIJul2026ImplicationsAreEveryHigherRungImplyingEveryLowerOneUnapproved(t *testing.T) {
	rels := CPIJul2026Implications()
	if len(rels) != 55 { // 11 rungs: 11·10/2 pairs
		t.Fatalf("%d relations", len(rels))
	}
	rec, err := CPIJul2026()
	if err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{}
	for i, o := range rec.Set.Outcomes {
		rank[o.Markets[0].Yes.Market] = i
	}
	ids := map[string]bool{}
	adjacent := 0
	for _, r := range rels {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
		if r.Kind != polybot.RelationImplies || r.Approved || ids[r.ID] {
			t.Errorf("relation %+v", r)
		}
		ids[r.ID] = true
		a, okA := rank[r.A.Yes.Market]
		b, okB := rank[r.B.Yes.Market]
		if !okA || !okB || a <= b {
			t.Errorf("%s: A %s is not a higher rung than B %s", r.ID, r.A.Yes.Market, r.B.Yes.Market)
		}
		if a == b+1 {
			adjacent++
		}
		// Each side is the set's own market, instrument for instrument.
		if r.A != rec.Set.Outcomes[a].Markets[0] || r.B != rec.Set.Outcomes[b].Markets[0] {
			t.Errorf("%s: markets differ from the set's", r.ID)
		}
	}
	if adjacent != 10 {
		t.Errorf("%d adjacent pairs", adjacent)
	}
	tests := []struct {
		i        int
		id, name string
	}{
		{0, "polymarketus-cpi-jul2026-gt3pt0pct-gt2pt9pct", "CPI YoY July 2026 above 3.0% implies above 2.9% (Polymarket US)"},
		{54, "polymarketus-cpi-jul2026-gt3pt9pct-gt3pt8pct", "CPI YoY July 2026 above 3.9% implies above 3.8% (Polymarket US)"},
	}
	for _, tt := range tests {
		if rels[tt.i].ID != tt.id || rels[tt.i].Name != tt.name {
			t.Errorf("relation %d: %q %q", tt.i, rels[tt.i].ID, rels[tt.i].Name)
		}
	}
}

// implicationCost is, at time at, the cost of YES on r.B plus NO on r.A
// from the asks of events; ok is false when either ask is missing.
func implicationCost(events []polybot.BookEvent, r *polybot.Relation, at time.Time) (cost polybot.Decimal, ok bool) {
	var yesB, noA *polybot.Decimal
	for i := range events {
		ev := &events[i]
		if !ev.Time.Equal(at) || len(ev.Asks) == 0 {
			continue
		}
		switch ev.Instrument {
		case r.B.Yes:
			yesB = &ev.Asks[0].Price
		case r.A.No:
			noA = &ev.Asks[0].Price
		}
	}
	if yesB == nil || noA == nil {
		return polybot.Decimal{}, false
	}
	return yesB.Add(*noA), true
}

func TestCPIJul2026HoldsTheHandCheckedImplicationSnapshots(t *testing.T) {
	rec, err := CPIJul2026()
	if err != nil {
		t.Fatal(err)
	}
	rels := map[string]*polybot.Relation{}
	for _, r := range CPIJul2026Implications() {
		rels[strings.TrimPrefix(r.ID, "polymarketus-cpi-jul2026-")] = r
	}
	tests := []struct {
		name, utc, pair string
		cost            string // ask YES B + ask NO A; "" = a side has no ask
	}{
		// 2 Aug 20:06:01 ET: 2.9% 0.93/0.97, 3.0% 0.97/0.99, 3.1% 0.98/0.99.
		// 0.97 + (1 − 0.98) = 0.99 < 1: a far pair pays while neither adjacent pair does.
		{"far pair below $1", "2026-08-03T00:06:01Z", "gt3pt1pct-gt2pt9pct", "0.99"},
		{"adjacent pair at exactly $1 is a tie", "2026-08-03T00:06:01Z", "gt3pt0pct-gt2pt9pct", "1.00"},
		{"other adjacent pair above $1", "2026-08-03T00:06:01Z", "gt3pt1pct-gt3pt0pct", "1.01"},
		// 2 Aug 20:10:06 ET: 2.9% 0.94/0.95; 0.95 + (1 − 0.97) = 0.98.
		{"adjacent pair below $1", "2026-08-03T00:10:06Z", "gt3pt0pct-gt2pt9pct", "0.98"},
		// 9 Aug 17:14:22 ET: 3.6% -/0.01, 3.7% 0.02/0.03; 0.01 + (1 − 0.02) = 0.99.
		{"top of the ladder inverted", "2026-08-09T21:14:22Z", "gt3pt7pct-gt3pt6pct", "0.99"},
		// 12 Aug 08:37:32 ET: 3.3% 0.99/-, 3.4% -/0.01: neither B's YES ask nor A's NO ask.
		{"after the release nothing to buy", "2026-08-12T12:37:32Z", "gt3pt4pct-gt3pt3pct", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rels[tt.pair]
			if r == nil {
				t.Fatalf("no relation %s", tt.pair)
			}
			at, _ := time.Parse(time.RFC3339, tt.utc)
			got := ""
			if c, ok := implicationCost(rec.Events, r, at); ok {
				got = c.String()
			}
			if got != tt.cost {
				t.Errorf("cost %q, want %q", got, tt.cost)
			}
		})
	}
}

// The expected figures are those printed by
// recordings/polymarketus_cpi_jul2026_count.py (see recordings/README.md).
func TestCPIJul2026ImplicationCountsMatchTheIndependentCount(t *testing.T) {
	rec, err := CPIJul2026()
	if err != nil {
		t.Fatal(err)
	}
	// One snapshot = the events of one time (one poll), as the script reads it.
	var polls [][]polybot.BookEvent
	for i, ev := range rec.Events {
		if i == 0 || !ev.Time.Equal(rec.Events[i-1].Time) {
			polls = append(polls, nil)
		}
		polls[len(polls)-1] = append(polls[len(polls)-1], ev)
	}
	if len(polls) != 347 {
		t.Fatalf("%d snapshots", len(polls))
	}
	hits, ties, candidates, hitSnaps := 0, 0, 0, 0
	perPair := map[string]string{}
	counts := map[string][3]int{}
	rels := CPIJul2026Implications()
	for _, poll := range polls {
		hit := false
		for _, r := range rels {
			c, ok := implicationCost(poll, r, poll[0].Time)
			if !ok {
				continue
			}
			n := counts[r.ID]
			n[2]++
			candidates++
			switch c.Cmp(polybot.One) {
			case -1:
				n[0]++
				hits++
				hit = true
			case 0:
				n[1]++
				ties++
			}
			counts[r.ID] = n
		}
		if hit {
			hitSnaps++
		}
	}
	for id, n := range counts {
		if n[0] > 0 || n[1] > 0 {
			perPair[strings.TrimPrefix(id, "polymarketus-cpi-jul2026-")] = fmt.Sprintf("%d/%d/%d", n[0], n[1], n[2])
		}
	}
	if hits != 16 || ties != 292 || candidates != 9404 || hitSnaps != 12 {
		t.Errorf("hits %d ties %d candidates %d snapshots with a hit %d, want 16 292 9404 12", hits, ties, candidates, hitSnaps)
	}
	want := map[string]string{ // hits / ties / candidates
		"gt3pt0pct-gt2pt9pct": "4/145/200",
		"gt3pt1pct-gt2pt9pct": "6/17/200",
		"gt3pt1pct-gt3pt0pct": "0/1/62",
		"gt3pt7pct-gt3pt6pct": "6/108/322",
		"gt3pt9pct-gt3pt6pct": "0/6/197",
		"gt3pt9pct-gt3pt8pct": "0/15/197",
	}
	if fmt.Sprint(perPair) != fmt.Sprint(want) {
		t.Errorf("per pair %v, want %v", perPair, want)
	}
}
