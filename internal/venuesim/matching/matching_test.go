package matching

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

var t0 = time.Date(2025, 12, 1, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

func lv(p, s string) polybot.Level { return polybot.Level{Price: d(p), Size: d(s)} }

// rq builds a request on book "B": side is "buy" or "sell".
func rq(acct, side, price, size string, tif polybot.TimeInForce) Request {
	s := polybot.Buy
	if side == "sell" {
		s = polybot.Sell
	}
	return Request{Book: "B", Account: acct, Side: s, Price: d(price), Size: d(size), TIF: tif}
}

func tradesString(ts []Trade) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s>%s %sx%s;", t.MakerOrderID, t.TakerOrderID, t.Price, t.Size)
	}
	return b.String()
}

func levelsString(ls []polybot.Level) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.Price.String()+"x"+l.Size.String())
	}
	return strings.Join(parts, " ")
}

func depthString(dp Depth) string {
	return "bids " + levelsString(dp.Bids) + " | asks " + levelsString(dp.Asks)
}

func newEngine() (*Engine, *clock) {
	c := &clock{t: t0}
	return New(Config{Now: c.Now}), c
}

func mustSubmit(t *testing.T, e *Engine, r Request) Result {
	t.Helper()
	res, err := e.Submit(r)
	if err != nil {
		t.Fatalf("submit %+v: %v", r, err)
	}
	return res
}

