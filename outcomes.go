package polybot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Overlapping arbitrage trades markets whose outcomes are tied together:
// the mutually exclusive outcome markets of one event (an OutcomeSet), and
// pairs of markets an admin has related (a Relation). This file holds
// their rules; detection lives in internal/strategy.

// Bounds on the overlap registry's records.
const (
	MaxSetOutcomes     = 64 // outcomes in one set (Kalshi and Polymarket events list far fewer)
	MaxOutcomeMarkets  = 2  // markets per outcome: its home venue's, and one matched on the other venue
	maxOverlapIDChars  = 64
	maxOverlapName     = 200
	maxOverlapNotes    = 4000
	maxOverlapRefChars = 128
)

// BinaryMarket is one YES/NO market as its two instruments: a Polymarket
// condition's two tokens, or a Kalshi ticker's two sides.
type BinaryMarket struct {
	Yes Instrument `json:"yes"`
	No  Instrument `json:"no"`
}

// check adds what is wrong with m to v under field: both instruments valid,
// YES and NO outcomes in their places, one venue, one market.
func (m BinaryMarket) check(v Validation, field string) {
	if err := CheckInstrument(m.Yes); err != nil {
		v.Add(field+".yes", ErrorFields(err)["instrument"])
		return
	}
	if err := CheckInstrument(m.No); err != nil {
		v.Add(field+".no", ErrorFields(err)["instrument"])
		return
	}
	for _, s := range []struct {
		name, text string
	}{{"yes.market", m.Yes.Market}, {"yes.token", m.Yes.Token}, {"no.market", m.No.Market}, {"no.token", m.No.Token}} {
		v.checkText(field+"."+s.name, s.text, maxOverlapRefChars)
	}
	venue := VenueOf(m.Yes.Venue)
	switch {
	case venue.Kind != Prediction:
		v.Add(field+".yes", "must be on a prediction venue ("+predictionVenues()+")")
	case m.Yes.Outcome != Yes:
		v.Add(field+".yes", "must be a YES instrument")
	case m.No.Outcome != No:
		v.Add(field+".no", "must be a NO instrument")
	case m.Yes.Venue != m.No.Venue:
		v.Add(field+".no", "must be on the YES instrument's venue")
	case venue.TokenPerOutcome && (m.Yes.Token == "" || m.No.Token == "" || m.Yes.Token == m.No.Token):
		v.Add(field+".no", "needs two distinct "+venue.Label+" tokens")
	case !venue.TokenPerOutcome && (m.Yes.Market == "" || m.Yes.Market != m.No.Market):
		v.Add(field+".no", "must be the YES instrument's "+venue.Label+" market")
	case m.Yes.Market != m.No.Market:
		v.Add(field+".no", "must be the YES instrument's market")
	}
}

// SetOutcome is one outcome of an OutcomeSet. Markets[0] is the outcome's
// market on the set's own venue (the event the set was read from); a
// second market, on the other venue, is the same outcome only through the
// matched pair PairID, and is traded only while an admin approves that
// pair.
type SetOutcome struct {
	Label   string         `json:"label"`
	Markets []BinaryMarket `json:"markets"`
	PairID  string         `json:"pair_id,omitempty"`
}

