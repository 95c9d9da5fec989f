package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"golang.org/x/sync/errgroup"
	"log/slog"
	"os"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/process"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/strategy"
	"github.com/polybot/polybot/internal/venue/alpaca"
	"github.com/polybot/polybot/internal/venue/ibkr"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
	alpacasim "github.com/polybot/polybot/internal/venuesim/alpaca"
	ibkrsim "github.com/polybot/polybot/internal/venuesim/ibkr"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
)

// tradingFlags choose where the bots trade: the real venues, the built-in
// simulators, or nowhere (API only).
type tradingFlags struct {
	venues       string // real, sim, off
	pmCLOB       string
	pmMarketWS   string
	pmUserWS     string
	pmGamma      string
	pmData       string
	pmChain      int64
	kalshiREST   string
	kalshiDemo   string
	kalshiWS     string
	sim          bool
	kalshiKeyID  string
	kalshiKeyPEM string
	// The platform's Alpaca market-data key (any Alpaca account's key
	// reads the quote stream) and where the stream is.
	alpacaKeyID     string
	alpacaSecret    string
	alpacaStreamURL string
	alpacaDataURL   string
	// ibkrAllowPrivate lets a tenant's IBKR gateway be a private address.
	ibkrAllowPrivate bool
	alpacaFeed       string
	demoEmail        string
	sims             simFlags
	notify           polybot.NotifyHook // set by serve (not a flag): notifications of opportunities and refusals
}

func (f *tradingFlags) register(fs *flag.FlagSet, e *env) {
	f.sims.register(fs)
	fs.StringVar(&f.venues, "venues", envOr(e, "POLYBOT_VENUES", "real"), `where bots trade: "real" (the venues' public endpoints), "sim" (built-in simulators on loopback), or "off" (API only)`)
	fs.BoolVar(&f.sim, "sim", false, `shorthand for --venues sim: start the simulators replaying the Fed Dec 2025 recording, and a demo user`)
	fs.StringVar(&f.kalshiKeyID, "kalshi-md-key-id", e.getenv("POLYBOT_KALSHI_MD_KEY_ID"), "Kalshi API key id for the platform's market-data connection (Kalshi signs WebSocket handshakes)")
	fs.StringVar(&f.kalshiKeyPEM, "kalshi-md-key-file", e.getenv("POLYBOT_KALSHI_MD_KEY_FILE"), "PEM file of that key")
	fs.StringVar(&f.alpacaKeyID, "alpaca-md-key-id", e.getenv("POLYBOT_ALPACA_MD_KEY_ID"), "Alpaca key id for the platform's market-data stream (equity quotes for news rules' equity orders)")
	fs.StringVar(&f.alpacaSecret, "alpaca-md-secret-file", e.getenv("POLYBOT_ALPACA_MD_SECRET_FILE"), "file holding that key's secret")
	fs.StringVar(&f.alpacaStreamURL, "alpaca-stream-url", envOr(e, "POLYBOT_ALPACA_STREAM_URL", alpaca.StreamBaseURL), "Alpaca market-data stream base URL (without the feed)")
	fs.StringVar(&f.alpacaDataURL, "alpaca-data-url", envOr(e, "POLYBOT_ALPACA_DATA_URL", alpaca.DataBaseURL), "Alpaca Market Data API base URL (latest quotes on subscribe)")
	fs.StringVar(&f.alpacaFeed, "alpaca-feed", envOr(e, "POLYBOT_ALPACA_FEED", alpaca.FeedIEX), `Alpaca quote feed: "iex" (every account) or "sip" (a market-data subscription)`)
	fs.StringVar(&f.demoEmail, "demo-email", "demo@polybot.local", "with --sim: the demo user's email")
	def := realVenues()
	fs.StringVar(&f.pmCLOB, "polymarket-clob-url", envOr(e, "POLYBOT_POLYMARKET_CLOB_URL", def.polymarket.CLOBURL), "Polymarket CLOB REST base URL")
	fs.StringVar(&f.pmMarketWS, "polymarket-market-ws-url", envOr(e, "POLYBOT_POLYMARKET_MARKET_WS_URL", def.polymarket.MarketWSURL), "Polymarket market channel URL")
	fs.StringVar(&f.pmUserWS, "polymarket-user-ws-url", envOr(e, "POLYBOT_POLYMARKET_USER_WS_URL", def.polymarket.UserWSURL), "Polymarket user channel URL")
	fs.StringVar(&f.pmGamma, "polymarket-gamma-url", envOr(e, "POLYBOT_POLYMARKET_GAMMA_URL", def.polymarket.GammaURL), "Polymarket Gamma API base URL")
	fs.StringVar(&f.pmData, "polymarket-data-url", envOr(e, "POLYBOT_POLYMARKET_DATA_URL", def.polymarket.DataURL), "Polymarket Data API base URL")
	fs.Int64Var(&f.pmChain, "polymarket-chain-id", def.polymarket.ChainID, "chain orders are signed for: 137 (Polygon) or 80002 (Amoy)")
	fs.StringVar(&f.kalshiREST, "kalshi-url", envOr(e, "POLYBOT_KALSHI_URL", def.kalshiREST), "Kalshi REST base URL for live keys")
	fs.StringVar(&f.kalshiDemo, "kalshi-demo-url", envOr(e, "POLYBOT_KALSHI_DEMO_URL", def.kalshiDemo), "Kalshi REST base URL for paper keys")
	fs.StringVar(&f.kalshiWS, "kalshi-ws-url", envOr(e, "POLYBOT_KALSHI_WS_URL", def.kalshiWS), "Kalshi WebSocket URL")
	fs.BoolVar(&f.ibkrAllowPrivate, "ibkr-allow-private-gateway", e.getenv("POLYBOT_IBKR_ALLOW_PRIVATE_GATEWAY") == "1",
		"let a tenant's IBKR gateway URL be a loopback or private address (a self-hosted PolyBot beside its own Client Portal gateway); "+
			"off, the server calls only public addresses for a tenant")
}

