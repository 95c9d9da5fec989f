package ibkr_test

// The connector against the gateway simulator, over real loopback sockets.
// Expected numbers are worked by hand from the books below.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/ibkr"
	"github.com/polybot/polybot/internal/venuesim/fault"
	ibkrsim "github.com/polybot/polybot/internal/venuesim/ibkr"
	"github.com/polybot/polybot/internal/venuetest"
)

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

const holdYes, holdNo = ibkrsim.FedHoldConid, ibkrsim.FedHoldConid + 1

// hold is a side of the "above 3.875%" question as a pair leg gives it:
// Market the YES conid, Token the side's conid.
func hold(o polybot.Outcome) polybot.Instrument {
	side := ibkr.Conid(holdYes)
	if o == polybot.No {
		side = holdNo
	}
	return ibkr.EventInstrument(holdYes, side, o)
}

// bare is the same side named by the YES conid and the outcome only.
func bare(o polybot.Outcome) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.IBKR, Market: "900000031", Outcome: o}
}

// startSim serves account DU100 with $1,000 and the December 2025 "above
// 3.875%" question: YES bid 0.28 × 50, ask 0.30 × 100; NO bid 0.70 × 50,
// ask 0.72 × 100; SPY offered at 500.00 × 10.
func startSim(t *testing.T, cfg ibkrsim.Config) (*ibkrsim.Server, string) {
	t.Helper()
	cfg.Accounts = append(cfg.Accounts, ibkrsim.AccountConfig{ID: "DU100", Cash: d("1000")})
	cfg.Books = append(cfg.Books,
		ibkrsim.BookConfig{Conid: holdYes, Bids: []polybot.Level{{Price: d("0.28"), Size: d("50")}}, Asks: []polybot.Level{{Price: d("0.30"), Size: d("100")}}},
		ibkrsim.BookConfig{Conid: holdNo, Bids: []polybot.Level{{Price: d("0.70"), Size: d("50")}}, Asks: []polybot.Level{{Price: d("0.72"), Size: d("100")}}},
		ibkrsim.BookConfig{Conid: 756733, Asks: []polybot.Level{{Price: d("500"), Size: d("10")}}})
	sim, err := ibkrsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := venuetest.StartSim(t, sim.Start, sim.Close)
	return sim, base
}

func exchange(t *testing.T, base, account string, replies ibkr.ReplyPolicy) *ibkr.Exchange {
	t.Helper()
	x, err := ibkr.New(ibkr.Config{GatewayURL: base, Account: account, Replies: replies})
	return venuetest.Must(t, x, err)
}

func TestSessionIsValidatedAsTheGatewayDoes(t *testing.T) {
	ctx := context.Background()
	sim, base := startSim(t, ibkrsim.Config{})
	x := exchange(t, base, "DU100", ibkr.ReplyPolicy{})
	if err := x.ValidateCredentials(ctx); err != nil {
		t.Fatalf("an open session trading DU100: %v", err)
	}
	if err := exchange(t, base, "DU999", ibkr.ReplyPolicy{}).ValidateCredentials(ctx); err == nil || !strings.Contains(err.Error(), "DU999") {
		t.Fatalf("an account the session may not trade: %v", err)
	}
	// Signed in to the gateway but no brokerage session: ssodh init opens it.
	sim.SetSession(true, false, false)
	if _, err := x.Client().Accounts(ctx); venuetest.VenueError(t, err).Status != 401 {
		t.Fatalf("/iserver without a brokerage session must be 401: %v", err)
	}
	if err := x.ValidateCredentials(ctx); err != nil {
		t.Fatalf("the connector opens the brokerage session: %v", err)
	}
	// A competing session is taken over by ssodh init with compete.
	sim.SetSession(true, true, true)
	if st, _ := x.Client().AuthStatus(ctx); !st.Competing || st.Authenticated {
		t.Fatalf("auth status shows the competing session: %+v", st)
	}
	if err := x.ValidateCredentials(ctx); err != nil {
		t.Fatalf("compete: %v", err)
	}
	// Nobody signed in: every endpoint 401, and nothing the connector can do.
	sim.SetSession(false, false, false)
	err := x.ValidateCredentials(ctx)
	if ve := venuetest.VenueError(t, err); ve.Status != 401 || ve.Unknown {
		t.Fatalf("signed out: %v", err)
	}
}