// OutcomeSet is the mutually exclusive outcome markets of one event: at
// most one of them resolves YES. Exhaustive says that exactly one does
// (the outcomes cover every case, e.g. a Kalshi event with
// mutually_exclusive whose markets cover every result, or a Polymarket
// negRisk event without placeholder outcomes). A set not known to be
// exhaustive is never traded as a rebalancing set: buying every YES of it
// may pay nothing.
type OutcomeSet struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Venue is the venue the set's event was read from; Event its id there
	// (Polymarket negRiskMarketID or event slug, Kalshi event ticker).
	Venue           Platform     `json:"venue"`
	Event           string       `json:"event"`
	Outcomes        []SetOutcome `json:"outcomes"`
	Exhaustive      bool         `json:"exhaustive"`
	ResolutionNotes string       `json:"resolution_notes"`
	// Approved is the admin's word that the set is what it says (its
	// outcomes exclusive and, if Exhaustive, exhaustive) after reading the
	// event's rules. Only an approved, exhaustive set trades.
	Approved  bool      `json:"approved"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks a set: 2 to MaxSetOutcomes labelled outcomes, each with
// its market on the set's venue first and at most one matched market on
// another venue (with its pair), and no instrument in two outcomes.
func (s *OutcomeSet) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", s.ID, maxOverlapIDChars)
	v.checkRequiredText("name", s.Name, maxOverlapName)
	v.checkText("event", s.Event, maxOverlapRefChars)
	v.checkText("resolution_notes", s.ResolutionNotes, maxOverlapNotes)
	if s.Venue != Polymarket && s.Venue != Kalshi {
		v.Add("venue", "must be polymarket or kalshi")
	}
	if n := len(s.Outcomes); n < 2 || n > MaxSetOutcomes {
		v.Add("outcomes", fmt.Sprintf("must be 2-%d outcomes", MaxSetOutcomes))
	}
	seen := map[string]string{}
	for i, o := range s.Outcomes {
		f := "outcomes[" + strconv.Itoa(i) + "]"
		v.checkRequiredText(f+".label", o.Label, maxOverlapName)
		v.checkText(f+".pair_id", o.PairID, maxOverlapIDChars)
		if n := len(o.Markets); n < 1 || n > MaxOutcomeMarkets {
			v.Add(f+".markets", fmt.Sprintf("must be 1-%d markets", MaxOutcomeMarkets))
			continue
		}
		for j, m := range o.Markets {
			mf := f + ".markets[" + strconv.Itoa(j) + "]"
			m.check(v, mf)
			for _, inst := range []Instrument{m.Yes, m.No} {
				if prev, dup := seen[inst.Key()]; dup {
					v.Add(mf, "repeats the instrument of "+prev)
				}
				seen[inst.Key()] = mf
			}
		}
		if o.Markets[0].Yes.Venue != s.Venue {
			v.Add(f+".markets[0]", "must be on the set's venue")
		}
		if len(o.Markets) == 2 {
			switch {
			case o.Markets[1].Yes.Venue == o.Markets[0].Yes.Venue:
				v.Add(f+".markets[1]", "must be on the other venue")
			case o.PairID == "":
				v.Add(f+".pair_id", "is required to join two venues' markets")
			}
		}
	}
	return v.Err()
}

// Tradable reports whether s may be traded as a rebalancing set: an
// admin approved it and its outcomes are exhaustive.
func (s *OutcomeSet) Tradable() bool { return s != nil && s.Approved && s.Exhaustive }

// Hedges are the registry entries whose legs, held together, pay a known
// amount at resolution: approved matched pairs (YES on one venue with NO
// on the other), approved exhaustive outcome sets (every YES pays $1,
// every NO pays n − 1) and approved implications (YES on B with NO on A
// pays at least $1). The risk gate and the P&L reports net holdings
// against them (see LockedPnL); entries not approved are ignored.
type Hedges struct {
	Pairs     []*MarketPair
	Sets      []*OutcomeSet
	Relations []*Relation
}

// LoadHedges reads the registries whose entries make complete sets: the
// matched pairs, the outcome sets and the relations, approved or not.
func LoadHedges(tx AdminTx) (Hedges, error) {
	var h Hedges
	var err error
	if h.Pairs, err = tx.MarketPairs(); err != nil {
		return h, err
	}
	if h.Sets, err = tx.OutcomeSets(); err != nil {
		return h, err
	}
	h.Relations, err = tx.Relations()
	return h, err
}

// Relation kinds.
const (
	// RelationImplies: when A resolves YES, so does B (P(A) ≤ P(B)), e.g.
	// "rate above 3.875%" implies "rate above 3.625%".
	RelationImplies = "implies"
	// RelationEquivalent: the outcome sets SetA and SetB (one per venue)
	// list the same outcomes in the same order, resolving alike.
	RelationEquivalent = "equivalent"
)

// Relation is an entry of the relations registry, kept like the matched
// pairs: an admin records a logical tie between markets after reading
// their resolution rules, and only an Approved relation trades.
type Relation struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// A and B are the two markets of an implication (A implies B).
	A BinaryMarket `json:"a"`
	B BinaryMarket `json:"b"`
	// SetA and SetB are the ids of two equivalent outcome sets.
	SetA            string    `json:"set_a,omitempty"`
	SetB            string    `json:"set_b,omitempty"`
	ResolutionNotes string    `json:"resolution_notes"`
	Approved        bool      `json:"approved"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Validate checks an admin's relation: an implication names two distinct
