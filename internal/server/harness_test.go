package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/server"
	"github.com/polybot/polybot/internal/sqlite"
)

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testEnv is a real server over real HTTP on a real store.
type testEnv struct {
	t     testing.TB
	URL   string
	Store polybot.Store
	Raw   func() []byte
	Logs  *lockedBuffer
	Dir   string
	Keys  *secrets.Keyring
	srv   *httptest.Server
	// Server is the handler under test (for what cmd runs beside it,
	// such as the billing sweep).
	Server *server.Server
	// bodies collects every response body the clients saw.
	bodies *lockedBuffer
}

// storeOpener opens a fresh, migrated store for one test. raw returns
// everything the database holds, as bytes on disk or a dump of every row.
type storeOpener func(t testing.TB, clock polybot.Clock) (st polybot.Store, raw func() []byte)

func openSQLite(t testing.TB, clock polybot.Clock) (polybot.Store, func() []byte) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "polybot.db"), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw := func() []byte {
		var all []byte
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	return db, raw
}

func newEnv(t testing.TB, open storeOpener) *testEnv {
	t.Helper()
	return newEnvWith(t, open, nil)
}

// newEnvWith is newEnv with a hook to adjust the server's config.
func newEnvWith(t testing.TB, open storeOpener, adjust func(*server.Config)) *testEnv {
	t.Helper()
	return newEnvAt(t, open, polybot.SystemClock, adjust)
}

// newEnvAt is newEnvWith on a store and server that read clock.
func newEnvAt(t testing.TB, open storeOpener, clock polybot.Clock, adjust func(*server.Config)) *testEnv {
	t.Helper()
	if open == nil {
		open = openSQLite
	}
	dir := t.TempDir()
	st, raw := open(t, clock)
	keys, err := secrets.OpenKeyring(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	auditKey, _, err := secrets.LoadAuditKey(context.Background(), st, keys)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := server.Config{Store: st, Secrets: secrets.NewBox(keys, 0), AuditKey: auditKey, Logger: log, Password: auth.TestParams, Clock: clock}
	if adjust != nil {
		adjust(&cfg)
	}
	srv := server.New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testEnv{t: t, URL: hs.URL, Store: st, Raw: raw, Logs: logs, Dir: dir, Keys: keys, srv: hs, Server: srv, bodies: &lockedBuffer{}}
}

// client is one browser-like caller with its own cookie jar.
type client struct {
	env    *testEnv
	hc     *http.Client
	csrf   string
	bearer string
	user   polybot.User
}

func (e *testEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{env: e, hc: &http.Client{Jar: jar}}
}

type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.Status, err, r.Body)
	}
}

// Fields returns the field errors of an error response.
func (r response) Fields(t testing.TB) map[string]string {
	var e struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	}
	r.JSON(t, &e)
	if e.Code == "" || e.Message == "" || e.Fields == nil {
		t.Fatalf("error body lacks code/message/fields: %s", r.Body)
	}
	return e.Fields
}

// do sends a request. body may be nil, a string (sent raw) or a value (sent as JSON).
func (c *client) do(method, path string, body any) response {
	c.env.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.env.URL+path, rd)
	if err != nil {
		c.env.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	c.env.bodies.Write(b)
	c.env.bodies.Write([]byte("\n"))
	return response{Status: res.StatusCode, Body: b, Header: res.Header}
}

// signup creates an account and keeps its session and CSRF token.
func (c *client) signup(email string) *client {
	c.env.t.Helper()
	r := c.do("POST", "/api/v1/auth/signup", map[string]string{"email": email, "password": "correct horse battery"})
	if r.Status != http.StatusCreated {
		c.env.t.Fatalf("signup %s: %d %s", email, r.Status, r.Body)
	}
	var s struct {
		User polybot.User `json:"user"`
		CSRF string       `json:"csrf_token"`
	}
	r.JSON(c.env.t, &s)
	c.csrf, c.user = s.CSRF, s.User
	return c
}

// onboard accepts the terms and completes onboarding, as the UI's last step does.
func (c *client) onboard() *client {
	c.env.t.Helper()
	expectStatus(c.env.t, c.do("PATCH", "/api/v1/profile", map[string]any{"accept_terms": true, "onboarding_completed": true}), http.StatusOK)
	return c
}

// makeAdmin gives the client's user the admin role directly in the store.
func (c *client) makeAdmin() *client {
	c.env.t.Helper()
	err := c.env.Store.Admin(context.Background(), func(tx polybot.AdminTx) error {
		return tx.SetUserRole(c.user.ID, polybot.RoleAdmin)
	})
	if err != nil {
		c.env.t.Fatal(err)
	}
	return c
}

func expectStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
}
