// Package eip712 owns Ethereum-style signing for venues that settle on an
// EVM chain: Keccak-256, EIP-55 addresses, EIP-712 typed-data hashing, and
// secp256k1 ECDSA signing and recovery ([R||S||V], V = 27 or 28).
//
// A private key lives only inside a Signer, which prints redacted under every
// fmt verb and in slog. Callers sign digests; they never see the key.
//
// This package knows no venue: Polymarket's order and auth types live in
// internal/venue/polymarket. It must not import polybot or any other
// internal package, nor go-ethereum.
package eip712

import (
	"encoding/hex"
	"errors"
	"strings"

	"golang.org/x/crypto/sha3"
)

// Hash is a 32-byte Keccak-256 digest.
type Hash = [32]byte

// Keccak256 returns the legacy (pre-NIST) Keccak-256 of the concatenated
// inputs, as Ethereum uses it.
func Keccak256(data ...[]byte) Hash {
	h := sha3.NewLegacyKeccak256()
	for _, d := range data {
		h.Write(d)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// Digest returns the EIP-712 signing digest
// keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash).
func Digest(domainSeparator, structHash Hash) Hash {
	var b [66]byte
	b[0], b[1] = 0x19, 0x01
	copy(b[2:34], domainSeparator[:])
	copy(b[34:], structHash[:])
	return Keccak256(b[:])
}

// HexHash formats h as 0x-prefixed lowercase hex, the way Ethereum tools
// print hashes.
func HexHash(h Hash) string { return "0x" + hex.EncodeToString(h[:]) }

// ParseHash parses a 0x-prefixed (or bare) 64-digit hex string.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := decodeHex(s)
	if err != nil {
		return h, err
	}
	if len(b) != 32 {
		return h, errors.New("eip712: hash must be 32 bytes")
	}
	copy(h[:], b)
	return h, nil
}

func decodeHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("eip712: invalid hex")
	}
	return b, nil
}
