package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/strategy"
)

// News arbitrage in the engine. A headline (Manager.Headline) is matched
// against the rules of every running tenant that trades news; each match
// becomes a watch for the rule's window: at once, and after every book
// update of the rule's markets, the strategy looks for the rule's trade
// (strategy.NewsDirect, strategy.NewsLag from the bids at the headline).
// The first it finds is offered to that tenant alone, through the same
// dispatcher, depth book and runner as every other opportunity; the rule
// then cools down. A position a news trade opened is watched for its
// exits (the lag target or take profit, the stop loss, the time stop) and
// sold, fill-and-kill at the best bid, as a risk-reducing order.
//
// Latency: the time from the headline's receipt to the trade's first
// order (Observer's NewsToOrder, and NewsFire.Latency).

// exitLeg numbers the intents that close a news position: attempt k of an
// opportunity's exit is leg exitLeg+k.
const exitLeg = polybot.ExitLeg

// NewsFire is what one rule did with one headline, for the user's News
// page: the trade it offered, and once its first order went, the latency
// from the headline's receipt.
type NewsFire struct {
	Tenant        polybot.ID
	RuleID        string
	HeadlineID    string
	At            time.Time
	Action        string // "offered", "sent", "expired" (the window closed with nothing to buy)
	OpportunityID string
	Latency       time.Duration // headline received → first order sent ("sent")
}

// NewsObserver, when Config.Observer implements it, receives the latency
// of every news trade's first order from its headline's receipt.
type NewsObserver interface {
	NewsToOrder(d time.Duration)
}

// newsWatch is one rule's wait for its trade after a headline.
type newsWatch struct {
	t        *tenant
	rule     *polybot.NewsRule
	headline polybot.Headline
	until    time.Time
	base     map[string]strategy.LagBase // pair id → bids at the headline
}

// newsExit is a news position waiting for its exit.
type newsExit struct {
	t          *tenant
	oppID      string
	inst       polybot.Instrument
	size       polybot.Decimal
	entry      polybot.Decimal
	target     polybot.Decimal // lag: the leader's bid (convergence)
	takeProfit polybot.Decimal
	stopLoss   polybot.Decimal
	until      time.Time
	attempts   int
	busy       bool
	notBefore  time.Time // after a try that sold nothing: the next one not before
}

// delivery is a headline and whom it is for (NilID: every tenant; a
// user's own feed or webhook: that user only).
type delivery struct {
	h     polybot.Headline
	owner polybot.ID
}

// newsDesk holds the watches and exits; its loop runs on its own goroutine.
type newsDesk struct {
	m        *Manager
	in       chan delivery
	kick     chan struct{}
	active   atomic.Int32 // watches + exits: the dispatcher kicks only when some exist
	mu       sync.Mutex
	watches  []*newsWatch
	exits    []*newsExit
	cooldown map[string]time.Time // tenant/rule → not before
	dropped  atomic.Int64
	eq       equityBooks // the books of the rules' equity orders (equity.go)
}

func newNewsDesk(m *Manager) *newsDesk {
	return &newsDesk{m: m, in: make(chan delivery, 256), kick: make(chan struct{}, 1), cooldown: map[string]time.Time{}}
}

// Headline hands a new (de-duplicated) platform headline to the engine:
// every tenant's rules see it. It never blocks: a full queue drops it,
// counted.
func (m *Manager) Headline(h polybot.Headline) { m.deliverHeadline(h, polybot.NilID) }

// TenantHeadline hands a headline from a user's own source (their feed or
// webhook) to that user's rules only.
func (m *Manager) TenantHeadline(tenant polybot.ID, h polybot.Headline) { m.deliverHeadline(h, tenant) }

func (m *Manager) deliverHeadline(h polybot.Headline, owner polybot.ID) {
	if h.Received.IsZero() {
		h.Received = time.Now()
	}
	select {
	case m.news.in <- delivery{h, owner}:
	default:
		m.news.dropped.Add(1)
	}
}

// booksChanged tells the desk that books moved (from the dispatcher).
func (n *newsDesk) booksChanged() {
	if n.active.Load() == 0 {
		return
	}
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *newsDesk) run(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for ticks := 0; ; {
		select {
		case <-ctx.Done():
			return
		case d := <-n.in:
			n.match(d.h, d.owner)
			n.evaluate(ctx)
		case <-n.kick:
			n.evaluate(ctx)
		case <-tick.C:
			if ticks%8 == 0 { // every 2 s: the books of rules loaded since
				n.subscribeRuleBooks(ctx)
			}
			ticks++
			n.evaluate(ctx)
		}
	}
}

