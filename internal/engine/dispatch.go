package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// dispatcher turns the hubs' book updates into opportunities, once per
// batch of changed books, and routes each to the tenants that want it,
// lending them depth (see the package doc, Allocation policy). It owns the
// depth book, the grants not yet resolved, the last opportunity delivered
// per group and the rotation. What it hands a runner is a Grant value, and
// what a runner hands back is a GrantResult value (Resolve): no runner
// holds a pointer into its state, so it could run in a process of its own
// and reach runners over NATS. It reads the interest index, the tenants'
// configs and mailboxes, the ring and the counters through the Manager.
type dispatcher struct {
	m *Manager

	mu    sync.Mutex // guards depth: routing and observing (dispatcher goroutine), Resolve (runners)
	depth depthBook

	// dispatcher goroutine only
	groups  map[uint64]string // group → id of the last opportunity delivered
	rot     uint32
	owed    []owed     // what routes left to settle, oldest first
	owedN   int        // tenants still to tell in owed
	offered []int      // route's scratch
	legs    []GrantLeg // grantLegs' slab (with mu held)

	// Test hooks. onGrant sees every grant as it is made and onResolve
	// every result the depth book accepted, both with mu held (so in the
	// order the depth book saw them); onRouted sees the end of every batch,
	// onBatch the start of every wake-up.
	onGrant   func(g Grant)
	onResolve func(res GrantResult)
	onRouted  func(changed []*marketdata.View)
	onBatch   func(at time.Time) // a batch of changed books taken up
}

func newDispatcher(m *Manager) *dispatcher {
	return &dispatcher{m: m, depth: newDepthBook(), groups: map[uint64]string{}}
}

// Resolve takes a runner's result for one of its grants: released depth is
// free again, used depth stays taken until the book shows it gone. A result
// for a grant already resolved is ignored.
func (d *dispatcher) Resolve(res GrantResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.resolveLocked(res)
}

func (d *dispatcher) resolveLocked(res GrantResult) {
	if d.depth.resolve(res) && d.onResolve != nil {
		d.onResolve(res)
	}
}

// outstanding is what is lent and unresolved at inst's ask price (tests).
func (d *dispatcher) outstanding(inst polybot.Instrument, price polybot.Decimal) polybot.Decimal {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.depth.outstanding(keyAt(inst, false, price)).Add(d.depth.outstanding(keyAt(inst, true, price)))
}

// held is how many grants are unresolved.
func (d *dispatcher) held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.depth.grants)
}

