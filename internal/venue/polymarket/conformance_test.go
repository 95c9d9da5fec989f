package polymarket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

// The connector conformance suite: the connector against the simulator,
// over real HTTP and WebSocket sockets on loopback.

const (
	yesToken = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
	noToken  = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
	marketID = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
)

var (
	yes = polybot.Instrument{Venue: polybot.Polymarket, Market: marketID, Token: yesToken, Outcome: polybot.Yes}
	no  = polybot.Instrument{Venue: polybot.Polymarket, Market: marketID, Token: noToken, Outcome: polybot.No}
)

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

type fixture struct {
	sim  *sim.Server
	urls sim.URLs
	cfg  pm.Config
}

func start(t *testing.T) *fixture {
	t.Helper()
	s, err := sim.New(sim.Config{Markets: []sim.Market{{ConditionID: marketID, Tokens: [2]string{yesToken, noToken},
		TickSize: d("0.01")}}})
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, s.Start, nil)
	cfg := urls.ClientConfig(pm.ChainPolygon)
	cfg.PingInterval = time.Second
	return &fixture{sim: s, urls: urls, cfg: cfg}
}

// tenant returns an Exchange for a fresh wallet (credentials derived on
// first use with L1 auth).
func (f *fixture) tenant(t *testing.T, cfg pm.Config) (*pm.Exchange, *eip712.Signer) {
	t.Helper()
	w, err := eip712.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	x, err := pm.NewExchange(pm.NewClient(cfg), pm.Credentials{Wallet: w}, pm.ExchangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return x, w
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func order(id string, inst polybot.Instrument, side polybot.Side, price, size string, tif polybot.TimeInForce) polybot.OrderRequest {
	return polybot.OrderRequest{ClientOrderID: id, Instrument: inst, Side: side, Price: d(price), Size: d(size), TIF: tif}
}

func TestAWalletDerivesAPICredentialsWithL1AndItsL2CallsAreAccepted(t *testing.T) {
	f := start(t)
	x, w := f.tenant(t, f.cfg)
	ctx := ctxT(t)
	if err := x.ValidateCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	a1, _ := x.APICreds(ctx)
	// Deriving again with the same nonce gives the same credentials.
	a2, err := pm.NewClient(f.cfg).DeriveAPIKey(ctx, w, 0)
	if err != nil || a2 != a1 {
		t.Fatalf("derive: %v %v, first %v", a2.Key, err, a1.Key)
	}
	bal, err := x.Balance(ctx)
	if err != nil || bal.Total != d("1000") || bal.Available != d("1000") {
		t.Fatalf("a new wallet is funded with 1000 USDC: %+v %v", bal, err)
	}
}

func TestForgedAuthIsRefusedWithTheVenuesErrors(t *testing.T) {
	f := start(t)
	ctx := ctxT(t)
	good, w := f.tenant(t, f.cfg)
	creds, err := good.APICreds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := eip712.GenerateSigner()

	t.Run("an L2 request signed with the wrong secret is 401", func(t *testing.T) {
		bad := creds
		bad.Secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		x, err := pm.NewExchange(pm.NewClient(f.cfg), pm.Credentials{Wallet: w, API: bad}, pm.ExchangeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ve := venuetest.VenueError(t, x.ValidateCredentials(ctx))
		if ve.Status != http.StatusUnauthorized || ve.Message != "Unauthorized/Invalid api key" || ve.Code != "" {
			t.Fatalf("got %+v", ve)
		}
	})
	t.Run("another wallet cannot use the API key", func(t *testing.T) {
		x, err := pm.NewExchange(pm.NewClient(f.cfg), pm.Credentials{Wallet: other, API: creds}, pm.ExchangeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ve := venuetest.VenueError(t, x.ValidateCredentials(ctx)); ve.Status != http.StatusUnauthorized {
			t.Fatalf("got %+v", ve)
		}
	})
	t.Run("an L1 ClobAuth signed by another wallet is 401", func(t *testing.T) {
		auth, err := pm.NewL1Auth(other, pm.ChainPolygon, time.Now().Unix(), 0)
		if err != nil {
			t.Fatal(err)
		}
		auth.Address = w.Address() // claims to be w
		status, body := raw(t, http.MethodPost, f.urls.CLOB+"/auth/api-key", auth.Header(), nil)
		if status != http.StatusUnauthorized || body != `{"error":"Invalid L1 Request headers"}` {
			t.Fatalf("got %d %s", status, body)
		}
	})
	t.Run("an order whose signature is not its signer's is refused", func(t *testing.T) {
		signer, err := pm.NewOrderSigner(w, pm.ChainPolygon, pm.SignatureEOA, eip712.Address{})
		if err != nil {
			t.Fatal(err)
		}
		so, err := signer.Build(pm.LimitOrder{ClientOrderID: "forged", TokenID: yesToken, Side: polybot.Buy,
			Price: d("0.4"), Size: d("10"), TickSize: d("0.01"), Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if so.Signature, err = other.SignDigest(so.Hash); err != nil {
			t.Fatal(err)
		}
		payload, _ := so.Payload(creds.Key, polybot.GTC, false)
		body, _ := json.Marshal(payload)
		l2, _ := pm.NewL2Auth(w.Address(), creds.Key, creds.Secret, creds.Passphrase, time.Now().Unix(), http.MethodPost, "/order", body)
		status, resp := raw(t, http.MethodPost, f.urls.CLOB+"/order", l2.Header(), body)
		if status != http.StatusBadRequest || resp != `{"error":"invalid signature"}` {
			t.Fatalf("got %d %s", status, resp)
		}
		if open, _ := good.OpenOrders(ctx); len(open) != 0 {
			t.Fatalf("the forged order rests: %+v", open)
		}
	})
}

func raw(t *testing.T, method, url string, h http.Header, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(bytes.TrimSpace(b))
}

// feedBooks runs a Feed into books, and returns a function that waits until
// inst's book equals the simulator's.
type feedBooks struct {
	mu    sync.Mutex
	books map[string]*marketdata.Book
	snaps map[string]int
	feed  *pm.Feed
}

func runFeed(t *testing.T, f *fixture, insts ...polybot.Instrument) *feedBooks {
	t.Helper()
	fb := &feedBooks{books: map[string]*marketdata.Book{}, snaps: map[string]int{}, feed: pm.NewFeed(f.cfg, nil)}
	if err := fb.feed.Subscribe(context.Background(), insts...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		fb.feed.Run(ctx, func(ev polybot.BookEvent) {
			fb.mu.Lock()
			defer fb.mu.Unlock()
			b := fb.books[ev.Instrument.Token]
			if b == nil {
				if ev.Kind != polybot.BookSnapshot && ev.Kind != polybot.BookTrade && ev.Kind != polybot.BookTickSize {
					t.Errorf("a delta before any snapshot: %+v", ev)
				}
				b = marketdata.NewBook(ev.Instrument)
				fb.books[ev.Instrument.Token] = b
			}
			if ev.Kind == polybot.BookSnapshot {
				fb.snaps[ev.Instrument.Token]++
			}
			b.Apply(&ev)
		})
	}()
	return fb
}

// matches waits until the feed's book of token equals the simulator's.
func (fb *feedBooks) matches(t *testing.T, f *fixture, token string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.sim.Sync()
		want := f.sim.Engine().Depth(token, 0)
		fb.mu.Lock()
		b := fb.books[token]
		ok := b != nil && slices.Equal(b.Bids, want.Bids) && slices.Equal(b.Asks, want.Asks)
		var got *marketdata.Book
		if b != nil {
			got = b.Clone()
		}
		fb.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed book of %s…\n got %+v\nwant bids %v asks %v", token[:8], got, want.Bids, want.Asks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (fb *feedBooks) snapshots(token string) int {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.snaps[token]
}

func lv(price, size string) polybot.Level { return polybot.Level{Price: d(price), Size: d(size)} }

func TestAnOrderIsPlacedPartiallyFilledFilledAndCancelledAndTheFillsReachTheUserChannel(t *testing.T) {
	f := start(t)
	ctx := ctxT(t)
	buyer, _ := f.tenant(t, f.cfg)
	seller, sw := f.tenant(t, f.cfg)
	start := time.Now().Add(-time.Second)

	// The buyer's user channel.
	var mu sync.Mutex
	var fills []polybot.Fill
	var orderEvents []string
	sctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go buyer.Stream(sctx, nil, func(ev pm.UserEvent) {
		mu.Lock()
		defer mu.Unlock()
		fills = append(fills, ev.Fills...)
		if ev.Order != nil {
			orderEvents = append(orderEvents, ev.OrderEvent+":"+string(ev.Order.State))
		}
	})
	time.Sleep(200 * time.Millisecond) // let the user channel subscribe

	st, err := buyer.PlaceOrder(ctx, order("buy-1", yes, polybot.Buy, "0.40", "10", polybot.GTC))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderOpen || st.VenueOrderID == "" || !st.Filled.IsZero() {
		t.Fatalf("placed: %+v", st)
	}
	// The seller needs shares: the simulator credits them directly.
	f.sim.Fund(sw.Address(), d("0"))
	giveShares(t, f, seller, sw)

	// A partial fill: the seller sells 4 into the bid.
	if _, err := seller.PlaceOrder(ctx, order("sell-1", yes, polybot.Sell, "0.40", "4", polybot.FAK)); err != nil {
		t.Fatal(err)
	}
	got, err := buyer.Order(ctx, "buy-1")
	if err != nil || got.State != polybot.OrderPartial || got.Filled != d("4") || got.ClientOrderID != "buy-1" {
		t.Fatalf("after a partial fill: %+v %v", got, err)
	}
	// The rest.
	if _, err := seller.PlaceOrder(ctx, order("sell-2", yes, polybot.Sell, "0.39", "6", polybot.GTC)); err != nil {
		t.Fatal(err)
	}
	got, err = buyer.Order(ctx, "buy-1")
	if err != nil || got.State != polybot.OrderFilled || got.Filled != d("10") {
		t.Fatalf("after the fill: %+v %v", got, err)
	}
	// A second order, cancelled.
	if _, err := buyer.PlaceOrder(ctx, order("buy-2", yes, polybot.Buy, "0.30", "5", polybot.GTC)); err != nil {
		t.Fatal(err)
	}
	if err := buyer.CancelOrder(ctx, "buy-2"); err != nil {
		t.Fatal(err)
	}
	got, err = buyer.Order(ctx, "buy-2")
	if err != nil || got.State != polybot.OrderCancelled {
		t.Fatalf("after cancel: %+v %v", got, err)
	}
	if err := buyer.CancelOrder(ctx, "buy-2"); polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("cancelling a cancelled order: %v", err)
	}
	if open, err := buyer.OpenOrders(ctx); err != nil || len(open) != 0 {
		t.Fatalf("open orders: %+v %v", open, err)
	}

	// Balances, positions and fills agree: 10 shares bought at 0.40.
	bal, err := buyer.Balance(ctx)
	if err != nil || bal.Total != d("996") {
		t.Fatalf("balance %+v %v", bal, err)
	}
	pos, err := buyer.Positions(ctx)
	if err != nil || len(pos) != 1 || pos[0].Size != d("10") || pos[0].AvgPrice != d("0.4") || pos[0].Instrument.Token != yesToken {
		t.Fatalf("positions %+v %v", pos, err)
	}
	rest, err := buyer.Fills(ctx, start)
	if err != nil || len(rest) != 2 {
		t.Fatalf("fills %+v %v", rest, err)
	}
	for _, fl := range rest {
		if !fl.Maker || fl.ClientOrderID != "buy-1" || fl.Side != polybot.Buy || fl.Price != d("0.4") {
			t.Errorf("fill %+v", fl)
		}
	}

	// The same fills arrived on the user channel.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(fills)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user channel fills: %+v", fills)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	byID := map[string]polybot.Fill{}
	for _, fl := range fills {
		byID[fl.TradeID] = fl
	}
	for _, fl := range rest {
		if w, ok := byID[fl.TradeID]; !ok || w.Size != fl.Size || w.ClientOrderID != "buy-1" {
			t.Errorf("REST fill %+v not on the user channel (%+v)", fl, byID)
		}
	}
	if len(orderEvents) == 0 || orderEvents[0] != "PLACEMENT:open" {
		t.Errorf("order events %v", orderEvents)
	}
}

// giveShares makes seller hold 100 YES shares: it buys them from a maker
// funded for it.
func giveShares(t *testing.T, f *fixture, seller *pm.Exchange, sw *eip712.Signer) {
	t.Helper()
	ctx := ctxT(t)
	maker, _ := f.tenant(t, f.cfg)
	if _, err := maker.PlaceOrder(ctx, order("m-ask", no, polybot.Buy, "0.01", "1", polybot.GTC)); err != nil {
		t.Fatal(err) // makes the maker's account
	}
	f.sim.Fund(sw.Address(), d("100"))
	if err := f.sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes,
		Asks: []polybot.Level{lv("0.60", "100")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := seller.PlaceOrder(ctx, order("seed", yes, polybot.Buy, "0.60", "100", polybot.FOK)); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes}); err != nil {
		t.Fatal(err)
	}
	if w := f.sim.Wallet(sw.Address()); w.Positions[yesToken] != d("100") {
		t.Fatalf("seller holds %v", w.Positions)
	}
}

func TestOrderTimeInForceOutcomes(t *testing.T) {
	f := start(t)
	ctx := ctxT(t)
	if err := f.sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes,
		Asks: []polybot.Level{lv("0.50", "10"), lv("0.55", "10")}}); err != nil {
		t.Fatal(err)
	}
	x, _ := f.tenant(t, f.cfg)
	tests := []struct {
		name       string
		req        polybot.OrderRequest
		wantState  polybot.OrderState
		wantFilled string
		wantErr    string
	}{
		{"a FOK that the book cannot fill is refused whole", order("fok-1", yes, polybot.Buy, "0.50", "15", polybot.FOK), "", "", "order couldn't be fully filled. FOK orders are fully filled or killed."},
		{"a FAK fills what crosses and cancels the rest", order("fak-1", yes, polybot.Buy, "0.50", "15", polybot.FAK), polybot.OrderPartial, "10", ""},
		{"a FAK that crosses nothing is refused", order("fak-2", yes, polybot.Buy, "0.10", "5", polybot.FAK), "", "", "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."},
		{"a FOK that the book can fill fills", order("fok-2", yes, polybot.Buy, "0.55", "10", polybot.FOK), polybot.OrderFilled, "10", ""},
		{"a GTD rests until its expiry", polybot.OrderRequest{ClientOrderID: "gtd-1", Instrument: yes, Side: polybot.Buy, Price: d("0.20"), Size: d("5"), TIF: polybot.GTD, Expiration: time.Now().Add(time.Hour)}, polybot.OrderOpen, "0", ""},
		{"an order beyond the wallet's balance is refused", order("big", yes, polybot.Buy, "0.90", "5000", polybot.GTC), "", "", "not enough balance / allowance"},
		{"a price outside the tick range is refused before sending", order("p", yes, polybot.Buy, "1.00", "5", polybot.GTC), "", "", "invalid price: 1.00 is outside [0.01, 0.99]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := x.PlaceOrder(ctx, tt.req)
			if tt.wantErr != "" {
				if err == nil || polybot.ErrorMessage(err) != tt.wantErr && venueMessage(err) != tt.wantErr {
					t.Fatalf("want %q, got %v", tt.wantErr, err)
				}
				if errors.Is(err, polybot.ErrOutcomeUnknown) {
					t.Fatal("a refusal is not an unknown outcome")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantFilled == "10" && tt.req.TIF == polybot.FAK {
				// A FAK's remainder is cancelled: the venue reports it done.
				if st.Filled != d("10") {
					t.Fatalf("%+v", st)
				}
				return
			}
			if st.State != tt.wantState || st.Filled != d(tt.wantFilled) {
				t.Fatalf("got %s filled %v, want %s %s", st.State, st.Filled, tt.wantState, tt.wantFilled)
			}
		})
	}
}

func venueMessage(err error) string {
	var ve *polybot.VenueError
	if errors.As(err, &ve) {
		return ve.Message
	}
	return ""
}

func TestVenueFailuresMapToVenueErrors(t *testing.T) {
	f := start(t)
	ctx := ctxT(t)
	x, _ := f.tenant(t, f.cfg)
	if err := x.ValidateCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	c := pm.NewClient(f.cfg)
	t.Run("429 carries the venue's message", func(t *testing.T) {
		f.sim.Faults().RateLimitNext("GET", "/book", 1, 3*time.Second)
		_, err := c.Book(ctx, yesToken)
		// The venue has no error code of its own: Code stays empty.
		if ve := venuetest.VenueError(t, err); ve.Status != http.StatusTooManyRequests || ve.Code != "" || ve.Message != "Too Many Requests" {
			t.Fatalf("got %+v", ve)
		}
	})
	t.Run("an unknown token is the venue's 404", func(t *testing.T) {
		_, err := c.Book(ctx, "123")
		ve := venuetest.VenueError(t, err)
		if ve.Status != http.StatusNotFound || ve.Message != "No orderbook exists for the requested token id" {
			t.Fatalf("got %+v", ve)
		}
	})
}

func TestMetadataAndWalletActivityComeFromTheGammaAndDataAPIs(t *testing.T) {
	f := start(t)
	ctx := ctxT(t)
	c := pm.NewClient(f.cfg)
	ms, err := c.Markets(ctx, pm.MarketsQuery{ConditionIDs: []string{marketID}})
	if err != nil || len(ms) != 1 {
		t.Fatalf("%+v %v", ms, err)
	}
	insts := ms[0].Instruments()
	if len(insts) != 2 || insts[0] != yes || insts[1] != no || ms[0].TickSize != d("0.01") {
		t.Fatalf("instruments %+v tick %v", insts, ms[0].TickSize)
	}
	if err := f.sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes, Asks: []polybot.Level{lv("0.25", "40")}}); err != nil {
		t.Fatal(err)
	}
	x, w := f.tenant(t, f.cfg)
	if _, err := x.PlaceOrder(ctx, order("copy-me", yes, polybot.Buy, "0.25", "8", polybot.FOK)); err != nil {
		t.Fatal(err)
	}
	trades, err := c.WalletTrades(ctx, pm.WalletTradesQuery{User: w.Address().String()})
	if err != nil || len(trades) != 1 || trades[0].Size.Decimal != d("8") || trades[0].Price.Decimal != d("0.25") ||
		trades[0].Side != "BUY" || trades[0].Asset != yesToken || trades[0].OutcomeIndex != 0 {
		t.Fatalf("wallet trades %+v %v", trades, err)
	}
}

func TestAMarketsFeeScheduleIsPublishedParsedAndChargedToTheTaker(t *testing.T) {
	const (
		feeMarket = "0x00000000000000000000000000000000000000000000000000000000000fee05"
		feeYes    = "1111111111111111111111111111111111111111111111111111111111111111111111111111"
		feeNo     = "2222222222222222222222222222222222222222222222222222222222222222222222222222"
	)
	f := start(t)
	ctx := ctxT(t)
	economics := fee.PolymarketSchedule{Rate: d("0.05"), Exponent: 1}
	if err := f.sim.AddMarket(sim.Market{ConditionID: feeMarket, Tokens: [2]string{feeYes, feeNo}, TickSize: d("0.01"),
		MinOrderSize: d("5"), FeeSchedule: economics, RebateRate: d("0.25")}); err != nil {
		t.Fatal(err)
	}
	c := pm.NewClient(f.cfg)

	// Gamma: feesEnabled and feeSchedule; a fee-free market has neither.
	ms, err := c.Markets(ctx, pm.MarketsQuery{ConditionIDs: []string{feeMarket, marketID}})
	if err != nil || len(ms) != 2 {
		t.Fatalf("%+v %v", ms, err)
	}
	for _, m := range ms {
		switch m.ConditionID {
		case feeMarket:
			if !m.FeesEnabled || m.FeeSchedule != economics || m.RebateRate != d("0.25") || m.MinOrderSize != d("5") {
				t.Errorf("fee market %+v", m)
			}
		case marketID:
			if m.FeesEnabled || !m.FeeSchedule.FeeFree() {
				t.Errorf("fee-free market %+v", m)
			}
		}
	}
	// CLOB: fd {r, e, to}, omitted on the fee-free market.
	info, err := c.ClobMarketInfo(ctx, feeMarket)
	if err != nil || info.FeeSchedule != economics || info.MinOrderSize != d("5") || info.TickSize != d("0.01") {
		t.Fatalf("clob market info %+v %v", info, err)
	}
	if info, err := c.ClobMarketInfo(ctx, marketID); err != nil || !info.FeeSchedule.FeeFree() {
		t.Fatalf("fee-free clob market info %+v %v", info, err)
	}
	// The legacy base fee: 1000 where fees are on, 0 where not.
	if code, body := raw(t, http.MethodGet, f.urls.CLOB+"/fee-rate?token_id="+feeYes, nil, nil); code != 200 || body != `{"base_fee":1000}` {
		t.Errorf("fee-rate %d %s", code, body)
	}
	if code, body := raw(t, http.MethodGet, f.urls.CLOB+"/fee-rate?token_id="+yesToken, nil, nil); code != 200 || body != `{"base_fee":0}` {
		t.Errorf("fee-rate of the fee-free market %d %s", code, body)
	}

	// A taker buys 8 at 0.25: 8 × 0.05 × 0.25 × 0.75 = $0.075 in fees.
	inst := polybot.Instrument{Venue: polybot.Polymarket, Market: feeMarket, Token: feeYes, Outcome: polybot.Yes}
	if err := f.sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst, Asks: []polybot.Level{lv("0.25", "40")}}); err != nil {
		t.Fatal(err)
	}
	x, _ := f.tenant(t, f.cfg)
	before := time.Now().Add(-time.Second)
	if _, err := x.PlaceOrder(ctx, order("fee-1", inst, polybot.Buy, "0.25", "8", polybot.FOK)); err != nil {
		t.Fatal(err)
	}
	fills, err := x.Fills(ctx, before)
	if err != nil || len(fills) != 1 || fills[0].Fee != d("0.075") {
		t.Fatalf("fills %+v %v", fills, err)
	}
	if bal, err := x.Balance(ctx); err != nil || bal.Total != d("997.925") {
		t.Fatalf("balance %+v %v: want 1000 − 2 − 0.075", bal, err)
	}
}

