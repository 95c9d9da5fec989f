package engine

import (
	"sync"
	"sync/atomic"

	"github.com/polybot/polybot"
)

// eventBuffer is each subscriber's channel capacity. A subscriber that falls
// this far behind loses events (counted), never blocks the runner.
const eventBuffer = 64

// fanout delivers a tenant's events to its subscribers without blocking.
type fanout struct {
	mu      sync.Mutex
	subs    []chan polybot.Event
	n       atomic.Int32 // len(subs), read without the lock
	dropped atomic.Int64
}

func (f *fanout) subscribe() (<-chan polybot.Event, func()) {
	ch := make(chan polybot.Event, eventBuffer)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.n.Store(int32(len(f.subs)))
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			for i, c := range f.subs {
				if c == ch {
					f.subs = append(f.subs[:i], f.subs[i+1:]...)
					break
				}
			}
			if len(f.subs) == 0 {
				f.subs = nil
			}
			f.n.Store(int32(len(f.subs)))
			f.mu.Unlock()
			close(ch)
		})
	}
}

func (f *fanout) publish(ev polybot.Event) {
	if f.n.Load() == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default:
			f.dropped.Add(1)
		}
	}
}

func (f *fanout) active() bool { return f.n.Load() > 0 }
