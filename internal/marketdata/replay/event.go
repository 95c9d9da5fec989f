package replay

import (
	"slices"

	"github.com/polybot/polybot"
)

// EventRecording is a recorded multi-outcome event: its outcome set (the
// venue's event with one binary market per outcome, as the venue lists
// it) and the books of those markets over time, as BookSnapshot events of
// both the YES and the NO instrument of every outcome, in time order.
// Simulators serve the set as the venue does (a Polymarket negRisk event,
// a Kalshi event with mutually_exclusive) and replay its events; replay
// and tests run the overlap strategies over it.
type EventRecording struct {
	Set     polybot.OutcomeSet
	Events  []polybot.BookEvent
	Skipped []SkippedRow // rows of the source that were not usable, with why
}

// Instruments lists the YES and NO instruments of every outcome's own
// market, in the set's order.
func (r *EventRecording) Instruments() []polybot.Instrument {
	out := make([]polybot.Instrument, 0, 2*len(r.Set.Outcomes))
	for _, o := range r.Set.Outcomes {
		if len(o.Markets) > 0 {
			out = append(out, o.Markets[0].Yes, o.Markets[0].No)
		}
	}
	return out
}

// Source replays the recording's events.
func (r *EventRecording) Source() Source { return Events(slices.Clone(r.Events)) }