// TestVenueConformance runs the shared suite (internal/venuetest) on the
// YES token of a fee-free market, with two wallets funded with the
// simulator's 1000 USDC.
func TestVenueConformance(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) *venuetest.Venue {
		f := start(t)
		var wallets [2]*eip712.Signer
		for i := range wallets {
			w, err := eip712.GenerateSigner()
			if err != nil {
				t.Fatal(err)
			}
			wallets[i] = w
		}
		return &venuetest.Venue{
			Instrument: yes,
			Exchange: func(t *testing.T, o venuetest.ExchangeOptions) polybot.Exchange {
				cfg := f.cfg
				if o.Timeout > 0 {
					cfg.Timeout = o.Timeout
				}
				creds := pm.Credentials{Wallet: wallets[o.Account]}
				if o.BadCredentials {
					// The wallet's API key with a wrong secret.
					good, err := pm.NewExchange(pm.NewClient(cfg), creds, pm.ExchangeOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if creds.API, err = good.APICreds(ctxT(t)); err != nil {
						t.Fatal(err)
					}
					creds.API.Secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
				}
				x, err := pm.NewExchange(pm.NewClient(cfg), creds, pm.ExchangeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return x
			},
			Cash:     d("1000"),
			TakerFee: polybot.Zero, // the market has no fee schedule
			SetBook: func(t *testing.T, bids, asks []polybot.Level) {
				if err := f.sim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yes, Bids: bids, Asks: asks}); err != nil {
					t.Fatal(err)
				}
			},
			Faults:             f.sim.Faults(),
			Feed:               func(t *testing.T) polybot.MarketFeed { return pm.NewFeed(f.cfg, nil) },
			VenueSubscriptions: func() int { return f.sim.MarketSubscriptions(yesToken) },
		}
	})
}
