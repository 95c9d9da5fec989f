package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/process"
)

// Tier 2: a tenant whose plan has Features.OwnProcess runs, on a worker
// with Config.Runner, in a process of its own (`polybot runner`, a
// Manager with Config.Only) instead of a goroutine:
//
//   - The worker holds and renews the lease as for any tenant. Its
//     supervisor goroutine for the tenant runs the process under
//     internal/process (memory and CPU limits; restarted with doubling
//     backoff after it dies, which is logged, counted and shown in the
//     bot's status) instead of a runner.
//   - The worker forwards the tenant's grants, byte for byte, from its own
//     queue (grants.<worker>) to the process's (grants.<worker>.<tenant>)
//     while the process is up, and releases them at once while it is not.
//     Grants forwarded to a process that died are resolved as used (a leg
//     may have gone): the gateway frees that depth as the book shows it
//     gone, and ignores a result the process had sent already.
//   - The process sends results to the gateway itself, runs the risk gate
//     under the worker's epoch, reads the lease every LeaseTTL/3 and ends
//     once that epoch is not the tenant's current lease; the gate fences it
//     in any case. When the worker lets the tenant go (lease lost, bot
//     stopped, shutdown) it stops the process: SIGTERM, then SIGKILL after
//     RunnerGrace.

// ownProcess is a tenant's own process as its worker sees it.
type ownProcess struct {
	epoch int64
	up    atomic.Bool // started and not yet exited: grants are forwarded

	mu   sync.Mutex
	sent map[GrantID]forwarded // forwarded in this life and perhaps unresolved
}

type forwarded struct {
	origin string
	at     time.Time
}

// forwardedFor is how long a forwarded grant is remembered for resolving
// when its process dies. A runner acts on a grant within MaxOfferAge and
// a few venue requests; one older than this is taken as resolved. (The
// process's result and the worker's carry the same message id: within
// DedupeWindow the bus drops the second.)
const forwardedFor = polybot.DedupeWindow

func (p *ownProcess) note(gr *Grant, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) >= 256 {
		for id, f := range p.sent {
			if now.Sub(f.at) > forwardedFor {
				delete(p.sent, id)
			}
		}
	}
	p.sent[gr.ID] = forwarded{origin: gr.Origin, at: now}
}

func (p *ownProcess) forget(id GrantID) {
	p.mu.Lock()
	delete(p.sent, id)
	p.mu.Unlock()
}

// takeAll empties the record of forwarded grants.
func (p *ownProcess) takeAll() map[GrantID]forwarded {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.sent
	p.sent = map[GrantID]forwarded{}
	return out
}

// runnerQueue is the queue of the grants for the tenant's own process.
func (m *Manager) runnerQueue(id polybot.ID) string {
	return grantQueue + m.cfg.WorkerID + "." + id.String()
}

// life runs the tenant once: in a process of its own when this worker runs
// such processes and the tenant's plan asks for one, else as a runner
// goroutine.
func (t *tenant) life(ctx context.Context) error {
	if t.m.cfg.Runner == nil {
		return t.runSafely(ctx)
	}
	s, err := t.load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("loading the bot's settings: %w", err)
	}
	t.own.Store(s.profile.Features.OwnProcess)
	if s.profile.Features.OwnProcess {
		return t.runProcess(ctx)
	}
	return t.runSafely(ctx)
}

// runProcess runs the tenant's own process under the lease held now until
// ctx ends (the worker let the tenant go).
func (t *tenant) runProcess(ctx context.Context) error {
	m := t.m
	epoch := t.epoch()
	if epoch == 0 {
		return fmt.Errorf("no lease to run the tenant's process under")
	}
	p := &ownProcess{epoch: epoch, sent: map[GrantID]forwarded{}}
	t.proc.Store(p)
	defer func() {
		t.proc.Store(nil)
		if p.up.Swap(false) {
			m.procsUp.Add(-1)
		}
		m.resolveForwarded(t, p)
	}()
	spec := m.cfg.Runner(t.id, epoch)
	if spec.Name == "" {
		spec.Name = "runner-" + t.id.String()
	}
	ev := process.Events{
		Started: func(_ string, pid, restarts int) {
			if !p.up.Swap(true) {
				m.procsUp.Add(1)
			}
			m.log.Info("tenant's process started", "tenant", t.id, "epoch", epoch, "pid", pid, "restarts", restarts)
			if m.onProcess != nil {
				m.onProcess(t.id, pid, nil)
			}
		},
		Exited: func(x process.Exit) {
			if p.up.Swap(false) {
				m.procsUp.Add(-1)
			}
			m.resolveForwarded(t, p)
			m.procExits.Add(1)
			if x.Memory {
				m.procOOMs.Add(1)
			}
			t.c.restarts.Add(1)
			m.restarts.Add(1)
			m.log.Error("tenant's process ended; restarting", "tenant", t.id, "exit", x.String(), "memory", x.Memory, "backoff", x.Next)
			t.setState(stStarting, fmt.Sprintf("its process %s; restarting in %s", exitReason(x), x.Next))
			if m.onProcess != nil {
				m.onProcess(t.id, x.PID, &x)
			}
		},
	}
	m.log.Info("tenant runs in its own process", "tenant", t.id, "epoch", epoch, "memory_limit", spec.Limits.MemoryBytes, "cpu_seconds", spec.Limits.CPUSeconds)
	return process.Supervise(ctx, spec, ev, m.cfg.RunnerGrace)
}

