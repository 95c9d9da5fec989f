package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
)

// Call describes one REST call for Send.
type Call struct {
	Venue polybot.Platform
	// Mutating marks a call whose effect may have happened when no clear
	// answer came back: placing or cancelling an order. Its failures after
	// the request may have been written carry Unknown.
	Mutating bool
	// Limit bounds the answer's body (default 16 MiB).
	Limit int64
}

// Response is a venue's answer, body read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// Send makes the call and reads the answer. A failure with no answer is a
// *polybot.VenueError with Status 0 and no Code (the venue said nothing),
// classified by Classify; a non-2xx answer is returned as a Response, for
// the connector to read its venue's error body and call Call.Error.
func (c Call) Send(hc *http.Client, req *http.Request) (*Response, error) {
	// A request whose deadline has passed by the wall clock is not sent,
	// even if its context has not noticed yet: a process stopped (SIGSTOP,
	// a paused VM) and resumed past the deadline runs on before the
	// context's timer fires, and an order sent then would go after the
	// lease it was made under had ended.
	if dl, ok := req.Context().Deadline(); ok && !time.Now().Before(dl) {
		return nil, c.Failure(req, context.DeadlineExceeded, NotSent)
	}
	var wrote atomic.Bool
	req = Track(req, &wrote)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.Failure(req, err, Classify(err, wrote.Load()))
	}
	defer resp.Body.Close()
	limit := c.Limit
	if limit <= 0 {
		limit = 16 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		// The venue answered, so it had the whole request.
		return nil, c.Failure(req, err, Sent)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Track returns req with a client trace that sets wrote once net/http has
// written the whole request: what Classify needs. Send uses it; a connector
// whose SDK makes the call itself (Alpaca) sets it in its RoundTripper.
func Track(req *http.Request, wrote *atomic.Bool) *http.Request {
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	return req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
}

// Failure is the error of a call that got no answer (Status 0, no Code:
// the venue said nothing): unknown when the call mutates and the request
// may have been sent (o from Classify).
func (c Call) Failure(req *http.Request, err error, o Outcome) *polybot.VenueError {
	return &polybot.VenueError{Venue: c.Venue,
		Message: fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, unwrapURL(err)),
		Unknown: c.Mutating && o == Sent}
}

// unwrapURL drops *url.Error's `Post "http://…":` prefix, which repeats
// the method and the whole URL.
func unwrapURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.Err != nil {
		return ue.Err
	}
	return err
}

// Error turns a non-2xx answer into a *polybot.VenueError with the venue's
// own code and message (what the connector read from its error body):
// a 429 carries Retry-After (a second when the venue gives none), a 5xx
// carries any Retry-After and, for a mutating call, Unknown: the venue may
// have acted before failing.
func (c Call) Error(r *Response, code, message string) *polybot.VenueError {
	e := &polybot.VenueError{Venue: c.Venue, Status: r.Status, Code: code, Message: message}
	switch {
	case r.Status == http.StatusTooManyRequests:
		e.RetryAfter = RetryAfter(r.Header.Get("Retry-After"), time.Now())
		if e.RetryAfter <= 0 {
			e.RetryAfter = time.Second
		}
	case r.Status >= 500:
		e.RetryAfter = RetryAfter(r.Header.Get("Retry-After"), time.Now())
		e.Unknown = c.Mutating
	}
	return e
}

// Outcome is what a failed request may have done at the venue.
type Outcome uint8

const (
	// NotSent: the request never reached the venue whole, so the venue
	// cannot have acted on it; it is safe to send again.
	NotSent Outcome = iota + 1
	// Sent: the whole request may have reached the venue. For a mutating
	// call, what it did is unknown until asked.
	Sent
)

func (o Outcome) String() string {
	switch o {
	case NotSent:
		return "not sent"
	case Sent:
		return "sent"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify says whether a request that failed with err (no answer) may
// have reached the venue. wrote is whether net/http reported the whole
// request written (httptrace WroteRequest without an error; Send tracks it).
//
// A request not written in full cannot have been acted on: a refused
// connection, a DNS failure, a TLS handshake failure, a context that ended
// before the connection was ready, or a write that failed part way (a
// server does not act on half a request). Once it was written, a timeout, a
// reset or an EOF while waiting for the answer leaves the outcome open. A
// dial error is "not sent" even when wrote is claimed, as a belt to the
// braces of the trace.
func Classify(err error, wrote bool) Outcome {
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		return NotSent
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return NotSent
	}
	if !wrote {
		return NotSent
	}
	return Sent
}

// RetryAfter reads a Retry-After header: delay seconds ("7", and the
// fractional "1.5" some venues send) or an HTTP date, measured from now.
// Anything else, a negative delay or a date in the past is 0.
func RetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil {
		if s <= 0 || s > float64(365*24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
