package marketdata

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// fakeFeed records the hub's calls. Run is not used: tests call Handle.
type fakeFeed struct {
	mu      sync.Mutex
	calls   []string
	failSub error
}

func (f *fakeFeed) Platform() polybot.Platform { return polybot.Kalshi }
func (f *fakeFeed) Run(ctx context.Context, sink func(polybot.BookEvent)) error {
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeFeed) record(op string, insts []polybot.Instrument) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, i := range insts {
		f.calls = append(f.calls, op+" "+i.Market)
	}
}
func (f *fakeFeed) Subscribe(_ context.Context, insts ...polybot.Instrument) error {
	if f.failSub != nil {
		return f.failSub
	}
	f.record("sub", insts)
	return nil
}
func (f *fakeFeed) Unsubscribe(insts ...polybot.Instrument) error {
	f.record("unsub", insts)
	return nil
}
func (f *fakeFeed) Resync(inst polybot.Instrument) error {
	f.record("resync", []polybot.Instrument{inst})
	return nil
}
func (f *fakeFeed) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func inst(m string) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.Kalshi, Market: m, Outcome: polybot.Yes}
}

func snap(m string, seq int64, bids, asks []polybot.Level) polybot.BookEvent {
	return polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst(m), Bids: bids, Asks: asks, Seq: seq}
}

func delta(m string, seq int64, bids, asks []polybot.Level) polybot.BookEvent {
	return polybot.BookEvent{Kind: polybot.BookDelta, Instrument: inst(m), Bids: bids, Asks: asks, Seq: seq}
}

func levels(ls ...polybot.Level) []polybot.Level { return ls }

func viewString(v *View) string {
	if v.Stale {
		return "stale"
	}
	return sideString(v.Bids) + "| " + sideString(v.Asks)
}

func pollStrings(s *Subscription) []string {
	var out []string
	for _, v := range s.Poll(nil) {
		out = append(out, v.Instrument.Market+": "+viewString(v))
	}
	return out
}

func TestHubReferenceCountsFeedSubscriptions(t *testing.T) {
	f := &fakeFeed{}
	h := NewHub(f, HubConfig{})
	s1, _ := h.Subscribe(context.Background(), inst("A"))
	s2, _ := h.Subscribe(context.Background(), inst("A"), inst("B"), inst("B"))
	s3, _ := h.Subscribe(context.Background(), inst("B"))
	if st := h.Stats(); st.Subscriptions != 3 || st.Instruments != 2 {
		t.Errorf("stats %+v", st)
	}
	s1.Close()
	s2.Close()
	s2.Close() // no-op
	if got := fmt.Sprint(f.Calls()); got != "[sub A sub B unsub A]" {
		t.Errorf("calls after closing s1, s2: %s", got)
	}
	s3.Close()
	if got := fmt.Sprint(f.Calls()); got != "[sub A sub B unsub A unsub B]" {
		t.Errorf("calls after closing all: %s", got)
	}
	if st := h.Stats(); st.Subscriptions != 0 || st.Instruments != 0 {
		t.Errorf("stats %+v", st)
	}
	if _, err := h.View(inst("A")); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Errorf("view of an unsubscribed instrument: %v", err)
	}
}

func TestHubSubscribeFailureLeavesNoReference(t *testing.T) {
	f := &fakeFeed{failSub: errors.New("down")}
	h := NewHub(f, HubConfig{})
	if _, err := h.Subscribe(context.Background(), inst("A")); err == nil {
		t.Fatal("no error")
	}
	f.failSub = nil
	if _, err := h.Subscribe(context.Background(), inst("A")); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.Calls()); got != "[sub A]" {
		t.Errorf("calls %s", got)
	}
}

func TestHubAppliesEventsAndConflatesForSlowSubscribers(t *testing.T) {
	f := &fakeFeed{}
	h := NewHub(f, HubConfig{})
	s, _ := h.Subscribe(context.Background(), inst("A"))
	h.Handle(delta("A", 0, levels(lv("0.40", "1")), nil)) // before any snapshot: dropped
	if got := pollStrings(s); len(got) != 0 {
		t.Errorf("delivered before the first snapshot: %v", got)
	}
	h.Handle(snap("A", 0, levels(lv("0.40", "10"), lv("0.41", "5")), levels(lv("0.45", "7"))))
	h.Handle(delta("A", 0, levels(lv("0.42", "1")), nil))
	h.Handle(delta("A", 0, nil, levels(lv("0.45", "0"), lv("0.46", "2"))))
	if got := fmt.Sprint(pollStrings(s)); got != "[A: 0.42x1.00 0.41x5.00 0.40x10.00 | 0.46x2.00 ]" {
		t.Errorf("conflated poll %s", got)
	}
	if got := pollStrings(s); len(got) != 0 {
		t.Errorf("second poll %v", got)
	}
	v, err := h.View(inst("A"))
	if err != nil || v.Version != 3 {
		t.Fatalf("view %+v %v", v, err)
	}
	if bid, _ := v.BestBid(); bid.Price != polybot.MustDecimal("0.42") {
		t.Errorf("best bid %s", bid.Price)
	}
	// A late subscriber starts with the current book.
	late, _ := h.Subscribe(context.Background(), inst("A"))
	if got := pollStrings(late); len(got) != 1 {
		t.Errorf("late subscriber got %v", got)
	}
	// A view is immutable: later changes do not show in it.
	h.Handle(delta("A", 0, levels(lv("0.42", "0")), nil))
	if bid, _ := v.BestBid(); bid.Price != polybot.MustDecimal("0.42") {
		t.Errorf("old view changed: %s", bid.Price)
	}
}

