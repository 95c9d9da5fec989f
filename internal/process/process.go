// Package process runs child processes under resource limits and keeps
// them running: PolyBot's per-tenant runner processes (Tier 2, issue 17:
// a worker's Config.Runner in internal/engine, `polybot runner`) are
// supervised with it. Limits are applied with cgroups v2 where the
// machine delegates a writable unified hierarchy (memory.max, cpu.max),
// and with POSIX rlimits otherwise (RLIMIT_DATA for memory: the private writable mappings a Go heap commits; RLIMIT_AS would also count the address space the Go runtime reserves at start and refuse to start it, RLIMIT_CPU for
// CPU seconds), set on the child by prlimit(2) as soon as it starts and,
// for a child that is PolyBot itself, by the child on its own first
// instruction (ApplyOwnLimits reads them from the environment), so no
// allocation escapes the limit.
//
// A child that exits is restarted with exponential backoff (reset once it
// has stayed up for StableAfter); one that blows its memory limit is
// reported as such. Supervising one child never touches another.
//
// It imports only the root package, golang.org/x/sys/unix and the
// standard library.
package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Limits bound one child. Zero means no limit.
type Limits struct {
	MemoryBytes int64 // RLIMIT_DATA (rlimit) or memory.max (cgroup)
	CPUSeconds  int64 // RLIMIT_CPU: CPU time before SIGXCPU/SIGKILL
	CPUPercent  int   // cgroup cpu.max quota, percent of one CPU (cgroups v2 only)
}

// Environment variables a PolyBot child reads its own limits from.
const (
	EnvMemoryLimit = "POLYBOT_RLIMIT_DATA"
	EnvCPULimit    = "POLYBOT_RLIMIT_CPU"
)

// Spec is a child to supervise.
type Spec struct {
	Name   string // for events and the cgroup's name
	Path   string
	Args   []string
	Env    []string
	Limits Limits
	// Stdout and Stderr receive the child's output (nil: this process's).
	Stdout, Stderr io.Writer
	// Backoff after an exit: Initial doubling to Max; reset once the child
	// has run for StableAfter.
	Initial, Max, StableAfter time.Duration
}

// Exit is how a child ended.
type Exit struct {
	Name     string
	PID      int
	Code     int // exit status, -1 when killed by a signal
	Signal   syscall.Signal
	Memory   bool // it ran out of its memory limit
	Runtime  time.Duration
	Restarts int // restarts so far, this one not counted
	// Next is the backoff before the restart (0 when not restarting).
	Next time.Duration
}

func (e Exit) String() string {
	why := "exit " + strconv.Itoa(e.Code)
	switch {
	case e.Memory:
		why = "out of its memory limit"
	case e.Signal != 0:
		why = "killed by " + e.Signal.String()
	}
	return fmt.Sprintf("%s (pid %d) %s after %s", e.Name, e.PID, why, e.Runtime.Round(time.Millisecond))
}

// Events receives what a supervisor does (any may be nil).
type Events struct {
	Started func(name string, pid int, restarts int)
	Exited  func(Exit)
}

// Supervise runs spec until ctx ends, restarting it after each exit. When
// ctx ends the child gets SIGTERM, then SIGKILL after grace.
func Supervise(ctx context.Context, spec Spec, ev Events, grace time.Duration) error {
	if spec.Path == "" {
		return errors.New("process: a path is required")
	}
	if spec.Initial <= 0 {
		spec.Initial = 100 * time.Millisecond
	}
	if spec.Max <= 0 {
		spec.Max = 30 * time.Second
	}
	if spec.StableAfter <= 0 {
		spec.StableAfter = time.Minute
	}
	backoff := spec.Initial
	for restarts := 0; ; restarts++ {
		if ctx.Err() != nil {
			return nil
		}
		x, err := run(ctx, spec, ev, restarts, grace)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if x.Runtime >= spec.StableAfter {
			backoff = spec.Initial
		}
		x.Next = backoff
		if ev.Exited != nil {
			ev.Exited(x)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, spec.Max)
	}
}

// oomWatch passes a child's stderr on and notes whether it said it ran
// out of memory (the Go runtime's "out of memory", or an allocation
// refused), across writes.
type oomWatch struct {
	mu   sync.Mutex
	last []byte // the end of the previous write, for a phrase split in two
	seen bool
	w    io.Writer
}

var oomPhrases = [][]byte{[]byte("out of memory"), []byte("cannot allocate memory")}

