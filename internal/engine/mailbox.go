package engine

import (
	"sync"
)

// mailbox is a runner's inbox of grants: bounded and conflating. A grant
// replaces a waiting grant of the same group; when the box is full the
// oldest is dropped. put never blocks, and returns the grant it pushed out
// so that the dispatcher can release its depth. The slots are allocated on
// the first put, so a tenant that is never lent depth costs nothing here.
type mailbox struct {
	mu       sync.Mutex
	capacity int
	items    []Grant
	notify   chan struct{}

	conflated, dropped uint32
}

func (b *mailbox) init(capacity int) {
	b.capacity = capacity
	b.notify = make(chan struct{}, 1)
}

func (b *mailbox) put(g Grant) (out Grant, evicted bool) {
	b.mu.Lock()
	if b.items == nil {
		b.items = make([]Grant, 0, b.capacity)
	}
	placed := false
	for i := range b.items {
		if b.items[i].Group == g.Group {
			out, evicted = b.items[i], true
			b.items[i] = g
			b.conflated++
			placed = true
			break
		}
	}
	if !placed {
		if len(b.items) == cap(b.items) {
			out, evicted = b.items[0], true
			copy(b.items, b.items[1:])
			b.items[len(b.items)-1] = g
			b.dropped++
		} else {
			b.items = append(b.items, g)
		}
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return out, evicted
}

// take moves the waiting grants to dst, oldest first.
func (b *mailbox) take(dst []Grant) []Grant {
	b.mu.Lock()
	dst = append(dst, b.items...)
	clear(b.items)
	b.items = b.items[:0]
	b.mu.Unlock()
	return dst
}
