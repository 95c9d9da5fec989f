package engine

import (
	"slices"
	"time"

	"github.com/polybot/polybot"
)

// GrantID names one grant for the dispatcher's life.
type GrantID uint64

// Grant is depth the dispatcher lends one tenant for one opportunity: Sets
// sets, that is Sets of every leg at that leg's price. It is a plain value,
// so it can cross a process boundary (NATS) as it is: nothing in it points
// into the dispatcher. The tenant resolves it with exactly one GrantResult.
type Grant struct {
	ID GrantID
	// Origin is the gateway that made the grant ("": this process's
	// dispatcher): its result goes back there.
	Origin string `json:",omitempty"`
	Tenant polybot.ID
	// Opportunity is read-only: its Legs are shared with the other grants
	// of the same opportunity.
	Opportunity polybot.Opportunity
	// Group is the opportunity's strategy and legs: a newer grant of the
	// same group replaces an older one still waiting in a mailbox.
	Group uint64
	// At is when the dispatcher handled the book update behind it.
	At   time.Time
	Sets polybot.Decimal
	Legs []GrantLeg // in the order of Opportunity.Legs
	// Headline and HeadlineID are a news trade's headline: when it was
	// received (the start of its latency) and its id.
	Headline   time.Time
	HeadlineID string
}

// GrantLeg is what a grant lends on one leg: Size at Price on Instrument's
// asks.
type GrantLeg struct {
	Instrument  polybot.Instrument
	Price, Size polybot.Decimal
}

// GrantResult resolves a grant, leg by leg: Released goes back to the
// level (never sent, or not filled); the rest of a leg's size is Used (it
// filled, or it may have: an outcome not yet known counts as used). Used
// says what the runner believes filled; the dispatcher counts everything
// not released as used either way, so a short or missing Released can only
// make it grant less, never more.
// Tenant must be the grant's: a result from anyone else is ignored (over
// NATS, one worker cannot resolve another's grants).
type GrantResult struct {
	Origin   string `json:",omitempty"`
	GrantID  GrantID
	Tenant   polybot.ID
	Used     []polybot.Decimal
	Released []polybot.Decimal
}

// releaseAll is the result of a grant nothing was sent for (Used nil: none).
func (g *Grant) releaseAll() GrantResult {
	rel := make([]polybot.Decimal, len(g.Legs))
	for i := range rel {
		rel[i] = g.Legs[i].Size
	}
	return GrantResult{Origin: g.Origin, GrantID: g.ID, Tenant: g.Tenant, Released: rel}
}

// pool is whose depth a level's record counts. Live orders take the
// venue's liquidity; paper orders take the paper book's (the venue's view
// less paper fills, which the venue never sees). So each has its own
// account of a level: a dry-run tenant's fill never starves a live tenant
// of depth the venue still has, and live fills reach the paper side as the
// venue's book shrinking.
type pool struct {
	inst instKey
	live bool
}

// levelKey is one price of one instrument's asks, in one pool.
type levelKey struct {
	pool
	price int64 // micros
}

func keyAt(inst polybot.Instrument, live bool, price polybot.Decimal) levelKey {
	return levelKey{pool{keyOf(inst), live}, price.Micros()}
}

// levelDepth is the dispatcher's account of one ask level. The book shows
// shown; granted is lent to runners whose orders are not resolved yet;
// consumed is what granted orders took (or may have taken) that the book
// has not yet been seen to lose. What may still be lent is
// shown − granted − consumed, never negative.
//
// Why consumed, and how it ends: a fill takes liquidity, but the book we
// read says so only later (live: the venue's next update at that level;
// dry-run: never, since paper fills do not reach the venue). Dropping a
// used grant at once, or at the level's next change, lends the same shares
// twice: the book showed 50, 50 filled, the venue adds 1 and shows 51;
// "51 free" would be wrong (1 is), and on paper 101 sets would fill on a
// book that never showed more than 51. So only changes of the shown size
// move consumed: a level that shrinks by Δ first uses up Δ of consumed (the
// venue has caught up with our fills, or someone else took what we were
// counting as taken; either way it is gone), and a level that grows by Δ
// lends exactly Δ more (new orders joined). Hence free' = min(free, S' −
// granted) on a decrease and free + Δ on an increase, and what is ever lent
// at a level is at most the sum of the increases it showed. A level that is
// filled and refilled to the same size between two views we see stays
// taken until it changes again: conservative, never an over-grant.
// consumed never exceeds shown (see use): what we took and the venue still
// shows cannot be more than it shows.
type levelDepth struct {
	shown, granted, consumed polybot.Decimal
}

