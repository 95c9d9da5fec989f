package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/process"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/strategy"
)

// ExchangeFactory builds a tenant's live Exchange on one venue from the
// tenant's decrypted key fields (creds: polybot.FieldAPIKey, FieldAPISecret,
// FieldPrivateKey, FieldPassphrase, whichever are stored) and the secret's
// non-secret AdditionalConfig (extra). paper is the stored key's paper flag
// (a venue's demo environment). The factory must copy what it keeps out of
// creds: the engine wipes creds as soon as it returns. It should make no
// network call; the engine validates on use. cmd injects it, so the engine
// never imports a venue connector.
type ExchangeFactory func(ctx context.Context, tenant polybot.ID, platform polybot.Platform, paper bool,
	creds secrets.Plaintext, extra json.RawMessage) (polybot.Exchange, error)

// WantsFunc reports whether a tenant's config wants an opportunity.
type WantsFunc func(cfg *polybot.Config, features polybot.Features, o *polybot.Opportunity) bool

// Config wires a Manager. Store and Hubs are required; the rest defaults.
type Config struct {
	Store polybot.Store
	// Secrets opens tenants' keys for live trading. Nil: dry-run only.
	Secrets *secrets.Box
	// Hubs are the shared market-data hubs, one per venue.
	Hubs map[polybot.Platform]*marketdata.Hub
	// Universe is what the dispatcher subscribes to and the strategies scan
	// (SetUniverse changes it at run time).
	Universe Universe
	// Strategy prices opportunities (nil: strategy.New with Clock).
	Strategy *strategy.Detector
	// Detector replaces the strategy detector over the universe (tests,
	// replays). SetUniverse then changes only the subscriptions.
	Detector Detector
	// Wants filters opportunities per tenant (nil: strategy.Wants).
	Wants WantsFunc
	// Fees are the dry-run fees (nil: the strategy detector's fee model).
	Fees FeeModel
	// ExchangeFactory builds live exchanges. Nil: dry-run only.
	ExchangeFactory ExchangeFactory
	Clock           polybot.Clock
	Logger          *slog.Logger
	// Notify hears opportunities and refusals for notifications (nil:
	// none). Fills, failed unwinds and naked positions are queued in the
	// transactions that record them.
	Notify polybot.NotifyHook

	// Strategies the bot runs (default single- and cross-platform
	// arbitrage); a tenant enabling none of them is refused.
	Strategies []string
	// Venues the bot trades (default Polymarket and Kalshi).
	Venues []polybot.Platform
	// LegOrder ranks venues from least to most liquid: on equal visible
	// size, a leg on an earlier venue is sent first (default Kalshi, then
	// Polymarket).
	LegOrder []polybot.Platform
	// NoFOK lists more venues whose legs are sent FAK, beyond those
	// without fill-or-kill (polybot.VenueFacts.FillOrKill).
	NoFOK []polybot.Platform
	// MailboxSize bounds each runner's inbox (default 4).
	MailboxSize int
	// RingSize is how many recent opportunities are kept (default 512).
	RingSize int
	// MaxOfferAge drops an offer a runner reaches later than this after
	// its book update (default 2s; negative disables).
	MaxOfferAge time.Duration
	// OrderTimeout bounds one venue request (default 10s).
	OrderTimeout time.Duration
	// RestartMin and RestartMax bound the restart backoff (100ms, 30s).
	RestartMin, RestartMax time.Duration
	// Recheck is how long a refused runner waits before checking again
	// on its own (default 1 minute).
	Recheck time.Duration
	// ReconcileEvery is how often unknown outcomes are queried (1s).
	ReconcileEvery time.Duration
	// UnknownGrace is how long an unknown order the venue does not know
	// stays unknown before it is closed as rejected (default 5s): then its
	// partner legs are unwound, so a leg is never left naked for long.
	UnknownGrace time.Duration
	// ReconcileWindow is how far back fills are read on start (24h).
	ReconcileWindow time.Duration
	// HaltPoll is how often the global halt state is read (default 2s).
	HaltPoll time.Duration
	// VenueRate and KeyRate are the rate limits per venue (all tenants)
	// and per tenant key.
	VenueRate, KeyRate Rate
	// TopTenants bounds the per-tenant metrics (default 20).
	TopTenants int
	// NewsRules reads a tenant's news rules in its transaction (the
	// store's TenantTx.NewsRules); nil: no tenant has rules, news
	// arbitrage never fires.
	NewsRules func(tx polybot.TenantTx) ([]*polybot.NewsRule, error)
	// NewsFires records what rules did with headlines (the store); nil:
	// not recorded.
	NewsFires func(ctx context.Context, f NewsFire) error
	// BusHeadline, on a worker, receives each webhook headline it took
	// from the bus for a tenant it runs (news_bus.go): cmd passes it
	// through the worker's news pipeline (de-duplication, the store) to
	// TenantHeadline, as a headline received here. Nil: TenantHeadline.
	BusHeadline func(tenant polybot.ID, h polybot.Headline)
	// Leaders reads followed wallets' trades (copy trading; nil: off), and
	// Copy is the store's part; CopyEvery is how often each followed wallet
	// is polled (default 2 s).
	Leaders   LeaderSource
	Copy      CopyStore
	CopyEvery time.Duration
	// Observer, when set, receives latency measurements (see Metrics).
	Observer Observer

	// Role is the part of the engine this process runs (default RoleAll).
	// Every other role needs Bus and a PostgreSQL Store (the leases).
	Role Role
	Bus  polybot.Bus
	// GatewayID names the gateway (its results queue; default "gateway").
	GatewayID string
	// WorkerID names a worker (its grants queue and leases), Capacity is
	// how many tenants it runs at most (default 1000), LeaseTTL how long
	// a lease lasts unrenewed (default 15s; renewed every third of it).
	WorkerID string
	Capacity int
	LeaseTTL time.Duration

	// Runner, on a worker, runs each held tenant whose plan has
	// Features.OwnProcess in a process of its own (Tier 2) instead of a
	// goroutine: it is that process (`polybot runner`) for the tenant
	// under the lease epoch the worker holds, supervised by
	// internal/process (limits, restart with backoff). Nil: every tenant
	// runs in this process. RunnerGrace is how long such a process has
	// between SIGTERM and SIGKILL when the worker lets the tenant go
	// (default 5s).
	Runner      func(tenant polybot.ID, epoch int64) process.Spec
	RunnerGrace time.Duration
	// Only makes a worker the process of one tenant that its worker
	// (WorkerID) started under lease epoch OnlyEpoch: it claims nothing,
	// takes the tenant's grants from the queue grants.<WorkerID>.<Only>,
	// reads the lease every LeaseTTL/3, and Run returns (an EFORBIDDEN
	// error) once that epoch is not the tenant's current, unexpired lease.
	Only      polybot.ID
	OnlyEpoch int64
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = polybot.SystemClock
	}
	if c.CopyEvery <= 0 {
		c.CopyEvery = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Strategy == nil {
		c.Strategy = strategy.New(strategy.Config{Now: c.Clock})
	}
	if c.Wants == nil {
		c.Wants = strategy.Wants
	}
	if c.Fees == nil {
		c.Fees = c.Strategy.Fees()
	}
	if len(c.Strategies) == 0 {
		c.Strategies = []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform}
	}
	if len(c.Venues) == 0 {
		c.Venues = []polybot.Platform{polybot.Polymarket, polybot.Kalshi}
	}
	if len(c.LegOrder) == 0 {
		c.LegOrder = []polybot.Platform{polybot.Kalshi, polybot.Polymarket}
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.MaxOfferAge, 2*time.Second)
	set(&c.OrderTimeout, 10*time.Second)
	set(&c.RestartMin, 100*time.Millisecond)
	set(&c.RestartMax, 30*time.Second)
	set(&c.Recheck, time.Minute)
	set(&c.ReconcileEvery, time.Second)
	set(&c.UnknownGrace, 5*time.Second)
	set(&c.ReconcileWindow, 24*time.Hour)
	set(&c.HaltPoll, 2*time.Second)
	if c.MailboxSize <= 0 {
		c.MailboxSize = 4
	}
	if c.RingSize <= 0 {
		c.RingSize = 512
	}
	if c.VenueRate == (Rate{}) {
		c.VenueRate = DefaultVenueRate
	}
	if c.KeyRate == (Rate{}) {
		c.KeyRate = DefaultKeyRate
	}
	if c.TopTenants <= 0 {
		c.TopTenants = 20
	}
	if c.Role == "" {
		c.Role = RoleAll
	}
	if c.GatewayID == "" {
		c.GatewayID = "gateway"
	}
	if c.Capacity <= 0 {
		c.Capacity = 1000
	}
	set(&c.LeaseTTL, 15*time.Second)
	set(&c.RunnerGrace, 5*time.Second)
}

