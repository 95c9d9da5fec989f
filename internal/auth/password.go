package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/polybot/polybot"
)

// Params are argon2id cost parameters. The zero value is invalid; start from
// DefaultParams.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are m=24 MiB, t=2, p=1: above the OWASP argon2id minimum
// (m=19 MiB, t=2, p=1). On the 2-core reference box (Xeon, go1.26),
// BenchmarkHashPassword takes 38-40 ms a hash with other work on the CPUs
// (32 MiB took 50-65 ms there, over the 50 ms budget). At most GOMAXPROCS
// hashes run at once, so hashing never holds more than GOMAXPROCS × 24 MiB.
var DefaultParams = Params{Memory: 24 << 10, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestParams hash in microseconds. They exist for tests and must
// never reach production.
var TestParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds accepted for parameters, both configured and read back from a stored
// hash (a corrupt or hostile hash must not make one login cost gigabytes).
const (
	minMemory  = 8 // KiB per thread, the argon2 minimum
	maxMemory  = 1 << 20
	maxTime    = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

func (p Params) validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.Memory < minMemory*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory must be between %d×threads and %d KiB", minMemory, maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time must be between 1 and %d", maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length must be between %d and %d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length must be between %d and %d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

// hashSlots bounds concurrent argon2 computations: each holds Params.Memory,
// and more of them than there are cores only queue for CPU anyway.
var hashSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

func argon2id(password, salt []byte, p Params) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// HashPassword returns the PHC string of password under p:
//
//	$argon2id$v=19$m=24576,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64. It does not judge the
// password's strength; see polybot.ValidatePassword.
func HashPassword(password string, p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", polybot.Internal(err)
	}
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	key := argon2id([]byte(password), salt, p)
	return encodePHC(p, salt, key), nil
}

// VerifyPassword reports whether password matches the stored PHC string
// encoded. The comparison is constant-time. rehash is true when the password
// matched but encoded was made with parameters other than p: the caller
// should store a fresh HashPassword(password, p). A stored hash that cannot be
// parsed is an EINTERNAL error (it was never produced by HashPassword). An
// empty encoded (an account without a password) never matches, after the same
// work as a real check.
func VerifyPassword(password, encoded string, p Params) (ok, rehash bool, err error) {
	if encoded == "" {
		DummyVerify(password, p)
		return false, false, nil
	}
	stored, salt, key, err := decodePHC(encoded)
	if err != nil {
		return false, false, polybot.Internal(err)
	}
	got := argon2id([]byte(password), salt, stored)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, stored != p, nil
}

// dummySalt is fixed: DummyVerify's result is thrown away.
var dummySalt = make([]byte, maxSaltLen)

// DummyVerify spends the time VerifyPassword would spend on a hash made with
// p, so that a login for an unknown email, or for an account without a
// password, takes as long as a wrong password for a real one.
func DummyVerify(password string, p Params) {
	if p.validate() != nil {
		p = DefaultParams
	}
	argon2id([]byte(password), dummySalt[:p.SaltLen], p)
}

var phcB64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, phcB64.EncodeToString(salt), phcB64.EncodeToString(key))
}

// decodePHC parses an argon2id PHC string. Its errors describe the format,
// never the content.
func decodePHC(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("stored password hash is not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errors.New("stored password hash has an unsupported argon2 version")
	}
	var m, t, th uint64
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, errors.New("stored password hash has malformed parameters")
	}
	for i, f := range []struct {
		name string
		dst  *uint64
		bits int
	}{{"m=", &m, 32}, {"t=", &t, 32}, {"p=", &th, 8}} {
		v, ok := strings.CutPrefix(fields[i], f.name)
		if !ok {
			return p, nil, nil, errors.New("stored password hash has malformed parameters")
		}
		if *f.dst, err = strconv.ParseUint(v, 10, f.bits); err != nil {
			return p, nil, nil, errors.New("stored password hash has malformed parameters")
		}
	}
	if salt, err = phcB64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errors.New("stored password hash has a malformed salt")
	}
	if key, err = phcB64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, errors.New("stored password hash has a malformed key")
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("stored password hash: %w", err)
	}
	return p, salt, key, nil
}
