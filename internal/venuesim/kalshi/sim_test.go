package kalshi

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venuetest"
)

// These tests sign requests with crypto/rsa directly: the simulator and its
// tests stay independent of the connector.

type running struct {
	*Server
	urls URLs
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, s.Start, s.Close)
	return &running{s, urls}
}

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func pubPEM(t *testing.T, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func lvl(p, s string) polybot.Level {
	return polybot.Level{Price: polybot.MustDecimal(p), Size: polybot.MustDecimal(s)}
}

func sign(t *testing.T, k *rsa.PrivateKey, ts, method, path string) string {
	h := sha256.Sum256([]byte(ts + method + path))
	sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// call makes a signed request; tamper may change the headers after signing.
func (r *running) call(t *testing.T, method, path, body string, tamper func(h http.Header)) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(r.urls.REST, RESTPrefix)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	signed := path
	if i := strings.IndexByte(signed, '?'); i >= 0 {
		signed = signed[:i]
	}
	req.Header.Set("KALSHI-ACCESS-KEY", "k1")
	req.Header.Set("KALSHI-ACCESS-TIMESTAMP", ts)
	req.Header.Set("KALSHI-ACCESS-SIGNATURE", sign(t, key(t), ts, method, signed))
	if tamper != nil {
		tamper(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func withAccount(t *testing.T) *running {
	return start(t, Config{Accounts: []AccountConfig{{KeyID: "k1", PublicKeyPEM: pubPEM(t, key(t)), Balance: polybot.MustDecimal("100")}}})
}

func TestAuthIsVerifiedAsKalshiDoesWithItsErrorShape(t *testing.T) {
	r := withAccount(t)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		path    string
		tamper  func(http.Header)
		status  int
		code    string
		details string
	}{
		{"a good signature", "/trade-api/v2/portfolio/balance", nil, 200, "", ""},
		{"the query is not signed", "/trade-api/v2/portfolio/orders?limit=5&status=resting", nil, 200, "", ""},
		{"a missing signature", "/trade-api/v2/portfolio/balance", func(h http.Header) { h.Del("KALSHI-ACCESS-SIGNATURE") }, 401, "signature_is_missing_from_headers", ""},
		{"an unknown key", "/trade-api/v2/portfolio/balance", func(h http.Header) { h.Set("KALSHI-ACCESS-KEY", "k2") }, 401, "authentication_error", "NOT_FOUND"},
		{"a stale timestamp", "/trade-api/v2/portfolio/balance", func(h http.Header) {
			ts := strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
			h.Set("KALSHI-ACCESS-TIMESTAMP", ts)
			h.Set("KALSHI-ACCESS-SIGNATURE", sign(t, key(t), ts, "GET", "/trade-api/v2/portfolio/balance"))
		}, 401, "header_timestamp_expired", ""},
		{"a signature over another path", "/trade-api/v2/portfolio/balance", func(h http.Header) {
			h.Set("KALSHI-ACCESS-SIGNATURE", sign(t, key(t), h.Get("KALSHI-ACCESS-TIMESTAMP"), "GET", "/trade-api/v2/portfolio/positions"))
		}, 401, "authentication_error", "INCORRECT_API_KEY_SIGNATURE"},
		{"a signature without the API prefix", "/trade-api/v2/portfolio/balance", func(h http.Header) {
			h.Set("KALSHI-ACCESS-SIGNATURE", sign(t, key(t), h.Get("KALSHI-ACCESS-TIMESTAMP"), "GET", "/portfolio/balance"))
		}, 401, "authentication_error", "INCORRECT_API_KEY_SIGNATURE"},
		{"a signature by another key", "/trade-api/v2/portfolio/balance", func(h http.Header) {
			h.Set("KALSHI-ACCESS-SIGNATURE", sign(t, other, h.Get("KALSHI-ACCESS-TIMESTAMP"), "GET", "/trade-api/v2/portfolio/balance"))
		}, 401, "authentication_error", "INCORRECT_API_KEY_SIGNATURE"},
		{"public market data needs no key", "/trade-api/v2/markets", func(h http.Header) { h.Del("KALSHI-ACCESS-KEY") }, 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := r.call(t, "GET", tc.path, "", tc.tamper)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if tc.code == "" {
				return
			}
			e, _ := body["error"].(map[string]any)
			if e == nil || e["code"] != tc.code || (tc.details != "" && e["details"] != tc.details) || e["message"] == "" {
				t.Fatalf("body %v, want error code %s details %s", body, tc.code, tc.details)
			}
		})
	}
}

func TestWebSocketHandshakeIsSignedAndTheFeedIsNumberedPerSubscription(t *testing.T) {
	r := withAccount(t)
	if err := r.SetBook(FedTicker, []polybot.Level{lvl("0.40", "10")}, []polybot.Level{lvl("0.45", "7")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, r.urls.WS, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("unsigned handshake: %v %v", resp, err)
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	h := http.Header{"KALSHI-ACCESS-KEY": {"k1"}, "KALSHI-ACCESS-TIMESTAMP": {ts},
		"KALSHI-ACCESS-SIGNATURE": {sign(t, key(t), ts, "GET", WSPath)}}
	c, _, err := websocket.Dial(ctx, r.urls.WS, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(v string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	read := func() map[string]any {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(`{"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"market_ticker":"` + FedTicker + `"}}`)
	if m := read(); m["type"] != "subscribed" || m["id"] != 1.0 {
		t.Fatalf("ack = %v", m)
	}
	snap := read()
	msg, _ := snap["msg"].(map[string]any)
	if snap["type"] != "orderbook_snapshot" || snap["seq"] != 1.0 || msg["market_ticker"] != FedTicker {
		t.Fatalf("snapshot = %v", snap)
	}
	if yes, _ := json.Marshal(msg["yes_dollars_fp"]); string(yes) != `[["0.4000","10.00"]]` {
		t.Fatalf("yes = %s", yes)
	}
	if no, _ := json.Marshal(msg["no_dollars_fp"]); string(no) != `[["0.4500","7.00"]]` {
		t.Fatalf("no = %s", no)
	}
	// A YES ask change is a NO-side delta at 1 − price, numbered next.
	if err := r.SetBook(FedTicker, []polybot.Level{lvl("0.40", "10")}, []polybot.Level{lvl("0.45", "9")}); err != nil {
		t.Fatal(err)
	}
	d := read()
	dm, _ := d["msg"].(map[string]any)
	if d["type"] != "orderbook_delta" || d["seq"] != 2.0 || dm["side"] != "no" || dm["price_dollars"] != "0.4500" || dm["delta_fp"] != "2.00" {
		t.Fatalf("delta = %v", d)
	}
	r.SkipSeq(FedTicker)
	if err := r.SetBook(FedTicker, []polybot.Level{lvl("0.41", "1")}, []polybot.Level{lvl("0.45", "9")}); err != nil {
		t.Fatal(err)
	}
	if d := read(); d["seq"] != 4.0 {
		t.Fatalf("after SkipSeq the next delta has seq %v, want 4", d["seq"])
	}
	_ = read() // the second level change of that update
	send(`{"id":2,"cmd":"nonsense"}`)
	if m := read(); m["type"] != "error" || m["msg"].(map[string]any)["code"] != 5.0 {
		t.Fatalf("unknown command answer = %v", m)
	}
	send(`{"id":3,"cmd":"unsubscribe","params":{"sids":[1]}}`)
	if m := read(); m["type"] != "unsubscribed" || m["sid"] != 1.0 {
		t.Fatalf("unsubscribe answer = %v", m)
	}
}

func TestOrdersOnBothRoutesAreTheSameYesBook(t *testing.T) {
	r := withAccount(t)
	// Legacy: buy NO at 0.30 rests as a YES ask at 0.70.
	status, body := r.call(t, "POST", "/trade-api/v2/portfolio/orders",
		`{"ticker":"`+FedTicker+`","side":"no","action":"buy","count":2,"no_price":30,"client_order_id":"legacy-1"}`, nil)
	if status != 201 {
		t.Fatalf("legacy create: %d %v", status, body)
	}
	o := body["order"].(map[string]any)
	if o["side"] != "no" || o["action"] != "buy" || o["book_side"] != "ask" || o["yes_price_dollars"] != "0.7000" || o["status"] != "resting" {
		t.Fatalf("legacy order = %v", o)
	}
	// V2: a bid at 0.70 for 1 takes external liquidity at 0.70 (a NO bid at
	// 0.30), which stands ahead of the account's own ask there.
	if err := r.SetBook(FedTicker, nil, []polybot.Level{lvl("0.30", "5")}); err != nil {
		t.Fatal(err)
	}
	status, body = r.call(t, "POST", "/trade-api/v2/portfolio/events/orders",
		`{"ticker":"`+FedTicker+`","side":"bid","count":"1","price":"0.70","time_in_force":"immediate_or_cancel","client_order_id":"v2-1","self_trade_prevention_type":"maker"}`, nil)
	if status != 201 || body["fill_count"] != "1.00" || body["remaining_count"] != "0.00" || body["average_fill_price"] != "0.7000" ||
		body["average_fee_paid"] != "0.0200" {
		t.Fatalf("v2 create: %d %v", status, body)
	}
	// Duplicate client order id.
	status, body = r.call(t, "POST", "/trade-api/v2/portfolio/events/orders",
		`{"ticker":"`+FedTicker+`","side":"bid","count":"1","price":"0.10","time_in_force":"good_till_canceled","client_order_id":"v2-1"}`, nil)
	if status != 409 {
		t.Fatalf("duplicate client order id: %d %v", status, body)
	}
	// Not enough money.
	status, body = r.call(t, "POST", "/trade-api/v2/portfolio/events/orders",
		`{"ticker":"`+FedTicker+`","side":"bid","count":"1000","price":"0.50","time_in_force":"good_till_canceled"}`, nil)
	if e, _ := body["error"].(map[string]any); status != 400 || e["code"] != "insufficient_balance" {
		t.Fatalf("insufficient balance: %d %v", status, body)
	}
	status, body = r.call(t, "GET", "/trade-api/v2/portfolio/orders?status=resting", "", nil)
	orders := body["orders"].([]any)
	if status != 200 || len(orders) != 1 || orders[0].(map[string]any)["remaining_count_fp"] != "2.00" {
		t.Fatalf("resting orders: %d %v", status, body)
	}
	status, body = r.call(t, "DELETE", "/trade-api/v2/portfolio/events/orders/"+o["order_id"].(string), "", nil)
	if status != 200 || body["reduced_by"] != "2.00" {
		t.Fatalf("cancel: %d %v", status, body)
	}
	// 100 − 0.70 − a fee of ceil(0.07 × 0.70 × 0.30) = 0.02; the cancelled
	// order ties up nothing any more.
	status, body = r.call(t, "GET", "/trade-api/v2/portfolio/balance", "", nil)
	if status != 200 || body["balance_dollars"] != "99.2800" || body["balance"] != 9928.0 {
		t.Fatalf("balance: %d %v", status, body)
	}
}

func TestReplayDrivesTheFedMarketFromTheCrossVenueRecording(t *testing.T) {
	csv := filepath.Join("..", "..", "marketdata", "replay", "recordings", "fed_dec2025_hold.csv")
	if _, err := os.Stat(csv); err != nil {
		t.Skip("no cross-venue recording:", err)
	}
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := replay.ReadCrossVenue(f, replay.FedDec2025Hold)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var last polybot.BookEvent
	for _, ev := range evs {
		if ev.Instrument.Venue == polybot.Kalshi && ev.Instrument.Outcome == polybot.Yes {
			last = ev
		}
	}
	r := start(t, Config{Replay: &ReplayConfig{CrossVenueCSV: csv}})
	// As fast as possible: the book ends as the recording's last row.
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := r.eng.Depth(FedTicker, 1)
		if len(d.Bids) == 1 && len(d.Asks) == 1 && d.Bids[0] == last.Bids[0] && d.Asks[0] == last.Asks[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("book %+v, want the last row %v / %v", d, last.Bids, last.Asks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, body := r.call(t, "GET", "/trade-api/v2/markets/"+FedTicker+"/orderbook", "", nil)
	if status != 200 || body["orderbook_fp"] == nil {
		t.Fatalf("orderbook: %d %v", status, body)
	}
}

func TestSyntheticFeedListsItsMarketsAndFillsTheirBooks(t *testing.T) {
	r := start(t, Config{Synthetic: &SyntheticConfig{Markets: 3, UpdatesPerSecond: 2000, Count: 200, Seed: 7}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		for i := range 3 {
			if d := r.eng.Depth("SYNTH-"+strconv.Itoa(i), 1); len(d.Bids) == 0 || len(d.Asks) == 0 {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("synthetic books stayed empty")
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, body := r.call(t, "GET", "/trade-api/v2/markets?series_ticker=SYNTH", "", nil)
	if status != 200 || len(body["markets"].([]any)) != 3 {
		t.Fatalf("markets: %d %v", status, body)
	}
}

func TestGenerateDemoKeySavesAnOwnerOnlyPKCS1KeyThatAuthenticates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "kalshi.pem")
	k, err := GenerateDemoKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	blk, _ := pem.Decode(b)
	priv, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil || blk.Type != "RSA PRIVATE KEY" {
		t.Fatalf("not a PKCS#1 key: %v", err)
	}
	if _, err := GenerateDemoKey(path); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
	r := start(t, Config{})
	// Register through the admin route, as `polybot sim` users would.
	reqBody, _ := json.Marshal(map[string]any{"key_id": k.KeyID, "public_key_pem": k.PublicKeyPEM, "balance_dollars": "25"})
	resp, err := http.Post(r.urls.Admin+"/accounts", "application/json", strings.NewReader(string(reqBody)))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("admin register: %v %v", resp, err)
	}
	resp.Body.Close()
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req, _ := http.NewRequest("GET", r.urls.REST+"/portfolio/balance", nil)
	req.Header.Set("KALSHI-ACCESS-KEY", k.KeyID)
	req.Header.Set("KALSHI-ACCESS-TIMESTAMP", ts)
	req.Header.Set("KALSHI-ACCESS-SIGNATURE", sign(t, priv, ts, "GET", RESTPrefix+"/portfolio/balance"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var bal map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&bal)
	if resp.StatusCode != 200 || bal["balance"] != 2500.0 {
		t.Fatalf("balance with the demo key: %d %v", resp.StatusCode, bal)
	}
}

func TestFeesAreCeilToTheCentPerSeriesSchedule(t *testing.T) {
	half := &SeriesConfig{FeeType: "quadratic", FeeMultiplier: polybot.MustDecimal("0.5")}
	makers := &SeriesConfig{FeeType: "quadratic_with_maker_fees"}
	cases := []struct {
		name         string
		sc           *SeriesConfig
		price, count string
		taker        bool
		want         string
	}{
		{"one at 0.50", nil, "0.50", "1", true, "0.02"},
		{"one at 0.90", nil, "0.90", "1", true, "0.01"},
		{"a hundred at 0.5", nil, "0.5", "100", true, "1.75"},
		{"a half-rate series", half, "0.5", "100", true, "0.88"},
		{"a maker on a quadratic series", nil, "0.5", "100", false, "0"},
		{"a maker where makers pay", makers, "0.5", "100", false, "0.44"},
	}
	for _, tc := range cases {
		if got := seriesFee(tc.sc, polybot.MustDecimal(tc.price), polybot.MustDecimal(tc.count), tc.taker); got != polybot.MustDecimal(tc.want) {
			t.Fatalf("%s: fee = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestTheDemoEventIsServedAsAMutuallyExclusiveEventAndReplayedToItsLastBooks(t *testing.T) {
	rec := replay.SyntheticEvent(polybot.Kalshi)
	r := start(t, Config{Events: []*replay.EventRecording{rec}})
	// As fast as possible: each market's book ends as the recording's last YES snapshot.
	last := map[string]polybot.BookEvent{}
	for _, ev := range rec.Events {
		if ev.Instrument.Outcome == polybot.Yes {
			last[ev.Instrument.Market] = ev
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for ticker, ev := range last {
		for {
			d := r.eng.Depth(ticker, 0)
			if slices.Equal(d.Bids, ev.Bids) && slices.Equal(d.Asks, ev.Asks) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: book %v / %v, want the last snapshot %v / %v", ticker, d.Bids, d.Asks, ev.Bids, ev.Asks)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	status, body := r.call(t, "GET", "/trade-api/v2/events/SYNTHFED-DEMO?with_nested_markets=true", "", nil)
	ev, _ := body["event"].(map[string]any)
	if status != 200 || ev["mutually_exclusive"] != true || ev["series_ticker"] != "SYNTHFED" || ev["title"] != rec.Set.Name {
		t.Fatalf("event: %d %v", status, body)
	}
	markets, _ := ev["markets"].([]any)
	if len(markets) != 4 {
		t.Fatalf("nested markets: %v", markets)
	}
	for i, m := range markets {
		if sub := m.(map[string]any)["yes_sub_title"]; sub != rec.Set.Outcomes[i].Label {
			t.Errorf("market %d yes_sub_title %v, want %q", i, sub, rec.Set.Outcomes[i].Label)
		}
	}
	if status, body := r.call(t, "GET", "/trade-api/v2/series/SYNTHFED", "", nil); status != 200 || body["series"].(map[string]any)["fee_type"] != "quadratic" {
		t.Fatalf("series: %d %v", status, body)
	}
}

func TestAnEventOfAnotherVenueOrWithAListedMarketIsRefused(t *testing.T) {
	if _, err := New(Config{Events: []*replay.EventRecording{replay.SyntheticEvent(polybot.Polymarket)}}); err == nil {
		t.Fatal("a Polymarket event was listed on Kalshi")
	}
	rec := replay.SyntheticEvent(polybot.Kalshi)
	if _, err := New(Config{Events: []*replay.EventRecording{rec, rec}}); polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("the same event twice: %v, want a conflict", err)
	}
}
