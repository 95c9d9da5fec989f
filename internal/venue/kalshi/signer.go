package kalshi

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of Kalshi's API-key authentication.
const (
	HeaderKey       = "KALSHI-ACCESS-KEY"
	HeaderTimestamp = "KALSHI-ACCESS-TIMESTAMP"
	HeaderSignature = "KALSHI-ACCESS-SIGNATURE"
)

const redacted = "[REDACTED]"

// PrivateKey is an RSA private key that never prints: every fmt verb, slog
// and JSON show "[REDACTED]". The key material is reachable only through
// Signer, inside this package.
type PrivateKey struct{ k *rsa.PrivateKey }

// ParsePrivateKey reads an RSA private key in PEM form, PKCS#1 ("RSA PRIVATE
// KEY") or PKCS#8 ("PRIVATE KEY"). Errors never quote the input.
func ParsePrivateKey(pemBytes []byte) (*PrivateKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("kalshi: private key is not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return &PrivateKey{k}, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("kalshi: private key is neither PKCS#1 nor PKCS#8 RSA")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("kalshi: private key is not an RSA key")
	}
	return &PrivateKey{rk}, nil
}

// NewPrivateKey wraps an existing key (tests, generated demo keys).
func NewPrivateKey(k *rsa.PrivateKey) *PrivateKey { return &PrivateKey{k} }

// Public returns the public half, which is safe to show and to register.
func (p *PrivateKey) Public() *rsa.PublicKey { return &p.k.PublicKey }

func (p *PrivateKey) String() string               { return redacted }
func (p *PrivateKey) GoString() string             { return redacted }
func (p *PrivateKey) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (p *PrivateKey) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (p *PrivateKey) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (p *PrivateKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (p *PrivateKey) GobEncode() ([]byte, error) {
	return nil, errors.New("kalshi: private keys are not encodable")
}
func (p *PrivateKey) MarshalBinary() ([]byte, error) {
	return nil, errors.New("kalshi: private keys are not encodable")
}

// Signer signs requests for one API key. It is safe for concurrent use.
type Signer struct {
	KeyID string
	key   *PrivateKey
	now   func() time.Time
}

// NewSigner returns a signer for keyID. now may be nil (time.Now).
func NewSigner(keyID string, key *PrivateKey, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{KeyID: keyID, key: key, now: now}
}

// Format keeps the key out of %v of a Signer too.
func (s *Signer) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "kalshi.Signer{KeyID:%s, key:%s}", s.KeyID, redacted)
}

// LogValue shows the key id only.
func (s *Signer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", s.KeyID))
}

// SignatureMessage is the text Kalshi signs: the timestamp in milliseconds,
// the upper-case method and the path (from /trade-api/..., without the query).
func SignatureMessage(tsMillis int64, method, path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return strconv.FormatInt(tsMillis, 10) + strings.ToUpper(method) + path
}

// Sign returns the base64 RSA-PSS (SHA-256, salt length = hash length)
// signature of SignatureMessage(tsMillis, method, path).
func (s *Signer) Sign(tsMillis int64, method, path string) (string, error) {
	h := sha256.Sum256([]byte(SignatureMessage(tsMillis, method, path)))
	sig, err := rsa.SignPSS(rand.Reader, s.key.k, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		return "", fmt.Errorf("kalshi: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SetHeaders signs method and path at the signer's current time and sets the
// three authentication headers on h.
func (s *Signer) SetHeaders(h http.Header, method, path string) error {
	ts := s.now().UnixMilli()
	sig, err := s.Sign(ts, method, path)
	if err != nil {
		return err
	}
	h.Set(HeaderKey, s.KeyID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// VerifySignature checks a signature made by Sign against pub. It exists for
// tests of this package; the simulator verifies on its own.
func VerifySignature(pub *rsa.PublicKey, tsMillis int64, method, path, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return errors.New("kalshi: signature is not base64")
	}
	h := sha256.Sum256([]byte(SignatureMessage(tsMillis, method, path)))
	return rsa.VerifyPSS(pub, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}
