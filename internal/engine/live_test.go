package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/venue/kalshi"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	"github.com/polybot/polybot/internal/venuesim/fault"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
	pmsim "github.com/polybot/polybot/internal/venuesim/polymarket"
)

// The live tests run the engine against both venue simulators over real
// loopback HTTP and WebSocket sockets: the hubs read the simulators' feeds,
// and each tenant trades with its own keys, stored sealed and opened by the
// engine.

const (
	fedTicker = kalshisim.FedTicker
	fedC25    = "KXFEDDECISION-25DEC-C25"
	fedC26    = "KXFEDDECISION-25DEC-C26"
	pmMarket  = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
	pmYesTok  = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
	pmNoTok   = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
)

var (
	fedPair       = &polybot.MarketPair{ID: "fed-dec-2025", Name: "Fed holds in December 2025", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg(pmMarket, pmYesTok, pmNoTok), polybot.KalshiLeg(fedTicker)}, Approved: true}
	kYes, kNo     = kalshi.Instruments(fedTicker)
	pmFedYes      = polybot.Instrument{Venue: polybot.Polymarket, Market: pmMarket, Token: pmYesTok, Outcome: polybot.Yes}
	pmFedNo       = polybot.Instrument{Venue: polybot.Polymarket, Market: pmMarket, Token: pmNoTok, Outcome: polybot.No}
	rsaKeysOnce   sync.Once
	rsaKeys       [3]*rsa.PrivateKey
	kalshiOrderRE = "/portfolio/events/orders"
)

func testRSAKeys(t testing.TB) [3]*rsa.PrivateKey {
	rsaKeysOnce.Do(func() {
		for i := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k
		}
	})
	return rsaKeys
}

func pkcs1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// kalshiOrder is an order request as it arrived at the simulator's socket.
type kalshiOrder struct {
	at   time.Time
	key  string // KALSHI-ACCESS-KEY
	body kalshi.CreateOrderV2Request
}

// liveRig is a rig whose hubs read the simulators.
type liveRig struct {
	*rig
	ksim  *kalshisim.Server
	kURLs kalshisim.URLs
	psim  *pmsim.Server
	pURLs pmsim.URLs

	mu     sync.Mutex
	orders []kalshiOrder
	// onOrder, when set, sees the number of each Kalshi order POST before
	// the simulator does.
	onOrder func(n int)
	// tap, when set, sees every book event as the hubs get it.
	tap atomic.Pointer[func(polybot.BookEvent)]
}

