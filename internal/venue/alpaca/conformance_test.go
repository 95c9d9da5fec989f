package alpaca_test

import (
	"net/http"
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
		base, err := sim.Start(t.Context(), "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sim.Close)
		return &venuetest.Venue{
			Instrument: inst,
			Exchange: func(t *testing.T, o venuetest.ExchangeOptions) polybot.Exchange {
				cfg := alpaca.Config{KeyID: "PKONE", SecretKey: "one", BaseURL: base}
				if o.Account == 1 {
					cfg.KeyID, cfg.SecretKey = "PKTWO", "two"
				}
				if o.BadCredentials {
					cfg.SecretKey = "not-the-secret"
				}
				if o.Timeout > 0 {
					cfg.HTTPClient = &http.Client{Timeout: o.Timeout}
				}
				x, err := alpaca.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return x
			},
			Cash:     d("1000"),
			TakerFee: polybot.Zero,
			SetBook: func(t *testing.T, bids, asks []polybot.Level) {
				if err := sim.SetBook(inst.Market, bids, asks); err != nil {
					t.Fatal(err)
				}
			},
			Faults: sim.Faults(),
			Feed: func(t *testing.T) polybot.MarketFeed {
				f, err := alpaca.NewFeed(alpaca.FeedConfig{KeyID: "PKONE", SecretKey: "one", BaseURL: base + "/v2", DataURL: base,
					Backoff: 50 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return f
			},
			TopOfBook: true,
			FeedLot:   polybot.One, // quote sizes are whole shares
		}
	})
}
