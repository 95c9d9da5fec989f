package polymarket_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// v2Vectors is testdata/v2_vectors.json, printed by testdata/v2vectors.mjs
// with the official @polymarket/clob-client-v2.
type v2Vectors struct {
	Client string            `json:"client"`
	Keys   map[string]string `json:"keys"`
	Orders []struct {
		Name          string              `json:"name"`
		Key           string              `json:"key"`
		ChainID       int64               `json:"chainId"`
		NegRisk       bool                `json:"negRisk"`
		SignatureType uint8               `json:"signatureType"`
		Funder        string              `json:"funder"`
		Kind          string              `json:"kind"`
		TokenID       string              `json:"tokenId"`
		Side          string              `json:"side"`
		Price         string              `json:"price"`
		Size          string              `json:"size"`
		Amount        string              `json:"amount"`
		TickSize      string              `json:"tickSize"`
		OrderType     polybot.TimeInForce `json:"orderType"`
		PostOnly      bool                `json:"postOnly"`
		Expiration    string              `json:"expiration"`
		Metadata      string              `json:"metadata"`
		Builder       string              `json:"builder"`
		Owner         string              `json:"owner"`
		Exchange      string              `json:"exchange"`
		Timestamp     string              `json:"timestamp"`
		Salt          string              `json:"salt"`
		SignedOrder   map[string]any      `json:"signedOrder"`
		OrderHash     string              `json:"orderHash"`
		Payload       string              `json:"payload"`
	} `json:"orders"`
	L1 []struct {
		Key       string            `json:"key"`
		ChainID   int64             `json:"chainId"`
		Timestamp int64             `json:"timestamp"`
		Nonce     uint64            `json:"nonce"`
		Headers   map[string]string `json:"headers"`
	} `json:"l1"`
	L2 []struct {
		Key         string            `json:"key"`
		Secret      string            `json:"secret"`
		Method      string            `json:"method"`
		RequestPath string            `json:"requestPath"`
		Body        string            `json:"body"`
		Timestamp   int64             `json:"timestamp"`
		APIKey      string            `json:"apiKey"`
		Passphrase  string            `json:"passphrase"`
		Headers     map[string]string `json:"headers"`
	} `json:"l2"`
}

func loadV2Vectors(t *testing.T, b []byte) *v2Vectors {
	t.Helper()
	var v v2Vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Orders) == 0 || len(v.L1) == 0 || len(v.L2) == 0 {
		t.Fatal("vector file has no cases")
	}
	return &v
}

func signHeaderMap(h http.Header) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		m[k] = v[0]
	}
	return m
}

