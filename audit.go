package polybot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Audit actions.
const (
	AuditSignup         = "user.signup"
	AuditLogin          = "auth.login"
	AuditLoginFailed    = "auth.login_failed"
	AuditLogout         = "auth.logout"
	AuditTokenCreate    = "token.create"
	AuditTokenDelete    = "token.delete"
	AuditConfigUpdate   = "config.update"
	AuditSecretCreate   = "secret.create"
	AuditSecretDelete   = "secret.delete"
	AuditSecretDecrypt  = "secret.decrypt"
	AuditTermsAccept    = "profile.accept_terms"
	AuditAdminTier      = "admin.set_tier"
	AuditAdminRole      = "admin.set_role"
	AuditAdminTierEdit  = "admin.edit_tier"
	AuditKeysRotate     = "keys.rotate"
	AuditAdminUserState = "admin.user_state"
)

// AuditEntry is one row of the append-only audit log. Entries form one keyed
// chain: each Hash is an HMAC-SHA256, under the platform's audit key, of the
// entry's fields and the previous entry's Hash, so an edited, inserted or
// deleted row breaks the chain, and without the key nobody can seal a row
// that verifies (see VerifyAuditChain).
type AuditEntry struct {
	Seq       int64     `json:"seq"`
	UserID    *ID       `json:"user_id"` // the tenant the entry is about; nil for system events
	Actor     string    `json:"actor"`   // who did it: a user id, "admin:<id>", "cli" or "system"
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Details   string    `json:"details"` // a JSON object, hashed as stored text
	CreatedAt time.Time `json:"created_at"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`
}

// GenesisHash is the PrevHash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditKeyed is the action of the entry written when the chain is first keyed
// (details {"resealed": n, "master_key": id}).
const AuditKeyed = "audit.keyed"

// AuditKey computes the MACs that seal the audit chain: HMAC-SHA256 under the
// platform's audit key, which the database holds only wrapped by the master
// key. internal/secrets implements it; the key itself never leaves that
// package. Implementations must be safe for concurrent use.
type AuditKey interface {
	// MAC returns HMAC-SHA256(audit key, msg).
	MAC(msg []byte) []byte
}

// AuditKeySlot holds a store's audit key once it is loaded; safe for
// concurrent use. The zero value holds none (appends then fail closed).
type AuditKeySlot struct{ p atomic.Pointer[auditKeyBox] }

type auditKeyBox struct{ k AuditKey }

// Set gives the slot a key (nil empties it).
func (s *AuditKeySlot) Set(k AuditKey) {
	if k == nil {
		s.p.Store(nil)
		return
	}
	s.p.Store(&auditKeyBox{k})
}

// Get returns the key, or nil before Set.
func (s *AuditKeySlot) Get() AuditKey {
	if b := s.p.Load(); b != nil {
		return b.k
	}
	return nil
}

// AuditKeyRecord is the platform's audit key as stored: wrapped by a master
// key (envelope encryption, as tenant data keys are). Resealed counts the
// entries that existed, sealed with plain SHA-256, when the chain was keyed.
type AuditKeyRecord struct {
	MasterKeyID string    `json:"master_key_id"`
	Wrapped     []byte    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	RotatedAt   time.Time `json:"rotated_at"`
	Resealed    int64     `json:"resealed"`
}

// AuditKeyedEntry is the entry a store appends when it keys the chain.
func AuditKeyedEntry(k *AuditKeyRecord, now time.Time) *AuditEntry {
	d, _ := json.Marshal(struct {
		MasterKey string `json:"master_key"`
		Resealed  int64  `json:"resealed"`
	}{k.MasterKeyID, k.Resealed})
	return &AuditEntry{Actor: "system", Action: AuditKeyed, Target: "audit_key", Details: string(d), CreatedAt: now}
}

// ErrNoAuditKey is returned by an append or a verify when no audit key has
// been loaded: the store refuses to write an entry it cannot seal.
func ErrNoAuditKey() *Error {
	return Internal(errors.New("audit: no audit key loaded (open the store through secrets.LoadAuditKey before appending or verifying)"))
}

