package ibkr_test

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/ibkr"
	ibkrsim "github.com/polybot/polybot/internal/venuesim/ibkr"
	"github.com/polybot/polybot/internal/venuetest"
)

// TestVenueConformance runs the shared suite (internal/venuetest) on the
// December 2025 "above 3.875%" YES contract, its book empty at the start,
// with two paper accounts of $1,000 on one gateway session: the Exchange,
// and the market-data WebSocket as a top-of-book feed.
// A refused credential is an account the session may not trade.
// ForecastEx is commission-free
// (https://forecasttrader.interactivebrokers.ca/en/home.php), so the
// suite's taker fill costs no fee; it takes no sells and no fill-or-kill
// orders (polybot.VenueOf(polybot.IBKR)), which the suite reads.
func TestVenueConformance(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) *venuetest.Venue {
		inst := hold(polybot.Yes)
		sim, err := ibkrsim.New(ibkrsim.Config{Accounts: []ibkrsim.AccountConfig{{ID: "DU100", Cash: d("1000")}, {ID: "DU200", Cash: d("1000")}}})
		if err != nil {
			t.Fatal(err)
		}
		base := venuetest.StartSim(t, sim.Start, sim.Close)
		return &venuetest.Venue{
			Instrument: inst,
			Exchange: func(t *testing.T, o venuetest.ExchangeOptions) polybot.Exchange {
				cfg := ibkr.Config{GatewayURL: base, Account: "DU100", HTTPClient: o.HTTPClient()}
				if o.Account == 1 {
					cfg.Account = "DU200"
				}
				if o.BadCredentials {
					cfg.Account = "DU999"
				}
				x, err := ibkr.New(cfg)
				return venuetest.Must(t, x, err)
			},
			Cash:     d("1000"),
			TakerFee: polybot.Zero,
			SetBook:  venuetest.SetBookOf(sim.SetBook, holdYes),
			Faults:   sim.Faults(),
			Feed: func(t *testing.T) polybot.MarketFeed {
				f, err := ibkr.NewMarketDataFeed(ibkr.Config{GatewayURL: base, Account: "DU100"}, ibkr.FeedConfig{MinBackoff: 10 * time.Millisecond})
				return venuetest.Must(t, f, err)
			},
			TopOfBook: true,
		}
	})
}
