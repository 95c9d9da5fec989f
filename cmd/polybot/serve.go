package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/server"
	"github.com/polybot/polybot/internal/web"
)

func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError(fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", level))
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError(fmt.Sprintf("--log-format: %q is not text or json", format))
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var db dbFlags
	db.register(fs, e)
	addr := fs.String("addr", envOr(e, "POLYBOT_ADDR", "127.0.0.1:8080"), "listen address; 127.0.0.1:0 picks a free port (env POLYBOT_ADDR)")
	logLevel := fs.String("log-level", envOr(e, "POLYBOT_LOG_LEVEL", "info"), "debug, info, warn or error")
	logFormat := fs.String("log-format", envOr(e, "POLYBOT_LOG_FORMAT", "text"), "text or json")
	secure := fs.Bool("secure-cookies", e.getenv("POLYBOT_SECURE_COOKIES") == "1", "mark cookies Secure (set when served over HTTPS)")
	sessionMaxAge := fs.Duration("session-max-age", server.DefaultSessionMaxAge, "a session ends this long after sign-in, however active")
	jwtSecret := fs.String("jwt-secret-file", e.getenv("SUPABASE_JWT_SECRET_FILE"), "file holding the Supabase project's HS256 JWT secret (or env SUPABASE_JWT_SECRET)")
	jwksURL := fs.String("jwks-url", e.getenv("SUPABASE_JWKS_URL"), "Supabase JWKS URL for ES256/RS256 access tokens")
	jwtIssuer := fs.String("jwt-issuer", e.getenv("SUPABASE_JWT_ISSUER"), "required iss of Supabase tokens, e.g. https://<project>.supabase.co/auth/v1")
	jwtAnon := fs.Bool("jwt-allow-anonymous", e.getenv("SUPABASE_JWT_ALLOW_ANONYMOUS") == "1", "accept Supabase anonymous sign-ins (is_anonymous tokens); off by default")
	metricsToken := fs.String("metrics-token", e.getenv("POLYBOT_METRICS_TOKEN"), "bearer token /metrics requires, on either listener (env POLYBOT_METRICS_TOKEN)")
	metricsAddr := fs.String("metrics-addr", e.getenv("POLYBOT_METRICS_ADDR"), "separate listen address serving only GET /metrics, e.g. 127.0.0.1:9090 (env POLYBOT_METRICS_ADDR); without it or --metrics-token, /metrics is refused")
	var proxies []string
	if v := e.getenv("POLYBOT_TRUSTED_PROXIES"); v != "" {
		proxies = strings.Split(v, ",")
	}
	fs.Func("trusted-proxy", "CIDR or address of a reverse proxy whose X-Forwarded-For is believed; repeatable (env POLYBOT_TRUSTED_PROXIES, comma-separated)", func(v string) error {
		proxies = append(proxies, v)
		return nil
	})
	stripeURL := fs.String("stripe-api-url", e.getenv("POLYBOT_STRIPE_API_URL"), "Stripe API base URL, e.g. a local stripe-mock (env POLYBOT_STRIPE_API_URL; default Stripe's)")
	publicURL := fs.String("public-url", e.getenv("POLYBOT_PUBLIC_URL"), "this server's public address: where Stripe sends browsers back, and the links in notifications (env POLYBOT_PUBLIC_URL; default the request's host, or the listen address for notifications)")
	grace := polybot.DefaultBillingGrace
	if v := e.getenv("POLYBOT_BILLING_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usageError("POLYBOT_BILLING_GRACE: " + err.Error())
		}
		grace = d
	}
	fs.DurationVar(&grace, "billing-grace", grace, "how long a failed payment keeps the paid plan before the move to free (env POLYBOT_BILLING_GRACE)")
	var tf tradingFlags
	tf.register(fs, e)
	var nf notifyFlags
	nf.register(fs, e)
	var rf roleFlags
	rf.register(fs, e)
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	nf.publicURL = *publicURL
	db.databaseURL = rf.fenceTransactions(db.databaseURL)
	if *sessionMaxAge < time.Hour {
		return usageError("--session-max-age must be at least 1h")
	}
	log, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	trusted, err := server.ParseTrustedProxies(proxies)
	if err != nil {
		return usageError("--trusted-proxy: " + err.Error())
	}
	clock := polybot.Clock(polybot.SystemClock)

	st, where, err := db.open(ctx, clock, true)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, auditKey, err := db.loadAuditKey(ctx, e, st)
	if err != nil {
		return err
	}
	box := secrets.NewBox(keys, secrets.DefaultCacheSize)
	notifier, err := nf.dispatcher(st, box, clock, log, tf.sim || tf.venues == "sim")
	if err != nil {
		return err
	}
	tf.notify = notifier

	var verifier *auth.Verifier
	secret := e.getenv("SUPABASE_JWT_SECRET")
	if *jwtSecret != "" {
		b, err := os.ReadFile(*jwtSecret)
		if err != nil {
			return fmt.Errorf("--jwt-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret != "" || *jwksURL != "" {
		if *jwtIssuer == "" {
			return usageError("--jwt-issuer is required when Supabase tokens are enabled")
		}
		verifier, err = auth.NewVerifier(auth.VerifierConfig{HS256Secret: []byte(secret), JWKSURL: *jwksURL, Issuer: *jwtIssuer, AllowAnonymous: *jwtAnon, Clock: clock})
		if err != nil {
			return err
		}
		if *jwksURL != "" {
			if err := verifier.Refresh(ctx); err != nil {
				return fmt.Errorf("--jwks-url: %w", err)
			}
		}
	}

	mode, err := tf.mode()
	if err != nil {
		return err
	}
	role, err := rf.check(&db, mode)
	if err != nil {
		return err
	}
	rr := roleRun{role: role, flags: rf}
	if role == engine.RoleWorker {
		// Tenants whose plan has own_process run in `polybot runner`
		// processes of their own (Tier 2).
		if rr.runner, err = runnerCommand(fs, e, &db, &rf); err != nil {
			return err
		}
	}
	if role != engine.RoleAll {
		bus, err := rf.connect(ctx, role)
		if err != nil {
			return err
		}
		defer bus.Close()
		rr.bus = bus
	}
	probeOnly := role == engine.RoleGateway || role == engine.RoleWorker
	ui, err := web.New()
	if err != nil {
		return err
	}
	scfg := server.Config{Store: st, Secrets: box, AuditKey: auditKey, Logger: log, Clock: clock, JWT: verifier, SecureCookies: *secure, MetricsToken: *metricsToken,
		TrustedProxies: trusted, Web: ui, Notify: notifier}
	scfg.SessionMaxAge = *sessionMaxAge
	billingLine, err := wireBilling(e, &scfg, *stripeURL, *publicURL, grace, log)
	if err != nil {
		return err
	}
	var demoLine string
	var simNewsHook func(url string) error // sim: point the simulator's news poster at our webhook, once listening
	if mode != "off" {
		tr, err := startTrading(ctx, e, mode, &tf, &db, st, box, clock, log, rr)
		if err != nil {
			return err
		}
		defer tr.close()
		scfg.Bots, scfg.Valuer, scfg.Metrics = tr.manager, tr.manager.Valuer(), tr.metrics
		notifier.SetValuer(tr.manager.Valuer())
		scfg.CheckCredentials = tr.checkCredentials(st, log)
		if tr.news != nil {
			scfg.NewsIntake = tr.news
		} else if tr.apiNews != nil {
			scfg.NewsIntake = tr.apiNews
		}
		if mode == "sim" {
			scfg.Sim, scfg.SimulatorKeys = true, tr.simulatorKeys
			demo, pw, err := ensureDemoUser(ctx, st, tf.demoEmail)
			if err != nil {
				return fmt.Errorf("demo user: %w", err)
			}
			for _, w := range tr.sims.wallets {
				if err := seedSimLeader(ctx, st, demo, w); err != nil {
					return fmt.Errorf("demo user's leader: %w", err)
				}
			}
			if tr.sims.news != nil {
				hookID, secret, err := seedSimNews(ctx, st, box, demo, tr.sims.newsURL)
				if err != nil {
					return fmt.Errorf("demo user's news: %w", err)
				}
				simNewsHook = func(url string) error { return postSimNews(tr.sims.news, url, hookID, secret) }
			}
			if err := tr.manager.Start(ctx, demo); err != nil {
				return fmt.Errorf("demo user's bot: %w", err)
			}
			if err := tr.manager.Reload(ctx, demo); err != nil { // the news rule seeded above, if the bot ran already
				return fmt.Errorf("demo user's bot: %w", err)
			}
			if pw != "" {
				demoLine = fmt.Sprintf("Demo user: %s  password: %s  (shown once)", tf.demoEmail, pw)
			} else {
				demoLine = fmt.Sprintf("Demo user: %s (password shown on first start)", tf.demoEmail)
			}
			tr.sims.print(e.stdout)
		}
	}
	srv := server.New(scfg)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", *addr, err)
	}
	// Every request's context derives from base, which shutdown cancels
	// first: long-lived responses (the SSE streams of open dashboards) end
	// at once instead of holding Shutdown for its whole timeout.
	base, stopRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRequests()
	var handler http.Handler = srv
	if probeOnly {
		handler = srv.ProbeHandler() // the API and UI are the api nodes'
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return base }}
	url := "http://" + ln.Addr().String()
	log.Info("polybot serving", "url", url, "store", where, "master_key", keys.ID(), "role", role)
	fmt.Fprintf(e.stdout, "PolyBot is listening on %s\n", url)
	if demoLine != "" {
		fmt.Fprintln(e.stdout, demoLine)
	}
	fmt.Fprintln(e.stdout, billingLine)
	if scfg.Billing != nil && !probeOnly {
		go srv.RunBillingSweep(base, time.Minute)
	}

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if nf.publicURL == "" {
		notifier.SetBaseURL(url)
	}
	notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	notifyDone := make(chan struct{})
	runNotify := notifyRun(role, notifier)
	go func() { _ = runNotify(notifyCtx); close(notifyDone) }()
	defer func() { stopNotify(); <-notifyDone }()
	if simNewsHook != nil {
		if err := simNewsHook(url); err != nil {
			hs.Close()
			return fmt.Errorf("sim news webhook: %w", err)
		}
	}
	var ms *http.Server
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			hs.Close()
			return fmt.Errorf("--metrics-addr %s: %w", *metricsAddr, err)
		}
		ms = &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() {
			if err := ms.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
		log.Info("metrics serving", "url", "http://"+mln.Addr().String()+"/metrics")
		fmt.Fprintf(e.stdout, "Metrics are on http://%s/metrics\n", mln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopRequests()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ms != nil {
		_ = ms.Shutdown(shutdownCtx)
	}
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("polybot stopped")
	return nil
}
