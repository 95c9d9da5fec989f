package polybot

import (
	"slices"
	"testing"
)

func TestVenueEventOutcomeSetLeavesOutMarketsThatDoNotTradeAndIsThenNotExhaustive(t *testing.T) {
	three := func() []EventMarket {
		return []EventMarket{
			{Label: "Cut", Market: kalshiBinary("EV-C")},
			{Label: "Hold", Market: kalshiBinary("EV-H")},
			{Label: "Hike", Market: kalshiBinary("EV-K")},
		}
	}
	tests := []struct {
		name           string
		claims         bool
		edit           func(ms []EventMarket) []EventMarket
		wantLabels     []string
		wantExhaustive bool
		wantSkipped    []string // labels
		wantErr        bool
	}{
		{"the venue's claim stands when every market trades", true, nil, []string{"Cut", "Hold", "Hike"}, true, nil, false},
		{"no claim, not exhaustive", false, nil, []string{"Cut", "Hold", "Hike"}, false, nil, false},
		{"a closed market is left out, and the set is not exhaustive", true, func(ms []EventMarket) []EventMarket {
			ms[1].NotTrading = "closed"
			return ms
		}, []string{"Cut", "Hike"}, false, []string{"Hold"}, false},
		{"one market that trades is no set", true, func(ms []EventMarket) []EventMarket {
			ms[0].NotTrading, ms[2].NotTrading = "closed", "inactive"
			return ms
		}, nil, false, []string{"Cut", "Hike"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := three()
			if tc.edit != nil {
				ms = tc.edit(ms)
			}
			ev := VenueEvent{Venue: Kalshi, ID: "kalshi-EV", Name: "Event", Event: "EV", ClaimsExhaustive: tc.claims, Markets: ms}
			set, skipped, err := ev.OutcomeSet()
			var gotSkipped []string
			for _, s := range skipped {
				gotSkipped = append(gotSkipped, s.Label)
			}
			if !slices.Equal(gotSkipped, tc.wantSkipped) {
				t.Fatalf("skipped %v, want %v", gotSkipped, tc.wantSkipped)
			}
			if tc.wantErr {
				if ErrorCode(err) != EINVALID || set != nil {
					t.Fatalf("got %v, %v; want an EINVALID error", set, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, o := range set.Outcomes {
				labels = append(labels, o.Label)
			}
			if !slices.Equal(labels, tc.wantLabels) || set.Exhaustive != tc.wantExhaustive || set.Approved {
				t.Fatalf("outcomes %v exhaustive %v approved %v; want %v exhaustive %v, never approved",
					labels, set.Exhaustive, set.Approved, tc.wantLabels, tc.wantExhaustive)
			}
			if err := set.Validate(); err != nil {
				t.Fatalf("the set does not validate: %v", err)
			}
		})
	}
}
