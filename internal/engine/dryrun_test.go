package engine

import (
	"context"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func pmUniverse() Universe { return Universe{Markets: []Market{{Yes: pmYes, No: pmNo}}} }

func TestDryRunFromABookUpdateToRecordedFillsPositionsAndPnL(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, nil) // dry run, single-platform on, $50 trades, 1% minimum
	m := r.start(Config{Universe: pmUniverse()})
	events, cancel := m.Subscribe(id)
	defer cancel()
	r.waitRunning(id)

	// YES ask 0.45 + NO ask 0.50 = 0.95 a set, 0 fees on Polymarket: 5.26%.
	r.book(pmYes, []polybot.Level{lv("0.44", "80")}, []polybot.Level{lv("0.45", "100"), lv("0.46", "500")})
	r.book(pmNo, []polybot.Level{lv("0.49", "80")}, []polybot.Level{lv("0.50", "100")})

	eventually(t, "both legs' fills are recorded", func() bool { return len(r.fills(id)) == 2 })
	// $50 buys floor(50 / 0.95) = 52.63 sets (Polymarket trades hundredths).
	for _, f := range r.fills(id) {
		if f.Size != d("52.63") || f.Mode != polybot.DryRun || f.Strategy != polybot.StrategySinglePlatform || !f.Fee.IsZero() {
			t.Fatalf("fill %+v, want 52.63 dry-run contracts at no fee", f)
		}
		if (f.Instrument == pmYes && f.Price != d("0.45")) || (f.Instrument == pmNo && f.Price != d("0.50")) {
			t.Fatalf("fill %+v at the wrong price", f)
		}
	}
	for _, in := range r.intents(id) {
		if in.State != polybot.IntentFilled || in.Filled != d("52.63") || in.TIF != polybot.FOK {
			t.Fatalf("intent %+v, want a filled FOK of 52.63", in)
		}
	}
	var hs []*polybot.Holding
	r.tenantView(id, func(tx polybot.TenantTx) (err error) { hs, err = tx.Holdings(); return })
	if len(hs) != 2 {
		t.Fatalf("holdings = %+v", hs)
	}
	for _, h := range hs {
		if h.Size != d("52.63") || h.Mode != polybot.DryRun {
			t.Fatalf("holding %+v", h)
		}
	}
	// The P&L event: 52.63 sets × 0.05 locked in.
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type != "pnl" {
				continue
			}
			p := ev.Data.(map[string]any)
			if p["expected_profit"] != d("2.6315") || p["sets"] != d("52.63") {
				t.Fatalf("pnl event %+v", p)
			}
			st := m.Status(context.Background(), id)
			if st.Counters.Fills != 2 || st.Counters.Intents != 2 || st.Counters.Opportunities != 1 || st.Mode != polybot.DryRun {
				t.Fatalf("status %+v", st)
			}
			if ops := m.Opportunities(context.Background(), id, 10); len(ops) != 1 || ops[0].Size != d("100") {
				t.Fatalf("opportunities %+v", ops)
			}
			return
		case <-deadline:
			t.Fatal("no pnl event")
		}
	}
}
