package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// bots returns the bot manager, or EUNAVAILABLE when this server runs none.
func (s *Server) bots() (polybot.BotManager, error) {
	if s.cfg.Bots == nil {
		return nil, polybot.Errorf(polybot.EUNAVAILABLE, "the bot manager is not running on this server")
	}
	return s.cfg.Bots, nil
}

func (s *Server) handleBotStatus(w http.ResponseWriter, r *http.Request, id *identity) error {
	b, err := s.bots()
	if err != nil {
		return err
	}
	st, err := s.botStatus(r.Context(), b, id.tenant())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

// botStatus is the bot's status with the tenant's trading day in the bot's
// mode, computed as the risk gate computes it.
func (s *Server) botStatus(ctx context.Context, b polybot.BotManager, tenant polybot.ID) (polybot.BotStatus, error) {
	st := b.Status(ctx, tenant)
	err := s.cfg.Store.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		mode := st.Mode
		if mode == "" {
			mode = polybot.Live
			if c.DryRun {
				mode = polybot.DryRun
			}
		}
		st.Today, err = polybot.TodayRisk(tx, c, p, mode, s.cfg.Valuer, false)
		return err
	})
	return st, err
}

func (s *Server) handleBotStart(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.botAction(w, r, id, "bot.start", func(b polybot.BotManager) error { return b.Start(r.Context(), id.tenant()) })
}

func (s *Server) handleBotStop(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.botAction(w, r, id, "bot.stop", func(b polybot.BotManager) error { return b.Stop(r.Context(), id.tenant()) })
}

func (s *Server) botAction(w http.ResponseWriter, r *http.Request, id *identity, action string, fn func(polybot.BotManager) error) error {
	b, err := s.bots()
	if err != nil {
		return err
	}
	if err := fn(b); err != nil {
		return err
	}
	if err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: action, Target: "bot", Details: "{}", CreatedAt: tx.Now()})
	}); err != nil {
		return err
	}
	st, err := s.botStatus(r.Context(), b, id.tenant())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

// handleBotHalt is the tenant's own kill switch.
func (s *Server) handleBotHalt(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[haltRequest](r)
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.SetHaltState(in.State); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "bot.halt", Target: "bot", Details: `{"state":` + quote(in.State) + `}`, CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, http.StatusOK, map[string]string{"state": in.State})
}

// reload tells a running bot to pick up what was just stored. A failure is
// logged: the bot also reloads on its own schedule.
func (s *Server) reload(r *http.Request, tenant polybot.ID) {
	if s.cfg.Bots == nil {
		return
	}
	err := s.timeReload("api", func() error { return s.cfg.Bots.Reload(r.Context(), tenant) })
	if err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
		s.log.Warn("bot reload", "tenant", tenant, "err", err)
	}
}

func beforeParam(r *http.Request) (time.Time, int, error) {
	q := r.URL.Query()
	var before time.Time
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, 0, polybot.FieldError("before", "must be an RFC 3339 time")
		}
		before = t
	}
	_, limit, err := pageParams(r, "", 100, 1000)
	return before, limit, err
}

func (s *Server) handleTrades(w http.ResponseWriter, r *http.Request, id *identity) error {
	f, err := fillFilter(r)
	if err != nil {
		return err
	}
	var fills []*polybot.TradeFill
	var next string
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		fills, next, err = findFillPage(tx, f)
		return err
	})
	if err != nil {
		return err
	}
	if fills == nil {
		fills = []*polybot.TradeFill{}
	}
	resp := map[string]any{"trades": fills}
	if next != "" {
		resp["next_before"] = next
	}
	return writeJSON(w, http.StatusOK, resp)
}

// fillFilter reads the trades filters from the query: strategy, venue,
// market (ticker, condition id or token), mode, before (the page cursor)
// and limit (100 unless set, 1000 at most).
func fillFilter(r *http.Request) (polybot.FillFilter, error) {
	q := r.URL.Query()
	before, limit, err := beforeParam(r)
	if err != nil {
		return polybot.FillFilter{}, err
	}
	f := polybot.FillFilter{Before: before, Limit: limit, Strategy: q.Get("strategy"), Venue: polybot.Platform(q.Get("venue")),
		Market: q.Get("market"), Mode: polybot.ExecMode(q.Get("mode"))}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return f, f.Validate()
}

