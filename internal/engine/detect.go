package engine

import (
	"slices"
	"strconv"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/strategy"
)

// Detector finds opportunities after some books changed. The dispatcher
// calls it once per batch of changed views, on one goroutine, whatever the
// number of tenants. Opportunities it returns are handed to tenants as they
// are and must not be changed afterwards.
type Detector interface {
	// Detect appends the opportunities the changed views reveal to dst.
	// books reads the current view of any subscribed instrument.
	Detect(changed []*marketdata.View, books Books, dst []*polybot.Opportunity) []*polybot.Opportunity
	// Resize re-prices o for a tenant buying sets sets (fees per set depend
	// on the order size); false when the edge is gone. o is not modified.
	Resize(o *polybot.Opportunity, sets polybot.Decimal) (*polybot.Opportunity, bool)
}

// Market is a binary market on one venue: its YES and NO instruments.
type Market = polybot.BinaryMarket

// Universe is what the engine watches: the matched-market pairs
// (cross-platform on the approved ones, and each side as a single-platform
// market), other single-platform markets, and the overlap registry: the
// venues' outcome sets and the admin's relations (overlapping arbitrage
// trades the approved, exhaustive sets and the approved implications).
type Universe struct {
	Pairs     []*polybot.MarketPair
	Markets   []Market
	Sets      []*polybot.OutcomeSet
	Relations []*polybot.Relation
}

// PairMarkets returns the two single-venue markets of a pair, in the
// order of its legs.
func PairMarkets(p *polybot.MarketPair) (a, b Market) { return p.Markets() }

// approved returns the approved pairs only.
func (u Universe) approved() []*polybot.MarketPair {
	var out []*polybot.MarketPair
	for _, p := range u.Pairs {
		if p != nil && p.Approved {
			out = append(out, p)
		}
	}
	return out
}

// equivalencePairs turns each equivalence relation between two outcome
// sets of the same size on two venues into one matched pair per
// outcome (outcome i of one set is outcome i of the other), approved
// exactly when the relation is. The id is the relation's, with the
// outcome's index.
func (u Universe) equivalencePairs() []*polybot.MarketPair {
	byID := map[string]*polybot.OutcomeSet{}
	for _, s := range u.Sets {
		if s != nil {
			byID[s.ID] = s
		}
	}
	var out []*polybot.MarketPair
	for _, r := range u.Relations {
		if r == nil || r.Kind != polybot.RelationEquivalent {
			continue
		}
		a, b := byID[r.SetA], byID[r.SetB]
		if a == nil || b == nil || len(a.Outcomes) != len(b.Outcomes) || a.Venue == b.Venue {
			continue
		}
		if b.Venue == polybot.Polymarket { // Polymarket first, as registry pairs are
			a, b = b, a
		}
		for i := range a.Outcomes {
			if len(a.Outcomes[i].Markets) == 0 || len(b.Outcomes[i].Markets) == 0 {
				continue
			}
			out = append(out, &polybot.MarketPair{ID: r.ID + "#" + strconv.Itoa(i), Name: r.Name + ": " + a.Outcomes[i].Label,
				Legs:            [2]polybot.PairLeg{polybot.LegOf(a.Outcomes[i].Markets[0]), polybot.LegOf(b.Outcomes[i].Markets[0])},
				ResolutionNotes: r.ResolutionNotes, Approved: r.Approved})
		}
	}
	return out
}

// allPairs is the registry's pairs and the pairs equivalences imply.
func (u Universe) allPairs() []*polybot.MarketPair {
	return append(slices.Clip(u.Pairs), u.equivalencePairs()...)
}

// sets are the outcome sets overlapping arbitrage trades: approved and
// exhaustive, each outcome joined to its matched market on the other
// venue where a pair (or an equivalence) names one.
func (u Universe) sets() []*polybot.OutcomeSet {
	// Approved pairs first: an outcome matched by two pairs (the registry's
	// and an equivalence's) takes an approved one.
	var pairs []polybot.MarketPair
	for _, approved := range []bool{true, false} {
		for _, p := range u.allPairs() {
			if p != nil && p.Approved == approved {
				pairs = append(pairs, *p)
			}
		}
	}
	var out []*polybot.OutcomeSet
	for _, s := range u.Sets {
		if s.Tradable() {
			out = append(out, s.WithPairs(pairs))
		}
	}
	return out
}

