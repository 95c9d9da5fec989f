package storetest

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// Extreme exact amounts: the largest polybot.Decimal, its negation, and the
// smallest step.
var (
	maxDecimal = polybot.MustDecimal("9223372036854.775807")
	minDecimal = maxDecimal.Neg()
	micro      = polybot.MustDecimal("0.000001")
)

func kalshiYes(ticker string) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes}
}

func polyToken(token string, o polybot.Outcome) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcondition", Token: token, Outcome: o}
}

// newIntent is a pending dry-run buy of 10 at 0.47 in inst.
func newIntent(id string, inst polybot.Instrument) *polybot.Intent {
	return &polybot.Intent{ID: id, OpportunityID: "opp-" + id, Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun,
		Instrument: inst, Side: polybot.Buy, Price: polybot.MustDecimal("0.47"), Size: polybot.MustDecimal("10"), TIF: polybot.FOK,
		State: polybot.IntentPending}
}

func testTrading(t *testing.T, open Opener) {
	t.Run("InsertIntent stores every field exactly; Intent reads it back", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("i@example.com")
		now := e.clock.Advance(time.Minute)
		in := &polybot.Intent{ID: polybot.IntentID(u.ID, "opp-1", 1, 0), UserID: polybot.NewID(), OpportunityID: "opp-1",
			Strategy: polybot.StrategyCrossPlatform, Leg: 1, Mode: polybot.Live, Instrument: polyToken("987654321", polybot.No),
			Side: polybot.Sell, Price: polybot.MustDecimal("0.123456"), Size: maxDecimal, TIF: polybot.GTD,
			VenueOrderID: "0xabc", Filled: micro, Fees: minDecimal, Error: "ünïcode 'quoted' \"error\""}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.InsertIntent(in) })
		if in.State != polybot.IntentPending || in.UserID != u.ID || !in.CreatedAt.Equal(now) || !in.UpdatedAt.Equal(now) {
			t.Fatalf("InsertIntent left state %q, user %s, created %v, updated %v; want pending, the tenant and now",
				in.State, in.UserID, in.CreatedAt, in.UpdatedAt)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.Intent(in.ID)
			if err != nil {
				t.Fatalf("Intent: %v", err)
			}
			wantEqual(t, "Intent", in, got)
			if got.Size.String() != "9223372036854.775807" || got.Fees.String() != "-9223372036854.775807" || got.Filled.String() != "0.000001" {
				t.Fatalf("amounts = %s, %s, %s; want them exactly", got.Size, got.Fees, got.Filled)
			}
			return nil
		})
	})

	t.Run("InsertIntent keeps a given CreatedAt; refuses a bad intent with EINVALID", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("i@example.com")
		at := T0.Add(-time.Hour)
		in := newIntent("pb1", kalshiYes("K-1"))
		in.CreatedAt = at
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.InsertIntent(in) })
		if !in.CreatedAt.Equal(at) || !in.UpdatedAt.Equal(T0) {
			t.Fatalf("created %v updated %v, want %v and %v", in.CreatedAt, in.UpdatedAt, at, T0)
		}
		bad := []func(*polybot.Intent){
			func(i *polybot.Intent) { i.ID = "" },
			func(i *polybot.Intent) { i.Mode = "paper" },
			func(i *polybot.Intent) { i.State = "sent" },
			func(i *polybot.Intent) { i.Side = 7 },
			func(i *polybot.Intent) { i.Instrument.Venue = "" },
			func(i *polybot.Intent) { i.Instrument.Outcome = 5 },
		}
		for n, mutate := range bad {
			x := newIntent("pb-bad", kalshiYes("K-1"))
			mutate(x)
			err := e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.InsertIntent(x) })
			wantCode(t, err, polybot.EINVALID, "InsertIntent of bad intent #"+strconv.Itoa(n))
		}
	})

	t.Run("InsertIntent of a taken client order id is ECONFLICT and the transaction goes on", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("i@example.com")
		first := newIntent("pbdup", kalshiYes("K-1"))
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.InsertIntent(first) })
		e.clock.Advance(time.Minute)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			dup := newIntent("pbdup", kalshiYes("K-2"))
			wantCode(t, tx.InsertIntent(dup), polybot.ECONFLICT, "InsertIntent(duplicate)")
			// The transaction is still usable (RecordFill and the engine rely on it).
			return tx.InsertIntent(newIntent("pbother", kalshiYes("K-3")))
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.Intent("pbdup")
			if err != nil {
				return err
			}
			wantEqual(t, "the first intent", first, got)
			all, err := tx.Intents(nil, time.Time{}, 10)
			if err != nil || len(all) != 2 {
				t.Fatalf("Intents = %d, %v; want 2", len(all), err)
			}
			return nil
		})
	})

	t.Run("UpdateIntent stores state, venue order id, filled, fees and error only", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("i@example.com")
		in := newIntent("pbupd", kalshiYes("K-1"))
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.InsertIntent(in) })
		want := *in
		now := e.clock.Advance(time.Minute)
		upd := *in
		upd.State, upd.VenueOrderID, upd.Filled, upd.Fees, upd.Error = polybot.IntentPartial, "v-9", polybot.MustDecimal("3.5"),
			polybot.MustDecimal("0.0175"), "partly"
		// Immutable fields are ignored.
		upd.Price, upd.Size, upd.Strategy, upd.CreatedAt = polybot.MustDecimal("0.99"), polybot.MustDecimal("1"), "other", now
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.UpdateIntent(&upd) })
		if !upd.UpdatedAt.Equal(now) || !upd.CreatedAt.Equal(T0) {
			t.Fatalf("UpdateIntent left updated %v created %v, want %v and %v", upd.UpdatedAt, upd.CreatedAt, now, T0)
		}
		want.State, want.VenueOrderID, want.Filled, want.Fees, want.Error, want.UpdatedAt = upd.State, upd.VenueOrderID, upd.Filled,
			upd.Fees, upd.Error, now
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.Intent("pbupd")
			if err == nil {
				wantEqual(t, "updated intent", &want, got)
			}
			return err
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.UpdateIntent(newIntent("pbnone", kalshiYes("K-1"))) })
		wantCode(t, err, polybot.ENOTFOUND, "UpdateIntent(unknown)")
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error {
			x := want
			x.State = "bogus"
			return tx.UpdateIntent(&x)
		})
		wantCode(t, err, polybot.EINVALID, "UpdateIntent(bad state)")
	})

	t.Run("FindIntents filters by strategy, venue, market or token, mode, opportunity and date range", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("f@example.com")
		type row struct {
			id       string
			strategy string
			inst     polybot.Instrument
			mode     polybot.ExecMode
			at       time.Duration
		}
		rows := []row{
			{"pb-1", polybot.StrategySinglePlatform, kalshiYes("K-A"), polybot.DryRun, 0},
			{"pb-2", polybot.StrategyCrossPlatform, polyToken("111", polybot.Yes), polybot.DryRun, time.Minute},
			{"pb-3", polybot.StrategyCrossPlatform, kalshiYes("K-B"), polybot.Live, 2 * time.Minute},
			{"pb-4", polybot.StrategySinglePlatform, polyToken("222", polybot.No), polybot.Live, 3 * time.Minute},
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for _, r := range rows {
				in := newIntent(r.id, r.inst)
				in.Strategy, in.Mode, in.CreatedAt = r.strategy, r.mode, T0.Add(r.at)
				if err := tx.InsertIntent(in); err != nil {
					return err
				}
			}
			return nil
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			for _, c := range []struct {
				name string
				f    polybot.IntentFilter
				want []string
			}{
				{"all", polybot.IntentFilter{}, []string{"pb-4", "pb-3", "pb-2", "pb-1"}},
				{"strategy", polybot.IntentFilter{Strategy: polybot.StrategyCrossPlatform}, []string{"pb-3", "pb-2"}},
				{"venue", polybot.IntentFilter{Venue: polybot.Kalshi}, []string{"pb-3", "pb-1"}},
				{"kalshi ticker", polybot.IntentFilter{Market: "K-B"}, []string{"pb-3"}},
				{"polymarket token", polybot.IntentFilter{Market: "222"}, []string{"pb-4"}},
				{"polymarket condition", polybot.IntentFilter{Market: "0xcondition"}, []string{"pb-4", "pb-2"}},
				{"mode", polybot.IntentFilter{Mode: polybot.Live}, []string{"pb-4", "pb-3"}},
				{"from", polybot.IntentFilter{From: T0.Add(time.Minute)}, []string{"pb-4", "pb-3", "pb-2"}},
				{"to", polybot.IntentFilter{To: T0.Add(2 * time.Minute)}, []string{"pb-2", "pb-1"}},
				{"from to", polybot.IntentFilter{From: T0.Add(time.Minute), To: T0.Add(3 * time.Minute)}, []string{"pb-3", "pb-2"}},
				{"before and to", polybot.IntentFilter{Before: T0.Add(time.Minute), To: T0.Add(3 * time.Minute)}, []string{"pb-1"}},
				{"page", polybot.IntentFilter{Limit: 2}, []string{"pb-4", "pb-3"}},
				{"opportunity", polybot.IntentFilter{Opportunity: "opp-pb-3"}, []string{"pb-3"}},
				{"opportunity and strategy", polybot.IntentFilter{Opportunity: "opp-pb-3", Strategy: polybot.StrategySinglePlatform}, nil},
				{"none", polybot.IntentFilter{Strategy: "no-such"}, nil},
			} {
				got, err := tx.FindIntents(c.f)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				var ids []string
				for _, in := range got {
					ids = append(ids, in.ID)
				}
				wantEqual(t, "FindIntents "+c.name, c.want, ids)
			}
			return nil
		})
	})

	t.Run("Intents filters by state, is newest first, pages with before and honours limit", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("i@example.com")
		states := []string{polybot.IntentPending, polybot.IntentOpen, polybot.IntentFilled, polybot.IntentOpen, polybot.IntentCancelled}
		var ids []string // oldest first
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i, st := range states {
				in := newIntent("pb-"+string(rune('a'+i)), kalshiYes("K-1"))
				in.State, in.CreatedAt = st, T0.Add(time.Duration(i)*time.Minute)
				if err := tx.InsertIntent(in); err != nil {
					return err
				}
				ids = append(ids, in.ID)
			}
			// Two intents of one decision share a creation time: the later id comes first.
			for _, id := range []string{"pb-y", "pb-z"} {
				in := newIntent(id, kalshiYes("K-2"))
				in.CreatedAt = T0.Add(time.Hour)
				if err := tx.InsertIntent(in); err != nil {
					return err
				}
			}
			return nil
		})
		list := func(tx polybot.TenantTx, states []string, before time.Time, limit int) []string {
			t.Helper()
			all, err := tx.Intents(states, before, limit)
			if err != nil {
				t.Fatalf("Intents(%v, %v, %d): %v", states, before, limit, err)
			}
			var out []string
			for _, in := range all {
				out = append(out, in.ID)
			}
			return out
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			for _, c := range []struct {
				states []string
				before time.Time
				limit  int
				want   []string
			}{
				{nil, time.Time{}, 100, []string{"pb-z", "pb-y", "pb-e", "pb-d", "pb-c", "pb-b", "pb-a"}},
				{[]string{}, time.Time{}, 3, []string{"pb-z", "pb-y", "pb-e"}},
				{nil, T0.Add(3 * time.Minute), 100, []string{"pb-c", "pb-b", "pb-a"}},
				{nil, T0.Add(3 * time.Minute), 2, []string{"pb-c", "pb-b"}},
				{[]string{polybot.IntentOpen}, time.Time{}, 100, []string{"pb-d", "pb-b"}},
				{[]string{polybot.IntentOpen, polybot.IntentPending}, time.Time{}, 100, []string{"pb-z", "pb-y", "pb-d", "pb-b", "pb-a"}},
				{[]string{polybot.IntentOpen, polybot.IntentPending}, T0.Add(2 * time.Minute), 100, []string{"pb-b", "pb-a"}},
				{[]string{polybot.IntentRejected}, time.Time{}, 100, nil},
			} {
				if got := list(tx, c.states, c.before, c.limit); !slices.Equal(got, c.want) {
					t.Errorf("Intents(%v, %v, %d) = %v, want %v", c.states, c.before, c.limit, got, c.want)
				}
			}
			return nil
		})
	})

	t.Run("InsertFill stores every field exactly; a (venue, trade id) seen before is ECONFLICT and the transaction goes on", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("f@example.com")
		f := &polybot.TradeFill{Venue: polybot.Polymarket, TradeID: "t-1", UserID: polybot.NewID(), ClientOrderID: "pb1",
			Strategy: polybot.StrategyOverlapping, Mode: polybot.Live, Instrument: polyToken("42", polybot.Yes), Side: polybot.Sell,
			Price: polybot.MustDecimal("0.999999"), Size: maxDecimal, Fee: micro, RealizedPnL: minDecimal,
			Time: T0.Add(-time.Second + 7*time.Microsecond)}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.InsertFill(f) })
		if f.UserID != u.ID {
			t.Fatalf("InsertFill left UserID %s", f.UserID)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			dup := *f
			dup.Size = polybot.MustDecimal("1")
			wantCode(t, tx.InsertFill(&dup), polybot.ECONFLICT, "InsertFill(duplicate)")
			// The same trade id on another venue is another fill.
			other := *f
			other.Venue, other.Instrument = polybot.Kalshi, kalshiYes("K-1")
			other.Time = time.Time{}
			if err := tx.InsertFill(&other); err != nil {
				t.Fatalf("InsertFill(same trade id, other venue): %v", err)
			}
			if !other.Time.Equal(T0) {
				t.Errorf("InsertFill without a time set it to %v, want Now %v", other.Time, T0)
			}
			return nil
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			all, err := tx.Fills(time.Time{}, 10)
			if err != nil {
				return err
			}
			if len(all) != 2 {
				t.Fatalf("Fills = %d, want 2", len(all))
			}
			wantEqual(t, "the polymarket fill", f, all[1])
			return nil
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.InsertFill(&polybot.TradeFill{Venue: polybot.Kalshi, Mode: polybot.Live, Instrument: kalshiYes("K-1")})
		})
		wantCode(t, err, polybot.EINVALID, "InsertFill without a trade id")
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.InsertFill(&polybot.TradeFill{Venue: polybot.Polymarket, TradeID: "x", Mode: polybot.Live, Instrument: kalshiYes("K-1")})
		})
		wantCode(t, err, polybot.EINVALID, "InsertFill whose venue is not the instrument's")
	})

	t.Run("FindFills filters by strategy, venue, market or token and mode, and pages with before", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("ff@example.com")
		type row struct {
			id       string
			strategy string
			inst     polybot.Instrument
			mode     polybot.ExecMode
			at       time.Duration
		}
		rows := []row{
			{"t-1", polybot.StrategySinglePlatform, kalshiYes("K-A"), polybot.DryRun, 0},
			{"t-2", polybot.StrategyCrossPlatform, polyToken("111", polybot.Yes), polybot.DryRun, time.Minute},
			{"t-3", polybot.StrategyCrossPlatform, kalshiYes("K-B"), polybot.Live, 2 * time.Minute},
			{"t-4", polybot.StrategySinglePlatform, polyToken("222", polybot.No), polybot.Live, 3 * time.Minute},
			// Two legs filled at one instant: the later recorded comes first.
			{"t-5", polybot.StrategyCrossPlatform, kalshiYes("K-A"), polybot.DryRun, 4 * time.Minute},
			{"t-6", polybot.StrategyCrossPlatform, polyToken("222", polybot.No), polybot.DryRun, 4 * time.Minute},
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for _, r := range rows {
				f := &polybot.TradeFill{Venue: r.inst.Venue, TradeID: r.id, Strategy: r.strategy, Mode: r.mode, Instrument: r.inst,
					Side: polybot.Buy, Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("1"), Time: T0.Add(r.at)}
				if err := tx.InsertFill(f); err != nil {
					return err
				}
			}
			return nil
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			for _, c := range []struct {
				name string
				f    polybot.FillFilter
				want []string
			}{
				{"all", polybot.FillFilter{}, []string{"t-6", "t-5", "t-4", "t-3", "t-2", "t-1"}},
				{"strategy", polybot.FillFilter{Strategy: polybot.StrategySinglePlatform}, []string{"t-4", "t-1"}},
				{"venue", polybot.FillFilter{Venue: polybot.Kalshi}, []string{"t-5", "t-3", "t-1"}},
				{"kalshi ticker", polybot.FillFilter{Market: "K-A"}, []string{"t-5", "t-1"}},
				{"polymarket token", polybot.FillFilter{Market: "222"}, []string{"t-6", "t-4"}},
				{"polymarket condition", polybot.FillFilter{Market: "0xcondition"}, []string{"t-6", "t-4", "t-2"}},
				{"mode", polybot.FillFilter{Mode: polybot.Live}, []string{"t-4", "t-3"}},
				{"before", polybot.FillFilter{Before: T0.Add(2 * time.Minute)}, []string{"t-2", "t-1"}},
				{"before and venue", polybot.FillFilter{Before: T0.Add(3 * time.Minute), Venue: polybot.Polymarket}, []string{"t-2"}},
				{"page", polybot.FillFilter{Limit: 3}, []string{"t-6", "t-5", "t-4"}},
				{"strategy and mode", polybot.FillFilter{Strategy: polybot.StrategyCrossPlatform, Mode: polybot.DryRun, Limit: 2}, []string{"t-6", "t-5"}},
				{"none", polybot.FillFilter{Strategy: "no-such"}, nil},
			} {
				got, err := tx.FindFills(c.f)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				var ids []string
				for _, x := range got {
					ids = append(ids, x.TradeID)
				}
				wantEqual(t, "FindFills "+c.name, c.want, ids)
			}
			return nil
		})
	})

	t.Run("Fills is newest first, pages with before and honours limit", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("f@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i := range 5 {
				f := &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "t-" + string(rune('a'+i)), Strategy: polybot.StrategySinglePlatform,
					Mode: polybot.DryRun, Instrument: kalshiYes("K-1"), Side: polybot.Buy, Price: polybot.MustDecimal("0.5"),
					Size: polybot.MustDecimal("1"), Time: T0.Add(time.Duration(i) * time.Second)}
				if err := tx.InsertFill(f); err != nil {
					return err
				}
			}
			return nil
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			for _, c := range []struct {
				before time.Time
				limit  int
				want   []string
			}{
				{time.Time{}, 100, []string{"t-e", "t-d", "t-c", "t-b", "t-a"}},
				{time.Time{}, 2, []string{"t-e", "t-d"}},
				{T0.Add(2 * time.Second), 100, []string{"t-b", "t-a"}},
				{T0, 100, nil},
			} {
				all, err := tx.Fills(c.before, c.limit)
				if err != nil {
					return err
				}
				var got []string
				for _, f := range all {
					got = append(got, f.TradeID)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("Fills(%v, %d) = %v, want %v", c.before, c.limit, got, c.want)
				}
			}
			return nil
		})
	})

	t.Run("PnLByStrategy sums fills exactly by strategy and mode", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("p@example.com")
		rows := []struct {
			strategy string
			mode     polybot.ExecMode
			pnl, fee string
		}{
			{polybot.StrategySinglePlatform, polybot.DryRun, "0.1", "0.000001"},
			{polybot.StrategySinglePlatform, polybot.DryRun, "0.2", "0.000002"},
			{polybot.StrategySinglePlatform, polybot.Live, "-1.333333", "0.01"},
			{polybot.StrategyCrossPlatform, polybot.Live, "1000000000000.000001", "0"},
			{polybot.StrategyCrossPlatform, polybot.Live, "0.999999", "0.5"},
			{polybot.StrategySinglePlatform, polybot.DryRun, "0.3", "0.000003"},
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i, r := range rows {
				f := &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "t" + string(rune('a'+i)), Strategy: r.strategy, Mode: r.mode,
					Instrument: kalshiYes("K-1"), Side: polybot.Sell, Price: polybot.MustDecimal("0.5"), Size: polybot.MustDecimal("1"),
					Fee: polybot.MustDecimal(r.fee), RealizedPnL: polybot.MustDecimal(r.pnl)}
				if err := tx.InsertFill(f); err != nil {
					return err
				}
			}
			return nil
		})
		want := []*polybot.StrategyPnL{
			{Strategy: polybot.StrategyCrossPlatform, Mode: polybot.Live, Realized: polybot.MustDecimal("1000000000001"), Fees: polybot.MustDecimal("0.5"), Fills: 2},
			{Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Realized: polybot.MustDecimal("0.6"), Fees: polybot.MustDecimal("0.000006"), Fills: 3},
			{Strategy: polybot.StrategySinglePlatform, Mode: polybot.Live, Realized: polybot.MustDecimal("-1.333333"), Fees: polybot.MustDecimal("0.01"), Fills: 1},
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			got, err := tx.PnLByStrategy()
			if err == nil {
				wantEqual(t, "PnLByStrategy", want, got)
			}
			return err
		})
		empty := e.newUser("empty@example.com")
		e.mustTenantView(empty.ID, func(tx polybot.TenantTx) error {
			got, err := tx.PnLByStrategy()
			if err != nil || len(got) != 0 {
				t.Fatalf("PnLByStrategy with no fills = %v, %v; want empty", got, err)
			}
			return nil
		})
	})

	t.Run("Holding is not found until PutHolding; PutHolding replaces; modes are apart", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("h@example.com")
		inst := polyToken("777", polybot.Yes)
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			_, err := tx.Holding(inst, polybot.DryRun)
			wantCode(t, err, polybot.ENOTFOUND, "Holding before any")
			all, err := tx.Holdings()
			if err != nil || len(all) != 0 {
				t.Fatalf("Holdings = %v, %v; want empty", all, err)
			}
			return nil
		})
		h := &polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: polybot.MustDecimal("12.345678"),
			AvgPrice: polybot.MustDecimal("0.333333"), RealizedPnL: minDecimal}
		live := &polybot.Holding{Instrument: kalshiYes("K-1"), Mode: polybot.Live, Size: maxDecimal, AvgPrice: micro, RealizedPnL: maxDecimal}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutHolding(h); err != nil {
				return err
			}
			return tx.PutHolding(live)
		})
		if !h.UpdatedAt.Equal(T0) {
			t.Fatalf("PutHolding set UpdatedAt %v, want %v", h.UpdatedAt, T0)
		}
		now := e.clock.Advance(time.Minute)
		replaced := &polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: polybot.Zero, AvgPrice: polybot.Zero,
			RealizedPnL: polybot.MustDecimal("4.2")}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutHolding(replaced) })
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			// A token is the instrument (Key): no market string is needed to find it.
			got, err := tx.Holding(polybot.Instrument{Venue: polybot.Polymarket, Token: "777"}, polybot.DryRun)
			if err != nil {
				return err
			}
			wantEqual(t, "replaced holding", replaced, got)
			if !got.UpdatedAt.Equal(now) {
				t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, now)
			}
			_, err = tx.Holding(inst, polybot.Live)
			wantCode(t, err, polybot.ENOTFOUND, "Holding in the other mode")
			gl, err := tx.Holding(kalshiYes("K-1"), polybot.Live)
			if err != nil {
				return err
			}
			wantEqual(t, "live holding", live, gl)
			all, err := tx.Holdings()
			if err == nil {
				wantEqual(t, "Holdings (by mode)", []*polybot.Holding{replaced, live}, all)
			}
			return err
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutHolding(&polybot.Holding{Instrument: inst, Mode: polybot.DryRun, Size: polybot.MustDecimal("-1")})
		})
		wantCode(t, err, polybot.EINVALID, "PutHolding with a negative size")
	})

	t.Run("AddDailyPnL accumulates exactly per day and mode; DailyPnL is zero when nothing was recorded", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("d@example.com")
		day := polybot.Day(T0)
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			d, err := tx.DailyPnL(day, polybot.Live)
			if err == nil {
				wantEqual(t, "DailyPnL before any", &polybot.DailyPnL{Day: day, Mode: polybot.Live}, d)
			}
			return err
		})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for _, v := range []struct{ pnl, fee string }{{"0.1", "0.000001"}, {"0.2", "0.000002"}, {"-1000000000000.3", "0.1"}} {
				if err := tx.AddDailyPnL(day, polybot.Live, polybot.MustDecimal(v.pnl), polybot.MustDecimal(v.fee), polybot.Zero); err != nil {
					return err
				}
			}
			if err := tx.AddDailyPnL(day, polybot.DryRun, polybot.MustDecimal("5"), polybot.Zero, polybot.Zero); err != nil {
				return err
			}
			return tx.AddDailyPnL("2030-01-16", polybot.Live, polybot.MustDecimal("7"), polybot.MustDecimal("1"), polybot.Zero)
		})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.AddDailyPnL(day, polybot.Live, micro, micro, polybot.Zero)
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			for _, c := range []struct {
				day       string
				mode      polybot.ExecMode
				pnl, fees string
			}{
				{day, polybot.Live, "-999999999999.999999", "0.100004"},
				{day, polybot.DryRun, "5", "0"},
				{"2030-01-16", polybot.Live, "7", "1"},
				{"2030-01-16", polybot.DryRun, "0", "0"},
			} {
				d, err := tx.DailyPnL(c.day, c.mode)
				if err != nil {
					return err
				}
				wantEqual(t, "DailyPnL("+c.day+", "+string(c.mode)+")",
					&polybot.DailyPnL{Day: c.day, Mode: c.mode, Realized: polybot.MustDecimal(c.pnl), Fees: polybot.MustDecimal(c.fees)}, d)
			}
			return nil
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.AddDailyPnL("15/01/2030", polybot.Live, micro, micro, polybot.Zero)
		})
		wantCode(t, err, polybot.EINVALID, "AddDailyPnL with a bad day")
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.AddDailyPnL(day, "paper", micro, micro, polybot.Zero) })
		wantCode(t, err, polybot.EINVALID, "AddDailyPnL with a bad mode")
	})

	t.Run("the global halt is active until an admin sets it; every tenant sees it", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("g@example.com")
		globalOf := func() (admin, tenant string) {
			e.mustAdminView(func(tx polybot.AdminTx) (err error) { admin, err = tx.GlobalHalt(); return })
			e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { tenant, err = tx.GlobalHalt(); return })
			return
		}
		if a, tn := globalOf(); a != polybot.HaltActive || tn != polybot.HaltActive {
			t.Fatalf("GlobalHalt = %q (admin), %q (tenant); want active", a, tn)
		}
		for _, st := range []string{polybot.HaltHalted, polybot.HaltReducingOnly, polybot.HaltActive} {
			e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetGlobalHalt(st) })
			if a, tn := globalOf(); a != st || tn != st {
				t.Fatalf("after SetGlobalHalt(%s): %q (admin), %q (tenant)", st, a, tn)
			}
		}
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.SetGlobalHalt("paused") }), polybot.EINVALID, "SetGlobalHalt(paused)")
	})

	t.Run("a tenant's halt state is the stricter of its own and an admin's; the tenant cannot lift an admin's", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("h@example.com")
		other := e.newUser("o@example.com")
		halt := func(id polybot.ID) string {
			var s string
			e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { s, err = tx.HaltState(); return })
			return s
		}
		if s := halt(u.ID); s != polybot.HaltActive {
			t.Fatalf("new tenant's halt state = %q, want active", s)
		}
		now := e.clock.Advance(time.Minute)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltReducingOnly) })
		if s := halt(u.ID); s != polybot.HaltReducingOnly {
			t.Fatalf("after SetHaltState(reducing_only): %q", s)
		}
		if p := e.profile(u.ID); !p.UpdatedAt.Equal(now) {
			t.Errorf("SetHaltState left the profile's updated_at at %v, want %v", p.UpdatedAt, now)
		}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserHalt(u.ID, polybot.HaltHalted) })
		if s := halt(u.ID); s != polybot.HaltHalted {
			t.Fatalf("after SetUserHalt(halted): %q", s)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltActive) })
		if s := halt(u.ID); s != polybot.HaltHalted {
			t.Fatalf("the tenant lifted the admin's halt: %q", s)
		}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserHalt(u.ID, polybot.HaltReducingOnly) })
		if s := halt(u.ID); s != polybot.HaltReducingOnly {
			t.Fatalf("admin reducing_only over tenant active: %q", s)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) })
		if s := halt(u.ID); s != polybot.HaltHalted {
			t.Fatalf("tenant halted over admin reducing_only: %q", s)
		}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserHalt(u.ID, polybot.HaltActive) })
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltActive) })
		if s := halt(u.ID); s != polybot.HaltActive {
			t.Fatalf("both active: %q", s)
		}
		if s := halt(other.ID); s != polybot.HaltActive {
			t.Fatalf("another tenant's halt state moved to %q", s)
		}
		wantCode(t, e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetHaltState("stop") }), polybot.EINVALID, "SetHaltState(stop)")
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.SetUserHalt(u.ID, "stop") }), polybot.EINVALID, "SetUserHalt(stop)")
	})

	t.Run("BotEnabled defaults to on; BotUserIDs lists enabled users who want their bot", func(t *testing.T) {
		e := newEnv(t, open)
		a := e.newUser("a@example.com")
		e.clock.Advance(time.Second)
		b := e.newUser("b@example.com")
		e.clock.Advance(time.Second)
		c := e.newUser("c@example.com")
		bots := func() []polybot.ID {
			var ids []polybot.ID
			e.mustAdminView(func(tx polybot.AdminTx) (err error) { ids, err = tx.BotUserIDs(); return })
			return ids
		}
		if got := bots(); !slices.Equal(got, []polybot.ID{a.ID, b.ID, c.ID}) {
			t.Fatalf("BotUserIDs = %v, want all three in creation order", got)
		}
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) error {
			on, err := tx.BotEnabled()
			if err != nil || !on {
				t.Fatalf("BotEnabled of a new user = %v, %v; want true", on, err)
			}
			return nil
		})
		e.mustTenant(b.ID, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(false) })
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserDisabled(c.ID, true) })
		if got := bots(); !slices.Equal(got, []polybot.ID{a.ID}) {
			t.Fatalf("BotUserIDs = %v, want only a (b turned its bot off, c is disabled)", got)
		}
		e.mustTenantView(b.ID, func(tx polybot.TenantTx) error {
			on, err := tx.BotEnabled()
			if err != nil || on {
				t.Fatalf("BotEnabled after SetBotEnabled(false) = %v, %v", on, err)
			}
			return nil
		})
		e.mustTenant(b.ID, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(true) })
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserDisabled(c.ID, false) })
		if got := bots(); !slices.Equal(got, []polybot.ID{a.ID, b.ID, c.ID}) {
			t.Fatalf("BotUserIDs = %v, want all three again", got)
		}
	})

	t.Run("the market registry holds the approved Fed pair; PutMarketPair creates and updates; DeleteMarketPair removes", func(t *testing.T) {
		e := newEnv(t, open)
		e.mustAdminView(func(tx polybot.AdminTx) error {
			fed, err := tx.MarketPair("fed-dec2025-hold")
			if err != nil {
				t.Fatalf("MarketPair(fed-dec2025-hold): %v", err)
			}
			if fed.Name != "Fed decision December 2025: no change" || !fed.Approved || fed.Legs[1] != polybot.KalshiLeg("KXFEDDECISION-25DEC-H0") ||
				fed.Legs[0] != polybot.PolymarketLeg("", "80746058984644290629624903019922696017323803605256698757445938534814122585786",
					"85970682092909806158465981896969493051954703765750954325716965011253694472992") ||
				fed.ResolutionNotes == "" || fed.Validate() != nil || fed.CreatedAt.IsZero() {
				t.Fatalf("seeded Fed pair = %+v", fed)
			}
			all, err := tx.MarketPairs()
			if err != nil || len(all) != 1 || all[0].ID != fed.ID {
				t.Fatalf("MarketPairs = %v, %v; want the Fed pair", all, err)
			}
			return nil
		})
		m := &polybot.MarketPair{ID: "a-pair", Name: "A pair", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xc", "1", "2"), polybot.KalshiLeg("K-A")}, ResolutionNotes: "both resolve on 'x'"}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutMarketPair(m) })
		if !m.CreatedAt.Equal(T0) || !m.UpdatedAt.Equal(T0) {
			t.Fatalf("PutMarketPair set created %v updated %v, want %v", m.CreatedAt, m.UpdatedAt, T0)
		}
		now := e.clock.Advance(time.Hour)
		upd := *m
		upd.Approved, upd.Name, upd.CreatedAt = true, "A pair, approved", time.Time{}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutMarketPair(&upd) })
		if !upd.CreatedAt.Equal(T0) || !upd.UpdatedAt.Equal(now) {
			t.Fatalf("update set created %v updated %v, want %v and %v", upd.CreatedAt, upd.UpdatedAt, T0, now)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.MarketPair("a-pair")
			if err == nil {
				wantEqual(t, "updated pair", &upd, got)
			}
			all, err := tx.MarketPairs()
			if err != nil || len(all) != 2 || all[0].ID != "a-pair" || all[1].ID != "fed-dec2025-hold" {
				t.Fatalf("MarketPairs = %v, %v; want a-pair then the Fed pair", all, err)
			}
			return nil
		})
		// A pair over any two venues: a ForecastEx contract pair (IBKR) and a Kalshi market.
		fx := &polybot.MarketPair{ID: "fx-pair", Name: "Fed holds on ForecastEx and Kalshi",
			Legs: [2]polybot.PairLeg{{Venue: polybot.IBKR, Market: "FF", Yes: "7001", No: "7002"}, polybot.KalshiLeg("K-FX")}}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutMarketPair(fx) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.MarketPair("fx-pair")
			if err != nil {
				return err
			}
			if got.Legs != fx.Legs {
				t.Errorf("ForecastEx pair legs = %+v, want %+v", got.Legs, fx.Legs)
			}
			return nil
		})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.DeleteMarketPair("fx-pair") })
		bad := upd
		bad.Legs[1].Market = ""
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.PutMarketPair(&bad) }), polybot.EINVALID, "PutMarketPair without a Kalshi ticker")
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.DeleteMarketPair("a-pair") })
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.DeleteMarketPair("a-pair") }), polybot.ENOTFOUND, "DeleteMarketPair twice")
		wantCode(t, e.adminView(func(tx polybot.AdminTx) error { _, err := tx.MarketPair("a-pair"); return err }), polybot.ENOTFOUND, "MarketPair(deleted)")
	})

	t.Run("LockTenant works in a write transaction and fails in a view", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("l@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.LockTenant(); err != nil {
				return err
			}
			return tx.LockTenant() // twice in one transaction is fine
		})
		if err := e.tenantView(u.ID, func(tx polybot.TenantTx) error { return tx.LockTenant() }); err == nil {
			t.Fatal("LockTenant in a view succeeded")
		}
	})

	t.Run("trading writes roll back with the transaction", func(t *testing.T) {
		e := newEnv(t, open)
		f := e.seedTenant("r")
		e.clock.Advance(time.Hour)
		before := e.state(f)
		err := e.tenant(f.user.ID, func(tx polybot.TenantTx) error {
			steps := []struct {
				name string
				run  func() error
			}{
				{"LockTenant", tx.LockTenant},
				{"SetHaltState", func() error { return tx.SetHaltState(polybot.HaltHalted) }},
				{"SetBotEnabled", func() error { return tx.SetBotEnabled(false) }},
				{"InsertIntent", func() error { return tx.InsertIntent(newIntent("pb-rolled-back", kalshiYes("K-9"))) }},
				{"UpdateIntent", func() error {
					in := *f.intents[0]
					in.State = polybot.IntentCancelled
					return tx.UpdateIntent(&in)
				}},
				{"InsertFill", func() error {
					return tx.InsertFill(&polybot.TradeFill{Venue: polybot.Kalshi, TradeID: "rolled-back", Mode: polybot.DryRun,
						Instrument: kalshiYes("K-9"), Side: polybot.Buy, Price: micro, Size: micro})
				}},
				{"PutHolding", func() error {
					return tx.PutHolding(&polybot.Holding{Instrument: kalshiYes("K-9"), Mode: polybot.DryRun, Size: micro})
				}},
				{"AddDailyPnL", func() error { return tx.AddDailyPnL(polybot.Day(T0), polybot.DryRun, micro, micro, polybot.Zero) }},
			}
			for _, s := range steps {
				if err := s.run(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("Tenant returned %v, want fn's error", err)
		}
		wantEqual(t, "tenant state after rollback", before, e.state(f))
	})
}