func (m *Manager) kickDispatcher() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// run is the one goroutine that reads the hubs, runs detection once per
// batch of changed books and routes what it finds.
func (d *dispatcher) run(ctx context.Context) {
	m := d.m
	var (
		subs    []*marketdata.Subscription
		stopFwd context.CancelFunc
		fwd     sync.WaitGroup
	)
	closeSubs := func() {
		if stopFwd != nil {
			stopFwd()
			fwd.Wait()
		}
		for _, s := range subs {
			_ = s.Close()
		}
		subs = nil
	}
	defer closeSubs()
	subscribe := func(u Universe) {
		var next []*marketdata.Subscription
		byVenue := map[polybot.Platform][]polybot.Instrument{}
		for _, inst := range u.Instruments() {
			byVenue[inst.Venue] = append(byVenue[inst.Venue], inst)
		}
		for v, insts := range byVenue {
			hub := m.cfg.Hubs[v]
			if hub == nil {
				m.log.Warn("no market-data hub for a venue of the universe", "venue", v)
				continue
			}
			s, err := hub.Subscribe(ctx, insts...)
			if err != nil {
				m.subscribeFails.Add(1)
				m.log.Error("subscribing to the universe failed", "venue", v, "err", err)
				continue
			}
			next = append(next, s)
		}
		closeSubs()
		subs = next
		fctx, cancel := context.WithCancel(ctx)
		stopFwd = cancel
		for _, s := range subs {
			fwd.Add(1)
			go func() {
				defer fwd.Done()
				for {
					select {
					case <-fctx.Done():
						return
					case <-s.C():
						m.kickDispatcher()
					}
				}
			}()
		}
		m.kickDispatcher()
	}
	m.uniMu.Lock()
	start := m.cfg.Universe
	m.uniMu.Unlock()
	subscribe(start)
	var (
		changed []*marketdata.View
		found   []*polybot.Opportunity
		trades  []polybot.BookEvent
	)
	newUniverse := func(u Universe) {
		if !m.fixed {
			m.det.Store(&detectorRef{NewStrategyDetector(m.cfg.Strategy, u)})
		}
		clear(d.groups)
		d.pruneDepth(u)
		subscribe(u)
	}
	for {
		if len(d.owed) > 0 {
			// Settle what routes left owed a chunk at a time, and route a
			// new batch as soon as one comes.
			select {
			case <-ctx.Done():
				return
			case u := <-m.universe:
				newUniverse(u)
				continue
			case <-m.kick:
			default:
				d.settleSafely(settleChunk)
				// On a gateway of one core the feeds that would kick us
				// run only when this goroutine yields.
				runtime.Gosched()
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case u := <-m.universe:
				newUniverse(u)
				continue
			case <-m.kick:
			}
		}
		at := time.Now()
		if d.onBatch != nil {
			d.onBatch(at)
		}
		changed = changed[:0]
		for _, s := range subs {
			changed = s.Poll(changed)
			trades, _ = s.Trades(trades[:0])
		}
		if len(changed) == 0 {
			continue
		}
		m.batches.Add(1)
		m.views.Add(int64(len(changed)))
		if m.gw != nil {
			for _, v := range changed {
				m.gw.pub.Publish(v)
			}
		}
		if m.cfg.Role == RoleWorker || m.cfg.Role == RoleAPI {
			// Books only: detection and depth are the gateway's. The
			// worker's news desk reads its tenants' rule books.
			if m.cfg.Role == RoleWorker {
				m.news.booksChanged()
			}
			clear(changed)
			continue
		}
		d.observe(changed)
		found = m.detect(changed, found[:0])
		for _, o := range found {
			d.routeSafely(o, at)
		}
		if d.onRouted != nil {
			d.onRouted(changed)
		}
		// Telling keeps up under a flood of batches: a chunk after each,
		// and the batches wait when too much is owed.
		d.settleSafely(settleChunk)
		for d.owedN > maxOwed && ctx.Err() == nil {
			d.settleSafely(settleChunk)
		}
		m.news.booksChanged()
		clear(found)
		clear(changed)
	}
}

// observe applies the changed views to the depth book: a level that lent
// or consumed something learns the size it shows now.
func (d *dispatcher) observe(changed []*marketdata.View) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.depth.levels) == 0 {
		return
	}
	for _, v := range changed {
		d.depth.observe(v.Instrument, v.Asks, v.Stale)
	}
}

