package polybot

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
)

// Bounds on stored credential fields: a PEM key is a few KiB, everything
// else is a short token.
const (
	maxPEMBytes   = 16 << 10
	maxTokenBytes = 512
)

// CheckCredentialFormat checks, without any network call, that credentials
// have the shape the platform needs, so a key of the wrong format is refused
// before it is stored:
//
//   - Kalshi: an API key ID shaped like a UUID and an RSA private key in PEM
//     (PKCS#1 or PKCS#8);
//   - Polymarket: a wallet key of 32 bytes in hex (64 digits, 0x optional),
//     and the optional L2 API credentials all three together, the key a UUID
//     and the secret base64;
//   - Alpaca: a key ID and a secret; IBKR: an account ID and the Client
//     Portal gateway's http(s) URL.
//
// Messages name the field and what it should look like, never its value.
func CheckCredentialFormat(p Platform, fields map[string][]byte) error {
	v := Validation{}
	need := func(f string) bool {
		if len(fields[f]) == 0 {
			v.Add(f, "is required for "+PlatformName(p))
			return false
		}
		return true
	}
	for f, b := range fields {
		limit := maxTokenBytes
		if f == FieldPrivateKey && p == Kalshi {
			limit = maxPEMBytes
		}
		if len(b) > limit {
			v.Add(f, "is too long to be a "+PlatformName(p)+" credential")
		}
	}
	switch p {
	case Kalshi:
		if need(FieldAPIKey) && !IsUUID(strings.TrimSpace(string(fields[FieldAPIKey]))) {
			v.Add(FieldAPIKey, "must be shaped like a1b2c3d4-e5f6-7890-abcd-ef1234567890: the key ID Kalshi shows beside the key")
		}
		if need(FieldPrivateKey) && !isRSAPrivateKeyPEM(fields[FieldPrivateKey]) {
			v.Add(FieldPrivateKey, "must be an RSA private key in PEM form (PKCS#1 or PKCS#8), including the BEGIN and END lines")
		}
	case Polymarket:
		if need(FieldPrivateKey) && !isWalletKey(string(fields[FieldPrivateKey])) {
			v.Add(FieldPrivateKey, "must be 64 hex digits, optionally starting with 0x (the wallet's private key)")
		}
		// L2 API credentials are optional (derivable from the wallet key), but
		// come as a set.
		n := 0
		for _, f := range []string{FieldAPIKey, FieldAPISecret, FieldPassphrase} {
			if len(fields[f]) > 0 {
				n++
			}
		}
		switch {
		case n != 0 && n != 3:
			for _, f := range []string{FieldAPIKey, FieldAPISecret, FieldPassphrase} {
				if len(fields[f]) == 0 {
					v.Add(f, "is missing: the L2 API key, secret and passphrase go together (all three, or none to derive them from the wallet key)")
				}
			}
		case n == 3:
			if !IsUUID(strings.TrimSpace(string(fields[FieldAPIKey]))) {
				v.Add(FieldAPIKey, "must be shaped like a1b2c3d4-e5f6-7890-abcd-ef1234567890: the L2 API key Polymarket gave you")
			}
			if !isBase64(strings.TrimSpace(string(fields[FieldAPISecret]))) {
				v.Add(FieldAPISecret, "must be the L2 API secret Polymarket gave you (base64)")
			}
		}
	case Alpaca:
		need(FieldAPIKey)
		need(FieldAPISecret)
	case IBKR:
		// The Client Portal gateway authenticates the session itself: the
		// account id in api_key, the gateway's URL in api_secret.
		if need(FieldAPIKey) && !IsIBKRAccountID(strings.TrimSpace(string(fields[FieldAPIKey]))) {
			v.Add(FieldAPIKey, "must be an IBKR account ID such as U1234567 (letters and digits)")
		}
		if need(FieldAPISecret) && !isHTTPURL(strings.TrimSpace(string(fields[FieldAPISecret]))) {
			v.Add(FieldAPISecret, "must be the Client Portal gateway's URL, such as https://localhost:5000")
		}
	}
	return v.Err()
}

// IsUUID reports whether s has the 8-4-4-4-12 hex shape of a UUID, as
// Kalshi's API key IDs and Polymarket's L2 API keys do.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isWalletKey(s string) bool {
	k := strings.TrimPrefix(strings.TrimSpace(s), "0x")
	b, err := hex.DecodeString(k)
	if err != nil || len(b) != 32 {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return true
		}
	}
	return false // zero is not a key
}

func isBase64(s string) bool {
	if s == "" {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

func isRSAPrivateKeyPEM(b []byte) bool {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return false
	}
	if _, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return true
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return false
	}
	_, ok := k.(*rsa.PrivateKey)
	return ok
}

// CredentialRejection puts a venue's refusal of credentials (a 401 or 403
// to an authenticated call) in plain words: the field most likely at fault
// and a sentence saying what to check. hasL2 tells whether Polymarket L2
// API credentials were supplied. ok is false when ve is not such a refusal.
func CredentialRejection(p Platform, ve *VenueError, hasL2 bool) (field, message string, ok bool) {
	if ve == nil || (ve.Status != http.StatusUnauthorized && ve.Status != http.StatusForbidden) {
		return "", "", false
	}
	text := strings.ToUpper(ve.Code + " " + ve.Message)
	switch p {
	case Kalshi:
		switch {
		case strings.Contains(text, "NOT_FOUND"):
			return FieldAPIKey, "Kalshi does not know this API key ID. Check that you copied it from the right account (demo or live).", true
		case strings.Contains(text, "SIGNATURE"):
			return FieldPrivateKey, "Kalshi did not accept the signature: this private key does not belong to this API key ID. Paste the private key you downloaded when you created the key.", true
		case strings.Contains(text, "TIMESTAMP"):
			return FieldAPIKey, "Kalshi refused the request's time stamp. Check that this computer's clock is right, then validate again.", true
		}
		return FieldAPIKey, "Kalshi refused this key. Check that the key ID and the private key belong together and to the right account (demo or live).", true
	case Polymarket:
		if hasL2 {
			return FieldAPIKey, "Polymarket did not accept these L2 API credentials. Paste all three again, or leave them empty to derive them from the wallet key.", true
		}
		return FieldPrivateKey, "Polymarket did not accept this wallet key. Check that it is the private key of the wallet you trade with.", true
	case Alpaca:
		return FieldAPIKey, "Alpaca did not accept this key ID and secret. Check that both come from the same key, and that it is a paper key if you chose paper (a live key otherwise).", true
	case IBKR:
		if ve.Status == http.StatusForbidden {
			return FieldAPIKey, "The gateway's session may not trade this account. Check the account ID, or sign in to the gateway as the account's user.", true
		}
		return FieldAPISecret, "Nobody is signed in to this Client Portal gateway (or another session holds it). Sign in through the gateway's own page, then validate again.", true
	}
	return FieldAPIKey, PlatformName(p) + " did not accept these credentials. Check them and try again.", true
}

// IsIBKRAccountID reports whether s looks like an IBKR account id: 2 to 32
// letters and digits.
func IsIBKRAccountID(s string) bool {
	if len(s) < 2 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host and no
// query or fragment.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}
