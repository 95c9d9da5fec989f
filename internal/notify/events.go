package notify

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// hookEvent is what the engine told the dispatcher: an opportunity, or a
// bot state.
type hookEvent struct {
	tenant        polybot.ID
	opp           *polybot.Opportunity
	state, reason string
}

var _ polybot.NotifyHook = (*Dispatcher)(nil)

// Opportunity queues o for the tenant's digest; it never blocks (a full
// queue drops it, counted).
func (d *Dispatcher) Opportunity(tenant polybot.ID, o *polybot.Opportunity) {
	d.hook(hookEvent{tenant: tenant, opp: o})
}

// BotState queues an alert for a bot that is refused or halted.
func (d *Dispatcher) BotState(tenant polybot.ID, state, reason string) {
	d.hook(hookEvent{tenant: tenant, state: state, reason: reason})
}

func (d *Dispatcher) hook(e hookEvent) {
	select {
	case d.hooks <- e:
	default:
		d.dropped.Add(1)
	}
}

// digest is one tenant's opportunities since its window opened.
type digest struct {
	since time.Time
	count int
	best  []*polybot.Opportunity // the best few by profit
}

const digestBest = 5

func (g *digest) add(o *polybot.Opportunity) {
	g.count++
	for _, b := range g.best {
		if b.ID == o.ID {
			return
		}
	}
	g.best = append(g.best, o)
	sort.SliceStable(g.best, func(i, j int) bool { return g.best[i].ProfitPct.GreaterThan(g.best[j].ProfitPct) })
	if len(g.best) > digestBest {
		g.best = g.best[:digestBest]
	}
}

// runHooks digests opportunities (one notification per tenant per
// DigestWindow at most) and turns bot states into alerts.
func (d *Dispatcher) runHooks(ctx context.Context) {
	digests := map[polybot.ID]*digest{}
	tick := time.NewTicker(min(d.cfg.DigestWindow/4, time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-d.hooks:
			if e.opp != nil {
				g := digests[e.tenant]
				if g == nil {
					g = &digest{since: d.now()}
					digests[e.tenant] = g
				}
				g.add(e.opp)
				continue
			}
			d.alert(ctx, e)
		case <-tick.C:
			now := d.now()
			for t, g := range digests {
				if now.Sub(g.since) >= d.cfg.DigestWindow {
					delete(digests, t)
					d.flushDigest(ctx, t, g)
				}
			}
		}
	}
}

// digestEvent is the notification of a window's opportunities. Its id is
// the window's slot (its start rounded down to a multiple of window, in
// UTC), so a tenant gets at most one digest a slot whichever processes
// digest it: a second gateway overlapping the first, or one restarted
// mid-window, queues nothing more for the slot. One process's digests of
// a tenant never share a slot: each starts at least window after the one
// before.
func digestEvent(g *digest, window time.Duration, until time.Time) *polybot.NotifyEvent {
	var b strings.Builder
	for _, o := range g.best {
		fmt.Fprintf(&b, "%s: %s%% net (%s a set, %s sets). ", o.Strategy, o.ProfitPct, o.NetEdge, o.Size)
	}
	slot := g.since.UTC().Truncate(window)
	return &polybot.NotifyEvent{ID: "opportunities:" + slot.Format(time.RFC3339Nano), Type: polybot.NotifyOpportunity, At: until,
		Title: fmt.Sprintf("%d opportunities since %s UTC", g.count, g.since.UTC().Format("15:04")),
		Text:  strings.TrimSpace("The best: " + b.String())}
}

func (d *Dispatcher) flushDigest(ctx context.Context, tenant polybot.ID, g *digest) {
	d.queue(ctx, tenant, digestEvent(g, d.cfg.DigestWindow, d.now()))
}

func (d *Dispatcher) alert(ctx context.Context, e hookEvent) {
	typ, title := polybot.NotifyBotRefused, "Your bot is not trading"
	if e.state == polybot.BotHalted {
		typ, title = polybot.NotifyBotHalted, "Your bot is halted"
	}
	now := d.now()
	// One alert a day per state and reason, whichever process heard it:
	// the gateway and the worker holding the tenant both see its bot
	// halted, and queue one alert.
	d.queue(ctx, e.tenant, polybot.AlertEvent(typ, now.UTC().Format("2006-01-02")+":"+polybot.NotifyKey(e.state, e.reason), title,
		"The bot says: "+e.reason+".", now))
}

