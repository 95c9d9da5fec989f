package engine

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// Webhook headlines in a split deployment. A user's webhook is received
// by an api node, which runs no news desk; the user's rules run on the
// worker holding the user's lease. Webhooks are always a user's own (a
// hook belongs to its user: server.NewsIntake), so each headline is for
// one tenant; the platform's headlines come from feeds, which every
// worker polls itself.
//
// The api node posts each headline (PostHeadlines) in the bus's take-once
// space NewsKind under "<tenant>.<headline id>"; every worker watches the
// space, and the one that runs the tenant takes the post (Bus.Take: of
// racing takers exactly one succeeds) and hands the headline to its news
// desk as if its own intake had received it. So:
//
//   - A headline is acted on by one worker at most: the take is exclusive,
//     and a repost of the same headline (the sender's retry, through this
//     or another api node) is not posted again while the first is
//     remembered (polybot.PostTTL).
//   - It is not lost when the tenant changes hands: a post nobody takes
//     waits, and every worker remembers the waiting posts it saw. A worker
//     takes them once it runs the tenant (it claimed the lease of a worker
//     that died or let go, and the runner started). A tenant starting
//     (just claimed) is waited for, so the desk sees the headline only
//     once the runner runs, as in one process.
//   - It is dropped when nobody runs the tenant within polybot.PostTTL (the
//     bot is off), as one process would ignore it.
//   - The api node answers only once the post is on the bus: with the bus
//     down it declines the delivery (EUNAVAILABLE) and the sender retries.
//
// A headline's latency clock runs from the api node's receipt
// (Headline.Received), so NewsToOrder includes the hop.

// NewsKind is the bus's take-once space of webhook headlines.
const NewsKind = "news"

// maxWaitingPosts bounds the posts a worker remembers for tenants it does
// not run (yet). Past it a post is not remembered here; it stays on the
// bus, where the tenant's holder, or this worker after a restart, sees it.
const maxWaitingPosts = 50_000

// busHeadline is a webhook headline on the bus.
type busHeadline struct {
	Tenant   polybot.ID       `json:"tenant"`
	Headline polybot.Headline `json:"headline"`
}

// PostHeadlines hands a user's webhook headlines (each with its ID) to the
// news rules of the user's bot. On an api node they are posted on the bus
// for the worker that runs the tenant, and it returns once they are: with
// the bus unreachable it returns an EUNAVAILABLE error, and a headline
// not posted is not acted on (the sender should send it again; those
// posted already are not posted twice). Elsewhere they go to this
// process's news desk (TenantHeadline).
func (m *Manager) PostHeadlines(ctx context.Context, tenant polybot.ID, hs []polybot.Headline) error {
	if m.cfg.Role != RoleAPI {
		for _, h := range hs {
			m.TenantHeadline(tenant, h)
		}
		return nil
	}
	for i, h := range hs {
		if h.ID == "" {
			return polybot.FieldError("headlines", "every headline needs its id")
		}
		data, err := json.Marshal(busHeadline{Tenant: tenant, Headline: h})
		if err != nil {
			return polybot.Internal(err)
		}
		if _, err := m.cfg.Bus.Post(ctx, NewsKind, tenant.String()+"."+h.ID, data); err != nil {
			if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
				return err
			}
			m.log.Warn("posting a webhook headline failed", "tenant", tenant, "headline", h.ID, "posted", i, "of", len(hs), "err", err)
			return &polybot.Error{Code: polybot.EUNAVAILABLE, Err: err,
				Message: "The headlines could not be handed to your bot: the message bus is unavailable. Send them again."}
		}
	}
	return nil
}

// newsInbox is a worker's side of NewsKind: the posts waiting for a
// tenant this process does not run (yet).
type newsInbox struct {
	m       *Manager
	mu      sync.Mutex
	waiting map[polybot.ID]map[string]waitingPost // tenant → key → post
	n       int
	full    bool // past maxWaitingPosts (logged once each time)
}

type waitingPost struct {
	p  polybot.Posted
	h  polybot.Headline
	at time.Time // when this worker saw it
}

// takeNews watches the webhook headlines on the bus until ctx ends (a
// worker, or a tenant's own process for that tenant alone): it takes
// those of the tenants it runs as they come, and those waiting for a
// tenant as soon as it runs it.
func (m *Manager) takeNews(ctx context.Context) {
	in := &newsInbox{m: m, waiting: map[polybot.ID]map[string]waitingPost{}}
	var stop func()
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		var err error
		if stop, err = m.cfg.Bus.WatchPosts(ctx, NewsKind, func(p polybot.Posted) { in.posted(ctx, p) }); err == nil {
			break
		}
		if ctx.Err() == nil {
			m.log.Warn("watching webhook headlines failed; retrying", "err", err, "in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
	defer stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			in.takeWaiting(ctx)
		}
	}
}

