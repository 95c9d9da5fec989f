package auth

import (
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// LimiterConfig sets a LoginLimiter's budgets. Zero fields take the defaults.
type LimiterConfig struct {
	// FreeAttempts is how many unsuccessful sign-ins one email may have from
	// one client address before delays start (default 5).
	FreeAttempts int
	// BaseDelay is the first delay; each further failure of the same
	// (email, address) doubles it (default 1 s).
	BaseDelay time.Duration
	// MaxDelay caps the doubling (default 15 minutes).
	MaxDelay time.Duration
	// IPAttempts is how many unsuccessful sign-ins one client address may
	// make, whatever the emails, in a Window before its attempts are spaced
	// IPDelay apart (default 20). This bound only slows: it never locks an
	// address out, so the owners behind a shared address still sign in.
	IPAttempts int
	// IPDelay is the spacing past IPAttempts (default 1 s).
	IPDelay time.Duration
	// Window is how long failures are remembered: a key without an attempt
	// for this long is forgotten (default 1 hour; at least MaxDelay).
	Window time.Duration
	// MaxKeys bounds the (email, address) pairs and the addresses tracked,
	// each (default 10,000). Past it the least recently attempted key is
	// forgotten.
	MaxKeys int
	// Clock defaults to polybot.SystemClock.
	Clock polybot.Clock
}

// LoginLimiter throttles password sign-ins. Failures are counted per
// (email, client address) pair, with delays that double past FreeAttempts up
// to MaxDelay: guessing one account's password from one address gets slow
// fast, yet the attacker cannot lock the owner out, since the owner signing
// in from another address is another pair. A coarser count per address
// spaces an address's attempts IPDelay apart once it has failed IPAttempts
// times in a Window, whatever the emails; it slows, it does not lock out.
// IPv6 addresses are counted per /64, which is what one client usually holds.
//
// Allow counts an attempt before the password is checked, and Succeed takes
// it back. Counting up front is what makes the limit hold against many
// attempts sent at once: they cannot all pass the check before the first
// failure is recorded. An attempt that neither succeeds nor is taken back (a
// wrong password, an unknown email, an error) stays counted as a failure.
//
// It is in-memory, so each server process keeps its own counts. Memory is
// bounded by MaxKeys: at most MaxKeys pairs (a count and two times each) and
// MaxKeys addresses of at most IPAttempts timestamps, plus the keys (cut to
// 320 bytes each). It is safe for concurrent use.
type LoginLimiter struct {
	cfg LimiterConfig

	mu    sync.Mutex
	pairs *lru[*backoff]
	ips   *lru[*window]
}

// NewLoginLimiter returns a limiter with cfg's budgets.
func NewLoginLimiter(cfg LimiterConfig) *LoginLimiter {
	if cfg.FreeAttempts <= 0 {
		cfg.FreeAttempts = 5
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 15 * time.Minute
	}
	if cfg.IPAttempts <= 0 {
		cfg.IPAttempts = 20
	}
	if cfg.IPDelay <= 0 {
		cfg.IPDelay = time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Hour
	}
	cfg.Window = max(cfg.Window, cfg.MaxDelay)
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 10_000
	}
	if cfg.Clock == nil {
		cfg.Clock = polybot.SystemClock
	}
	return &LoginLimiter{cfg: cfg, pairs: newLRU[*backoff](cfg.MaxKeys), ips: newLRU[*window](cfg.MaxKeys)}
}

// Allow reports how long the caller must wait before a sign-in for email
// from ip may be tried: 0 means go ahead, and the attempt is then counted
// against the pair and the address until Succeed takes it back. An empty
// email is limited by address only, an empty ip by email only.
func (l *LoginLimiter) Allow(email, ip string) time.Duration {
	ek, ik := emailKey(email), ipKey(ip)
	pk := ""
	if ek != "" {
		pk = ek + "\x00" + ik
	}
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pairs.expire(func(b *backoff) bool { return now.Sub(b.last) >= l.cfg.Window })
	l.ips.expire(func(w *window) bool { return now.Sub(w.times[len(w.times)-1]) >= l.cfg.Window })

	var b *backoff
	var w *window
	wait := time.Duration(0)
	if pk != "" {
		if b = l.pairs.get(pk); b != nil && now.Sub(b.last) >= l.cfg.Window {
			*b = backoff{} // its failures are forgotten
		}
		if b != nil && b.next.After(now) {
			wait = b.next.Sub(now)
		}
	}
	if ik != "" {
		if w = l.ips.get(ik); w != nil {
			w.times = inWindow(w.times, now, l.cfg.Window)
			if len(w.times) >= l.cfg.IPAttempts {
				wait = max(wait, w.times[len(w.times)-1].Add(l.cfg.IPDelay).Sub(now))
			}
		}
	}
	if wait > 0 {
		return wait
	}
	if pk != "" {
		if b == nil {
			b = &backoff{}
			l.pairs.put(pk, b)
		}
		b.failures++
		b.last, b.next = now, now.Add(l.delay(b.failures))
	}
	if ik != "" {
		if w == nil {
			w = &window{}
			l.ips.put(ik, w)
		}
		if len(w.times) >= l.cfg.IPAttempts { // keep the newest IPAttempts
			w.times = w.times[1:]
		}
		w.times = append(w.times, now)
	}
	return 0
}

