package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/process"
	"github.com/polybot/polybot/internal/secrets"
)

// runnerFlags are `polybot runner`'s: a worker's database, bus and venue
// flags (the same helpers as serve's), the log's, and the tenant and lease
// epoch it runs.
type runnerFlags struct {
	db        dbFlags
	trading   tradingFlags
	role      roleFlags
	logLevel  string
	logFormat string
	tenant    string
	epoch     int64
}

func (f *runnerFlags) register(fs *flag.FlagSet, e *env) {
	f.db.register(fs, e)
	f.trading.register(fs, e)
	f.role.register(fs, e)
	fs.StringVar(&f.logLevel, "log-level", envOr(e, "POLYBOT_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", envOr(e, "POLYBOT_LOG_FORMAT", "text"), "text or json")
	fs.StringVar(&f.tenant, "tenant", "", "the tenant (user id) this process runs")
	fs.Int64Var(&f.epoch, "epoch", 0, "the epoch of the worker's lease on the tenant: every intent carries it, and the process ends once it is not the tenant's current lease")
}

// runnerPassed reports whether a worker passes the flag on to its runners
// by value: the database URLs go by environment (never on a command
// line), --role is always worker, and --tenant, --epoch and --worker-id
// are set apart.
func runnerPassed(name string) bool {
	switch name {
	case "database-url", "migrate-database-url", "tenant", "epoch", "worker-id", "role":
		return false
	}
	return true
}

// cmdRunner is one tenant's own process (Tier 2), started by a worker
// (serve --role worker) for a tenant whose plan has own_process: the
// tenant's runner under the worker's lease epoch, with its grants from
// the queue grants.<worker>.<tenant>, its books from the gateway's views,
// its results to the gateway. It ends once the lease is no longer that
// epoch's (and when the worker stops it: SIGTERM).
func cmdRunner(ctx context.Context, e *env, args []string) error {
	// First thing: the limits the worker gave (memory, CPU), so that
	// nothing this process allocates escapes them.
	if err := process.ApplyOwnLimits(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var f runnerFlags
	f.register(fs, e)
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	id, err := polybot.ParseID(f.tenant)
	if err != nil || id == polybot.NilID {
		return usageError("--tenant: a user id is required")
	}
	if f.epoch <= 0 {
		return usageError("--epoch: the worker's lease epoch (1 or more) is required")
	}
	mode, err := f.trading.mode()
	if err != nil {
		return err
	}
	f.role.role = string(engine.RoleWorker)
	if _, err := f.role.check(&f.db, mode); err != nil {
		return err
	}
	log, err := newLogger(e.stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	log = log.With("tenant", id, "worker", f.role.workerID)
	clock := polybot.Clock(polybot.SystemClock)
	st, _, err := f.db.open(ctx, clock, false)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, _, err := f.db.loadAuditKey(ctx, e, st)
	if err != nil {
		return err
	}
	box := secrets.NewBox(keys, secrets.DefaultCacheSize)
	bus, err := f.role.connect(ctx, engine.RoleWorker)
	if err != nil {
		return err
	}
	defer bus.Close()
	// The tenant's alerts (its bot refused or halted) go to the outbox;
	// the api nodes send them.
	hooks := notify.New(notify.Config{Store: st, Clock: clock, Logger: log.With("component", "notify")})
	f.trading.notify = hooks
	hooksCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	hooksDone := make(chan struct{})
	go func() { _ = hooks.RunHooks(hooksCtx); close(hooksDone) }()
	defer func() { stopHooks(); <-hooksDone }()
	rr := roleRun{role: engine.RoleWorker, bus: bus, flags: f.role, only: id, epoch: f.epoch}
	tr, err := startTrading(ctx, e, mode, &f.trading, &f.db, st, box, clock, log, rr)
	if err != nil {
		return err
	}
	err = tr.group.Wait() // the engine ends when its lease does, or at SIGTERM
	tr.close()
	return err
}

// runnerCommand is how a worker starts a tenant's own process: this
// binary's `runner` with serve's flags that the runner also has (the
// values this serve runs with), the database URL and master key by
// environment, the worker's id, the tenant and the lease epoch, under the
// worker's --runner-memory and --runner-cpu-seconds.
func runnerCommand(serve *flag.FlagSet, e *env, db *dbFlags, rf *roleFlags) (func(polybot.ID, int64) process.Spec, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the runner's executable: %w", err)
	}
	// Pass what differs from the default the runner would take: its
	// environment is this process's (os.Environ), not necessarily e's.
	plain := flag.NewFlagSet("runner", flag.ContinueOnError)
	var defaults runnerFlags
	defaults.register(plain, &env{getenv: os.Getenv})
	var base []string
	plain.VisitAll(func(fl *flag.Flag) {
		sf := serve.Lookup(fl.Name)
		if sf == nil || !runnerPassed(fl.Name) {
			return
		}
		if v := sf.Value.String(); v != fl.DefValue {
			base = append(base, "--"+fl.Name+"="+v)
		}
	})
	base = append(base, "--worker-id="+rf.workerID)
	var env []string
	if db.databaseURL != "" {
		env = append(env, "POLYBOT_DATABASE_URL="+db.databaseURL)
	}
	for _, k := range []string{secrets.EnvMasterKey, secrets.EnvMasterKeyFile, secrets.EnvMasterKeyPrevious} {
		if v := e.getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	limits := process.Limits{MemoryBytes: int64(rf.runnerMemory), CPUSeconds: rf.runnerCPU}
	return func(id polybot.ID, epoch int64) process.Spec {
		args := append([]string{"runner"}, base...)
		args = append(args, "--tenant="+id.String(), "--epoch="+strconv.FormatInt(epoch, 10))
		return process.Spec{Name: "runner-" + id.String(), Path: exe, Args: args, Env: env, Limits: limits, Stdout: e.stderr, Stderr: e.stderr}
	}, nil
}
