package eip712

import (
	"encoding/hex"
	"errors"
)

// Address is a 20-byte Ethereum account address.
type Address [20]byte

// ParseAddress parses a 0x-prefixed 40-digit hex address. All-lowercase and
// all-uppercase forms are accepted as they are; a mixed-case form must carry
// a valid EIP-55 checksum, so a mistyped address is refused rather than
// trusted.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return a, errors.New("eip712: address must be 0x followed by 40 hex digits")
	}
	if _, err := hex.Decode(a[:], []byte(s[2:])); err != nil {
		return a, errors.New("eip712: address must be 0x followed by 40 hex digits")
	}
	hasLower, hasUpper := false, false
	for _, c := range s[2:] {
		switch {
		case c >= 'a' && c <= 'f':
			hasLower = true
		case c >= 'A' && c <= 'F':
			hasUpper = true
		}
	}
	if hasLower && hasUpper && a.String() != s {
		return Address{}, errors.New("eip712: address has a bad EIP-55 checksum")
	}
	return a, nil
}

// MustParseAddress is ParseAddress for constants; it panics on bad input.
func MustParseAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err.Error() + ": " + s)
	}
	return a
}

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// String returns the EIP-55 checksummed form, e.g.
// 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266.
func (a Address) String() string {
	var buf [42]byte
	a.appendChecksum(buf[:0])
	return string(buf[:])
}

// Hex returns the all-lowercase 0x form.
func (a Address) Hex() string { return "0x" + hex.EncodeToString(a[:]) }

func (a Address) appendChecksum(dst []byte) []byte {
	var lower [40]byte
	hex.Encode(lower[:], a[:])
	h := Keccak256(lower[:])
	dst = append(dst, '0', 'x')
	for i, c := range lower {
		nibble := h[i/2]
		if i%2 == 0 {
			nibble >>= 4
		}
		if c >= 'a' && nibble&0xf >= 8 {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// MarshalText writes the checksummed form.
func (a Address) MarshalText() ([]byte, error) { return a.appendChecksum(make([]byte, 0, 42)), nil }

// UnmarshalText parses as ParseAddress does.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
