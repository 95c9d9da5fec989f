package polymarket

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polybot/polybot"
)

// A venue that accepts the connection and then says nothing (no PONG, no
// data) is presumed dead: the feed reconnects after three ping intervals,
// and subscribes again on the new connection.
func TestAFeedReconnectsWhenTheVenueGoesSilent(t *testing.T) {
	var subs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if strings.Contains(string(b), `"type":"market"`) && strings.Contains(string(b), "tok-1") {
				subs.Add(1)
			}
		}
	}))
	defer srv.Close()
	f := NewFeed(Config{MarketWSURL: "ws" + strings.TrimPrefix(srv.URL, "http"), PingInterval: 30 * time.Millisecond}, nil)
	if err := f.Subscribe(context.Background(), polybot.Instrument{Token: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go f.Run(ctx, func(polybot.BookEvent) {})
	for f.Connects() < 2 || subs.Load() < 2 {
		if ctx.Err() != nil {
			t.Fatalf("%d connects, %d subscriptions", f.Connects(), subs.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A venue that accepts the connection and never reads: once the socket's
// buffers are full every write on it blocks. Subscribe only queues, so a
// stream of subscriptions far larger than those buffers (about 20 MB of
// token ids) still returns at once, and the feed keeps what it was asked.
func TestSubscribeDoesNotWaitForAVenueThatNeverReads(t *testing.T) {
	accepted := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		accepted <- struct{}{}
		<-r.Context().Done() // never reads
	}))
	defer srv.Close()
	f := NewFeed(Config{MarketWSURL: "ws" + strings.TrimPrefix(srv.URL, "http"), PingInterval: time.Hour}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx, func(polybot.BookEvent) {})
	<-accepted

	done := make(chan int)
	go func() {
		n := 0
		for call := range 250 {
			insts := make([]polybot.Instrument, 1000)
			for i := range insts {
				insts[i] = polybot.Instrument{Token: fmt.Sprintf("%077d", call*1000+i)}
			}
			if err := f.Subscribe(context.Background(), insts...); err != nil {
				t.Error(err)
			}
			n += len(insts)
		}
		done <- n
	}()
	select {
	case n := <-done:
		f.mu.Lock()
		held := len(f.subs)
		f.mu.Unlock()
		if held != n {
			t.Fatalf("the feed holds %d subscriptions, want %d", held, n)
		}
	case <-time.After(5 * time.Second):
		// A write on the full socket waits out its 10 s timeout: a
		// Subscribe that writes cannot finish in time.
		t.Fatal("Subscribe blocked on a venue that does not read")
	}
}