// queue writes e to the tenant's outbox in its own transaction.
func (d *Dispatcher) queue(ctx context.Context, tenant polybot.ID, e *polybot.NotifyEvent) {
	var n int
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		n, err = polybot.Notify(tx, c, e)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("queueing a notification", "tenant", tenant, "event", e.Type, "err", err)
		}
		return
	}
	d.Queued.Add(1)
	if n > 0 {
		d.Kick()
	}
}

// runSummaries sends each tenant's daily summary after midnight in the
// tenant's time zone: at each check, a tenant whose day has turned since
// the last gets the summary of the day before (once: the event id is the
// day). A process down at midnight sends it when it comes back.
func (d *Dispatcher) runSummaries(ctx context.Context) {
	next := map[polybot.ID]time.Time{}
	tick := time.NewTicker(d.cfg.SummaryEvery)
	defer tick.Stop()
	for {
		d.SummariesDue(ctx, next)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// SummariesDue queues the summary of the day just ended for every active
// tenant whose next check (next, kept by the caller) has come, and
// returns how many it queued.
func (d *Dispatcher) SummariesDue(ctx context.Context, next map[polybot.ID]time.Time) int {
	var ids []polybot.ID
	if err := d.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) { ids, err = tx.ActiveUserIDs(); return }); err != nil {
		if ctx.Err() == nil {
			d.log.Error("listing users for daily summaries", "err", err)
		}
		return 0
	}
	queued := 0
	now := d.now()
	for _, id := range ids {
		if at, ok := next[id]; ok && now.Before(at) {
			continue
		}
		// A read first, so that a tenant with no summary to send (most,
		// at every start) costs no write.
		var day string
		err := d.cfg.Store.TenantView(ctx, id, func(tx polybot.TenantTx) error {
			c, err := tx.Config()
			if err != nil {
				return err
			}
			next[id] = c.NextDayStart(tx.Now())
			u, err := tx.User()
			if err != nil {
				return err
			}
			todayStart := c.NextDayStart(tx.Now()).AddDate(0, 0, -1)
			if !c.NotifyDailySummary || !u.CreatedAt.Before(todayStart) {
				return nil // no summary wanted, or no day yet before today
			}
			ds, err := tx.NotifyDestinations()
			for _, x := range ds {
				if x.Enabled && x.Verified() && x.Wants(polybot.NotifyDailySummary) && slices.Contains(c.NotificationChannels, x.Channel) {
					day = c.TradingDay(todayStart.Add(-time.Nanosecond))
				}
			}
			return err
		})
		var n int
		if err == nil && day != "" {
			err = d.cfg.Store.Tenant(ctx, id, func(tx polybot.TenantTx) error {
				c, err := tx.Config()
				if err != nil {
					return err
				}
				n, err = d.queueSummary(tx, c, day, "summary:"+day)
				return err
			})
		}
		if err != nil && ctx.Err() == nil {
			d.log.Error("daily summary", "tenant", id, "err", err)
		}
		queued += n
	}
	if queued > 0 {
		d.Kick()
	}
	return queued
}

func (d *Dispatcher) queueSummary(tx polybot.TenantTx, c *polybot.Config, day, id string) (int, error) {
	sums, err := polybot.SummarizeDay(tx, c, day, d.cfg.Valuer)
	if err != nil {
		return 0, err
	}
	e := polybot.SummaryEvent(day, sums, tx.Now())
	e.ID = id
	return polybot.Notify(tx, c, e)
}

// SummaryNow queues the summary of the tenant's trading day so far (the
// settings page's "Send today's summary now"), whatever the hour.
func (d *Dispatcher) SummaryNow(ctx context.Context, tenant polybot.ID) (int, error) {
	var n int
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		cc := *c
		cc.NotifyDailySummary = true // asked for explicitly
		day := c.TradingDay(tx.Now())
		n, err = d.queueSummary(tx, &cc, day, "summary:"+day+":now:"+tx.Now().Format(time.RFC3339Nano))
		return err
	})
	if n > 0 {
		d.Kick()
	}
	return n, err
}
