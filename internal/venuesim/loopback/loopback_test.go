package loopback_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polybot/polybot/internal/venuesim/loopback"
)

func TestServeAnswersUntilCloseWhichDropsFirstAndIsIdempotent(t *testing.T) {
	var drops atomic.Int32
	s, err := loopback.Serve(context.Background(), "test sim", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), nil, func() { drops.Add(1) }, "", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("answered %q", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil || drops.Load() != 1 {
		t.Fatalf("a second Close: %v, %d drops, want nil and 1", err, drops.Load())
	}
	if _, err := http.Get("http://" + s.Addr + "/"); err == nil {
		t.Fatal("still serving after Close")
	}
	var never *loopback.Server
	if err := never.Close(); err != nil {
		t.Fatalf("closing a server never started: %v", err)
	}
}

func TestServeStopsWhenTheContextEndsAndNamesABadAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := loopback.Serve(ctx, "test sim", http.NotFoundHandler(), nil, nil, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Close(); err != nil { // waits for the shutdown the context began
		t.Fatal(err)
	}
	if _, err := loopback.Serve(context.Background(), "test sim", http.NotFoundHandler(), nil, nil, "256.0.0.1:1"); err == nil {
		t.Fatal("listening on a bad address succeeded")
	}
}

func TestDropAllDropsEveryConnectionAndLetsADropTakeTheLock(t *testing.T) {
	var mu sync.Mutex
	conns := map[int]struct{}{1: {}, 2: {}, 3: {}}
	var dropped []int
	loopback.DropAll(&mu, conns, func(c int) {
		mu.Lock() // a connection unregisters itself as it goes
		defer mu.Unlock()
		delete(conns, c)
		dropped = append(dropped, c)
	})
	slices.Sort(dropped)
	if !slices.Equal(dropped, []int{1, 2, 3}) || len(conns) != 0 {
		t.Fatalf("dropped %v, left %v; want 1 2 3 dropped and none left", dropped, conns)
	}
}
