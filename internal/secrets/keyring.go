package secrets

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// Environment variables and file names the keyring reads.
const (
	// EnvMasterKey holds one base64 master key (32 bytes). It takes the place
	// of the key file.
	EnvMasterKey = "POLYBOT_MASTER_KEY"
	// EnvMasterKeyFile names a file holding either one base64 master key or a
	// keyring in the key file's JSON form.
	EnvMasterKeyFile = "POLYBOT_MASTER_KEY_FILE"
	// EnvMasterKeyPrevious lists older base64 master keys, comma-separated,
	// that may still unwrap data keys while they are rotated away from. It
	// applies only to a single key given by EnvMasterKey or EnvMasterKeyFile.
	EnvMasterKeyPrevious = "POLYBOT_MASTER_KEY_PREVIOUS"
	// KeyFileName is the keyring file in the data directory.
	KeyFileName = "master.key"
)

const (
	masterKeySize = 32
	dekSize       = 32
	maxKeyFile    = 1 << 20
	lockWait      = 10 * time.Second
)

// Keyring is the local master-key wrapper: AES-256-GCM under one of a set of
// master keys, with the tenant id (the aad) as associated data. A file-backed
// keyring is the JSON file
//
//	{"active":"<id>","keys":{"<id>":"<base64 32 bytes>",...}}
//
// readable by its owner only. Another process may add keys to the file (see
// AddKey): Wrap picks up a changed file, and Unwrap re-reads the file once
// when it meets a key id it does not know.
type Keyring struct {
	path string // "" when the keys came from the environment

	mu     sync.RWMutex
	active string
	keys   map[string]*masterKey
	stamp  os.FileInfo // the file as last loaded

	reloadMu sync.Mutex // one reload at a time
	writeMu  sync.Mutex // one AddKey/Prune at a time in this process
}

var _ KeyWrapper = (*Keyring)(nil)

// OpenKeyring returns the keyring a process should use: the key in
// POLYBOT_MASTER_KEY, else the file named by POLYBOT_MASTER_KEY_FILE, else
// dataDir/master.key, which is created (mode 0600, one new key) on first start.
func OpenKeyring(dataDir string, getenv func(string) string) (*Keyring, error) {
	env, file := getenv(EnvMasterKey), getenv(EnvMasterKeyFile)
	switch {
	case env != "" && file != "":
		return nil, polybot.Errorf(polybot.EINVALID, "set only one of %s and %s", EnvMasterKey, EnvMasterKeyFile)
	case env != "":
		return keyringFromBase64(EnvMasterKey, env, getenv(EnvMasterKeyPrevious))
	case file != "":
		data, err := readKeyFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, polybot.Errorf(polybot.EINVALID, "master key file %s (from %s) does not exist", file, EnvMasterKeyFile)
		}
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			clear(data)
			if getenv(EnvMasterKeyPrevious) != "" {
				return nil, polybot.Errorf(polybot.EINVALID, "%s is a keyring file; add old keys to it instead of setting %s", EnvMasterKeyFile, EnvMasterKeyPrevious)
			}
			return OpenKeyFile(file, false)
		}
		k, err := keyringFromBase64(EnvMasterKeyFile, string(data), getenv(EnvMasterKeyPrevious))
		clear(data)
		return k, err
	}
	if dataDir == "" {
		return nil, polybot.Errorf(polybot.EINVALID, "no master key: set %s or %s, or give a data directory", EnvMasterKey, EnvMasterKeyFile)
	}
	return OpenKeyFile(filepath.Join(dataDir, KeyFileName), true)
}

