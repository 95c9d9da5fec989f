package auth

import (
	"strings"
	"testing"

	"github.com/polybot/polybot"
)

func TestHashPasswordWritesPHCStringWithItsParameters(t *testing.T) {
	p := TestParams
	h, err := HashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q lacks the PHC header", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	got, salt, key, err := decodePHC(h)
	if err != nil {
		t.Fatal(err)
	}
	if got != p || len(salt) != 16 || len(key) != 32 {
		t.Fatalf("decoded %+v, salt %d bytes, key %d bytes", got, len(salt), len(key))
	}
}

func TestHashPasswordSaltsEachHash(t *testing.T) {
	a, _ := HashPassword("same password", TestParams)
	b, _ := HashPassword("same password", TestParams)
	if a == b {
		t.Fatal("two hashes of one password are equal")
	}
}

func TestHashPasswordRefusesUnsafeParameters(t *testing.T) {
	for name, p := range map[string]Params{
		"zero":              {},
		"no threads":        {Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32},
		"too little memory": {Memory: 4, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"short salt":        {Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		"short key":         {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := HashPassword("pw", p); polybot.ErrorCode(err) != polybot.EINTERNAL {
				t.Fatalf("err = %v, want EINTERNAL", err)
			}
		})
	}
}

func TestVerifyPassword(t *testing.T) {
	old := TestParams
	cur := TestParams
	cur.Time = 2
	hashOld, _ := HashPassword("s3cret password", old)
	hashCur, _ := HashPassword("s3cret password", cur)
	tests := []struct {
		name       string
		password   string
		hash       string
		wantOK     bool
		wantRehash bool
		wantCode   string
	}{
		{"right password with current parameters matches without rehash", "s3cret password", hashCur, true, false, ""},
		{"right password with old parameters matches and asks for a rehash", "s3cret password", hashOld, true, true, ""},
		{"wrong password does not match", "s3cret passwore", hashCur, false, false, ""},
		{"empty password does not match", "", hashCur, false, false, ""},
		{"bcrypt hash is an internal error", "s3cret password", "$2a$10$abcdefghijklmnopqrstuu", false, false, polybot.EINTERNAL},
		{"argon2i hash is an internal error", "s3cret password", strings.Replace(hashCur, "argon2id", "argon2i", 1), false, false, polybot.EINTERNAL},
		{"argon2 v=16 is an internal error", "s3cret password", strings.Replace(hashCur, "v=19", "v=16", 1), false, false, polybot.EINTERNAL},
		{"parameters out of order are an internal error", "s3cret password", strings.Replace(hashCur, "m=64,t=2", "t=2,m=64", 1), false, false, polybot.EINTERNAL},
		{"huge memory in a stored hash is refused", "s3cret password", strings.Replace(hashCur, "m=64", "m=4000000", 1), false, false, polybot.EINTERNAL},
		{"bad salt encoding is an internal error", "s3cret password", replacePart(hashCur, 4, "not*base64"), false, false, polybot.EINTERNAL},
		{"padded key encoding is an internal error", "s3cret password", replacePart(hashCur, 5, strings.Split(hashCur, "$")[5]+"="), false, false, polybot.EINTERNAL},
		{"truncated hash is an internal error", "s3cret password", hashCur[:len(hashCur)-44], false, false, polybot.EINTERNAL},
		{"account without a password never matches", "s3cret password", "", false, false, ""},
		{"account without a password never matches an empty password", "", "", false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := VerifyPassword(tt.password, tt.hash, cur)
			if ok != tt.wantOK || rehash != tt.wantRehash || polybot.ErrorCode(err) != tt.wantCode {
				t.Fatalf("VerifyPassword = %v, %v, %v; want %v, %v, code %q", ok, rehash, err, tt.wantOK, tt.wantRehash, tt.wantCode)
			}
			if err != nil && strings.Contains(err.Error(), tt.password) && tt.password != "" {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

// replacePart replaces the i-th $-separated field of a PHC string.
func replacePart(phc string, i int, with string) string {
	parts := strings.Split(phc, "$")
	parts[i] = with
	return strings.Join(parts, "$")
}

func TestDummyVerifyToleratesAnyParameters(t *testing.T) {
	DummyVerify("whatever", TestParams)
	DummyVerify("whatever", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 64, KeyLen: 64})
}

// BenchmarkHashPassword measures DefaultParams (the figure quoted on it):
//
//	go test ./internal/auth -run '^$' -bench HashPassword
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}
