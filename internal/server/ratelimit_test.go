package server

import (
	"fmt"
	"testing"
	"time"
)

func TestKeyedLimiterKeepsKeysApartAndBoundsItsMemory(t *testing.T) {
	now := time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC)
	k := newKeyedLimiter(Rate{Every: time.Minute, Burst: 2}, 3, func() time.Time { return now })
	for i := range 2 {
		if w := k.wait("10.0.0.1"); w != 0 {
			t.Fatalf("request %d waited %v within the burst", i, w)
		}
	}
	if w := k.wait("10.0.0.1"); w <= 0 || w > time.Minute {
		t.Fatalf("past the burst: wait %v, want (0, 1m]", w)
	}
	if w := k.wait("10.0.0.2"); w != 0 {
		t.Fatalf("another key waited %v", w)
	}
	// A refused request takes no token: after one interval exactly one more passes.
	now = now.Add(time.Minute)
	if w := k.wait("10.0.0.1"); w != 0 {
		t.Fatalf("after refilling one token: wait %v", w)
	}
	if w := k.wait("10.0.0.1"); w == 0 {
		t.Fatal("two requests passed on one refilled token")
	}
	for i := range 10 {
		k.wait(fmt.Sprintf("192.0.2.%d", i))
	}
	if n := k.len(); n != 3 {
		t.Fatalf("the limiter remembers %d keys, want at most 3", n)
	}
	if (&keyedLimiter{rate: Rate{Burst: -1}}).wait("x") != 0 {
		t.Fatal("a negative burst should turn the limit off")
	}
}
