package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/polybot/polybot"
)

// auditKeySize is the size of the platform's audit key.
const auditKeySize = 32

// auditAAD binds a wrapped audit key to its purpose: it can never be
// unwrapped as a tenant's data key (whose aad is the tenant id), nor one of
// those as the audit key.
var auditAAD = []byte("polybot/audit-key/v1")

// AuditKey is the platform's audit key, unwrapped: it seals audit entries
// with HMAC-SHA256 (polybot.AuditKey), and, under a key derived from it,
// the opaque paging cursors tenants see instead of global sequence numbers.
// The zero AuditKey is not loaded (Loaded). It prints as redacted.
type AuditKey struct {
	k      *[auditKeySize]byte
	cursor cipher.AEAD
}

// Loaded reports whether a is a key (not the zero AuditKey).
func (a AuditKey) Loaded() bool { return a.k != nil }

// SealCursor hides an audit sequence number in a cursor only tenant can
// page with: AES-256-GCM under a key derived from the audit key, bound to
// the tenant. It survives restarts and master-key rotation.
func (a AuditKey) SealCursor(tenant polybot.ID, seq int64) string {
	nonce := randomBytes(a.cursor.NonceSize())
	ct := a.cursor.Seal(nonce, nonce, binary.BigEndian.AppendUint64(nil, uint64(seq)), cursorAAD(tenant))
	return base64.RawURLEncoding.EncodeToString(ct)
}

// OpenCursor returns the sequence number in a cursor SealCursor made for
// tenant; any other string is an EINVALID error naming the before field.
func (a AuditKey) OpenCursor(tenant polybot.ID, cursor string) (int64, error) {
	bad := polybot.FieldError("before", "is not a cursor from this trail's next")
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	ns := a.cursor.NonceSize()
	if err != nil || len(raw) != ns+8+a.cursor.Overhead() {
		return 0, bad
	}
	pt, err := a.cursor.Open(nil, raw[:ns], raw[ns:], cursorAAD(tenant))
	if err != nil {
		return 0, bad
	}
	seq := int64(binary.BigEndian.Uint64(pt))
	if seq < 0 {
		return 0, bad
	}
	return seq, nil
}

func cursorAAD(tenant polybot.ID) []byte { return []byte("polybot/audit-cursor/v1/" + tenant.String()) }

var _ polybot.AuditKey = AuditKey{}

// MAC returns HMAC-SHA256(audit key, msg).
func (a AuditKey) MAC(msg []byte) []byte {
	m := hmac.New(sha256.New, a.k[:])
	m.Write(msg)
	return m.Sum(nil)
}

func (a AuditKey) String() string                { return "secrets.AuditKey{" + redacted + "}" }
func (a AuditKey) GoString() string              { return a.String() }
func (a AuditKey) Format(f fmt.State, verb rune) { writeRedacted(f, "secrets.AuditKey") }
func (a AuditKey) LogValue() slog.Value          { return slog.StringValue(a.String()) }

func newAuditKey(raw []byte) (AuditKey, error) {
	if len(raw) != auditKeySize {
		return AuditKey{}, polybot.Internal(errors.New("secrets: the audit key has the wrong size"))
	}
	k := new([auditKeySize]byte)
	copy(k[:], raw)
	ck, err := hkdf.Key(sha256.New, raw, nil, "polybot audit v1 cursor", 32)
	if err != nil {
		return AuditKey{}, polybot.Internal(errors.New("secrets: deriving the cursor key failed"))
	}
	defer clear(ck)
	return AuditKey{k: k, cursor: newAEAD(ck)}, nil
}