func (l *levelDepth) free() polybot.Decimal {
	return l.shown.Sub(l.granted).Sub(l.consumed).Max(polybot.Zero)
}

// see records that the book now shows size at the level.
func (l *levelDepth) see(size polybot.Decimal) {
	size = size.Max(polybot.Zero)
	if drop := l.shown.Sub(size); drop.Sign() > 0 {
		l.consumed = l.consumed.Sub(drop).Max(polybot.Zero)
	}
	l.shown = size
	l.consumed = l.consumed.Min(size)
}

// use counts n of a resolved grant as taken from the level. What we took
// and the venue has not yet shown gone is part of what the level shows, so
// consumed never exceeds shown: when the venue shows our fill before the
// runner reports it (the level already shrank), the report cannot make the
// level look emptier than empty, and the level's next shrink or its
// disappearance ends the record.
func (l *levelDepth) use(n polybot.Decimal) {
	l.consumed = l.consumed.Add(n).Min(l.shown)
}

func (l *levelDepth) idle() bool { return l.granted.Sign() <= 0 && l.consumed.Sign() <= 0 }

// heldGrant is the dispatcher's record of a grant not yet resolved.
type heldGrant struct {
	tenant polybot.ID
	size   polybot.Decimal
	legs   []heldLeg
	inline [2]heldLeg // legs' storage for up to two legs: one allocation a grant
}

type heldLeg struct {
	key   levelKey
	level *levelDepth
}

// depthBook is the dispatcher's allocation state: one levelDepth per ask
// level that has lent or consumed something (a level with neither needs no
// record: all it shows is free), and the grants not yet resolved. It is
// not safe for concurrent use: the dispatcher guards it.
type depthBook struct {
	levels map[pool]map[int64]*levelDepth
	grants map[GrantID]*heldGrant
	next   GrantID

	unknownResults int64 // results for grants the book does not hold
}

func newDepthBook() depthBook {
	return depthBook{levels: map[pool]map[int64]*levelDepth{}, grants: map[GrantID]*heldGrant{}}
}

// level returns the record of k, creating it with the size the book shows
// now.
func (b *depthBook) level(k levelKey, shows polybot.Decimal) *levelDepth {
	byPrice := b.levels[k.pool]
	if byPrice == nil {
		byPrice = map[int64]*levelDepth{}
		b.levels[k.pool] = byPrice
	}
	l := byPrice[k.price]
	if l == nil {
		l = &levelDepth{shown: shows.Max(polybot.Zero)}
		byPrice[k.price] = l
	}
	return l
}

// forget drops the record of k once it holds nothing. (The instrument's
// map stays: instruments are few, and their levels come and go.)
func (b *depthBook) forget(k levelKey, l *levelDepth) {
	if !l.idle() {
		return
	}
	if byPrice := b.levels[k.pool]; byPrice[k.price] == l {
		delete(byPrice, k.price)
	}
}

// observe applies a view of one side of an instrument's book to every
// level the book keeps for it, in both pools: a price missing from the
// view shows 0. A stale view says nothing (the book is being
// resynchronised), so it changes nothing.
func (b *depthBook) observe(inst polybot.Instrument, levels []polybot.Level, stale bool) {
	if stale {
		return
	}
	for _, live := range [2]bool{false, true} {
		p := pool{keyOf(inst), live}
		for price, l := range b.levels[p] {
			size := polybot.Zero
			for _, a := range levels {
				if a.Price.Micros() == price {
					size = a.Size
					break
				}
			}
			l.see(size)
			b.forget(levelKey{p, price}, l)
		}
	}
}

