package alpaca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// requireInterop skips (or, with POLYBOT_REQUIRE_INTEROP=1, fails) when
// node or npm are missing, as the other simulators' interop tests do.
func requireInterop(t *testing.T) (node, npm string) {
	t.Helper()
	node, err1 := exec.LookPath("node")
	npm, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil {
		if os.Getenv("POLYBOT_REQUIRE_INTEROP") == "1" {
			t.Fatalf("node and npm are required (POLYBOT_REQUIRE_INTEROP=1): %v %v", err1, err2)
		}
		t.Skip("node or npm not installed; set POLYBOT_REQUIRE_INTEROP=1 to make this a failure")
	}
	return node, npm
}

// sdkDir installs testdata/interop/package.json once per content hash under
// os.UserCacheDir()/polybot-interop and returns the directory.
func sdkDir(t *testing.T, npm string) string {
	t.Helper()
	pkg, err := os.ReadFile(filepath.Join("testdata", "interop", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(pkg)
	dir := filepath.Join(cache, "polybot-interop", "alpaca-"+hex.EncodeToString(sum[:6]))
	marker := filepath.Join(dir, "node_modules", "@alpacahq", "alpaca-trade-api", "package.json")
	if _, err := os.Stat(marker); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "alpaca-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, out)
	}
	// Another run may have won the race; either copy is good.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(marker); statErr != nil {
			t.Fatalf("installing the SDK into %s: %v", dir, err)
		}
	}
	return dir
}

func TestInteropOfficialTypeScriptSDKReadsAccountPlacesGetsAndCancelsAndIsRefusedABadKey(t *testing.T) {
	node, npm := requireInterop(t)
	dir := sdkDir(t, npm)

	s, base := start(t)
	script, err := os.ReadFile(filepath.Join("testdata", "interop", "interop.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, fmt.Sprintf("run-%d-%d.cjs", os.Getpid(), time.Now().UnixNano()))
	if err := os.WriteFile(run, script, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(run)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, run)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ALPACA_BASE_URL="+base, "ALPACA_KEY_ID="+testKey, "ALPACA_SECRET="+testSecret,
		"ALPACA_SYMBOL=SPY", "ALPACA_CLIENT_ORDER_ID=sdk-order-1", "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	type order struct {
		ID            string `json:"id"`
		ClientOrderID string `json:"clientOrderId"`
		Symbol        string `json:"symbol"`
		Status        string `json:"status"`
		Type          string `json:"type"`
		Side          string `json:"side"`
		TimeInForce   string `json:"timeInForce"`
	}
	var got struct {
		Account struct {
			AccountNumber string `json:"accountNumber"`
			Status        string `json:"status"`
			Currency      string `json:"currency"`
			Cash          string `json:"cash"`
			BuyingPower   string `json:"buyingPower"`
		} `json:"account"`
		Placed, ByClient, Cancelled order
		BadKey                      *struct {
			Status int `json:"status"`
		} `json:"badKey"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("SDK output %q: %v", out, err)
	}
	if a := got.Account; a.Status != "ACTIVE" || a.Currency != "USD" || a.Cash != "20000.00" || a.BuyingPower != "20000.00" {
		t.Errorf("SDK account = %+v", a)
	}
	p := got.Placed
	if p.ID == "" || p.ClientOrderID != "sdk-order-1" || p.Symbol != "SPY" || p.Status != "new" || p.Type != "limit" || p.Side != "buy" || p.TimeInForce != "gtc" {
		t.Errorf("SDK placed order = %+v", p)
	}
	if got.ByClient.ID != p.ID || got.ByClient.Status != "new" {
		t.Errorf("SDK order by client id = %+v, want %s", got.ByClient, p.ID)
	}
	if got.Cancelled.ID != p.ID || got.Cancelled.Status != "canceled" {
		t.Errorf("SDK order after cancel = %+v", got.Cancelled)
	}
	if got.BadKey == nil || got.BadKey.Status != 401 {
		t.Errorf("SDK with a bad secret: %+v, want HTTP 401", got.BadKey)
	}
	o, err := s.eng.OrderByClientID(testKey, "sdk-order-1")
	if err != nil || o.ID != p.ID || o.Price != polybot.MustDecimal("490.25") || o.Size != polybot.MustDecimal("3") || o.State != polybot.OrderCancelled {
		t.Fatalf("the simulator's order = %+v, %v", o, err)
	}
}
