package replay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

const fedJulPrefix = "rdc-usfed-fomc-2026-07-29-"

func TestFedJul2026IsAValidExhaustiveFiveOutcomeSetNotYetApproved(t *testing.T) {
	rec, err := FedJul2026()
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Set.Validate(); err != nil {
		t.Fatal(err)
	}
	s := rec.Set
	if s.Venue != polybot.Polymarket || s.Event != "rdc-usfed-fomc-2026-07-29" || !s.Exhaustive || s.Approved || s.Tradable() {
		t.Errorf("set %+v", s)
	}
	var labels []string
	for _, o := range s.Outcomes {
		labels = append(labels, o.Label+"="+strings.TrimPrefix(o.Markets[0].Yes.Market, fedJulPrefix))
	}
	if got := strings.Join(labels, " "); got != "Cut 50+ bp=cut50 Cut 25 bp=cut25 No change=nochng Hike 25 bp=hike25 Hike 50+ bp=hike50" {
		t.Errorf("outcomes %s", got)
	}
	insts := rec.Instruments()
	if len(insts) != 10 || insts[0].Token != fedJulPrefix+"cut50/yes" || insts[1].Token != fedJulPrefix+"cut50/no" || insts[1].Outcome != polybot.No {
		t.Errorf("instruments %+v", insts)
	}
}

func TestFedJul2026ReadsEveryRowAsYesAndNoTopOfBook(t *testing.T) {
	rec, err := FedJul2026()
	if err != nil {
		t.Fatal(err)
	}
	// 715 polls of the source (3,568 rows, one a market) are kept; none is bad.
	if len(rec.Skipped) != 0 || len(rec.Events) != 2*3568 {
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
		{"first row: both sides quoted", "2026-07-11T00:25:46Z", "cut25", "0.03", "0.05", "0.95", "0.97"},
		{"no YES bid leaves NO without an ask", "2026-07-11T00:25:46Z", "cut50", "", "0.02", "0.98", ""},
		{"the decision: No change at 0.99 with no ask, two minutes after 14:00 ET", "2026-07-29T18:02:10Z", "nochng", "0.99", "", "", "0.01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tt.utc)
			var got []string
			for _, ev := range rec.Events {
				if ev.Time.Equal(at) && ev.Instrument.Market == fedJulPrefix+tt.slug {
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

// top renders a one-level side as its price, with the sweep's depth checked.
func top(ls []polybot.Level) string {
	switch {
	case len(ls) == 0:
		return ""
	case len(ls) > 1 || ls[0].Size != polybot.NewDecimal(5, 0):
		return fmt.Sprintf("bad %v", ls)
	}
	return ls[0].Price.String()
}

// setCosts returns, at time at, the sum of the five YES asks and of the five
// NO asks, and whether every outcome had each.
func setCosts(rec *EventRecording, at time.Time) (yes, no polybot.Decimal, allYes, allNo bool) {
	nYes, nNo := 0, 0
	for _, ev := range rec.Events {
		if !ev.Time.Equal(at) || len(ev.Asks) == 0 {
			continue
		}
		if ev.Instrument.Outcome == polybot.Yes {
			yes, nYes = yes.Add(ev.Asks[0].Price), nYes+1
		} else {
			no, nNo = no.Add(ev.Asks[0].Price), nNo+1
		}
	}
	return yes, no, nYes == 5, nNo == 5
}

func TestFedJul2026HoldsTheHandCheckedRebalancingSnapshots(t *testing.T) {
	rec, err := FedJul2026()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		utc     string
		yes, no string // sum of YES asks, sum of NO asks ("" = some outcome lacks one)
	}{
		// cut25 -/0.01, cut50 -/0.01, hike25 0.23/0.25, hike50 -/0.01, nochng 0.69/0.71:
		// YES asks 0.01+0.01+0.25+0.01+0.71 = 0.99 < 1, a long set.
		{"long set below $1", "2026-07-23T13:01:40Z", "0.99", ""},
		// bids 0.04+0.01+0.19+0.01+0.80 = 1.05: NO asks 0.96+0.99+0.81+0.99+0.20 = 3.95 < 4, a short set;
		// asks 0.05+0.02+0.20+0.03+0.81 = 1.11.
		{"short set below n-1", "2026-07-12T06:50:15Z", "1.11", "3.95"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tt.utc)
			yes, no, allYes, allNo := setCosts(rec, at)
			got := [2]string{"", ""}
			if allYes {
				got[0] = yes.String()
			}
			if allNo {
				got[1] = no.String()
			}
			if got != [2]string{tt.yes, tt.no} {
				t.Errorf("set costs %q, want %q %q", got, tt.yes, tt.no)
			}
		})
	}
}

func TestSweepReaderSortsRowsAndSkipsBadOnesWithTheirReason(t *testing.T) {
	const head = "ts_local_us,slug,bid,ask,segment\n"
	row := func(ts, suffix, bid, ask string) string {
		return ts + "," + fedJulPrefix + suffix + "," + bid + "," + ask + ",1\n"
	}
	tests := []struct {
		name        string
		in          string
		wantTimes   string // µs of the YES events, naive ET
		wantSkipped string
		wantErr     bool
	}{
		{"rows out of order come out in time order",
			head + row("2000000", "cut25", "0.1", "0.2") + row("1000000", "nochng", "0.8", "0.9"), "1000000 2000000", "", false},
		{"a slug of another event is skipped",
			head + "1000000,rdc-usfed-fomc-2026-09-16-cut25,0.1,0.2,1\n" + row("2000000", "cut25", "0.1", "0.2"), "2000000",
			`2:unknown slug "rdc-usfed-fomc-2026-09-16-cut25"`, false},
		{"a price above 1 is skipped", head + row("1000000", "cut25", "0.1", "1.2"), "", `2:bad ask "1.2"`, false},
		{"an unparsable bid is skipped", head + row("1000000", "cut25", "x", "0.2"), "", `2:bad bid "x"`, false},
		{"a crossed book is skipped", head + row("1000000", "cut25", "0.3", "0.2"), "", "2:crossed book: bid 0.3 above ask 0.2", false},
		{"a locked book and empty sides are kept", head + row("1000000", "cut25", "0.2", "0.2") + row("1000000", "cut50", "", ""), "1000000 1000000", "", false},
		{"a wrong header is an error", "time,slug,bid,ask\n", "", "", true},
		{"a bad timestamp is an error", head + row("soon", "cut25", "0.1", "0.2"), "", "", true},
	}
	eastern := time.FixedZone("EDT", -4*60*60)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := ReadFedJul2026(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			var times, sk []string
			for _, ev := range rec.Events {
				if ev.Instrument.Outcome == polybot.Yes {
					w := ev.Time.In(eastern)
					naive := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
					times = append(times, fmt.Sprint(naive.UnixMicro()))
				}
			}
			for _, s := range rec.Skipped {
				sk = append(sk, fmt.Sprintf("%d:%s", s.Line, s.Reason))
			}
			if strings.Join(times, " ") != tt.wantTimes || strings.Join(sk, ";") != tt.wantSkipped {
				t.Errorf("times %v skipped %v", times, sk)
			}
		})
	}
}
