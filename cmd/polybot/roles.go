package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/nats"
	"github.com/polybot/polybot/internal/notify"
)

// roleFlags choose the part of PolyBot this process runs (serve --role)
// and, for a split deployment, the message bus and the worker's leases.
type roleFlags struct {
	role      string
	natsURL   string
	prefix    string
	workerID  string
	gatewayID string
	capacity  int
	leaseTTL  time.Duration
	// A worker's limits on each tenant's own process (Tier 2).
	runnerMemory byteSize
	runnerCPU    int64
	envErr       error // a bad POLYBOT_RUNNER_* value, reported by check
}

func (f *roleFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&f.role, "role", envOr(e, "POLYBOT_ROLE", "all"), `what this process runs: "all" (one process, the default), or one part of a split deployment on PostgreSQL and NATS: "api" (HTTP, UI, live streams), "gateway" (venue connections, books, detection, the dispatcher and depth), "worker" (tenants' bots: risk gate, execution, reconciliation) (env POLYBOT_ROLE)`)
	fs.StringVar(&f.natsURL, "nats-url", envOr(e, "POLYBOT_NATS_URL", "nats://127.0.0.1:4222"), "NATS server with JetStream, for --role api, gateway and worker (env POLYBOT_NATS_URL)")
	fs.StringVar(&f.prefix, "nats-prefix", envOr(e, "POLYBOT_NATS_PREFIX", "polybot"), "prefix of the deployment's NATS subjects, streams and buckets (env POLYBOT_NATS_PREFIX)")
	host, _ := os.Hostname()
	fs.StringVar(&f.workerID, "worker-id", envOr(e, "POLYBOT_WORKER_ID", host+"-"+strconv.Itoa(os.Getpid())), "this worker's name: its grants queue and the owner of its leases (env POLYBOT_WORKER_ID; default host-pid)")
	fs.StringVar(&f.gatewayID, "gateway-id", envOr(e, "POLYBOT_GATEWAY_ID", "gateway"), "the gateway's name: where workers return grant results (env POLYBOT_GATEWAY_ID)")
	capacity := 1000
	if v := e.getenv("POLYBOT_WORKER_CAPACITY"); v != "" {
		capacity, _ = strconv.Atoi(v)
	}
	fs.IntVar(&f.capacity, "worker-capacity", capacity, "most tenants a worker runs (env POLYBOT_WORKER_CAPACITY)")
	ttl := 15 * time.Second
	if v := e.getenv("POLYBOT_LEASE_TTL"); v != "" {
		ttl, _ = time.ParseDuration(v)
	}
	fs.DurationVar(&f.leaseTTL, "lease-ttl", ttl, "how long a worker's lease on a tenant lasts unrenewed; renewed every third of it (env POLYBOT_LEASE_TTL)")
	f.runnerMemory = 256 << 20
	if v := e.getenv("POLYBOT_RUNNER_MEMORY"); v != "" {
		if err := f.runnerMemory.Set(v); err != nil {
			f.envErr = usageError("POLYBOT_RUNNER_MEMORY: " + err.Error())
		}
	}
	fs.Var(&f.runnerMemory, "runner-memory", "with --role worker: the memory limit of each tenant's own process (plans with own_process), e.g. 256MiB, 1GiB; 0: none (env POLYBOT_RUNNER_MEMORY)")
	var cpu int64
	if v := e.getenv("POLYBOT_RUNNER_CPU_SECONDS"); v != "" {
		var err error
		if cpu, err = strconv.ParseInt(v, 10, 64); err != nil {
			f.envErr = usageError("POLYBOT_RUNNER_CPU_SECONDS: want a number of seconds")
		}
	}
	fs.Int64Var(&f.runnerCPU, "runner-cpu-seconds", cpu, "with --role worker: the CPU seconds each tenant's own process may use before it is killed and restarted; 0: no limit (env POLYBOT_RUNNER_CPU_SECONDS)")
}

// byteSize is a flag of bytes: a count with an optional unit (B, KiB, MiB,
// GiB, or the decimal KB, MB, GB).
type byteSize int64

func (b *byteSize) String() string {
	switch n := int64(*b); {
	case n > 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mul = strings.TrimSpace(num), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return fmt.Errorf("%q: want a size such as 256MiB, 1GiB or 0", s)
	}
	*b = byteSize(n * mul)
	return nil
}

