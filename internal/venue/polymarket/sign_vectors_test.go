package polymarket_test

import (
	"math/big"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// The published vectors of issue 3 (Polymarket's own client test suites).
const publishedKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

func signTestSigner(t testing.TB) *eip712.Signer {
	t.Helper()
	s, err := eip712.NewSigner(publishedKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublishedV1OrderVectorSignsToThePublishedSignature(t *testing.T) {
	s := signTestSigner(t)
	o := &polymarket.OrderV1{
		Salt:          big.NewInt(479249096354),
		Maker:         s.Address(),
		Signer:        s.Address(),
		TokenID:       big.NewInt(1234),
		MakerAmount:   big.NewInt(100000000),
		TakerAmount:   big.NewInt(50000000),
		Expiration:    big.NewInt(0),
		Nonce:         big.NewInt(0),
		FeeRateBps:    big.NewInt(100),
		Side:          polybot.Buy,
		SignatureType: polymarket.SignatureEOA,
	}
	contract := eip712.MustParseAddress("0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40")
	if c, _ := polymarket.ExchangeContractV1(polymarket.ChainAmoy, false); c != contract {
		t.Fatalf("V1 Amoy exchange = %s, want %s", c, contract)
	}
	h, err := polymarket.HashOrderV1(polymarket.ChainAmoy, contract, o)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.SignDigest(h)
	if err != nil {
		t.Fatal(err)
	}
	const want = "0x302cd9abd0b5fcaa202a344437ec0b6660da984e24ae9ad915a592a90facf5a51bb8a873cd8d270f070217fea1986531d5eec66f1162a81f66e026db653bf7ce1c"
	if sig.String() != want {
		t.Fatalf("signature\n got %s\nwant %s", sig, want)
	}
	if got, err := eip712.Recover(h, sig); err != nil || got != s.Address() {
		t.Fatalf("recover = %s, %v; want %s", got, err, s.Address())
	}
}

func TestPublishedClobAuthVectorSignsToThePublishedSignature(t *testing.T) {
	s := signTestSigner(t)
	sig, err := polymarket.SignClobAuth(s, polymarket.ChainAmoy, "10000000", 23)
	if err != nil {
		t.Fatal(err)
	}
	const want = "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b"
	if sig.String() != want {
		t.Fatalf("signature\n got %s\nwant %s", sig, want)
	}
	a, err := polymarket.NewL1Auth(s, polymarket.ChainAmoy, 10000000, 23)
	if err != nil {
		t.Fatal(err)
	}
	if a.Signature.String() != want || a.Timestamp != "10000000" || a.Nonce != 23 {
		t.Fatalf("NewL1Auth = %+v", a)
	}
	if err := polymarket.VerifyL1(polymarket.ChainAmoy, a); err != nil {
		t.Fatalf("VerifyL1 refused the published signature: %v", err)
	}
}

func TestPublishedHMACVectorSignsToThePublishedSignature(t *testing.T) {
	const want = "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
	got, err := polymarket.SignL2("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1000000", "test-sign", "/orders", []byte(`{"hash": "0x123"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	if !polymarket.VerifyL2("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1000000", "test-sign", "/orders", []byte(`{"hash": "0x123"}`), want) {
		t.Fatal("VerifyL2 refused the published signature")
	}
}
