package polymarket

import (
	"context"
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
