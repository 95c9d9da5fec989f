package auth

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// step is one call in a limiter scenario.
type step struct {
	advance time.Duration // before the call
	op      string        // "try" (Allow), "ok" (Succeed)
	email   string
	ip      string
	wait    time.Duration // Allow's expected result
}

func TestLoginLimiter(t *testing.T) {
	const a, b = "alice@example.com", "bob@example.com"
	const ip1, ip2 = "203.0.113.7", "198.51.100.9"
	tries := func(n int, email, ip string) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{op: "try", email: email, ip: ip}
		}
		return s
	}
	manyEmails := func(n int, ip func(i int) string) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{op: "try", email: fmt.Sprintf("u%d@example.com", i), ip: ip(i)}
		}
		return s
	}
	cat := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"five failures for one email from one address pass, then each waits twice as long", cat(
			tries(5, a, ip1),
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
			[]step{{advance: time.Second, op: "try", email: a, ip: ip1}},
			[]step{{op: "try", email: a, ip: ip1, wait: 2 * time.Second}},
			[]step{{advance: 2 * time.Second, op: "try", email: a, ip: ip1}},
			[]step{{op: "try", email: a, ip: ip1, wait: 4 * time.Second}},
		)},
		{"the delay stops doubling at fifteen minutes", cat(
			func() []step {
				s := tries(5, a, ip1)
				for d := time.Second; d < 15*time.Minute; d *= 2 {
					s = append(s, step{advance: d, op: "try", email: a, ip: ip1})
				}
				return s
			}(),
			[]step{{op: "try", email: a, ip: ip1, wait: 15 * time.Minute}},
			[]step{{advance: 15 * time.Minute, op: "try", email: a, ip: ip1}},
			[]step{{op: "try", email: a, ip: ip1, wait: 15 * time.Minute}},
		)},
		{"the owner from another address is not delayed by an attacker's failures", cat(
			tries(5, a, ip1),
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
			[]step{{op: "try", email: a, ip: ip2}, {op: "ok", email: a, ip: ip2}},
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
		)},
		{"a blocked attempt is not counted and does not extend the wait", cat(
			tries(6, a, ip1)[:5],
			[]step{{advance: 500 * time.Millisecond, op: "try", email: a, ip: ip1, wait: 500 * time.Millisecond}},
			[]step{{op: "try", email: a, ip: ip1, wait: 500 * time.Millisecond}},
			[]step{{advance: 500 * time.Millisecond, op: "try", email: a, ip: ip1}},
		)},
		{"success forgets the pair's failures", cat(
			tries(4, a, ip1),
			[]step{{op: "ok", email: a, ip: ip1}},
			tries(5, a, ip1),
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
		)},
		{"a pair idle for the window starts again", cat(
			tries(8, a, ip1)[:5],
			[]step{{advance: time.Hour, op: "try", email: a, ip: ip1}},
			tries(4, a, ip1),
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
		)},
		{"emails are counted case- and space-insensitively", cat(
			tries(5, "Alice@Example.COM ", ip1),
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
		)},
		{"one email's failures do not delay another email", cat(
			tries(5, a, ip1),
			[]step{{op: "try", email: b, ip: ip1}},
		)},
		{"twenty failures from one address only space its attempts a second apart", cat(
			manyEmails(20, func(int) string { return ip1 }),
			[]step{{op: "try", email: b, ip: ip1, wait: time.Second}},
			[]step{{op: "try", email: b, ip: ip2}},
			[]step{{advance: time.Second, op: "try", email: b, ip: ip1}},
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
			[]step{{advance: time.Second, op: "try", email: a, ip: ip1}, {op: "ok", email: a, ip: ip1}},
		)},
		{"success gives the address its attempt back but not its failures", cat(
			manyEmails(19, func(int) string { return ip1 }),
			[]step{{op: "try", email: a, ip: ip1}, {op: "ok", email: a, ip: ip1}},
			[]step{{op: "try", email: b, ip: ip1}},
			[]step{{op: "try", email: "c@example.com", ip: ip1, wait: time.Second}},
		)},
		{"an IPv6 /64 is one client", cat(
			tries(5, a, "2001:db8:1:2::1"),
			[]step{{op: "try", email: a, ip: "2001:db8:1:2:ffff::1", wait: time.Second}},
			[]step{{op: "try", email: a, ip: "2001:db8:1:3::1"}},
		)},
		{"an IPv4-mapped IPv6 address is the IPv4 address", cat(
			tries(5, a, "::ffff:203.0.113.7"),
			[]step{{op: "try", email: a, ip: ip1, wait: time.Second}},
		)},
		{"an empty email is limited by address only", cat(
			tries(20, "", ip1),
			[]step{{op: "try", email: "", ip: ip1, wait: time.Second}},
			[]step{{op: "try", email: "", ip: ip2}},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := NewLoginLimiter(LimiterConfig{Clock: clk.Now})
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				switch s.op {
				case "try":
					if got := l.Allow(s.email, s.ip); got != s.wait {
						t.Fatalf("step %d: Allow(%q, %q) = %v, want %v", i, s.email, s.ip, got, s.wait)
					}
				case "ok":
					l.Succeed(s.email, s.ip)
				}
			}
		})
	}
}

