package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/strategy"
	"golang.org/x/time/rate"
)

// Copy trading in the engine. One poller per followed wallet, shared by
// all its followers (like the market-data hub's one book per instrument):
// every CopyEvery it reads the wallet's trades since the oldest of its
// followers' cursors (LeaderSource, the Data API), backs off on errors,
// and hands each trade, oldest first and once (LeaderTrade.Key), to every
// follower whose persisted cursor has not passed it. Each follower decides
// on its own runner (strategy.Detector.Copy, with what it holds from that
// leader, has spent in the market and today, and its balance): a buy is
// offered to that tenant alone through the dispatcher; a sale mirrors the
// leader's exit as a risk-reducing FAK sell at the bid. Every decision,
// copy or skip with its reason, is recorded, and the cursor moves past the
// trade: a restart neither copies a trade again nor misses one.

// LeaderSource reads a followed wallet's trades (the Polymarket Data
// API): those at or after since, oldest first.
type LeaderSource interface {
	LeaderTrades(ctx context.Context, wallet string, since time.Time) ([]polybot.LeaderTrade, error)
}

// CopyStore is the engine's access to the store for copy trading.
type CopyStore struct {
	// Leaders reads a tenant's leaders in its transaction.
	Leaders func(tx polybot.TenantTx) ([]*polybot.Leader, error)
	// Cursor and SetCursor read and move a follower's cursor on a leader:
	// the newest trade decided (its time and key).
	Cursor    func(ctx context.Context, tenant polybot.ID, leaderID string) (time.Time, string, error)
	SetCursor func(ctx context.Context, tenant polybot.ID, leaderID string, at time.Time, key string) error
	// Record keeps a decision (copied, skipped with its reason, exit).
	Record func(ctx context.Context, tenant polybot.ID, r CopyRecord) error
}

// CopyRecord is one follower's decision on one leader trade.
type CopyRecord struct {
	LeaderID      string
	Trade         polybot.LeaderTrade
	Action        string // "copied", "skipped", "exit"
	Reason        string
	OpportunityID string
	Size          polybot.Decimal
	Price         polybot.Decimal
	At            time.Time
}

// copyOppID names a leader trade's copy (and its exit): the store finds a
// leader's copies, and their P&L, by it (polybot.IsCopyOpportunity).
func copyOppID(leaderID string, t *polybot.LeaderTrade) string {
	return polybot.CopyOpportunityID(leaderID, t.Key())
}

type follower struct {
	t      *tenant
	leader *polybot.Leader
	cursor time.Time
	key    string
	loaded bool
}

type walletPoll struct {
	next     time.Time
	failures int
	seen     map[string]bool            // trade keys applied to held
	held     map[string]polybot.Decimal // token → the leader's shares, from the trades seen
}

// copyReadsPerSecond bounds the Data API reads of all followed wallets
// together (the venue rate-limits its public API).
const copyReadsPerSecond = 10

// copyDesk polls followed wallets; its loop runs on its own goroutine.
type copyDesk struct {
	m       *Manager
	mu      sync.Mutex
	wallets map[string]*walletPoll
	follows map[string]*follower // tenant/leader id → follower
	polls   int64                // Data API reads (tests: shared polling)
	subs    map[instKey]*marketdata.Subscription
	limit   *rate.Limiter // Data API reads across every wallet
}

func newCopyDesk(m *Manager) *copyDesk {
	return &copyDesk{m: m, wallets: map[string]*walletPoll{}, follows: map[string]*follower{}, subs: map[instKey]*marketdata.Subscription{},
		limit: rate.NewLimiter(rate.Limit(copyReadsPerSecond), copyReadsPerSecond)}
}

func (c *copyDesk) run(ctx context.Context) {
	m := c.m
	if m.cfg.Leaders == nil || m.cfg.Copy.Leaders == nil {
		return
	}
	every := m.cfg.CopyEvery
	tick := time.NewTicker(every)
	defer tick.Stop()
	defer func() {
		c.mu.Lock()
		for _, s := range c.subs {
			_ = s.Close()
		}
		c.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.pollAll(ctx)
		}
	}
}

