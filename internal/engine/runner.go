package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
)

// errStopped ends a supervisor without a restart: the bot is not wanted.
var errStopped = errors.New("bot stopped")

// refusal is a reason the runner may not trade that is not a failure:
// it is shown in the status, and the runner waits for a reload.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// supervise runs the tenant's runner until ctx ends or the bot is not
// wanted, restarting it with exponential backoff after a failure or a
// panic.
func (t *tenant) supervise(ctx context.Context) {
	m := t.m
	backoff := m.cfg.RestartMin
	for {
		began := time.Now()
		err := t.life(ctx)
		if ctx.Err() != nil || errors.Is(err, errStopped) {
			return
		}
		t.c.restarts.Add(1)
		m.restarts.Add(1)
		if time.Since(began) > time.Minute {
			backoff = m.cfg.RestartMin
		}
		m.log.Error("bot runner failed; restarting", "tenant", t.id, "err", err, "backoff", backoff)
		t.setState(stStarting, "restarting in "+backoff.String()+" after a failure")
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, m.cfg.RestartMax)
	}
}

// runSafely runs one life of the runner, turning a panic into an error.
func (t *tenant) runSafely(ctx context.Context) (err error) {
	r := &runner{t: t, m: t.m}
	life := t.box.open()
	defer func() {
		if p := recover(); p != nil {
			t.m.panics.Add(1)
			t.c.errors.Add(1)
			t.m.log.Error("bot runner panicked", "tenant", t.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			t.setError("internal error: the bot restarted")
			err = fmt.Errorf("panic: %v", p)
		}
		r.dropGrants()
		r.buf = t.box.close(life, r.buf[:0])
		r.drain()
		r.closeExchanges()
	}()
	return r.run(ctx)
}

// runner is one life of a tenant's bot: what exists only while it runs.
// Only the runner's goroutine touches it.
type runner struct {
	t *tenant
	m *Manager

	mode  polybot.ExecMode
	ex    map[polybot.Platform]polybot.Exchange
	exKey string

	hold       time.Time // refused until then (a daily-loss or quota refusal)
	holdReason string
	reevaluate bool
	unresolved map[string]time.Time // unknown intents → when first seen
	// The last refusal recorded on the Orders page, and when: one is
	// recorded per reason a minute, not one per book update.
	refusedWhy string
	refusedAt  time.Time
	buf        []Grant
	acting     GrantID // the grant act is executing (0: none)
	sending    bool    // and its legs are being sent
}

func (r *runner) run(ctx context.Context) error {
	t := r.t
	for {
		var s *snapshot
		if t.fresh.Swap(false) {
			s = t.snap.Load()
			r.hold = time.Time{} // a reload re-checks everything
		}
		if s == nil {
			var err error
			if s, err = t.load(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("loading the bot's settings: %w", err)
			}
		}
		code, reason := t.evaluate(s)
		if code == stStopped {
			r.drain()
			t.setState(stStopped, reason)
			t.detach() // a Start from now on launches a new runner
			return errStopped
		}
		if code == stRunning || code == stHalted {
			if err := r.prepare(ctx, s); err != nil {
				var ref *refusal
				if !errors.As(err, &ref) {
					return err
				}
				code, reason = stRefused, ref.reason
			}
		}
		if code == stRunning && r.m.now().Before(r.hold) {
			code, reason = stRefused, r.holdReason
		}
		t.setState(code, reason)
		if code != stRunning {
			r.drain()
		}
		if err := r.wait(ctx, code); err != nil {
			return err
		}
	}
}

// wait serves the mailbox until something asks for the state to be
// re-evaluated.
func (r *runner) wait(ctx context.Context, code int32) error {
	t := r.t
	var recheck <-chan time.Time
	arm := func() {
		d := time.Duration(0)
		switch {
		case code == stRefused && !r.hold.IsZero():
			d = max(r.hold.Sub(r.m.now()), time.Millisecond)
		case code == stRefused:
			d = r.m.cfg.Recheck
		}
		if len(r.unresolved) > 0 && (d == 0 || d > r.m.cfg.ReconcileEvery) {
			d = r.m.cfg.ReconcileEvery
		}
		if d > 0 {
			recheck = time.After(d)
		} else {
			recheck = nil
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.wake:
			return nil
		case c := <-t.cmds:
			c.done <- c.fn(ctx, r)
		case <-t.box.notify:
			if t.state.Load() != stRunning {
				r.drain()
				continue
			}
			r.process(ctx)
			if r.reevaluate {
				r.reevaluate = false
				return nil
			}
			if len(r.unresolved) > 0 && recheck == nil {
				arm()
			}
		case <-recheck:
			if len(r.unresolved) > 0 {
				r.resolveUnknown(ctx)
			}
			if code == stRefused {
				return nil // load again: the month, the day or the plan may have changed
			}
			arm()
		}
	}
}

// process acts on every waiting grant, oldest first.
func (r *runner) process(ctx context.Context) {
	r.buf = r.t.box.take(r.buf[:0])
	for i := range r.buf {
		if ctx.Err() != nil || r.reevaluate || r.t.state.Load() != stRunning {
			r.m.resolve(r.buf[i].releaseAll())
		} else {
			r.acting = r.buf[i].ID
			r.act(ctx, r.buf[i])
			r.acting, r.sending = 0, false
		}
		r.buf[i] = Grant{}
	}
	r.buf = r.buf[:0]
}

// drain gives back the depth of every waiting grant (and of those already
// in r.buf).
func (r *runner) drain() {
	r.buf = r.t.box.take(r.buf)
	for i := range r.buf {
		r.m.resolve(r.buf[i].releaseAll())
		r.buf[i] = Grant{}
	}
	r.buf = r.buf[:0]
}

// dropGrants resolves the grants a dying runner (a panic) still holds: the
// one it was sending the legs of counts as used, since a leg may have gone
// (the restarted runner reconciles it), and the rest go back.
func (r *runner) dropGrants() {
	for i := range r.buf {
		g := &r.buf[i]
		switch {
		case g.ID == 0:
		case g.ID == r.acting && r.sending:
			r.m.resolve(GrantResult{GrantID: g.ID, Tenant: g.Tenant})
		default:
			r.m.resolve(g.releaseAll())
		}
		r.buf[i] = Grant{}
	}
	r.buf, r.acting, r.sending = r.buf[:0], 0, false
}

// venues are the platforms the tenant trades now.
func (r *runner) venues(s *snapshot) []polybot.Platform {
	var out []polybot.Platform
	for _, v := range r.m.cfg.Venues {
		if s.cfg.PlatformEnabled(v) {
			out = append(out, v)
		}
	}
	return out
}

// prepare builds the exchanges the snapshot needs (paper ones for dry-run,
// the tenant's own for live), unless the ones it has still fit, and
// reconciles with them when they are new.
func (r *runner) prepare(ctx context.Context, s *snapshot) error {
	mode := s.mode()
	venues := r.venues(s)
	key := fmt.Sprint(mode, venues)
	if mode == polybot.Live {
		key += fmt.Sprint(s.secrets)
	}
	if key == r.exKey && r.ex != nil {
		return nil
	}
	r.closeExchanges()
	r.mode = mode
	if mode == polybot.DryRun {
		r.ex = make(map[polybot.Platform]polybot.Exchange, len(venues))
		for _, v := range venues {
			r.ex[v] = newPaperExchange(v, r.m.paper, r.m.fees, r.m.now)
		}
	} else {
		ex, err := r.liveExchanges(ctx, s, venues)
		if err != nil {
			return err
		}
		r.ex = ex
	}
	r.exKey = key
	if err := r.reconcile(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.t.c.errors.Add(1)
		r.t.setError("reconciliation incomplete: " + polybot.ErrorMessage(err))
		r.m.log.Warn("reconciliation incomplete", "tenant", r.t.id, "err", err)
	}
	return nil
}

func (r *runner) closeExchanges() {
	for _, x := range r.ex {
		if c, ok := x.(interface{ Close() error }); ok {
			_ = c.Close()
		} else if l, ok := x.(*limitedExchange); ok {
			if c, ok := l.Exchange.(interface{ Close() error }); ok {
				_ = c.Close()
			}
		}
	}
	r.ex, r.exKey = nil, ""
}

// chooseSecret picks the tenant's active key for p: the live key when there
// is one, else the paper (venue demo) key.
func chooseSecret(secs []*polybot.Secret, p polybot.Platform) *polybot.Secret {
	var paper *polybot.Secret
	for _, s := range secs {
		if s.Platform != p || !s.Active {
			continue
		}
		if !s.Paper {
			return s
		}
		paper = s
	}
	return paper
}

// liveExchanges opens the tenant's keys (audited, in one transaction),
// builds an exchange per venue through the factory outside the
// transaction, and wipes every plaintext before returning.
func (r *runner) liveExchanges(ctx context.Context, s *snapshot, venues []polybot.Platform) (map[polybot.Platform]polybot.Exchange, error) {
	m, t := r.m, r.t
	if m.cfg.ExchangeFactory == nil || m.cfg.Secrets == nil {
		return nil, &refusal{"live trading is not available on this server (dry-run only)"}
	}
	type opened struct {
		p     polybot.Platform
		paper bool
		pt    secrets.Plaintext
		extra json.RawMessage
	}
	var ops []opened
	defer func() {
		for _, op := range ops {
			op.pt.Wipe()
		}
	}()
	problems := map[polybot.Platform]string{}
	err := m.cfg.Store.Tenant(ctx, t.id, func(tx polybot.TenantTx) error {
		ops = ops[:0]
		secs, err := tx.Secrets()
		if err != nil {
			return err
		}
		for _, v := range venues {
			sec := chooseSecret(secs, v)
			if sec == nil {
				problems[v] = "no active API key"
				continue
			}
			pt, err := m.cfg.Secrets.OpenAll(ctx, tx, sec, "live trading")
			if err != nil {
				if polybot.ErrorCode(err) == polybot.EINTERNAL && !errors.Is(err, secrets.ErrDecrypt) {
					return err
				}
				m.log.Warn("opening a tenant's key failed", "tenant", t.id, "venue", v, "err", err)
				problems[v] = "the stored key cannot be opened"
				continue
			}
			ops = append(ops, opened{v, sec.Paper, pt, sec.AdditionalConfig})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[polybot.Platform]polybot.Exchange, len(ops))
	for i := range ops {
		op := &ops[i]
		x, err := m.cfg.ExchangeFactory(ctx, t.id, op.p, op.paper, op.pt, op.extra)
		op.pt.Wipe()
		if err != nil {
			m.log.Warn("building a tenant's exchange failed", "tenant", t.id, "venue", op.p, "err", err)
			problems[op.p] = "the key was refused: " + polybot.ErrorMessage(err)
			continue
		}
		out[op.p] = &limitedExchange{Exchange: x, venue: m.venueLimiter(op.p), key: t.keyLimiter(op.p)}
	}
	var msgs []string
	for _, v := range venues {
		if p, ok := problems[v]; ok {
			msgs = append(msgs, string(v)+": "+p)
		}
	}
	if len(out) == 0 {
		return nil, &refusal{"no usable live API key (" + strings.Join(msgs, "; ") + ")"}
	}
	if len(msgs) > 0 {
		t.setError("some venues are not traded: " + strings.Join(msgs, "; "))
	}
	return out, nil
}