// findFillPage lists a page of fills and the next page's cursor (see timePage).
func findFillPage(tx polybot.TenantTx, f polybot.FillFilter) ([]*polybot.TradeFill, string, error) {
	return timePage(f.Limit, func(t *polybot.TradeFill) time.Time { return t.Time }, func(before time.Time, limit int) ([]*polybot.TradeFill, error) {
		g := f
		if !before.IsZero() {
			g.Before = before
		}
		if limit > 0 {
			g.Limit = limit
		}
		return tx.FindFills(g)
	})
}

// findIntentPage lists a page of intents and the next page's cursor (see
// timePage): the legs of one decision share a creation time, so a page
// never splits them.
func findIntentPage(tx polybot.TenantTx, f polybot.IntentFilter) ([]*polybot.Intent, string, error) {
	return timePage(f.Limit, func(in *polybot.Intent) time.Time { return in.CreatedAt }, func(before time.Time, limit int) ([]*polybot.Intent, error) {
		g := f
		if !before.IsZero() {
			g.Before = before
		}
		if limit > 0 {
			g.Limit = limit
		}
		return tx.FindIntents(g)
	})
}

// timePage lists a page (newest first, at most limit rows, by find with no
// bound) and the next page's cursor ("" when the page is not full). A page
// never splits the rows of one instant (many rows may share one time, and
// the cursor is a time): when more rows share the last row's time than the
// page holds, those rows move to the next page, whose cursor then takes in
// that instant. Only a page wholly of one instant cannot give way: its
// cursor passes over the rest of that instant.
func timePage[T any](limit int, at func(T) time.Time, find func(before time.Time, limit int) ([]T, error)) ([]T, string, error) {
	rows, err := find(time.Time{}, 0)
	if err != nil || len(rows) == 0 || len(rows) < limit {
		return rows, "", err
	}
	last := at(rows[len(rows)-1])
	k := 0 // the page's rows at last
	for k < len(rows) && at(rows[len(rows)-1-k]).Equal(last) {
		k++
	}
	cursor := last
	if k < len(rows) {
		same, err := find(last.Add(time.Microsecond), k+1)
		if err != nil {
			return nil, "", err
		}
		n := 0
		for _, x := range same {
			if at(x).Equal(last) {
				n++
			}
		}
		if n > k {
			rows, cursor = rows[:len(rows)-k], last.Add(time.Microsecond)
		}
	}
	return rows, cursor.UTC().Format(time.RFC3339Nano), nil
}

func (s *Server) handleOrders(w http.ResponseWriter, r *http.Request, id *identity) error {
	f, err := intentFilter(r)
	if err != nil {
		return err
	}
	var out []*polybot.Intent
	var next string
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		out, next, err = findIntentPage(tx, f)
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*polybot.Intent{}
	}
	if r.URL.Query().Get("format") == "csv" {
		return writeOrdersCSV(w, out)
	}
	views := make([]orderView, len(out))
	for i, in := range out {
		views[i] = orderView{in, polybot.IntentReason(in)}
	}
	resp := map[string]any{"orders": views}
	if next != "" {
		resp["next_before"] = next
	}
	return writeJSON(w, http.StatusOK, resp)
}

// orderView is an intent with what became of it, in words.
type orderView struct {
	*polybot.Intent
	Reason string `json:"reason"`
}