// pollAll polls each followed wallet once, for all its followers.
func (c *copyDesk) pollAll(ctx context.Context) {
	m := c.m
	byWallet := map[string][]*follower{}
	tenants := m.tenantList()
	c.mu.Lock()
	for _, t := range tenants {
		s := t.snap.Load()
		// A follower whose plan or config forbids the trades is still
		// polled: each trade is recorded as skipped, with the reason.
		if s == nil || t.state.Load() != stRunning || !s.cfg.EnableCopyTrading {
			continue
		}
		for _, l := range s.leaders {
			if !l.Enabled {
				continue
			}
			k := t.id.String() + "/" + l.ID
			f := c.follows[k]
			if f == nil {
				f = &follower{t: t}
				c.follows[k] = f
			}
			f.leader = l
			byWallet[l.Address] = append(byWallet[l.Address], f)
		}
	}
	c.mu.Unlock()
	now := m.now()
	for wallet, fs := range byWallet {
		w := c.wallets[wallet]
		if w == nil {
			w = &walletPoll{seen: map[string]bool{}, held: map[string]polybot.Decimal{}}
			c.wallets[wallet] = w
		}
		if now.Before(w.next) {
			continue
		}
		since := now
		for _, f := range fs {
			if !f.loaded {
				at, key, err := m.cfg.Copy.Cursor(ctx, f.t.id, f.leader.ID)
				if err != nil {
					m.log.Warn("reading a copy cursor", "tenant", f.t.id, "leader", f.leader.ID, "err", err)
					continue
				}
				if at.IsZero() {
					at = now // a new follow copies what the leader does from now on
				}
				f.cursor, f.key, f.loaded = at, key, true
			}
			if f.cursor.Before(since) {
				since = f.cursor
			}
		}
		if err := c.limit.Wait(ctx); err != nil {
			return
		}
		c.mu.Lock()
		c.polls++
		c.mu.Unlock()
		trades, err := m.cfg.Leaders.LeaderTrades(ctx, wallet, since)
		if err != nil {
			w.failures++
			w.next = now.Add(min(m.cfg.CopyEvery<<min(w.failures, 8), 5*time.Minute))
			m.log.Warn("reading a leader's trades", "wallet", wallet, "err", err, "failures", w.failures)
			continue
		}
		w.failures, w.next = 0, time.Time{}
		// (time, key) is the cursor's order: trades of one second (the Data
		// API's resolution) are taken by key, so none is skipped or taken twice.
		slices.SortStableFunc(trades, func(a, b polybot.LeaderTrade) int {
			if c := a.Time.Compare(b.Time); c != 0 {
				return c
			}
			return strings.Compare(a.Key(), b.Key())
		})
		for i := range trades {
			tr := trades[i]
			tr.Wallet = wallet
			before := w.held[tr.Instrument.Token]
			if !w.seen[tr.Key()] { // the leader's position, as its trades show it
				if len(w.seen) > 100_000 {
					clear(w.seen)
				}
				w.seen[tr.Key()] = true
				switch {
				case tr.Redeem:
					w.held[tr.Instrument.Token] = polybot.Zero
				case tr.Side == polybot.Sell:
					w.held[tr.Instrument.Token] = before.Sub(tr.Size).Max(polybot.Zero)
				default:
					w.held[tr.Instrument.Token] = before.Add(tr.Size)
				}
			}
			for _, f := range fs {
				if !f.loaded || tr.Time.Before(f.cursor) || (tr.Time.Equal(f.cursor) && tr.Key() <= f.key) {
					continue // decided before (the cursor is persisted)
				}
				c.decide(ctx, f, &tr, before)
			}
		}
	}
}

