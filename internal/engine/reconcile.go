package engine

import (
	"context"
	"time"

	"github.com/polybot/polybot"
)

// openStates are the intent states that may still change at the venue.
var openStates = []string{polybot.IntentPending, polybot.IntentOpen, polybot.IntentPartial, polybot.IntentUnknown}

// reconcile brings the tenant's unfinished intents of the runner's mode in
// line with the venue (by client order id) and records recent fills the
// store lacks. Dry-run orders do not outlive the runner: unfinished ones
// are closed.
func (r *runner) reconcile(ctx context.Context) error {
	var ins []*polybot.Intent
	err := r.m.cfg.Store.TenantView(ctx, r.t.id, func(tx polybot.TenantTx) error {
		var err error
		ins, err = tx.Intents(openStates, time.Time{}, 1000)
		return err
	})
	if err != nil {
		return err
	}
	var first error
	touched := map[string]bool{}
	defer func() {
		for opp := range touched {
			r.repairLegs(ctx, opp)
		}
	}()
	for _, in := range ins {
		if in.Mode != r.mode {
			continue
		}
		touched[in.OpportunityID] = true
		if in.State == polybot.IntentPartial && (in.TIF == polybot.FOK || in.TIF == polybot.FAK) {
			continue // an immediate order that ended partly filled: nothing rests; syncFills finds late fills
		}
		if err := r.reconcileOne(ctx, in); err != nil && first == nil {
			first = err
		}
	}
	if r.mode == polybot.Live {
		if err := r.syncFills(ctx); err != nil && first == nil {
			first = err
		}
		orphans, err := r.orphanedLegs(ctx)
		if err != nil && first == nil {
			first = err
		}
		for _, opp := range orphans {
			touched[opp] = true
		}
	}
	return first
}

// orphanedLegs finds the opportunities among the tenant's recent live
// intents (the newest 1000, within ReconcileWindow) whose legs all ended,
// unbalanced, with no unwind ever persisted: the process stopped between a
// leg failing and the unwind of its partner, so the decision to unwind was
// lost, or the unwind did not bring the legs back to flat (no bid, a
// partial fill). Reconciliation repairs them like the legs it resolves:
// an unwind is retried on every start until the legs are flat.
func (r *runner) orphanedLegs(ctx context.Context) ([]string, error) {
	var ins []*polybot.Intent
	err := r.m.cfg.Store.TenantView(ctx, r.t.id, func(tx polybot.TenantTx) error {
		var err error
		ins, err = tx.Intents(nil, time.Time{}, 1000)
		return err
	})
	if err != nil {
		return nil, err
	}
	type legs struct {
		filled  map[int]polybot.Decimal
		unwound map[int]polybot.Decimal
		done    bool
	}
	since := r.m.now().Add(-r.m.cfg.ReconcileWindow)
	byOpp := map[string]*legs{}
	for _, in := range ins {
		if in.Mode != r.mode || in.CreatedAt.Before(since) {
			continue
		}
		l := byOpp[in.OpportunityID]
		if l == nil {
			l = &legs{filled: map[int]polybot.Decimal{}, unwound: map[int]polybot.Decimal{}, done: true}
			byOpp[in.OpportunityID] = l
		}
		switch {
		case in.State == polybot.IntentPending || in.State == polybot.IntentUnknown || in.State == polybot.IntentOpen:
			l.done = false // still working: reconcileOne's repair covers it
		case in.Leg >= unwindLeg:
			l.unwound[in.Leg-unwindLeg] = l.unwound[in.Leg-unwindLeg].Add(in.Filled)
		default:
			l.filled[in.Leg] = in.Filled
		}
	}
	var out []string
	for opp, l := range byOpp {
		if !l.done || len(l.filled) < 2 {
			continue
		}
		// Every leg must be in the list (the oldest opportunity may be cut).
		unbalanced := false
		held0 := l.filled[0].Sub(l.unwound[0])
		for li := range len(l.filled) {
			q, ok := l.filled[li]
			if !ok {
				unbalanced = false
				break
			}
			unbalanced = unbalanced || q.Sub(l.unwound[li]) != held0
		}
		if unbalanced {
			out = append(out, opp)
		}
	}
	return out, nil
}