func newLiveRig(t testing.TB) *liveRig {
	t.Helper()
	r := &liveRig{rig: newRig(t)}
	keys := testRSAKeys(t)
	var err error
	series, markets := kalshisim.DefaultMarkets()
	for _, t := range []string{fedC25, fedC26} { // the rest of the Fed event, for overlapping arbitrage
		markets = append(markets, kalshisim.MarketConfig{Ticker: t, EventTicker: "KXFEDDECISION-25DEC", SeriesTicker: "KXFEDDECISION", Title: t})
	}
	r.ksim, err = kalshisim.New(kalshisim.Config{Series: series, Markets: markets, Accounts: []kalshisim.AccountConfig{
		{KeyID: "market-data", PublicKeyPEM: string(pkcs1(keys[0])), Balance: d("0")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.countOrders(r.ksim.Handler()))
	t.Cleanup(func() { r.ksim.DropWebSockets(); srv.Close() })
	host := strings.TrimPrefix(srv.URL, "http://")
	r.kURLs = kalshisim.URLs{REST: srv.URL + kalshisim.RESTPrefix, WS: "ws://" + host + kalshisim.WSPath}

	r.psim, err = pmsim.New(pmsim.Config{Markets: []pmsim.Market{{ConditionID: pmMarket, Tokens: [2]string{pmYesTok, pmNoTok},
		TickSize: d("0.01")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if r.pURLs, err = r.psim.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}

	kfeed, err := kalshi.NewFeed(kalshi.FeedConfig{URL: r.kURLs.WS, Signer: kalshi.NewSigner("market-data", kalshi.NewPrivateKey(keys[0]), nil),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pcfg := r.pURLs.ClientConfig(pm.ChainPolygon)
	pcfg.PingInterval = time.Second
	pfeed := pm.NewFeed(pcfg, nil)
	r.hubs[polybot.Kalshi] = marketdata.NewHub(kfeed, marketdata.HubConfig{})
	r.hubs[polybot.Polymarket] = marketdata.NewHub(pfeed, marketdata.HubConfig{})
	var wg sync.WaitGroup
	for _, h := range r.hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			feed := kfeed.Run
			if h == r.hubs[polybot.Polymarket] {
				feed = pfeed.Run
			}
			_ = feed(ctx, func(ev polybot.BookEvent) {
				h.Handle(ev)
				if tap := r.tap.Load(); tap != nil {
					(*tap)(ev)
				}
			})
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r
}

// countOrders records every order POST the Kalshi simulator receives.
func (r *liveRig) countOrders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, kalshiOrderRE) {
			at := time.Now()
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
			var o kalshiOrder
			o.at, o.key = at, req.Header.Get("KALSHI-ACCESS-KEY")
			_ = json.Unmarshal(body, &o.body)
			r.mu.Lock()
			r.orders = append(r.orders, o)
			n, hook := len(r.orders), r.onOrder
			r.mu.Unlock()
			if hook != nil {
				hook(n)
			}
		}
		h.ServeHTTP(w, req)
	})
}

func (r *liveRig) kalshiOrders() []kalshiOrder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kalshiOrder(nil), r.orders...)
}

// factory builds tenants' exchanges on the simulators, as cmd does on the
// venues.
func (r *liveRig) factory(ctx context.Context, tenant polybot.ID, p polybot.Platform, paper bool, creds secrets.Plaintext, _ json.RawMessage) (polybot.Exchange, error) {
	switch p {
	case polybot.Kalshi:
		return kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: r.kURLs.REST, KeyID: creds.Get(polybot.FieldAPIKey),
			PrivateKeyPEM: append([]byte(nil), creds[polybot.FieldPrivateKey]...)})
	case polybot.Polymarket:
		w, err := eip712.NewSigner(creds.Get(polybot.FieldPrivateKey))
		if err != nil {
			return nil, polybot.FieldError(polybot.FieldPrivateKey, "bad wallet key")
		}
		cfg := r.pURLs.ClientConfig(pm.ChainPolygon)
		return pm.NewExchange(pm.NewClient(cfg), pm.Credentials{Wallet: w}, pm.ExchangeOptions{})
	}
	return nil, polybot.Errorf(polybot.EINVALID, "unsupported venue %s", p)
}

// liveTenant is a pro user trading cross-platform arbitrage live, with its
// own Kalshi key and Polymarket wallet sealed in the store.
type liveTenant struct {
	id       polybot.ID
	kalshiID string
	wallet   *eip712.Signer
}

func (r *liveRig) liveUser(mod func(*polybot.Config)) *liveTenant {
	r.t.Helper()
	lt := &liveTenant{kalshiID: "tenant-" + randomHex(4)}
	key := testRSAKeys(r.t)[1]
	if err := r.ksim.AddAccount(kalshisim.AccountConfig{KeyID: lt.kalshiID, PublicKeyPEM: string(pkcs1(key)), Balance: d("1000")}); err != nil {
		r.t.Fatal(err)
	}
	walletHex := randomHex(32)
	w, err := eip712.NewSigner(walletHex)
	if err != nil {
		r.t.Fatal(err)
	}
	lt.wallet = w
	lt.id = r.user(polybot.TierPro, func(c *polybot.Config) {
		c.DryRun = false
		c.EnableSinglePlatformArb = false
		c.EnableCrossPlatformArb = true
		c.MinProfitPct = d("0.5")
		if mod != nil {
			mod(c)
		}
	})
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error {
		for p, f := range map[polybot.Platform]map[string]string{
			polybot.Kalshi:     {polybot.FieldAPIKey: lt.kalshiID, polybot.FieldPrivateKey: string(pkcs1(key))},
			polybot.Polymarket: {polybot.FieldPrivateKey: walletHex},
		} {
			s, err := r.box.NewSecret(r.ctx, tx, p, false, f)
			if err != nil {
				return err
			}
			if err := tx.PutSecret(s); err != nil {
				return err
			}
		}
		return nil
	})
	return lt
}

