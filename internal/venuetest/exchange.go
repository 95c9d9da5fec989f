package venuetest

import (
	"errors"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/fault"
)

var exchangeScenarios = []scenario{
	{"ValidateCredentialsAcceptsTheKeyAndRefusesABadOne", testValidateCredentials},
	{"ALimitOrderRestsAndIsReadBackByClientOrderID", testLimitOrderReadBack},
	{"ARepeatedClientOrderIDMakesNoSecondOrder", testRepeatedClientOrderID},
	{"AnUnknownClientOrderIDIsNotFound", testUnknownOrder},
	{"CancelOrderCancelsAndASecondCancelIsRefused", testCancel},
	{"CancelAllLeavesNoOpenOrder", testCancelAll},
	{"AnotherAccountsOrdersAreNotSeen", testAccountsAreSeparate},
	{"AMarketableOrderFillsAndFillsPositionsAndBalanceAgree", testMarketableFill},
	{"AFillOrKillThatCannotFillLeavesNothing", testFOKNotFillable},
	{"ASellReducesAHoldingOrIsRefused", testSell},
	{"ALostAnswerIsAnUnknownOutcomeAndTheOrderIsFoundNotResent", testTimeoutAfterAccept},
	{"ARateLimitCarriesRetryAfter", testRateLimit},
	{"A5xxOnPlacingIsAnUnknownOutcomeAndOnAReadIsNot", test5xx},
}

func testValidateCredentials(t *testing.T, e *env) {
	if err := e.exchange(t, ExchangeOptions{}).ValidateCredentials(e.ctx); err != nil {
		t.Fatalf("the funded account's credentials: %v", err)
	}
	if err := e.exchange(t, ExchangeOptions{Account: 1}).ValidateCredentials(e.ctx); err != nil {
		t.Fatalf("the second account's credentials: %v", err)
	}
	if !e.caps.credentials {
		t.Skip("the venue has no credentials to refuse")
	}
	refusal(t, "bad credentials", e.exchange(t, ExchangeOptions{BadCredentials: true}).ValidateCredentials(e.ctx))
}

// restingBook is outside liquidity that the suite's resting bids (0.20 and
// 0.21) never cross.
func (e *env) restingBook(t *testing.T) {
	e.SetBook(t, nil, levels(L("0.40", "6")))
}