func TestSubmitMatchesByPriceTimeAndTimeInForce(t *testing.T) {
	// Every case starts from the same book. Resting asks, in arrival order:
	// o1 s1 0.50x10, o2 s2 0.50x10, o3 s3 0.49x10, o4 s1 0.52x5.
	// Resting bids: o5 b1 0.45x20, o6 b2 0.47x4.
	setup := []Request{
		rq("s1", "sell", "0.50", "10", polybot.GTC),
		rq("s2", "sell", "0.50", "10", polybot.GTC),
		rq("s3", "sell", "0.49", "10", polybot.GTC),
		rq("s1", "sell", "0.52", "5", polybot.GTC),
		rq("b1", "buy", "0.45", "20", polybot.GTC),
		rq("b2", "buy", "0.47", "4", polybot.GTC),
	}
	const book0 = "bids 0.47x4.00 0.45x20.00 | asks 0.49x10.00 0.50x20.00 0.52x5.00"
	tests := []struct {
		name       string
		req        Request
		wantState  polybot.OrderState
		wantFilled string
		wantTrades string
		wantDepth  string
	}{
		{"GTC that does not cross rests",
			rq("t", "buy", "0.48", "3", polybot.GTC), polybot.OrderOpen, "0.00", "",
			"bids 0.48x3.00 0.47x4.00 0.45x20.00 | asks 0.49x10.00 0.50x20.00 0.52x5.00"},
		{"best price first, then arrival order within a level; the taker's remainder rests",
			rq("t", "buy", "0.50", "25", polybot.GTC), polybot.OrderFilled, "25.00",
			"o3>o7 0.49x10.00;o1>o7 0.50x10.00;o2>o7 0.50x5.00;",
			"bids 0.47x4.00 0.45x20.00 | asks 0.50x5.00 0.52x5.00"},
		{"a GTC partially filled rests its remainder at its limit",
			rq("t", "buy", "0.49", "15", polybot.GTC), polybot.OrderPartial, "10.00",
			"o3>o7 0.49x10.00;",
			"bids 0.49x5.00 0.47x4.00 0.45x20.00 | asks 0.50x20.00 0.52x5.00"},
		{"trades execute at the maker's price, not the taker's limit",
			rq("t", "sell", "0.40", "6", polybot.GTC), polybot.OrderFilled, "6.00",
			"o6>o7 0.47x4.00;o5>o7 0.45x2.00;",
			"bids 0.45x18.00 | asks 0.49x10.00 0.50x20.00 0.52x5.00"},
		{"FOK with enough liquidity fills across levels",
			rq("t", "buy", "0.52", "32", polybot.FOK), polybot.OrderFilled, "32.00",
			"o3>o7 0.49x10.00;o1>o7 0.50x10.00;o2>o7 0.50x10.00;o4>o7 0.52x2.00;",
			"bids 0.47x4.00 0.45x20.00 | asks 0.52x3.00"},
		{"FOK without enough liquidity is rejected and changes nothing",
			rq("t", "buy", "0.50", "31", polybot.FOK), polybot.OrderRejected, "0.00", "", book0},
		{"FOK for exactly the crossing size fills",
			rq("t", "sell", "0.45", "24", polybot.FOK), polybot.OrderFilled, "24.00",
			"o6>o7 0.47x4.00;o5>o7 0.45x20.00;",
			"bids  | asks 0.49x10.00 0.50x20.00 0.52x5.00"},
		{"FAK fills what crosses and cancels the rest",
			rq("t", "buy", "0.49", "15", polybot.FAK), polybot.OrderCancelled, "10.00",
			"o3>o7 0.49x10.00;",
			"bids 0.47x4.00 0.45x20.00 | asks 0.50x20.00 0.52x5.00"},
		{"FAK that crosses nothing is cancelled unfilled",
			rq("t", "buy", "0.48", "15", polybot.FAK), polybot.OrderCancelled, "0.00", "", book0},
		{"a fractional size leaves an exact fractional remainder",
			rq("t", "buy", "0.49", "9.999999", polybot.GTC), polybot.OrderFilled, "9.999999",
			"o3>o7 0.49x9.999999;",
			"bids 0.47x4.00 0.45x20.00 | asks 0.49x0.000001 0.50x20.00 0.52x5.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine()
			for _, r := range setup {
				mustSubmit(t, e, r)
			}
			res := mustSubmit(t, e, tt.req)
			if res.Order.ID != "o7" || res.Order.State != tt.wantState || res.Order.Filled.String() != tt.wantFilled {
				t.Errorf("order %s state %s filled %s, want o7 %s %s", res.Order.ID, res.Order.State, res.Order.Filled, tt.wantState, tt.wantFilled)
			}
			if got := tradesString(res.Trades); got != tt.wantTrades {
				t.Errorf("trades %q\nwant   %q", got, tt.wantTrades)
			}
			if got := depthString(e.Depth("B", 0)); got != tt.wantDepth {
				t.Errorf("depth %q\nwant  %q", got, tt.wantDepth)
			}
			// Fills on both sides add up.
			var sum polybot.Decimal
			for _, tr := range res.Trades {
				sum = sum.Add(tr.Size)
				if tr.TakerSide != tt.req.Side || tr.TakerAccount != "t" || tr.Time != t0 {
					t.Errorf("trade %+v: wrong taker side, account or time", tr)
				}
			}
			if sum != res.Order.Filled {
				t.Errorf("trades sum %s, order filled %s", sum, res.Order.Filled)
			}
		})
	}
}

func TestMakersSeeTheirPartialAndFullFills(t *testing.T) {
	e, _ := newEngine()
	mustSubmit(t, e, rq("s1", "sell", "0.50", "10", polybot.GTC))
	mustSubmit(t, e, rq("s2", "sell", "0.50", "10", polybot.GTC))
	res := mustSubmit(t, e, rq("t", "buy", "0.50", "14", polybot.GTC))
	if len(res.Changed) != 2 {
		t.Fatalf("changed %+v", res.Changed)
	}
	if c := res.Changed[0]; c.ID != "o1" || c.State != polybot.OrderFilled || c.Filled != d("10") {
		t.Errorf("first maker %+v", c)
	}
	if c := res.Changed[1]; c.ID != "o2" || c.State != polybot.OrderPartial || c.Filled != d("4") || c.Remaining() != d("6") {
		t.Errorf("second maker %+v", c)
	}
	if o, err := e.Order("o2"); err != nil || o.State != polybot.OrderPartial {
		t.Errorf("query o2: %+v %v", o, err)
	}
	if o, err := e.Order("o1"); err != nil || o.State != polybot.OrderFilled {
		t.Errorf("a filled order stays queryable: %+v %v", o, err)
	}
	if got := e.OpenOrders("s1", ""); len(got) != 0 {
		t.Errorf("filled order still open: %+v", got)
	}
}