func (r *liveRig) startLive(cfg Config) *Manager {
	cfg.Universe = Universe{Pairs: []*polybot.MarketPair{fedPair}}
	cfg.ExchangeFactory = r.factory
	return r.start(cfg)
}

// crossBooks sets Kalshi YES ask 0.45 × kSize (a NO bid at 0.55), a YES bid
// at 0.40 × 100, and Polymarket NO ask 0.52 × 100 (YES ask 0.60): Kalshi YES
// + Polymarket NO = 0.97 a set before Kalshi's fee.
func (r *liveRig) crossBooks(kSize string) {
	r.t.Helper()
	if err := r.ksim.SetBook(fedTicker, []polybot.Level{lv("0.40", "100")}, []polybot.Level{lv("0.55", kSize)}); err != nil {
		r.t.Fatal(err)
	}
	r.pmAsks(pmFedNo, lv("0.52", "100"))
	r.pmAsks(pmFedYes, lv("0.60", "100"))
}

func (r *liveRig) pmAsks(inst polybot.Instrument, asks ...polybot.Level) {
	r.t.Helper()
	if err := r.psim.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst, Asks: asks, Time: time.Now()}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *liveRig) intentsByLeg(id polybot.ID) map[int]*polybot.Intent {
	out := map[int]*polybot.Intent{}
	for _, in := range r.intents(id) {
		out[in.Leg] = in
	}
	return out
}

func TestLiveCrossPlatformOrdersReachTheSimulatorsWithTheTenantsKeys(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	m := r.startLive(Config{})
	r.waitRunning(lt.id)
	r.crossBooks("10")

	eventually(t, "both legs filled", func() bool {
		ins := r.intents(lt.id)
		return len(ins) == 2 && ins[0].State == polybot.IntentFilled && ins[1].State == polybot.IntentFilled
	})
	orders := r.kalshiOrders()
	if len(orders) != 1 || orders[0].key != lt.kalshiID || orders[0].body.TimeInForce != kalshi.TIFFillOrKill ||
		orders[0].body.Side != "bid" || orders[0].body.Price != "0.4500" || orders[0].body.Count != "10.00" {
		t.Fatalf("kalshi orders %+v, want one FOK bid for 10 YES at 0.45 signed with the tenant's key", orders)
	}
	legs := r.intentsByLeg(lt.id)
	if len(legs) != 2 || orders[0].body.ClientOrderID != legs[0].ID && orders[0].body.ClientOrderID != legs[1].ID {
		t.Fatalf("the order's client id is not an intent's: %+v", legs)
	}
	// The Polymarket order went from the tenant's own wallet.
	eventually(t, "the wallet holds the NO shares", func() bool {
		return r.psim.Wallet(lt.wallet.Address()).Positions[pmNoTok] == d("10")
	})
	fills := r.fills(lt.id)
	if len(fills) != 2 {
		t.Fatalf("fills %+v", fills)
	}
	for _, f := range fills {
		if f.Mode != polybot.Live || f.Size != d("10") || f.Strategy != polybot.StrategyCrossPlatform {
			t.Fatalf("fill %+v", f)
		}
		if f.Venue == polybot.Kalshi && (f.Instrument != kYes || f.Fee != d("0.18")) {
			t.Fatalf("kalshi fill %+v, want YES with the 0.18 fee", f)
		}
	}
	// Two live orders counted against the monthly quota.
	var p *polybot.Profile
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { p, err = tx.Profile(); return })
	if p.TradesThisMonth != 2 {
		t.Fatalf("trades this month = %d, want 2", p.TradesThisMonth)
	}
	if st := m.Status(context.Background(), lt.id); st.Mode != polybot.Live || st.Counters.Fills != 2 {
		t.Fatalf("status %+v", st)
	}
	// Opening the keys was audited.
	var trail []*polybot.AuditEntry
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { trail, err = tx.AuditTrail(0, 100); return })
	opened := 0
	for _, e := range trail {
		if e.Action == polybot.AuditSecretDecrypt {
			opened++
		}
	}
	if opened != 2 {
		t.Fatalf("%d decrypt audit rows, want one per venue key", opened)
	}
}

