package alpaca_test

import (
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/alpaca"
	alpacasim "github.com/polybot/polybot/internal/venuesim/alpaca"
	"github.com/polybot/polybot/internal/venuetest"
)

// TestVenueConformance runs the shared suite's Exchange half
// (internal/venuetest) on a penny stock's book. Alpaca's feed is quotes,
// the top of book only, with no trades: the suite's feed scenarios (full
// depth, deltas, trades) do not fit it, and feed_test.go tests it instead.
// Alpaca charges no commission on equities.
func TestVenueConformance(t *testing.T) {
	venuetest.RunExchange(t, func(t *testing.T) *venuetest.Venue {
		inst := polybot.Instrument{Venue: polybot.Alpaca, Market: "PENNY"}
		sim, err := alpacasim.New(alpacasim.Config{
			Accounts: []alpacasim.AccountConfig{{KeyID: "PKONE", Secret: "one", Cash: d("1000")}, {KeyID: "PKTWO", Secret: "two", Cash: d("1000")}},
			Books:    []alpacasim.BookConfig{{Symbol: inst.Market}},
		})
		if err != nil {
			t.Fatal(err)
		}
		base := venuetest.StartSim(t, sim.Start, sim.Close)
		return &venuetest.Venue{
			Instrument: inst,
			Exchange: func(t *testing.T, o venuetest.ExchangeOptions) polybot.Exchange {
				cfg := alpaca.Config{KeyID: "PKONE", SecretKey: "one", BaseURL: base, HTTPClient: o.HTTPClient()}
				if o.Account == 1 {
					cfg.KeyID, cfg.SecretKey = "PKTWO", "two"
				}
				if o.BadCredentials {
					cfg.SecretKey = "not-the-secret"
				}
				x, err := alpaca.New(cfg)
				return venuetest.Must(t, x, err)
			},
			Cash:     d("1000"),
			TakerFee: polybot.Zero,
			SetBook:  venuetest.SetBookOf(sim.SetBook, inst.Market),
			Faults:   sim.Faults(),
		}
	})
}
