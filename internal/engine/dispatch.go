package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// legDepth is the visible depth of one instrument's best level as the
// dispatcher last saw it, with the allocator tenants claim it from. It is
// replaced when the level's price or size changes (the venue's book moved),
// not when only deeper levels or other instruments change.
type legDepth struct {
	price, size polybot.Decimal
	alloc       *allocator
}

// claimLocked grants want sets (rounded down to lot) against every leg's
// depth at once: together, tenants never ask for more than any leg's book
// showed. Call with allocMu held.
func (m *Manager) claimLocked(o *offer, want, lot polybot.Decimal) polybot.Decimal {
	got := want
	for _, a := range o.allocs {
		got = got.Min(a.remaining)
	}
	got = got.Floor(lot)
	if got.Sign() <= 0 {
		return polybot.Zero
	}
	for _, a := range o.allocs {
		a.remaining = a.remaining.Sub(got)
	}
	return got
}

func (m *Manager) claim(o *offer, want, lot polybot.Decimal) polybot.Decimal {
	m.allocMu.Lock()
	defer m.allocMu.Unlock()
	return m.claimLocked(o, want, lot)
}

// release gives back depth a tenant was granted and did not use: n on
// every leg, or perLeg[i] on leg i.
func (m *Manager) release(o *offer, n polybot.Decimal, perLeg []polybot.Decimal) {
	m.allocMu.Lock()
	defer m.allocMu.Unlock()
	m.releaseLocked(o, n, perLeg)
}

func (m *Manager) releaseLocked(o *offer, n polybot.Decimal, perLeg []polybot.Decimal) {
	for i, a := range o.allocs {
		back := n
		if perLeg != nil {
			back = perLeg[i]
		}
		if back.Sign() > 0 {
			a.remaining = a.remaining.Add(back).Min(a.total)
		}
	}
}

func (m *Manager) kickDispatcher() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// dispatch is the one goroutine that reads the hubs, runs detection once per
// batch of changed books and routes what it finds.
func (m *Manager) dispatch(ctx context.Context) {
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
			s, err := hub.Subscribe(insts...)
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
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-m.universe:
			if !m.fixed {
				m.det.Store(&detectorRef{NewStrategyDetector(m.cfg.Strategy, u)})
			}
			clear(m.groups)
			clear(m.depth)
			subscribe(u)
			continue
		case <-m.kick:
		}
		at := time.Now()
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
		m.forgetMovedDepth(changed)
		found = m.detect(changed, found[:0])
		for _, o := range found {
			m.routeSafely(o, at)
		}
		clear(found)
		clear(changed)
	}
}

// forgetMovedDepth drops the allocators of instruments whose best ask
// moved: the next opportunity on them shows new depth, even if it comes back
// at the same price and size after being taken.
func (m *Manager) forgetMovedDepth(changed []*marketdata.View) {
	m.allocMu.Lock()
	defer m.allocMu.Unlock()
	if len(m.depth) == 0 {
		return
	}
	for _, v := range changed {
		k := keyOf(v.Instrument)
		d := m.depth[k]
		if d == nil {
			continue
		}
		if ask, ok := v.BestAsk(); v.Stale || !ok || ask.Price != d.price || ask.Size != d.size {
			delete(m.depth, k)
		}
	}
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
func (m *Manager) routeSafely(o *polybot.Opportunity, at time.Time) {
	defer func() {
		if p := recover(); p != nil {
			m.detectPanics.Add(1)
			m.log.Error("routing an opportunity panicked", "opportunity", o.ID, "panic", fmt.Sprint(p))
		}
	}()
	m.route(o, at)
}

// route offers a new opportunity to the tenants whose index entry says they
// may want it, rotating who comes first: each is sized and granted depth in
// turn, and only those granted some are woken (their mailbox gets it).
func (m *Manager) route(o *polybot.Opportunity, at time.Time) {
	if len(o.Legs) == 0 || o.Size.Sign() <= 0 {
		return
	}
	g := groupOf(o)
	if o.ID == "" {
		o.ID = fmt.Sprintf("op%016x%016x", g, depthOf(o))
	}
	if m.groups[g] == o.ID {
		m.repeats.Add(1)
		return // the same book state, already delivered
	}
	m.groups[g] = o.ID
	m.opps.Add(1)
	m.ring.add(o)
	of := &offer{opp: o, group: g, at: at, allocs: make([]*allocator, len(o.Legs))}
	m.allocMu.Lock() // held while routing: claims are made here
	defer m.allocMu.Unlock()
	for i := range o.Legs {
		l := &o.Legs[i]
		k := keyOf(l.Instrument)
		d := m.depth[k]
		if d == nil || d.price != l.Price || d.size != l.Available {
			d = &legDepth{price: l.Price, size: l.Available, alloc: newAllocator(l.Available)}
			m.depth[k] = d
		}
		of.allocs[i] = d.alloc
	}
	ents := m.index.Load().lookup(o.Strategy, venueMask(o), o.ProfitPct)
	n := len(ents)
	if n == 0 {
		return
	}
	start := int(m.rot % uint32(n))
	m.rot++
	lot := lotOf(o)
	woken := 0
	for i := range n {
		t := ents[(start+i)%n].t
		got, ok := m.offerTo(t, of, lot)
		if !ok {
			continue
		}
		if got.Sign() > 0 {
			woken++
			if old, evicted := t.box.put(delivery{of, got}); evicted {
				m.releaseLocked(old.o, old.sets, nil)
			}
		}
	}
	m.deliveries.Add(int64(woken))
	m.considered.Add(int64(n))
}

// offerTo decides for one tenant, on the dispatcher: whether its config
// (as of now) wants the opportunity, how many sets it would buy, and how
// many of those the depth grants it, first come, first served. Only a
// tenant granted depth is woken. ok is false when it does not want it.
// Call with allocMu held.
func (m *Manager) offerTo(t *tenant, of *offer, lot polybot.Decimal) (polybot.Decimal, bool) {
	s := t.snap.Load()
	o := of.opp
	if s == nil || t.state.Load() != stRunning || !m.wants(s.cfg, s.profile.Features, o) {
		m.decide(t, of, polybot.Zero)
		return polybot.Zero, false
	}
	t.c.opportunities.Add(1)
	if t.events.active() {
		t.publish("opportunity", o)
	}
	got := polybot.Zero
	if o.Cost.Sign() > 0 {
		if want := s.maxTrade().Div(o.Cost).Floor(lot).Min(o.Size); want.Sign() > 0 {
			got = m.claimLocked(of, want, lot)
		}
	}
	m.decide(t, of, got)
	return got, true
}

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
