// The sign*.go files own Polymarket's cryptography: EIP-712 orders (V2, and
// V1 for the published test vectors), their amounts and tick-size rounding,
// the POST /order body, L1 (ClobAuth) and L2 (HMAC) request auth, and the
// matching verify functions the simulator uses. They hold no key: signing
// goes through a DigestSigner (internal/eip712.Signer). They must not import
// the store, the engine or any other venue package.

package polymarket

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
)

// Chain ids Polymarket runs on.
const (
	ChainPolygon int64 = 137
	ChainAmoy    int64 = 80002
)

// SignatureType says how the exchange checks an order's signature.
type SignatureType uint8

const (
	// SignatureEOA: the maker is the signing wallet itself.
	SignatureEOA SignatureType = 0
	// SignaturePolyProxy: the maker is a Polymarket proxy wallet owned by the signer.
	SignaturePolyProxy SignatureType = 1
	// SignaturePolyGnosisSafe: the maker is a Gnosis Safe owned by the signer.
	SignaturePolyGnosisSafe SignatureType = 2
)

func (t SignatureType) String() string {
	switch t {
	case SignatureEOA:
		return "EOA"
	case SignaturePolyProxy:
		return "POLY_PROXY"
	case SignaturePolyGnosisSafe:
		return "POLY_GNOSIS_SAFE"
	}
	return fmt.Sprintf("SignatureType(%d)", uint8(t))
}

func (t SignatureType) valid() bool { return t <= SignaturePolyGnosisSafe }

// DigestSigner signs 32-byte digests with one wallet key. *eip712.Signer
// implements it; so could a remote signer.
type DigestSigner interface {
	Address() eip712.Address
	SignDigest(digest eip712.Hash) (eip712.Signature, error)
}

var _ DigestSigner = (*eip712.Signer)(nil)

// Exchange contracts (verifying contracts of the order domain), from the
// official @polymarket/clob-client-v2 1.1.0 config. The V2 exchanges have
// the same address on Polygon and Amoy.
var (
	exchangeV2        = eip712.MustParseAddress("0xE111180000d2663C0091e4f400237545B87B996B")
	negRiskExchangeV2 = eip712.MustParseAddress("0xe2222d279d744050d28e00520010520000310F59")
	// V1 (retired) contracts, kept for the published vectors.
	exchangeV1Polygon = eip712.MustParseAddress("0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E")
	exchangeV1Amoy    = eip712.MustParseAddress("0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40")
	negRiskExchangeV1 = eip712.MustParseAddress("0xC5d563A36AE78145C45a50134d48A1215220f80a")
)

// ExchangeContract returns the V2 exchange that verifies orders on chainID:
// the CTF exchange, or the NegRisk exchange for neg-risk markets.
func ExchangeContract(chainID int64, negRisk bool) (eip712.Address, error) {
	if chainID != ChainPolygon && chainID != ChainAmoy {
		return eip712.Address{}, fmt.Errorf("polymarket: no exchange on chain %d", chainID)
	}
	if negRisk {
		return negRiskExchangeV2, nil
	}
	return exchangeV2, nil
}

// ExchangeContractV1 returns the retired V1 exchange on chainID.
func ExchangeContractV1(chainID int64, negRisk bool) (eip712.Address, error) {
	switch {
	case chainID != ChainPolygon && chainID != ChainAmoy:
		return eip712.Address{}, fmt.Errorf("polymarket: no exchange on chain %d", chainID)
	case negRisk:
		return negRiskExchangeV1, nil
	case chainID == ChainPolygon:
		return exchangeV1Polygon, nil
	}
	return exchangeV1Amoy, nil
}

// The order domain's name and the V2 order type, exactly as the exchange
// contract hashes them.
const (
	ExchangeDomainName = "Polymarket CTF Exchange"
	orderV2Type        = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)

var orderV2TypeHash = eip712.Keccak256([]byte(orderV2Type))