// endpoints are the venue URLs the flags name (mode real).
func (f *tradingFlags) endpoints() venueEndpoints {
	ep := realVenues()
	ep.polymarket.CLOBURL, ep.polymarket.MarketWSURL, ep.polymarket.UserWSURL = f.pmCLOB, f.pmMarketWS, f.pmUserWS
	ep.polymarket.GammaURL, ep.polymarket.DataURL, ep.polymarket.ChainID = f.pmGamma, f.pmData, f.pmChain
	ep.kalshiREST, ep.kalshiDemo, ep.kalshiWS = f.kalshiREST, f.kalshiDemo, f.kalshiWS
	return ep.withIBKRPrivate(f.ibkrAllowPrivate)
}

func (f *tradingFlags) mode() (string, error) {
	if f.sim {
		return "sim", nil
	}
	switch f.venues {
	case "real", "sim", "off":
		return f.venues, nil
	}
	return "", usageError(fmt.Sprintf("--venues %q: want real, sim or off", f.venues))
}

// trading is the running engine and what feeds it.
type trading struct {
	manager *engine.Manager
	metrics *engine.Metrics // the engine's Prometheus collector
	sims    *sims
	venues  venueEndpoints
	news    *newsWiring    // feeds and webhooks → the engine's news rules
	apiNews *apiNewsIntake // --role api: webhooks → the bus → the worker running the tenant
	// kalshiBalance is what a generated simulator Kalshi account starts with.
	kalshiBalance polybot.Decimal

	// The hubs and the manager run under one errgroup with their own
	// context: close cancels it and waits for every runner to finish what
	// it was recording before the caller closes the store.
	cancel context.CancelFunc
	group  *errgroup.Group
}

// checkCredentials validates a tenant's keys with the venue they are for.
func (t *trading) checkCredentials(st polybot.Store, log *slog.Logger) func(context.Context, polybot.ID, polybot.Platform, bool, secrets.Plaintext, json.RawMessage) error {
	return func(ctx context.Context, tenant polybot.ID, platform polybot.Platform, paper bool, creds secrets.Plaintext, extra json.RawMessage) error {
		if platform != polybot.Kalshi && platform != polybot.Polymarket && platform != polybot.Alpaca {
			return nil // no connector yet: the format check is all we can do
		}
		ex, err := t.venues.exchangeFor(ctx, st, tenant, platform, paper, creds, extra, log)
		if err != nil {
			return err
		}
		return ex.ValidateCredentials(ctx)
	}
}

