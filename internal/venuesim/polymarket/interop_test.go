package polymarket_test

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	"github.com/polybot/polybot/internal/venuesim/interop"
	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

func TestTheOfficialClientDerivesAKeyReadsABookPostsAndCancelsAnOrder(t *testing.T) {
	node, npm := interop.Tools(t)
	dir := interop.Install(t, npm, "polymarket", filepath.Join("testdata", "interop"), filepath.Join("@polymarket", "clob-client-v2", "package.json"))
	const token = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
	s, err := sim.New(sim.Config{Markets: []sim.Market{{ConditionID: "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1",
		Tokens: [2]string{token, "52114319501245915516055106046884209969926127482827954674443846427813813222426"}}}})
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, s.Start, nil)
	if err := s.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot,
		Instrument: polybot.Instrument{Venue: polybot.Polymarket, Token: token},
		Bids:       []polybot.Level{{Price: polybot.MustDecimal("0.40"), Size: polybot.MustDecimal("120.5")}},
		Asks:       []polybot.Level{{Price: polybot.MustDecimal("0.52"), Size: polybot.MustDecimal("75")}}}); err != nil {
		t.Fatal(err)
	}
	// A key made here, so the Go side can check what the client did.
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	wallet, err := eip712.NewSignerFromBytes(key)
	if err != nil {
		t.Fatal(err)
	}

	out := interop.Run(t, node, dir, filepath.Join("testdata", "interop", "interop.mjs"), "CLOB_URL="+urls.CLOB, "CHAIN_ID=137",
		"TOKEN_ID="+token, "PRIVATE_KEY=0x"+hex.EncodeToString(key))
	var res struct {
		Address string `json:"address"`
		APIKey  string `json:"apiKey"`
		Markets struct {
			Count      int    `json:"count"`
			NextCursor string `json:"next_cursor"`
			Data       []struct {
				ConditionID string `json:"condition_id"`
				Tokens      []struct {
					TokenID string `json:"token_id"`
					Outcome string `json:"outcome"`
				} `json:"tokens"`
			} `json:"data"`
		} `json:"markets"`
		Book struct {
			AssetID  string          `json:"asset_id"`
			Bids     []pm.PriceLevel `json:"bids"`
			Asks     []pm.PriceLevel `json:"asks"`
			TickSize string          `json:"tick_size"`
		} `json:"book"`
		Order  pm.PostOrderResponse `json:"order"`
		Open   []pm.OpenOrderJSON   `json:"open"`
		Cancel pm.CancelResponse    `json:"cancel"`
		After  []pm.OpenOrderJSON   `json:"after"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// getMarkets() reads the CLOB's paginated /markets: one page, ending
	// with the end cursor, listing the token it trades.
	listed := false
	for _, m := range res.Markets.Data {
		for _, tk := range m.Tokens {
			listed = listed || tk.TokenID == token
		}
	}
	if res.Markets.NextCursor != "LTE=" || res.Markets.Count != len(res.Markets.Data) || !listed {
		t.Fatalf("getMarkets() %+v: want one page, ending LTE=, listing token %s", res.Markets, token)
	}
	if !strings.EqualFold(res.Address, wallet.Address().String()) {
		t.Fatalf("address %s, want %s", res.Address, wallet.Address())
	}
	// The key the SDK derived is the one our connector derives for the wallet.
	ours, err := pm.NewClient(urls.ClientConfig(137)).DeriveAPIKey(t.Context(), wallet, 0)
	if err != nil || ours.Key != res.APIKey {
		t.Fatalf("derived key %q (%v), the SDK's %q", ours.Key, err, res.APIKey)
	}
	if res.Book.AssetID != token || len(res.Book.Bids) != 1 || res.Book.Bids[0].Price != polybot.MustDecimal("0.4") ||
		res.Book.Bids[0].Size != polybot.MustDecimal("120.5") || len(res.Book.Asks) != 1 || res.Book.TickSize != "0.01" {
		t.Fatalf("book %+v", res.Book)
	}
	if !res.Order.Success || res.Order.Status != "live" || len(res.Order.OrderID) != 66 {
		t.Fatalf("order %+v", res.Order)
	}
	if len(res.Open) != 1 || res.Open[0].ID != res.Order.OrderID || res.Open[0].Price != "0.45" ||
		res.Open[0].OriginalSize != "10" || res.Open[0].Side != "BUY" || res.Open[0].Owner != res.APIKey {
		t.Fatalf("open orders %+v", res.Open)
	}
	if !slices.Contains(res.Cancel.Canceled, res.Order.OrderID) || len(res.After) != 0 {
		t.Fatalf("cancel %+v, open after %+v", res.Cancel, res.After)
	}
	o, err := s.Engine().Order(res.Order.OrderID)
	if err != nil || o.State != polybot.OrderCancelled || o.Price != polybot.MustDecimal("0.45") || o.Size != polybot.MustDecimal("10") {
		t.Fatalf("the simulator's order %+v %v", o, err)
	}
}
