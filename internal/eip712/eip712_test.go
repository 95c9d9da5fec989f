package eip712_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/polybot/polybot/internal/eip712"
)

const devKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

func TestKeccak256IsTheLegacyKeccakNotSHA3(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{"abc", "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
	} {
		if got := eip712.HexHash(eip712.Keccak256([]byte(c.in))); got != c.want {
			t.Errorf("Keccak256(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if eip712.Keccak256([]byte("ab"), []byte("c")) != eip712.Keccak256([]byte("abc")) {
		t.Error("Keccak256 of parts differs from Keccak256 of the whole")
	}
}

func TestAddressesFormatWithTheEIP55Checksum(t *testing.T) {
	// The examples of EIP-55.
	for _, want := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	} {
		a, err := eip712.ParseAddress(strings.ToLower(want))
		if err != nil {
			t.Fatal(err)
		}
		if a.String() != want {
			t.Errorf("String() = %s, want %s", a, want)
		}
		if a.Hex() != strings.ToLower(want) {
			t.Errorf("Hex() = %s", a.Hex())
		}
		b, _ := json.Marshal(a)
		if string(b) != `"`+want+`"` {
			t.Errorf("JSON = %s", b)
		}
	}
}

func TestParseAddressRefusesBadChecksumsAndShapes(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", true},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", true},
		{"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", true},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", false}, // one letter's case flipped
		{"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", false},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", false},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", false},
	} {
		_, err := eip712.ParseAddress(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseAddress(%s) error = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func TestEncodeTypeListsReferencedTypesSortedByName(t *testing.T) {
	types := eip712.Types{
		"Order":  {{Name: "z", Type: "Zeta"}, {Name: "legs", Type: "Alpha[]"}, {Name: "n", Type: "uint256"}},
		"Zeta":   {{Name: "inner", Type: "Mid"}},
		"Mid":    {{Name: "a", Type: "Alpha[2]"}},
		"Alpha":  {{Name: "x", Type: "bytes32"}},
		"Unused": {{Name: "y", Type: "bool"}},
	}
	got, err := types.EncodeType("Order")
	if err != nil {
		t.Fatal(err)
	}
	const want = "Order(Zeta z,Alpha[] legs,uint256 n)Alpha(bytes32 x)Mid(Alpha[2] a)Zeta(Mid inner)"
	if got != want {
		t.Fatalf("EncodeType = %s\nwant %s", got, want)
	}
	if _, err := (eip712.Types{"A": {{Name: "b", Type: "Missing"}}}).EncodeType("A"); err == nil {
		t.Error("a reference to an undefined type was accepted")
	}
}

// The example of EIP-712 itself (Mail from Cow to Bob), with its published
// hashes and signature.
func TestTheEIPsMailExampleHashesAndSignsToItsPublishedValues(t *testing.T) {
	contract := eip712.MustParseAddress("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC")
	domain := eip712.Domain{Name: "Ether Mail", Version: "1", ChainID: big.NewInt(1), VerifyingContract: &contract}
	types := eip712.Types{
		"Person": {{Name: "name", Type: "string"}, {Name: "wallet", Type: "address"}},
		"Mail":   {{Name: "from", Type: "Person"}, {Name: "to", Type: "Person"}, {Name: "contents", Type: "string"}},
	}
	msg := map[string]any{
		"from":     map[string]any{"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
		"to":       map[string]any{"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
		"contents": "Hello, Bob!",
	}
	sep, err := domain.Separator()
	if err != nil {
		t.Fatal(err)
	}
	th, _ := types.TypeHash("Mail")
	sh, err := types.HashStruct("Mail", msg)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := eip712.HashTypedData(domain, types, "Mail", msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  eip712.Hash
		want string
	}{
		{"domain separator", sep, "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"},
		{"Mail type hash", th, "0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2"},
		{"Mail struct hash", sh, "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e"},
		{"digest", digest, "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"},
	} {
		if eip712.HexHash(c.got) != c.want {
			t.Errorf("%s = %s, want %s", c.name, eip712.HexHash(c.got), c.want)
		}
	}
	cow := eip712.Keccak256([]byte("cow"))
	s, err := eip712.NewSignerFromBytes(cow[:])
	if err != nil {
		t.Fatal(err)
	}
	if s.Address().String() != "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" {
		t.Fatalf("address of keccak(cow) = %s", s.Address())
	}
	sig, err := s.SignDigest(digest)
	if err != nil {
		t.Fatal(err)
	}
	const want = "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c"
	if sig.String() != want {
		t.Fatalf("signature\n got %s\nwant %s", sig, want)
	}
}

func TestEncodeDataEncodesEveryAtomicTypeAsOneWord(t *testing.T) {
	word := func(s string) string { return strings.Repeat("0", 64-len(s)) + s }
	kec := func(b []byte) string { h := eip712.Keccak256(b); return hex.EncodeToString(h[:]) }
	var b32 eip712.Hash
	b32[0], b32[31] = 0xab, 0xcd
	for _, c := range []struct {
		typ  string
		v    any
		want string // hex word, or "" for an error
	}{
		{"uint256", big.NewInt(1234), word("4d2")},
		{"uint256", "1234", word("4d2")},
		{"uint256", "0x4d2", word("4d2")},
		{"uint256", uint64(1 << 63), word("8000000000000000")},
		{"uint8", 255, word("ff")},
		{"uint8", 256, ""},
		{"uint256", -1, ""},
		{"uint256", "0123x", ""},
		{"uint256", new(big.Int).Lsh(big.NewInt(1), 256), ""},
		{"int8", -1, strings.Repeat("f", 64)},
		{"int8", -128, strings.Repeat("f", 62) + "80"},
		{"int8", 128, ""},
		{"int8", -129, ""},
		{"int256", big.NewInt(-2), strings.Repeat("f", 63) + "e"},
		{"bool", true, word("1")},
		{"bool", false, word("0")},
		{"bool", 1, ""},
		{"address", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", word("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")},
		{"address", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267", ""},
		{"bytes32", b32, "ab" + strings.Repeat("0", 60) + "cd"},
		{"bytes4", []byte{1, 2, 3, 4}, "01020304" + strings.Repeat("0", 56)},
		{"bytes4", "0x01020304", "01020304" + strings.Repeat("0", 56)},
		{"bytes4", []byte{1, 2, 3}, ""},
		{"bytes", []byte{1, 2, 3}, kec([]byte{1, 2, 3})},
		{"bytes", "0x010203", kec([]byte{1, 2, 3})},
		{"string", "Hello, Bob!", kec([]byte("Hello, Bob!"))},
		{"string", []byte("x"), ""},
		{"uint256[]", []any{1, 2}, kec(append(mustHex(word("1")), mustHex(word("2"))...))},
		{"uint256[2]", []int{1, 2}, kec(append(mustHex(word("1")), mustHex(word("2"))...))},
		{"uint256[3]", []int{1, 2}, ""},
		{"uint7", 1, ""},
	} {
		types := eip712.Types{"T": {{Name: "f", Type: c.typ}}}
		if c.typ == "uint7" {
			if _, err := types.EncodeType("T"); err == nil {
				t.Error("uint7 accepted as a type")
			}
			continue
		}
		enc, err := types.EncodeData("T", map[string]any{"f": c.v})
		if c.want == "" {
			if err == nil {
				t.Errorf("%s %v (%T): accepted, want an error", c.typ, c.v, c.v)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %v: %v", c.typ, c.v, err)
			continue
		}
		if got := hex.EncodeToString(enc[32:]); got != c.want {
			t.Errorf("%s %v = %s, want %s", c.typ, c.v, got, c.want)
		}
	}
	if _, err := (eip712.Types{"T": {{Name: "f", Type: "uint256"}}}).EncodeData("T", map[string]any{}); err == nil {
		t.Error("a missing member was accepted")
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestSignerDerivesTheKnownAddressOfItsKey(t *testing.T) {
	for _, k := range []string{devKey, "0x" + devKey, "0X" + strings.ToUpper(devKey)} {
		s, err := eip712.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Address().String(); got != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" {
			t.Errorf("address = %s", got)
		}
	}
}

func TestNewSignerRefusesKeysOutsideTheCurveOrder(t *testing.T) {
	for _, k := range []string{
		"",
		"00",
		strings.Repeat("0", 64),
		"fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", // n
		strings.Repeat("f", 64),
		devKey + "00",
		"zz" + devKey[2:],
	} {
		if _, err := eip712.NewSigner(k); err == nil {
			t.Errorf("NewSigner(%q) accepted", k)
		}
	}
}

func TestSignaturesAreDeterministicLowSAndRecoverToTheSigner(t *testing.T) {
	s, _ := eip712.NewSigner(devKey)
	halfN, _ := new(big.Int).SetString("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", 16)
	seen27, seen28 := false, false
	for i := range 64 {
		d := eip712.Keccak256([]byte(fmt.Sprint("digest ", i)))
		sig, err := s.SignDigest(d)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := s.SignDigest(d)
		if again != sig {
			t.Fatal("signing the same digest twice gave two signatures")
		}
		if new(big.Int).SetBytes(sig[32:64]).Cmp(halfN) > 0 {
			t.Fatal("high S")
		}
		seen27 = seen27 || sig[64] == 27
		seen28 = seen28 || sig[64] == 28
		if got, err := eip712.Recover(d, sig); err != nil || got != s.Address() {
			t.Fatalf("Recover = %s, %v", got, err)
		}
		if !eip712.Verify(d, sig, s.Address()) {
			t.Fatal("Verify refused a good signature")
		}
	}
	if !seen27 || !seen28 {
		t.Error("V never took both values 27 and 28")
	}
}

func TestRecoverRefusesMalleatedAndMalformedSignatures(t *testing.T) {
	s, _ := eip712.NewSigner(devKey)
	d := eip712.Keccak256([]byte("order"))
	sig, _ := s.SignDigest(d)
	n, _ := new(big.Int).SetString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)

	highS := sig
	new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:64])).FillBytes(highS[32:64])
	highS[64] ^= 27 ^ 28 // the other parity: ecrecover would accept this twin

	v0 := sig
	v0[64] -= 27
	flippedR := sig
	flippedR[5] ^= 1
	zeroR := sig
	clear(zeroR[:32])

	for name, bad := range map[string]eip712.Signature{"high S": highS, "V of 0 or 1": v0, "zero R": zeroR} {
		if _, err := eip712.Recover(d, bad); err == nil {
			t.Errorf("%s: recovered", name)
		}
	}
	if eip712.Verify(d, flippedR, s.Address()) {
		t.Error("a signature with a flipped bit verified")
	}
	if eip712.Verify(eip712.Keccak256([]byte("other")), sig, s.Address()) {
		t.Error("a signature verified over another digest")
	}
	other, _ := eip712.GenerateSigner()
	if eip712.Verify(d, sig, other.Address()) {
		t.Error("a signature verified for another address")
	}
}

func TestSignatureParsesItsOwnHex(t *testing.T) {
	s, _ := eip712.NewSigner(devKey)
	sig, _ := s.SignDigest(eip712.Keccak256(nil))
	back, err := eip712.ParseSignature(sig.String())
	if err != nil || back != sig {
		t.Fatalf("ParseSignature(String()) = %v, %v", back, err)
	}
	if _, err := eip712.ParseSignature(sig.String()[:130]); err == nil {
		t.Error("a 64-byte signature parsed")
	}
}

func TestGeneratedSignersAreDistinctAndWork(t *testing.T) {
	a, err := eip712.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := eip712.GenerateSigner()
	if a.Address() == b.Address() {
		t.Fatal("two generated signers share an address")
	}
	d := eip712.Keccak256([]byte("x"))
	sig, _ := a.SignDigest(d)
	if !eip712.Verify(d, sig, a.Address()) {
		t.Fatal("a generated signer's signature did not verify")
	}
}

func TestTheSignersPrivateKeyNeverAppearsInFormattedOutput(t *testing.T) {
	s, _ := eip712.NewSigner(devKey)
	type holder struct {
		Name   string
		Signer *eip712.Signer
		Value  eip712.Signer
		hidden eip712.Signer
	}
	h := holder{Name: "tenant", Signer: s, Value: *s, hidden: *s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []any{s}))
	}
	outs = append(outs, fmt.Sprint(s), fmt.Sprintln(s, *s, h), s.String(), s.GoString())
	var buf bytes.Buffer
	for _, hd := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(hd)
		l.Info("signer", "signer", s, "value", *s, "holder", h)
	}
	outs = append(outs, buf.String())
	if b, err := json.Marshal(h); err == nil {
		outs = append(outs, string(b))
	}
	forms := []string{devKey, strings.ToUpper(devKey), new(big.Int).SetBytes(mustHex(devKey)).String()}
	for _, out := range outs {
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Fatalf("private key printed in %q", out)
			}
		}
		// Key bytes as a Go byte list or as 32-bit limbs are leaks too.
		if strings.Contains(out, "172 9 116 190") || strings.Contains(out, "ac0974be") {
			t.Fatalf("private key bytes printed in %q", out)
		}
	}
	if !strings.Contains(s.String(), s.Address().String()) || !strings.Contains(s.String(), "REDACTED") {
		t.Errorf("String() = %s, want the address and a redaction marker", s)
	}
}