// intentFilter reads the Orders filters from the query: state (one, or a
// comma-separated list), strategy, venue, market (ticker, condition id or
// token), mode, from and to (RFC 3339 times or 2006-01-02 dates, UTC),
// before (the page cursor) and limit.
func intentFilter(r *http.Request) (polybot.IntentFilter, error) {
	q := r.URL.Query()
	before, limit, err := beforeParam(r)
	if err != nil {
		return polybot.IntentFilter{}, err
	}
	f := polybot.IntentFilter{Before: before, Limit: limit, Strategy: q.Get("strategy"), Venue: polybot.Platform(q.Get("venue")),
		Market: q.Get("market"), Mode: polybot.ExecMode(q.Get("mode")), Opportunity: q.Get("opportunity")}
	if st := q.Get("state"); st != "" {
		f.States = strings.Split(st, ",")
	}
	for _, b := range []struct {
		field string
		dst   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := q.Get(b.field)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if t, err = time.Parse("2006-01-02", v); err != nil {
				return f, polybot.FieldError(b.field, "must be an RFC 3339 time or a date, 2006-01-02")
			}
		}
		*b.dst = t
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return f, f.Validate()
}

// writeOrdersCSV writes intents as CSV, one row each, with the reason a
// user reads on the Orders page.
func writeOrdersCSV(w http.ResponseWriter, ins []*polybot.Intent) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="polybot-orders.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"created_at", "client_order_id", "opportunity_id", "strategy", "mode", "venue", "market", "token", "outcome",
		"side", "price", "size", "filled", "fees", "state", "reason"})
	for _, in := range ins {
		_ = cw.Write([]string{in.CreatedAt.UTC().Format(time.RFC3339Nano), in.ID, in.OpportunityID, in.Strategy, string(in.Mode),
			string(in.Instrument.Venue), in.Instrument.Market, in.Instrument.Token, in.Instrument.Outcome.String(), string(in.Side),
			in.Price.String(), in.Size.String(), in.Filled.String(), in.Fees.String(), in.State, polybot.IntentReason(in)})
	}
	cw.Flush()
	return nil
}

// positionView is a holding with its mark (the last good best bid, its
// time and whether its book is stale now). InSets is how much of it is part
// of a complete set (hedged: worth $1 a set at resolution, see
// /api/v1/pnl's locked); Unrealized is the P&L of the rest only, at the mark
// less the fee to sell it, so the two never count the same contract twice.
type positionView struct {
	*polybot.Holding
	InSets     polybot.Decimal  `json:"in_sets"`
	Mark       *polybot.Decimal `json:"mark"`
	MarkedAt   *time.Time       `json:"marked_at,omitempty"`
	MarkStale  bool             `json:"mark_stale,omitempty"`
	Unrealized *polybot.Decimal `json:"unrealized_pnl"`
}

func (s *Server) handlePositions(w http.ResponseWriter, r *http.Request, id *identity) error {
	hedges, err := s.hedges(r)
	if err != nil {
		return err
	}
	var hs []*polybot.Holding
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		hs, err = tx.Holdings()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"positions": s.positionViews(hs, hedges, r.URL.Query().Get("all") == "true")})
}

