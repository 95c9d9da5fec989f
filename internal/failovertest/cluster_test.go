//go:build unix

package failovertest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/crashtest/simcheck"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/nats"
	"github.com/polybot/polybot/internal/nats/natstest"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

var logLevelFlag = flag.String("failover.log-level", "info", "the PolyBot processes' --log-level (info at least: the tests read their logs)")

const (
	mdKeyID = "failover-market-data" // the platform's Kalshi market-data key
	// The Fed recording spans three weeks; at 72000× a loop takes 25 s.
	// Every tenant sees the same opportunities, so 200 tenants make up to
	// 200 times one tenant's orders: the books, not the speed, bound it.
	simSpeed = "72000"
	// The tenants' settings: live cross-venue arbitrage, small trades.
	tenantConfig = `{"dry_run":false,"enable_cross_platform_arb":true,"enable_single_platform_arb":false,"enable_overlapping_arb":false,` +
		`"enable_copy_trading":false,"enable_polymarket":true,"enable_kalshi":true,"min_profit_pct":"0.1","max_trade_size_usd":"20",` +
		`"max_daily_loss_usd":"2500"}`
)

// tenant is one seeded user with its own keys at the simulators.
type tenant struct {
	n      int
	id     polybot.ID
	acct   simcheck.Account
	wallet string // the Polymarket wallet's private key, hex
}

// cluster is one test's deployment: the simulators, a PostgreSQL
// database with the tenants, and the PolyBot processes started on it.
type cluster struct {
	t      *testing.T
	dir    string
	bin    string
	sim    *simcheck.Sim
	st     *postgres.DB
	env    []string // the children's environment: the shared master key
	common []string // serve flags every process takes
	ttl    time.Duration
	bus    nats.Config
	db     *pgtest.Database
	box    *secrets.Box // under the shared master key

	tenants []*tenant
	byID    map[polybot.ID]*tenant
	byKey   map[string]*tenant // Kalshi key id
	byMaker map[string]*tenant // lower-case Polymarket wallet address

	mu    sync.Mutex
	procs []*simcheck.Proc
}

// newCluster builds polybot, starts the simulators and seeds n tenants
// into a fresh database. It skips when PostgreSQL or NATS is missing.
func newCluster(t *testing.T, n int, ttl time.Duration) *cluster {
	t.Helper()
	began := time.Now()
	db := pgtest.NewDatabase(t) // skips without PostgreSQL
	bus := natstest.Config(t)   // skips without NATS; a prefix of the test's own, removed when it ends
	dir := t.TempDir()
	bin := simcheck.Build(t, dir)
	c := &cluster{t: t, dir: dir, bin: bin, ttl: ttl, db: db, bus: bus,
		byID: map[polybot.ID]*tenant{}, byKey: map[string]*tenant{}, byMaker: map[string]*tenant{}}
	t.Logf("built polybot in %v", time.Since(began).Round(time.Millisecond))

	// Keys: one RSA pair serves every tenant's Kalshi key id (the
	// simulator registers each id with the same public half), and each
	// tenant has its own Polymarket wallet.
	tenantPEM := simcheck.RSAKey(t, dir, "tenants")
	mdPEM := simcheck.RSAKey(t, dir, "market-data")
	mdKeyFile := filepath.Join(dir, "market-data.pem")
	simcheck.WriteFile(t, mdKeyFile, mdPEM)
	simArgs := []string{"--replay", "fed", "--speed", simSpeed, "--loop", "--events", "none", "--leaders", "none", "--news", "none",
		"--kalshi-balance", "1000000", "--polymarket-balance", "1000000", "--log-level", "warn",
		"--kalshi-account", mdKeyID + "=" + filepath.Join(dir, "market-data.pub.pem")}
	for i := range n {
		b := make([]byte, 32)
		rand.Read(b)
		wallet := hex.EncodeToString(b)
		w, err := eip712.NewSigner(wallet)
		if err != nil {
			t.Fatal(err)
		}
		tn := &tenant{n: i, wallet: wallet,
			acct: simcheck.Account{KalshiKeyID: fmt.Sprintf("fa110000-0000-4000-8000-%012x", i), KalshiPEM: tenantPEM, Wallet: w}}
		c.tenants = append(c.tenants, tn)
		c.byKey[tn.acct.KalshiKeyID] = tn
		c.byMaker[strings.ToLower(w.Address().String())] = tn
		simArgs = append(simArgs, "--kalshi-account", tn.acct.KalshiKeyID+"="+filepath.Join(dir, "tenants.pub.pem"))
	}
	c.sim = simcheck.StartSim(t, bin, dir, simArgs...)
	c.procs = append(c.procs, c.sim.Proc)

	// The master key every process shares.
	mk := make([]byte, 32)
	rand.Read(mk)
	masterKey := base64.StdEncoding.EncodeToString(mk)
	c.env = append(simcheck.ChildEnv(), secrets.EnvMasterKey+"="+masterKey)
	c.common = append([]string{"--database-url", db.AppURL, "--log-level", *logLevelFlag}, c.sim.VenueFlags(mdKeyID, mdKeyFile)...)
	c.common = append(c.common, "--nats-url", bus.URL, "--nats-prefix", bus.Prefix, "--lease-ttl", ttl.String())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, db.AppURL, polybot.SystemClock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.st = st
	seeded := time.Now()
	c.seed(ctx, masterKey)
	t.Logf("seeded %d tenants in %v", n, time.Since(seeded).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range c.procs {
				t.Logf("%s log (%s):\n%s", p.Name, p.Log, simcheck.Tail(p.Log, 25))
			}
		}
	})
	return c
}

