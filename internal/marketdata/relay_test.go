package marketdata_test

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// A view goes over the bus and comes back as the snapshot that rebuilds
// it, for an instrument named by its market (Kalshi) or only by its token
// (Polymarket, whose hub instruments may have no market).
func TestRelayedViewsComeBackAsTheirSnapshot(t *testing.T) {
	at := time.Date(2025, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, inst := range []polybot.Instrument{
		{Venue: polybot.Kalshi, Market: "KXFEDDECISION-25DEC-H0", Outcome: polybot.No},
		{Venue: polybot.Polymarket, Token: "80746058984644290629624903019922696017323803605256698757445938534814122585786"},
	} {
		v := &marketdata.View{Instrument: inst, Bids: []polybot.Level{{Price: polybot.MustDecimal("0.11"), Size: polybot.MustDecimal("120")}},
			Asks: []polybot.Level{{Price: polybot.MustDecimal("0.12"), Size: polybot.MustDecimal("85")}}, TickSize: polybot.MustDecimal("0.01"),
			Seq: 7, Time: at, Received: at}
		data, err := marketdata.EncodeView(v)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := marketdata.DecodeView(data)
		if err != nil {
			t.Fatalf("%s: %v", inst.Key(), err)
		}
		if ev.Kind != polybot.BookSnapshot || ev.Instrument != inst || len(ev.Bids) != 1 || ev.Bids[0] != v.Bids[0] || len(ev.Asks) != 1 ||
			ev.Asks[0] != v.Asks[0] || ev.Seq != 7 || !ev.Time.Equal(at) {
			t.Errorf("%s came back as %+v", inst.Key(), ev)
		}
	}
	if _, err := marketdata.DecodeView([]byte(`{"i":{"venue":"polymarket"}}`)); polybot.ErrorCode(err) != polybot.EINVALID {
		t.Errorf("a view of no instrument: %v, want EINVALID", err)
	}
}
