package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// Role is the part of the engine a Manager runs (serve --role).
type Role string

// Roles. RoleAll is one process doing everything (the default, on either
// store). The others split it across processes that talk over a
// polybot.Bus and share a PostgreSQL store:
//
//   - RoleGateway: strategy detection over the hubs it feeds, the
//     dispatcher and the depth book (Σ grants ≤ the book, in one place per
//     instrument), book views published for the other roles; it follows
//     every tenant's config to route, and sends each grant to the worker
//     that holds the tenant's lease.
//   - RoleWorker: the runners of the tenants whose leases it holds (claimed
//     up to its capacity, renewed every LeaseTTL/3, released on shutdown),
//     the risk gate (every intent carries the lease's epoch), execution,
//     reconciliation, and the news and copy desks of its tenants; books come
//     from the gateway's views.
//   - RoleAPI: no runner; the server's view of the bots (status, events,
//     opportunities) from the bus, and start, stop and reload as store
//     changes plus control messages.
const (
	RoleAll     Role = "all"
	RoleGateway Role = "gateway"
	RoleWorker  Role = "worker"
	RoleAPI     Role = "api"
)

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.TrimSpace(s)); r {
	case "", RoleAll:
		return RoleAll, nil
	case RoleGateway, RoleWorker, RoleAPI:
		return r, nil
	}
	return "", polybot.FieldError("role", "must be all, api, gateway or worker")
}

// Bus kinds, queues and topics (see internal/nats for the subjects).
const (
	StatusKind   = "status"        // last value per tenant: its bot's status, from the worker holding it
	OppsKind     = "opportunities" // last value "recent": the gateway's recent opportunities
	ControlTopic = "control"       // start, stop, reload, halt, cancel
	grantQueue   = "grants."       // + worker id
	resultQueue  = "results."      // + gateway id
	eventTopic   = "events."       // + tenant id
)

// Control is a control message: Op is start, stop, reload, halt (the
// global halt state changed) or cancel (cancel the tenant's open orders).
type Control struct {
	Op     string     `json:"op"`
	Tenant polybot.ID `json:"tenant,omitempty"`
}

// grantMsg is a grant on the bus.
type grantMsg struct {
	Grant Grant `json:"grant"`
}

// WorkerStatus is what a worker says of a tenant it holds (StatusKind).
type WorkerStatus struct {
	Worker string            `json:"worker"`
	Epoch  int64             `json:"epoch"`
	Status polybot.BotStatus `json:"status"`
}

// leaseHold is the lease a worker runs a tenant under: its epoch, and when
// it lapses by this process's clock (measured from before the claim that
// renewed it, so never later than the store's expiry).
type leaseHold struct {
	epoch  int64
	expiry time.Time
}

// epoch is the epoch intents carry now (0: no lease, role all).
func (t *tenant) epoch() int64 {
	if h := t.lease.Load(); h != nil {
		return h.epoch
	}
	return 0
}

// leaseLapsed reports why nothing may be sent for the tenant now: a worker
// whose lease ran out (a pause, a partition) sends nothing, whatever its
// store would still accept.
func (t *tenant) leaseLapsed() string {
	if t.m.cfg.Role != RoleWorker {
		return ""
	}
	h := t.lease.Load()
	if h == nil {
		return "this worker holds no lease on the tenant"
	}
	if !time.Now().Before(h.expiry) {
		return "this worker's lease on the tenant lapsed"
	}
	return ""
}

// gate runs the risk gate for in under the tenant's lease.
func (r *runner) gate(tx polybot.TenantTx, in *polybot.Intent) error {
	in.Epoch = r.t.epoch()
	if why := r.t.leaseLapsed(); why != "" {
		return &polybot.Error{Code: polybot.EFORBIDDEN, Message: "Not sent: " + why + ".", Fields: map[string]string{"risk": polybot.RiskLease}}
	}
	return polybot.SubmitIntent(tx, in, r.m.val)
}

// lostLease reports whether err is the gate's refusal of an intent made
// under a lease that is no longer the tenant's: the runner then stops at
// once and writes nothing more (the new holder reconciles).
func lostLease(err error) bool {
	return polybot.RiskReason(err) == polybot.RiskLease
}

