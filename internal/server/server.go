// Package server is PolyBot's HTTP API: the route table, handlers, the
// authentication and CSRF middleware, error rendering and the OpenAPI
// document. Handlers return errors; one function maps polybot error codes to
// HTTP statuses.
//
// It talks to storage only through polybot.Store and to key material only
// through the secrets package; it must not import a database driver.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/web"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// Defaults of Config.
const (
	DefaultSessionMaxAge = 30 * 24 * time.Hour
	DefaultMaxAPITokens  = 20
)

// Config wires a Server.
type Config struct {
	Store   polybot.Store
	Secrets *secrets.Box
	// AuditKey is the key the store seals audit entries with (see
	// secrets.LoadAuditKey): the admin's verify checks MACs with it, and
	// tenants' audit trails page with cursors it seals.
	AuditKey secrets.AuditKey
	Logger   *slog.Logger
	Clock    polybot.Clock

	// Passwords are hashed with these argon2id parameters.
	Password auth.Params
	// Limiter throttles logins; nil means a default limiter.
	Limiter *auth.LoginLimiter
	// JWT verifies Supabase-issued access tokens; nil disables them.
	JWT *auth.Verifier
	// SecureCookies sets the Secure flag (serve over HTTPS).
	SecureCookies bool
	// SessionTTL is how long an idle session lives.
	SessionTTL time.Duration
	// SessionMaxAge is how long any session lives, however active: at most
	// this long after sign-in it ends (default 30 days).
	SessionMaxAge time.Duration

	// SignupRate and LoginRate limit sign-ups and login attempts per client
	// IP; TenantRate limits each tenant's authenticated API requests (429
	// with Retry-After). Zero: the defaults; Burst < 0: no limit.
	SignupRate, LoginRate, TenantRate Rate
	// MaxLimiterKeys bounds the IPs (and tenants) each limiter remembers;
	// the least recently seen is forgotten first. Zero: 10,000.
	MaxLimiterKeys int
	// MaxAPITokens caps a user's unexpired API tokens (default 20).
	MaxAPITokens int

	// Bots runs tenants' bots; nil serves the bot routes as unavailable.
	Bots polybot.BotManager
	// Valuer prices holdings as the risk gate does (last good marks, exit
	// fees, complete sets); nil values every holding at cost.
	Valuer polybot.Valuer
	// Metrics is registered in the server's metrics registry (the engine's
	// collector); nil adds nothing.
	Metrics prometheus.Collector
	// CheckCredentials asks the venue whether decrypted credentials work
	// (an authenticated call that changes nothing). Nil: format checks only.
	CheckCredentials func(ctx context.Context, tenant polybot.ID, platform polybot.Platform, paper bool, creds secrets.Plaintext, extra json.RawMessage) error
	// MetricsToken, when set, is the bearer token /metrics requires. When
	// empty, /metrics on this handler refuses everyone (loopback included:
	// a reverse proxy on the same host makes every client loopback); serve
	// MetricsHandler on a separate, private listener instead.
	MetricsToken string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; from any other peer the socket address is the client.
	TrustedProxies []netip.Prefix

	// Sim marks a server whose venues are the built-in simulators (serve
	// --sim): every page says that no real money is at stake.
	Sim bool
	// SimulatorKeys makes fresh credentials for platform that the running
	// simulators accept (a Kalshi key pair registered with the simulator, a
	// Polymarket wallet and its derived L2 credentials). Nil outside --sim,
	// where POST /api/v1/secrets/{platform}/simulator answers 404.
	SimulatorKeys func(ctx context.Context, platform polybot.Platform) (map[string]string, error)

	// Web renders the browser UI; nil serves the API only (the page
	// routes are not mounted).
	Web *web.UI

	// NewsIntake checks and parses signed webhook deliveries (POST
	// /api/v1/news/hooks/{id}) and hands their headlines on; nil answers
	// deliveries as unavailable. HookRate limits deliveries per client
	// address (zero: DefaultHookRate).
	NewsIntake NewsIntake
	HookRate   Rate

	// Billing is the payment provider (internal/stripe); nil: billing is
	// off, the billing routes answer 503 and the plan page says so.
	// BillingGrace is how long a failed payment keeps the paid plan
	// (zero: polybot.DefaultBillingGrace). PublicURL, when set, is the
	// address the provider sends browsers back to (default: the request's).
	Billing      polybot.BillingProvider
	BillingGrace time.Duration
	PublicURL    string
	// Notify manages notification destinations and deliveries; nil
	// answers those routes as unavailable.
	Notify Notifier
}

// Server serves the API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     polybot.Clock
	handler http.Handler
	metrics *serverMetrics

	signupLim, loginLim, tenantLim, hookLim *keyedLimiter
	hookReplays                             *replayGuard
	settleLocks                             sync.Map // polybot.ID → *sync.Mutex (billing.go)
}