// OrderV2 is the struct a CLOB V2 order signs. Integers are uint256; Side
// is 0 for BUY and 1 for SELL (polybot.Buy and polybot.Sell); Timestamp is
// the creation time in Unix milliseconds.
type OrderV2 struct {
	Salt          *big.Int
	Maker         eip712.Address
	Signer        eip712.Address
	TokenID       *big.Int
	MakerAmount   *big.Int
	TakerAmount   *big.Int
	Side          polybot.Side
	SignatureType SignatureType
	Timestamp     *big.Int
	Metadata      eip712.Hash
	Builder       eip712.Hash
}

func (o *OrderV2) check() error {
	for _, f := range [...]struct {
		name string
		v    *big.Int
	}{{"salt", o.Salt}, {"tokenId", o.TokenID}, {"makerAmount", o.MakerAmount}, {"takerAmount", o.TakerAmount}, {"timestamp", o.Timestamp}} {
		if f.v == nil || f.v.Sign() < 0 || f.v.BitLen() > 256 {
			return fmt.Errorf("polymarket: order %s is not a uint256", f.name)
		}
	}
	if o.Side > polybot.Sell {
		return errors.New("polymarket: order side must be BUY or SELL")
	}
	return nil
}

// ExchangeDomain is the V2 EIP-712 domain ("Polymarket CTF Exchange",
// version "2") of one exchange contract on one chain, with its separator
// computed once. Build it once and reuse it; it is safe for concurrent use.
type ExchangeDomain struct {
	ChainID  int64
	Contract eip712.Address
	sep      eip712.Hash
}

// NewExchangeDomain returns the V2 domain of contract on chainID. Use
// ExchangeContract for the real contracts; a simulator may use any address.
func NewExchangeDomain(chainID int64, contract eip712.Address) *ExchangeDomain {
	sep, err := eip712.Domain{
		Name:              ExchangeDomainName,
		Version:           "2",
		ChainID:           big.NewInt(chainID),
		VerifyingContract: &contract,
	}.Separator()
	if err != nil {
		panic(err) // static types: cannot fail
	}
	return &ExchangeDomain{ChainID: chainID, Contract: contract, sep: sep}
}

// Separator returns the domain separator.
func (d *ExchangeDomain) Separator() eip712.Hash { return d.sep }

// HashOrder returns the EIP-712 digest of o: what the wallet signs, and the
// order id the CLOB reports.
func (d *ExchangeDomain) HashOrder(o *OrderV2) (eip712.Hash, error) {
	if err := o.check(); err != nil {
		return eip712.Hash{}, err
	}
	var enc [12 * 32]byte
	copy(enc[0:32], orderV2TypeHash[:])
	o.Salt.FillBytes(enc[32:64])
	copy(enc[76:96], o.Maker[:])
	copy(enc[108:128], o.Signer[:])
	o.TokenID.FillBytes(enc[128:160])
	o.MakerAmount.FillBytes(enc[160:192])
	o.TakerAmount.FillBytes(enc[192:224])
	enc[255] = byte(o.Side)
	enc[287] = byte(o.SignatureType)
	o.Timestamp.FillBytes(enc[288:320])
	copy(enc[320:352], o.Metadata[:])
	copy(enc[352:384], o.Builder[:])
	return eip712.Digest(d.sep, eip712.Keccak256(enc[:])), nil
}

// SignOrder signs o with s and returns the signature and the order hash.
// o.Signer must be s's address.
func (d *ExchangeDomain) SignOrder(s DigestSigner, o *OrderV2) (eip712.Signature, eip712.Hash, error) {
	if o.Signer != s.Address() {
		return eip712.Signature{}, eip712.Hash{}, errors.New("polymarket: order signer is not the signing key's address")
	}
	h, err := d.HashOrder(o)
	if err != nil {
		return eip712.Signature{}, h, err
	}
	sig, err := s.SignDigest(h)
	return sig, h, err
}

// ErrBadOrderSignature is returned (wrapped) by VerifyOrder.
var ErrBadOrderSignature = errors.New("polymarket: invalid order signature")

