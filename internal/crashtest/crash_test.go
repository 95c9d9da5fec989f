//go:build unix

package crashtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/crashtest/simcheck"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/sqlite"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

var (
	seedFlag   = flag.Uint64("crash.seed", 0, "seed of the kill schedule (0: from the clock; the seed is logged)")
	ordersFlag = flag.Int("crash.orders", 200, "order submissions the simulators must receive before the final run")
)

const (
	email       = "crash@polybot.test"
	password    = "a long password 1"
	kalshiKeyID = "c7a5e000-0000-4000-8000-7e7a7e7a7e7a" // the tenant's own Kalshi key (UUID-shaped, as Kalshi's are)
	mdKeyID     = "crash-market-data"                    // the platform's Kalshi market-data key
	// The Fed recording spans three weeks; at 72000× a loop takes 25 s and
	// shows ~180 cross-venue opportunities above the tenant's 0.1% minimum.
	simSpeed = "72000"
	// How long the kill phase may take before the test gives up.
	killPhase = 110 * time.Second
)

// TestSIGKILLedServeLosesNothingAndSendsNothingTwice is the crash test; see
// the package doc.
func TestSIGKILLedServeLosesNothingAndSendsNothingTwice(t *testing.T) {
	began := time.Now()
	dir := t.TempDir()
	bin := simcheck.Build(t, dir)
	t.Logf("built polybot in %v", time.Since(began).Round(time.Millisecond))

	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kill schedule seed %d (rerun with: go test ./internal/crashtest -run SIGKILL -crash.seed=%d)", seed, seed)
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))

	// Keys: the tenant's Kalshi key and Polymarket wallet, and the
	// platform's Kalshi market-data key. The simulator gets the public
	// halves.
	tenantPEM := simcheck.RSAKey(t, dir, "tenant")
	mdPEM := simcheck.RSAKey(t, dir, "market-data")
	mdKeyFile := filepath.Join(dir, "market-data.pem")
	simcheck.WriteFile(t, mdKeyFile, mdPEM)
	walletBytes := make([]byte, 32)
	rand.Read(walletBytes)
	walletHex := hex.EncodeToString(walletBytes)
	wallet, err := eip712.NewSigner(walletHex)
	if err != nil {
		t.Fatal(err)
	}

	// The simulators: one long-lived process on free ports.
	sim := simcheck.StartSim(t, bin, dir, "--replay", "fed", "--speed", simSpeed, "--loop",
		"--kalshi-account", kalshiKeyID+"="+filepath.Join(dir, "tenant.pub.pem"),
		"--kalshi-account", mdKeyID+"="+filepath.Join(dir, "market-data.pub.pem"),
		"--kalshi-balance", "1000000", "--polymarket-balance", "1000000", "--log-level", "warn")
	venues := &tenantSubs{sim: sim, keyID: kalshiKeyID, maker: wallet.Address().String()}

	// The tenant: created and given its plan with the CLI.
	dataDir := filepath.Join(dir, "data")
	dbPath := filepath.Join(dataDir, "polybot.db")
	pwFile := filepath.Join(dir, "password")
	simcheck.WriteFile(t, pwFile, []byte(password+"\n"))
	simcheck.Run(t, bin, "user", "create", "--data-dir", dataDir, "--email", email, "--password-file", pwFile, "--display-name", "Crash tester")
	simcheck.Run(t, bin, "user", "set-tier", "--data-dir", dataDir, "--email", email, "--tier", "pro")

	serveArgs := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"},
		sim.VenueFlags(mdKeyID, mdKeyFile)...)
	var logs []string
	startServe := func(run int) *simcheck.Proc {
		t.Helper()
		log := filepath.Join(dir, fmt.Sprintf("serve-%03d.log", run))
		logs = append(logs, log)
		p := simcheck.Spawn(t, fmt.Sprintf("serve #%d", run), log, nil, bin, serveArgs...)
		p.WaitListening(t, 30*time.Second)
		return p
	}
	defer func() {
		if t.Failed() && len(logs) > 0 {
			t.Logf("last serve log (%s):\n%s", logs[len(logs)-1], simcheck.Tail(logs[len(logs)-1], 40))
			t.Logf("simulator log:\n%s", simcheck.Tail(filepath.Join(dir, "sim.log"), 20))
		}
	}()

	// Run 1 configures the tenant through the API as a user would: live
	// cross-venue arbitrage, its own keys, the bot started. Then it is
	// killed like every other run.
	srv := startServe(1)
	api := newClient(t, srv.Base)
	tenant := api.login()
	api.must("PUT", "/api/v1/config", `{"dry_run":false,"enable_cross_platform_arb":true,"enable_single_platform_arb":false,`+
		`"enable_polymarket":true,"enable_kalshi":true,"min_profit_pct":"0.1","max_trade_size_usd":"50","max_daily_loss_usd":"2500"}`)
	api.must("POST", "/api/v1/secrets", jsonString(map[string]any{"platform": "kalshi", "is_paper": false,
		"api_key": kalshiKeyID, "private_key": string(tenantPEM)}))
	api.must("POST", "/api/v1/secrets", jsonString(map[string]any{"platform": "polymarket", "is_paper": false, "private_key": walletHex}))
	api.must("POST", "/api/v1/bot/start", "")
	api.waitState(polybot.BotRunning, 30*time.Second)

	// The kill phase. Half of the kills come at a random time of the run
	// (during start-up and reconciliation too); the other half right after
	// the simulators saw the run's k-th order, 0–20 ms late: inside an
	// execution, between its legs or before its fills are recorded.
	type kill struct {
		run           int
		how           string
		kalshi, pm    int // the tenant's orders the simulators have received so far
		ordersThisRun int
		aliveFor      time.Duration
		// Intents the killed run left pending or unknown, whose order had
		// reached the simulator (sent, outcome not recorded) or not.
		inflightSent, inflightUnsent int
	}
	var kills []kill
	target := *ordersFlag
	deadline := time.Now().Add(killPhase)
	run := 1
	runStart := time.Now()
	for {
		k0, p0 := venues.counts(t)
		if k0+p0 >= target {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v and %d kills the simulators have only %d of the tenant's orders (kalshi %d, polymarket %d), want %d; bot: %s",
				killPhase, len(kills), k0+p0, k0, p0, target, simcheck.Tail(logs[len(logs)-1], 10))
		}
		var how string
		if rng.IntN(2) == 0 {
			d := time.Duration(150+rng.IntN(2350)) * time.Millisecond
			how = "at a random time, " + d.String() + " into the run"
			select {
			case <-srv.Done():
			case <-time.After(d - time.Since(runStart)):
			}
		} else {
			n := 1 + rng.IntN(6)
			late := time.Duration(rng.IntN(20_000)) * time.Microsecond
			how = fmt.Sprintf("%v after the run's order #%d reached the simulator", late, n)
			until := time.Now().Add(15 * time.Second)
			for {
				k, p := venues.counts(t)
				if k+p >= k0+p0+n || time.Now().After(until) || srv.Exited() {
					break
				}
				time.Sleep(3 * time.Millisecond)
			}
			time.Sleep(late)
		}
		alive := time.Since(runStart)
		if srv.Exited() {
			t.Fatalf("serve #%d exited by itself before it was killed (%v):\n%s", run, srv.Err(), simcheck.Tail(logs[len(logs)-1], 30))
		}
		srv.Kill9()
		k1, p1 := venues.counts(t)
		sent, unsent := inflight(t, dbPath, tenant, venues)
		kills = append(kills, kill{run: run, how: how, kalshi: k1, pm: p1, ordersThisRun: k1 + p1 - k0 - p0, aliveFor: alive,
			inflightSent: sent, inflightUnsent: unsent})
		run++
		runStart = time.Now()
		srv = startServe(run)
	}
	interrupted, sentUnrecorded := 0, 0
	for _, k := range kills {
		t.Logf("run %3d: SIGKILL %s (alive %v, %d orders this run; so far kalshi %d, polymarket %d); left in flight: %d sent, %d not sent",
			k.run, k.how, k.aliveFor.Round(time.Millisecond), k.ordersThisRun, k.kalshi, k.pm, k.inflightSent, k.inflightUnsent)
		if k.inflightSent+k.inflightUnsent > 0 {
			interrupted++
		}
		sentUnrecorded += k.inflightSent
	}
	t.Logf("%d of %d kills interrupted an execution; %d orders had reached a venue without their outcome recorded", interrupted, len(kills), sentUnrecorded)

	if len(kills) < 5 {
		t.Fatalf("only %d kills before the simulators had %d orders: the test proves little", len(kills), target)
	}

	// The final, clean run is the one started after the last kill: the bot
	// reconciles on start (its state turns running only after that), trades
	// a little, is set to reducing-only by its user (no new positions; an
	// execution in flight completes first, and its unwind, a reducing
	// order, may still go), and the server stops gracefully.
	kBefore, pBefore := venues.counts(t)
	t.Logf("kill phase: %d runs killed, %d orders (kalshi %d, polymarket %d) in %v", len(kills), kBefore+pBefore, kBefore, pBefore,
		time.Since(began).Round(time.Millisecond))
	api = newClient(t, srv.Base)
	if id := api.login(); id != tenant {
		t.Fatalf("logged in as %s, not %s", id, tenant)
	}
	st := api.waitState(polybot.BotRunning, 30*time.Second)
	if strings.Contains(st.LastError, "reconciliation incomplete") {
		t.Fatalf("the final run could not reconcile: %+v", st)
	}
	time.Sleep(time.Second)
	api.must("PUT", "/api/v1/bot/halt", `{"state":"reducing_only"}`)
	st = api.waitState(polybot.BotHalted, 30*time.Second)
	t.Logf("final run: bot %s, counters %+v, last error %q", st.State, st.Counters, st.LastError)
	srv.Stop(t, 20*time.Second)
	time.Sleep(200 * time.Millisecond) // let the simulators settle their last order's books

	// What the venues say, read with the tenant's own keys and the
	// simulators' submission logs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vs, err := sim.State(ctx, simcheck.Account{KalshiKeyID: kalshiKeyID, KalshiPEM: tenantPEM, Wallet: wallet})
	if err != nil {
		t.Fatal(err)
	}
	kSubs, pSubs := venues.kalshiSubs(t), venues.pmSubs(t)
	venueFills := vs.Fills

	// What PolyBot recorded.
	store, err := sqlite.Open(dbPath, polybot.SystemClock)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var intents []*polybot.Intent
	var fills []*polybot.TradeFill
	var holdings []*polybot.Holding
	if err := store.TenantView(ctx, tenant, func(tx polybot.TenantTx) (err error) {
		if intents, err = tx.Intents(nil, time.Time{}, 1_000_000); err != nil {
			return err
		}
		if fills, err = tx.Fills(time.Time{}, 1_000_000); err != nil {
			return err
		}
		holdings, err = tx.Holdings()
		return err
	}); err != nil {
		t.Fatal(err)
	}

	report := func(what string, problems []string) {
		t.Helper()
		for _, p := range problems {
			t.Error(p)
		}
		if len(problems) == 0 {
			t.Log(what)
		}
	}
	report(fmt.Sprintf("no client order id sent twice: %d kalshi and %d polymarket orders, each with its own id", len(kSubs), len(pSubs)),
		simcheck.DuplicateSends(kSubs, pSubs, intents))
	if len(venueFills) == 0 {
		t.Error("the venues made no fill for the tenant: nothing was tested")
	}
	report(fmt.Sprintf("no fill lost: the venues made %d fills for the tenant, all in the store", len(venueFills)),
		simcheck.LostFills(venueFills, fills))
	held, diffs := simcheck.PositionDiffs(vs.KalshiPos, vs.PolymarketPos, holdings)
	if len(held) == 0 {
		t.Error("the tenant holds nothing at the venues: nothing was tested")
	}
	report(fmt.Sprintf("positions equal the venues': %v", held), diffs)
	report("nothing left pending, unknown or open", simcheck.Unreconciled(intents))

	sent := map[string]int{}
	for _, in := range intents {
		sent[in.State]++
	}
	legs := map[string][]polybot.Decimal{} // opportunity → net filled per leg
	unwinds := 0
	unwound := map[string]bool{}
	for _, in := range intents {
		li, q := in.Leg, in.Filled
		if li >= 100 {
			li, q = li-100, q.Neg()
			unwinds++
			unwound[in.OpportunityID] = true
		}
		for len(legs[in.OpportunityID]) <= li {
			legs[in.OpportunityID] = append(legs[in.OpportunityID], polybot.Zero)
		}
		legs[in.OpportunityID][li] = legs[in.OpportunityID][li].Add(q)
	}
	for opp, q := range legs {
		if len(q) == 2 && q[0] != q[1] {
			var b strings.Builder
			for _, in := range intents {
				if in.OpportunityID == opp {
					fmt.Fprintf(&b, "\n    leg %d %s %s %s@%s: %s filled %s (%s) created %s updated %s", in.Leg, in.Instrument.Venue, in.Side, in.Size, in.Price,
						in.State, in.Filled, in.Error, in.CreatedAt.Format("15:04:05.000"), in.UpdatedAt.Format("15:04:05.000"))
				}
			}
			if !unwound[opp] {
				t.Errorf("opportunity %s ended with unbalanced legs %v and no unwind was ever tried:%s", opp, q, b.String())
				continue
			}
			t.Logf("note: opportunity %s ended with unbalanced legs %v (its unwind did not fill: the book moved):%s", opp, q, b.String())
		}
	}
	t.Logf("%d unwind orders", unwinds)
	t.Logf("summary: %d runs (%d SIGKILLed), orders received: kalshi %d, polymarket %d; venue fills %d, recorded %d; intents by state %v; %v in all",
		len(kills)+1, len(kills), len(kSubs), len(pSubs), len(venueFills), len(fills), sent, time.Since(began).Round(time.Millisecond))
}

