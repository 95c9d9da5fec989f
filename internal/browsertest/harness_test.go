package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// Viewports of the screenshots.
var (
	desktop = viewport{"desktop", 1280, 800, false}
	phone   = viewport{"phone", 390, 844, true}
)

type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

// ---------------------------------------------------------------- server

// server is a running `polybot serve --sim`, as its stdout describes it.
type server struct {
	URL          string // http://127.0.0.1:port
	DemoEmail    string
	DemoPassword string
	KalshiAdmin  string // the Kalshi simulator's admin base URL
	AdminEmail   string // an admin created with `polybot user create --admin`
	AdminPass    string
	DataDir      string // serve's --data-dir (its SQLite database is polybot.db there)

	mu     sync.Mutex
	stderr bytes.Buffer // the server's log, shown when a test fails
}

// logTail is the end of the server's log.
func (s *server) logTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.stderr.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

type lockedWriter struct{ s *server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.stderr.Len() > 1<<20 { // keep memory bounded on a chatty server
		w.s.stderr.Reset()
	}
	return w.s.stderr.Write(p)
}

// childEnv is the environment of the polybot processes: the test's own,
// without any PolyBot or Supabase setting that could point the server at
// another database or identity provider.
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

// buildPolybot builds cmd/polybot into dir.
func buildPolybot(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "polybot")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/polybot/polybot/cmd/polybot")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/polybot: %v\n%s", err, out)
	}
	return bin
}

// startServer builds polybot, creates an admin account, and runs
// `polybot serve --sim --addr 127.0.0.1:0` as a child process, stopped when
// the test ends.
func startServer(t *testing.T) *server { t.Helper(); return startServerWith(t, nil) }

// startServerWith is startServer with extra environment (NAME=value) and
// serve arguments.
func startServerWith(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	bin := buildPolybot(t, dir)
	dataDir := filepath.Join(dir, "data")
	s := &server{AdminEmail: "admin@polybot.test", AdminPass: "admin-password-1234", DataDir: dataDir}

	create := exec.Command(bin, "user", "create", "--admin", "--email", s.AdminEmail, "--display-name", "Ada Admin",
		"--password-stdin", "--data-dir", dataDir)
	create.Env = childEnv()
	create.Stdin = strings.NewReader(s.AdminPass + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("polybot user create --admin: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, append([]string{"serve", "--sim", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	cmd.Env = append(childEnv(), env...)
	cmd.Stderr = lockedWriter{s}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start polybot serve: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("polybot serve log (tail):\n%s", s.logTail())
		}
	})

	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens once the start-up lines are read
			}
		}
		close(lines)
	}()
	deadline := time.After(45 * time.Second)
	var seen []string
	for s.URL == "" || s.DemoEmail == "" || s.KalshiAdmin == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("polybot serve exited before it was ready; stdout %q\nlog:\n%s", seen, s.logTail())
			}
			seen = append(seen, l)
			parseServeLine(s, l)
		case <-deadline:
			t.Fatalf("polybot serve printed no URL, demo user and Kalshi simulator within 45s; stdout %q\nlog:\n%s", seen, s.logTail())
		}
	}
	return s
}

// parseServeLine reads one line of serve's stdout into s.
func parseServeLine(s *server, l string) {
	if rest, ok := strings.CutPrefix(l, "PolyBot is listening on "); ok {
		s.URL = strings.TrimSpace(rest)
		return
	}
	if rest, ok := strings.CutPrefix(l, "Demo user: "); ok {
		// "Demo user: EMAIL  password: PW  (shown once)"
		f := strings.Fields(rest)
		if len(f) >= 3 && f[1] == "password:" {
			s.DemoEmail, s.DemoPassword = f[0], f[2]
		}
		return
	}
	if rest, ok := strings.CutPrefix(l, "kalshi "); ok {
		for _, kv := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok && k == "admin" {
				s.KalshiAdmin = v
			}
		}
	}
}

// trackSources stats every file of the module, so that go test's result
// cache knows this test depends on them: the test runs a polybot binary
// built from them in a subprocess, which the cache cannot see.
func trackSources(t *testing.T) {
	t.Helper()
	root := repoRoot(t)
	skip := map[string]bool{".git": true, "screenshots": true, "docs": true, "data": true, "tmp": true, "node_modules": true}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		_, _ = os.Stat(p)
		return nil
	})
}

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// --------------------------------------------------------------- browser