// resolve hands a grant's result back to the dispatcher that made it: this
// process's, or the gateway's over the bus.
func (m *Manager) resolve(res GrantResult) {
	if res.Origin == "" {
		m.disp.Resolve(res)
		return
	}
	data, err := json.Marshal(res)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = m.cfg.Bus.Send(ctx, resultQueue+res.Origin, fmt.Sprintf("%s-%d-%s", res.Origin, res.GrantID, res.Tenant), data)
		cancel()
	}
	if err != nil {
		// The gateway counts an unresolved grant as lent until it learns
		// the tenant moved or resolves it as used: it can only grant less.
		m.log.Warn("returning a grant's result to the gateway failed", "grant", res.GrantID, "err", err)
	}
}

// deliver puts a grant where the tenant's runner is: its mailbox here, or
// the worker that holds its lease. Call with d.mu held.
func (d *dispatcher) deliver(t *tenant, gr Grant) bool {
	if d.m.cfg.Role == RoleGateway && gr.Origin != "" {
		d.m.gw.queue(gr)
		return true
	}
	if old, evicted := t.box.put(gr); evicted {
		d.resolveLocked(old.releaseAll())
	}
	return true
}

// gateway is the gateway role's state: who holds which tenant, the grants
// on their way to workers, and the views going out.
type gateway struct {
	m   *Manager
	id  string
	pub *marketdata.Publisher

	// holders maps a tenant to the worker holding its lease: replaced
	// whole by watchLeases, read without a lock by the dispatcher (once
	// per tenant per opportunity).
	holders atomic.Pointer[map[polybot.ID]string]
	epochs  map[polybot.ID]int64 // watchLeases only

	mu     sync.Mutex // guards out and spare
	out    []Grant
	spare  []Grant // the buffer of the batch the sender took before, emptied
	notify chan struct{}
}

func newGateway(m *Manager) *gateway {
	g := &gateway{m: m, id: m.cfg.GatewayID, pub: marketdata.NewPublisher(m.cfg.Bus, m.log.Warn), epochs: map[polybot.ID]int64{},
		notify: make(chan struct{}, 1)}
	g.holders.Store(&map[polybot.ID]string{})
	return g
}

// holder is the worker holding the tenant's lease ("" none: nothing is
// granted to it).
func (g *gateway) holder(id polybot.ID) string { return (*g.holders.Load())[id] }

// take hands the sender what is queued; the buffer of the batch it gave
// back before becomes the queue's, so the dispatcher does not grow a new
// one (copying grants) every batch.
func (g *gateway) take() []Grant {
	g.mu.Lock()
	batch := g.out
	g.out, g.spare = g.spare[:0], nil
	g.mu.Unlock()
	return batch
}

// giveBack returns a taken batch's buffer, emptied, for the queue to reuse.
func (g *gateway) giveBack(batch []Grant) {
	clear(batch)
	g.mu.Lock()
	if g.spare == nil {
		g.spare = batch[:0]
	}
	g.mu.Unlock()
}

func (g *gateway) queue(gr Grant) {
	g.mu.Lock()
	g.out = append(g.out, gr)
	g.mu.Unlock()
	select {
	case g.notify <- struct{}{}:
	default:
	}
}

// send delivers queued grants to their workers, each batch in one
// Bus.SendAll (about one round trip however many grants); a grant that
// cannot be delivered (no holder now, the bus down, its send failed) is
// released at once, and one sent without an acknowledgement is counted
// used (the worker may still get it).
//
// Sending is the gateway's background work: every sendYield grants
// encoded it lets the dispatcher run (a route preempted by the collector
// otherwise waited while the sender encoded a whole batch).
func (g *gateway) send(ctx context.Context) {
	var (
		msgs []polybot.Outgoing
		sent []*Grant // sent[i] is msgs[i]'s grant
		enc  grantEncoder
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.notify:
		}
		batch := g.take()
		msgs, sent = msgs[:0], sent[:0]
		for i := range batch {
			gr := &batch[i]
			if i > 0 && i%sendYield == 0 {
				runtime.Gosched()
			}
			w := g.holder(gr.Tenant)
			if w == "" {
				g.m.disp.Resolve(gr.releaseAll()) // no worker holds the tenant
				continue
			}
			data, err := enc.encode(nil, gr)
			if err != nil {
				g.m.disp.Resolve(gr.releaseAll())
				continue
			}
			msgs = append(msgs, polybot.Outgoing{Queue: grantQueue + w, ID: g.id + "-" + strconv.FormatUint(uint64(gr.ID), 10), Data: data})
			sent = append(sent, gr)
		}
		if len(msgs) == 0 {
			g.giveBack(batch)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		errs := g.m.cfg.Bus.SendAll(sctx, msgs)
		cancel()
		for i, err := range errs {
			switch {
			case errors.Is(err, polybot.ErrMaybeSent):
				// The worker may still get it and trade: its depth counts
				// used (freed as the book shows it gone), never lent twice.
				g.m.disp.Resolve(GrantResult{GrantID: sent[i].ID, Tenant: sent[i].Tenant})
			case err != nil:
				g.m.disp.Resolve(sent[i].releaseAll())
			}
		}
		clear(msgs) // the encoded grants are not kept until the next batch
		clear(sent)
		g.giveBack(batch)
	}
}

