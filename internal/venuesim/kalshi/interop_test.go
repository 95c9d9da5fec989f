package kalshi

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
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// requireInterop skips (or, with POLYBOT_REQUIRE_INTEROP=1, fails) when
// node or npm are missing.
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
	dir := filepath.Join(cache, "polybot-interop", "kalshi-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kalshi-typescript", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "kalshi-install-")
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
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "kalshi-typescript")); statErr != nil {
			t.Fatalf("installing the SDK into %s: %v", dir, err)
		}
	}
	return dir
}

func TestInteropOfficialTypeScriptSDKReadsBalanceBookAndEventAndCreatesAnOrder(t *testing.T) {
	node, npm := requireInterop(t)
	dir := sdkDir(t, npm)

	key, err := GenerateDemoKey(filepath.Join(t.TempDir(), "kalshi-demo.pem"))
	if err != nil {
		t.Fatal(err)
	}
	demo := replay.SyntheticEvent(polybot.Kalshi)
	s := start(t, Config{Accounts: []AccountConfig{{KeyID: key.KeyID, PublicKeyPEM: key.PublicKeyPEM, Balance: polybot.MustDecimal("500")}},
		Events: []*replay.EventRecording{demo}})
	if err := s.SetBook(FedTicker, []polybot.Level{lvl("0.50", "4024")}, []polybot.Level{lvl("0.48", "26176")}); err != nil {
		t.Fatal(err)
	}

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
	cmd.Env = append(os.Environ(), "KALSHI_KEY_ID="+key.KeyID, "KALSHI_KEY_PATH="+key.PrivateKeyPath,
		"KALSHI_BASE_URL="+s.urls.REST, "KALSHI_TICKER="+FedTicker, "KALSHI_CLIENT_ORDER_ID=sdk-order-1", "KALSHI_EVENT="+demo.Set.Event,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got struct {
		Balance struct {
			Balance        int64  `json:"balance"`
			BalanceDollars string `json:"balance_dollars"`
		} `json:"balance"`
		Orderbook struct {
			OrderbookFP struct {
				Yes [][2]string `json:"yes_dollars"`
				No  [][2]string `json:"no_dollars"`
			} `json:"orderbook_fp"`
		} `json:"orderbook"`
		Order struct {
			OrderID        string `json:"order_id"`
			ClientOrderID  string `json:"client_order_id"`
			FillCount      string `json:"fill_count"`
			RemainingCount string `json:"remaining_count"`
		} `json:"order"`
		Event struct {
			Event struct {
				EventTicker       string `json:"event_ticker"`
				MutuallyExclusive bool   `json:"mutually_exclusive"`
				Markets           []struct {
					Ticker      string `json:"ticker"`
					YesSubTitle string `json:"yes_sub_title"`
				} `json:"markets"`
			} `json:"event"`
		} `json:"event"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("SDK output %q: %v", out, err)
	}
	if got.Balance.Balance != 50000 || got.Balance.BalanceDollars != "500.0000" {
		t.Fatalf("SDK balance = %+v, want 50000 cents", got.Balance)
	}
	ob := got.Orderbook.OrderbookFP
	if len(ob.Yes) != 1 || ob.Yes[0] != [2]string{"0.5000", "4024.00"} || len(ob.No) != 1 || ob.No[0] != [2]string{"0.4800", "26176.00"} {
		t.Fatalf("SDK order book = %+v", ob)
	}
	if got.Order.ClientOrderID != "sdk-order-1" || got.Order.RemainingCount != "3.00" || got.Order.FillCount != "0.00" {
		t.Fatalf("SDK order = %+v", got.Order)
	}
	ev := got.Event.Event
	if ev.EventTicker != demo.Set.Event || !ev.MutuallyExclusive || len(ev.Markets) != len(demo.Set.Outcomes) {
		t.Fatalf("SDK event = %+v, want %s, mutually exclusive, with its %d markets nested", ev, demo.Set.Event, len(demo.Set.Outcomes))
	}
	for i, m := range ev.Markets {
		if o := demo.Set.Outcomes[i]; m.Ticker != o.Markets[0].Yes.Market || m.YesSubTitle != o.Label {
			t.Errorf("SDK event market %d = %+v, want %s %q", i, m, o.Markets[0].Yes.Market, o.Label)
		}
	}
	o, err := s.eng.OrderByClientID(key.KeyID, "sdk-order-1")
	if err != nil || o.ID != got.Order.OrderID || o.Price != polybot.MustDecimal("0.45") || o.Side != polybot.Buy {
		t.Fatalf("the simulator's order = %+v, %v", o, err)
	}
}