func TestSecondLegFailureUnwindsTheFirstAndRecordsIt(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	m := r.startLive(Config{})
	events, cancel := m.Subscribe(lt.id)
	defer cancel()
	r.waitRunning(lt.id)
	// Kalshi shows 10, Polymarket 100: the thinner Kalshi leg goes first,
	// then Polymarket refuses the second.
	r.psim.Faults().FailNext("POST", "/order", 1, http.StatusBadRequest)
	r.crossBooks("10")

	eventually(t, "the unwind is recorded", func() bool {
		legs := r.intentsByLeg(lt.id)
		u := legs[unwindLeg]
		return len(legs) == 3 && u != nil && finalState(u.State)
	})
	legs := r.intentsByLeg(lt.id)
	k, p, u := legs[0], legs[1], legs[unwindLeg]
	if k.Instrument != kYes || k.State != polybot.IntentFilled || k.Filled != d("10") {
		t.Fatalf("first (Kalshi) leg %+v", k)
	}
	if p.Instrument != pmFedNo || p.State != polybot.IntentRejected || p.Error == "" {
		t.Fatalf("second (Polymarket) leg %+v", p)
	}
	if u.Instrument != kYes || u.Side != polybot.Sell || u.TIF != polybot.FAK || u.Price != d("0.40") ||
		u.State != polybot.IntentFilled || u.Filled != d("10") {
		t.Fatalf("unwind %+v, want a FAK sell of 10 YES at the 0.40 bid, filled", u)
	}
	// The status is told once every leg's unwind is done (the intent is
	// final a moment before).
	eventually(t, "the status says it unwound", func() bool {
		return strings.Contains(m.Status(context.Background(), lt.id).LastError, "unwound")
	})
	if st := m.Status(context.Background(), lt.id); st.Counters.Unwinds != 1 {
		t.Fatalf("status %+v", st)
	}
	if s := m.Snapshot(); s.Unwinds != 1 {
		t.Fatalf("metrics unwinds %d", s.Unwinds)
	}
	var h *polybot.Holding
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { h, err = tx.Holding(kYes, polybot.Live); return })
	if !h.Size.IsZero() || h.RealizedPnL.Sign() >= 0 {
		t.Fatalf("holding after the unwind %+v: flat, at a loss", h)
	}
	// The quota gave back the refused order's count: 2 sent orders count.
	var p2 *polybot.Profile
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { p2, err = tx.Profile(); return })
	if p2.TradesThisMonth != 2 {
		t.Fatalf("trades this month %d, want 2 (the Kalshi leg and its unwind)", p2.TradesThisMonth)
	}
	sawUnwind := false
	for !sawUnwind {
		select {
		case ev := <-events:
			if in, ok := ev.Data.(*polybot.Intent); ok && ev.Type == "intent" && in.Leg == unwindLeg {
				sawUnwind = true
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no unwind intent event")
		}
	}
}

