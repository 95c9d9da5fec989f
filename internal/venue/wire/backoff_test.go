package wire

import (
	"testing"
	"time"
)

func TestBackoffDoublesToItsCeilingWithEqualJitter(t *testing.T) {
	least := func(int64) int64 { return 0 }      // no jitter added back: the low end
	most := func(k int64) int64 { return k - 1 } // all of it: the high end
	ms := time.Millisecond
	// Hand-worked: 200, 400, 800, 1000 (the ceiling), 1000; each wait
	// between half of the step and all of it.
	want := []time.Duration{200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}
	lo := Backoff{Min: 200 * ms, Max: time.Second, randN: least}
	hi := Backoff{Min: 200 * ms, Max: time.Second, randN: most}
	for i, step := range want {
		if got := lo.Next(); got != step-step/2 {
			t.Errorf("wait %d, least jitter: %v, want %v", i, got, step-step/2)
		}
		if got := hi.Next(); got != step {
			t.Errorf("wait %d, most jitter: %v, want %v", i, got, step)
		}
	}
	hi.Reset()
	if got := hi.Next(); got != 200*ms {
		t.Errorf("after Reset: %v, want the minimum again", got)
	}
	var zero Backoff
	if d := zero.Next(); d < 50*ms || d > 100*ms {
		t.Errorf("the zero Backoff's first wait is %v, want 50–100 ms", d)
	}
}

func TestRetryAfterReadsSecondsAndHTTPDates(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, " 7 ": 7 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "0": 0, "soon": 0,
		"99999999999": 0, // beyond a year: not a delay anyone means
		now.Add(90 * time.Second).Format(http1123): 90 * time.Second,
		now.Add(-time.Minute).Format(http1123):     0,
		"Sun, 06 Nov 1994 08:49:37 GMT":            0,
	} {
		if got := RetryAfter(h, now); got != want {
			t.Errorf("%q: %v, want %v", h, got, want)
		}
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
