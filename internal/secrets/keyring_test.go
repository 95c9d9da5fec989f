package secrets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/polybot/polybot"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func mustRoundTrip(t *testing.T, w KeyWrapper, aad string) {
	t.Helper()
	ctx := context.Background()
	dek := randomBytes(dekSize)
	id, wrapped, err := w.Wrap(ctx, dek, []byte(aad))
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	got, err := w.Unwrap(ctx, id, wrapped, []byte(aad))
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if string(got) != string(dek) {
		t.Fatal("Unwrap returned a different key")
	}
}

func TestKeyFileIsCreatedOwnerOnlyOnFirstStartAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	kr, err := OpenKeyring(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFileName)
	if kr.Path() != path {
		t.Fatalf("Path() = %q, want %q", kr.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	var f keyFile
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &f); err != nil || f.Active != kr.ID() || len(f.Keys) != 1 {
		t.Fatalf("key file is not a one-key keyring with the active id %q: %v", kr.ID(), err)
	}
	if len(kr.ID()) != 16 {
		t.Fatalf("key id %q is not 16 hex digits", kr.ID())
	}
	again, err := OpenKeyring(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != kr.ID() {
		t.Fatalf("second start made a new key %q, want the existing %q", again.ID(), kr.ID())
	}
	mustRoundTrip(t, kr, "tenant")
	if matches, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(matches) != 0 {
		t.Fatalf("temporary files left behind: %v", matches)
	}
}

func TestKeyFileReadableByOthersIsRefusedWithChmodAdvice(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	valid := `{"active":"a1","keys":{"a1":"` + GenerateKey() + `"}}`
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			writeFile(t, path, valid, mode)
			_, err := OpenKeyring(dir, env(nil))
			if err == nil {
				t.Fatal("OpenKeyring accepted a key file others can read")
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) || polybot.ErrorCode(err) != polybot.EINVALID {
				t.Fatalf("error %q does not say how to fix the mode", err)
			}
		})
	}
	t.Run("0400 is accepted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), KeyFileName)
		writeFile(t, path, valid, 0o400)
		if _, err := OpenKeyFile(path, false); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBadKeyFilesAreRefused(t *testing.T) {
	key := GenerateKey()
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name, content, want string
	}{
		{"not JSON", `{"active":`, "invalid JSON"},
		{"no keys", `{"active":"a","keys":{}}`, "holds no keys"},
		{"active key missing", `{"active":"b","keys":{"a":"` + key + `"}}`, "not among its keys"},
		{"bad base64", `{"active":"a","keys":{"a":"!!!"}}`, "not valid base64"},
		{"short key", `{"active":"a","keys":{"a":"` + short + `"}}`, "decodes to 16 bytes"},
		{"bad key id", `{"active":"a b","keys":{"a b":"` + key + `"}}`, "key id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), KeyFileName)
			writeFile(t, path, tt.content, 0o600)
			_, err := OpenKeyFile(path, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatal("error shows the key")
			}
		})
	}
	t.Run("missing without create", func(t *testing.T) {
		_, err := OpenKeyFile(filepath.Join(t.TempDir(), "nope"), false)
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestMasterKeyFromEnvironment(t *testing.T) {
	key, old := GenerateKey(), GenerateKey()
	dir := t.TempDir()
	single := filepath.Join(dir, "single")
	writeFile(t, single, key+"\n", 0o400)
	open := filepath.Join(dir, "open")
	writeFile(t, open, key, 0o644)
	ring := filepath.Join(dir, "ring")
	writeFile(t, ring, `{"active":"r1","keys":{"r1":"`+key+`"}}`, 0o600)

	tests := []struct {
		name    string
		vars    map[string]string
		wantErr string
		wantID  string // "" means the id derived from key
	}{
		{name: "key in POLYBOT_MASTER_KEY", vars: map[string]string{EnvMasterKey: key}},
		{name: "key without padding", vars: map[string]string{EnvMasterKey: strings.TrimRight(key, "=")}},
		{name: "key in POLYBOT_MASTER_KEY_FILE", vars: map[string]string{EnvMasterKeyFile: single}},
		{name: "keyring in POLYBOT_MASTER_KEY_FILE", vars: map[string]string{EnvMasterKeyFile: ring}, wantID: "r1"},
		{name: "with a previous key", vars: map[string]string{EnvMasterKey: key, EnvMasterKeyPrevious: old + ", "}},
		{name: "both variables", vars: map[string]string{EnvMasterKey: key, EnvMasterKeyFile: single}, wantErr: "only one of"},
		{name: "not base64", vars: map[string]string{EnvMasterKey: "not a key"}, wantErr: "not valid base64"},
		{name: "wrong size", vars: map[string]string{EnvMasterKey: base64.StdEncoding.EncodeToString(make([]byte, 31))}, wantErr: "decodes to 31 bytes"},
		{name: "bad previous key", vars: map[string]string{EnvMasterKey: key, EnvMasterKeyPrevious: "zz"}, wantErr: EnvMasterKeyPrevious},
		{name: "key file readable by others", vars: map[string]string{EnvMasterKeyFile: open}, wantErr: "chmod 600"},
		{name: "missing key file", vars: map[string]string{EnvMasterKeyFile: filepath.Join(dir, "missing")}, wantErr: "does not exist"},
	}
	raw, _ := decodeKey(key)
	derived := derivedKeyID(raw)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == "chmod 600" && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions")
			}
			kr, err := OpenKeyring(filepath.Join(dir, "unused"), env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), key) {
					t.Fatal("error shows the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantID
			if want == "" {
				want = derived
			}
			if kr.ID() != want {
				t.Fatalf("ID() = %q, want %q", kr.ID(), want)
			}
			mustRoundTrip(t, kr, "tenant")
			if _, err := os.Stat(filepath.Join(dir, "unused")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a key file was created in the data directory although the environment gave a key")
			}
		})
	}
}

