// Package venuetest is the conformance suite that every polybot.Exchange and
// polybot.MarketFeed must pass: each venue connector (internal/venue/...)
// runs Run against its simulator (internal/venuesim/...) over real loopback
// sockets, and the dry-run paper exchange (internal/engine) runs the
// Exchange half against a hub's books. It owns the written-down contract
// of the venue interfaces (root venue.go): what a placed, repeated,
// cancelled, filled or lost order looks like, what a rate limit carries,
// and that a feed never shows a book the venue never had.
//
// A venue plugs in through an Opener, which starts a fresh venue for one
// scenario and returns a Venue: how to build Exchanges, a feed, how to set
// the venue's resting liquidity through the simulator's admin hooks, the
// simulator's fault.Injector, and the venue's Capabilities. A field left nil
// skips the scenarios that need it, naming the reason (t.Skip).
//
// A new venue (the IBKR connector, say) plugs in from its connector's
// conformance_test.go:
//
//	func TestVenueConformance(t *testing.T) {
//		venuetest.Run(t, func(t *testing.T) *venuetest.Venue {
//			sim := ...          // its simulator on 127.0.0.1:0, accounts 0 and 1 funded; t.Cleanup(sim.Close)
//			return &venuetest.Venue{
//				Instrument: ..., // an instrument whose book starts empty
//				Exchange:   ..., // ExchangeOptions: account, refused credentials, client timeout
//				Cash:       ..., TakerFee: ..., // the fee of a taker buy of 6 at 0.40, worked by hand
//				SetBook:    ..., // the simulator's admin hook (a bids-only venue sets asks as the other side's bids)
//				Faults:     sim.Faults(), // the simulator's *fault.Injector
//				Feed:       ..., VenueSubscriptions: ..., // nil without a MarketFeed
//			}
//		})
//	}
//
// RunExchange runs the Exchange half alone (a venue without a feed yet, or
// paper execution); RunFeed and RunHub the rest. The simulator takes its
// faults from internal/venuesim/fault: it wraps its REST routes with
// Injector.Wrap, registers its WebSocket drop with Injector.OnDrop, and
// returns the injector from Faults(). The suite's fault rules name a method
// at most, so every route counts; it calls ValidateCredentials before
// injecting, so sign-in calls are done by then.
//
// Expected numbers are worked by hand from the books the suite sets (see
// each scenario); a harness supplies only what the venue publishes (its
// taker fee for the suite's fill).
//
// The connectors' and simulators' own tests share its harness (harness.go):
// StartSim serves a simulator on a loopback port for a test, VenueError
// reads a venue's refusal, ExchangeOptions.HTTPClient and Must build a
// connector.
//
// It talks to a venue only through the root package's interfaces, the
// market-data hub (internal/marketdata) and the shared fault API
// (internal/venuesim/fault); it must not import a connector or a
// simulator.
package venuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/fault"
)

// Opener starts a fresh venue (an empty book for Instrument, funded
// accounts) for one scenario and arranges its shutdown with t.Cleanup.
type Opener func(t *testing.T) *Venue

// Venue is one started venue, as the suite reaches it.
type Venue struct {
	// Instrument is the instrument the scenarios trade. Prices in the
	// suite lie between 0.20 and 0.60 (dollars), sizes between 1 and 10.
	Instrument polybot.Instrument
	// Paper marks dry-run execution: no credentials to refuse, and no
	// positions or balance (the store keeps a dry-run tenant's holdings).
	// What the venue itself supports (fill-or-kill, sells) the suite reads
	// from the venue facts (polybot.VenueOf).
	Paper bool

	// Exchange returns a new connection for one of the venue's accounts.
	Exchange func(t *testing.T, o ExchangeOptions) polybot.Exchange
	// Cash is what account 0 (and 1) holds at the start: Balance's Total
	// and Available before any trade.
	Cash polybot.Decimal
	// TakerFee is the venue's fee for a taker buy of 6 at 0.40, the
	// suite's marketable fill, worked by hand from the venue's published
	// formula.
	TakerFee polybot.Decimal

	// SetBook replaces the venue's outside liquidity of Instrument (through
	// the simulator's admin hooks): bids best (highest) first, asks best
	// (lowest) first. When it returns, an order placed through Exchange
	// trades with it. Orders placed through Exchange stay and trade with
	// it.
	SetBook func(t *testing.T, bids, asks []polybot.Level)

	// Faults is the simulator's fault injector (nil: the venue has none,
	// and the fault scenarios are skipped). Rules the suite adds match
	// any path: it names a method at most.
	Faults *fault.Injector

	// Feed returns a new MarketFeed on the venue, not yet running (nil:
	// the venue has no feed, and the feed and hub scenarios are skipped).
	// It must deliver trades (BookTrade) on subscribed instruments.
	Feed func(t *testing.T) polybot.MarketFeed
	// VenueSubscriptions counts the venue's open market-data
	// subscriptions covering Instrument, over every connection.
	VenueSubscriptions func() int
	// TopOfBook: the feed carries the best bid and offer only, each change
	// a whole snapshot, and no trades (Alpaca's quotes, IBKR's market
	// data). The feed and hub scenarios then expect the top level of each
	// book they set, and do not wait for trade events.
	TopOfBook bool
	// FeedLot is the unit the feed reports sizes in (Alpaca's quotes: whole
	// shares); zero means exact. A level is shown rounded down to it, and
	// not at all below one unit.
	FeedLot polybot.Decimal

	// KnownBugs names scenarios (by their subtest name) that fail because
	// of a recorded bug in the implementation, with the bug: they are
	// skipped with it. Remove an entry with the fix.
	KnownBugs map[string]string
}