func TestHubResynchronisesOnGapsAndCrossedBooks(t *testing.T) {
	now := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name   string
		bad    polybot.BookEvent
		counts func(HubStats) uint64
	}{
		{"a sequence gap", delta("A", 4, levels(lv("0.30", "1")), nil), func(s HubStats) uint64 { return s.Gaps }},
		{"a delta that crosses the book", delta("A", 3, levels(lv("0.50", "1")), nil), func(s HubStats) uint64 { return s.Crossed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFeed{}
			h := NewHub(f, HubConfig{Now: clock, ResyncRetry: time.Second})
			s, _ := h.Subscribe(context.Background(), inst("A"))
			h.Handle(snap("A", 1, levels(lv("0.40", "10")), levels(lv("0.45", "7"))))
			h.Handle(delta("A", 2, levels(lv("0.41", "1")), nil))
			h.Handle(delta("A", 2, levels(lv("0.39", "1")), nil)) // duplicate: ignored
			s.Poll(nil)
			h.Handle(tt.bad)
			if got := fmt.Sprint(pollStrings(s)); got != "[A: stale]" {
				t.Errorf("after the bad event: %s", got)
			}
			if _, err := h.View(inst("A")); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
				t.Errorf("view of a stale book: %v", err)
			}
			h.Handle(delta("A", 5, levels(lv("0.20", "1")), nil)) // stale: dropped, no second resync yet
			if got := pollStrings(s); len(got) != 0 {
				t.Errorf("delivered from a stale book: %v", got)
			}
			now = now.Add(time.Second)
			h.Handle(delta("A", 6, levels(lv("0.20", "1")), nil)) // retry is due
			if got := fmt.Sprint(f.Calls()); got != "[sub A resync A resync A]" {
				t.Errorf("feed calls %s", got)
			}
			h.Handle(snap("A", 10, levels(lv("0.38", "3")), levels(lv("0.44", "2"))))
			h.Handle(delta("A", 11, nil, levels(lv("0.43", "1"))))
			if got := fmt.Sprint(pollStrings(s)); got != "[A: 0.38x3.00 | 0.43x1.00 0.44x2.00 ]" {
				t.Errorf("after the fresh snapshot: %s", got)
			}
			st := h.Stats()
			if tt.counts(st) != 1 || st.Resyncs != 2 || st.Ignored != 3 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestHubQueuesTradesAndCountsDrops(t *testing.T) {
	h := NewHub(&fakeFeed{}, HubConfig{TradeQueue: 2})
	s, _ := h.Subscribe(context.Background(), inst("A"))
	for i := range 3 {
		h.Handle(polybot.BookEvent{Kind: polybot.BookTrade, Instrument: inst("A"), TradePrice: polybot.NewDecimal(int64(40+i), 2), TradeSize: polybot.One})
	}
	trades, dropped := s.Trades(nil)
	if len(trades) != 2 || dropped != 1 || trades[1].TradePrice.String() != "0.41" {
		t.Errorf("trades %+v dropped %d", trades, dropped)
	}
	if st := h.Stats(); st.TradesDropped != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestHubNextWaitsForAnUpdate(t *testing.T) {
	h := NewHub(&fakeFeed{}, HubConfig{})
	s, _ := h.Subscribe(context.Background(), inst("A"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go h.Handle(snap("A", 0, levels(lv("0.40", "1")), nil))
	vs, err := s.Next(ctx, nil)
	if err != nil || len(vs) != 1 {
		t.Fatalf("next %v %v", vs, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := s.Next(short, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("next with nothing new: %v", err)
	}
}

func TestHubGivesConcurrentReadersConsistentBooks(t *testing.T) {
	h := NewHub(&fakeFeed{}, HubConfig{})
	keep, _ := h.Subscribe(context.Background(), inst("A"))
	h.Handle(snap("A", 1, levels(lv("0.40", "1")), levels(lv("0.60", "1"))))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	check := func(v *View) {
		if v.Stale {
			return
		}
		if !slices.IsSortedFunc(v.Bids, func(a, b polybot.Level) int { return b.Price.Cmp(a.Price) }) ||
			!slices.IsSortedFunc(v.Asks, func(a, b polybot.Level) int { return a.Price.Cmp(b.Price) }) {
			t.Errorf("unsorted view %s", viewString(v))
		}
		// Each delta moves a bid and an ask together: a consistent view
		// has as many of each.
		if len(v.Bids) != len(v.Asks) {
			t.Errorf("half-applied view %s", viewString(v))
		}
	}
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				s, err := h.Subscribe(context.Background(), inst("A"))
				if err != nil {
					t.Error(err)
					return
				}
				for _, v := range s.Poll(nil) {
					check(v)
				}
				if v, err := h.View(inst("A")); err == nil {
					check(v)
				}
				s.Close()
			}
		})
	}
	for i := range 2000 {
		p := int64(i % 20)
		h.Handle(delta("A", int64(i+2), levels(polybot.Level{Price: polybot.NewDecimal(20+p, 2), Size: polybot.One}),
			levels(polybot.Level{Price: polybot.NewDecimal(61+p, 2), Size: polybot.One})))
	}
	cancel()
	wg.Wait()
	for _, v := range keep.Poll(nil) {
		check(v)
		if v.Seq != 2001 {
			t.Errorf("last view seq %d", v.Seq)
		}
	}
}

// BenchmarkHubFanout measures one book update delivered to 10,000
// subscribers of the same instrument. "conflated": subscribers do not read
// between updates (each costs an atomic swap); "readers": every subscriber
// drains its mailbox after each update (the swap, the dirty list and the
// wake-up signal).
func BenchmarkHubFanout(b *testing.B) {
	const n = 10_000
	for _, mode := range []string{"conflated", "readers"} {
		b.Run(mode, func(b *testing.B) {
			h := NewHub(&fakeFeed{}, HubConfig{})
			subs := make([]*Subscription, n)
			for i := range subs {
				subs[i], _ = h.Subscribe(context.Background(), inst("A"))
			}
			var bids, asks []polybot.Level
			for i := range 20 {
				bids = append(bids, polybot.Level{Price: polybot.NewDecimal(int64(40-i), 2), Size: polybot.One})
				asks = append(asks, polybot.Level{Price: polybot.NewDecimal(int64(41+i), 2), Size: polybot.One})
			}
			h.Handle(snap("A", 1, bids, asks))
			ev := delta("A", 0, levels(lv("0.40", "1")), nil)
			var buf []*View
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev.Bids[0].Size = polybot.NewDecimal(int64(1+i%7), 0)
				h.Handle(ev)
				if mode == "readers" {
					b.StopTimer()
					for _, s := range subs {
						buf = s.Poll(buf[:0])
						select {
						case <-s.C():
						default:
						}
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/subscriber")
		})
	}
}

// BenchmarkBookApplyDelta measures applying one delta level to a 50-level
// side: replacing a size, and removing then re-inserting a level.
func BenchmarkBookApplyDelta(b *testing.B) {
	book := NewBook(inst("A"))
	var bids, asks []polybot.Level
	for i := range 50 {
		bids = append(bids, polybot.Level{Price: polybot.NewDecimal(int64(500-i), 3), Size: polybot.One})
		asks = append(asks, polybot.Level{Price: polybot.NewDecimal(int64(501+i), 3), Size: polybot.One})
	}
	book.Apply(&polybot.BookEvent{Kind: polybot.BookSnapshot, Bids: bids, Asks: asks})
	b.Run("replace", func(b *testing.B) {
		ev := polybot.BookEvent{Kind: polybot.BookDelta, Bids: []polybot.Level{{Price: polybot.NewDecimal(480, 3)}}}
		b.ReportAllocs()
		for i := range b.N {
			ev.Bids[0].Size = polybot.NewDecimal(int64(1+i%9), 0)
			book.Apply(&ev)
		}
	})
	b.Run("remove-insert", func(b *testing.B) {
		ev := polybot.BookEvent{Kind: polybot.BookDelta, Asks: []polybot.Level{{Price: polybot.NewDecimal(520, 3)}}}
		b.ReportAllocs()
		for i := range b.N {
			ev.Asks[0].Size = polybot.NewDecimal(int64(i&1), 0)
			book.Apply(&ev)
		}
	})
}

func TestHubTreatsALostConnectionAsUnknownBooksUntilTheNextSnapshot(t *testing.T) {
	f := &fakeFeed{}
	h := NewHub(f, HubConfig{})
	s, _ := h.Subscribe(context.Background(), inst("A"))
	h.Handle(snap("A", 1, levels(lv("0.40", "10")), levels(lv("0.45", "7"))))
	s.Poll(nil)
	h.Handle(polybot.BookEvent{Kind: polybot.BookInvalidate, Instrument: inst("A")})
	if got := fmt.Sprint(pollStrings(s)); got != "[A: stale]" {
		t.Errorf("after the connection was lost: %s", got)
	}
	if _, err := h.View(inst("A")); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Errorf("view while disconnected: %v", err)
	}
	// The feed re-snapshots by itself on reconnect: the hub asks for nothing.
	if got := fmt.Sprint(f.Calls()); got != "[sub A]" {
		t.Errorf("feed calls %s", got)
	}
	h.Handle(snap("A", 1, levels(lv("0.41", "2")), levels(lv("0.44", "3"))))
	if v, err := h.View(inst("A")); err != nil || viewString(v) != "0.41x2.00 | 0.44x3.00 " {
		t.Errorf("after reconnecting: %v %v", v, err)
	}
}
