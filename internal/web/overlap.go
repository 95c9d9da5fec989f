package web

import (
	"encoding/json"
	"sort"

	"github.com/polybot/polybot"
)

// The admin page's overlap registry: outcome sets and the relations
// between markets and between sets.

// AdminOutcomeSet is a row of the outcome sets.
type AdminOutcomeSet struct {
	*polybot.OutcomeSet
	OutcomeRows []AdminOutcome
}

// AdminOutcome is one outcome of a set, its markets as a reader names them.
type AdminOutcome struct {
	Label   string
	Markets []string
	PairID  string
}

// JSON is the set as PUT /api/v1/admin/outcome-sets/{id} takes it.
func (s AdminOutcomeSet) JSON() string {
	b, _ := json.Marshal(s.OutcomeSet)
	return string(b)
}

// AdminRelation is a row of the relations.
type AdminRelation struct {
	*polybot.Relation
	// A and B name the two sides: a market (by its set and outcome when a
	// set lists it) for an implication, a set for an equivalence.
	A, B string
	// Problem says why an equivalence cannot be approved as it stands (its
	// sets went apart since), or is "".
	Problem string
}

// Implies reports whether r is an implication (A ⇒ B) rather than an
// equivalence (A ⇔ B).
func (r AdminRelation) Implies() bool { return r.Kind == polybot.RelationImplies }

// JSON is the relation as PUT /api/v1/admin/relations/{id} takes it.
func (r AdminRelation) JSON() string {
	b, _ := json.Marshal(r.Relation)
	return string(b)
}

// NewAdminOverlap builds the admin page's rows of the overlap registry.
// Relations are listed implications first, then equivalences, each by id.
func NewAdminOverlap(sets []*polybot.OutcomeSet, rels []*polybot.Relation) ([]AdminOutcomeSet, []AdminRelation) {
	byID := map[string]*polybot.OutcomeSet{}
	where := map[string]string{} // YES instrument key → "set: outcome"
	var setRows []AdminOutcomeSet
	for _, s := range sets {
		byID[s.ID] = s
		row := AdminOutcomeSet{OutcomeSet: s}
		for _, o := range s.Outcomes {
			ao := AdminOutcome{Label: o.Label, PairID: o.PairID}
			for _, m := range o.Markets {
				ao.Markets = append(ao.Markets, MarketName(m))
				if _, seen := where[m.Yes.Key()]; !seen {
					where[m.Yes.Key()] = s.Name + ": " + o.Label
				}
			}
			row.OutcomeRows = append(row.OutcomeRows, ao)
		}
		setRows = append(setRows, row)
	}
	market := func(m polybot.BinaryMarket) string {
		if w, ok := where[m.Yes.Key()]; ok {
			return w + " (" + MarketName(m) + ")"
		}
		return MarketName(m)
	}
	set := func(id string) string {
		if s, ok := byID[id]; ok {
			return s.Name + " (" + polybot.PlatformName(s.Venue) + ")"
		}
		return id
	}
	var relRows []AdminRelation
	for _, r := range rels {
		row := AdminRelation{Relation: r}
		if r.Kind == polybot.RelationImplies {
			row.A, row.B = market(r.A), market(r.B)
		} else {
			row.A, row.B = set(r.SetA), set(r.SetB)
			approved := *r
			approved.Approved = true
			fields := polybot.ErrorFields(approved.CheckSets(byID[r.SetA], byID[r.SetB]))
			for _, f := range []string{"set_a", "set_b"} {
				if msg := fields[f]; msg != "" && row.Problem == "" {
					row.Problem = f + " " + msg
				}
			}
		}
		relRows = append(relRows, row)
	}
	sort.SliceStable(relRows, func(i, j int) bool { return relRows[i].Implies() && !relRows[j].Implies() })
	return setRows, relRows
}

// MarketName names a market for an admin: "Kalshi KXFED-25DEC-T3.875",
// "Polymarket 0xab…cd (YES …12345678)".
func MarketName(m polybot.BinaryMarket) string {
	v := polybot.VenueOf(m.Yes.Venue)
	if !v.TokenPerOutcome {
		return v.Label + " " + m.Yes.Market
	}
	s := v.Label
	if m.Yes.Market != "" {
		s += " " + short(m.Yes.Market)
	}
	return s + " (YES " + short(m.Yes.Token) + ")"
}
