package polymarket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"

	"github.com/polybot/polybot/internal/eip712"
)

// Auth header names, exactly as the official client sends them.
const (
	HeaderAddress    = "POLY_ADDRESS"
	HeaderSignature  = "POLY_SIGNATURE"
	HeaderTimestamp  = "POLY_TIMESTAMP"
	HeaderNonce      = "POLY_NONCE"
	HeaderAPIKey     = "POLY_API_KEY"
	HeaderPassphrase = "POLY_PASSPHRASE"
)

// ClobAuthMessage is the fixed text an L1 signature attests.
const ClobAuthMessage = "This message attests that I control the given wallet"

var clobAuthTypes = eip712.Types{"ClobAuth": {
	{Name: "address", Type: "address"},
	{Name: "timestamp", Type: "string"},
	{Name: "nonce", Type: "uint256"},
	{Name: "message", Type: "string"},
}}

// ClobAuthDigest returns the EIP-712 digest of
// ClobAuth(address address,string timestamp,uint256 nonce,string message)
// under the domain ("ClobAuthDomain", version "1", chainID).
func ClobAuthDigest(chainID int64, address eip712.Address, timestamp string, nonce uint64) eip712.Hash {
	h, err := eip712.HashTypedData(eip712.Domain{
		Name:    "ClobAuthDomain",
		Version: "1",
		ChainID: big.NewInt(chainID),
	}, clobAuthTypes, "ClobAuth", map[string]any{
		"address":   address,
		"timestamp": timestamp,
		"nonce":     nonce,
		"message":   ClobAuthMessage,
	})
	if err != nil {
		panic(err) // static types: cannot fail
	}
	return h
}

// SignClobAuth signs the L1 ClobAuth message for s's address. timestamp is
// Unix seconds in decimal, as sent in POLY_TIMESTAMP.
func SignClobAuth(s DigestSigner, chainID int64, timestamp string, nonce uint64) (eip712.Signature, error) {
	return s.SignDigest(ClobAuthDigest(chainID, s.Address(), timestamp, nonce))
}

// L1Auth is the content of the L1 headers (POLY_ADDRESS, POLY_SIGNATURE,
// POLY_TIMESTAMP, POLY_NONCE), used to create or derive API credentials.
type L1Auth struct {
	Address   eip712.Address
	Signature eip712.Signature
	Timestamp string
	Nonce     uint64
}

// NewL1Auth signs a ClobAuth for s at timestamp (Unix seconds).
func NewL1Auth(s DigestSigner, chainID, timestamp int64, nonce uint64) (L1Auth, error) {
	ts := strconv.FormatInt(timestamp, 10)
	sig, err := SignClobAuth(s, chainID, ts, nonce)
	if err != nil {
		return L1Auth{}, err
	}
	return L1Auth{Address: s.Address(), Signature: sig, Timestamp: ts, Nonce: nonce}, nil
}

// Header returns the L1 headers. The keys are set verbatim (POLY_ADDRESS,
// not the canonical Poly_address) so the request matches the official
// client byte for byte; read them with ParseL1Auth, not Header.Get.
func (a L1Auth) Header() http.Header {
	return http.Header{
		HeaderAddress:   {a.Address.String()},
		HeaderSignature: {a.Signature.String()},
		HeaderTimestamp: {a.Timestamp},
		HeaderNonce:     {strconv.FormatUint(a.Nonce, 10)},
	}
}

// ParseL1Auth reads the L1 headers of a request. A missing POLY_NONCE is
// nonce 0, as the official client defaults it.
func ParseL1Auth(h http.Header) (L1Auth, error) {
	var a L1Auth
	var err error
	if a.Address, err = eip712.ParseAddress(headerValue(h, HeaderAddress)); err != nil {
		return a, fmt.Errorf("%w: %s: %v", ErrBadAuth, HeaderAddress, err)
	}
	if a.Signature, err = eip712.ParseSignature(headerValue(h, HeaderSignature)); err != nil {
		return a, fmt.Errorf("%w: %s: %v", ErrBadAuth, HeaderSignature, err)
	}
	if a.Timestamp = headerValue(h, HeaderTimestamp); a.Timestamp == "" {
		return a, fmt.Errorf("%w: %s is missing", ErrBadAuth, HeaderTimestamp)
	}
	if n := headerValue(h, HeaderNonce); n != "" {
		if a.Nonce, err = strconv.ParseUint(n, 10, 64); err != nil {
			return a, fmt.Errorf("%w: %s is not a number", ErrBadAuth, HeaderNonce)
		}
	}
	return a, nil
}

// ErrBadAuth is returned (wrapped) for missing, malformed or forged auth.
var ErrBadAuth = errors.New("polymarket: invalid authentication")

// VerifyL1 checks that a.Signature is a ClobAuth signature by a.Address on
// chainID. Timestamp freshness is the caller's policy.
func VerifyL1(chainID int64, a L1Auth) error {
	got, err := eip712.Recover(ClobAuthDigest(chainID, a.Address, a.Timestamp, a.Nonce), a.Signature)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadAuth, err)
	}
	if got != a.Address {
		return fmt.Errorf("%w: signature is not by %s", ErrBadAuth, a.Address)
	}
	return nil
}