// results takes the workers' grant results.
func (g *gateway) results(ctx context.Context) error {
	stop, err := g.m.cfg.Bus.Receive(ctx, resultQueue+g.id, 30*time.Second, func(data []byte) error {
		var res GrantResult
		if err := json.Unmarshal(data, &res); err != nil {
			return nil // not ours to retry
		}
		g.m.disp.Resolve(res)
		return nil
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// leasePage is how many leases a gateway reads in one transaction when it
// reads every lease.
const leasePage = 128

// sendYield is how many grants the gateway's sender encodes between yields.
const sendYield = 16

// claimOverlap is how far before the latest claim it has read (and at
// least before the last read's reach, leaseView.since) each read of new
// claims reaches back: a claim that committed after a later one (or was
// stamped by a clock a little behind) is still read. leaseResync is how
// often every lease is read again all the same, in case a claim was missed
// (a claim transaction longer than claimOverlap, a clock further behind).
const (
	claimOverlap = 2 * time.Second
	leaseResync  = 5 * time.Minute
)

// leaseView is what watchLeases knows of the leases (its goroutine only):
// each tenant's latest claim, and which workers' leases have not run out.
type leaseView struct {
	claims map[polybot.ID]*polybot.Lease
	live   map[string]bool // workers whose lease horizon is ahead
	cursor time.Time       // the latest ClaimedAt read
	last   time.Time       // the store's clock at the last read
	read   time.Time       // when every lease was last read (zero: never)
	stale  bool            // the holders must be worked out again (a read failed)
}

// watchLeases follows who holds which tenant, every period: at first (and
// every leaseResync) every lease, then only the leases claimed since (a
// renewal is not a claim) and each worker's lease horizon, so that a gateway of 100,000 tenants does
// not read 100,000 rows a second. A tenant is held by the worker of its
// latest claim while that worker's leases have not run out. A tenant whose
// holder changed (its worker died or let go) has its unresolved grants
// resolved as used: they may have been sent, and used depth is freed only
// as the book shows it gone, so the gateway never lends more than the book.
func (g *gateway) watchLeases(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	v := &leaseView{claims: map[polybot.ID]*polybot.Lease{}, live: map[string]bool{}}
	for {
		if err := g.readLeases(ctx, v); err != nil && ctx.Err() == nil {
			// Fail closed: without the store nobody is known to hold a
			// tenant, so nothing is granted.
			if len(*g.holders.Load()) > 0 {
				g.holders.Store(&map[polybot.ID]string{})
				g.m.indexChanged()
			}
			v.stale = true
			g.m.log.Warn("reading the tenants' leases failed; no grants until it works again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// since is where the next read of new claims starts: claimOverlap before
// the latest claim read, so that a claim committed after a later one is
// still read, but never before claimOverlap ahead of the last read's
// reach, so that once claims stop the same claims are not read again each
// period (the last batch of a worker that claimed 50,000 tenants is
// thousands of rows).
func (v *leaseView) since() time.Time {
	from := v.cursor
	if reach := v.last.Add(-claimOverlap); reach.After(from) {
		from = reach
	}
	return from.Add(-claimOverlap)
}

// readLeases reads what changed in the leases into v and, if who holds
// which tenant changed, publishes the new holders.
func (g *gateway) readLeases(ctx context.Context, v *leaseView) error {
	var (
		claims []*polybot.Lease
		hs     []polybot.LeaseHorizon
		now    time.Time
	)
	all := time.Since(v.read) >= leaseResync
	var began time.Time // the store's clock when the read of every lease began
	if all {
		// A page at a time, letting the dispatcher in between: one read
		// of 100,000 leases held a gateway's core for half a second.
		after := polybot.NilID
		for {
			var page []*polybot.Lease
			err := g.m.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) {
				if began.IsZero() {
					began = tx.Now()
				}
				page, err = tx.LeasesAfter(after, leasePage)
				return err
			})
			if err != nil {
				return err
			}
			claims = append(claims, page...)
			if len(page) < leasePage {
				break
			}
			after = page[len(page)-1].Tenant
			runtime.Gosched()
		}
	}
	err := g.m.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) {
		if !all {
			if claims, err = tx.LeasesClaimedSince(v.since()); err != nil {
				return err
			}
		}
		hs, err = tx.LeaseHorizons()
		now = tx.Now()
		return err
	})
	if err != nil {
		return err
	}
	changed := v.stale || v.read.IsZero()
	v.stale, v.last = false, now
	if all {
		v.last = began // a claim made while paging is read again by the next read of new claims
	}
	if all {
		// Every lease: a tenant deleted since (its lease went with it) is
		// forgotten.
		v.read = time.Now()
		if len(claims) != len(v.claims) {
			changed = true
		}
		v.claims = make(map[polybot.ID]*polybot.Lease, len(claims))
	}
	for _, l := range claims {
		if l.ClaimedAt.After(v.cursor) {
			v.cursor = l.ClaimedAt
		}
		if old := v.claims[l.Tenant]; old != nil && old.Epoch >= l.Epoch {
			continue // read before (the overlap)
		}
		v.claims[l.Tenant] = l
		changed = true
	}
	live := make(map[string]bool, len(hs))
	for _, h := range hs {
		if h.ExpiresAt.After(now) {
			live[h.Worker] = true
		}
	}
	if len(live) != len(v.live) {
		changed = true
	}
	for w := range live {
		if !v.live[w] {
			changed = true
		}
	}
	v.live = live
	if !changed {
		return nil
	}
	next := make(map[polybot.ID]string, len(v.claims))
	epochs := make(map[polybot.ID]int64, len(v.claims))
	for id, l := range v.claims {
		if live[l.Worker] {
			next[id], epochs[id] = l.Worker, l.Epoch
		}
	}
	var moved []polybot.ID
	for id, e := range g.epochs {
		if epochs[id] != e {
			moved = append(moved, id)
		}
	}
	old := *g.holders.Load()
	g.holders.Store(&next)
	g.epochs = epochs
	if len(moved) > 0 {
		g.m.disp.forgetTenants(moved)
	}
	if !sameKeys(old, next) {
		g.m.indexChanged() // the index holds the held tenants only
	}
	return nil
}

// sameKeys is whether a and b hold the same tenants.
func sameKeys(a, b map[polybot.ID]string) bool {
	if len(a) != len(b) {
		return false
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			return false
		}
	}
	return true
}

// forgetTenants resolves the unresolved grants of tenants whose lease
// moved, counting them used.
func (d *dispatcher) forgetTenants(ids []polybot.ID) {
	set := make(map[polybot.ID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for gid, h := range d.depth.grants {
		if set[h.tenant] {
			d.resolveLocked(GrantResult{GrantID: gid, Tenant: h.tenant})
		}
	}
}

// publishOpps puts the recent opportunities on the bus every period for
// the api nodes.
func (g *gateway) publishOpps(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n := g.m.opps.Load(); n != last {
			last = n
			data, err := json.Marshal(g.m.ring.list(g.m.cfg.RingSize, func(*polybot.Opportunity) bool { return true }))
			if err == nil {
				err = g.m.cfg.Bus.PutLast(ctx, OppsKind, "recent", data)
			}
			if err != nil && ctx.Err() == nil {
				g.m.log.Warn("publishing opportunities failed", "err", err)
			}
		}
	}
}

// follow loads a tenant's settings and decides its state, as a runner
// would, without running one: the gateway routes to a tenant only while
// its settings say it trades. It refollows refused tenants every Recheck.
func (m *Manager) follow(ctx context.Context, t *tenant) {
	s, err := t.load(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("loading a tenant's settings failed", "tenant", t.id, "err", err)
			t.setState(stStopped, "settings unreadable: "+polybot.ErrorMessage(err))
		}
		return
	}
	code, reason := t.evaluate(s)
	t.setState(code, reason)
	m.indexChanged() // the interest index reads the new settings (minimum profit, strategies, venues)
}

// reevaluateAll re-decides every followed tenant from its snapshot (the
// global halt changed).
func (m *Manager) reevaluateAll() {
	m.mu.Lock()
	ts := make([]*tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		ts = append(ts, t)
	}
	m.mu.Unlock()
	for _, t := range ts {
		if s := t.snap.Load(); s != nil {
			code, reason := t.evaluate(s)
			t.setState(code, reason)
		}
	}
}

// runGateway is Run for RoleGateway.
func (m *Manager) runGateway(ctx context.Context, ids []polybot.ID) error {
	m.rebuildIndex()
	for _, id := range ids {
		m.follow(ctx, m.tenant(id))
	}
	var bg sync.WaitGroup
	run := func(f func()) { bg.Add(1); go func() { defer bg.Done(); f() }() }
	run(func() { m.indexer(ctx) })
	run(func() { m.disp.run(ctx) })
	run(func() { m.watchHalt(ctx) })
	run(func() { m.gw.send(ctx) })
	run(func() { _ = m.gw.pub.Run(ctx) })
	run(func() { m.gw.watchLeases(ctx, min(time.Second, m.leaseEvery())) })
	run(func() { m.gw.publishOpps(ctx, time.Second) })
	run(func() {
		if err := m.gw.results(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("receiving grant results failed", "err", err)
		}
	})
	run(func() { m.control(ctx) })
	run(func() { m.refollow(ctx) })
	m.log.Info("gateway started", "tenants", len(ids), "gateway", m.cfg.GatewayID)
	if procs := runtime.GOMAXPROCS(0); procs < 2 {
		// With one P the runtime polls the network only when it is idle, or
		// every 10 ms from its monitor: a feed message that comes while the
		// dispatcher tells tenants of the last update waits that long.
		m.log.Warn("the gateway has one CPU (GOMAXPROCS=1): book updates may wait up to 10 ms while it is busy; give it at least two", "gomaxprocs", procs)
	}
	<-ctx.Done()
	bg.Wait()
	return nil
}

// refollow re-reads refused tenants every Recheck (a new month, a plan).
func (m *Manager) refollow(ctx context.Context) {
	tick := time.NewTicker(m.cfg.Recheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.mu.Lock()
		var ts []*tenant
		for _, t := range m.tenants {
			if t.state.Load() == stRefused {
				ts = append(ts, t)
			}
		}
		m.mu.Unlock()
		for _, t := range ts {
			m.follow(ctx, t)
		}
	}
}

// control applies control messages: the gateway refollows the tenant, a
// worker reloads (or cancels for) a tenant it holds; start and stop reach
// the workers through the leases (a bot turned off is not renewed).
func (m *Manager) control(ctx context.Context) {
	ch := make(chan Control, 256)
	stop, err := m.cfg.Bus.Subscribe(ControlTopic, func(data []byte) {
		var c Control
		if json.Unmarshal(data, &c) == nil {
			select {
			case ch <- c:
			default:
				m.log.Warn("control message dropped: queue full", "op", c.Op)
			}
		}
	})
	if err != nil {
		m.log.Error("subscribing to control messages failed", "err", err)
		return
	}
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-ch:
			m.applyControl(ctx, c)
		}
	}
}

