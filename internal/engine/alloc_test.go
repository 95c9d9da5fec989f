package engine

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/strategy"
)

func TestHundredTenantsOnAFiftyShareOpportunityRequestAtMostFifty(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	ids := make([]polybot.ID, 100)
	for i := range ids {
		// $9.50 buys 10 sets at 0.95: together they want 1,000.
		ids[i] = r.user(polybot.TierFree, func(c *polybot.Config) { c.MaxTradeSizeUSD = d("9.5") })
	}
	var decided atomic.Int64
	var mu sync.Mutex
	claimed := polybot.Zero
	r.startWith(Config{Universe: pmUniverse()}, func(m *Manager) {
		m.onDecision = func(_ polybot.ID, _ *polybot.Opportunity, got polybot.Decimal, _ time.Time) {
			mu.Lock()
			claimed = claimed.Add(got)
			mu.Unlock()
			decided.Add(1)
		}
	})
	r.waitRunning(ids...)

	r.book(pmYes, nil, []polybot.Level{lv("0.45", "50")})
	r.book(pmNo, nil, []polybot.Level{lv("0.50", "50"), lv("0.51", "1000")})
	eventually(t, "every tenant decided", func() bool { return decided.Load() == 100 })

	// No book changes after these two: once every grant is resolved (each
	// after its orders were recorded), no more orders can come.
	eventually(t, "every grant is resolved", func() bool { return r.m.disp.held() == 0 })
	requested := map[polybot.Instrument]polybot.Decimal{}
	traders := 0
	for _, id := range ids {
		ins := r.intents(id)
		if len(ins) > 0 {
			traders++
		}
		for _, in := range ins {
			if in.Side == polybot.Buy {
				requested[in.Instrument] = requested[in.Instrument].Add(in.Size)
			}
		}
	}
	for inst, q := range requested {
		if q.GreaterThan(d("50")) {
			t.Fatalf("tenants requested %s of %s, more than the 50 the book showed", q, inst.Key())
		}
	}
	if requested[pmYes] != d("50") || requested[pmNo] != d("50") || traders != 5 || claimed != d("50") {
		t.Fatalf("requested %v by %d tenants (claimed %s), want 50 on each leg by 5 tenants of 10", requested, traders, claimed)
	}
}

func TestGrantsSplitTheThinnestLegAndReleasesGiveBack(t *testing.T) {
	b := newDepthBook()
	o := &polybot.Opportunity{Legs: []polybot.Leg{
		{Instrument: pmYes, Price: d("0.45"), Available: d("30")},
		{Instrument: pmNo, Price: d("0.50"), Available: d("50")},
	}}
	free := func(i int) polybot.Decimal {
		l := &o.Legs[i]
		return b.free(keyAt(l.Instrument, false, l.Price), l.Available)
	}
	tenant := polybot.NewID()
	id1, got, _ := b.grant(tenant, false, o, d("20"), polybot.One, polybot.One)
	if got != d("20") {
		t.Fatalf("first grant %s", got)
	}
	id2, got, _ := b.grant(tenant, false, o, d("20"), polybot.One, polybot.One)
	if got != d("10") {
		t.Fatalf("second grant %s, want the 10 left on the thinner leg", got)
	}
	if _, got, ok := b.grant(tenant, false, o, d("5"), polybot.One, polybot.One); ok || !got.IsZero() {
		t.Fatalf("third grant %s, want nothing", got)
	}
	// Grant 2: leg 0 filled 6 of 10 (4 back), leg 1 filled all 10.
	b.resolve(GrantResult{GrantID: id2, Tenant: tenant, Released: []polybot.Decimal{d("4"), d("0")}})
	if free(0) != d("4") || free(1) != d("20") {
		t.Fatalf("after a partial release: %s, %s; want 4 (30 − 20 lent − 6 used) and 20 (50 − 20 − 10)", free(0), free(1))
	}
	if _, got, ok := b.grant(tenant, false, o, d("10.7"), d("0.5"), d("5")); ok || !got.IsZero() {
		t.Fatalf("grant of %s below the venue's minimum of 5", got)
	}
	if _, got, _ := b.grant(tenant, false, o, d("10.7"), d("0.5"), d("0.5")); got != d("4") {
		t.Fatalf("grant after release %s", got)
	}
	// A release larger than the grant gives back only the grant.
	b.resolve(GrantResult{GrantID: id1, Tenant: tenant, Released: []polybot.Decimal{d("1000"), d("1000")}})
	if free(0) != d("20") || free(1) != d("36") {
		t.Fatalf("after releasing grant 1: %s, %s; want 20 (30 − 4 lent − 6 used), 36 (50 − 4 − 10)", free(0), free(1))
	}
	if b.resolve(GrantResult{GrantID: id1, Tenant: tenant}) || b.unknownResults != 1 {
		t.Fatal("a grant resolves once; a second result is ignored")
	}
	id4, _, _ := b.grant(tenant, false, o, d("1"), polybot.One, polybot.One)
	if b.resolve(GrantResult{GrantID: id4, Tenant: polybot.NewID(), Released: []polybot.Decimal{d("1"), d("1")}}) || b.grants[id4] == nil {
		t.Fatal("another tenant resolved the grant")
	}
}

