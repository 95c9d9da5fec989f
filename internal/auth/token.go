package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// APITokenPrefix starts every API token, so that the server can tell one from
// a JWT and secret scanners can recognise a leaked one.
const APITokenPrefix = "pbt_"

// tokenBytes is the entropy of every opaque token: 256 bits.
const tokenBytes = 32

// tokenChars is the length of a token's base64url body.
var tokenChars = base64.RawURLEncoding.EncodedLen(tokenBytes)

// apiTokenShownChars is how much of an API token (prefix included) is kept in
// the clear so a user can tell tokens apart: 8 characters, 48 bits, of the body.
const apiTokenShownChars = len(APITokenPrefix) + 8

// NewToken returns a fresh opaque token: 32 random bytes in unpadded
// base64url (43 characters). Use it for session cookies and CSRF tokens.
func NewToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewAPIToken returns a fresh API token ("pbt_" and a NewToken body) and its
// display prefix, the part that may be stored and shown (polybot.APIToken.Prefix).
// Give token to the user once; store only HashToken(token).
func NewAPIToken() (token, prefix string) {
	token = APITokenPrefix + NewToken()
	return token, token[:apiTokenShownChars]
}

// IsAPIToken reports whether s has the form of an API token. It says nothing
// about whether the token exists; it lets the caller skip a look-up for junk.
func IsAPIToken(s string) bool {
	body, ok := strings.CutPrefix(s, APITokenPrefix)
	return ok && wellFormed(body)
}

// IsToken reports whether s has the form of a NewToken token.
func IsToken(s string) bool { return wellFormed(s) }

func wellFormed(body string) bool {
	if len(body) != tokenChars {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(body)
	return err == nil
}

// HashToken returns the stored form of a session or API token: the hex
// SHA-256 of the whole token. Tokens carry 256 bits of entropy, so a fast hash
// is enough; a leaked table of hashes grants nothing.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenEqual compares a presented token (a CSRF header, say) with the expected
// one in constant time. An empty token never matches.
func TokenEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
