package ibkr_test

// The simulator's answers have the shape of the recorded gateway answers
// (internal/venue/ibkr/testdata): every key the simulator sends is in the
// recording with the same JSON type (null in a recording matches anything),
// and the keys the connector reads are there.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	ibkrsim "github.com/polybot/polybot/internal/venuesim/ibkr"
	"github.com/polybot/polybot/internal/venuetest"
)

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

func recorded(t *testing.T, names ...string) any {
	t.Helper()
	var merged any
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "venue", "ibkr", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Response struct {
				Body json.RawMessage `json:"Body"`
			} `json:"Response"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		var body any
		if err := json.Unmarshal(env.Response.Body, &body); err != nil {
			t.Fatal(err)
		}
		merged = merge(merged, body)
	}
	return merged
}

// merge unites two recordings of one endpoint (objects key by key, arrays
// by their first element).
func merge(a, b any) any {
	switch bv := b.(type) {
	case map[string]any:
		av, ok := a.(map[string]any)
		if !ok {
			return bv
		}
		out := map[string]any{}
		for k, v := range av {
			out[k] = v
		}
		for k, v := range bv {
			out[k] = merge(out[k], v)
		}
		return out
	case []any:
		av, ok := a.([]any)
		if !ok || len(av) == 0 {
			return bv
		}
		if len(bv) == 0 {
			return av
		}
		return []any{merge(av[0], bv[0])}
	}
	if b == nil {
		return a
	}
	return b
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// dynamic are objects keyed by ids (every value is compared with the
// recorded values united).
var dynamic = map[string]bool{".categories": true, ".acctProps": true, ".aliases": true, "": false}

// subset reports every place where sim is not shaped like rec.
func subset(path string, sim, rec any, errs *[]string) {
	if rec == nil {
		return
	}
	if kind(sim) != kind(rec) {
		if sim == nil {
			return // an absent value the recording has (e.g. no last price yet)
		}
		*errs = append(*errs, fmt.Sprintf("%s: %s, recorded %s", path, kind(sim), kind(rec)))
		return
	}
	switch sv := sim.(type) {
	case map[string]any:
		rv := rec.(map[string]any)
		if dynamic[path] {
			var all any // every recorded value united
			keys := make([]string, 0, len(rv))
			for k := range rv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				all = merge(all, rv[k])
			}
			for k, v := range sv {
				subset(path+"."+k, v, all, errs)
			}
			return
		}
		for k, v := range sv {
			r, ok := rv[k]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s.%s: not in the recording", path, k))
				continue
			}
			subset(path+"."+k, v, r, errs)
		}
	case []any:
		ra := rec.([]any)
		if len(ra) == 0 {
			return
		}
		for _, v := range sv {
			subset(path+"[]", v, ra[0], errs)
		}
	}
}

func has(t *testing.T, name string, body any, keys ...string) {
	t.Helper()
	obj, ok := body.(map[string]any)
	if arr, isArr := body.([]any); isArr && len(arr) > 0 {
		obj, ok = arr[0].(map[string]any)
	}
	if !ok {
		t.Fatalf("%s: not an object or a non-empty array: %v", name, body)
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: the connector reads %q, which the simulator does not send", name, k)
		}
	}
}

func TestSimulatorAnswersHaveTheRecordedShapes(t *testing.T) {
	sim, err := ibkrsim.New(ibkrsim.Config{Accounts: []ibkrsim.AccountConfig{{ID: "DU100", Cash: d("1000")}},
		Books: []ibkrsim.BookConfig{
			{Conid: ibkrsim.FedHoldConid, Bids: []polybot.Level{{Price: d("0.28"), Size: d("50")}}, Asks: []polybot.Level{{Price: d("0.30"), Size: d("100")}}},
			{Conid: 756733, Bids: []polybot.Level{{Price: d("499"), Size: d("5")}}, Asks: []polybot.Level{{Price: d("500"), Size: d("10")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	base := venuetest.StartSim(t, sim.Start, sim.Close)
	call := func(method, path, body string) any {
		t.Helper()
		req, _ := http.NewRequest(method, base+"/v1/api"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		var v any
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&v); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return v
	}
	// A filled order (buy 10 YES at the ask), a question (a buy far through
	// the offer), confirmed, and a resting order to cancel.
	placed := call("POST", "/iserver/account/DU100/orders",
		`{"orders":[{"acctId":"DU100","conid":900000031,"orderType":"LMT","price":0.30,"side":"BUY","quantity":10,"tif":"GTC","cOID":"a"}]}`)
	question := call("POST", "/iserver/account/DU100/orders",
		`{"orders":[{"acctId":"DU100","conid":900000031,"orderType":"LMT","price":0.45,"side":"BUY","quantity":1,"tif":"GTC","cOID":"b"}]}`)
	replyID := question.([]any)[0].(map[string]any)["id"].(string)
	replied := call("POST", "/iserver/reply/"+replyID, `{"confirmed":true}`)
	orderID := placed.([]any)[0].(map[string]any)["order_id"].(string)
	_ = replied.([]any)[0].(map[string]any)["order_id"].(string)
	rest := call("POST", "/iserver/account/DU100/orders",
		`{"orders":[{"acctId":"DU100","conid":900000031,"orderType":"LMT","price":0.05,"side":"BUY","quantity":1,"tif":"GTC","cOID":"c"}]}`)
	restingID := rest.([]any)[0].(map[string]any)["order_id"].(string)
	liveBeforeCancel := call("GET", "/iserver/account/orders", "")
	cancelled := call("DELETE", "/iserver/account/DU100/order/"+restingID, "")

	cases := []struct {
		name string
		got  any
		rec  []string
		read []string // keys the connector reads
	}{
		{"auth status", call("POST", "/iserver/auth/status", ""), []string{"GET-auth-status.json"}, []string{"authenticated", "competing", "connected"}},
		{"tickle", call("POST", "/tickle", ""), []string{"POST-tickle.json"}, []string{"session", "iserver"}},
		{"ssodh init", call("POST", "/iserver/auth/ssodh/init", `{"publish":true,"compete":false}`), []string{"POST-ssodh-init.json"}, []string{"authenticated"}},
		{"accounts", call("GET", "/iserver/accounts", ""), []string{"GET-iserver-accounts.json"}, []string{"accounts", "allowFeatures"}},
		{"secdef search", call("GET", "/iserver/secdef/search?symbol=SPY", ""), []string{"GET-secdef-search.json"}, []string{"conid", "symbol", "sections"}},
		{"secdef info", call("GET", "/iserver/secdef/info?conid=658663572&sectype=OPT&right=C", ""), []string{"GET-secdef-info.json"}, []string{"conid", "right", "strike", "maturityDate"}},
		{"category tree", call("GET", "/forecast/category/tree", ""), []string{"GET-category-tree.json"}, []string{"categories"}},
		{"market", call("GET", "/forecast/contract/market?underlyingConid=658663572", ""), []string{"GET-market.json"}, []string{"symbol", "payout", "contracts"}},
		{"details", call("GET", "/forecast/contract/details?conid=900000031", ""), []string{"GET-contract-details.json"}, []string{"conid_yes", "conid_no", "question"}},
		{"rules", call("GET", "/forecast/contract/rules?conid=900000031", ""), []string{"GET-contract-rules.json"}, []string{"price_increment", "payout", "asset_class"}},
		{"schedules", call("GET", "/forecast/contract/schedules?conid=900000031", ""), []string{"GET-contract-schedules.json"}, []string{"timezone", "trading_schedules"}},
		{"order placed", placed, []string{"POST-place-order-submitted.json"}, []string{"order_id", "order_status"}},
		{"order question", question, []string{"POST-place-order-confirmation.json"}, []string{"id", "message", "messageIds"}},
		{"reply", replied, []string{"POST-reply-submitted.json"}, []string{"order_id", "order_status"}},
		{"order status", call("GET", "/iserver/account/order/status/"+orderID, ""), []string{"GET-order-status.json"},
			[]string{"order_id", "conid", "side", "sec_type", "order_status", "total_size", "filled_quantity", "price", "avg_fill_price", "order_time"}},
		{"cancel", cancelled, []string{"DELETE-cancel-order.json"}, []string{"msg", "order_id"}},
		{"live orders", liveBeforeCancel, []string{"GET-live-orders.json", "GET-live-orders-with-ref.json"}, []string{"orders"}},
		{"trades", call("GET", "/iserver/account/trades?days=7", ""), []string{"GET-trades-populated.json"},
			[]string{"execution_id", "side", "trade_time_r", "size", "price", "order_ref", "commission", "account", "sec_type", "conid", "order_id"}},
		{"snapshot", call("GET", "/iserver/marketdata/snapshot?conids=900000031,756733&fields=31,84,85,86,88", ""), []string{"GET-snapshot.json"},
			[]string{"conid", "84", "85", "86", "88", "_updated"}},
		{"positions", call("GET", "/portfolio/DU100/positions/0", ""), []string{"GET-portfolio-positions-page0.json"},
			[]string{"conid", "contractDesc", "position", "avgPrice", "assetClass"}},
		{"ledger", call("GET", "/portfolio/DU100/ledger", ""), []string{"GET-portfolio-ledger.json"}, []string{"USD"}},
		{"summary", call("GET", "/portfolio/DU100/summary", ""), []string{"GET-portfolio-summary.json"}, []string{"totalcashvalue", "netliquidation"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var errs []string
			subset("", tc.got, recorded(t, tc.rec...), &errs)
			for _, e := range errs {
				t.Error(e)
			}
			has(t, tc.name, tc.got, tc.read...)
		})
	}
	// The live order's fields the connector reads.
	has(t, "live order", liveBeforeCancel.(map[string]any)["orders"],
		"orderId", "conid", "status", "filledQuantity", "totalSize", "order_ref", "side", "secType", "ticker", "price")
	has(t, "ledger USD", call("GET", "/portfolio/DU100/ledger", "").(map[string]any)["USD"], "cashbalance", "settledcash")
}

func TestSignedOutGatewayAnswers401Everywhere(t *testing.T) {
	sim, err := ibkrsim.New(ibkrsim.Config{SignedOut: true, Accounts: []ibkrsim.AccountConfig{{ID: "DU100", Cash: d("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	base := venuetest.StartSim(t, sim.Start, sim.Close)
	for _, p := range []string{"POST /iserver/auth/status", "POST /tickle", "GET /iserver/accounts", "GET /forecast/category/tree",
		"GET /portfolio/DU100/ledger", "GET /ws"} {
		method, path, _ := strings.Cut(p, " ")
		req, _ := http.NewRequest(method, base+"/v1/api"+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", p, resp.StatusCode)
		}
	}
}