func TestUnknownOutcomeIsResolvedByQueryAndNeverResent(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	m := r.startLive(Config{OrderTimeout: 300 * time.Millisecond})
	r.waitRunning(lt.id)
	// The Kalshi order is accepted (and trades) but its answer never comes.
	r.ksim.Faults().Add(fault.Rule{Kind: fault.TimeoutAfterAccept, Method: http.MethodPost, Path: kalshiOrderRE, Times: 1})
	r.crossBooks("10")

	eventually(t, "both legs filled", func() bool {
		legs := r.intentsByLeg(lt.id)
		return len(legs) == 2 && legs[0].State == polybot.IntentFilled && legs[1].State == polybot.IntentFilled
	})
	orders := r.kalshiOrders()
	if len(orders) != 1 {
		t.Fatalf("the simulator received %d orders, want exactly one: the unknown outcome must be resolved by query", len(orders))
	}
	if s := m.Snapshot(); s.UnknownOutcomes != 1 {
		t.Fatalf("unknown outcomes %d", s.UnknownOutcomes)
	}
	k := r.intentsByLeg(lt.id)[0]
	if k.Filled != d("10") || k.VenueOrderID == "" {
		t.Fatalf("kalshi leg %+v", k)
	}
	kf := 0
	for _, f := range r.fills(lt.id) {
		if f.Venue == polybot.Kalshi {
			kf++
		}
	}
	if kf != 1 {
		t.Fatalf("%d kalshi fills recorded, want 1", kf)
	}
}

func TestHaltedLiveBotSendsNoOrdersButCancelsItsRestingOrders(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	// An order the bot placed before it stopped: persisted, then resting.
	rest := &polybot.Intent{ID: polybot.IntentID(lt.id, "manual", 0, 0), OpportunityID: "manual", Strategy: polybot.StrategyCrossPlatform,
		Mode: polybot.Live, Instrument: kYes, Side: polybot.Buy, Price: d("0.30"), Size: d("5"), TIF: polybot.GTC}
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error { return polybot.SubmitIntent(tx, rest, nil) })
	x, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: r.kURLs.REST, KeyID: lt.kalshiID, PrivateKeyPEM: pkcs1(testRSAKeys(t)[1])})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := x.PlaceOrder(r.ctx, polybot.OrderRequest{ClientOrderID: rest.ID, Instrument: kYes, Side: polybot.Buy,
		Price: d("0.30"), Size: d("5"), TIF: polybot.GTC}); err != nil || st.State != polybot.OrderOpen {
		t.Fatalf("resting order: %+v %v", st, err)
	}
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltHalted) })
	m := r.startLive(Config{})
	eventually(t, "the bot is halted", func() bool { return m.Status(context.Background(), lt.id).State == polybot.BotHalted })
	// Reconciliation on start found the order resting.
	eventually(t, "the resting order is reconciled", func() bool { return r.intentsByLeg(lt.id)[0].State == polybot.IntentOpen })

	r.crossBooks("10")
	time.Sleep(300 * time.Millisecond)
	if n := len(r.kalshiOrders()); n != 1 {
		t.Fatalf("a halted bot sent %d orders", n-1)
	}
	if n := len(r.intents(lt.id)); n != 1 {
		t.Fatalf("a halted bot persisted %d intents", n-1)
	}
	n, err := m.CancelOpenOrders(r.ctx, lt.id)
	if err != nil || n != 1 {
		t.Fatalf("cancel while halted: %d, %v", n, err)
	}
	if st, err := x.Order(r.ctx, rest.ID); err != nil || st.State != polybot.OrderCancelled {
		t.Fatalf("at the venue: %+v %v", st, err)
	}
	if in := r.intentsByLeg(lt.id)[0]; in.State != polybot.IntentCancelled {
		t.Fatalf("intent %+v", in)
	}
}

