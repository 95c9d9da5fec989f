package web

import (
	"testing"

	"github.com/polybot/polybot"
)

func kalshiBM(ticker string) polybot.BinaryMarket {
	return polybot.BinaryMarket{Yes: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes},
		No: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.No}}
}

func polymarketBM(cond, yes, no string) polybot.BinaryMarket {
	return polybot.BinaryMarket{Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: cond, Token: yes, Outcome: polybot.Yes},
		No: polybot.Instrument{Venue: polybot.Polymarket, Market: cond, Token: no, Outcome: polybot.No}}
}

func TestNewAdminOverlapNamesEachSideAndSaysWhyAnEquivalenceCannotTrade(t *testing.T) {
	ladder := &polybot.OutcomeSet{ID: "k-ladder", Name: "Fed upper bound", Venue: polybot.Kalshi, Outcomes: []polybot.SetOutcome{
		{Label: "Above 3.875%", Markets: []polybot.BinaryMarket{kalshiBM("KXFED-T3.875")}},
		{Label: "Above 3.625%", Markets: []polybot.BinaryMarket{kalshiBM("KXFED-T3.625"), polymarketBM("0xabcdef0123456789", "111122223333", "444455556666")}, PairID: "p"},
	}}
	pm := &polybot.OutcomeSet{ID: "p-fed", Name: "Fed (Polymarket)", Venue: polybot.Polymarket, Outcomes: []polybot.SetOutcome{
		{Label: "Hold", Markets: []polybot.BinaryMarket{polymarketBM("0xh", "h-yes", "h-no")}},
	}}
	rels := []*polybot.Relation{
		{ID: "a-eq", Name: "Fed sets", Kind: polybot.RelationEquivalent, SetA: "k-ladder", SetB: "p-fed"},
		{ID: "b-gone", Name: "Gone", Kind: polybot.RelationEquivalent, SetA: "k-ladder", SetB: "deleted"},
		{ID: "z-imp", Name: "Ladder", Kind: polybot.RelationImplies, A: kalshiBM("KXFED-T3.875"), B: kalshiBM("KXCPI-X"), Approved: true},
	}
	sets, rows := NewAdminOverlap([]*polybot.OutcomeSet{ladder, pm}, rels)
	if len(sets) != 2 || len(sets[0].OutcomeRows) != 2 || sets[1].ID != "p-fed" {
		t.Fatalf("set rows = %+v", sets)
	}
	if got := sets[0].OutcomeRows[1].Markets; len(got) != 2 || got[0] != "Kalshi KXFED-T3.625" || got[1] != "Polymarket …23456789 (YES …22223333)" {
		t.Errorf("markets of a two-venue outcome = %q", got)
	}
	tests := []struct {
		name              string
		row               AdminRelation
		id, a, b, problem string
		implies           bool
	}{
		{"implications come first; a market a set lists is named by the set and outcome", rows[0], "z-imp",
			"Fed upper bound: Above 3.875% (Kalshi KXFED-T3.875)", "Kalshi KXCPI-X", "", true},
		{"an equivalence names its sets and why it cannot be approved", rows[1], "a-eq",
			"Fed upper bound (Kalshi)", "Fed (Polymarket) (Polymarket)", "set_b must list as many outcomes as set_a to approve the equivalence (2, not 1)", false},
		{"a set that no longer exists is named by its id", rows[2], "b-gone", "Fed upper bound (Kalshi)", "deleted", "set_b names no outcome set", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.row
			if r.ID != tc.id || r.A != tc.a || r.B != tc.b || r.Problem != tc.problem || r.Implies() != tc.implies {
				t.Errorf("row = %s: %q / %q / %q implies=%v; want %s: %q / %q / %q", r.ID, r.A, r.B, r.Problem, r.Implies(), tc.id, tc.a, tc.b, tc.problem)
			}
		})
	}
}
