package alpaca_test

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/alpaca"
	alpacasim "github.com/polybot/polybot/internal/venuesim/alpaca"
	"github.com/polybot/polybot/internal/venuetest"
)

// TestVenueConformance runs the shared suite (internal/venuetest) on a
// penny stock's book: the Exchange, and the quote stream as a top-of-book
// feed (Alpaca's quotes are the best bid and offer, with no trades).
// Alpaca charges no commission on equities.
func TestVenueConformance(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) *venuetest.Venue {
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
			Feed: func(t *testing.T) polybot.MarketFeed {
				f, err := alpaca.NewFeed(alpaca.FeedConfig{KeyID: "PKONE", SecretKey: "one", BaseURL: base + "/v2", DataURL: base,
					Backoff: 50 * time.Millisecond})
				return venuetest.Must(t, f, err)
			},
			TopOfBook: true,
			FeedLot:   polybot.One, // quote sizes are whole shares
		}
	})
}