func TestGTDRestsUntilItsExpiryOnTheEngineClock(t *testing.T) {
	e, c := newEngine()
	r := rq("a", "buy", "0.40", "5", polybot.GTD)
	r.Expires = t0.Add(time.Minute)
	res := mustSubmit(t, e, r)
	if res.Order.State != polybot.OrderOpen {
		t.Fatalf("GTD not resting: %+v", res.Order)
	}
	var updates []Update
	e.Subscribe("", func(u Update) { updates = append(updates, u) })
	c.Advance(59 * time.Second)
	if got := depthString(e.Depth("B", 0)); got != "bids 0.40x5.00 | asks " {
		t.Errorf("before expiry: %s", got)
	}
	c.Advance(time.Second)
	if got := depthString(e.Depth("B", 0)); got != "bids  | asks " {
		t.Errorf("at expiry: %s", got)
	}
	o, err := e.Order(res.Order.ID)
	if err != nil || o.State != polybot.OrderCancelled || o.Reason != ReasonExpired {
		t.Errorf("expired order %+v %v", o, err)
	}
	if len(updates) != 1 || len(updates[0].Levels) != 1 || updates[0].Levels[0].Size.Sign() != 0 || updates[0].Levels[0].Delta != d("-5") {
		t.Errorf("expiry update %+v", updates)
	}
	// A taker arriving after expiry does not trade with the expired order.
	sell := mustSubmit(t, e, rq("b", "sell", "0.40", "5", polybot.FAK))
	if len(sell.Trades) != 0 {
		t.Errorf("traded with an expired order: %+v", sell.Trades)
	}
}

func TestGTDWithAPassedExpiryIsRejected(t *testing.T) {
	e, _ := newEngine()
	r := rq("a", "buy", "0.40", "5", polybot.GTD)
	r.Expires = t0
	res := mustSubmit(t, e, r)
	if res.Order.State != polybot.OrderRejected || res.Order.Reason != ReasonExpiryPassed {
		t.Errorf("got %+v", res.Order)
	}
}

func TestSelfTradePrevention(t *testing.T) {
	tests := []struct {
		name       string
		policy     SelfTrade
		wantState  polybot.OrderState
		wantTrades string
		wantDepth  string
		wantO1     polybot.OrderState
	}{
		{"default cancels the resting order and keeps matching", STPDefault, polybot.OrderFilled,
			"o2>o3 0.50x5.00;", "bids  | asks ", polybot.OrderCancelled},
		{"cancel-taker stops the incoming order at its own resting order", STPCancelTaker, polybot.OrderCancelled,
			"", "bids  | asks 0.50x10.00", polybot.OrderOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine()
			mustSubmit(t, e, rq("a", "sell", "0.50", "5", polybot.GTC)) // o1, own
			mustSubmit(t, e, rq("b", "sell", "0.50", "5", polybot.GTC)) // o2
			r := rq("a", "buy", "0.50", "5", polybot.GTC)
			r.SelfTrade = tt.policy
			res := mustSubmit(t, e, r)
			if res.Order.State != tt.wantState {
				t.Errorf("taker state %s (%s), want %s", res.Order.State, res.Order.Reason, tt.wantState)
			}
			if got := tradesString(res.Trades); got != tt.wantTrades {
				t.Errorf("trades %q, want %q", got, tt.wantTrades)
			}
			if got := depthString(e.Depth("B", 0)); got != tt.wantDepth {
				t.Errorf("depth %q, want %q", got, tt.wantDepth)
			}
			if o, _ := e.Order("o1"); o.State != tt.wantO1 {
				t.Errorf("own resting order %s, want %s", o.State, tt.wantO1)
			}
		})
	}
}