func (m *Manager) applyControl(ctx context.Context, c Control) {
	if c.Op == "halt" {
		_ = m.pollHalt(ctx)
		return
	}
	switch m.cfg.Role {
	case RoleGateway:
		m.follow(ctx, m.tenant(c.Tenant))
	case RoleWorker:
		t := m.lookup(c.Tenant)
		if t == nil || t.lease.Load() == nil {
			return
		}
		switch c.Op {
		case "reload", "start":
			_ = m.Reload(ctx, c.Tenant)
		case "stop":
			m.claimNow()
		case "cancel":
			if t.proc.Load() != nil {
				return // its own process hears the message and cancels
			}
			if _, err := m.CancelOpenOrders(ctx, c.Tenant); err != nil {
				m.log.Warn("cancelling open orders failed", "tenant", c.Tenant, "err", err)
			}
		}
	}
}

// leaseEvery is how often leases are renewed and read: a third of their
// period.
func (m *Manager) leaseEvery() time.Duration { return max(m.cfg.LeaseTTL/3, 100*time.Millisecond) }

func (m *Manager) claimNow() {
	select {
	case m.claim <- struct{}{}:
	default:
	}
}

// runWorker is Run for RoleWorker.
func (m *Manager) runWorker(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var bg sync.WaitGroup
	run := func(f func()) { bg.Add(1); go func() { defer bg.Done(); f() }() }
	run(func() { m.news.run(ctx) })
	run(func() { m.takeNews(ctx) }) // webhook headlines from the api nodes (news_bus.go)
	run(func() { m.copy.run(ctx) })
	run(func() { m.disp.run(ctx) }) // subscriptions only: books for pre-flight, paper fills and marks
	run(func() { m.watchHalt(ctx) })
	run(func() { m.control(ctx) })
	queue := grantQueue + m.cfg.WorkerID
	if m.cfg.Only != polybot.NilID {
		queue = m.runnerQueue(m.cfg.Only)
	}
	stopGrants, err := m.cfg.Bus.Receive(ctx, queue, 10*time.Second, m.takeGrant)
	var held error
	if m.cfg.Only != polybot.NilID {
		if err != nil {
			held = fmt.Errorf("receiving the tenant's grants: %w", err)
		} else {
			m.log.Info("runner process started", "tenant", m.cfg.Only, "epoch", m.cfg.OnlyEpoch, "worker", m.cfg.WorkerID)
			held = m.holdOne(ctx)
		}
	} else {
		if err != nil {
			m.log.Error("receiving grants failed; this worker takes no tenant", "err", err)
		}
		m.log.Info("worker started", "worker", m.cfg.WorkerID, "capacity", m.cfg.Capacity, "lease_ttl", m.cfg.LeaseTTL,
			"own_processes", m.cfg.Runner != nil)
		m.holdLeases(ctx, err == nil)
	}
	if stopGrants != nil {
		stopGrants()
	}
	stop() // a process whose lease ended stops what runs beside its runner
	bg.Wait()
	return held
}