// seed creates the tenants as the server would: each account made with
// polybot.CreateAccount on the pro plan, configured for live cross-venue
// arbitrage, onboarded with its bot on, and its keys sealed under the
// shared master key (secrets.Box.NewSecret, TenantTx.PutSecret).
func (c *cluster) seed(ctx context.Context, masterKey string) {
	t := c.t
	keys, err := secrets.OpenKeyring("", func(k string) string {
		if k == secrets.EnvMasterKey {
			return masterKey
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	ak, _, err := secrets.LoadAuditKey(ctx, c.st, keys)
	if err != nil {
		t.Fatal(err)
	}
	c.st.SetAuditKey(ak)
	box := secrets.NewBox(keys, secrets.DefaultCacheSize)
	c.box = box
	hash, err := auth.HashPassword("a long password 1", auth.DefaultParams) // one hash for all: nobody signs in
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, len(c.tenants))
	work := make(chan *tenant)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for tn := range work {
				errs <- c.seedTenant(ctx, box, hash, tn)
			}
		})
	}
	for _, tn := range c.tenants {
		work <- tn
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	for _, tn := range c.tenants {
		c.byID[tn.id] = tn
	}
}

func (c *cluster) seedTenant(ctx context.Context, box *secrets.Box, hash string, tn *tenant) error {
	u := &polybot.User{Email: fmt.Sprintf("tenant%03d@failover.test", tn.n), PasswordHash: hash, Role: polybot.RoleUser}
	if err := c.st.Admin(ctx, func(tx polybot.AdminTx) error {
		if _, err := polybot.CreateAccount(tx, u, fmt.Sprintf("Tenant %d", tn.n), "failovertest"); err != nil {
			return err
		}
		return tx.SetUserTier(u.ID, polybot.TierPro)
	}); err != nil {
		return err
	}
	tn.id = u.ID
	return c.st.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		cfg, err := tx.Config()
		if err != nil {
			return err
		}
		next, err := cfg.ApplyPatch([]byte(tenantConfig), p)
		if err != nil {
			return err
		}
		if err := tx.UpdateConfig(next); err != nil {
			return err
		}
		for _, k := range []struct {
			platform polybot.Platform
			fields   map[string]string
		}{
			{polybot.Kalshi, map[string]string{polybot.FieldAPIKey: tn.acct.KalshiKeyID, polybot.FieldPrivateKey: string(tn.acct.KalshiPEM)}},
			{polybot.Polymarket, map[string]string{polybot.FieldPrivateKey: tn.wallet}},
		} {
			sec, err := box.NewSecret(ctx, tx, k.platform, false, k.fields)
			if err != nil {
				return err
			}
			if err := tx.PutSecret(sec); err != nil {
				return err
			}
		}
		return polybot.CompleteOnboarding(tx)
	})
}

// start starts one PolyBot process of a role and waits until it listens.
func (c *cluster) start(name, role string, extra ...string) *simcheck.Proc {
	c.t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(c.dir, "data-"+name)}, c.common...)
	args = append(args, "--role", role)
	p := simcheck.Spawn(c.t, name, filepath.Join(c.dir, name+".log"), c.env, c.bin, append(args, extra...)...)
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	p.WaitListening(c.t, 60*time.Second)
	return p
}

