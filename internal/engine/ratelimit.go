package engine

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybot/polybot"
)

// Rate is a token bucket: Burst requests at once, then one every Every.
type Rate struct {
	Every time.Duration
	Burst int
}

// Default rates, well inside the venues' published limits for one key.
var (
	DefaultVenueRate = Rate{Every: 5 * time.Millisecond, Burst: 200}  // 200/s across all tenants
	DefaultKeyRate   = Rate{Every: 100 * time.Millisecond, Burst: 10} // 10/s per tenant key
)

// limiter is a GCRA token bucket that can also be blocked until a time (a
// venue's Retry-After).
type limiter struct {
	mu           sync.Mutex
	every        time.Duration
	burst        int
	tat          time.Time // theoretical arrival time
	blockedUntil time.Time

	waits, throttled atomic.Int64 // requests that waited; 429s seen
}

func newLimiter(r Rate) *limiter {
	if r.Burst < 1 {
		r.Burst = 1
	}
	return &limiter{every: r.Every, burst: r.Burst}
}

// reserve books one request and returns how long to wait for it.
func (l *limiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := now
	if l.blockedUntil.After(start) {
		start = l.blockedUntil
	}
	if l.every <= 0 {
		return start.Sub(now)
	}
	tat := l.tat
	if tat.Before(start) {
		tat = start
	}
	at := tat.Add(-time.Duration(l.burst-1) * l.every)
	if at.Before(start) {
		at = start
	}
	l.tat = tat.Add(l.every)
	return at.Sub(now)
}

// wait blocks until a request may go, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	d := l.reserve(time.Now())
	if d <= 0 {
		return nil
	}
	l.waits.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// block stops requests for d (a venue's Retry-After).
func (l *limiter) block(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.blockedUntil) {
		l.blockedUntil = until
	}
}

// limitedExchange makes every call of an Exchange wait for the venue's and
// the key's buckets, and honours a venue's Retry-After on the key's bucket
// (one tenant's 429 never slows another tenant).
type limitedExchange struct {
	polybot.Exchange
	venue, key *limiter
}

// notSent is a request the limiter stopped before it left.
type notSent struct{ err error }

func (e *notSent) Error() string { return "not sent: " + e.err.Error() }
func (e *notSent) Unwrap() error { return e.err }

func (x *limitedExchange) before(ctx context.Context) error {
	if err := x.venue.wait(ctx); err != nil {
		return &notSent{err}
	}
	if err := x.key.wait(ctx); err != nil {
		return &notSent{err}
	}
	// Resumed past the deadline (a stopped process) while waiting: the
	// context's timer may not have fired yet, the wall clock has.
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return &notSent{context.DeadlineExceeded}
	}
	return nil
}

func (x *limitedExchange) after(err error) error {
	var ve *polybot.VenueError
	if errors.As(err, &ve) && (ve.Status == http.StatusTooManyRequests || ve.RetryAfter > 0) {
		x.key.throttled.Add(1)
		d := ve.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		x.key.block(d)
	}
	return err
}

func (x *limitedExchange) ValidateCredentials(ctx context.Context) error {
	if err := x.before(ctx); err != nil {
		return err
	}
	return x.after(x.Exchange.ValidateCredentials(ctx))
}

func (x *limitedExchange) PlaceOrder(ctx context.Context, req polybot.OrderRequest) (*polybot.OrderStatus, error) {
	if err := x.before(ctx); err != nil {
		return nil, err
	}
	st, err := x.Exchange.PlaceOrder(ctx, req)
	return st, x.after(err)
}

func (x *limitedExchange) CancelOrder(ctx context.Context, id string) error {
	if err := x.before(ctx); err != nil {
		return err
	}
	return x.after(x.Exchange.CancelOrder(ctx, id))
}

func (x *limitedExchange) CancelAll(ctx context.Context) error {
	if err := x.before(ctx); err != nil {
		return err
	}
	return x.after(x.Exchange.CancelAll(ctx))
}

func (x *limitedExchange) Order(ctx context.Context, id string) (*polybot.OrderStatus, error) {
	if err := x.before(ctx); err != nil {
		return nil, err
	}
	st, err := x.Exchange.Order(ctx, id)
	return st, x.after(err)
}

func (x *limitedExchange) OpenOrders(ctx context.Context) ([]polybot.OrderStatus, error) {
	if err := x.before(ctx); err != nil {
		return nil, err
	}
	out, err := x.Exchange.OpenOrders(ctx)
	return out, x.after(err)
}

func (x *limitedExchange) Fills(ctx context.Context, since time.Time) ([]polybot.Fill, error) {
	if err := x.before(ctx); err != nil {
		return nil, err
	}
	out, err := x.Exchange.Fills(ctx, since)
	return out, x.after(err)
}

func (x *limitedExchange) Positions(ctx context.Context) ([]polybot.Position, error) {
	if err := x.before(ctx); err != nil {
		return nil, err
	}
	out, err := x.Exchange.Positions(ctx)
	return out, x.after(err)
}

func (x *limitedExchange) Balance(ctx context.Context) (polybot.Balance, error) {
	if err := x.before(ctx); err != nil {
		return polybot.Balance{}, err
	}
	b, err := x.Exchange.Balance(ctx)
	return b, x.after(err)
}
