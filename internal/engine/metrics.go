package engine

import (
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polybot/polybot"
)

// Snapshot is the engine's metrics at one moment, for /metrics.
type Snapshot struct {
	Time time.Time
	// System-wide gauges.
	Tenants          int              // tenants the manager knows (bots started, or asked about)
	Runners          int              // runner goroutines alive
	ActiveTenants    int64            // bots in state running
	ByState          map[string]int64 // bots by state
	Indexed          int              // tenants in the interest index
	HubSubscriptions int64            // open hub subscriptions, all venues
	HubInstruments   int64            // instruments with a subscriber, all venues
	Goroutines       int
	// System-wide counters.
	Batches, Views, Opportunities, Repeats, Deliveries int64
	DetectPanics, RunnerPanics, Restarts               int64
	Fills, Unwinds, UnknownOutcomes, StaleOffers       int64
	BookMoved                                          int64 // executions called off: the book moved before the first leg
	GrantsHeld                                         int   // grants of depth lent and not yet resolved
	MailboxConflated, MailboxDropped, EventsDropped    int64
	VenueRateWaits                                     map[polybot.Platform]int64

	// Tenants' own processes (a worker with Config.Runner): up now, and
	// how many ended (and of those, out of their memory limit).
	RunnerProcesses, ProcessExits, ProcessOOMs int64

	// PerTenant holds every tenant with any activity, most active first.
	// Metrics folds them into a bounded label set.
	PerTenant []TenantMetrics
}

// TenantMetrics are one tenant's counters since the manager started (or
// the sum of the "other" tenants').
type TenantMetrics struct {
	Tenant      string
	Counters    polybot.BotCounters
	RealizedPnL map[string]polybot.Decimal // by strategy, since the manager started
	RateWaits   int64                      // requests that waited for the key's rate limit
	Throttled   int64                      // 429s (Retry-After) from the venues
}

func (t *TenantMetrics) activity() int64 {
	c := t.Counters
	return c.Intents + c.Fills + c.Rejected + c.Errors + c.Opportunities
}

func (t *TenantMetrics) add(o *TenantMetrics) {
	a, b := &t.Counters, o.Counters
	a.Opportunities += b.Opportunities
	a.Intents += b.Intents
	a.Fills += b.Fills
	a.Rejected += b.Rejected
	a.Unwinds += b.Unwinds
	a.Errors += b.Errors
	a.Restarts += b.Restarts
	for k, v := range o.RealizedPnL {
		t.RealizedPnL[k] = t.RealizedPnL[k].Add(v)
	}
	t.RateWaits += o.RateWaits
	t.Throttled += o.Throttled
}

