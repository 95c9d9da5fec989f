package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
)

// unwindLeg offsets the Leg number of an unwind intent: leg i of an
// opportunity is unwound by the intent of leg unwindLeg+i.
const unwindLeg = polybot.UnwindLeg

// lotOf is the smallest set an opportunity trades: the largest default lot
// of its legs' venues (internal/fee): a hundredth of a share on Polymarket
// alone, a whole contract as soon as a leg is on Kalshi or IBKR.
func lotOf(o *polybot.Opportunity) polybot.Decimal {
	lot := polybot.NewDecimal(1, 6)
	for i := range o.Legs {
		lot = lot.Max(fee.DefaultRules(o.Legs[i].Instrument.Venue).Lot)
	}
	return lot
}

// leastOf is the fewest sets an opportunity can be traded in: the largest
// default minimum order size of its legs' venues (internal/fee: 5 shares
// on Polymarket). The dispatcher lends no less (an order below it would be
// refused); a market that asks more is refused by the runner's pricing.
func leastOf(o *polybot.Opportunity) polybot.Decimal {
	least := polybot.NewDecimal(1, 6)
	for i := range o.Legs {
		least = least.Max(fee.DefaultRules(o.Legs[i].Instrument.Venue).MinSize)
	}
	return least
}

// act executes one grant: the opportunity with the sets of depth the
// dispatcher lent. The config may have changed since: it is checked
// again, and the opportunity is re-priced for the granted size (fees per
// set grow on smaller orders). Every path resolves the grant exactly once:
// depth not used goes back, depth used stays taken.
func (r *runner) act(ctx context.Context, g Grant) {
	t, m := r.t, r.m
	s := t.snap.Load()
	opp := &g.Opportunity
	if s == nil || t.state.Load() != stRunning || !m.wants(s.cfg, s.profile.Features, opp) {
		m.resolve(g.releaseAll())
		return
	}
	if m.cfg.MaxOfferAge > 0 && time.Since(g.At) > m.cfg.MaxOfferAge {
		m.stale.Add(1)
		m.resolve(g.releaseAll())
		return
	}
	priced, ok := m.detector().Resize(opp, g.Sets)
	if !ok || priced.Size != g.Sets || !m.wants(s.cfg, s.profile.Features, priced) {
		m.resolve(g.releaseAll())
		return
	}
	if m.onAct != nil {
		m.onAct(ctx, t.id, g)
	}
	r.execute(ctx, s, &g, priced, g.Sets)
}

// legOrder is the order legs are sent in: the riskier first, that is the
// thinner visible size, then the venue that comes first in
// Config.LegOrder (the less liquid one).
func (r *runner) legOrder(o *polybot.Opportunity) []int {
	idx := make([]int, len(o.Legs))
	for i := range idx {
		idx[i] = i
	}
	rank := func(p polybot.Platform) int {
		if i := slices.Index(r.m.cfg.LegOrder, p); i >= 0 {
			return i
		}
		return len(r.m.cfg.LegOrder)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		la, lb := &o.Legs[a], &o.Legs[b]
		if c := la.Available.Cmp(lb.Available); c != 0 {
			return c
		}
		return rank(la.Instrument.Venue) - rank(lb.Instrument.Venue)
	})
	return idx
}

func (r *runner) tif(p polybot.Platform) polybot.TimeInForce {
	if !polybot.VenueOf(p).FillOrKill || slices.Contains(r.m.cfg.NoFOK, p) {
		return polybot.FAK
	}
	return polybot.FOK
}