// runsNews reports whether this process runs the tenant's news rules now:
// it holds the tenant's lease (not lapsed), runs the tenant here (not in a
// process of its own), and the tenant's runner has decided its state. A
// tenant just claimed is starting: its headlines wait for it.
func (m *Manager) runsNews(id polybot.ID) bool {
	if m.cfg.Only != polybot.NilID && id != m.cfg.Only {
		return false
	}
	t := m.lookup(id)
	if t == nil || t.lease.Load() == nil || t.leaseLapsed() != "" {
		return false
	}
	if m.cfg.Only == polybot.NilID && (t.own.Load() || t.proc.Load() != nil) {
		return false // its own process takes them
	}
	switch t.state.Load() {
	case stStopped, stStarting:
		return false
	}
	return true // running, or halted or refused: the desk decides, as in one process
}

// posted handles one post seen on the bus.
func (in *newsInbox) posted(ctx context.Context, p polybot.Posted) {
	if p.Taken {
		in.forget(p.Key)
		return
	}
	var bh busHeadline
	if json.Unmarshal(p.Data, &bh) != nil || bh.Tenant == polybot.NilID {
		return // not ours
	}
	m := in.m
	if m.cfg.Only != polybot.NilID && bh.Tenant != m.cfg.Only {
		return // a tenant's own process takes its tenant's only
	}
	if m.runsNews(bh.Tenant) {
		in.take(ctx, waitingPost{p: p, h: bh.Headline, at: time.Now()}, bh.Tenant)
		return
	}
	in.wait(bh.Tenant, waitingPost{p: p, h: bh.Headline, at: time.Now()})
}

func (in *newsInbox) wait(tenant polybot.ID, w waitingPost) {
	in.mu.Lock()
	defer in.mu.Unlock()
	posts := in.waiting[tenant]
	if _, again := posts[w.p.Key]; !again && in.n >= maxWaitingPosts {
		if !in.full {
			in.full = true
			in.m.log.Warn("too many webhook headlines wait for tenants this worker does not run; not remembering more here",
				"waiting", in.n)
		}
		return
	}
	if posts == nil {
		posts = map[string]waitingPost{}
		in.waiting[tenant] = posts
	}
	if _, again := posts[w.p.Key]; !again {
		in.n++
	}
	posts[w.p.Key] = w
}

func (in *newsInbox) forget(key string) {
	tenant, _, _ := strings.Cut(key, ".")
	id, err := polybot.ParseID(tenant)
	if err != nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	posts := in.waiting[id]
	if _, ok := posts[key]; !ok {
		return
	}
	delete(posts, key)
	in.n--
	in.full = false
	if len(posts) == 0 {
		delete(in.waiting, id)
	}
}

// takeWaiting takes the waiting posts of the tenants this process runs
// now, and forgets those past polybot.PostTTL (the bus has dropped them).
func (in *newsInbox) takeWaiting(ctx context.Context) {
	now := time.Now()
	type due struct {
		tenant polybot.ID
		w      waitingPost
	}
	var take []due
	in.mu.Lock()
	for id, posts := range in.waiting {
		runs := in.m.runsNews(id)
		for key, w := range posts {
			switch {
			case now.Sub(w.at) > polybot.PostTTL:
				delete(posts, key)
				in.n--
			case runs:
				take = append(take, due{id, w})
			}
		}
		if len(posts) == 0 {
			delete(in.waiting, id)
		}
	}
	in.mu.Unlock()
	for _, d := range take {
		in.take(ctx, d.w, d.tenant)
	}
}

// take takes a post and hands its headline to the desk; a post it could
// not try to take (the bus unreachable) waits for the next round.
func (in *newsInbox) take(ctx context.Context, w waitingPost, tenant polybot.ID) {
	m := in.m
	ok, err := m.cfg.Bus.Take(ctx, NewsKind, w.p)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("taking a webhook headline failed; retrying", "tenant", tenant, "headline", w.h.ID, "err", err)
			in.wait(tenant, w)
		}
		return
	}
	in.forget(w.p.Key)
	if !ok {
		return // another worker took it
	}
	if m.cfg.BusHeadline != nil {
		m.cfg.BusHeadline(tenant, w.h)
	} else {
		m.TenantHeadline(tenant, w.h)
	}
}