func TestKeepAliveTicklesUntilItsContextEnds(t *testing.T) {
	sim, base := startSim(t, ibkrsim.Config{})
	x, err := ibkr.New(ibkr.Config{GatewayURL: base, Account: "DU100", TickleEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sim.SetSession(true, false, false) // the tickle sees it closed and reopens it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Client().KeepAlive(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := x.Client().AuthStatus(context.Background())
		if err == nil && st.Authenticated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("keep-alive did not reopen the brokerage session")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("KeepAlive returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("KeepAlive did not stop with its context")
	}
}

func TestForecastExOrdersTradeAndNetLikeIBKR(t *testing.T) {
	ctx := context.Background()
	sim, base := startSim(t, ibkrsim.Config{})
	x := exchange(t, base, "DU100", ibkr.ReplyPolicy{})

	// Buy 10 YES at 0.30: fills against the 0.30 ask. Cash 1000 − 3.00.
	st, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "y1", Instrument: hold(polybot.Yes), Side: polybot.Buy,
		Price: d("0.30"), Size: d("10"), TIF: polybot.GTC})
	if err != nil || st.State != polybot.OrderFilled {
		t.Fatalf("buy YES: %+v, %v", st, err)
	}
	if got := sim.Cash("DU100"); got != d("997") {
		t.Fatalf("cash %s, want 997", got)
	}
	// A sell is refused before anything is sent.
	_, err = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "s1", Instrument: hold(polybot.Yes), Side: polybot.Sell,
		Price: d("0.28"), Size: d("5"), TIF: polybot.GTC})
	if polybot.ErrorCode(err) != polybot.EINVALID || !strings.Contains(err.Error(), "buying NO") {
		t.Fatalf("a ForecastEx sell: %v", err)
	}
	if _, err := x.Order(ctx, "s1"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("the refused sell never reached the gateway: %v", err)
	}
	if !ibkr.SellsByBuyingOpposite(hold(polybot.No)) || !ibkr.SellsByBuyingOpposite(bare(polybot.Yes)) || ibkr.SellsByBuyingOpposite(polybot.Instrument{Venue: polybot.IBKR, Market: "SPY"}) {
		t.Fatal("SellsByBuyingOpposite: event contracts yes, stocks no")
	}
	// Reduce by buying 4 NO at 0.72 (2.88): IBKR nets 4 pairs into $4.
	// Cash 997 − 2.88 + 4 = 998.12; 6 YES left at 0.30.
	// (Named by the YES conid and the outcome: the NO conid is looked up.)
	if _, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "n1", Instrument: bare(polybot.No), Side: polybot.Buy,
		Price: d("0.72"), Size: d("4"), TIF: polybot.FAK}); err != nil {
		t.Fatal(err)
	}
	if got := sim.Cash("DU100"); got != d("998.12") {
		t.Fatalf("cash after netting %s, want 998.12", got)
	}
	ps, err := x.Positions(ctx)
	if err != nil || len(ps) != 1 || ps[0].Instrument != hold(polybot.Yes) || ps[0].Size != d("6") || ps[0].AvgPrice != d("0.3") {
		t.Fatalf("positions %+v, %v", ps, err)
	}
	bal, err := x.Balance(ctx)
	if err != nil || bal.Total != d("998.12") || bal.Available != d("998.12") {
		t.Fatalf("balance %+v, %v", bal, err)
	}
	fills, err := x.Fills(ctx, time.Time{})
	if err != nil || len(fills) != 2 || fills[0].ClientOrderID != "y1" || fills[0].Size != d("10") || fills[0].Price != d("0.3") ||
		fills[1].Instrument != hold(polybot.No) || fills[1].Price != d("0.72") {
		t.Fatalf("fills %+v, %v", fills, err)
	}
	// The order by its cOID, from a fresh connector that never placed it.
	st, err = exchange(t, base, "DU100", ibkr.ReplyPolicy{}).Order(ctx, "n1")
	if err != nil || st.State != polybot.OrderFilled || st.Filled != d("4") || st.Instrument != hold(polybot.No) || st.VenueOrderID == "" {
		t.Fatalf("order by cOID %+v, %v", st, err)
	}
	// The same cOID again is refused by the gateway.
	_, err = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "y1", Instrument: hold(polybot.Yes), Side: polybot.Buy,
		Price: d("0.30"), Size: d("1"), TIF: polybot.GTC})
	if ve := venuetest.VenueError(t, err); ve.Unknown || !strings.Contains(ve.Message, "already registered") {
		t.Fatalf("duplicate cOID: %v", err)
	}
	// Off-tick and fractional orders are refused locally.
	for _, req := range []polybot.OrderRequest{
		{ClientOrderID: "t1", Instrument: hold(polybot.Yes), Price: d("0.305"), Size: d("1")},
		{ClientOrderID: "t2", Instrument: hold(polybot.Yes), Price: d("0.30"), Size: d("1.5")},
		{ClientOrderID: "t3", Instrument: hold(polybot.Yes), Price: d("0.30"), Size: d("1"), TIF: polybot.FOK},
	} {
		if _, err := x.PlaceOrder(ctx, req); polybot.ErrorCode(err) != polybot.EINVALID {
			t.Errorf("%s: %v", req.ClientOrderID, err)
		}
	}
}