// VerifyOrder checks sig over o as the exchange does for the off-chain
// signature types: the recovered address must be o.Signer, and for an EOA
// order the signer must be the maker. For POLY_PROXY and POLY_GNOSIS_SAFE
// the maker is a wallet contract owned by the signer; that ownership lives
// on chain and is not checked here. It returns the order hash.
func (d *ExchangeDomain) VerifyOrder(o *OrderV2, sig eip712.Signature) (eip712.Hash, error) {
	if !o.SignatureType.valid() {
		return eip712.Hash{}, fmt.Errorf("%w: unsupported signature type %d", ErrBadOrderSignature, o.SignatureType)
	}
	h, err := d.HashOrder(o)
	if err != nil {
		return h, err
	}
	got, err := eip712.Recover(h, sig)
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrBadOrderSignature, err)
	}
	if got != o.Signer {
		return h, fmt.Errorf("%w: signed by %s, not the order's signer %s", ErrBadOrderSignature, got, o.Signer)
	}
	if o.SignatureType == SignatureEOA && o.Signer != o.Maker {
		return h, fmt.Errorf("%w: an EOA order's signer must be its maker", ErrBadOrderSignature)
	}
	return h, nil
}

// VerifySigned checks o's signature as VerifyOrder does and sets o.Hash.
func (d *ExchangeDomain) VerifySigned(o *SignedOrder) error {
	h, err := d.VerifyOrder(&o.OrderV2, o.Signature)
	if err != nil {
		return err
	}
	o.Hash = h
	return nil
}

// OrderID formats an order hash as the CLOB's order id: 0x and 64
// lowercase hex digits.
func OrderID(hash eip712.Hash) string { return eip712.HexHash(hash) }

// ParseOrderID parses an order id back to the order hash.
func ParseOrderID(id string) (eip712.Hash, error) { return eip712.ParseHash(strings.ToLower(id)) }

// maxSalt keeps salts below 2^53: the official client sends the salt as a
// JSON number, and every JSON reader holds such integers exactly.
const maxSalt = 1 << 53

// SaltFor derives an order's salt from its client order id: the same id
// always gives the same salt, so a retried build gives the same order hash.
// It is in [1, 2^53).
func SaltFor(clientOrderID string) *big.Int {
	h := sha256.Sum256([]byte("polybot/polymarket/salt\x00" + clientOrderID))
	v := binary.BigEndian.Uint64(h[:8]) % (maxSalt - 1)
	return new(big.Int).SetUint64(v + 1)
}

// SignedOrder is a V2 order with its signature and hash, ready for the
// POST /order body. Expiration (Unix seconds, 0 for none; GTD orders only)
// travels in the body but is not covered by the V2 signature.
type SignedOrder struct {
	OrderV2
	Expiration *big.Int
	Signature  eip712.Signature
	Hash       eip712.Hash
}

// ID returns the CLOB order id (the order hash).
func (o *SignedOrder) ID() string { return OrderID(o.Hash) }

// LimitOrder is what the connector asks to sign.
type LimitOrder struct {
	// ClientOrderID seeds the salt (SaltFor). Required unless Salt is set.
	ClientOrderID string
	// Salt overrides the derived salt (to reproduce another client's order).
	Salt *big.Int
	// TokenID is the outcome token's decimal uint256 id.
	TokenID string
	Side    polybot.Side
	// Price in dollars and Size in shares; rounded by LimitAmounts.
	Price, Size polybot.Decimal
	// TickSize of the market: 0.1, 0.01, 0.005, 0.0025, 0.001 or 0.0001.
	TickSize polybot.Decimal
	// NegRisk selects the NegRisk exchange.
	NegRisk bool
	// Timestamp is the order's creation time (millisecond precision).
	// Required: it is signed, so the engine's clock decides it.
	Timestamp time.Time
	// Expiration is set for GTD orders only.
	Expiration time.Time
	// Metadata and Builder are the V2 bytes32 fields; zero unless an
	// integration asks for them.
	Metadata, Builder eip712.Hash
}

// OrderSigner builds and signs orders for one wallet on one chain. It is
// safe for concurrent use.
type OrderSigner struct {
	key      DigestSigner
	maker    eip712.Address
	sigType  SignatureType
	chainID  int64
	standard *ExchangeDomain
	negRisk  *ExchangeDomain
}

