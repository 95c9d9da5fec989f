package polymarket_test

import (
	"errors"
	"fmt"
	"maps"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

func signDec(s string) polybot.Decimal { return polybot.MustDecimal(s) }

// Limit orders take a size in shares, market orders an amount (dollars to
// spend on a buy, shares to sell): each row's qty is that.
func TestAmountsRoundLikeTheOfficialClient(t *testing.T) {
	for _, c := range []struct {
		market                          bool
		name                            string
		side                            polybot.Side
		price, qty, tick                string
		wantPrice, wantMaker, wantTaker string
	}{
		{false, "buy pays price×size dollars for size shares", polybot.Buy, "0.56", "100", "0.01", "0.56", "56", "100"},
		{false, "sell gives size shares for price×size dollars", polybot.Sell, "0.43", "21.37", "0.01", "0.43", "21.37", "9.1891"},
		{false, "size rounds down to cents of a share", polybot.Buy, "0.0567", "1234.567", "0.0001", "0.0567", "69.999552", "1234.56"},
		{false, "price rounds half up to the tick's decimals", polybot.Buy, "0.1235", "77.777", "0.001", "0.124", "9.64348", "77.77"},
		{false, "an exact half rounds up", polybot.Buy, "0.125", "10", "0.01", "0.13", "1.3", "10"},
		{false, "just below a half rounds down", polybot.Buy, "0.124999", "10", "0.01", "0.12", "1.2", "10"},
		{false, "a product the client's floats blur stays exact", polybot.Buy, "0.57", "100.33", "0.01", "0.57", "57.1881", "100.33"},
		{false, "tick 0.1", polybot.Sell, "0.7", "5", "0.1", "0.7", "5", "3.5"},
		{false, "tick 0.0001 at the top of the range", polybot.Sell, "0.9999", "3.33", "0.0001", "0.9999", "3.33", "3.329667"},
		{false, "tick 0.005 keeps three price decimals", polybot.Buy, "0.0125", "2", "0.005", "0.013", "0.026", "2"},
		{false, "tick 0.0025 keeps four", polybot.Buy, "0.0125", "2", "0.0025", "0.0125", "0.025", "2"},
		{false, "the smallest order", polybot.Sell, "0.9", "0.01", "0.001", "0.9", "0.01", "0.009"},
		{true, "buy spends dollars for dollars/price shares, truncated", polybot.Buy, "0.37", "25.5", "0.01", "0.37", "25.5", "68.9189"},
		{true, "buy at tick 0.1 keeps three decimals of shares", polybot.Buy, "0.3", "10", "0.1", "0.3", "10", "33.333"},
		{true, "buy with an exact quotient", polybot.Buy, "0.25", "10", "0.01", "0.25", "10", "40"},
		{true, "the worst price rounds down", polybot.Buy, "0.379", "10", "0.01", "0.37", "10", "27.027"},
		{true, "sell gives shares for price×shares dollars", polybot.Sell, "0.512", "40.129", "0.001", "0.512", "40.12", "20.54144"},
	} {
		t.Run(c.name, func(t *testing.T) {
			amounts := polymarket.LimitAmounts
			if c.market {
				amounts = func(side polybot.Side, price, qty, tick polybot.Decimal) (polymarket.Amounts, error) {
					return polymarket.MarketAmounts(side, qty, price, tick)
				}
			}
			a, err := amounts(c.side, signDec(c.price), signDec(c.qty), signDec(c.tick))
			if err != nil {
				t.Fatal(err)
			}
			if a.Price != signDec(c.wantPrice) || a.Maker != signDec(c.wantMaker) || a.Taker != signDec(c.wantTaker) {
				t.Fatalf("price %s maker %s taker %s; want %s %s %s", a.Price, a.Maker, a.Taker, c.wantPrice, c.wantMaker, c.wantTaker)
			}
		})
	}
}

func TestLimitAmountsRefuseWhatTheOfficialClientRefuses(t *testing.T) {
	for _, c := range []struct {
		name, price, size, tick, field string
	}{
		{"price below one tick", "0.009", "10", "0.01", "price"},
		{"price above one minus a tick", "0.995", "10", "0.01", "price"},
		{"zero price", "0", "10", "0.01", "price"},
		{"size under a cent of a share", "0.5", "0.009", "0.01", "size"},
		{"negative size", "0.5", "-1", "0.01", "size"},
		{"unknown tick size", "0.5", "10", "0.02", "tick_size"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := polymarket.LimitAmounts(polybot.Buy, signDec(c.price), signDec(c.size), signDec(c.tick))
			if polybot.ErrorCode(err) != polybot.EINVALID || polybot.ErrorFields(err)[c.field] == "" {
				t.Fatalf("error = %v, want EINVALID on %s", err, c.field)
			}
		})
	}
}