func TestPriceQuestionNeedsThePolicyAndRestingOrdersCancel(t *testing.T) {
	ctx := context.Background()
	sim, base := startSim(t, ibkrsim.Config{})
	// A buy at 0.40 is 33% through the 0.30 offer (the simulator asks past
	// 10%): the gateway asks o163. No policy: the answer is no.
	through := polybot.OrderRequest{ClientOrderID: "through", Instrument: hold(polybot.Yes), Side: polybot.Buy, Price: d("0.40"), Size: d("5"), TIF: polybot.GTC}
	x := exchange(t, base, "DU100", ibkr.ReplyPolicy{})
	if _, err := x.PlaceOrder(ctx, through); polybot.ErrorCode(err) != polybot.EFORBIDDEN || !strings.Contains(err.Error(), "o163") {
		t.Fatalf("unaccepted question: %v", err)
	}
	if _, err := x.Order(ctx, "through"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("the refused order must not exist: %v", err)
	}
	if got := sim.Cash("DU100"); got != d("1000") {
		t.Fatalf("nothing traded, cash %s", got)
	}
	// With o163 accepted the order is placed, and fills at the offer.
	x = exchange(t, base, "DU100", ibkr.ReplyPolicy{MessageIDs: []string{ibkr.PricePercentageWarning}})
	st, err := x.PlaceOrder(ctx, through)
	if err != nil || st.State != polybot.OrderFilled || st.Filled != d("5") || st.Price != d("0.4") {
		t.Fatalf("confirmed: %+v, %v", st, err)
	}
	if got := sim.Cash("DU100"); got != d("998.5") {
		t.Fatalf("cash after 5 at 0.30: %s, want 998.50", got)
	}
	// A passive bid far below the market asks nothing and rests.
	x = exchange(t, base, "DU100", ibkr.ReplyPolicy{})
	far := polybot.OrderRequest{ClientOrderID: "far", Instrument: hold(polybot.Yes), Side: polybot.Buy, Price: d("0.10"), Size: d("5"), TIF: polybot.GTC}
	if st, err := x.PlaceOrder(ctx, far); err != nil || st.State != polybot.OrderOpen {
		t.Fatalf("a passive bid: %+v, %v", st, err)
	}
	open, err := x.OpenOrders(ctx)
	if err != nil || len(open) != 1 || open[0].ClientOrderID != "far" || open[0].Price != d("0.1") || open[0].Size != d("5") {
		t.Fatalf("open orders %+v, %v", open, err)
	}
	if err := x.CancelOrder(ctx, "far"); err != nil {
		t.Fatal(err)
	}
	if st, err := x.Order(ctx, "far"); err != nil || st.State != polybot.OrderCancelled {
		t.Fatalf("after cancel %+v, %v", st, err)
	}
	if open, _ := x.OpenOrders(ctx); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	// CancelAll clears a resting order too.
	far.ClientOrderID = "far2"
	if _, err := x.PlaceOrder(ctx, far); err != nil {
		t.Fatal(err)
	}
	if err := x.CancelAll(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := x.Order(ctx, "far2"); st == nil || st.State != polybot.OrderCancelled {
		t.Fatalf("CancelAll: %+v", st)
	}
}

func TestStocksTradeThroughTheSameConnector(t *testing.T) {
	ctx := context.Background()
	_, base := startSim(t, ibkrsim.Config{Accounts: []ibkrsim.AccountConfig{{ID: "DU200", Cash: d("5000")}}})
	x := exchange(t, base, "DU200", ibkr.ReplyPolicy{})
	spy := polybot.Instrument{Venue: polybot.IBKR, Market: "SPY"}
	st, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "spy1", Instrument: spy, Side: polybot.Buy, Price: d("500"), Size: d("2")})
	if err != nil || st.State != polybot.OrderFilled {
		t.Fatalf("buy SPY %+v, %v", st, err)
	}
	ps, _ := x.Positions(ctx)
	if len(ps) != 1 || ps[0].Instrument != spy || ps[0].Size != d("2") {
		t.Fatalf("positions %+v", ps)
	}
	// Selling a stock is allowed (unlike an event contract).
	if ibkr.SellsByBuyingOpposite(spy) {
		t.Fatal("stocks sell")
	}
	if _, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "spy2", Instrument: spy, Side: polybot.Sell, Price: d("500"), Size: d("1")}); err != nil {
		t.Fatalf("sell SPY: %v", err)
	}
	if _, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "x1", Instrument: polybot.Instrument{Venue: polybot.IBKR, Market: "NOPE"},
		Price: d("1"), Size: d("1")}); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("unknown symbol: %v", err)
	}
}

