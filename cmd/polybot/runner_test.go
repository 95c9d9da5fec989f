package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/nats/natstest"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/secrets"
)

// The test binary doubles as polybot: a worker under test starts its
// tenants' own processes from os.Executable(), and POLYBOT_TEST_AS_POLYBOT=1
// (set by the test that runs one) makes that binary run main.
func TestMain(m *testing.M) {
	if os.Getenv("POLYBOT_TEST_AS_POLYBOT") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestByteSizeFlagsReadUnits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256MiB", 256 << 20, true}, {"1GiB", 1 << 30, true}, {"512MB", 512_000_000, true}, {"64KiB", 64 << 10, true},
		{"1048576", 1 << 20, true}, {"0", 0, true}, {" 2 GiB ", 2 << 30, true}, {"100B", 100, true},
		{"-1MiB", 0, false}, {"1.5GiB", 0, false}, {"MiB", 0, false}, {"lots", 0, false}, {"9999999999GiB", 0, false},
	} {
		var b byteSize
		err := b.Set(c.in)
		if (err == nil) != c.ok || (c.ok && int64(b) != c.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %t", c.in, int64(b), err, c.want, c.ok)
		}
	}
	if b := byteSize(256 << 20); b.String() != "256MiB" {
		t.Errorf("256 MiB prints as %q", b.String())
	}
}

func TestRunnerRefusesWhatItCannotRun(t *testing.T) {
	id := polybot.NewID().String()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no tenant", []string{"--epoch", "1"}, "--tenant"},
		{"no epoch", []string{"--tenant", id}, "--epoch"},
		{"SQLite", []string{"--tenant", id, "--epoch", "1"}, "needs PostgreSQL"},
		{"simulators", []string{"--tenant", id, "--epoch", "1", "--database-url", "postgres://x@127.0.0.1:1/x", "--venues", "sim"}, "--sim runs in one process"},
		{"a tiny memory limit", []string{"--tenant", id, "--epoch", "1", "--database-url", "postgres://x@127.0.0.1:1/x", "--runner-memory", "1MiB"}, "--runner-memory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"runner", "--data-dir", t.TempDir()}, c.args...), func(string) string { return "" },
				strings.NewReader(""), io.Discard, io.Discard)
			if exitCode(err) != 2 || !strings.Contains(userMessage(err), c.want) {
				t.Fatalf("runner %v: %v (exit %d); want a usage error naming %s", c.args, err, exitCode(err), c.want)
			}
		})
	}
}

// A worker passes its own flags on to a runner, except the database URL,
// which goes by environment and never appears on a command line.
func TestAWorkersRunnerCommandCarriesItsFlagsButNotTheDatabaseURL(t *testing.T) {
	e := &env{getenv: func(k string) string {
		return map[string]string{"POLYBOT_NATS_URL": "nats://10.0.0.5:4222", secrets.EnvMasterKeyFile: "/run/secrets/master"}[k]
	}, stderr: io.Discard, stdout: io.Discard}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var db dbFlags
	db.register(fs, e)
	var tf tradingFlags
	tf.register(fs, e)
	var rf roleFlags
	rf.register(fs, e)
	fs.String("addr", "127.0.0.1:8080", "")
	url := "postgres://polybot_app:s3cret@db:5432/polybot"
	if err := fs.Parse([]string{"--role", "worker", "--database-url", url, "--worker-id", "w7", "--lease-ttl", "9s", "--addr", ":9",
		"--kalshi-url", "https://k.example", "--runner-memory", "128MiB", "--runner-cpu-seconds", "60"}); err != nil {
		t.Fatal(err)
	}
	mk, err := runnerCommand(fs, e, &db, &rf)
	if err != nil {
		t.Fatal(err)
	}
	id := polybot.NewID()
	spec := mk(id, 42)
	args := strings.Join(spec.Args, " ")
	for _, want := range []string{"runner ", "--worker-id=w7", "--lease-ttl=9s", "--kalshi-url=https://k.example", "--nats-url=nats://10.0.0.5:4222",
		"--tenant=" + id.String(), "--epoch=42"} {
		if !strings.Contains(args, want) {
			t.Errorf("runner args %q lack %q", args, want)
		}
	}
	for _, not := range []string{"s3cret", "database-url", "--addr", "--role"} {
		if strings.Contains(args, not) {
			t.Errorf("runner args %q carry %q", args, not)
		}
	}
	envs := strings.Join(spec.Env, "\n")
	for _, want := range []string{"POLYBOT_DATABASE_URL=" + url, secrets.EnvMasterKeyFile + "=/run/secrets/master"} {
		if !strings.Contains(envs, want) {
			t.Errorf("runner env lacks %q", want)
		}
	}
	if spec.Limits.MemoryBytes != 128<<20 || spec.Limits.CPUSeconds != 60 {
		t.Errorf("runner limits %+v, want 128 MiB and 60 s", spec.Limits)
	}
}

