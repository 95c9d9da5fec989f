package engine

import (
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// offer is one opportunity as the dispatcher delivers it: shared by every
// tenant it reaches, and read-only.
type offer struct {
	opp    *polybot.Opportunity
	group  uint64       // same strategy and legs: later offers replace earlier ones
	allocs []*allocator // one per leg, in the order of opp.Legs
	at     time.Time    // when the book update that produced it was dispatched
}

// mailbox is a runner's inbox: bounded and conflating. An offer replaces a
// waiting offer of the same group; when the box is full the oldest offer is
// dropped. put never blocks.
type mailbox struct {
	mu     sync.Mutex
	items  []*offer
	notify chan struct{}

	conflated, dropped uint32
}

func (b *mailbox) init(capacity int) {
	b.items = make([]*offer, 0, capacity)
	b.notify = make(chan struct{}, 1)
}

func (b *mailbox) put(o *offer) {
	b.mu.Lock()
	placed := false
	for i, x := range b.items {
		if x.group == o.group {
			b.items[i] = o
			b.conflated++
			placed = true
			break
		}
	}
	if !placed {
		if len(b.items) == cap(b.items) {
			copy(b.items, b.items[1:])
			b.items[len(b.items)-1] = o
			b.dropped++
		} else {
			b.items = append(b.items, o)
		}
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take moves the waiting offers to dst, oldest first.
func (b *mailbox) take(dst []*offer) []*offer {
	b.mu.Lock()
	dst = append(dst, b.items...)
	clear(b.items)
	b.items = b.items[:0]
	b.mu.Unlock()
	return dst
}

// drain drops everything waiting.
func (b *mailbox) drain() {
	b.mu.Lock()
	clear(b.items)
	b.items = b.items[:0]
	b.mu.Unlock()
}