// inflight counts, right after a kill, the tenant's intents left pending or
// unknown for the next run to reconcile: those whose order reached a
// simulator (sent, outcome never recorded: the dangerous window) and the
// others (persisted, never sent).
func inflight(t *testing.T, dbPath string, tenant polybot.ID, venues *tenantSubs) (sent, unsent int) {
	t.Helper()
	st, err := sqlite.Open(dbPath, polybot.SystemClock)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ins []*polybot.Intent
	if err := st.TenantView(context.Background(), tenant, func(tx polybot.TenantTx) (err error) {
		ins, err = tx.Intents([]string{polybot.IntentPending, polybot.IntentUnknown}, time.Time{}, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		return 0, 0
	}
	reached := map[string]bool{}
	for _, s := range venues.kalshiSubs(t) {
		reached[s.ClientOrderID] = true
	}
	for _, s := range venues.pmSubs(t) {
		reached["salt:"+s.Salt] = true
	}
	for _, in := range ins {
		if reached[in.ID] || (in.Instrument.Venue == polybot.Polymarket && reached["salt:"+polymarket.SaltFor(in.ID).String()]) {
			sent++
		} else {
			unsent++
		}
	}
	return sent, unsent
}

// tenantSubs reads the simulators' submission logs for the tenant.
type tenantSubs struct {
	sim          *simcheck.Sim
	keyID, maker string
}

func (s *tenantSubs) kalshiSubs(t *testing.T) []simcheck.KalshiSubmission {
	return s.sim.KalshiSubs(t, s.keyID)
}
func (s *tenantSubs) pmSubs(t *testing.T) []simcheck.PMSubmission { return s.sim.PMSubs(t, s.maker) }

func (s *tenantSubs) counts(t *testing.T) (kalshi, pm int) {
	return len(s.kalshiSubs(t)), len(s.pmSubs(t))
}

// --- the API, as the tenant ---

type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

func (c *client) do(method, path, body string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (c *client) must(method, path, body string) []byte {
	c.t.Helper()
	st, b := c.do(method, path, body)
	if st/100 != 2 {
		c.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	return b
}

func (c *client) login() polybot.ID {
	c.t.Helper()
	b := c.must("POST", "/api/v1/auth/login", jsonString(map[string]string{"email": email, "password": password}))
	var s struct {
		CSRF string `json:"csrf_token"`
		User struct {
			ID polybot.ID `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(b, &s); err != nil || s.CSRF == "" {
		c.t.Fatalf("login: %v %s", err, b)
	}
	c.csrf = s.CSRF
	return s.User.ID
}

func (c *client) waitState(state string, within time.Duration) polybot.BotStatus {
	c.t.Helper()
	var st polybot.BotStatus
	for end := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal(c.must("GET", "/api/v1/bot", ""), &st); err != nil {
			c.t.Fatal(err)
		}
		if st.State == state {
			return st
		}
		if time.Now().After(end) {
			c.t.Fatalf("the bot is not %s within %v: %+v", state, within, st)
		}
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