// ExchangeOptions pick the account and client of an Exchange.
type ExchangeOptions struct {
	// Account 0 is the suite's main account; 1 is a second, separate
	// account with the same Cash.
	Account int
	// BadCredentials asks for account 0's identity with credentials the
	// venue must refuse (a wrong secret or a forged signature).
	BadCredentials bool
	// Timeout is the client's request timeout (0: the connector's
	// default). The lost-answer scenario sets a short one.
	Timeout time.Duration
}

// caps are what the suite may expect of an implementation.
type caps struct {
	credentials bool // ValidateCredentials can refuse
	fok         bool // fill-or-kill orders are taken
	sells       bool // a holding may be sold (not on ForecastEx, where the opposite contract is bought)
	accounting  bool // Positions and Balance follow fills
}

func capsOf(v *Venue) caps {
	f := polybot.VenueOf(v.Instrument.Venue)
	return caps{credentials: !v.Paper, fok: f.FillOrKill, sells: f.Sell == polybot.SellHeld, accounting: !v.Paper}
}

// Run runs the whole suite against venues made by open.
func Run(t *testing.T, open Opener) {
	t.Run("Exchange", func(t *testing.T) { RunExchange(t, open) })
	t.Run("Feed", func(t *testing.T) { RunFeed(t, open) })
	t.Run("Hub", func(t *testing.T) { RunHub(t, open) })
}

// RunExchange runs the Exchange scenarios.
func RunExchange(t *testing.T, open Opener) { runAll(t, open, exchangeScenarios, nil) }

// runAll runs scenarios, each on a fresh venue that need accepts.
func runAll(t *testing.T, open Opener, scenarios []scenario, need func(*env, *testing.T)) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			e := newEnv(t, open)
			if bug, ok := e.KnownBugs[s.name]; ok {
				t.Skip("known bug: " + bug)
			}
			if need != nil {
				need(e, t)
			}
			s.run(t, e)
		})
	}
}

type scenario struct {
	name string
	run  func(t *testing.T, e *env)
}

// env is one started venue and the suite's helpers on it.
type env struct {
	*Venue
	caps  caps
	ctx   context.Context
	start time.Time
}