// check validates the flags against the rest of serve's: a split role
// needs PostgreSQL (the leases are rows every node sees) and real venues
// (the simulators live inside one process).
func (f *roleFlags) check(db *dbFlags, mode string) (engine.Role, error) {
	r, err := engine.ParseRole(f.role)
	if err != nil {
		return "", usageError(fmt.Sprintf("--role %q: want all, api, gateway or worker", f.role))
	}
	if f.envErr != nil {
		return "", f.envErr
	}
	if r == engine.RoleAll {
		return r, nil
	}
	if !db.postgres() {
		return "", usageError("--role " + string(r) + " needs PostgreSQL (--database-url): the nodes of a split deployment share its leases")
	}
	if mode == "sim" {
		return "", usageError("--role " + string(r) + ": --sim runs in one process; run `polybot sim` and point every role at it with --venues real and the venue URL flags")
	}
	if mode == "off" {
		return "", usageError("--role " + string(r) + " needs venues (--venues real)")
	}
	if r == engine.RoleWorker {
		if err := polybot.CheckLeaseClaim(f.workerID, f.capacity, f.leaseTTL); err != nil {
			return "", usageError("--worker-id, --worker-capacity, --lease-ttl: " + polybot.ErrorMessage(err))
		}
		if f.runnerMemory != 0 && f.runnerMemory < 128<<20 {
			return "", usageError("--runner-memory: at least 128MiB (a runner's data segment, what the limit counts without cgroups v2, is about 90 MiB once it runs), or 0 for no limit")
		}
		if f.runnerCPU < 0 {
			return "", usageError("--runner-cpu-seconds: 0 (no limit) or more")
		}
	}
	return r, nil
}

// fenceTransactions bounds a worker's PostgreSQL transactions by its lease:
// the database ends a session left idle inside a transaction for longer
// than the lease TTL (idle_in_transaction_session_timeout, unless the URL
// sets it). A worker paused (SIGSTOP, a VM freeze) in the middle of a
// tenant's risk gate holds the tenant's profile row locked, and the claim
// that would take the tenant over skips locked rows: without the bound the
// tenant is taken by nobody for as long as the pause lasts. Other roles'
// URLs are returned as they are.
func (f *roleFlags) fenceTransactions(databaseURL string) string {
	const param = "idle_in_transaction_session_timeout"
	if r, err := engine.ParseRole(f.role); err != nil || r != engine.RoleWorker || databaseURL == "" || f.leaseTTL <= 0 ||
		strings.Contains(databaseURL, param) {
		return databaseURL
	}
	ms := strconv.FormatInt(f.leaseTTL.Milliseconds(), 10)
	if !strings.Contains(databaseURL, "://") { // a key=value connection string
		return databaseURL + " " + param + "=" + ms
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL // Open reports it
	}
	q := u.Query()
	q.Set(param, ms)
	u.RawQuery = q.Encode()
	return u.String()
}

// connect opens the bus for a split role.
func (f *roleFlags) connect(ctx context.Context, r engine.Role) (*nats.Bus, error) {
	name := string(r)
	if r == engine.RoleWorker {
		name += "-" + f.workerID
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	b, err := nats.Connect(cctx, nats.Config{URL: f.natsURL, Prefix: f.prefix, Name: "polybot-" + name})
	if err != nil {
		return nil, fmt.Errorf("--nats-url: %w", err)
	}
	return b, nil
}

// notifyRun is what of the notification dispatcher a role runs. Every
// process hears its engine's hooks and writes what they make to the outbox
// in the store: the gateway's opportunity digests (its dispatcher offers
// the opportunities), the workers' alerts of refused and halted bots
// (their runners). Only the processes that serve the API (all, api) send
// the outbox on the channels and queue the daily summaries.
func notifyRun(r engine.Role, d *notify.Dispatcher) func(context.Context) error {
	if deliversNotifications(r) {
		return d.Run
	}
	return d.RunHooks
}

// deliversNotifications reports whether a role sends the outbox.
func deliversNotifications(r engine.Role) bool { return r == engine.RoleAll || r == engine.RoleAPI }

// relayHubs are hubs of every venue fed from the gateway's book views.
func relayHubs(bus polybot.Bus) map[polybot.Platform]*marketdata.Hub {
	hubs := map[polybot.Platform]*marketdata.Hub{}
	for _, p := range polybot.Platforms {
		hubs[p] = marketdata.NewHub(marketdata.NewRelayFeed(p, bus), marketdata.HubConfig{})
	}
	return hubs
}
