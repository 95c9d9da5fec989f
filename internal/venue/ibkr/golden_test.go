package ibkr_test

// The connector against recorded gateway answers (testdata/, see its
// README for the sources). A loopback server answers each request with the
// recorded body of the same method and path, so every answer goes through
// the connector's real HTTP and decoding path. Expected values are read off
// the recordings by hand.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/ibkr"
)

// golden is a recorded answer: the WireMock-style envelope of the source.
type golden struct {
	Request struct {
		Path    string   `json:"Path"`
		Methods []string `json:"Methods"`
	} `json:"Request"`
	Response struct {
		StatusCode int             `json:"StatusCode"`
		Body       json.RawMessage `json:"Body"`
	} `json:"Response"`
}

func readGolden(t *testing.T, name string) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

// goldenServer answers "METHOD /path" (query ignored) with a recording.
type goldenServer struct {
	t      *testing.T
	routes map[string]string
	mu     sync.Mutex
	bodies map[string][]string // request bodies by route
}

func newGoldenServer(t *testing.T, routes map[string]string) (*goldenServer, string) {
	g := &goldenServer{t: t, routes: routes, bodies: map[string][]string{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv.URL
}

func (g *goldenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + strings.TrimPrefix(r.URL.Path, ibkr.APIPath)
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.bodies[key] = append(g.bodies[key], string(b))
	g.mu.Unlock()
	name, ok := g.routes[key]
	if !ok {
		http.Error(w, `{"error":"no recording for `+key+`"}`, http.StatusNotFound)
		return
	}
	rec := readGolden(g.t, name)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Response.StatusCode)
	_, _ = w.Write(rec.Response.Body)
}

func (g *goldenServer) requests(key string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bodies[key]
}

var goldenRoutes = map[string]string{
	"POST /iserver/auth/status":                        "GET-auth-status.json",
	"POST /tickle":                                     "POST-tickle.json",
	"POST /iserver/auth/ssodh/init":                    "POST-ssodh-init.json",
	"GET /iserver/accounts":                            "GET-iserver-accounts.json",
	"GET /iserver/secdef/search":                       "GET-secdef-search.json",
	"GET /iserver/secdef/info":                         "GET-secdef-info.json",
	"GET /forecast/category/tree":                      "GET-category-tree.json",
	"GET /forecast/contract/market":                    "GET-market.json",
	"GET /forecast/contract/details":                   "GET-contract-details.json",
	"GET /forecast/contract/rules":                     "GET-contract-rules.json",
	"GET /forecast/contract/schedules":                 "GET-contract-schedules.json",
	"POST /iserver/account/U1234567/orders":            "POST-place-order-confirmation.json",
	"POST /iserver/reply/test-reply-id-001":            "POST-reply-submitted.json",
	"GET /iserver/account/order/status/473740665":      "GET-order-status.json",
	"DELETE /iserver/account/U1234567/order/473740665": "DELETE-cancel-order.json",
	"GET /iserver/account/orders":                      "GET-live-orders-with-ref.json",
	"GET /iserver/account/trades":                      "GET-trades-populated.json",
	"GET /iserver/marketdata/snapshot":                 "GET-snapshot.json",
	"GET /portfolio/U1234567/positions/0":              "GET-portfolio-positions-page0.json",
	"GET /portfolio/U1234567/ledger":                   "GET-portfolio-ledger.json",
}

func goldenExchange(t *testing.T, replies ibkr.ReplyPolicy) (*ibkr.Exchange, *goldenServer) {
	t.Helper()
	g, base := newGoldenServer(t, goldenRoutes)
	x, err := ibkr.New(ibkr.Config{GatewayURL: base, Account: "U1234567", Replies: replies})
	if err != nil {
		t.Fatal(err)
	}
	return x, g
}

func TestConnectorReadsTheRecordedSessionAnswers(t *testing.T) {
	ctx := context.Background()
	x, _ := goldenExchange(t, ibkr.ReplyPolicy{})
	st, err := x.Client().AuthStatus(ctx)
	if err != nil || !st.Authenticated || st.Competing || !st.Connected || st.ServerInfo.ServerName != "TestServer01" {
		t.Fatalf("auth status %+v, %v", st, err)
	}
	tk, err := x.Client().Tickle(ctx)
	if err != nil || tk.Session != "abc123def456" || !tk.IServer.AuthStatus.Authenticated {
		t.Fatalf("tickle %+v, %v", tk, err)
	}
	acc, err := x.Client().Accounts(ctx)
	if err != nil || len(acc.Accounts) != 1 || acc.Accounts[0] != "U1234567" || !acc.AllowFeatures.AllowEventTrading {
		t.Fatalf("accounts %+v, %v", acc, err)
	}
	if err := x.ValidateCredentials(ctx); err != nil {
		t.Fatalf("the recorded session validates U1234567: %v", err)
	}
	other, _ := ibkr.New(ibkr.Config{GatewayURL: strings.TrimSuffix(x.Client().BaseURL(), ibkr.APIPath), Account: "U7654321"})
	if err := other.ValidateCredentials(ctx); err == nil || !strings.Contains(err.Error(), "U7654321") {
		t.Fatalf("an account missing from the recorded list must be refused by name, got %v", err)
	}
}

func TestConnectorReadsTheRecordedForecastExDiscovery(t *testing.T) {
	ctx := context.Background()
	x, _ := goldenExchange(t, ibkr.ReplyPolicy{})
	c := x.Client()
	tree, err := c.ForecastCategories(ctx)
	if err != nil || tree.Categories["g78664"].Markets[0].Symbol != "RCNET" || tree.Categories["g78664"].Markets[0].Conid != 831072285 ||
		tree.Categories["g22973"].ParentID != "g5351" {
		t.Fatalf("category tree %+v, %v", tree, err)
	}
	m, err := c.ForecastMarket(ctx, 658663572)
	if err != nil || m.Symbol != "FF" || m.Payout.D() != polybot.One || len(m.Contracts) != 2 {
		t.Fatalf("market %+v, %v", m, err)
	}
	y, n := m.Contracts[0], m.Contracts[1]
	if y.Conid != 722489372 || y.Side != "Y" || n.Conid != 722489376 || n.Side != "N" || y.Strike.D() != polybot.MustDecimal("3.125") ||
		y.Expiration != "20270127" || y.UnderlyingConid != 658663572 {
		t.Fatalf("contracts %+v %+v", y, n)
	}
	det, err := c.ForecastDetails(ctx, 722489372)
	if err != nil || det.ConidYes != 722489372 || det.ConidNo != 722489376 || !strings.Contains(det.Question, "above 3.125%") {
		t.Fatalf("details %+v, %v", det, err)
	}
	rules, err := c.ForecastRules(ctx, 722489372)
	if err != nil || rules.PriceIncrement != "$0.01" || rules.Payout != "$1.00" || rules.AssetClass != "OPT" || rules.LastTradeTime != 1801076400 {
		t.Fatalf("rules %+v, %v", rules, err)
	}
	sch, err := c.ForecastSchedules(ctx, 722489372)
	if err != nil || sch.Timezone != "US/Central" || len(sch.TradingSchedules) != 2 || sch.TradingSchedules[0].TradingTimes[1].Open != "4:16 PM" {
		t.Fatalf("schedules %+v, %v", sch, err)
	}
	rs, err := c.SecdefSearch(ctx, "SPY", "")
	if err != nil || len(rs) != 2 || rs[0].Conid != 756733 || rs[0].Sections[0].SecType != "STK" || rs[0].Sections[2].Conid != 134770228 {
		t.Fatalf("secdef search %+v, %v", rs, err)
	}
	info, err := c.SecdefInfo(ctx, 756733, "OPT", "JAN27", "", "15", "C")
	if err != nil || len(info) != 1 || info[0].Conid != 265598 || info[0].Right != "C" || info[0].Strike.D() != polybot.NewDecimal(15, 0) {
		t.Fatalf("secdef info %+v, %v", info, err)
	}
}

func TestRecordedOrderQuestionIsAnsweredByPolicyNeverBlindly(t *testing.T) {
	ctx := context.Background()
	req := polybot.OrderRequest{ClientOrderID: "c1", Instrument: polybot.Instrument{Venue: polybot.IBKR, Market: "SPY"},
		Side: polybot.Buy, Price: polybot.MustDecimal("655.90"), Size: polybot.One, TIF: polybot.GTC}

	// The recorded question is o354 (no market data): a policy accepting
	// only o163 must refuse it and answer "no".
	x, g := goldenExchange(t, ibkr.ReplyPolicy{MessageIDs: []string{ibkr.PricePercentageWarning}})
	_, err := x.PlaceOrder(ctx, req)
	if polybot.ErrorCode(err) != polybot.EFORBIDDEN || !strings.Contains(err.Error(), "o354") {
		t.Fatalf("an o354 question under an o163 policy: %v", err)
	}
	if got := g.requests("POST /iserver/reply/test-reply-id-001"); len(got) != 1 || !strings.Contains(got[0], `"confirmed":false`) {
		t.Fatalf("the refused question must be answered confirmed:false once, got %q", got)
	}
	sent := g.requests("POST /iserver/account/U1234567/orders")
	if len(sent) != 1 || !strings.Contains(sent[0], `"cOID":"c1"`) || !strings.Contains(sent[0], `"conid":756733`) ||
		!strings.Contains(sent[0], `"price":655.9`) || !strings.Contains(sent[0], `"orderType":"LMT"`) {
		t.Fatalf("order body %q", sent)
	}

	// Accepting o354 confirms and reads the recorded placement.
	x, g = goldenExchange(t, ibkr.ReplyPolicy{MessageIDs: []string{ibkr.NoMarketDataWarning}})
	st, err := x.PlaceOrder(ctx, req)
	if err != nil || st.VenueOrderID != "987654321" || st.State != polybot.OrderOpen || st.ClientOrderID != "c1" {
		t.Fatalf("confirmed order %+v, %v", st, err)
	}
	if got := g.requests("POST /iserver/reply/test-reply-id-001"); len(got) != 1 || !strings.Contains(got[0], `"confirmed":true`) {
		t.Fatalf("reply %q", got)
	}
	// (The placement's own answer: no status of order 987654321 is
	// recorded, so the connector falls back to it.)
	// A text policy matches on the message text instead.
	x, _ = goldenExchange(t, ibkr.ReplyPolicy{Texts: []string{"without market data"}})
	if _, err := x.PlaceOrder(ctx, req); err == nil {
		t.Fatal("a message with an id is judged by its id, not its text")
	}
}

func TestConnectorReadsTheRecordedOrdersTradesAndPortfolio(t *testing.T) {
	ctx := context.Background()
	x, g := goldenExchange(t, ibkr.ReplyPolicy{})
	// "Parent" is found through the live orders' order_ref.
	st, err := x.Order(ctx, "Parent")
	if err != nil || st.VenueOrderID != "473740665" || st.State != polybot.OrderFilled || st.Size != polybot.One {
		t.Fatalf("order by cOID %+v, %v", st, err)
	}
	if err := x.CancelOrder(ctx, "Parent"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if len(g.requests("DELETE /iserver/account/U1234567/order/473740665")) != 1 {
		t.Fatal("cancel went to the wrong order")
	}
	if _, err := x.Order(ctx, "never-sent"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("unknown cOID: %v", err)
	}
	if open, err := x.OpenOrders(ctx); err != nil || len(open) != 0 {
		t.Fatalf("the recorded order is filled, so nothing is open: %+v, %v", open, err)
	}
	// The recorded executions belong to account U9990001: another account
	// sees none of them.
	if fills, err := x.Fills(ctx, time.Time{}); err != nil || len(fills) != 0 {
		t.Fatalf("U1234567 must not see U9990001's executions: %+v, %v", fills, err)
	}
	x9, _ := ibkr.New(ibkr.Config{GatewayURL: x.Client().BaseURL(), Account: "U9990001"})
	fills, err := x9.Fills(ctx, time.Time{})
	if err != nil || len(fills) != 2 {
		t.Fatalf("fills %+v, %v", fills, err)
	}
	b, s := fills[0], fills[1] // oldest first
	if b.Side != polybot.Buy || b.Price != polybot.MustDecimal("751.68") || b.Fee != polybot.One || b.ClientOrderID != "fill-buy-c1-172806" ||
		b.VenueOrderID != "1843450719" || !b.Time.Equal(time.UnixMilli(1783618091000)) || b.Instrument.Market != "SPY" {
		t.Fatalf("buy fill %+v", b)
	}
	if s.Side != polybot.Sell || s.Price != polybot.MustDecimal("751.69") || s.Fee != polybot.MustDecimal("1.02") || s.TradeID != "00025b49.6a56b360.01.01" {
		t.Fatalf("sell fill %+v", s)
	}
	if later, _ := x9.Fills(ctx, time.UnixMilli(1783618100000)); len(later) != 1 || later[0].Side != polybot.Sell {
		t.Fatalf("since filters by trade time: %+v", later)
	}
	ps, err := x.Positions(ctx)
	// avgPrice 584.31333335 rounds half away from zero to six places.
	if err != nil || len(ps) != 1 || ps[0].Instrument.Market != "QQQ" || ps[0].Size != polybot.NewDecimal(3, 0) ||
		ps[0].AvgPrice != polybot.MustDecimal("584.313333") {
		t.Fatalf("positions %+v, %v", ps, err)
	}
	bal, err := x.Balance(ctx)
	if err != nil || bal.Total != polybot.MustDecimal("971869.6") || bal.Available != polybot.MustDecimal("971869.6") {
		t.Fatalf("balance %+v, %v", bal, err)
	}
	q, err := x.Quote(ctx, polybot.Instrument{Venue: polybot.IBKR, Market: "SPY"})
	if err != nil || q.Bid != polybot.MustDecimal("655.88") || q.BidSize != polybot.NewDecimal(200, 0) || q.Ask != polybot.MustDecimal("655.90") ||
		q.AskSize != polybot.NewDecimal(100, 0) || q.Last != polybot.MustDecimal("655.89") || q.Updated.UnixMilli() != 1775169600000 {
		t.Fatalf("quote %+v, %v", q, err)
	}
}

func TestNumReadsIBKRDecimalsWithoutFloatAndAvgRoundsAverages(t *testing.T) {
	cases := []struct {
		in, want string
		avgOnly  bool // more than six places: an error for Num, rounded for Avg
	}{
		{`0.45`, "0.45", false}, {`"0.45"`, "0.45", false}, {`"1.0"`, "1", false}, {`""`, "0", false}, {`null`, "0", false},
		{`971869.6`, "971869.6", false}, {`"0.000001"`, "0.000001", false},
		{`584.31333335`, "584.313333", true}, {`584.6799927`, "584.679993", true}, {`-0.0000005`, "-0.000001", true},
		{`0.1000004`, "0.1", true},
	}
	for _, tc := range cases {
		var a ibkr.Avg
		if err := json.Unmarshal([]byte(tc.in), &a); err != nil || a.D() != polybot.MustDecimal(tc.want) {
			t.Errorf("Avg %s: %s, %v; want %s", tc.in, a.D(), err, tc.want)
		}
		var n ibkr.Num
		err := json.Unmarshal([]byte(tc.in), &n)
		if tc.avgOnly != (err != nil) || (err == nil && n.D() != polybot.MustDecimal(tc.want)) {
			t.Errorf("Num %s: %s, %v", tc.in, n.D(), err)
		}
	}
	for _, bad := range []string{`"1e3"`, `"abc"`, `true`} {
		var n ibkr.Num
		var a ibkr.Avg
		if json.Unmarshal([]byte(bad), &n) == nil || json.Unmarshal([]byte(bad), &a) == nil {
			t.Errorf("%s is refused, not guessed", bad)
		}
	}
}