func TestSaltForIsStablePerClientOrderIDAndFitsAJSONNumber(t *testing.T) {
	limit := new(big.Int).Lsh(big.NewInt(1), 53)
	seen := map[string]bool{}
	for i := range 1000 {
		id := fmt.Sprintf("intent-%d", i)
		s := polymarket.SaltFor(id)
		if s.Cmp(polymarket.SaltFor(id)) != 0 {
			t.Fatal("SaltFor is not deterministic")
		}
		if s.Sign() <= 0 || s.Cmp(limit) >= 0 {
			t.Fatalf("salt %s outside [1, 2^53)", s)
		}
		if seen[s.String()] {
			t.Fatalf("salt collision at %s", id)
		}
		seen[s.String()] = true
	}
}

func newTestOrderSigner(t testing.TB) *polymarket.OrderSigner {
	t.Helper()
	s, err := polymarket.NewOrderSigner(signTestSigner(t), polymarket.ChainPolygon, polymarket.SignatureEOA, eip712.Address{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testLimitOrder(id string) polymarket.LimitOrder {
	return polymarket.LimitOrder{
		ClientOrderID: id,
		TokenID:       "71321045679252212594626385532706912750332728571942532289631379312455583992563",
		Side:          polybot.Buy,
		Price:         signDec("0.56"),
		Size:          signDec("100"),
		TickSize:      signDec("0.01"),
		Timestamp:     time.UnixMilli(1767225600123),
	}
}

func TestBuildGivesTheSameOrderIDForTheSameClientOrderID(t *testing.T) {
	s := newTestOrderSigner(t)
	a, err := s.Build(testLimitOrder("intent-1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Build(testLimitOrder("intent-1"))
	c, _ := s.Build(testLimitOrder("intent-2"))
	if a.ID() != b.ID() || a.Signature != b.Signature {
		t.Error("the same intent built twice gave two orders")
	}
	if a.ID() == c.ID() {
		t.Error("two intents gave the same order id")
	}
	if !strings.HasPrefix(a.ID(), "0x") || len(a.ID()) != 66 || strings.ToLower(a.ID()) != a.ID() {
		t.Errorf("order id %q is not 0x and 64 lowercase hex digits", a.ID())
	}
	if h, err := polymarket.ParseOrderID(strings.ToUpper(a.ID()[2:])); err != nil || h != a.Hash {
		t.Errorf("ParseOrderID = %x, %v", h, err)
	}
	if a.MakerAmount.Int64() != 56_000_000 || a.TakerAmount.Int64() != 100_000_000 || a.Timestamp.Int64() != 1767225600123 {
		t.Errorf("amounts %s/%s timestamp %s", a.MakerAmount, a.TakerAmount, a.Timestamp)
	}
	if _, err := s.Domain(false).VerifyOrder(&a.OrderV2, a.Signature); err != nil {
		t.Errorf("our own order does not verify: %v", err)
	}
}

func TestBuildRefusesOrdersTheExchangeWouldRefuse(t *testing.T) {
	s := newTestOrderSigner(t)
	for _, c := range []struct {
		name  string
		edit  func(*polymarket.LimitOrder)
		field string
	}{
		{"no client order id or salt", func(o *polymarket.LimitOrder) { o.ClientOrderID = "" }, "client_order_id"},
		{"no timestamp", func(o *polymarket.LimitOrder) { o.Timestamp = time.Time{} }, "timestamp"},
		{"token id not decimal", func(o *polymarket.LimitOrder) { o.TokenID = "0xabc" }, "token_id"},
		{"token id over 256 bits", func(o *polymarket.LimitOrder) { o.TokenID = "1" + strings.Repeat("0", 78) }, "token_id"},
		{"price out of range", func(o *polymarket.LimitOrder) { o.Price = signDec("1") }, "price"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testLimitOrder("x")
			c.edit(&o)
			_, err := s.Build(o)
			if polybot.ErrorFields(err)[c.field] == "" {
				t.Fatalf("error = %v, want one on %s", err, c.field)
			}
		})
	}
}

func TestNewOrderSignerTiesMakerAndSignatureType(t *testing.T) {
	key := signTestSigner(t)
	safe := eip712.MustParseAddress("0x6e0C9E5F3B0B1B9d4A6Ea5c0f5e7E1f1d3B2a4c9")
	for _, c := range []struct {
		name    string
		chain   int64
		typ     polymarket.SignatureType
		funder  eip712.Address
		wantErr bool
	}{
		{"EOA trades its own wallet", polymarket.ChainPolygon, polymarket.SignatureEOA, eip712.Address{}, false},
		{"EOA cannot name another maker", polymarket.ChainPolygon, polymarket.SignatureEOA, safe, true},
		{"a safe order names the safe", polymarket.ChainAmoy, polymarket.SignaturePolyGnosisSafe, safe, false},
		{"a safe order without the safe", polymarket.ChainAmoy, polymarket.SignaturePolyGnosisSafe, eip712.Address{}, true},
		{"a proxy order names the proxy", polymarket.ChainPolygon, polymarket.SignaturePolyProxy, safe, false},
		{"POLY_1271 is not supported", polymarket.ChainPolygon, 3, safe, true},
		{"an unknown chain", 1, polymarket.SignatureEOA, eip712.Address{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := polymarket.NewOrderSigner(key, c.chain, c.typ, c.funder)
			if (err != nil) != c.wantErr {
				t.Fatalf("error = %v, want error %v", err, c.wantErr)
			}
			if err == nil && (s.Address() != key.Address() || (c.funder.IsZero() && s.Maker() != key.Address()) || (!c.funder.IsZero() && s.Maker() != c.funder)) {
				t.Fatalf("signer %s maker %s", s.Address(), s.Maker())
			}
		})
	}
}

var signOrderV2Types = eip712.Types{"Order": {
	{Name: "salt", Type: "uint256"},
	{Name: "maker", Type: "address"},
	{Name: "signer", Type: "address"},
	{Name: "tokenId", Type: "uint256"},
	{Name: "makerAmount", Type: "uint256"},
	{Name: "takerAmount", Type: "uint256"},
	{Name: "side", Type: "uint8"},
	{Name: "signatureType", Type: "uint8"},
	{Name: "timestamp", Type: "uint256"},
	{Name: "metadata", Type: "bytes32"},
	{Name: "builder", Type: "bytes32"},
}}

func TestTheFastOrderHashEqualsTheGenericEIP712Engine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rbig := func(bits int) *big.Int {
		b := make([]byte, bits/8)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return new(big.Int).SetBytes(b)
	}
	for i := range 200 {
		var o polymarket.OrderV2
		o.Salt, o.TokenID, o.MakerAmount, o.TakerAmount, o.Timestamp = rbig(256), rbig(256), rbig(64), rbig(64), rbig(48)
		for j := range 20 {
			o.Maker[j], o.Signer[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		o.Metadata[r.IntN(32)] = byte(r.Uint32())
		o.Builder[r.IntN(32)] = byte(r.Uint32())
		o.Side = polybot.Side(i % 2)
		o.SignatureType = polymarket.SignatureType(i % 3)
		chain := []int64{polymarket.ChainPolygon, polymarket.ChainAmoy}[i%2]
		contract, _ := polymarket.ExchangeContract(chain, i%4 < 2)
		fast, err := polymarket.NewExchangeDomain(chain, contract).HashOrder(&o)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := eip712.HashTypedData(eip712.Domain{Name: "Polymarket CTF Exchange", Version: "2", ChainID: big.NewInt(chain), VerifyingContract: &contract},
			signOrderV2Types, "Order", map[string]any{
				"salt": o.Salt, "maker": o.Maker, "signer": o.Signer, "tokenId": o.TokenID,
				"makerAmount": o.MakerAmount, "takerAmount": o.TakerAmount, "side": uint8(o.Side),
				"signatureType": uint8(o.SignatureType), "timestamp": o.Timestamp, "metadata": o.Metadata, "builder": o.Builder,
			})
		if err != nil {
			t.Fatal(err)
		}
		if fast != slow {
			t.Fatalf("order %d: fast hash %x, generic %x", i, fast, slow)
		}
	}
	bad := polymarket.OrderV2{Salt: big.NewInt(-1), TokenID: big.NewInt(1), MakerAmount: big.NewInt(1), TakerAmount: big.NewInt(1), Timestamp: big.NewInt(1)}
	if _, err := polymarket.NewExchangeDomain(137, eip712.Address{}).HashOrder(&bad); err == nil {
		t.Error("a negative salt was hashed")
	}
}

func TestVerifyOrderRejectsForgedAndAlteredOrders(t *testing.T) {
	key := signTestSigner(t)
	other, _ := eip712.GenerateSigner()
	s := newTestOrderSigner(t)
	good, err := s.Build(testLimitOrder("intent-verify"))
	if err != nil {
		t.Fatal(err)
	}
	dom := s.Domain(false)
	if _, err := dom.VerifyOrder(&good.OrderV2, good.Signature); err != nil {
		t.Fatalf("the untouched order: %v", err)
	}
	n, _ := new(big.Int).SetString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)
	for _, c := range []struct {
		name string
		edit func(o *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain
	}{
		{"maker amount raised", func(o *polymarket.OrderV2, _ *eip712.Signature) *polymarket.ExchangeDomain {
			o.MakerAmount = big.NewInt(56_000_001)
			return dom
		}},
		{"side flipped", func(o *polymarket.OrderV2, _ *eip712.Signature) *polymarket.ExchangeDomain {
			o.Side = polybot.Sell
			return dom
		}},
		{"token swapped", func(o *polymarket.OrderV2, _ *eip712.Signature) *polymarket.ExchangeDomain {
			o.TokenID = big.NewInt(1)
			return dom
		}},
		{"signature bit flipped", func(_ *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain {
			sig[10] ^= 0x40
			return dom
		}},
		{"signature malleated to high S", func(_ *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain {
			new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:64])).FillBytes(sig[32:64])
			sig[64] ^= 27 ^ 28
			return dom
		}},
		{"V as 0 or 1", func(_ *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain {
			sig[64] -= 27
			return dom
		}},
		{"replayed on the neg-risk exchange", func(_ *polymarket.OrderV2, _ *eip712.Signature) *polymarket.ExchangeDomain { return s.Domain(true) }},
		{"replayed on another chain", func(_ *polymarket.OrderV2, _ *eip712.Signature) *polymarket.ExchangeDomain {
			c, _ := polymarket.ExchangeContract(polymarket.ChainAmoy, false)
			return polymarket.NewExchangeDomain(polymarket.ChainAmoy, c)
		}},
		{"signed by another key in the victim's name", func(o *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain {
			h, _ := dom.HashOrder(o)
			*sig, _ = other.SignDigest(h)
			return dom
		}},
		{"EOA order whose maker is not its signer", func(o *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain {
			o.Maker = other.Address()
			h, _ := dom.HashOrder(o)
			*sig, _ = key.SignDigest(h)
			return dom
		}},
		{"POLY_1271 signature type", func(o *polymarket.OrderV2, sig *eip712.Signature) *polymarket.ExchangeDomain {
			o.SignatureType = 3
			h, _ := dom.HashOrder(o)
			*sig, _ = key.SignDigest(h)
			return dom
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := good.OrderV2
			sig := good.Signature
			o.MakerAmount = new(big.Int).Set(good.MakerAmount)
			dm := c.edit(&o, &sig)
			if _, err := dm.VerifyOrder(&o, sig); !errors.Is(err, polymarket.ErrBadOrderSignature) {
				t.Fatalf("error = %v, want ErrBadOrderSignature", err)
			}
		})
	}
	t.Run("a safe order signed by the safe's owner is accepted", func(t *testing.T) {
		safe := eip712.MustParseAddress("0x6e0C9E5F3B0B1B9d4A6Ea5c0f5e7E1f1d3B2a4c9")
		ss, _ := polymarket.NewOrderSigner(key, polymarket.ChainPolygon, polymarket.SignaturePolyGnosisSafe, safe)
		o, err := ss.Build(testLimitOrder("intent-safe"))
		if err != nil {
			t.Fatal(err)
		}
		if o.Maker != safe || o.Signer != key.Address() {
			t.Fatalf("maker %s signer %s", o.Maker, o.Signer)
		}
		if _, err := ss.Domain(false).VerifyOrder(&o.OrderV2, o.Signature); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOrderPayloadMatchesTheWireShapeAndParsesBack(t *testing.T) {
	s := newTestOrderSigner(t)
	o, _ := s.Build(testLimitOrder("intent-json"))
	p, err := o.Payload("api-key", polybot.GTC, true)
	if err != nil {
		t.Fatal(err)
	}
	j := p.Order
	if j.Side != "BUY" || j.Expiration != "0" || j.Maker != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" || j.Salt.String() != o.Salt.String() {
		t.Fatalf("wire order %+v", j)
	}
	back, err := j.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Domain(false).VerifySigned(back); err != nil || back.Hash != o.Hash {
		t.Fatalf("parsed order: %v, hash %x want %x", err, back.Hash, o.Hash)
	}
	for _, tif := range []polybot.TimeInForce{polybot.FOK, polybot.FAK} {
		if _, err := o.Payload("k", tif, true); err == nil {
			t.Errorf("postOnly accepted for %s", tif)
		}
	}
	if _, err := o.Payload("k", "IOC", false); err == nil {
		t.Error("order type IOC accepted")
	}
}

func TestOrderJSONParseNamesEveryMalformedField(t *testing.T) {
	s := newTestOrderSigner(t)
	o, _ := s.Build(testLimitOrder("intent-bad-json"))
	for _, c := range []struct {
		field string
		edit  func(*polymarket.OrderJSON)
	}{
		{"salt", func(j *polymarket.OrderJSON) { j.Salt = "-1" }},
		{"maker", func(j *polymarket.OrderJSON) { j.Maker = "0x12" }},
		{"tokenId", func(j *polymarket.OrderJSON) { j.TokenID = "1e5" }},
		{"makerAmount", func(j *polymarket.OrderJSON) { j.MakerAmount = "" }},
		{"side", func(j *polymarket.OrderJSON) { j.Side = "buy" }},
		{"signatureType", func(j *polymarket.OrderJSON) { j.SignatureType = 7 }},
		{"metadata", func(j *polymarket.OrderJSON) { j.Metadata = "0x00" }},
		{"signature", func(j *polymarket.OrderJSON) { j.Signature = "0xdead" }},
	} {
		j := o.JSON()
		c.edit(&j)
		_, err := j.Parse()
		if polybot.ErrorFields(err)[c.field] == "" {
			t.Errorf("%s: error = %v", c.field, err)
		}
	}
}

func TestVerifyL1RejectsForgedClobAuth(t *testing.T) {
	key := signTestSigner(t)
	other, _ := eip712.GenerateSigner()
	good, err := polymarket.NewL1Auth(key, polymarket.ChainPolygon, 1767225600, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := polymarket.VerifyL1(polymarket.ChainPolygon, good); err != nil {
		t.Fatal(err)
	}
	forged, _ := polymarket.NewL1Auth(other, polymarket.ChainPolygon, 1767225600, 0)
	forged.Address = key.Address()
	for _, c := range []struct {
		name  string
		chain int64
		a     polymarket.L1Auth
	}{
		{"another chain", polymarket.ChainAmoy, good},
		{"timestamp altered", polymarket.ChainPolygon, func() polymarket.L1Auth { a := good; a.Timestamp = "1767225601"; return a }()},
		{"nonce altered", polymarket.ChainPolygon, func() polymarket.L1Auth { a := good; a.Nonce = 1; return a }()},
		{"address claimed by another key", polymarket.ChainPolygon, forged},
		{"signature garbled", polymarket.ChainPolygon, func() polymarket.L1Auth { a := good; a.Signature[3] ^= 1; return a }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := polymarket.VerifyL1(c.chain, c.a); !errors.Is(err, polymarket.ErrBadAuth) {
				t.Fatalf("error = %v, want ErrBadAuth", err)
			}
		})
	}
}

// signCanonical mimics what a net/http server does to incoming header names.
func signCanonical(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out
}

func TestAuthHeadersParseWhetherVerbatimOrCanonicalised(t *testing.T) {
	key := signTestSigner(t)
	l1, _ := polymarket.NewL1Auth(key, polymarket.ChainAmoy, 1767225600, 23)
	l2, _ := polymarket.NewL2Auth(key.Address(), "k", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "pp", 1767225600, "POST", "/order", []byte("{}"))
	for name, h := range map[string]http.Header{"verbatim": l1.Header(), "canonical": signCanonical(l1.Header())} {
		got, err := polymarket.ParseL1Auth(h)
		if err != nil || got != l1 {
			t.Errorf("L1 %s: %+v, %v", name, got, err)
		}
	}
	for name, h := range map[string]http.Header{"verbatim": l2.Header(), "canonical": signCanonical(l2.Header())} {
		got, err := polymarket.ParseL2Auth(h)
		if err != nil || got != l2 {
			t.Errorf("L2 %s: %v, %v", name, got, err)
		}
	}
	if !slices.Contains(slices.Collect(maps.Keys(l1.Header())), "POLY_ADDRESS") {
		t.Error("L1 header names are not sent verbatim")
	}
	noSig := l2.Header()
	delete(noSig, polymarket.HeaderSignature)
	if _, err := polymarket.ParseL2Auth(noSig); !errors.Is(err, polymarket.ErrBadAuth) {
		t.Errorf("L2 headers without a signature: %v", err)
	}
}

func TestVerifyL2RejectsAlteredRequests(t *testing.T) {
	const secret = "c2VjcmV0LWtleS1mb3ItdGVzdHM_Pz8-Pj4-c2VjcmV0"
	body := []byte(`{"orderID":"0x01"}`)
	sig, err := polymarket.SignL2(secret, "1767225600", "DELETE", "/order", body)
	if err != nil {
		t.Fatal(err)
	}
	if !polymarket.VerifyL2(secret, "1767225600", "DELETE", "/order", body, sig) {
		t.Fatal("the untouched request did not verify")
	}
	if q, _ := polymarket.SignL2(secret, "1767225600", "DELETE", "/order?id=1", body); q != sig {
		t.Error("the query string was signed; the venue signs the path alone")
	}
	for _, c := range []struct {
		name                     string
		secret, ts, method, path string
		body                     []byte
		sig                      string
	}{
		{"body altered", secret, "1767225600", "DELETE", "/order", []byte(`{"orderID":"0x02"}`), sig},
		{"body dropped", secret, "1767225600", "DELETE", "/order", nil, sig},
		{"method altered", secret, "1767225600", "POST", "/order", body, sig},
		{"path altered", secret, "1767225600", "DELETE", "/orders", body, sig},
		{"timestamp altered", secret, "1767225601", "DELETE", "/order", body, sig},
		{"another secret", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1767225600", "DELETE", "/order", body, sig},
		{"padding dropped", secret, "1767225600", "DELETE", "/order", body, strings.TrimRight(sig, "=")},
		{"empty signature", secret, "1767225600", "DELETE", "/order", body, ""},
		{"secret not base64", "!!", "1767225600", "DELETE", "/order", body, sig},
	} {
		t.Run(c.name, func(t *testing.T) {
			if polymarket.VerifyL2(c.secret, c.ts, c.method, c.path, c.body, c.sig) {
				t.Fatal("verified")
			}
		})
	}
	a := polymarket.L2Auth{Signature: sig, Timestamp: "1767225600"}
	if err := a.Verify(secret, "DELETE", "/order", body); err != nil {
		t.Errorf("L2Auth.Verify: %v", err)
	}
	if err := a.Verify(secret, "DELETE", "/order", nil); !errors.Is(err, polymarket.ErrBadAuth) {
		t.Errorf("L2Auth.Verify of an altered request: %v", err)
	}
}

func TestL2AuthNeverPrintsThePassphrase(t *testing.T) {
	a, _ := polymarket.NewL2Auth(eip712.Address{}, "key", "AAAA", "hunter2-passphrase", 1, "GET", "/", nil)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, a); strings.Contains(out, "hunter2") {
			t.Fatalf("%s printed the passphrase: %s", verb, out)
		}
	}
}

// BenchmarkSignOrderV2 measures a whole limit-order build: rounding, salt,
// EIP-712 hash and secp256k1 signature. Run with
//
//	go test ./internal/venue/polymarket -run '^$' -bench SignOrderV2 -benchmem
func BenchmarkSignOrderV2(b *testing.B) {
	s := newTestOrderSigner(b)
	o := testLimitOrder("intent-bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Build(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashOrderV2(b *testing.B) {
	s := newTestOrderSigner(b)
	o, _ := s.Build(testLimitOrder("intent-bench"))
	dom := s.Domain(false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dom.HashOrder(&o.OrderV2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyOrderV2(b *testing.B) {
	s := newTestOrderSigner(b)
	o, _ := s.Build(testLimitOrder("intent-bench"))
	dom := s.Domain(false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dom.VerifyOrder(&o.OrderV2, o.Signature); err != nil {
			b.Fatal(err)
		}
	}
}
