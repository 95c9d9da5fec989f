package kalshi

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venuesim/interop"
)

func TestInteropOfficialTypeScriptSDKReadsBalanceBookAndEventAndCreatesAnOrder(t *testing.T) {
	node, npm := interop.Tools(t)
	dir := interop.Install(t, npm, "kalshi", filepath.Join("testdata", "interop"), filepath.Join("kalshi-typescript", "package.json"))

	key, err := GenerateDemoKey(filepath.Join(t.TempDir(), "kalshi-demo.pem"))
	if err != nil {
		t.Fatal(err)
	}
	demo := replay.SyntheticEvent(polybot.Kalshi)
	s := start(t, Config{Accounts: []AccountConfig{{KeyID: key.KeyID, PublicKeyPEM: key.PublicKeyPEM, Balance: polybot.MustDecimal("500")}},
		Events: []*replay.EventRecording{demo}})
	if err := s.SetBook(FedTicker, []polybot.Level{lvl("0.50", "4024")}, []polybot.Level{lvl("0.48", "26176")}); err != nil {
		t.Fatal(err)
	}

	out := interop.Run(t, node, dir, filepath.Join("testdata", "interop", "interop.cjs"), "KALSHI_KEY_ID="+key.KeyID,
		"KALSHI_KEY_PATH="+key.PrivateKeyPath, "KALSHI_BASE_URL="+s.urls.REST, "KALSHI_TICKER="+FedTicker,
		"KALSHI_CLIENT_ORDER_ID=sdk-order-1", "KALSHI_EVENT="+demo.Set.Event)
	var got struct {
		Balance struct {
			Balance        int64  `json:"balance"`
			BalanceDollars string `json:"balance_dollars"`
		} `json:"balance"`
		Orderbook struct {
			OrderbookFP struct {
				Yes [][2]string `json:"yes_dollars"`
				No  [][2]string `json:"no_dollars"`
			} `json:"orderbook_fp"`
		} `json:"orderbook"`
		Order struct {
			OrderID        string `json:"order_id"`
			ClientOrderID  string `json:"client_order_id"`
			FillCount      string `json:"fill_count"`
			RemainingCount string `json:"remaining_count"`
		} `json:"order"`
		Event struct {
			Event struct {
				EventTicker       string `json:"event_ticker"`
				MutuallyExclusive bool   `json:"mutually_exclusive"`
				Markets           []struct {
					Ticker      string `json:"ticker"`
					YesSubTitle string `json:"yes_sub_title"`
				} `json:"markets"`
			} `json:"event"`
		} `json:"event"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("SDK output %q: %v", out, err)
	}
	if got.Balance.Balance != 50000 || got.Balance.BalanceDollars != "500.0000" {
		t.Fatalf("SDK balance = %+v, want 50000 cents", got.Balance)
	}
	ob := got.Orderbook.OrderbookFP
	if len(ob.Yes) != 1 || ob.Yes[0] != [2]string{"0.5000", "4024.00"} || len(ob.No) != 1 || ob.No[0] != [2]string{"0.4800", "26176.00"} {
		t.Fatalf("SDK order book = %+v", ob)
	}
	if got.Order.ClientOrderID != "sdk-order-1" || got.Order.RemainingCount != "3.00" || got.Order.FillCount != "0.00" {
		t.Fatalf("SDK order = %+v", got.Order)
	}
	ev := got.Event.Event
	if ev.EventTicker != demo.Set.Event || !ev.MutuallyExclusive || len(ev.Markets) != len(demo.Set.Outcomes) {
		t.Fatalf("SDK event = %+v, want %s, mutually exclusive, with its %d markets nested", ev, demo.Set.Event, len(demo.Set.Outcomes))
	}
	for i, m := range ev.Markets {
		if o := demo.Set.Outcomes[i]; m.Ticker != o.Markets[0].Yes.Market || m.YesSubTitle != o.Label {
			t.Errorf("SDK event market %d = %+v, want %s %q", i, m, o.Markets[0].Yes.Market, o.Label)
		}
	}
	o, err := s.eng.OrderByClientID(key.KeyID, "sdk-order-1")
	if err != nil || o.ID != got.Order.OrderID || o.Price != polybot.MustDecimal("0.45") || o.Side != polybot.Buy {
		t.Fatalf("the simulator's order = %+v, %v", o, err)
	}
}
