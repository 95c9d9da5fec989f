package eip712

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Signature is an Ethereum ECDSA signature, R ‖ S ‖ V with V = 27 or 28.
type Signature [65]byte

// String returns the 0x-prefixed lowercase hex form, 132 characters.
func (s Signature) String() string { return "0x" + hex.EncodeToString(s[:]) }

// ParseSignature parses a 0x-prefixed 65-byte hex signature. It checks the
// length only; Recover checks the rest.
func ParseSignature(s string) (Signature, error) {
	var sig Signature
	b, err := decodeHex(s)
	if err != nil {
		return sig, err
	}
	if len(b) != len(sig) {
		return sig, errors.New("eip712: signature must be 65 bytes")
	}
	copy(sig[:], b)
	return sig, nil
}

// MarshalText writes the hex form.
func (s Signature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses as ParseSignature does.
func (s *Signature) UnmarshalText(b []byte) error {
	v, err := ParseSignature(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ErrBadSignature is returned (wrapped) for a signature from which no
// signer can be recovered.
var ErrBadSignature = errors.New("eip712: invalid signature")

// Recover returns the address whose key produced sig over digest. Like the
// OpenZeppelin ECDSA library the exchanges use, it accepts only V = 27 or 28
// and a low S (s ≤ n/2), so a signature cannot be made malleable.
func Recover(digest Hash, sig Signature) (Address, error) {
	v := sig[64]
	if v != 27 && v != 28 {
		return Address{}, fmt.Errorf("%w: V must be 27 or 28", ErrBadSignature)
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(sig[32:64]); overflow || s.IsOverHalfOrder() {
		return Address{}, fmt.Errorf("%w: S is not in the lower half order", ErrBadSignature)
	}
	var compact [65]byte
	compact[0] = v // 27 + recovery code, uncompressed key
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact[:], digest[:])
	if err != nil {
		return Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return pubkeyAddress(pub), nil
}

// Verify reports whether sig over digest was made by addr's key.
func Verify(digest Hash, sig Signature, addr Address) bool {
	got, err := Recover(digest, sig)
	return err == nil && subtle.ConstantTimeCompare(got[:], addr[:]) == 1
}

func pubkeyAddress(pub *secp256k1.PublicKey) Address {
	u := pub.SerializeUncompressed() // 0x04 ‖ X ‖ Y
	h := Keccak256(u[1:])
	var a Address
	copy(a[:], h[12:])
	return a
}

// Signer holds one secp256k1 private key and signs digests with it
// (deterministic RFC 6979 nonces, low S). The key never leaves it: fmt
// verbs, slog and encoding/json print the address and "[REDACTED]".
// A Signer is safe for concurrent use.
type Signer struct {
	k *signerKey
}

type signerKey struct {
	priv *secp256k1.PrivateKey
	addr Address
}

// NewSigner parses a 32-byte private key in hex, with or without 0x.
func NewSigner(hexKey string) (*Signer, error) {
	b, err := decodeHex(hexKey)
	if err != nil {
		return nil, errors.New("eip712: private key is not hex")
	}
	defer clear(b)
	return NewSignerFromBytes(b)
}

// NewSignerFromBytes uses the 32-byte big-endian private key b. The caller
// may wipe b afterwards.
func NewSignerFromBytes(b []byte) (*Signer, error) {
	if len(b) != 32 {
		return nil, errors.New("eip712: private key must be 32 bytes")
	}
	var k secp256k1.ModNScalar
	if overflow := k.SetByteSlice(b); overflow || k.IsZero() {
		return nil, errors.New("eip712: private key is out of range")
	}
	return newSigner(secp256k1.NewPrivateKey(&k)), nil
}

// GenerateSigner makes a Signer with a fresh random key (crypto/rand).
func GenerateSigner() (*Signer, error) {
	p, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	return newSigner(p), nil
}

func newSigner(p *secp256k1.PrivateKey) *Signer {
	return &Signer{&signerKey{priv: p, addr: pubkeyAddress(p.PubKey())}}
}

// Address returns the account address of the key.
func (s *Signer) Address() Address { return s.k.addr }

// SignDigest signs a 32-byte digest (an EIP-712 digest, say) and returns
// R ‖ S ‖ V with V = 27 or 28.
func (s *Signer) SignDigest(digest Hash) (Signature, error) {
	var sig Signature
	if s == nil || s.k == nil {
		return sig, errors.New("eip712: nil signer")
	}
	c := ecdsa.SignCompact(s.k.priv, digest[:], false) // code ‖ R ‖ S
	code := c[0] - 27
	if code > 1 {
		// The R overflow case has probability ~2^-127 and no Ethereum V.
		return sig, errors.New("eip712: signature needs an unsupported recovery id")
	}
	copy(sig[:64], c[1:])
	sig[64] = 27 + code
	return sig, nil
}

func (s *Signer) redacted() string {
	if s == nil || s.k == nil {
		return "eip712.Signer(nil)"
	}
	return "eip712.Signer{address: " + s.k.addr.String() + ", key: [REDACTED]}"
}

// String returns the address and a redaction marker, never the key.
func (s *Signer) String() string { return s.redacted() }

// GoString is String, for %#v.
func (s *Signer) GoString() string { return s.redacted() }

// Format prints the redacted form under every verb (%v, %+v, %#v, %s, %x, %q, ...).
func (s *Signer) Format(f fmt.State, _ rune) { io.WriteString(f, s.redacted()) }

// LogValue makes slog log the address only.
func (s *Signer) LogValue() slog.Value {
	if s == nil || s.k == nil {
		return slog.StringValue("nil")
	}
	return slog.GroupValue(slog.String("address", s.k.addr.String()), slog.String("key", "[REDACTED]"))
}

// MarshalJSON writes the address only.
func (s *Signer) MarshalJSON() ([]byte, error) {
	if s == nil || s.k == nil {
		return []byte("null"), nil
	}
	return []byte(`{"address":"` + s.k.addr.String() + `","key":"[REDACTED]"}`), nil
}
