package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// Equity orders of news rules (polybot.EquityOrder): an equity rule's
// action, and a direct or lag rule's hedge leg, placed once the rule's
// prediction-market trade has filled (opened sees the fill and opens a
// watch for the hedge, on the same headline, for the rule's window).
//
// A buy is an opportunity like any news trade (strategy.NewsEquity on the
// symbol's quote book in the hub): offered to the tenant alone through the
// dispatcher, sized to the max trade size in whole shares, through the
// risk gate and the runner, filled on the paper exchange in dry run. Its
// position is exited like a contract's (the time stop; take profit and
// stop loss read as fractions of the entry price). A sell sells shares the
// tenant holds, never short: a risk-reducing order at the best bid, if it
// is at least the order's limit.
//
// The books: the desk subscribes to every running tenant's equity and
// hedge symbols, and to its direct rules' markets (equityBooks,
// subscribeRuleBooks), so a book is at hand when the headline comes, and
// their updates wake the desk as the universe's do.

// equityBooks holds the desk's subscriptions to the rules' symbols and
// markets outside the trading universe.
type equityBooks struct {
	mu   sync.Mutex
	subs map[instKey]*equitySub
	warn bool // no hub for a venue: said once
}

type equitySub struct {
	sub  *marketdata.Subscription
	stop context.CancelFunc
}

// tenantList is the manager's tenants now.
func (m *Manager) tenantList() []*tenant {
	m.mu.Lock()
	defer m.mu.Unlock()
	tenants := make([]*tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		tenants = append(tenants, t)
	}
	return tenants
}

// ruleInstruments lists what the running tenants' enabled rules trade
// outside the universe: their equity orders' symbols, and both outcomes of
// their direct rules' markets (whose outcomes the manager learns, to exit
// on a venue that takes no sells).
func (n *newsDesk) ruleInstruments() []polybot.Instrument {
	m := n.m
	var out []polybot.Instrument
	for _, t := range m.tenantList() {
		s := t.snap.Load()
		if s == nil || t.state.Load() != stRunning {
			continue
		}
		for _, r := range s.rules {
			if !r.Enabled {
				continue
			}
			if r.Mode == polybot.NewsEquity && r.Equity != nil {
				out = append(out, r.Equity.Instrument())
			}
			if r.Mode != polybot.NewsEquity && r.Hedge != nil {
				out = append(out, r.Hedge.Instrument())
			}
			for _, bm := range r.Markets {
				m.learnMarket(bm)
				out = append(out, bm.Yes, bm.No)
			}
		}
	}
	return out
}

// subscribeRuleBooks subscribes to the books of everything the running
// tenants' rules trade outside the universe (once each; never blocking on
// the network: the feeds subscribe on their own goroutines), and closes
// those no rule, watch or open position needs any more.
func (n *newsDesk) subscribeRuleBooks(ctx context.Context) {
	need := map[instKey]bool{}
	for _, inst := range n.ruleInstruments() {
		need[keyOf(inst)] = true
		n.equityBook(ctx, inst)
	}
	n.mu.Lock()
	for _, w := range n.watches {
		if w.rule.Equity != nil {
			need[keyOf(w.rule.Equity.Instrument())] = true
		}
	}
	for _, x := range n.exits {
		need[keyOf(x.inst)] = true
	}
	n.mu.Unlock()
	b := &n.eq
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, s := range b.subs {
		if !need[k] {
			s.stop()
			delete(b.subs, k)
		}
	}
}

// equityBook makes sure inst's book is subscribed.
func (n *newsDesk) equityBook(ctx context.Context, inst polybot.Instrument) {
	m, b := n.m, &n.eq
	k := keyOf(inst)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[k] != nil {
		return
	}
	hub := m.cfg.Hubs[inst.Venue]
	if hub == nil {
		if !b.warn {
			b.warn = true
			m.log.Warn("a news rule trades a venue without market data: its orders wait for a book", "venue", inst.Venue)
		}
		return
	}
	sub, err := hub.Subscribe(ctx, inst)
	if err != nil {
		m.log.Warn("subscribing to a news rule's book", "instrument", inst.Key(), "err", err)
		return
	}
	if b.subs == nil {
		b.subs = map[instKey]*equitySub{}
	}
	ctx, stop := context.WithCancel(ctx)
	b.subs[k] = &equitySub{sub: sub, stop: stop}
	go func() {
		for {
			select {
			case <-ctx.Done():
				_ = sub.Close()
				return
			case <-sub.C():
				_ = sub.Poll(nil) // drain: the desk reads the hub's views itself
				n.booksChanged()
			}
		}
	}()
}