// NewOrderSigner returns an OrderSigner for the real V2 exchanges on
// chainID. funder is the maker wallet: the zero address means the key's own
// address, which an EOA order requires; POLY_PROXY and POLY_GNOSIS_SAFE
// orders name the proxy or safe that holds the funds.
func NewOrderSigner(key DigestSigner, chainID int64, sigType SignatureType, funder eip712.Address) (*OrderSigner, error) {
	std, err := ExchangeContract(chainID, false)
	if err != nil {
		return nil, err
	}
	neg, _ := ExchangeContract(chainID, true)
	return NewOrderSignerAt(key, chainID, sigType, funder, std, neg)
}

// NewOrderSignerAt is NewOrderSigner with explicit exchange contracts (for
// a simulator or a test chain).
func NewOrderSignerAt(key DigestSigner, chainID int64, sigType SignatureType, funder, exchange, negRiskExchange eip712.Address) (*OrderSigner, error) {
	if key == nil {
		return nil, errors.New("polymarket: nil signer")
	}
	if !sigType.valid() {
		return nil, fmt.Errorf("polymarket: unsupported signature type %d", sigType)
	}
	maker := funder
	if maker.IsZero() {
		maker = key.Address()
	}
	if sigType == SignatureEOA && maker != key.Address() {
		return nil, errors.New("polymarket: an EOA order's maker must be the signing wallet; use POLY_PROXY or POLY_GNOSIS_SAFE for a funder")
	}
	if sigType != SignatureEOA && maker == key.Address() {
		return nil, fmt.Errorf("polymarket: a %s order needs the funder (proxy or safe) address", sigType)
	}
	return &OrderSigner{
		key:      key,
		maker:    maker,
		sigType:  sigType,
		chainID:  chainID,
		standard: NewExchangeDomain(chainID, exchange),
		negRisk:  NewExchangeDomain(chainID, negRiskExchange),
	}, nil
}

// Address returns the signing wallet (the orders' signer and POLY_ADDRESS).
func (s *OrderSigner) Address() eip712.Address { return s.key.Address() }

// Maker returns the funding wallet (the orders' maker).
func (s *OrderSigner) Maker() eip712.Address { return s.maker }

// SignatureType returns the orders' signature type.
func (s *OrderSigner) SignatureType() SignatureType { return s.sigType }

// ChainID returns the chain the orders are signed for.
func (s *OrderSigner) ChainID() int64 { return s.chainID }

// Domain returns the exchange domain for standard or neg-risk markets.
func (s *OrderSigner) Domain(negRisk bool) *ExchangeDomain {
	if negRisk {
		return s.negRisk
	}
	return s.standard
}

// Build rounds the order's price and size by its tick size, computes the
// amounts, derives the salt from the client order id, and signs it.
func (s *OrderSigner) Build(o LimitOrder) (*SignedOrder, error) {
	amt, err := LimitAmounts(o.Side, o.Price, o.Size, o.TickSize)
	if err != nil {
		return nil, err
	}
	return s.build(orderCommon{o.ClientOrderID, o.Salt, o.TokenID, o.Side, o.NegRisk, o.Timestamp, o.Expiration, o.Metadata, o.Builder}, amt)
}

// MarketOrder is a market order to sign: Amount is dollars to spend for a
// BUY and shares to sell for a SELL; Price is the worst acceptable price.
// It is sent as FOK or FAK.
type MarketOrder struct {
	ClientOrderID string
	Salt          *big.Int
	TokenID       string
	Side          polybot.Side
	Amount, Price polybot.Decimal
	TickSize      polybot.Decimal
	NegRisk       bool
	Timestamp     time.Time
	Metadata      eip712.Hash
	Builder       eip712.Hash
}

// BuildMarket computes a market order's amounts (MarketAmounts) and signs it.
func (s *OrderSigner) BuildMarket(o MarketOrder) (*SignedOrder, error) {
	amt, err := MarketAmounts(o.Side, o.Amount, o.Price, o.TickSize)
	if err != nil {
		return nil, err
	}
	return s.build(orderCommon{o.ClientOrderID, o.Salt, o.TokenID, o.Side, o.NegRisk, o.Timestamp, time.Time{}, o.Metadata, o.Builder}, amt)
}

