package engine

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/strategy"
)

func TestIndexFindsOnlyTenantsWhoseThresholdTheProfitClears(t *testing.T) {
	m := &Manager{}
	mk := func(pct string, single, cross, pmOn, kOn bool) *tenant {
		tn := &tenant{m: m}
		c := polybot.DefaultConfig(polybot.NewID(), time.Time{})
		c.MinProfitPct = d(pct)
		c.EnableSinglePlatformArb, c.EnableCrossPlatformArb = single, cross
		c.EnablePolymarket, c.EnableKalshi = pmOn, kOn
		tn.snap.Store(&snapshot{cfg: c, profile: &polybot.Profile{Features: polybot.Features{SinglePlatform: true, CrossPlatform: true}}})
		return tn
	}
	a := mk("1", true, false, true, true)
	b := mk("3", true, true, true, true)
	c := mk("2", true, true, true, false) // no Kalshi
	e := mk("0.5", false, true, true, true)
	ix := buildIndex([]*tenant{a, b, c, e})
	names := func(es []indexEntry) []*tenant {
		var out []*tenant
		for _, x := range es {
			out = append(out, x.t)
		}
		return out
	}
	pmOnly := venueBit(polybot.Polymarket)
	both := pmOnly | venueBit(polybot.Kalshi)
	cases := []struct {
		strategy string
		mask     uint8
		pct      string
		want     []*tenant
	}{
		{polybot.StrategySinglePlatform, pmOnly, "2.5", []*tenant{a, c}},
		{polybot.StrategySinglePlatform, pmOnly, "3", []*tenant{a, c, b}},
		{polybot.StrategySinglePlatform, venueBit(polybot.Kalshi), "10", []*tenant{a, b}},
		{polybot.StrategyCrossPlatform, both, "5", []*tenant{e, b}},
		{polybot.StrategyCrossPlatform, both, "0.4", nil},
		{polybot.StrategyCopy, pmOnly, "50", nil},
	}
	for _, tc := range cases {
		got := names(ix.lookup(tc.strategy, tc.mask, d(tc.pct)))
		if len(got) != len(tc.want) {
			t.Fatalf("%s %b %s: %d tenants, want %d", tc.strategy, tc.mask, tc.pct, len(got), len(tc.want))
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%s %b %s: tenant %d differs (sorted by threshold)", tc.strategy, tc.mask, tc.pct, i)
			}
		}
	}
	if ix.tenants != 4 {
		t.Fatalf("indexed %d", ix.tenants)
	}
}

func TestMailboxConflatesByGroupAndDropsTheOldestWhenFull(t *testing.T) {
	var b mailbox
	b.init(2)
	gr := func(id GrantID, group uint64, sets string) Grant { return Grant{ID: id, Group: group, Sets: d(sets)} }
	if _, ev := b.put(gr(1, 1, "1")); ev {
		t.Fatal("evicted from an empty box")
	}
	if old, ev := b.put(gr(2, 1, "2")); !ev || old.ID != 1 || old.Sets != d("1") {
		t.Fatalf("conflation returned %+v %v", old, ev)
	}
	b.put(gr(3, 2, "3"))
	if old, ev := b.put(gr(4, 3, "4")); !ev || old.ID != 2 || old.Sets != d("2") {
		t.Fatalf("a full box dropped %+v %v, want the oldest", old, ev)
	}
	got := b.take(nil)
	if len(got) != 2 || got[0].ID != 3 || got[1].ID != 4 || b.conflated != 1 || b.dropped != 1 {
		t.Fatalf("took %v, conflated %d, dropped %d", got, b.conflated, b.dropped)
	}
	if len(b.take(nil)) != 0 {
		t.Fatal("take did not empty the box")
	}
}

func TestAClosedMailboxHandsGrantsBackAndAnOldLifeCannotCloseANewOne(t *testing.T) {
	var b mailbox
	b.init(2)
	first := b.open()
	b.put(Grant{ID: 1, Group: 1})
	if left := b.close(first, nil); len(left) != 1 || left[0].ID != 1 {
		t.Fatalf("closing returned %v, want the waiting grant", left)
	}
	if out, ev := b.put(Grant{ID: 2, Group: 2}); !ev || out.ID != 2 {
		t.Fatal("a closed box must hand the grant back for release")
	}
	second := b.open()
	b.close(first, nil) // the old life's late close
	if _, ev := b.put(Grant{ID: 3, Group: 3}); ev {
		t.Fatal("an old runner life closed the box of a new one")
	}
	if got := b.close(second, nil); len(got) != 1 || got[0].ID != 3 {
		t.Fatalf("closing the new life returned %v", got)
	}
}