// SignL2 returns the L2 signature of a request:
// base64url(HMAC-SHA256(secret, timestamp + method + path + body)), padding
// kept. secret is the API secret in base64 (URL or standard alphabet,
// padded or not); method is upper case; a query string on requestPath is
// dropped, since the venue signs the path alone.
func SignL2(secret, timestamp, method, requestPath string, body []byte) (string, error) {
	mac, err := l2MAC(secret, timestamp, method, requestPath, body)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(mac), nil
}

// VerifyL2 reports whether signature is exactly the L2 signature of the
// request (base64url with padding), comparing in constant time.
func VerifyL2(secret, timestamp, method, requestPath string, body []byte, signature string) bool {
	mac, err := l2MAC(secret, timestamp, method, requestPath, body)
	if err != nil {
		return false
	}
	want := base64.URLEncoding.EncodeToString(mac)
	return hmac.Equal([]byte(want), []byte(signature))
}

func l2MAC(secret, timestamp, method, requestPath string, body []byte) ([]byte, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("polymarket: API secret is not base64: %w", err)
	}
	if len(key) == 0 {
		return nil, errors.New("polymarket: API secret is empty")
	}
	if i := strings.IndexByte(requestPath, '?'); i >= 0 {
		requestPath = requestPath[:i]
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp))
	m.Write([]byte(method))
	m.Write([]byte(requestPath))
	m.Write(body)
	return m.Sum(nil), nil
}

// decodeSecret decodes base64 in either alphabet, with or without padding.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	return base64.RawStdEncoding.DecodeString(s)
}

// L2Auth is the content of the L2 headers (POLY_ADDRESS, POLY_SIGNATURE,
// POLY_TIMESTAMP, POLY_API_KEY, POLY_PASSPHRASE). Passphrase is a secret:
// the type prints it redacted.
type L2Auth struct {
	Address    eip712.Address
	Signature  string
	Timestamp  string
	APIKey     string
	Passphrase string
}

// NewL2Auth signs a request for the wallet address with the API
// credentials (key, secret, passphrase) at timestamp (Unix seconds).
func NewL2Auth(address eip712.Address, apiKey, secret, passphrase string, timestamp int64, method, requestPath string, body []byte) (L2Auth, error) {
	ts := strconv.FormatInt(timestamp, 10)
	sig, err := SignL2(secret, ts, method, requestPath, body)
	if err != nil {
		return L2Auth{}, err
	}
	return L2Auth{Address: address, Signature: sig, Timestamp: ts, APIKey: apiKey, Passphrase: passphrase}, nil
}

// Header returns the L2 headers, keys set verbatim as L1Auth.Header does.
func (a L2Auth) Header() http.Header {
	return http.Header{
		HeaderAddress:    {a.Address.String()},
		HeaderSignature:  {a.Signature},
		HeaderTimestamp:  {a.Timestamp},
		HeaderAPIKey:     {a.APIKey},
		HeaderPassphrase: {a.Passphrase},
	}
}

// ParseL2Auth reads the L2 headers of a request.
func ParseL2Auth(h http.Header) (L2Auth, error) {
	var a L2Auth
	var err error
	if a.Address, err = eip712.ParseAddress(headerValue(h, HeaderAddress)); err != nil {
		return a, fmt.Errorf("%w: %s: %v", ErrBadAuth, HeaderAddress, err)
	}
	a.Signature = headerValue(h, HeaderSignature)
	a.Timestamp = headerValue(h, HeaderTimestamp)
	a.APIKey = headerValue(h, HeaderAPIKey)
	a.Passphrase = headerValue(h, HeaderPassphrase)
	for _, f := range [...]struct{ name, v string }{
		{HeaderSignature, a.Signature}, {HeaderTimestamp, a.Timestamp}, {HeaderAPIKey, a.APIKey}, {HeaderPassphrase, a.Passphrase},
	} {
		if f.v == "" {
			return a, fmt.Errorf("%w: %s is missing", ErrBadAuth, f.name)
		}
	}
	return a, nil
}

// Verify checks a's signature over the request with the API secret that
// belongs to a.APIKey. Matching the key, passphrase and address to an
// account, and the timestamp's freshness, are the caller's job.
func (a L2Auth) Verify(secret, method, requestPath string, body []byte) error {
	if !VerifyL2(secret, a.Timestamp, method, requestPath, body, a.Signature) {
		return fmt.Errorf("%w: bad L2 signature", ErrBadAuth)
	}
	return nil
}

// String prints a with the passphrase redacted.
func (a L2Auth) String() string {
	return fmt.Sprintf("{Address:%s Signature:%s Timestamp:%s APIKey:%s Passphrase:[REDACTED]}", a.Address, a.Signature, a.Timestamp, a.APIKey)
}

// Format prints the redacted form under every verb.
func (a L2Auth) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// LogValue makes slog log a without the passphrase.
func (a L2Auth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("address", a.Address.String()), slog.String("api_key", a.APIKey), slog.String("passphrase", "[REDACTED]"))
}

// headerValue reads a header whether it was set verbatim (client side) or
// canonicalised (as net/http servers store incoming headers).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return h.Get(key)
}