func testLimitOrderReadBack(t *testing.T, e *env) {
	e.restingBook(t)
	x := e.exchange(t, ExchangeOptions{})
	req := e.order("vt-rest-1", polybot.Buy, "0.20", "5", polybot.GTC)
	st := e.place(t, x, req)
	if st.State != polybot.OrderOpen || !st.Filled.IsZero() || st.VenueOrderID == "" {
		t.Fatalf("placed: %+v, want open, nothing filled, with a venue order id", st)
	}
	got, err := x.Order(e.ctx, req.ClientOrderID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientOrderID != req.ClientOrderID || got.VenueOrderID != st.VenueOrderID || got.Instrument != e.Instrument ||
		got.Side != polybot.Buy || got.Price != D("0.20") || got.Size != D("5") || got.State != polybot.OrderOpen || !got.Filled.IsZero() {
		t.Fatalf("read back: %+v, want the order as placed (%+v)", got, st)
	}
	open, err := x.OpenOrders(e.ctx)
	if err != nil || len(open) != 1 || open[0].ClientOrderID != req.ClientOrderID || open[0].VenueOrderID != st.VenueOrderID {
		t.Fatalf("open orders: %+v, %v, want the one order", open, err)
	}
}

func testRepeatedClientOrderID(t *testing.T, e *env) {
	e.restingBook(t)
	x := e.exchange(t, ExchangeOptions{})
	req := e.order("vt-dup-1", polybot.Buy, "0.20", "5", polybot.GTC)
	first := e.place(t, x, req)
	// The same intent again: the venue refuses it or answers with the
	// first order; never a second one.
	again, err := x.PlaceOrder(e.ctx, req)
	switch {
	case err != nil:
		refusal(t, "the repeated order", err)
	case again.VenueOrderID != first.VenueOrderID:
		t.Fatalf("the repeat made order %s besides %s", again.VenueOrderID, first.VenueOrderID)
	}
	if n := e.countOpen(t, x, req.ClientOrderID); n != 1 {
		t.Fatalf("%d open orders carry the client order id, want 1", n)
	}
	if got, err := x.Order(e.ctx, req.ClientOrderID); err != nil || got.VenueOrderID != first.VenueOrderID || got.Size != D("5") {
		t.Fatalf("read back: %+v, %v", got, err)
	}
}

func testUnknownOrder(t *testing.T, e *env) {
	x := e.exchange(t, ExchangeOptions{})
	if _, err := x.Order(e.ctx, "vt-never-sent"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("Order of an id never sent: %v, want ENOTFOUND", err)
	}
}

func testCancel(t *testing.T, e *env) {
	e.restingBook(t)
	x := e.exchange(t, ExchangeOptions{})
	e.place(t, x, e.order("vt-cancel-1", polybot.Buy, "0.20", "5", polybot.GTC))
	if err := x.CancelOrder(e.ctx, "vt-cancel-1"); err != nil {
		t.Fatal(err)
	}
	st, err := x.Order(e.ctx, "vt-cancel-1")
	if err != nil || st.State != polybot.OrderCancelled || !st.Filled.IsZero() {
		t.Fatalf("after cancel: %+v, %v, want cancelled", st, err)
	}
	refusal(t, "cancelling a cancelled order", x.CancelOrder(e.ctx, "vt-cancel-1"))
	refusal(t, "cancelling an order never sent", x.CancelOrder(e.ctx, "vt-never-sent"))
	if n := e.countOpen(t, x, "vt-cancel-1"); n != 0 {
		t.Fatalf("the cancelled order is still open (%d)", n)
	}
}

func testCancelAll(t *testing.T, e *env) {
	e.restingBook(t)
	x := e.exchange(t, ExchangeOptions{})
	for _, o := range []polybot.OrderRequest{
		e.order("vt-all-1", polybot.Buy, "0.20", "5", polybot.GTC),
		e.order("vt-all-2", polybot.Buy, "0.21", "3", polybot.GTC),
	} {
		e.place(t, x, o)
	}
	if open, err := x.OpenOrders(e.ctx); err != nil || len(open) != 2 {
		t.Fatalf("open orders before CancelAll: %+v, %v, want 2", open, err)
	}
	if err := x.CancelAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if open, err := x.OpenOrders(e.ctx); err != nil || len(open) != 0 {
		t.Fatalf("open orders after CancelAll: %+v, %v, want none", open, err)
	}
	for _, id := range []string{"vt-all-1", "vt-all-2"} {
		if st, err := x.Order(e.ctx, id); err != nil || st.State != polybot.OrderCancelled {
			t.Fatalf("%s after CancelAll: %+v, %v, want cancelled", id, st, err)
		}
	}
}

func testAccountsAreSeparate(t *testing.T, e *env) {
	e.restingBook(t)
	a, b := e.exchange(t, ExchangeOptions{}), e.exchange(t, ExchangeOptions{Account: 1})
	e.place(t, b, e.order("vt-other-1", polybot.Buy, "0.20", "5", polybot.GTC))
	if open, err := a.OpenOrders(e.ctx); err != nil || len(open) != 0 {
		t.Fatalf("account 0 sees %+v, %v, want no open order", open, err)
	}
	if _, err := a.Order(e.ctx, "vt-other-1"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("account 0 reads account 1's order: %v, want ENOTFOUND", err)
	}
	if err := a.CancelAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.countOpen(t, b, "vt-other-1"); n != 1 {
		t.Fatalf("account 0's CancelAll reached account 1's order (%d open)", n)
	}
}

// testMarketableFill buys up to 10 at 0.42, fill-and-kill, from asks of 6
// at 0.40 and 10 at 0.45: 6 fill at 0.40 (a cost of 2.40 plus the venue's
// fee), the rest is cancelled.
func testMarketableFill(t *testing.T, e *env) {
	e.SetBook(t, levels(L("0.30", "5")), levels(L("0.40", "6"), L("0.45", "10")))
	x := e.exchange(t, ExchangeOptions{})
	if st := e.place(t, x, e.order("vt-take-1", polybot.Buy, "0.42", "10", polybot.FAK)); st.Filled != D("6") {
		t.Fatalf("placed: %+v, want 6 filled", st)
	}
	if got, err := x.Order(e.ctx, "vt-take-1"); err != nil || got.Filled != D("6") || got.State == polybot.OrderOpen {
		t.Fatalf("read back: %+v, %v, want 6 filled and nothing resting", got, err)
	}
	if n := e.countOpen(t, x, "vt-take-1"); n != 0 {
		t.Fatal("a fill-and-kill order's rest is open")
	}
	fills, err := x.Fills(e.ctx, e.start)
	if err != nil {
		t.Fatal(err)
	}
	var size, fee polybot.Decimal
	for _, f := range fills {
		if f.ClientOrderID != "vt-take-1" || f.Instrument != e.Instrument || f.Side != polybot.Buy || f.Price != D("0.40") || f.Maker || f.TradeID == "" {
			t.Fatalf("fill %+v, want a taker buy of the instrument at 0.40 for vt-take-1", f)
		}
		size, fee = size.Add(f.Size), fee.Add(f.Fee)
	}
	if size != D("6") || fee != e.TakerFee {
		t.Fatalf("fills %+v: %s filled with %s fees, want 6 with %s", fills, size, fee, e.TakerFee)
	}
	if !e.caps.accounting {
		t.Skip("the venue keeps no positions or balance")
	}
	pos, err := x.Positions(e.ctx)
	if err != nil || len(pos) != 1 || pos[0].Instrument != e.Instrument || pos[0].Size != D("6") || pos[0].AvgPrice != D("0.40") {
		t.Fatalf("positions %+v, %v, want 6 at 0.40", pos, err)
	}
	// Available and Total are the cash left (nothing rests): Balance is
	// cash on every venue, never the position's value.
	want := e.Cash.Sub(D("2.40")).Sub(e.TakerFee)
	if bal, err := x.Balance(e.ctx); err != nil || bal.Available != want || bal.Total != want {
		t.Fatalf("balance %+v, %v, want %s available and in total (%s − 2.40 − %s)", bal, err, want, e.Cash, e.TakerFee)
	}
}

// testFOKNotFillable asks 10 at 0.40 fill-or-kill from 6: nothing fills and
// nothing rests.
func testFOKNotFillable(t *testing.T, e *env) {
	if !e.caps.fok {
		t.Skip("the venue has no fill-or-kill orders")
	}
	e.SetBook(t, nil, levels(L("0.40", "6")))
	x := e.exchange(t, ExchangeOptions{})
	st, err := x.PlaceOrder(e.ctx, e.order("vt-fok-1", polybot.Buy, "0.40", "10", polybot.FOK))
	switch {
	case err != nil:
		refusal(t, "the fill-or-kill order", err)
	case !st.Filled.IsZero() || (st.State != polybot.OrderCancelled && st.State != polybot.OrderRejected):
		t.Fatalf("placed: %+v, want cancelled or rejected with nothing filled", st)
	}
	if n := e.countOpen(t, x, "vt-fok-1"); n != 0 {
		t.Fatal("the fill-or-kill order rests")
	}
	if fills, err := x.Fills(e.ctx, e.start); err != nil || len(fills) != 0 {
		t.Fatalf("fills %+v, %v, want none", fills, err)
	}
	// The 6 offered are still there for a fill-or-kill of 6.
	if st := e.place(t, x, e.order("vt-fok-2", polybot.Buy, "0.40", "6", polybot.FOK)); st.Filled != D("6") {
		t.Fatalf("a fill-or-kill of what is offered: %+v, want 6 filled", st)
	}
	if !e.caps.accounting {
		return
	}
	if pos, err := x.Positions(e.ctx); err != nil || len(pos) != 1 || pos[0].Size != D("6") {
		t.Fatalf("positions %+v, %v, want only the second order's 6", pos, err)
	}
}

// testSell buys 6 at 0.40 and sells 4 of them into a bid of 5 at 0.30:
// 2 are left. Where the venue has no sells, the sell is refused and
// nothing rests.
func testSell(t *testing.T, e *env) {
	e.SetBook(t, levels(L("0.30", "5")), levels(L("0.40", "6")))
	x := e.exchange(t, ExchangeOptions{})
	if st := e.place(t, x, e.order("vt-hold-1", polybot.Buy, "0.40", "6", polybot.FAK)); st.Filled != D("6") {
		t.Fatalf("buying 6: %+v", st)
	}
	st, err := x.PlaceOrder(e.ctx, e.order("vt-sell-1", polybot.Sell, "0.30", "4", polybot.FAK))
	if !e.caps.sells {
		refusal(t, "a sell where the venue has none", err)
		if n := e.countOpen(t, x, "vt-sell-1"); n != 0 {
			t.Fatal("the refused sell rests")
		}
		return
	}
	if err != nil || st.Filled != D("4") {
		t.Fatalf("selling 4: %+v, %v, want 4 filled", st, err)
	}
	fills, err := x.Fills(e.ctx, e.start)
	if err != nil {
		t.Fatal(err)
	}
	var sold polybot.Decimal
	for _, f := range fills {
		if f.ClientOrderID == "vt-sell-1" {
			if f.Side != polybot.Sell || f.Price != D("0.30") || f.Instrument != e.Instrument {
				t.Fatalf("sell fill %+v, want a sale at 0.30", f)
			}
			sold = sold.Add(f.Size)
		}
	}
	if sold != D("4") {
		t.Fatalf("fills %+v: %s sold, want 4", fills, sold)
	}
	if !e.caps.accounting {
		return
	}
	if pos, err := x.Positions(e.ctx); err != nil || len(pos) != 1 || pos[0].Size != D("2") || pos[0].Instrument != e.Instrument {
		t.Fatalf("positions %+v, %v, want 2 left", pos, err)
	}
}

// testTimeoutAfterAccept loses the answer to an order the venue accepted:
// the error wraps ErrOutcomeUnknown, the connector does not send it again,
// and Order finds it by its client order id.
func testTimeoutAfterAccept(t *testing.T, e *env) {
	e.needFaults(t)
	e.restingBook(t)
	x := e.exchange(t, ExchangeOptions{Timeout: 400 * time.Millisecond})
	if err := x.ValidateCredentials(e.ctx); err != nil { // sign-in calls, before the fault
		t.Fatal(err)
	}
	e.Faults.Add(fault.Rule{Kind: fault.TimeoutAfterAccept, Method: "POST", Times: 1, Hold: 5 * time.Second})
	_, err := x.PlaceOrder(e.ctx, e.order("vt-lost-1", polybot.Buy, "0.20", "2", polybot.GTC))
	if !errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want one wrapping polybot.ErrOutcomeUnknown", err)
	}
	st, err := x.Order(e.ctx, "vt-lost-1")
	if err != nil || st.State != polybot.OrderOpen || st.Size != D("2") || st.Price != D("0.20") {
		t.Fatalf("the lost order read back: %+v, %v, want open 2 at 0.20", st, err)
	}
	if n := e.countOpen(t, x, "vt-lost-1"); n != 1 {
		t.Fatalf("%d open orders carry the client order id, want 1 (never resent)", n)
	}
}

