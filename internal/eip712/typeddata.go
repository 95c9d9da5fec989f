package eip712

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Field is one member of an EIP-712 struct type.
type Field struct {
	Name string
	Type string
}

// Types maps struct type names to their members, in declaration order, as in
// the "types" object of eth_signTypedData_v4 (without EIP712Domain, which
// Domain describes).
type Types map[string][]Field

// Domain is an EIP-712 domain. The separator covers the fields that are
// set, in the spec's order: a non-empty Name or Version, a non-nil ChainID,
// VerifyingContract or Salt.
type Domain struct {
	Name              string
	Version           string
	ChainID           *big.Int
	VerifyingContract *Address
	Salt              *Hash
}

// Fields returns the EIP712Domain type this domain hashes with.
func (d Domain) Fields() []Field {
	var f []Field
	if d.Name != "" {
		f = append(f, Field{"name", "string"})
	}
	if d.Version != "" {
		f = append(f, Field{"version", "string"})
	}
	if d.ChainID != nil {
		f = append(f, Field{"chainId", "uint256"})
	}
	if d.VerifyingContract != nil {
		f = append(f, Field{"verifyingContract", "address"})
	}
	if d.Salt != nil {
		f = append(f, Field{"salt", "bytes32"})
	}
	return f
}

// Separator returns the domain separator, hashStruct(EIP712Domain).
func (d Domain) Separator() (Hash, error) {
	msg := map[string]any{}
	if d.Name != "" {
		msg["name"] = d.Name
	}
	if d.Version != "" {
		msg["version"] = d.Version
	}
	if d.ChainID != nil {
		msg["chainId"] = d.ChainID
	}
	if d.VerifyingContract != nil {
		msg["verifyingContract"] = *d.VerifyingContract
	}
	if d.Salt != nil {
		msg["salt"] = *d.Salt
	}
	return Types{"EIP712Domain": d.Fields()}.HashStruct("EIP712Domain", msg)
}

// HashTypedData returns the digest to sign for message of type primary
// under domain: keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message)).
func HashTypedData(domain Domain, types Types, primary string, message map[string]any) (Hash, error) {
	sep, err := domain.Separator()
	if err != nil {
		return Hash{}, err
	}
	sh, err := types.HashStruct(primary, message)
	if err != nil {
		return Hash{}, err
	}
	return Digest(sep, sh), nil
}

// EncodeType returns the canonical type string of primary: primary's own
// definition followed by every struct type it references, directly or not,
// sorted by name.
func (t Types) EncodeType(primary string) (string, error) {
	if _, ok := t[primary]; !ok {
		return "", fmt.Errorf("eip712: unknown type %q", primary)
	}
	deps := map[string]bool{}
	if err := t.collect(primary, deps); err != nil {
		return "", err
	}
	delete(deps, primary)
	names := make([]string, 0, len(deps))
	for n := range deps {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range append([]string{primary}, names...) {
		b.WriteString(n)
		b.WriteByte('(')
		for i, f := range t[n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.Type)
			b.WriteByte(' ')
			b.WriteString(f.Name)
		}
		b.WriteByte(')')
	}
	return b.String(), nil
}

func (t Types) collect(name string, seen map[string]bool) error {
	if seen[name] {
		return nil
	}
	seen[name] = true
	for _, f := range t[name] {
		base := baseType(f.Type)
		if _, ok := t[base]; ok {
			if err := t.collect(base, seen); err != nil {
				return err
			}
			continue
		}
		if !isAtomic(base) {
			return fmt.Errorf("eip712: %s.%s has unknown type %q", name, f.Name, f.Type)
		}
	}
	return nil
}

// TypeHash returns keccak256(EncodeType(primary)).
func (t Types) TypeHash(primary string) (Hash, error) {
	s, err := t.EncodeType(primary)
	if err != nil {
		return Hash{}, err
	}
	return Keccak256([]byte(s)), nil
}

// HashStruct returns keccak256(typeHash ‖ encodeData(message)).
func (t Types) HashStruct(primary string, message map[string]any) (Hash, error) {
	enc, err := t.EncodeData(primary, message)
	if err != nil {
		return Hash{}, err
	}
	return Keccak256(enc), nil
}