// TestDepthBookLendsOnlyWhatTheLevelShowedThroughBookChanges walks one ask
// level through book changes, grants and their results. The expected free
// sizes are worked by hand from what the book showed and what was lent.
func TestDepthBookLendsOnlyWhatTheLevelShowedThroughBookChanges(t *testing.T) {
	type step struct {
		op   string // show (the level's size; 0: gone), stale, grant (want → got), use, release, free, out
		n    string
		want string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a +1 update after 50 filled lends 1, not 51", []step{
			{"show", "50", ""}, {"grant", "50", "50"}, {"use", "", ""}, {"show", "51", ""}, {"free", "", "1"}, {"grant", "50", "1"}}},
		{"a +1 update while 50 are out lends 1", []step{
			{"show", "50", ""}, {"grant", "50", "50"}, {"show", "51", ""}, {"free", "", "1"}, {"use", "", ""}, {"free", "", "1"}}},
		{"a released grant is free again", []step{
			{"show", "50", ""}, {"grant", "30", "30"}, {"free", "", "20"}, {"out", "", "30"}, {"release", "", ""}, {"free", "", "50"}, {"out", "", "0"}}},
		{"the venue catching up with our fill frees nothing twice", []step{
			{"show", "50", ""}, {"grant", "30", "30"}, {"use", "", ""}, {"free", "", "20"}, {"show", "20", ""}, {"free", "", "20"}, {"show", "70", ""}, {"free", "", "70"}}},
		{"a level that shrinks while lent lends nothing until the grant comes back", []step{
			{"show", "50", ""}, {"grant", "50", "50"}, {"show", "20", ""}, {"free", "", "0"}, {"grant", "5", "0"}, {"release", "", ""}, {"free", "", "20"}}},
		{"others taking more than our fill leave what the book shows", []step{
			{"show", "50", ""}, {"grant", "30", "30"}, {"use", "", ""}, {"show", "10", ""}, {"free", "", "10"}}},
		{"a level that empties and comes back shows new depth", []step{
			{"show", "50", ""}, {"grant", "50", "50"}, {"use", "", ""}, {"show", "0", ""}, {"show", "40", ""}, {"free", "", "40"}}},
		{"a stale view changes nothing", []step{
			{"show", "50", ""}, {"grant", "50", "50"}, {"use", "", ""}, {"stale", "", ""}, {"free", "", "0"}}},
		{"the venue showing our fill before the runner reports it never leaves the level emptier than empty", []step{
			{"show", "50", ""}, {"grant", "30", "30"}, {"show", "20", ""}, {"use", "", ""}, {"free", "", "0"}, {"show", "0", ""}, {"show", "40", ""}, {"free", "", "40"}}},
		{"the same size shown again after a fill stays taken", []step{
			{"show", "50", ""}, {"grant", "20", "20"}, {"use", "", ""}, {"show", "50", ""}, {"free", "", "30"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newDepthBook()
			tenant := polybot.NewID()
			shown := polybot.Zero
			k := keyAt(pmYes, false, d("0.45"))
			var last GrantID
			for i, s := range tc.steps {
				switch s.op {
				case "show":
					shown = d(s.n)
					var asks []polybot.Level
					if shown.Sign() > 0 {
						asks = []polybot.Level{lv("0.44", "7"), {Price: d("0.45"), Size: shown}}
					}
					b.observe(pmYes, asks, false)
				case "stale":
					b.observe(pmYes, nil, true)
				case "grant":
					o := &polybot.Opportunity{Legs: []polybot.Leg{{Instrument: pmYes, Price: d("0.45"), Available: shown}}}
					id, got, _ := b.grant(tenant, false, o, d(s.n), polybot.One, polybot.One)
					if got != d(s.want) {
						t.Fatalf("step %d: granted %s, want %s", i, got, s.want)
					}
					if id != 0 {
						last = id
					}
				case "use":
					b.resolve(GrantResult{GrantID: last, Tenant: tenant})
				case "release":
					h := b.grants[last]
					b.resolve(GrantResult{GrantID: last, Tenant: tenant, Released: []polybot.Decimal{h.size}})
				case "free":
					if got := b.free(k, shown); got != d(s.want) {
						t.Fatalf("step %d: free %s, want %s", i, got, s.want)
					}
				case "out":
					if got := b.outstanding(k); got != d(s.want) {
						t.Fatalf("step %d: outstanding %s, want %s", i, got, s.want)
					}
				}
			}
		})
	}
}