// Snapshot returns the engine's metrics. It reads every tenant's counters
// (atomics): cheap enough for a scrape every few seconds.
func (m *Manager) Snapshot() Snapshot {
	s := Snapshot{Time: m.now(), ByState: map[string]int64{}, Goroutines: runtime.NumGoroutine(),
		VenueRateWaits: map[polybot.Platform]int64{}}
	for i, n := range stateNames {
		s.ByState[n] = m.states[i].Load()
	}
	s.ActiveTenants = s.ByState[polybot.BotRunning]
	s.Indexed = m.index.Load().tenants
	for _, h := range m.cfg.Hubs {
		st := h.Stats()
		s.HubSubscriptions += st.Subscriptions
		s.HubInstruments += st.Instruments
	}
	s.Batches, s.Views, s.Opportunities = m.batches.Load(), m.views.Load(), m.opps.Load()
	s.Repeats, s.Deliveries = m.repeats.Load(), m.deliveries.Load()
	s.DetectPanics, s.RunnerPanics, s.Restarts = m.detectPanics.Load(), m.panics.Load(), m.restarts.Load()
	s.RunnerProcesses, s.ProcessExits, s.ProcessOOMs = m.procsUp.Load(), m.procExits.Load(), m.procOOMs.Load()
	s.Fills, s.Unwinds, s.UnknownOutcomes, s.StaleOffers = m.fills.Load(), m.unwinds.Load(), m.unknown.Load(), m.stale.Load()
	s.BookMoved = m.moved.Load()
	if m.disp != nil {
		s.GrantsHeld = m.disp.held()
	}
	for p, l := range m.venueLim {
		s.VenueRateWaits[p] = l.waits.Load()
	}
	m.mu.Lock()
	ts := make([]*tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		ts = append(ts, t)
	}
	m.mu.Unlock()
	s.Tenants = len(ts)
	all := make([]TenantMetrics, 0, len(ts))
	for _, t := range ts {
		if t.running() {
			s.Runners++
		}
		t.box.mu.Lock()
		s.MailboxConflated += int64(t.box.conflated)
		s.MailboxDropped += int64(t.box.dropped)
		t.box.mu.Unlock()
		s.EventsDropped += t.events.dropped.Load()
		tm := TenantMetrics{Tenant: t.id.String(), Counters: t.c.snapshot(), RealizedPnL: map[string]polybot.Decimal{}}
		for i, name := range strategyNames {
			if v := t.pnl[i].Load(); v != 0 {
				tm.RealizedPnL[name] = polybot.DecimalFromMicros(v)
			}
		}
		for i := range t.keyLim {
			if l := t.keyLim[i].Load(); l != nil {
				tm.RateWaits += l.waits.Load()
				tm.Throttled += l.throttled.Load()
			}
		}
		if tm.activity() > 0 || tm.Counters.Restarts > 0 {
			all = append(all, tm)
		}
	}
	slices.SortFunc(all, func(a, b TenantMetrics) int {
		switch x, y := a.activity(), b.activity(); {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		if a.Tenant < b.Tenant {
			return -1
		}
		return 1
	})
	s.PerTenant = all
	return s
}

// Observer receives the engine's latency measurements (Config.Observer).
// It is called on the execution path, so it must be cheap and never block.
type Observer interface {
	// TickToOrder is the time from the dispatch of the book update that
	// produced an opportunity to its first order going to the venue.
	TickToOrder(d time.Duration)
}

// observeTickToOrder is the execution path's one metrics hook.
func (m *Manager) observeTickToOrder(at time.Time) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.TickToOrder(time.Since(at))
	}
}

// tickBuckets span 100 µs (books in memory, dry run) to 2.5 s (a slow store
// round trip and a queued rate limit), in seconds.
var tickBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Metrics exposes a Manager to Prometheus: a prometheus.Collector that reads
// Snapshot at each scrape, and the Observer that records tick-to-order
// latency. Create it before the Manager, pass it as Config.Observer, then
// Watch the Manager.
//
// # Per-tenant cardinality
//
// Per-tenant series carry a tenant label with at most TopTenants+1 values:
// the first TopTenants tenants seen with any activity keep their own label
// for the life of the process, and every other tenant is summed under
// tenant="other". A tenant never moves between its own label and "other",
// and tenants are never forgotten, so every per-tenant counter is monotonic:
// rate() and increase() are safe on them (a process restart is an ordinary
// counter reset).
type Metrics struct {
	top         int
	tickToOrder prometheus.Histogram
	newsToOrder prometheus.Histogram

	mu    sync.Mutex
	m     *Manager
	named map[string]bool // tenants with their own label
}

// NewMetrics returns a collector whose per-tenant series name at most
// topTenants tenants (default 20).
func NewMetrics(topTenants int) *Metrics {
	if topTenants <= 0 {
		topTenants = 20
	}
	return &Metrics{
		top: topTenants,
		tickToOrder: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "polybot_engine_tick_to_order_seconds",
			Help:    "Time from the dispatch of a book update to the first order of the opportunity it produced going to the venue.",
			Buckets: tickBuckets,
		}),
		newsToOrder: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "polybot_news_headline_to_order_seconds",
			Help:    "Time from a headline's receipt to the first order of the news trade a rule made of it going to the venue.",
			Buckets: tickBuckets,
		}),
		named: map[string]bool{},
	}
}

// Watch sets the Manager whose state is collected.
func (x *Metrics) Watch(m *Manager) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m = m
}

// TickToOrder implements Observer.
func (x *Metrics) TickToOrder(d time.Duration) { x.tickToOrder.Observe(d.Seconds()) }

