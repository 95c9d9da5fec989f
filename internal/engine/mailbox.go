package engine

import (
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// offer is one opportunity as the dispatcher routes it: shared by every
// tenant it reaches, and read-only.
type offer struct {
	opp    *polybot.Opportunity
	group  uint64       // same strategy and legs: later offers replace earlier ones
	allocs []*allocator // one per leg, in the order of opp.Legs
	at     time.Time    // when the book update that produced it was dispatched
}

// delivery is an offer and the sets of depth the dispatcher granted one
// tenant on it.
type delivery struct {
	o    *offer
	sets polybot.Decimal
}

// mailbox is a runner's inbox: bounded and conflating. A delivery replaces
// a waiting delivery of the same group; when the box is full the oldest is
// dropped. put never blocks, and returns what it pushed out so that its
// depth can be given back.
type mailbox struct {
	mu     sync.Mutex
	items  []delivery
	notify chan struct{}

	conflated, dropped uint32
}

func (b *mailbox) init(capacity int) {
	b.items = make([]delivery, 0, capacity)
	b.notify = make(chan struct{}, 1)
}

func (b *mailbox) put(d delivery) (out delivery, evicted bool) {
	b.mu.Lock()
	placed := false
	for i, x := range b.items {
		if x.o.group == d.o.group {
			out, evicted = x, true
			b.items[i] = d
			b.conflated++
			placed = true
			break
		}
	}
	if !placed {
		if len(b.items) == cap(b.items) {
			out, evicted = b.items[0], true
			copy(b.items, b.items[1:])
			b.items[len(b.items)-1] = d
			b.dropped++
		} else {
			b.items = append(b.items, d)
		}
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return out, evicted
}

// take moves the waiting deliveries to dst, oldest first.
func (b *mailbox) take(dst []delivery) []delivery {
	b.mu.Lock()
	dst = append(dst, b.items...)
	clear(b.items)
	b.items = b.items[:0]
	b.mu.Unlock()
	return dst
}