// findChromium returns the browser to drive, or skips (fails in CI).
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("POLYBOT_REQUIRE_BROWSER") == "1" {
		t.Fatalf("POLYBOT_REQUIRE_BROWSER=1 but %s is missing (apt-get install chromium)", chromiumPath)
	}
	t.Skipf("%s not found; install Debian's chromium to run the browser tests", chromiumPath)
	return ""
}

// startBrowser launches headless Chromium with a fresh profile; it closes
// when the test ends. The returned context has the browser; tabs are made
// from it with newTab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := findChromium(t)
	profile, err := os.MkdirTemp("", "polybot-chromium-*")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(int(desktop.width), int(desktop.height)),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, _ := chromedp.NewContext(allocCtx)
	// The first Run starts the browser, whose lifetime is then ctx's; the
	// start itself is bounded here.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	var startErr error
	select {
	case startErr = <-started:
	case <-time.After(30 * time.Second):
		startErr = errors.New("no DevTools connection within 30s")
	}
	if startErr != nil {
		allocCancel()
		os.RemoveAll(profile)
		if os.Getenv("POLYBOT_REQUIRE_BROWSER") == "1" {
			t.Fatalf("start %s: %v", exe, startErr)
		}
		t.Skipf("could not start %s: %v", exe, startErr)
	}
	t.Cleanup(func() {
		done, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(done)
		allocCancel()
		os.RemoveAll(profile)
	})
	return ctx
}

// ------------------------------------------------------------------- tab

// tab is one browser tab in its own browser context (its own cookies: one
// signed-in user), with a watch on everything its pages do.
type tab struct {
	t    *testing.T
	name string
	base string // the server's URL
	ctx  context.Context
	srv  *server

	mu         sync.Mutex
	external   []string // requests to hosts other than the server's
	problems   []string // CSP violations, exceptions, console errors
	missingCSP []string // HTML responses without a Content-Security-Policy
	documents  int      // HTML documents checked
	cspSeen    string
}

// cspProbe runs in every document before the page's own scripts: it turns
// each CSP violation into a console error the test listens for. (Scripts
// added through the DevTools protocol are not subject to the page's CSP.)
const cspProbe = `document.addEventListener('securitypolicyviolation', function (e) {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
}, true);`

// newTab opens a tab in a fresh browser context; timeout bounds everything
// the tab does. It is closed, and its watch checked, when the test ends.
func newTab(t *testing.T, browser context.Context, srv *server, name string, timeout time.Duration) *tab {
	t.Helper()
	tb := &tab{t: t, name: name, base: srv.URL, srv: srv}
	tabCtx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.onEvent))
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab, bound to tabCtx
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tabCtx, timeout)
	tb.ctx = ctx
	t.Cleanup(func() {
		tb.assertClean()
		cancelTimeout()
		cancel()
	})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatalf("install the CSP probe: %v", err)
	}
	tb.setViewport(desktop)
	return tb
}

// localHost reports whether a URL stays on this machine (or needs no host).
func localHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	case "http", "https", "ws", "wss":
		h := u.Hostname()
		return h == "127.0.0.1" || h == "localhost" || h == "::1"
	}
	return false
}