func TestPreviousEnvironmentKeyUnwrapsWhatTheOldKeyWrapped(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := GenerateKey(), GenerateKey()
	before, err := OpenKeyring("", env(map[string]string{EnvMasterKey: oldKey}))
	if err != nil {
		t.Fatal(err)
	}
	dek := randomBytes(dekSize)
	id, wrapped, err := before.Wrap(ctx, dek, []byte("t"))
	if err != nil {
		t.Fatal(err)
	}
	after, err := OpenKeyring("", env(map[string]string{EnvMasterKey: newKey, EnvMasterKeyPrevious: oldKey}))
	if err != nil {
		t.Fatal(err)
	}
	if after.ID() == id {
		t.Fatal("the new key has the old key's id")
	}
	if got, err := after.Unwrap(ctx, id, wrapped, []byte("t")); err != nil || string(got) != string(dek) {
		t.Fatalf("Unwrap with the previous key: %v", err)
	}
	if _, err := after.AddKey(); err == nil || !strings.Contains(err.Error(), EnvMasterKeyPrevious) {
		t.Fatalf("AddKey on an environment keyring: %v, want advice on %s", err, EnvMasterKeyPrevious)
	}
}

func TestUnwrapFailsForAnotherTenantKeyOrTampering(t *testing.T) {
	ctx := context.Background()
	kr, err := OpenKeyring(t.TempDir(), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := OpenKeyring("", env(map[string]string{EnvMasterKey: GenerateKey()}))
	dek := randomBytes(dekSize)
	id, wrapped, err := kr.Wrap(ctx, dek, []byte("tenant-a"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := slices.Clone(wrapped)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name    string
		w       KeyWrapper
		id      string
		wrapped []byte
		aad     string
		decrypt bool // fails authentication (rather than a missing key)
	}{
		{"another tenant", kr, id, wrapped, "tenant-b", true},
		{"tampered nonce", kr, id, flip(0), "tenant-a", true},
		{"tampered body", kr, id, flip(20), "tenant-a", true},
		{"tampered tag", kr, id, flip(len(wrapped) - 1), "tenant-a", true},
		{"truncated", kr, id, wrapped[:10], "tenant-a", false},
		{"unknown key id", kr, "feedfacefeedface", wrapped, "tenant-a", false},
		{"another master key with the same id", other, other.ID(), wrapped, "tenant-a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.w.Unwrap(ctx, tt.id, tt.wrapped, []byte(tt.aad))
			if err == nil {
				t.Fatal("Unwrap succeeded")
			}
			if got != nil {
				t.Fatal("Unwrap returned bytes with its error")
			}
			if errors.Is(err, ErrDecrypt) != tt.decrypt {
				t.Fatalf("errors.Is(%v, ErrDecrypt) = %v, want %v", err, !tt.decrypt, tt.decrypt)
			}
		})
	}
}

func TestAnotherProcessAddingAKeyIsPickedUp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	server, err := OpenKeyring(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	oldID := server.ID()
	cli, err := OpenKeyFile(filepath.Join(dir, KeyFileName), false)
	if err != nil {
		t.Fatal(err)
	}
	newID, err := cli.AddKey()
	if err != nil {
		t.Fatal(err)
	}
	if newID == oldID || cli.ID() != newID || !slices.Equal(cli.KeyIDs(), sorted(oldID, newID)) {
		t.Fatalf("after AddKey: active %q, keys %v; want active %q and both keys", cli.ID(), cli.KeyIDs(), newID)
	}

	// The server unwraps a key wrapped under the new key (re-reading the file)...
	dek := randomBytes(dekSize)
	id, wrapped, err := cli.Wrap(ctx, dek, []byte("t"))
	if err != nil || id != newID {
		t.Fatalf("cli.Wrap: id %q, %v", id, err)
	}
	if got, err := server.Unwrap(ctx, id, wrapped, []byte("t")); err != nil || string(got) != string(dek) {
		t.Fatalf("server.Unwrap of a key under the new master key: %v", err)
	}
	// ...and wraps new data keys under it.
	if id, _, err := server.Wrap(ctx, dek, []byte("t")); err != nil || id != newID {
		t.Fatalf("server.Wrap used %q (%v), want the new active key %q", id, err, newID)
	}
	if fi, _ := os.Stat(filepath.Join(dir, KeyFileName)); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("rewritten key file mode = %04o", fi.Mode().Perm())
	}
}

func TestConcurrentAddKeyLosesNoKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenKeyring(dir, env(nil)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]string, 6)
	errs := make([]error, 6)
	for i := range ids {
		wg.Go(func() {
			kr, err := OpenKeyFile(filepath.Join(dir, KeyFileName), false) // one "process" each
			if err == nil {
				ids[i], err = kr.AddKey()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	final, err := OpenKeyFile(filepath.Join(dir, KeyFileName), false)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !slices.Contains(final.KeyIDs(), id) {
			t.Fatalf("key %s added concurrently is missing from %v", id, final.KeyIDs())
		}
	}
	if len(final.KeyIDs()) != 7 {
		t.Fatalf("keyring holds %d keys, want 7", len(final.KeyIDs()))
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	dir := t.TempDir()
	kr, err := OpenKeyring(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, KeyFileName))
	var f keyFile
	_ = json.Unmarshal(data, &f)
	raw, _ := decodeKey(f.Keys[kr.ID()])
	assertNoLeak(t, kr, raw)
	assertNoLeak(t, &f, raw)
}

func sorted(s ...string) []string { slices.Sort(s); return s }
