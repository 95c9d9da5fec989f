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
}

// check validates the flags against the rest of serve's: a split role
// needs PostgreSQL (the leases are rows every node sees) and real venues
// (the simulators live inside one process).
func (f *roleFlags) check(db *dbFlags, mode string) (engine.Role, error) {
	r, err := engine.ParseRole(f.role)
	if err != nil {
		return "", usageError(fmt.Sprintf("--role %q: want all, api, gateway or worker", f.role))
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

// relayHubs are hubs of every venue fed from the gateway's book views.
func relayHubs(bus polybot.Bus) map[polybot.Platform]*marketdata.Hub {
	hubs := map[polybot.Platform]*marketdata.Hub{}
	for _, p := range polybot.Platforms {
		hubs[p] = marketdata.NewHub(marketdata.NewRelayFeed(p, bus), marketdata.HubConfig{})
	}
	return hubs
}