// EncodeData returns typeHash(primary) followed by one 32-byte word per
// member of message. Values may be:
//   - uintN/intN: *big.Int, big.Int, any Go integer, json.Number, or a
//     decimal or 0x-hex string;
//   - address: Address, *Address or a hex string;
//   - bool: bool;
//   - bytesN: [32]byte (for bytes32), []byte or a hex string of exactly N bytes;
//   - bytes: []byte or a hex string; string: string;
//   - struct types: map[string]any; arrays: any slice or array.
//
// A missing member is an error; members not in the type are ignored.
func (t Types) EncodeData(primary string, message map[string]any) ([]byte, error) {
	th, err := t.TypeHash(primary)
	if err != nil {
		return nil, err
	}
	fields := t[primary]
	out := make([]byte, 32, 32*(1+len(fields)))
	copy(out, th[:])
	for _, f := range fields {
		v, ok := message[f.Name]
		if !ok {
			return nil, fmt.Errorf("eip712: %s.%s is missing", primary, f.Name)
		}
		w, err := t.encodeValue(f.Type, v)
		if err != nil {
			return nil, fmt.Errorf("eip712: %s.%s: %w", primary, f.Name, err)
		}
		out = append(out, w[:]...)
	}
	return out, nil
}

func (t Types) encodeValue(typ string, v any) (Hash, error) {
	var w Hash
	if strings.HasSuffix(typ, "]") {
		open := strings.LastIndexByte(typ, '[')
		if open < 0 {
			return w, fmt.Errorf("bad array type %q", typ)
		}
		inner, size := typ[:open], typ[open+1:len(typ)-1]
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return w, fmt.Errorf("%s wants a slice, got %T", typ, v)
		}
		if size != "" {
			n, err := strconv.Atoi(size)
			if err != nil || n != rv.Len() {
				return w, fmt.Errorf("%s wants %s elements, got %d", typ, size, rv.Len())
			}
		}
		buf := make([]byte, 0, 32*rv.Len())
		for i := 0; i < rv.Len(); i++ {
			ew, err := t.encodeValue(inner, rv.Index(i).Interface())
			if err != nil {
				return w, fmt.Errorf("[%d]: %w", i, err)
			}
			buf = append(buf, ew[:]...)
		}
		return Keccak256(buf), nil
	}
	if _, ok := t[typ]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return w, fmt.Errorf("%s wants map[string]any, got %T", typ, v)
		}
		return t.HashStruct(typ, m)
	}
	switch {
	case typ == "string":
		s, ok := v.(string)
		if !ok {
			return w, fmt.Errorf("string wants a string, got %T", v)
		}
		return Keccak256([]byte(s)), nil
	case typ == "bytes":
		b, err := toBytes(v)
		if err != nil {
			return w, err
		}
		return Keccak256(b), nil
	case typ == "bool":
		b, ok := v.(bool)
		if !ok {
			return w, fmt.Errorf("bool wants a bool, got %T", v)
		}
		if b {
			w[31] = 1
		}
		return w, nil
	case typ == "address":
		a, err := toAddress(v)
		if err != nil {
			return w, err
		}
		copy(w[12:], a[:])
		return w, nil
	case strings.HasPrefix(typ, "bytes"):
		n, err := strconv.Atoi(typ[5:])
		if err != nil || n < 1 || n > 32 {
			return w, fmt.Errorf("unknown type %q", typ)
		}
		var b []byte
		if h, ok := v.(Hash); ok {
			b = h[:]
		} else if b, err = toBytes(v); err != nil {
			return w, err
		}
		if len(b) != n {
			return w, fmt.Errorf("%s wants %d bytes, got %d", typ, n, len(b))
		}
		copy(w[:], b)
		return w, nil
	case strings.HasPrefix(typ, "uint"), strings.HasPrefix(typ, "int"):
		signed := typ[0] == 'i'
		bits, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(typ, "u"), "int"))
		if err != nil || bits < 8 || bits > 256 || bits%8 != 0 {
			return w, fmt.Errorf("unknown type %q", typ)
		}
		n, err := toBig(v)
		if err != nil {
			return w, err
		}
		if err := PutInt(w[:], n, bits, signed); err != nil {
			return w, fmt.Errorf("%s: %w", typ, err)
		}
		return w, nil
	}
	return w, fmt.Errorf("unknown type %q", typ)
}

