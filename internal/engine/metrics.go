package engine

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

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
	// PerTenant holds the TopTenants most active tenants, then one entry
	// with Tenant "other" summing the rest: at most TopTenants+1 label values.
	PerTenant []TenantMetrics
}

// TenantMetrics are one tenant's counters (or the sum of the "other"
// tenants).
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
	top := min(len(all), m.cfg.TopTenants)
	s.PerTenant = append(s.PerTenant, all[:top]...)
	other := TenantMetrics{Tenant: "other", RealizedPnL: map[string]polybot.Decimal{}}
	for i := top; i < len(all); i++ {
		other.add(&all[i])
	}
	s.PerTenant = append(s.PerTenant, other)
	return s
}

// WritePrometheus writes s in the Prometheus text exposition format.
func (s *Snapshot) WritePrometheus(out io.Writer) error {
	w := bufio.NewWriter(out)
	metric := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	gauge := func(name, help string, v int64) {
		metric(name, "gauge", help)
		fmt.Fprintf(w, "%s %d\n", name, v)
	}
	counter := func(name, help string, v int64) {
		metric(name, "counter", help)
		fmt.Fprintf(w, "%s %d\n", name, v)
	}
	gauge("polybot_engine_tenants", "Tenants the bot manager knows.", int64(s.Tenants))
	gauge("polybot_engine_runners", "Bot runner goroutines alive.", int64(s.Runners))
	gauge("polybot_engine_active_tenants", "Bots in state running.", s.ActiveTenants)
	metric("polybot_engine_bots", "gauge", "Bots by state.")
	for _, st := range stateNames {
		fmt.Fprintf(w, "polybot_engine_bots{state=%q} %d\n", st, s.ByState[st])
	}
	gauge("polybot_engine_indexed_tenants", "Tenants in the opportunity interest index.", int64(s.Indexed))
	gauge("polybot_engine_hub_subscriptions", "Open market-data hub subscriptions.", s.HubSubscriptions)
	gauge("polybot_engine_hub_instruments", "Instruments with a hub subscriber.", s.HubInstruments)
	gauge("polybot_engine_goroutines", "Goroutines in the process.", int64(s.Goroutines))
	gauge("polybot_engine_grants_held", "Grants of book depth lent to bots and not yet resolved.", int64(s.GrantsHeld))
	counter("polybot_engine_dispatch_batches_total", "Batches of changed books the dispatcher processed.", s.Batches)
	counter("polybot_engine_dispatch_views_total", "Changed book views the dispatcher read.", s.Views)
	counter("polybot_engine_opportunities_total", "New opportunities detected.", s.Opportunities)
	counter("polybot_engine_opportunity_repeats_total", "Re-detections of an already delivered book state.", s.Repeats)
	counter("polybot_engine_deliveries_total", "Opportunities delivered to tenant mailboxes.", s.Deliveries)
	counter("polybot_engine_mailbox_conflated_total", "Offers replaced by a newer one in a mailbox.", s.MailboxConflated)
	counter("polybot_engine_mailbox_dropped_total", "Offers dropped from a full mailbox.", s.MailboxDropped)
	counter("polybot_engine_events_dropped_total", "Events a slow subscriber missed.", s.EventsDropped)
	counter("polybot_engine_detect_panics_total", "Panics recovered in opportunity detection.", s.DetectPanics)
	counter("polybot_engine_runner_panics_total", "Panics recovered in bot runners.", s.RunnerPanics)
	counter("polybot_engine_runner_restarts_total", "Bot runner restarts after a failure.", s.Restarts)
	counter("polybot_engine_fills_total", "Fills recorded.", s.Fills)
	counter("polybot_engine_unwinds_total", "Legs unwound after a partner leg failed.", s.Unwinds)
	counter("polybot_engine_unknown_outcomes_total", "Orders whose outcome was unknown (resolved by query).", s.UnknownOutcomes)
	counter("polybot_engine_stale_offers_total", "Offers a runner reached too late to act on.", s.StaleOffers)
	counter("polybot_engine_book_moved_total", "Executions called off because the book moved before the first leg.", s.BookMoved)
	metric("polybot_engine_venue_rate_waits_total", "counter", "Requests that waited for a venue-wide rate limit.")
	for _, p := range polybot.Platforms {
		fmt.Fprintf(w, "polybot_engine_venue_rate_waits_total{venue=%q} %d\n", p, s.VenueRateWaits[p])
	}
	per := func(name, help string, v func(*TenantMetrics) int64) {
		metric(name, "counter", help+" Per tenant: the most active tenants, the rest as tenant=\"other\".")
		for i := range s.PerTenant {
			fmt.Fprintf(w, "%s{tenant=%q} %d\n", name, s.PerTenant[i].Tenant, v(&s.PerTenant[i]))
		}
	}
	per("polybot_bot_opportunities_total", "Opportunities the bot wanted.", func(t *TenantMetrics) int64 { return t.Counters.Opportunities })
	per("polybot_bot_intents_total", "Order intents that passed the risk gate.", func(t *TenantMetrics) int64 { return t.Counters.Intents })
	per("polybot_bot_fills_total", "Fills (trades).", func(t *TenantMetrics) int64 { return t.Counters.Fills })
	per("polybot_bot_rejected_total", "Orders the risk gate refused.", func(t *TenantMetrics) int64 { return t.Counters.Rejected })
	per("polybot_bot_unwinds_total", "Legs unwound.", func(t *TenantMetrics) int64 { return t.Counters.Unwinds })
	per("polybot_bot_errors_total", "Errors.", func(t *TenantMetrics) int64 { return t.Counters.Errors })
	per("polybot_bot_restarts_total", "Runner restarts.", func(t *TenantMetrics) int64 { return t.Counters.Restarts })
	per("polybot_bot_rate_limit_waits_total", "Requests that waited for the key's rate limit.", func(t *TenantMetrics) int64 { return t.RateWaits })
	per("polybot_bot_throttled_total", "Venue 429 answers (Retry-After honoured).", func(t *TenantMetrics) int64 { return t.Throttled })
	metric("polybot_bot_realized_pnl_dollars", "gauge", "Realised P&L by strategy since the manager started. Per tenant: the most active, the rest as tenant=\"other\".")
	for i := range s.PerTenant {
		t := &s.PerTenant[i]
		for _, st := range strategyNames {
			if v, ok := t.RealizedPnL[st]; ok {
				fmt.Fprintf(w, "polybot_bot_realized_pnl_dollars{tenant=%q,strategy=%q} %s\n", t.Tenant, st, v)
			}
		}
	}
	return w.Flush()
}