// simulatorKeys makes credentials the running simulators accept, for
// server.Config.SimulatorKeys: a Kalshi RSA key pair registered with the
// Kalshi simulator's accounts (as `polybot sim --kalshi-demo-key` does), or
// a fresh Polymarket wallet with the L2 API credentials the simulator
// derives for it (as the connector does on first use).
func (t *trading) simulatorKeys(ctx context.Context, platform polybot.Platform) (map[string]string, error) {
	if t.sims == nil {
		return nil, polybot.Errorf(polybot.ENOTFOUND, "Simulator keys exist only when PolyBot runs with --sim.")
	}
	switch platform {
	case polybot.Kalshi:
		k, err := kalshisim.NewKey()
		if err != nil {
			return nil, polybot.Internal(err)
		}
		if err := t.sims.kalshi.AddAccount(kalshisim.AccountConfig{KeyID: k.KeyID, PublicKeyPEM: k.PublicKeyPEM, Balance: t.kalshiBalance}); err != nil {
			return nil, polybot.Internal(err)
		}
		return map[string]string{polybot.FieldAPIKey: k.KeyID, polybot.FieldPrivateKey: string(k.PrivateKeyPEM)}, nil
	case polybot.Polymarket:
		b := make([]byte, 32)
		var wallet *eip712.Signer
		for wallet == nil { // a random 32 bytes is out of range about once in 2^128
			rand.Read(b)
			wallet, _ = eip712.NewSignerFromBytes(b)
		}
		key := "0x" + hex.EncodeToString(b)
		clear(b)
		api, err := polymarket.NewClient(t.venues.polymarket).CreateOrDeriveAPIKey(ctx, wallet, 0)
		if err != nil {
			return nil, polybot.Internal(err)
		}
		return map[string]string{polybot.FieldPrivateKey: key, polybot.FieldAPIKey: api.Key, polybot.FieldAPISecret: api.Secret,
			polybot.FieldPassphrase: api.Passphrase}, nil
	case polybot.Alpaca:
		b := make([]byte, 24)
		rand.Read(b)
		id := "PKSIM" + strings.ToUpper(hex.EncodeToString(b[:8]))
		secret := base64.RawURLEncoding.EncodeToString(b[8:])
		if err := t.sims.alpaca.AddAccount(alpacasim.AccountConfig{KeyID: id, Secret: secret, Cash: polybot.NewDecimal(100_000, 0)}); err != nil {
			return nil, polybot.Internal(err)
		}
		return map[string]string{polybot.FieldAPIKey: id, polybot.FieldAPISecret: secret}, nil
	case polybot.IBKR:
		// A paper account on the simulated gateway, which the session may
		// trade; the key is the account id and the gateway's URL.
		b := make([]byte, 4)
		rand.Read(b)
		acct := "DU" + strings.ToUpper(hex.EncodeToString(b))
		if err := t.sims.ibkr.AddAccount(ibkrsim.AccountConfig{ID: acct, Cash: polybot.NewDecimal(100_000, 0)}); err != nil {
			return nil, polybot.Internal(err)
		}
		return map[string]string{polybot.FieldAPIKey: acct, ibkr.FieldGatewayURL: t.sims.ibkrURL}, nil
	}
	return nil, polybot.FieldError("platform", "has no simulator: simulator keys exist for polymarket, kalshi, alpaca and ibkr")
}

// startTrading starts the market-data hubs, the bot manager and, in sim
// mode, the simulators. Everything stops when ctx ends.
// roleRun is the part of the engine a serve process runs and, for a split
// role, its bus.
type roleRun struct {
	role  engine.Role
	bus   polybot.Bus
	flags roleFlags
	// runner, on a worker, starts the own processes of tenants whose plan
	// has own_process (nil: none). only and epoch make this process one
	// such runner (polybot runner).
	runner func(polybot.ID, int64) process.Spec
	only   polybot.ID
	epoch  int64
}

// relayed reports whether the role's books come from the gateway's views.
func (r roleRun) relayed() bool { return r.role == engine.RoleAPI || r.role == engine.RoleWorker }