var twoTo256 = new(big.Int).Lsh(big.NewInt(1), 256)

// PutInt writes n into the 32-byte word w as a big-endian two's-complement
// intN (signed) or uintN, refusing values outside that range.
func PutInt(w []byte, n *big.Int, bits int, signed bool) error {
	if n == nil {
		return fmt.Errorf("missing value")
	}
	switch {
	case !signed && n.Sign() < 0:
		return fmt.Errorf("%s is negative", n)
	case !signed && n.BitLen() > bits:
		return fmt.Errorf("%s overflows", n)
	case signed && n.Sign() >= 0 && n.BitLen() > bits-1:
		return fmt.Errorf("%s overflows", n)
	case signed && n.Sign() < 0 && new(big.Int).Not(n).BitLen() > bits-1:
		return fmt.Errorf("%s overflows", n)
	}
	if n.Sign() < 0 {
		new(big.Int).Add(twoTo256, n).FillBytes(w[:32])
		return nil
	}
	n.FillBytes(w[:32])
	return nil
}

func baseType(typ string) string {
	if i := strings.IndexByte(typ, '['); i >= 0 {
		return typ[:i]
	}
	return typ
}

func isAtomic(typ string) bool {
	switch {
	case typ == "string", typ == "bytes", typ == "bool", typ == "address":
		return true
	case strings.HasPrefix(typ, "bytes"):
		n, err := strconv.Atoi(typ[5:])
		return err == nil && n >= 1 && n <= 32
	case strings.HasPrefix(typ, "uint"), strings.HasPrefix(typ, "int"):
		bits, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(typ, "u"), "int"))
		return err == nil && bits >= 8 && bits <= 256 && bits%8 == 0
	}
	return false
}

func toBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		if !strings.HasPrefix(x, "0x") && !strings.HasPrefix(x, "0X") {
			return nil, fmt.Errorf("bytes as a string must be 0x-prefixed hex")
		}
		return decodeHex(x)
	}
	return nil, fmt.Errorf("bytes wants []byte or a hex string, got %T", v)
}

func toAddress(v any) (Address, error) {
	switch x := v.(type) {
	case Address:
		return x, nil
	case *Address:
		if x == nil {
			return Address{}, fmt.Errorf("nil address")
		}
		return *x, nil
	case string:
		return ParseAddress(x)
	}
	return Address{}, fmt.Errorf("address wants an Address or a hex string, got %T", v)
}

func toBig(v any) (*big.Int, error) {
	switch x := v.(type) {
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("nil integer")
		}
		return x, nil
	case big.Int:
		return &x, nil
	case int:
		return big.NewInt(int64(x)), nil
	case int8:
		return big.NewInt(int64(x)), nil
	case int16:
		return big.NewInt(int64(x)), nil
	case int32:
		return big.NewInt(int64(x)), nil
	case int64:
		return big.NewInt(x), nil
	case uint:
		return new(big.Int).SetUint64(uint64(x)), nil
	case uint8:
		return new(big.Int).SetUint64(uint64(x)), nil
	case uint16:
		return new(big.Int).SetUint64(uint64(x)), nil
	case uint32:
		return new(big.Int).SetUint64(uint64(x)), nil
	case uint64:
		return new(big.Int).SetUint64(x), nil
	case json.Number:
		return parseInteger(string(x))
	case string:
		return parseInteger(x)
	}
	return nil, fmt.Errorf("integer wants a Go integer, *big.Int or a string, got %T", v)
}

func parseInteger(s string) (*big.Int, error) {
	var n *big.Int
	var ok bool
	if h, found := strings.CutPrefix(s, "0x"); found && h != "" && h[0] != '-' && h[0] != '+' {
		n, ok = new(big.Int).SetString(h, 16)
	} else {
		n, ok = new(big.Int).SetString(s, 10)
	}
	if !ok {
		return nil, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}