func TestUnknownLegResolvedLaterIsRepairedByUnwinding(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	m := r.startLive(Config{OrderTimeout: 300 * time.Millisecond, ReconcileEvery: 50 * time.Millisecond})
	r.waitRunning(lt.id)
	// The Kalshi leg is accepted (and fills) but its answer is lost, and the
	// venue cannot be asked at once either: the second leg is not sent.
	r.ksim.Faults().Add(fault.Rule{Kind: fault.TimeoutAfterAccept, Method: http.MethodPost, Path: kalshiOrderRE, Times: 1})
	r.ksim.Faults().Add(fault.Rule{Kind: fault.Status, Status: http.StatusServiceUnavailable, Method: http.MethodGet,
		Path: "/portfolio/orders", Times: 4})
	r.crossBooks("10")

	eventually(t, "the resolved leg is unwound", func() bool {
		u := r.intentsByLeg(lt.id)[unwindLeg]
		return u != nil && finalState(u.State)
	})
	legs := r.intentsByLeg(lt.id)
	if k := legs[0]; k.State != polybot.IntentFilled || k.Filled != d("10") {
		t.Fatalf("kalshi leg %+v, want resolved as filled", k)
	}
	if p := legs[1]; p.State != polybot.IntentCancelled || !strings.Contains(p.Error, "unknown") {
		t.Fatalf("polymarket leg %+v, want never sent", p)
	}
	if u := legs[unwindLeg]; u.Side != polybot.Sell || u.Filled != d("10") || u.State != polybot.IntentFilled {
		t.Fatalf("unwind %+v", u)
	}
	orders := r.kalshiOrders()
	if len(orders) != 2 || orders[0].body.ClientOrderID != legs[0].ID || orders[1].body.ClientOrderID != legs[unwindLeg].ID {
		t.Fatalf("kalshi orders %+v: the leg once, then its unwind", orders)
	}
	if pos := r.psim.Wallet(lt.wallet.Address()).Positions[pmNoTok]; !pos.IsZero() {
		t.Fatalf("the unsent Polymarket leg traded: %s", pos)
	}
	if st := m.Status(context.Background(), lt.id); st.Counters.Unwinds != 1 || st.State != polybot.BotRunning {
		t.Fatalf("status %+v", st)
	}
}

func TestStartReconcilesAnOrderThatFilledBeforeACrash(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	if err := r.ksim.SetBook(fedTicker, nil, []polybot.Level{lv("0.55", "10")}); err != nil {
		t.Fatal(err)
	}
	// The intent was persisted and its order filled, then the process died
	// before recording anything.
	in := &polybot.Intent{ID: polybot.IntentID(lt.id, "before-the-crash", 0, 0), OpportunityID: "before-the-crash",
		Strategy: polybot.StrategyCrossPlatform, Mode: polybot.Live, Instrument: kYes, Side: polybot.Buy, Price: d("0.45"),
		Size: d("5"), TIF: polybot.FOK}
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error { return polybot.SubmitIntent(tx, in, nil) })
	x, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: r.kURLs.REST, KeyID: lt.kalshiID, PrivateKeyPEM: pkcs1(testRSAKeys(t)[1])})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := x.PlaceOrder(r.ctx, polybot.OrderRequest{ClientOrderID: in.ID, Instrument: kYes, Side: polybot.Buy,
		Price: d("0.45"), Size: d("5"), TIF: polybot.FOK}); err != nil || st.State != polybot.OrderFilled {
		t.Fatalf("%+v %v", st, err)
	}
	r.startLive(Config{})
	eventually(t, "the intent is reconciled as filled", func() bool {
		got := r.intentsByLeg(lt.id)[0]
		return got.State == polybot.IntentFilled && got.Filled == d("5")
	})
	fills := r.fills(lt.id)
	if len(fills) != 1 || fills[0].ClientOrderID != in.ID || fills[0].Size != d("5") || fills[0].Fee.IsZero() {
		t.Fatalf("fills %+v", fills)
	}
	if n := len(r.kalshiOrders()); n != 1 {
		t.Fatalf("%d orders reached the venue: reconciliation must never resend", n)
	}
	var h *polybot.Holding
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { h, err = tx.Holding(kYes, polybot.Live); return })
	if h.Size != d("5") {
		t.Fatalf("holding %+v, want the venue's 5", h)
	}
}