// execute sends an opportunity's legs for sets sets. Every leg's intent
// passes the risk gate in one transaction first; then the legs go riskiest
// first, and a leg that does not fill in full stops the sequence and
// unwinds what filled.
func (r *runner) execute(ctx context.Context, s *snapshot, g *Grant, opp *polybot.Opportunity, sets polybot.Decimal) {
	t, m := r.t, r.m
	order := r.legOrder(opp)
	intents := make([]*polybot.Intent, len(order))
	for k, li := range order {
		l := &opp.Legs[li]
		intents[k] = &polybot.Intent{ID: polybot.IntentID(t.id, opp.ID, li, 0), OpportunityID: opp.ID, Strategy: opp.Strategy,
			Leg: li, Mode: r.mode, Instrument: l.Instrument, Side: polybot.Buy, Price: l.Price, Size: sets, TIF: r.tif(l.Instrument.Venue)}
	}
	err := m.cfg.Store.Tenant(ctx, t.id, func(tx polybot.TenantTx) error {
		for _, in := range intents {
			in.State = ""
			if err := r.gate(tx, in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.resolve(g.releaseAll())
		if polybot.ErrorCode(err) == polybot.ECONFLICT {
			return // this decision was taken before (same opportunity, same tenant)
		}
		r.refused(err)
		r.recordRefusal(ctx, intents, err)
		return
	}
	t.c.intents.Add(int64(len(intents)))
	for _, in := range intents {
		t.publish("intent", in)
	}
	// The intents took a store round trip: if the hub's books no longer
	// show every leg's size at its price, nothing is sent.
	if why := r.moved(opp, sets); why != "" {
		m.moved.Add(1)
		r.cancelUnsent(ctx, intents, "not sent: "+why)
		m.resolve(g.releaseAll())
		return
	}
	// Legs go back to back; their fills are recorded once every leg that
	// will be sent has been (the intents are already persisted), so the
	// window between legs is one venue round trip.
	var sent []placed
	failed := -1
	r.sending = true           // from here a panic leaves the grant used: a leg may have gone
	m.observeTickToOrder(g.At) // metrics: book update → first order sent
	m.newsSent(ctx, t, g)      // a news trade: headline → first order
	if m.onSend != nil {
		m.onSend(t.id, g)
	}
	for k, in := range intents {
		p := r.place(ctx, r.ex[in.Instrument.Venue], in)
		sent = append(sent, p)
		if p.unknown || p.st == nil || p.st.Filled != sets {
			failed = k
			break
		}
	}
	filled := make([]polybot.Decimal, len(opp.Legs))
	var last sendResult
	for _, p := range sent {
		last = r.record(ctx, p)
		filled[p.in.Leg] = last.filled
	}
	used := legsUsed(sent, filled, sets)
	if failed >= 0 {
		in := intents[failed]
		if last.unknown {
			m.resolve(g.settled(used))
			r.cancelUnsent(ctx, intents[failed+1:], "not sent: the outcome of leg "+itoa(int64(in.Leg))+" is unknown")
			t.c.errors.Add(1)
			t.setError("the outcome of an order is unknown; resolving it with the venue (" + in.ID + ")")
			return
		}
		r.cancelUnsent(ctx, intents[failed+1:], "not sent: leg "+itoa(int64(in.Leg))+" did not fill")
		m.resolve(g.settled(used))
		if failed > 0 || last.filled.Sign() > 0 {
			r.unwind(ctx, opp, filled, "leg "+itoa(int64(in.Leg))+" filled "+last.filled.String()+" of "+sets.String()+": "+last.reason)
		}
		return
	}
	m.resolve(g.settled(used))
	if opp.Strategy == polybot.StrategyNews {
		m.news.opened(t, opp, filled[0], polybot.Headline{ID: g.HeadlineID, Received: g.Headline}) // a directional position: watch it for its exit
	}
	if t.events.active() {
		t.publish("pnl", map[string]any{"opportunity_id": opp.ID, "strategy": opp.Strategy, "mode": r.mode, "sets": sets,
			"expected_profit": opp.NetEdge.Mul(sets)})
	}
}

// legsUsed is what each leg of a grant took from its level: the most the
// venue or the store says filled, and all of it while the outcome is
// unknown (it may have filled). Legs never sent took nothing.
func legsUsed(sent []placed, filled []polybot.Decimal, sets polybot.Decimal) []polybot.Decimal {
	used := slices.Clone(filled)
	for _, p := range sent {
		switch {
		case p.unknown:
			used[p.in.Leg] = sets
		case p.st != nil:
			used[p.in.Leg] = used[p.in.Leg].Max(p.st.Filled)
		}
	}
	return used
}

// moved checks the hub's latest books just before sending: every leg must
// still show sets at its limit price or better. It returns why not, or "".
func (r *runner) moved(opp *polybot.Opportunity, sets polybot.Decimal) string {
	for i := range opp.Legs {
		l := &opp.Legs[i]
		v, ok := r.m.viewSince(l.Instrument, l.QuoteTime)
		if !ok {
			return "the " + describe(l.Instrument) + " book is reconnecting"
		}
		avail := polybot.Zero
		for _, a := range v.Asks {
			if a.Price.GreaterThan(l.Price) || !avail.LessThan(sets) {
				break
			}
			avail = avail.Add(a.Size)
		}
		if avail.LessThan(sets) {
			return "the book moved: " + describe(l.Instrument) + " shows " + avail.String() + " at " + l.Price.String() + " or better, not the " + sets.String() + " needed"
		}
	}
	return ""
}

// recordRefusal keeps a refused decision on the Orders page: its legs as
// rejected intents whose error says why ("refused: Today's loss …"). At
// most one a minute per reason, so a refusal repeated on every book update
// does not flood the page. Nothing was sent; the quota is not touched.
func (r *runner) recordRefusal(ctx context.Context, intents []*polybot.Intent, err error) {
	if lostLease(err) {
		return // not the user's refusal: this worker lost the tenant
	}
	why := polybot.RiskReason(err)
	if why == "" {
		why = "unchecked"
	}
	now := r.m.now()
	if why == r.refusedWhy && now.Sub(r.refusedAt) < time.Minute {
		return
	}
	r.refusedWhy, r.refusedAt = why, now
	msg := "refused: " + polybot.ErrorMessage(err)
	if polybot.RiskReason(err) == "" {
		msg = "refused: the risk gate could not be checked, so nothing was sent"
	}
	werr := r.m.cfg.Store.Tenant(context.WithoutCancel(ctx), r.t.id, func(tx polybot.TenantTx) error {
		for _, in := range intents {
			in.State, in.Error, in.UserID = polybot.IntentRejected, msg, tx.Tenant()
			if err := tx.InsertIntent(in); err != nil && polybot.ErrorCode(err) != polybot.ECONFLICT {
				return err
			}
		}
		return nil
	})
	if werr != nil {
		r.m.log.Warn("recording a refusal failed", "tenant", r.t.id, "err", werr)
		return
	}
	for _, in := range intents {
		r.t.publish("intent", in)
	}
}

// refused handles an error of the risk gate: nothing was sent.
func (r *runner) refused(err error) {
	t, m := r.t, r.m
	t.c.rejected.Add(1)
	reason := polybot.RiskReason(err)
	msg := polybot.ErrorMessage(err)
	if reason == "" {
		t.c.errors.Add(1)
		m.log.Warn("risk gate could not be checked; nothing sent", "tenant", t.id, "err", err)
		msg = "the risk gate could not be checked, so nothing was sent"
	}
	t.setError("order refused: " + msg)
	t.publish("intent", map[string]any{"state": polybot.IntentRejected, "risk": reason, "error": msg})
	switch reason {
	case polybot.RiskLease:
		m.claimNow() // the lease loop lets the tenant go
		r.reevaluate = true
	case polybot.RiskHalted, polybot.RiskReducingOnly:
		r.reevaluate = true // the stored halt state changed: load it
	case polybot.RiskDailyLoss, polybot.RiskQuota:
		r.hold = m.now().Add(m.cfg.Recheck)
		r.holdReason = msg
		r.reevaluate = true
	}
}

type sendResult struct {
	filled  polybot.Decimal
	unknown bool
	reason  string
}

// placed is an order sent (or refused) and not yet recorded.
type placed struct {
	in      *polybot.Intent
	x       polybot.Exchange
	st      *polybot.OrderStatus // nil: refused (msg says why) or unknown
	msg     string
	unknown bool
}

// send places one intent's order and records the outcome.
func (r *runner) send(ctx context.Context, x polybot.Exchange, in *polybot.Intent) sendResult {
	return r.record(ctx, r.place(ctx, x, in))
}

// place sends one intent's order. An unknown outcome is marked as such in
// the store and resolved by query, never by sending again.
func (r *runner) place(ctx context.Context, x polybot.Exchange, in *polybot.Intent) placed {
	t, m := r.t, r.m
	p := placed{in: in, x: x}
	if x == nil {
		p.msg = "no exchange for " + string(in.Instrument.Venue)
		return p
	}
	if err := ctx.Err(); err != nil {
		p.msg = "not sent: the bot stopped"
		return p
	}
	if why := t.leaseLapsed(); why != "" {
		// A worker paused or cut off past its lease sends nothing: the
		// tenant's next holder reconciles this intent.
		p.msg = "not sent: " + why
		m.claimNow()
		return p
	}
	req := polybot.OrderRequest{ClientOrderID: in.ID, Instrument: in.Instrument, Side: in.Side, Price: in.Price, Size: in.Size, TIF: in.TIF}
	octx, cancel := context.WithTimeout(ctx, m.cfg.OrderTimeout)
	if h := t.lease.Load(); h != nil {
		// A worker stopped between the check above and the write: when it
		// resumes past its lease, the request's deadline has passed and it
		// is abandoned unwritten (never sent) rather than sent late.
		octx, cancel = withDeadline(octx, cancel, h.expiry)
	}
	st, err := x.PlaceOrder(octx, req)
	cancel()
	if err != nil && definitelyNotPlaced(err) {
		t.c.errors.Add(1)
		p.msg = polybot.ErrorMessage(err)
		var ve *polybot.VenueError
		if errors.As(err, &ve) {
			p.msg = ve.Error()
		}
		return p
	}
	if err != nil {
		// The venue may have the order: find out by asking, never resend.
		m.unknown.Add(1)
		r.settle(ctx, in, nil, nil, polybot.IntentUnknown, "outcome unknown: "+err.Error())
		var ok bool
		if st, ok = r.resolve(ctx, x, in.ID); !ok {
			r.trackUnknown(in.ID)
			p.unknown = true
			return p
		}
	}
	p.st = st
	return p
}

// record reads a placed order's fills and records them with its state.
func (r *runner) record(ctx context.Context, p placed) sendResult {
	if p.unknown {
		return sendResult{unknown: true, reason: "outcome unknown"}
	}
	if p.st == nil {
		r.settle(ctx, p.in, nil, nil, polybot.IntentRejected, p.msg)
		return sendResult{reason: p.msg}
	}
	st := p.st
	fills := r.fetchFills(ctx, p.x, p.in, st)
	cur := r.settle(ctx, p.in, st, fills, "", st.Reason)
	res := sendResult{filled: st.Filled, reason: string(st.State)}
	if st.Reason != "" {
		res.reason += " (" + st.Reason + ")"
	}
	if cur != nil && !(st.State == polybot.OrderFilled && cur.Filled.LessThan(p.in.Size)) {
		// What the store recorded, unless the venue says filled and not
		// every fill has been seen yet.
		res.filled = cur.Filled
	}
	return res
}

// definitelyNotPlaced reports whether err proves the order never reached
// the venue's book: our own validation, a rate limit, or a refusal whose
// outcome is known. Anything else is resolved by query.
func definitelyNotPlaced(err error) bool {
	if errors.Is(err, polybot.ErrOutcomeUnknown) {
		return false
	}
	var ve *polybot.VenueError
	if errors.As(err, &ve) {
		return !ve.Unknown && ve.Status >= 400 && ve.Status < 500
	}
	switch polybot.ErrorCode(err) {
	case polybot.EINVALID, polybot.EFORBIDDEN, polybot.EUNAUTHORIZED, polybot.ERATELIMIT, polybot.EQUOTA:
		return true
	}
	// The rate limiter gave up before the request left: never sent.
	var ns *notSent
	return errors.As(err, &ns)
}

// resolve asks the venue for an order whose outcome is unknown, a few times
// with short pauses. false: the venue does not (yet) know it.
func (r *runner) resolve(ctx context.Context, x polybot.Exchange, id string) (*polybot.OrderStatus, bool) {
	for _, d := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond} {
		if d > 0 {
			select {
			case <-ctx.Done():
				return nil, false
			case <-time.After(d):
			}
		}
		qctx, cancel := context.WithTimeout(ctx, r.m.cfg.OrderTimeout)
		st, err := x.Order(qctx, id)
		cancel()
		if err == nil {
			return st, true
		}
		r.m.log.Debug("order not resolved yet", "tenant", r.t.id, "order", id, "err", err)
	}
	return nil, false
}

func (r *runner) trackUnknown(id string) {
	if r.unresolved == nil {
		r.unresolved = map[string]time.Time{}
	}
	if _, ok := r.unresolved[id]; !ok {
		r.unresolved[id] = r.m.now()
	}
}

// fetchFills reads the order's fills from the venue, waiting briefly for
// fills the order status already counts.
func (r *runner) fetchFills(ctx context.Context, x polybot.Exchange, in *polybot.Intent, st *polybot.OrderStatus) []polybot.Fill {
	if st.Filled.Sign() <= 0 {
		return nil
	}
	since := in.CreatedAt.Add(-time.Minute)
	if in.CreatedAt.IsZero() {
		since = r.m.now().Add(-time.Hour)
	}
	var out []polybot.Fill
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return out
			case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
			}
		}
		all, err := x.Fills(ctx, since)
		if err != nil {
			r.m.log.Warn("reading fills failed", "tenant", r.t.id, "order", in.ID, "err", err)
			continue
		}
		out = out[:0]
		sum := polybot.Zero
		for _, f := range all {
			if f.ClientOrderID == in.ID || (f.ClientOrderID == "" && st.VenueOrderID != "" && f.VenueOrderID == st.VenueOrderID) {
				out = append(out, f)
				sum = sum.Add(f.Size)
			}
		}
		if !sum.LessThan(st.Filled) {
			break
		}
	}
	return out
}

