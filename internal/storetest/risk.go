package storetest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// testRiskGate runs the root package's risk gate (polybot.SubmitIntent) and
// polybot.RecordFill against the store: the gate's checks read what the
// store returns, and its atomicity rests on LockTenant.
func testRiskGate(t *testing.T, open Opener) {
	submit := func(e *env, id polybot.ID, in *polybot.Intent, v polybot.Valuer) error {
		return e.tenant(id, func(tx polybot.TenantTx) error { return polybot.SubmitIntent(tx, in, v) })
	}
	wantRisk := func(t *testing.T, err error, code, reason, what string) {
		t.Helper()
		wantCode(t, err, code, what)
		if got := polybot.RiskReason(err); got != reason {
			t.Fatalf("%s: risk reason %q (%v), want %q", what, got, err, reason)
		}
	}
	intents := func(e *env, id polybot.ID) []*polybot.Intent {
		e.t.Helper()
		var all []*polybot.Intent
		e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { all, err = tx.Intents(nil, time.Time{}, 1000); return })
		return all
	}
	holding := func(e *env, id polybot.ID, inst polybot.Instrument, mode polybot.ExecMode) *polybot.Holding {
		e.t.Helper()
		var h *polybot.Holding
		e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { h, err = tx.Holding(inst, mode); return })
		return h
	}
	// onTier moves u to a copy of the free tier with at most maxPositions.
	onTier := func(e *env, u *polybot.User, maxPositions int) {
		e.mustAdmin(func(tx polybot.AdminTx) error {
			tr := polybot.DefaultTiers()[0]
			tr.Name, tr.DisplayName, tr.MaxPositions = fmt.Sprintf("positions-%d", maxPositions), "Test", maxPositions
			if err := tx.PutTier(&tr); err != nil {
				return err
			}
			return tx.SetUserTier(u.ID, tr.Name)
		})
	}

	t.Run("SubmitIntent persists a pending intent; a live one counts a trade, a dry run does not", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		dry := newIntent(polybot.IntentID(u.ID, "opp-1", 0, 0), kalshiYes("K-1"))
		if err := submit(e, u.ID, dry, nil); err != nil {
			t.Fatalf("SubmitIntent(dry run): %v", err)
		}
		live := newIntent(polybot.IntentID(u.ID, "opp-1", 1, 0), kalshiYes("K-1"))
		live.Mode = polybot.Live
		if err := submit(e, u.ID, live, nil); err != nil {
			t.Fatalf("SubmitIntent(live): %v", err)
		}
		all := intents(e, u.ID)
		if len(all) != 2 || all[0].State != polybot.IntentPending || all[1].State != polybot.IntentPending {
			t.Fatalf("intents = %v, want two pending", all)
		}
		if p := e.profile(u.ID); p.TradesUsed(T0) != 1 {
			t.Fatalf("trades used = %d, want 1 (the live intent only)", p.TradesUsed(T0))
		}
		// The same decision again is a conflict, and the counted trade goes back with the rollback.
		again := newIntent(live.ID, kalshiYes("K-1"))
		again.Mode = polybot.Live
		wantCode(t, submit(e, u.ID, again, nil), polybot.ECONFLICT, "SubmitIntent of the same client order id")
		if p := e.profile(u.ID); p.TradesUsed(T0) != 1 {
			t.Fatalf("trades used = %d after a refused duplicate, want 1", p.TradesUsed(T0))
		}
	})

	t.Run("halt states: halted refuses everything, reducing_only only orders that shrink a position", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		inst := kalshiYes("K-H")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutHolding(&polybot.Holding{Instrument: inst, Mode: polybot.Live, Size: polybot.MustDecimal("10"), AvgPrice: polybot.MustDecimal("0.4")})
		})
		n := 0
		order := func(side polybot.Side, size string) *polybot.Intent {
			n++
			in := newIntent(fmt.Sprintf("pb-h-%d", n), inst)
			in.Mode, in.Side, in.Size = polybot.Live, side, polybot.MustDecimal(size)
			return in
		}
		setGlobal := func(s string) { e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetGlobalHalt(s) }) }
		setAdmin := func(s string) { e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserHalt(u.ID, s) }) }
		setOwn := func(s string) { e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(s) }) }
		for _, c := range []struct {
			name  string
			set   func(string)
			state string
		}{{"global", setGlobal, polybot.HaltReducingOnly}, {"admin", setAdmin, polybot.HaltReducingOnly}, {"own", setOwn, polybot.HaltReducingOnly}} {
			c.set(c.state)
			wantRisk(t, submit(e, u.ID, order(polybot.Buy, "1"), nil), polybot.EFORBIDDEN, polybot.RiskReducingOnly, c.name+" reducing_only: buy")
			wantRisk(t, submit(e, u.ID, order(polybot.Sell, "11"), nil), polybot.EFORBIDDEN, polybot.RiskReducingOnly, c.name+" reducing_only: sell more than held")
			if err := submit(e, u.ID, order(polybot.Sell, "10"), nil); err != nil {
				t.Fatalf("%s reducing_only: a sell that closes the position: %v", c.name, err)
			}
			c.set(polybot.HaltHalted)
			wantRisk(t, submit(e, u.ID, order(polybot.Sell, "1"), nil), polybot.EFORBIDDEN, polybot.RiskHalted, c.name+" halted: sell")
			c.set(polybot.HaltActive)
		}
		if err := submit(e, u.ID, order(polybot.Buy, "1"), nil); err != nil {
			t.Fatalf("all active again: buy: %v", err)
		}
		if got := len(intents(e, u.ID)); got != 4 {
			t.Fatalf("%d intents persisted, want the 4 that passed", got)
		}
		if p := e.profile(u.ID); p.TradesUsed(T0) != 4 {
			t.Fatalf("trades used = %d, want 4: a refusal counts nothing", p.TradesUsed(T0))
		}
	})

	t.Run("max trade size is the smaller of the config's and the plan's", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			c, err := tx.Config()
			if err != nil {
				return err
			}
			c.MaxTradeSizeUSD = polybot.MustDecimal("20")
			return tx.UpdateConfig(c)
		})
		big := newIntent("pb-big", kalshiYes("K-1"))
		big.Size = polybot.MustDecimal("42.56") // 0.47 x 42.56 = 20.0032
		wantRisk(t, submit(e, u.ID, big, nil), polybot.EFORBIDDEN, polybot.RiskTradeSize, "notional 20.0032 over 20")
		ok := newIntent("pb-ok", kalshiYes("K-1"))
		ok.Size = polybot.MustDecimal("42.55") // 19.9985
		if err := submit(e, u.ID, ok, nil); err != nil {
			t.Fatalf("notional 19.9985: %v", err)
		}
	})

	// fill records one fill through the root package's RecordFill, valued by v.
	fill := func(e *env, id polybot.ID, v polybot.Valuer, tradeID string, inst polybot.Instrument, side polybot.Side, price, size string) {
		e.t.Helper()
		e.mustTenant(id, func(tx polybot.TenantTx) error {
			_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: inst.Venue, TradeID: tradeID, Strategy: polybot.StrategySinglePlatform,
				Mode: polybot.DryRun, Instrument: inst, Side: side, Price: polybot.MustDecimal(price), Size: polybot.MustDecimal(size), Time: e.clock.Now()}, v)
			return err
		})
	}
	today := func(e *env, id polybot.ID, v polybot.Valuer) *polybot.DayRisk {
		e.t.Helper()
		var d *polybot.DayRisk
		e.mustTenantView(id, func(tx polybot.TenantTx) (err error) {
			c, err := tx.Config()
			if err != nil {
				return err
			}
			p, err := tx.Profile()
			if err != nil {
				return err
			}
			d, err = polybot.TodayRisk(tx, c, p, polybot.DryRun, v, false)
			return err
		})
		return d
	}

	t.Run("daily loss: today's cash flow plus the marked book against its opening value (hand-worked)", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com") // free tier: max daily loss 100
		held, gone := kalshiYes("K-HELD"), kalshiYes("K-GONE")
		v := NewValuer()
		v.Set(held, "0.50")
		// Bought 100 at 0.80, sold at 0.20: −80 + 20 = −60 cash, a realised loss of 60.
		fill(e, u.ID, v, "t1", gone, polybot.Buy, "0.80", "100")
		fill(e, u.ID, v, "t2", gone, polybot.Sell, "0.20", "100")
		// Bought 100 of K-HELD at 0.50: −50 cash, worth 100 × bid.
		fill(e, u.ID, v, "t3", held, polybot.Buy, "0.50", "100")
		v.Set(held, "0.10") // −110 + 10 = −100: the limit
		d := today(e, u.ID, v)
		if d.Loss.String() != "100.00" || d.CashFlow.String() != "-110.00" || d.Value.String() != "10.00" || d.OpenValue.String() != "0.00" {
			t.Fatalf("today = %+v, want loss 100 = −(−110 cash + 10 marked − 0 at the open)", d)
		}
		wantRisk(t, submit(e, u.ID, newIntent("pb-1", kalshiYes("K-1")), v), polybot.EFORBIDDEN, polybot.RiskDailyLoss, "60 realised + 40 marked down")
		err := submit(e, u.ID, newIntent("pb-1b", kalshiYes("K-1")), v)
		want := "Today's loss $100.00 reached your $100.00 daily limit. Trading resumes at 00:00 UTC, or when you raise the limit."
		if polybot.ErrorMessage(err) != want {
			t.Fatalf("refusal reads %q, want %q", polybot.ErrorMessage(err), want)
		}
		v.Set(held, "0.20") // −110 + 20 = −90
		if err := submit(e, u.ID, newIntent("pb-2", kalshiYes("K-1")), v); err != nil {
			t.Fatalf("loss 90 of 100: %v", err)
		}
		// The book goes stale: the last good mark (0.20) stays; it is never zero.
		v.Stale(held)
		if err := submit(e, u.ID, newIntent("pb-3", kalshiYes("K-1")), v); err != nil {
			t.Fatalf("a stale book keeps its last mark: %v", err)
		}
		if d := today(e, u.ID, v); d.StaleMarks != 1 || d.Loss.String() != "90.00" {
			t.Fatalf("stale: %+v, want one stale mark and loss 90", d)
		}
		// A holding never priced is valued at cost (0.50), not zero: −110 + 50.
		if d := today(e, u.ID, NewValuer()); d.Unpriced != 1 || d.Loss.String() != "60.00" {
			t.Fatalf("unpriced: %+v, want one unpriced holding and loss 60", d)
		}
	})

	t.Run("daily loss: a book of complete sets is never a loss, at any prices", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		pair := &polybot.MarketPair{ID: "fed", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", "PY", "PN"), polybot.KalshiLeg("K-FED")}, Approved: true}
		v := NewValuer(pair)
		kYes, kNo := kalshiYes("K-FED"), polybot.Instrument{Venue: polybot.Kalshi, Market: "K-FED", Outcome: polybot.No}
		pYes, pNo := polyToken("PY", polybot.Yes), polyToken("PN", polybot.No)
		for _, i := range []polybot.Instrument{kYes, kNo, pYes, pNo} {
			v.Set(i, "0.49")
		}
		// Kalshi NO against Polymarket YES, and Kalshi YES against Polymarket NO: 0.45 + 0.52 and 0.47 + 0.50.
		fill(e, u.ID, v, "s1", kNo, polybot.Buy, "0.45", "200")
		fill(e, u.ID, v, "s2", pYes, polybot.Buy, "0.52", "200")
		fill(e, u.ID, v, "s3", kYes, polybot.Buy, "0.47", "300")
		fill(e, u.ID, v, "s4", pNo, polybot.Buy, "0.50", "300")
		// Every bid collapses to one cent: unhedged, that would be a loss of ≈ $475.
		for _, bid := range []string{"0.50", "0.99", "0.01"} {
			for _, i := range []polybot.Instrument{kYes, kNo, pYes, pNo} {
				v.Set(i, bid)
			}
			d := today(e, u.ID, v)
			// 500 sets worth $500, bought for 200 × 0.97 + 300 × 0.97 = $485: +$15.
			if d.Loss.Sign() != 0 || d.PnL.String() != "15.00" {
				t.Fatalf("bids at %s: %+v, want P&L +15.00 and no loss", bid, d)
			}
			if err := submit(e, u.ID, newIntent("pb-set-"+bid, kalshiYes("K-1")), v); err != nil {
				t.Fatalf("bids at %s: a hedged book refused: %v", bid, err)
			}
		}
		// Without the pair, the same holdings are four directional positions.
		if d := today(e, u.ID, func() *Valuer { w := NewValuer(); w.SetAll(v); return w }()); d.Loss.Sign() <= 0 {
			t.Fatalf("unpaired: %+v, want a loss (the set netting is what protects the hedged book)", d)
		}
	})

	t.Run("daily loss: the refusal clears at midnight in the tenant's time zone, and the new day opens at the marks", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			c, err := tx.Config()
			if err != nil {
				return err
			}
			c.Timezone = "America/New_York" // T0 is 07:30 there
			return tx.UpdateConfig(c)
		})
		held := kalshiYes("K-HELD")
		v := NewValuer()
		v.Set(held, "0.90")
		fill(e, u.ID, v, "n1", held, polybot.Buy, "0.90", "200") // −180
		v.Set(held, "0.30")                                      // worth 60: loss 120
		err := submit(e, u.ID, newIntent("pb-n1", kalshiYes("K-1")), v)
		wantRisk(t, err, polybot.EFORBIDDEN, polybot.RiskDailyLoss, "loss 120 of 100")
		if want := "Trading resumes at 00:00 America/New_York"; !strings.Contains(polybot.ErrorMessage(err), want) {
			t.Fatalf("refusal %q does not say %q", polybot.ErrorMessage(err), want)
		}
		// 16:29 New York (21:29 UTC): still the same trading day.
		e.clock.Set(time.Date(2030, time.January, 15, 21, 29, 0, 0, time.UTC))
		wantRisk(t, submit(e, u.ID, newIntent("pb-n2", kalshiYes("K-1")), v), polybot.EFORBIDDEN, polybot.RiskDailyLoss, "same day in New York")
		// 00:00:01 in New York (05:00:01 UTC on the 16th): a new day, opened at the 0.30 mark.
		e.clock.Set(time.Date(2030, time.January, 16, 5, 0, 1, 0, time.UTC))
		if err := submit(e, u.ID, newIntent("pb-n3", kalshiYes("K-1")), v); err != nil {
			t.Fatalf("the next trading day: %v", err)
		}
		d := today(e, u.ID, v)
		if d.Day != "2030-01-16" || d.OpenValue.String() != "60.00" || d.Loss.Sign() != 0 {
			t.Fatalf("new day = %+v, want 2030-01-16 opened at 60.00 with no loss", d)
		}
		// A fall from the new day's open is today's loss again: 0.30 → 0.0 less is 60, within 100.
		v.Set(held, "0.01")
		if d := today(e, u.ID, v); d.Loss.String() != "58.00" {
			t.Fatalf("after the fall: %+v, want loss 58 from the open (60 → 2)", d)
		}
	})

	t.Run("a risk-reducing order goes through halts, the daily loss and the quota, and still counts as usage", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		held := kalshiYes("K-HELD")
		v := NewValuer()
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutHolding(&polybot.Holding{Instrument: held, Mode: polybot.Live, Size: polybot.MustDecimal("10"), AvgPrice: polybot.MustDecimal("0.5")}); err != nil {
				return err
			}
			return tx.SetHaltState(polybot.HaltHalted)
		})
		e.mustAdmin(func(tx polybot.AdminTx) error {
			tr := polybot.DefaultTiers()[0]
			tr.Name, tr.DisplayName, tr.MonthlyTradeLimit = "one-trade", "Test", 1
			if err := tx.PutTier(&tr); err != nil {
				return err
			}
			return tx.SetUserTier(u.ID, tr.Name)
		})
		sell := func(id, size string, reduce bool) *polybot.Intent {
			in := newIntent(id, held)
			in.Mode, in.Side, in.Size, in.Reduce = polybot.Live, polybot.Sell, polybot.MustDecimal(size), reduce
			return in
		}
		wantRisk(t, submit(e, u.ID, sell("pb-plain", "4", false), v), polybot.EFORBIDDEN, polybot.RiskHalted, "a plain sell under a halt")
		for i, id := range []string{"pb-r1", "pb-r2"} {
			if err := submit(e, u.ID, sell(id, "4", true), v); err != nil {
				t.Fatalf("unwind %d under a halt with a quota of 1: %v", i+1, err)
			}
		}
		var q polybot.Quota
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			p, err := tx.Profile()
			q = polybot.Quota{Used: p.TradesUsed(tx.Now()), Limit: p.MonthlyTradeLimit}
			return err
		})
		if q.Used != 2 || q.Limit != 1 {
			t.Fatalf("usage = %+v, want both unwinds counted (2 of 1)", q)
		}
		err := submit(e, u.ID, sell("pb-r3", "11", true), v)
		wantCode(t, err, polybot.EINVALID, "a 'reducing' order that sells more than is held")
	})

	t.Run("a working intent counts as a position until it ends", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		onTier(e, u, 2)
		x, y, z, w, v := kalshiYes("K-X"), kalshiYes("K-Y"), kalshiYes("K-Z"), kalshiYes("K-W"), kalshiYes("K-V")
		ix, iy := newIntent("pb-x", x), newIntent("pb-y", y)
		for _, in := range []*polybot.Intent{ix, iy} {
			if err := submit(e, u.ID, in, nil); err != nil {
				t.Fatalf("SubmitIntent(%s): %v", in.ID, err)
			}
		}
		wantRisk(t, submit(e, u.ID, newIntent("pb-z1", z), nil), polybot.EFORBIDDEN, polybot.RiskPositions, "a third instrument while two intents are pending")
		ix2 := newIntent("pb-x2", x)
		if err := submit(e, u.ID, ix2, nil); err != nil {
			t.Fatalf("a second order in an instrument already pending: %v", err)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			iy.State = polybot.IntentCancelled
			return tx.UpdateIntent(iy)
		})
		iz := newIntent("pb-z2", z)
		if err := submit(e, u.ID, iz, nil); err != nil {
			t.Fatalf("after the intent in y was cancelled: %v", err)
		}
		// x fills: it is now a holding, still one position.
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "fx", ClientOrderID: ix.ID,
				Strategy: ix.Strategy, Mode: polybot.DryRun, Instrument: x, Side: polybot.Buy, Price: ix.Price, Size: ix.Size}, nil)
			return err
		})
		wantRisk(t, submit(e, u.ID, newIntent("pb-w1", w), nil), polybot.EFORBIDDEN, polybot.RiskPositions, "x held, z pending")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			ix2.State, iz.State = polybot.IntentCancelled, polybot.IntentRejected
			if err := tx.UpdateIntent(ix2); err != nil {
				return err
			}
			return tx.UpdateIntent(iz)
		})
		if err := submit(e, u.ID, newIntent("pb-w2", w), nil); err != nil {
			t.Fatalf("x held, nothing working: %v", err)
		}
		// Selling x closes it: its slot is free again.
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "fx-sell", Strategy: ix.Strategy,
				Mode: polybot.DryRun, Instrument: x, Side: polybot.Sell, Price: polybot.MustDecimal("0.5"), Size: ix.Size}, nil)
			return err
		})
		if err := submit(e, u.ID, newIntent("pb-v", v), nil); err != nil {
			t.Fatalf("x sold, w pending: %v", err)
		}
		// Positions are counted per mode.
		live := newIntent("pb-live", kalshiYes("K-LIVE"))
		live.Mode = polybot.Live
		if err := submit(e, u.ID, live, nil); err != nil {
			t.Fatalf("a live position beside two dry-run ones: %v", err)
		}
	})

	t.Run("16 goroutines opening 16 instruments against max_positions 2: exactly 2 intents persist", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		onTier(e, u, 2)
		const workers = 16
		// Each transaction has begun and read before any calls the gate
		// (as a runner's would), so that without the tenant lock they would
		// all count the same zero positions. Where write transactions run
		// one at a time (SQLite), the wait times out instead.
		var ready sync.WaitGroup
		ready.Add(workers)
		allReady := make(chan struct{})
		go func() { ready.Wait(); close(allReady) }()
		var ok, refused atomic.Int64
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				in := newIntent(polybot.IntentID(u.ID, fmt.Sprintf("opp-%d", i), 0, 0), kalshiYes(fmt.Sprintf("K-P%d", i)))
				err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
					if _, err := tx.Config(); err != nil {
						return err
					}
					ready.Done()
					select {
					case <-allReady:
					case <-time.After(50 * time.Millisecond):
					}
					return polybot.SubmitIntent(tx, in, nil)
				})
				switch {
				case err == nil:
					ok.Add(1)
				case polybot.RiskReason(err) == polybot.RiskPositions:
					refused.Add(1)
				default:
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("SubmitIntent failed with something other than a position refusal: %v", err)
		}
		if ok.Load() != 2 || refused.Load() != workers-2 {
			t.Fatalf("%d persisted and %d refused; want exactly 2 and %d", ok.Load(), refused.Load(), workers-2)
		}
		if all := intents(e, u.ID); len(all) != 2 || all[0].Instrument.Key() == all[1].Instrument.Key() {
			t.Fatalf("persisted intents = %v, want 2 in different instruments", all)
		}
	})

	t.Run("64 goroutines x 10 live SubmitIntent attempts against a quota of 100: exactly 100 intents persist", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com") // free tier: 100 trades a month
		other := e.newUser("other@example.com")
		const workers, attempts = 64, 10
		var ok, refused atomic.Int64
		errs := make(chan error, workers*attempts)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for a := range attempts {
					in := newIntent(polybot.IntentID(u.ID, fmt.Sprintf("opp-%d-%d", w, a), 0, 0), kalshiYes("K-Q"))
					in.Mode = polybot.Live
					err := submit(e, u.ID, in, nil)
					switch {
					case err == nil:
						ok.Add(1)
					case polybot.ErrorCode(err) == polybot.EQUOTA && polybot.RiskReason(err) == polybot.RiskQuota:
						refused.Add(1)
					default:
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("SubmitIntent failed with something other than the quota: %v", err)
		}
		if ok.Load() != 100 || refused.Load() != workers*attempts-100 {
			t.Fatalf("%d persisted and %d refused; want exactly 100 and %d", ok.Load(), refused.Load(), workers*attempts-100)
		}
		if n := len(intents(e, u.ID)); n != 100 {
			t.Fatalf("%d intents stored, want 100", n)
		}
		if p := e.profile(u.ID); p.TradesThisMonth != 100 {
			t.Fatalf("trade counter = %d, want 100", p.TradesThisMonth)
		}
		if p := e.profile(other.ID); p.TradesThisMonth != 0 || len(intents(e, other.ID)) != 0 {
			t.Fatalf("another tenant's counter moved to %d", p.TradesThisMonth)
		}
	})

	t.Run("RecordFill updates the position, the day's P&L and the intent exactly, once per fill", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("f@example.com")
		inst := polyToken("555", polybot.Yes)
		in := newIntent("pb-fill", inst)
		if err := submit(e, u.ID, in, nil); err != nil {
			t.Fatal(err)
		}
		fill := func(id, client string, side polybot.Side, price, size, fee string) *polybot.TradeFill {
			return &polybot.TradeFill{Venue: polybot.Polymarket, TradeID: id, ClientOrderID: client, Strategy: polybot.StrategySinglePlatform,
				Mode: polybot.DryRun, Instrument: inst, Side: side, Price: polybot.MustDecimal(price), Size: polybot.MustDecimal(size),
				Fee: polybot.MustDecimal(fee), Time: T0}
		}
		record := func(f *polybot.TradeFill) bool {
			t.Helper()
			var added bool
			e.mustTenant(u.ID, func(tx polybot.TenantTx) (err error) { added, err = polybot.RecordFill(tx, f, nil); return })
			return added
		}
		check := func(what, size, avg, realized, filled, fees, state, dayPnL, dayFees string) {
			t.Helper()
			h := holding(e, u.ID, inst, polybot.DryRun)
			if h.Size.String() != polybot.MustDecimal(size).String() || h.AvgPrice != polybot.MustDecimal(avg) || h.RealizedPnL != polybot.MustDecimal(realized) {
				t.Fatalf("%s: holding = size %s avg %s realised %s; want %s, %s, %s", what, h.Size, h.AvgPrice, h.RealizedPnL, size, avg, realized)
			}
			var got *polybot.Intent
			var d *polybot.DailyPnL
			e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) {
				if got, err = tx.Intent(in.ID); err != nil {
					return err
				}
				d, err = tx.DailyPnL(polybot.Day(T0), polybot.DryRun)
				return err
			})
			if got.Filled != polybot.MustDecimal(filled) || got.Fees != polybot.MustDecimal(fees) || got.State != state {
				t.Fatalf("%s: intent = filled %s fees %s %s; want %s, %s, %s", what, got.Filled, got.Fees, got.State, filled, fees, state)
			}
			if d.Realized != polybot.MustDecimal(dayPnL) || d.Fees != polybot.MustDecimal(dayFees) {
				t.Fatalf("%s: day = %s, fees %s; want %s, %s", what, d.Realized, d.Fees, dayPnL, dayFees)
			}
		}
		if !record(fill("f1", in.ID, polybot.Buy, "0.47", "4", "0.02")) {
			t.Fatal("the first fill was not recorded")
		}
		check("after 4 of 10", "4", "0.475", "0", "4", "0.02", polybot.IntentPartial, "0", "0.02")
		if record(fill("f1", in.ID, polybot.Buy, "0.47", "4", "0.02")) {
			t.Fatal("the same fill was recorded twice")
		}
		check("after the same fill again", "4", "0.475", "0", "4", "0.02", polybot.IntentPartial, "0", "0.02")
		record(fill("f2", in.ID, polybot.Buy, "0.47", "6", "0.03"))
		check("after 10 of 10", "10", "0.475", "0", "10", "0.05", polybot.IntentFilled, "0", "0.05")
		sell := fill("f3", "", polybot.Sell, "0.60", "10", "0.05")
		record(sell)
		if sell.RealizedPnL != polybot.MustDecimal("1.2") {
			t.Fatalf("the sell realised %s, want (0.60 - 0.475) x 10 - 0.05 = 1.2", sell.RealizedPnL)
		}
		check("after selling all", "0", "0", "1.2", "10", "0.05", polybot.IntentFilled, "1.2", "0.1")
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			fills, err := tx.Fills(time.Time{}, 10)
			if err != nil || len(fills) != 3 {
				t.Fatalf("Fills = %d, %v; want 3", len(fills), err)
			}
			s, err := tx.PnLByStrategy()
			if err == nil {
				wantEqual(t, "PnLByStrategy", []*polybot.StrategyPnL{{Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun,
					Realized: polybot.MustDecimal("1.2"), Fees: polybot.MustDecimal("0.1"), Fills: 3}}, s)
			}
			return err
		})
	})

	t.Run("the same fill recorded by 16 goroutines at once changes the holding once", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("f@example.com")
		inst := kalshiYes("K-DUP")
		const workers = 16
		var added atomic.Int64
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				f := &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "same-trade", Strategy: polybot.StrategySinglePlatform,
					Mode: polybot.Live, Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.33"),
					Size: polybot.MustDecimal("3"), Fee: polybot.MustDecimal("0.01"), Time: T0}
				err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
					ok, err := polybot.RecordFill(tx, f, nil)
					if ok {
						added.Add(1)
					}
					return err
				})
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("RecordFill: %v", err)
		}
		if added.Load() != 1 {
			t.Fatalf("RecordFill reported the fill new %d times, want once", added.Load())
		}
		if h := holding(e, u.ID, inst, polybot.Live); h.Size != polybot.MustDecimal("3") || h.AvgPrice != polybot.MustDecimal("0.333333") {
			t.Fatalf("holding = size %s avg %s, want 3 at 0.333333", h.Size, h.AvgPrice)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			d, err := tx.DailyPnL(polybot.Day(T0), polybot.Live)
			if err != nil || d.Fees != polybot.MustDecimal("0.01") {
				t.Fatalf("day fees = %v, %v; want 0.01", d, err)
			}
			fills, err := tx.Fills(time.Time{}, 100)
			if err != nil || len(fills) != 1 {
				t.Fatalf("Fills = %d, %v; want 1", len(fills), err)
			}
			return nil
		})
	})

	t.Run("16 different fills of one instrument recorded at once all count (no lost update)", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("f@example.com")
		inst := kalshiYes("K-MANY")
		const workers = 16
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				f := &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: fmt.Sprintf("t-%d", i), Strategy: polybot.StrategySinglePlatform,
					Mode: polybot.Live, Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.5"),
					Size: polybot.MustDecimal("1"), Fee: polybot.MustDecimal("0.01"), Time: T0}
				if err := e.tenant(u.ID, func(tx polybot.TenantTx) error { _, err := polybot.RecordFill(tx, f, nil); return err }); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("RecordFill: %v", err)
		}
		if h := holding(e, u.ID, inst, polybot.Live); h.Size != polybot.MustDecimal("16") || h.AvgPrice != polybot.MustDecimal("0.51") {
			t.Fatalf("holding = size %s avg %s, want 16 at 0.51", h.Size, h.AvgPrice)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			d, err := tx.DailyPnL(polybot.Day(T0), polybot.Live)
			if err != nil || d.Fees != polybot.MustDecimal("0.16") {
				t.Fatalf("day fees = %v, %v; want 0.16", d, err)
			}
			return nil
		})
	})

	t.Run("on a venue without sells a reducing buy of the opposite contract closes a position, through a halt", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("fx@example.com")
		yes := polybot.Instrument{Venue: polybot.IBKR, Market: "FF-DEC", Token: "7001", Outcome: polybot.Yes}
		no := polybot.Instrument{Venue: polybot.IBKR, Market: "FF-DEC", Token: "7002", Outcome: polybot.No}
		fill(e, u.ID, nil, "fx-buy", yes, polybot.Buy, "0.40", "10")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) })
		reduce := func(n int, inst, against polybot.Instrument, size string) *polybot.Intent {
			x := newIntent(polybot.IntentID(u.ID, fmt.Sprintf("opp-fx-%d", n), polybot.UnwindLeg, 0), inst)
			x.Reduce, x.Against, x.Size, x.TIF = true, against, polybot.MustDecimal(size), polybot.FAK
			return x
		}
		wantRisk(t, submit(e, u.ID, reduce(1, no, yes, "10.01"), nil), polybot.EINVALID, polybot.RiskReducingOnly, "buying more NO than the YES held")
		wantRisk(t, submit(e, u.ID, reduce(2, no, no, "1"), nil), polybot.EINVALID, polybot.RiskReducingOnly, "against the contract bought")
		k := kalshiYes("K-FX")
		wantRisk(t, submit(e, u.ID, reduce(3, polybot.Instrument{Venue: polybot.Kalshi, Market: "K-FX", Outcome: polybot.No}, k, "1"), nil),
			polybot.EINVALID, polybot.RiskReducingOnly, "a reducing buy on a venue that sells")
		if err := submit(e, u.ID, reduce(4, no, yes, "6"), nil); err != nil {
			t.Fatalf("buying 6 NO against 10 YES while halted: %v", err)
		}
		fill(e, u.ID, nil, "fx-close", no, polybot.Buy, "0.55", "6")
		// 6 of the 10 YES are closed: 4 more may be bought, not 5.
		wantRisk(t, submit(e, u.ID, reduce(5, no, yes, "5"), nil), polybot.EINVALID, polybot.RiskReducingOnly, "beyond the unmatched YES")
		if err := submit(e, u.ID, reduce(6, no, yes, "4"), nil); err != nil {
			t.Fatalf("buying the last 4 NO: %v", err)
		}
	})
}
