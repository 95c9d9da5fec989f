package simcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// Sim is a running `polybot sim`.
type Sim struct {
	*Proc
	// The base URLs it printed, per venue ("kalshi": rest, ws, admin;
	// "polymarket": clob, market_ws, user_ws, gamma, data).
	Kalshi, Polymarket map[string]string
}

// StartSim starts `polybot sim` on free ports with args added, its log in
// dir/sim.log, and reads the URLs it prints.
func StartSim(t testing.TB, bin, dir string, args ...string) *Sim {
	t.Helper()
	p := Spawn(t, "sim", filepath.Join(dir, "sim.log"), nil, bin,
		append([]string{"sim", "--polymarket-addr", "127.0.0.1:0", "--kalshi-addr", "127.0.0.1:0"}, args...)...)
	urls := map[string]map[string]string{}
	for len(urls) < 2 {
		f := strings.Fields(p.Line(t, 30*time.Second))
		if len(f) < 2 || (f[0] != "polymarket" && f[0] != "kalshi") {
			continue
		}
		kv := map[string]string{}
		for _, p := range f[1:] {
			if k, v, ok := strings.Cut(p, "="); ok {
				kv[k] = v
			}
		}
		urls[f[0]] = kv
	}
	return &Sim{Proc: p, Kalshi: urls["kalshi"], Polymarket: urls["polymarket"]}
}

// VenueFlags are the `polybot serve` flags that point every venue
// connection at the simulators, with the platform's Kalshi market-data key.
func (s *Sim) VenueFlags(mdKeyID, mdKeyFile string) []string {
	k, pm := s.Kalshi, s.Polymarket
	return []string{"--venues", "real",
		"--kalshi-url", k["rest"], "--kalshi-demo-url", k["rest"], "--kalshi-ws-url", k["ws"],
		"--kalshi-md-key-id", mdKeyID, "--kalshi-md-key-file", mdKeyFile,
		"--polymarket-clob-url", pm["clob"], "--polymarket-market-ws-url", pm["market_ws"],
		"--polymarket-user-ws-url", pm["user_ws"], "--polymarket-gamma-url", pm["gamma"], "--polymarket-data-url", pm["data"]}
}

// KalshiSubmission is an order request the Kalshi simulator received
// (venuesim/kalshi.Submission).
type KalshiSubmission struct {
	KeyID         string    `json:"key_id"`
	ClientOrderID string    `json:"client_order_id"`
	OrderID       string    `json:"order_id"`
	Error         string    `json:"error"`
	Time          time.Time `json:"time"` // the simulator's clock
}

// PMSubmission is a signed order the Polymarket simulator received
// (venuesim/polymarket.Submission).
type PMSubmission struct {
	Maker   string    `json:"maker"`
	Salt    string    `json:"salt"`
	OrderID string    `json:"order_id"`
	Success bool      `json:"success"`
	Error   string    `json:"error"`
	Time    time.Time `json:"time"` // the simulator's clock
}

var httpc = &http.Client{Timeout: 10 * time.Second}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	res, err := httpc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// KalshiSubs returns, oldest first, the order requests the Kalshi
// simulator received for one key id, or for all ("").
func (s *Sim) KalshiSubs(t testing.TB, keyID string) []KalshiSubmission {
	t.Helper()
	var out struct{ Submissions []KalshiSubmission }
	getJSON(t, s.Kalshi["admin"]+"/submissions?key_id="+url.QueryEscape(keyID), &out)
	return out.Submissions
}

// PMSubs returns, oldest first, the orders the Polymarket simulator
// received from one maker address, or from all ("").
func (s *Sim) PMSubs(t testing.TB, maker string) []PMSubmission {
	t.Helper()
	var out struct{ Submissions []PMSubmission }
	getJSON(t, s.Polymarket["clob"]+"/sim/v1/submissions?maker="+url.QueryEscape(maker), &out)
	return out.Submissions
}

// Account is a tenant's own keys at the simulators.
type Account struct {
	KalshiKeyID string
	KalshiPEM   []byte
	Wallet      *eip712.Signer
}

// VenueState is what the venues hold for one account.
type VenueState struct {
	Fills                    []polybot.Fill
	KalshiPos, PolymarketPos []polybot.Position
}

// State reads an account's fills and positions from the simulators with
// its own keys, as the tenant's bot would.
func (s *Sim) State(ctx context.Context, a Account) (*VenueState, error) {
	kx, err := kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: s.Kalshi["rest"], KeyID: a.KalshiKeyID, PrivateKeyPEM: a.KalshiPEM})
	if err != nil {
		return nil, err
	}
	pcfg := polymarket.DefaultConfig()
	pm := s.Polymarket
	pcfg.CLOBURL, pcfg.MarketWSURL, pcfg.UserWSURL, pcfg.GammaURL, pcfg.DataURL = pm["clob"], pm["market_ws"], pm["user_ws"], pm["gamma"], pm["data"]
	px, err := polymarket.NewExchange(polymarket.NewClient(pcfg), polymarket.Credentials{Wallet: a.Wallet}, polymarket.ExchangeOptions{})
	if err != nil {
		return nil, err
	}
	st := &VenueState{}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"kalshi fills", func() error {
			fs, err := kx.Fills(ctx, time.Time{})
			st.Fills = append(st.Fills, fs...)
			return err
		}},
		{"kalshi positions", func() (err error) { st.KalshiPos, err = kx.Positions(ctx); return err }},
		{"polymarket fills", func() error {
			fs, err := px.Fills(ctx, time.Time{})
			st.Fills = append(st.Fills, fs...)
			return err
		}},
		{"polymarket positions", func() (err error) { st.PolymarketPos, err = px.Positions(ctx); return err }},
	} {
		if err := step.fn(); err != nil {
			return nil, fmt.Errorf("reading the simulator's %s: %w", step.name, err)
		}
	}
	return st, nil
}
