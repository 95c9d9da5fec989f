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
	// EmailAttempts is how many unsuccessful sign-ins one email may have in a
	// Window (default 5).
	EmailAttempts int
	// IPAttempts is the same budget for one client address (default 20).
	// IPv6 addresses are counted per /64, which is what one client usually holds.
	IPAttempts int
	// Window is the sliding window (default 15 minutes).
	Window time.Duration
	// MaxKeys bounds the emails and the addresses tracked, each (default
	// 10,000). Past it the least recently attempted key is forgotten.
	MaxKeys int
	// Clock defaults to polybot.SystemClock.
	Clock polybot.Clock
}

// LoginLimiter throttles password sign-ins per email and per client address.
// It is in-memory, so each server process keeps its own counts.
//
// Allow counts an attempt before the password is checked, and Succeed takes
// it back. Counting up front is what makes the limit hold against many
// attempts sent at once: they cannot all pass the check before the first
// failure is recorded. An attempt that neither succeeds nor is taken back (a
// wrong password, an unknown email, an error) stays counted as a failure.
//
// Memory is bounded by MaxKeys: at most MaxKeys×(EmailAttempts+IPAttempts)
// timestamps plus the keys (keys are cut to 320 bytes). It is safe for
// concurrent use.
type LoginLimiter struct {
	window time.Duration
	now    polybot.Clock

	mu     sync.Mutex
	emails *attemptLog
	ips    *attemptLog
}

// NewLoginLimiter returns a limiter with cfg's budgets.
func NewLoginLimiter(cfg LimiterConfig) *LoginLimiter {
	if cfg.EmailAttempts <= 0 {
		cfg.EmailAttempts = 5
	}
	if cfg.IPAttempts <= 0 {
		cfg.IPAttempts = 20
	}
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 10_000
	}
	if cfg.Clock == nil {
		cfg.Clock = polybot.SystemClock
	}
	return &LoginLimiter{
		window: cfg.Window,
		now:    cfg.Clock,
		emails: newAttemptLog(cfg.EmailAttempts, cfg.MaxKeys),
		ips:    newAttemptLog(cfg.IPAttempts, cfg.MaxKeys),
	}
}

// Allow reports how long the caller must wait before a sign-in for email
// from ip may be tried: 0 means go ahead, and the attempt is then counted
// against both keys until Succeed takes it back. Either key may be empty
// (it is then not limited).
func (l *LoginLimiter) Allow(email, ip string) time.Duration {
	ek, ik := emailKey(email), ipKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emails.expire(now, l.window)
	l.ips.expire(now, l.window)
	wait := max(l.emails.wait(ek, now, l.window), l.ips.wait(ik, now, l.window))
	if wait > 0 {
		return wait
	}
	l.emails.add(ek, now)
	l.ips.add(ik, now)
	return 0
}

// Succeed records that the attempt Allow let through signed in: the email's
// failures are forgotten and the address gets its attempt back. The address
// keeps its earlier failures, so one good account cannot launder an
// address's guesses at others.
func (l *LoginLimiter) Succeed(email, ip string) {
	ek, ik := emailKey(email), ipKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emails.remove(ek)
	l.ips.undoLast(ik)
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

// attemptLog keeps, per key, the times of its counted attempts inside the
// window (at most limit of them), and the keys in order of last attempt so
// that expired and least recent keys go first.
type attemptLog struct {
	limit   int
	maxKeys int
	keys    map[string]*list.Element
	order   *list.List // of *attempts, least recently attempted first
}

type attempts struct {
	key   string
	times []time.Time // oldest first
}

func newAttemptLog(limit, maxKeys int) *attemptLog {
	return &attemptLog{limit: limit, maxKeys: maxKeys, keys: make(map[string]*list.Element), order: list.New()}
}

// expire forgets keys whose last attempt left the window.
func (a *attemptLog) expire(now time.Time, window time.Duration) {
	for e := a.order.Front(); e != nil; e = a.order.Front() {
		at := e.Value.(*attempts)
		if now.Sub(at.times[len(at.times)-1]) < window {
			return
		}
		a.order.Remove(e)
		delete(a.keys, at.key)
	}
}

// wait is how long until key may make another attempt.
func (a *attemptLog) wait(key string, now time.Time, window time.Duration) time.Duration {
	e, ok := a.keys[key]
	if !ok || key == "" {
		return 0
	}
	at := e.Value.(*attempts)
	at.times = inWindow(at.times, now, window)
	if len(at.times) < a.limit {
		return 0
	}
	// The oldest counted attempt leaving the window frees a slot.
	return max(at.times[len(at.times)-a.limit].Add(window).Sub(now), time.Nanosecond)
}

func inWindow(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	return ts[i:]
}

func (a *attemptLog) add(key string, now time.Time) {
	if key == "" {
		return
	}
	if e, ok := a.keys[key]; ok {
		at := e.Value.(*attempts)
		if len(at.times) >= a.limit { // only when the clock went backwards
			at.times = at.times[1:]
		}
		at.times = append(at.times, now)
		a.order.MoveToBack(e)
		return
	}
	for a.order.Len() >= a.maxKeys {
		old := a.order.Front()
		a.order.Remove(old)
		delete(a.keys, old.Value.(*attempts).key)
	}
	at := &attempts{key: key, times: make([]time.Time, 1, a.limit)}
	at.times[0] = now
	a.keys[key] = a.order.PushBack(at)
}

func (a *attemptLog) remove(key string) {
	if e, ok := a.keys[key]; ok {
		a.order.Remove(e)
		delete(a.keys, key)
	}
}

func (a *attemptLog) undoLast(key string) {
	e, ok := a.keys[key]
	if !ok {
		return
	}
	at := e.Value.(*attempts)
	at.times = at.times[:len(at.times)-1]
	if len(at.times) == 0 {
		a.order.Remove(e)
		delete(a.keys, key)
	}
}
