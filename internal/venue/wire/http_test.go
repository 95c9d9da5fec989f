package wire_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// server is a raw TCP listener on loopback whose every connection is
// handled by serve, so a test decides byte by byte what the venue does.
func server(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// readRequest reads one whole HTTP request off c.
func readRequest(c net.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err == nil {
		io.Copy(io.Discard, req.Body)
	}
}

func answer(status int, header string) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		readRequest(c)
		body := `{"error":"x"}`
		io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(status)+" X\r\n"+header+"Content-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
	}
}

// TestSendClassifiesEveryFailureOverRealSockets: a request that never
// reached the venue whole is never unknown; one that may have, is unknown
// when it mutates (an order POST or DELETE), and a 5xx on a mutating call
// is unknown too. Each row is a real socket doing what a venue or a network
// does.
func TestSendClassifiesEveryFailureOverRealSockets(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	tests := []struct {
		name    string
		scheme  string
		addr    string
		timeout time.Duration
		// wantStatus 0: no answer; wantUnknown for a mutating call (a
		// read-only call is never unknown).
		wantStatus  int
		wantUnknown bool
		wantRetry   time.Duration
		race        bool // either answer about Unknown is honest
	}{
		{name: "a refused port: never sent", addr: refused},
		{name: "a TLS handshake with a plain-text server: never sent", scheme: "https",
			addr: server(t, func(c net.Conn) { defer c.Close(); io.WriteString(c, "HTTP/1.1 400 Bad\r\n\r\n") })},
		// Whether the client wrote before it saw the close is a race: not
		// sent if it saw the close first, unknown if it wrote first.
		{name: "a listener that closes at once: not sent or unknown",
			addr: server(t, func(c net.Conn) { c.Close() }), wantUnknown: true, race: true},
		{name: "a venue that reads the request and hangs up: unknown",
			addr: server(t, func(c net.Conn) { readRequest(c); c.Close() }), wantUnknown: true},
		{name: "a venue that accepts and never answers: a timeout, unknown", timeout: 300 * time.Millisecond,
			addr: server(t, func(c net.Conn) { readRequest(c); time.Sleep(5 * time.Second); c.Close() }), wantUnknown: true},
		{name: "a 503: the venue may have acted", addr: server(t, answer(503, "Retry-After: 2\r\n")),
			wantStatus: 503, wantUnknown: true, wantRetry: 2 * time.Second},
		{name: "a 500 without Retry-After", addr: server(t, answer(500, "")), wantStatus: 500, wantUnknown: true},
		{name: "a 429: refused, retry after the venue's delay", addr: server(t, answer(429, "Retry-After: 3\r\n")),
			wantStatus: 429, wantRetry: 3 * time.Second},
		{name: "a 429 without Retry-After waits a second", addr: server(t, answer(429, "")),
			wantStatus: 429, wantRetry: time.Second},
		{name: "a 400: refused, known", addr: server(t, answer(400, "")), wantStatus: 400},
	}
	for _, tt := range tests {
		for _, mutating := range []bool{true, false} {
			method := http.MethodGet
			if mutating {
				method = http.MethodPost
			}
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				scheme := tt.scheme
				if scheme == "" {
					scheme = "http"
				}
				timeout := tt.timeout
				if timeout == 0 {
					timeout = 5 * time.Second
				}
				hc := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
				req, _ := http.NewRequestWithContext(t.Context(), method, scheme+"://"+tt.addr+"/orders?x=1", strings.NewReader(`{"a":1}`))
				call := wire.Call{Venue: polybot.Kalshi, Mutating: mutating}
				resp, err := call.Send(hc, req)
				if err == nil {
					if resp.OK() {
						t.Fatalf("status %d is a success", resp.Status)
					}
					err = call.Error(resp, "the_code", "the message")
				}
				var ve *polybot.VenueError
				if !errors.As(err, &ve) {
					t.Fatalf("got %T %v", err, err)
				}
				wantUnknown := tt.wantUnknown && mutating
				if tt.race {
					wantUnknown = ve.Unknown && mutating
				}
				if ve.Status != tt.wantStatus || ve.Unknown != wantUnknown || errors.Is(err, polybot.ErrOutcomeUnknown) != wantUnknown ||
					ve.RetryAfter != tt.wantRetry || ve.Venue != polybot.Kalshi {
					t.Fatalf("got %+v (%v)", ve, err)
				}
				if tt.wantStatus == 0 && (ve.Code != "" || !strings.HasPrefix(ve.Message, method+" /orders: ")) {
					t.Fatalf("a failure without an answer has no venue code and names the call: %+v", ve)
				}
				if tt.wantStatus != 0 && (ve.Code != "the_code" || ve.Message != "the message") {
					t.Fatalf("the venue's own code and message are kept: %+v", ve)
				}
			})
		}
	}
}