func TestFOKDoesNotCountOwnOrdersAsLiquidity(t *testing.T) {
	e, _ := newEngine()
	mustSubmit(t, e, rq("a", "sell", "0.50", "5", polybot.GTC))
	mustSubmit(t, e, rq("b", "sell", "0.50", "4", polybot.GTC))
	res := mustSubmit(t, e, rq("a", "buy", "0.50", "5", polybot.FOK))
	if res.Order.State != polybot.OrderRejected {
		t.Errorf("FOK %s, want rejected", res.Order.State)
	}
	if o, _ := e.Order("o1"); o.State != polybot.OrderOpen {
		t.Errorf("a rejected FOK cancelled the resting order: %s", o.State)
	}
}

func TestPostOnlyRejectsAnOrderThatWouldCross(t *testing.T) {
	e, _ := newEngine()
	mustSubmit(t, e, rq("a", "sell", "0.50", "5", polybot.GTC))
	r := rq("b", "buy", "0.50", "5", polybot.GTC)
	r.PostOnly = true
	if res := mustSubmit(t, e, r); res.Order.State != polybot.OrderRejected || res.Order.Reason != ReasonPostOnly {
		t.Errorf("crossing post-only: %+v", res.Order)
	}
	r.Price = d("0.49")
	if res := mustSubmit(t, e, r); res.Order.State != polybot.OrderOpen {
		t.Errorf("passive post-only: %+v", res.Order)
	}
}

func TestCancels(t *testing.T) {
	e, _ := newEngine()
	mustSubmit(t, e, rq("a", "buy", "0.40", "5", polybot.GTC)) // o1
	mustSubmit(t, e, rq("a", "buy", "0.41", "5", polybot.GTC)) // o2
	r := rq("a", "sell", "0.60", "5", polybot.GTC)             // o3 on another book
	r.Book = "C"
	mustSubmit(t, e, r)
	mustSubmit(t, e, rq("b", "buy", "0.40", "7", polybot.GTC)) // o4

	o, err := e.Cancel("o1")
	if err != nil || o.State != polybot.OrderCancelled || o.Reason != ReasonCancelled {
		t.Fatalf("cancel o1: %+v %v", o, err)
	}
	if got := depthString(e.Depth("B", 0)); got != "bids 0.41x5.00 0.40x7.00 | asks " {
		t.Errorf("after cancel: %s", got)
	}
	if _, err := e.Cancel("o1"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Errorf("cancel twice: %v", err)
	}
	if _, err := e.Cancel("nope"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Errorf("cancel unknown: %v", err)
	}
	if got := e.OpenOrders("a", ""); len(got) != 2 || got[0].ID != "o2" || got[1].ID != "o3" {
		t.Errorf("open orders of a: %+v", got)
	}
	if got := e.OpenOrders("a", "C"); len(got) != 1 || got[0].ID != "o3" {
		t.Errorf("open orders of a on C: %+v", got)
	}
	if got := e.CancelAll("a", "B"); len(got) != 1 || got[0].ID != "o2" {
		t.Errorf("cancel all of a on B: %+v", got)
	}
	if got := e.CancelAll("a", ""); len(got) != 1 || got[0].ID != "o3" {
		t.Errorf("cancel all of a: %+v", got)
	}
	if got := e.OpenOrders("a", ""); len(got) != 0 {
		t.Errorf("a still has open orders: %+v", got)
	}
	if got := depthString(e.Depth("B", 0)); got != "bids 0.40x7.00 | asks " {
		t.Errorf("other account's order touched: %s", got)
	}
}