// OpenKeyFile loads the keyring file at path. With create, a missing file is
// created with one new active key, mode 0600.
func OpenKeyFile(path string, create bool) (*Keyring, error) {
	k := &Keyring{path: path}
	err := k.reload()
	if errors.Is(err, fs.ErrNotExist) && create {
		if err = createKeyFile(path); err != nil {
			return nil, err
		}
		err = k.reload()
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s does not exist", path)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// keyringFromBase64 builds an in-memory keyring: one active key and older ones
// that only unwrap. Key ids derive from the keys, so they are stable across
// restarts without being stored.
func keyringFromBase64(source, active, previous string) (*Keyring, error) {
	k := &Keyring{keys: map[string]*masterKey{}}
	raw, err := decodeKey(active)
	if err != nil {
		return nil, polybot.Errorf(polybot.EINVALID, "%s: %s", source, err)
	}
	k.active = derivedKeyID(raw)
	k.keys[k.active] = &masterKey{newAEAD(raw)}
	clear(raw)
	for i, s := range strings.Split(previous, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		raw, err := decodeKey(s)
		if err != nil {
			return nil, polybot.Errorf(polybot.EINVALID, "%s (key %d): %s", EnvMasterKeyPrevious, i+1, err)
		}
		id := derivedKeyID(raw)
		if _, dup := k.keys[id]; !dup {
			k.keys[id] = &masterKey{newAEAD(raw)}
		}
		clear(raw)
	}
	return k, nil
}

// GenerateKey returns a new random master key in base64, for
// POLYBOT_MASTER_KEY (what `polybot keys generate` would print).
func GenerateKey() string {
	raw := randomBytes(masterKeySize)
	defer clear(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

// ID returns the id of the active master key as last loaded.
func (k *Keyring) ID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active
}

// KeyIDs lists every master key id the keyring holds, sorted.
func (k *Keyring) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Path returns the keyring file, or "" for a keyring from the environment.
func (k *Keyring) Path() string { return k.path }

// Wrap encrypts dek under the active key. A file-backed keyring first checks
// whether the file changed (another process added a key) and reloads it.
func (k *Keyring) Wrap(ctx context.Context, dek, aad []byte) (string, []byte, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	if len(dek) != dekSize {
		return "", nil, polybot.Internal(fmt.Errorf("secrets: data key is %d bytes, want %d", len(dek), dekSize))
	}
	if k.path != "" && k.changed() {
		if err := k.reload(); err != nil {
			return "", nil, err
		}
	}
	k.mu.RLock()
	id, aead := k.active, k.keys[k.active].aead
	k.mu.RUnlock()
	nonce := randomBytes(aead.NonceSize())
	return id, aead.Seal(nonce, nonce, dek, wrapAAD(id, aad)), nil
}

// Unwrap decrypts a data key. A key id the keyring does not know makes a
// file-backed keyring re-read its file once.
func (k *Keyring) Unwrap(ctx context.Context, keyID string, wrapped, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	aead, ok := k.key(keyID)
	if !ok && k.path != "" {
		if err := k.reloadFor(keyID); err != nil {
			return nil, err
		}
		aead, ok = k.key(keyID)
	}
	if !ok {
		return nil, polybot.Internal(fmt.Errorf("secrets: master key %q is not in the keyring %s", keyID, k.source()))
	}
	ns := aead.NonceSize()
	if len(wrapped) < ns+aead.Overhead() {
		return nil, polybot.Internal(fmt.Errorf("secrets: wrapped data key under master key %q is truncated", keyID))
	}
	dek, err := aead.Open(nil, wrapped[:ns], wrapped[ns:], wrapAAD(keyID, aad))
	if err != nil {
		return nil, polybot.Internal(fmt.Errorf("secrets: cannot unwrap data key with master key %q: %w", keyID, ErrDecrypt))
	}
	if len(dek) != dekSize {
		clear(dek)
		return nil, polybot.Internal(fmt.Errorf("secrets: unwrapped data key has the wrong size"))
	}
	return dek, nil
}

// AddKey generates a new master key, makes it the active one and keeps the old
// ones, so servers still running with the file can unwrap every data key. It
// returns the new key's id. Follow it with Rotate, then Prune.
func (k *Keyring) AddKey() (string, error) {
	var id string
	err := k.update(func(f *keyFile) error {
		for {
			id = hex.EncodeToString(randomBytes(8))
			if _, dup := f.Keys[id]; !dup {
				break
			}
		}
		raw := randomBytes(masterKeySize)
		f.Keys[id] = base64.StdEncoding.EncodeToString(raw)
		clear(raw)
		f.Active = id
		return nil
	})
	return id, err
}

// Prune removes from the keyring file every key that is neither active nor
// used by a data key or the audit key in store, and returns the removed ids. It writes one
// audit entry (polybot.AuditKeysRotate, details {"op":"prune",...}) naming
// them. Run it after Rotate. A server notices a new active key on its next
// Wrap, so only a data key whose creation began before AddKey and committed
// after Prune's scan could be left under a removed key; leaving some time
// between AddKey and Prune closes even that window.
func (k *Keyring) Prune(ctx context.Context, store polybot.Store, actor string) ([]string, error) {
	var removed []string
	err := k.update(func(f *keyFile) error {
		used := map[string]bool{f.Active: true}
		err := store.AdminView(ctx, func(tx polybot.AdminTx) error {
			dks, err := tx.DataKeys()
			if err != nil {
				return err
			}
			for _, dk := range dks {
				used[dk.MasterKeyID] = true
			}
			ak, err := tx.AuditKey()
			if err == nil {
				used[ak.MasterKeyID] = true
			} else if polybot.ErrorCode(err) != polybot.ENOTFOUND {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		for id := range f.Keys {
			if !used[id] {
				removed = append(removed, id)
				delete(f.Keys, id)
			}
		}
		sort.Strings(removed)
		return nil
	})
	if err != nil || len(removed) == 0 {
		return removed, err
	}
	details, _ := json.Marshal(struct {
		Op      string   `json:"op"`
		Active  string   `json:"active"`
		Removed []string `json:"removed"`
	}{"prune", k.ID(), removed})
	err = store.Admin(ctx, func(tx polybot.AdminTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: actorOr(actor), Action: polybot.AuditKeysRotate,
			Target: "keyring", Details: string(details), CreatedAt: tx.Now()})
	})
	return removed, err
}

// String, GoString, Format and LogValue describe the keyring without keys.
func (k *Keyring) String() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return fmt.Sprintf("secrets.Keyring{source: %s, active: %s, keys: %d, material: %s}", k.source(), k.active, len(k.keys), redacted)
}

func (k *Keyring) GoString() string { return k.String() }

func (k *Keyring) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, k.String()) }

func (k *Keyring) LogValue() slog.Value {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slog.GroupValue(slog.String("source", k.source()), slog.String("active", k.active), slog.Int("keys", len(k.keys)))
}

func (k *Keyring) source() string {
	if k.path == "" {
		return "(environment)"
	}
	return k.path
}

func (k *Keyring) key(id string) (cipher.AEAD, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	mk, ok := k.keys[id]
	if !ok {
		return nil, false
	}
	return mk.aead, true
}

// changed reports whether the file is not the one last loaded.
func (k *Keyring) changed() bool {
	fi, err := os.Stat(k.path)
	if err != nil {
		return true // reload reports the problem
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return !sameStamp(k.stamp, fi)
}

func sameStamp(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// reloadFor reloads the file unless a concurrent reload already brought keyID.
func (k *Keyring) reloadFor(keyID string) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if _, ok := k.key(keyID); ok {
		return nil
	}
	return k.reloadLocked()
}

func (k *Keyring) reload() error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	return k.reloadLocked()
}

func (k *Keyring) reloadLocked() error {
	fi, err := os.Stat(k.path)
	if err != nil {
		return err
	}
	data, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	defer clear(data)
	f, err := parseKeyFile(k.path, data)
	if err != nil {
		return err
	}
	keys := make(map[string]*masterKey, len(f.Keys))
	for id, s := range f.Keys {
		raw, _ := decodeKey(s) // parseKeyFile checked it
		keys[id] = &masterKey{newAEAD(raw)}
		clear(raw)
	}
	k.mu.Lock()
	k.active, k.keys, k.stamp = f.Active, keys, fi
	k.mu.Unlock()
	return nil
}

// update changes the keyring file under a lock file, writes it atomically
// (mode 0600, then rename) and loads the result.
func (k *Keyring) update(change func(*keyFile) error) error {
	if k.path == "" {
		return polybot.Errorf(polybot.EINVALID, "the master key comes from the environment (%s or %s): generate a new key with `polybot keys generate`, "+
			"set it as %s with the old one in %s, restart, rotate, then drop the old key", EnvMasterKey, EnvMasterKeyFile, EnvMasterKey, EnvMasterKeyPrevious)
	}
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	data, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	f, err := parseKeyFile(k.path, data)
	clear(data)
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return polybot.Internal(err)
	}
	err = writeFileAtomic(k.path, append(out, '\n'))
	clear(out)
	if err != nil {
		return err
	}
	return k.reload()
}