// intentPrice is a venue fill's price in its intent's terms, which the
// recorded fill takes. A binary market's sale of one outcome at p is the
// purchase of the other at 1 − p, and a venue with one book per market
// (Kalshi) may report the fill either way: its connector states it in the
// order's terms only when it placed the order itself, so after a restart a
// NO buy at 0.87 comes back as a YES sell at 0.13.
func intentPrice(in *polybot.Intent, f *polybot.Fill) polybot.Decimal {
	fi, ii := f.Instrument, in.Instrument
	if fi.Venue == ii.Venue && fi.Market == ii.Market && fi.Outcome != ii.Outcome && f.Side != in.Side {
		return polybot.One.Sub(f.Price)
	}
	return f.Price
}

// intentState maps a venue's order state onto an intent's.
func intentState(st polybot.OrderState, filled polybot.Decimal) string {
	switch st {
	case polybot.OrderFilled:
		return polybot.IntentFilled
	case polybot.OrderPartial:
		return polybot.IntentPartial
	case polybot.OrderOpen:
		if filled.Sign() > 0 {
			return polybot.IntentPartial
		}
		return polybot.IntentOpen
	case polybot.OrderCancelled:
		if filled.Sign() > 0 {
			return polybot.IntentPartial
		}
		return polybot.IntentCancelled
	case polybot.OrderRejected:
		return polybot.IntentRejected
	}
	return polybot.IntentUnknown
}

