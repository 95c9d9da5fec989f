// Package browsertest holds PolyBot's browser tests; it has no code of its
// own outside the tests.
//
// The tests build cmd/polybot, start `polybot serve --sim` on a free
// loopback port exactly as a newcomer would, and drive the web UI in
// Debian's headless Chromium (/usr/bin/chromium) through chromedp: sign-up
// and onboarding with simulator keys, the live dashboard of the demo user,
// config validation and saving, API keys that never reach the DOM after
// saving, tenant isolation between two signed-in users, and log-out; and
// the News page (TestNewsWebUI, `go test ./internal/browsertest/ -run
// News`), for which the test writes headlines and a rule's fire into the
// running server's SQLite database, as the feeds and the engine would.
//
// Every page load is watched: a request to any host other than the loopback
// server fails the test, every HTML response must carry a
// Content-Security-Policy, and a CSP violation, an uncaught exception or a
// console error fails it too.
//
// Screenshots of each page at desktop (1280×800) and phone (390×844) width
// go to <repo>/screenshots/ (kept out of git); copies of the desktop ones,
// reduced to a 256-colour palette, go to <repo>/docs/screenshots/ (when
// POLYBOT_UPDATE_SCREENSHOTS=1) for the
// README.
//
// Without Chromium the tests skip, unless POLYBOT_REQUIRE_BROWSER=1 (set by
// .ci/run), when they fail.
package browsertest
