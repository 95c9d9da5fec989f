package replay

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// SimNewsSource is the Source of every headline a headlines file gives:
// the simulator's news feed (internal/venuesim/news), which replays them.
const SimNewsSource = "sim-news"

// FedNov2025HeadlinesJSONL holds real headlines, with their real
// publication times, around the move in FedDec2025HoldCSV on 21 November
// 2025 (recordings/headlines_fed_nov2025.jsonl; each line names its source
// and how its time is known; see recordings/README.md).
//
//go:embed recordings/headlines_fed_nov2025.jsonl
var FedNov2025HeadlinesJSONL []byte

// FedNov2025Headlines reads FedNov2025HeadlinesJSONL.
func FedNov2025Headlines() ([]polybot.Headline, error) {
	return ReadHeadlines(bytes.NewReader(FedNov2025HeadlinesJSONL))
}

// headlineLine is one line of a headlines file.
type headlineLine struct {
	Published  string `json:"published"`   // RFC 3339, with a zone
	Title      string `json:"title"`       // as the source published it
	Link       string `json:"link"`        // the source's page
	Source     string `json:"source"`      // who published it, as users see it
	SourceNote string `json:"source_note"` // how the time is known
}

// ReadHeadlines reads a headlines file: one JSON object a line,
// {"published","title","link","source","source_note"}, blank lines
// allowed, no other fields. Each becomes a polybot.Headline with Source
// SimNewsSource, SourceName the line's source, Published in UTC and ID "h-"
// and its title key; Received is left zero. The headlines are returned in
// time order (lines of one time keep their order). A line without a time,
// title, source or note, with a link that is not http(s), or that the root
// package's rules refuse is an error naming its line.
func ReadHeadlines(r io.Reader) ([]polybot.Headline, error) {
	var out []polybot.Headline
	err := eachLine(r, func(_ int, line []byte) error {
		var l headlineLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return err
		}
		if dec.More() {
			return errors.New("more than one JSON value")
		}
		if l.Published == "" {
			return errors.New("published: missing")
		}
		t, err := time.Parse(time.RFC3339, l.Published)
		if err != nil {
			return fmt.Errorf("published %q: want RFC 3339, e.g. 2025-11-21T12:37:39Z", l.Published)
		}
		for _, f := range []struct{ name, v string }{{"source", l.Source}, {"source_note", l.SourceNote}} {
			if strings.TrimSpace(f.v) == "" {
				return fmt.Errorf("%s: missing", f.name)
			}
		}
		h := polybot.Headline{Source: SimNewsSource, SourceName: l.Source, Title: l.Title, Link: l.Link, Published: t.UTC()}
		if err := h.Validate(); err != nil {
			return err
		}
		title, _ := h.Keys()
		h.ID = "h-" + title
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b polybot.Headline) int { return a.Published.Compare(b.Published) })
	return out, nil
}