func finalState(s string) bool {
	return s == polybot.IntentFilled || s == polybot.IntentCancelled || s == polybot.IntentRejected
}

// settle records an order's fills (each once) and its state in one
// transaction, and gives a live order's quota count back when it ends with
// nothing filled. state "" derives it from st. It returns the stored
// intent, or nil if recording failed (the failure is counted and logged;
// reconciliation repairs it).
func (r *runner) settle(ctx context.Context, in *polybot.Intent, st *polybot.OrderStatus, fills []polybot.Fill, state, msg string) *polybot.Intent {
	t, m := r.t, r.m
	var cur *polybot.Intent
	var recorded []*polybot.TradeFill
	err := m.cfg.Store.Tenant(context.WithoutCancel(ctx), t.id, func(tx polybot.TenantTx) error {
		recorded = recorded[:0]
		for _, f := range fills {
			tf := &polybot.TradeFill{Venue: in.Instrument.Venue, TradeID: f.TradeID, ClientOrderID: in.ID, Strategy: in.Strategy,
				Mode: in.Mode, Instrument: in.Instrument, Side: in.Side, Price: intentPrice(in, &f), Size: f.Size, Fee: f.Fee, Time: f.Time}
			if tf.Time.IsZero() {
				tf.Time = tx.Now()
			}
			ok, err := polybot.RecordFill(tx, tf, m.val)
			if err != nil {
				return err
			}
			if ok {
				recorded = append(recorded, tf)
			}
		}
		var err error
		if cur, err = tx.Intent(in.ID); err != nil {
			return err
		}
		prev := cur.State
		switch {
		case state != "":
			cur.State = state
		case st != nil:
			cur.State = intentState(st.State, cur.Filled)
		}
		if st != nil && st.VenueOrderID != "" {
			cur.VenueOrderID = st.VenueOrderID
		}
		cur.Error = msg
		if cur.Mode == polybot.Live && finalState(cur.State) && !finalState(prev) && cur.Filled.IsZero() {
			if _, err := tx.ReleaseTrade(); err != nil {
				return err
			}
		}
		return tx.UpdateIntent(cur)
	})
	if err != nil {
		t.c.errors.Add(1)
		t.setError("recording an order failed: " + polybot.ErrorMessage(err))
		m.log.Error("recording an order failed", "tenant", t.id, "order", in.ID, "err", err)
		return nil
	}
	for _, f := range recorded {
		t.c.fills.Add(1)
		m.fills.Add(1)
		t.addPnL(f.Strategy, f.RealizedPnL)
		t.publish("fill", f)
	}
	t.publish("intent", cur)
	return cur
}

