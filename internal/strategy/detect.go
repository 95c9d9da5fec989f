package strategy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata"
)

// DefaultMaxQuoteAge is how old a quote may be before it is never traded.
const DefaultMaxQuoteAge = 5 * time.Second

// Config tunes a Detector. The zero value works.
type Config struct {
	// Fees prices each venue's taker fee. Nil: DefaultFees().
	Fees FeeModel
	// Facts are the venues' lot, tick and minimum order size per
	// instrument. Nil: the venues' defaults (fee.Facts' zero value).
	Facts *fee.Facts
	// MaxQuoteAge is the oldest quote a strategy may trade on (now − the
	// quote's time). ≤ 0: DefaultMaxQuoteAge.
	MaxQuoteAge time.Duration
	// Now is the clock quote ages and DetectedAt are read from. Nil:
	// polybot.SystemClock. Replays pass the recording's clock.
	Now polybot.Clock
}

// Detector finds opportunities. It holds only its configuration, so one
// Detector serves every goroutine and every tenant.
type Detector struct {
	fees   FeeModel
	facts  *fee.Facts
	maxAge time.Duration
	now    polybot.Clock

	belowMin, offTick atomic.Int64
}

// Skips counts what a Detector passed over although its gross edge was
// positive, by reason: an order below a leg's minimum size (or lot), or a
// price off a leg's tick. Detection and Resize both count.
type Skips struct {
	BelowMinSize int64 `json:"below_min_size"`
	OffTick      int64 `json:"off_tick"`
}

// Skips returns the counts so far.
func (d *Detector) Skips() Skips {
	return Skips{BelowMinSize: d.belowMin.Load(), OffTick: d.offTick.Load()}
}

// New returns a Detector configured by cfg.
func New(cfg Config) *Detector {
	d := &Detector{fees: cfg.Fees, facts: cfg.Facts, maxAge: cfg.MaxQuoteAge, now: cfg.Now}
	if d.fees == nil {
		d.fees = DefaultFees()
	}
	if d.maxAge <= 0 {
		d.maxAge = DefaultMaxQuoteAge
	}
	if d.now == nil {
		d.now = polybot.SystemClock
	}
	return d
}

// Fees is the detector's fee model.
func (d *Detector) Fees() FeeModel { return d.fees }

// Rules are inst's lot, tick and minimum order size as the detector sees
// them.
func (d *Detector) Rules(inst polybot.Instrument) fee.Rules { return d.facts.Rules(inst) }

// MaxQuoteAge is the oldest quote the detector trades on.
func (d *Detector) MaxQuoteAge() time.Duration { return d.maxAge }

// quote is the best ask of one usable book.
type quote struct {
	v    *marketdata.View
	inst polybot.Instrument
	ask  polybot.Level
	at   time.Time
}

// quoteTime is when a view's book last changed: our receive time, or the
// venue's time where we have no receive time (recordings).
func quoteTime(v *marketdata.View) time.Time {
	if !v.Received.IsZero() {
		return v.Received
	}
	return v.Time
}

// usable returns v's best ask as a quote for inst, or false when v must
// not be traded: missing, stale, empty, crossed or locked, priced outside
// (0, 1) (a share: not above 0, see polybot.PricedPerShare), or too old.
func (d *Detector) usable(v *marketdata.View, inst polybot.Instrument, now time.Time) (quote, bool) {
	if v == nil || v.Stale {
		return quote{}, false
	}
	ask, ok := v.BestAsk()
	if !ok || ask.Size.Sign() <= 0 || ask.Price.Sign() <= 0 || (!polybot.PricedPerShare(inst) && !ask.Price.LessThan(polybot.One)) {
		return quote{}, false
	}
	if bid, ok := v.BestBid(); ok && !bid.Price.LessThan(ask.Price) {
		return quote{}, false
	}
	at := quoteTime(v)
	if at.IsZero() || now.Sub(at) > d.maxAge {
		return quote{}, false
	}
	return quote{v: v, inst: inst, ask: ask, at: at}, true
}

// SinglePlatform looks for YES ask + NO ask < 1 after fees in one market on
// one venue: yes and no are the views of the market's YES and NO
// instruments (on Kalshi, the hub's normalised YES and NO views of the one
// market; on Polymarket, the two tokens' books). It returns nil when there
// is no opportunity, or when the views are not the two sides of one
// market on one prediction venue (polybot.VenueOf: how the venue tells
// its outcomes apart).
func (d *Detector) SinglePlatform(yes, no *marketdata.View) *polybot.Opportunity {
	if yes == nil || no == nil {
		return nil
	}
	y, n := yes.Instrument, no.Instrument
	venue := polybot.VenueOf(y.Venue)
	switch {
	case y.Venue != n.Venue || venue.Kind != polybot.Prediction:
		return nil
	case venue.TokenPerOutcome:
		if y.Token == "" || n.Token == "" || y.Token == n.Token ||
			(y.Market != "" && n.Market != "" && y.Market != n.Market) {
			return nil
		}
	default:
		if y.Market == "" || y.Market != n.Market {
			return nil
		}
	}
	y.Outcome, n.Outcome = polybot.Yes, polybot.No
	now := d.now()
	qy, ok := d.usable(yes, y, now)
	if !ok {
		return nil
	}
	qn, ok := d.usable(no, n, now)
	if !ok {
		return nil
	}
	return d.build(polybot.StrategySinglePlatform, "", now, qy, qn)
}

