package fault_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/venuesim/fault"
)

// server serves in's faults over a handler that counts the requests it
// carries out, under /api, with the admin routes under /sim.
func server(t *testing.T, in *fault.Injector) (url string, served *atomic.Int32) {
	t.Helper()
	served = &atomic.Int32{}
	mux := http.NewServeMux()
	mux.Handle("/api/", in.Wrap("/api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	}), func(w http.ResponseWriter, status int) {
		w.WriteHeader(status)
		io.WriteString(w, "venue error")
	}))
	in.AdminRoutes(mux, "/sim")
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, served
}

func call(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestStandingPlanFailsAndRateLimitsEveryNthCall(t *testing.T) {
	tests := []struct {
		name  string
		cfg   fault.Config
		want  []int // status of calls 1..6
		retry string
	}{
		{"fail every 2nd", fault.Config{FailEvery: 2}, []int{200, 503, 200, 503, 200, 503}, ""},
		{"fail every 3rd with 500", fault.Config{FailEvery: 3, FailStatus: 500}, []int{200, 200, 500, 200, 200, 500}, ""},
		{"rate limit every 3rd", fault.Config{RateLimitEvery: 3, RetryAfter: 1500 * time.Millisecond}, []int{200, 200, 429, 200, 200, 429}, "2"},
		{"nothing", fault.Config{}, []int{200, 200, 200, 200, 200, 200}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := server(t, fault.New(tt.cfg))
			for i, w := range tt.want {
				st, ra := call(t, http.DefaultClient, "GET", url+"/api/x")
				if st != w {
					t.Fatalf("call %d: %d, want %d", i+1, st, w)
				}
				if st == 429 && ra != tt.retry {
					t.Fatalf("Retry-After %q, want %q", ra, tt.retry)
				}
			}
		})
	}
}

func TestPlannedRulesMatchMethodAndPathAndRunOut(t *testing.T) {
	in := fault.New(fault.Config{})
	url, served := server(t, in)
	in.FailNext("POST", "/order", 2, 503)
	steps := []struct {
		method, path string
		want         int
	}{
		{"GET", "/order", 200},      // another method
		{"POST", "/orders", 200},    // another path, though it starts alike
		{"POST", "/order/7", 503},   // below the path
		{"POST", "/order", 503},     // the second and last hit
		{"POST", "/order", 200},     // spent
		{"DELETE", "/order/7", 200}, // never matched
	}
	for i, s := range steps {
		if st, _ := call(t, http.DefaultClient, s.method, url+"/api"+s.path); st != s.want {
			t.Fatalf("step %d %s %s: %d, want %d", i+1, s.method, s.path, st, s.want)
		}
	}
	if n := served.Load(); n != 4 {
		t.Fatalf("%d requests carried out, want 4 (a failed one is not)", n)
	}
}

func TestTimeoutAfterAcceptCarriesTheRequestOutAndNeverAnswers(t *testing.T) {
	in := fault.New(fault.Config{})
	url, served := server(t, in)
	in.TimeoutAfterAccept("POST", "", 1)
	c := &http.Client{Timeout: 200 * time.Millisecond}
	req, _ := http.NewRequest("POST", url+"/api/order", nil)
	_, err := c.Do(req)
	var ue interface{ Timeout() bool }
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if served.Load() != 1 {
		t.Fatalf("the request was carried out %d times, want once", served.Load())
	}
	if st, _ := call(t, c, "POST", url+"/api/order"); st != 200 {
		t.Fatalf("the next request: %d", st)
	}
}

func TestLatencyDelaysAndTheAdminRoutesDriveTheFaults(t *testing.T) {
	in := fault.New(fault.Config{})
	var drops atomic.Int32
	in.OnDrop(func() { drops.Add(1) })
	url, _ := server(t, in)
	in.SetLatency(60 * time.Millisecond)
	start := time.Now()
	if st, _ := call(t, http.DefaultClient, "GET", url+"/api/x"); st != 200 || time.Since(start) < 60*time.Millisecond {
		t.Fatalf("with latency: %d after %v", st, time.Since(start))
	}
	post := func(path, body string) int {
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("/sim/faults", `{"kind":"rate_limit","path":"/book","retry_after_seconds":3,"times":1}`); st != http.StatusNoContent {
		t.Fatalf("POST /sim/faults: %d", st)
	}
	if st := post("/sim/faults", `{"kind":"explode"}`); st != http.StatusBadRequest {
		t.Fatalf("an unknown kind: %d", st)
	}
	if st, ra := call(t, http.DefaultClient, "GET", url+"/api/book"); st != 429 || ra != "3" {
		t.Fatalf("after the admin rule: %d Retry-After %q", st, ra)
	}
	if st := post("/sim/websockets/drop", ""); st != http.StatusNoContent || drops.Load() != 1 {
		t.Fatalf("drop: %d, %d drops", st, drops.Load())
	}
	req, _ := http.NewRequest("DELETE", url+"/sim/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /sim/faults: %v %v", resp, err)
	}
	start = time.Now()
	call(t, http.DefaultClient, "GET", url+"/api/x")
	if time.Since(start) > 50*time.Millisecond {
		t.Fatalf("the latency outlived Clear: %v", time.Since(start))
	}
}

func TestStandingDropsCloseTheSocketsAtTheInterval(t *testing.T) {
	in := fault.New(fault.Config{DropSocketsEvery: 20 * time.Millisecond})
	dropped := make(chan struct{}, 8)
	in.OnDrop(func() { dropped <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.Start(ctx)
	for range 2 {
		select {
		case <-dropped:
		case <-time.After(5 * time.Second):
			t.Fatal("no drop")
		}
	}
}