// match opens a watch for every running tenant's enabled rule that h
// matches and that is not cooling down.
func (n *newsDesk) match(h polybot.Headline, owner polybot.ID) {
	m := n.m
	tenants := m.tenantList()
	now := m.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range tenants {
		s := t.snap.Load()
		if (owner != polybot.NilID && t.id != owner) || s == nil || t.state.Load() != stRunning ||
			!s.cfg.Enabled(polybot.StrategyNews, s.profile.Features) {
			continue
		}
		for _, r := range s.rules {
			if !r.Enabled || !r.Matches(&h) || now.Before(n.cooldown[t.id.String()+"/"+r.ID]) {
				continue
			}
			w := &newsWatch{t: t, rule: r, headline: h, until: h.Received.Add(r.Window), base: map[string]strategy.LagBase{}}
			if r.Mode == polybot.NewsLag {
				for _, id := range r.Pairs {
					if p := m.pairByID(id); p != nil {
						w.base[id] = strategy.LagBaseOf(m.crossBooks(p), r.Outcome, now)
					}
				}
			}
			n.watches = append(n.watches, w)
		}
	}
	n.active.Store(int32(len(n.watches) + len(n.exits)))
}

// evaluate looks at every watch and exit against the books now.
func (n *newsDesk) evaluate(ctx context.Context) {
	m := n.m
	now := m.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	keep := n.watches[:0]
	for _, w := range n.watches {
		if now.After(w.until) || w.t.state.Load() != stRunning {
			m.recordFire(ctx, NewsFire{Tenant: w.t.id, RuleID: w.rule.ID, HeadlineID: w.headline.ID, At: now, Action: "expired"})
			continue
		}
		if w.rule.Mode == polybot.NewsEquity && w.rule.Equity != nil && w.rule.Equity.Side == polybot.EquitySell {
			if !n.equitySell(ctx, w) {
				keep = append(keep, w)
			}
			continue
		}
		o := n.find(w)
		if o == nil {
			keep = append(keep, w)
			continue
		}
		// One trade per headline: the same book may answer two headlines.
		sum := sha256.Sum256([]byte(o.ID + "\x00" + w.headline.ID))
		o.ID = "news-" + hex.EncodeToString(sum[:12])
		n.cooldown[w.t.id.String()+"/"+w.rule.ID] = now.Add(w.rule.Cooldown)
		if m.disp.offerOne(w.t, o, now, &w.headline) {
			m.recordFire(ctx, NewsFire{Tenant: w.t.id, RuleID: w.rule.ID, HeadlineID: w.headline.ID, At: now, Action: "offered",
				OpportunityID: o.ID})
		}
	}
	clear(n.watches[len(keep):])
	n.watches = keep
	left := n.exits[:0]
	for _, x := range n.exits {
		if x.size.Sign() <= 0 {
			continue
		}
		if !x.busy && !now.Before(x.notBefore) {
			if why := x.due(m, now); why != "" {
				x.busy = true
				n.sell(x, why)
			}
		}
		left = append(left, x)
	}
	clear(n.exits[len(left):])
	n.exits = left
	n.active.Store(int32(len(n.watches) + len(n.exits)))
}

// find is the watch's trade on the books now, or nil.
func (n *newsDesk) find(w *newsWatch) *polybot.Opportunity {
	m, det := n.m, n.m.cfg.Strategy
	r := w.rule
	switch r.Mode {
	case polybot.NewsLag:
		for _, id := range r.Pairs {
			p := m.pairByID(id)
			if p == nil || !p.Approved {
				continue
			}
			if o := det.NewsLag(r, p, w.base[id], m.crossBooks(p)); o != nil {
				return o
			}
		}
	case polybot.NewsEquity:
		if r.Equity != nil {
			if v, ok := m.books.View(r.Equity.Instrument()); ok {
				return det.NewsEquity(r, r.Equity, v)
			}
		}
	case polybot.NewsDirect:
		var insts []polybot.Instrument
		for _, bm := range r.Markets {
			insts = append(insts, bm.Yes, bm.No)
		}
		for _, id := range r.Pairs {
			if p := m.pairByID(id); p != nil && p.Approved {
				pm, k := PairMarkets(p)
				insts = append(insts, pm.Yes, pm.No, k.Yes, k.No)
			}
		}
		for _, inst := range insts {
			if inst.Outcome != r.Outcome {
				continue
			}
			if v, ok := m.books.View(inst); ok {
				if o := det.NewsDirect(r, v); o != nil {
					return o
				}
			}
		}
	}
	return nil
}

