package replay

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/polybot/polybot"
)

// FedJul2026CSV is the real recording of every outcome of the Fed's July
// 2026 decision on Polymarket US (recordings/polymarketus_fed_jul2026.csv;
// source, licence and trimming in testdata/README.md and the README beside
// it), built into the binary so that the simulators and replays can play
// it anywhere.
//
//go:embed recordings/polymarketus_fed_jul2026.csv
var FedJul2026CSV []byte

// FedJul2026 parses the built-in FedJul2026CSV.
func FedJul2026() (*EventRecording, error) {
	return ReadFedJul2026(bytes.NewReader(FedJul2026CSV))
}

// ReadFedJul2026 reads a quote sweep of the Fed's July 2026 decision (the
// format of FedJul2026CSV) as an EventRecording of its five outcomes. See
// readSweep for what each row becomes.
func ReadFedJul2026(r io.Reader) (*EventRecording, error) {
	return readSweep(r, fedJul2026Set())
}

// fedJul2026Set is the event as Polymarket US lists it: one market group,
// "Fed Decision in July", of five binary markets whose slugs end in the
// outcome.
//
// Exhaustive: the five buckets (a cut of 50 bp or more, a cut of 25 bp, no
// change, a hike of 25 bp, a hike of 50 bp or more) cover every decision the
// FOMC can announce; they are the five outcomes of Kalshi's KXFEDDECISION
// events (C26, C25, H0, H25, H26), a mutually exclusive event, and the
// recorded books price them so (best bids sum to 1.04-1.05, best asks to
// 0.99 or more). The recording holds no rules text, so the bucket meanings
// come from the slugs; Approved stays false until an admin has read the
// venue's rules.
func fedJul2026Set() polybot.OutcomeSet {
	const prefix = "rdc-usfed-fomc-2026-07-29-"
	outcome := func(label, suffix string) polybot.SetOutcome {
		return polybot.SetOutcome{Label: label, Markets: []polybot.BinaryMarket{polymarketUSMarket(prefix + suffix)}}
	}
	return polybot.OutcomeSet{
		ID:    "polymarketus-fed-jul2026",
		Name:  "Fed decision in July 2026 (Polymarket US)",
		Venue: polybot.Polymarket,
		Event: "rdc-usfed-fomc-2026-07-29",
		Outcomes: []polybot.SetOutcome{
			outcome("Cut 50+ bp", "cut50"),
			outcome("Cut 25 bp", "cut25"),
			outcome("No change", "nochng"),
			outcome("Hike 25 bp", "hike25"),
			outcome("Hike 50+ bp", "hike50"),
		},
		Exhaustive: true,
		ResolutionNotes: "Polymarket US market group \"Fed Decision in July\": the FOMC target-range decision " +
			"announced 29 July 2026 at 14:00 ET, in five buckets (cut 50+ bp, cut 25 bp, no change, hike 25 bp, " +
			"hike 50+ bp). The recording has no rules text: the buckets are read from the market slugs. " +
			"Its last polls (after 14:02 ET) price No change at a 0.99 bid.",
	}
}

// polymarketUSMarket is a Polymarket US market as a BinaryMarket. Polymarket
// US names a market by its slug and has no condition or token ids, so the
// slug stands for the market and "<slug>/yes", "<slug>/no" for its two
// sides.
func polymarketUSMarket(slug string) polybot.BinaryMarket {
	return polybot.BinaryMarket{
		Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: slug, Token: slug + "/yes", Outcome: polybot.Yes},
		No:  polybot.Instrument{Venue: polybot.Polymarket, Market: slug, Token: slug + "/no", Outcome: polybot.No},
	}
}

var sweepHeader = []string{"ts_local_us", "slug", "bid", "ask", "segment"}

// sweepDepth is the size given to every level of a sweep: the sweep records
// prices only, so each level gets the Polymarket minimum order, 5 shares.
// It is not a recorded fact.
var sweepDepth = polybot.NewDecimal(5, 0)