// keyFile is the JSON form of the keyring file.
type keyFile struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

func (f keyFile) String() string                { return "secrets.keyFile{" + redacted + "}" }
func (f keyFile) GoString() string              { return f.String() }
func (f keyFile) Format(s fmt.State, verb rune) { writeRedacted(s, "secrets.keyFile") }
func (f keyFile) LogValue() slog.Value          { return slog.StringValue(f.String()) }

// masterKey holds one master key's cipher. The indirection keeps the key
// schedule two pointers away from any struct fmt might print.
type masterKey struct{ aead cipher.AEAD }

func (m masterKey) String() string                { return "secrets.masterKey{" + redacted + "}" }
func (m masterKey) GoString() string              { return m.String() }
func (m masterKey) Format(f fmt.State, verb rune) { writeRedacted(f, "secrets.masterKey") }

func parseKeyFile(path string, data []byte) (*keyFile, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s is not a keyring (want {\"active\":\"<id>\",\"keys\":{\"<id>\":\"<base64 32 bytes>\"}}): invalid JSON", path)
	}
	if len(f.Keys) == 0 {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s holds no keys", path)
	}
	for id, s := range f.Keys {
		if !validKeyID(id) {
			return nil, polybot.Errorf(polybot.EINVALID, "master key file %s: key id %q must be 1-64 letters, digits, '.', '_' or '-'", path, truncate(id, 70))
		}
		raw, err := decodeKey(s)
		if err != nil {
			return nil, polybot.Errorf(polybot.EINVALID, "master key file %s: key %q: %s", path, id, err)
		}
		clear(raw)
	}
	if _, ok := f.Keys[f.Active]; !ok {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s: the active key %q is not among its keys", path, truncate(f.Active, 70))
	}
	return &f, nil
}