// implications are the approved implication relations.
func (u Universe) implications() []*polybot.Relation {
	var out []*polybot.Relation
	for _, r := range u.Relations {
		if r != nil && r.Approved && r.Kind == polybot.RelationImplies {
			out = append(out, r)
		}
	}
	return out
}

// hedges are the entries whose legs the risk gate nets into complete sets.
func (u Universe) hedges() polybot.Hedges {
	var pairs []*polybot.MarketPair
	for _, p := range u.allPairs() {
		if p != nil && p.Approved {
			pairs = append(pairs, p)
		}
	}
	return polybot.Hedges{Pairs: pairs, Sets: u.sets(), Relations: u.implications()}
}

// markets lists every single-platform market: each approved pair's two
// sides, then Markets, without duplicates.
func (u Universe) markets() []Market {
	seen := map[instKey]bool{}
	var out []Market
	add := func(m Market) {
		if k := keyOf(m.Yes); !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	for _, p := range u.approved() {
		pm, k := PairMarkets(p)
		add(pm)
		add(k)
	}
	for _, m := range u.Markets {
		add(m)
	}
	return out
}

// setMarkets lists the markets an outcome set trades on: each outcome's
// own market, and its other venue's market while the pair joining them is
// approved.
func setMarkets(s *polybot.OutcomeSet, approved map[string]bool) []polybot.BinaryMarket {
	var out []polybot.BinaryMarket
	for _, o := range s.Outcomes {
		for j, m := range o.Markets {
			if j > 0 && !approved[o.PairID] {
				break
			}
			out = append(out, m)
		}
	}
	return out
}

func approvedIDs(pairs []*polybot.MarketPair) map[string]bool {
	ok := map[string]bool{}
	for _, p := range pairs {
		if p != nil && p.Approved {
			ok[p.ID] = true
		}
	}
	return ok
}

// Opposite is the other outcome of inst's binary market, from any market
// the universe knows (a pair's leg, a single market, a set's outcome).
func (u Universe) Opposite(inst polybot.Instrument) (polybot.Instrument, bool) {
	k := keyOf(inst)
	try := func(m polybot.BinaryMarket) (polybot.Instrument, bool) {
		switch k {
		case keyOf(m.Yes):
			return m.No, true
		case keyOf(m.No):
			return m.Yes, true
		}
		return polybot.Instrument{}, false
	}
	for _, p := range u.allPairs() {
		if p == nil {
			continue
		}
		a, b := p.Markets()
		for _, m := range []polybot.BinaryMarket{a, b} {
			if o, ok := try(m); ok {
				return o, true
			}
		}
	}
	for _, m := range u.Markets {
		if o, ok := try(m); ok {
			return o, true
		}
	}
	for _, s := range u.Sets {
		for _, o := range s.Outcomes {
			for _, m := range o.Markets {
				if x, ok := try(m); ok {
					return x, true
				}
			}
		}
	}
	return polybot.Instrument{}, false
}

// Instruments lists every instrument of the universe once.
func (u Universe) Instruments() []polybot.Instrument {
	seen := map[instKey]bool{}
	var out []polybot.Instrument
	add := func(insts ...polybot.Instrument) {
		for _, i := range insts {
			if k := keyOf(i); !seen[k] {
				seen[k] = true
				out = append(out, i)
			}
		}
	}
	for _, m := range u.markets() {
		add(m.Yes, m.No)
	}
	ok := approvedIDs(u.allPairs())
	for _, s := range u.sets() {
		for _, m := range setMarkets(s, ok) {
			add(m.Yes, m.No)
		}
	}
	for _, r := range u.implications() {
		add(r.A.Yes, r.A.No, r.B.Yes, r.B.No)
	}
	return out
}

// instKey identifies an instrument as Instrument.Key does, without
// allocating.
type instKey struct {
	venue   polybot.Platform
	id      string
	outcome polybot.Outcome
}

func keyOf(i polybot.Instrument) instKey {
	if i.Token != "" {
		return instKey{i.Venue, i.Token, 0}
	}
	return instKey{i.Venue, i.Market, i.Outcome}
}

// What a changed instrument makes the detector re-check.
const (
	refMarket      = iota // a single-platform market
	refPair               // an approved matched pair (cross-platform)
	refSet                // an outcome set (rebalancing, long and short)
	refImplication        // an approved implication
)

type ref struct {
	kind uint8
	i    int32
}

// StrategyDetector runs the strategies of internal/strategy over a
// universe: a changed view re-checks only the markets, pairs, outcome sets
// and relations it belongs to, each once per batch.
type StrategyDetector struct {
	s       *strategy.Detector
	markets []Market
	pairs   []*polybot.MarketPair
	sets    []*polybot.OutcomeSet
	rels    []*polybot.Relation
	byID    map[string]*polybot.MarketPair // every pair (detection checks approval)
	byInst  map[instKey][]ref
	mark    [4][]uint32 // per kind, per entry: the batch that checked it
	batch   uint32
}

// NewStrategyDetector returns a Detector of the universe's opportunities.
func NewStrategyDetector(s *strategy.Detector, u Universe) *StrategyDetector {
	d := &StrategyDetector{s: s, markets: u.markets(), pairs: u.approved(), sets: u.sets(), rels: u.implications(),
		byID: map[string]*polybot.MarketPair{}, byInst: map[instKey][]ref{}}
	all := u.allPairs()
	for _, p := range all {
		if p != nil {
			d.byID[p.ID] = p
		}
	}
	index := func(r ref, insts ...polybot.Instrument) {
		for _, inst := range insts {
			k := keyOf(inst)
			if !slices.Contains(d.byInst[k], r) {
				d.byInst[k] = append(d.byInst[k], r)
			}
		}
	}
	for i, m := range d.markets {
		index(ref{refMarket, int32(i)}, m.Yes, m.No)
	}
	for i, p := range d.pairs {
		pm, k := PairMarkets(p)
		index(ref{refPair, int32(i)}, pm.Yes, pm.No, k.Yes, k.No)
	}
	ok := approvedIDs(all)
	for i, s := range d.sets {
		for _, m := range setMarkets(s, ok) {
			index(ref{refSet, int32(i)}, m.Yes, m.No)
		}
	}
	for i, r := range d.rels {
		index(ref{refImplication, int32(i)}, r.A.No, r.B.Yes)
	}
	d.mark = [4][]uint32{make([]uint32, len(d.markets)), make([]uint32, len(d.pairs)), make([]uint32, len(d.sets)), make([]uint32, len(d.rels))}
	return d
}

// Detect implements Detector.
func (d *StrategyDetector) Detect(changed []*marketdata.View, books Books, dst []*polybot.Opportunity) []*polybot.Opportunity {
	d.batch++
	view := func(i polybot.Instrument) *marketdata.View {
		v, _ := books.View(i)
		return v
	}
	pairs := func(id string) *polybot.MarketPair { return d.byID[id] }
	for _, v := range changed {
		for _, r := range d.byInst[keyOf(v.Instrument)] {
			if d.mark[r.kind][r.i] == d.batch {
				continue
			}
			d.mark[r.kind][r.i] = d.batch
			switch r.kind {
			case refMarket:
				m := d.markets[r.i]
				if yes, no := view(m.Yes), view(m.No); yes != nil && no != nil {
					dst = appendOpp(dst, d.s.SinglePlatform(yes, no))
				}
			case refPair:
				p := d.pairs[r.i]
				a, b := PairMarkets(p)
				dst = appendOpp(dst, d.s.CrossPlatform(p, strategy.CrossBooks{AYes: view(a.Yes), ANo: view(a.No),
					BYes: view(b.Yes), BNo: view(b.No)}))
			case refSet:
				s := d.sets[r.i]
				dst = appendOpp(dst, d.s.RebalanceLong(s, view, pairs))
				dst = appendOpp(dst, d.s.RebalanceShort(s, view, pairs))
			case refImplication:
				dst = appendOpp(dst, d.s.Implication(d.rels[r.i], view))
			}
		}
	}
	return dst
}

func appendOpp(dst []*polybot.Opportunity, o *polybot.Opportunity) []*polybot.Opportunity {
	if o != nil {
		dst = append(dst, o)
	}
	return dst
}

// Resize implements Detector.
func (d *StrategyDetector) Resize(o *polybot.Opportunity, sets polybot.Decimal) (*polybot.Opportunity, bool) {
	return d.s.Resize(o, sets)
}

// hubBooks reads views from the hub of each instrument's venue.
type hubBooks map[polybot.Platform]*marketdata.Hub

func (h hubBooks) View(inst polybot.Instrument) (*marketdata.View, bool) {
	hub := h[inst.Venue]
	if hub == nil {
		return nil, false
	}
	v, err := hub.View(inst)
	if err != nil || v == nil || v.Stale {
		return nil, false
	}
	return v, true
}