// equityBid is inst's best bid now, and whether there is one.
func (m *Manager) equityBid(inst polybot.Instrument) (polybot.Decimal, bool) {
	v, ok := m.books.View(inst)
	if !ok || v.Stale {
		return polybot.Zero, false
	}
	b, has := v.BestBid()
	return b.Price, has && b.Price.Sign() > 0
}

// equitySell does a watch whose order sells (see sellHeld) once the bid
// reaches the order's limit, and reports whether it did (the watch is
// then done).
func (n *newsDesk) equitySell(ctx context.Context, w *newsWatch) bool {
	o := w.rule.Equity
	bid, ok := n.m.equityBid(o.Instrument())
	if !ok || bid.LessThan(o.MaxPrice) {
		return false
	}
	sum := sha256.Sum256([]byte("sell\x00" + w.rule.ID + "\x00" + o.Symbol + "\x00" + w.headline.ID))
	oppID := "news-" + hex.EncodeToString(sum[:12])
	n.cooldown[w.t.id.String()+"/"+w.rule.ID] = n.m.now().Add(w.rule.Cooldown)
	n.m.recordFire(ctx, NewsFire{Tenant: w.t.id, RuleID: w.rule.ID, HeadlineID: w.headline.ID, At: n.m.now(), Action: "offered", OpportunityID: oppID})
	n.sellHeld(w.t, oppID, o, "rule "+w.rule.ID+": "+w.headline.Title)
	return true
}

// sellHeld sells up to order's quantity of the shares t holds, at the
// best bid and not below the order's limit, as a risk-reducing order on
// t's runner (never short: nothing held, nothing sold).
func (n *newsDesk) sellHeld(t *tenant, oppID string, order *polybot.EquityOrder, why string) {
	inst := order.Instrument()
	go func() {
		ctx := n.m.context()
		if ctx == nil {
			ctx = context.Background()
		}
		_ = t.do(ctx, func(ctx context.Context, r *runner) error {
			held := polybot.Zero
			err := n.m.cfg.Store.TenantView(ctx, t.id, func(tx polybot.TenantTx) error {
				h, err := tx.Holding(inst, r.mode)
				if err == nil {
					held = h.Size
				}
				if polybot.ErrorCode(err) == polybot.ENOTFOUND {
					return nil
				}
				return err
			})
			size := held.Min(order.Quantity).Floor(polybot.One)
			if err != nil || size.Sign() <= 0 {
				n.m.log.Info("equity sell: nothing held to sell", "tenant", t.id, "instrument", inst.Key(), "err", err)
				return nil
			}
			r.sellAt(ctx, polybot.StrategyNews, oppID, inst, size, 0, why, order.MaxPrice)
			return nil
		})
	}()
}

// hedgeWatch opens the watch of rule's hedge leg after its trade filled:
// the hedge is an equity order on the same headline, for the rule's
// window from now.
func (n *newsDesk) hedgeWatch(t *tenant, rule *polybot.NewsRule, h polybot.Headline) {
	hr := *rule
	hr.Mode, hr.Equity, hr.Hedge, hr.Pairs, hr.Markets = polybot.NewsEquity, rule.Hedge, nil, nil, nil
	w := &newsWatch{t: t, rule: &hr, headline: h, until: n.m.now().Add(rule.Window)}
	if ctx := n.m.context(); ctx != nil {
		n.equityBook(ctx, rule.Hedge.Instrument())
	}
	n.mu.Lock()
	n.watches = append(n.watches, w)
	n.active.Store(int32(len(n.watches) + len(n.exits)))
	n.mu.Unlock()
	n.booksChanged()
}
