package postgres

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/polybot/polybot"
)

const auditColumns = `seq, user_id, actor, action, target, details, created_at, prev_hash, hash`

func scanAudit(r pgx.Rows) (*polybot.AuditEntry, error) {
	e := &polybot.AuditEntry{}
	var user pgtype.UUID
	if err := r.Scan(&e.Seq, &user, &e.Actor, &e.Action, &e.Target, &e.Details, &e.CreatedAt, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	if user.Valid {
		id := polybot.ID(user.Bytes)
		e.UserID = &id
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

// appendAudit appends e to the one audit chain. Tenants cannot read the
// chain's head (it belongs to everyone), so both steps go through SECURITY
// DEFINER functions: the first locks the head row until the transaction
// ends, so no other appender can read it, and the hash is computed here, by
// AuditEntry.Seal; the second refuses an entry that does not extend the head
// exactly. Concurrent appenders queue on the lock and never fork the chain.
func appendAudit(t *txn, e *polybot.AuditEntry) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = t.now
	}
	if t.key == nil {
		return polybot.ErrNoAuditKey()
	}
	var seq int64
	var hash string
	if err := t.queryRow(`SELECT head_seq, head_hash FROM polybot_audit_lock_head()`, nil, &seq, &hash); err != nil {
		return mapErr(err, "audit head")
	}
	if err := e.Seal(seq, hash, t.key); err != nil {
		return err
	}
	_, err := t.exec(`SELECT polybot_audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Seq, nullUID(e.UserID), e.Actor, e.Action, e.Target, e.Details, e.CreatedAt, e.PrevHash, e.Hash)
	return mapErr(err, "audit entry")
}

const auditKeyColumns = `master_key_id, wrapped, created_at, rotated_at, resealed`

func (t *adminTx) AuditKey() (*polybot.AuditKeyRecord, error) {
	k := &polybot.AuditKeyRecord{}
	err := t.queryRow(`SELECT `+auditKeyColumns+` FROM polybot_audit_key WHERE id = 1`, nil,
		&k.MasterKeyID, &k.Wrapped, &k.CreatedAt, &k.RotatedAt, &k.Resealed)
	if err != nil {
		return nil, mapErr(err, "audit key")
	}
	k.CreatedAt, k.RotatedAt = k.CreatedAt.UTC(), k.RotatedAt.UTC()
	return k, nil
}

// KeyAuditChain locks the chain's head, re-seals every entry under the
// store's audit key through polybot_audit_reseal (the only path that may
// rewrite prev_hash and hash, and only while no key is stored), stores k and
// appends the AuditKeyed entry, all in the caller's transaction.
func (t *adminTx) KeyAuditChain(k *polybot.AuditKeyRecord) (int64, error) {
	if t.key == nil {
		return 0, polybot.ErrNoAuditKey()
	}
	if len(k.Wrapped) == 0 || k.MasterKeyID == "" {
		return 0, polybot.FieldError("wrapped", "is required")
	}
	var headSeq int64
	var headHash string
	if err := t.queryRow(`SELECT head_seq, head_hash FROM polybot_audit_lock_head()`, nil, &headSeq, &headHash); err != nil {
		return 0, mapErr(err, "audit head")
	}
	if _, err := t.AuditKey(); err == nil {
		return 0, polybot.Errorf(polybot.ECONFLICT, "the audit chain is already keyed")
	} else if polybot.ErrorCode(err) != polybot.ENOTFOUND {
		return 0, err
	}
	entries, err := polybot.ReadAuditChain(t)
	if err != nil {
		return 0, err
	}
	resealed, _, err := polybot.ResealAuditChain(entries, headSeq, headHash, t.key)
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(resealed); start += 1000 {
		end := min(start+1000, len(resealed))
		seqs, prevs, hashes := make([]int64, 0, end-start), make([]string, 0, end-start), make([]string, 0, end-start)
		for _, e := range resealed[start:end] {
			seqs, prevs, hashes = append(seqs, e.Seq), append(prevs, e.PrevHash), append(hashes, e.Hash)
		}
		if _, err := t.exec(`SELECT polybot_audit_reseal($1, $2, $3)`, seqs, prevs, hashes); err != nil {
			return 0, mapErr(err, "audit re-seal")
		}
	}
	k.CreatedAt, k.RotatedAt, k.Resealed = t.now, t.now, int64(len(resealed))
	if _, err := t.exec(`INSERT INTO polybot_audit_key (id, `+auditKeyColumns+`) VALUES (1, $1, $2, $3, $4, $5)`,
		k.MasterKeyID, k.Wrapped, k.CreatedAt, k.RotatedAt, k.Resealed); err != nil {
		return 0, mapErr(err, "audit key")
	}
	if err := appendAudit(t.txn, polybot.AuditKeyedEntry(k, t.now)); err != nil {
		return 0, err
	}
	return k.Resealed, nil
}

// ReplaceAuditKey is a compare-and-swap on the wrapped audit key.
func (t *adminTx) ReplaceAuditKey(k *polybot.AuditKeyRecord, oldWrapped []byte) error {
	if len(k.Wrapped) == 0 {
		return polybot.FieldError("wrapped", "is required")
	}
	rotated := t.now
	if !k.RotatedAt.IsZero() {
		rotated = k.RotatedAt.UTC()
	}
	n, err := t.exec(`UPDATE polybot_audit_key SET master_key_id = $1, wrapped = $2, rotated_at = $3 WHERE id = 1 AND wrapped = $4`,
		k.MasterKeyID, k.Wrapped, rotated, oldWrapped)
	if err != nil {
		return mapErr(err, "audit key")
	}
	if n == 0 {
		if _, err := t.AuditKey(); err != nil {
			return err
		}
		return polybot.Errorf(polybot.ECONFLICT, "the audit key changed since it was read")
	}
	k.RotatedAt = rotated
	return nil
}