func TestReloadSwitchesDryRunToLiveWithoutARestart(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(func(c *polybot.Config) { c.DryRun = true })
	m := r.startLive(Config{})
	r.waitRunning(lt.id)
	r.crossBooks("10")
	eventually(t, "dry-run fills", func() bool { return len(r.fills(lt.id)) == 2 })
	if n := len(r.kalshiOrders()); n != 0 {
		t.Fatalf("dry-run sent %d orders to the venue", n)
	}
	started := m.Status(context.Background(), lt.id).StartedAt
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		c.DryRun = false
		return tx.UpdateConfig(c)
	})
	if err := m.Reload(r.ctx, lt.id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the bot trades live", func() bool { return m.Status(context.Background(), lt.id).Mode == polybot.Live })
	r.waitRunning(lt.id)
	r.crossBooks("9")
	eventually(t, "a live order reaches the venue", func() bool { return len(r.kalshiOrders()) == 1 })
	eventually(t, "live fills", func() bool { return len(r.fills(lt.id)) == 4 })
	st := m.Status(context.Background(), lt.id)
	if st.Counters.Restarts != 0 || st.StartedAt == nil || !st.StartedAt.Equal(*started) {
		t.Fatalf("status %+v: the switch must not restart the bot", st)
	}
}

// unwinds lists the tenant's unwind intents and the size they filled.
func (r *liveRig) unwinds(id polybot.ID) ([]*polybot.Intent, polybot.Decimal) {
	var out []*polybot.Intent
	sum := polybot.Zero
	for _, in := range r.intents(id) {
		if in.Leg >= unwindLeg {
			out = append(out, in)
			sum = sum.Add(in.Filled)
		}
	}
	return out, sum
}

func TestAPartialUnwindIsRetriedAtTheNextBidUntilFlat(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	m := r.startLive(Config{})
	r.waitRunning(lt.id)
	// The YES bids behind the Kalshi leg are thin: 4 at 0.40, 3 at 0.39, 5 at
	// 0.38. The first leg buys 10 YES at 0.45; Polymarket refuses the second.
	if err := r.ksim.SetBook(fedTicker, []polybot.Level{lv("0.40", "4"), lv("0.39", "3"), lv("0.38", "5")},
		[]polybot.Level{lv("0.55", "10")}); err != nil {
		t.Fatal(err)
	}
	r.psim.Faults().FailNext("POST", "/order", 1, http.StatusBadRequest)
	r.pmAsks(pmFedNo, lv("0.52", "100"))
	r.pmAsks(pmFedYes, lv("0.60", "100"))

	eventually(t, "the Kalshi leg is flat again", func() bool {
		_, sum := r.unwinds(lt.id)
		return sum == d("10")
	})
	uw, _ := r.unwinds(lt.id)
	if len(uw) < 3 {
		t.Fatalf("%d unwind orders, want at least 3 (4 at 0.40, 3 at 0.39, 3 at 0.38): %+v", len(uw), uw)
	}
	ids := map[string]bool{}
	for _, u := range uw {
		if u.Side != polybot.Sell || u.TIF != polybot.FAK || ids[u.ID] {
			t.Fatalf("unwind %+v: each try a new FAK sell", u)
		}
		ids[u.ID] = true
	}
	var h *polybot.Holding
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { h, err = tx.Holding(kYes, polybot.Live); return })
	if !h.Size.IsZero() {
		t.Fatalf("holding after the unwind %+v: want flat", h)
	}
	if st := m.Status(context.Background(), lt.id); st.State != polybot.BotRunning {
		t.Fatalf("status %+v: a completed unwind leaves the bot running", st)
	}
}