// NewsToOrder implements NewsObserver.
func (x *Metrics) NewsToOrder(d time.Duration) { x.newsToOrder.Observe(d.Seconds()) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

const perTenantHelp = " Per tenant: the first tenants active since start keep their own label (at most TopTenants), the rest are summed as tenant=\"other\"."

var (
	systemGauges = []struct {
		d *prometheus.Desc
		v func(*Snapshot) int64
	}{
		{desc("polybot_engine_tenants", "Tenants the bot manager knows."), func(s *Snapshot) int64 { return int64(s.Tenants) }},
		{desc("polybot_engine_runners", "Bot runner goroutines alive."), func(s *Snapshot) int64 { return int64(s.Runners) }},
		{desc("polybot_engine_active_tenants", "Bots in state running."), func(s *Snapshot) int64 { return s.ActiveTenants }},
		{desc("polybot_engine_indexed_tenants", "Tenants in the opportunity interest index."), func(s *Snapshot) int64 { return int64(s.Indexed) }},
		{desc("polybot_engine_hub_subscriptions", "Open market-data hub subscriptions."), func(s *Snapshot) int64 { return s.HubSubscriptions }},
		{desc("polybot_engine_hub_instruments", "Instruments with a hub subscriber."), func(s *Snapshot) int64 { return s.HubInstruments }},
		{desc("polybot_engine_goroutines", "Goroutines in the process."), func(s *Snapshot) int64 { return int64(s.Goroutines) }},
		{desc("polybot_engine_grants_held", "Grants of book depth lent to bots and not yet resolved."), func(s *Snapshot) int64 { return int64(s.GrantsHeld) }},
		{desc("polybot_engine_runner_processes", "Tenants' own runner processes up (Tier 2)."), func(s *Snapshot) int64 { return s.RunnerProcesses }},
	}
	systemCounters = []struct {
		d *prometheus.Desc
		v func(*Snapshot) int64
	}{
		{desc("polybot_engine_dispatch_batches_total", "Batches of changed books the dispatcher processed."), func(s *Snapshot) int64 { return s.Batches }},
		{desc("polybot_engine_dispatch_views_total", "Changed book views the dispatcher read."), func(s *Snapshot) int64 { return s.Views }},
		{desc("polybot_engine_opportunities_total", "New opportunities detected."), func(s *Snapshot) int64 { return s.Opportunities }},
		{desc("polybot_engine_opportunity_repeats_total", "Re-detections of an already delivered book state."), func(s *Snapshot) int64 { return s.Repeats }},
		{desc("polybot_engine_deliveries_total", "Opportunities delivered to tenant mailboxes."), func(s *Snapshot) int64 { return s.Deliveries }},
		{desc("polybot_engine_mailbox_conflated_total", "Offers replaced by a newer one in a mailbox."), func(s *Snapshot) int64 { return s.MailboxConflated }},
		{desc("polybot_engine_mailbox_dropped_total", "Offers dropped from a full mailbox."), func(s *Snapshot) int64 { return s.MailboxDropped }},
		{desc("polybot_engine_events_dropped_total", "Events a slow subscriber missed."), func(s *Snapshot) int64 { return s.EventsDropped }},
		{desc("polybot_engine_detect_panics_total", "Panics recovered in opportunity detection."), func(s *Snapshot) int64 { return s.DetectPanics }},
		{desc("polybot_engine_runner_panics_total", "Panics recovered in bot runners."), func(s *Snapshot) int64 { return s.RunnerPanics }},
		{desc("polybot_engine_runner_restarts_total", "Bot runner restarts after a failure."), func(s *Snapshot) int64 { return s.Restarts }},
		{desc("polybot_engine_runner_process_exits_total", "Tenants' own runner processes that ended and were restarted."), func(s *Snapshot) int64 { return s.ProcessExits }},
		{desc("polybot_engine_runner_process_oom_total", "Tenants' own runner processes that ran out of their memory limit."), func(s *Snapshot) int64 { return s.ProcessOOMs }},
		{desc("polybot_engine_fills_total", "Fills recorded."), func(s *Snapshot) int64 { return s.Fills }},
		{desc("polybot_engine_unwinds_total", "Legs unwound after a partner leg failed."), func(s *Snapshot) int64 { return s.Unwinds }},
		{desc("polybot_engine_unknown_outcomes_total", "Orders whose outcome was unknown (resolved by query)."), func(s *Snapshot) int64 { return s.UnknownOutcomes }},
		{desc("polybot_engine_stale_offers_total", "Offers a runner reached too late to act on."), func(s *Snapshot) int64 { return s.StaleOffers }},
		{desc("polybot_engine_book_moved_total", "Executions called off because the book moved before the first leg."), func(s *Snapshot) int64 { return s.BookMoved }},
	}
	botsDesc       = desc("polybot_engine_bots", "Bots by state.", "state")
	venueWaitsDesc = desc("polybot_engine_venue_rate_waits_total", "Requests that waited for a venue-wide rate limit.", "venue")
	perTenant      = []struct {
		d *prometheus.Desc
		v func(*TenantMetrics) int64
	}{
		{desc("polybot_bot_opportunities_total", "Opportunities the bot wanted."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Opportunities }},
		{desc("polybot_bot_intents_total", "Order intents that passed the risk gate."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Intents }},
		{desc("polybot_bot_fills_total", "Fills (trades)."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Fills }},
		{desc("polybot_bot_rejected_total", "Orders the risk gate refused."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Rejected }},
		{desc("polybot_bot_unwinds_total", "Legs unwound."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Unwinds }},
		{desc("polybot_bot_errors_total", "Errors."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Errors }},
		{desc("polybot_bot_restarts_total", "Runner restarts."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Counters.Restarts }},
		{desc("polybot_bot_rate_limit_waits_total", "Requests that waited for the key's rate limit."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.RateWaits }},
		{desc("polybot_bot_throttled_total", "Venue 429 answers (Retry-After honoured)."+perTenantHelp, "tenant"), func(t *TenantMetrics) int64 { return t.Throttled }},
	}
	pnlDesc = desc("polybot_bot_realized_pnl_dollars", "Realised P&L by strategy since the manager started."+perTenantHelp, "tenant", "strategy")
)

// Describe implements prometheus.Collector.
func (x *Metrics) Describe(ch chan<- *prometheus.Desc) {
	x.tickToOrder.Describe(ch)
	x.newsToOrder.Describe(ch)
	for _, g := range systemGauges {
		ch <- g.d
	}
	for _, c := range systemCounters {
		ch <- c.d
	}
	ch <- botsDesc
	ch <- venueWaitsDesc
	for _, p := range perTenant {
		ch <- p.d
	}
	ch <- pnlDesc
}

// Collect implements prometheus.Collector.
func (x *Metrics) Collect(ch chan<- prometheus.Metric) {
	x.tickToOrder.Collect(ch)
	x.newsToOrder.Collect(ch)
	x.mu.Lock()
	m := x.m
	x.mu.Unlock()
	if m == nil {
		return
	}
	s := m.Snapshot()
	for _, g := range systemGauges {
		ch <- prometheus.MustNewConstMetric(g.d, prometheus.GaugeValue, float64(g.v(&s)))
	}
	for _, c := range systemCounters {
		ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, float64(c.v(&s)))
	}
	for _, st := range stateNames {
		ch <- prometheus.MustNewConstMetric(botsDesc, prometheus.GaugeValue, float64(s.ByState[st]), st)
	}
	for _, p := range polybot.Platforms {
		ch <- prometheus.MustNewConstMetric(venueWaitsDesc, prometheus.CounterValue, float64(s.VenueRateWaits[p]), string(p))
	}
	for _, t := range x.fold(s.PerTenant) {
		for _, p := range perTenant {
			ch <- prometheus.MustNewConstMetric(p.d, prometheus.CounterValue, float64(p.v(&t)), t.Tenant)
		}
		for _, st := range strategyNames {
			if v, ok := t.RealizedPnL[st]; ok {
				// Prometheus samples are floats: the exact decimal is
				// converted here, at the exposition, and nowhere else.
				f, _ := strconv.ParseFloat(v.String(), 64)
				ch <- prometheus.MustNewConstMetric(pnlDesc, prometheus.GaugeValue, f, t.Tenant, st)
			}
		}
	}
}

// fold maps all (most active first) to the bounded label set: tenants that
// hold a label, new ones while labels are free, then "other" (always
// present).
func (x *Metrics) fold(all []TenantMetrics) []TenantMetrics {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]TenantMetrics, 0, min(len(all), x.top)+1)
	other := TenantMetrics{Tenant: "other", RealizedPnL: map[string]polybot.Decimal{}}
	for i := range all {
		t := &all[i]
		if !x.named[t.Tenant] && len(x.named) < x.top {
			x.named[t.Tenant] = true
		}
		if x.named[t.Tenant] {
			out = append(out, *t)
		} else {
			other.add(t)
		}
	}
	return append(out, other)
}