func TestRequestsAreValidated(t *testing.T) {
	e, _ := newEngine()
	r := rq("a", "buy", "0.40", "5", polybot.GTC)
	r.ClientID, r.OrderID = "c1", "my-1"
	if res := mustSubmit(t, e, r); res.Order.ID != "my-1" || res.Order.ClientID != "c1" {
		t.Errorf("caller ids not kept: %+v", res.Order)
	}
	if o, err := e.OrderByClientID("a", "c1"); err != nil || o.ID != "my-1" {
		t.Errorf("by client id: %+v %v", o, err)
	}
	bad := func(f func(*Request)) Request { x := rq("a", "buy", "0.40", "5", polybot.GTC); f(&x); return x }
	tests := []struct {
		name string
		req  Request
		code string
	}{
		{"reused order id", bad(func(x *Request) { x.OrderID = "my-1" }), polybot.ECONFLICT},
		{"reused client id", bad(func(x *Request) { x.ClientID = "c1" }), polybot.ECONFLICT},
		{"zero size", bad(func(x *Request) { x.Size = polybot.Zero }), polybot.EINVALID},
		{"negative price", bad(func(x *Request) { x.Price = d("-0.1") }), polybot.EINVALID},
		{"no book", bad(func(x *Request) { x.Book = "" }), polybot.EINVALID},
		{"market account", bad(func(x *Request) { x.Account = MarketAccount }), polybot.EINVALID},
		{"GTD without expiry", bad(func(x *Request) { x.TIF = polybot.GTD }), polybot.EINVALID},
		{"post-only FAK", bad(func(x *Request) { x.TIF, x.PostOnly = polybot.FAK, true }), polybot.EINVALID},
		{"unknown TIF", bad(func(x *Request) { x.TIF = "DAY" }), polybot.EINVALID},
	}
	for _, tt := range tests {
		if _, err := e.Submit(tt.req); polybot.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if got := depthString(e.Depth("B", 0)); got != "bids 0.40x5.00 | asks " {
		t.Errorf("a refused request changed the book: %s", got)
	}
}

func TestExternalLiquidity(t *testing.T) {
	t.Run("simulated orders take external depth at its price", func(t *testing.T) {
		e, _ := newEngine()
		if _, err := e.SetExternal("B", []polybot.Level{lv("0.48", "100")}, []polybot.Level{lv("0.52", "30"), lv("0.53", "50")}); err != nil {
			t.Fatal(err)
		}
		res := mustSubmit(t, e, rq("a", "buy", "0.53", "40", polybot.FAK))
		if res.Order.Filled != d("40") || len(res.Trades) != 2 {
			t.Fatalf("fills %+v", res)
		}
		tr := res.Trades[0]
		if tr.MakerAccount != MarketAccount || tr.Price != d("0.52") || tr.Size != d("30") {
			t.Errorf("first trade %+v", tr)
		}
		if got := depthString(e.Depth("B", 0)); got != "bids 0.48x100.00 | asks 0.53x40.00" {
			t.Errorf("depth %s", got)
		}
		if len(res.Changed) != 0 {
			t.Errorf("external orders reported as changed: %+v", res.Changed)
		}
	})
	t.Run("a new snapshot replaces external levels and keeps resting orders", func(t *testing.T) {
		e, _ := newEngine()
		e.SetExternal("B", []polybot.Level{lv("0.48", "100")}, []polybot.Level{lv("0.52", "30")})
		mustSubmit(t, e, rq("a", "buy", "0.48", "5", polybot.GTC))  // o1 joins behind external 0.48
		mustSubmit(t, e, rq("a", "sell", "0.55", "5", polybot.GTC)) // o2
		if _, err := e.SetExternal("B", []polybot.Level{lv("0.47", "60"), lv("0.48", "10")}, []polybot.Level{lv("0.51", "20")}); err != nil {
			t.Fatal(err)
		}
		if got := depthString(e.Depth("B", 0)); got != "bids 0.48x15.00 0.47x60.00 | asks 0.51x20.00 0.55x5.00" {
			t.Errorf("depth %s", got)
		}
		// External depth keeps its place ahead of o1 at 0.48.
		res := mustSubmit(t, e, rq("b", "sell", "0.48", "12", polybot.FAK))
		if got := tradesString(res.Trades); got != "x4>o3 0.48x10.00;o1>o3 0.48x2.00;" {
			t.Errorf("trades %q", got)
		}
		if got := e.OpenOrders("a", ""); len(got) != 2 {
			t.Errorf("open orders %+v", got)
		}
	})
	t.Run("an external level crossing a resting order trades at the resting price", func(t *testing.T) {
		e, _ := newEngine()
		mustSubmit(t, e, rq("a", "buy", "0.55", "10", polybot.GTC)) // o1
		var seen []Update
		e.Subscribe("B", func(u Update) { seen = append(seen, u) })
		u, err := e.SetExternal("B", []polybot.Level{lv("0.50", "1")}, []polybot.Level{lv("0.54", "4"), lv("0.56", "9")})
		if err != nil {
			t.Fatal(err)
		}
		if got := tradesString(u.Trades); got != "o1>x1 0.55x4.00;" {
			t.Errorf("trades %q", got)
		}
		if got := depthString(e.Depth("B", 0)); got != "bids 0.55x6.00 0.50x1.00 | asks 0.56x9.00" {
			t.Errorf("depth %s", got)
		}
		if o, _ := e.Order("o1"); o.State != polybot.OrderPartial || o.Filled != d("4") {
			t.Errorf("o1 %+v", o)
		}
		if len(seen) != 1 || seen[0].Seq != u.Seq || len(seen[0].Orders) != 1 {
			t.Errorf("subscriber saw %+v", seen)
		}
	})
	t.Run("an external delta sets one level and leaves the others", func(t *testing.T) {
		e, _ := newEngine()
		e.SetExternal("B", []polybot.Level{lv("0.48", "100"), lv("0.47", "5")}, []polybot.Level{lv("0.52", "30")})
		if _, err := e.UpdateExternal("B", []polybot.Level{lv("0.48", "0"), lv("0.46", "7")}, []polybot.Level{lv("0.52", "31")}); err != nil {
			t.Fatal(err)
		}
		if got := depthString(e.Depth("B", 0)); got != "bids 0.47x5.00 0.46x7.00 | asks 0.52x31.00" {
			t.Errorf("depth %s", got)
		}
	})
	t.Run("crossed external levels are refused", func(t *testing.T) {
		e, _ := newEngine()
		e.SetExternal("B", []polybot.Level{lv("0.48", "100")}, []polybot.Level{lv("0.52", "30")})
		if _, err := e.SetExternal("B", []polybot.Level{lv("0.52", "1")}, []polybot.Level{lv("0.52", "30")}); polybot.ErrorCode(err) != polybot.EINVALID {
			t.Errorf("crossed snapshot: %v", err)
		}
		if _, err := e.UpdateExternal("B", []polybot.Level{lv("0.53", "1")}, nil); polybot.ErrorCode(err) != polybot.EINVALID {
			t.Errorf("crossing delta: %v", err)
		}
		if got := depthString(e.Depth("B", 0)); got != "bids 0.48x100.00 | asks 0.52x30.00" {
			t.Errorf("refused update changed the book: %s", got)
		}
	})
}

func TestSubscribersGetTradesAndNetLevelChangesInOrder(t *testing.T) {
	e, _ := newEngine()
	var got []Update
	unsub := e.Subscribe("", func(u Update) {
		got = append(got, u)
		_ = e.Depth(u.Book, 1) // queries are allowed from a callback
	})
	var onlyC int
	e.Subscribe("C", func(Update) { onlyC++ })
	mustSubmit(t, e, rq("s", "sell", "0.50", "10", polybot.GTC))
	mustSubmit(t, e, rq("s", "sell", "0.51", "10", polybot.GTC))
	mustSubmit(t, e, rq("t", "buy", "0.51", "12", polybot.GTC))
	if len(got) != 3 {
		t.Fatalf("updates %d", len(got))
	}
	for i, u := range got {
		if u.Seq != uint64(i+1) {
			t.Errorf("update %d seq %d", i, u.Seq)
		}
	}
	last := got[2]
	var lc []string
	for _, l := range last.Levels {
		lc = append(lc, fmt.Sprintf("%s %s=%s(%s)", l.Side, l.Price, l.Size, l.Delta))
	}
	if s := strings.Join(lc, ","); s != "SELL 0.50=0.00(-10.00),SELL 0.51=8.00(-2.00)" {
		t.Errorf("level changes %s", s)
	}
	if len(last.Trades) != 2 || len(last.Orders) != 3 || last.Orders[0].ID != "o3" {
		t.Errorf("last update %+v", last)
	}
	if onlyC != 0 {
		t.Errorf("book-filtered subscriber got %d updates", onlyC)
	}
	unsub()
	mustSubmit(t, e, rq("t", "buy", "0.10", "1", polybot.GTC))
	if len(got) != 3 {
		t.Errorf("update after unsubscribe")
	}
}

func TestAPanickingSubscriberDoesNotWedgeTheEngine(t *testing.T) {
	e, _ := newEngine()
	n := 0
	e.Subscribe("", func(Update) {
		n++
		if n == 1 {
			panic("boom")
		}
	})
	func() {
		defer func() { recover() }()
		e.Submit(rq("a", "buy", "0.10", "1", polybot.GTC))
	}()
	mustSubmit(t, e, rq("a", "buy", "0.11", "1", polybot.GTC))
	if n != 2 {
		t.Errorf("callbacks after a panic: %d", n)
	}
}

func TestFinishedOrdersBeyondKeepDoneAreForgotten(t *testing.T) {
	e := New(Config{KeepDone: 2})
	for range 3 {
		mustSubmit(t, e, rq("a", "buy", "0.10", "1", polybot.FAK))
	}
	if _, err := e.Order("o1"); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Errorf("o1 kept: %v", err)
	}
	if _, err := e.Order("o3"); err != nil {
		t.Errorf("o3 forgotten: %v", err)
	}
}

