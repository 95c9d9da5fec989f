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
	metricsToken := fs.String("metrics-token", e.getenv("POLYBOT_METRICS_TOKEN"), "bearer token /metrics requires (empty: loopback clients only)")
	var tf tradingFlags
	tf.register(fs, e)
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *sessionMaxAge < time.Hour {
		return usageError("--session-max-age must be at least 1h")
	}
	log, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	clock := polybot.Clock(polybot.SystemClock)

	st, where, err := db.open(ctx, clock, true)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := db.keyring(e)
	if err != nil {
		return err
	}
	box := secrets.NewBox(keys, secrets.DefaultCacheSize)

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
		verifier, err = auth.NewVerifier(auth.VerifierConfig{HS256Secret: []byte(secret), JWKSURL: *jwksURL, Issuer: *jwtIssuer, Clock: clock})
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
	ui, err := web.New()
	if err != nil {
		return err
	}
	scfg := server.Config{Store: st, Secrets: box, Logger: log, Clock: clock, JWT: verifier, SecureCookies: *secure, MetricsToken: *metricsToken, Web: ui}
	scfg.SessionMaxAge = *sessionMaxAge
	var demoLine string
	if mode != "off" {
		tr, err := startTrading(ctx, e, mode, &tf, &db, st, box, clock, log)
		if err != nil {
			return err
		}
		defer tr.close()
		scfg.Bots, scfg.Valuer, scfg.Metrics = tr.manager, tr.manager.Valuer(), tr.metrics
		scfg.CheckCredentials = tr.checkCredentials(st, log)
		if mode == "sim" {
			demo, pw, err := ensureDemoUser(ctx, st, tf.demoEmail)
			if err != nil {
				return fmt.Errorf("demo user: %w", err)
			}
			if err := tr.manager.Start(ctx, demo); err != nil {
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
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	url := "http://" + ln.Addr().String()
	log.Info("polybot serving", "url", url, "store", where, "master_key", keys.ID())
	fmt.Fprintf(e.stdout, "PolyBot is listening on %s\n", url)
	if demoLine != "" {
		fmt.Fprintln(e.stdout, demoLine)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("polybot stopped")
	return nil
}