// takeGrant puts a grant from the gateway in its tenant's mailbox, or
// hands it back at once when this worker does not run the tenant.
func (m *Manager) takeGrant(data []byte) error {
	var arrived time.Time
	if m.onTake != nil {
		arrived = time.Now()
	}
	var msg grantMsg
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil
	}
	gr := msg.Grant
	t := m.lookup(gr.Tenant)
	if t != nil && m.cfg.Only == polybot.NilID {
		if p := t.proc.Load(); p != nil {
			m.forward(t, p, gr, data)
			return nil
		}
	}
	if t == nil || t.lease.Load() == nil || t.leaseLapsed() != "" || t.state.Load() != stRunning {
		m.resolve(gr.releaseAll())
		return nil
	}
	m.deliveries.Add(1)
	if m.onTake != nil {
		m.onTake(&gr, arrived)
	}
	if old, evicted := t.box.put(gr); evicted {
		m.resolve(old.releaseAll())
	}
	return nil
}

// holdLeases claims and renews this worker's tenants until ctx ends, then
// stops their runners and releases the leases. A tenant whose lease is
// not renewed (taken over, turned off) is stopped; when renewing fails
// the runners stop sending once their leases lapse by this process's
// clock, and are stopped.
func (m *Manager) holdLeases(ctx context.Context, bus bool) {
	tick := time.NewTicker(m.leaseEvery())
	defer tick.Stop()
	lapse := time.NewTimer(time.Hour)
	defer lapse.Stop()
	for {
		if bus {
			m.renew(ctx)
			// Claim again the moment another worker's lease runs out (a
			// dead worker's tenants are free then), not at the next tick.
			if m.heldCount() >= m.cfg.Capacity {
				// full: nothing to claim when another lease runs out
			} else if d, ok := m.untilNextLapse(ctx); ok && d < m.leaseEvery() {
				lapse.Reset(d + 5*time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			m.releaseAll()
			return
		case <-tick.C:
		case <-lapse.C:
		case <-m.claim:
		}
	}
}

// heldCount is how many tenants this worker holds leases on.
func (m *Manager) heldCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range m.tenants {
		if t.lease.Load() != nil {
			n++
		}
	}
	return n
}

// untilNextLapse is how long until another worker's soonest lease runs
// out, by the store's clock (ok false: none, or unknown). Only a worker
// with room claims then.
func (m *Manager) untilNextLapse(ctx context.Context) (time.Duration, bool) {
	var at, now time.Time
	err := m.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) {
		now = tx.Now()
		at, err = tx.NextLapse(m.cfg.WorkerID)
		return err
	})
	if err != nil || at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// claimBatch is how many more tenants the first claim of a renewal takes