func TestAnUnwindThatCannotGetFlatLeavesTheBotReducingOnlyAndSaysWhy(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	addNotifyDestination(t, r.rig, lt.id)
	m := r.startLive(Config{})
	r.waitRunning(lt.id)
	// Only 4 YES are bid for: 6 of the 10 bought cannot be sold back.
	if err := r.ksim.SetBook(fedTicker, []polybot.Level{lv("0.40", "4")}, []polybot.Level{lv("0.55", "10")}); err != nil {
		t.Fatal(err)
	}
	r.psim.Faults().FailNext("POST", "/order", 1, http.StatusBadRequest)
	r.pmAsks(pmFedNo, lv("0.52", "100"))
	r.pmAsks(pmFedYes, lv("0.60", "100"))

	eventually(t, "the bot goes reducing-only", func() bool { return m.Status(context.Background(), lt.id).State == polybot.BotHalted })
	st := m.Status(context.Background(), lt.id)
	if !strings.Contains(st.Reason, "reducing-only") || !strings.Contains(st.Reason, "unwind did not complete") || !strings.Contains(st.Reason, "6.00 Kalshi "+fedTicker+" YES") {
		t.Fatalf("reason %q: say reducing-only, why, and what is unhedged", st.Reason)
	}
	var halt string
	r.tenantView(lt.id, func(tx polybot.TenantTx) (err error) { halt, err = tx.HaltState(); return })
	if halt != polybot.HaltReducingOnly {
		t.Fatalf("stored halt state %q, want reducing_only", halt)
	}
	if _, sum := r.unwinds(lt.id); sum != d("4") {
		t.Fatalf("unwound %s, want the 4 that were bid for", sum)
	}
	// With the reducing-only switch, the failed unwind and the naked
	// position were queued for the user's notifications.
	queued := queuedNotifications(t, r.rig, lt.id)
	if !strings.Contains(queued[polybot.NotifyUnwindFailed], "6.00 Kalshi "+fedTicker+" YES") || !strings.Contains(queued[polybot.NotifyNakedPosition], "6.00 Kalshi "+fedTicker+" YES") {
		t.Fatalf("queued notifications %v: want the failed unwind and the naked position, naming what is unhedged", queued)
	}
	// Setting trading back to active clears it.
	r.tenantTx(lt.id, func(tx polybot.TenantTx) error { return tx.SetHaltState(polybot.HaltActive) })
	if err := m.Reload(r.ctx, lt.id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "running again", func() bool { return m.Status(context.Background(), lt.id).State == polybot.BotRunning })
}

func TestALegWhoseOrderNeverReachedTheVenueIsClosedWithinSecondsAndItsPartnerUnwound(t *testing.T) {
	r := newLiveRig(t)
	lt := r.liveUser(nil)
	m := r.startLive(Config{}) // the default UnknownGrace and ReconcileEvery
	r.waitRunning(lt.id)
	// The Polymarket leg's POST fails with a 503: its outcome is unknown,
	// and the venue never got it, so every query answers "no such order".
	r.psim.Faults().FailNext("POST", "/order", 1, http.StatusServiceUnavailable)
	r.crossBooks("10")
	began := time.Now()
	eventually(t, "the Kalshi leg is unwound", func() bool {
		_, sum := r.unwinds(lt.id)
		return sum == d("10")
	})
	took := time.Since(began)
	legs := r.intentsByLeg(lt.id)
	if p := legs[1]; p.Instrument != pmFedNo || p.State != polybot.IntentRejected || !strings.Contains(p.Error, "no such order") {
		t.Fatalf("polymarket leg %+v, want closed as never placed", p)
	}
	if took > 10*time.Second {
		t.Fatalf("the naked Kalshi leg was unwound after %s, want within seconds", took)
	}
	if pos := r.psim.Wallet(lt.wallet.Address()).Positions[pmNoTok]; !pos.IsZero() {
		t.Fatalf("the Polymarket leg traded after all: %s", pos)
	}
	if st := m.Status(context.Background(), lt.id); st.State != polybot.BotRunning {
		t.Fatalf("status %+v", st)
	}
	t.Logf("naked leg unwound %s after the book update", took.Round(time.Millisecond))
}
