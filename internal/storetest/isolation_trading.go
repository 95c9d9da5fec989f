package storetest

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// tradingIsolationCases are the isolation rows of the trading-state
// methods. A and B share a client order id, a trade id and an instrument
// (see seedTrading); B's halt state is reducing_only and its bot is off.
func tradingIsolationCases() []isoCase {
	aState := func(t *testing.T, f *isoFixture) *tenantState {
		t.Helper()
		return f.e.state(f.a)
	}
	return []isoCase{
		{method: "LockTenant", does: "locks A and changes nothing of B's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.LockTenant() }},
		{method: "GlobalHalt", does: "is the platform's state and carries no tenant data", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				g, err := tx.GlobalHalt()
				if err == nil && g != polybot.HaltActive {
					t.Errorf("GlobalHalt() = %q, want active", g)
				}
				return err
			}},
		{method: "HaltState", does: "is A's (active), not B's (reducing_only)", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				h, err := tx.HaltState()
				if err == nil && h != polybot.HaltActive {
					t.Errorf("HaltState() = %q, want A's active", h)
				}
				return err
			}},
		{method: "SetHaltState", does: "halts only A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetHaltState(polybot.HaltHalted)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := aState(t, f); s.HaltState != polybot.HaltHalted {
					t.Errorf("A's halt state = %q, want halted", s.HaltState)
				}
			}},
		{method: "BotEnabled", does: "is A's (on), not B's (off)", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				on, err := tx.BotEnabled()
				if err == nil && !on {
					t.Error("BotEnabled() = false, want A's true")
				}
				return err
			}},
		{method: "SetBotEnabled", does: "turns off only A's bot",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.SetBotEnabled(false) },
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := aState(t, f); s.BotEnabled || s.BotListed {
					t.Errorf("A's bot: enabled %v, listed %v; want neither", s.BotEnabled, s.BotListed)
				}
			}},
		{method: "InsertIntent", does: "with UserID set to B and B's own client order id stores it for A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				in := *f.b.intents[1]
				in.UserID, in.OpportunityID = f.B(), "planted-by-a"
				return tx.InsertIntent(&in)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					in, err := tx.Intent(ownIntentID("b"))
					if err != nil || in.UserID != f.A() || in.OpportunityID != "planted-by-a" {
						t.Errorf("A's copy of B's client order id = %+v, %v; want it stored for A", in, err)
					}
					return nil
				})
			}},
		{method: "InsertIntent", does: "with the client order id A and B share conflicts with A's own", want: polybot.ECONFLICT,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				in := *f.b.intents[0]
				in.UserID = f.B()
				return tx.InsertIntent(&in)
			}},
		{method: "UpdateIntent", does: "of B's own client order id is not found", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				in := *f.b.intents[1]
				in.State, in.Error = polybot.IntentRejected, "written by A"
				return tx.UpdateIntent(&in)
			}},
		{method: "UpdateIntent", does: "of the shared client order id changes only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				in := *f.b.intents[0]
				in.UserID, in.State, in.Error = f.B(), polybot.IntentCancelled, "written by A"
				return tx.UpdateIntent(&in)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					in, err := tx.Intent(sharedIntentID)
					if err != nil || in.State != polybot.IntentCancelled || in.Error != "written by A" || in.OpportunityID != "opp-a" {
						t.Errorf("A's shared intent = %+v, %v; want A's, cancelled", in, err)
					}
					return nil
				})
			}},
		{method: "Intent", does: "of the shared client order id returns A's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				in, err := tx.Intent(sharedIntentID)
				if err == nil && (in.UserID != f.A() || in.OpportunityID != "opp-a" || in.Size != tagAmount("a")) {
					t.Errorf("Intent(shared) = %+v, want A's", in)
				}
				return err
			}},
		{method: "Intent", does: "of B's own client order id is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				in, err := tx.Intent(ownIntentID("b"))
				if err == nil {
					t.Errorf("Intent(B's) returned %+v", in)
				}
				return err
			}},
		{method: "Intents", does: "lists exactly A's intents, with and without filters", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				for _, states := range [][]string{nil, {polybot.IntentOpen, polybot.IntentPending}} {
					for _, before := range []time.Time{{}, tx.Now().Add(time.Hour)} {
						all, err := tx.Intents(states, before, 100)
						if err != nil {
							return err
						}
						if len(all) != len(f.a.intents) {
							t.Errorf("Intents(%v, %v) = %d rows, want A's %d", states, before, len(all), len(f.a.intents))
						}
						for _, in := range all {
							if in.UserID != f.A() || (in.OpportunityID != "opp-a" && in.OpportunityID != "opp-own-a") {
								t.Errorf("Intents returned %s of opportunity %s", in.ID, in.OpportunityID)
							}
						}
					}
				}
				return nil
			}},
		{method: "FindIntents", does: "finds only A's intents, even by B's market", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.FindIntents(polybot.IntentFilter{Limit: 1000})
				if err == nil && len(all) != len(f.a.intents) {
					t.Errorf("FindIntents() = %d rows, want A's %d", len(all), len(f.a.intents))
				}
				for _, in := range all {
					if in.UserID != f.A() {
						t.Errorf("FindIntents returned %s of another tenant", in.ID)
					}
				}
				for _, in := range f.b.intents {
					got, err := tx.FindIntents(polybot.IntentFilter{Market: in.Instrument.Market, Strategy: in.Strategy})
					if err != nil {
						return err
					}
					for _, x := range got {
						if x.UserID != f.A() {
							t.Errorf("FindIntents by B's market returned %s", x.ID)
						}
					}
				}
				return err
			}},
		{method: "InsertFill", does: "with UserID set to B and B's own trade id stores it for A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				x := *f.b.fills[1]
				x.UserID, x.Strategy = f.B(), "planted-by-a"
				return tx.InsertFill(&x)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				s := aState(t, f)
				n := 0
				for _, x := range s.Fills {
					if x.TradeID == ownTradeID("b") && x.Strategy == "planted-by-a" && x.UserID == f.A() {
						n++
					}
				}
				if n != 1 || len(s.Fills) != len(f.a.fills)+1 {
					t.Errorf("A's fills = %d with the planted one %d times; want A's %d and it once", len(s.Fills), n, len(f.a.fills))
				}
			}},
		{method: "InsertFill", does: "with the (venue, trade id) A and B share conflicts with A's own", want: polybot.ECONFLICT,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				x := *f.b.fills[0]
				return tx.InsertFill(&x)
			}},
		{method: "FindFills", does: "finds only A's fills, even by B's market", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.FindFills(polybot.FillFilter{Limit: 1000})
				if err != nil {
					return err
				}
				if len(all) != len(f.a.fills) {
					t.Errorf("FindFills() = %d rows, want A's %d", len(all), len(f.a.fills))
				}
				for _, x := range f.b.fills {
					got, err := tx.FindFills(polybot.FillFilter{Market: x.Instrument.Market, Strategy: x.Strategy, Venue: x.Venue})
					if err != nil {
						return err
					}
					all = append(all, got...)
				}
				for _, x := range all {
					if x.UserID != f.A() || x.Size != tagAmount("a") {
						t.Errorf("FindFills returned %s of size %s", x.TradeID, x.Size)
					}
				}
				return nil
			}},
		{method: "Fills", does: "lists exactly A's fills", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.Fills(time.Time{}, 100)
				if err != nil {
					return err
				}
				if len(all) != len(f.a.fills) {
					t.Errorf("Fills() = %d rows, want A's %d", len(all), len(f.a.fills))
				}
				for _, x := range all {
					if x.UserID != f.A() || x.Size != tagAmount("a") {
						t.Errorf("Fills() returned %s of size %s", x.TradeID, x.Size)
					}
				}
				return nil
			}},
		{method: "PnLByStrategy", does: "sums only A's fills", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.PnLByStrategy()
				if err != nil {
					return err
				}
				want := []*polybot.StrategyPnL{
					{Strategy: polybot.StrategyCrossPlatform, Mode: polybot.Live, Realized: tagAmount("a").Neg(), Fees: polybot.MustDecimal("0.02"), Fills: 1},
					{Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun, Realized: polybot.Zero, Fees: polybot.MustDecimal("0.01"), Fills: 1},
				}
				wantEqual(t, "PnLByStrategy", want, all)
				return nil
			}},
		{method: "Holding", does: "in the shared instrument returns A's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				h, err := tx.Holding(sharedInstrument, polybot.DryRun)
				if err == nil {
					wantEqual(t, "Holding(shared)", f.a.holdings[0], h)
				}
				return err
			}},
		{method: "Holding", does: "in B's own instrument is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				h, err := tx.Holding(ownInstrument("b"), polybot.Live)
				if err == nil {
					t.Errorf("Holding(B's) = %+v", h)
				}
				return err
			}},
		{method: "PutHolding", does: "in the shared instrument replaces only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutHolding(&polybot.Holding{Instrument: sharedInstrument, Mode: polybot.DryRun,
					Size: polybot.MustDecimal("9.99"), AvgPrice: polybot.MustDecimal("0.5"), RealizedPnL: polybot.Zero})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				f.e.mustTenantView(f.A(), func(tx polybot.TenantTx) error {
					h, err := tx.Holding(sharedInstrument, polybot.DryRun)
					if err != nil || h.Size.String() != "9.99" {
						t.Errorf("A's shared holding = %+v, %v; want size 9.99", h, err)
					}
					return nil
				})
			}},
		{method: "PutHolding", does: "in B's own instrument creates A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutHolding(&polybot.Holding{Instrument: ownInstrument("b"), Mode: polybot.Live,
					Size: polybot.MustDecimal("1"), AvgPrice: polybot.MustDecimal("0.5")})
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if s := aState(t, f); len(s.Holdings) != len(f.a.holdings)+1 {
					t.Errorf("A holds %d positions, want %d", len(s.Holdings), len(f.a.holdings)+1)
				}
			}},
		{method: "Holdings", does: "lists exactly A's positions", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.Holdings()
				if err == nil {
					wantEqual(t, "Holdings (by mode, then instrument)", f.a.holdings, all)
				}
				return err
			}},
		{method: "AddDailyPnL", does: "adds to A's day only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.AddDailyPnL(polybot.Day(T0), polybot.Live, polybot.MustDecimal("-5"), polybot.MustDecimal("0.5"), polybot.Zero)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				d := aState(t, f).DailyPnL[1]
				if d.Realized.String() != "-3.89" || d.Fees.String() != "0.53" {
					t.Errorf("A's live day = %+v, want realized -3.89 and fees 0.53", d)
				}
			}},
		{method: "OpenDailyPnL", does: "opens A's day only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.OpenDailyPnL(polybot.Day(T0), polybot.Live, polybot.MustDecimal("12.5"))
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				d := aState(t, f).DailyPnL[1]
				if !d.Opened || d.OpenValue.String() != "12.50" {
					t.Errorf("A's live day = %+v, want opened at 12.50", d)
				}
			}},
		{method: "DailyPnL", does: "is A's day", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				d, err := tx.DailyPnL(polybot.Day(T0), polybot.DryRun)
				if err == nil && (d.Realized != tagAmount("a") || d.Fees.String() != "0.03") {
					t.Errorf("DailyPnL = %+v, want A's 1.11 and 0.03", d)
				}
				return err
			}},
	}
}