// CrossBooks are the four views of a matched pair: A is its first leg's
// market (MarketPair.Legs[0]), B its second's. A nil view is a book the
// caller does not have: the directions that need it are skipped.
type CrossBooks struct {
	AYes, ANo *marketdata.View
	BYes, BNo *marketdata.View
}

// CrossPlatform looks for YES on one venue plus NO on the other for less
// than $1 after fees, for an approved pair over any two venues: B's YES +
// A's NO, or A's YES + B's NO (for a Polymarket–Kalshi pair, A is
// Polymarket). When both pay, the cheaper per set (fees included) is
// chosen; on a tie, the larger, then B YES + A NO. It returns nil when
// neither pays, when the pair is not approved, or when a view is not the
// pair's instrument.
func (d *Detector) CrossPlatform(pair *polybot.MarketPair, b CrossBooks) *polybot.Opportunity {
	if pair == nil || !pair.Approved {
		return nil
	}
	a, bm := pair.Markets()
	if !is(b.AYes, a.Yes) || !is(b.ANo, a.No) || !is(b.BYes, bm.Yes) || !is(b.BNo, bm.No) {
		return nil
	}
	now := d.now()
	var best *polybot.Opportunity
	try := func(yv *marketdata.View, yi polybot.Instrument, nv *marketdata.View, ni polybot.Instrument) {
		qy, ok := d.usable(yv, yi, now)
		if !ok {
			return
		}
		qn, ok := d.usable(nv, ni, now)
		if !ok {
			return
		}
		o := d.build(polybot.StrategyCrossPlatform, pair.ID, now, qy, qn)
		if o == nil {
			return
		}
		if best == nil || o.Cost.LessThan(best.Cost) || (o.Cost == best.Cost && o.Size.GreaterThan(best.Size)) {
			best = o
		}
	}
	try(b.BYes, bm.Yes, b.ANo, a.No)
	try(b.AYes, a.Yes, b.BNo, bm.No)
	return best
}

// is reports whether v (if any) is a book of want.
func is(v *marketdata.View, want polybot.Instrument) bool {
	if v == nil {
		return true
	}
	return polybot.SameInstrument(v.Instrument, want)
}

// build prices buying one of each quote's best ask, and returns the
// opportunity when its net edge is positive.
func (d *Detector) build(strategy, pairID string, now time.Time, qs ...quote) *polybot.Opportunity {
	gross := polybot.One
	for _, q := range qs {
		gross = gross.Sub(q.ask.Price)
	}
	if gross.Sign() <= 0 {
		return nil
	}
	o := &polybot.Opportunity{Strategy: strategy, PairID: pairID, DetectedAt: now, Legs: make([]polybot.Leg, len(qs))}
	size := qs[0].ask.Size
	for i, q := range qs {
		o.Legs[i] = polybot.Leg{Instrument: q.inst, Side: polybot.Buy, Price: q.ask.Price, Available: q.ask.Size, QuoteTime: q.at}
		size = size.Min(q.ask.Size)
	}
	if !d.price(o, size) {
		return nil
	}
	o.ID = opportunityID(strategy, pairID, qs)
	return o
}

// price sets o's size and its per-set fees and edges for a set that pays
// $1 (see priceSet in overlap.go, which prices any payout).
func (d *Detector) price(o *polybot.Opportunity, size polybot.Decimal) bool {
	return d.priceSet(o, size, polybot.One)
}

// Resize re-prices o for a tenant buying sets sets (at most o.Size, rounded
// down to the lot): fees per set grow on a smaller order, so the edge may
// shrink or vanish (false). The ID stays o's. o is not modified.
func (d *Detector) Resize(o *polybot.Opportunity, sets polybot.Decimal) (*polybot.Opportunity, bool) {
	if o == nil || len(o.Legs) == 0 {
		return nil, false
	}
	if o.Strategy == polybot.StrategyNews || o.Strategy == polybot.StrategyCopy {
		return d.resizeNews(o, sets) // one directional leg: its fee at the new size
	}
	c := *o
	c.Legs = slices.Clone(o.Legs)
	// A set pays what it paid when detected: $1, or n − 1 for a short
	// rebalancing set.
	if !d.priceSet(&c, sets.Min(o.Size), Payout(o)) {
		return nil, false
	}
	return &c, true
}

// opportunityID hashes the strategy, the pair and each leg's book state.
func opportunityID(strategy, pairID string, qs []quote) string {
	h := sha256.New()
	var buf [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	num := func(n int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	str(strategy)
	str(pairID)
	for _, q := range qs {
		str(string(q.inst.Venue))
		str(q.inst.Market)
		str(q.inst.Token)
		num(int64(q.inst.Outcome))
		num(q.ask.Price.Micros())
		num(q.ask.Size.Micros())
		num(int64(q.v.Version))
		num(q.v.Seq)
		num(q.at.UnixNano())
	}
	var sum [sha256.Size]byte
	return "op" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}