func newEnv(t *testing.T, open Opener) *env {
	t.Helper()
	v := open(t)
	if v == nil || v.Exchange == nil || v.SetBook == nil {
		t.Fatal("the opener returned no venue, or one without Exchange or SetBook")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &env{Venue: v, caps: capsOf(v), ctx: ctx, start: time.Now().Add(-2 * time.Second)}
}

func (e *env) exchange(t *testing.T, o ExchangeOptions) polybot.Exchange {
	t.Helper()
	x := e.Venue.Exchange(t, o)
	if x == nil {
		t.Fatal("Exchange returned nil")
	}
	return x
}

func (e *env) needFaults(t *testing.T) {
	t.Helper()
	if e.Faults == nil {
		t.Skip("the venue has no fault injection")
	}
}

func (e *env) needFeed(t *testing.T) {
	t.Helper()
	if e.Feed == nil {
		t.Skip("the venue has no market feed")
	}
}

// D parses a decimal literal.
func D(s string) polybot.Decimal { return polybot.MustDecimal(s) }

// L is a level.
func L(price, size string) polybot.Level { return polybot.Level{Price: D(price), Size: D(size)} }

func levels(ls ...polybot.Level) []polybot.Level { return ls }

func (e *env) order(coid string, side polybot.Side, price, size string, tif polybot.TimeInForce) polybot.OrderRequest {
	return polybot.OrderRequest{ClientOrderID: coid, Instrument: e.Instrument, Side: side, Price: D(price), Size: D(size), TIF: tif}
}

// place places req on x and fails t when the venue does not take it.
func (e *env) place(t *testing.T, x polybot.Exchange, req polybot.OrderRequest) *polybot.OrderStatus {
	t.Helper()
	st, err := x.PlaceOrder(e.ctx, req)
	if err != nil {
		t.Fatalf("placing %s: %v", req.ClientOrderID, err)
	}
	return st
}

// countOpen returns how many of x's open orders carry coid.
func (e *env) countOpen(t *testing.T, x polybot.Exchange, coid string) int {
	t.Helper()
	open, err := x.OpenOrders(e.ctx)
	if err != nil {
		t.Fatalf("OpenOrders: %v", err)
	}
	n := 0
	for _, o := range open {
		if o.ClientOrderID == coid {
			n++
		}
	}
	return n
}

// Book is the two sides of one instrument's book, best first.
type Book struct{ Bids, Asks []polybot.Level }

func (b Book) String() string { return fmt.Sprintf("bids %v asks %v", b.Bids, b.Asks) }

// top is b's best level a side.
func (b Book) top() Book {
	return Book{b.Bids[:min(len(b.Bids), 1)], b.Asks[:min(len(b.Asks), 1)]}
}

// shown is what the venue's feed shows of b: all of it, or its top, in
// the feed's lot.
func (e *env) shown(b Book) Book {
	if e.TopOfBook {
		b = b.top()
	}
	if e.FeedLot.Sign() <= 0 {
		return b
	}
	lots := func(ls []polybot.Level) []polybot.Level {
		var out []polybot.Level
		for _, l := range ls {
			if n := l.Size.Floor(e.FeedLot); n.Sign() > 0 {
				out = append(out, polybot.Level{Price: l.Price, Size: n})
			}
		}
		return out
	}
	return Book{lots(b.Bids), lots(b.Asks)}
}

// Equal reports whether b and o have the same levels.
func (b Book) Equal(o Book) bool { return slices.Equal(b.Bids, o.Bids) && slices.Equal(b.Asks, o.Asks) }

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refusal fails t unless err is a known refusal: non-nil and not an
// unknown outcome.
func refusal(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want a refusal", what)
	}
	if errors.Is(err, polybot.ErrOutcomeUnknown) {
		t.Fatalf("%s: %v is an unknown outcome, want a known refusal", what, err)
	}
}

// errorList collects failures from goroutines (a feed's sink) to report
// on the test goroutine.
type errorList struct {
	mu   sync.Mutex
	errs []string
}

func (l *errorList) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
}

func (l *errorList) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) > 0 {
		t.Fatal(strings.Join(l.errs, "\n"))
	}
}

// OutcomeSetCase checks one case of a connector's OutcomeSetOf table: the
// markets skipped ("label: reason", in order) are wantSkipped, and the
// answer is an error saying wantErr when that is set (false: the case
// ends there), else a valid set (true: the caller checks its outcomes).
func OutcomeSetCase(t *testing.T, set *polybot.OutcomeSet, skipped []polybot.SkippedMarket, err error, wantSkipped []string, wantErr string) bool {
	t.Helper()
	var gotSkipped []string
	for _, s := range skipped {
		gotSkipped = append(gotSkipped, s.Label+": "+s.Reason)
	}
	if strings.Join(gotSkipped, "|") != strings.Join(wantSkipped, "|") {
		t.Errorf("skipped %v, want %v", gotSkipped, wantSkipped)
	}
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one saying %q", err, wantErr)
		}
		t.Log(err)
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	return true
}

// ValidOutcomeSet fails t unless a connector's OutcomeSetOf answer (set,
// skipped, err) is a valid set with nothing skipped: the first check of
// every connector's event test.
func ValidOutcomeSet(t *testing.T, set *polybot.OutcomeSet, skipped []polybot.SkippedMarket, err error) {
	t.Helper()
	if err != nil || len(skipped) != 0 {
		t.Fatalf("OutcomeSetOf: %v, skipped %v", err, skipped)
	}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
}
