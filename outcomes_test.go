package polybot

import (
	"strings"
	"testing"
)

func kalshiBinary(ticker string) BinaryMarket {
	return BinaryMarket{Yes: Instrument{Venue: Kalshi, Market: ticker, Outcome: Yes}, No: Instrument{Venue: Kalshi, Market: ticker, Outcome: No}}
}

func polymarketBinary(cond, yes, no string) BinaryMarket {
	return BinaryMarket{Yes: Instrument{Venue: Polymarket, Market: cond, Token: yes, Outcome: Yes},
		No: Instrument{Venue: Polymarket, Market: cond, Token: no, Outcome: No}}
}

func validSet() *OutcomeSet {
	return &OutcomeSet{ID: "fed-dec2025", Name: "Fed decision, December 2025", Venue: Kalshi, Event: "KXFEDDECISION-25DEC",
		Exhaustive: true, Outcomes: []SetOutcome{
			{Label: "Hold", Markets: []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-H0")}},
			{Label: "Cut 25 bp", Markets: []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-C25"), polymarketBinary("0xcut", "cut-yes", "cut-no")},
				PairID: "fed-cut25"},
		}}
}

func TestOutcomeSetValidateNamesTheFieldAtFault(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *OutcomeSet)
		field string // "" : valid
	}{
		{"a Kalshi event with one outcome also matched on Polymarket is valid", func(*OutcomeSet) {}, ""},
		{"an id is required", func(s *OutcomeSet) { s.ID = "" }, "id"},
		{"an id is at most 64 characters", func(s *OutcomeSet) { s.ID = strings.Repeat("é", 65) }, "id"},
		{"a name must be UTF-8", func(s *OutcomeSet) { s.Name = "bad \xff" }, "name"},
		{"notes must not hold a NUL", func(s *OutcomeSet) { s.ResolutionNotes = "a\x00b" }, "resolution_notes"},
		{"notes are at most 4000 characters", func(s *OutcomeSet) { s.ResolutionNotes = strings.Repeat("x", 4001) }, "resolution_notes"},
		{"the venue is Polymarket or Kalshi", func(s *OutcomeSet) { s.Venue = Alpaca }, "venue"},
		{"one outcome is not a set", func(s *OutcomeSet) { s.Outcomes = s.Outcomes[:1] }, "outcomes"},
		{"more than 64 outcomes are refused", func(s *OutcomeSet) {
			s.Outcomes = nil
			for i := range MaxSetOutcomes + 1 {
				s.Outcomes = append(s.Outcomes, SetOutcome{Label: "o", Markets: []BinaryMarket{kalshiBinary("K-" + string(rune('A'+i)))}})
			}
		}, "outcomes"},
		{"an outcome needs a label", func(s *OutcomeSet) { s.Outcomes[0].Label = "" }, "outcomes[0].label"},
		{"an outcome needs a market", func(s *OutcomeSet) { s.Outcomes[0].Markets = nil }, "outcomes[0].markets"},
		{"an outcome has at most two markets", func(s *OutcomeSet) {
			s.Outcomes[1].Markets = append(s.Outcomes[1].Markets, kalshiBinary("K-X"))
		}, "outcomes[1].markets"},
		{"the first market is on the set's venue", func(s *OutcomeSet) { s.Venue = Polymarket }, "outcomes[0].markets[0]"},
		{"a second market is on the other venue", func(s *OutcomeSet) {
			s.Outcomes[1].Markets[1] = kalshiBinary("K-OTHER")
		}, "outcomes[1].markets[1]"},
		{"two venues' markets need the pair joining them", func(s *OutcomeSet) { s.Outcomes[1].PairID = "" }, "outcomes[1].pair_id"},
		{"a YES instrument must be YES", func(s *OutcomeSet) { s.Outcomes[0].Markets[0].Yes.Outcome = No }, "outcomes[0].markets[0].yes"},
		{"a NO instrument must be NO", func(s *OutcomeSet) { s.Outcomes[0].Markets[0].No.Outcome = Yes }, "outcomes[0].markets[0].no"},
		{"a Kalshi market's two sides share a ticker", func(s *OutcomeSet) { s.Outcomes[0].Markets[0].No.Market = "K-OTHER" }, "outcomes[0].markets[0].no"},
		{"a Polymarket market has two distinct tokens", func(s *OutcomeSet) { s.Outcomes[1].Markets[1].No.Token = "cut-yes" }, "outcomes[1].markets[1].no"},
		{"an instrument needs a market or token", func(s *OutcomeSet) { s.Outcomes[0].Markets[0].Yes.Market = "" }, "outcomes[0].markets[0].yes"},
		{"a market in two outcomes is refused", func(s *OutcomeSet) {
			s.Outcomes[1].Markets = []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-H0")}
			s.Outcomes[1].PairID = ""
		}, "outcomes[1].markets[0]"},
		{"a ticker must be text", func(s *OutcomeSet) { s.Outcomes[0].Markets[0].Yes.Market = "K\xff" }, "outcomes[0].markets[0].yes.market"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSet()
			tc.edit(s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if ErrorCode(err) != EINVALID {
				t.Fatalf("Validate = %v, want EINVALID", err)
			}
			if _, ok := ErrorFields(err)[tc.field]; !ok {
				t.Fatalf("fields %v, want %q", ErrorFields(err), tc.field)
			}
		})
	}
}