func TestLevelsThatHoldNothingAreForgotten(t *testing.T) {
	b := newDepthBook()
	records := func() int {
		n := 0
		for _, byPrice := range b.levels {
			n += len(byPrice)
		}
		return n
	}
	o := &polybot.Opportunity{Legs: []polybot.Leg{{Instrument: pmYes, Price: d("0.45"), Available: d("50")}}}
	tenant := polybot.NewID()
	id, _, _ := b.grant(tenant, false, o, d("10"), polybot.One, polybot.One)
	b.resolve(GrantResult{GrantID: id, Tenant: tenant, Released: []polybot.Decimal{d("10")}})
	if records() != 0 {
		t.Fatalf("a level with nothing lent or used is still kept: %v", b.levels)
	}
	id, _, _ = b.grant(tenant, false, o, d("10"), polybot.One, polybot.One)
	b.resolve(GrantResult{GrantID: id, Tenant: tenant})
	if records() != 1 {
		t.Fatal("a level with used depth must be kept until the book shows it gone")
	}
	b.observe(pmYes, []polybot.Level{lv("0.45", "40")}, false)
	if records() != 0 {
		t.Fatal("the book showing the fill gone must end the record")
	}
}

// TestRouteDecidesThenTellsTheRest: route lends a thin level to the first
// tenants of each pool (paper, live) and stops once both are dry, leaving
// the rest owed; a second opportunity routes before the first is settled;
// settling then tells every tenant of each opportunity exactly once, the
// ones route did not reach decided (lent nothing) when route ended.
func TestRouteDecidesThenTellsTheRest(t *testing.T) {
	const n, lives = 60, 20
	m, ts := allocManager(n)
	for i, tn := range ts { // $5 a trade (5.26 sets, over Polymarket's minimum of 5); every third tenant live
		s := *tn.snap.Load()
		c := *s.cfg
		c.MaxTradeSizeUSD = d("5")
		c.DryRun = i%3 != 0 || i/3 >= lives
		s.cfg = &c
		tn.snap.Store(&s)
	}
	m.index.Store(buildIndex(ts))
	type call struct {
		got polybot.Decimal
		at  time.Time
	}
	calls := map[string]map[polybot.ID][]call{}
	m.onDecision = func(id polybot.ID, o *polybot.Opportunity, got polybot.Decimal, at time.Time) {
		if calls[o.ID] == nil {
			calls[o.ID] = map[polybot.ID][]call{}
		}
		calls[o.ID][id] = append(calls[o.ID][id], call{got, at})
	}
	thin := func(id, price string) *polybot.Opportunity {
		o := deepOpportunity()
		o.ID = id
		o.Legs = append([]polybot.Leg(nil), o.Legs...)
		o.Legs[0].Price = d(price)
		o.Legs[0].Available = d("12") // two tenants per pool, and less than an order left
		o.Size = d("12")
		return o
	}
	want := d("10.52")
	disp := m.disp
	a, b := thin("a", "0.45"), thin("b", "0.44")
	disp.route(a, time.Now())
	reached := len(calls["a"])
	if reached == 0 || reached >= n {
		t.Fatalf("route decided %d of %d tenants before settling, want some but not all", reached, n)
	}
	if len(disp.owed) != 1 || disp.owedN != n-reached || disp.owed[0].untold() != n-reached {
		t.Fatalf("%d opportunities and %d tenants owed after one route (%d untold), want 1 and %d", len(disp.owed), disp.owedN, disp.owed[0].untold(), n-reached)
	}
	disp.settle(5) // a little of a, then b comes
	disp.route(b, time.Now())
	if len(disp.owed) != 2 {
		t.Fatalf("%d opportunities owed, want 2", len(disp.owed))
	}
	for disp.settle(7) {
	}
	if disp.owedN != 0 {
		t.Fatalf("%d tenants still owed once settled", disp.owedN)
	}
	for _, o := range []*polybot.Opportunity{a, b} {
		lent := [2]polybot.Decimal{}
		var fixed time.Time // when route ended: the latest decision it took itself
		for _, tn := range ts {
			cs := calls[o.ID][tn.id]
			if len(cs) != 1 {
				t.Fatalf("%s: tenant decided %d times, want once", o.ID, len(cs))
			}
			lent[poolIndex(tn.snap.Load().mode() == polybot.Live)] = lent[poolIndex(tn.snap.Load().mode() == polybot.Live)].Add(cs[0].got)
			if cs[0].at.After(fixed) {
				fixed = cs[0].at
			}
		}
		for p, got := range lent {
			if got != want {
				t.Fatalf("%s: pool %d lent %s, want 10.52 of the 12 shown (two tenants' 5.26; 1.48 is below an order)", o.ID, p, got)
			}
		}
		told := 0
		for _, tn := range ts {
			if cs := calls[o.ID][tn.id]; cs[0].at.Equal(fixed) {
				told++
			}
		}
		if told < n/2 {
			t.Fatalf("%s: %d tenants decided when route ended, want the many it did not reach", o.ID, told)
		}
	}
	for _, tn := range ts {
		if got := tn.c.opportunities.Load(); got != 2 {
			t.Fatalf("a tenant was told of %d opportunities, want 2", got)
		}
	}
}