// due says why x should be sold now, or "".
func (x *newsExit) due(m *Manager, now time.Time) string {
	bid := polybot.Zero
	if v, ok := m.books.View(x.inst); ok {
		if b, has := v.BestBid(); has {
			bid = b.Price
		}
	}
	switch {
	case bid.Sign() > 0 && x.target.Sign() > 0 && !bid.LessThan(x.target):
		return "converged: the bid reached the leader's " + x.target.String()
	case bid.Sign() > 0 && x.takeProfit.Sign() > 0 && !bid.LessThan(x.entry.Add(x.takeProfit)):
		return "take profit at " + bid.String()
	case bid.Sign() > 0 && x.stopLoss.Sign() > 0 && !bid.GreaterThan(x.entry.Sub(x.stopLoss)):
		return "stop loss at " + bid.String()
	case !now.Before(x.until):
		return "time stop"
	}
	return ""
}

// sell closes (what is left of) a news position on the tenant's runner.
// Call with n.mu held; the sale runs on the runner's goroutine.
func (n *newsDesk) sell(x *newsExit, why string) {
	go func() {
		ctx := n.m.context()
		if ctx == nil {
			ctx = context.Background()
		}
		err := x.t.do(ctx, func(ctx context.Context, r *runner) error {
			sold := r.exitPosition(ctx, x.oppID, x.inst, x.size, x.attempts, why)
			n.mu.Lock()
			x.size = x.size.Sub(sold)
			x.attempts++
			if sold.Sign() <= 0 { // nothing at the bid: back off (250 ms doubling, at most 30 s)
				x.notBefore = n.m.now().Add(min(250*time.Millisecond<<min(x.attempts, 7), 30*time.Second))
			}
			n.mu.Unlock()
			return nil
		})
		n.mu.Lock()
		x.busy = false
		if err != nil || x.attempts >= unwindTries*4 {
			x.size = polybot.Zero // stopping, or it will not sell: reconciliation and the user take it from here
		}
		n.mu.Unlock()
		n.booksChanged()
	}()
}

// opened registers a news position for its exits (from the runner, once
// the trade's leg filled), and when the rule has a hedge leg and this was
// its prediction-market trade, opens the hedge's watch (on the headline h).
// A share's take profit and stop loss are fractions of its entry price.
func (n *newsDesk) opened(t *tenant, opp *polybot.Opportunity, filled polybot.Decimal, h polybot.Headline) {
	if filled.Sign() <= 0 || len(opp.Legs) != 1 {
		return
	}
	s := t.snap.Load()
	var rule *polybot.NewsRule
	if s != nil {
		if i := slices.IndexFunc(s.rules, func(r *polybot.NewsRule) bool { return r.ID == opp.PairID }); i >= 0 {
			rule = s.rules[i]
		}
	}
	x := &newsExit{t: t, oppID: opp.ID, inst: opp.Legs[0].Instrument, size: filled, entry: opp.Legs[0].Price, target: opp.Target,
		until: n.m.now().Add(polybot.DefaultRuleTimeStop)}
	if rule != nil {
		x.takeProfit, x.stopLoss, x.until = rule.TakeProfit, rule.StopLoss, n.m.now().Add(rule.TimeStop)
		if polybot.PricedPerShare(x.inst) {
			x.takeProfit, x.stopLoss = x.entry.Mul(rule.TakeProfit), x.entry.Mul(rule.StopLoss)
		}
		if rule.Mode != polybot.NewsEquity && rule.Hedge != nil && x.inst != rule.Hedge.Instrument() {
			defer n.hedgeWatch(t, rule, h)
		}
	}
	n.mu.Lock()
	n.exits = append(n.exits, x)
	n.active.Store(int32(len(n.watches) + len(n.exits)))
	n.mu.Unlock()
	n.booksChanged()
}

// exitPosition sells size of inst fill-and-kill at the best bid, as a
// risk-reducing order, and returns what sold.
func (r *runner) exitPosition(ctx context.Context, oppID string, inst polybot.Instrument, size polybot.Decimal, attempt int, why string) polybot.Decimal {
	return r.sellAtBid(ctx, polybot.StrategyNews, oppID, inst, size, attempt, why)
}

// sellAtBid sells size of inst fill-and-kill at the best bid, a
// risk-reducing intent of leg ExitLeg+attempt, and returns what sold.
func (r *runner) sellAtBid(ctx context.Context, strategy, oppID string, inst polybot.Instrument, size polybot.Decimal, attempt int, why string) polybot.Decimal {
	return r.sellAt(ctx, strategy, oppID, inst, size, attempt, why, polybot.Zero)
}