func TestOurSignerReproducesEveryV2VectorOfTheOfficialClient(t *testing.T) {
	b, err := os.ReadFile("testdata/v2_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	v := loadV2Vectors(t, b)
	for _, c := range v.Orders {
		t.Run(c.Name, func(t *testing.T) {
			key, err := eip712.NewSigner(v.Keys[c.Key])
			if err != nil {
				t.Fatal(err)
			}
			var funder eip712.Address
			if c.Funder != "" {
				funder = eip712.MustParseAddress(c.Funder)
			}
			exchange, err := polymarket.ExchangeContract(c.ChainID, c.NegRisk)
			if err != nil || exchange.String() != c.Exchange {
				t.Fatalf("exchange = %s, %v; the official client uses %s", exchange, err, c.Exchange)
			}
			s, err := polymarket.NewOrderSigner(key, c.ChainID, polymarket.SignatureType(c.SignatureType), funder)
			if err != nil {
				t.Fatal(err)
			}
			salt, _ := new(big.Int).SetString(c.Salt, 10)
			ms, _ := strconv.ParseInt(c.Timestamp, 10, 64)
			side := polybot.Buy
			if c.Side == "SELL" {
				side = polybot.Sell
			}
			metadata, _ := eip712.ParseHash(c.Metadata)
			builder, _ := eip712.ParseHash(c.Builder)
			var o *polymarket.SignedOrder
			switch c.Kind {
			case "limit":
				lo := polymarket.LimitOrder{
					Salt: salt, TokenID: c.TokenID, Side: side,
					Price: polybot.MustDecimal(c.Price), Size: polybot.MustDecimal(c.Size), TickSize: polybot.MustDecimal(c.TickSize),
					NegRisk: c.NegRisk, Timestamp: time.UnixMilli(ms), Metadata: metadata, Builder: builder,
				}
				if exp, _ := strconv.ParseInt(c.Expiration, 10, 64); exp != 0 {
					lo.Expiration = time.Unix(exp, 0)
				}
				o, err = s.Build(lo)
			case "market":
				o, err = s.BuildMarket(polymarket.MarketOrder{
					Salt: salt, TokenID: c.TokenID, Side: side,
					Amount: polybot.MustDecimal(c.Amount), Price: polybot.MustDecimal(c.Price), TickSize: polybot.MustDecimal(c.TickSize),
					NegRisk: c.NegRisk, Timestamp: time.UnixMilli(ms), Metadata: metadata, Builder: builder,
				})
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := o.Signature.String(), c.SignedOrder["signature"]; got != want {
				t.Errorf("signature\n got %s\nwant %s", got, want)
			}
			if got := o.ID(); got != c.OrderHash {
				t.Errorf("order hash = %s, want %s", got, c.OrderHash)
			}
			payload, err := o.Payload(c.Owner, c.OrderType, c.PostOnly)
			if err != nil {
				t.Fatal(err)
			}
			body, err := json.Marshal(payload)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != c.Payload {
				t.Errorf("POST /order body\n got %s\nwant %s", body, c.Payload)
			}

			// The simulator's side: the official client's body parses and verifies.
			var in polymarket.OrderPayload
			if err := json.Unmarshal([]byte(c.Payload), &in); err != nil {
				t.Fatal(err)
			}
			parsed, err := in.Order.Parse()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Domain(c.NegRisk).VerifySigned(parsed); err != nil {
				t.Fatalf("verify the official client's order: %v", err)
			}
			if parsed.ID() != c.OrderHash {
				t.Errorf("verified hash = %s, want %s", parsed.ID(), c.OrderHash)
			}
		})
	}
	for _, c := range v.L1 {
		t.Run("l1-"+strconv.FormatInt(c.ChainID, 10)+"-"+c.Key, func(t *testing.T) {
			key, err := eip712.NewSigner(v.Keys[c.Key])
			if err != nil {
				t.Fatal(err)
			}
			a, err := polymarket.NewL1Auth(key, c.ChainID, c.Timestamp, c.Nonce)
			if err != nil {
				t.Fatal(err)
			}
			if got := signHeaderMap(a.Header()); !reflect.DeepEqual(got, c.Headers) {
				t.Errorf("L1 headers\n got %v\nwant %v", got, c.Headers)
			}
		})
	}
	for _, c := range v.L2 {
		t.Run("l2-"+c.Method+"-"+c.APIKey, func(t *testing.T) {
			key, err := eip712.NewSigner(v.Keys[c.Key])
			if err != nil {
				t.Fatal(err)
			}
			a, err := polymarket.NewL2Auth(key.Address(), c.APIKey, c.Secret, c.Passphrase, c.Timestamp, c.Method, c.RequestPath, []byte(c.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got := signHeaderMap(a.Header()); !reflect.DeepEqual(got, c.Headers) {
				t.Errorf("L2 headers\n got %v\nwant %v", got, c.Headers)
			}
		})
	}
}

// TestOfficialClientStillPrintsTheCommittedV2Vectors re-runs
// testdata/v2vectors.mjs with the pinned official client and compares its
// output with testdata/v2_vectors.json. It needs node and npm; without them
// it skips, unless POLYBOT_REQUIRE_INTEROP=1 (CI), where it fails. npm
// installs are cached under os.UserCacheDir()/polybot-interop.
func TestOfficialClientStillPrintsTheCommittedV2Vectors(t *testing.T) {
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		if os.Getenv("POLYBOT_REQUIRE_INTEROP") == "1" {
			t.Fatal("node and npm are required (POLYBOT_REQUIRE_INTEROP=1)")
		}
		t.Skip("node or npm not installed")
	}
	dir := interopInstall(t, npm)
	script, err := os.ReadFile("testdata/v2vectors.mjs")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "v2vectors-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(script); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command(node, f.Name())
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node v2vectors.mjs: %v\n%s", err, stderr.Bytes())
	}
	committed, err := os.ReadFile("testdata/v2_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output is not JSON: %v", err)
	}
	if err := json.Unmarshal(committed, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the official client's output differs from testdata/v2_vectors.json; regenerate it with\n"+
			"  (cd testdata && npm ci && node v2vectors.mjs > v2_vectors.json)\nand re-check our signer. Output:\n%s", out)
	}
}

// interopInstall returns a directory holding node_modules for
// testdata/package-lock.json, installing it once per lock file version.
// Installs go to a temporary directory renamed into place, so concurrent
// test runs never see a half-written tree.
func interopInstall(t *testing.T, npm string) string {
	t.Helper()
	lock, err := os.ReadFile("testdata/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile("testdata/package.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append(append([]byte{}, pkg...), lock...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "polybot-interop")
	dir := filepath.Join(root, "clob-client-v2-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@polymarket", "clob-client-v2", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(root, "install-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "package-lock.json"), lock, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			t.Fatalf("install the official client: %v", err)
		}
		// Another test run got there first.
	}
	return dir
}
