package alpaca

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/interop"
)

func TestInteropOfficialTypeScriptSDKReadsAccountPlacesGetsAndCancelsAndIsRefusedABadKey(t *testing.T) {
	node, npm := interop.Tools(t)
	dir := interop.Install(t, npm, "alpaca", filepath.Join("testdata", "interop"), filepath.Join("@alpacahq", "alpaca-trade-api", "package.json"))
	s, base := start(t)
	out := interop.Run(t, node, dir, filepath.Join("testdata", "interop", "interop.cjs"), "ALPACA_BASE_URL="+base,
		"ALPACA_KEY_ID="+testKey, "ALPACA_SECRET="+testSecret, "ALPACA_SYMBOL=SPY", "ALPACA_CLIENT_ORDER_ID=sdk-order-1")
	type order struct {
		ID            string `json:"id"`
		ClientOrderID string `json:"clientOrderId"`
		Symbol        string `json:"symbol"`
		Status        string `json:"status"`
		Type          string `json:"type"`
		Side          string `json:"side"`
		TimeInForce   string `json:"timeInForce"`
	}
	var got struct {
		Account struct {
			AccountNumber string `json:"accountNumber"`
			Status        string `json:"status"`
			Currency      string `json:"currency"`
			Cash          string `json:"cash"`
			BuyingPower   string `json:"buyingPower"`
		} `json:"account"`
		Placed, ByClient, Cancelled order
		BadKey                      *struct {
			Status int `json:"status"`
		} `json:"badKey"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("SDK output %q: %v", out, err)
	}
	if a := got.Account; a.Status != "ACTIVE" || a.Currency != "USD" || a.Cash != "20000.00" || a.BuyingPower != "20000.00" {
		t.Errorf("SDK account = %+v", a)
	}
	p := got.Placed
	if p.ID == "" || p.ClientOrderID != "sdk-order-1" || p.Symbol != "SPY" || p.Status != "new" || p.Type != "limit" || p.Side != "buy" || p.TimeInForce != "gtc" {
		t.Errorf("SDK placed order = %+v", p)
	}
	if got.ByClient.ID != p.ID || got.ByClient.Status != "new" {
		t.Errorf("SDK order by client id = %+v, want %s", got.ByClient, p.ID)
	}
	if got.Cancelled.ID != p.ID || got.Cancelled.Status != "canceled" {
		t.Errorf("SDK order after cancel = %+v", got.Cancelled)
	}
	if got.BadKey == nil || got.BadKey.Status != 401 {
		t.Errorf("SDK with a bad secret: %+v, want HTTP 401", got.BadKey)
	}
	o, err := s.eng.OrderByClientID(testKey, "sdk-order-1")
	if err != nil || o.ID != p.ID || o.Price != polybot.MustDecimal("490.25") || o.Size != polybot.MustDecimal("3") || o.State != polybot.OrderCancelled {
		t.Fatalf("the simulator's order = %+v, %v", o, err)
	}
}
