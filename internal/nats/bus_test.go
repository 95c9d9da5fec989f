package nats_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/nats"
	"github.com/polybot/polybot/internal/nats/natstest"
)

// open connects a bus under a prefix of its own (natstest), removed when
// the test ends.
func open(t *testing.T) (*nats.Bus, nats.Config) {
	t.Helper()
	cfg := natstest.Config(t)
	return natstest.Connect(t, cfg), cfg
}

func within(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestALateWatcherGetsTheLatestValueOfEveryKeyThenUpdates(t *testing.T) {
	bus, _ := open(t)
	ctx := context.Background()
	for _, v := range []string{"a1", "a2", "a3"} {
		if err := bus.PutLast(ctx, "books", "polymarket:123", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.PutLast(ctx, "books", "kalshi:KXFED-H0:YES", []byte("b1")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	got := map[string]string{}
	stop, err := bus.WatchLast(ctx, "books", func(k string, d []byte) {
		mu.Lock()
		defer mu.Unlock()
		got[k] = string(d)
		seen = append(seen, k+"="+string(d))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	within(t, "the two latest values", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got["polymarket:123"] == "a3" && got["kalshi:KXFED-H0:YES"] == "b1"
	})
	mu.Lock()
	if len(seen) != 2 {
		t.Errorf("the late watcher saw %v, want only the latest value of each key", seen)
	}
	mu.Unlock()
	if err := bus.PutLast(ctx, "books", "polymarket:123", []byte("a4")); err != nil {
		t.Fatal(err)
	}
	within(t, "the update", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return got["polymarket:123"] == "a4" })
}

func TestSendDeliversOnceByIDAndRedeliversWhatWasNotAcknowledged(t *testing.T) {
	bus, cfg := open(t)
	ctx := context.Background()
	for _, m := range []struct{ id, data string }{{"g-1", "one"}, {"g-1", "one again"}, {"g-2", "two"}} {
		if err := bus.Send(ctx, "grants.worker-a", m.id, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	failed := false
	stop, err := bus.Receive(ctx, "grants.worker-a", 200*time.Millisecond, func(d []byte) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(d))
		if string(d) == "two" && !failed {
			failed = true
			return errors.New("not now")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "one, two, and two redelivered", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 3 })
	stop()
	mu.Lock()
	if len(got) != 3 || got[0] != "one" || got[1] != "two" || got[2] != "two" {
		t.Fatalf("received %q: want one (its resend dropped), then two twice (refused once)", got)
	}
	mu.Unlock()

	// The server deletes the queue's consumer once nobody has used it for
	// ConsumerIdle (a worker gone for good).
	nc, err := natsgo.Connect(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(ctx, cfg.Prefix+"_queues", "grants_worker-a")
	if err != nil {
		t.Fatal(err)
	}
	if info := c.CachedInfo(); info.Config.InactiveThreshold != nats.ConsumerIdle {
		t.Fatalf("the queue's consumer is deleted after %s idle, want %s", info.Config.InactiveThreshold, nats.ConsumerIdle)
	}
	nc.Close()

	// A worker that dies holding a message: another instance gets it.
	if err := bus.Send(ctx, "grants.worker-a", "g-3", []byte("three")); err != nil {
		t.Fatal(err)
	}
	crashed, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	stop, err = bus.Receive(ctx, "grants.worker-a", 300*time.Millisecond, func(d []byte) error {
		close(crashed)
		<-release // does not return while the test runs: never acknowledged
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-crashed:
	case <-time.After(10 * time.Second):
		t.Fatal("the message sent after the first consumer stopped never reached the second")
	}
	_ = stop
	bus2, err := nats.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer bus2.Close()
	_ = bus.Close() // the first instance's connection goes away
	var again string
	stop2, err := bus2.Receive(ctx, "grants.worker-a", 300*time.Millisecond, func(d []byte) error {
		mu.Lock()
		again = string(d)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	within(t, "the unacknowledged message at the next instance", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return again == "three" })
}

// A post waits for whoever takes it first: a watcher that starts later
// still sees it, of two buses racing to take it exactly one does, a taken
// key is not posted again, and every watcher hears that it was taken.
func TestAPostIsTakenOnceAndNotPostedAgain(t *testing.T) {
	bus, cfg := open(t)
	other := natstest.Connect(t, cfg)
	ctx := context.Background()
	for i, want := range []bool{true, false} { // the second is a repost of the same key
		posted, err := bus.Post(ctx, "news", "tenant-1.h-williams", []byte("williams"))
		if err != nil || posted != want {
			t.Fatalf("post %d: %v, %v; want %v", i+1, posted, err, want)
		}
	}
	if posted, err := bus.Post(ctx, "news", "tenant-2.h-logan", []byte("logan")); err != nil || !posted {
		t.Fatalf("another key: %v, %v", posted, err)
	}
	type watcher struct {
		mu      sync.Mutex
		waiting map[string]polybot.Posted
		taken   map[string]bool
	}
	watch := func(b *nats.Bus) *watcher {
		w := &watcher{waiting: map[string]polybot.Posted{}, taken: map[string]bool{}}
		stop, err := b.WatchPosts(ctx, "news", func(p polybot.Posted) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if p.Taken {
				delete(w.waiting, p.Key)
				w.taken[p.Key] = true
			} else {
				w.waiting[p.Key] = p
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return w
	}
	a, b := watch(bus), watch(other) // both start after the posts
	for _, w := range []*watcher{a, b} {
		within(t, "both waiting posts", 5*time.Second, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.waiting) == 2 })
	}
	a.mu.Lock()
	p := a.waiting["tenant-1.h-williams"]
	a.mu.Unlock()
	if string(p.Data) != "williams" || p.Rev == 0 {
		t.Fatalf("the waiting post %+v", p)
	}
	var wg sync.WaitGroup
	var takes [2]bool
	var errs [2]error
	for i, taker := range []*nats.Bus{bus, other} {
		wg.Go(func() { takes[i], errs[i] = taker.Take(ctx, "news", p) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || takes[0] == takes[1] {
		t.Fatalf("two racing takes: %v %v (errors %v, %v), want exactly one true", takes[0], takes[1], errs[0], errs[1])
	}
	if ok, err := other.Take(ctx, "news", p); ok || err != nil {
		t.Fatalf("taking a taken post: %v, %v", ok, err)
	}
	for _, w := range []*watcher{a, b} {
		within(t, "the take seen", 5*time.Second, func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			_, waits := w.waiting["tenant-1.h-williams"]
			return w.taken["tenant-1.h-williams"] && !waits && len(w.waiting) == 1
		})
	}
	if posted, err := other.Post(ctx, "news", "tenant-1.h-williams", []byte("williams again")); err != nil || posted {
		t.Fatalf("reposting a taken key: %v, %v; want not posted", posted, err)
	}
	if _, err := bus.Post(ctx, "news", "k", nil); polybot.ErrorCode(err) != polybot.EINVALID {
		t.Fatalf("an empty post: %v, want EINVALID", err)
	}
	_ = bus.Close()
	if _, err := bus.Post(ctx, "news", "k", []byte("x")); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("Post on a closed bus: %v, want EUNAVAILABLE", err)
	}
	if _, err := bus.Take(ctx, "news", p); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("Take on a closed bus: %v, want EUNAVAILABLE", err)
	}
}

func TestPublishReachesTheSubscribersOfTheMoment(t *testing.T) {
	bus, _ := open(t)
	if err := bus.Publish("events.nobody", []byte("lost")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	stop, err := bus.Subscribe("events.tenant-1", func(d []byte) { mu.Lock(); got = append(got, string(d)); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, topic := range []string{"events.tenant-1", "events.tenant-2", "events.tenant-1"} {
		if err := bus.Publish(topic, []byte(topic)); err != nil {
			t.Fatal(err)
		}
	}
	within(t, "tenant-1's two events", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
}

func TestWithoutNATSEveryCallFailsClosedAndBadNamesNameTheirField(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := nats.Connect(ctx, nats.Config{URL: "nats://127.0.0.1:1"})
	if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("connecting to nothing: %v, want EUNAVAILABLE", err)
	}
	bus, _ := open(t)
	for _, c := range []struct {
		field string
		err   error
	}{
		{"queue", bus.Send(ctx, "grants worker", "id", nil)},
		{"id", bus.Send(ctx, "grants.w", "", nil)},
		{"topic", bus.Publish("events.>", nil)},
		{"kind", bus.PutLast(ctx, "books.x", "k", nil)},
		{"kind", func() error { _, err := bus.Post(ctx, "news.x", "k", []byte("x")); return err }()},
	} {
		if _, ok := polybot.ErrorFields(c.err)[c.field]; !ok || polybot.ErrorCode(c.err) != polybot.EINVALID {
			t.Errorf("%s: %v, want EINVALID naming it", c.field, c.err)
		}
	}
	_ = bus.Close()
	if err := bus.Send(ctx, "grants.w", "id-1", []byte("x")); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("Send on a closed bus: %v, want EUNAVAILABLE", err)
	}
}

// receiveUntil consumes queue until the message marker arrives and returns
// what came before it. A queue keeps the order messages were stored in,
// so whatever was queued before the marker is in the result.
func receiveUntil(t *testing.T, bus *nats.Bus, queue, marker string) []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	stop, err := bus.Receive(context.Background(), queue, 5*time.Second, func(d []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if string(d) == marker {
			close(done)
			return nil
		}
		got = append(got, string(d))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the marker never arrived; got %q", queue, got)
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), got...)
}

func TestSendAllQueuesEveryMessageOnceInOrderAndDropsResendsByID(t *testing.T) {
	bus, _ := open(t)
	ctx := context.Background()
	if err := bus.Send(ctx, "grants.w1", "g-0", []byte("zero")); err != nil {
		t.Fatal(err)
	}
	const n = 300
	var msgs []polybot.Outgoing
	want := map[string][]string{"grants.w1": {"zero"}, "grants.w2": nil}
	for k := range n {
		q := []string{"grants.w1", "grants.w2"}[k%2]
		d := fmt.Sprintf("%s/%d", q, k)
		msgs = append(msgs, polybot.Outgoing{Queue: q, ID: fmt.Sprintf("b-%d", k), Data: []byte(d)})
		want[q] = append(want[q], d)
		switch k {
		case 10: // a resend within the batch
			msgs = append(msgs, polybot.Outgoing{Queue: q, ID: "b-3", Data: []byte("b-3 again")})
		case 20: // a resend of what Send queued before
			msgs = append(msgs, polybot.Outgoing{Queue: "grants.w1", ID: "g-0", Data: []byte("zero again")})
		}
	}
	errs := bus.SendAll(ctx, msgs)
	if len(errs) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(errs), len(msgs))
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("message %d (%s): %v", i, msgs[i].ID, err)
		}
	}
	for q, w := range want {
		if err := bus.Send(ctx, q, "end-"+q, []byte("end")); err != nil {
			t.Fatal(err)
		}
		got := receiveUntil(t, bus, q, "end")
		if !slices.Equal(got, w) {
			t.Errorf("%s received %d messages %q,\nwant each of the %d once, in order, no resend", q, len(got), got, len(w))
		}
	}
	if errs := bus.SendAll(ctx, nil); len(errs) != 0 {
		t.Errorf("an empty batch: %v", errs)
	}
}

func TestSendAllReportsEachMessagesFailureAndSendsTheRest(t *testing.T) {
	bus, cfg := open(t)
	ctx := context.Background()
	unavailable := func(t *testing.T, errs []error, n int) {
		t.Helper()
		if len(errs) != n {
			t.Fatalf("%d results for %d messages", len(errs), n)
		}
		for i, err := range errs {
			if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
				t.Errorf("message %d: %v, want EUNAVAILABLE", i, err)
			}
		}
	}

	t.Run("bad names fail alone", func(t *testing.T) {
		errs := bus.SendAll(ctx, []polybot.Outgoing{
			{Queue: "grants.w1", ID: "a", Data: []byte("a")},
			{Queue: "grants w1", ID: "x", Data: []byte("bad queue")},
			{Queue: "grants.w1", ID: "", Data: []byte("no id")},
			{Queue: "grants.w1", ID: "b", Data: []byte("b")},
		})
		for i, field := range []string{"", "queue", "id", ""} {
			if field == "" {
				if errs[i] != nil {
					t.Errorf("message %d: %v, want sent", i, errs[i])
				}
				continue
			}
			if _, ok := polybot.ErrorFields(errs[i])[field]; !ok || polybot.ErrorCode(errs[i]) != polybot.EINVALID {
				t.Errorf("message %d: %v, want EINVALID naming %s", i, errs[i], field)
			}
		}
		if err := bus.Send(ctx, "grants.w1", "end-1", []byte("end")); err != nil {
			t.Fatal(err)
		}
		if got := receiveUntil(t, bus, "grants.w1", "end"); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("received %q, want a and b", got)
		}
	})

	t.Run("a cancelled context sends nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		unavailable(t, bus.SendAll(cctx, []polybot.Outgoing{
			{Queue: "grants.w2", ID: "c1", Data: []byte("c1")},
			{Queue: "grants.w2", ID: "c2", Data: []byte("c2")},
		}), 2)
		if err := bus.Send(ctx, "grants.w2", "end-2", []byte("end")); err != nil {
			t.Fatal(err)
		}
		if got := receiveUntil(t, bus, "grants.w2", "end"); len(got) != 0 {
			t.Errorf("received %q before the marker, want nothing", got)
		}
	})

	t.Run("no stream answers", func(t *testing.T) {
		nc, err := natsgo.Connect(cfg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if err := js.DeleteStream(ctx, cfg.Prefix+"_queues"); err != nil {
			t.Fatal(err)
		}
		errs := bus.SendAll(ctx, []polybot.Outgoing{
			{Queue: "grants.w1", ID: "s1", Data: []byte("s1")},
			{Queue: "grants.w2", ID: "s2", Data: []byte("s2")},
		})
		unavailable(t, errs, 2)
		for i, err := range errs {
			if !errors.Is(err, jetstream.ErrNoStreamResponse) {
				t.Errorf("message %d: %v, want the missing stream as the cause", i, err)
			}
		}
	})

	t.Run("a closed bus", func(t *testing.T) {
		_ = bus.Close()
		unavailable(t, bus.SendAll(ctx, []polybot.Outgoing{{Queue: "grants.w1", ID: "z", Data: []byte("z")}}), 1)
	})
}