// canonical is what an entry's seal covers: the previous hash, the sequence
// number, the tenant and every field length-prefixed, and CreatedAt at
// microsecond precision, which both stores keep exactly.
func (e *AuditEntry) canonical() []byte {
	var b strings.Builder
	b.WriteString(e.PrevHash)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(e.Seq, 10))
	b.WriteByte('\n')
	if e.UserID != nil {
		b.WriteString(e.UserID.String())
	}
	for _, s := range []string{e.Actor, e.Action, e.Target, e.Details} {
		b.WriteByte('\n')
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(e.CreatedAt.UnixMicro(), 10))
	return []byte(b.String())
}

// ComputeHash returns the unkeyed SHA-256 seal of e chained onto e.PrevHash:
// how entries were sealed before the chain was keyed. Anyone can compute it,
// so it proves nothing; it is kept to check an old chain before it is
// re-sealed under the audit key (ResealAuditChain), and to name a forged row.
func (e *AuditEntry) ComputeHash() string {
	sum := sha256.Sum256(e.canonical())
	return hex.EncodeToString(sum[:])
}

// ComputeMAC returns the keyed seal of e chained onto e.PrevHash:
// hex(HMAC-SHA256(audit key, the bytes ComputeHash hashes)).
func (e *AuditEntry) ComputeMAC(k AuditKey) string {
	return hex.EncodeToString(k.MAC(e.canonical()))
}

// Seal fills in Seq, PrevHash and Hash (the MAC under k) for an entry
// appended after prevSeq/prevHash ("" for the first entry). Stores call it
// while holding the chain's lock. Without a key it refuses (fail closed).
func (e *AuditEntry) Seal(prevSeq int64, prevHash string, k AuditKey) error {
	if k == nil {
		return ErrNoAuditKey()
	}
	e.Seq = prevSeq + 1
	if prevHash == "" {
		prevHash = GenesisHash
	}
	e.PrevHash = prevHash
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
	if e.Details == "" {
		e.Details = "{}"
	}
	e.Hash = e.ComputeMAC(k)
	return nil
}