// positionViews marks holdings as the risk gate does: complete sets first
// (InSets), then the open remainder at its mark. Closed ones are left out
// unless all.
func (s *Server) positionViews(hs []*polybot.Holding, hedges polybot.Hedges, all bool) []positionView {
	open := map[string]polybot.ValuedHolding{}
	for _, mode := range []polybot.ExecMode{polybot.DryRun, polybot.Live} {
		for _, vh := range polybot.Value(hs, mode, hedgeValuer{s.cfg.Valuer, hedges}).Open {
			open[string(mode)+"|"+vh.Instrument.Key()] = vh
		}
	}
	out := []positionView{}
	for _, h := range hs {
		if h.Size.IsZero() && !all {
			continue
		}
		v := positionView{Holding: h, InSets: h.Size}
		if vh, ok := open[string(h.Mode)+"|"+h.Instrument.Key()]; ok {
			v.InSets = h.Size.Sub(vh.Size)
			u := vh.Value.Sub(vh.Cost.Mul(vh.Size))
			v.Unrealized = &u
			if vh.Mark != nil {
				m := *vh.Mark
				v.Mark, v.MarkedAt, v.MarkStale = &m.Price, &m.At, m.Stale
			}
		} else if h.Size.Sign() > 0 {
			zero := polybot.Zero
			v.Unrealized = &zero
			if s.cfg.Valuer != nil {
				if m, ok := s.cfg.Valuer.Mark(h.Instrument); ok {
					v.Mark, v.MarkedAt, v.MarkStale = &m.Price, &m.At, m.Stale
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// pnlPoint is one step of the cumulative realised P&L series.
type pnlPoint struct {
	Time     time.Time       `json:"time"`
	Strategy string          `json:"strategy"`
	Total    polybot.Decimal `json:"total"`
}

// pnlReport is what GET /api/v1/pnl (and the dashboard) shows.
type pnlReport struct {
	ByStrategy []*polybot.StrategyPnL `json:"by_strategy"`
	Today      [2]*polybot.DailyPnL   `json:"today"` // dry-run, live
	Series     []pnlPoint             `json:"series"`
	// Locked are the complete sets held (YES + NO of one event): they pay
	// $1 at resolution, so their P&L is known now, net of fees.
	Locked      []polybot.LockedSet                  `json:"locked"`
	LockedTotal map[polybot.ExecMode]polybot.Decimal `json:"locked_total"`
	// Net is the whole P&L per mode: realised + locked-in + unrealised.
	Net map[polybot.ExecMode]netPnL `json:"net"`
}

// netPnL is the one net P&L figure the API and the dashboard show. Each
// part is already net of the fees it paid (a holding's cost includes its
// buy fees, a sale's P&L its sell fee, a mark the fee to sell), so Total =
// Realized + Locked + Unrealized; Fees says how much of it went to fees.
type netPnL struct {
	Realized   polybot.Decimal `json:"realized"`
	Locked     polybot.Decimal `json:"locked"`
	Unrealized polybot.Decimal `json:"unrealized"`
	Fees       polybot.Decimal `json:"fees"`
	Total      polybot.Decimal `json:"total"`
}

// loadPnL reads the tenant's P&L by strategy, today's totals and the
// cumulative series over its last 1000 fills (oldest first, per strategy
// and mode).
func loadPnL(tx polybot.TenantTx, hedges polybot.Hedges, v polybot.Valuer) (*pnlReport, error) {
	rep := &pnlReport{LockedTotal: map[polybot.ExecMode]polybot.Decimal{polybot.DryRun: polybot.Zero, polybot.Live: polybot.Zero},
		Net: map[polybot.ExecMode]netPnL{}}
	holdings, err := tx.Holdings()
	if err != nil {
		return nil, err
	}
	rep.Locked = polybot.LockedPnL(holdings, hedges)
	if rep.Locked == nil {
		rep.Locked = []polybot.LockedSet{}
	}
	for _, l := range rep.Locked {
		rep.LockedTotal[l.Mode] = rep.LockedTotal[l.Mode].Add(l.Edge)
	}
	if rep.ByStrategy, err = tx.PnLByStrategy(); err != nil {
		return nil, err
	}
	if rep.ByStrategy == nil {
		rep.ByStrategy = []*polybot.StrategyPnL{}
	}
	for _, mode := range []polybot.ExecMode{polybot.DryRun, polybot.Live} {
		n := netPnL{Locked: rep.LockedTotal[mode]}
		for _, sp := range rep.ByStrategy {
			if sp.Mode == mode {
				n.Realized, n.Fees = n.Realized.Add(sp.Realized), n.Fees.Add(sp.Fees)
			}
		}
		n.Unrealized = polybot.Value(holdings, mode, hedgeValuer{v, hedges}).Unrealized
		n.Total = n.Realized.Add(n.Locked).Add(n.Unrealized)
		rep.Net[mode] = n
	}
	c, err := tx.Config()
	if err != nil {
		return nil, err
	}
	day := c.TradingDay(tx.Now())
	for i, m := range []polybot.ExecMode{polybot.DryRun, polybot.Live} {
		if rep.Today[i], err = tx.DailyPnL(day, m); err != nil {
			return nil, err
		}
	}
	fills, err := tx.Fills(time.Time{}, 1000)
	if err != nil {
		return nil, err
	}
	rep.Series = pnlSeries(fills, hedges)
	return rep, nil
}

// pnlSeries is the cumulative P&L as step series, from fills newest
// first: per strategy and mode, the realised total after each fill that
// changed it; per mode ("locked/dry_run"), the locked-in P&L of the
// complete sets held, replayed from the fills.
//
// A locked-in point is added only when the number of complete sets changes
// (a set completes, or a sale breaks one). Sets are valued at each leg's
// average cost, so the first leg of the next arbitrage, bought before its
// other leg, moves the cost of the sets already held: valued after every
// fill, the series dipped (down to zero and below) between an
// arbitrage's two legs and jumped back when the second leg filled.
func pnlSeries(fills []*polybot.TradeFill, hedges polybot.Hedges) []pnlPoint {
	out := []pnlPoint{}
	totals := map[string]polybot.Decimal{}
	seen := map[string]bool{}
	sets := map[polybot.ExecMode]polybot.Decimal{}
	held := map[string]*polybot.Holding{}
	for i := len(fills) - 1; i >= 0; i-- {
		f := fills[i]
		key := f.Strategy + "/" + string(f.Mode)
		if !seen[key] || !f.RealizedPnL.IsZero() {
			seen[key] = true
			totals[key] = totals[key].Add(f.RealizedPnL)
			out = append(out, pnlPoint{Time: f.Time, Strategy: key, Total: totals[key]})
		}

		hk := string(f.Mode) + "|" + f.Instrument.Key()
		h := held[hk]
		if h == nil {
			h = &polybot.Holding{Instrument: f.Instrument, Mode: f.Mode}
			held[hk] = h
		}
		g := *f
		h.ApplyFill(&g)
		hs := make([]*polybot.Holding, 0, len(held))
		for _, x := range held {
			hs = append(hs, x)
		}
		locked, n := polybot.Zero, polybot.Zero
		for _, l := range polybot.LockedPnL(hs, hedges) {
			if l.Mode == f.Mode {
				locked, n = locked.Add(l.Edge), n.Add(l.Sets)
			}
		}
		if n == sets[f.Mode] {
			continue // no set completed or broke: the series holds its value
		}
		sets[f.Mode] = n
		lk := "locked/" + string(f.Mode)
		if prev, ok := totals[lk]; !ok || prev != locked {
			totals[lk] = locked
			out = append(out, pnlPoint{Time: f.Time, Strategy: lk, Total: locked})
		}
	}
	return out
}

// hedges reads the registries whose entries make complete sets: the
// matched-market pairs, and the overlap registry's outcome sets and
// relations (the service path: they are shared, not tenant data).
func (s *Server) hedges(r *http.Request) (polybot.Hedges, error) {
	var h polybot.Hedges
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		h, err = polybot.LoadHedges(tx)
		return err
	})
	return h, err
}

func (s *Server) handlePnL(w http.ResponseWriter, r *http.Request, id *identity) error {
	hedges, err := s.hedges(r)
	if err != nil {
		return err
	}
	var rep *pnlReport
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		rep, err = loadPnL(tx, hedges, s.cfg.Valuer)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (s *Server) handleOpportunities(w http.ResponseWriter, r *http.Request, id *identity) error {
	b, err := s.bots()
	if err != nil {
		return err
	}
	_, limit, err := pageParams(r, "", 50, 500)
	if err != nil {
		return err
	}
	out := b.Opportunities(r.Context(), id.tenant(), limit)
	if out == nil {
		out = []polybot.Opportunity{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"opportunities": out})
}

// handleEvents streams the tenant's live updates as Server-Sent Events.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, id *identity) error {
	b, err := s.bots()
	if err != nil {
		return err
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		return polybot.Internal(fmt.Errorf("response writer cannot flush"))
	}
	events, cancel := b.Subscribe(id.tenant())
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st, _ := json.Marshal(b.Status(r.Context(), id.tenant()))
	fmt.Fprintf(w, "event: status\ndata: %s\n\n", st)
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for n := 0; ; n++ {
		select {
		case <-r.Context().Done():
			return nil
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", n, ev.Type, data)
		}
		fl.Flush()
	}
}

// --- admin: reload, kill switch, per-tenant halt, market registry ---

func (s *Server) handleAdminReload(w http.ResponseWriter, r *http.Request, id *identity) error {
	b, err := s.bots()
	if err != nil {
		return err
	}
	target, err := polybot.ParseID(r.PathValue("user"))
	if err != nil {
		return polybot.NotFound("user")
	}
	if err := s.timeReload("admin", func() error { return b.Reload(r.Context(), target) }); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"success": true, "status": b.Status(r.Context(), target)})
}

func (s *Server) handleAdminGlobalHalt(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[haltRequest](r)
	if err != nil {
		return err
	}
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.SetGlobalHalt(in.State); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.global_halt", Target: "platform", Details: `{"state":` + quote(in.State) + `}`, CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	if hr, ok := s.cfg.Bots.(interface{ RefreshHalt(context.Context) error }); ok {
		if err := hr.RefreshHalt(r.Context()); err != nil {
			s.log.Warn("refresh global halt", "err", err)
		}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"state": in.State})
}

