package server

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/polybot/polybot"
)

// Rate is a token bucket: Burst requests at once, then one more every
// Every. The zero Rate means the default; a negative Burst turns the limit
// off.
type Rate struct {
	Every time.Duration
	Burst int
}

func (r Rate) orDefault(def Rate) Rate {
	if r == (Rate{}) {
		return def
	}
	return r
}

// Default rates. Sign-ups and logins are limited per client IP on top of
// the login limiter's per-account failure count; API calls per tenant.
var (
	DefaultSignupRate = Rate{Every: 3 * time.Minute, Burst: 20}        // 20 at once, then 20 an hour
	DefaultLoginRate  = Rate{Every: 2 * time.Second, Burst: 30}        // 30 at once, then 30 a minute
	DefaultTenantRate = Rate{Every: 20 * time.Millisecond, Burst: 300} // 50 a second, bursts of 300
)

// DefaultMaxLimiterKeys bounds each keyed limiter's memory.
const DefaultMaxLimiterKeys = 10000

// keyedLimiter keeps one x/time/rate limiter per key (a client IP, a
// tenant) in a map of at most max keys; when it is full the least recently
// seen key is forgotten (it starts again with a full bucket).
type keyedLimiter struct {
	rate Rate
	max  int
	now  func() time.Time

	mu   sync.Mutex
	keys map[string]*list.Element
	lru  list.List // of *keyedEntry, most recent first
}

type keyedEntry struct {
	key string
	lim *rate.Limiter
}

func newKeyedLimiter(r Rate, max int, now func() time.Time) *keyedLimiter {
	if max <= 0 {
		max = DefaultMaxLimiterKeys
	}
	return &keyedLimiter{rate: r, max: max, now: now, keys: make(map[string]*list.Element)}
}

// wait takes a token for key and returns 0, or, when there is none, takes
// nothing and returns how long until there is one.
func (k *keyedLimiter) wait(key string) time.Duration {
	if k == nil || k.rate.Burst < 0 {
		return 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	var lim *rate.Limiter
	if el, ok := k.keys[key]; ok {
		k.lru.MoveToFront(el)
		lim = el.Value.(*keyedEntry).lim
	} else {
		if k.lru.Len() >= k.max {
			old := k.lru.Back()
			k.lru.Remove(old)
			delete(k.keys, old.Value.(*keyedEntry).key)
		}
		lim = rate.NewLimiter(rate.Every(k.rate.Every), k.rate.Burst)
		k.keys[key] = k.lru.PushFront(&keyedEntry{key: key, lim: lim})
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Hour
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// len is how many keys the limiter remembers.
func (k *keyedLimiter) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}

// limited is the 429 answer: what was limited, and Retry-After.
func limited(msg string, wait time.Duration) error {
	return &rateLimited{err: polybot.Errorf(polybot.ERATELIMIT, "%s; try again in %d s", msg, seconds(wait)), retryAfterSeconds: seconds(wait)}
}