// TestLoginLimiterNeverLocksTheOwnerOutFromAnotherAddress is the attack the
// review found: hours of guessing at alice from one address, then alice
// signs in from hers at once.
func TestLoginLimiterNeverLocksTheOwnerOutFromAnotherAddress(t *testing.T) {
	clk := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Clock: clk.Now})
	guesses := 0
	for range 4 * 3600 {
		if l.Allow("alice@example.com", "203.0.113.7") == 0 {
			guesses++
		}
		clk.Advance(time.Second)
	}
	if guesses > 30 {
		t.Fatalf("%d guesses in four hours from one address", guesses)
	}
	if w := l.Allow("alice@example.com", "198.51.100.9"); w != 0 {
		t.Fatalf("the owner from another address waits %v", w)
	}
}

func TestLoginLimiterForgetsExpiredKeys(t *testing.T) {
	clk := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Clock: clk.Now})
	for i := range 100 {
		l.Allow(fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("192.0.2.%d", i))
	}
	clk.Advance(time.Hour)
	l.Allow("", "")
	if n, m := len(l.pairs.keys), len(l.ips.keys); n != 0 || m != 0 {
		t.Fatalf("after the window %d pairs and %d addresses are still tracked", n, m)
	}
}

func TestLoginLimiterEvictsLeastRecentKeyAtCapacity(t *testing.T) {
	clk := newFakeClock()
	l := NewLoginLimiter(LimiterConfig{Clock: clk.Now, MaxKeys: 3, FreeAttempts: 1})
	for _, e := range []string{"a@x.io", "b@x.io", "c@x.io"} {
		l.Allow(e, "")
		clk.Advance(time.Millisecond)
	}
	l.Allow("d@x.io", "")
	if len(l.pairs.keys) != 3 {
		t.Fatalf("%d pairs tracked, want 3", len(l.pairs.keys))
	}
	if l.Allow("a@x.io", "") != 0 {
		t.Fatal("the least recent pair was not evicted")
	}
	if l.Allow("c@x.io", "") == 0 {
		t.Fatal("a recent pair was evicted")
	}
}

func TestLoginLimiterBoundsKeyLength(t *testing.T) {
	l := NewLoginLimiter(LimiterConfig{Clock: newFakeClock().Now})
	l.Allow(strings.Repeat("x", 1<<20)+"@example.com", strings.Repeat("y", 1<<20))
	for k := range l.pairs.keys {
		if len(k) > 2*maxLimiterKeyLen+1 {
			t.Fatalf("pair key of %d bytes kept", len(k))
		}
	}
	for k := range l.ips.keys {
		if len(k) > maxLimiterKeyLen {
			t.Fatalf("address key of %d bytes kept", len(k))
		}
	}
}

func TestLoginLimiterHoldsUnderConcurrentAttempts(t *testing.T) {
	l := NewLoginLimiter(LimiterConfig{Clock: newFakeClock().Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 200 {
		wg.Go(func() {
			if l.Allow("alice@example.com", "203.0.113.7") == 0 {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d concurrent attempts allowed, want 5", allowed)
	}
}

func TestRateLimitErrorRoundsUpToSeconds(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
	}{
		{14*time.Minute + 500*time.Millisecond, "in 14m1s"},
		{time.Nanosecond, "in 1s"},
		{2 * time.Second, "in 2s"},
	} {
		err := RateLimitError(tt.wait)
		if err.Code != polybot.ERATELIMIT || !strings.Contains(err.Message, tt.want) {
			t.Fatalf("RateLimitError(%v) = %v, want %s", tt.wait, err, tt.want)
		}
	}
}
