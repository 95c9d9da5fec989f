package polybot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
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

// AuditEntry is one row of the append-only audit log. Entries form one hash
// chain: each Hash covers the entry's fields and the previous entry's Hash,
// so an edited, inserted or deleted row breaks the chain (see VerifyAuditChain).
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

// ComputeHash returns the hash of e chained onto e.PrevHash. CreatedAt is
// hashed at microsecond precision, which both stores keep exactly.
func (e *AuditEntry) ComputeHash() string {
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
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Seal fills in Seq, PrevHash and Hash for an entry appended after prev
// (nil for the first entry). Stores call it while holding the chain's lock.
func (e *AuditEntry) Seal(prevSeq int64, prevHash string) {
	e.Seq = prevSeq + 1
	if prevHash == "" {
		prevHash = GenesisHash
	}
	e.PrevHash = prevHash
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
	if e.Details == "" {
		e.Details = "{}"
	}
	e.Hash = e.ComputeHash()
}

// AuditProblem is one break found by VerifyAuditChain.
type AuditProblem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// VerifyAuditChain checks entries (in Seq order, starting at 1) against each
// other and against the recorded head (the last Seq and Hash the store says
// it appended). It reports every break it finds.
func VerifyAuditChain(entries []AuditEntry, headSeq int64, headHash string) []AuditProblem {
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
		if e.ComputeHash() != e.Hash {
			probs = append(probs, AuditProblem{Seq: e.Seq, Reason: "hash does not match the row's contents (the row was edited)"})
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

// AuditReport is the outcome of verifying the stored audit chain.
type AuditReport struct {
	OK       bool           `json:"ok"`
	Entries  int            `json:"entries"`
	HeadSeq  int64          `json:"head_seq"`
	Problems []AuditProblem `json:"problems"`
}

// VerifyAuditLog reads the whole chain on the service path and checks it.
func VerifyAuditLog(ctx context.Context, st Store) (*AuditReport, error) {
	var entries []AuditEntry
	var headSeq int64
	var headHash string
	const page = 1000
	err := st.AdminView(ctx, func(tx AdminTx) error {
		var err error
		if headSeq, headHash, err = tx.AuditHead(); err != nil {
			return err
		}
		var after int64
		for {
			rows, err := tx.AuditEntries(after, page)
			if err != nil {
				return err
			}
			for _, e := range rows {
				entries = append(entries, *e)
				after = e.Seq
			}
			if len(rows) < page {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	probs := VerifyAuditChain(entries, headSeq, headHash)
	if probs == nil {
		probs = []AuditProblem{}
	}
	return &AuditReport{OK: len(probs) == 0, Entries: len(entries), HeadSeq: headSeq, Problems: probs}, nil
}