func validRelation() *Relation {
	return &Relation{ID: "ladder-3.875-3.625", Name: "Above 3.875% implies above 3.625%", Kind: RelationImplies,
		A: kalshiBinary("KXFED-25DEC-T3.875"), B: kalshiBinary("KXFED-25DEC-T3.625"),
		ResolutionNotes: "Both resolve on the same upper bound."}
}

func TestRelationValidateNamesTheFieldAtFault(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *Relation)
		field string
	}{
		{"an implication of two Kalshi markets is valid", func(*Relation) {}, ""},
		{"an implication may span venues", func(r *Relation) { r.B = polymarketBinary("0xc", "y", "n") }, ""},
		{"an equivalence of two sets is valid", func(r *Relation) {
			*r = Relation{ID: "fed-eq", Name: "Fed sets", Kind: RelationEquivalent, SetA: "kalshi-fed", SetB: "pm-fed"}
		}, ""},
		{"approval does not change validity", func(r *Relation) { r.Approved = true }, ""},
		{"a kind is required", func(r *Relation) { r.Kind = "" }, "kind"},
		{"an unknown kind is refused", func(r *Relation) { r.Kind = "excludes" }, "kind"},
		{"an id is required", func(r *Relation) { r.ID = "" }, "id"},
		{"a name is at most 200 characters", func(r *Relation) { r.Name = strings.Repeat("n", 201) }, "name"},
		{"notes must be UTF-8", func(r *Relation) { r.ResolutionNotes = "\xc3" }, "resolution_notes"},
		{"an implication needs A", func(r *Relation) { r.A = BinaryMarket{} }, "a.yes"},
		{"an implication needs B's NO", func(r *Relation) { r.B.No = Instrument{} }, "b.no"},
		{"A cannot imply itself", func(r *Relation) { r.B = r.A }, "b"},
		{"an equivalence needs set_b", func(r *Relation) {
			*r = Relation{ID: "fed-eq", Name: "Fed sets", Kind: RelationEquivalent, SetA: "kalshi-fed"}
		}, "set_b"},
		{"a set is not equivalent to itself", func(r *Relation) {
			*r = Relation{ID: "fed-eq", Name: "Fed sets", Kind: RelationEquivalent, SetA: "s", SetB: "s"}
		}, "set_b"},
		{"an implication names no sets", func(r *Relation) { r.SetA = "kalshi-fed" }, "set_a"},
		{"an implication names no second set either", func(r *Relation) { r.SetB = "pm-fed" }, "set_b"},
		{"an equivalence names no markets", func(r *Relation) {
			r.Kind, r.SetA, r.SetB, r.B = RelationEquivalent, "kalshi-fed", "pm-fed", BinaryMarket{}
		}, "a"},
		{"an equivalence names no second market either", func(r *Relation) {
			r.Kind, r.SetA, r.SetB, r.A = RelationEquivalent, "kalshi-fed", "pm-fed", BinaryMarket{}
		}, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRelation()
			tc.edit(r)
			err := r.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if _, ok := ErrorFields(err)[tc.field]; !ok || ErrorCode(err) != EINVALID {
				t.Fatalf("Validate = %v, want a field error on %q", err, tc.field)
			}
		})
	}
}

func TestCheckSetsHoldsAnApprovedEquivalenceToTwoVenuesAndOneOutcomeCount(t *testing.T) {
	kalshiSet := validSet()
	pmSet := &OutcomeSet{ID: "pm-fed", Name: "Fed (Polymarket)", Venue: Polymarket, Outcomes: []SetOutcome{
		{Label: "Hold", Markets: []BinaryMarket{polymarketBinary("0xhold", "hold-yes", "hold-no")}},
		{Label: "Cut 25 bp", Markets: []BinaryMarket{polymarketBinary("0xcut", "cut-yes", "cut-no")}},
	}}
	short := &OutcomeSet{ID: "pm-short", Name: "Short", Venue: Polymarket, Outcomes: pmSet.Outcomes[:1]}
	eq := func(approved bool) *Relation {
		return &Relation{ID: "fed-eq", Name: "Fed", Kind: RelationEquivalent, SetA: "fed-dec2025", SetB: "pm-fed", Approved: approved}
	}
	tests := []struct {
		name  string
		r     *Relation
		a, b  *OutcomeSet
		field string
	}{
		{"an approved equivalence of a Kalshi and a Polymarket set of two outcomes each", eq(true), kalshiSet, pmSet, ""},
		{"set_a must exist", eq(false), nil, pmSet, "set_a"},
		{"set_b must exist", eq(false), kalshiSet, nil, "set_b"},
		{"an approved equivalence needs two venues", eq(true), kalshiSet, kalshiSet, "set_b"},
		{"an approved equivalence needs as many outcomes", eq(true), kalshiSet, short, "set_b"},
		{"an equivalence not approved may relate sets that differ", eq(false), kalshiSet, short, ""},
		{"an implication names no sets to check", validRelation(), nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.CheckSets(tc.a, tc.b)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("CheckSets: %v", err)
				}
				return
			}
			if _, ok := ErrorFields(err)[tc.field]; !ok || ErrorCode(err) != EINVALID {
				t.Fatalf("CheckSets = %v, want a field error on %q", err, tc.field)
			}
		})
	}
}

