package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
)

// snapshot is what a runner trades with: the tenant's stored config,
// profile and halt state at one moment. It is immutable; Reload swaps in a
// new one.
type snapshot struct {
	cfg      *polybot.Config
	profile  *polybot.Profile
	halt     string
	wanted   bool   // the bot is enabled
	disabled bool   // the account is disabled
	secrets  uint64 // a hash of the stored secrets' metadata
	rules    []*polybot.NewsRule
	leaders  []*polybot.Leader
	loadedAt time.Time
}

func (s *snapshot) mode() polybot.ExecMode {
	if s.cfg.DryRun {
		return polybot.DryRun
	}
	return polybot.Live
}

// maxTrade is the most one set of an opportunity may cost.
func (s *snapshot) maxTrade() polybot.Decimal {
	return s.cfg.MaxTradeSizeUSD.Min(s.profile.MaxTradeSizeUSD)
}

// Runner states, as stored in tenant.state.
const (
	stStopped int32 = iota
	stStarting
	stRunning
	stHalted
	stRefused
)

var stateNames = [...]string{polybot.BotStopped, polybot.BotStarting, polybot.BotRunning, polybot.BotHalted, polybot.BotRefused}

type counters struct {
	opportunities, intents, fills, rejected, unwinds, errors, restarts atomic.Int64
}

func (c *counters) snapshot() polybot.BotCounters {
	return polybot.BotCounters{Opportunities: c.opportunities.Load(), Intents: c.intents.Load(), Fills: c.fills.Load(),
		Rejected: c.rejected.Load(), Unwinds: c.unwinds.Load(), Errors: c.errors.Load(), Restarts: c.restarts.Load()}
}

// tenant is everything the manager keeps for one tenant: a few hundred
// bytes while idle. Its runner (a goroutine, or on a worker a process of
// its own: ownprocess.go) exists only while the bot runs.
type tenant struct {
	id polybot.ID
	m  *Manager

	snap  atomic.Pointer[snapshot]
	lease atomic.Pointer[leaseHold]  // RoleWorker: the lease it runs under
	proc  atomic.Pointer[ownProcess] // RoleWorker with Runner: its own process, while one runs it
	own   atomic.Bool                // RoleWorker with Runner: its current life is a process of its own
	fresh atomic.Bool                // snap was loaded by Reload; the runner need not load again
	state atomic.Int32
	box   mailbox
	wake  chan struct{} // re-evaluate the snapshot (reload, halt change)
	cmds  chan command  // work to run on the runner's goroutine

	events fanout
	c      counters
	pnl    [nStrategies]atomic.Int64 // realised P&L in micros since the manager started
	keyLim [4]atomic.Pointer[limiter]

	loadMu sync.Mutex // one store load at a time

	mu         sync.Mutex
	reason     string
	lastError  string
	naked      string // why the bot went reducing-only on its own (a failed unwind)
	startedAt  *time.Time
	updatedAt  time.Time
	cancel     context.CancelFunc // of the running supervisor; nil when not running
	done       chan struct{}
	registered bool // in the interest index

	seq uint64 // creation order in the manager: the index's order among equal thresholds
}

func newTenant(m *Manager, id polybot.ID) *tenant {
	t := &tenant{id: id, m: m, seq: m.tenantSeq.Add(1), wake: make(chan struct{}, 1), cmds: make(chan command)}
	t.box.init(m.cfg.MailboxSize)
	return t
}

func (t *tenant) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// keyLimiter is the rate limiter of the tenant's key on p.
func (t *tenant) keyLimiter(p polybot.Platform) *limiter {
	i := 0
	for j, q := range polybot.Platforms {
		if q == p {
			i = j
		}
	}
	if l := t.keyLim[i].Load(); l != nil {
		return l
	}
	t.keyLim[i].CompareAndSwap(nil, newLimiter(t.m.cfg.KeyRate))
	return t.keyLim[i].Load()
}

