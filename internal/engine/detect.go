package engine

import (
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
type Market struct {
	Yes, No polybot.Instrument
}

// Universe is what the engine watches: the approved matched-market pairs
// (cross-platform, and each side as a single-platform market) and other
// single-platform markets.
type Universe struct {
	Pairs   []*polybot.MarketPair
	Markets []Market
}

// PairMarkets returns the two single-venue markets of a pair.
func PairMarkets(p *polybot.MarketPair) (pm, k Market) {
	pm = Market{
		Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: p.PolymarketMkt, Token: p.PolymarketYes, Outcome: polybot.Yes},
		No:  polybot.Instrument{Venue: polybot.Polymarket, Market: p.PolymarketMkt, Token: p.PolymarketNo, Outcome: polybot.No},
	}
	k = Market{
		Yes: polybot.Instrument{Venue: polybot.Kalshi, Market: p.KalshiTicker, Outcome: polybot.Yes},
		No:  polybot.Instrument{Venue: polybot.Kalshi, Market: p.KalshiTicker, Outcome: polybot.No},
	}
	return pm, k
}

// pairs returns the approved pairs only.
func (u Universe) approved() []*polybot.MarketPair {
	var out []*polybot.MarketPair
	for _, p := range u.Pairs {
		if p != nil && p.Approved {
			out = append(out, p)
		}
	}
	return out
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

// Instruments lists every instrument of the universe once.
func (u Universe) Instruments() []polybot.Instrument {
	seen := map[instKey]bool{}
	var out []polybot.Instrument
	for _, m := range u.markets() {
		for _, i := range []polybot.Instrument{m.Yes, m.No} {
			if k := keyOf(i); !seen[k] {
				seen[k] = true
				out = append(out, i)
			}
		}
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

// StrategyDetector runs the strategies of internal/strategy over a
// universe: a changed view re-checks only the markets and pairs it belongs
// to, each once per batch.
type StrategyDetector struct {
	s       *strategy.Detector
	markets []Market
	pairs   []*polybot.MarketPair
	byInst  map[instKey][]int32 // → markets (i ≥ 0) and pairs (-1 − i)
	mark    []uint32            // per market, then per pair: the batch that checked it
	batch   uint32
}

// NewStrategyDetector returns a Detector of the universe's opportunities.
func NewStrategyDetector(s *strategy.Detector, u Universe) *StrategyDetector {
	d := &StrategyDetector{s: s, markets: u.markets(), pairs: u.approved(), byInst: map[instKey][]int32{}}
	for i, m := range d.markets {
		d.byInst[keyOf(m.Yes)] = append(d.byInst[keyOf(m.Yes)], int32(i))
		d.byInst[keyOf(m.No)] = append(d.byInst[keyOf(m.No)], int32(i))
	}
	for i, p := range d.pairs {
		pm, k := PairMarkets(p)
		for _, inst := range []polybot.Instrument{pm.Yes, pm.No, k.Yes, k.No} {
			d.byInst[keyOf(inst)] = append(d.byInst[keyOf(inst)], int32(-1-i))
		}
	}
	d.mark = make([]uint32, len(d.markets)+len(d.pairs))
	return d
}

// Detect implements Detector.
func (d *StrategyDetector) Detect(changed []*marketdata.View, books Books, dst []*polybot.Opportunity) []*polybot.Opportunity {
	d.batch++
	view := func(i polybot.Instrument) *marketdata.View {
		v, _ := books.View(i)
		return v
	}
	for _, v := range changed {
		for _, ref := range d.byInst[keyOf(v.Instrument)] {
			slot := int(ref)
			if ref < 0 {
				slot = len(d.markets) + int(-1-ref)
			}
			if d.mark[slot] == d.batch {
				continue
			}
			d.mark[slot] = d.batch
			var o *polybot.Opportunity
			if ref >= 0 {
				m := d.markets[ref]
				yes, no := view(m.Yes), view(m.No)
				if yes != nil && no != nil {
					o = d.s.SinglePlatform(yes, no)
				}
			} else {
				p := d.pairs[-1-ref]
				pm, k := PairMarkets(p)
				o = d.s.CrossPlatform(p, strategy.CrossBooks{PolymarketYes: view(pm.Yes), PolymarketNo: view(pm.No),
					KalshiYes: view(k.Yes), KalshiNo: view(k.No)})
			}
			if o != nil {
				dst = append(dst, o)
			}
		}
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
