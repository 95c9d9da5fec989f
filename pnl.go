package polybot

import (
	"sort"
	"strings"
)

// LockedSet is a complete set a tenant holds: legs that together pay a
// known amount at resolution whatever the outcome, so their P&L is known
// now. The kinds:
//
//   - "market": YES and NO of one market on one venue ($1);
//   - "pair": YES on one venue of an approved matched pair with NO on the
//     other, or both sides on one of its venues ($1);
//   - "rebalance_long": YES on every outcome of an approved exhaustive
//     outcome set ($1: exactly one outcome resolves YES);
//   - "rebalance_short": NO on every outcome of such a set of n outcomes
//     (n − 1);
//   - "implication": YES on B with NO on A for an approved relation A ⇒ B
//     (at least $1; counted at $1).
type LockedSet struct {
	Market string       `json:"market"` // the venue market, or the pair's, set's or relation's id
	Kind   string       `json:"kind"`
	Mode   ExecMode     `json:"mode"`
	Legs   []Instrument `json:"legs"`   // one instrument per leg, in the hedge's order
	Payout Decimal      `json:"payout"` // per set, at resolution
	Sets   Decimal      `json:"sets"`
	Cost   Decimal      `json:"cost"` // per set, fees included
	Edge   Decimal      `json:"edge"` // Sets × (Payout − Cost): the P&L locked in
}

// Locked-set kinds.
const (
	SetMarket         = "market"
	SetPair           = "pair"
	SetRebalanceLong  = "rebalance_long"
	SetRebalanceShort = "rebalance_short"
	SetImplication    = "implication"
)

// LockedPnL finds the complete sets in holdings, in every mode (see
// LockedSet), cheapest sets first. Each contract counts in one set at
// most. Holdings carry their cost with fees, so Edge is net of fees.
// Settlement of a resolved market must not count these edges again.
func LockedPnL(holdings []*Holding, h Hedges) []LockedSet {
	var out []LockedSet
	for _, mode := range []ExecMode{DryRun, Live} {
		sets, _ := matchSets(holdings, h, mode)
		out = append(out, sets...)
	}
	return out
}

// hedge is a candidate complete set: per slot (leg), the instrument keys
// any of which fills it (an outcome of a cross-venue set may be held on
// either venue), and what one set pays.
type hedge struct {
	market, kind string
	slots        [][]string
	payout       Decimal
}

// hedgesOf lists every candidate hedge of h, for the instruments held.
func hedgesOf(h Hedges, held map[string]Decimal, keys []string) []hedge {
	var out []hedge
	has := func(k string) bool { return held[k].Sign() > 0 }
	add := func(c hedge) {
		for _, alts := range c.slots {
			ok := false
			for _, k := range alts {
				ok = ok || has(k)
			}
			if !ok {
				return
			}
		}
		out = append(out, c)
	}
	one := func(k string) []string { return []string{k} }
	for _, p := range h.Pairs {
		if p == nil || !p.Approved {
			continue
		}
		a, b := p.Markets()
		aYes, aNo, bYes, bNo := a.Yes.Key(), a.No.Key(), b.Yes.Key(), b.No.Key()
		for _, yn := range [][2]string{{bYes, aNo}, {aYes, bNo}, {aYes, aNo}, {bYes, bNo}} {
			add(hedge{market: p.ID, kind: SetPair, slots: [][]string{one(yn[0]), one(yn[1])}, payout: One})
		}
	}
	approved := map[string]*MarketPair{}
	for _, p := range h.Pairs {
		if p != nil && p.Approved {
			approved[p.ID] = p
		}
	}
	for _, s := range h.Sets {
		if !s.Tradable() {
			continue
		}
		long := make([][]string, len(s.Outcomes))
		short := make([][]string, len(s.Outcomes))
		for i, o := range s.Outcomes {
			for j, m := range o.Markets {
				if j > 0 && approved[o.PairID] == nil {
					break // the other venue's market is this outcome only through an approved pair
				}
				long[i] = append(long[i], m.Yes.Key())
				short[i] = append(short[i], m.No.Key())
			}
		}
		add(hedge{market: s.ID, kind: SetRebalanceLong, slots: long, payout: One})
		add(hedge{market: s.ID, kind: SetRebalanceShort, slots: short, payout: NewDecimal(int64(len(s.Outcomes)-1), 0)})
	}
	for _, r := range h.Relations {
		if r == nil || !r.Approved || r.Kind != RelationImplies {
			continue
		}
		add(hedge{market: r.ID, kind: SetImplication, slots: [][]string{one(r.B.Yes.Key()), one(r.A.No.Key())}, payout: One})
	}
	// YES and NO of one Kalshi market outside the registry.
	for _, k := range keys {
		if strings.HasPrefix(k, "kalshi:") && strings.HasSuffix(k, ":YES") {
			base := strings.TrimSuffix(k, ":YES")
			add(hedge{market: strings.TrimPrefix(base, "kalshi:"), kind: SetMarket, slots: [][]string{one(k), one(base + ":NO")}, payout: One})
		}
	}
	return out
}

