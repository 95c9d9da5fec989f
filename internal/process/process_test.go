package process_test

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/process"
)

// The test binary doubles as the supervised child: POLYBOT_PROCESS_CHILD
// says which.
func TestMain(m *testing.M) {
	switch os.Getenv("POLYBOT_PROCESS_CHILD") {
	case "hog": // a runner whose memory grows without bound
		if err := process.ApplyOwnLimits(); err != nil {
			os.Exit(3)
		}
		var keep [][]byte
		for {
			b := make([]byte, 8<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	case "steady": // a well-behaved runner
		if err := process.ApplyOwnLimits(); err != nil {
			os.Exit(3)
		}
		for {
			time.Sleep(time.Hour)
		}
	}
	os.Exit(m.Run())
}

type log struct {
	mu      sync.Mutex
	started map[string][]int
	exits   map[string][]process.Exit
}

func (l *log) events() process.Events {
	return process.Events{
		Started: func(name string, pid, _ int) {
			l.mu.Lock()
			l.started[name] = append(l.started[name], pid)
			l.mu.Unlock()
		},
		Exited: func(x process.Exit) {
			l.mu.Lock()
			l.exits[x.Name] = append(l.exits[x.Name], x)
			l.mu.Unlock()
		},
	}
}

func child(t *testing.T, name, mode string, memory int64) process.Spec {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return process.Spec{Name: name, Path: exe, Args: []string{"-test.run=^$"}, Env: []string{"POLYBOT_PROCESS_CHILD=" + mode},
		Limits: process.Limits{MemoryBytes: memory}, Stderr: io.Discard, Initial: 50 * time.Millisecond, Max: 400 * time.Millisecond, StableAfter: time.Minute}
}

// A runner that blows its memory limit is killed (by the limit) and
// restarted with growing backoff; the other tenant's runner keeps running
// in the same process throughout.
func TestARunnerOverItsMemoryLimitIsRestartedAndOthersAreUntouched(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &log{started: map[string][]int{}, exits: map[string][]process.Exit{}}
	var wg sync.WaitGroup
	for _, s := range []process.Spec{child(t, "tenant-hog", "hog", 512<<20), child(t, "tenant-steady", "steady", 512<<20)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := process.Supervise(ctx, s, l.events(), time.Second); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		l.mu.Lock()
		n := len(l.exits["tenant-hog"])
		l.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hog exited %d times in 60 s, want 3", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	hog := l.exits["tenant-hog"]
	for i, x := range hog[:3] {
		if !x.Memory {
			t.Errorf("exit %d of the hog: %s, want out of its memory limit", i, x)
		}
		if want := 50 * time.Millisecond << i; x.Next != want {
			t.Errorf("exit %d: next restart after %s, want %s (doubling)", i, x.Next, want)
		}
	}
	if len(l.started["tenant-hog"]) < 3 {
		t.Errorf("the hog started %d times, want a restart after each exit", len(l.started["tenant-hog"]))
	}
	if got := l.started["tenant-steady"]; len(got) != 1 {
		t.Errorf("the steady runner started %d times (%v): the hog's restarts touched it", len(got), got)
	}
	if ex := l.exits["tenant-steady"]; len(ex) != 0 {
		t.Errorf("the steady runner exited while the test ran: %v", ex)
	}
}