// Manager runs every tenant's bot in this process: a polybot.BotManager.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	books hubBooks
	fees  FeeModel
	val   *valuer
	det   atomic.Pointer[detectorRef]
	fixed bool // cfg.Detector was given

	venueLim map[polybot.Platform]*limiter

	mu        sync.Mutex
	tenants   map[polybot.ID]*tenant
	tenantSeq atomic.Uint64 // tenants created
	runCtx    context.Context
	wg        sync.WaitGroup

	index      atomic.Pointer[interestIndex]
	indexDirty chan struct{}
	idxMu      sync.Mutex
	idxReq     uint64        // index changes asked for
	idxBuilt   uint64        // changes the current index includes
	idxDone    chan struct{} // closed when an index is built
	global     atomic.Int32  // 0 active, 1 reducing-only, 2 halted

	ring     ring
	kick     chan struct{}
	universe chan Universe
	uniMu    sync.Mutex // guards cfg.Universe for ReloadRegistry
	// opposites: instKey → the other outcome of markets trades named
	// outside the universe (learnMarket).
	opposites sync.Map

	disp  *dispatcher   // routing and depth allocation
	news  *newsDesk     // headlines → news rules → trades, and their exits
	copy  *copyDesk     // followed wallets → copies and exits
	paper *paperBook    // the liquidity every dry-run tenant of this process shares
	gw    *gateway      // RoleGateway: leases' holders, grants out, views out
	api   *apiView      // RoleAPI: statuses and opportunities from the bus
	claim chan struct{} // RoleWorker: claim or renew leases now

	states                                         [len(stateNames)]atomic.Int64
	batches, views, opps, repeats, deliveries      atomic.Int64
	considered, moved                              atomic.Int64
	detectPanics, panics, restarts, indexBuilds    atomic.Int64
	fills, unwinds, unknown, stale, subscribeFails atomic.Int64
	procsUp, procExits, procOOMs                   atomic.Int64 // RoleWorker with Runner: tenants' own processes

	// onDecision, when set (tests, benchmarks), sees every decision the
	// dispatcher takes for a tenant: the sets granted (zero: none, or not
	// wanted), and when it was fixed (a tenant route did not reach is
	// decided when route ends, and told later: dispatcher.settle). onAct sees a runner start executing a grant. onTake sees
	// a grant from the gateway put in its tenant's mailbox (RoleWorker),
	// with when it reached takeGrant; onSend sees a runner about to send
	// a grant's first leg, its intents recorded.
	onDecision func(t polybot.ID, o *polybot.Opportunity, got polybot.Decimal, at time.Time)
	onAct      func(ctx context.Context, t polybot.ID, g Grant)
	// onProcess, when set (tests), sees a tenant's own process start
	// (exit nil) and end.
	onProcess func(t polybot.ID, pid int, exit *process.Exit)
	onTake    func(g *Grant, arrived time.Time)
	onSend    func(t polybot.ID, g *Grant)
}