// LoadAuditKey unwraps the platform's audit key with w and gives it to the
// store (st.SetAuditKey), so that appends are sealed and the chain can be
// verified. On first use it creates the key (32 random bytes, wrapped by w's
// active master key with aad binding it to the audit log) and keys the chain
// in one transaction: every entry written before, sealed with plain SHA-256,
// is re-sealed under the key (polybot.AdminTx.KeyAuditChain), once. It
// reports how many entries it re-sealed (0 when the key already existed).
//
// Key rotation (Rotate) rewraps the key in place, so the MACs stay valid
// across master keys and restarts.
func LoadAuditKey(ctx context.Context, st polybot.Store, w KeyWrapper) (AuditKey, int64, error) {
	rec, err := readAuditKey(ctx, st)
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		k, n, err := createAuditKey(ctx, st, w)
		if polybot.ErrorCode(err) != polybot.ECONFLICT {
			return k, n, err
		}
		// Another process keyed the chain first: use its key.
		rec, err = readAuditKey(ctx, st)
	}
	if err != nil {
		return AuditKey{}, 0, err
	}
	k, err := unwrapAuditKey(ctx, w, rec)
	if err != nil {
		return AuditKey{}, 0, err
	}
	st.SetAuditKey(k)
	return k, 0, nil
}

func readAuditKey(ctx context.Context, st polybot.Store) (*polybot.AuditKeyRecord, error) {
	var rec *polybot.AuditKeyRecord
	err := st.AdminView(ctx, func(tx polybot.AdminTx) error {
		var err error
		rec, err = tx.AuditKey()
		return err
	})
	return rec, err
}

func unwrapAuditKey(ctx context.Context, w KeyWrapper, rec *polybot.AuditKeyRecord) (AuditKey, error) {
	raw, err := w.Unwrap(ctx, rec.MasterKeyID, rec.Wrapped, auditAAD)
	if err != nil {
		return AuditKey{}, fmt.Errorf("secrets: the audit key: %w", err)
	}
	defer clear(raw)
	return newAuditKey(raw)
}

func createAuditKey(ctx context.Context, st polybot.Store, w KeyWrapper) (AuditKey, int64, error) {
	raw := randomBytes(auditKeySize)
	defer clear(raw)
	k, err := newAuditKey(raw)
	if err != nil {
		return AuditKey{}, 0, err
	}
	keyID, wrapped, err := w.Wrap(ctx, raw, auditAAD)
	if err == nil {
		err = checkRewrap(ctx, w, keyID, wrapped, auditAAD, raw)
	}
	if err != nil {
		return AuditKey{}, 0, err
	}
	// The store seals the re-sealed chain and the AuditKeyed entry with the
	// key it holds, so it gets the new key first; a failure leaves it there,
	// but then no entry can be appended anyway: the caller stops.
	st.SetAuditKey(k)
	var n int64
	err = st.Admin(ctx, func(tx polybot.AdminTx) error {
		var err error
		n, err = tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: keyID, Wrapped: wrapped})
		return err
	})
	if err != nil {
		st.SetAuditKey(nil)
		return AuditKey{}, 0, err
	}
	return k, n, nil
}

// rotateAuditKey moves the audit key to the target master key, as rotateOne
// does a data key. It reports whether it changed it; no key yet is no change.
func rotateAuditKey(ctx context.Context, st polybot.Store, from, to KeyWrapper, target string) (bool, error) {
	for attempt := 0; ; attempt++ {
		cur, err := readAuditKey(ctx, st)
		if polybot.ErrorCode(err) == polybot.ENOTFOUND {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if cur.MasterKeyID == target {
			return false, nil
		}
		raw, err := from.Unwrap(ctx, cur.MasterKeyID, cur.Wrapped, auditAAD)
		if err != nil {
			return false, fmt.Errorf("secrets: the audit key: %w", err)
		}
		keyID, wrapped, err := to.Wrap(ctx, raw, auditAAD)
		if err == nil {
			err = checkRewrap(ctx, to, keyID, wrapped, auditAAD, raw)
		}
		clear(raw)
		if err != nil {
			return false, err
		}
		err = st.Admin(ctx, func(tx polybot.AdminTx) error {
			return tx.ReplaceAuditKey(&polybot.AuditKeyRecord{MasterKeyID: keyID, Wrapped: wrapped, RotatedAt: tx.Now()}, cur.Wrapped)
		})
		if err == nil {
			return true, nil
		}
		if polybot.ErrorCode(err) != polybot.ECONFLICT || attempt+1 >= rotateAttempts {
			return false, err
		}
	}
}