// syncBuffer is a writer several goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// childrenOf lists the processes whose parent is pid, with their command
// lines (Linux /proc).
func childrenOf(pid int) map[int]string {
	out := map[int]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		n, _ := strconv.Atoi(filepath.Base(d))
		out[n] = string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
	}
	return out
}

// serve --role worker on PostgreSQL and NATS runs a tenant whose plan has
// own_process in a `polybot runner` process of its own: the process runs
// the bot under the worker's lease and reports it running on the bus, its
// command line carries no database URL, and when the bot is turned off the
// worker stops the process.
func TestAWorkerRunsAnOwnProcessTenantInARunnerProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pg := pgtest.NewDatabase(t)
	ncfg := natstest.Config(t)
	t.Setenv("POLYBOT_TEST_AS_POLYBOT", "1") // the runner processes the worker starts are this binary, as polybot
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--role", "worker", "--database-url", pg.AppURL,
			"--nats-url", ncfg.URL, "--nats-prefix", ncfg.Prefix, "--worker-id", "w1", "--lease-ttl", "3s", "--runner-memory", "256MiB",
			"--polymarket-clob-url", "http://127.0.0.1:1", "--kalshi-url", "http://127.0.0.1:1", "--log-level", "info"},
			func(string) string { return "" }, strings.NewReader(""), pw, &stderr)
		pw.Close()
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	}
	defer func() {
		stop()
		if t.Failed() {
			s := stderr.String()
			t.Logf("worker and runner logs (tail):\n%s", s[max(0, len(s)-4000):])
		}
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "PolyBot is listening on ") {
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	// The worker has made the master key and the audit key: a tenant on a
	// plan with own_process.
	st := pg.Open(t, nil)
	kr, err := secrets.OpenKeyring(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, st, kr); err != nil {
		t.Fatal(err)
	}
	u := &polybot.User{Email: "isolated@example.com", Role: polybot.RoleUser}
	if err := st.Admin(ctx, func(tx polybot.AdminTx) error {
		tr, err := tx.Tier(polybot.TierFree)
		if err != nil {
			return err
		}
		tr.Name, tr.DisplayName, tr.Features.OwnProcess = "isolated", "Isolated", true
		if err := tx.PutTier(tr); err != nil {
			return err
		}
		if _, err := polybot.CreateAccount(tx, u, "Isolated", "test"); err != nil {
			return err
		}
		return tx.SetUserTier(u.ID, "isolated")
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(true) }); err != nil {
		t.Fatal(err)
	}

	bus := natstest.Connect(t, ncfg)
	statuses := make(chan engine.WorkerStatus, 64)
	stopWatch, err := bus.WatchLast(ctx, engine.StatusKind, func(key string, data []byte) {
		var ws engine.WorkerStatus
		if key == u.ID.String() && json.Unmarshal(data, &ws) == nil {
			statuses <- ws
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopWatch()

	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		for p, cmd := range childrenOf(os.Getpid()) {
			if strings.Contains(cmd, " runner ") && strings.Contains(cmd, "--tenant="+u.ID.String()) {
				pid = p
				if strings.Contains(cmd, pg.AppURL) || strings.Contains(cmd, "database-url") {
					t.Errorf("the runner's command line carries the database URL: %s", cmd)
				}
				if !strings.Contains(cmd, "--worker-id=w1") || !strings.Contains(cmd, "--epoch=") {
					t.Errorf("the runner's command line lacks the worker or the epoch: %s", cmd)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no runner process for the tenant within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for running := false; !running; {
		select {
		case ws := <-statuses:
			running = ws.Worker == "w1" && ws.Epoch > 0 && ws.Status.State == polybot.BotRunning
		case <-time.After(30 * time.Second):
			t.Fatal("the runner never reported the bot running")
		}
	}

	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
		var mem []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmData") || strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") {
				mem = append(mem, strings.Join(strings.Fields(l), " "))
			}
		}
		t.Logf("the runner, running the bot: %s", strings.Join(mem, ", "))
	}

	// Turned off, the bot's lease is not renewed: the worker stops the
	// runner (SIGTERM), which exits.
	if err := st.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(false) }); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(15 * time.Second); syscall.Kill(pid, 0) != syscall.ESRCH; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the runner (pid %d) still runs 15 s after the bot was turned off", pid)
		}
	}
	stop()
	if s := stderr.String(); !strings.Contains(s, "runner process started") {
		t.Errorf("the runner's log is not in the worker's:\n%s", s[max(0, len(s)-2000):])
	}
}
