package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres/pgtest"
)

// startServe runs the real main's serve on a random port and returns its URL.
func startServe(t testing.TB, dataDir string, extraEnv map[string]string, extraArgs ...string) string {
	t.Helper()
	url, _ := startServeLines(t, dataDir, extraEnv, append([]string{"--venues", "off"}, extraArgs...)...)
	return url
}

// startServeLines runs serve with args and returns its URL and the other
// lines it printed on stdout before the URL line and right after it.
func startServeLines(t testing.TB, dataDir string, extraEnv map[string]string, extraArgs ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string { return extraEnv[k] }
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"}, extraArgs...), getenv, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var url string
	var others []string
	for {
		select {
		case l := <-lines:
			if u, ok := strings.CutPrefix(l, "PolyBot is listening on "); ok {
				url = u
				// Collect what serve prints right after its URL.
				for {
					select {
					case l := <-lines:
						others = append(others, l)
						continue
					case <-time.After(200 * time.Millisecond):
					}
					return url, others
				}
			}
			others = append(others, l)
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not print its URL")
		}
	}
}

type e2eClient struct {
	t    testing.TB
	base string
	hc   *http.Client
	csrf string
	id   string
}

func newE2EClient(t testing.TB, base string) *e2eClient {
	jar, _ := cookiejar.New(nil)
	return &e2eClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *e2eClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (c *e2eClient) signup(email string) {
	c.t.Helper()
	st, body := c.do("POST", "/api/v1/auth/signup", `{"email":"`+email+`","password":"a long password 1"}`)
	if st != 201 {
		c.t.Fatalf("signup: %d %s", st, body)
	}
	var s struct {
		CSRF string `json:"csrf_token"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	_ = json.Unmarshal([]byte(body), &s)
	c.csrf, c.id = s.CSRF, s.User.ID
	// A new account's bot starts when onboarding is done, as the UI's last
	// step does it.
	if st, body := c.do("PATCH", "/api/v1/profile", `{"accept_terms":true,"onboarding_completed":true}`); st != 200 {
		c.t.Fatalf("onboarding: %d %s", st, body)
	}
}

// snapshot is everything B can see of B's own data.
func (c *e2eClient) snapshot() string {
	var b strings.Builder
	for _, p := range []string{"/api/v1/config", "/api/v1/secrets", "/api/v1/tokens", "/api/v1/profile"} {
		st, body := c.do("GET", p, "")
		if st != 200 {
			c.t.Fatalf("GET %s: %d %s", p, st, body)
		}
		b.WriteString(body)
	}
	return b.String()
}

func TestServeKeepsTenantsApartOnSQLite(t *testing.T) {
	dir := t.TempDir()
	url := startServe(t, dir, nil)
	if _, err := os.Stat(filepath.Join(dir, "polybot.db")); err != nil {
		t.Fatalf("no SQLite database in the data dir: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
	checkTenantsApart(t, url)
}

func TestServeKeepsTenantsApartOnPostgres(t *testing.T) {
	db := pgtest.NewEmptyDatabase(t)
	url := startServe(t, t.TempDir(), map[string]string{"POLYBOT_DATABASE_URL": db.AppURL, "POLYBOT_MIGRATE_DATABASE_URL": db.AdminURL})
	checkTenantsApart(t, url)
}

func TestServeRefusesASuperuserDatabaseRole(t *testing.T) {
	db := pgtest.NewDatabase(t)
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database-url", db.AdminURL},
		func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(strings.ToLower(userMessage(err)), "superuser") {
		t.Fatalf("serve as superuser: %v", err)
	}
}

// checkTenantsApart signs up two users and has A try everything on B's data.
func checkTenantsApart(t *testing.T, url string) {
	a, b := newE2EClient(t, url), newE2EClient(t, url)
	a.signup("alice@example.com")
	b.signup("bob@example.com")

	// B stores a key and a token.
	if st, body := b.do("POST", "/api/v1/secrets", `{"platform":"polymarket","is_paper":true,"private_key":"0x`+strings.Repeat("b0", 32)+`"}`); st != 201 {
		t.Fatalf("bob's secret: %d %s", st, body)
	}
	st, body := b.do("POST", "/api/v1/tokens", `{"name":"bob's bot"}`)
	if st != 201 {
		t.Fatalf("bob's token: %d %s", st, body)
	}
	var tok struct {
		APIToken struct {
			ID string `json:"id"`
		} `json:"api_token"`
	}
	_ = json.Unmarshal([]byte(body), &tok)
	before := b.snapshot()

	attempts := []struct {
		method, path, body string
		want               []int
	}{
		{"DELETE", "/api/v1/tokens/" + tok.APIToken.ID, "", []int{404}},
		{"DELETE", "/api/v1/secrets/polymarket?paper=true", "", []int{404}},
		{"PUT", "/api/v1/admin/users/" + b.id + "/tier", `{"tier":"enterprise"}`, []int{403}},
		{"PUT", "/api/v1/admin/users/" + b.id + "/disabled", `{"disabled":true}`, []int{403}},
		{"GET", "/api/v1/admin/users", "", []int{403}},
		{"PUT", "/api/v1/config", `{"user_id":"` + b.id + `","dry_run":false}`, []int{400}},
	}
	for _, at := range attempts {
		st, body := a.do(at.method, at.path, at.body)
		ok := false
		for _, w := range at.want {
			ok = ok || st == w
		}
		if !ok {
			t.Errorf("alice %s %s: %d %s, want %v", at.method, at.path, st, body, at.want)
		}
	}
	// Alice's own views hold nothing of Bob's.
	for _, p := range []string{"/api/v1/secrets", "/api/v1/tokens", "/api/v1/audit", "/api/v1/config", "/api/v1/profile"} {
		_, body := a.do("GET", p, "")
		if strings.Contains(body, b.id) || strings.Contains(body, "bob") {
			t.Errorf("alice's %s shows bob's data: %s", p, body)
		}
	}
	if after := b.snapshot(); after != before {
		t.Errorf("bob's data changed:\nbefore %s\nafter  %s", before, after)
	}
}

func TestAuditVerifyFailsAfterARowIsEditedByHand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	runCLI := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append(args, "--data-dir", dir), func(string) string { return "" }, strings.NewReader("a long password 1\n"), &out, io.Discard)
		return out.String(), err
	}
	for _, email := range []string{"one@example.com", "two@example.com", "three@example.com"} {
		if out, err := runCLI("user", "create", "--email", email, "--password-stdin"); err != nil {
			t.Fatalf("user create: %v %s", err, out)
		}
	}
	// The first command keyed the chain (entry 1, audit.keyed), then three sign-ups.
	if out, err := runCLI("audit", "verify"); err != nil || !strings.Contains(out, "audit log OK: 4 entries") {
		t.Fatalf("clean chain: %v %s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "polybot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// An attacker with file access drops the append-only triggers and edits a row.
	rows, _ := db.Query(`SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='polybot_audit_log'`)
	var triggers []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		triggers = append(triggers, n)
	}
	rows.Close()
	for _, n := range triggers {
		if _, err := db.Exec(`DROP TRIGGER "` + n + `"`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE polybot_audit_log SET details = '{"role":"admin","tier":"free"}' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI("audit", "verify")
	if err == nil || !strings.Contains(out, "seq 2") {
		t.Fatalf("edited row not detected: %v %s", err, out)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit code %d, want 1", exitCode(err))
	}
	// Deleting the last row is caught by the chain head.
	if _, err := db.Exec(`UPDATE polybot_audit_log SET details = '{"role":"user","tier":"free"}' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI("audit", "verify"); err != nil {
		t.Fatalf("restored row should verify: %v %s", err, out)
	}
	if _, err := db.Exec(`DELETE FROM polybot_audit_log WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI("audit", "verify"); err == nil || !strings.Contains(out, "BROKEN") {
		t.Fatalf("deleted row not detected: %v %s", err, out)
	}
}

func TestAuditVerifyDetectsAChainRecomputedWithSHA256AndSurvivesKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	runCLI := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append(args, "--data-dir", dir), func(string) string { return "" }, strings.NewReader("a long password 1\n"), &out, io.Discard)
		return out.String(), err
	}
	for _, email := range []string{"one@example.com", "two@example.com"} {
		if out, err := runCLI("user", "create", "--email", email, "--password-stdin"); err != nil {
			t.Fatalf("user create: %v %s", err, out)
		}
	}
	// Rotation rewraps the audit key with the data keys; a new process
	// unwraps it under the new master key and the MACs still verify.
	if out, err := runCLI("keys", "rotate", "--prune"); err != nil || !strings.Contains(out, "audit key: rewrapped") || !strings.Contains(out, "pruned 1") {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	if out, err := runCLI("audit", "verify"); err != nil || !strings.Contains(out, "audit log OK: 5 entries") {
		t.Fatalf("after rotation: %v %s", err, out)
	}
	if out, err := runCLI("keys", "status"); err != nil || !strings.Contains(out, "audit key: wrapped by ") {
		t.Fatalf("keys status: %v %s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "polybot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A DB admin recomputes the whole chain with SHA-256 after promoting
	// user two, as the unkeyed chain allowed.
	for _, q := range []string{`DROP TRIGGER polybot_audit_log_no_update`, `DROP TRIGGER polybot_audit_head_forward`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Query(`SELECT seq, user_id, actor, action, target, details, created_at FROM polybot_audit_log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var entries []polybot.AuditEntry
	for rows.Next() {
		var e polybot.AuditEntry
		var user sql.NullString
		var at int64
		if err := rows.Scan(&e.Seq, &user, &e.Actor, &e.Action, &e.Target, &e.Details, &at); err != nil {
			t.Fatal(err)
		}
		if user.Valid {
			id, _ := polybot.ParseID(user.String)
			e.UserID = &id
		}
		e.CreatedAt = time.UnixMicro(at).UTC()
		entries = append(entries, e)
	}
	rows.Close()
	prev := polybot.GenesisHash
	for _, e := range entries {
		if e.Action == polybot.AuditSignup && strings.Contains(e.Details, "two@") {
			e.Details = strings.Replace(e.Details, `"user"`, `"admin"`, 1)
		}
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		if _, err := db.Exec(`UPDATE polybot_audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?`, e.Details, e.PrevHash, e.Hash, e.Seq); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	if _, err := db.Exec(`UPDATE polybot_audit_head SET hash = ? WHERE id = 1`, prev); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI("audit", "verify")
	if err == nil || !strings.Contains(out, "BROKEN") {
		t.Fatalf("a SHA-256 chain verified: %v %s", err, out)
	}
	for _, e := range entries {
		if !strings.Contains(out, fmt.Sprintf("seq %d: sealed with plain SHA-256", e.Seq)) {
			t.Errorf("row %d not named:\n%s", e.Seq, out)
		}
	}
}

func TestCLIErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{}, "missing command", 2},
		{[]string{"frobnicate"}, "unknown command", 2},
		{[]string{"serve", "--addr", "256.0.0.1:99999", "--data-dir", dir}, "--addr", 1},
		{[]string{"serve", "--log-level", "loud", "--data-dir", dir}, "--log-level", 2},
		{[]string{"user", "create", "--email", "bad", "--password-stdin", "--data-dir", dir}, "email", 1},
		{[]string{"user", "create", "--email", "x@example.com", "--data-dir", dir}, "--password-stdin", 2},
		{[]string{"user", "set-tier", "--email", "x@example.com", "--tier", "gold", "--data-dir", dir}, "not found", 1},
		{[]string{"audit"}, "audit verify", 2},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: no error", tt.args)
			continue
		}
		if msg := userMessage(err); !strings.Contains(msg, tt.want) || exitCode(err) != tt.code {
			t.Errorf("%v: %q (exit %d), want it to mention %q (exit %d)", tt.args, msg, exitCode(err), tt.want, tt.code)
		}
	}
}