func startTrading(parent context.Context, e *env, mode string, f *tradingFlags, db *dbFlags, st polybot.Store, box *secrets.Box, clock polybot.Clock, log *slog.Logger, rr roleRun) (_ *trading, err error) {
	ctx, cancel := context.WithCancel(parent)
	g, ctx := errgroup.WithContext(ctx)
	t := &trading{cancel: cancel, group: g}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	ep := f.endpoints()
	var kSigner *kalshi.Signer
	var alpacaMD *alpaca.FeedConfig
	if mode == "sim" {
		// The platform's own Kalshi market-data key, registered with the
		// simulator. The simulator is new on every start, so the key lives
		// in memory only: a second `serve --sim` on the same data directory
		// starts as the first did.
		dk, err := kalshisim.NewKey()
		if err != nil {
			return nil, fmt.Errorf("sim market-data key: %w", err)
		}
		f.sims.kalshiAccounts = nil
		sf := f.sims
		sf.pmAddr, sf.kalshiAddr = "127.0.0.1:0", "127.0.0.1:0"
		s, err := sf.start(ctx, log)
		if err != nil {
			return nil, err
		}
		if err := s.kalshi.AddAccount(kalshisim.AccountConfig{KeyID: dk.KeyID, PublicKeyPEM: dk.PublicKeyPEM}); err != nil {
			s.closeAll()
			return nil, err
		}
		t.sims, ep = s, s.venues()
		t.kalshiBalance, _ = polybot.ParseDecimal(sf.kalshiBalance) // start checked it
		key, err := kalshi.ParsePrivateKey(dk.PrivateKeyPEM)
		if err != nil {
			return nil, err
		}
		kSigner = kalshi.NewSigner(dk.KeyID, key, nil)
		// And its Alpaca market-data key, registered with that simulator.
		b := make([]byte, 24)
		rand.Read(b)
		amd := alpaca.FeedConfig{KeyID: "PKSIMMD" + strings.ToUpper(hex.EncodeToString(b[:6])), SecretKey: base64.RawURLEncoding.EncodeToString(b[6:]),
			BaseURL: s.alpacaURL + "/v2", DataURL: s.alpacaURL, Feed: alpaca.FeedIEX, Logger: log}
		if err := s.alpaca.AddAccount(alpacasim.AccountConfig{KeyID: amd.KeyID, Secret: amd.SecretKey}); err != nil {
			s.closeAll()
			return nil, err
		}
		alpacaMD = &amd
	} else if f.kalshiKeyID != "" && f.kalshiKeyPEM != "" {
		pem, err := os.ReadFile(f.kalshiKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("--kalshi-md-key-file: %w", err)
		}
		key, err := kalshi.ParsePrivateKey(pem)
		if err != nil {
			return nil, fmt.Errorf("--kalshi-md-key-file: %w", err)
		}
		kSigner = kalshi.NewSigner(f.kalshiKeyID, key, nil)
	}
	if mode != "sim" && f.alpacaKeyID != "" && f.alpacaSecret != "" {
		secret, err := os.ReadFile(f.alpacaSecret)
		if err != nil {
			return nil, fmt.Errorf("--alpaca-md-secret-file: %w", err)
		}
		alpacaMD = &alpaca.FeedConfig{KeyID: f.alpacaKeyID, SecretKey: strings.TrimSpace(string(secret)), BaseURL: f.alpacaStreamURL,
			DataURL: f.alpacaDataURL, Feed: f.alpacaFeed, Logger: log}
	}

	hubs := map[polybot.Platform]*marketdata.Hub{}
	var feeds []polybot.MarketFeed
	if rr.relayed() {
		hubs = relayHubs(rr.bus)
		for _, p := range polybot.Platforms {
			h := hubs[p]
			g.Go(func() error {
				if err := h.Run(ctx); err != nil && ctx.Err() == nil {
					log.Error("book relay stopped", "venue", p, "err", err)
				}
				return nil
			})
		}
	} else {
		if feeds, err = venueFeeds(ep, kSigner, alpacaMD, mode, hubs, log); err != nil {
			return nil, err
		}
	}
	for _, fd := range feeds {
		h := hubs[fd.Platform()]
		g.Go(func() error { // runs the feed into the hub
			if err := h.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("market-data hub stopped", "venue", fd.Platform(), "err", err)
			}
			return nil
		})
	}

	if t.sims != nil {
		if err := seedSimRegistry(ctx, st, ep, t.sims.events, log); err != nil {
			return nil, fmt.Errorf("sim registry: %w", err)
		}
		if err := seedSimPairs(ctx, st, log); err != nil {
			return nil, fmt.Errorf("sim registry: %w", err)
		}
	}
	reg, err := readRegistry(ctx, st)
	if err != nil {
		return nil, err
	}
	factory := func(ctx context.Context, tenant polybot.ID, platform polybot.Platform, paper bool, creds secrets.Plaintext, extra json.RawMessage) (polybot.Exchange, error) {
		return ep.exchangeFor(ctx, st, tenant, platform, paper, creds, extra, log)
	}
	// Fees and order facts are the venues' own, read for the universe's
	// markets: detection, paper fills and P&L price with them.
	fees, facts := venueFees(ctx, ep, reg, log)
	det := strategy.New(strategy.Config{Fees: fees, Facts: facts, Now: clock})
	met := engine.NewMetrics(0)
	newsRules, newsFires := engineNewsConfig(st)
	// The bot trades Polymarket, Kalshi and Alpaca, and IBKR where it has
	// books (a gateway session for market data: under --sim).
	venues := []polybot.Platform{polybot.Polymarket, polybot.Kalshi, polybot.Alpaca}
	if ep.ibkrGateway != "" {
		venues = append(venues, polybot.IBKR)
	}
	m, err := engine.New(engine.Config{Store: st, Secrets: box, Hubs: hubs, Venues: venues,
		Universe: engine.Universe{Pairs: reg.Pairs, Sets: reg.Sets, Relations: reg.Relations},
		Strategies: []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform, polybot.StrategyOverlapping, polybot.StrategyNews,
			polybot.StrategyCopy},
		NewsRules: newsRules, NewsFires: newsFires,
		Leaders: dataAPILeaders{polymarket.NewClient(ep.polymarket)}, Copy: copyStore(st),
		Strategy: det, Fees: fees, ExchangeFactory: factory, Clock: clock, Logger: log, Observer: met, Notify: f.notify,
		Role: rr.role, Bus: rr.bus, GatewayID: rr.flags.gatewayID, WorkerID: rr.flags.workerID, Capacity: rr.flags.capacity, LeaseTTL: rr.flags.leaseTTL,
		Runner: rr.runner, Only: rr.only, OnlyEpoch: rr.epoch,
		// A worker's webhook headlines from the api nodes go through its
		// own news pipeline (t.news is set below, before m runs).
		BusHeadline: func(tenant polybot.ID, h polybot.Headline) { t.news.fromHook(tenant, h) }})
	if err != nil {
		return nil, err
	}
	met.Watch(m)
	t.manager, t.metrics, t.venues = m, met, ep
	// News: the store's feeds polled (the simulator's on loopback in sim
	// mode only) and the users' webhooks, into the engine.
	// A gateway and an api node run no news desk: a worker's desk serves
	// its own tenants' rules, and an api node posts the webhooks' headlines
	// on the bus for the worker running the tenant.
	switch rr.role {
	case engine.RoleAll, engine.RoleWorker:
		if t.news, err = startNews(ctx, g.Go, st, m, rr.only, mode == "sim", log); err != nil {
			return nil, fmt.Errorf("news: %w", err)
		}
	case engine.RoleAPI:
		t.apiNews = &apiNewsIntake{st: st, m: m}
	}
	g.Go(func() error {
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("bot manager stopped", "err", err)
			return err
		}
		return nil
	})
	return t, nil
}

