package polybot

import (
	"sort"
	"strings"
)

// LockedSet is a complete set a tenant holds: one YES and one NO of the same
// event (on one venue, or across a matched pair), which pays exactly $1 at
// resolution whatever the outcome. Its P&L is therefore known now.
type LockedSet struct {
	Market string   `json:"market"` // the venue market or the matched pair's id
	Mode   ExecMode `json:"mode"`
	Sets   Decimal  `json:"sets"`
	Cost   Decimal  `json:"cost"` // per set, fees included
	Edge   Decimal  `json:"edge"` // Sets × (1 − Cost): the P&L locked in
}

// LockedPnL finds the complete sets in holdings, in every mode: YES and NO
// of one market on one venue, or YES on one venue of a matched pair against
// NO on the other, cheapest sets first. Each contract counts in one set at
// most. Holdings carry their cost with fees, so Edge is net of fees.
// Settlement of a resolved market must not count these edges again.
func LockedPnL(holdings []*Holding, pairs []*MarketPair) []LockedSet {
	var out []LockedSet
	for _, mode := range []ExecMode{DryRun, Live} {
		sets, _ := matchSets(holdings, pairs, mode)
		out = append(out, sets...)
	}
	return out
}

// matchSets nets holdings of one mode into complete sets (see LockedPnL)
// and returns them with the unmatched remainder of each holding (sorted by
// instrument key; AvgPrice as held).
func matchSets(holdings []*Holding, pairs []*MarketPair, mode ExecMode) ([]LockedSet, []*Holding) {
	left := map[string]Decimal{}
	cost := map[string]Decimal{}
	byKey := map[string]*Holding{}
	var keys []string
	for _, h := range holdings {
		if h.Mode != mode || h.Size.Sign() <= 0 {
			continue
		}
		k := h.Instrument.Key()
		if _, ok := left[k]; !ok {
			keys = append(keys, k)
			byKey[k] = h
		}
		left[k] = left[k].Add(h.Size)
		cost[k] = h.AvgPrice
	}
	sort.Strings(keys)
	type combo struct{ market, yes, no string }
	var cands []combo
	add := func(market, yes, no string) {
		if left[yes].Sign() > 0 && left[no].Sign() > 0 {
			cands = append(cands, combo{market, yes, no})
		}
	}
	for _, p := range pairs {
		if p == nil || !p.Approved {
			continue
		}
		pmYes := Instrument{Venue: Polymarket, Token: p.PolymarketYes}.Key()
		pmNo := Instrument{Venue: Polymarket, Token: p.PolymarketNo}.Key()
		kYes := Instrument{Venue: Kalshi, Market: p.KalshiTicker, Outcome: Yes}.Key()
		kNo := Instrument{Venue: Kalshi, Market: p.KalshiTicker, Outcome: No}.Key()
		add(p.ID, kYes, pmNo)
		add(p.ID, pmYes, kNo)
		add(p.ID, pmYes, pmNo)
		add(p.ID, kYes, kNo)
	}
	// YES and NO of one Kalshi market outside the registry.
	for _, k := range keys {
		if strings.HasPrefix(k, "kalshi:") && strings.HasSuffix(k, ":YES") {
			base := strings.TrimSuffix(k, ":YES")
			add(strings.TrimPrefix(base, "kalshi:"), k, base+":NO")
		}
	}
	// Cheapest sets first: the locked edge is the most a holder can claim.
	sort.SliceStable(cands, func(i, j int) bool {
		return cost[cands[i].yes].Add(cost[cands[i].no]).LessThan(cost[cands[j].yes].Add(cost[cands[j].no]))
	})
	// One row per market: how the legs pair up inside an event changes no
	// total, so the sets of one event (or matched pair) are summed, with
	// their average cost.
	var sets []LockedSet
	at := map[string]int{}
	for _, c := range cands {
		n := left[c.yes].Min(left[c.no])
		if n.Sign() <= 0 {
			continue
		}
		per := cost[c.yes].Add(cost[c.no])
		left[c.yes], left[c.no] = left[c.yes].Sub(n), left[c.no].Sub(n)
		edge := One.Sub(per).Mul(n)
		if i, ok := at[c.market]; ok {
			s := &sets[i]
			s.Sets, s.Edge = s.Sets.Add(n), s.Edge.Add(edge)
			s.Cost = s.Sets.Sub(s.Edge).Div(s.Sets)
			continue
		}
		at[c.market] = len(sets)
		sets = append(sets, LockedSet{Market: c.market, Mode: mode, Sets: n, Cost: per, Edge: edge})
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