// sweepZone is the sweep collector's clock: its naive timestamps are US
// Eastern wall-clock time (daylight time all July; the Fed's 14:00 ET
// statement shows in the books at 14:02).
var sweepZone = time.FixedZone("EDT", -4*60*60)

func sweepTime(s string) (time.Time, error) {
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("ts_local_us %q: %w", s, err)
	}
	w := time.UnixMicro(us).UTC()
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), sweepZone).UTC(), nil
}

// sweepPrice parses an optional best price: empty means no resting order.
func sweepPrice(name, s string) (p polybot.Decimal, ok bool, bad string) {
	if s == "" {
		return polybot.Decimal{}, false, ""
	}
	d, err := polybot.ParseDecimal(s)
	if err != nil || d.Sign() < 0 || d.GreaterThan(polybot.One) {
		return polybot.Decimal{}, false, fmt.Sprintf("bad %s %q", name, s)
	}
	return d, true, ""
}

// readSweep reads a quote sweep (one row per market per poll: the poll's
// naive timestamp, the market's slug, its best YES bid and ask, either
// empty when no order rested, and the collector's segment) into an
// EventRecording of set, whose outcomes' first markets are named by slug.
// Each row becomes two top-of-book BookSnapshot events at the poll's time,
// YES then NO: YES has the row's bid and ask; NO, the other side of the
// same binary book, bids 1 − ask and asks 1 − bid. Every level has
// sweepDepth. Rows come out in time order (the file's order within a
// time). A row with an unknown slug, a price outside [0, 1] or a crossed
// book (bid above ask) is skipped with its reason; a malformed header or
// timestamp is an error.
func readSweep(r io.Reader, set polybot.OutcomeSet) (*EventRecording, error) {
	if err := set.Validate(); err != nil {
		return nil, err
	}
	markets := map[string]polybot.BinaryMarket{}
	for _, o := range set.Outcomes {
		markets[o.Markets[0].Yes.Market] = o.Markets[0]
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(sweepHeader)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("sweep header: %w", err)
	}
	if !slices.Equal(head, sweepHeader) {
		return nil, fmt.Errorf("sweep header %v, want %v", head, sweepHeader)
	}
	type row struct {
		t              time.Time
		m              polybot.BinaryMarket
		bid, ask       polybot.Decimal
		hasBid, hasAsk bool
	}
	rec := &EventRecording{Set: set}
	var rows []row
	for {
		f, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		t, err := sweepTime(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rw := row{t: t}
		var ok bool
		var bad string
		if rw.m, ok = markets[f[1]]; !ok {
			bad = fmt.Sprintf("unknown slug %q", f[1])
		}
		if bad == "" {
			rw.bid, rw.hasBid, bad = sweepPrice("bid", f[2])
		}
		if bad == "" {
			rw.ask, rw.hasAsk, bad = sweepPrice("ask", f[3])
		}
		if bad == "" && rw.hasBid && rw.hasAsk && rw.bid.GreaterThan(rw.ask) {
			bad = fmt.Sprintf("crossed book: bid %s above ask %s", f[2], f[3])
		}
		if bad != "" {
			rec.Skipped = append(rec.Skipped, SkippedRow{Line: line, Reason: bad})
			continue
		}
		rows = append(rows, rw)
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.t.Compare(b.t) })
	side := func(p polybot.Decimal, has bool) []polybot.Level {
		if !has {
			return nil
		}
		return topLevel(p, sweepDepth)
	}
	rec.Events = make([]polybot.BookEvent, 0, 2*len(rows))
	for _, rw := range rows {
		rec.Events = append(rec.Events,
			polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: rw.m.Yes, Time: rw.t,
				Bids: side(rw.bid, rw.hasBid), Asks: side(rw.ask, rw.hasAsk)},
			polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: rw.m.No, Time: rw.t,
				Bids: side(polybot.One.Sub(rw.ask), rw.hasAsk), Asks: side(polybot.One.Sub(rw.bid), rw.hasBid)},
		)
	}
	return rec, nil
}