// testRateLimit answers the next call 429 with a Retry-After of 2 s.
func testRateLimit(t *testing.T, e *env) {
	e.needFaults(t)
	x := e.exchange(t, ExchangeOptions{})
	if err := x.ValidateCredentials(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.Faults.RateLimitNext("", "", 1, 2*time.Second)
	_, err := x.Balance(e.ctx)
	var ve *polybot.VenueError
	if !errors.As(err, &ve) || ve.Status != 429 || ve.RetryAfter != 2*time.Second || ve.Venue != e.Instrument.Venue {
		t.Fatalf("err = %v, want a %s VenueError 429 with RetryAfter 2s", err, e.Instrument.Venue)
	}
	if errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatal("a rate-limited read is not an unknown outcome")
	}
	if _, err := x.Balance(e.ctx); err != nil {
		t.Fatalf("the next call: %v", err)
	}
	// A rate-limited order was refused before the venue looked at it: a
	// known failure, and no order.
	e.restingBook(t)
	e.Faults.RateLimitNext("POST", "", 1, time.Second)
	_, err = x.PlaceOrder(e.ctx, e.order("vt-429-1", polybot.Buy, "0.20", "1", polybot.GTC))
	if !errors.As(err, &ve) || ve.Status != 429 || ve.RetryAfter != time.Second || errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("placing under a 429: %v, want a known failure with RetryAfter 1s", err)
	}
	if _, err := x.Order(e.ctx, "vt-429-1"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("the rate-limited order: %v, want ENOTFOUND", err)
	}
}

// test5xx answers the next order POST, then the next read, with a 5xx
// (the simulator does not carry either out): placing is an unknown outcome
// (the venue may have acted), the read a plain failure.
func test5xx(t *testing.T, e *env) {
	e.needFaults(t)
	e.restingBook(t)
	x := e.exchange(t, ExchangeOptions{})
	if err := x.ValidateCredentials(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.Faults.FailNext("POST", "", 1, 503)
	_, err := x.PlaceOrder(e.ctx, e.order("vt-5xx-1", polybot.Buy, "0.20", "1", polybot.GTC))
	var ve *polybot.VenueError
	if !errors.Is(err, polybot.ErrOutcomeUnknown) || !errors.As(err, &ve) || ve.Status != 503 {
		t.Fatalf("placing under a 503: %v, want an unknown outcome with HTTP 503", err)
	}
	if _, err := x.Order(e.ctx, "vt-5xx-1"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("the order the venue never took: %v, want ENOTFOUND", err)
	}
	e.Faults.FailNext("GET", "", 1, 500)
	_, err = x.Positions(e.ctx)
	if !errors.As(err, &ve) || ve.Status != 500 || errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("a read under a 500: %v, want a known failure with HTTP 500", err)
	}
}