// bookOf is the hub's view of a leader's token, subscribing to it the
// first time (a leader trades markets the universe may not watch) and
// waiting up to copyBookWait for its first book.
func (c *copyDesk) bookOf(ctx context.Context, inst polybot.Instrument) *marketdata.View {
	m := c.m
	if v, ok := m.books.View(inst); ok {
		return v
	}
	hub := m.cfg.Hubs[inst.Venue]
	if hub == nil {
		return nil
	}
	c.mu.Lock()
	if c.subs[keyOf(inst)] == nil {
		sub, err := hub.Subscribe(ctx, inst)
		if err != nil {
			c.mu.Unlock()
			m.log.Warn("subscribing to a leader's token", "instrument", inst.Key(), "err", err)
			return nil
		}
		c.subs[keyOf(inst)] = sub
	}
	c.mu.Unlock()
	for deadline := time.Now().Add(copyBookWait); time.Now().Before(deadline); {
		if v, ok := m.books.View(inst); ok {
			return v
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// copyBookWait bounds the wait for a newly subscribed token's first book.
const copyBookWait = 3 * time.Second

// decide runs one follower's decision on its runner, records it and moves
// the cursor.
func (c *copyDesk) decide(ctx context.Context, f *follower, tr *polybot.LeaderTrade, leaderHeld polybot.Decimal) {
	m := c.m
	view := c.bookOf(ctx, tr.Instrument)
	l := f.leader
	rec := CopyRecord{LeaderID: l.ID, Trade: *tr, At: m.now()}
	err := f.t.do(ctx, func(ctx context.Context, r *runner) error {
		if s := f.t.snap.Load(); s != nil {
			switch {
			case !s.profile.Features.CopyTrading:
				rec.Action, rec.Reason = "skipped", "your plan does not include copy trading"
				return nil
			case !s.cfg.PlatformEnabled(tr.Instrument.Venue):
				rec.Action, rec.Reason = "skipped", "trading on "+string(tr.Instrument.Venue)+" is off in your config"
				return nil
			}
		}
		st, err := r.copyState(ctx, l, tr)
		if err != nil {
			return err
		}
		st.LeaderHeld = leaderHeld
		if v, ok := m.books.View(tr.Instrument); ok {
			view = v // the newest
		}
		d := m.cfg.Strategy.Copy(l, tr, view, st)
		switch {
		case d.Buy != nil:
			d.Buy.ID = copyOppID(l.ID, tr)
			s := f.t.snap.Load()
			if s != nil && !m.wants(s.cfg, s.profile.Features, d.Buy) {
				rec.Action, rec.Reason = "skipped", "your plan or config does not trade this market"
				return nil
			}
			if m.disp.offerOne(f.t, d.Buy, m.now(), nil) {
				rec.Action, rec.OpportunityID, rec.Size, rec.Price = "copied", d.Buy.ID, d.Buy.Size, d.Buy.Legs[0].Price
			} else {
				rec.Action, rec.Reason = "skipped", "no depth lent or your limits allow nothing"
			}
		case d.Sell.Sign() > 0:
			sold := r.sellAtBid(ctx, polybot.StrategyCopy, copyOppID(l.ID, tr), tr.Instrument, d.Sell, 0, "the leader sold")
			rec.Action, rec.OpportunityID, rec.Size = "exit", copyOppID(l.ID, tr), sold
			if sold.LessThan(d.Sell) {
				rec.Reason = "sold " + sold.String() + " of " + d.Sell.String()
			}
		default:
			rec.Action, rec.Reason = "skipped", d.Reason
		}
		return nil
	})
	if err != nil {
		m.log.Warn("copy decision", "tenant", f.t.id, "leader", l.ID, "err", err)
		return // the cursor stays: the trade is decided again on the next poll
	}
	if m.cfg.Copy.Record != nil {
		if err := m.cfg.Copy.Record(context.WithoutCancel(ctx), f.t.id, rec); err != nil {
			m.log.Warn("recording a copy decision", "tenant", f.t.id, "leader", l.ID, "err", err)
		}
	}
	if err := m.cfg.Copy.SetCursor(context.WithoutCancel(ctx), f.t.id, l.ID, tr.Time, tr.Key()); err != nil {
		m.log.Warn("moving a copy cursor", "tenant", f.t.id, "leader", l.ID, "err", err)
		return
	}
	f.cursor, f.key = tr.Time, tr.Key()
}

// copyState reads what a copy decision needs: what the tenant holds from
// this leader in the token (shares) and in the market (dollars at cost),
// what this leader's copies spent today, the leader's own position as the
// trades seen show it, and the tenant's balance.
func (r *runner) copyState(ctx context.Context, l *polybot.Leader, tr *polybot.LeaderTrade) (strategy.CopyState, error) {
	m, t := r.m, r.t
	st := strategy.CopyState{Now: m.now()}
	var ins []*polybot.Intent
	err := m.cfg.Store.TenantView(ctx, t.id, func(tx polybot.TenantTx) (err error) {
		ins, err = tx.FindIntents(polybot.IntentFilter{Strategy: polybot.StrategyCopy, Limit: 1000})
		return err
	})
	if err != nil {
		return st, err
	}
	day := st.Now.Add(-24 * time.Hour)
	for _, in := range ins {
		if !polybot.IsCopyOpportunity(l.ID, in.OpportunityID) || in.Mode != r.mode || in.Filled.Sign() <= 0 {
			continue
		}
		cost := in.Price.Mul(in.Filled)
		if in.Side == polybot.Sell {
			if in.Instrument.Token == tr.Instrument.Token {
				st.HeldShares = st.HeldShares.Sub(in.Filled)
			}
			if in.Instrument.Market == tr.Instrument.Market {
				st.MarketSpent = st.MarketSpent.Sub(cost)
			}
			continue
		}
		if in.Instrument.Token == tr.Instrument.Token {
			st.HeldShares = st.HeldShares.Add(in.Filled)
		}
		if in.Instrument.Market == tr.Instrument.Market {
			st.MarketSpent = st.MarketSpent.Add(cost)
		}
		if in.CreatedAt.After(day) {
			st.DaySpent = st.DaySpent.Add(cost)
		}
	}
	st.HeldShares, st.MarketSpent = st.HeldShares.Max(polybot.Zero), st.MarketSpent.Max(polybot.Zero)
	if x := r.ex[polybot.Polymarket]; x != nil && l.Mode == polybot.CopyBalancePct {
		if b, err := x.Balance(ctx); err == nil {
			st.Balance = b.Available
		}
	}
	return st, nil
}
