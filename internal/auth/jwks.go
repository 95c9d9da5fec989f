package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"time"
)

// publicKey is one verification key from a JWKS: exactly one of ec and rsa
// is set. Symmetric ("oct") keys are never taken from a JWKS.
type publicKey struct {
	kid string
	alg string // the JWK's "alg", "" when it does not say
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey
}

// jwk is the JSON form of a key, as far as we read it.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// minRSABits is the smallest RSA modulus accepted from a JWKS.
const minRSABits = 2048

// parseJWKS reads a JWKS document. Keys that cannot verify ES256 or RS256
// signatures (other curves, symmetric keys, encryption keys, keys without a
// kid) are skipped; a key that claims to be EC P-256 or RSA but is malformed
// fails the whole document, since a half-read set hides mistakes.
func parseJWKS(doc []byte) (map[string]*publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON object with a keys array: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`JWKS has no "keys" array`)
	}
	keys := make(map[string]*publicKey)
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify")) {
			continue
		}
		var pk *publicKey
		var err error
		switch {
		case k.Kty == "EC" && k.Crv == "P-256":
			pk, err = parseECKey(&k)
		case k.Kty == "RSA":
			pk, err = parseRSAKey(&k)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("JWKS key %q: %w", k.Kid, err)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("JWKS has two keys with kid %q", k.Kid)
		}
		keys[k.Kid] = pk
	}
	return keys, nil
}

func parseECKey(k *jwk) (*publicKey, error) {
	if k.Alg != "" && k.Alg != "ES256" {
		return nil, fmt.Errorf("EC P-256 key with alg %q", k.Alg)
	}
	x, errX := b64url.DecodeString(k.X)
	y, errY := b64url.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("EC key coordinates must be 32 bytes of base64url each")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("EC key: %w", err)
	}
	return &publicKey{kid: k.Kid, alg: k.Alg, ec: pub}, nil
}

func parseRSAKey(k *jwk) (*publicKey, error) {
	if k.Alg != "" && k.Alg != "RS256" {
		return nil, fmt.Errorf("RSA key with alg %q", k.Alg)
	}
	n, errN := b64url.DecodeString(k.N)
	e, errE := b64url.DecodeString(k.E)
	if errN != nil || errE != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 {
		return nil, errors.New("RSA key needs a base64url modulus and an exponent of at most 4 bytes")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key is shorter than %d bits", minRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("RSA key has an invalid exponent")
	}
	return &publicKey{kid: k.Kid, alg: k.Alg, rsa: pub}, nil
}

// maxJWKSBytes bounds a fetched JWKS document.
const maxJWKSBytes = 1 << 20

// fetchJWKS gets and parses the document at url.
func fetchJWKS(ctx context.Context, client *http.Client, url string) (map[string]*publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET JWKS: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS is larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// remoteKeys is the cached copy of the JWKS at a URL.
type remoteKeys struct {
	keys      map[string]*publicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
	err       error     // of the last attempt
}

var b64url = base64.RawURLEncoding.Strict()