type detectorRef struct{ Detector }

var _ polybot.BotManager = (*Manager)(nil)

// New returns a Manager; Run starts it.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: Config.Store is required")
	}
	cfg.defaults()
	if _, err := ParseRole(string(cfg.Role)); err != nil {
		return nil, err
	}
	if cfg.Role != RoleAll && cfg.Bus == nil {
		return nil, fmt.Errorf("engine: role %s needs a message bus", cfg.Role)
	}
	if cfg.Role == RoleWorker {
		if err := polybot.CheckLeaseClaim(cfg.WorkerID, cfg.Capacity, cfg.LeaseTTL); err != nil {
			return nil, err
		}
	}
	if (cfg.Only != polybot.NilID || cfg.OnlyEpoch != 0) && (cfg.Role != RoleWorker || cfg.Only == polybot.NilID || cfg.OnlyEpoch <= 0 || cfg.Runner != nil) {
		return nil, errors.New("engine: Only needs the worker role, a lease epoch (OnlyEpoch > 0) and no Runner")
	}
	if cfg.Runner != nil && cfg.Role != RoleWorker {
		return nil, errors.New("engine: Runner is for the worker role")
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With("component", "engine"), books: hubBooks(cfg.Hubs), fees: cfg.Fees,
		venueLim: map[polybot.Platform]*limiter{}, tenants: map[polybot.ID]*tenant{},
		indexDirty: make(chan struct{}, 1), idxDone: make(chan struct{}), kick: make(chan struct{}, 1), universe: make(chan Universe, 1),
	}
	if m.books == nil {
		m.books = hubBooks{}
	}
	m.val = newValuer(m.books, cfg.Fees, cfg.Clock, cfg.Universe)
	m.disp = newDispatcher(m)
	m.news = newNewsDesk(m)
	m.copy = newCopyDesk(m)
	m.paper = newPaperBook(m.books)
	m.claim = make(chan struct{}, 1)
	if cfg.Role == RoleWorker {
		m.cfg.Store = fencedStore{Store: cfg.Store, m: m}
	}
	switch cfg.Role {
	case RoleGateway:
		m.gw = newGateway(m)
	case RoleAPI:
		m.api = &apiView{status: map[polybot.ID]WorkerStatus{}}
	}
	for _, p := range polybot.Platforms {
		m.venueLim[p] = newLimiter(cfg.VenueRate)
	}
	if cfg.Detector != nil {
		m.fixed = true
		m.det.Store(&detectorRef{cfg.Detector})
	} else {
		m.det.Store(&detectorRef{NewStrategyDetector(cfg.Strategy, cfg.Universe)})
	}
	m.ring.init(cfg.RingSize)
	m.index.Store(&interestIndex{})
	m.global.Store(2) // halted until the first read says otherwise: fail closed
	return m, nil
}