// venueFeeds connects the venues' market-data feeds (the platform's own
// keys) and makes a hub for each in hubs.
func venueFeeds(ep venueEndpoints, kSigner *kalshi.Signer, alpacaMD *alpaca.FeedConfig, mode string, hubs map[polybot.Platform]*marketdata.Hub, log *slog.Logger) ([]polybot.MarketFeed, error) {
	pmFeed := polymarket.NewFeed(ep.polymarket, log)
	hubs[polybot.Polymarket] = marketdata.NewHub(pmFeed, marketdata.HubConfig{})
	feeds := []polybot.MarketFeed{pmFeed}
	if kSigner != nil {
		kf, err := kalshi.NewFeed(kalshi.FeedConfig{URL: ep.kalshiWS, Signer: kSigner, Trades: true, Logger: log})
		if err != nil {
			return nil, err
		}
		hubs[polybot.Kalshi] = marketdata.NewHub(kf, marketdata.HubConfig{})
		feeds = append(feeds, kf)
	} else {
		log.Warn("no Kalshi market-data key (--kalshi-md-key-id, --kalshi-md-key-file): Kalshi market data is off")
	}
	if ep.ibkrGateway != "" {
		// IBKR market data needs a gateway session of the platform's own:
		// under --sim, the simulator's. Without one there is no IBKR hub,
		// and nothing trades on ForecastEx.
		ibf, err := ibkr.NewMarketDataFeed(ibkr.Config{GatewayURL: ep.ibkrGateway, Logger: log}, ibkr.FeedConfig{})
		if err != nil {
			return nil, err
		}
		hubs[polybot.IBKR] = marketdata.NewHub(ibf, marketdata.HubConfig{})
		feeds = append(feeds, ibf)
	}
	if alpacaMD != nil {
		af, err := alpaca.NewFeed(*alpacaMD)
		if err != nil {
			return nil, fmt.Errorf("alpaca market data: %w", err)
		}
		hubs[polybot.Alpaca] = marketdata.NewHub(af, marketdata.HubConfig{})
		feeds = append(feeds, af)
	} else if mode != "off" {
		log.Warn("no Alpaca market-data key (--alpaca-md-key-id, --alpaca-md-secret-file): news rules' equity orders have no quotes")
	}
	return feeds, nil
}