func TestConcurrentSubmitsConserveSize(t *testing.T) {
	e := New(Config{})
	var traded sync.Map
	var stored atomic.Int64
	e.Subscribe("", func(u Update) {
		for _, tr := range u.Trades {
			traded.Store(tr.ID, tr.Size)
			stored.Add(1)
		}
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			side := "buy"
			if g%2 == 1 {
				side = "sell"
			}
			for i := range 200 {
				r := rq(fmt.Sprintf("acct%d", g), side, "0.50", "1", polybot.GTC)
				if i%3 == 0 {
					r.TIF = polybot.FAK
				}
				if _, err := e.Submit(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	dp := e.Depth("B", 0)
	if len(dp.Bids) > 0 && len(dp.Asks) > 0 {
		t.Errorf("crossed book after concurrent submits: %s", depthString(dp))
	}
	n := 0
	traded.Range(func(_, _ any) bool { n++; return true })
	if n == 0 || int64(n) != stored.Load() {
		t.Errorf("%d distinct trade ids for %d trades", n, stored.Load())
	}
}

func BenchmarkSubmit(b *testing.B) {
	// Alternating crossing buys and sells on a book that keeps ~100 levels a
	// side: each Submit either rests or trades with one maker.
	e := New(Config{KeepDone: 1024})
	for i := range 100 {
		e.Submit(Request{Book: "B", Account: "mm", Side: polybot.Buy, Price: polybot.NewDecimal(int64(400-i), 3), Size: polybot.NewDecimal(100, 0)})
		e.Submit(Request{Book: "B", Account: "mm", Side: polybot.Sell, Price: polybot.NewDecimal(int64(600+i), 3), Size: polybot.NewDecimal(100, 0)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		side := polybot.Side(i & 1)
		price := polybot.NewDecimal(int64(450+(i*7)%100), 3)
		tif := polybot.GTC
		if i%4 >= 2 {
			tif = polybot.FAK
		}
		if _, err := e.Submit(Request{Book: "B", Account: "t" + itoa(i%5), Side: side, Price: price, Size: polybot.NewDecimal(int64(1+i%3), 0), TIF: tif}); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			for a := range 5 {
				e.CancelAll("t"+itoa(a), "")
			}
		}
	}
}

func itoa(i int) string { return fmt.Sprint(i) }

func TestBookFillAddsBuysAndTakesSalesAtAverageCost(t *testing.T) {
	d := polybot.MustDecimal
	cases := []struct {
		name              string
		qty, cost         string
		side              polybot.Side
		size, amount      string
		wantQty, wantCost string
	}{
		{"a buy adds size and cost", "10", "3", polybot.Buy, "4", "2.88", "14", "5.88"},
		{"a sale of 4 of 10 keeps 6/10 of the cost", "10", "3", polybot.Sell, "4", "0", "6", "1.8"},
		{"a sale of all leaves nothing", "10", "3", polybot.Sell, "10", "0", "0", "0"},
		{"a sale of more than held leaves nothing", "10", "3", polybot.Sell, "12", "0", "0", "0"},
	}
	for _, tc := range cases {
		q, c := d(tc.qty), d(tc.cost)
		BookFill(&q, &c, tc.side, d(tc.size), d(tc.amount))
		if q != d(tc.wantQty) || c != d(tc.wantCost) {
			t.Errorf("%s: %s at %s, want %s at %s", tc.name, q, c, tc.wantQty, tc.wantCost)
		}
	}
}

func TestSettleMovesCashAndTheHoldingAndDropsAHoldingSoldToNothing(t *testing.T) {
	d := polybot.MustDecimal
	cases := []struct {
		name             string
		held             *Holding // nil: none
		side             polybot.Side
		price, size      string
		wantCash, amount string
		want             *Holding // nil: removed
	}{
		// 100 − 0.40 × 10 = 96; nothing held before.
		{"a first buy pays and opens a holding", nil, polybot.Buy, "0.40", "10", "96", "4", &Holding{d("10"), d("4")}},
		// 100 + 0.50 × 4 = 102; 6 of 10 keep 6/10 of the 4.00 paid.
		{"a sale is paid and keeps the cost in proportion", &Holding{d("10"), d("4")}, polybot.Sell, "0.50", "4", "102", "2", &Holding{d("6"), d("2.4")}},
		{"a sale of all removes the holding", &Holding{d("10"), d("4")}, polybot.Sell, "0.50", "10", "105", "5", nil},
	}
	for _, tc := range cases {
		cash, positions := d("100"), map[string]*Holding{}
		if tc.held != nil {
			positions["B"] = tc.held
		}
		amount, h := Settle(&cash, positions, "B", tc.side, d(tc.price), d(tc.size))
		if cash != d(tc.wantCash) || amount != d(tc.amount) {
			t.Errorf("%s: cash %s amount %s, want %s %s", tc.name, cash, amount, tc.wantCash, tc.amount)
		}
		if got := positions["B"]; (got == nil) != (tc.want == nil) || got != h || (got != nil && *got != *tc.want) {
			t.Errorf("%s: holding %+v (returned %+v), want %+v", tc.name, got, h, tc.want)
		}
	}
}

func TestLegsAreTheMakerThenTheTakerOnOppositeSides(t *testing.T) {
	tr := Trade{TakerSide: polybot.Sell, MakerOrderID: "m1", MakerAccount: "A", TakerOrderID: "t1", TakerAccount: "B"}
	want := [2]Leg{{OrderID: "m1", Account: "A", Side: polybot.Buy}, {OrderID: "t1", Account: "B", Side: polybot.Sell, Taker: true}}
	if got := tr.Legs(); got != want {
		t.Fatalf("Legs = %+v, want %+v", got, want)
	}
	if tags := tr.Legs()[0].Tag() + tr.Legs()[1].Tag(); tags != "mt" {
		t.Fatalf("tags %q, want mt", tags)
	}
}
