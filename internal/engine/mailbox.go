package engine

import (
	"sync"
)

// mailbox is a runner's inbox of grants: bounded and conflating. A grant
// replaces a waiting grant of the same group; when the box is full the
// oldest is dropped. put never blocks, and returns the grant it pushed out
// so that the dispatcher can release its depth. The slots are allocated on
// the first put, so a tenant that is never lent depth costs nothing here.
// A runner opens the box when it starts and closes it when it ends: a
// closed box refuses every grant (put hands it back as pushed out), so no
// grant waits for a runner that is gone.
type mailbox struct {
	mu       sync.Mutex
	capacity int
	items    []Grant
	notify   chan struct{}
	life     uint64 // the runner life that opened the box last
	closed   bool

	conflated, dropped uint32
}

func (b *mailbox) init(capacity int) {
	b.capacity = capacity
	b.notify = make(chan struct{}, 1)
}

func (b *mailbox) put(g Grant) (out Grant, evicted bool) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return g, true
	}
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

// open lets grants in for a new runner life and returns its number.
func (b *mailbox) open() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.life++
	b.closed = false
	return b.life
}

// close ends runner life life: unless a newer life opened the box since,
// no grant gets in from now on. It moves the waiting grants to dst.
func (b *mailbox) close(life uint64, dst []Grant) []Grant {
	b.mu.Lock()
	if b.life == life {
		b.closed = true
	}
	b.mu.Unlock()
	return b.take(dst)
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