func TestTransportFailuresAreClassified(t *testing.T) {
	ctx := context.Background()
	req := polybot.OrderRequest{ClientOrderID: "u1", Instrument: hold(polybot.Yes), Price: d("0.30"), Size: d("1"), TIF: polybot.GTC}

	// Nothing listens: the dial fails, the order was never sent.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, err := exchange(t, dead, "DU100", ibkr.ReplyPolicy{}).PlaceOrder(ctx, req)
	if ve := venuetest.VenueError(t, err); ve.Unknown || errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("a failed dial is never sent: %v", err)
	}

	// The gateway reads the order and hangs up without answering: unknown.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	_, err = exchange(t, "http://"+ln.Addr().String(), "DU100", ibkr.ReplyPolicy{}).PlaceOrder(ctx, req)
	if !errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("a reset after the order was written leaves the outcome unknown: %v", err)
	}
	ln.Close()
	wg.Wait()

	// The gateway places the order and never answers: unknown, and the
	// order is then found by its cOID, not sent again.
	sim, base := startSim(t, ibkrsim.Config{})
	sim.Faults().TimeoutAfterAccept("POST", "/iserver/account/DU100/orders", 1)
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	xt, err := ibkr.New(ibkr.Config{GatewayURL: base, Account: "DU100", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = xt.PlaceOrder(ctx, req)
	if !errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("a timeout after the gateway accepted the order: %v", err)
	}
	if st, err := xt.Order(ctx, "u1"); err != nil || st.State != polybot.OrderFilled || st.Filled != d("1") {
		t.Fatalf("the order the gateway kept, by its cOID: %+v, %v", st, err)
	}

	// An injected 503 on a read is a plain venue error with the status.
	_, base = startSim(t, ibkrsim.Config{Faults: fault.Config{FailEvery: 1}})
	_, err = exchange(t, base, "DU100", ibkr.ReplyPolicy{}).Client().AuthStatus(ctx)
	if ve := venuetest.VenueError(t, err); ve.Status != 503 || ve.Unknown {
		t.Fatalf("503 on a read: %v", err)
	}
}

