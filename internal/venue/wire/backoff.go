package wire

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Backoff is the delay between reconnects or retries: it doubles from Min
// after each failure up to Max, and each wait is a random point between half
// of it and all of it ("equal jitter"), so many clients that failed together
// do not come back together. Reset after a success. The zero value waits
// between 100 ms and 30 s. A Backoff is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
	// randN returns a number in [0, n); nil means math/rand/v2.
	randN func(n int64) int64
}

// Next returns the next wait.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	if b.cur == 0 {
		b.cur = lo
	} else {
		b.cur = min(b.cur*2, hi)
	}
	rnd := b.randN
	if rnd == nil {
		rnd = rand.Int64N
	}
	half := b.cur / 2
	return b.cur - half + time.Duration(rnd(int64(half)+1))
}

// Reset starts the next failure over at Min.
func (b *Backoff) Reset() { b.cur = 0 }

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Redial runs session again and again until ctx ends: the reconnect loop
// of a venue's streaming connection. Between sessions it calls lost (if
// any: the connector marks its books unknown), logs the error and waits
// b.Next(); a session that reports itself healthy (it got as far as data)
// resets b first. It returns ctx's error.
func Redial(ctx context.Context, b Backoff, log *slog.Logger, session func(context.Context) (healthy bool, err error), lost func()) error {
	for {
		healthy, err := session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if healthy {
			b.Reset()
		}
		if lost != nil {
			lost()
		}
		d := b.Next()
		log.Warn("connection lost; reconnecting", "err", err, "in", d)
		if err := Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// LastedOver wraps a session that does not report its health: healthy is
// having lasted longer than d.
func LastedOver(d time.Duration, session func(context.Context) error) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		start := time.Now()
		err := session(ctx)
		return time.Since(start) > d, err
	}
}