func exitReason(x process.Exit) string {
	switch {
	case x.Memory:
		return "ran out of its memory limit"
	case x.Signal != 0:
		return "was killed by " + x.Signal.String()
	}
	return fmt.Sprintf("exited with status %d", x.Code)
}

// resolveForwarded tells the gateway that the grants forwarded to a
// process that died are used: it may have sent their legs. A grant the
// process resolved already is ignored by the gateway (and the bus drops
// the second result with the same id).
func (m *Manager) resolveForwarded(t *tenant, p *ownProcess) {
	for id, f := range p.takeAll() {
		m.resolve(GrantResult{Origin: f.origin, GrantID: id, Tenant: t.id})
	}
}

// forward passes a grant for a tenant that runs in its own process on to
// that process's queue, as the gateway encoded it; while the process is
// down (or the lease lapsed) the grant is released at once.
func (m *Manager) forward(t *tenant, p *ownProcess, gr Grant, data []byte) {
	if !p.up.Load() || t.leaseLapsed() != "" || t.epoch() != p.epoch {
		m.resolve(gr.releaseAll())
		return
	}
	p.note(&gr, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	// Not the gateway's message id: the queue stream deduplicates ids
	// across every queue.
	err := m.cfg.Bus.Send(ctx, m.runnerQueue(t.id), fmt.Sprintf("fwd-%s-%d", gr.Origin, gr.ID), data)
	cancel()
	if err != nil {
		p.forget(gr.ID)
		m.log.Warn("forwarding a grant to the tenant's process failed; released", "tenant", t.id, "grant", gr.ID, "err", err)
		m.resolve(gr.releaseAll())
		return
	}
	m.deliveries.Add(1)
}

// switchProcess restarts a running tenant whose plan moved it into or out
// of a process of its own (after a reload read its profile).
func (m *Manager) switchProcess(ctx context.Context, t *tenant) {
	s := t.snap.Load()
	if m.cfg.Runner == nil || s == nil || !t.running() || s.profile.Features.OwnProcess == t.own.Load() {
		return
	}
	m.log.Info("tenant's plan changed how it runs; restarting it", "tenant", t.id, "own_process", s.profile.Features.OwnProcess)
	if err := t.stop(ctx); err != nil {
		return
	}
	if t.lease.Load() != nil {
		t.start(m.context())
	}
}

// holdOne is Run's lease loop for a tenant's own process (Config.Only):
// it runs the tenant while the lease its worker holds (OnlyEpoch) is the
// tenant's current one, reading it every LeaseTTL/3, and returns an
// EFORBIDDEN error once it is not (or lapsed by this process's clock with
// the store unreadable). It claims, renews and releases nothing.
func (m *Manager) holdOne(ctx context.Context) error {
	t := m.tenant(m.cfg.Only)
	defer func() {
		// The runner finishes what it was recording, under the lease.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = t.stop(sctx)
		cancel()
		m.wg.Wait()
		t.lease.Store(nil)
	}()
	tick := time.NewTicker(m.leaseEvery())
	defer tick.Stop()
	for {
		began := time.Now()
		var l *polybot.Lease
		var now time.Time
		err := m.cfg.Store.TenantView(ctx, t.id, func(tx polybot.TenantTx) (err error) {
			now = tx.Now()
			l, err = tx.Lease()
			return err
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil && l.Epoch == m.cfg.OnlyEpoch && now.Before(l.ExpiresAt):
			// The lease's remaining time by the store's clock, from
			// before the read by ours: never later than the store's.
			t.lease.Store(&leaseHold{epoch: l.Epoch, expiry: began.Add(min(l.ExpiresAt.Sub(now), m.cfg.LeaseTTL))})
			if !t.running() {
				m.log.Info("tenant's process runs the tenant", "tenant", t.id, "epoch", l.Epoch, "worker", m.cfg.WorkerID)
				t.start(m.context())
			}
		case err == nil && l.Epoch == m.cfg.OnlyEpoch:
			return polybot.Errorf(polybot.EFORBIDDEN, "lease epoch %d expired at %s: worker %s no longer renews it",
				l.Epoch, l.ExpiresAt.UTC().Format(time.RFC3339Nano), l.Worker)
		case err == nil:
			return polybot.Errorf(polybot.EFORBIDDEN, "lease epoch %d is no longer the tenant's: it is under epoch %d, worker %s",
				m.cfg.OnlyEpoch, l.Epoch, l.Worker)
		case polybot.ErrorCode(err) == polybot.ENOTFOUND:
			return polybot.Errorf(polybot.EFORBIDDEN, "lease epoch %d is no longer the tenant's: it has no lease", m.cfg.OnlyEpoch)
		default:
			m.log.Warn("reading the tenant's lease failed", "tenant", t.id, "err", err)
			if why := t.leaseLapsed(); why != "" {
				return polybot.Errorf(polybot.EFORBIDDEN, "lease epoch %d lapsed while the store could not be read", m.cfg.OnlyEpoch)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