// New builds a Server and its route table.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = polybot.SystemClock
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 14 * 24 * time.Hour
	}
	if cfg.SessionMaxAge == 0 {
		cfg.SessionMaxAge = DefaultSessionMaxAge
	}
	if cfg.BillingGrace == 0 {
		cfg.BillingGrace = polybot.DefaultBillingGrace
	}
	if cfg.MaxAPITokens == 0 {
		cfg.MaxAPITokens = DefaultMaxAPITokens
	}
	cfg.SignupRate = cfg.SignupRate.orDefault(DefaultSignupRate)
	cfg.LoginRate = cfg.LoginRate.orDefault(DefaultLoginRate)
	cfg.TenantRate = cfg.TenantRate.orDefault(DefaultTenantRate)
	cfg.HookRate = cfg.HookRate.orDefault(DefaultHookRate)
	if cfg.Limiter == nil {
		cfg.Limiter = auth.NewLoginLimiter(auth.LimiterConfig{Clock: cfg.Clock})
	}
	if cfg.Password == (auth.Params{}) {
		cfg.Password = auth.DefaultParams
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Clock,
		signupLim:   newKeyedLimiter(cfg.SignupRate, cfg.MaxLimiterKeys, cfg.Clock),
		loginLim:    newKeyedLimiter(cfg.LoginRate, cfg.MaxLimiterKeys, cfg.Clock),
		tenantLim:   newKeyedLimiter(cfg.TenantRate, cfg.MaxLimiterKeys, cfg.Clock),
		hookLim:     newKeyedLimiter(cfg.HookRate, cfg.MaxLimiterKeys, cfg.Clock),
		hookReplays: newReplayGuard(maxRememberedDeliveries)}
	s.metrics = newServerMetrics(&s.cfg)
	s.handler = s.middleware(s.routes())
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route is one row of the route table; the OpenAPI test checks the document
// against it.
type route struct {
	pattern string // "METHOD /path"
	h       handlerFunc
	access  access
}

type access int

const (
	public access = iota
	user
	admin
	// Pages (see pages.go) are mounted only when Config.Web is set. They
	// authenticate by session cookie only, answer in HTML, and send a
	// signed-out browser to /login.
	pageUser   // a signed-in user's page
	pageAdmin  // an admin's page: 403 for others
	pagePublic // anyone's page (login, sign-up); a valid session is resolved
	asset      // a static file: no identity at all
)

// isPage reports whether a route belongs to the web UI rather than the API.
func (a access) isPage() bool { return a >= pageUser }

type handlerFunc func(w http.ResponseWriter, r *http.Request, id *identity) error

