package alpaca

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuetest"
)

const (
	testKey    = "PKSIMTEST"
	testSecret = "sim-secret"
)

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

// start serves one account with $20,000 and SPY offered at 500.00 × 10.
func start(t *testing.T) (*Server, string) {
	t.Helper()
	s, err := New(Config{Accounts: []AccountConfig{{KeyID: testKey, Secret: testSecret, Cash: d("20000")}},
		Books: []BookConfig{{Symbol: "SPY", Bids: []polybot.Level{{Price: d("499.50"), Size: d("100")}},
			Asks: []polybot.Level{{Price: d("500.00"), Size: d("10")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	base := venuetest.StartSim(t, s.Start, s.Close)
	return s, base
}

func do(t *testing.T, method, url, key, secret, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("APCA-API-KEY-ID", key)
		req.Header.Set("APCA-API-SECRET-KEY", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWireAnswersMatchAlpacasDocumentedShapes checks statuses and bodies on
// the raw wire, in order (each step builds on the one before).
func TestWireAnswersMatchAlpacasDocumentedShapes(t *testing.T) {
	_, base := start(t)
	limit := `{"symbol":"SPY","qty":"2","side":"buy","type":"limit","time_in_force":"gtc","limit_price":"480","client_order_id":"c-1"}`
	steps := []struct {
		name, method, path, key, secret, body string
		status                                int
		fragment                              string
	}{
		{"no key", "GET", "/v2/account", "", "", "", 401, `{"code":40110000,"message":"request is not authorized"}`},
		{"wrong secret", "GET", "/v2/account", testKey, "nope", "", 401, `"code":40110000`},
		{"account", "GET", "/v2/account", testKey, testSecret, "", 200, `"cash":"20000.00"`},
		{"limit order", "POST", "/v2/orders", testKey, testSecret, limit, 200, `"client_order_id":"c-1"`},
		{"duplicate client order id", "POST", "/v2/orders", testKey, testSecret, limit, 422, `{"code":40010001,"message":"client_order_id must be unique"}`},
		{"buying power held", "GET", "/v2/account", testKey, testSecret, "", 200, `"buying_power":"19040.00"`},
		{"by client order id", "GET", "/v2/orders:by_client_order_id?client_order_id=c-1", testKey, testSecret, "", 200, `"status":"new"`},
		{"unknown client order id", "GET", "/v2/orders:by_client_order_id?client_order_id=nope", testKey, testSecret, "", 404, `"code":40410000`},
		{"unknown symbol", "POST", "/v2/orders", testKey, testSecret, `{"symbol":"ZZZZ","qty":"1","side":"buy","type":"market","time_in_force":"day"}`, 422, `"code":40010001`},
		{"sell without shares", "POST", "/v2/orders", testKey, testSecret, `{"symbol":"SPY","qty":1,"side":"sell","type":"market","time_in_force":"day"}`, 403, `insufficient qty available`},
		{"market buy fills", "POST", "/v2/orders", testKey, testSecret, `{"symbol":"SPY","qty":4,"side":"buy","type":"market","time_in_force":"day"}`, 200, `"filled_avg_price":"500.00"`},
		{"position", "GET", "/v2/positions", testKey, testSecret, "", 200, `"qty":"4.00","qty_available":"4.00","avg_entry_price":"500.00"`},
		{"fill activity", "GET", "/v2/account/activities?activity_types=FILL", testKey, testSecret, "", 200, `"type":"fill","price":"500.00","qty":"4.00"`},
		{"open orders", "GET", "/v2/orders?status=open", testKey, testSecret, "", 200, `"client_order_id":"c-1"`},
		{"cancel all", "DELETE", "/v2/orders", testKey, testSecret, "", 207, `"status":200`},
		{"nothing open", "GET", "/v2/orders", testKey, testSecret, "", 200, `[]`},
	}
	for _, st := range steps {
		status, body := do(t, st.method, base+st.path, st.key, st.secret, st.body)
		if status != st.status || !strings.Contains(body, st.fragment) {
			t.Fatalf("%s: %d %s, want %d with %s", st.name, status, body, st.status, st.fragment)
		}
	}
}

func TestFillsMoveCashAndPositionsForBothSidesOfATrade(t *testing.T) {
	s, base := start(t)
	if err := s.AddAccount(AccountConfig{KeyID: "PKOTHER", Secret: "x", Cash: d("1000")}); err != nil {
		t.Fatal(err)
	}
	// The first account buys 2 at market (2 × 500.00) and rests an offer of
	// 1 at 499.90, which the second account lifts.
	for _, c := range []struct{ key, secret, body string }{
		{testKey, testSecret, `{"symbol":"SPY","qty":"2","side":"buy","type":"market","time_in_force":"day"}`},
		{testKey, testSecret, `{"symbol":"SPY","qty":"1","side":"sell","type":"limit","limit_price":"499.90","time_in_force":"gtc"}`},
		{"PKOTHER", "x", `{"symbol":"SPY","qty":"1","side":"buy","type":"limit","limit_price":"499.90","time_in_force":"ioc"}`},
	} {
		if status, body := do(t, "POST", base+"/v2/orders", c.key, c.secret, c.body); status != 200 {
			t.Fatalf("%s: %d %s", c.body, status, body)
		}
	}
	// 20,000 − 1,000 + 499.90 = 19,499.90; 1,000 − 499.90 = 500.10.
	if got := s.Cash(testKey); got != d("19499.90") {
		t.Errorf("seller cash = %s", got)
	}
	if got := s.Cash("PKOTHER"); got != d("500.10") {
		t.Errorf("buyer cash = %s", got)
	}
	_, body := do(t, "GET", base+"/v2/positions/SPY", "PKOTHER", "x", "")
	var p struct{ Qty, AvgEntryPrice string }
	if err := json.Unmarshal([]byte(strings.ReplaceAll(body, "avg_entry_price", "AvgEntryPrice")), &p); err != nil || p.Qty != "1.00" || p.AvgEntryPrice != "499.90" {
		t.Fatalf("buyer position = %s", body)
	}
}