// markets and no sets, an equivalence two distinct outcome sets and no
// markets (so what a store keeps is what the relation means).
func (r *Relation) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", r.ID, maxOverlapIDChars)
	v.checkRequiredText("name", r.Name, maxOverlapName)
	v.checkText("resolution_notes", r.ResolutionNotes, maxOverlapNotes)
	switch r.Kind {
	case RelationImplies:
		r.A.check(v, "a")
		r.B.check(v, "b")
		if r.A.Yes.Key() == r.B.Yes.Key() {
			v.Add("b", "must be another market than a")
		}
		if r.SetA != "" {
			v.Add("set_a", "must be empty: an implication relates markets, not sets")
		}
		if r.SetB != "" {
			v.Add("set_b", "must be empty: an implication relates markets, not sets")
		}
	case RelationEquivalent:
		v.checkRequiredText("set_a", r.SetA, maxOverlapIDChars)
		v.checkRequiredText("set_b", r.SetB, maxOverlapIDChars)
		if r.SetA != "" && r.SetA == r.SetB {
			v.Add("set_b", "must be another set than set_a")
		}
		if r.A != (BinaryMarket{}) {
			v.Add("a", "must be empty: an equivalence relates sets, not markets")
		}
		if r.B != (BinaryMarket{}) {
			v.Add("b", "must be empty: an equivalence relates sets, not markets")
		}
	default:
		v.Add("kind", "must be implies or equivalent")
	}
	return v.Err()
}

// CheckSets checks an equivalence against the outcome sets it names: a and
// b are the sets stored under SetA and SetB (nil when no set has that id).
// Both must exist; an approved equivalence must also relate a set on each
// venue listing as many outcomes, since outcome i of one is traded as
// outcome i of the other. An equivalence that is not approved may relate
// sets that differ (an admin can always withdraw an approval), and a
// relation of another kind names no sets.
func (r *Relation) CheckSets(a, b *OutcomeSet) error {
	if r.Kind != RelationEquivalent {
		return nil
	}
	v := Validation{}
	if a == nil {
		v.Add("set_a", "names no outcome set")
	}
	if b == nil {
		v.Add("set_b", "names no outcome set")
	}
	if a != nil && b != nil && r.Approved {
		switch {
		case a.Venue == b.Venue:
			v.Add("set_b", "must be on another venue than set_a to approve the equivalence")
		case len(a.Outcomes) != len(b.Outcomes):
			v.Add("set_b", fmt.Sprintf("must list as many outcomes as set_a to approve the equivalence (%d, not %d)", len(a.Outcomes), len(b.Outcomes)))
		}
	}
	return v.Err()
}

// SetInUse is the ECONFLICT a store answers when asked to delete the
// outcome set id while relations still name it (rels: their ids, when
// known): the relations go first, so an equivalence never loses a side.
func SetInUse(id string, rels []string) error {
	named, it := "a relation", "it"
	switch len(rels) {
	case 0:
	case 1:
		named = "relation " + strconv.Quote(rels[0])
	default:
		q := make([]string, len(rels))
		for i, r := range rels {
			q[i] = strconv.Quote(r)
		}
		named, it = "relations "+strings.Join(q, ", "), "them"
	}
	return Errorf(ECONFLICT, "outcome set %q is named by %s: delete or change %s first", id, named, it)
}

// WithPairs is s with each outcome's matched market on the other venue
// added from the matched-market registry: an outcome whose own market is
// one side of a pair gets the pair's other side as its second market,
// joined by the pair's id. Pairs are added whether or not they are
// approved yet (detection checks approval at every update, so an approval
// or a withdrawal takes effect without rebuilding the set). An outcome
// that already has two markets, or matches no pair, is kept as it is; a
// market matched by two pairs takes the first. s is not modified.
func (s *OutcomeSet) WithPairs(pairs []MarketPair) *OutcomeSet {
	c := *s
	c.Outcomes = make([]SetOutcome, len(s.Outcomes))
	for i, o := range s.Outcomes {
		o.Markets = append([]BinaryMarket(nil), o.Markets...)
		if len(o.Markets) == 1 {
			for j := range pairs {
				if other, ok := pairs[j].otherSide(o.Markets[0]); ok {
					o.Markets = append(o.Markets, other)
					o.PairID = pairs[j].ID
					break
				}
			}
		}
		c.Outcomes[i] = o
	}
	return &c
}

// otherSide is the pair's market on the venue m is not on, when m is one
// of the pair's two markets.
func (p *MarketPair) otherSide(m BinaryMarket) (BinaryMarket, bool) {
	a, b := p.Markets()
	switch {
	case sameMarket(m, a):
		return b, true
	case sameMarket(m, b):
		return a, true
	}
	return BinaryMarket{}, false
}

// sameMarket reports whether m and leg are the same market: the same
// contracts, by key.
func sameMarket(m, leg BinaryMarket) bool {
	return m.Yes.Venue == leg.Yes.Venue && m.Yes.Key() == leg.Yes.Key() && m.No.Key() == leg.No.Key()
}
