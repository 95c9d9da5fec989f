package engine

import (
	"cmp"
	"slices"
	"sort"

	"github.com/polybot/polybot"
)

// strategyNames are the strategies the index knows, in index order.
var strategyNames = [...]string{
	polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform, polybot.StrategyOverlapping,
	polybot.StrategyNews, polybot.StrategyCopy,
}

const nStrategies = len(strategyNames)

func strategyIndex(s string) int {
	for i, n := range strategyNames {
		if n == s {
			return i
		}
	}
	return -1
}

// venueBit is a platform's bit in a venue set.
func venueBit(p polybot.Platform) uint8 {
	for i, q := range polybot.Platforms {
		if q == p && i < 8 {
			return 1 << i
		}
	}
	return 0
}

// venueMask is the set of venues an opportunity trades on; 0 if any leg is
// on a platform the index does not know.
func venueMask(o *polybot.Opportunity) uint8 {
	var m uint8
	for i := range o.Legs {
		b := venueBit(o.Legs[i].Instrument.Venue)
		if b == 0 {
			return 0
		}
		m |= b
	}
	return m
}

const nMasks = 1 << 4 // four platforms

type indexEntry struct {
	threshold int64 // min_profit_pct in micros
	t         *tenant
	// live is the tenant's mode when the index was built (its depth
	// pool: paper or live), and lives how many entries before this one
	// in its bucket are live: a route learns how many tenants of each
	// pool it may still meet without reading them.
	live  bool
	lives int32
}

// livesIn is how many of a lookup's entries are live.
func livesIn(ents []indexEntry) int {
	if len(ents) == 0 {
		return 0
	}
	e := &ents[len(ents)-1]
	if e.live {
		return int(e.lives) + 1
	}
	return int(e.lives)
}

// interestIndex finds the tenants an opportunity may interest without
// scanning them: one bucket per (strategy, set of venues) holds every running
// tenant that enables the strategy and all those venues, sorted by
// threshold; the tenants whose threshold the opportunity's profit clears are
// a prefix found by binary search. It is immutable once built; the indexer
// builds a new one when tenants change.
type interestIndex struct {
	buckets [nStrategies][nMasks][]indexEntry
	tenants int
}

func buildIndex(ts []*tenant) *interestIndex {
	ix := &interestIndex{}
	for _, t := range ts {
		s := t.snap.Load()
		if s == nil {
			continue
		}
		var mask uint8
		for _, p := range polybot.Platforms {
			if s.cfg.PlatformEnabled(p) {
				mask |= venueBit(p)
			}
		}
		if mask == 0 {
			continue
		}
		th := s.cfg.MinProfitPct.Micros()
		live := s.mode() == polybot.Live
		added := false
		for si, name := range strategyNames {
			if !s.cfg.Enabled(name, s.profile.Features) {
				continue
			}
			// Every non-empty subset of the tenant's venues.
			for sub := mask; sub > 0; sub = (sub - 1) & mask {
				ix.buckets[si][sub] = append(ix.buckets[si][sub], indexEntry{threshold: th, t: t, live: live})
				added = true
			}
		}
		if added {
			ix.tenants++
		}
	}
	// By threshold, and among equal thresholds in the order the tenants
	// were created: the tenants' memory was mostly allocated in that
	// order, and a route reads every tenant of a bucket in turn, so it
	// then walks memory forwards instead of at random (at 100,000 tenants
	// several times faster). Which tenant comes first is the rotation's
	// business: it starts one further on every opportunity.
	for si := range ix.buckets {
		for m := range ix.buckets[si] {
			b := ix.buckets[si][m]
			slices.SortFunc(b, func(x, y indexEntry) int {
				switch {
				case x.threshold < y.threshold:
					return -1
				case x.threshold > y.threshold:
					return 1
				}
				return cmp.Compare(x.t.seq, y.t.seq)
			})
			lives := int32(0)
			for i := range b {
				b[i].lives = lives
				if b[i].live {
					lives++
				}
			}
			ix.buckets[si][m] = slices.Clip(b)
		}
	}
	return ix
}

// lookup returns the tenants that want strategy on exactly these venues
// and whose threshold is at most profitPct. The slice is shared: read only.
func (ix *interestIndex) lookup(strategy string, mask uint8, profitPct polybot.Decimal) []indexEntry {
	si := strategyIndex(strategy)
	if ix == nil || si < 0 || mask == 0 || int(mask) >= nMasks {
		return nil
	}
	b := ix.buckets[si][mask]
	p := profitPct.Micros()
	n := sort.Search(len(b), func(i int) bool { return b[i].threshold > p })
	return b[:n]
}