func TestLimiterHoldsToItsRateAndHonoursRetryAfter(t *testing.T) {
	l := newLimiter(Rate{Every: 10 * time.Millisecond, Burst: 3})
	now := time.Now()
	for i := range 3 {
		if d := l.reserve(now); d != 0 {
			t.Fatalf("request %d of the burst waits %v", i, d)
		}
	}
	if d := l.reserve(now); d != 10*time.Millisecond {
		t.Fatalf("the 4th waits %v, want 10ms", d)
	}
	x := &limitedExchange{Exchange: &throttledExchange{}, venue: newLimiter(Rate{Burst: 100}), key: newLimiter(Rate{Burst: 100})}
	_, err := x.Balance(context.Background())
	var ve *polybot.VenueError
	if !errors.As(err, &ve) || ve.Status != http.StatusTooManyRequests {
		t.Fatalf("err %v", err)
	}
	start := time.Now()
	if _, err := x.Positions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Fatalf("the next request went after %v, before the venue's Retry-After of 200ms", waited)
	}
	if x.key.throttled.Load() != 1 || x.key.waits.Load() != 1 {
		t.Fatalf("throttled %d, waits %d", x.key.throttled.Load(), x.key.waits.Load())
	}
	// A request the limiter gives up on never left: it is known not placed.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x.key.block(time.Second)
	_, err = x.PlaceOrder(ctx, polybot.OrderRequest{})
	if !definitelyNotPlaced(err) {
		t.Fatalf("%v must count as not sent", err)
	}
}

// throttledExchange answers its first call 429 with Retry-After 200ms.
type throttledExchange struct {
	polybot.Exchange
	calls int
}

func (x *throttledExchange) Balance(context.Context) (polybot.Balance, error) {
	x.calls++
	return polybot.Balance{}, &polybot.VenueError{Venue: polybot.Kalshi, Status: http.StatusTooManyRequests, RetryAfter: 200 * time.Millisecond}
}

func (x *throttledExchange) Positions(context.Context) ([]polybot.Position, error) { return nil, nil }

type viewBooks map[instKey]*marketdata.View

func (b viewBooks) View(i polybot.Instrument) (*marketdata.View, bool) {
	v, ok := b[keyOf(i)]
	return v, ok
}

func TestPaperExchangeWalksTheBookWithFeesAndHonoursFillOrKill(t *testing.T) {
	books := viewBooks{keyOf(kYes): {Instrument: kYes, Asks: []polybot.Level{lv("0.45", "5"), lv("0.46", "10"), lv("0.50", "100")},
		Bids: []polybot.Level{lv("0.40", "3")}}}
	x := newPaperExchange(polybot.Kalshi, newPaperBook(books), strategy.DefaultFees(), polybot.SystemClock)
	ctx := context.Background()
	st, err := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "a", Instrument: kYes, Side: polybot.Buy, Price: d("0.46"), Size: d("12"), TIF: polybot.FOK})
	if err != nil || st.State != polybot.OrderFilled || st.Filled != d("12") {
		t.Fatalf("FOK within depth: %+v %v", st, err)
	}
	fills, _ := x.Fills(ctx, time.Time{})
	if len(fills) != 2 || fills[0].Price != d("0.45") || fills[0].Size != d("5") || fills[1].Price != d("0.46") || fills[1].Size != d("7") {
		t.Fatalf("fills %+v", fills)
	}
	// Kalshi: ceil(0.07 × 5 × 0.45 × 0.55) = 0.09; ceil(0.07 × 7 × 0.46 × 0.54) = 0.13.
	if fills[0].Fee != d("0.09") || fills[1].Fee != d("0.13") {
		t.Fatalf("fees %s %s", fills[0].Fee, fills[1].Fee)
	}
	st, _ = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "b", Instrument: kYes, Side: polybot.Buy, Price: d("0.46"), Size: d("16"), TIF: polybot.FOK})
	if st.State != polybot.OrderCancelled || !st.Filled.IsZero() {
		t.Fatalf("FOK beyond depth: %+v", st)
	}
	st, _ = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "c", Instrument: kYes, Side: polybot.Sell, Price: d("0.40"), Size: d("5"), TIF: polybot.FAK})
	if st.State != polybot.OrderPartial || st.Filled != d("3") {
		t.Fatalf("FAK sell: %+v", st)
	}
	if st, _ := x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "a", Instrument: kYes, Side: polybot.Buy, Price: d("0.46"), Size: d("12"), TIF: polybot.FOK}); st.Filled != d("12") {
		t.Fatal("a repeated client order id must return the first order, not trade again")
	}
	if n, _ := x.Fills(ctx, time.Time{}); len(n) != 3 {
		t.Fatalf("%d fills after a repeat", len(n))
	}
	st, _ = x.PlaceOrder(ctx, polybot.OrderRequest{ClientOrderID: "d", Instrument: kNo, Side: polybot.Buy, Price: d("0.5"), Size: d("1"), TIF: polybot.FOK})
	if st.State != polybot.OrderRejected {
		t.Fatalf("no book: %+v", st)
	}
}

func TestThinnerLegGoesFirstThenTheLessLiquidVenue(t *testing.T) {
	r := &runner{m: &Manager{cfg: Config{LegOrder: []polybot.Platform{polybot.Kalshi, polybot.Polymarket}}}}
	o := &polybot.Opportunity{Legs: []polybot.Leg{
		{Instrument: pmFedNo, Available: d("10")},
		{Instrument: kYes, Available: d("10")},
	}}
	if got := r.legOrder(o); got[0] != 1 {
		t.Fatalf("order %v: on equal size the Kalshi leg goes first", got)
	}
	o.Legs[0].Available = d("9")
	if got := r.legOrder(o); got[0] != 0 {
		t.Fatalf("order %v: the thinner leg goes first", got)
	}
}
