package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewTokenIs256BitsOfBase64URL(t *testing.T) {
	a, b := NewToken(), NewToken()
	if len(a) != 43 || !IsToken(a) {
		t.Fatalf("token %q: want 43 base64url characters", a)
	}
	if a == b {
		t.Fatal("two tokens are equal")
	}
}

func TestNewAPITokenHasPrefixAndShortDisplayPrefix(t *testing.T) {
	tok, prefix := NewAPIToken()
	if !strings.HasPrefix(tok, "pbt_") || len(tok) != 4+43 || !IsAPIToken(tok) {
		t.Fatalf("token %q is not pbt_ and 43 base64url characters", tok)
	}
	if prefix != tok[:12] {
		t.Fatalf("prefix %q, want the first 12 characters of the token", prefix)
	}
}

func TestIsAPITokenRejectsMalformedTokens(t *testing.T) {
	good, _ := NewAPIToken()
	for name, s := range map[string]string{
		"empty":                 "",
		"prefix only":           "pbt_",
		"session token":         NewToken(),
		"other prefix":          "xyz_" + good[4:],
		"one character short":   good[:len(good)-1],
		"one character long":    good + "A",
		"standard base64 chars": good[:len(good)-1] + "+",
		"a JWT":                 "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
	} {
		t.Run(name, func(t *testing.T) {
			if IsAPIToken(s) {
				t.Fatalf("IsAPIToken(%q) = true", s)
			}
		})
	}
}

func TestHashTokenIsHexSHA256OfTheWholeToken(t *testing.T) {
	tok, _ := NewAPIToken()
	sum := sha256.Sum256([]byte(tok))
	if got := HashToken(tok); got != hex.EncodeToString(sum[:]) || len(got) != 64 {
		t.Fatalf("HashToken = %q", got)
	}
	if HashToken(tok) == HashToken(tok[4:]) {
		t.Fatal("the prefix does not take part in the hash")
	}
}

func TestTokenEqual(t *testing.T) {
	tok := NewToken()
	tests := []struct {
		name      string
		got, want string
		equal     bool
	}{
		{"same token matches", tok, tok, true},
		{"different token does not match", NewToken(), tok, false},
		{"prefix of the token does not match", tok[:20], tok, false},
		{"empty presented token does not match", "", tok, false},
		{"empty expected token matches nothing", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if TokenEqual(tt.got, tt.want) != tt.equal {
				t.Fatalf("TokenEqual = %v, want %v", !tt.equal, tt.equal)
			}
		})
	}
}
