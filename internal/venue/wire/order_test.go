package wire_test

import (
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

func TestOrderRulesCheckTheSharedFieldsThenTheVenuesThenTheTimeInForce(t *testing.T) {
	rules := wire.OrderRules{Venue: polybot.Kalshi, Name: "Kalshi", MaxClientOrderID: 4, Instrument: "a Kalshi market",
		TIF:     map[polybot.TimeInForce]string{"": "gtc", polybot.FAK: "ioc"},
		Refused: map[polybot.TimeInForce]string{polybot.GTD: "no GTD here"}}
	good := polybot.OrderRequest{ClientOrderID: "c1", Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "M"},
		Price: polybot.MustDecimal("0.5"), Size: polybot.One}
	noPennies := func(v polybot.Validation) { v.Add("price", "the venue's own rule") }
	tests := []struct {
		name     string
		edit     func(*polybot.OrderRequest)
		more     func(polybot.Validation)
		wantTIF  string
		wantErrs []string // each must appear in the error; none: no error
	}{
		{"a good order maps its default time in force", func(*polybot.OrderRequest) {}, nil, "gtc", nil},
		{"FAK maps to its wire value", func(r *polybot.OrderRequest) { r.TIF = polybot.FAK }, nil, "ioc", nil},
		{"no client order id", func(r *polybot.OrderRequest) { r.ClientOrderID = "" }, nil, "", []string{"client_order_id", "is required"}},
		{"a client order id too long", func(r *polybot.OrderRequest) { r.ClientOrderID = "c1234" }, nil, "",
			[]string{"Kalshi takes at most 4 characters"}},
		{"another venue's instrument", func(r *polybot.OrderRequest) { r.Instrument.Venue = polybot.Alpaca }, nil, "",
			[]string{"instrument", "must be a Kalshi market"}},
		{"no market", func(r *polybot.OrderRequest) { r.Instrument.Market = "" }, nil, "", []string{"must be a Kalshi market"}},
		{"a zero size", func(r *polybot.OrderRequest) { r.Size = polybot.Zero }, nil, "", []string{"size", "must be positive"}},
		{"the venue's own rule", func(*polybot.OrderRequest) {}, noPennies, "", []string{"the venue's own rule"}},
		{"a refused time in force says why", func(r *polybot.OrderRequest) { r.TIF = polybot.GTD }, nil, "", []string{"time_in_force", "no GTD here"}},
		{"an unknown time in force", func(r *polybot.OrderRequest) { r.TIF = polybot.FOK }, nil, "", []string{"unknown time in force FOK"}},
		{"the fields fail before the time in force", func(r *polybot.OrderRequest) { r.Size, r.TIF = polybot.Zero, polybot.GTD }, nil, "",
			[]string{"must be positive"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := good
			tc.edit(&req)
			tif, err := rules.Check(req, tc.more)
			if len(tc.wantErrs) == 0 {
				if err != nil || tif != tc.wantTIF {
					t.Fatalf("Check = %q, %v; want %q", tif, err, tc.wantTIF)
				}
				return
			}
			if polybot.ErrorCode(err) != polybot.EINVALID || tif != "" {
				t.Fatalf("Check = %q, %v; want an invalid error", tif, err)
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.name == "the fields fail before the time in force" && strings.Contains(err.Error(), "no GTD") {
				t.Errorf("error %q names the time in force too", err)
			}
		})
	}
}