// matchSets nets holdings of one mode into complete sets (see LockedPnL)
// and returns them with the unmatched remainder of each holding (sorted by
// instrument key; AvgPrice as held). Hedges are taken by their edge per
// set, best first (the most a holder can claim is locked); one row per
// hedge, its sets summed with their average cost.
func matchSets(holdings []*Holding, h Hedges, mode ExecMode) ([]LockedSet, []*Holding) {
	left := map[string]Decimal{}
	cost := map[string]Decimal{}
	byKey := map[string]*Holding{}
	var keys []string
	for _, hd := range holdings {
		if hd.Mode != mode || hd.Size.Sign() <= 0 {
			continue
		}
		k := hd.Instrument.Key()
		if _, ok := left[k]; !ok {
			keys = append(keys, k)
			byKey[k] = hd
		}
		left[k] = left[k].Add(hd.Size)
		cost[k] = hd.AvgPrice
	}
	sort.Strings(keys)
	cands := hedgesOf(h, left, keys)
	// cheapest is a slot's cheapest held alternative.
	cheapest := func(alts []string) (string, bool) {
		best, found := "", false
		for _, k := range alts {
			if left[k].Sign() > 0 && (!found || cost[k].LessThan(cost[best])) {
				best, found = k, true
			}
		}
		return best, found
	}
	edgeOf := func(c hedge) Decimal {
		e := c.payout
		for _, alts := range c.slots {
			k, _ := cheapest(alts)
			e = e.Sub(cost[k])
		}
		return e
	}
	sort.SliceStable(cands, func(i, j int) bool { return edgeOf(cands[i]).GreaterThan(edgeOf(cands[j])) })
	var sets []LockedSet
	at := map[string]int{}
	for _, c := range cands {
		// Take sets leg by leg from each slot's cheapest held alternative
		// until a slot runs dry.
		for {
			n, per := Zero, Zero
			legs := make([]string, len(c.slots))
			ok := true
			for i, alts := range c.slots {
				k, found := cheapest(alts)
				if !found {
					ok = false
					break
				}
				legs[i] = k
				if i == 0 || left[k].LessThan(n) {
					n = left[k]
				}
				per = per.Add(cost[k])
			}
			if !ok || n.Sign() <= 0 {
				break
			}
			insts := make([]Instrument, len(legs))
			for i, k := range legs {
				left[k] = left[k].Sub(n)
				insts[i] = byKey[k].Instrument
			}
			edge := c.payout.Sub(per).Mul(n)
			id := c.kind + "\x00" + c.market
			if i, seen := at[id]; seen {
				s := &sets[i]
				s.Sets, s.Edge = s.Sets.Add(n), s.Edge.Add(edge)
				s.Cost = s.Sets.Mul(s.Payout).Sub(s.Edge).Div(s.Sets)
				continue
			}
			at[id] = len(sets)
			sets = append(sets, LockedSet{Market: c.market, Kind: c.kind, Mode: mode, Legs: insts, Payout: c.payout, Sets: n, Cost: per, Edge: edge})
		}
	}
	var rest []*Holding
	for _, k := range keys {
		if left[k].Sign() > 0 {
			h := *byKey[k]
			h.Size = left[k]
			rest = append(rest, &h)
		}
	}
	return sets, rest
}
