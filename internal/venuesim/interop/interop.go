// Package interop is what the simulators' interop tests share: it finds
// node and npm (skipping the test without them, or failing it when
// POLYBOT_REQUIRE_INTEROP=1, as CI sets), installs a venue's official npm
// SDK from a package's testdata/interop (npm ci from package-lock.json),
// cached outside the repository by the content hash, and runs a node
// script against a simulator.
//
// It is for tests only. It imports only the standard library and must not
// import a venue connector, a simulator, a store or the server.
package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Tools returns the paths of node and npm, or skips tb (fails it when
// POLYBOT_REQUIRE_INTEROP=1) when either is missing.
func Tools(tb testing.TB) (node, npm string) {
	tb.Helper()
	node, err1 := exec.LookPath("node")
	npm, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil {
		if os.Getenv("POLYBOT_REQUIRE_INTEROP") == "1" {
			tb.Fatalf("node and npm are required (POLYBOT_REQUIRE_INTEROP=1): %v %v", err1, err2)
		}
		tb.Skip("node or npm not installed; set POLYBOT_REQUIRE_INTEROP=1 to make this a failure")
	}
	return node, npm
}

// Install installs src/package.json and src/package-lock.json (npm ci)
// into os.UserCacheDir()/polybot-interop/<name>-<hash> once per content,
// and returns that directory. marker is a path under node_modules whose
// presence means the install is done (the SDK's package.json).
func Install(tb testing.TB, npm, name, src, marker string) string {
	tb.Helper()
	pkg, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		tb.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		tb.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(append(append([]byte(nil), pkg...), lock...))
	dir := filepath.Join(cache, "polybot-interop", name+"-"+hex.EncodeToString(sum[:8]))
	done := filepath.Join(dir, "node_modules", marker)
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), name+"-install-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for f, b := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("npm ci: %v\n%s", err, out)
	}
	// Another run may have won the race; either copy is good.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(done); statErr != nil {
			tb.Fatalf("installing %s into %s: %v", name, dir, err)
		}
	}
	return dir
}

// Run copies script into dir (where its modules resolve), runs it with
// node and env added to the environment (loopback never proxied), and
// returns its standard output; a failure fails tb with its standard error.
func Run(tb testing.TB, node, dir, script string, env ...string) []byte {
	tb.Helper()
	src, err := os.ReadFile(script)
	if err != nil {
		tb.Fatal(err)
	}
	run := filepath.Join(dir, fmt.Sprintf("run-%d-%d%s", os.Getpid(), time.Now().UnixNano(), filepath.Ext(script)))
	if err := os.WriteFile(run, src, 0o644); err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(run)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, run)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("node %s: %v\n%s", filepath.Base(script), err, stderr.String())
	}
	return out
}