func (m *Manager) now() time.Time                           { return m.cfg.Clock() }
func (m *Manager) detector() Detector                       { return m.det.Load().Detector }
func (m *Manager) venueLimiter(p polybot.Platform) *limiter { return m.venueLim[p] }

func (m *Manager) wants(cfg *polybot.Config, f polybot.Features, o *polybot.Opportunity) bool {
	return m.cfg.Wants(cfg, f, o)
}

func (m *Manager) globalHalt() string {
	switch m.global.Load() {
	case 1:
		return polybot.HaltReducingOnly
	case 2:
		return polybot.HaltHalted
	}
	return polybot.HaltActive
}

func (m *Manager) stateChanged(old, code int32) {
	m.states[old].Add(-1)
	m.states[code].Add(1)
}

// decide reports a decision to onDecision: at is when it was fixed (zero:
// now).
func (m *Manager) decide(t *tenant, o *polybot.Opportunity, got polybot.Decimal, at time.Time) {
	if m.onDecision != nil {
		if at.IsZero() {
			at = time.Now()
		}
		m.onDecision(t.id, o, got, at)
	}
}

// tenant returns the tenant's state, creating it.
func (m *Manager) tenant(id polybot.ID) *tenant {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tenants[id]
	if t == nil {
		t = newTenant(m, id)
		m.tenants[id] = t
		m.states[stStopped].Add(1)
	}
	return t
}

func (m *Manager) lookup(id polybot.ID) *tenant {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tenants[id]
}

func (m *Manager) context() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runCtx
}

// Run starts the bots of every active user who wants one, the dispatcher,
// the index builder and the global halt watch, and serves until ctx ends;
// then it stops every runner and returns.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return errors.New("engine: Run called twice")
	}
	m.runCtx = ctx
	m.mu.Unlock()
	if err := m.pollHalt(ctx); err != nil {
		m.log.Warn("reading the global halt state failed; trading stays halted until it is read", "err", err)
	}
	switch m.cfg.Role {
	case RoleWorker: // its tenants come by lease
		return m.runWorker(ctx)
	case RoleAPI:
		return m.runAPI(ctx)
	}
	var ids []polybot.ID
	err := m.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) error {
		var err error
		ids, err = tx.BotUserIDs()
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if m.cfg.Role == RoleGateway {
		return m.runGateway(ctx, ids)
	}
	m.rebuildIndex()
	var bg sync.WaitGroup
	bg.Add(5)
	go func() { defer bg.Done(); m.news.run(ctx) }()
	go func() { defer bg.Done(); m.copy.run(ctx) }()
	go func() { defer bg.Done(); m.indexer(ctx) }()
	go func() { defer bg.Done(); m.disp.run(ctx) }()
	go func() { defer bg.Done(); m.watchHalt(ctx) }()
	for _, id := range ids {
		m.tenant(id).start(ctx)
	}
	m.log.Info("bot manager started", "bots", len(ids))
	<-ctx.Done()
	bg.Wait()
	m.wg.Wait()
	return nil
}