// readRegistry reads the matched pairs, outcome sets and relations.
func readRegistry(ctx context.Context, st polybot.Store) (polybot.Hedges, error) {
	var h polybot.Hedges
	err := st.AdminView(ctx, func(tx polybot.AdminTx) (err error) {
		h, err = polybot.LoadHedges(tx)
		return err
	})
	return h, err
}

// close stops the hubs and the manager and waits for them: every runner
// has returned (and recorded what it was recording) when close does, so
// the store can be closed after it. Then the simulators stop.
func (t *trading) close() {
	if t == nil {
		return
	}
	if t.cancel != nil {
		t.cancel()
		_ = t.group.Wait()
	}
	if t.sims != nil {
		t.sims.closeAll()
	}
}

// ensureDemoUser creates the --sim demo user once: pro tier, dry-run,
// single-platform, cross-platform and overlapping arbitrage, Polymarket,
// Kalshi and IBKR (ForecastEx). It returns the password only
// when it created the user (it is printed once and never stored in clear).
func ensureDemoUser(ctx context.Context, st polybot.Store, email string) (id polybot.ID, password string, err error) {
	addr, err := polybot.NormalizeEmail(email)
	if err != nil {
		return polybot.NilID, "", err
	}
	err = st.AdminView(ctx, func(tx polybot.AdminTx) error {
		u, err := tx.UserByEmail(addr)
		if err == nil {
			id = u.ID
		}
		return err
	})
	if err == nil {
		return id, "", nil
	}
	if polybot.ErrorCode(err) != polybot.ENOTFOUND {
		return polybot.NilID, "", err
	}
	b := make([]byte, 12)
	rand.Read(b)
	password = base64.RawURLEncoding.EncodeToString(b)
	hash, err := auth.HashPassword(password, auth.DefaultParams)
	if err != nil {
		return polybot.NilID, "", err
	}
	u := &polybot.User{Email: addr, PasswordHash: hash, Role: polybot.RoleUser}
	err = st.Admin(ctx, func(tx polybot.AdminTx) error {
		if _, err := polybot.CreateAccount(tx, u, "Demo trader", "cli"); err != nil {
			return err
		}
		return tx.SetUserTier(u.ID, polybot.TierPro)
	})
	if err != nil {
		return polybot.NilID, "", err
	}
	err = st.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		c, err := tx.Config()
		if err != nil {
			return err
		}
		next, err := c.ApplyPatch([]byte(`{"dry_run":true,"enable_single_platform_arb":true,"enable_cross_platform_arb":true,"enable_overlapping_arb":true,"enable_copy_trading":true,"enable_polymarket":true,"enable_kalshi":true,"enable_alpaca":true,"enable_ibkr":true,"max_trade_size_usd":"100","min_profit_pct":"0.5"}`), p)
		if err != nil {
			return err
		}
		if err := tx.UpdateConfig(next); err != nil {
			return err
		}
		// Onboarded, so its bot runs (a new account's is off until then).
		return polybot.CompleteOnboarding(tx)
	})
	return u.ID, password, err
}
