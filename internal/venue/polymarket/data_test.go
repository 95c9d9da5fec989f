package polymarket

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// recordedActivity is a real Data API /activity response (testdata/README.md):
// ten trades of one wallet in one NHL market, newest first.
const recordedActivity = "../../../testdata/polymarket/data_api_activity.json"

const (
	kchWallet = "0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee"
	kchMarket = "0x0044717447f885ed54508627145cbf1ac113566c79af55428175f6d0c776949c"
	ducks     = "31580298928034717121287201018973507946553544207612680382558768593005033869136"
	oilers    = "23834926535141172445445793018150793472721666534289369958790902744899333781511"
)

// serveRecorded answers path with the recorded body and hands the query
// it was asked with to check.
func serveRecorded(t *testing.T, path, file string, check func(q map[string][]string)) *Client {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		check(r.URL.Query())
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return NewClient(Config{DataURL: srv.URL})
}

func TestWalletActivityDecodesTheRecordedResponseExactly(t *testing.T) {
	c := serveRecorded(t, "/activity", recordedActivity, func(q map[string][]string) {
		want := map[string]string{"user": kchWallet, "type": "TRADE,REDEEM", "start": "1777000000",
			"limit": "500", "offset": "20", "sortBy": "TIMESTAMP", "sortDirection": "DESC"}
		for k, v := range want {
			if got := q[k]; len(got) != 1 || got[0] != v {
				t.Errorf("query %s = %v, want %s", k, got, v)
			}
		}
	})
	rows, err := c.WalletActivity(context.Background(), WalletActivityQuery{User: kchWallet,
		Types: []string{ActivityTrade, ActivityRedeem}, Start: 1777000000, Limit: 1000, Offset: 20})
	if err != nil {
		t.Fatal(err)
	}
	// Every row: price and size rounded half away from zero to six places
	// from the JSON floats, never through float64.
	want := []struct {
		ts          int64
		size, price string
		usdc        string
		token       string
		outcome     polybot.Outcome
		name, tx    string
	}{
		{1777091978, "714.285713", "0.86", "614.285714", ducks, polybot.No, "Ducks", "0x9dd247e60766470f2bd031529ad78ad72c1bfd979a783c811077f437593d97bd"},
		{1777091974, "20.9118", "0.86", "18.06", ducks, polybot.No, "Ducks", "0xcbd4f4822716e29f4bf6b2b1427463e32cfa900b3e9c71dc0c658b4a6b11c75d"},
		{1777091746, "2536.15986", "0.767161", "1959.3285", ducks, polybot.No, "Ducks", "0x9fea1e35ef838e794bed20b2ee167ccfe159f7aa2454e0bf839c8697b3b69f81"},
		{1777091736, "2538.26612", "0.79465", "2029.5373", ducks, polybot.No, "Ducks", "0x3cbc9208f0e8cef03712e573e6841297b336feb59b03123c047ceacc37a43330"},
		{1777091732, "28.380951", "0.79", "22.420952", ducks, polybot.No, "Ducks", "0x4d4efe9be5b4e50390bd34c655a522bf3b8b1cf70ab323d62263225b924a9898"},
		{1777091732, "17.714284", "0.79", "13.994285", ducks, polybot.No, "Ducks", "0xe9f8f454a13cb1c769c0d8f19739ad7993de3c94024a10ce30c2449fff10c8a8"},
		{1777091732, "11", "0.79", "8.69", ducks, polybot.No, "Ducks", "0x03ab4a3efa308c29b88b5af4fa2ed05d6713e63ac511a3e4dac43c5f394a22bd"},
		{1777091726, "918.71", "0.8", "734.968", ducks, polybot.No, "Ducks", "0xc9f48a33564c8600f55a6feaf3dfa1f4903fe17935b5aeb8d4e38f582a3a284b"},
		{1777091724, "1635.29", "0.8", "1308.232", ducks, polybot.No, "Ducks", "0x187fd4bf1c241e09b4dfa2d20ed064848b9a5f842009bed30f94a24279517a7e"},
		{1777091420, "763.69", "0.22", "168.0118", oilers, polybot.Yes, "Oilers", "0x0a3669b806209101769d29ebaa1abc38b2fe5ba3012ae20b1d2ab6c75ccdff91"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		a := rows[i]
		if a.Type != ActivityTrade || a.Timestamp != w.ts || a.Size.Decimal != polybot.MustDecimal(w.size) || a.Price.Decimal != polybot.MustDecimal(w.price) ||
			a.UsdcSize.Decimal != polybot.MustDecimal(w.usdc) || a.Title != "Oilers vs. Ducks" || a.Slug != "nhl-edm-ana-2026-04-24" {
			t.Errorf("row %d = %+v, want %+v", i, a, w)
		}
		lt, err := a.ToLeaderTrade()
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		wantLT := polybot.LeaderTrade{Wallet: kchWallet,
			Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: kchMarket, Token: w.token, Outcome: w.outcome},
			Side:       polybot.Buy, Price: polybot.MustDecimal(w.price), Size: polybot.MustDecimal(w.size),
			Time: time.Unix(w.ts, 0), TxHash: w.tx, Title: "Oilers vs. Ducks", Outcome: w.name, ConditionID: kchMarket}
		if lt != wantLT {
			t.Errorf("row %d leader trade\n got %+v\nwant %+v", i, lt, wantLT)
		}
	}
}