func (tb *tab) onEvent(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request != nil && !localHost(ev.Request.URL) {
			tb.external = append(tb.external, ev.Request.URL)
		}
	case *network.EventResponseReceived:
		r := ev.Response
		// Pages are the HTML documents of the server; the JSON API, opened
		// as a document by the isolation test, is not a page.
		if r == nil || ev.Type != network.ResourceTypeDocument || !strings.HasPrefix(r.URL, tb.base) || !strings.HasPrefix(r.MimeType, "text/html") {
			return
		}
		tb.documents++
		csp := headerValue(r.Headers, "Content-Security-Policy")
		if csp == "" {
			tb.missingCSP = append(tb.missingCSP, fmt.Sprintf("%s (%d)", r.URL, r.Status))
		} else {
			tb.cspSeen = csp
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e == nil {
			return
		}
		switch {
		case isCSPText(e.Text):
			tb.problems = append(tb.problems, fmt.Sprintf("CSP violation (log %s): %s", e.Source, e.Text))
		case e.Source == cdplog.EntrySourceNetwork:
			// "Failed to load resource: 4xx" follows the API's answers the
			// tests provoke on purpose (field errors, 403s, 404s).
		case e.Level == cdplog.EntryLevelError:
			tb.problems = append(tb.problems, fmt.Sprintf("browser log error (%s): %s %s", e.Source, e.Text, e.URL))
		}
	case *cdpruntime.EventConsoleAPICalled:
		if ev.Type != cdpruntime.ConsoleAPICalledTypeError && ev.Type != cdpruntime.ConsoleAPICalledTypeWarning && ev.Type != cdpruntime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				var s string
				if json.Unmarshal(a.Value, &s) == nil {
					parts = append(parts, s)
					continue
				}
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		text := strings.Join(parts, " ")
		switch {
		case isCSPText(text):
			tb.problems = append(tb.problems, "CSP violation (console): "+text)
		case ev.Type != cdpruntime.ConsoleAPICalledTypeWarning:
			tb.problems = append(tb.problems, fmt.Sprintf("console.%s: %s", ev.Type, text))
		}
	case *cdpruntime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	}
}

func isCSPText(s string) bool {
	return strings.Contains(s, "Content Security Policy") || strings.Contains(s, "Content-Security-Policy") || strings.HasPrefix(s, "CSP violation")
}

func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// assertClean fails the test for any external request, missing CSP, CSP
// violation, exception or console error seen so far, and resets the watch.
func (tb *tab) assertClean() {
	tb.t.Helper()
	tb.mu.Lock()
	external, problems, missing := tb.external, tb.problems, tb.missingCSP
	tb.external, tb.problems, tb.missingCSP = nil, nil, nil
	tb.mu.Unlock()
	for _, u := range external {
		tb.t.Errorf("%s: request to an external host while pages load: %s", tb.name, u)
	}
	for _, m := range missing {
		tb.t.Errorf("%s: HTML response without a Content-Security-Policy header: %s", tb.name, m)
	}
	for _, p := range problems {
		tb.t.Errorf("%s: %s", tb.name, p)
	}
}

// takeProblems returns and forgets the problems seen so far (for the
// CSP-probe self-check).
func (tb *tab) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	p := tb.problems
	tb.problems = nil
	return p
}

// fatalf fails the test with the page's state and a screenshot.
func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	msg := fmt.Sprintf(format, args...)
	// A fresh context: the tab's own may be the one that ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ''`))
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		dir := filepath.Join(repoRoot(tb.t), "screenshots")
		if os.MkdirAll(dir, 0o755) == nil {
			name := filepath.Join(dir, "failure-"+safeName(tb.t.Name())+".png")
			if os.WriteFile(name, png, 0o644) == nil {
				msg += "\nscreenshot: " + name
			}
		}
	}
	tb.t.Fatalf("%s: %s\nat %s\npage text:\n%s\nserver log (tail):\n%s", tb.name, msg, loc, text, tb.srv.logTail())
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// do runs actions, failing the test on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.fatalf("%s: %v", what, err)
	}
}