// load reads the tenant's config, profile, halt state and secrets'
// metadata in one read-only transaction and makes it the tenant's snapshot.
func (t *tenant) load(ctx context.Context) (*snapshot, error) {
	t.loadMu.Lock()
	defer t.loadMu.Unlock()
	s := &snapshot{}
	err := t.m.cfg.Store.TenantView(ctx, t.id, func(tx polybot.TenantTx) error {
		u, err := tx.User()
		if err != nil {
			return err
		}
		s.disabled = u.Disabled
		if s.profile, err = tx.Profile(); err != nil {
			return err
		}
		if s.cfg, err = tx.Config(); err != nil {
			return err
		}
		if s.halt, err = tx.HaltState(); err != nil {
			return err
		}
		if s.wanted, err = tx.BotEnabled(); err != nil {
			return err
		}
		secs, err := tx.Secrets()
		if err != nil {
			return err
		}
		h := fnv.New64a()
		for _, sec := range secs {
			fmt.Fprintf(h, "%s|%t|%t|%s|%d|", sec.Platform, sec.Paper, sec.Active, sec.Fingerprint, sec.UpdatedAt.UnixNano())
		}
		s.secrets = h.Sum64()
		if f := t.m.cfg.NewsRules; f != nil {
			if s.rules, err = f(tx); err != nil {
				return err
			}
		}
		if f := t.m.cfg.Copy.Leaders; f != nil {
			if s.leaders, err = f(tx); err != nil {
				return err
			}
		}
		s.loadedAt = tx.Now()
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.snap.Store(s)
	return s, nil
}

// evaluate decides the runner's state from a snapshot: stopped, halted,
// refused (with the reason) or running.
func (t *tenant) evaluate(s *snapshot) (int32, string) {
	global := t.m.globalHalt()
	switch {
	case s.disabled:
		return stStopped, "the account is disabled"
	case !s.wanted:
		return stStopped, ""
	case global == polybot.HaltHalted:
		return stHalted, "trading is halted platform-wide by an administrator"
	case s.halt == polybot.HaltHalted:
		return stHalted, "trading is halted for this account"
	case global == polybot.HaltReducingOnly:
		return stHalted, "platform-wide reducing-only: no new positions"
	case s.halt == polybot.HaltReducingOnly:
		if why := t.nakedReason(); why != "" {
			return stHalted, "reducing-only: " + why
		}
		return stHalted, "reducing-only: no new positions"
	}
	t.setNaked("") // trading is active again: the user dealt with it
	now := t.m.now()
	p := s.profile
	if p.SubscriptionExpiresAt != nil && p.SubscriptionExpiresAt.Before(now) {
		return stRefused, fmt.Sprintf("the %s subscription expired on %s", p.SubscriptionTier, p.SubscriptionExpiresAt.UTC().Format("2006-01-02"))
	}
	strategy := false
	for _, name := range t.m.cfg.Strategies {
		strategy = strategy || s.cfg.Enabled(name, p.Features)
	}
	if !strategy {
		return stRefused, fmt.Sprintf("no strategy this bot runs is enabled by both your config and your %s plan (it runs %v)", p.SubscriptionTier, t.m.cfg.Strategies)
	}
	venue := false
	for _, v := range t.m.cfg.Venues {
		venue = venue || s.cfg.PlatformEnabled(v)
	}
	if !venue {
		return stRefused, fmt.Sprintf("no venue this bot trades is enabled (it trades %v)", t.m.cfg.Venues)
	}
	if s.mode() == polybot.Live {
		if used := p.TradesUsed(now); used >= p.MonthlyTradeLimit {
			return stRefused, fmt.Sprintf("the %s plan's monthly trade limit is reached (%d of %d in %s)",
				p.SubscriptionTier, used, p.MonthlyTradeLimit, polybot.QuotaMonth(now))
		}
	}
	return stRunning, ""
}

// setState records a state change, keeps the interest index in step and
// tells the tenant's subscribers.
func (t *tenant) setState(code int32, reason string) {
	t.mu.Lock()
	old := t.state.Load()
	changed := old != code || t.reason != reason
	t.state.Store(code)
	t.reason = reason
	now := t.m.now()
	if changed {
		t.updatedAt = now
	}
	if code == stRunning && (old == stRefused || old == stHalted) {
		t.lastError = "" // the refusal or halt is over: its error no longer applies
	}
	if code == stRunning && t.startedAt == nil {
		t.startedAt = &now
	}
	if code == stStopped {
		t.startedAt = nil
	}
	reg := code == stRunning
	regChanged := reg != t.registered
	t.registered = reg
	t.mu.Unlock()
	if regChanged {
		t.m.indexChanged()
	}
	if changed {
		t.m.stateChanged(old, code)
		t.publish("status", t.status())
		if h := t.m.cfg.Notify; h != nil && (code == stHalted || code == stRefused) {
			h.BotState(t.id, stateNames[code], reason)
		}
	}
}

// setNaked records (or, with "", clears) why the bot went reducing-only
// on its own.
func (t *tenant) setNaked(why string) {
	t.mu.Lock()
	t.naked = why
	t.mu.Unlock()
}

func (t *tenant) nakedReason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.naked
}

func (t *tenant) setError(msg string) {
	t.mu.Lock()
	t.lastError = msg
	t.updatedAt = t.m.now()
	t.mu.Unlock()
}

func (t *tenant) publish(typ string, data any) {
	ev := polybot.Event{Type: typ, Time: t.m.now(), Data: data}
	t.events.publish(ev)
	if t.m.cfg.Role != RoleAll {
		t.publishRemote(ev)
	}
}

func (t *tenant) status() polybot.BotStatus {
	st := polybot.BotStatus{Strategies: []string{}, Platforms: []polybot.Platform{}, Counters: t.c.snapshot()}
	if s := t.snap.Load(); s != nil {
		st.Mode = s.mode()
		// Only what this bot runs: a strategy the config enables but the
		// engine does not run is not shown as working.
		for _, name := range t.m.cfg.Strategies {
			if s.cfg.Enabled(name, s.profile.Features) {
				st.Strategies = append(st.Strategies, name)
			}
		}
		for _, p := range polybot.Platforms {
			if s.cfg.PlatformEnabled(p) {
				st.Platforms = append(st.Platforms, p)
			}
		}
		st.ConfigAt = s.cfg.UpdatedAt
	}
	t.mu.Lock()
	st.State = stateNames[t.state.Load()]
	st.Reason, st.LastError = t.reason, t.lastError
	if t.startedAt != nil {
		at := *t.startedAt
		st.StartedAt = &at
	}
	st.UpdatedAt = t.updatedAt
	t.mu.Unlock()
	return st
}

// running reports whether a supervisor goroutine exists for the tenant.
func (t *tenant) running() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cancel != nil
}