func (r *runner) reconcileOne(ctx context.Context, in *polybot.Intent) error {
	if in.Mode == polybot.DryRun {
		state := polybot.IntentCancelled
		if in.Filled.Sign() > 0 {
			state = polybot.IntentPartial
		}
		r.settle(ctx, in, nil, nil, state, "dry-run order closed when the bot restarted")
		return nil
	}
	x := r.ex[in.Instrument.Venue]
	if x == nil {
		return nil // no key for that venue now: left for a later start
	}
	qctx, cancel := context.WithTimeout(ctx, r.m.cfg.OrderTimeout)
	st, err := x.Order(qctx, in.ID)
	cancel()
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		switch in.State {
		case polybot.IntentPending:
			r.settle(ctx, in, nil, nil, polybot.IntentRejected, "never reached the venue")
			delete(r.unresolved, in.ID)
		case polybot.IntentUnknown:
			if r.m.now().Sub(in.CreatedAt) > r.m.cfg.UnknownGrace {
				r.settle(ctx, in, nil, nil, polybot.IntentRejected, "the venue has no such order")
				delete(r.unresolved, in.ID)
			} else {
				r.trackUnknown(in.ID)
			}
		default:
			state := polybot.IntentCancelled
			if in.Filled.Sign() > 0 {
				state = polybot.IntentPartial
			}
			r.settle(ctx, in, nil, nil, state, "the venue no longer has the order")
		}
		return nil
	}
	if err != nil {
		if in.State == polybot.IntentUnknown {
			r.trackUnknown(in.ID)
		}
		return err
	}
	fills := r.fetchFills(ctx, x, in, st)
	r.settle(ctx, in, st, fills, "", st.Reason)
	delete(r.unresolved, in.ID)
	return nil
}

// syncFills records the venue's recent fills of the tenant's own orders
// (each once: RecordFill de-duplicates by trade id).
func (r *runner) syncFills(ctx context.Context) error {
	t, m := r.t, r.m
	since := m.now().Add(-m.cfg.ReconcileWindow)
	for _, x := range r.ex {
		fctx, cancel := context.WithTimeout(ctx, m.cfg.OrderTimeout)
		fills, err := x.Fills(fctx, since)
		cancel()
		if err != nil {
			return err
		}
		if len(fills) == 0 {
			continue
		}
		var recorded []*polybot.TradeFill
		err = m.cfg.Store.Tenant(ctx, t.id, func(tx polybot.TenantTx) error {
			recorded = recorded[:0]
			for _, f := range fills {
				if f.ClientOrderID == "" {
					continue
				}
				in, err := tx.Intent(f.ClientOrderID)
				if polybot.ErrorCode(err) == polybot.ENOTFOUND {
					continue // not the bot's order
				}
				if err != nil {
					return err
				}
				tf := &polybot.TradeFill{Venue: in.Instrument.Venue, TradeID: f.TradeID, ClientOrderID: in.ID, Strategy: in.Strategy,
					Mode: in.Mode, Instrument: in.Instrument, Side: in.Side, Price: intentPrice(in, &f), Size: f.Size, Fee: f.Fee, Time: f.Time}
				if tf.Time.IsZero() {
					tf.Time = tx.Now()
				}
				ok, err := polybot.RecordFill(tx, tf, r.m.val)
				if err != nil {
					return err
				}
				if ok {
					recorded = append(recorded, tf)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, f := range recorded {
			t.c.fills.Add(1)
			m.fills.Add(1)
			t.addPnL(f.Strategy, f.RealizedPnL)
			t.publish("fill", f)
		}
	}
	return nil
}

// resolveUnknown asks the venue again about orders whose outcome is
// unknown.
func (r *runner) resolveUnknown(ctx context.Context) {
	for id := range r.unresolved {
		var in *polybot.Intent
		err := r.m.cfg.Store.TenantView(ctx, r.t.id, func(tx polybot.TenantTx) error {
			var err error
			in, err = tx.Intent(id)
			return err
		})
		if err != nil {
			if polybot.ErrorCode(err) == polybot.ENOTFOUND {
				delete(r.unresolved, id)
			}
			continue
		}
		if finalState(in.State) || in.State != polybot.IntentUnknown {
			delete(r.unresolved, id)
			continue
		}
		_ = r.reconcileOne(ctx, in)
		if _, still := r.unresolved[id]; !still {
			r.repairLegs(ctx, in.OpportunityID)
		}
	}
	if len(r.unresolved) == 0 {
		r.unresolved = nil
		r.t.setError("")
	}
}

// cancelOpen cancels every open order of the tenant's intents at the venue
// and records the outcome. It works in every halt state: cancels only
// reduce risk.
func (r *runner) cancelOpen(ctx context.Context) (int, error) {
	var ins []*polybot.Intent
	err := r.m.cfg.Store.TenantView(ctx, r.t.id, func(tx polybot.TenantTx) error {
		var err error
		ins, err = tx.Intents([]string{polybot.IntentOpen, polybot.IntentPartial, polybot.IntentPending}, time.Time{}, 1000)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, in := range ins {
		x := r.ex[in.Instrument.Venue]
		if in.Mode != r.mode || x == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, r.m.cfg.OrderTimeout)
		err := x.CancelOrder(cctx, in.ID)
		cancel()
		if err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
			if first == nil {
				first = err
			}
			continue
		}
		if err == nil {
			n++
		}
		if err := r.reconcileOne(ctx, in); err != nil && first == nil {
			first = err
		}
	}
	return n, first
}
