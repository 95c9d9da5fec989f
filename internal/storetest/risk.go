package storetest

import (
	"fmt"
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
	submit := func(e *env, id polybot.ID, in *polybot.Intent, marks polybot.MarkFunc) error {
		return e.tenant(id, func(tx polybot.TenantTx) error { return polybot.SubmitIntent(tx, in, marks) })
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

	t.Run("daily loss counts today's realised loss and open positions at their mark, unpriced ones in full", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com") // free tier: max daily loss 100
		held := kalshiYes("K-HELD")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.AddDailyPnL(polybot.Day(T0), polybot.DryRun, polybot.MustDecimal("-60"), polybot.Zero); err != nil {
				return err
			}
			// Yesterday's loss does not count.
			if err := tx.AddDailyPnL(polybot.Day(T0.Add(-24*time.Hour)), polybot.DryRun, polybot.MustDecimal("-1000"), polybot.Zero); err != nil {
				return err
			}
			return tx.PutHolding(&polybot.Holding{Instrument: held, Mode: polybot.DryRun, Size: polybot.MustDecimal("100"), AvgPrice: polybot.MustDecimal("0.5")})
		})
		mark := func(p string) polybot.MarkFunc {
			return func(i polybot.Instrument) (polybot.Decimal, bool) {
				if i.Key() == held.Key() {
					return polybot.MustDecimal(p), true
				}
				return polybot.Zero, false
			}
		}
		wantRisk(t, submit(e, u.ID, newIntent("pb-1", kalshiYes("K-1")), mark("0.1")), polybot.EFORBIDDEN, polybot.RiskDailyLoss, "60 realised + 40 unrealised")
		wantRisk(t, submit(e, u.ID, newIntent("pb-2", kalshiYes("K-1")), nil), polybot.EFORBIDDEN, polybot.RiskDailyLoss, "60 realised + 50 unpriced")
		if err := submit(e, u.ID, newIntent("pb-3", kalshiYes("K-1")), mark("0.2")); err != nil {
			t.Fatalf("60 realised + 30 unrealised: %v", err)
		}
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
				Strategy: ix.Strategy, Mode: polybot.DryRun, Instrument: x, Side: polybot.Buy, Price: ix.Price, Size: ix.Size})
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
				Mode: polybot.DryRun, Instrument: x, Side: polybot.Sell, Price: polybot.MustDecimal("0.5"), Size: ix.Size})
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
			e.mustTenant(u.ID, func(tx polybot.TenantTx) (err error) { added, err = polybot.RecordFill(tx, f); return })
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
					ok, err := polybot.RecordFill(tx, f)
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
				if err := e.tenant(u.ID, func(tx polybot.TenantTx) error { _, err := polybot.RecordFill(tx, f); return err }); err != nil {
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
}