// readKeyFile reads a key file after checking that only its owner can read it.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, polybot.Errorf(polybot.EINVALID, "cannot read master key file %s: %v", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s has mode %04o: it must be readable by its owner only; run `chmod 600 %s` "+
			"(for a mounted secret, set its mode to 0400)", path, perm, path)
	}
	if fi.Size() > maxKeyFile {
		return nil, polybot.Errorf(polybot.EINVALID, "master key file %s is larger than %d bytes", path, maxKeyFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, polybot.Errorf(polybot.EINVALID, "cannot read master key file %s: %v", path, err)
	}
	return data, nil
}

// createKeyFile writes a new keyring with one key. The complete file appears
// at path at once, and never replaces a file another process created first.
func createKeyFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return polybot.Errorf(polybot.EINVALID, "cannot create the data directory for %s: %v", path, err)
	}
	id := hex.EncodeToString(randomBytes(8))
	raw := randomBytes(masterKeySize)
	out, _ := json.MarshalIndent(&keyFile{Active: id, Keys: map[string]string{id: base64.StdEncoding.EncodeToString(raw)}}, "", "  ")
	clear(raw)
	defer clear(out)
	tmp, err := writeTemp(path, append(out, '\n'))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return polybot.Errorf(polybot.EINVALID, "cannot create master key file %s: %v", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return polybot.Errorf(polybot.EINVALID, "cannot replace master key file %s: %v", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new 0600 file beside path and syncs it.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", polybot.Errorf(polybot.EINVALID, "cannot write master key file %s: %v", path, err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", polybot.Errorf(polybot.EINVALID, "cannot write master key file %s: %v", path, err)
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil // best effort: not every platform can open a directory
	}
	_ = d.Sync()
	return d.Close()
}

// lockFile takes an exclusive lock between processes by creating path.
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
			_ = f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, polybot.Errorf(polybot.EINVALID, "cannot lock the master key file: %v", err)
		}
		if time.Now().After(deadline) {
			return nil, polybot.Errorf(polybot.ECONFLICT, "another process holds %s; if no `polybot keys` command is running, remove that file", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(raw) != masterKeySize {
		n := len(raw)
		clear(raw)
		return nil, fmt.Errorf("decodes to %d bytes, want %d", n, masterKeySize)
	}
	return raw, nil
}

// derivedKeyID names a key given without an id: a keyed hash of the key, so
// the id reveals nothing of it and stays the same across restarts.
func derivedKeyID(raw []byte) string {
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("polybot master key id v1"))
	return "k" + hex.EncodeToString(m.Sum(nil)[:8])
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// wrapAAD binds a wrapped data key to its master key id and tenant.
func wrapAAD(keyID string, aad []byte) []byte {
	b := make([]byte, 0, 32+len(keyID)+len(aad))
	b = append(b, "polybot/dek/v1\x00"...)
	b = append(b, keyID...)
	b = append(b, 0)
	return append(b, aad...)
}

func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("secrets: aes.NewCipher: wrong key size") // callers pass 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("secrets: cipher.NewGCM failed")
	}
	return aead
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program irrecoverably instead
	return b
}

func actorOr(actor string) string {
	if actor == "" {
		return "system"
	}
	return actor
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
