package engine

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
)

func TestAFillReportedInTheOtherOutcomesTermsIsRecordedAtTheIntentsPrice(t *testing.T) {
	buyNo := &polybot.Intent{Instrument: kNo, Side: polybot.Buy}
	sellNo := &polybot.Intent{Instrument: kNo, Side: polybot.Sell}
	for _, c := range []struct {
		name string
		in   *polybot.Intent
		f    polybot.Fill
		want string
	}{
		{"the intent's own terms", buyNo, polybot.Fill{Instrument: kNo, Side: polybot.Buy, Price: d("0.87")}, "0.87"},
		{"a NO buy reported as a YES sale", buyNo, polybot.Fill{Instrument: kYes, Side: polybot.Sell, Price: d("0.13")}, "0.87"},
		{"a NO sale reported as a YES buy", sellNo, polybot.Fill{Instrument: kYes, Side: polybot.Buy, Price: d("0.37")}, "0.63"},
		{"another market", buyNo, polybot.Fill{Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "OTHER"}, Side: polybot.Sell, Price: d("0.13")}, "0.13"},
		{"no instrument given", buyNo, polybot.Fill{Side: polybot.Sell, Price: d("0.87")}, "0.87"},
	} {
		if got := intentPrice(c.in, &c.f); got != d(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// A NO buy that filled before a crash is found on start by a fresh
// connector, which can only state Kalshi's fill on the YES book (a YES sale
// at 1 − p): the fill is recorded at the NO price the intent paid.
func TestStartRecordsANOBuyFilledBeforeACrashAtItsNOPrice(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	if err := r.ksim.SetBook(fedTicker, []polybot.Level{lv("0.13", "10")}, nil); err != nil {
		t.Fatal(err)
	}
	in := &polybot.Intent{ID: polybot.IntentID(lt.id, "no-before-the-crash", 0, 0), OpportunityID: "no-before-the-crash",
		Strategy: polybot.StrategyCrossPlatform, Mode: polybot.Live, Instrument: kNo, Side: polybot.Buy, Price: d("0.87"),
		Size: d("5"), TIF: polybot.FOK}
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error { return polybot.SubmitIntent(tx, in, nil) })
	x, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: r.kURLs.REST, KeyID: lt.kalshiID, PrivateKeyPEM: pkcs1(testRSAKeys(t)[1])})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := x.PlaceOrder(r.ctx, polybot.OrderRequest{ClientOrderID: in.ID, Instrument: kNo, Side: polybot.Buy,
		Price: d("0.87"), Size: d("5"), TIF: polybot.FOK}); err != nil || st.State != polybot.OrderFilled {
		t.Fatalf("%+v %v", st, err)
	}
	r.startLive(Config{})
	eventually(t, "the intent is reconciled as filled", func() bool {
		got := r.intentsByLeg(lt.id)[0]
		return got.State == polybot.IntentFilled && got.Filled == d("5")
	})
	fills := r.fills(lt.id)
	if len(fills) != 1 || fills[0].Instrument != kNo || fills[0].Side != polybot.Buy || fills[0].Price != d("0.87") {
		t.Fatalf("fills %+v, want one NO buy at 0.87", fills)
	}
}

// The process stopped after the second leg was recorded unfilled and
// before the first leg's unwind was persisted: both legs are final and
// unbalanced, with no unwind. Start finds the orphaned leg and unwinds it.
func TestStartUnwindsALegWhoseUnwindWasLostInACrash(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	if err := r.ksim.SetBook(fedTicker, []polybot.Level{lv("0.40", "100")}, []polybot.Level{lv("0.55", "10")}); err != nil {
		t.Fatal(err)
	}
	const opp = "lost-unwind"
	k := &polybot.Intent{ID: polybot.IntentID(lt.id, opp, 0, 0), OpportunityID: opp, Strategy: polybot.StrategyCrossPlatform, Leg: 0,
		Mode: polybot.Live, Instrument: kYes, Side: polybot.Buy, Price: d("0.45"), Size: d("5"), TIF: polybot.FOK}
	p := &polybot.Intent{ID: polybot.IntentID(lt.id, opp, 1, 0), OpportunityID: opp, Strategy: polybot.StrategyCrossPlatform, Leg: 1,
		Mode: polybot.Live, Instrument: pmFedNo, Side: polybot.Buy, Price: d("0.52"), Size: d("5"), TIF: polybot.FOK}
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error {
		for _, in := range []*polybot.Intent{k, p} {
			if err := polybot.SubmitIntent(tx, in, nil); err != nil {
				return err
			}
		}
		return nil
	})
	x, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: r.kURLs.REST, KeyID: lt.kalshiID, PrivateKeyPEM: pkcs1(testRSAKeys(t)[1])})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := x.PlaceOrder(r.ctx, polybot.OrderRequest{ClientOrderID: k.ID, Instrument: kYes, Side: polybot.Buy,
		Price: d("0.45"), Size: d("5"), TIF: polybot.FOK}); err != nil || st.State != polybot.OrderFilled {
		t.Fatalf("%+v %v", st, err)
	}
	fills, err := x.Fills(r.ctx, time.Time{})
	if err != nil || len(fills) != 1 {
		t.Fatalf("%+v %v", fills, err)
	}
	// What the dead process had recorded: the Kalshi leg filled, the
	// Polymarket leg killed unfilled.
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error {
		f := fills[0]
		if _, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: f.TradeID, ClientOrderID: k.ID,
			Strategy: k.Strategy, Mode: polybot.Live, Instrument: kYes, Side: polybot.Buy, Price: f.Price, Size: f.Size, Fee: f.Fee, Time: f.Time}, nil); err != nil {
			return err
		}
		in, err := tx.Intent(p.ID)
		if err != nil {
			return err
		}
		in.State = polybot.IntentCancelled
		return tx.UpdateIntent(in)
	})
	r.startLive(Config{})
	eventually(t, "the orphaned leg is unwound", func() bool {
		u := r.intentsByLeg(lt.id)[unwindLeg]
		return u != nil && finalState(u.State)
	})
	u := r.intentsByLeg(lt.id)[unwindLeg]
	if u.Instrument != kYes || u.Side != polybot.Sell || u.Size != d("5") || u.Filled != d("5") || u.State != polybot.IntentFilled {
		t.Fatalf("unwind %+v, want a filled sale of the 5 YES", u)
	}
	if ps, err := x.Positions(r.ctx); err != nil || len(ps) != 0 {
		t.Fatalf("kalshi positions %+v %v, want flat", ps, err)
	}
}
