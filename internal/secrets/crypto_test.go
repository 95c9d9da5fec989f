package secrets

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/polybot/polybot"
)

// assertNoLeak formats v every way a log line or error might and fails if any
// rendering of key shows up.
func assertNoLeak(t *testing.T, v any, key []byte) {
	t.Helper()
	forms := []string{string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key), strings.Trim(fmt.Sprint(key), "[]")}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, v))
		outs = append(outs, fmt.Sprintf(verb, struct{ Exported any }{v}))
		outs = append(outs, fmt.Sprintf(verb, []any{v}))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
	outs = append(outs, buf.String())
	for _, out := range outs {
		for _, form := range forms {
			if strings.Contains(out, form) {
				t.Fatalf("%T formats as %q, which shows key material", v, out)
			}
		}
	}
}

func testTenantKey(t *testing.T) (*tenantKey, []byte) {
	t.Helper()
	dek := randomBytes(dekSize)
	tk, err := deriveTenantKey(dek)
	if err != nil {
		t.Fatal(err)
	}
	return tk, dek
}

func TestSealedFieldOpensOnlyWhereItWasSealed(t *testing.T) {
	tk, _ := testTenantKey(t)
	alice, bob := polybot.NewID(), polybot.NewID()
	secret := []byte("-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n")
	sealed := tk.seal(alice, polybot.Kalshi, false, polybot.FieldPrivateKey, secret)
	if !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("sealed form %q lacks the version tag", sealed)
	}
	if again := tk.seal(alice, polybot.Kalshi, false, polybot.FieldPrivateKey, secret); again == sealed {
		t.Fatal("sealing twice gave the same ciphertext: the nonce is not random")
	}
	tests := []struct {
		name     string
		tenant   polybot.ID
		platform polybot.Platform
		paper    bool
		field    string
		ok       bool
	}{
		{"where it was sealed", alice, polybot.Kalshi, false, polybot.FieldPrivateKey, true},
		{"another tenant", bob, polybot.Kalshi, false, polybot.FieldPrivateKey, false},
		{"another platform", alice, polybot.Polymarket, false, polybot.FieldPrivateKey, false},
		{"another field", alice, polybot.Kalshi, false, polybot.FieldAPIKey, false},
		{"paper instead of live", alice, polybot.Kalshi, true, polybot.FieldPrivateKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tk.open(tt.tenant, tt.platform, tt.paper, tt.field, sealed)
			if tt.ok {
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("open = %q, %v; want the plaintext", got, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrDecrypt) || got != nil {
				t.Fatalf("open = %q, %v; want an ErrDecrypt failure", got, err)
			}
			if polybot.ErrorMessage(err) != "internal error" {
				t.Fatalf("user-facing message %q says more than \"internal error\"", polybot.ErrorMessage(err))
			}
		})
	}
}

func TestTamperedSealedFieldFails(t *testing.T) {
	tk, _ := testTenantKey(t)
	other, _ := testTenantKey(t)
	tenant := polybot.NewID()
	sealed := tk.seal(tenant, polybot.Alpaca, true, polybot.FieldAPISecret, []byte("s3cret-value"))
	body := strings.TrimPrefix(sealed, "v1.")
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x80
		return "v1." + base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name, sealed string
		key          *tenantKey
		decrypt      bool
	}{
		{"nonce bit flipped", flip(0), tk, true},
		{"ciphertext bit flipped", flip(13), tk, true},
		{"tag bit flipped", flip(len(raw) - 1), tk, true},
		{"another data key", sealed, other, true},
		{"truncated", "v1." + body[:20], tk, false},
		{"unknown version", "v2." + body, tk, false},
		{"no version", body, tk, false},
		{"not base64", "v1.***", tk, false},
		{"empty", "", tk, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.open(tenant, polybot.Alpaca, true, polybot.FieldAPISecret, tt.sealed)
			if err == nil || got != nil {
				t.Fatalf("open = %q, %v; want a failure", got, err)
			}
			if errors.Is(err, ErrDecrypt) != tt.decrypt {
				t.Fatalf("errors.Is(%v, ErrDecrypt) = %v, want %v", err, !tt.decrypt, tt.decrypt)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatal("error shows the plaintext")
			}
		})
	}
}

func TestFingerprintIsShortKeyedAndNotDerivedFromTheSecretAlone(t *testing.T) {
	tk, _ := testTenantKey(t)
	other, _ := testTenantKey(t)
	value := []byte("AKIAEXAMPLEKEY1234567890")
	fp := tk.fingerprint(polybot.FieldAPIKey, value)
	unkeyed := sha256.Sum256(value)
	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"same value again", tk.fingerprint(polybot.FieldAPIKey, value), true},
		{"another tenant's data key", other.fingerprint(polybot.FieldAPIKey, value), false},
		{"another value", tk.fingerprint(polybot.FieldAPIKey, []byte("AKIAEXAMPLEKEY1234567891")), false},
		{"another field", tk.fingerprint(polybot.FieldPrivateKey, value), false},
		{"unkeyed SHA-256", hex.EncodeToString(unkeyed[:])[:12], false},
		{"prefix of the value", hex.EncodeToString(value)[:12], false},
	}
	if len(fp) != 12 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Fatalf("fingerprint %q is not 12 hex digits", fp)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.got == fp) != tt.same {
				t.Fatalf("fingerprint %q vs %q: same = %v, want %v", fp, tt.got, !tt.same, tt.same)
			}
		})
	}
}

func TestTenantKeyAndPlaintextNeverPrintMaterial(t *testing.T) {
	tk, dek := testTenantKey(t)
	sk, _ := hkdf.Key(sha256.New, dek, nil, "polybot secrets v1 seal", 32)
	fk, _ := hkdf.Key(sha256.New, dek, nil, "polybot secrets v1 fingerprint", 32)
	for _, key := range [][]byte{dek, sk, fk} {
		assertNoLeak(t, tk, key)
		assertNoLeak(t, *tk, key)
	}
	secret := []byte("correct-horse-battery-staple")
	p := Plaintext{polybot.FieldAPIKey: bytes.Clone(secret)}
	assertNoLeak(t, p, secret)
	if got := p.Get(polybot.FieldAPIKey); got != string(secret) {
		t.Fatalf("Get = %q", got)
	}
	p.Wipe()
	if len(p) != 0 {
		t.Fatal("Wipe left values")
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newKeyCache(2)
	tk, _ := testTenantKey(t)
	a, b, d := polybot.NewID(), polybot.NewID(), polybot.NewID()
	ka, kb, kd := cacheKey(a, "k", []byte{1}), cacheKey(b, "k", []byte{1}), cacheKey(d, "k", []byte{1})
	c.put(ka, tk)
	c.put(kb, tk)
	c.get(ka) // a is now the most recent
	c.put(kd, tk)
	if _, ok := c.get(kb); ok {
		t.Fatal("the least recently used entry was kept")
	}
	if _, ok := c.get(ka); !ok {
		t.Fatal("a recently used entry was evicted")
	}
	if c.len() != 2 {
		t.Fatalf("cache holds %d entries, want 2", c.len())
	}
	if cacheKey(a, "k", []byte{1}) == cacheKey(a, "k", []byte{2}) || cacheKey(a, "k", []byte{1}) == cacheKey(a, "j", []byte{1}) {
		t.Fatal("the cache key ignores the wrapped bytes or the master key id")
	}
}