// pruneDepth forgets the consumed depth of instruments the new universe
// no longer watches; grants still out on them stay until resolved.
func (d *dispatcher) pruneDepth(u Universe) {
	keep := map[instKey]bool{}
	for _, inst := range u.Instruments() {
		keep[keyOf(inst)] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.depth.prune(func(k instKey) bool { return keep[k] })
}

// detect runs the detector, recovering from a panic in it.
func (m *Manager) detect(changed []*marketdata.View, dst []*polybot.Opportunity) (out []*polybot.Opportunity) {
	defer func() {
		if p := recover(); p != nil {
			m.detectPanics.Add(1)
			m.log.Error("opportunity detection panicked", "panic", fmt.Sprint(p))
			out = dst[:0]
		}
	}()
	return m.detector().Detect(changed, m.books, dst)
}

// routeSafely routes one opportunity, recovering from a panic (in an
// injected Wants, say) so that the dispatcher keeps serving.
func (d *dispatcher) routeSafely(o *polybot.Opportunity, at time.Time) {
	defer func() {
		if p := recover(); p != nil {
			d.m.detectPanics.Add(1)
			d.m.log.Error("routing an opportunity panicked", "opportunity", o.ID, "panic", fmt.Sprint(p))
		}
	}()
	d.route(o, at)
}

// route offers a new opportunity to the tenants whose index entry says they
// may want it, rotating who comes first: each is sized and lent depth in
// turn, and only those lent some are woken (their mailbox gets the grant).
//
// Deciding is separate from telling. Once a pool (paper, live) is dry, no
// tenant of that pool can be lent anything more for o: route stops asking
// as soon as every pool it may still meet is dry, and the outcome of every
// tenant not yet reached — nothing — is fixed then. What the others are
// owed for o (their opportunity counter, the digest hook, the live
// "opportunity" event, onDecision) is left to settle, which the
// dispatcher runs between batches: at 100,000 tenants the grants are out
// in well under a millisecond instead of after every tenant was read.
func (d *dispatcher) route(o *polybot.Opportunity, at time.Time) {
	m := d.m
	if len(o.Legs) == 0 || o.Size.Sign() <= 0 {
		return
	}
	g := groupOf(o)
	if o.ID == "" {
		o.ID = fmt.Sprintf("op%016x%016x", g, depthOf(o))
	}
	if d.groups[g] == o.ID {
		m.repeats.Add(1)
		return // the same book state, already delivered
	}
	d.groups[g] = o.ID
	m.opps.Add(1)
	m.ring.add(o)
	ents := m.index.Load().lookup(o.Strategy, venueMask(o), o.ProfitPct)
	n := len(ents)
	if n == 0 {
		return
	}
	start := int(d.rot % uint32(n))
	lot := lotOf(o)
	var rs routeState
	if o.Size.LessThan(leastOf(o)) {
		rs.dry = [2]bool{true, true} // less than one order's minimum: nobody can be lent any
	}
	offered, woken, reached := d.lend(ents, start, o, g, at, lot, rs)
	// The next route starts after the last tenant this one lent depth to
	// (one later if none), so that depth goes round every tenant in turn:
	// starting one later each time, the same few hundred of 100,000
	// tenants were lent every update's depth, and their newer grants
	// evicted their older ones from their mailboxes.
	d.rot = uint32(start + max(reached, 1))
	d.offered = offered
	m.deliveries.Add(int64(woken))
	m.considered.Add(int64(n))
	if len(offered) < n {
		d.owed = append(d.owed, owed{o: o, ents: ents, start: start, at: time.Now(), offered: slices.Clone(offered)})
		d.owedN += n - len(offered)
	}
}

// lend is route's loop over ents from start, with mu held (released
// should a hook panic): it returns the positions it decided, ascending,
// how many tenants it lent depth to, and the position after the last
// tenant it lent depth to (0: none).
func (d *dispatcher) lend(ents []indexEntry, start int, o *polybot.Opportunity, g uint64, at time.Time, lot polybot.Decimal, rs routeState) (offered []int, woken, reached int) {
	n := len(ents)
	// left is how many tenants of each pool are at or after position i,
	// by their index entries (a tenant whose mode changed since the index
	// was built is counted in its old pool until the rebuild: it may be
	// passed over once).
	lives := livesIn(ents)
	left := [2]int{n - lives, lives}
	offered = d.offered[:0]
	d.mu.Lock() // held while routing: grants are made here
	defer d.mu.Unlock()
	for i := range n {
		if (rs.dry[0] || left[0] == 0) && (rs.dry[1] || left[1] == 0) {
			break // nobody left can be lent anything
		}
		e := &ents[(start+i)%n]
		p := poolIndex(e.live)
		left[p]--
		if rs.dry[p] {
			continue
		}
		offered = append(offered, i)
		gr, ok := d.offer(e.t, o, g, at, lot, &rs)
		if !ok || gr.Sets.Sign() <= 0 {
			continue
		}
		woken, reached = woken+1, i+1
		d.deliver(e.t, gr)
		rs = routeState{} // a grant it pushed out of a mailbox gave its depth back
	}
	return offered, woken, reached
}

// owed is what route left to settle for one opportunity: the tenants of
// ents (from start, in rotation) it did not reach, each decided at at (lent
// nothing), skipping the positions in offered.
type owed struct {
	o       *polybot.Opportunity
	ents    []indexEntry
	start   int
	at      time.Time
	offered []int
	pos, k  int // the next position; the next entry of offered
}

// settleChunk is how many tenants settle handles before the dispatcher
// yields and looks for a new batch again, and at least after each batch:
// telling a tenant costs 0.3–3 µs at 100,000 tenants (their state is out
// of the caches), so a new batch waits at most a few hundred microseconds.
// maxOwed is how many tenants may be owed before a batch waits for them to
// be told (ten updates to 100,000 tenants: under a flood of batches,
// telling falls that far behind at most, and its memory stays bounded).
const (
	settleChunk = 64
	maxOwed     = 1 << 20
)

// settle tells up to budget tenants what route left owed to them, oldest
// opportunity first; it reports whether anything is still owed.
func (d *dispatcher) settle(budget int) bool {
	for budget > 0 && len(d.owed) > 0 {
		w := &d.owed[0]
		n := len(w.ents)
		for ; w.pos < n && budget > 0; w.pos++ {
			if w.k < len(w.offered) && w.offered[w.k] == w.pos {
				w.k++
				continue
			}
			budget--
			d.owedN--
			d.tell(w.ents[(w.start+w.pos)%n].t, w.o, w.at)
		}
		if w.pos == n {
			d.owed[0] = owed{}
			d.owed = d.owed[1:]
		}
	}
	if len(d.owed) == 0 {
		d.owed, d.owedN = nil, 0
		return false
	}
	return true
}

// untold is how many tenants owed w still has to be told.
func (w *owed) untold() int { return len(w.ents) - w.pos - (len(w.offered) - w.k) }

// settleSafely is settle, recovering from a panic (in an injected Wants,
// say): the opportunity being settled is dropped.
func (d *dispatcher) settleSafely(budget int) {
	defer func() {
		if p := recover(); p != nil {
			d.m.detectPanics.Add(1)
			d.m.log.Error("settling an opportunity panicked", "panic", fmt.Sprint(p))
			if len(d.owed) > 0 {
				d.owedN -= d.owed[0].untold()
				d.owed[0] = owed{}
				d.owed = d.owed[1:]
			}
		}
	}()
	d.settle(budget)
}

// tell gives a tenant that route lent nothing what it is owed for o.
func (d *dispatcher) tell(t *tenant, o *polybot.Opportunity, at time.Time) {
	if _, ok := d.eligible(t, o); ok {
		d.announce(t, o)
	}
	d.m.decide(t, o, polybot.Zero, at)
}

// eligible is whether t, as of now, may be offered o: running, wanting it
// and (on a gateway) held by a worker.
func (d *dispatcher) eligible(t *tenant, o *polybot.Opportunity) (*snapshot, bool) {
	m := d.m
	s := t.snap.Load()
	if s == nil || t.state.Load() != stRunning || !m.wants(s.cfg, s.profile.Features, o) || (m.gw != nil && m.gw.holder(t.id) == "") {
		return nil, false
	}
	return s, true
}

// announce counts o for t and tells its digest and live events.
func (d *dispatcher) announce(t *tenant, o *polybot.Opportunity) {
	t.c.opportunities.Add(1)
	if h := d.m.cfg.Notify; h != nil {
		h.Opportunity(t.id, o)
	}
	if t.events.active() {
		t.publish("opportunity", o)
	}
}

// offerTo decides for one tenant, on the dispatcher: whether its config
// (as of now) wants the opportunity, how many sets it would buy, and how
// many of those the depth book lends it, first come, first served. Only a
// tenant lent depth is woken. ok is false when it does not want it.
// Call with mu held.
func (d *dispatcher) offerTo(t *tenant, o *polybot.Opportunity, group uint64, at time.Time, lot polybot.Decimal) (Grant, bool) {
	return d.offer(t, o, group, at, lot, nil)
}

// routeState is what one route has learnt of the depth book: which pools
// (paper, live) have no whole lot free for the opportunity. While mu is
// held only the route changes levels: its grants take, and a delivery
// that pushes an older grant out of a mailbox gives that one's depth back
// (route then forgets what it learnt). So a pool found dry stays dry
// until the next delivery: its tenants are refused without asking the
// depth book again (the same outcome, without its map lookups).
type routeState struct{ dry [2]bool }

func poolIndex(live bool) int {
	if live {
		return 1
	}
	return 0
}

// offer is offerTo within a route (rs nil: on its own).
func (d *dispatcher) offer(t *tenant, o *polybot.Opportunity, group uint64, at time.Time, lot polybot.Decimal, rs *routeState) (Grant, bool) {
	m := d.m
	s, ok := d.eligible(t, o)
	if !ok {
		m.decide(t, o, polybot.Zero, time.Time{})
		return Grant{}, false
	}
	d.announce(t, o)
	var gr Grant
	if o.Cost.Sign() > 0 {
		live := s.mode() == polybot.Live
		least := leastOf(o)
		if want := s.maxTrade().Div(o.Cost).Floor(lot).Min(o.Size); want.Sign() > 0 && !want.LessThan(least) && (rs == nil || !rs.dry[poolIndex(live)]) {
			// want is a whole number of lots of at least the venues'
			// minimum, unless o.Size is less than a lot, when nobody gets
			// any: a refusal means the pool has less than an order left.
			id, got, ok := d.depth.grant(t.id, live, o, want, lot, least)
			if !ok && rs != nil {
				rs.dry[poolIndex(live)] = true
			}
			if ok {
				gr = Grant{ID: id, Origin: m.origin(), Tenant: t.id, Opportunity: *o, Group: group, At: at, Sets: got, Legs: d.grantLegs(len(o.Legs))}
				for i := range o.Legs {
					gr.Legs[i] = GrantLeg{Instrument: o.Legs[i].Instrument, Price: o.Legs[i].Price, Size: got}
				}
				if d.onGrant != nil {
					d.onGrant(gr)
				}
			}
		}
	}
	m.decide(t, o, gr.Sets, time.Time{})
	return gr, true
}

// grantLegs is room for a grant's n legs, cut from a slab the dispatcher
// allocates a few hundred legs at a time (a route to 100,000 tenants makes
// hundreds of grants, and one allocation each was a fifth of its time).
// The slice's capacity is n: appending to it copies, so no grant reaches
// into another's legs.
func (d *dispatcher) grantLegs(n int) []GrantLeg {
	if n > legSlab/4 {
		return make([]GrantLeg, n)
	}
	if len(d.legs)+n > cap(d.legs) {
		d.legs = make([]GrantLeg, 0, legSlab)
	}
	i := len(d.legs)
	d.legs = d.legs[:i+n]
	return d.legs[i : i+n : i+n]
}

// legSlab is how many grant legs grantLegs allocates at once.
const legSlab = 256

// groupOf identifies an opportunity's strategy and legs: a newer offer of
// the same group replaces an older one in a mailbox.
func groupOf(o *polybot.Opportunity) uint64 {
	h := fnv.New64a()
	h.Write([]byte(o.Strategy))
	h.Write([]byte{0})
	h.Write([]byte(o.PairID))
	for i := range o.Legs {
		k := keyOf(o.Legs[i].Instrument)
		h.Write([]byte{0})
		h.Write([]byte(k.venue))
		h.Write([]byte{0})
		h.Write([]byte(k.id))
		h.Write([]byte{byte(k.outcome), byte(o.Legs[i].Side)})
	}
	return h.Sum64()
}

// depthOf hashes the legs' visible depth (for opportunities without an ID).
func depthOf(o *polybot.Opportunity) uint64 {
	h := fnv.New64a()
	for i := range o.Legs {
		l := &o.Legs[i]
		fmt.Fprintf(h, "%d|%d|%d|", l.Price.Micros(), l.Available.Micros(), l.QuoteTime.UnixNano())
	}
	return h.Sum64()
}

// ring keeps the most recent opportunities for the API.
type ring struct {
	mu   sync.RWMutex
	buf  []*polybot.Opportunity
	next int
	n    int
}

func (r *ring) init(size int) { r.buf = make([]*polybot.Opportunity, size) }

func (r *ring) add(o *polybot.Opportunity) {
	r.mu.Lock()
	r.buf[r.next] = o
	r.next = (r.next + 1) % len(r.buf)
	if r.n < len(r.buf) {
		r.n++
	}
	r.mu.Unlock()
}

// list returns up to limit opportunities that keep accepts, newest first.
func (r *ring) list(limit int, keep func(*polybot.Opportunity) bool) []polybot.Opportunity {
	if limit <= 0 {
		limit = 50
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []polybot.Opportunity
	for i := 1; i <= r.n && len(out) < limit; i++ {
		o := r.buf[(r.next-i+len(r.buf))%len(r.buf)]
		if keep(o) {
			c := *o
			c.Legs = append([]polybot.Leg(nil), o.Legs...)
			out = append(out, c)
		}
	}
	return out
}

// origin is the Origin of this process's grants: the gateway's id when
// they go to workers over the bus, "" when they stay here.
func (m *Manager) origin() string {
	if m.gw != nil {
		return m.gw.id
	}
	return ""
}
