package news

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// scripted is a NewsSource that delivers its headlines once it may go
// (after the source before it), says when it is done, and then waits for
// the end.
type scripted struct {
	hs   []polybot.Headline
	wait <-chan struct{}
	done chan struct{}
	err  error
}

func (s *scripted) Run(ctx context.Context, sink func(polybot.Headline)) error {
	if s.wait != nil {
		<-s.wait
	}
	for _, h := range s.hs {
		sink(h)
	}
	close(s.done)
	if s.err != nil {
		return s.err
	}
	<-ctx.Done()
	return ctx.Err()
}

var _ polybot.NewsSource = (*scripted)(nil)
var _ polybot.NewsSource = (*Poller)(nil)

type collector struct {
	mu sync.Mutex
	hs []polybot.Headline
}

func (c *collector) sink(h polybot.Headline) {
	c.mu.Lock()
	c.hs = append(c.hs, h)
	c.mu.Unlock()
}

func (c *collector) titles() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, h := range c.hs {
		out = append(out, h.Source+": "+h.Title)
	}
	return out
}

func TestPipelineFansInValidatesDeduplicatesAndStamps(t *testing.T) {
	now := t0.Add(31 * time.Minute)
	stamped := t0.Add(30 * time.Minute)
	a := &scripted{done: make(chan struct{}), hs: []polybot.Headline{
		{Source: "wire-a", SourceName: "Wire A", Title: "Governor backs a near-term cut", Link: "https://wire-a.example.com/g"},
		{Source: "wire-a", SourceName: "Wire A", Title: "Payrolls beat forecasts", Link: "https://wire-a.example.com/p", Received: stamped},
		{Source: "wire-a", Title: "   ", Link: "https://wire-a.example.com/blank"},                        // refused: no title
		{Source: "wire-a", Title: "Bad link", Link: "javascript:alert(1)"},                                // refused: not http(s)
		{Source: "wire-a", Title: "Governor backs a near-term cut", Link: "https://wire-a.example.com/g"}, // the same item again
	}}
	b := &scripted{done: make(chan struct{}), wait: a.done, err: errors.New("hook listener failed"), hs: []polybot.Headline{
		{Source: "wire-b", Title: "GOVERNOR BACKS A NEAR-TERM CUT", Link: "https://wire-b.example.com/991"}, // the same story
		{Source: "wire-b", Title: "Oil steadies", Link: "https://wire-b.example.com/oil"},
	}}
	var got collector
	p := NewPipeline(PipelineConfig{Sink: got.sink, Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, a, b) }()
	<-b.done
	cancel()
	err := <-done
	if err == nil || !errors.Is(err, b.err) {
		t.Fatalf("Run = %v, want the failed source's error", err)
	}

	want := []string{"wire-a: Governor backs a near-term cut", "wire-a: Payrolls beat forecasts", "wire-b: Oil steadies"}
	if got := got.titles(); !slices.Equal(got, want) {
		t.Fatalf("sink got %q, want %q", got, want)
	}
	rec := p.Recent(10)
	if len(rec) != 3 || !rec[0].Received.Equal(now) || !rec[1].Received.Equal(stamped) {
		t.Fatalf("recent %+v: want Received stamped when missing, kept when given", rec)
	}
	for _, h := range rec {
		if tk, _ := h.Keys(); h.ID != "h-"+tk {
			t.Errorf("%q has ID %q", h.Title, h.ID)
		}
	}
}

func TestPipelineRecentKeepsTheLastNOldestFirstAndPerUser(t *testing.T) {
	alice, bob := polybot.NewID(), polybot.NewID()
	owners := map[string]polybot.ID{"alice-hook": alice, "bob-hook": bob}
	p := NewPipeline(PipelineConfig{Keep: 4, Owner: func(s string) polybot.ID { return owners[s] }})
	add := func(source, title string) {
		if !p.Handle(polybot.Headline{Source: source, Title: title}) {
			t.Fatalf("%s refused", title)
		}
	}
	add("wire", "one")
	add("alice-hook", "two")
	add("wire", "three")
	add("bob-hook", "four")
	add("wire", "five")
	add("alice-hook", "six")

	titles := func(hs []polybot.Headline) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Title)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		got  []polybot.Headline
		want []string
	}{
		{"all, bounded by Keep", p.Recent(10), []string{"three", "four", "five", "six"}},
		{"the last two", p.Recent(2), []string{"five", "six"}},
		{"none", p.Recent(0), nil},
		{"alice sees the platform's and her own", p.RecentFor(alice, 10), []string{"three", "five", "six"}},
		{"bob sees the platform's and his own", p.RecentFor(bob, 10), []string{"three", "four", "five"}},
		{"someone else sees the platform's", p.RecentFor(polybot.NewID(), 1), []string{"five"}},
	} {
		if got := titles(tc.got); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTestRuleFiresInOrderOfReceiptHonouringTheCooldown(t *testing.T) {
	rule := func(cooldown time.Duration, sources ...string) *polybot.NewsRule {
		return &polybot.NewsRule{ID: "r", AllOf: []string{"cut"}, NoneOf: []string{"rules out"}, Sources: sources, Cooldown: cooldown}
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	hs := []polybot.Headline{ // deliberately out of order
		{Title: "Governor: room for a cut", Source: "wire", Received: at(0)},
		{Title: "Second official backs a cut", Source: "wire", Received: at(10)},
		{Title: "Analysts see a December cut", Source: "hook", Received: at(5)},
		{Title: "Oil steadies", Source: "wire", Received: at(6)},
		{Title: "Chair rules out a cut", Source: "wire", Received: at(7)},
		{Title: "Shortcut to growth", Source: "wire", Received: at(8)}, // "cut" as a whole word only
		{Title: "Cut odds jump", Source: "wire", Received: at(25)},
	}
	type hit struct {
		minute int
		fired  bool
		until  int
	}
	for _, tc := range []struct {
		name string
		rule *polybot.NewsRule
		want []hit
	}{
		{"no cooldown: every match fires", rule(0), []hit{{0, true, 0}, {5, true, 0}, {10, true, 0}, {25, true, 0}}},
		{"a 10 minute cooldown; a match exactly at its end fires", rule(10 * time.Minute), []hit{{0, true, 0}, {5, false, 10}, {10, true, 0}, {25, true, 0}}},
		{"a 20 minute cooldown", rule(20 * time.Minute), []hit{{0, true, 0}, {5, false, 20}, {10, false, 20}, {25, true, 0}}},
		{"a source filter", rule(0, "hook"), []hit{{5, true, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TestRule(tc.rule, hs)
			if len(got) != len(tc.want) {
				t.Fatalf("%d hits, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				var until time.Time
				if w.until != 0 {
					until = at(w.until)
				}
				if !g.Headline.Received.Equal(at(w.minute)) || g.Fired != w.fired || !g.CooldownUntil.Equal(until) {
					t.Errorf("hit %d: received %v fired %v until %v, want minute %d fired %v until %v",
						i, g.Headline.Received, g.Fired, g.CooldownUntil, w.minute, w.fired, until)
				}
			}
		})
	}
	if got := TestRule(rule(0), nil); len(got) != 0 {
		t.Fatalf("no headlines: %+v", got)
	}
	if !hs[0].Received.Equal(at(0)) || !hs[1].Received.Equal(at(10)) {
		t.Fatal("TestRule reordered its input")
	}
}
