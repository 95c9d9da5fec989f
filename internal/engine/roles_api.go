package engine

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/polybot/polybot"
)

// apiView is what an api node knows of the bots, from the bus: each
// tenant's latest status (from the worker holding it) and the gateway's
// recent opportunities.
type apiView struct {
	mu     sync.RWMutex
	status map[polybot.ID]WorkerStatus
	opps   atomic.Pointer[[]polybot.Opportunity]
	subs   sync.Map // tenant → *busEvents
}

// runAPI is Run for RoleAPI: books for the valuer, statuses and
// opportunities from the bus.
func (m *Manager) runAPI(ctx context.Context) error {
	var bg sync.WaitGroup
	run := func(f func()) { bg.Add(1); go func() { defer bg.Done(); f() }() }
	run(func() { m.disp.run(ctx) }) // subscriptions only: marks for positions and P&L
	run(func() { m.watchHalt(ctx) })
	stopStatus, err := m.cfg.Bus.WatchLast(ctx, StatusKind, func(key string, data []byte) {
		id, err := polybot.ParseID(key)
		var ws WorkerStatus
		if err != nil || json.Unmarshal(data, &ws) != nil {
			return
		}
		m.api.mu.Lock()
		if old, ok := m.api.status[id]; !ok || ws.Epoch >= old.Epoch {
			m.api.status[id] = ws // a worker that lost the tenant does not speak over its new holder
		}
		m.api.mu.Unlock()
	})
	if err != nil {
		m.log.Error("watching the bots' statuses failed", "err", err)
	}
	stopOpps, err := m.cfg.Bus.WatchLast(ctx, OppsKind, func(_ string, data []byte) {
		var os []polybot.Opportunity
		if json.Unmarshal(data, &os) == nil {
			m.api.opps.Store(&os)
		}
	})
	if err != nil {
		m.log.Error("watching the opportunities failed", "err", err)
	}
	m.log.Info("api node's view of the bots started")
	<-ctx.Done()
	for _, stop := range []func(){stopStatus, stopOpps} {
		if stop != nil {
			stop()
		}
	}
	bg.Wait()
	return nil
}

// sendControl tells the gateway and the workers about a tenant.
func (m *Manager) sendControl(c Control) error {
	data, err := json.Marshal(c)
	if err != nil {
		return polybot.Internal(err)
	}
	return m.cfg.Bus.Publish(ControlTopic, data)
}

// apiStatus is a tenant's bot status as its worker last said it; a bot
// that is wanted but that no worker speaks for is "starting".
func (m *Manager) apiStatus(ctx context.Context, id polybot.ID) polybot.BotStatus {
	m.api.mu.RLock()
	ws, ok := m.api.status[id]
	m.api.mu.RUnlock()
	if ok {
		return ws.Status
	}
	t := m.tenant(id)
	st := t.status()
	if s := t.snap.Load(); s == nil {
		s, _ = t.load(ctx)
		if s != nil {
			st = t.status()
		}
	}
	if s := t.snap.Load(); s != nil && s.wanted && !s.disabled {
		st.State, st.Reason = polybot.BotStarting, "waiting for a worker to take the bot"
	}
	return st
}

// apiOpportunities filters the gateway's recent opportunities by the
// tenant's config.
func (m *Manager) apiOpportunities(s *snapshot, limit int) []polybot.Opportunity {
	if limit <= 0 {
		limit = 50
	}
	p := m.api.opps.Load()
	if p == nil {
		return nil
	}
	var out []polybot.Opportunity
	for i := range *p {
		if len(out) >= limit {
			break
		}
		if m.wants(s.cfg, s.profile.Features, &(*p)[i]) {
			out = append(out, (*p)[i])
		}
	}
	return out
}

// busEvents forwards a tenant's bus events to its local subscribers (the
// api node's SSE streams): one bus subscription per watched tenant.
type busEvents struct {
	stop func()
	n    int
}

// apiSubscribe streams a tenant's events from the bus.
func (m *Manager) apiSubscribe(id polybot.ID) (<-chan polybot.Event, func()) {
	t := m.tenant(id)
	ch, cancel := t.events.subscribe()
	m.mu.Lock()
	v, _ := m.api.subs.Load(id)
	be, _ := v.(*busEvents)
	if be == nil {
		be = &busEvents{}
		stop, err := m.cfg.Bus.Subscribe(eventTopic+id.String(), func(data []byte) {
			var ev struct {
				Type string          `json:"type"`
				Time json.RawMessage `json:"time"`
				Data json.RawMessage `json:"data"`
			}
			if json.Unmarshal(data, &ev) != nil {
				return
			}
			var e polybot.Event
			if json.Unmarshal(data, &e) == nil {
				e.Data = ev.Data // passed through as the worker encoded it
				t.events.publish(e)
			}
		})
		if err != nil {
			m.log.Warn("subscribing to a tenant's events failed", "tenant", id, "err", err)
		}
		be.stop = stop
		m.api.subs.Store(id, be)
	}
	be.n++
	m.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			cancel()
			m.mu.Lock()
			defer m.mu.Unlock()
			be.n--
			if be.n == 0 {
				if be.stop != nil {
					be.stop()
				}
				m.api.subs.Delete(id)
			}
		})
	}
}