func TestWithPairsAddsTheOtherVenuesMarketOfEachMatchedOutcome(t *testing.T) {
	set := &OutcomeSet{ID: "fed", Name: "Fed", Venue: Kalshi, Exhaustive: true, Outcomes: []SetOutcome{
		{Label: "Hold", Markets: []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-H0")}},
		{Label: "Cut 25 bp", Markets: []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-C25")}},
		{Label: "Cut more", Markets: []BinaryMarket{kalshiBinary("KXFEDDECISION-25DEC-C26")}},
	}}
	pairs := []MarketPair{
		{ID: "other", Legs: [2]PairLeg{PolymarketLeg("", "cpi-yes", "cpi-no"), KalshiLeg("KXCPI-25DEC-T3")}},
		{ID: "hold", Legs: [2]PairLeg{PolymarketLeg("0xhold", "hold-yes", "hold-no"), KalshiLeg("KXFEDDECISION-25DEC-H0")}},
		{ID: "cut", Legs: [2]PairLeg{PolymarketLeg("0xcut", "cut-yes", "cut-no"), KalshiLeg("KXFEDDECISION-25DEC-C25")}, Approved: true},
		{ID: "cut-again", Legs: [2]PairLeg{PolymarketLeg("", "x-yes", "x-no"), KalshiLeg("KXFEDDECISION-25DEC-C25")}},
	}
	got := set.WithPairs(pairs)
	if err := got.Validate(); err != nil {
		t.Fatalf("assembled set: %v", err)
	}
	want := []struct {
		pair  string
		token string
	}{{"hold", "hold-yes"}, {"cut", "cut-yes"}, {"", ""}}
	for i, w := range want {
		o := got.Outcomes[i]
		if o.PairID != w.pair {
			t.Errorf("outcome %d: pair %q, want %q", i, o.PairID, w.pair)
		}
		if w.pair == "" {
			if len(o.Markets) != 1 {
				t.Errorf("outcome %d: %d markets, want its own only", i, len(o.Markets))
			}
			continue
		}
		if len(o.Markets) != 2 || o.Markets[1].Yes != (Instrument{Venue: Polymarket, Market: "0x" + w.pair, Token: w.token, Outcome: Yes}) {
			t.Errorf("outcome %d: markets %+v", i, o.Markets)
		}
	}
	if len(set.Outcomes[0].Markets) != 1 || set.Outcomes[0].PairID != "" {
		t.Errorf("WithPairs changed its receiver: %+v", set.Outcomes[0])
	}

	// From the Polymarket side, the Kalshi market is added.
	pm := &OutcomeSet{ID: "pm", Name: "Fed", Venue: Polymarket, Outcomes: []SetOutcome{
		{Label: "No change", Markets: []BinaryMarket{polymarketBinary("0xhold", "hold-yes", "hold-no")}},
		{Label: "Other", Markets: []BinaryMarket{polymarketBinary("0xo", "o-yes", "o-no")}},
	}}
	got = pm.WithPairs(pairs)
	if o := got.Outcomes[0]; o.PairID != "hold" || len(o.Markets) != 2 || o.Markets[1] != kalshiBinary("KXFEDDECISION-25DEC-H0") {
		t.Errorf("Polymarket outcome: %+v", o)
	}
}

func FuzzOutcomeSetAndRelationValidateNeverPanic(f *testing.F) {
	f.Add("id", "name", "KX-1", "tok", "note", 2)
	f.Fuzz(func(t *testing.T, id, name, ticker, token, note string, n int) {
		s := &OutcomeSet{ID: id, Name: name, Venue: Kalshi, ResolutionNotes: note}
		for i := range n % 70 {
			m := kalshiBinary(ticker + string(rune('a'+i%26)))
			if i%3 == 0 {
				m = polymarketBinary(ticker, token, token+"-no")
			}
			s.Outcomes = append(s.Outcomes, SetOutcome{Label: name, Markets: []BinaryMarket{m}, PairID: id})
		}
		_ = s.Validate()
		_ = s.WithPairs([]MarketPair{{ID: id, Legs: [2]PairLeg{PolymarketLeg("", token, ""), KalshiLeg(ticker)}}}).Validate()
		r := &Relation{ID: id, Name: name, Kind: RelationImplies, A: kalshiBinary(ticker), B: polymarketBinary(ticker, token, name), SetA: id, SetB: note}
		_ = r.Validate()
		r.Kind = RelationEquivalent
		_ = r.Validate()
	})
}