// free is what level k may still lend, the book showing shows there now.
func (b *depthBook) free(k levelKey, shows polybot.Decimal) polybot.Decimal {
	if l := b.levels[k.pool][k.price]; l != nil {
		l.see(shows)
		return l.free()
	}
	return shows.Max(polybot.Zero)
}

// grant lends up to want sets (rounded down to lot) on every leg of o at
// once, from the live or the paper pool, each leg's level showing its
// Available now, and returns the grant's ID and size, or false when no
// whole lot of at least least sets (the venues' minimum order) is free.
func (b *depthBook) grant(tenant polybot.ID, live bool, o *polybot.Opportunity, want, lot, least polybot.Decimal) (GrantID, polybot.Decimal, bool) {
	got := want
	var stack [4]heldLeg // no allocation for a tenant lent nothing
	legs := stack[:0]
	if len(o.Legs) > len(stack) {
		legs = make([]heldLeg, 0, len(o.Legs))
	}
	legs = legs[:len(o.Legs)]
	for i := range o.Legs {
		l := &o.Legs[i]
		k := keyAt(l.Instrument, live, l.Price)
		legs[i].key = k
		if lv := b.levels[k.pool][k.price]; lv != nil {
			lv.see(l.Available)
			legs[i].level = lv
			got = got.Min(lv.free())
		} else {
			got = got.Min(l.Available.Max(polybot.Zero))
		}
	}
	got = got.Floor(lot)
	if got.Sign() <= 0 || got.LessThan(least) {
		return 0, polybot.Zero, false // less than an order can be
	}
	b.next++
	h := &heldGrant{tenant: tenant, size: got}
	if len(legs) <= len(h.inline) {
		h.legs = h.inline[:len(legs):len(legs)]
		copy(h.legs, legs)
	} else {
		h.legs = slices.Clone(legs)
	}
	legs = h.legs
	for i := range legs {
		if legs[i].level == nil {
			legs[i].level = b.level(legs[i].key, o.Legs[i].Available)
		}
		legs[i].level.granted = legs[i].level.granted.Add(got)
	}
	b.grants[b.next] = h
	return b.next, got, true
}

// resolve ends a grant: what each leg released is free again, the rest of
// the leg is consumed. false: the book holds no such grant for the tenant
// (resolved already, never made, or lent to another tenant).
func (b *depthBook) resolve(res GrantResult) bool {
	h := b.grants[res.GrantID]
	if h == nil || h.tenant != res.Tenant {
		b.unknownResults++
		return false
	}
	delete(b.grants, res.GrantID)
	for i, hl := range h.legs {
		back := polybot.Zero
		if i < len(res.Released) {
			back = res.Released[i].Max(polybot.Zero).Min(h.size)
		}
		l := hl.level
		l.granted = l.granted.Sub(h.size)
		l.use(h.size.Sub(back))
		b.forget(hl.key, l)
	}
	return true
}

// outstanding is what is lent and unresolved at level k.
func (b *depthBook) outstanding(k levelKey) polybot.Decimal {
	if l := b.levels[k.pool][k.price]; l != nil {
		return l.granted
	}
	return polybot.Zero
}

// prune drops the records of instruments keep rejects that hold no grant
// (after the universe changed: no view of them will come again).
func (b *depthBook) prune(keep func(instKey) bool) {
	for k, byPrice := range b.levels {
		if keep(k.inst) {
			continue
		}
		for price, l := range byPrice {
			if l.granted.Sign() <= 0 {
				delete(byPrice, price)
			}
		}
		if len(byPrice) == 0 {
			delete(b.levels, k)
		}
	}
}

// settled is the result of a grant whose legs took used[i] from their
// levels; the rest goes back.
func (g *Grant) settled(used []polybot.Decimal) GrantResult {
	res := GrantResult{Origin: g.Origin, GrantID: g.ID, Tenant: g.Tenant, Used: make([]polybot.Decimal, len(g.Legs)), Released: make([]polybot.Decimal, len(g.Legs))}
	for i := range g.Legs {
		u := g.Legs[i].Size
		if i < len(used) {
			u = used[i].Max(polybot.Zero).Min(u)
		}
		res.Used[i], res.Released[i] = u, g.Legs[i].Size.Sub(u)
	}
	return res
}
