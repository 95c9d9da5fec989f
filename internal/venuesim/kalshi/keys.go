package kalshi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ParsePublicKey reads an RSA public key from PEM: PKIX ("PUBLIC KEY"),
// PKCS#1 ("RSA PUBLIC KEY"), or the public half of a PKCS#1 or PKCS#8
// private key.
func ParsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("not a PEM block")
	}
	if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("not an RSA key")
	}
	if k, err := x509.ParsePKCS1PublicKey(blk.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return &k.PublicKey, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return &rk.PublicKey, nil
		}
	}
	return nil, errors.New("not an RSA public key (PKIX or PKCS#1) or RSA private key")
}

// DemoKey is a generated key pair: what a demo user needs to point a client
// at the simulator.
type DemoKey struct {
	KeyID          string
	PrivateKeyPath string // PKCS#1 PEM, mode 0600
	PublicKeyPEM   string // PKIX PEM, for AccountConfig or the admin route
}

// GenerateDemoKey makes a 2048-bit RSA key pair, writes the private key to
// path (PKCS#1 PEM, as Kalshi hands them out, mode 0600; the directory is
// created 0700) and returns a fresh key id and the public key.
func GenerateDemoKey(path string) (DemoKey, error) {
	k, err := NewKey()
	if err != nil {
		return DemoKey{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return DemoKey{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return DemoKey{}, fmt.Errorf("kalshi sim: save demo key: %w", err)
	}
	if _, err := f.Write(k.PrivateKeyPEM); err != nil {
		f.Close()
		return DemoKey{}, err
	}
	if err := f.Close(); err != nil {
		return DemoKey{}, err
	}
	return DemoKey{KeyID: k.KeyID, PrivateKeyPath: path, PublicKeyPEM: k.PublicKeyPEM}, nil
}

// Key is a generated key pair held in memory.
type Key struct {
	KeyID         string
	PrivateKeyPEM []byte // PKCS#1 PEM, as Kalshi hands them out
	PublicKeyPEM  string // PKIX PEM, for AccountConfig or the admin route
}

// NewKey makes a 2048-bit RSA key pair and a fresh UUID-shaped key id,
// without touching the disk (serve --sim stores it sealed, as any key).
func NewKey() (Key, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Key{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return Key{}, err
	}
	return Key{KeyID: newKeyID(), PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
}

// newKeyID returns a UUID-shaped key id, like Kalshi's.
func newKeyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