type orderCommon struct {
	clientOrderID     string
	salt              *big.Int
	tokenID           string
	side              polybot.Side
	negRisk           bool
	timestamp         time.Time
	expiration        time.Time
	metadata, builder eip712.Hash
}

func (s *OrderSigner) build(o orderCommon, amt Amounts) (*SignedOrder, error) {
	salt := o.salt
	if salt == nil {
		if o.clientOrderID == "" {
			return nil, polybot.FieldError("client_order_id", "required")
		}
		salt = SaltFor(o.clientOrderID)
	}
	if o.timestamp.IsZero() {
		return nil, polybot.FieldError("timestamp", "required")
	}
	token, ok := new(big.Int).SetString(o.tokenID, 10)
	if !ok || token.Sign() < 0 || token.BitLen() > 256 {
		return nil, polybot.FieldError("token_id", "not a uint256 decimal")
	}
	exp := new(big.Int)
	if !o.expiration.IsZero() {
		exp.SetInt64(o.expiration.Unix())
	}
	return s.Sign(OrderV2{
		Salt:          salt,
		Maker:         s.maker,
		Signer:        s.key.Address(),
		TokenID:       token,
		MakerAmount:   big.NewInt(amt.Maker.Micros()),
		TakerAmount:   big.NewInt(amt.Taker.Micros()),
		Side:          o.side,
		SignatureType: s.sigType,
		Timestamp:     big.NewInt(o.timestamp.UnixMilli()),
		Metadata:      o.metadata,
		Builder:       o.builder,
	}, o.negRisk, exp)
}

// Sign signs an order whose amounts the caller already computed, for the
// standard or the neg-risk exchange. expiration may be nil (none).
func (s *OrderSigner) Sign(o OrderV2, negRisk bool, expiration *big.Int) (*SignedOrder, error) {
	if expiration == nil {
		expiration = new(big.Int)
	}
	sig, h, err := s.Domain(negRisk).SignOrder(s.key, &o)
	if err != nil {
		return nil, err
	}
	return &SignedOrder{OrderV2: o, Expiration: expiration, Signature: sig, Hash: h}, nil
}

// OrderV1 is the retired V1 order struct, kept because the published test
// vectors use it.
type OrderV1 struct {
	Salt          *big.Int
	Maker         eip712.Address
	Signer        eip712.Address
	Taker         eip712.Address
	TokenID       *big.Int
	MakerAmount   *big.Int
	TakerAmount   *big.Int
	Expiration    *big.Int
	Nonce         *big.Int
	FeeRateBps    *big.Int
	Side          polybot.Side
	SignatureType SignatureType
}

var orderV1Types = eip712.Types{"Order": {
	{Name: "salt", Type: "uint256"},
	{Name: "maker", Type: "address"},
	{Name: "signer", Type: "address"},
	{Name: "taker", Type: "address"},
	{Name: "tokenId", Type: "uint256"},
	{Name: "makerAmount", Type: "uint256"},
	{Name: "takerAmount", Type: "uint256"},
	{Name: "expiration", Type: "uint256"},
	{Name: "nonce", Type: "uint256"},
	{Name: "feeRateBps", Type: "uint256"},
	{Name: "side", Type: "uint8"},
	{Name: "signatureType", Type: "uint8"},
}}

// HashOrderV1 returns the EIP-712 digest of a V1 order under the domain
// ("Polymarket CTF Exchange", version "1", chainID, contract).
func HashOrderV1(chainID int64, contract eip712.Address, o *OrderV1) (eip712.Hash, error) {
	return eip712.HashTypedData(eip712.Domain{
		Name:              ExchangeDomainName,
		Version:           "1",
		ChainID:           big.NewInt(chainID),
		VerifyingContract: &contract,
	}, orderV1Types, "Order", map[string]any{
		"salt":          o.Salt,
		"maker":         o.Maker,
		"signer":        o.Signer,
		"taker":         o.Taker,
		"tokenId":       o.TokenID,
		"makerAmount":   o.MakerAmount,
		"takerAmount":   o.TakerAmount,
		"expiration":    o.Expiration,
		"nonce":         o.Nonce,
		"feeRateBps":    o.FeeRateBps,
		"side":          uint8(o.Side),
		"signatureType": uint8(o.SignatureType),
	})
}
