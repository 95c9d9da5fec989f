package polybot

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
)

// CheckCredentialFormat checks, without any network call, that decrypted
// credentials have the shape the platform needs: a Kalshi key id and an RSA
// private key in PEM (PKCS#1 or PKCS#8); a Polymarket wallet key of 32 hex
// bytes; an Alpaca key id and secret. Messages name the field, never its value.
func CheckCredentialFormat(p Platform, fields map[string][]byte) error {
	v := Validation{}
	need := func(f string) bool {
		if len(fields[f]) == 0 {
			v.Add(f, "is required for "+string(p))
			return false
		}
		return true
	}
	switch p {
	case Kalshi:
		need(FieldAPIKey)
		if need(FieldPrivateKey) && !isRSAPrivateKeyPEM(fields[FieldPrivateKey]) {
			v.Add(FieldPrivateKey, "must be an RSA private key in PEM form (PKCS#1 or PKCS#8)")
		}
	case Polymarket:
		if need(FieldPrivateKey) {
			k := strings.TrimPrefix(strings.TrimSpace(string(fields[FieldPrivateKey])), "0x")
			if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
				v.Add(FieldPrivateKey, "must be a 32-byte hex wallet key (64 hex digits, optional 0x)")
			}
		}
		// L2 API credentials are optional (derivable from the wallet key), but
		// come as a set.
		n := 0
		for _, f := range []string{FieldAPIKey, FieldAPISecret, FieldPassphrase} {
			if len(fields[f]) > 0 {
				n++
			}
		}
		if n != 0 && n != 3 {
			v.Add(FieldAPISecret, "api_key, api_secret and passphrase go together")
		}
	case Alpaca:
		need(FieldAPIKey)
		need(FieldAPISecret)
	case IBKR:
		// The Client Portal gateway authenticates the session itself; an
		// account id in api_key is enough.
		need(FieldAPIKey)
	}
	return v.Err()
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