// open navigates to path (on the server) and returns the HTTP status of
// the final document.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.fatalf("open %s: %v", path, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// eval evaluates a JavaScript expression (promises are awaited) and
// decodes its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is truthy. Errors while a
// navigation replaces the document are retried. It fails the test when the
// tab's time is up.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	var last error
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`Promise.resolve(`+cond+`).then(function (v) { return !!v; })`, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-tb.ctx.Done():
			tb.fatalf("timed out waiting for %s (condition %s; last error %v)", what, cond, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitPage waits until the document at path (pathname, optional query) has
// loaded.
func (tb *tab) waitPage(path string) {
	tb.t.Helper()
	p, q, _ := strings.Cut(path, "?")
	cond := fmt.Sprintf(`location.pathname === %q && document.readyState === 'complete'`, p)
	if q != "" {
		cond += fmt.Sprintf(` && location.search === %q`, "?"+q)
	}
	tb.waitFor("page "+path, cond)
}

// click clicks an element by id, as a user would: mouse events at its
// centre, once it is scrolled to the middle of the screen, visible and not
// covered by anything else (a toast, a sticky bar, a dialog's backdrop).
func (tb *tab) click(id string) {
	tb.t.Helper()
	tb.clickCSS("#" + id)
}

// clickCSS is click for the first element matching a CSS selector.
func (tb *tab) clickCSS(sel string) {
	tb.t.Helper()
	tb.waitFor(sel+" clickable (visible, not covered)", fmt.Sprintf(`(function(){
  var e = document.querySelector(%q);
  if (!e) { return false; }
  e.scrollIntoView({block: 'center', inline: 'center'});
  var r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) { return false; }
  var h = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !!h && (h === e || e.contains(h));
})()`, sel))
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// fill sets the value of an input by id, once it is visible (a user
// cannot type into a field hidden in a closed <details> or panel).
func (tb *tab) fill(id, value string) {
	tb.t.Helper()
	tb.waitFor("#"+id+" visible", fmt.Sprintf(`(function(){var e=document.getElementById(%q); return !!e && e.getClientRects().length > 0 && !e.disabled})()`, id))
	tb.do("fill #"+id, chromedp.SetValue(chromedp.ID(id), value))
}

// openDetails opens a <details> by clicking its summary, unless it is open.
func (tb *tab) openDetails(id string) {
	tb.t.Helper()
	if eval[bool](tb, fmt.Sprintf(`(function(){var d=document.getElementById(%q); return !!d && d.open})()`, id)) {
		return
	}
	tb.clickCSS("#" + id + " > summary")
	tb.waitFor("#"+id+" open", fmt.Sprintf(`document.getElementById(%q).open`, id))
}

// text is an element's text content, trimmed ("" when there is none).
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.textContent.trim():''})()`, sel))
}

// apiResult is what fetchAPI returns.
type apiResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// fetchAPI calls the API from the page, with the session's cookie and, for
// writes, its CSRF token (read from the page's meta tag or the session).
func (tb *tab) fetchAPI(method, path string, body any) apiResult {
	tb.t.Helper()
	var js string
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.t.Fatal(err)
		}
		js = string(b)
	}
	bodyJS := "undefined"
	if js != "" {
		bodyJS = fmt.Sprintf("%q", js)
	}
	expr := fmt.Sprintf(`(async function(){
  var token = '';
  var m = document.querySelector('meta[name="csrf-token"]');
  if (m) { token = m.getAttribute('content'); }
  if (!token && %q !== 'GET') {
    var s = await fetch('/api/v1/auth/session', {credentials: 'same-origin', headers: {'Accept': 'application/json'}});
    if (s.ok) { token = (await s.json()).csrf_token || ''; }
  }
  var h = {'Accept': 'application/json'};
  if (token) { h['X-CSRF-Token'] = token; }
  var b = %s;
  if (b !== undefined) { h['Content-Type'] = 'application/json'; }
  var r = await fetch(%q, {method: %q, headers: h, body: b, credentials: 'same-origin'});
  return {status: r.status, body: await r.text()};
})()`, method, bodyJS, path, method)
	return eval[apiResult](tb, expr)
}

// apiJSON is fetchAPI that wants a 2xx answer and decodes it.
func apiJSON[T any](tb *tab, method, path string, body any) T {
	tb.t.Helper()
	r := tb.fetchAPI(method, path, body)
	var v T
	if r.Status/100 != 2 {
		tb.fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		tb.fatalf("%s %s: decode %q: %v", method, path, r.Body, err)
	}
	return v
}

// setViewport emulates a screen size.
func (tb *tab) setViewport(v viewport) {
	tb.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	tb.do("viewport "+v.name, chromedp.EmulateViewport(v.width, v.height, opts...))
}

// darkTheme makes the page see prefers-color-scheme: dark (or not).
func (tb *tab) darkTheme(on bool) {
	tb.t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
	}); err != nil {
		tb.fatalf("emulate %s theme: %v", v, err)
	}
}

// settle waits for layout after a viewport change and for web fonts.
func (tb *tab) settle() {
	tb.t.Helper()
	eval[chromedp.Void](tb, `new Promise(function(r){ setTimeout(r, 150); })`)
}

// maxShotHeight caps full-page screenshots (CSS pixels).
const maxShotHeight = 3000

// screenshot saves the page at desktop and phone width as
// screenshots/<name>-desktop.png and -phone.png, and a palette copy of the
// desktop one as docs/screenshots/<name>.png. The viewport is desktop again
// afterwards.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	tb.checkLabels(name)
	root := repoRoot(tb.t)
	for _, v := range []viewport{desktop, phone} {
		tb.setViewport(v)
		tb.settle()
		if v == phone {
			// Nothing scrolls sideways on a phone: wide tables become cards,
			// the nav folds behind its Menu button.
			if w := eval[float64](tb, `document.documentElement.scrollWidth`); w > float64(v.width) {
				tb.t.Errorf("%s: page %s scrolls sideways at %d px: %v px wide", tb.name, name, v.width, w)
			}
		}
		png := tb.capture(v)
		saveScreenshot(tb.t, filepath.Join(root, "screenshots", name+"-"+v.name+".png"), png)
		// The README's copies are rewritten only on request, so a test run
		// leaves the committed tree as it was.
		if v == desktop && os.Getenv("POLYBOT_UPDATE_SCREENSHOTS") == "1" {
			small, err := paletted(png)
			if err != nil {
				tb.t.Fatalf("reduce screenshot %s: %v", name, err)
			}
			saveScreenshot(tb.t, filepath.Join(root, "docs", "screenshots", name+".png"), small)
		}
	}
	tb.setViewport(desktop)
}

// checkLabels fails the test for a form control without an accessible
// name (a <label>, aria-label or aria-labelledby).
func (tb *tab) checkLabels(page string) {
	tb.t.Helper()
	unlabelled := eval[[]string](tb, `(function(){
  var out = [];
  document.querySelectorAll('input, select, textarea').forEach(function (e) {
    if (e.type === 'hidden') { return; }
    var named = (e.labels && e.labels.length > 0) || (e.getAttribute('aria-label') || '').trim() !== '' ||
      (e.getAttribute('aria-labelledby') || '').split(/\s+/).some(function (id) { return id && document.getElementById(id); });
    if (!named) { out.push(e.outerHTML.slice(0, 120)); }
  });
  return out;
})()`)
	for _, u := range unlabelled {
		tb.t.Errorf("%s: page %s has a form control without a label: %s", tb.name, page, u)
	}
}

// capture takes a full-page PNG, at most maxShotHeight tall: the viewport
// is made as tall as the page first (as a tall screen would show it), so
// fixed and sticky bars sit where they belong instead of mid-page.
func (tb *tab) capture(v viewport) []byte {
	tb.t.Helper()
	h := eval[float64](tb, `Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)`)
	tall := int64(max(float64(v.height), min(h, maxShotHeight)))
	if tall > v.height {
		tb.setViewport(viewport{v.name, v.width, tall, v.mobile})
		tb.settle()
	}
	png, err := chromedp.Run(tb.ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:      page.CaptureScreenshotFormatPng,
			FromSurface: new(true),
			Clip:        &page.Viewport{X: 0, Y: 0, Width: float64(v.width), Height: float64(tall), Scale: 1},
		})
		return r.Data, err
	})
	if err != nil {
		tb.fatalf("screenshot: %v", err)
	}
	return png
}

var screenshotMu sync.Mutex

func saveScreenshot(t *testing.T, path string, png []byte) {
	t.Helper()
	screenshotMu.Lock()
	defer screenshotMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dom is the whole document as the browser holds it now: the serialized
// DOM plus every form control's current value (which outerHTML does not
// show) and the rendered text.
func (tb *tab) dom() string {
	tb.t.Helper()
	return eval[string](tb, `(function(){
  var parts = [document.documentElement.outerHTML, document.body ? document.body.innerText : ''];
  document.querySelectorAll('input, textarea, select').forEach(function (e) { parts.push(e.value); });
  return parts.join('\n');
})()`)
}

// containsAny returns the needles found in hay.
func containsAny(hay string, needles ...string) []string {
	var out []string
	for _, n := range needles {
		if n != "" && strings.Contains(hay, n) {
			out = append(out, n)
		}
	}
	return out
}

// sameDecimal reports whether an API or input value (a decimal string such
// as "25.00") equals want ("25").
func sameDecimal(v any, want string) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err1 := strconv.ParseFloat(strings.TrimSpace(s), 64)
	b, startErr := strconv.ParseFloat(want, 64)
	return err1 == nil && startErr == nil && a == b
}