// The /trades rows carry the same fields as /activity's TRADE rows (less
// type and usdcSize), so the recorded response decodes as trades too.
func TestWalletTradesDecodesTheRecordedRowsAsLeaderTrades(t *testing.T) {
	c := serveRecorded(t, "/trades", recordedActivity, func(q map[string][]string) {
		if q["user"][0] != kchWallet || q["limit"][0] != "100" {
			t.Errorf("query %v", q)
		}
	})
	rows, err := c.WalletTrades(context.Background(), WalletTradesQuery{User: kchWallet})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10 {
		t.Fatalf("%d rows", len(rows))
	}
	total := polybot.Zero
	for _, r := range rows {
		lt, err := r.ToLeaderTrade()
		if err != nil {
			t.Fatal(err)
		}
		total = total.Add(lt.Size)
	}
	// The ten sizes as written in the file, added with Python's decimal module.
	if want := polybot.MustDecimal("9184.408728"); total != want {
		t.Errorf("total size %s, want %s", total, want)
	}
	last, _ := rows[9].ToLeaderTrade()
	if last.Instrument.Token != oilers || last.Instrument.Outcome != polybot.Yes || last.Price != polybot.MustDecimal("0.22") {
		t.Errorf("oldest trade %+v", last)
	}
}

// Constructed rows (not recorded) for the cases the recording lacks.
func TestActivityToLeaderTradeHandlesSellsRedemptionsAndOtherTypes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a      WalletActivity
		side   polybot.Side
		price  string
		redeem bool
		err    bool
	}{
		{"sell", WalletActivity{Type: "TRADE", Side: "SELL", OutcomeIndex: 1, Size: num("10"), Price: num("0.4")}, polybot.Sell, "0.4", false, false},
		{"redeem of a winner, v1 shape", WalletActivity{Type: "REDEEM", OutcomeIndex: 999, Size: num("150"), UsdcSize: num("150")}, polybot.Sell, "1", true, false},
		{"redeem of a loser", WalletActivity{Type: "REDEEM", OutcomeIndex: 1, Size: num("50"), UsdcSize: num("0")}, polybot.Sell, "0", true, false},
		{"empty redeem", WalletActivity{Type: "REDEEM", OutcomeIndex: 999}, polybot.Sell, "0", true, false},
		{"merge is not a trade", WalletActivity{Type: "MERGE"}, 0, "", false, true},
		{"trade without an outcome", WalletActivity{Type: "TRADE", Side: "BUY", OutcomeIndex: 999}, 0, "", false, true},
		{"trade with no side", WalletActivity{Type: "TRADE", OutcomeIndex: 0}, 0, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt, err := tc.a.ToLeaderTrade()
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if tc.err {
				return
			}
			if lt.Side != tc.side || lt.Price != polybot.MustDecimal(tc.price) || lt.Redeem != tc.redeem {
				t.Errorf("got %+v", lt)
			}
		})
	}
}

func num(s string) Number { return Number{polybot.MustDecimal(s)} }