// (at least 16, or a 64th of the capacity): a worker claims in batches, a
// moment apart, so that workers starting together share the tenants
// instead of the first taking all up to its capacity. Each further claim
// of the same renewal takes twice as many as the one before, so that a
// survivor takes over a dead worker's tenants in a few round trips: in
// batches of 16 it took 100 tenants in seven, and past the failover
// test's bound on a loaded machine.
func (m *Manager) claimBatch() int { return max(16, m.cfg.Capacity/64) }

func (m *Manager) renew(ctx context.Context) {
	began := time.Now()
	var ls []*polybot.Lease
	held := 0
	m.mu.Lock()
	for _, t := range m.tenants {
		if t.lease.Load() != nil {
			held++
		}
	}
	m.mu.Unlock()
	var err error
	batch := m.claimBatch()
	for limit := min(m.cfg.Capacity, held+batch); ; limit = min(m.cfg.Capacity, len(ls)+batch) {
		err = m.cfg.Store.Admin(ctx, func(tx polybot.AdminTx) (err error) {
			ls, err = tx.ClaimLeases(m.cfg.WorkerID, limit, m.cfg.LeaseTTL)
			return err
		})
		if err != nil || len(ls) < limit || limit == m.cfg.Capacity {
			break
		}
		batch *= 2
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("renewing leases failed", "worker", m.cfg.WorkerID, "err", err)
		}
		m.stopLapsed()
		return
	}
	mine := make(map[polybot.ID]*polybot.Lease, len(ls))
	for _, l := range ls {
		mine[l.Tenant] = l
	}
	m.mu.Lock()
	var gone []*tenant
	for id, t := range m.tenants {
		if mine[id] == nil && t.lease.Load() != nil {
			gone = append(gone, t)
		}
	}
	m.mu.Unlock()
	for _, t := range gone {
		m.letGo(t, "the lease was not renewed")
	}
	expiry := began.Add(m.cfg.LeaseTTL)
	for id, l := range mine {
		t := m.tenant(id)
		old := t.lease.Load()
		if old != nil && old.epoch != l.Epoch {
			m.letGo(t, "the lease was taken under a new epoch")
			old = nil
		}
		t.lease.Store(&leaseHold{epoch: l.Epoch, expiry: expiry})
		if old == nil || !t.running() {
			m.log.Info("tenant claimed", "tenant", id, "epoch", l.Epoch, "worker", m.cfg.WorkerID)
			t.start(m.context())
		}
	}
}