func (t *oomWatch) Write(p []byte) (int, error) {
	t.mu.Lock()
	buf := append(t.last, p...)
	for _, ph := range oomPhrases {
		t.seen = t.seen || bytes.Contains(buf, ph)
	}
	t.last = append(t.last[:0], buf[max(0, len(buf)-32):]...)
	t.mu.Unlock()
	if t.w != nil {
		_, _ = t.w.Write(p)
	}
	return len(p), nil
}

func run(ctx context.Context, spec Spec, ev Events, restarts int, grace time.Duration) (Exit, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(append(os.Environ(), spec.Env...), limitEnv(spec.Limits)...)
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	errs := &oomWatch{w: cmd.Stderr}
	cmd.Stderr = errs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Exit{}, fmt.Errorf("process: start %s: %w", spec.Name, err)
	}
	pid := cmd.Process.Pid
	cg := applyLimits(spec, pid)
	defer cg.remove()
	if ev.Started != nil {
		ev.Started(spec.Name, pid, restarts)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case werr = <-done:
		case <-time.After(grace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			werr = <-done
		}
	}
	_ = werr
	x := Exit{Name: spec.Name, PID: pid, Code: cmd.ProcessState.ExitCode(), Runtime: time.Since(start), Restarts: restarts}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		x.Signal = ws.Signal()
	}
	errs.mu.Lock()
	x.Memory = errs.seen || cg.oomKilled()
	errs.mu.Unlock()
	return x, nil
}

func limitEnv(l Limits) []string {
	var env []string
	if l.MemoryBytes > 0 {
		env = append(env, EnvMemoryLimit+"="+strconv.FormatInt(l.MemoryBytes, 10))
	}
	if l.CPUSeconds > 0 {
		env = append(env, EnvCPULimit+"="+strconv.FormatInt(l.CPUSeconds, 10))
	}
	return env
}

// ApplyOwnLimits sets the calling process's rlimits from EnvMemoryLimit
// and EnvCPULimit: a PolyBot child calls it first thing.
func ApplyOwnLimits() error {
	for _, l := range []struct {
		env string
		res int
	}{{EnvMemoryLimit, unix.RLIMIT_DATA}, {EnvCPULimit, unix.RLIMIT_CPU}} {
		v := os.Getenv(l.env)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("process: %s=%q: %w", l.env, v, err)
		}
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			return fmt.Errorf("process: setrlimit %s: %w", l.env, err)
		}
	}
	return nil
}

// cgroup is a child's cgroup v2 directory, or "" when limits are rlimits.
type cgroup string

// cgroupRoot is where PolyBot makes its children's groups: its own
// unified-hierarchy group, when the machine runs cgroups v2 and lets it
// write there.
func cgroupRoot() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			dir := filepath.Join("/sys/fs/cgroup", rest)
			if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
				return dir
			}
		}
	}
	return ""
}

// applyLimits puts the child in a cgroup v2 with the limits when it can,
// and sets its rlimits by prlimit either way.
func applyLimits(spec Spec, pid int) cgroup {
	l := spec.Limits
	if l.MemoryBytes > 0 {
		n := uint64(l.MemoryBytes)
		_ = unix.Prlimit(pid, unix.RLIMIT_DATA, &unix.Rlimit{Cur: n, Max: n}, nil)
	}
	if l.CPUSeconds > 0 {
		n := uint64(l.CPUSeconds)
		_ = unix.Prlimit(pid, unix.RLIMIT_CPU, &unix.Rlimit{Cur: n, Max: n}, nil)
	}
	root := cgroupRoot()
	if root == "" || (l.MemoryBytes == 0 && l.CPUPercent == 0) {
		return ""
	}
	dir := filepath.Join(root, "polybot-"+sanitize(spec.Name)+"-"+strconv.Itoa(pid))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return ""
	}
	write := func(f, v string) error { return os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644) }
	if l.MemoryBytes > 0 && write("memory.max", strconv.FormatInt(l.MemoryBytes, 10)) != nil {
		_ = os.Remove(dir)
		return ""
	}
	if l.CPUPercent > 0 {
		_ = write("cpu.max", strconv.Itoa(l.CPUPercent*1000)+" 100000")
	}
	if write("cgroup.procs", strconv.Itoa(pid)) != nil {
		_ = os.Remove(dir)
		return ""
	}
	return cgroup(dir)
}

func (c cgroup) oomKilled() bool {
	if c == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(string(c), "memory.events"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			return true
		}
	}
	return false
}

func (c cgroup) remove() {
	if c != "" {
		_ = os.Remove(string(c))
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}