// A route whose Wants panics (an injected one) is dropped, and the next
// routes still lend: the depth book's lock is not left held.
func TestARouteThatPanicsLeavesTheDispatcherServing(t *testing.T) {
	m, ts := allocManager(3)
	m.log = slog.New(slog.DiscardHandler)
	boom := true
	m.cfg.Wants = func(c *polybot.Config, f polybot.Features, o *polybot.Opportunity) bool {
		if boom {
			panic("a bad Wants")
		}
		return strategy.Wants(c, f, o)
	}
	o := deepOpportunity()
	o.ID = "a"
	m.disp.routeSafely(o, time.Now())
	if got := m.detectPanics.Load(); got != 1 {
		t.Fatalf("%d panics counted, want 1", got)
	}
	boom = false
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := deepOpportunity()
		b.ID = "b"
		m.disp.routeSafely(b, time.Now())
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the next route is stuck: the depth book's lock was left held")
	}
	if n := m.disp.held(); n != len(ts) {
		t.Fatalf("%d grants after the panic, want one for each of %d tenants", n, len(ts))
	}
}

// TestDepthGoesRoundEveryTenant checks the round robin: 1,000 tenants,
// and opportunities each deep enough for 10 of them (the depth given back
// between them, as a book that refills). Every tenant is lent depth once
// in the first 100 opportunities, in turn; starting one tenant later each
// time, the first 100 opportunities reached 109 tenants, ten times each.
func TestDepthGoesRoundEveryTenant(t *testing.T) {
	const n, per, rounds = 1000, 10, 100
	m, ts := allocManager(n)
	disp := m.disp
	byID := map[polybot.ID]int{}
	for i, tt := range ts {
		byID[tt.id] = i
	}
	lent := map[polybot.ID]int{}
	buf := make([]Grant, 0, 4)
	for r := range rounds {
		o := *deepOpportunity()
		o.Legs = append([]polybot.Leg(nil), o.Legs...)
		o.Legs[0].Available = d("5.26").MulInt(per) // ten tenants' $5 at 0.95 a set
		o.ID = fmt.Sprint("op", r)
		disp.route(&o, time.Time{})
		for disp.settle(1 << 30) {
		}
		got := 0
		for _, tt := range ts {
			buf = tt.box.take(buf[:0])
			for j := range buf {
				got++
				lent[tt.id]++
				disp.Resolve(buf[j].releaseAll())
			}
		}
		if got != per {
			t.Fatalf("opportunity %d lent depth to %d tenants, want %d", r, got, per)
		}
	}
	if len(lent) != n {
		t.Fatalf("%d of %d tenants were lent depth in %d opportunities of %d grants each, want every one", len(lent), n, rounds, per)
	}
	for id, k := range lent {
		if k != 1 {
			t.Errorf("tenant %d was lent depth %d times, want once", byID[id], k)
		}
	}
}

// TestGrantsDoNotShareLegs checks the legs grants are cut from one slab:
// each grant's legs are its own, and appending to them reaches no other
// grant's.
func TestGrantsDoNotShareLegs(t *testing.T) {
	m, ts := allocManager(600) // more grants than one slab holds
	disp := m.disp
	o := deepOpportunity()
	group, lot := groupOf(o), lotOf(o)
	var grants []Grant
	disp.mu.Lock()
	for _, tn := range ts {
		g, ok := disp.offerTo(tn, o, group, time.Time{}, lot)
		if !ok || g.Sets.Sign() <= 0 {
			t.Fatalf("tenant %s was lent nothing", tn.id)
		}
		grants = append(grants, g)
	}
	disp.mu.Unlock()
	for i := range grants {
		g := &grants[i]
		if len(g.Legs) != 2 || cap(g.Legs) != 2 {
			t.Fatalf("grant %d: %d legs of room %d, want 2 of 2", i, len(g.Legs), cap(g.Legs))
		}
		g.Legs = append(g.Legs, GrantLeg{Size: d("99")})
		g.Legs[0].Size = d("1")
	}
	for i := range grants {
		g := &grants[i]
		if g.Legs[0].Size != d("1") || g.Legs[1].Size != g.Sets || g.Legs[2].Size != d("99") {
			t.Fatalf("grant %d's legs changed with another's: %+v", i, g.Legs)
		}
	}
}
