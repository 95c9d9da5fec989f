package polybot

import "fmt"

// A venue lists a multi-outcome event as one binary market per outcome: a
// Polymarket negRisk event, a Kalshi event. Both connectors read their
// venue's event into a VenueEvent and turn it into an OutcomeSet here, so
// the rules of that step are one: which markets are left out, when the
// set may say it is exhaustive, and that nobody has approved it yet.

// EventMarket is one outcome market of a venue's event, as its connector
// read it.
type EventMarket struct {
	Label  string
	Market BinaryMarket
	// NotTrading says why the market cannot be traded ("closed",
	// "inactive", "settled", …); "" when it can.
	NotTrading string
}

// SkippedMarket is a market of an event left out of its outcome set, and
// why.
type SkippedMarket struct {
	Market string // the venue's market id (Polymarket condition id, Kalshi ticker)
	Label  string
	Reason string
}

// VenueEvent is a venue's multi-outcome event as its connector read it.
type VenueEvent struct {
	Venue Platform
	// ID becomes the set's id, Name its name, Event the venue's id of the
	// event (see OutcomeSet).
	ID, Name, Event string
	// ClaimsExhaustive is the venue's own word that exactly one of the
	// markets resolves YES (Polymarket: negRisk and not augmented; Kalshi:
	// mutually_exclusive). An admin confirms it when approving the set.
	ClaimsExhaustive bool
	Markets          []EventMarket
}

// OutcomeSet builds the event's outcome set: one outcome per market that
// trades, in the venue's order. Markets that do not trade are left out and
// returned in skipped; a set that left one out is not exhaustive, whatever
// the venue claims, since the missing outcome may be the one that
// resolves YES. The set is never Approved: an admin approves it after
// reading the event's rules. An event with fewer than two markets that
// trade is no set (EINVALID). The result is not validated; callers
// Validate it before storing.
func (e VenueEvent) OutcomeSet() (set *OutcomeSet, skipped []SkippedMarket, err error) {
	set = &OutcomeSet{ID: e.ID, Name: e.Name, Venue: e.Venue, Event: e.Event}
	for _, m := range e.Markets {
		if m.NotTrading != "" {
			skipped = append(skipped, SkippedMarket{Market: m.Market.Yes.Market, Label: m.Label, Reason: m.NotTrading})
			continue
		}
		set.Outcomes = append(set.Outcomes, SetOutcome{Label: m.Label, Markets: []BinaryMarket{m.Market}})
	}
	if n := len(set.Outcomes); n < 2 {
		return nil, skipped, Errorf(EINVALID, "%s event %q (%s) has %d %s that %s; an outcome set needs at least 2",
			e.Venue, e.Name, e.Event, n, plural(n, "market", "markets"), plural(n, "trades", "trade"))
	}
	set.Exhaustive = e.ClaimsExhaustive && len(skipped) == 0
	return set, skipped, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// String describes a skipped market for logs and admins.
func (s SkippedMarket) String() string {
	return fmt.Sprintf("%s (%s): %s", s.Label, s.Market, s.Reason)
}