func (m *Manager) pollHalt(ctx context.Context) error {
	var st string
	err := m.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) error {
		var err error
		st, err = tx.GlobalHalt()
		return err
	})
	if err != nil {
		return err
	}
	code := int32(0)
	switch st {
	case polybot.HaltReducingOnly:
		code = 1
	case polybot.HaltHalted:
		code = 2
	}
	if m.global.Swap(code) != code {
		m.log.Info("global halt state", "state", st)
		if m.cfg.Role == RoleGateway {
			m.reevaluateAll()
			return nil
		}
		m.mu.Lock()
		for _, t := range m.tenants {
			t.signal()
		}
		m.mu.Unlock()
	}
	return nil
}

func (m *Manager) watchHalt(ctx context.Context) {
	tick := time.NewTicker(m.cfg.HaltPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := m.pollHalt(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("reading the global halt state failed", "err", err)
			}
		}
	}
}

// RefreshHalt reads the global halt state now (after an admin changed it)
// instead of at the next poll.
func (m *Manager) RefreshHalt(ctx context.Context) error {
	if m.cfg.Role == RoleAPI {
		if err := m.sendControl(Control{Op: "halt"}); err != nil {
			return err
		}
	}
	return m.pollHalt(ctx)
}

// Start marks the tenant's bot wanted and starts it.
func (m *Manager) Start(ctx context.Context, id polybot.ID) error {
	if err := m.cfg.Store.Tenant(ctx, id, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(true) }); err != nil {
		return err
	}
	if m.cfg.Role != RoleAll {
		// A worker claims the tenant at its next lease round; the
		// gateway follows its settings from now.
		return m.sendControl(Control{Op: "start", Tenant: id})
	}
	t := m.tenant(id)
	if rc := m.context(); rc != nil {
		t.start(rc)
	}
	return nil
}

// Stop marks the tenant's bot unwanted and stops it.
func (m *Manager) Stop(ctx context.Context, id polybot.ID) error {
	if err := m.cfg.Store.Tenant(ctx, id, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(false) }); err != nil {
		return err
	}
	if m.cfg.Role != RoleAll {
		// The worker's next renewal ends the lease and stops the runner.
		return m.sendControl(Control{Op: "stop", Tenant: id})
	}
	if t := m.lookup(id); t != nil {
		return t.stop(ctx)
	}
	return nil
}

// Reload makes a running bot use its stored config, limits, halt state and
// keys now: the new config is in effect (for every decision the runner takes
// from then on) when Reload returns; the interest index follows within
// milliseconds, and keys or mode changes rebuild the exchanges in the
// runner without a restart. A bot that is not running is left alone.
func (m *Manager) Reload(ctx context.Context, id polybot.ID) error {
	if m.cfg.Role == RoleAPI {
		if t := m.lookup(id); t != nil {
			_, _ = t.load(ctx)
		}
		return m.sendControl(Control{Op: "reload", Tenant: id})
	}
	t := m.lookup(id)
	if t == nil || !t.running() {
		return nil
	}
	if _, err := t.load(ctx); err != nil {
		return err
	}
	t.fresh.Store(true)
	gen := m.indexChanged()
	t.signal()
	if m.cfg.Role == RoleWorker {
		// A worker routes nothing (the gateway does) and builds no
		// index: the runner has the new snapshot when it wakes.
		m.switchProcess(ctx, t)
		return nil
	}
	return m.waitIndexed(ctx, gen)
}

// Status reports the tenant's bot.
func (m *Manager) Status(ctx context.Context, id polybot.ID) polybot.BotStatus {
	if m.cfg.Role == RoleAPI {
		return m.apiStatus(ctx, id)
	}
	t := m.tenant(id)
	if t.snap.Load() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = t.load(ctx)
		cancel()
	}
	return t.status()
}

// Opportunities returns the recent opportunities the tenant's config
// wants, newest first.
func (m *Manager) Opportunities(_ context.Context, id polybot.ID, limit int) []polybot.Opportunity {
	t := m.tenant(id)
	s := t.snap.Load()
	if s == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, _ = t.load(ctx)
		cancel()
	}
	if s == nil {
		return nil
	}
	if m.cfg.Role == RoleAPI {
		return m.apiOpportunities(s, limit)
	}
	return m.ring.list(limit, func(o *polybot.Opportunity) bool { return m.wants(s.cfg, s.profile.Features, o) })
}