// start launches the tenant's supervisor under ctx unless it runs already;
// a running one is told to re-evaluate.
func (t *tenant) start(ctx context.Context) {
	t.mu.Lock()
	if t.cancel != nil {
		t.mu.Unlock()
		t.signal()
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.cancel, t.done = cancel, done
	t.mu.Unlock()
	if t.state.Load() == stStopped {
		t.setState(stStarting, "")
	}
	t.m.wg.Add(1)
	go func() {
		defer t.m.wg.Done()
		t.supervise(rctx)
		t.mu.Lock()
		if t.done == done {
			t.cancel, t.done = nil, nil
		}
		t.mu.Unlock()
		cancel()
		close(done)
	}()
}

// detach forgets the running supervisor, which is on its way out.
func (t *tenant) detach() {
	t.mu.Lock()
	t.cancel, t.done = nil, nil
	t.mu.Unlock()
}

// stop ends the supervisor and waits for it (or ctx).
func (t *tenant) stop(ctx context.Context) error {
	t.mu.Lock()
	cancel, done := t.cancel, t.done
	t.mu.Unlock()
	if cancel == nil {
		t.setState(stStopped, "")
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	t.setState(stStopped, "")
	return nil
}

// addPnL counts realised P&L by strategy for metrics.
func (t *tenant) addPnL(strategy string, d polybot.Decimal) {
	if i := strategyIndex(strategy); i >= 0 {
		t.pnl[i].Add(d.Micros())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// command is work run on the runner's goroutine, which owns the exchanges.
type command struct {
	fn   func(context.Context, *runner) error
	done chan error
}

// do runs fn on the tenant's runner and waits for it (or ctx).
func (t *tenant) do(ctx context.Context, fn func(context.Context, *runner) error) error {
	c := command{fn: fn, done: make(chan error, 1)}
	select {
	case t.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