// cancelUnsent closes intents that were persisted but never sent.
func (r *runner) cancelUnsent(ctx context.Context, ins []*polybot.Intent, why string) {
	for _, in := range ins {
		r.settle(ctx, in, nil, nil, polybot.IntentCancelled, why)
	}
}

// unwind sells back what filled of each leg, fill-and-kill at the best bid,
// after a later leg failed.
func (r *runner) unwind(ctx context.Context, opp *polybot.Opportunity, filled []polybot.Decimal, why string) {
	insts := make([]polybot.Instrument, len(opp.Legs))
	for i := range opp.Legs {
		insts[i] = opp.Legs[i].Instrument
	}
	r.unwindLegs(ctx, opp.ID, opp.Strategy, insts, filled, nil, why)
}

// unwindTries bounds how often one leg's unwind is tried before the bot
// gives up and goes reducing-only; unwindBackoff is the first pause
// between tries, doubled each time (100ms, 200ms, 400ms, 800ms).
const (
	unwindTries   = 5
	unwindBackoff = 100 * time.Millisecond
)

// unwindLegs sells q[i] of insts[i] for every leg with something to sell:
// fill-and-kill at the best bid, as risk-reducing orders that no halt,
// daily loss or quota refuses. A partial fill is retried at the new best
// bid with backoff until the leg is flat; a leg still not flat after
// unwindTries leaves the tenant reducing-only, with the reason in its
// status. attempts[i] numbers the leg's unwinds so far (each try gets its
// own client order id).
func (r *runner) unwindLegs(ctx context.Context, oppID, strategy string, insts []polybot.Instrument, q []polybot.Decimal, attempts []int, why string) {
	t, m := r.t, r.m
	msg := "unwound after " + why
	var naked []string
	for li, size := range q {
		if size.Sign() <= 0 {
			continue
		}
		t.c.unwinds.Add(1)
		m.unwinds.Add(1)
		inst := insts[li]
		attempt := 0
		if attempts != nil {
			attempt = attempts[li]
		}
		left, problem := size, ""
		for try := 0; left.Sign() > 0 && try < unwindTries; try++ {
			if try > 0 {
				select {
				case <-time.After(unwindBackoff << (try - 1)):
				case <-ctx.Done():
					// Stopping: reconciliation on the next start finishes it.
				}
			}
			q, ok := m.reduceQuote(inst)
			if !ok {
				problem = q.why
				continue
			}
			in := &polybot.Intent{ID: polybot.IntentID(t.id, oppID, unwindLeg+li, attempt), OpportunityID: oppID, Strategy: strategy,
				Leg: unwindLeg + li, Mode: r.mode, Instrument: q.inst, Side: q.side, Price: q.price, Size: left, TIF: polybot.FAK, Reduce: true,
				Against: q.against}
			attempt++
			err := m.cfg.Store.Tenant(context.WithoutCancel(ctx), t.id, func(tx polybot.TenantTx) error {
				return r.gate(tx, in)
			})
			if err != nil {
				problem = "unwind refused: " + polybot.ErrorMessage(err)
				if polybot.ErrorCode(err) == polybot.ECONFLICT {
					continue // this attempt's id was used before a crash: take the next
				}
				if lostLease(err) {
					// Another worker holds the tenant now: it reconciles and
					// unwinds. This one writes nothing more.
					m.claimNow()
					return
				}
				break
			}
			t.c.intents.Add(1)
			t.publish("intent", in)
			res := r.send(context.WithoutCancel(ctx), r.ex[q.inst.Venue], in)
			if res.unknown {
				problem = "unwind outcome unknown (resolving it with the venue)"
				left = polybot.Zero // reconciliation repairs what the venue reports
				break
			}
			left = left.Sub(res.filled)
			if left.Sign() > 0 {
				problem = "unwound " + size.Sub(left).String() + " of " + size.String() + " (" + res.reason + ")"
			}
		}
		if left.Sign() > 0 {
			naked = append(naked, left.String()+" "+describe(inst)+": "+problem)
		} else if problem != "" {
			msg += "; leg " + itoa(int64(li)) + ": " + problem
		}
	}
	if len(naked) > 0 {
		msg += "; NOT FLAT after " + itoa(unwindTries) + " tries: " + strings.Join(naked, "; ")
		r.goReducingOnly(ctx, "an unwind did not complete, so a position is unhedged ("+strings.Join(naked, "; ")+"). "+
			"New trades are paused (reducing-only) until you close it or set trading back to active.")
	}
	t.setError(msg)
	m.log.Warn("legs unbalanced; unwound", "tenant", t.id, "opportunity", oppID, "detail", msg)
	t.publish("status", t.status())
}