// stopLapsed stops the runners whose leases lapsed by this clock.
func (m *Manager) stopLapsed() {
	m.mu.Lock()
	var ts []*tenant
	for _, t := range m.tenants {
		if h := t.lease.Load(); h != nil && !time.Now().Before(h.expiry) {
			ts = append(ts, t)
		}
	}
	m.mu.Unlock()
	for _, t := range ts {
		m.letGo(t, "the lease lapsed")
	}
}

// letGo stops a tenant's runner here without touching the store: another
// worker holds it, or will.
func (m *Manager) letGo(t *tenant, why string) {
	t.lease.Store(nil)
	m.log.Info("tenant let go", "tenant", t.id, "worker", m.cfg.WorkerID, "why", why)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = t.stop(ctx)
}

// releaseAll stops every runner (each finishes what it was recording)
// and then releases the leases, so another worker takes the tenants at
// once.
func (m *Manager) releaseAll() {
	m.mu.Lock()
	var ts []*tenant
	for _, t := range m.tenants {
		if t.lease.Load() != nil {
			ts = append(ts, t)
		}
	}
	m.mu.Unlock()
	// All at once: a tenant in a process of its own may take its grace
	// period to stop.
	var stopping sync.WaitGroup
	for _, t := range ts {
		stopping.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = t.stop(ctx)
			cancel()
		})
	}
	stopping.Wait()
	m.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cfg.Store.Admin(ctx, func(tx polybot.AdminTx) error { return tx.ReleaseLeases(m.cfg.WorkerID) }); err != nil {
		m.log.Warn("releasing leases failed; they lapse on their own", "worker", m.cfg.WorkerID, "err", err)
	} else {
		m.log.Info("leases released", "worker", m.cfg.WorkerID, "tenants", len(ts))
	}
}

