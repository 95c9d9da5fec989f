package replay

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestReadHeadlinesAcceptsGoodLinesAndRefusesBadOnesByLine(t *testing.T) {
	const good = `{"published":"2025-11-21T12:37:39Z","title":"Fed's Williams: room for a cut","link":"https://example.com/a","source":"MNI","source_note":"url time"}`
	tests := []struct {
		name    string
		in      string
		want    []string // titles in order
		wantErr string   // substring
	}{
		{name: "one line", in: good, want: []string{"Fed's Williams: room for a cut"}},
		{name: "blank lines skipped", in: "\n" + good + "\n\n", want: []string{"Fed's Williams: room for a cut"}},
		{name: "sorted by time, ties keep file order", in: strings.Join([]string{
			`{"published":"2025-11-21T13:45:00Z","title":"c","link":"https://e.com/c","source":"R","source_note":"n"}`,
			`{"published":"2025-11-21T07:37:39-05:00","title":"a","link":"https://e.com/a","source":"R","source_note":"n"}`,
			`{"published":"2025-11-21T13:45:00Z","title":"d","link":"","source":"R","source_note":"n"}`,
			`{"published":"2025-11-21T12:37:39Z","title":"b","link":"https://e.com/b","source":"R","source_note":"n"}`,
		}, "\n"), want: []string{"a", "b", "c", "d"}},
		{name: "not JSON", in: "published: today", wantErr: "line 1"},
		{name: "unknown field", in: `{"published":"2025-11-21T12:37:39Z","title":"t","link":"","source":"R","source_note":"n","body":"x"}`, wantErr: "body"},
		{name: "two values on a line", in: good + good, wantErr: "more than one"},
		{name: "no time", in: `{"title":"t","link":"","source":"R","source_note":"n"}`, wantErr: "published: missing"},
		{name: "time without zone", in: `{"published":"2025-11-21 12:37:39","title":"t","link":"","source":"R","source_note":"n"}`, wantErr: "RFC 3339"},
		{name: "no title", in: `{"published":"2025-11-21T12:37:39Z","title":" ","link":"","source":"R","source_note":"n"}`, wantErr: "title"},
		{name: "link not http", in: `{"published":"2025-11-21T12:37:39Z","title":"t","link":"ftp://e.com/x","source":"R","source_note":"n"}`, wantErr: "link"},
		{name: "no source", in: `{"published":"2025-11-21T12:37:39Z","title":"t","link":"","source":"","source_note":"n"}`, wantErr: "source: missing"},
		{name: "no note", in: `{"published":"2025-11-21T12:37:39Z","title":"t","link":"","source":"R"}`, wantErr: "source_note: missing"},
		{name: "error names its line", in: good + "\n\n" + `{"title":"t"}`, wantErr: "line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ReadHeadlines(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hs {
				got = append(got, h.Title)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("titles %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadHeadlinesFillsTheHeadline(t *testing.T) {
	hs, err := ReadHeadlines(strings.NewReader(`{"published":"2025-11-21T07:37:39-05:00","title":"Fed's Williams: room for a cut","link":"https://example.com/a","source":"MNI","source_note":"url time"}`))
	if err != nil || len(hs) != 1 {
		t.Fatalf("%v %v", hs, err)
	}
	h := hs[0]
	title, _ := h.Keys()
	want := polybot.Headline{ID: "h-" + title, Source: SimNewsSource, SourceName: "MNI", Title: "Fed's Williams: room for a cut",
		Link: "https://example.com/a", Published: time.Date(2025, 11, 21, 12, 37, 39, 0, time.UTC)}
	if h != want || h.Published.Location() != time.UTC {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
}

// fedHoldBids reads the Polymarket no-change best bid of every row of the
// Fed recording, straight from the CSV (not through ReadCrossVenue).
func fedHoldBids(t *testing.T) (times []time.Time, bids []string) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(FedDec2025HoldCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		ms, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, time.UnixMilli(ms).UTC())
		bids = append(bids, r[1])
	}
	return times, bids
}

// The built-in headlines are real ones around the Fed recording's move:
// every line is complete and valid, inside the recording, and the first
// report of Williams's remarks falls inside the half hour in which the
// recorded no-change bid fell from 0.61 to 0.36 (both read from the CSV).
func TestFedNov2025HeadlinesAreCompleteAndInsideTheRecording(t *testing.T) {
	hs, err := FedNov2025Headlines()
	if err != nil {
		t.Fatal(err)
	}
	// An independent count: the file's non-blank lines.
	var lines []map[string]string
	for _, l := range bytes.Split(FedNov2025HeadlinesJSONL, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(hs) != len(lines) || len(hs) != 12 {
		t.Fatalf("%d headlines from %d lines, want 12", len(hs), len(lines))
	}
	times, bids := fedHoldBids(t)
	first, last := times[0], times[len(times)-1]
	seen := map[string]bool{}
	for i, h := range hs {
		if h.Source != SimNewsSource || h.SourceName == "" || h.Validate() != nil {
			t.Errorf("%d: %+v", i, h)
		}
		if u, err := url.Parse(h.Link); err != nil || u.Scheme != "https" || u.Host == "" {
			t.Errorf("%d: link %q", i, h.Link)
		}
		if h.Published.Before(first) || h.Published.After(last) {
			t.Errorf("%d: %s outside the recording %s..%s", i, h.Published, first, last)
		}
		if i > 0 && h.Published.Before(hs[i-1].Published) {
			t.Errorf("%d: out of time order", i)
		}
		if seen[h.ID] {
			t.Errorf("%d: duplicate id %s", i, h.ID)
		}
		seen[h.ID] = true
		if lines[i]["source_note"] == "" {
			t.Errorf("line %d has no source note", i+1)
		}
	}
	var w *polybot.Headline
	for i := range hs {
		if strings.Contains(hs[i].Title, "Williams") {
			w = &hs[i]
			break
		}
	}
	if w == nil || !w.Published.Equal(time.Date(2025, 11, 21, 12, 37, 39, 0, time.UTC)) {
		t.Fatalf("first Williams headline %+v, want the MNI brief at 12:37:39Z", w)
	}
	before, after := -1, -1
	for i, ts := range times {
		if !ts.After(w.Published) {
			before = i
		} else {
			after = i
			break
		}
	}
	if before < 0 || after < 0 || bids[before] != "0.61" || bids[after] != "0.36" ||
		times[after].Sub(times[before]) > 31*time.Minute {
		t.Fatalf("rows around %s: %s %s, %s %s; want 0.61 then 0.36 within half an hour",
			w.Published, times[before], bids[before], times[after], bids[after])
	}
}
