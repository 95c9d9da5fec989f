package news

import (
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// Deduper defaults.
const (
	DefaultRetention = 48 * time.Hour
	DefaultMaxKeys   = 100_000
)

// Deduper tells new headlines from ones already seen, on both of
// Headline.Keys: a headline is new only when neither its title key nor its
// link key was seen within the retention window. So the same story from
// two sources (same normalised title, different links) is a duplicate, and
// so is the same item polled again with an edited title (same link). A
// sighting, new or not, records both keys and restarts their retention, so
// an item a feed keeps listing stays a duplicate.
//
// Keys are kept per owner: a platform headline (owner polybot.NilID) is a
// duplicate of an earlier platform one; a user's own headline is a
// duplicate of an earlier platform one or of that user's own. So one
// user's private feed never hides a platform headline from other users.
//
// Memory is bounded: past max keys the (roughly) least recently seen are
// forgotten first. Safe for concurrent use.
type Deduper struct {
	retention time.Duration
	max       int

	mu    sync.Mutex
	seen  map[dedupeKey]time.Time // last sighting
	queue []queued                // keys in order of first (or refreshed) sighting
	head  int
}

type dedupeKey struct {
	owner polybot.ID
	key   string
}

type queued struct {
	k  dedupeKey
	at time.Time
}

// NewDeduper returns a Deduper keeping keys for retention (≤ 0:
// DefaultRetention) and at most max of them (≤ 0: DefaultMaxKeys).
func NewDeduper(retention time.Duration, max int) *Deduper {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if max <= 0 {
		max = DefaultMaxKeys
	}
	return &Deduper{retention: retention, max: max, seen: map[dedupeKey]time.Time{}}
}

// Add records h, seen at now from a source of owner, and reports whether
// it is new.
func (d *Deduper) Add(owner polybot.ID, h *polybot.Headline, now time.Time) bool {
	title, link := h.Keys()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	dup := d.has(polybot.NilID, title, now) || d.has(polybot.NilID, link, now)
	if owner != polybot.NilID {
		dup = dup || d.has(owner, title, now) || d.has(owner, link, now)
	}
	d.touch(dedupeKey{owner, title}, now)
	if link != "" {
		d.touch(dedupeKey{owner, link}, now)
	}
	for len(d.seen) > d.max {
		d.evictOldest()
	}
	return !dup
}

// Len is the number of keys held.
func (d *Deduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

func (d *Deduper) has(owner polybot.ID, key string, now time.Time) bool {
	if key == "" {
		return false
	}
	at, ok := d.seen[dedupeKey{owner, key}]
	return ok && now.Sub(at) < d.retention
}

func (d *Deduper) touch(k dedupeKey, now time.Time) {
	if _, ok := d.seen[k]; !ok {
		d.queue = append(d.queue, queued{k, now})
	}
	d.seen[k] = now
}

// expire forgets the keys at the front of the queue whose last sighting
// is older than the retention, moving refreshed ones to the back.
func (d *Deduper) expire(now time.Time) {
	for d.head < len(d.queue) {
		q := d.queue[d.head]
		at, ok := d.seen[q.k]
		switch {
		case !ok:
			d.pop()
		case !at.Equal(q.at):
			d.pop()
			d.queue = append(d.queue, queued{q.k, at})
		case now.Sub(at) >= d.retention:
			delete(d.seen, q.k)
			d.pop()
		default:
			return
		}
	}
}

// evictOldest forgets the key at the front of the queue.
func (d *Deduper) evictOldest() {
	for d.head < len(d.queue) {
		q := d.queue[d.head]
		d.pop()
		at, ok := d.seen[q.k]
		switch {
		case !ok:
		case !at.Equal(q.at):
			d.queue = append(d.queue, queued{q.k, at})
		default:
			delete(d.seen, q.k)
			return
		}
	}
}

func (d *Deduper) pop() {
	d.queue[d.head] = queued{}
	d.head++
	if d.head > 1024 && d.head*2 > len(d.queue) {
		d.queue = append(d.queue[:0:0], d.queue[d.head:]...)
		d.head = 0
	}
}