// Subscribe streams the tenant's events (status, opportunity, intent, fill,
// pnl). A subscriber that falls behind loses events; it never slows the
// bot.
func (m *Manager) Subscribe(id polybot.ID) (<-chan polybot.Event, func()) {
	if m.cfg.Role == RoleAPI {
		return m.apiSubscribe(id)
	}
	return m.tenant(id).events.subscribe()
}

// SetUniverse changes what the dispatcher watches (after the matched-market
// registry changed).
func (m *Manager) SetUniverse(u Universe) {
	m.val.setHedges(u)
	for {
		select {
		case m.universe <- u:
			m.kickDispatcher()
			return
		default:
		}
		select {
		case <-m.universe:
		default:
		}
	}
}

// Valuer prices holdings as the risk gate does (last good marks, exit
// fees, complete sets), for the server's positions, P&L and bot views.
func (m *Manager) Valuer() polybot.Valuer { return m.val }

// CancelOpenOrders cancels the tenant's open orders at the venues and
// records the outcome. It works whatever the halt state (cancels only
// reduce risk) and returns how many orders were cancelled.
func (m *Manager) CancelOpenOrders(ctx context.Context, id polybot.ID) (int, error) {
	if m.cfg.Role == RoleAPI {
		// The worker holding the tenant cancels; the orders page shows
		// the outcome as it is recorded.
		return 0, m.sendControl(Control{Op: "cancel", Tenant: id})
	}
	t := m.lookup(id)
	if t == nil || !t.running() {
		return 0, polybot.Errorf(polybot.EUNAVAILABLE, "the bot is not running")
	}
	var n int
	err := t.do(ctx, func(ctx context.Context, r *runner) error {
		if r.ex == nil {
			return polybot.Errorf(polybot.EUNAVAILABLE, "the bot has no venue connection now (%s)", stateNames[t.state.Load()])
		}
		var err error
		n, err = r.cancelOpen(ctx)
		return err
	})
	return n, err
}

// indexChanged asks for the interest index to be rebuilt and returns the
// generation that will include the change. Many changes share one build.
func (m *Manager) indexChanged() uint64 {
	m.idxMu.Lock()
	m.idxReq++
	gen := m.idxReq
	m.idxMu.Unlock()
	select {
	case m.indexDirty <- struct{}{}:
	default:
	}
	return gen
}

// waitIndexed waits until the index includes generation gen (a no-op
// before Run, which builds the first index).
func (m *Manager) waitIndexed(ctx context.Context, gen uint64) error {
	if m.context() == nil {
		return nil
	}
	for {
		m.idxMu.Lock()
		built, ch := m.idxBuilt, m.idxDone
		m.idxMu.Unlock()
		if built >= gen {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *Manager) indexer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.indexDirty:
			m.rebuildIndex()
		}
	}
}

func (m *Manager) rebuildIndex() {
	m.idxMu.Lock()
	gen := m.idxReq
	m.idxMu.Unlock()
	defer func() {
		m.idxMu.Lock()
		if gen > m.idxBuilt {
			m.idxBuilt = gen
		}
		close(m.idxDone)
		m.idxDone = make(chan struct{})
		m.idxMu.Unlock()
	}()
	m.mu.Lock()
	ts := make([]*tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		ts = append(ts, t)
	}
	m.mu.Unlock()
	// A gateway indexes only the tenants a worker holds: nothing is
	// granted to the others, and routing need not pass them by
	// (watchLeases asks for a rebuild when that set changes).
	var held map[polybot.ID]string
	if m.gw != nil {
		held = *m.gw.holders.Load()
	}
	reg := ts[:0]
	for _, t := range ts {
		t.mu.Lock()
		ok := t.registered
		t.mu.Unlock()
		if ok && (held == nil || held[t.id] != "") {
			reg = append(reg, t)
		}
	}
	m.index.Store(buildIndex(reg))
	m.indexBuilds.Add(1)
}

// ReloadRegistry re-reads the registries (matched pairs, outcome sets,
// relations) and watches what they approve from now on, keeping the other
// single-platform markets. The server calls it after an admin changes an
// entry.
func (m *Manager) ReloadRegistry(ctx context.Context) error {
	var h polybot.Hedges
	err := m.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) {
		h, err = polybot.LoadHedges(tx)
		return err
	})
	if err != nil {
		return err
	}
	m.uniMu.Lock()
	m.cfg.Universe.Pairs, m.cfg.Universe.Sets, m.cfg.Universe.Relations = h.Pairs, h.Sets, h.Relations
	u := m.cfg.Universe
	m.uniMu.Unlock()
	m.SetUniverse(u)
	return nil
}