func TestClassifyTellsNeverSentFromMaybeSent(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	dns := &net.DNSError{Err: "no such host", Name: "venue.invalid", IsNotFound: true}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	tests := []struct {
		name  string
		err   error
		wrote bool
		want  wire.Outcome
	}{
		{"a refused dial", dial, false, wire.NotSent},
		{"a dial error, whatever the trace says", dial, true, wire.NotSent},
		{"a DNS failure", &net.OpError{Op: "dial", Err: dns}, false, wire.NotSent},
		{"a bare DNS error", dns, true, wire.NotSent},
		{"a deadline before the request was written", context.DeadlineExceeded, false, wire.NotSent},
		{"a deadline after it was written", context.DeadlineExceeded, true, wire.Sent},
		{"a reset after it was written", reset, true, wire.Sent},
		{"an EOF after it was written", io.EOF, true, wire.Sent},
		{"an EOF before it was written whole", io.ErrUnexpectedEOF, false, wire.NotSent},
	}
	for _, tt := range tests {
		if got := wire.Classify(tt.err, tt.wrote); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSendReadsTheAnswerWithinItsLimit(t *testing.T) {
	addr := server(t, answer(200, ""))
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	resp, err := wire.Call{Venue: polybot.Polymarket}.Send(http.DefaultClient, req)
	if err != nil || !resp.OK() || string(resp.Body) != `{"error":"x"}` {
		t.Fatalf("%+v %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	resp, err = wire.Call{Venue: polybot.Polymarket, Limit: 4}.Send(http.DefaultClient, req)
	if err != nil || string(resp.Body) != `{"er` {
		t.Fatalf("the body is cut at the limit: %q %v", resp.Body, err)
	}
}

// lateCtx is a context whose deadline has passed but whose timer has not
// fired yet: what a process stopped past the deadline sees when it resumes.
type lateCtx struct{ context.Context }

func (lateCtx) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// TestSendDoesNotSendPastItsDeadlineByTheWallClock: a request whose
// deadline has passed is not sent, even before its context notices.
func TestSendDoesNotSendPastItsDeadlineByTheWallClock(t *testing.T) {
	var conns atomic.Int32
	url := server(t, func(c net.Conn) {
		conns.Add(1)
		// The request first: an answer that comes before it is written
		// is one the client calls unsolicited, and fails.
		readRequest(c)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		c.Close()
	})
	req, err := http.NewRequestWithContext(lateCtx{context.Background()}, http.MethodPost, "http://"+url+"/orders", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wire.Call{Venue: polybot.Kalshi, Mutating: true}.Send(&http.Client{}, req)
	var ve *polybot.VenueError
	if !errors.As(err, &ve) || ve.Unknown || !strings.Contains(ve.Message, "deadline") {
		t.Fatalf("err %v, want a not-sent deadline failure (not unknown)", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Fatalf("the venue saw %d connections; nothing may reach it past the deadline", n)
	}
	// The same request with time left goes.
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+url+"/orders", strings.NewReader("{}"))
	if _, err := (wire.Call{Venue: polybot.Kalshi, Mutating: true}).Send(&http.Client{}, req); err != nil {
		t.Fatal(err)
	}
}