// routeTable is the whole API, in one place.
func (s *Server) routeTable() []route {
	return []route{
		{"GET /healthz", s.handleHealthz, public},
		{"GET /readyz", s.handleReadyz, public},
		{"GET /api/v1/openapi.json", s.handleOpenAPI, public},
		{"GET /api/v1/tiers", s.handleTiers, public},

		{"POST /api/v1/auth/signup", s.handleSignup, public},
		{"POST /api/v1/auth/login", s.handleLogin, public},
		{"POST /api/v1/auth/logout", s.handleLogout, user},
		{"GET /api/v1/auth/session", s.handleSession, user},
		{"PUT /api/v1/auth/password", s.handleChangePassword, user},
		{"GET /api/v1/auth/sessions", s.handleListSessions, user},
		{"DELETE /api/v1/auth/sessions", s.handleSignOutEverywhere, user},
		{"DELETE /api/v1/auth/sessions/{id}", s.handleRevokeSession, user},

		{"GET /api/v1/tokens", s.handleListTokens, user},
		{"POST /api/v1/tokens", s.handleCreateToken, user},
		{"DELETE /api/v1/tokens/{id}", s.handleDeleteToken, user},

		{"GET /api/v1/profile", s.handleGetProfile, user},
		{"PATCH /api/v1/profile", s.handlePatchProfile, user},

		{"GET /api/v1/config", s.handleGetConfig, user},
		{"PUT /api/v1/config", s.handlePutConfig, user},

		{"GET /api/v1/secrets", s.handleListSecrets, user},
		{"POST /api/v1/secrets", s.handlePutSecret, user},
		{"DELETE /api/v1/secrets/{platform}", s.handleDeleteSecret, user},
		{"POST /api/v1/secrets/{platform}/validate", s.handleValidateSecret, user},
		{"POST /api/v1/secrets/{platform}/simulator", s.handleSimulatorSecret, user},

		{"GET /api/v1/audit", s.handleAudit, user},

		{"GET /api/v1/bot", s.handleBotStatus, user},
		{"POST /api/v1/bot/start", s.handleBotStart, user},
		{"POST /api/v1/bot/stop", s.handleBotStop, user},
		{"PUT /api/v1/bot/halt", s.handleBotHalt, user},
		{"GET /api/v1/trades", s.handleTrades, user},
		{"GET /api/v1/orders", s.handleOrders, user},
		{"GET /api/v1/positions", s.handlePositions, user},
		{"GET /api/v1/pnl", s.handlePnL, user},
		{"GET /api/v1/opportunities", s.handleOpportunities, user},
		{"GET /api/v1/events", s.handleEvents, user},
		{"GET /api/v1/market-pairs", s.handleMarketPairs, user},

		{"GET /api/v1/notifications/destinations", s.handleNotifyDestinations, user},
		{"POST /api/v1/notifications/destinations", s.handleCreateNotifyDestination, user},
		{"PATCH /api/v1/notifications/destinations/{id}", s.handleUpdateNotifyDestination, user},
		{"DELETE /api/v1/notifications/destinations/{id}", s.handleDeleteNotifyDestination, user},
		{"POST /api/v1/notifications/destinations/{id}/test", s.handleTestNotifyDestination, user},
		{"POST /api/v1/notifications/destinations/{id}/verify", s.handleVerifyNotifyDestination, user},
		{"POST /api/v1/notifications/destinations/{id}/rotate-secret", s.handleRotateNotifySecret, user},
		{"GET /api/v1/notifications/deliveries", s.handleNotifyDeliveries, user},
		{"POST /api/v1/notifications/deliveries/{id}/redeliver", s.handleRedeliver, user},
		{"POST /api/v1/notifications/summary", s.handleSummaryNow, user},

		{"GET /api/v1/news/rules", s.handleNewsRules, user},
		{"POST /api/v1/news/rules", s.handleCreateNewsRule, user},
		{"POST /api/v1/news/rules/test", s.handleTestNewsRule, user},
		{"GET /api/v1/news/rules/{id}", s.handleNewsRule, user},
		{"PUT /api/v1/news/rules/{id}", s.handlePutNewsRule, user},
		{"DELETE /api/v1/news/rules/{id}", s.handleDeleteNewsRule, user},
		{"POST /api/v1/news/rules/{id}/test", s.handleTestSavedNewsRule, user},
		{"GET /api/v1/news/headlines", s.handleHeadlines, user},
		{"GET /api/v1/news/fires", s.handleNewsFires, user},
		{"GET /api/v1/news/feeds", s.handleNewsFeeds, user},
		{"POST /api/v1/news/feeds", s.handleCreateNewsFeed, user},
		{"DELETE /api/v1/news/feeds/{id}", s.handleDeleteNewsFeed, user},
		{"GET /api/v1/news/hooks", s.handleNewsHooks, user},
		{"POST /api/v1/news/hooks", s.handleCreateNewsHook, user},
		{"DELETE /api/v1/news/hooks/{id}", s.handleDeleteNewsHook, user},
		{"POST /api/v1/news/hooks/{id}", s.handleNewsHookDelivery, public},
		{"GET /api/v1/copy/leaders", s.handleLeaders, user},
		{"POST /api/v1/copy/leaders", s.handleCreateLeader, user},
		{"GET /api/v1/copy/leaders/{id}", s.handleLeader, user},
		{"PUT /api/v1/copy/leaders/{id}", s.handlePutLeader, user},
		{"DELETE /api/v1/copy/leaders/{id}", s.handleDeleteLeader, user},
		{"GET /api/v1/copy/leaders/{id}/copies", s.handleLeaderCopies, user},
		{"GET /api/v1/copy/leaders/{id}/pnl", s.handleLeaderPnL, user},

		{"GET /api/v1/billing", s.handleBilling, user},
		{"POST /api/v1/billing/preview", s.handleBillingPreview, user},
		{"POST /api/v1/billing/change", s.handleBillingChange, user},
		{"POST /api/v1/billing/portal", s.handleBillingPortal, user},
		{"POST /api/v1/billing/webhook", s.handleBillingWebhook, public},
		{"GET /api/v1/admin/billing/prices", s.handleAdminBillingPrices, admin},
		{"PUT /api/v1/admin/billing/prices/{tier}", s.handleAdminPutBillingPrice, admin},

		{"GET /api/v1/admin/users", s.handleAdminUsers, admin},
		{"PUT /api/v1/admin/users/{id}/tier", s.handleAdminSetTier, admin},
		{"PUT /api/v1/admin/users/{id}/role", s.handleAdminSetRole, admin},
		{"PUT /api/v1/admin/users/{id}/disabled", s.handleAdminSetDisabled, admin},
		{"GET /api/v1/admin/tiers", s.handleTiers, admin},
		{"PUT /api/v1/admin/tiers/{name}", s.handleAdminPutTier, admin},
		{"GET /api/v1/admin/audit/verify", s.handleAdminAuditVerify, admin},
		{"GET /api/v1/admin/halt", s.handleAdminGetGlobalHalt, admin},
		{"PUT /api/v1/admin/halt", s.handleAdminGlobalHalt, admin},
		{"PUT /api/v1/admin/users/{id}/halt", s.handleAdminUserHalt, admin},
		{"PUT /api/v1/admin/market-pairs/{id}", s.handleAdminPutMarketPair, admin},
		{"DELETE /api/v1/admin/market-pairs/{id}", s.handleAdminDeleteMarketPair, admin},
		{"GET /api/v1/admin/outcome-sets", s.handleAdminOutcomeSets, admin},
		{"GET /api/v1/admin/outcome-sets/{id}", s.handleAdminOutcomeSet, admin},
		{"PUT /api/v1/admin/outcome-sets/{id}", s.handleAdminPutOutcomeSet, admin},
		{"DELETE /api/v1/admin/outcome-sets/{id}", s.handleAdminDeleteOutcomeSet, admin},
		{"GET /api/v1/admin/relations", s.handleAdminRelations, admin},
		{"GET /api/v1/admin/relations/{id}", s.handleAdminRelation, admin},
		{"PUT /api/v1/admin/relations/{id}", s.handleAdminPutRelation, admin},
		{"DELETE /api/v1/admin/relations/{id}", s.handleAdminDeleteRelation, admin},
		{"GET /api/v1/admin/news/feeds", s.handleAdminNewsFeeds, admin},
		{"PUT /api/v1/admin/news/feeds/{id}", s.handleAdminPutNewsFeed, admin},
		{"DELETE /api/v1/admin/news/feeds/{id}", s.handleAdminDeleteNewsFeed, admin},
		{"POST /reload/{user}", s.handleAdminReload, admin},
		{"GET /metrics", s.handleMetrics, public},

		// The seed's routes, kept as aliases.
		{"GET /api/user/config", s.handleGetConfig, user},
		{"PUT /api/user/config", s.handlePutConfig, user},
		{"GET /api/user/secrets", s.handleListSecrets, user},
		{"POST /api/user/secrets", s.handlePutSecret, user},

		// The web UI (pages.go): pages read through the same store and
		// their script writes through the API above.
		{"GET /{$}", s.pageHome, pagePublic},
		{"GET /login", s.pageLogin, pagePublic},
		{"GET /signup", s.pageSignup, pagePublic},
		{"POST /logout", s.pageLogout, pageUser},
		{"GET /onboarding", s.pageOnboarding, pageUser},
		{"GET /dashboard", s.pageDashboard, pageUser},
		{"GET /orders", s.pageOrders, pageUser},
		{"GET /trades", s.pageTrades, pageUser},
		{"GET /news", s.pageNews, pageUser},
		{"GET /notifications", s.pageNotifications, pageUser},
		{"GET /notifications/confirm", s.pageNotifyConfirm, pageUser},
		{"GET /copy", s.pageCopy, pageUser},
		{"GET /keys", s.pageKeys, pageUser},
		{"GET /tokens", s.pageTokens, pageUser},
		{"GET /config", s.pageConfig, pageUser},
		{"GET /plan", s.pagePlan, pageUser},
		{"GET /account", s.pageAccount, pageUser},
		{"GET /admin", s.pageAdmin, pageAdmin},
		{"GET /static/{file}", s.handleStatic, asset},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		if rt.access.isPage() {
			if s.cfg.Web != nil {
				mux.Handle(rt.pattern, s.pageEndpoint(rt))
			}
			continue
		}
		mux.Handle(rt.pattern, s.endpoint(rt))
	}
	// Unmatched requests get the JSON error shape: 404 for an unknown path,
	// 405 with Allow for a known path and the wrong method.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			s.writeError(w, r, &polybot.Error{Code: codeMethodNotAllowed, Message: "method " + r.Method + " is not allowed here; allowed: " + probe.header.Get("Allow"), Fields: map[string]string{"method": "not allowed"}})
			return
		}
		if s.cfg.Web != nil && wantsPage(r) {
			s.pageError(w, r, nil, polybot.Errorf(polybot.ENOTFOUND, "There is no page at this address."))
			return
		}
		s.writeError(w, r, polybot.Errorf(polybot.ENOTFOUND, "no such route"))
	})
}

// statusProbe records what the mux's own not-found or not-allowed handler
// would have sent.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, _ *identity) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, _ *identity) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "database unavailable", Err: err}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
