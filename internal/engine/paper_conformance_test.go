package engine

import (
	"context"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	pmsim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

// TestPaperExchangeConformance runs the shared suite's Exchange half
// (internal/venuetest) on dry-run execution: paper exchanges over the hub
// of a Polymarket feed, the books set on the Polymarket simulator. Paper
// execution has no credentials, positions, balance or faults; its
// scenarios say so.
func TestPaperExchangeConformance(t *testing.T) {
	venuetest.RunExchange(t, func(t *testing.T) *venuetest.Venue {
		sim, err := pmsim.New(pmsim.Config{Markets: []pmsim.Market{{ConditionID: pmMarket, Tokens: [2]string{pmYesTok, pmNoTok},
			TickSize: d("0.01")}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		urls, err := sim.Start(ctx, "127.0.0.1:0")
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		hub := marketdata.NewHub(pm.NewFeed(urls.ClientConfig(pm.ChainPolygon), nil), marketdata.HubConfig{})
		done := make(chan struct{})
		go func() { defer close(done); _ = hub.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; sim.Close() })
		sub, err := hub.Subscribe(ctx, pmFedYes)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Close() })

		book := newPaperBook(hubBooks{polybot.Polymarket: hub})
		accounts := [2]*paperExchange{
			newPaperExchange(polybot.Polymarket, book, nil, polybot.SystemClock),
			newPaperExchange(polybot.Polymarket, book, nil, polybot.SystemClock),
		}
		return &venuetest.Venue{
			Instrument: pmFedYes,
			Paper:      true,
			Exchange: func(t *testing.T, o venuetest.ExchangeOptions) polybot.Exchange {
				return accounts[o.Account]
			},
			TakerFee: polybot.Zero, // no fee model
			// The venue's book, once the hub shows it: paper orders fill
			// against the hub's view.
			SetBook: func(t *testing.T, bids, asks []polybot.Level) {
				if err := sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: pmFedYes, Bids: bids, Asks: asks}); err != nil {
					t.Fatal(err)
				}
				want := venuetest.Book{Bids: bids, Asks: asks}
				deadline := time.Now().Add(10 * time.Second)
				for {
					if v, err := hub.View(pmFedYes); err == nil && !v.Stale && want.Equal(venuetest.Book{Bids: v.Bids, Asks: v.Asks}) {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("the hub never showed %v", want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			},
		}
	})
}