// AuditProblem is one break found by VerifyAuditChain.
type AuditProblem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// VerifyAuditChain checks entries (in Seq order, starting at 1) against each
// other, against their MACs under k and against the recorded head (the last
// Seq and Hash the store says it appended). It reports every break it finds:
// an edited row, a deleted row, and a row sealed without the key (with plain
// SHA-256, or under another key) are each named by Seq.
func VerifyAuditChain(entries []AuditEntry, headSeq int64, headHash string, k AuditKey) []AuditProblem {
	if k == nil {
		return []AuditProblem{{Seq: 0, Reason: "no audit key loaded: the chain cannot be verified"}}
	}
	var probs []AuditProblem
	prevSeq, prevHash := int64(0), GenesisHash
	for i := range entries {
		e := &entries[i]
		if e.Seq != prevSeq+1 {
			probs = append(probs, AuditProblem{Seq: e.Seq, Reason: "sequence gap: expected " + strconv.FormatInt(prevSeq+1, 10) + " (a row was deleted)"})
		}
		if e.PrevHash != prevHash {
			probs = append(probs, AuditProblem{Seq: e.Seq, Reason: "prev_hash does not match the previous row's hash"})
		}
		if !hmac.Equal([]byte(e.ComputeMAC(k)), []byte(e.Hash)) {
			reason := "MAC does not match the row's contents under the audit key (the row was edited, or sealed with another key)"
			if e.ComputeHash() == e.Hash {
				reason = "sealed with plain SHA-256, not the audit key (the row was forged or recomputed outside PolyBot)"
			}
			probs = append(probs, AuditProblem{Seq: e.Seq, Reason: reason})
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	if headSeq != prevSeq {
		probs = append(probs, AuditProblem{Seq: headSeq, Reason: "the chain head records seq " + strconv.FormatInt(headSeq, 10) + " but the last row is " + strconv.FormatInt(prevSeq, 10) + " (rows were deleted or added outside the log)"})
	} else if headHash != "" && headHash != prevHash {
		probs = append(probs, AuditProblem{Seq: headSeq, Reason: "the chain head's hash does not match the last row"})
	}
	return probs
}

// ResealAuditChain re-seals an unkeyed chain (every entry sealed with plain
// SHA-256, see ComputeHash) under k, once, when the chain is keyed. It first
// checks the old chain as it was (each row sealed with SHA-256, or already
// with k): a chain already broken is refused, naming its rows, so that
// keying never launders a forgery. It returns the entries
// with new PrevHash and Hash, and the new head hash.
func ResealAuditChain(entries []AuditEntry, headSeq int64, headHash string, k AuditKey) ([]AuditEntry, string, error) {
	if k == nil {
		return nil, "", ErrNoAuditKey()
	}
	var probs []AuditProblem
	prevSeq, prevHash := int64(0), GenesisHash
	for i := range entries {
		e := &entries[i]
		if e.Seq != prevSeq+1 || e.PrevHash != prevHash || (e.ComputeHash() != e.Hash && !hmac.Equal([]byte(e.ComputeMAC(k)), []byte(e.Hash))) {
			probs = append(probs, AuditProblem{Seq: e.Seq, Reason: "does not verify under the old SHA-256 chain"})
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	if headSeq != prevSeq || (headHash != "" && headHash != prevHash) {
		probs = append(probs, AuditProblem{Seq: headSeq, Reason: "the chain head does not match the last row"})
	}
	if len(probs) > 0 {
		var b strings.Builder
		for i, p := range probs {
			if i == 5 {
				b.WriteString(", …")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("seq " + strconv.FormatInt(p.Seq, 10) + ": " + p.Reason)
		}
		return nil, "", Errorf(EINVALID, "audit: the existing SHA-256 chain is already broken (%d problem(s): %s); it was not re-sealed under the audit key. "+
			"Investigate with a database backup before keying the chain", len(probs), b.String())
	}
	out := make([]AuditEntry, len(entries))
	prev := GenesisHash
	for i, e := range entries {
		e.PrevHash = prev
		e.Hash = e.ComputeMAC(k)
		out[i] = e
		prev = e.Hash
	}
	return out, prev, nil
}

// AuditReport is the outcome of verifying the stored audit chain.
type AuditReport struct {
	OK       bool           `json:"ok"`
	Entries  int            `json:"entries"`
	HeadSeq  int64          `json:"head_seq"`
	Problems []AuditProblem `json:"problems"`
}

// ReadAuditChain reads every entry of the chain in Seq order, a page at a time.
func ReadAuditChain(tx AdminTx) ([]AuditEntry, error) {
	const page = 1000
	var entries []AuditEntry
	var after int64
	for {
		rows, err := tx.AuditEntries(after, page)
		if err != nil {
			return nil, err
		}
		for _, e := range rows {
			entries = append(entries, *e)
			after = e.Seq
		}
		if len(rows) < page {
			return entries, nil
		}
	}
}

// VerifyAuditLog reads the whole chain on the service path and checks every
// entry's MAC under k.
func VerifyAuditLog(ctx context.Context, st Store, k AuditKey) (*AuditReport, error) {
	var entries []AuditEntry
	var headSeq int64
	var headHash string
	err := st.AdminView(ctx, func(tx AdminTx) error {
		var err error
		if headSeq, headHash, err = tx.AuditHead(); err != nil {
			return err
		}
		entries, err = ReadAuditChain(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	probs := VerifyAuditChain(entries, headSeq, headHash, k)
	if probs == nil {
		probs = []AuditProblem{}
	}
	return &AuditReport{OK: len(probs) == 0, Entries: len(entries), HeadSeq: headSeq, Problems: probs}, nil
}