// delay is the wait after the n-th counted failure of a pair.
func (l *LoginLimiter) delay(n int) time.Duration {
	if n < l.cfg.FreeAttempts {
		return 0
	}
	d := l.cfg.BaseDelay
	for i := l.cfg.FreeAttempts; i < n && d < l.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.cfg.MaxDelay)
}

// Succeed records that the attempt Allow let through signed in: the pair's
// failures are forgotten and the address gets its attempt back. The address
// keeps its earlier failures, so one good account cannot launder an
// address's guesses at others.
func (l *LoginLimiter) Succeed(email, ip string) {
	ek, ik := emailKey(email), ipKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ek != "" {
		l.pairs.remove(ek + "\x00" + ik)
	}
	if w := l.ips.get(ik); w != nil && len(w.times) > 0 {
		w.times = w.times[:len(w.times)-1]
		if len(w.times) == 0 {
			l.ips.remove(ik)
		}
	}
}

// RateLimitError is the error for a sign-in refused by Allow. The caller
// sends retryAfter (rounded up to seconds) in a Retry-After header.
func RateLimitError(retryAfter time.Duration) *polybot.Error {
	d := max(retryAfter.Round(time.Second), time.Second)
	if d < retryAfter {
		d += time.Second
	}
	return polybot.Errorf(polybot.ERATELIMIT, "too many failed sign-in attempts; try again in %s", d)
}

// maxLimiterKeyLen bounds a key's memory; longer input is not a real address anyway.
const maxLimiterKeyLen = 320

func emailKey(email string) string {
	if e, err := polybot.NormalizeEmail(email); err == nil {
		return e
	}
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > maxLimiterKeyLen {
		e = e[:maxLimiterKeyLen]
	}
	return e
}

// ipKey folds an address to what one client controls: the address itself
// for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
func ipKey(ip string) string {
	ip = strings.TrimSpace(ip)
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap().WithZone("")
		if a.Is6() {
			return netip.PrefixFrom(a, 64).Masked().String()
		}
		return a.String()
	}
	if len(ip) > maxLimiterKeyLen {
		ip = ip[:maxLimiterKeyLen]
	}
	return ip
}

// backoff is one (email, address) pair's state.
type backoff struct {
	failures int
	last     time.Time // last counted attempt
	next     time.Time // no attempt before this
}

// window is one address's counted attempts inside the window, oldest first.
type window struct {
	times []time.Time
}

func inWindow(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	return ts[i:]
}

// lru is a bounded map whose keys are kept in order of last use, least
// recent first, so that expired and least recent keys go first.
type lru[V any] struct {
	max   int
	keys  map[string]*list.Element
	order *list.List // of *entry[V]
}

type entry[V any] struct {
	key string
	val V
}

func newLRU[V any](maxKeys int) *lru[V] {
	return &lru[V]{max: maxKeys, keys: make(map[string]*list.Element), order: list.New()}
}

// get returns key's value (the zero V if absent) and marks it used.
func (c *lru[V]) get(key string) V {
	e, ok := c.keys[key]
	if !ok {
		var zero V
		return zero
	}
	c.order.MoveToBack(e)
	return e.Value.(*entry[V]).val
}

func (c *lru[V]) put(key string, v V) {
	for c.order.Len() >= c.max {
		old := c.order.Front()
		c.order.Remove(old)
		delete(c.keys, old.Value.(*entry[V]).key)
	}
	c.keys[key] = c.order.PushBack(&entry[V]{key: key, val: v})
}

func (c *lru[V]) remove(key string) {
	if e, ok := c.keys[key]; ok {
		c.order.Remove(e)
		delete(c.keys, key)
	}
}

// expire forgets keys from the least recent on while stale says so.
func (c *lru[V]) expire(stale func(V) bool) {
	for e := c.order.Front(); e != nil && stale(e.Value.(*entry[V]).val); e = c.order.Front() {
		c.order.Remove(e)
		delete(c.keys, e.Value.(*entry[V]).key)
	}
}