// publishRemote sends a tenant's event to the api nodes (and, for a
// status, stores it as the tenant's latest).
func (t *tenant) publishRemote(ev polybot.Event) {
	m := t.m
	if m.cfg.Bus == nil || m.cfg.Role == RoleAll || m.cfg.Role == RoleAPI {
		return
	}
	if m.cfg.Role == RoleGateway && ev.Type != "opportunity" {
		return // a worker speaks for the tenant's bot
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	_ = m.cfg.Bus.Publish(eventTopic+t.id.String(), data)
	if ev.Type == "status" && m.cfg.Role == RoleWorker {
		if st, ok := ev.Data.(polybot.BotStatus); ok {
			b, err := json.Marshal(WorkerStatus{Worker: m.cfg.WorkerID, Epoch: t.epoch(), Status: st})
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = m.cfg.Bus.PutLast(ctx, StatusKind, t.id.String(), b)
				cancel()
			}
		}
	}
}

// fencedStore is the store a worker's runners write through: every tenant
// transaction first locks the tenant and checks that this worker's lease
// is still the tenant's current one (polybot.CheckLease), so a worker
// paused or cut off past its lease writes nothing after the tenant's next
// holder took over (its recording of an order, say, would overwrite what
// the new holder reconciled). Reads are not fenced.
type fencedStore struct {
	polybot.Store
	m *Manager
}

func (s fencedStore) Tenant(ctx context.Context, id polybot.ID, fn func(polybot.TenantTx) error) error {
	var epoch int64
	if t := s.m.lookup(id); t != nil {
		if h := t.lease.Load(); h != nil {
			epoch = h.epoch
		}
	}
	if epoch == 0 {
		return &polybot.Error{Code: polybot.EFORBIDDEN, Message: "This worker holds no lease on the tenant: nothing is written.",
			Fields: map[string]string{"risk": polybot.RiskLease}}
	}
	return s.Store.Tenant(ctx, id, func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		if err := polybot.CheckLease(tx, epoch, tx.Now()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// withDeadline narrows ctx (cancelled by cancel) to end at by as well; the
// returned cancel releases both.
func withDeadline(ctx context.Context, cancel context.CancelFunc, by time.Time) (context.Context, context.CancelFunc) {
	c2, cancel2 := context.WithDeadline(ctx, by)
	return c2, func() { cancel2(); cancel() }
}

// relayCatchUp bounds how long a worker waits for its relayed book to
// reach the quote a grant was made on.
const relayCatchUp = 200 * time.Millisecond

// viewSince is inst's view here once it is at least as new as at (the
// quote an opportunity was detected on). On a worker the grant and the
// book travel apart, and a grant may overtake its book: the runner then
// waits up to relayCatchUp for the view rather than judge the gateway's
// decision against an older book. Elsewhere the view is the one detection
// read.
func (m *Manager) viewSince(inst polybot.Instrument, at time.Time) (*marketdata.View, bool) {
	v, ok := m.books.View(inst)
	if m.cfg.Role != RoleWorker || at.IsZero() {
		return v, ok
	}
	deadline := time.Now().Add(relayCatchUp)
	for (!ok || viewTime(v).Before(at)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		v, ok = m.books.View(inst)
	}
	return v, ok
}

// viewTime is when a view's book was read (as detection dates quotes).
func viewTime(v *marketdata.View) time.Time {
	if !v.Received.IsZero() {
		return v.Received
	}
	return v.Time
}