// sellAt is sellAtBid when the bid is at least floor (else it sells
// nothing).
func (r *runner) sellAt(ctx context.Context, strategy, oppID string, inst polybot.Instrument, size polybot.Decimal, attempt int, why string, floor polybot.Decimal) polybot.Decimal {
	t, m := r.t, r.m
	q, ok := m.reduceQuote(inst)
	if !ok {
		return polybot.Zero
	}
	if q.side == polybot.Sell && q.price.LessThan(floor) {
		return polybot.Zero
	}
	in := &polybot.Intent{ID: polybot.IntentID(t.id, oppID, exitLeg+attempt, 0), OpportunityID: oppID, Strategy: strategy,
		Leg: exitLeg + attempt, Mode: r.mode, Instrument: q.inst, Side: q.side, Price: q.price, Size: size, TIF: polybot.FAK, Reduce: true,
		Against: q.against}
	err := m.cfg.Store.Tenant(context.WithoutCancel(ctx), t.id, func(tx polybot.TenantTx) error {
		return r.gate(tx, in)
	})
	if err != nil {
		m.log.Warn("exit refused", "tenant", t.id, "strategy", strategy, "opportunity", oppID, "err", polybot.ErrorMessage(err))
		return polybot.Zero
	}
	t.c.intents.Add(1)
	t.publish("intent", in)
	res := r.send(context.WithoutCancel(ctx), r.ex[q.inst.Venue], in)
	m.log.Info("position exit", "tenant", t.id, "strategy", strategy, "opportunity", oppID, "why", why, "sold", res.filled.String(), "of", size.String())
	if res.unknown {
		return size // reconciliation settles what the venue reports
	}
	return res.filled
}

// recordFire hands a fire to Config.NewsFires (the store), if set.
func (m *Manager) recordFire(ctx context.Context, f NewsFire) {
	if m.cfg.NewsFires == nil {
		return
	}
	if err := m.cfg.NewsFires(context.WithoutCancel(ctx), f); err != nil {
		m.log.Warn("recording a news rule's fire", "tenant", f.Tenant, "rule", f.RuleID, "err", err)
	}
}

// newsSent is the execution path's news hook: the trade's first order is
// going out now.
func (m *Manager) newsSent(ctx context.Context, t *tenant, g *Grant) {
	if g.Headline.IsZero() {
		return
	}
	lat := time.Since(g.Headline)
	if o, ok := m.cfg.Observer.(NewsObserver); ok {
		o.NewsToOrder(lat)
	}
	m.recordFire(ctx, NewsFire{Tenant: t.id, RuleID: g.Opportunity.PairID, HeadlineID: g.HeadlineID, At: m.now(), Action: "sent",
		OpportunityID: g.Opportunity.ID, Latency: lat})
}

// pairByID finds a matched pair of the universe by id.
func (m *Manager) pairByID(id string) *polybot.MarketPair {
	m.uniMu.Lock()
	defer m.uniMu.Unlock()
	for _, p := range m.cfg.Universe.allPairs() {
		if p != nil && p.ID == id {
			return p
		}
	}
	return nil
}

// crossBooks reads a pair's four books from the hubs.
func (m *Manager) crossBooks(p *polybot.MarketPair) strategy.CrossBooks {
	a, b := PairMarkets(p)
	view := func(i polybot.Instrument) *marketdata.View {
		v, _ := m.books.View(i)
		return v
	}
	return strategy.CrossBooks{AYes: view(a.Yes), ANo: view(a.No), BYes: view(b.Yes), BNo: view(b.No)}
}

// offerOne offers a tenant's own opportunity (a news trade) to that tenant
// alone: sized and lent depth as route does for everyone, at, with the
// headline's receipt for the latency. It reports whether a grant went to
// the tenant's mailbox.
func (d *dispatcher) offerOne(t *tenant, o *polybot.Opportunity, at time.Time, h *polybot.Headline) bool {
	if h == nil {
		h = &polybot.Headline{}
	}
	d.m.opps.Add(1)
	d.m.ring.add(o)
	d.mu.Lock()
	defer d.mu.Unlock()
	gr, ok := d.offerTo(t, o, groupOf(o), at, lotOf(o))
	if !ok || gr.Sets.Sign() <= 0 {
		return false
	}
	gr.Headline, gr.HeadlineID = h.Received, h.ID
	d.deliver(t, gr)
	d.m.deliveries.Add(1)
	return true
}
