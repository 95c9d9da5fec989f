//go:build unix

package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/sqlite"
	"github.com/polybot/polybot/internal/venue/kalshi"
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
	bin := buildPolybot(t, dir)
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
	tenantPEM := rsaKey(t, dir, "tenant")
	mdPEM := rsaKey(t, dir, "market-data")
	mdKeyFile := filepath.Join(dir, "market-data.pem")
	writeFile(t, mdKeyFile, mdPEM)
	walletBytes := make([]byte, 32)
	rand.Read(walletBytes)
	walletHex := hex.EncodeToString(walletBytes)
	wallet, err := eip712.NewSigner(walletHex)
	if err != nil {
		t.Fatal(err)
	}

	// The simulators: one long-lived process on free ports.
	sim := spawn(t, "sim", filepath.Join(dir, "sim.log"), bin, "sim",
		"--polymarket-addr", "127.0.0.1:0", "--kalshi-addr", "127.0.0.1:0",
		"--replay", "fed", "--speed", simSpeed, "--loop",
		"--kalshi-account", kalshiKeyID+"="+filepath.Join(dir, "tenant.pub.pem"),
		"--kalshi-account", mdKeyID+"="+filepath.Join(dir, "market-data.pub.pem"),
		"--kalshi-balance", "1000000", "--polymarket-balance", "1000000", "--log-level", "warn")
	urls := map[string]map[string]string{}
	for len(urls) < 2 {
		line := sim.line(t, 30*time.Second)
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "polymarket" && f[0] != "kalshi") {
			continue
		}
		kv := map[string]string{}
		for _, p := range f[1:] {
			if k, v, ok := strings.Cut(p, "="); ok {
				kv[k] = v
			}
		}
		urls[f[0]] = kv
	}
	pmURL, kURL := urls["polymarket"], urls["kalshi"]
	venues := &simClient{kAdmin: kURL["admin"], pmCLOB: pmURL["clob"], keyID: kalshiKeyID, maker: wallet.Address().String()}

	// The tenant: created and given its plan with the CLI.
	dataDir := filepath.Join(dir, "data")
	dbPath := filepath.Join(dataDir, "polybot.db")
	pwFile := filepath.Join(dir, "password")
	writeFile(t, pwFile, []byte(password+"\n"))
	runCLI(t, bin, "user", "create", "--data-dir", dataDir, "--email", email, "--password-file", pwFile, "--display-name", "Crash tester")
	runCLI(t, bin, "user", "set-tier", "--data-dir", dataDir, "--email", email, "--tier", "pro")

	serveArgs := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn", "--venues", "real",
		"--kalshi-url", kURL["rest"], "--kalshi-demo-url", kURL["rest"], "--kalshi-ws-url", kURL["ws"],
		"--kalshi-md-key-id", mdKeyID, "--kalshi-md-key-file", mdKeyFile,
		"--polymarket-clob-url", pmURL["clob"], "--polymarket-market-ws-url", pmURL["market_ws"],
		"--polymarket-user-ws-url", pmURL["user_ws"], "--polymarket-gamma-url", pmURL["gamma"], "--polymarket-data-url", pmURL["data"]}
	var logs []string
	startServe := func(run int) *proc {
		t.Helper()
		log := filepath.Join(dir, fmt.Sprintf("serve-%03d.log", run))
		logs = append(logs, log)
		p := spawn(t, fmt.Sprintf("serve #%d", run), log, bin, serveArgs...)
		for {
			line := p.line(t, 30*time.Second)
			if strings.HasPrefix(line, "PolyBot is listening on ") {
				return p
			}
		}
	}
	defer func() {
		if t.Failed() && len(logs) > 0 {
			t.Logf("last serve log (%s):\n%s", logs[len(logs)-1], tail(logs[len(logs)-1], 40))
			t.Logf("simulator log:\n%s", tail(filepath.Join(dir, "sim.log"), 20))
		}
	}()

	// Run 1 configures the tenant through the API as a user would: live
	// cross-venue arbitrage, its own keys, the bot started. Then it is
	// killed like every other run.
	srv := startServe(1)
	api := newClient(t, srv.base)
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
				killPhase, len(kills), k0+p0, k0, p0, target, tail(logs[len(logs)-1], 10))
		}
		var how string
		if rng.IntN(2) == 0 {
			d := time.Duration(150+rng.IntN(2350)) * time.Millisecond
			how = "at a random time, " + d.String() + " into the run"
			select {
			case <-srv.done:
			case <-time.After(d - time.Since(runStart)):
			}
		} else {
			n := 1 + rng.IntN(6)
			late := time.Duration(rng.IntN(20_000)) * time.Microsecond
			how = fmt.Sprintf("%v after the run's order #%d reached the simulator", late, n)
			until := time.Now().Add(15 * time.Second)
			for {
				k, p := venues.counts(t)
				if k+p >= k0+p0+n || time.Now().After(until) || srv.exited() {
					break
				}
				time.Sleep(3 * time.Millisecond)
			}
			time.Sleep(late)
		}
		alive := time.Since(runStart)
		if srv.exited() {
			t.Fatalf("serve #%d exited by itself before it was killed (%v):\n%s", run, srv.err, tail(logs[len(logs)-1], 30))
		}
		srv.kill9()
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
	api = newClient(t, srv.base)
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
	srv.stop(t, 20*time.Second)
	time.Sleep(200 * time.Millisecond) // let the simulators settle their last order's books

	// What the venues say, read with the tenant's own keys and the
	// simulators' submission logs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kx, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: kURL["rest"], KeyID: kalshiKeyID, PrivateKeyPEM: tenantPEM})
	if err != nil {
		t.Fatal(err)
	}
	pcfg := polymarket.DefaultConfig()
	pcfg.CLOBURL, pcfg.MarketWSURL, pcfg.UserWSURL, pcfg.GammaURL, pcfg.DataURL = pmURL["clob"], pmURL["market_ws"], pmURL["user_ws"], pmURL["gamma"], pmURL["data"]
	px, err := polymarket.NewExchange(polymarket.NewClient(pcfg), polymarket.Credentials{Wallet: wallet}, polymarket.ExchangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kSubs, pSubs := venues.kalshiSubs(t), venues.pmSubs(t)
	var venueFills []polybot.Fill
	var kPos, pPos []polybot.Position
	for name, fn := range map[string]func() error{
		"kalshi fills": func() (err error) {
			fs, err := kx.Fills(ctx, time.Time{})
			venueFills = append(venueFills, fs...)
			return err
		},
		"kalshi positions": func() (err error) { kPos, err = kx.Positions(ctx); return err },
		"polymarket fills": func() (err error) {
			fs, err := px.Fills(ctx, time.Time{})
			venueFills = append(venueFills, fs...)
			return err
		},
		"polymarket positions": func() (err error) { pPos, err = px.Positions(ctx); return err },
	} {
		if err := fn(); err != nil {
			t.Fatalf("reading the simulator's %s: %v", name, err)
		}
	}

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

	checkNoDuplicateSends(t, kSubs, pSubs, intents)
	checkNoLostFills(t, venueFills, fills)
	checkPositions(t, kPos, pPos, holdings)
	checkReconciled(t, intents)

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
func inflight(t *testing.T, dbPath string, tenant polybot.ID, venues *simClient) (sent, unsent int) {
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

// --- checks ---

func checkNoDuplicateSends(t *testing.T, kSubs []kalshiSubmission, pSubs []pmSubmission, intents []*polybot.Intent) {
	t.Helper()
	ids := map[string]*polybot.Intent{}
	salts := map[string]*polybot.Intent{}
	for _, in := range intents {
		ids[in.ID] = in
		if in.Instrument.Venue == polybot.Polymarket {
			salts[polymarket.SaltFor(in.ID).String()] = in
		}
	}
	perID := map[string]int{}
	for _, s := range kSubs {
		perID[s.ClientOrderID]++
		if in := ids[s.ClientOrderID]; in == nil || in.Instrument.Venue != polybot.Kalshi {
			t.Errorf("kalshi received client order id %q, which is no Kalshi intent of the store: an order sent before its intent was persisted", s.ClientOrderID)
		}
	}
	for id, n := range perID {
		if n > 1 {
			in := ids[id]
			t.Errorf("kalshi received client order id %s %d times (intent %+v)", id, n, in)
		}
	}
	perSalt := map[string]int{}
	for _, s := range pSubs {
		perSalt[s.Salt]++
		if salts[s.Salt] == nil {
			t.Errorf("polymarket received an order (salt %s, hash %s) that is no Polymarket intent of the store", s.Salt, s.OrderID)
		}
	}
	for salt, n := range perSalt {
		if n > 1 {
			in := salts[salt]
			id := ""
			if in != nil {
				id = in.ID
			}
			t.Errorf("polymarket received client order id %s (salt %s) %d times", id, salt, n)
		}
	}
	if len(perID) != len(kSubs) || len(perSalt) != len(pSubs) {
		return
	}
	t.Logf("no client order id sent twice: %d kalshi and %d polymarket orders, each with its own id", len(kSubs), len(pSubs))
}

func checkNoLostFills(t *testing.T, venue []polybot.Fill, stored []*polybot.TradeFill) {
	t.Helper()
	type key struct {
		venue polybot.Platform
		trade string
	}
	have := map[key]*polybot.TradeFill{}
	for _, f := range stored {
		if f.Mode != polybot.Live {
			t.Errorf("a %s fill in a live-only run: %+v", f.Mode, f)
			continue
		}
		k := key{f.Venue, f.TradeID}
		if have[k] != nil {
			t.Errorf("fill %s/%s recorded twice", f.Venue, f.TradeID)
		}
		have[k] = f
	}
	seen := map[key]bool{}
	lost := 0
	for _, f := range venue {
		k := key{f.Instrument.Venue, f.TradeID}
		seen[k] = true
		got := have[k]
		switch {
		case got == nil:
			lost++
			t.Errorf("fill lost: %s trade %s (%s %s %s @ %s, order %s/%s) is not in the store",
				k.venue, f.TradeID, f.Side, f.Size, f.Instrument.Key(), f.Price, f.ClientOrderID, f.VenueOrderID)
		default:
			gi, gs, gp := yesTerms(got.Instrument, got.Side, got.Price)
			vi, vs, vp := yesTerms(f.Instrument, f.Side, f.Price)
			if got.Size != f.Size || gi != vi || gs != vs || gp != vp {
				t.Errorf("fill %s/%s: the store has %s %s %s @ %s, the venue %s %s %s @ %s", k.venue, f.TradeID,
					got.Side, got.Size, got.Instrument.Key(), got.Price, f.Side, f.Size, f.Instrument.Key(), f.Price)
			}
		}
	}
	for k, f := range have {
		if !seen[k] {
			t.Errorf("the store has fill %s/%s (%s %s) that the venue never made", k.venue, k.trade, f.Side, f.Size)
		}
	}
	if len(venue) == 0 {
		t.Error("the venues made no fill for the tenant: nothing was tested")
	}
	if lost == 0 {
		t.Logf("no fill lost: the venues made %d fills for the tenant, all in the store", len(venue))
	}
}

// yesTerms states a Kalshi fill on the YES book, where the venue matches
// it: buying NO at p is selling YES at 1 − p. (The connector reports a fill
// in the terms of the order it placed when it remembers it, else in YES
// terms.) Other venues' fills are returned as they are.
func yesTerms(inst polybot.Instrument, side polybot.Side, price polybot.Decimal) (string, polybot.Side, polybot.Decimal) {
	if inst.Venue == polybot.Kalshi && inst.Outcome == polybot.No {
		yes, _ := kalshi.Instruments(inst.Market)
		return yes.Key(), 1 - side, polybot.One.Sub(price)
	}
	return inst.Key(), side, price
}

// checkPositions compares holdings. Kalshi nets YES against NO in a market
// (a YES and a NO pay $1 together), so its position is YES − NO; Polymarket
// keeps shares per token.
func checkPositions(t *testing.T, kPos, pPos []polybot.Position, holdings []*polybot.Holding) {
	t.Helper()
	venue, store := map[string]polybot.Decimal{}, map[string]polybot.Decimal{}
	signed := func(p polybot.Instrument, size polybot.Decimal) (string, polybot.Decimal) {
		if p.Venue == polybot.Kalshi {
			if p.Outcome == polybot.No {
				size = size.Neg()
			}
			return "kalshi:" + p.Market, size
		}
		return "polymarket:" + p.Token, size
	}
	for _, p := range append(slices.Clone(kPos), pPos...) {
		k, s := signed(p.Instrument, p.Size)
		venue[k] = venue[k].Add(s)
	}
	for _, h := range holdings {
		if h.Mode != polybot.Live {
			continue
		}
		k, s := signed(h.Instrument, h.Size)
		store[k] = store[k].Add(s)
	}
	keys := map[string]bool{}
	for k := range venue {
		keys[k] = true
	}
	for k := range store {
		keys[k] = true
	}
	ok := true
	for k := range keys {
		if venue[k] != store[k] {
			ok = false
			t.Errorf("position %s: the store holds %s, the venue %s", k, store[k], venue[k])
		}
	}
	if len(venue) == 0 {
		t.Error("the tenant holds nothing at the venues: nothing was tested")
	}
	if ok {
		t.Logf("positions equal the venues': %v", venue)
	}
}

// checkReconciled: after the final run nothing is left pending or unknown.
func checkReconciled(t *testing.T, intents []*polybot.Intent) {
	t.Helper()
	for _, in := range intents {
		switch in.State {
		case polybot.IntentPending, polybot.IntentUnknown, polybot.IntentOpen:
			t.Errorf("intent %s (%s leg %d of %s) is still %s after the final run: %s", in.ID, in.Instrument.Venue, in.Leg,
				in.OpportunityID, in.State, in.Error)
		}
	}
}

// --- the simulators' logs ---

type kalshiSubmission struct {
	KeyID         string `json:"key_id"`
	ClientOrderID string `json:"client_order_id"`
	OrderID       string `json:"order_id"`
	Error         string `json:"error"`
}

type pmSubmission struct {
	Maker   string `json:"maker"`
	Salt    string `json:"salt"`
	OrderID string `json:"order_id"`
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

type simClient struct {
	kAdmin, pmCLOB string
	keyID, maker   string
}

var httpc = &http.Client{Timeout: 10 * time.Second}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := httpc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func (s *simClient) kalshiSubs(t *testing.T) []kalshiSubmission {
	var out struct{ Submissions []kalshiSubmission }
	getJSON(t, s.kAdmin+"/submissions?key_id="+s.keyID, &out)
	return out.Submissions
}

func (s *simClient) pmSubs(t *testing.T) []pmSubmission {
	var out struct{ Submissions []pmSubmission }
	getJSON(t, s.pmCLOB+"/sim/v1/submissions?maker="+s.maker, &out)
	return out.Submissions
}

func (s *simClient) counts(t *testing.T) (kalshi, pm int) {
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

// --- processes ---

// proc is a child process: stdout lines go to a channel (and the log),
// stderr to the log.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // once done
	base  string
}

func spawn(t *testing.T, name, logPath, bin string, args ...string) *proc {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, lines: make(chan string, 256), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = childEnv()
	p.cmd.Stdout = &lineWriter{out: p.lines, log: log}
	p.cmd.Stderr = log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		log.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill9)
	return p
}

func (p *proc) line(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case l := <-p.lines:
		if u, ok := strings.CutPrefix(l, "PolyBot is listening on "); ok {
			p.base = u
		}
		return l
	case <-p.done:
		t.Fatalf("%s exited early: %v", p.name, p.err)
	case <-time.After(within):
		t.Fatalf("%s printed nothing within %v", p.name, within)
	}
	return ""
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill9 sends SIGKILL (if still running) and waits for the process.
func (p *proc) kill9() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop asks for a graceful stop (SIGTERM) and wants exit status 0.
func (p *proc) stop(t *testing.T, within time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s did not stop cleanly: %v", p.name, p.err)
		}
	case <-time.After(within):
		t.Fatalf("%s did not stop within %v of SIGTERM", p.name, within)
	}
}

type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	out chan string
	log io.Writer
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.log.Write(b)
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		select {
		case w.out <- string(w.buf[:i]):
		default: // nobody reads that far
		}
		w.buf = w.buf[i+1:]
	}
}

// childEnv is the test's environment without PolyBot's own settings, so
// only the flags configure the children.
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "POLYBOT_") || strings.HasPrefix(kv, "SUPABASE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func buildPolybot(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "polybot")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/polybot/polybot/cmd/polybot")
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("polybot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// rsaKey makes an RSA key, writes its public half to <name>.pub.pem and
// returns its private PEM.
func rsaKey(t *testing.T, dir, name string) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, name+".pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		lines = append(lines, err.Error())
	}
	return strings.Join(lines, "\n")
}