func TestFeedStreamsTopOfBookAndUpdatesAfterTrades(t *testing.T) {
	sim, base := startSim(t, ibkrsim.Config{})
	x := exchange(t, base, "DU100", ibkr.ReplyPolicy{})
	f := ibkr.NewFeed(x, ibkr.FeedConfig{MinBackoff: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan polybot.BookEvent, 64)
	go func() { _ = f.Run(ctx, func(ev polybot.BookEvent) { events <- ev }) }()
	if err := f.Subscribe(ctx, hold(polybot.Yes), hold(polybot.No)); err != nil {
		t.Fatal(err)
	}
	want := map[polybot.Instrument]polybot.Level{hold(polybot.Yes): {Price: d("0.30"), Size: d("100")}, hold(polybot.No): {Price: d("0.72"), Size: d("100")}}
	got := map[polybot.Instrument]bool{}
	wait := func(cond func(polybot.BookEvent) bool) {
		t.Helper()
		for {
			select {
			case ev := <-events:
				if cond(ev) {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no such book event")
			}
		}
	}
	wait(func(ev polybot.BookEvent) bool {
		if ev.Kind == polybot.BookSnapshot && len(ev.Asks) == 1 && ev.Asks[0] == want[ev.Instrument] && ev.TickSize == d("0.01") {
			got[ev.Instrument] = true
		}
		return len(got) == 2
	})
	// Someone takes 40 of the YES ask: the next snapshot shows 60 left.
	if err := sim.SetBook(holdYes, []polybot.Level{{Price: d("0.28"), Size: d("50")}}, []polybot.Level{{Price: d("0.30"), Size: d("60")}}); err != nil {
		t.Fatal(err)
	}
	wait(func(ev polybot.BookEvent) bool {
		return ev.Instrument == hold(polybot.Yes) && len(ev.Asks) == 1 && ev.Asks[0].Size == d("60") && len(ev.Bids) == 1 && ev.Bids[0].Price == d("0.28")
	})
	// The snapshot endpoint agrees.
	q, err := x.Quote(ctx, hold(polybot.No))
	if err != nil || q.Bid != d("0.70") || q.Ask != d("0.72") || q.AskSize != d("100") {
		t.Fatalf("snapshot %+v, %v", q, err)
	}
	// Closing the gateway invalidates the books.
	sim.Close()
	wait(func(ev polybot.BookEvent) bool { return ev.Kind == polybot.BookInvalidate })
}

// A trading exchange keeps its gateway session alive (tickles) until it is
// closed; one only asked to validate its credentials keeps nothing alive.
func TestATradingExchangeTicklesTheGatewayUntilClosed(t *testing.T) {
	_, base := startSim(t, ibkrsim.Config{})
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var tickles atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/tickle") {
			tickles.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	ctx := context.Background()
	open := func() *ibkr.Exchange {
		x, err := ibkr.New(ibkr.Config{GatewayURL: front.URL, Account: "DU100", TickleEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	check := open()
	if err := check.ValidateCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if n := tickles.Load(); n != 0 {
		t.Fatalf("a key check tickled the gateway %d times, want none", n)
	}
	x := open()
	if _, err := x.Positions(ctx); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); tickles.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d tickles in 5 s from a trading exchange, want a tickle every 20 ms", tickles.Load())
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	after := tickles.Load()
	time.Sleep(150 * time.Millisecond)
	if n := tickles.Load(); n != after {
		t.Fatalf("%d tickles after Close, want none", n-after)
	}
}
