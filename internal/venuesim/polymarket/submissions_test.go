package polymarket_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
)

func TestSubmissionsListEverySignedOrderWithItsSalt(t *testing.T) {
	const yes, no = "111", "222"
	s, c := startSim(t, sim.Config{Markets: []sim.Market{{ConditionID: "0xm", Tokens: [2]string{yes, no}}},
		StartingBalance: polybot.MustDecimal("100")})
	if err := s.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: polybot.Instrument{Token: yes},
		Asks: []polybot.Level{{Price: polybot.MustDecimal("0.4"), Size: polybot.MustDecimal("5")}}}); err != nil {
		t.Fatal(err)
	}
	w, err := eip712.NewSigner("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	if err != nil {
		t.Fatal(err)
	}
	x, err := pm.NewExchange(c, pm.Credentials{Wallet: w}, pm.ExchangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inst := polybot.Instrument{Venue: polybot.Polymarket, Market: "0xm", Token: yes, Outcome: polybot.Yes}
	if _, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "c1", Instrument: inst, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.4"), Size: polybot.MustDecimal("2"), TIF: polybot.FOK}); err != nil {
		t.Fatal(err)
	}
	// Too big to fill: killed, and still a submission.
	if _, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "c2", Instrument: inst, Side: polybot.Buy,
		Price: polybot.MustDecimal("0.4"), Size: polybot.MustDecimal("50"), TIF: polybot.FOK}); err == nil {
		t.Fatal("an unfillable FOK order was accepted")
	}
	res, err := http.Get(s.URLs().CLOB + sim.AdminPath + "/submissions?maker=" + w.Address().String())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct{ Submissions []sim.Submission }
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	subs := got.Submissions
	if len(subs) != 2 || subs[0].Salt != pm.SaltFor("c1").String() || !subs[0].Success || subs[0].TokenID != yes ||
		subs[1].Salt != pm.SaltFor("c2").String() || subs[1].Success || subs[1].Error == "" {
		t.Fatalf("submissions %+v", subs)
	}
	if n := len(s.Submissions("0x0000000000000000000000000000000000000001")); n != 0 {
		t.Fatalf("%d submissions of another maker", n)
	}
}