// goReducingOnly stores the tenant's own halt state as reducing-only (an
// admin's or the platform's stricter state still applies) and re-evaluates.
func (r *runner) goReducingOnly(ctx context.Context, why string) {
	t, m := r.t, r.m
	if lapsed := t.leaseLapsed(); lapsed != "" {
		m.log.Warn("not going reducing-only: "+lapsed+"; the tenant's next holder reconciles", "tenant", t.id)
		return
	}
	err := m.cfg.Store.Tenant(context.WithoutCancel(ctx), t.id, func(tx polybot.TenantTx) error {
		cur, err := tx.HaltState()
		if err != nil {
			return err
		}
		if polybot.StricterHalt(cur, polybot.HaltReducingOnly) != cur {
			if err := tx.SetHaltState(polybot.HaltReducingOnly); err != nil {
				return err
			}
		}
		if err := notifyNaked(tx, why); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: "system", Action: "bot.reducing_only", Target: "bot", Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		m.log.Error("could not go reducing-only after a failed unwind", "tenant", t.id, "err", err)
	}
	t.setNaked(why)
	r.reevaluate = true
}

// repairLegs balances an opportunity's legs once none of them is still
// working: whatever a leg holds beyond the least-filled leg (its partner
// never filled, or its outcome was unknown and turned out filled) is sold
// back. Reconciliation calls it for the opportunities it resolved.
func (r *runner) repairLegs(ctx context.Context, oppID string) {
	var ins []*polybot.Intent
	err := r.m.cfg.Store.TenantView(ctx, r.t.id, func(tx polybot.TenantTx) error {
		all, err := tx.Intents(nil, time.Time{}, 1000)
		for _, in := range all {
			if in.OpportunityID == oppID && in.Mode == r.mode {
				ins = append(ins, in)
			}
		}
		return err
	})
	if err != nil || len(ins) == 0 {
		return
	}
	legs := 0
	for _, in := range ins {
		if in.Leg < unwindLeg {
			legs = max(legs, in.Leg+1)
		}
	}
	if legs < 2 {
		return
	}
	insts := make([]polybot.Instrument, legs)
	held := make([]polybot.Decimal, legs)
	attempts := make([]int, legs)
	seen := make([]bool, legs)
	for _, in := range ins {
		if in.State == polybot.IntentPending || in.State == polybot.IntentUnknown || in.State == polybot.IntentOpen {
			return // still working: not yet
		}
		li := in.Leg
		if li >= unwindLeg {
			li -= unwindLeg
			if li >= legs {
				continue
			}
			held[li] = held[li].Sub(in.Filled)
			attempts[li]++
			continue
		}
		insts[li], seen[li] = in.Instrument, true
		held[li] = held[li].Add(in.Filled)
	}
	hedged := held[0]
	for li := range held {
		if !seen[li] {
			hedged = polybot.Zero // a leg never persisted: nothing of it is held
		}
		hedged = hedged.Min(held[li])
	}
	excess := make([]polybot.Decimal, legs)
	any := false
	for li := range held {
		if seen[li] {
			excess[li] = held[li].Sub(hedged)
			any = any || excess[li].Sign() > 0
		}
	}
	if any {
		r.unwindLegs(ctx, oppID, ins[0].Strategy, insts, excess, attempts, "the legs of "+oppID+" ended unbalanced")
	}
}

// describe names an instrument for a user: the venue, the market where the
// venue has one ticker for both outcomes (Kalshi), and the outcome — never
// a 78-digit token id.
func describe(inst polybot.Instrument) string {
	v := polybot.VenueOf(inst.Venue)
	name := v.Label
	if !v.TokenPerOutcome && inst.Market != "" {
		name += " " + inst.Market
	}
	return name + " " + inst.Outcome.String()
}

// reduction is how the engine takes a position in one instrument down
// now: a sale of it at its best bid or, on a venue that takes no sell
// orders (polybot.BuyOpposite), a buy of the same market's other outcome
// at its best ask, against the held contract (the two settle to $1).
type reduction struct {
	inst    polybot.Instrument // what the order trades
	side    polybot.Side
	price   polybot.Decimal
	against polybot.Instrument // the held contract, when inst is its opposite
	why     string             // when there is no price
}

// reduceQuote prices the reduction of held from the books; false (with
// why) when the book has no price for it or the opposite is unknown.
func (m *Manager) reduceQuote(held polybot.Instrument) (reduction, bool) {
	if polybot.VenueOf(held.Venue).Sell != polybot.BuyOpposite {
		if v, ok := m.books.View(held); ok {
			if b, has := v.BestBid(); has {
				return reduction{inst: held, side: polybot.Sell, price: b.Price}, true
			}
		}
		return reduction{why: "no bid for " + describe(held)}, false
	}
	opp, ok := m.opposite(held)
	if !ok {
		return reduction{why: "no opposite contract known for " + describe(held) + " (the venue takes no sells)"}, false
	}
	if v, ok := m.books.View(opp); ok {
		if a, has := v.BestAsk(); has {
			return reduction{inst: opp, side: polybot.Buy, price: a.Price, against: held}, true
		}
	}
	return reduction{why: "no ask for " + describe(opp) + ", the opposite of " + describe(held)}, false
}

// opposite is the other outcome of held's market: from the markets a
// trade named (learnMarket), else from the universe.
func (m *Manager) opposite(held polybot.Instrument) (polybot.Instrument, bool) {
	if o, ok := m.opposites.Load(keyOf(held)); ok {
		return o.(polybot.Instrument), true
	}
	m.uniMu.Lock()
	defer m.uniMu.Unlock()
	return m.cfg.Universe.Opposite(held)
}

// learnMarket records a binary market a trade named outside the universe
// (a news rule's market), so that its position can be reduced on a venue
// that takes no sells.
func (m *Manager) learnMarket(bm polybot.BinaryMarket) {
	m.opposites.Store(keyOf(bm.Yes), bm.No)
	m.opposites.Store(keyOf(bm.No), bm.Yes)
}

// notifyNaked queues, with the reducing-only switch, the notifications of
// a failed unwind and of the naked position it left.
func notifyNaked(tx polybot.TenantTx, why string) error {
	c, err := tx.Config()
	if err != nil {
		return err
	}
	key := polybot.NotifyKey(why, tx.Now().Format(time.RFC3339Nano))
	for _, e := range []*polybot.NotifyEvent{
		polybot.AlertEvent(polybot.NotifyUnwindFailed, key, "An unwind failed", "An unwind did not complete. "+why, tx.Now()),
		polybot.AlertEvent(polybot.NotifyNakedPosition, key, "Naked position: trading is reducing-only", why, tx.Now()),
	} {
		if _, err := polybot.Notify(tx, c, e); err != nil {
			return err
		}
	}
	return nil
}
