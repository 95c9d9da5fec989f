package nats_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

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