// startWorker starts a worker that takes up to capacity tenants.
func (c *cluster) startWorker(id string, capacity int) *simcheck.Proc {
	c.t.Helper()
	return c.start(id, "worker", "--worker-id", id, "--worker-capacity", fmt.Sprint(capacity))
}

// leases returns every tenant's lease by tenant.
func (c *cluster) leases() map[polybot.ID]*polybot.Lease {
	c.t.Helper()
	var ls []*polybot.Lease
	if err := c.st.AdminView(context.Background(), func(tx polybot.AdminTx) (err error) {
		ls, err = tx.Leases()
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	out := map[polybot.ID]*polybot.Lease{}
	for _, l := range ls {
		out[l.Tenant] = l
	}
	return out
}

// held returns the live leases worker holds, by tenant.
func held(ls map[polybot.ID]*polybot.Lease, worker string, now time.Time) map[polybot.ID]*polybot.Lease {
	out := map[polybot.ID]*polybot.Lease{}
	for id, l := range ls {
		if l.Worker == worker && now.Before(l.ExpiresAt) {
			out[id] = l
		}
	}
	return out
}

// waitHeld waits until worker holds n live leases and returns them.
func (c *cluster) waitHeld(worker string, n int, within time.Duration) map[polybot.ID]*polybot.Lease {
	c.t.Helper()
	end := time.Now().Add(within)
	for {
		h := held(c.leases(), worker, time.Now())
		if len(h) == n {
			return h
		}
		if time.Now().After(end) {
			c.t.Fatalf("%s holds %d leases after %v, want %d", worker, len(h), within, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// subs is a snapshot of the simulators' submission logs.
type subs struct {
	k []simcheck.KalshiSubmission
	p []simcheck.PMSubmission
}

func (c *cluster) subs() subs {
	c.t.Helper()
	return subs{c.sim.KalshiSubs(c.t, ""), c.sim.PMSubs(c.t, "")}
}

// of counts the submissions made with the keys of the tenants in set.
func (s subs) of(c *cluster, set map[polybot.ID]bool) int {
	n := 0
	for _, k := range s.k {
		if tn := c.byKey[k.KeyID]; tn != nil && set[tn.id] {
			n++
		}
	}
	for _, p := range s.p {
		if tn := c.byMaker[strings.ToLower(p.Maker)]; tn != nil && set[tn.id] {
			n++
		}
	}
	return n
}

// waitOrders waits until the simulators have seen more than base orders
// from the tenants in set, polling every few milliseconds, and returns the
// count.
func (c *cluster) waitOrders(set map[polybot.ID]bool, base int, within time.Duration, what string) int {
	c.t.Helper()
	end := time.Now().Add(within)
	for {
		if n := c.subs().of(c, set); n > base {
			return n
		}
		if time.Now().After(end) {
			c.t.Fatalf("no new order from %s within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// storeState is what the store holds for every tenant.
type storeState struct {
	intents  map[string]*polybot.Intent // by client order id
	bySalt   map[string]*polybot.Intent // Polymarket intents by the salt derived from their id
	owner    map[string]polybot.ID      // client order id → tenant
	fills    map[polybot.ID][]*polybot.TradeFill
	holdings map[polybot.ID][]*polybot.Holding
	all      []*polybot.Intent
}

func (c *cluster) storeState(withFills bool) *storeState {
	c.t.Helper()
	s := &storeState{intents: map[string]*polybot.Intent{}, bySalt: map[string]*polybot.Intent{}, owner: map[string]polybot.ID{},
		fills: map[polybot.ID][]*polybot.TradeFill{}, holdings: map[polybot.ID][]*polybot.Holding{}}
	ctx := context.Background()
	for _, tn := range c.tenants {
		if err := c.st.TenantView(ctx, tn.id, func(tx polybot.TenantTx) error {
			ins, err := tx.Intents(nil, time.Time{}, 1_000_000)
			if err != nil {
				return err
			}
			for _, in := range ins {
				s.intents[in.ID], s.owner[in.ID] = in, tn.id
				if in.Instrument.Venue == polybot.Polymarket {
					s.bySalt[polymarket.SaltFor(in.ID).String()] = in
				}
			}
			s.all = append(s.all, ins...)
			if !withFills {
				return nil
			}
			if s.fills[tn.id], err = tx.Fills(time.Time{}, 1_000_000); err != nil {
				return err
			}
			s.holdings[tn.id], err = tx.Holdings()
			return err
		}); err != nil {
			c.t.Fatal(err)
		}
	}
	return s
}

// intentOf returns the intent a submission carried (nil if none) and the
// tenant whose keys sent it.
func (c *cluster) kalshiIntent(s *storeState, k simcheck.KalshiSubmission) (*polybot.Intent, *tenant) {
	return s.intents[k.ClientOrderID], c.byKey[k.KeyID]
}

func (c *cluster) pmIntent(s *storeState, p simcheck.PMSubmission) (*polybot.Intent, *tenant) {
	return s.bySalt[p.Salt], c.byMaker[strings.ToLower(p.Maker)]
}

// finalChecks proves, after every process stopped: no client order id
// reached a venue twice, every order went with its own tenant's keys, no
// fill is lost, positions equal the venues' and nothing is left
// unreconciled, for every tenant.
func (c *cluster) finalChecks() {
	t := c.t
	t.Helper()
	time.Sleep(200 * time.Millisecond) // let the simulators settle their last order's books
	sub := c.subs()
	s := c.storeState(true)
	report := func(what string, problems []string) {
		t.Helper()
		for i, p := range problems {
			if i == 20 {
				t.Errorf("… and %d more", len(problems)-i)
				break
			}
			t.Error(p)
		}
		if len(problems) == 0 {
			t.Log(what)
		}
	}
	report(fmt.Sprintf("no client order id sent twice: %d kalshi and %d polymarket orders, each with its own id", len(sub.k), len(sub.p)),
		simcheck.DuplicateSends(sub.k, sub.p, s.all))
	var wrongKeys []string
	for _, k := range sub.k {
		if in, tn := c.kalshiIntent(s, k); in != nil && (tn == nil || s.owner[in.ID] != tn.id) {
			wrongKeys = append(wrongKeys, fmt.Sprintf("kalshi order %s of tenant %s went with key %s", in.ID, s.owner[in.ID], k.KeyID))
		}
	}
	for _, p := range sub.p {
		if in, tn := c.pmIntent(s, p); in != nil && (tn == nil || s.owner[in.ID] != tn.id) {
			wrongKeys = append(wrongKeys, fmt.Sprintf("polymarket order %s of tenant %s was signed by %s", in.ID, s.owner[in.ID], p.Maker))
		}
	}
	report("every order went with its own tenant's keys", wrongKeys)

	type result struct {
		tn       *tenant
		vs       *simcheck.VenueState
		err      error
		problems []string
		held     int
	}
	results := make([]result, len(c.tenants))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, tn := range c.tenants {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := result{tn: tn}
			r.vs, r.err = c.sim.State(ctx, tn.acct)
			if r.err == nil {
				r.problems = simcheck.LostFills(r.vs.Fills, s.fills[tn.id])
				venue, diffs := simcheck.PositionDiffs(r.vs.KalshiPos, r.vs.PolymarketPos, s.holdings[tn.id])
				r.problems, r.held = append(r.problems, diffs...), len(venue)
			}
			results[i] = r
		})
	}
	wg.Wait()
	var problems []string
	fills, holding, traded := 0, 0, 0
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("tenant %d: %v", r.tn.n, r.err)
		}
		for _, p := range r.problems {
			problems = append(problems, fmt.Sprintf("tenant %d (%s): %s", r.tn.n, r.tn.id, p))
		}
		fills += len(r.vs.Fills)
		if r.held > 0 {
			holding++
		}
		if len(r.vs.Fills) > 0 {
			traded++
		}
	}
	if fills == 0 {
		t.Error("the venues made no fill for any tenant: nothing was tested")
	}
	report(fmt.Sprintf("no fill lost and positions equal the venues' for all %d tenants: %d fills (%d tenants filled, %d hold positions)",
		len(c.tenants), fills, traded, holding), problems)
	report("nothing left pending, unknown or open", simcheck.Unreconciled(s.all))
	states := map[string]int{}
	for _, in := range s.all {
		states[in.State]++
	}
	t.Logf("intents by state %v", states)
}

// median and max of durations.
func medianMax(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// logSize is how far a process's log has been written.
func logSize(p *simcheck.Proc) int64 {
	fi, err := os.Stat(p.Log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitLog waits until a line past offset of p's log matches, and returns
// it.
func (c *cluster) waitLog(p *simcheck.Proc, offset int64, match func(line string) bool, within time.Duration, what string) string {
	c.t.Helper()
	end := time.Now().Add(within)
	for {
		if b, err := os.ReadFile(p.Log); err == nil && int64(len(b)) > offset {
			for _, l := range strings.Split(string(b[offset:]), "\n") {
				if match(l) {
					return l
				}
			}
		}
		if time.Now().After(end) {
			c.t.Fatalf("%s did not log %s within %v:\n%s", p.Name, what, within, simcheck.Tail(p.Log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openIntents returns the intents of every tenant that may still change
// (pending, open, unknown).
func (c *cluster) openIntents() []*polybot.Intent {
	c.t.Helper()
	var out []*polybot.Intent
	for _, tn := range c.tenants {
		if err := c.st.TenantView(context.Background(), tn.id, func(tx polybot.TenantTx) error {
			ins, err := tx.Intents([]string{polybot.IntentPending, polybot.IntentOpen, polybot.IntentUnknown}, time.Time{}, 1000)
			out = append(out, ins...)
			return err
		}); err != nil {
			c.t.Fatal(err)
		}
	}
	return out
}

// haltAndSettle sets the platform's kill switch to reducing-only (as an
// admin's PUT /api/v1/admin/halt does), waits until every process that
// trades has read it (its log says so) and until the tenants' executions
// in flight have ended: no intent pending, open or unknown, and no order
// reached the simulators for a second. A graceful stop then interrupts
// nothing.
func (c *cluster) haltAndSettle(traders ...*simcheck.Proc) {
	c.t.Helper()
	began := time.Now()
	offsets := make([]int64, len(traders))
	for i, p := range traders {
		offsets[i] = logSize(p)
	}
	if err := c.st.Admin(context.Background(), func(tx polybot.AdminTx) error {
		if err := tx.SetGlobalHalt(polybot.HaltReducingOnly); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: "failovertest", Action: "admin.global_halt", Target: "platform",
			Details: `{"state":"reducing_only"}`, CreatedAt: tx.Now()})
	}); err != nil {
		c.t.Fatal(err)
	}
	for i, p := range traders {
		c.waitLog(p, offsets[i], func(l string) bool {
			return strings.Contains(l, `msg="global halt state"`) && strings.Contains(l, "state="+polybot.HaltReducingOnly)
		}, 10*time.Second, "the global halt")
	}
	end := time.Now().Add(30 * time.Second)
	last := -1
	for {
		s := c.subs()
		n := len(s.k) + len(s.p)
		open := c.openIntents()
		if len(open) == 0 && n == last {
			break
		}
		if time.Now().After(end) {
			ls := c.leases()
			var b strings.Builder
			for _, in := range open {
				fmt.Fprintf(&b, "\n    tenant %d: %s leg %d of %s, epoch %d (the tenant's lease: %s epoch %d), made %s, last written %s: %s %s",
					c.byID[in.UserID].n, in.Instrument.Venue, in.Leg, in.OpportunityID, in.Epoch, ls[in.UserID].Worker, ls[in.UserID].Epoch,
					in.CreatedAt.Format("15:04:05.000"), in.UpdatedAt.Format("15:04:05.000"), in.State, in.Error)
			}
			c.t.Fatalf("30 s after the halt %d intents are still pending, open or unknown (orders reaching the simulators: %d, a second before %d):%s",
				len(open), n, last, b.String())
		}
		last = n
		time.Sleep(time.Second)
	}
	c.t.Logf("halted (reducing-only) and settled in %v", time.Since(began).Round(time.Millisecond))
}

// openTransactions describes the database's sessions that sit inside a
// transaction (idle in it, or waiting), for a failure's message: a paused
// process's open transaction holds its row locks.
func (c *cluster) openTransactions() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.db.AdminURL)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid, state, coalesce(wait_event_type, ''), now() - xact_start, left(query, 120)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
		AND (state <> 'active' OR wait_event_type = 'Lock') ORDER BY xact_start`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var pid int
		var state, wait, query string
		var age time.Duration
		if err := rows.Scan(&pid, &state, &wait, &age, &query); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "\n    pid %d %s %s for %v: %s", pid, state, wait, age.Round(time.Millisecond), query)
	}
	if b.Len() == 0 {
		return " none"
	}
	return b.String()
}