// reloadRegistry makes a running engine read the registries (matched
// pairs, outcome sets, relations) now, if it offers ReloadRegistry.
func (s *Server) reloadRegistry(r *http.Request) {
	if rr, ok := s.cfg.Bots.(interface{ ReloadRegistry(context.Context) error }); ok {
		if err := rr.ReloadRegistry(r.Context()); err != nil {
			s.log.Warn("reload the registries", "err", err)
		}
	}
}

func (s *Server) handleAdminGetGlobalHalt(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var st string
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		st, err = tx.GlobalHalt()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"state": st})
}

func (s *Server) handleAdminUserHalt(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[haltRequest](r)
	if err != nil {
		return err
	}
	err = s.adminUserAction(w, r, id, "admin.user_halt", in, func(tx polybot.AdminTx, target polybot.ID) error {
		return tx.SetUserHalt(target, in.State)
	})
	if err == nil {
		if target, perr := polybot.ParseID(r.PathValue("id")); perr == nil {
			s.reload(r, target)
		}
	}
	return err
}

func (s *Server) handleMarketPairs(w http.ResponseWriter, r *http.Request, id *identity) error {
	var out []*polybot.MarketPair
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		out, err = tx.MarketPairs()
		return err
	})
	if err != nil {
		return err
	}
	if id.user.Role != polybot.RoleAdmin {
		approved := []*polybot.MarketPair{}
		for _, m := range out {
			if m.Approved {
				approved = append(approved, m)
			}
		}
		out = approved
	}
	if out == nil {
		out = []*polybot.MarketPair{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"market_pairs": out})
}

func (s *Server) handleAdminPutMarketPair(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	m, err := parsePair(body, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, _ := json.Marshal(m)
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.PutMarketPair(m); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.market_pair", Target: "market_pair:" + m.ID, Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) handleAdminDeleteMarketPair(w http.ResponseWriter, r *http.Request, id *identity) error {
	pid := r.PathValue("id")
	if err := polybot.CheckMarketPairID(pid); err != nil {
		return err
	}
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.DeleteMarketPair(pid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.market_pair_delete", Target: "market_pair:" + pid, Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hedgeValuer is a Valuer (possibly nil: marks at cost, no fees) whose sets
// come from the registries the report read, so the net figure nets exactly
// the sets the report lists.
type hedgeValuer struct {
	v      polybot.Valuer
	hedges polybot.Hedges
}

func (p hedgeValuer) Mark(inst polybot.Instrument) (polybot.Mark, bool) {
	if p.v == nil {
		return polybot.Mark{}, false
	}
	return p.v.Mark(inst)
}

func (p hedgeValuer) Fees() polybot.FeeModel {
	if p.v == nil {
		return polybot.NoFees{}
	}
	return p.v.Fees()
}

func (p hedgeValuer) Hedges() polybot.Hedges { return p.hedges }
