package alpaca_test

// The connector against the simulator, over real loopback sockets, through
// Alpaca's official Go SDK. Expected numbers are worked by hand from the
// book below.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/alpaca"
	alpacasim "github.com/polybot/polybot/internal/venuesim/alpaca"
	"github.com/polybot/polybot/internal/venuetest"
)

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

func spy() polybot.Instrument { return polybot.Instrument{Venue: polybot.Alpaca, Market: "SPY"} }

// startSim serves one account with $20,000 and SPY bid 499.50 × 100, offered
// 500.00 × 10 and 500.10 × 100.
func startSim(t *testing.T) (*alpacasim.Server, string) {
	t.Helper()
	sim, err := alpacasim.New(alpacasim.Config{
		Accounts: []alpacasim.AccountConfig{{KeyID: "PKTEST", Secret: "secret", Cash: d("20000")}},
		Books: []alpacasim.BookConfig{{Symbol: "SPY",
			Bids: []polybot.Level{{Price: d("499.50"), Size: d("100")}},
			Asks: []polybot.Level{{Price: d("500.00"), Size: d("10")}, {Price: d("500.10"), Size: d("100")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	base := venuetest.StartSim(t, sim.Start, sim.Close)
	return sim, base
}

// spyOrder is an order on SPY; price "" sends a market order.
func spyOrder(coid string, side polybot.Side, price, size string, tif polybot.TimeInForce) polybot.OrderRequest {
	r := polybot.OrderRequest{ClientOrderID: coid, Instrument: spy(), Side: side, Size: d(size), TIF: tif}
	if price != "" {
		r.Price = d(price)
	}
	return r
}

func exchange(t *testing.T, base, key, secret string) *alpaca.Exchange {
	t.Helper()
	x, err := alpaca.New(alpaca.Config{KeyID: key, SecretKey: secret, BaseURL: base})
	return venuetest.Must(t, x, err)
}

func TestValidateCredentialsAcceptsTheKeyAndRefusesABadOne(t *testing.T) {
	_, base := startSim(t)
	tests := []struct {
		name, key, secret string
		wantStatus        int
	}{
		{"registered key", "PKTEST", "secret", 0},
		{"wrong secret", "PKTEST", "nope", http.StatusUnauthorized},
		{"unknown key", "PKOTHER", "secret", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exchange(t, base, tt.key, tt.secret).ValidateCredentials(context.Background())
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ve := venuetest.VenueError(t, err)
			if ve.Status != tt.wantStatus || ve.Code != "40110000" || !strings.Contains(ve.Message, "did not accept the API key") {
				t.Fatalf("error = %+v", ve)
			}
			if _, _, ok := polybot.CredentialRejection(polybot.Alpaca, ve, false); !ok {
				t.Fatal("CredentialRejection does not see a refused key")
			}
		})
	}
}

func TestNewRefusesAMissingKeyOrSecret(t *testing.T) {
	for _, c := range []alpaca.Config{{SecretKey: "s"}, {KeyID: "k"}} {
		if _, err := alpaca.New(c); polybot.ErrorCode(err) != polybot.EINVALID {
			t.Errorf("New(%+v) = %v, want invalid", c, err)
		}
	}
}

func TestLimitOrderByClientOrderIDIsPlacedReadBackAndCancelled(t *testing.T) {
	_, base := startSim(t)
	x := exchange(t, base, "PKTEST", "secret")
	ctx := context.Background()

	st, err := x.PlaceOrder(ctx, spyOrder("intent-1", polybot.Buy, "490", "10", polybot.GTC))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderOpen || st.VenueOrderID == "" || st.Price != d("490") || st.Size != d("10") || !st.Filled.IsZero() {
		t.Fatalf("placed = %+v", st)
	}
	got, err := x.Order(ctx, "intent-1")
	if err != nil || got.VenueOrderID != st.VenueOrderID || got.State != polybot.OrderOpen || got.Instrument != spy() {
		t.Fatalf("Order = %+v, %v", got, err)
	}
	open, err := x.OpenOrders(ctx)
	if err != nil || len(open) != 1 || open[0].ClientOrderID != "intent-1" {
		t.Fatalf("OpenOrders = %+v, %v", open, err)
	}
	// $4,900 is held for the open buy: 20,000 − 10 × 490.
	if b, err := x.Balance(ctx); err != nil || b.Total != d("20000") || b.Available != d("15100") {
		t.Fatalf("Balance = %+v, %v", b, err)
	}

	_, err = x.PlaceOrder(ctx, spyOrder("intent-1", polybot.Buy, "491", "1", polybot.GTC))
	if ve := venuetest.VenueError(t, err); ve.Status != http.StatusUnprocessableEntity || ve.Code != "40010001" || errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("duplicate client order id: %+v", ve)
	}

	if err := x.CancelOrder(ctx, "intent-1"); err != nil {
		t.Fatal(err)
	}
	got, err = x.Order(ctx, "intent-1")
	if err != nil || got.State != polybot.OrderCancelled || got.Reason != "canceled" {
		t.Fatalf("after cancel: %+v, %v", got, err)
	}
	if ve := venuetest.VenueError(t, x.CancelOrder(ctx, "intent-1")); ve.Status != http.StatusUnprocessableEntity || ve.Code != "42210000" {
		t.Fatalf("second cancel: %+v", ve)
	}
	if _, err := x.Order(ctx, "never-sent"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("unknown client order id: %v, want not found", err)
	}
	if b, err := x.Balance(ctx); err != nil || b.Available != d("20000") {
		t.Fatalf("Balance after cancel = %+v, %v", b, err)
	}
}

func TestMarketableOrdersFillAndMovePositionAndBalance(t *testing.T) {
	sim, base := startSim(t)
	x := exchange(t, base, "PKTEST", "secret")
	ctx := context.Background()

	// Buy 20 up to 500.10: 10 × 500.00 + 10 × 500.10 = 10,001.00.
	st, err := x.PlaceOrder(ctx, spyOrder("intent-2", polybot.Buy, "500.10", "20", polybot.FAK))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderFilled || st.Filled != d("20") {
		t.Fatalf("buy = %+v", st)
	}
	if got := sim.Cash("PKTEST"); got != d("9999") {
		t.Fatalf("sim cash = %s, want 9999", got)
	}
	// Sell 5 at market: 5 × 499.50 = 2,497.50.
	st, err = x.PlaceOrder(ctx, spyOrder("intent-3", polybot.Sell, "", "5", polybot.FAK))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != polybot.OrderFilled || st.Price != d("499.50") {
		t.Fatalf("market sell = %+v", st)
	}
	b, err := x.Balance(ctx)
	if err != nil || b.Total != d("12496.50") || b.Available != d("12496.50") {
		t.Fatalf("Balance = %+v, %v", b, err)
	}
	ps, err := x.Positions(ctx)
	if err != nil || len(ps) != 1 || ps[0].Instrument != spy() || ps[0].Size != d("15") || ps[0].AvgPrice != d("500.05") {
		t.Fatalf("Positions = %+v, %v", ps, err)
	}
	fills, err := x.Fills(ctx, time.Time{})
	if err != nil || len(fills) != 3 {
		t.Fatalf("Fills = %+v, %v", fills, err)
	}
	want := []struct {
		cid         string
		side        polybot.Side
		price, size string
	}{{"intent-2", polybot.Buy, "500.00", "10"}, {"intent-2", polybot.Buy, "500.10", "10"}, {"intent-3", polybot.Sell, "499.50", "5"}}
	for i, w := range want {
		f := fills[i]
		if f.ClientOrderID != w.cid || f.Side != w.side || f.Price != d(w.price) || f.Size != d(w.size) || f.TradeID == "" {
			t.Errorf("fill %d = %+v, want %+v", i, f, w)
		}
	}
	// Alpaca answers 403 to an order beyond buying power: not a key problem.
	_, err = x.PlaceOrder(ctx, spyOrder("intent-4", polybot.Buy, "490", "100", polybot.GTC))
	if ve := venuetest.VenueError(t, err); ve.Status != http.StatusForbidden || strings.Contains(ve.Message, "API key") {
		t.Fatalf("beyond buying power: %+v", ve)
	}
}

func TestPlaceOrderRefusesWhatAlpacaCannotTakeWithoutACall(t *testing.T) {
	x := exchange(t, "http://127.0.0.1:1", "k", "s")
	base := polybot.OrderRequest{ClientOrderID: "c", Instrument: spy(), Side: polybot.Buy, Price: d("10"), Size: d("1"), TIF: polybot.GTC}
	tests := []struct {
		name  string
		edit  func(*polybot.OrderRequest)
		field string
	}{
		{"no client order id", func(r *polybot.OrderRequest) { r.ClientOrderID = "" }, "client_order_id"},
		{"another venue", func(r *polybot.OrderRequest) { r.Instrument.Venue = polybot.Kalshi }, "instrument"},
		{"sub-cent price above $1", func(r *polybot.OrderRequest) { r.Price = d("10.001") }, "price"},
		{"zero size", func(r *polybot.OrderRequest) { r.Size = polybot.Zero }, "size"},
		{"good till date", func(r *polybot.OrderRequest) { r.TIF = polybot.GTD; r.Expiration = time.Now().Add(time.Hour) }, "time_in_force"},
		{"fractional fill-or-kill", func(r *polybot.OrderRequest) { r.Size = d("0.5"); r.TIF = polybot.FOK }, "time_in_force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			_, err := x.PlaceOrder(context.Background(), r)
			if _, ok := polybot.ErrorFields(err)[tt.field]; !ok {
				t.Fatalf("err = %v, want a field error on %s", err, tt.field)
			}
		})
	}
}

func TestAPostThatCannotBeDialledWasNeverSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	x := exchange(t, "http://"+addr, "k", "s")
	_, err = x.PlaceOrder(context.Background(), spyOrder("c", polybot.Buy, "10", "1", polybot.GTC))
	if venuetest.VenueError(t, err); errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("refused connection = %v, want a known failure", err)
	}
}

func TestContextCancelsTheCall(t *testing.T) {
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hold }))
	defer srv.Close()
	x := exchange(t, srv.URL, "k", "s")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := x.ValidateCredentials(ctx)
	close(hold)
	if err == nil {
		t.Fatal("ValidateCredentials succeeded against a server that never answers")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the context did not cancel the SDK's request")
	}
}
